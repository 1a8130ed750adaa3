/* Library-wide pieces: initialisation, version, error strings, randomness. */
#include "parley.h"

#include <sodium.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

/*
 * In the browser (and under Node) randomness comes from crypto.getRandomValues, which takes at
 * most 65536 bytes a call. libsodium's own Emscripten source asks JavaScript for four bytes at a
 * time; this one fills whole buffers.
 */
EM_JS(void, parley_js_random, (uint8_t *buf, size_t len), {
    var c = (typeof globalThis.crypto === 'object' && globalThis.crypto.getRandomValues)
        ? globalThis.crypto : require('crypto').webcrypto;
    for (var off = 0; off < len; off += 65536) {
        var n = Math.min(65536, len - off);
        c.getRandomValues(HEAPU8.subarray(buf + off, buf + off + n));
    }
});

static const char *js_random_name(void) { return "parley-js"; }

static uint32_t js_random_u32(void)
{
    uint32_t v;
    parley_js_random((uint8_t *)&v, sizeof v);
    return v;
}

static void js_random_buf(void *const buf, const size_t len)
{
    parley_js_random((uint8_t *)buf, len);
}

static randombytes_implementation js_random_impl = {
    .implementation_name = js_random_name,
    .random = js_random_u32,
    .stir = NULL,
    .uniform = NULL,
    .buf = js_random_buf,
    .close = NULL,
};
#endif

static int initialised;

int parley_init(void)
{
    if (initialised) {
        return PARLEY_OK;
    }
#ifdef __EMSCRIPTEN__
    if (randombytes_set_implementation(&js_random_impl) != 0) {
        return PARLEY_ERR_INIT;
    }
#endif
    if (sodium_init() < 0) {
        return PARLEY_ERR_INIT;
    }
    initialised = 1;
    return PARLEY_OK;
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
        randombytes_buf(buf, len);
    }
    return PARLEY_OK;
}
