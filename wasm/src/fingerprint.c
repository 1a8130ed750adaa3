/*
 * Safety numbers. Each identity key gets a fingerprint: SHA-512 iterated 5200 times,
 * h0 = SHA-512(0x00 0x01 || "parley-fingerprint-v1" || IK), h(i+1) = SHA-512(h(i) || IK).
 * Its first 30 bytes, in six 5-byte big-endian chunks each reduced mod 100000, give 30 digits.
 * The safety number is the two 30-digit halves in ascending order, so both people see the same.
 */
#include "state.h"

#include <string.h>

#define FINGERPRINT_ITERATIONS 5200

static void fingerprint(uint8_t out[64], const uint8_t ik[32])
{
    static const uint8_t prefix[2] = {0x00, 0x01};
    crypto_hash_sha512_state st;
    uint8_t h[64];

    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, prefix, sizeof prefix);
    crypto_hash_sha512_update(&st, (const uint8_t *)PARLEY_LABEL_FINGERPRINT,
                              sizeof(PARLEY_LABEL_FINGERPRINT) - 1);
    crypto_hash_sha512_update(&st, ik, 32);
    crypto_hash_sha512_final(&st, h);
    for (int i = 1; i < FINGERPRINT_ITERATIONS; i++) {
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, h, sizeof h);
        crypto_hash_sha512_update(&st, ik, 32);
        crypto_hash_sha512_final(&st, h);
    }
    memcpy(out, h, 64);
}

static void digits(char out[30], const uint8_t fp[64])
{
    for (int chunk = 0; chunk < 6; chunk++) {
        uint64_t v = 0;
        for (int i = 0; i < 5; i++) {
            v = v << 8 | fp[chunk * 5 + i];
        }
        v %= 100000;
        for (int d = 4; d >= 0; d--) {
            out[chunk * 5 + d] = (char)('0' + v % 10);
            v /= 10;
        }
    }
}

/* Both identities' digits and fingerprints, lower digits first (then lower fingerprint bytes). */
struct comparison {
    char digits[2][30];
    uint8_t fp[2][64];
};

static int compare(struct comparison *c, const uint8_t a[32], const uint8_t b[32])
{
    uint8_t fa[64], fb[64];
    char da[30], db[30];
    int first_a;

    if (a == NULL || b == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    fingerprint(fa, a);
    fingerprint(fb, b);
    digits(da, fa);
    digits(db, fb);
    first_a = memcmp(da, db, 30) < 0 || (memcmp(da, db, 30) == 0 && memcmp(fa, fb, 32) <= 0);
    memcpy(c->digits[0], first_a ? da : db, 30);
    memcpy(c->digits[1], first_a ? db : da, 30);
    memcpy(c->fp[0], first_a ? fa : fb, 64);
    memcpy(c->fp[1], first_a ? fb : fa, 64);
    return PARLEY_OK;
}

int parley_safety_number(char out[PARLEY_SAFETY_NUMBER_DIGITS + 1], const uint8_t a[PARLEY_KEY_BYTES],
                         const uint8_t b[PARLEY_KEY_BYTES])
{
    struct comparison c;
    int rc = out == NULL ? PARLEY_ERR_ARGUMENT : compare(&c, a, b);

    if (rc == PARLEY_OK) {
        memcpy(out, c.digits[0], 30);
        memcpy(out + 30, c.digits[1], 30);
        out[60] = '\0';
    }
    return rc;
}

int parley_safety_qr(uint8_t out[PARLEY_SAFETY_QR_BYTES], const uint8_t a[PARLEY_KEY_BYTES],
                     const uint8_t b[PARLEY_KEY_BYTES])
{
    struct comparison c;
    int rc = out == NULL ? PARLEY_ERR_ARGUMENT : compare(&c, a, b);

    if (rc == PARLEY_OK) {
        out[0] = 0x01;
        memcpy(out + 1, c.fp[0], 32);
        memcpy(out + 33, c.fp[1], 32);
    }
    return rc;
}
