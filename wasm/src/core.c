/* Library-wide pieces: initialisation, version, error strings, randomness. */
#include "internal.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <malloc.h>

/*
 * In the browser (and under Node) randomness comes from crypto.getRandomValues, which takes at
 * most 65536 bytes a call. libsodium's Emscripten build ignores randombytes_set_implementation and
 * asks Module.getRandomValue() for one byte at a time, so parley_random() fills whole buffers
 * itself, and parley_init() installs Module.getRandomValue from the same source before
 * sodium_init() looks for one (its own lookup needs `window`, `self` or `require`).
 */
EM_JS(void, parley_js_random, (uint8_t *buf, size_t len), {
    for (var off = 0; off < len; off += 65536) {
        var n = Math.min(65536, len - off);
        globalThis.crypto.getRandomValues(HEAPU8.subarray(buf + off, buf + off + n));
    }
});

EM_JS(int, parley_js_install_random, (void), {
    if (typeof globalThis.crypto !== 'object' || typeof globalThis.crypto.getRandomValues !== 'function') {
        return -1;
    }
    var word = new Uint32Array(1);
    Module.getRandomValue = function() {
        globalThis.crypto.getRandomValues(word);
        return word[0] >>> 0;
    };
    return 0;
});
#endif

static int initialised;

int parley_init(void)
{
    if (initialised) {
        return PARLEY_OK;
    }
#ifdef __EMSCRIPTEN__
    if (parley_js_install_random() != 0) {
        return PARLEY_ERR_INIT;
    }
#endif
    if (sodium_init() < 0) {
        return PARLEY_ERR_INIT;
    }
    initialised = 1;
    return PARLEY_OK;
}

int parley_is_initialised(void)
{
    return initialised;
}

const char *parley_version(void)
{
    return PARLEY_VERSION_STRING;
}

const char *parley_strerror(int code)
{
    switch (code) {
    case PARLEY_OK:
        return "success";
    case PARLEY_ERR_ARGUMENT:
        return "invalid argument";
    case PARLEY_ERR_INIT:
        return "the crypto core is not initialised";
    case PARLEY_ERR_AUTH:
        return "authentication failed";
    case PARLEY_ERR_WEAK_KEY:
        return "weak or low-order public key";
    case PARLEY_ERR_TOO_LARGE:
        return "input too large";
    case PARLEY_ERR_NO_MEMORY:
        return "out of memory";
    case PARLEY_ERR_BAD_SIGNATURE:
        return "bad signature";
    case PARLEY_ERR_VERSION:
        return "unknown version";
    case PARLEY_ERR_MALFORMED:
        return "malformed input";
    case PARLEY_ERR_DUPLICATE:
        return "duplicate message";
    case PARLEY_ERR_LIMIT:
        return "limit reached";
    case PARLEY_ERR_UNKNOWN_PREKEY:
        return "unknown prekey";
    case PARLEY_ERR_STATE:
        return "invalid state for this operation";
    case PARLEY_ERR_BUFFER:
        return "output buffer too small";
    case PARLEY_ERR_NOT_ADMIN:
        return "not signed by an admin of the room";
    case PARLEY_ERR_STALE:
        return "not newer than the room's current version";
    case PARLEY_ERR_OTHER_ROOM:
        return "another room";
    case PARLEY_ERR_EXPIRED:
        return "challenge too old or from the future";
    case PARLEY_ERR_NOT_MEMBER:
        return "not a member of the room";
    default:
        return "unknown error";
    }
}

int parley_random(uint8_t *buf, size_t len)
{
    if (buf == NULL && len != 0) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (!initialised) {
        return PARLEY_ERR_INIT;
    }
    if (len != 0) {
#ifdef __EMSCRIPTEN__
        parley_js_random(buf, len);
#else
        randombytes_buf(buf, len);
#endif
    }
    return PARLEY_OK;
}

size_t parley_heap_used(void)
{
#ifdef __EMSCRIPTEN__
    struct mallinfo mi = mallinfo();

    return (size_t)mi.uordblks;
#else
    return 0;
#endif
}
