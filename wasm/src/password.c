/* Password-based key derivation: Argon2id with the parameters in parley.h / docs/PROTOCOL.md. */
#include "internal.h"

#include <string.h>

size_t parley_password_saltbytes(void) { return PARLEY_PASSWORD_SALTBYTES; }

int parley_password_salt(uint8_t salt[PARLEY_PASSWORD_SALTBYTES], const uint8_t *context,
                         size_t context_len)
{
    static const char label[] = "parley-password-salt-v1";
    crypto_hash_sha256_state st;
    uint8_t digest[32];

    if (salt == NULL || (context == NULL && context_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label - 1);
    if (context_len != 0) {
        crypto_hash_sha256_update(&st, context, context_len);
    }
    crypto_hash_sha256_final(&st, digest);
    memcpy(salt, digest, PARLEY_PASSWORD_SALTBYTES);
    PARLEY_WIPE(st);
    return PARLEY_OK;
}

int parley_password_derive(uint8_t *out, size_t out_len, const uint8_t *password,
                           size_t password_len, const uint8_t salt[PARLEY_PASSWORD_SALTBYTES])
{
    static const char empty[1] = "";

    if (out == NULL || salt == NULL || (password == NULL && password_len != 0) ||
        out_len < PARLEY_PASSWORD_MIN_OUTPUT || out_len > PARLEY_PASSWORD_MAX_OUTPUT) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (password_len > PARLEY_PASSWORD_MAX_BYTES) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (crypto_pwhash(out, out_len, password != NULL ? (const char *)password : empty, password_len,
                      salt,
                      PARLEY_PASSWORD_OPSLIMIT, PARLEY_PASSWORD_MEMLIMIT,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(out, out_len);
        return PARLEY_ERR_NO_MEMORY;
    }
    return PARLEY_OK;
}
