/*
 * AES-256-GCM (NIST SP 800-38D; 96-bit nonce, 128-bit tag) from BearSSL's constant-time
 * pieces: aes_ct64 (bitsliced AES, no tables, four blocks per pass) and ghash_ctmul64
 * (constant-time carry-less multiplication). libsodium's AES-GCM needs AES-NI, which
 * WebAssembly does not have, so one implementation serves native and wasm.
 *
 * The GCM mode is assembled here rather than through br_gcm so that a short message costs few
 * AES passes: the first pass computes H = E(0^128), E(J0) and the first two keystream blocks
 * together, and the key schedule is expanded once per call (br_gcm spends five passes and five
 * expansions on a 100-byte message). Opening verifies the tag over the ciphertext before any
 * plaintext is produced.
 */
#include "internal.h"

#include <bearssl_hash.h>
#include <string.h>

#include "inner.h" /* BearSSL's aes_ct64 building blocks */

size_t parley_aead_keybytes(void) { return PARLEY_AEAD_KEYBYTES; }
size_t parley_aead_noncebytes(void) { return PARLEY_AEAD_NONCEBYTES; }
size_t parley_aead_tagbytes(void) { return PARLEY_AEAD_TAGBYTES; }

struct gcm {
    uint64_t sk[120];   /* expanded AES-256 round keys */
    unsigned rounds;
    uint32_t iv[3];     /* the nonce as little-endian words */
    uint32_t w[16];     /* four AES blocks as little-endian words */
    uint8_t h[16];      /* GHASH key E(0^128) */
    uint8_t ej0[16];    /* E(J0), masks the tag */
    uint8_t ks[64];     /* keystream */
    uint8_t y[16];      /* GHASH accumulator */
};

/* Little-endian words, byte by byte (BearSSL's own helpers may read through unaligned unions). */
static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Encrypts the four blocks in g->w in place and writes them out as bytes to g->ks. */
static void aes4(struct gcm *g)
{
    uint64_t q[8];

    for (size_t i = 0; i < 4; i++) {
        br_aes_ct64_interleave_in(&q[i], &q[i + 4], g->w + 4 * i);
    }
    br_aes_ct64_ortho(q);
    br_aes_ct64_bitslice_encrypt(g->rounds, g->sk, q);
    br_aes_ct64_ortho(q);
    for (size_t i = 0; i < 4; i++) {
        br_aes_ct64_interleave_out(g->w + 4 * i, q[i], q[i + 4]);
    }
    for (size_t i = 0; i < 16; i++) {
        put_u32le(g->ks + 4 * i, g->w[i]);
    }
    sodium_memzero(q, sizeof q);
}

/* Sets block slot (0..3) of g->w to the counter block nonce || be32(counter). */
static void counter_block(struct gcm *g, size_t slot, uint32_t counter)
{
    memcpy(g->w + 4 * slot, g->iv, sizeof g->iv);
    g->w[4 * slot + 3] = br_swap32(counter);
}

/*
 * BearSSL's key schedule leaves a copy of the key in its stack frame. Called right after it, from
 * the same frame, this overwrites that stack area (its frame is well under 1 KiB).
 */
static __attribute__((noinline)) void burn_stack(void)
{
    uint8_t area[1024];

    sodium_memzero(area, sizeof area);
}

/*
 * Key schedule and the first pass: H, E(J0) (J0 = nonce || 1) and the keystream of counters 2
 * and 3 (the first 32 bytes of data), left in g->ks[32..64).
 */
static void gcm_start(struct gcm *g, const uint8_t key[PARLEY_AEAD_KEYBYTES],
                      const uint8_t nonce[PARLEY_AEAD_NONCEBYTES])
{
    uint64_t comp[30];

    g->rounds = br_aes_ct64_keysched(comp, key, PARLEY_AEAD_KEYBYTES);
    br_aes_ct64_skey_expand(g->sk, g->rounds, comp);
    burn_stack();
    sodium_memzero(comp, sizeof comp);
    for (size_t i = 0; i < 3; i++) {
        g->iv[i] = get_u32le(nonce + 4 * i);
    }
    g->w[0] = g->w[1] = g->w[2] = g->w[3] = 0; /* slot 0: the zero block, for H */
    counter_block(g, 1, 1);
    counter_block(g, 2, 2);
    counter_block(g, 3, 3);
    aes4(g);
    memcpy(g->h, g->ks, 16);
    memcpy(g->ej0, g->ks + 16, 16);
    memset(g->y, 0, sizeof g->y);
}

/* XORs the keystream of counters 2, 3, ... into data (in place). */
static void gcm_ctr(struct gcm *g, uint8_t *data, size_t len)
{
    const uint8_t *ks = g->ks + 32; /* counters 2 and 3, from the first pass */
    size_t left = 32;
    uint32_t counter = 4;

    for (size_t i = 0; i < len; i++) {
        if (left == 0) {
            for (size_t slot = 0; slot < 4; slot++) {
                counter_block(g, slot, counter++);
            }
            aes4(g);
            ks = g->ks;
            left = 64;
        }
        data[i] ^= *ks++;
        left--;
    }
}

/* The tag over ad and ciphertext: GHASH(ad, ct, lengths) XOR E(J0). */
static void gcm_tag(struct gcm *g, uint8_t tag[PARLEY_AEAD_TAGBYTES], const uint8_t *ad,
                    size_t ad_len, const uint8_t *ct, size_t ct_len)
{
    uint8_t lengths[16];

    br_ghash_ctmul64(g->y, g->h, ad, ad_len); /* a partial last block is zero-padded */
    br_ghash_ctmul64(g->y, g->h, ct, ct_len);
    put_u64be(lengths, (uint64_t)ad_len << 3);
    put_u64be(lengths + 8, (uint64_t)ct_len << 3);
    br_ghash_ctmul64(g->y, g->h, lengths, sizeof lengths);
    for (int i = 0; i < PARLEY_AEAD_TAGBYTES; i++) {
        tag[i] = g->y[i] ^ g->ej0[i];
    }
}

static int check_args(const uint8_t *out, const uint8_t *key, const uint8_t *nonce,
                      const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len)
{
    if (out == NULL || key == NULL || nonce == NULL || (ad == NULL && ad_len != 0) ||
        (in == NULL && in_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    return PARLEY_OK;
}

int parley_aead_seal(uint8_t *out, const uint8_t key[PARLEY_AEAD_KEYBYTES],
                     const uint8_t nonce[PARLEY_AEAD_NONCEBYTES], const uint8_t *ad, size_t ad_len,
                     const uint8_t *pt, size_t pt_len)
{
    struct gcm g;
    int rc = check_args(out, key, nonce, ad, ad_len, pt, pt_len);

    if (rc != PARLEY_OK) {
        return rc;
    }
    if (pt_len > PARLEY_AEAD_MAX_PLAINTEXT) {
        return PARLEY_ERR_TOO_LARGE;
    }
    gcm_start(&g, key, nonce);
    if (pt_len != 0) {
        memmove(out, pt, pt_len);
    }
    gcm_ctr(&g, out, pt_len);
    gcm_tag(&g, out + pt_len, ad, ad_len, out, pt_len);
    sodium_memzero(&g, sizeof g);
    return PARLEY_OK;
}

int parley_aead_open(uint8_t *out, const uint8_t key[PARLEY_AEAD_KEYBYTES],
                     const uint8_t nonce[PARLEY_AEAD_NONCEBYTES], const uint8_t *ad, size_t ad_len,
                     const uint8_t *ct, size_t ct_len)
{
    struct gcm g;
    uint8_t tag[PARLEY_AEAD_TAGBYTES];
    size_t pt_len;
    int rc = check_args(out, key, nonce, ad, ad_len, ct, ct_len);

    if (rc != PARLEY_OK) {
        return rc;
    }
    if (ct_len < PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_AUTH;
    }
    pt_len = ct_len - PARLEY_AEAD_TAGBYTES;
    if (pt_len > PARLEY_AEAD_MAX_PLAINTEXT) {
        return PARLEY_ERR_TOO_LARGE;
    }
    gcm_start(&g, key, nonce);
    gcm_tag(&g, tag, ad, ad_len, ct, pt_len);
    /* crypto_verify_16 compares in constant time; nothing is decrypted unless the tag matches,
     * and a refused message leaves out zeroed (as the API promises). */
    if (crypto_verify_16(tag, ct + pt_len) != 0) {
        if (pt_len != 0) {
            sodium_memzero(out, pt_len);
        }
        rc = PARLEY_ERR_AUTH;
    } else if (pt_len != 0) {
        memmove(out, ct, pt_len);
        gcm_ctr(&g, out, pt_len);
    }
    sodium_memzero(&g, sizeof g);
    sodium_memzero(tag, sizeof tag);
    return rc;
}
