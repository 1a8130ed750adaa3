/*
 * The Double Ratchet (Signal's specification) with AES-256-GCM message encryption.
 *
 *   KDF_RK(rk, dh) = HKDF-SHA256(ikm = dh, salt = rk, info = "parley-ratchet-v1", L = 64)
 *                    -> rk' = [0, 32), ck = [32, 64)
 *   KDF_CK(ck)     = mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02)
 *   message keys   = HKDF-Expand-SHA256(prk = mk, info = "parley-message-keys-v1", L = 44)
 *                    -> AES-256 key = [0, 32), GCM nonce = [32, 44)
 *                    (mk is an HMAC output, already a uniform key: RFC 5869 section 3.3 lets the
 *                    extract step go)
 *   AEAD AD        = session AD (64) || header (41)
 *
 * Decryption works on local copies and commits the state only after the tag verified: a
 * rejected message never changes the session.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

void kdf_rk(uint8_t rk_out[32], uint8_t ck_out[32], const uint8_t rk[32], const uint8_t dh[32])
{
    uint8_t okm[64];

    (void)parley_hkdf_label(okm, sizeof okm, dh, 32, rk, 32, PARLEY_LABEL_RATCHET);
    memcpy(rk_out, okm, 32);
    memcpy(ck_out, okm + 32, 32);
    PARLEY_WIPE(okm);
}

/* Both HMACs share one keyed state: the key's pad blocks are hashed once. */
void kdf_ck(uint8_t mk_out[32], uint8_t ck_out[32], const uint8_t ck[32])
{
    static const uint8_t one = 0x01, two = 0x02;
    crypto_auth_hmacsha256_state keyed, st;
    uint8_t next[32];

    crypto_auth_hmacsha256_init(&keyed, ck, 32);
    st = keyed;
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, mk_out);
    st = keyed;
    crypto_auth_hmacsha256_update(&st, &two, 1);
    crypto_auth_hmacsha256_final(&st, next);
    memcpy(ck_out, next, 32);
    PARLEY_WIPE(next);
    PARLEY_WIPE(keyed);
    PARLEY_WIPE(st);
}

void message_keys(uint8_t key[32], uint8_t nonce[12], const uint8_t mk[32])
{
    uint8_t okm[44];

    parley_hkdf_expand_44(okm, mk, PARLEY_LABEL_MESSAGE_KEYS);
    memcpy(key, okm, 32);
    memcpy(nonce, okm + 32, 12);
    PARLEY_WIPE(okm);
}

static void write_header(uint8_t h[PARLEY_HEADER_BYTES], const uint8_t dh[32], uint32_t pn,
                         uint32_t n)
{
    h[0] = PARLEY_MESSAGE_RATCHET;
    memcpy(h + 1, dh, 32);
    put_u32be(h + 33, pn);
    put_u32be(h + 37, n);
}

/* AES-256-GCM under the keys of mk, with AD = session AD || header. */
static int seal_with_mk(uint8_t *out, const uint8_t mk[32], const uint8_t ad[PARLEY_AD_BYTES],
                        const uint8_t header[PARLEY_HEADER_BYTES], const uint8_t *pt, size_t len)
{
    uint8_t key[32], nonce[12], aad[PARLEY_AD_BYTES + PARLEY_HEADER_BYTES];
    int rc;

    message_keys(key, nonce, mk);
    memcpy(aad, ad, PARLEY_AD_BYTES);
    memcpy(aad + PARLEY_AD_BYTES, header, PARLEY_HEADER_BYTES);
    rc = parley_aead_seal(out, key, nonce, aad, sizeof aad, pt, len);
    PARLEY_WIPE(key);
    PARLEY_WIPE(nonce);
    return rc;
}

static int open_with_mk(uint8_t *pt, const uint8_t mk[32], const uint8_t ad[PARLEY_AD_BYTES],
                        const uint8_t *msg, size_t len)
{
    uint8_t key[32], nonce[12], aad[PARLEY_AD_BYTES + PARLEY_HEADER_BYTES];
    int rc;

    message_keys(key, nonce, mk);
    memcpy(aad, ad, PARLEY_AD_BYTES);
    memcpy(aad + PARLEY_AD_BYTES, msg, PARLEY_HEADER_BYTES);
    rc = parley_aead_open(pt, key, nonce, aad, sizeof aad, msg + PARLEY_HEADER_BYTES,
                          len - PARLEY_HEADER_BYTES);
    PARLEY_WIPE(key);
    PARLEY_WIPE(nonce);
    return rc;
}

int ratchet_init_initiator(struct parley_ratchet *r, const uint8_t sk[32],
                           const uint8_t their_spk[32], const uint8_t random[32])
{
    uint8_t dh[32];
    int rc = PARLEY_OK;

    memset(r, 0, sizeof *r);
    memcpy(r->dhs_priv, random, 32);
    memcpy(r->dhr, their_spk, 32);
    r->has_dhr = 1;
    if (crypto_scalarmult_curve25519_base(r->dhs_pub, r->dhs_priv) != 0 ||
        crypto_scalarmult_curve25519(dh, r->dhs_priv, r->dhr) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
    } else {
        kdf_rk(r->rk, r->cks, sk, dh);
        r->has_cks = 1;
    }
    PARLEY_WIPE(dh);
    return rc;
}

void ratchet_init_responder(struct parley_ratchet *r, const uint8_t sk[32],
                            const uint8_t spk_priv[32], const uint8_t spk_pub[32])
{
    memset(r, 0, sizeof *r);
    memcpy(r->rk, sk, 32);
    memcpy(r->dhs_priv, spk_priv, 32);
    memcpy(r->dhs_pub, spk_pub, 32);
}

void ratchet_wipe(struct parley_ratchet *r)
{
    if (r->skipped != NULL) {
        sodium_memzero(r->skipped, r->cap_skipped * sizeof *r->skipped);
        free(r->skipped);
    }
    sodium_memzero(r, sizeof *r);
}

/* Grows the skipped-key array to hold want entries; never frees secrets unwiped. */
static int reserve_skipped(struct parley_ratchet *r, size_t want)
{
    struct parley_skipped *bigger;
    size_t cap;

    if (want <= r->cap_skipped) {
        return PARLEY_OK;
    }
    cap = r->cap_skipped == 0 ? 16 : r->cap_skipped;
    while (cap < want) {
        cap *= 2;
    }
    if (cap > PARLEY_MAX_SKIPPED_KEYS) {
        cap = PARLEY_MAX_SKIPPED_KEYS;
    }
    bigger = calloc(cap, sizeof *bigger);
    if (bigger == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    if (r->skipped != NULL) {
        memcpy(bigger, r->skipped, r->n_skipped * sizeof *bigger);
        sodium_memzero(r->skipped, r->cap_skipped * sizeof *r->skipped);
        free(r->skipped);
    }
    r->skipped = bigger;
    r->cap_skipped = cap;
    return PARLEY_OK;
}

static void remove_skipped(struct parley_ratchet *r, size_t i)
{
    if (r->skipped == NULL || i >= r->n_skipped) {
        return;
    }
    memmove(&r->skipped[i], &r->skipped[i + 1], (r->n_skipped - i - 1) * sizeof *r->skipped);
    r->n_skipped--;
    sodium_memzero(&r->skipped[r->n_skipped], sizeof *r->skipped);
}

static size_t count_skipped(const struct parley_ratchet *r, const uint8_t pub[32])
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_skipped; i++) {
        n += memcmp(r->skipped[i].pub, pub, 32) == 0 ? 1 : 0;
    }
    return n;
}

static void drop_skipped(struct parley_ratchet *r, const uint8_t pub[32])
{
    size_t i = 0;

    while (i < r->n_skipped) {
        if (memcmp(r->skipped[i].pub, pub, 32) == 0) {
            remove_skipped(r, i);
        } else {
            i++;
        }
    }
}

int ratchet_encrypt(struct parley_ratchet *r, const uint8_t ad[PARLEY_AD_BYTES],
                    const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    uint8_t mk[32], ck[32];
    int rc;

    if (!r->has_cks) {
        return PARLEY_ERR_STATE;
    }
    if (r->ns == UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }
    kdf_ck(mk, ck, r->cks);
    write_header(out, r->dhs_pub, r->pn, r->ns);
    rc = seal_with_mk(out + PARLEY_HEADER_BYTES, mk, ad, out, pt, pt_len);
    if (rc == PARLEY_OK) {
        memcpy(r->cks, ck, 32);
        r->ns++;
    }
    PARLEY_WIPE(mk);
    PARLEY_WIPE(ck);
    return rc;
}

/* Appends the keys of messages from..to-1 of the chain ck (advanced in place) to tmp. */
static void skip_keys(struct parley_skipped *tmp, size_t *n_tmp, const uint8_t pub[32],
                      uint8_t ck[32], uint32_t from, uint32_t to)
{
    if (tmp == NULL) {
        return; /* nothing to skip: the caller allocates only when keys are skipped */
    }
    for (uint32_t k = from; k < to; k++) {
        struct parley_skipped *e = &tmp[(*n_tmp)++];
        memcpy(e->pub, pub, 32);
        e->n = k;
        kdf_ck(e->mk, ck, ck);
    }
}

int ratchet_decrypt(struct parley_ratchet *r, const uint8_t ad[PARLEY_AD_BYTES],
                    const uint8_t *msg, size_t len, uint8_t *pt, const uint8_t random[32])
{
    const uint8_t *pub;
    uint32_t pn, n;
    struct parley_skipped *tmp = NULL;
    size_t n_tmp = 0, i, freed = 0, skip_cur = 0;
    uint8_t mk[32], ck[32], rk1[32], rk2[32], cks[32], dh[32], new_pub[32];
    int rc, new_chain;

    if (len < PARLEY_HEADER_BYTES + PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    if (msg[0] != PARLEY_MESSAGE_RATCHET) {
        return PARLEY_ERR_VERSION;
    }
    pub = msg + 1;
    pn = get_u32be(msg + 33);
    n = get_u32be(msg + 37);
    if (n == UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }

    /* A message whose key was skipped earlier. */
    for (i = 0; i < r->n_skipped; i++) {
        if (r->skipped[i].n == n && memcmp(r->skipped[i].pub, pub, 32) == 0) {
            rc = open_with_mk(pt, r->skipped[i].mk, ad, msg, len);
            if (rc == PARLEY_OK) {
                remove_skipped(r, i);
            }
            return rc;
        }
    }
    new_chain = !(r->has_dhr && r->has_ckr && memcmp(pub, r->dhr, 32) == 0);
    if (!new_chain) {
        if (n < r->nr) {
            return PARLEY_ERR_DUPLICATE;
        }
        if (n - r->nr > PARLEY_MAX_SKIP) {
            return PARLEY_ERR_LIMIT;
        }
        skip_cur = n - r->nr;
    } else {
        for (i = 0; i < r->n_old; i++) {
            if (memcmp(r->old[i].pub, pub, 32) == 0) {
                return n < r->old[i].end ? PARLEY_ERR_DUPLICATE : PARLEY_ERR_AUTH;
            }
        }
        if (r->has_ckr) {
            if (pn < r->nr) {
                return PARLEY_ERR_AUTH; /* the sender claims fewer messages than arrived */
            }
            skip_cur = pn - r->nr;
        }
        if (skip_cur > PARLEY_MAX_SKIP || n > PARLEY_MAX_SKIP) {
            return PARLEY_ERR_LIMIT;
        }
        /* Remembering the current chain may push the oldest one out, with its skipped keys. */
        if (r->has_ckr && r->n_old == PARLEY_MAX_RECEIVING_CHAINS) {
            freed = count_skipped(r, r->old[0].pub);
        }
    }
    {
        size_t adding = skip_cur + (new_chain ? n : 0);
        if (r->n_skipped - freed + adding > PARLEY_MAX_SKIPPED_KEYS) {
            return PARLEY_ERR_LIMIT;
        }
        if (adding != 0) {
            rc = reserve_skipped(r, r->n_skipped + adding);
            if (rc != PARLEY_OK) {
                return rc;
            }
            tmp = calloc(adding, sizeof *tmp);
            if (tmp == NULL) {
                return PARLEY_ERR_NO_MEMORY;
            }
        }
    }

    rc = PARLEY_OK;
    if (!new_chain) {
        memcpy(ck, r->ckr, 32);
        skip_keys(tmp, &n_tmp, pub, ck, r->nr, n);
    } else {
        if (r->has_ckr) {
            memcpy(ck, r->ckr, 32);
            skip_keys(tmp, &n_tmp, r->dhr, ck, r->nr, pn);
        }
        /* DH ratchet step: the receiving chain of their new key ... */
        if (crypto_scalarmult_curve25519(dh, r->dhs_priv, pub) != 0) {
            rc = PARLEY_ERR_WEAK_KEY;
        } else {
            kdf_rk(rk1, ck, r->rk, dh);
            skip_keys(tmp, &n_tmp, pub, ck, 0, n);
            /* ... and our next sending chain, from a fresh key pair. */
            if (crypto_scalarmult_curve25519_base(new_pub, random) != 0 ||
                crypto_scalarmult_curve25519(dh, random, pub) != 0) {
                rc = PARLEY_ERR_WEAK_KEY;
            } else {
                kdf_rk(rk2, cks, rk1, dh);
            }
        }
    }
    if (rc == PARLEY_OK) {
        kdf_ck(mk, ck, ck);
        rc = open_with_mk(pt, mk, ad, msg, len);
    }

    if (rc == PARLEY_OK) {
        /* Authenticated: commit. */
        if (new_chain) {
            if (r->has_ckr) {
                if (r->n_old == PARLEY_MAX_RECEIVING_CHAINS) {
                    drop_skipped(r, r->old[0].pub);
                    memmove(&r->old[0], &r->old[1], (r->n_old - 1) * sizeof r->old[0]);
                    r->n_old--;
                }
                memcpy(r->old[r->n_old].pub, r->dhr, 32);
                r->old[r->n_old].end = pn;
                r->n_old++;
            }
            r->pn = r->ns;
            r->ns = 0;
            memcpy(r->dhr, pub, 32);
            r->has_dhr = 1;
            memcpy(r->dhs_priv, random, 32);
            memcpy(r->dhs_pub, new_pub, 32);
            memcpy(r->rk, rk2, 32);
            memcpy(r->cks, cks, 32);
            r->has_cks = 1;
        }
        if (n_tmp != 0 && tmp != NULL && r->skipped != NULL) {
            memcpy(r->skipped + r->n_skipped, tmp, n_tmp * sizeof *tmp);
            r->n_skipped += n_tmp;
        }
        memcpy(r->ckr, ck, 32);
        r->has_ckr = 1;
        r->nr = n + 1;
    }
    if (tmp != NULL) {
        sodium_memzero(tmp, (skip_cur + (new_chain ? n : 0)) * sizeof *tmp);
        free(tmp);
    }
    PARLEY_WIPE(mk);
    PARLEY_WIPE(ck);
    PARLEY_WIPE(rk1);
    PARLEY_WIPE(rk2);
    PARLEY_WIPE(cks);
    PARLEY_WIPE(dh);
    return rc;
}
