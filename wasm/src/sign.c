/* Ed25519 (RFC 8032) over libsodium, keyed by the 32-byte seed. */
#include "internal.h"

int parley_ed25519_public(uint8_t pub[PARLEY_ED25519_PUBLICKEYBYTES],
                          const uint8_t seed[PARLEY_ED25519_SEEDBYTES])
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];

    if (pub == NULL || seed == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_sign_seed_keypair(pub, sk, seed);
    PARLEY_WIPE(sk);
    return PARLEY_OK;
}

int parley_ed25519_sign(uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES],
                        const uint8_t seed[PARLEY_ED25519_SEEDBYTES], const uint8_t *msg,
                        size_t msg_len)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

    if (sig == NULL || seed == NULL || (msg == NULL && msg_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(sig, NULL, msg, msg_len, sk);
    PARLEY_WIPE(sk);
    return PARLEY_OK;
}

int parley_ed25519_verify(const uint8_t pub[PARLEY_ED25519_PUBLICKEYBYTES], const uint8_t *msg,
                          size_t msg_len, const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES])
{
    if (pub == NULL || sig == NULL || (msg == NULL && msg_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    return crypto_sign_verify_detached(sig, msg, msg_len, pub) == 0 ? PARLEY_OK
                                                                    : PARLEY_ERR_BAD_SIGNATURE;
}
