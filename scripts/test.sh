#!/usr/bin/env bash
# Runs every Parley test suite and ends with one line: "N passed, N failed".
#
#   static analysis   cppcheck and clang-tidy over wasm/ and server/ (zero findings)
#   core (native)     tests/wasm under AddressSanitizer + UndefinedBehaviorSanitizer
#   core (valgrind)   the same tests, unsanitized build, under valgrind memcheck
#   core (wasm)       the same tests compiled to WebAssembly, run by Node
#   core js           parley-tool (native and wasm), an independent check of docs/vectors, and
#                     the JavaScript binding under Node (node:test)
#   fuzz              (beside the server and e2e suites, at the lowest CPU priority: it runs for
#                     fixed times and takes what they leave) libFuzzer on message decoding, state
#                     unsealing, sealed envelopes, device lists and identity transfers, 20 s per
#                     target; on the server's parsers (WebSocket frames, signaling messages, API
#                     bodies, tokens), 10 s per target
#   server (unit)     the server's pure functions, under the sanitizers
#   server            the real parley-server binary over HTTP (node:test), on SQLite; three
#                     files at a time (each waits mostly on timers and sockets, each server on
#                     ports of its own)
#   server postgres   the same suite again with every server on PostgreSQL (a private cluster
#                     started by scripts/pg.sh for the run; PARLEY_TEST_DATABASE=postgres),
#                     running beside the SQLite run, three files at a time
#   e2e               the page in headless Chromium driven by Playwright (node:test)
#
# Installs what it needs first (scripts/deps.sh --test) and builds (scripts/build.sh --asan).
# Logs of every suite are kept in test-output/logs/.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
vectors=$(cd "$root/.." && pwd)/shared/vectors
logs=$root/test-output/logs
rm -rf "$root/test-output"
mkdir -p "$logs"

passed=0
failed=0
skipped=0
started=$(date +%s)

note() { printf '%s\n' "$*"; }

# record NAME LOG RC: adds the suite's counts (its own summary line, or node:test's TAP totals)
# to the totals. A suite that exits non-zero without reporting a failure counts one failure.
record() {
  local name=$1 log=$2 rc=$3 p=0 f=0 s=0 line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
  elif grep -qE '^# pass [0-9]+' "$log"; then
    p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -n 1)
    f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -n 1)
    f=$((f + $(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$log" | tail -n 1)))
    s=$(sed -nE 's/^# skipped ([0-9]+)$/\1/p' "$log" | tail -n 1)
  fi
  s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    note "  $name ran no test: counted as a failure"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  printf '%-18s %4d passed, %d failed%s  (%ds in)\n' "$name" "$p" "$f" "$([ "$s" -gt 0 ] && echo ", $s skipped")" \
    "$(( $(date +%s) - started ))"
  if [ "$f" -ne 0 ]; then
    note "---- failures in $log ----"
    # Each failing test by name with the first lines of its report, then the log's end.
    grep -n -A 24 '^not ok\|^ *not ok' "$log" | head -n 120 || true
    note "---- last lines of $log ----"
    tail -n 30 "$log"
    note "----"
  fi
}

# check NAME CMD...: a single pass/fail check (a tool that prints findings and exits non-zero).
check() {
  local name=$1; shift
  local log
  log="$logs/$(tr ' /' '__' <<<"$name").log"
  if "$@" >"$log" 2>&1; then
    echo "1 passed, 0 failed" >>"$log"
    record "$name" "$log" 0
  else
    echo "0 passed, 1 failed" >>"$log"
    record "$name" "$log" 1
  fi
}

# suite NAME CMD...: a test program that reports its own counts.
suite() {
  local name=$1; shift
  local log rc
  log="$logs/$(tr ' /' '__' <<<"$name").log"
  "$@" >"$log" 2>&1
  rc=$?
  record "$name" "$log" "$rc"
}

note "== preparing (dependencies and build) =="
if ! bash scripts/deps.sh --test >"$logs/deps.log" 2>&1; then
  tail -n 40 "$logs/deps.log"
  note "0 passed, 1 failed"
  exit 1
fi
if ! bash scripts/build.sh --asan >"$logs/build.log" 2>&1; then
  tail -n 60 "$logs/build.log"
  note "0 passed, 1 failed"
  exit 1
fi
if [ ! -d "$vectors" ]; then
  note "WARNING: $vectors is absent: the crypto vector tests are SKIPPED"
fi

note "== running tests =="
c_sources=(wasm/src/*.c server/src/*.c)
check "cppcheck" cppcheck --quiet --std=c11 --enable=warning,style,performance,portability \
  --error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem -U__EMSCRIPTEN__ \
  -I wasm/include -I server/src wasm/src server/src
# One file per clang-tidy process: clang-tidy 14's analyzer carries state between files.
check "clang-tidy" bash -c 'printf "%s\n" "$@" | xargs -P "$(nproc)" -n 1 clang-tidy -p build/native --quiet' _ \
  "${c_sources[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite "core native" build/asan/test_core "$vectors"
# Under valgrind (about 50x slower) the ratchet property test runs 150 seeds; the sanitizer and
# wasm runs cover all 1000.
check "core valgrind" valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all \
  build/native/test_core "$vectors" 150
suite "core wasm" node build/wasm/test_core.js "$vectors"
suite "core js" node --test --test-reporter=tap tests/wasm/
# The fuzz targets run for fixed times on one core, beside the server suites and then the e2e
# suite, at the lowest CPU priority: the suites' timings are theirs; the fuzzers take what is left
# (their executions are in the log).
nice -n 19 bash tests/fuzz/run.sh >"$logs/fuzz.log" 2>&1 &
fuzz_pid=$!
suite "server unit" build/asan/server/test_server_unit
# The server suite on SQLite and again on PostgreSQL, the two runs side by side (each file waits
# mostly on timers and sockets; every server listens on a port of its own). PostgreSQL: one
# private cluster for the run, a database per server. An engine that cannot start is a failure,
# never a skip.
pgdir=$(mktemp -d)
pgport=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
# tests/server/bus.test.mjs runs two instances on PostgreSQL and Redis whatever the pass: once,
# in the PostgreSQL pass.
node --test --test-reporter=tap --test-concurrency=3 $(ls tests/server/*.test.mjs | grep -v '/bus\.test\.mjs$') \
  >"$logs/server.log" 2>&1 &
sqlite_pid=$!
pg_pid=
if pgurl=$(bash scripts/pg.sh start --dir "$pgdir" --port "$pgport" 2>"$logs/postgres-start.log"); then
  env PARLEY_TEST_DATABASE=postgres PARLEY_TEST_PG_URL="$pgurl" \
    node --test --test-reporter=tap --test-concurrency=3 tests/server/ >"$logs/server_postgres.log" 2>&1 &
  pg_pid=$!
fi
wait "$sqlite_pid"
record "server" "$logs/server.log" $?
if [ -n "$pg_pid" ]; then
  wait "$pg_pid"
  record "server postgres" "$logs/server_postgres.log" $?
else
  echo "0 passed, 1 failed" >>"$logs/postgres-start.log"
  record "server postgres" "$logs/postgres-start.log" 1
fi
bash scripts/pg.sh stop --dir "$pgdir" >/dev/null 2>&1
rm -rf "$pgdir"
unset pgurl
suite "e2e" node --test --test-reporter=tap --test-concurrency=1 tests/e2e/
wait "$fuzz_pid"
record "fuzz" "$logs/fuzz.log" $?

elapsed=$(( $(date +%s) - started ))
note "== done in ${elapsed}s; logs and screenshots in test-output/ =="
if [ "$skipped" -gt 0 ]; then
  note "$passed passed, $failed failed, $skipped skipped"
else
  note "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
