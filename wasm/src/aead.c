/*
 * AES-256-GCM (NIST SP 800-38D; 96-bit nonce, 128-bit tag) from constant-time pieces derived
 * from BearSSL: AES is BearSSL's bitsliced aes_ct64 (no tables) run on two 64-bit vector lanes,
 * eight blocks per pass (aes_ct64x2.c; BearSSL's key schedule), and GHASH is BearSSL's
 * ghash_ctmul64 carry-less multiplication with one reduction per four blocks (ghash_ct4.c).
 * libsodium's AES-GCM needs AES-NI, which WebAssembly does not have, so one implementation serves
 * native and wasm.
 *
 * The GCM mode is assembled here rather than through br_gcm so that a short message costs few
 * AES passes: the first pass computes H = E(0^128), E(J0) and the first six keystream blocks
 * together, and the key schedule is expanded once per call. Opening verifies the tag over the
 * ciphertext before any plaintext is produced.
 */
#include "internal.h"

#include <string.h>

#include "aes_ct64x2.h"
#include "ghash_ct4.h"
#include "inner.h" /* BearSSL's aes_ct64 key schedule */

size_t parley_aead_keybytes(void) { return PARLEY_AEAD_KEYBYTES; }
size_t parley_aead_noncebytes(void) { return PARLEY_AEAD_NONCEBYTES; }
size_t parley_aead_tagbytes(void) { return PARLEY_AEAD_TAGBYTES; }

struct gcm {
    uint64_t sk[120];   /* expanded AES-256 round keys */
    unsigned rounds;
    uint32_t iv[3];     /* the nonce as little-endian words */
    uint32_t w[32];     /* eight AES blocks as little-endian words */
    uint8_t h[16];      /* GHASH key E(0^128) */
    uint8_t ej0[16];    /* E(J0), masks the tag */
    uint8_t ks[128];    /* keystream */
    uint8_t y[16];      /* GHASH accumulator */
    parley_ghash_key gk; /* H and its powers */
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

/* Encrypts the eight blocks in g->w in place and writes them out as bytes to g->ks. */
static void aes8(struct gcm *g)
{
    parley_aes_ct64x2_encrypt8(g->rounds, g->sk, g->w);
    for (size_t i = 0; i < 32; i++) {
        put_u32le(g->ks + 4 * i, g->w[i]);
    }
}

/* Sets block slot (0..7) of g->w to the counter block nonce || be32(counter). */
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
 * to 7 (the first 96 bytes of data), left in g->ks[32..128).
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
    for (uint32_t slot = 1; slot < 8; slot++) {
        counter_block(g, slot, slot);
    }
    aes8(g);
    memcpy(g->h, g->ks, 16);
    memcpy(g->ej0, g->ks + 16, 16);
    memset(g->y, 0, sizeof g->y);
}

/* XORs the keystream of counters 2, 3, ... into data (in place). */
static void gcm_ctr(struct gcm *g, uint8_t *data, size_t len)
{
    const uint8_t *ks = g->ks + 32; /* counters 2 to 7, from the first pass */
    size_t left = 96;
    uint32_t counter = 8;

    while (len > 0) {
        size_t n;

        if (left == 0) {
            for (size_t slot = 0; slot < 8; slot++) {
                counter_block(g, slot, counter++);
            }
            aes8(g);
            ks = g->ks;
            left = sizeof g->ks;
        }
        n = len < left ? len : left;
        for (size_t i = 0; i < n; i++) {
            data[i] ^= ks[i];
        }
        data += n;
        len -= n;
        ks += n;
        left -= n;
    }
}

/* The tag over ad and ciphertext: GHASH(ad, ct, lengths) XOR E(J0). */
static void gcm_tag(struct gcm *g, uint8_t tag[PARLEY_AEAD_TAGBYTES], const uint8_t *ad,
                    size_t ad_len, const uint8_t *ct, size_t ct_len)
{
    uint8_t lengths[16];

    /* H^2..H^4 cost three multiplications: only for data long enough to use them. */
    parley_ghash_init(&g->gk, g->h, ad_len >= 64 || ct_len >= 64 ? 4 : 1);
    parley_ghash_update(g->y, &g->gk, ad, ad_len); /* a partial last block is zero-padded */
    parley_ghash_update(g->y, &g->gk, ct, ct_len);
    put_u64be(lengths, (uint64_t)ad_len << 3);
    put_u64be(lengths + 8, (uint64_t)ct_len << 3);
    parley_ghash_update(g->y, &g->gk, lengths, sizeof lengths);
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
