/*
 * ML-KEM-1024 (FIPS 203) from mlkem-native, deterministic: key pairs from a 64-byte seed d || z
 * (FIPS 203's seed form of a decapsulation key), encapsulation from 32 bytes of randomness m. The
 * core draws both itself and passes them in, as for every other key.
 *
 * mlkem-native's sizes are fixed; these wrappers take lengths so that a wrong one is refused here
 * (PARLEY_ERR_MALFORMED) rather than read past. Encapsulation runs FIPS 203's modulus check on
 * the encapsulation key, decapsulation its hash check on the decapsulation key; either failing is
 * PARLEY_ERR_MALFORMED. A ciphertext of the right length never fails: a wrong one decapsulates
 * to the implicit-rejection secret (FIPS 203, 6.3), so a forged ciphertext is caught later by the
 * ratchet's tag.
 */
#include "internal.h"

#include <string.h>

#include <mlkem_native.h> /* configured by mlkem/parley_mlkem_config.h (MLK_CONFIG_FILE) */

#if PARLEY_MLKEM_PUBLICKEYBYTES != MLKEM1024_PUBLICKEYBYTES ||                                    \
    PARLEY_MLKEM_SECRETKEYBYTES != MLKEM1024_SECRETKEYBYTES ||                                    \
    PARLEY_MLKEM_CIPHERTEXTBYTES != MLKEM1024_CIPHERTEXTBYTES ||                                  \
    PARLEY_MLKEM_SHAREDBYTES != MLKEM_BYTES || PARLEY_MLKEM_COINBYTES != MLKEM_SYMBYTES
#error "parley.h's ML-KEM-1024 sizes differ from mlkem-native's"
#endif

size_t parley_mlkem_publickeybytes(void)
{
    return PARLEY_MLKEM_PUBLICKEYBYTES;
}

size_t parley_mlkem_ciphertextbytes(void)
{
    return PARLEY_MLKEM_CIPHERTEXTBYTES;
}

int parley_mlkem_keypair(uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES],
                         uint8_t sk[PARLEY_MLKEM_SECRETKEYBYTES], const uint8_t *seed,
                         size_t seed_len)
{
    if (pk == NULL || sk == NULL || seed == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (seed_len != PARLEY_MLKEM_SEEDBYTES) {
        sodium_memzero(sk, PARLEY_MLKEM_SECRETKEYBYTES);
        return PARLEY_ERR_MALFORMED;
    }
    if (parley_mlk_keypair_derand(pk, sk, seed) != 0) {
        sodium_memzero(sk, PARLEY_MLKEM_SECRETKEYBYTES);
        return PARLEY_ERR_MALFORMED;
    }
    return PARLEY_OK;
}

int parley_mlkem_encaps(uint8_t ct[PARLEY_MLKEM_CIPHERTEXTBYTES],
                        uint8_t ss[PARLEY_MLKEM_SHAREDBYTES], const uint8_t *pk, size_t pk_len,
                        const uint8_t coins[PARLEY_MLKEM_COINBYTES])
{
    if (ct == NULL || ss == NULL || pk == NULL || coins == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (pk_len != PARLEY_MLKEM_PUBLICKEYBYTES ||
        parley_mlk_enc_derand(ct, ss, pk, coins) != 0) {
        sodium_memzero(ss, PARLEY_MLKEM_SHAREDBYTES);
        return PARLEY_ERR_MALFORMED;
    }
    return PARLEY_OK;
}

int parley_mlkem_decaps(uint8_t ss[PARLEY_MLKEM_SHAREDBYTES], const uint8_t *ct, size_t ct_len,
                        const uint8_t *sk, size_t sk_len)
{
    if (ss == NULL || ct == NULL || sk == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (ct_len != PARLEY_MLKEM_CIPHERTEXTBYTES || sk_len != PARLEY_MLKEM_SECRETKEYBYTES ||
        parley_mlk_dec(ss, ct, sk) != 0) {
        sodium_memzero(ss, PARLEY_MLKEM_SHAREDBYTES);
        return PARLEY_ERR_MALFORMED;
    }
    return PARLEY_OK;
}
