#!/usr/bin/env bash
# Benchmarks of the crypto core: the C benchmark natively and in wasm (build/*/bench_core), then
# the page's module through its JS binding under Node against Olm (@matrix-org/olm) in the same run. Prints figures; never fails on a number.
# Usage: bash bench/core/run.sh   (after scripts/deps.sh --test and scripts/build.sh)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs} # Debian's emscripten needs it
cmake --build "$root/build/native" --target bench_core >/dev/null
cmake --build "$root/build/wasm" --target bench_core >/dev/null
"$root/build/native/bench_core"
node "$root/build/wasm/bench_core.js" # the same C benchmark in wasm: the binding's cost is the difference
node "$root/bench/core/bench_wasm.mjs"
# Room messages: n pairwise ratchet encryptions (n = 2..16) beside one Megolm message.
node "$root/bench/core/rooms.mjs"
# ML-KEM-1024 beside @noble/post-quantum, PQXDH against X3DH, and the bundle's gzip size (its
# growth when PARLEY_BASELINE_CORE names a web/core folder built before ML-KEM).
node "$root/bench/core/bench_pq.mjs"
