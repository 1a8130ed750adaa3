/*
 * X3DH (Signal's specification) over X25519, with identity keys in Ed25519 form, and PQXDH
 * (Signal's specification) with ML-KEM-1024 as the KEM:
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  DH4 = DH(EK_A, OPK_B)
 *   (CT, SS) = ML-KEM-1024.Encaps(PQPK_B)                                 (PQXDH only)
 *   SK  = HKDF-SHA256(ikm = 0xFF x 32 || DH1 || DH2 || DH3 [|| DH4] [|| SS],
 *                     salt = 32 zero bytes, info = "parley-x3dh-v1" | "parley-pqxdh-v2", L = 32)
 *   AD  = IK_A || IK_B (the Ed25519 identity keys, initiator first)
 *
 * IK_A and IK_B enter the DH computations as their X25519 images (libsodium's birational map).
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define X3DH_IKM_MAX (32 * 6)

/* A bundle with zero or one one-time prekey (docs/PROTOCOL.md, "Bundle"). */
int bundle_parse_single(struct parley_bundle *b, const uint8_t *in, size_t len)
{
    size_t count;

    if (len < 135) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_BUNDLE_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    count = (size_t)in[133] << 8 | in[134];
    if (count > 1 || len != 135 + 36 * count) {
        return PARLEY_ERR_MALFORMED;
    }
    memcpy(b->ik, in + 1, 32);
    b->spk_id = get_u32be(in + 33);
    memcpy(b->spk, in + 37, 32);
    memcpy(b->spk_sig, in + 69, 64);
    b->has_opk = (uint8_t)count;
    b->opk_id = count ? get_u32be(in + 135) : 0;
    if (count) {
        memcpy(b->opk, in + 139, 32);
    } else {
        memset(b->opk, 0, 32);
    }
    return PARLEY_OK;
}

/* ss: the KEM shared secret for PQXDH, NULL for X3DH. */
static void derive_sk(uint8_t sk[32], const uint8_t *dhs, size_t n_dh, const uint8_t *ss)
{
    uint8_t ikm[X3DH_IKM_MAX];
    size_t len = 32 + 32 * n_dh;

    memset(ikm, 0xFF, 32);
    memcpy(ikm + 32, dhs, 32 * n_dh);
    if (ss != NULL) {
        memcpy(ikm + len, ss, 32);
        len += 32;
    }
    (void)parley_hkdf_label(sk, 32, ikm, len, NULL, 0,
                            ss != NULL ? PARLEY_LABEL_PQXDH : PARLEY_LABEL_X3DH);
    PARLEY_WIPE(ikm);
}

static int dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
    return crypto_scalarmult_curve25519(out, priv, pub) == 0 ? PARLEY_OK : PARLEY_ERR_WEAK_KEY;
}

/* Verifies kb's signature under ik and encapsulates to it: ct, ss. */
static int kem_encapsulate(const struct parley_kem_bundle *kb, const uint8_t ik[32],
                           const uint8_t coins[32], uint8_t ct[PARLEY_MLKEM_CIPHERTEXTBYTES],
                           uint8_t ss[32])
{
    uint8_t *msg = malloc(PARLEY_KEM_SIGNED_BYTES);
    int rc;

    if (msg == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    account_kem_message(msg, kb->id, kb->pk);
    rc = parley_ed25519_verify(ik, msg, PARLEY_KEM_SIGNED_BYTES, kb->sig);
    free(msg);
    if (rc == PARLEY_OK) {
        rc = parley_mlkem_encaps(ct, ss, kb->pk, sizeof kb->pk, coins);
    }
    return rc;
}

/* kb and kem_coins NULL: X3DH (version 1); otherwise PQXDH (version 2). */
static int outbound(struct parley_session *s, const struct parley_account *a,
                    const struct parley_bundle *b, const struct parley_kem_bundle *kb,
                    const uint8_t ek_random[32], const uint8_t ratchet_random[32],
                    const uint8_t kem_coins[32], uint8_t sk_out[32])
{
    uint8_t spk_msg[PARLEY_SPK_SIGNED_BYTES], ik_b_x[32], ek_pub[32], dhs[4 * 32], sk[32];
    uint8_t ss[32];
    int rc;

    memset(s, 0, sizeof *s);
    account_spk_message(spk_msg, b->spk_id, b->spk);
    rc = parley_ed25519_verify(b->ik, spk_msg, sizeof spk_msg, b->spk_sig);
    if (rc == PARLEY_OK && kb != NULL) {
        rc = kem_encapsulate(kb, b->ik, kem_coins, s->kem_ct, ss);
    }
    if (rc != PARLEY_OK) {
        PARLEY_WIPE(ss);
        memset(s, 0, sizeof *s);
        return rc;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(ik_b_x, b->ik) != 0 ||
        crypto_scalarmult_curve25519_base(ek_pub, ek_random) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
    }
    if (rc == PARLEY_OK) {
        rc = dh(dhs, a->identity_xpriv, b->spk); /* DH1 */
    }
    if (rc == PARLEY_OK) {
        rc = dh(dhs + 32, ek_random, ik_b_x); /* DH2 */
    }
    if (rc == PARLEY_OK) {
        rc = dh(dhs + 64, ek_random, b->spk); /* DH3 */
    }
    if (rc == PARLEY_OK && b->has_opk) {
        rc = dh(dhs + 96, ek_random, b->opk); /* DH4 */
    }
    if (rc == PARLEY_OK) {
        derive_sk(sk, dhs, b->has_opk ? 4 : 3, kb != NULL ? ss : NULL);
        s->role = PARLEY_ROLE_INITIATOR;
        s->version = kb != NULL ? 2 : 1;
        s->kem_id = kb != NULL ? kb->id : 0;
        memcpy(s->ad, a->identity_pub, 32);
        memcpy(s->ad + 32, b->ik, 32);
        memcpy(s->base_key, ek_pub, 32);
        s->pending = 1;
        s->spk_id = b->spk_id;
        s->has_opk = b->has_opk;
        s->opk_id = b->opk_id;
        rc = ratchet_init_initiator(&s->r, sk, b->spk, ratchet_random);
    }
    if (rc == PARLEY_OK && sk_out != NULL) {
        memcpy(sk_out, sk, 32);
    }
    if (rc != PARLEY_OK) {
        ratchet_wipe(&s->r);
        sodium_memzero(s, sizeof *s);
    }
    PARLEY_WIPE(dhs);
    PARLEY_WIPE(sk);
    PARLEY_WIPE(ss);
    return rc;
}

int session_outbound_with(struct parley_session *s, const struct parley_account *a,
                          const struct parley_bundle *b, const uint8_t ek_random[32],
                          const uint8_t ratchet_random[32], uint8_t sk_out[32])
{
    return outbound(s, a, b, NULL, ek_random, ratchet_random, NULL, sk_out);
}

int session_outbound_pq_with(struct parley_session *s, const struct parley_account *a,
                             const struct parley_bundle *b, const struct parley_kem_bundle *kb,
                             const uint8_t ek_random[32], const uint8_t ratchet_random[32],
                             const uint8_t kem_coins[32], uint8_t sk_out[32])
{
    return outbound(s, a, b, kb, ek_random, ratchet_random, kem_coins, sk_out);
}

/* The KEM shared secret of a PQXDH initial message, from the KEM prekey it names. */
static int kem_decapsulate(const struct parley_account *a, uint32_t kem_id,
                           const uint8_t ct[PARLEY_MLKEM_CIPHERTEXTBYTES], uint8_t ss[32],
                           long *kem_index)
{
    const struct parley_kem_prekey *k = account_find_kem(a, kem_id, kem_index);
    uint8_t *sk;
    int rc;

    if (k == NULL) {
        return PARLEY_ERR_UNKNOWN_PREKEY; /* never issued, already used, or rotated out */
    }
    sk = malloc(PARLEY_MLKEM_SECRETKEYBYTES);
    if (sk == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = account_kem_secret(k, sk);
    if (rc == PARLEY_OK) {
        rc = parley_mlkem_decaps(ss, ct, PARLEY_MLKEM_CIPHERTEXTBYTES, sk,
                                 PARLEY_MLKEM_SECRETKEYBYTES);
    }
    sodium_memzero(sk, PARLEY_MLKEM_SECRETKEYBYTES);
    free(sk);
    return rc;
}

int session_inbound_with(struct parley_session *s, struct parley_account *a, const uint8_t *msg,
                         size_t len, uint8_t *pt, size_t cap, size_t *pt_len,
                         const uint8_t ratchet_random[32], uint8_t sk_out[32])
{
    const struct parley_signed_prekey *spk;
    const uint8_t *ik_a, *ek_a, *kem_ct = NULL;
    uint32_t spk_id, opk_id, kem_id = 0;
    uint8_t has_opk, ik_a_x[32], dhs[4 * 32], sk[32], ss[32];
    size_t opk_index = 0, inner_len, prefix;
    long kem_index = -1;
    int rc;

    memset(s, 0, sizeof *s);
    if (len < 1) {
        return PARLEY_ERR_MALFORMED;
    }
    if (msg[0] == PARLEY_MESSAGE_RATCHET) {
        return PARLEY_ERR_STATE; /* not an initial message: it needs an existing session */
    }
    if (msg[0] != PARLEY_MESSAGE_PREKEY && msg[0] != PARLEY_MESSAGE_PREKEY_PQ) {
        return PARLEY_ERR_VERSION;
    }
    prefix = msg[0] == PARLEY_MESSAGE_PREKEY_PQ ? PARLEY_PQ_PREFIX_BYTES : PARLEY_PREKEY_PREFIX_BYTES;
    if (len < prefix + PARLEY_HEADER_BYTES + PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    ik_a = msg + 1;
    ek_a = msg + 33;
    spk_id = get_u32be(msg + 65);
    has_opk = msg[69];
    opk_id = get_u32be(msg + 70);
    if (msg[0] == PARLEY_MESSAGE_PREKEY_PQ) {
        kem_id = get_u32be(msg + PARLEY_PREKEY_PREFIX_BYTES);
        kem_ct = msg + PARLEY_PREKEY_PREFIX_BYTES + 4;
    }
    if (has_opk > 1 || (!has_opk && opk_id != 0)) {
        return PARLEY_ERR_MALFORMED;
    }
    inner_len = len - prefix;
    if (cap < inner_len - PARLEY_HEADER_BYTES - PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_BUFFER;
    }
    if (a->spk.id == spk_id) {
        spk = &a->spk;
    } else if (a->has_prev && a->spk_prev.id == spk_id) {
        spk = &a->spk_prev;
    } else {
        return PARLEY_ERR_UNKNOWN_PREKEY;
    }
    if (has_opk) {
        while (opk_index < a->n_opk && a->opk[opk_index].id != opk_id) {
            opk_index++;
        }
        if (opk_index == a->n_opk) {
            return PARLEY_ERR_UNKNOWN_PREKEY; /* never issued, or already used */
        }
    }
    if (crypto_sign_ed25519_pk_to_curve25519(ik_a_x, ik_a) != 0) {
        return PARLEY_ERR_WEAK_KEY;
    }
    rc = kem_ct != NULL ? kem_decapsulate(a, kem_id, kem_ct, ss, &kem_index) : PARLEY_OK;
    if (rc == PARLEY_OK) {
        rc = dh(dhs, spk->priv, ik_a_x); /* DH1 */
    }
    if (rc == PARLEY_OK) {
        rc = dh(dhs + 32, a->identity_xpriv, ek_a); /* DH2 */
    }
    if (rc == PARLEY_OK) {
        rc = dh(dhs + 64, spk->priv, ek_a); /* DH3 */
    }
    if (rc == PARLEY_OK && has_opk) {
        rc = dh(dhs + 96, a->opk[opk_index].priv, ek_a); /* DH4 */
    }
    if (rc == PARLEY_OK) {
        derive_sk(sk, dhs, has_opk ? 4 : 3, kem_ct != NULL ? ss : NULL);
        s->role = PARLEY_ROLE_RESPONDER;
        memcpy(s->ad, ik_a, 32);
        memcpy(s->ad + 32, a->identity_pub, 32);
        memcpy(s->base_key, ek_a, 32);
        s->spk_id = spk_id;
        s->has_opk = has_opk;
        s->opk_id = opk_id;
        s->version = kem_ct != NULL ? 2 : 1;
        s->kem_id = kem_id;
        if (kem_ct != NULL) {
            memcpy(s->kem_ct, kem_ct, PARLEY_MLKEM_CIPHERTEXTBYTES);
        }
        ratchet_init_responder(&s->r, sk, spk->priv, spk->pub);
        rc = ratchet_decrypt(&s->r, s->ad, msg + prefix, inner_len, pt, ratchet_random);
    }
    if (rc == PARLEY_OK) {
        *pt_len = inner_len - PARLEY_HEADER_BYTES - PARLEY_AEAD_TAGBYTES;
        if (sk_out != NULL) {
            memcpy(sk_out, sk, 32);
        }
        /* Authenticated: the one-time prekeys are spent. */
        if (has_opk) {
            memmove(&a->opk[opk_index], &a->opk[opk_index + 1],
                    (a->n_opk - opk_index - 1) * sizeof a->opk[0]);
            a->n_opk--;
            PARLEY_WIPE(a->opk[a->n_opk]);
        }
        account_consume_kem(a, kem_index);
    } else {
        ratchet_wipe(&s->r);
        sodium_memzero(s, sizeof *s);
    }
    PARLEY_WIPE(dhs);
    PARLEY_WIPE(sk);
    PARLEY_WIPE(ss);
    return rc;
}
