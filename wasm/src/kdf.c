/* SHA-2, HMAC-SHA256 and HKDF-SHA256 (RFC 5869) over libsodium. */
#include "internal.h"

#include <string.h>

/* libsodium wants non-NULL pointers even for empty inputs. */
static const uint8_t empty[1] = {0};
#define OR_EMPTY(p) ((p) != NULL ? (p) : empty)

int parley_sha256(uint8_t out[PARLEY_SHA256_BYTES], const uint8_t *in, size_t in_len)
{
    if (out == NULL || (in == NULL && in_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_hash_sha256(out, OR_EMPTY(in), in_len);
    return PARLEY_OK;
}

int parley_sha512(uint8_t out[PARLEY_SHA512_BYTES], const uint8_t *in, size_t in_len)
{
    if (out == NULL || (in == NULL && in_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_hash_sha512(out, OR_EMPTY(in), in_len);
    return PARLEY_OK;
}

void parley_hmac2(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *a,
                  size_t a_len, const uint8_t *b, size_t b_len)
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, OR_EMPTY(key), key_len);
    if (a_len != 0) {
        crypto_auth_hmacsha256_update(&st, a, a_len);
    }
    if (b_len != 0) {
        crypto_auth_hmacsha256_update(&st, b, b_len);
    }
    crypto_auth_hmacsha256_final(&st, out);
    PARLEY_WIPE(st);
}

int parley_hmac_sha256(uint8_t out[PARLEY_HMAC_BYTES], const uint8_t *key, size_t key_len,
                       const uint8_t *data, size_t data_len)
{
    if (out == NULL || (key == NULL && key_len != 0) || (data == NULL && data_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    parley_hmac2(out, key, key_len, data, data_len, NULL, 0);
    return PARLEY_OK;
}

int parley_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                       const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len)
{
    static const uint8_t zero_salt[32] = {0};
    uint8_t prk[32], block[32], counter;
    size_t done = 0;

    if (out == NULL || out_len == 0 || (ikm == NULL && ikm_len != 0) ||
        (salt == NULL && salt_len != 0) || (info == NULL && info_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (out_len > PARLEY_HKDF_MAX_OUTPUT) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    /* Extract: PRK = HMAC(salt, IKM). */
    parley_hmac2(prk, salt, salt_len, ikm, ikm_len, NULL, 0);
    /* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). */
    for (counter = 1; done < out_len; counter++) {
        crypto_auth_hmacsha256_state st;
        size_t take = out_len - done < 32 ? out_len - done : 32;

        crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
        if (counter > 1) {
            crypto_auth_hmacsha256_update(&st, block, sizeof block);
        }
        if (info_len != 0) {
            crypto_auth_hmacsha256_update(&st, info, info_len);
        }
        crypto_auth_hmacsha256_update(&st, &counter, 1);
        crypto_auth_hmacsha256_final(&st, block);
        PARLEY_WIPE(st);
        memcpy(out + done, block, take);
        done += take;
    }
    PARLEY_WIPE(prk);
    PARLEY_WIPE(block);
    return PARLEY_OK;
}

int parley_hkdf_label(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                      const uint8_t *salt, size_t salt_len, const char *label)
{
    return parley_hkdf_sha256(out, out_len, ikm, ikm_len, salt, salt_len, (const uint8_t *)label,
                              strlen(label));
}

/*
 * HKDF-Expand alone (RFC 5869, section 2.3) to 44 bytes, with a 32-byte PRK: what the ratchet
 * needs for every message. The PRK's keyed HMAC state is made once and shared by both blocks.
 */
void parley_hkdf_expand_44(uint8_t out[44], const uint8_t prk[32], const char *label)
{
    crypto_auth_hmacsha256_state keyed, st;
    uint8_t t1[32], t2[32], counter;
    size_t label_len = strlen(label);

    crypto_auth_hmacsha256_init(&keyed, prk, 32);
    st = keyed;
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, label_len);
    counter = 1;
    crypto_auth_hmacsha256_update(&st, &counter, 1);
    crypto_auth_hmacsha256_final(&st, t1);
    st = keyed;
    crypto_auth_hmacsha256_update(&st, t1, sizeof t1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, label_len);
    counter = 2;
    crypto_auth_hmacsha256_update(&st, &counter, 1);
    crypto_auth_hmacsha256_final(&st, t2);
    memcpy(out, t1, 32);
    memcpy(out + 32, t2, 12);
    PARLEY_WIPE(t1);
    PARLEY_WIPE(t2);
    PARLEY_WIPE(keyed);
    PARLEY_WIPE(st);
}
