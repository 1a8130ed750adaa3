#!/usr/bin/env bash
# Benchmarks of the crypto core: native (build/native/bench_core) and wasm under Node against
# Olm (@matrix-org/olm) in the same run. Prints figures; never fails on a number.
# Usage: bash bench/core/run.sh   (after scripts/deps.sh --test and scripts/build.sh)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmake --build "$root/build/native" --target bench_core >/dev/null
"$root/build/native/bench_core"
node "$root/bench/core/bench_wasm.mjs"
