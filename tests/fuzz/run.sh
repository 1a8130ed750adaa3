#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time (PARLEY_FUZZ_SECONDS, default 20) from seed
# corpora made from the protocol vectors, from real sealed state and from real sealed envelopes.
# Prints "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${PARLEY_FUZZ_SECONDS:-20}
work=$root/test-output/fuzz
rm -rf "$work"
mkdir -p "$work/message-seeds" "$work/message-corpus" "$work/state-seeds" "$work/state-corpus" \
  "$work/sealed-seeds" "$work/sealed-corpus"
passed=0
failed=0

node "$root/tests/fuzz/seed-messages.mjs" "$work/message-seeds"
PARLEY_FUZZ_SEEDS="$work/state-seeds" "$root/build/fuzz/fuzz_state" -runs=0 "$work/state-seeds" \
  >/dev/null 2>&1
PARLEY_FUZZ_SEEDS="$work/sealed-seeds" "$root/build/fuzz/fuzz_sealed" -runs=0 "$work/sealed-seeds" \
  >/dev/null 2>&1

for target in message state sealed; do
  log=$work/$target.log
  if (cd "$work" && "$root/build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "$work/$target-corpus" "$work/$target-seeds" \
      >"$log" 2>&1); then
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    echo "ok   fuzz_$target: ${runs:-?} inputs in ${seconds}s, $cov, no crash"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$target: see $log"
    tail -n 40 "$log"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
