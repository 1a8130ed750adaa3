#!/usr/bin/env bash
# Builds Parley: the native server, core and tools (build/native), the wasm core staged into
# web/core/ (build/wasm), the static bundle of the web app (dist/, scripts/bundle.sh) and, with
# --asan, the sanitizer build of the tests (build/asan) and the libFuzzer targets (build/fuzz).
# Expects scripts/deps.sh to have run (it writes the dependency paths this reads).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PARLEY_CACHE:-$HOME/.cache/parley}
# shellcheck source=/dev/null
. "$cache/paths.env"
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
jobs=$(nproc)

dep_args=(-DPARLEY_BEARSSL_SRC="$PARLEY_BEARSSL_SRC" -DPARLEY_CJSON_SRC="$PARLEY_CJSON_SRC"
          -DPARLEY_SODIUM_WASM="$PARLEY_SODIUM_WASM" -DPARLEY_CIVETWEB="$PARLEY_CIVETWEB")

configure() { # DIR ARGS...: (re)configures, so that new dependency paths are picked up.
  local dir=$1; shift
  "$@" -S "$root" -B "$root/$dir" "${dep_args[@]}" >/dev/null
}

configure build/native cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build/native" -j "$jobs"

configure build/wasm emcmake cmake -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build/wasm" -j "$jobs"

# The static bundle of the web app, with its build hashes (dist/ and its tarball; README, "Static
# bundle and offline use").
bash "$root/scripts/bundle.sh" >/dev/null

if [ "${1:-}" = "--asan" ]; then
  configure build/asan cmake -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON
  cmake --build "$root/build/asan" -j "$jobs"
  # libFuzzer targets (clang): the core's, and the server's parsers (built from their pure files).
  configure build/fuzz env CC=clang-14 cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_FUZZ=ON
  cmake --build "$root/build/fuzz" -j "$jobs" --target fuzz_message fuzz_state fuzz_sealed \
    fuzz_devices fuzz_server_wsframe fuzz_server_signal fuzz_server_body fuzz_server_jwt \
    fuzz_server_bus
fi
