#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time from seed corpora: the core's targets
# (PARLEY_FUZZ_SECONDS each, default 20) from the protocol vectors, real sealed state, real
# sealed envelopes, real device lists, an identity transfer, sealed file chunks and signed room
# descriptors; the server's parsers (PARLEY_FUZZ_SERVER_SECONDS each, default 10) from the frames, messages, bodies and tokens each
# target writes when PARLEY_FUZZ_SEEDS is set; and the web app's JavaScript readers (linking,
# calls, files, invitation codes, contacts, everyday payloads, rooms, key codes: tests/fuzz/fuzz_*.mjs),
# PARLEY_FUZZ_JS_SECONDS each (default 8), under Node.
# Prints one line per target, then "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${PARLEY_FUZZ_SECONDS:-20}
server_seconds=${PARLEY_FUZZ_SERVER_SECONDS:-10}
work=$root/test-output/fuzz
core_targets=(message state sealed devices pqxdh files rooms)
server_targets=(server_wsframe server_signal server_body server_jwt server_bus)
js_targets=(link calls files invite contacts everyday rooms keycode)
js_seconds=${PARLEY_FUZZ_JS_SECONDS:-8}
# scripts/build.sh --asan builds the fuzz targets it lists; this builds any core target it lacks.
for target in "${core_targets[@]}"; do
  [ -x "$root/build/fuzz/fuzz_$target" ] ||
    cmake --build "$root/build/fuzz" -j 2 --target "fuzz_$target" >/dev/null
done
rm -rf "$work"
for target in "${core_targets[@]}" "${server_targets[@]}"; do
  mkdir -p "$work/$target-seeds" "$work/$target-corpus"
done
passed=0
failed=0

node "$root/tests/fuzz/seed-messages.mjs" "$work/message-seeds"
for target in state sealed devices pqxdh files rooms "${server_targets[@]}"; do
  PARLEY_FUZZ_SEEDS="$work/$target-seeds" "$root/build/fuzz/fuzz_$target" -runs=0 \
    "$work/$target-seeds" >/dev/null 2>&1
done

# run TARGET SECONDS: one line, "ok" with the inputs run and the coverage, or "FAIL" and the log.
run() {
  local target=$1 secs=$2 log=$work/$1.log runs cov
  if (cd "$work" && "$root/build/fuzz/fuzz_$target" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "$work/$target-corpus" "$work/$target-seeds" \
      >"$log" 2>&1); then
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    echo "ok   fuzz_$target: ${runs:-?} inputs in ${secs}s, $cov, no crash"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$target: see $log"
    tail -n 40 "$log"
    failed=$((failed + 1))
  fi
}

for target in "${core_targets[@]}"; do
  run "$target" "$seconds"
done
for target in "${server_targets[@]}"; do
  run "$target" "$server_seconds"
done
# The web app's formats whose readers are JavaScript, each a mutation fuzzer under Node
# (tests/fuzz/fuzz_NAME.mjs SECONDS, printing one line first): linking, calls, files,
# invitation codes, contacts and blocking, everyday payloads, rooms, key codes.
for target in "${js_targets[@]}"; do
  if node "$root/tests/fuzz/fuzz_$target.mjs" "$js_seconds" >"$work/$target-js.log" 2>&1; then
    head -n 1 "$work/$target-js.log"
    passed=$((passed + 1))
  else
    echo "FAIL tests/fuzz/fuzz_$target.mjs: see $work/$target-js.log"
    tail -n 40 "$work/$target-js.log"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
