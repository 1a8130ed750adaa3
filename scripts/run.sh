#!/usr/bin/env bash
# Builds whatever is missing and runs Parley on http://127.0.0.1:8080 (Ctrl-C stops it).
# Any parley-server flag can be appended, e.g. scripts/run.sh --listen [::1]:8443 --data /srv/parley
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/deps.sh
bash scripts/build.sh
args=()
[ -n "${PARLEY_WEB:-}" ] || args+=(--web "$root/web")
[ -n "${PARLEY_DATA:-}" ] || args+=(--data "$root/parley-data")
exec "$root/build/native/server/parley-server" "${args[@]}" "$@"
