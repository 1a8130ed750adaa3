/*
 * The core's eight-block AES (aes_ct64x2.c) and four-block GHASH (ghash_ct4.c) against BearSSL's
 * originals (aes_ct64, ghash_ctmul64) on deterministic pseudo-random inputs, and AES-256-GCM
 * (parley_aead_seal/open) against a one-block-at-a-time GCM built from BearSSL's pieces, for every
 * length 0..1000 at misaligned offsets.
 */
#include "aes_ct64x2.h"
#include "ghash_ct4.h"
#include "harness.h"
#include "parley.h"

#include <sodium.h>
#include <string.h>

#include "inner.h" /* BearSSL's aes_ct64 and br_ghash_ctmul64 */

/* Deterministic pseudo-random bytes: libsodium's seeded generator, the seed bumped per call. */
static uint64_t g_counter;

static void fill(void *buf, size_t len)
{
    uint8_t seed[randombytes_SEEDBYTES] = {0x5e, 0xed};

    memcpy(seed + 8, &g_counter, sizeof g_counter);
    g_counter++;
    randombytes_buf_deterministic(buf, len, seed);
}

/* BearSSL's four-block pass (as aead.c used it before): blocks w[0..16) in place. */
static void ref_aes4(unsigned rounds, const uint64_t *sk, uint32_t *w)
{
    uint64_t q[8];

    for (size_t i = 0; i < 4; i++) {
        br_aes_ct64_interleave_in(&q[i], &q[i + 4], w + 4 * i);
    }
    br_aes_ct64_ortho(q);
    br_aes_ct64_bitslice_encrypt(rounds, sk, q);
    br_aes_ct64_ortho(q);
    for (size_t i = 0; i < 4; i++) {
        br_aes_ct64_interleave_out(w + 4 * i, q[i], q[i + 4]);
    }
}

static unsigned expand(uint64_t sk[120], const uint8_t *key, size_t key_len)
{
    uint64_t comp[30];
    unsigned rounds = br_aes_ct64_keysched(comp, key, key_len);

    br_aes_ct64_skey_expand(sk, rounds, comp);
    return rounds;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FIPS-197 appendix C.3 (AES-256) in each of the eight slots. */
static void test_aes8_fips197(void)
{
    static const uint8_t pt[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const uint8_t ct[16] = {0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf,
                                   0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89};
    uint8_t key[32];
    uint64_t sk[120];
    uint32_t w[32];
    unsigned rounds;

    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
    }
    rounds = expand(sk, key, sizeof key);
    CHECK(rounds == 14);
    for (size_t slot = 0; slot < 8; slot++) {
        fill(w, sizeof w);
        for (size_t j = 0; j < 4; j++) {
            w[4 * slot + j] = le32(pt + 4 * j);
        }
        parley_aes_ct64x2_encrypt8(rounds, sk, w);
        for (size_t j = 0; j < 4; j++) {
            CHECK(w[4 * slot + j] == le32(ct + 4 * j));
        }
    }
}

/* Random keys (128, 192 and 256 bits) and blocks: eight blocks per pass equal two of BearSSL's
 * four-block passes. */
static void test_aes8_random(void)
{
    static const size_t key_lens[3] = {16, 24, 32};
    int bad = 0;

    for (int iter = 0; iter < 600; iter++) {
        uint8_t key[32];
        uint64_t sk[120];
        uint32_t w[32], ref[32];
        unsigned rounds;

        fill(key, sizeof key);
        rounds = expand(sk, key, key_lens[iter % 3]);
        fill(w, sizeof w);
        memcpy(ref, w, sizeof w);
        ref_aes4(rounds, sk, ref);
        ref_aes4(rounds, sk, ref + 16);
        parley_aes_ct64x2_encrypt8(rounds, sk, w);
        bad += memcmp(w, ref, sizeof w) != 0;
    }
    t_note("600 random keys and eight-block sets, %d differ from BearSSL's aes_ct64", bad);
    CHECK(bad == 0);
}

/* Every length 0..1000 at offsets 0..7, H^1 only and with H^2..H^4, in one call and split at a
 * block boundary: the same accumulator as br_ghash_ctmul64. */
static void test_ghash_random(void)
{
    static uint8_t buf[1000 + 8];
    int bad = 0, runs = 0;

    for (size_t len = 0; len <= 1000; len++) {
        size_t off = len % 8;
        uint8_t h[16], y0[16], ref[16], got[16];
        parley_ghash_key key;

        fill(h, sizeof h);
        fill(y0, sizeof y0);
        fill(buf + off, len);
        memcpy(ref, y0, 16);
        br_ghash_ctmul64(ref, h, buf + off, len);
        for (unsigned powers = 1; powers <= 4; powers += 3) {
            size_t split = (len / 2) & ~(size_t)15;

            parley_ghash_init(&key, h, powers);
            memcpy(got, y0, 16);
            parley_ghash_update(got, &key, buf + off, len);
            bad += memcmp(got, ref, 16) != 0;
            memcpy(got, y0, 16);
            parley_ghash_update(got, &key, buf + off, split);
            parley_ghash_update(got, &key, buf + off + split, len - split);
            bad += memcmp(got, ref, 16) != 0;
            runs += 2;
        }
    }
    t_note("%d GHASH runs (lengths 0..1000), %d differ from BearSSL's ghash_ctmul64", runs, bad);
    CHECK(bad == 0);
}

/* GCM one block at a time from BearSSL's four-block AES (one slot used) and br_ghash_ctmul64. */
static void ref_block(unsigned rounds, const uint64_t *sk, const uint8_t nonce[12],
                      uint32_t counter, uint8_t out[16])
{
    uint32_t w[16] = {0};

    for (size_t j = 0; j < 3; j++) {
        w[j] = le32(nonce + 4 * j);
    }
    w[3] = br_swap32(counter);
    ref_aes4(rounds, sk, w);
    for (int j = 0; j < 16; j++) {
        out[j] = (uint8_t)(w[j / 4] >> (8 * (j % 4)));
    }
}

static void ref_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                     size_t ad_len, const uint8_t *pt, size_t pt_len)
{
    uint64_t sk[120];
    unsigned rounds = expand(sk, key, 32);
    uint8_t h[16], y[16] = {0}, ks[16], lengths[16] = {0};
    uint32_t zero[16] = {0};

    ref_aes4(rounds, sk, zero);
    for (int j = 0; j < 16; j++) {
        h[j] = (uint8_t)(zero[j / 4] >> (8 * (j % 4)));
    }
    for (size_t i = 0; i < pt_len; i++) {
        if (i % 16 == 0) {
            ref_block(rounds, sk, nonce, (uint32_t)(2 + i / 16), ks);
        }
        out[i] = pt[i] ^ ks[i % 16];
    }
    br_ghash_ctmul64(y, h, ad, ad_len);
    br_ghash_ctmul64(y, h, out, pt_len);
    for (int j = 0; j < 8; j++) {
        lengths[7 - j] = (uint8_t)(((uint64_t)ad_len << 3) >> (8 * j));
        lengths[15 - j] = (uint8_t)(((uint64_t)pt_len << 3) >> (8 * j));
    }
    br_ghash_ctmul64(y, h, lengths, sizeof lengths);
    ref_block(rounds, sk, nonce, 1, ks);
    for (int j = 0; j < 16; j++) {
        out[pt_len + j] = y[j] ^ ks[j];
    }
}

/* parley_aead_seal and parley_aead_open against the reference for plaintexts of every length
 * 0..1000 and additional data of 0..200 bytes, at misaligned offsets. */
static void test_gcm_random(void)
{
    static uint8_t pt[1000 + 8], ad[200 + 8], ref[1016], got[1016 + 8], back[1000 + 8];
    int bad = 0;

    for (size_t len = 0; len <= 1000; len++) {
        uint8_t key[32], nonce[12];
        size_t ad_len = (len * 37) % 201, off = len % 8, off2 = (len / 8) % 8;

        fill(key, sizeof key);
        fill(nonce, sizeof nonce);
        fill(pt + off, len);
        fill(ad + off2, ad_len);
        ref_seal(ref, key, nonce, ad + off2, ad_len, pt + off, len);
        bad += parley_aead_seal(got + off2, key, nonce, ad + off2, ad_len, pt + off, len) != PARLEY_OK ||
               memcmp(got + off2, ref, len + 16) != 0;
        bad += parley_aead_open(back + off, key, nonce, ad + off2, ad_len, ref, len + 16) !=
                   PARLEY_OK ||
               (len != 0 && memcmp(back + off, pt + off, len) != 0);
        ref[len / 2] ^= 0x01; /* any flipped bit (ciphertext or tag) is refused */
        bad += parley_aead_open(back + off, key, nonce, ad + off2, ad_len, ref, len + 16) !=
               PARLEY_ERR_AUTH;
    }
    t_note("1001 lengths sealed, opened and tampered with, %d differ from the reference", bad);
    CHECK(bad == 0);
}

void suite_aes_simd(void)
{
    t_run("aes8: FIPS-197 AES-256 in every slot", test_aes8_fips197);
    t_run("aes8: random keys and blocks against BearSSL aes_ct64", test_aes8_random);
    t_run("ghash4: lengths 0..1000 against BearSSL ghash_ctmul64", test_ghash_random);
    t_run("aead: lengths 0..1000 against a one-block GCM from BearSSL's pieces", test_gcm_random);
}
