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

/* Both halves, ordered by their digits (then by fingerprint bytes, for equal digits). */
static int ordered(char d_lo[30], uint8_t fp_lo[64], char d_hi[30], uint8_t fp_hi[64],
                   const uint8_t a[32], const uint8_t b[32])
{
    uint8_t fa[64], fb[64];
    char da[30], db[30];
    int cmp;

    if (a == NULL || b == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    fingerprint(fa, a);
    fingerprint(fb, b);
    digits(da, fa);
    digits(db, fb);
    cmp = memcmp(da, db, 30);
    if (cmp == 0) {
        cmp = memcmp(fa, fb, 32);
    }
    memcpy(d_lo, cmp <= 0 ? da : db, 30);
    memcpy(fp_lo, cmp <= 0 ? fa : fb, 64);
    memcpy(d_hi, cmp <= 0 ? db : da, 30);
    memcpy(fp_hi, cmp <= 0 ? fb : fa, 64);
    return PARLEY_OK;
}

int parley_safety_number(char out[PARLEY_SAFETY_NUMBER_DIGITS + 1], const uint8_t a[PARLEY_KEY_BYTES],
                         const uint8_t b[PARLEY_KEY_BYTES])
{
    uint8_t f1[64], f2[64];
    char d1[30], d2[30];
    int rc;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = ordered(d1, f1, d2, f2, a, b);
    if (rc != PARLEY_OK) {
        return rc;
    }
    memcpy(out, d1, 30);
    memcpy(out + 30, d2, 30);
    out[60] = '\0';
    return PARLEY_OK;
}

int parley_safety_qr(uint8_t out[PARLEY_SAFETY_QR_BYTES], const uint8_t a[PARLEY_KEY_BYTES],
                     const uint8_t b[PARLEY_KEY_BYTES])
{
    uint8_t f1[64], f2[64];
    char d1[30], d2[30];
    int rc;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = ordered(d1, f1, d2, f2, a, b);
    if (rc != PARLEY_OK) {
        return rc;
    }
    out[0] = 0x01;
    memcpy(out + 1, f1, 32);
    memcpy(out + 33, f2, 32);
    return PARLEY_OK;
}
