/*
 * Parley crypto core: the public C API.
 *
 * Conventions (see docs/PROTOCOL.md for the protocol itself):
 * - Every function returns an int: 0 (PARLEY_OK) on success, a negative enum parley_error otherwise;
 *   parley_strerror() names it.
 * - Sizes are written into the signatures and exist both as a #define and as a function, so the
 *   JavaScript binding can ask at run time.
 * - Outputs are written only on success; on failure secret outputs are zeroed.
 * - Every function marked PARLEY_API is exported to WebAssembly: the export list is generated from
 *   this header (wasm/tools/gen-exports.mjs), never maintained by hand.
 */
#ifndef PARLEY_H
#define PARLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PARLEY_NODISCARD __attribute__((warn_unused_result))
#else
#define PARLEY_NODISCARD
#endif

/* Marks the exported API; the export generator looks for it at the start of a declaration. */
#define PARLEY_API

#define PARLEY_VERSION_STRING "0.1.0"

enum parley_error {
    PARLEY_OK = 0,
    PARLEY_ERR_ARGUMENT = -1,   /* a NULL pointer or an impossible length */
    PARLEY_ERR_INIT = -2,       /* parley_init() failed or was not called */
    PARLEY_ERR_AUTH = -3,       /* authentication failed: tag or signature does not verify */
    PARLEY_ERR_WEAK_KEY = -4,   /* a Diffie-Hellman result was all zeros (low-order point) */
    PARLEY_ERR_TOO_LARGE = -5,  /* an input or output exceeds a documented limit */
    PARLEY_ERR_NO_MEMORY = -6   /* an allocation failed */
};

/* Initialises the core (libsodium, the randomness source). Safe to call more than once. */
PARLEY_API PARLEY_NODISCARD int parley_init(void);

/* The core's version, "MAJOR.MINOR.PATCH"; a static string. */
PARLEY_API const char *parley_version(void);

/* A short English description of an error code; a static string, never NULL. */
PARLEY_API const char *parley_strerror(int code);

/* Fills buf with len bytes from the operating system's (or browser's) secure generator. */
PARLEY_API PARLEY_NODISCARD int parley_random(uint8_t *buf, size_t len);

/* ---- AES-256-GCM: 256-bit key, 96-bit nonce, 128-bit tag ------------------------------------ */

#define PARLEY_AEAD_KEYBYTES 32
#define PARLEY_AEAD_NONCEBYTES 12
#define PARLEY_AEAD_TAGBYTES 16
/* The largest plaintext one call accepts (GCM allows 2^36 - 32 bytes; we cap far below). */
#define PARLEY_AEAD_MAX_PLAINTEXT ((size_t)1 << 30)

PARLEY_API size_t parley_aead_keybytes(void);
PARLEY_API size_t parley_aead_noncebytes(void);
PARLEY_API size_t parley_aead_tagbytes(void);

/*
 * Encrypts pt_len bytes of pt and writes ciphertext || tag (pt_len + PARLEY_AEAD_TAGBYTES bytes)
 * to out. out may equal pt (in place); otherwise the buffers must not overlap.
 * ad may be NULL when ad_len is 0; pt may be NULL when pt_len is 0.
 */
PARLEY_API PARLEY_NODISCARD int parley_aead_seal(uint8_t *out,
                                                 const uint8_t key[PARLEY_AEAD_KEYBYTES],
                                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                                 const uint8_t *ad, size_t ad_len,
                                                 const uint8_t *pt, size_t pt_len);

/*
 * Verifies and decrypts ct (ciphertext || tag, ct_len >= PARLEY_AEAD_TAGBYTES) and writes
 * ct_len - PARLEY_AEAD_TAGBYTES bytes of plaintext to out. out may equal ct; otherwise the
 * buffers must not overlap. Returns
 * PARLEY_ERR_AUTH, with out zeroed, when the tag does not verify.
 */
PARLEY_API PARLEY_NODISCARD int parley_aead_open(uint8_t *out,
                                                 const uint8_t key[PARLEY_AEAD_KEYBYTES],
                                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                                 const uint8_t *ad, size_t ad_len,
                                                 const uint8_t *ct, size_t ct_len);

/* ---- X25519 ------------------------------------------------------------------------------- */

#define PARLEY_X25519_BYTES 32

PARLEY_API size_t parley_x25519_bytes(void);

/* Derives the public key of a (clamped on use) 32-byte private scalar. */
PARLEY_API PARLEY_NODISCARD int parley_x25519_public(uint8_t pub[PARLEY_X25519_BYTES],
                                                     const uint8_t priv[PARLEY_X25519_BYTES]);

/* Creates a key pair from the secure generator. */
PARLEY_API PARLEY_NODISCARD int parley_x25519_keypair(uint8_t pub[PARLEY_X25519_BYTES],
                                                      uint8_t priv[PARLEY_X25519_BYTES]);

/*
 * shared = X25519(priv, pub). Returns PARLEY_ERR_WEAK_KEY, with shared zeroed, when the result is
 * all zeros (pub is a low-order point).
 */
PARLEY_API PARLEY_NODISCARD int parley_x25519(uint8_t shared[PARLEY_X25519_BYTES],
                                              const uint8_t priv[PARLEY_X25519_BYTES],
                                              const uint8_t pub[PARLEY_X25519_BYTES]);

/* ---- Self-test ---------------------------------------------------------------------------- */

/*
 * Runs known-answer tests of AES-256-GCM and X25519 and a fresh X25519 agreement. Returns 0 when
 * every check passes; a negative code naming the first failure otherwise.
 */
PARLEY_API PARLEY_NODISCARD int parley_selftest(void);

#ifdef __cplusplus
}
#endif

#endif /* PARLEY_H */
