/*
 * AES-256-GCM from BearSSL's constant-time implementations: aes_ct64 (bitsliced AES, no tables)
 * in CTR mode and ghash_ctmul64 (constant-time carry-less multiplication). libsodium's AES-GCM
 * needs AES-NI, which WebAssembly does not have, so one implementation serves native and wasm.
 */
#include "parley.h"

#include <bearssl_aead.h>
#include <bearssl_block.h>
#include <bearssl_hash.h>
#include <sodium.h>
#include <string.h>

size_t parley_aead_keybytes(void) { return PARLEY_AEAD_KEYBYTES; }
size_t parley_aead_noncebytes(void) { return PARLEY_AEAD_NONCEBYTES; }
size_t parley_aead_tagbytes(void) { return PARLEY_AEAD_TAGBYTES; }

struct gcm {
    br_aes_ct64_ctr_keys aes;
    br_gcm_context gcm;
};

static void gcm_start(struct gcm *g, const uint8_t key[PARLEY_AEAD_KEYBYTES],
                      const uint8_t nonce[PARLEY_AEAD_NONCEBYTES], const uint8_t *ad, size_t ad_len)
{
    br_aes_ct64_ctr_init(&g->aes, key, PARLEY_AEAD_KEYBYTES);
    br_gcm_init(&g->gcm, &g->aes.vtable, br_ghash_ctmul64);
    br_gcm_reset(&g->gcm, nonce, PARLEY_AEAD_NONCEBYTES);
    if (ad_len != 0) {
        br_gcm_aad_inject(&g->gcm, ad, ad_len);
    }
    br_gcm_flip(&g->gcm);
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
    gcm_start(&g, key, nonce, ad, ad_len);
    if (pt_len != 0) {
        memmove(out, pt, pt_len);
        br_gcm_run(&g.gcm, 1, out, pt_len);
    }
    br_gcm_get_tag(&g.gcm, out + pt_len);
    sodium_memzero(&g, sizeof g);
    return PARLEY_OK;
}

int parley_aead_open(uint8_t *out, const uint8_t key[PARLEY_AEAD_KEYBYTES],
                     const uint8_t nonce[PARLEY_AEAD_NONCEBYTES], const uint8_t *ad, size_t ad_len,
                     const uint8_t *ct, size_t ct_len)
{
    struct gcm g;
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
    gcm_start(&g, key, nonce, ad, ad_len);
    /* GHASH runs over the ciphertext as it is decrypted; the plaintext is released only after
     * the tag verified, and wiped otherwise. */
    if (pt_len != 0) {
        memmove(out, ct, pt_len);
        br_gcm_run(&g.gcm, 0, out, pt_len);
    }
    /* br_gcm_check_tag compares in constant time and returns 1 on a match. The tag is read from
     * ct, which out may alias only up to pt_len, so the tag bytes are still intact. */
    if (br_gcm_check_tag(&g.gcm, ct + pt_len) != 1) {
        if (pt_len != 0) {
            sodium_memzero(out, pt_len);
        }
        rc = PARLEY_ERR_AUTH;
    }
    sodium_memzero(&g, sizeof g);
    return rc;
}
