#!/usr/bin/env bash
# The static bundle of the web app (README "Static bundle and offline use"): dist/, and
# parley-web-VERSION.tar.gz beside it with its SHA-256 in parley-web-VERSION.tar.gz.sha256.
# Needs web/core/ (scripts/build.sh stages it) and esbuild (scripts/deps.sh). Arguments go to
# scripts/bundle.mjs (--out DIR, --server URL, --modules).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/dist
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = "--out" ]; then out=$(realpath -m "${args[i + 1]}"); fi
done
node "$root/scripts/bundle.mjs" "$@"
version=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1])).version)' "$out/build-manifest.json")
tarball=$(dirname "$out")/parley-web-$version.tar.gz
# Reproducible: sorted names, fixed times and owners, no gzip timestamp.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$(dirname "$out")" \
  -cf - "$(basename "$out")" | gzip -9n >"$tarball"
(cd "$(dirname "$tarball")" && sha256sum "$(basename "$tarball")" >"$(basename "$tarball").sha256")
echo "$tarball"
cat "$tarball.sha256"
