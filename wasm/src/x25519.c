/* X25519 from libsodium; an all-zero result (low-order peer key) is refused. */
#include "parley.h"

#include <sodium.h>

size_t parley_x25519_bytes(void) { return PARLEY_X25519_BYTES; }

int parley_x25519_public(uint8_t pub[PARLEY_X25519_BYTES], const uint8_t priv[PARLEY_X25519_BYTES])
{
    if (pub == NULL || priv == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (crypto_scalarmult_curve25519_base(pub, priv) != 0) {
        sodium_memzero(pub, PARLEY_X25519_BYTES);
        return PARLEY_ERR_WEAK_KEY;
    }
    return PARLEY_OK;
}

int parley_x25519_keypair(uint8_t pub[PARLEY_X25519_BYTES], uint8_t priv[PARLEY_X25519_BYTES])
{
    int rc;

    if (pub == NULL || priv == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(priv, PARLEY_X25519_BYTES);
    if (rc == PARLEY_OK) {
        rc = parley_x25519_public(pub, priv);
    }
    if (rc != PARLEY_OK) {
        sodium_memzero(priv, PARLEY_X25519_BYTES);
    }
    return rc;
}

int parley_x25519(uint8_t shared[PARLEY_X25519_BYTES], const uint8_t priv[PARLEY_X25519_BYTES],
                  const uint8_t pub[PARLEY_X25519_BYTES])
{
    if (shared == NULL || priv == NULL || pub == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    /* libsodium returns -1, in constant time, when the result is all zeros. */
    if (crypto_scalarmult_curve25519(shared, priv, pub) != 0) {
        sodium_memzero(shared, PARLEY_X25519_BYTES);
        return PARLEY_ERR_WEAK_KEY;
    }
    return PARLEY_OK;
}
