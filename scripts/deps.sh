#!/usr/bin/env bash
# Installs and builds everything Parley needs, idempotently, from Debian's archive and npm only.
#
#   scripts/deps.sh            runtime + build dependencies (what scripts/run.sh needs)
#   scripts/deps.sh --test     also the test tools (Chromium, playwright-core, valgrind, ...)
#
# Slow builds are cached outside the checkout, under $PARLEY_CACHE (default ~/.cache/parley),
# keyed by the Debian source version and a hash of the build recipe, so a fresh clone reuses them.
# Prints the cache paths it settled on as shell assignments to $PARLEY_CACHE/paths.env.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PARLEY_CACHE:-$HOME/.cache/parley}
mkdir -p "$cache/src"

log() { printf '[deps] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ---- Debian packages ---------------------------------------------------------------------------
pkgs=(build-essential cmake pkg-config git ca-certificates
      emscripten nodejs npm node-acorn node-terser esbuild
      libsodium-dev libcjson-dev libsqlite3-dev libpq-dev libhiredis-dev libssl-dev zlib1g-dev
      autoconf automake libtool dpkg-dev xz-utils)
if [ "$want_test" -eq 1 ]; then
  pkgs+=(chromium fonts-noto-color-emoji cppcheck clang-tidy clang-14 libclang-rt-14-dev valgrind
         openssl sqlite3 iproute2 coturn postgresql redis-server)
fi

missing=()
for p in "${pkgs[@]}"; do
  # npm ships inside NodeSource's nodejs; accept a working npm binary instead of Debian's package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *" installed") ;; *) missing+=("$p") ;; esac
done
apt_updated=0
apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -q >&2
    apt_updated=1
  fi
}
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi

# ---- Debian source packages (libsodium, bearssl, civetweb, cjson) ----------------------------
ensure_deb_src() {
  if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return
  fi
  log "enabling Debian source packages (deb-src)"
  as_root tee /etc/apt/sources.list.d/parley-deb-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_updated=0
}

# Unpacks Debian source package $1 (Debian patches applied) under $cache/src and prints its path.
# The folder is named after the exact source version, so a new Debian revision unpacks afresh.
fetch_source() {
  local pkg=$1 dir
  dir=$(find "$cache/src" -maxdepth 1 -type d -name "${pkg}_*" 2>/dev/null | sort | tail -n 1)
  if [ -n "$dir" ] && [ -f "$dir/.parley-complete" ]; then
    printf '%s\n' "$dir"
    return
  fi
  ensure_deb_src
  apt_update
  local tmp
  tmp=$(mktemp -d "$cache/src/.fetch.XXXXXX")
  log "fetching Debian source package $pkg"
  (cd "$tmp" && apt-get source -q --download-only "$pkg" >&2)
  local dsc ver
  dsc=$(ls "$tmp"/*.dsc | head -n 1)
  ver=$(sed -n 's/^Version: //p' "$dsc" | head -n 1)
  dir="$cache/src/${pkg}_${ver}"
  rm -rf "$dir"
  dpkg-source -x "$dsc" "$dir" >&2
  rm -rf "$tmp"
  touch "$dir/.parley-complete"
  printf '%s\n' "$dir"
}

recipe_hash() { printf '%s' "$*" | sha256sum | cut -c1-12; }

export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}

sodium_src=$(fetch_source libsodium)
bearssl_src=$(fetch_source bearssl)
civetweb_src=$(fetch_source civetweb)
cjson_src=$(fetch_source cjson)

# ---- libsodium for wasm32 (about 3 minutes, cached) -------------------------------------------
sodium_flags="--host=wasm32-unknown-emscripten --disable-shared --without-pthreads --disable-ssp --disable-asm --disable-pie"
sodium_cflags="-O2"
sodium_key="$(basename "$sodium_src")-$(recipe_hash "$sodium_flags $sodium_cflags $(emcc --version | head -n 1)")"
sodium_wasm="$cache/libsodium-wasm/$sodium_key"
if [ ! -f "$sodium_wasm/.parley-complete" ]; then
  log "building libsodium for wasm32 into $sodium_wasm (a few minutes, once)"
  work=$(mktemp -d "$cache/.sodium-build.XXXXXX")
  cp -a "$sodium_src/." "$work/"
  (
    cd "$work"
    ./autogen.sh -s >&2
    # shellcheck disable=SC2086
    CFLAGS="$sodium_cflags" emconfigure ./configure $sodium_flags --prefix="$sodium_wasm" >&2
    emmake make -j"$(nproc)" >&2
    rm -rf "$sodium_wasm"
    emmake make install >&2
  )
  rm -rf "$work"
  touch "$sodium_wasm/.parley-complete"
fi

# ---- Civetweb 1.15 static library (native, with OpenSSL 3, IPv6, WebSocket) ------------------
# USE_STACK_SIZE: each worker thread (HTTP requests and WebSocket upgrades; the WebSockets
# themselves are served by the server's event loops) gets a 256 KiB stack instead of glibc's
# 8 MiB. The deepest use measured (bench/server/stack-depth.mjs: JSON nested to cJSON's
# 1000-level limit in an API body) is 144 KiB in the release build and 160 KiB under ASan.
# -fconserve-stack keeps GCC from inlining large stack buffers into handle_request's callees.
civetweb_defs="-DUSE_WEBSOCKET -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_IPV6 -DNO_CGI -DUSE_ZLIB -DUSE_STACK_SIZE=262144 -DPARLEY_WS_FRAME_MAX=98304"
civetweb_cflags="-O2 -fPIC -pthread -Wno-deprecated-declarations -fconserve-stack"
# Civetweb 1.15 answers headers larger than max_request_size with 400 "Malformed message":
# read_message reports them as -2, get_message tests for 0. Patched to its intended 413 (the
# expression is part of the cache key, so changing it rebuilds).
civetweb_patch='s/if ((conn->request_len == 0) \&\& (conn->data_len == conn->buf_size)) {/if ((conn->request_len == -2) || ((conn->request_len == 0) \&\& (conn->data_len == conn->buf_size))) {/'
# Civetweb 1.15 reads a whole WebSocket frame into memory (malloc of the declared length, up to
# 2 GiB) before the data callback sees it: one connection could make the server hold gigabytes.
# Patched: a frame declaring more than PARLEY_WS_FRAME_MAX bytes (server/src/signaling.h
# WS_FRAME_MAX; only a 64-bit length field can) is answered at once with a close frame 1009 and
# the connection closed, before anything is allocated or read.
civetweb_patch_frame='s/if (data_len > (uint64_t)0x7FFF0000ul) {/if (data_len > (uint64_t)PARLEY_WS_FRAME_MAX) { static const char parley_too_big[2] = {3, (char)0xF1}; mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, parley_too_big, 2); mg_cry_internal(conn, "%s", "websocket frame over the size limit: closed with 1009"); break; } if (data_len > (uint64_t)0x7FFF0000ul) {/'
# Request framing (RFC 9112): this server and a reverse proxy in front of it must agree where a
# request ends, or a request can hide in another's body (request smuggling). The checks are in
# server/civetweb/http.inc, inserted after parse_range_header; these lines call them. A request
# they refuse is answered through the http_error callback (JSON) and the connection closed.
# - Civetweb 1.15 read the first 64 headers (MG_MAX_HEADERS) and dropped the rest unseen, and
#   stopped as silently at a line it could not read (folded, starting with whitespace or a CR): a
#   Content-Length there was ignored and the body read as the next request. What is left after
#   the last header read now fails the request: 431 past the 64th, 400 otherwise. And the answer
#   to a request that cannot be parsed starts "HTTP/1.1": Civetweb echoed what followed "HTTP/"
#   up to the end of the headers ("HTTP/HTTP/1.1 junk\r\nSet-Cookie: a=b\r\n\r 400 Bad Request").
civetweb_patch_headers='/^parse_http_request(char \*buf, int len, struct mg_request_info \*ri)$/,/^}$/s/^\tri->num_headers = parse_http_headers(&buf, ri->http_headers);$/&\n\tif ((ri->num_headers >= 0) \&\& parley_headers_left(buf)) { ri->num_headers = (ri->num_headers == (int)MG_MAX_HEADERS) ? -2 : -1; }/'
civetweb_patch_431='/^\tif (parse_http_request(conn->buf, conn->buf_size, &conn->request_info)$/,/\*err = 400;/s/\*err = 400;/*err = (conn->request_info.num_headers == -2) ? 431 : 400; conn->request_info.http_version = "1.1";/'
# - It read whitespace before the first header as part of the line end and whitespace between a
#   header's name and its colon as nothing (RFC 9112 2.2 and 5.1: a proxy may read either line as
#   something else): 400 for both.
civetweb_patch_line='s/^\tif (skip_to_end_of_word_and_terminate(&buf, 1) <= 0) {$/\tif (parley_bad_line_end(buf) || (skip_to_end_of_word_and_terminate(\&buf, 1) <= 0)) {/'
civetweb_patch_colon="s/^\\t\\twhile (\\*dp == ' ') {\$/\\t\\tif (*dp == ' ') { return -1; }\\n&/"
# - A request it could not read was answered with "Connection: keep-alive" and then closed
#   (must_close was set after the answer): it now says "Connection: close".
civetweb_patch_close='s/^\t\t\t\tmg_send_http_error(conn, reqerr, "%s", ebuf);$/\t\t\t\tconn->must_close = 1; mg_send_http_error(conn, reqerr, "%s", ebuf);/'
# - Content-Length more than once, with Transfer-Encoding, or not a plain number ("+47", "47abc"
#   were 47); Transfer-Encoding other than one "chunked" ("identity" was ignored), or in HTTP/1.0:
#   400 (parley_framing), before get_request reads the length.
civetweb_patch_framing='s/^\t\/\* Message is a valid request \*\/$/\tif (!parley_framing(conn, ebuf, ebuf_len, err)) { return 0; }\n&/'
# Ranges (RFC 9110 14): Civetweb answered "bytes=100000-" on a smaller file, or "bytes=5-1", with
# 206 and a negative Content-Length, one byte too many for a range past the end, and only the
# first of several ranges. parley_range (http.inc) decides instead: 206 for one satisfiable
# range (suffixes too), 416 with "Content-Range: bytes */SIZE" for a start at or past the end,
# 200 with the whole file for anything else.
civetweb_patch_range='/^handle_static_file_request(struct mg_connection \*conn,$/,/^}$/s/^\tr1 = r2 = 0;$/&\n\tn = (range_hdr != NULL) ? parley_range(conn, range_hdr, cl, \&r1, \&r2) : 0;\n\tif (n < 0) { (void)mg_fclose(\&filep->access); return; }/'
civetweb_patch_range_use='s/^\t    && ((n = parse_range_header(range_hdr, &r1, &r2)) > 0) && (r1 >= 0)$/\t    \&\& (n > 0) \&\& (r1 >= 0)/'
# One deadline for a whole request (RFC 9112 leaves it to the server): Civetweb bounded the
# headers by request_timeout_ms from the request's start, but gave each read of the body the
# whole timeout again, so one byte every few seconds held a worker for hours. pull_all (the
# body's reads) now waits only for what is left of request_timeout_ms since the request
# started (conn->req_time), and ends the connection when it has passed.
civetweb_patch_deadline='/^pull_all(FILE \*fp, struct mg_connection \*conn, char \*buf, int len)$/,/^}$/s/^\t\tn = pull_inner(fp, conn, buf + nread, len, timeout);$/\t\t{ struct timespec parley_now; double parley_left; clock_gettime(CLOCK_MONOTONIC, \&parley_now); parley_left = timeout - mg_difftimespec(\&parley_now, \&(conn->req_time)); if (parley_left <= 0.0) { conn->must_close = 1; break; } n = pull_inner(fp, conn, buf + nread, len, parley_left); }/'
civetweb_http="$here/server/civetweb/http.inc"
# server/civetweb/detach.inc is appended to civetweb.c: mg_parley_detach() hands an upgraded
# WebSocket (socket, TLS session, bytes read past the upgrade request) to the server's event
# loops (server/src/wsloop.c), so that a WebSocket no longer holds a worker thread.
civetweb_detach="$here/server/civetweb/detach.inc"
civetweb_key="$(basename "$civetweb_src")-$(recipe_hash "$civetweb_defs $civetweb_cflags $civetweb_patch $civetweb_patch_frame $civetweb_patch_headers $civetweb_patch_431 $civetweb_patch_line $civetweb_patch_colon $civetweb_patch_close $civetweb_patch_framing $civetweb_patch_range $civetweb_patch_range_use $civetweb_patch_deadline $(sha256sum < "$civetweb_http") $(sha256sum < "$civetweb_detach") $(cc --version | head -n 1)")"
civetweb_lib="$cache/civetweb/$civetweb_key"
if [ ! -f "$civetweb_lib/.parley-complete" ]; then
  log "building Civetweb into $civetweb_lib"
  rm -rf "$civetweb_lib"
  mkdir -p "$civetweb_lib/include" "$civetweb_lib/lib"
  # http.inc goes right after parse_range_header's closing brace (sed's r), before its callers.
  sed -e "$civetweb_patch" -e "$civetweb_patch_frame" -e "$civetweb_patch_headers" \
      -e "$civetweb_patch_431" -e "$civetweb_patch_line" -e "$civetweb_patch_colon" \
      -e "$civetweb_patch_close" -e "$civetweb_patch_framing" -e "$civetweb_patch_range" -e "$civetweb_patch_range_use" -e "$civetweb_patch_deadline" \
      -e '/^parse_range_header(const char \*header, int64_t \*a, int64_t \*b)$/,/^}$/{/^}$/r '"$civetweb_http" \
      -e '}' "$civetweb_src/src/civetweb.c" > "$civetweb_lib/civetweb.c"
  grep -q 'request_len == -2) ||' "$civetweb_lib/civetweb.c"
  grep -q 'PARLEY_WS_FRAME_MAX) {' "$civetweb_lib/civetweb.c"
  # Each of the framing and range patches applied exactly once, and http.inc is in.
  for applied in '&& parley_headers_left(buf)) {' '? 431 : 400; conn->request_info.http_version = "1.1";' 'if (parley_bad_line_end(buf) ||' \
                 "if (*dp == ' ') { return -1; }" 'must_close = 1; mg_send_http_error(conn, reqerr' \
                 'if (!parley_framing(conn, ebuf, ebuf_len, err))' \
                 'n = (range_hdr != NULL) ? parley_range(' '&& (n > 0) && (r1 >= 0)' \
                 'parley_range(struct mg_connection *conn,' 'parley_left = timeout - mg_difftimespec('; do
    [ "$(grep -cF -e "$applied" "$civetweb_lib/civetweb.c")" -eq 1 ] || { log "Civetweb patch not applied: $applied"; exit 1; }
  done
  cat "$civetweb_detach" >> "$civetweb_lib/civetweb.c"
  # shellcheck disable=SC2086
  cc $civetweb_cflags $civetweb_defs -I"$civetweb_src/include" -I"$civetweb_src/src" \
     -c "$civetweb_lib/civetweb.c" -o "$civetweb_lib/lib/civetweb.o"
  rm -f "$civetweb_lib/civetweb.c"
  ar rcs "$civetweb_lib/lib/libcivetweb.a" "$civetweb_lib/lib/civetweb.o"
  rm -f "$civetweb_lib/lib/civetweb.o"
  cp "$civetweb_src/include/civetweb.h" "$civetweb_lib/include/"
  printf '%s\n' "$civetweb_defs" > "$civetweb_lib/defines.txt"
  touch "$civetweb_lib/.parley-complete"
fi

# ---- npm packages (qrcode-generator for the page; playwright-core and Olm for tests) -----------
lock_hash=$(sha256sum "$here/package-lock.json" | cut -c1-64)
if [ "$(cat "$here/node_modules/.parley-lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
  log "installing npm packages"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
  printf '%s\n' "$lock_hash" > "$here/node_modules/.parley-lock-hash"
fi

cat > "$cache/paths.env" <<EOF
PARLEY_SODIUM_WASM=$sodium_wasm
PARLEY_BEARSSL_SRC=$bearssl_src
PARLEY_CIVETWEB=$civetweb_lib
PARLEY_CJSON_SRC=$cjson_src
EOF
log "dependencies ready"
