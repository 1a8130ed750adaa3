#!/usr/bin/env bash
# Long fuzzing runs: every libFuzzer target, the server's parsers (WebSocket frames, signaling
# messages, API bodies, tokens) and the core's (messages, sealed state, sealed envelopes, device
# lists and identity transfers), one after the other for PARLEY_FUZZ_RUNS executions each
# (default 10,000,000), from the same seeds as tests/fuzz/run.sh. Prints per target: executions,
# seconds, executions per second, coverage (edges and features), corpus size, peak RSS and what
# was found (crashes, leaks, timeouts, out-of-memory; their inputs are kept in the artifacts
# folder).
# Usage: bash bench/server/fuzz.sh [TARGET...]   (after scripts/build.sh --asan; targets are
#        named without fuzz_, e.g. server_jwt; the corpora are kept for the next run in
#        PARLEY_FUZZ_BENCH_DIR, default build/fuzz-bench)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
runs=${PARLEY_FUZZ_RUNS:-10000000}
work=${PARLEY_FUZZ_BENCH_DIR:-$root/build/fuzz-bench}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=(server_wsframe server_signal server_body server_jwt message state sealed devices)
fi

# final_stat NAME: libFuzzer's closing statistic NAME (-print_final_stats=1) from $log.
final_stat() { sed -nE "s/^stat::$1: *([0-9]+)/\\1/p" "$log" | tail -n 1; }

cmake --build "$root/build/fuzz" --target "${targets[@]/#/fuzz_}" >/dev/null || exit 1
mkdir -p "$work/artifacts"
found_any=0
printf '%-20s %12s %9s %9s %6s %7s %7s %8s  %s\n' target executions seconds 'exec/s' cov ft corpus 'rss MiB' found
for target in "${targets[@]}"; do
  seeds=$work/$target-seeds
  corpus=$work/$target-corpus
  log=$work/$target.log
  mkdir -p "$seeds" "$corpus"
  if [ "$target" = message ]; then
    node "$root/tests/fuzz/seed-messages.mjs" "$seeds" >/dev/null
  else
    PARLEY_FUZZ_SEEDS="$seeds" "$root/build/fuzz/fuzz_$target" -runs=0 "$seeds" >/dev/null 2>&1
  fi
  rm -f "$work/artifacts/$target-"*
  started=$(date +%s.%N)
  (cd "$work" && "$root/build/fuzz/fuzz_$target" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" "$corpus" "$seeds" \
    >"$log" 2>&1)
  rc=$?
  ended=$(date +%s.%N)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  size=$(find "$corpus" -type f | wc -l)
  artifacts=$(find "$work/artifacts" -name "$target-*" -printf '%f ')
  if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
    found=nothing
  else
    found="exit $rc: ${artifacts:-no artifact} (see $log)"
    found_any=1
  fi
  printf '%-20s %12s %9s %9s %6s %7s %7s %8s  %s\n' "fuzz_$target" \
    "$(final_stat number_of_executed_units)" "$(awk "BEGIN { printf \"%.1f\", $ended - $started }")" \
    "$(final_stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$size" "$(final_stat peak_rss_mb)" \
    "$found"
done
[ "$found_any" -eq 0 ]
