/*
 * PQXDH (protocol version 2): KEM prekeys (generation, signing, upload, limits), sessions with
 * and without one-time prekeys of either kind, the responder's checks, version 1 beside it, and
 * sealed state of both versions.
 */
#include "harness.h"
#include "state.h"

#include <stdlib.h>
#include <string.h>

struct pq_peer {
    parley_account *acct;
    uint8_t *bundle; /* single bundle: zero or one one-time prekey */
    size_t bundle_len;
    uint8_t *upload;
    size_t upload_len;
};

static void peer_free(struct pq_peer *p)
{
    parley_account_free(p->acct);
    free(p->bundle);
    free(p->upload);
    memset(p, 0, sizeof *p);
}

/* An account with n_opk one-time prekeys and n_kem one-time KEM prekeys; its single bundle has
 * the first one-time prekey when with_opk. */
static int peer_new(struct pq_peer *p, size_t n_opk, size_t n_kem, int with_opk)
{
    size_t full_len = 0, cap;
    uint8_t *full;

    memset(p, 0, sizeof *p);
    if (parley_account_new(&p->acct) != PARLEY_OK ||
        (n_opk && parley_account_generate_prekeys(p->acct, n_opk) != PARLEY_OK) ||
        (n_kem && parley_account_generate_kem_prekeys(p->acct, n_kem) != PARLEY_OK)) {
        return 0;
    }
    cap = parley_account_bundle_size(p->acct);
    full = malloc(cap);
    p->bundle = malloc(135 + 36);
    if (full == NULL || p->bundle == NULL ||
        parley_account_bundle(p->acct, full, cap, &full_len) != PARLEY_OK) {
        free(full);
        return 0;
    }
    memcpy(p->bundle, full, 135);
    p->bundle_len = 135;
    if (with_opk && full_len >= 135 + 36) {
        p->bundle[134] = 1;
        memcpy(p->bundle + 135, full + 135, 36);
        p->bundle_len += 36;
    } else {
        p->bundle[133] = p->bundle[134] = 0;
    }
    free(full);
    cap = parley_account_kem_upload_size(p->acct);
    p->upload = malloc(cap);
    return p->upload != NULL &&
           parley_account_kem_upload(p->acct, p->upload, cap, &p->upload_len) == PARLEY_OK;
}

/* The KEM prekey record of an upload: index -1 is the last-resort one. */
static const uint8_t *upload_record(const struct pq_peer *p, int index)
{
    if (index < 0) {
        return p->upload + 33;
    }
    return p->upload + 33 + PARLEY_KEM_PREKEY_BYTES + 2 + (size_t)index * PARLEY_KEM_PREKEY_BYTES;
}

static uint8_t *encrypt_msg(parley_session *s, const char *text, size_t *len)
{
    size_t cap = parley_session_encrypted_size(s, strlen(text));
    uint8_t *m = malloc(cap);

    if (m != NULL &&
        parley_session_encrypt(s, (const uint8_t *)text, strlen(text), m, cap, len) != PARLEY_OK) {
        free(m);
        m = NULL;
    }
    return m;
}

/* One conversation: Alice starts with Bob's bundle and a KEM record, both sides exchange. */
static void conversation(int with_opk, int kem_index)
{
    struct pq_peer alice, bob;
    parley_session *as = NULL, *bs = NULL, *again = NULL;
    uint8_t *m1 = NULL, *m2 = NULL, *m3 = NULL, pt[64];
    size_t m1_len = 0, m2_len = 0, m3_len = 0, pt_len = 0, kem_before;

    CHECK(peer_new(&alice, 0, 0, 0));
    CHECK(peer_new(&bob, 2, 3, with_opk));
    CHECK(bob.upload[0] == PARLEY_KEM_UPLOAD_VERSION && bob.upload_len == 33 + 1636 + 2 + 3 * 1636);
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len,
                                            upload_record(&bob, kem_index), PARLEY_KEM_PREKEY_BYTES),
             PARLEY_OK);
    CHECK(parley_session_version(as) == 2);
    CHECK((m1 = encrypt_msg(as, "hello bob", &m1_len)) != NULL);
    CHECK(m1[0] == PARLEY_MESSAGE_PREKEY_PQ && m1_len == 1646 + 41 + 16 + 9);
    CHECK(parley_message_type(m1, m1_len) == PARLEY_MESSAGE_PREKEY_PQ);
    CHECK_RC(parley_message_plaintext_size(m1, m1_len, &pt_len), PARLEY_OK);
    CHECK(pt_len == 9);
    kem_before = parley_account_kem_prekey_count(bob.acct);
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m1, m1_len, pt, sizeof pt, &pt_len),
             PARLEY_OK);
    CHECK(pt_len == 9 && memcmp(pt, "hello bob", 9) == 0 && parley_session_version(bs) == 2);
    CHECK(parley_account_kem_prekey_count(bob.acct) == kem_before - (kem_index >= 0 ? 1 : 0));
    CHECK(parley_account_prekey_count(bob.acct) == (with_opk ? 1u : 2u));
    /* The same initial message again: the one-time keys are spent; the last-resort one is not,
     * so without one-time keys a replay starts a second session (as in X3DH without OPK). */
    if (kem_index >= 0 || with_opk) {
        CHECK_RC(parley_session_new_inbound(&again, bob.acct, m1, m1_len, pt, sizeof pt, &pt_len),
                 PARLEY_ERR_UNKNOWN_PREKEY);
    }
    /* ... but the session it made accepts it once more only as a duplicate. */
    CHECK_RC(parley_session_decrypt(bs, m1, m1_len, pt, sizeof pt, &pt_len), PARLEY_ERR_DUPLICATE);
    CHECK((m2 = encrypt_msg(bs, "hi alice", &m2_len)) != NULL);
    CHECK(m2[0] == PARLEY_MESSAGE_RATCHET);
    CHECK_RC(parley_session_decrypt(as, m2, m2_len, pt, sizeof pt, &pt_len), PARLEY_OK);
    CHECK(pt_len == 8 && memcmp(pt, "hi alice", 8) == 0);
    CHECK((m3 = encrypt_msg(as, "after", &m3_len)) != NULL);
    CHECK(m3[0] == PARLEY_MESSAGE_RATCHET);
    CHECK_RC(parley_session_decrypt(bs, m3, m3_len, pt, sizeof pt, &pt_len), PARLEY_OK);
    parley_session_free(again);
    parley_session_free(as);
    parley_session_free(bs);
    free(m1), free(m2), free(m3);
    peer_free(&alice);
    peer_free(&bob);
}

static void test_pq_one_time_both(void)
{
    conversation(1, 0);
}

static void test_pq_one_time_kem_only(void)
{
    conversation(0, 2);
}

static void test_pq_last_resort_with_opk(void)
{
    conversation(1, -1);
}

static void test_pq_last_resort_only(void)
{
    conversation(0, -1);
}

/* What the initiator refuses, and what the responder refuses (leaving the account as it was). */
static void test_pq_refusals(void)
{
    struct pq_peer alice, bob, carol;
    parley_session *as = NULL, *bs = NULL, *as2 = NULL;
    uint8_t rec[PARLEY_KEM_PREKEY_BYTES], *m = NULL, pt[64];
    size_t m_len = 0, pt_len = 0;

    CHECK(peer_new(&alice, 0, 0, 0));
    CHECK(peer_new(&bob, 1, 1, 1));
    CHECK(peer_new(&carol, 0, 1, 0));
    memcpy(rec, upload_record(&bob, 0), sizeof rec);
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len, rec,
                                            sizeof rec - 1),
             PARLEY_ERR_MALFORMED);
    CHECK(as == NULL);
    rec[10] ^= 1; /* the encapsulation key no longer matches its signature */
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len, rec,
                                            sizeof rec),
             PARLEY_ERR_BAD_SIGNATURE);
    rec[10] ^= 1;
    rec[3] ^= 1; /* nor its id */
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len, rec,
                                            sizeof rec),
             PARLEY_ERR_BAD_SIGNATURE);
    rec[3] ^= 1;
    /* Carol's KEM prekey offered with Bob's bundle: signed by another identity. */
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len,
                                            upload_record(&carol, 0), PARLEY_KEM_PREKEY_BYTES),
             PARLEY_ERR_BAD_SIGNATURE);
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len, rec,
                                            sizeof rec),
             PARLEY_OK);
    CHECK((m = encrypt_msg(as, "x", &m_len)) != NULL);
    /* A tampered KEM ciphertext decapsulates to another secret: the tag fails, nothing spent. */
    m[PARLEY_PREKEY_PREFIX_BYTES + 4 + 7] ^= 1;
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_ERR_AUTH);
    CHECK(parley_account_kem_prekey_count(bob.acct) == 1 && parley_account_prekey_count(bob.acct) == 1);
    m[PARLEY_PREKEY_PREFIX_BYTES + 4 + 7] ^= 1;
    /* An unknown KEM prekey id. */
    m[PARLEY_PREKEY_PREFIX_BYTES + 3] ^= 0x40;
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_ERR_UNKNOWN_PREKEY);
    m[PARLEY_PREKEY_PREFIX_BYTES + 3] ^= 0x40;
    /* Truncated into the prefix. */
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, PARLEY_PQ_PREFIX_BYTES + 56, pt,
                                        sizeof pt, &pt_len),
             PARLEY_ERR_MALFORMED);
    /* Given to Carol (who holds no such prekeys). */
    CHECK_RC(parley_session_new_inbound(&bs, carol.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_ERR_UNKNOWN_PREKEY);
    /* An initiator session refuses its own kind of initial message. */
    CHECK_RC(parley_session_decrypt(as, m, m_len, pt, sizeof pt, &pt_len), PARLEY_ERR_STATE);
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_OK);
    CHECK(bs != NULL);
    /* The version 2 initial message relabelled as version 1 does not parse as its session's. */
    m[0] = PARLEY_MESSAGE_PREKEY;
    CHECK_RC(parley_session_decrypt(bs, m, m_len, pt, sizeof pt, &pt_len), PARLEY_ERR_STATE);
    m[0] = 0x04;
    CHECK(parley_message_type(m, m_len) == PARLEY_ERR_VERSION);
    CHECK_RC(parley_session_new_inbound(&as2, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_ERR_VERSION);
    parley_session_free(as);
    parley_session_free(bs);
    free(m);
    peer_free(&alice);
    peer_free(&bob);
    peer_free(&carol);
}

/* Rotation keeps the previous last-resort KEM prekey, and no older one. */
static void test_pq_rotation(void)
{
    struct pq_peer alice, bob;
    parley_session *as = NULL, *bs = NULL;
    uint8_t *m = NULL, pt[16];
    size_t m_len = 0, pt_len = 0;
    uint32_t id;

    CHECK(peer_new(&alice, 0, 0, 0));
    CHECK(peer_new(&bob, 0, 0, 0));
    id = parley_account_kem_prekey_id(bob.acct);
    CHECK(id == 1);
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len,
                                            upload_record(&bob, -1), PARLEY_KEM_PREKEY_BYTES),
             PARLEY_OK);
    CHECK((m = encrypt_msg(as, "late", &m_len)) != NULL);
    CHECK_RC(parley_account_rotate_kem_prekey(bob.acct), PARLEY_OK);
    CHECK(parley_account_kem_prekey_id(bob.acct) == 2);
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_OK);
    parley_session_free(bs);
    bs = NULL;
    CHECK_RC(parley_account_rotate_kem_prekey(bob.acct), PARLEY_OK);
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_ERR_UNKNOWN_PREKEY);
    parley_session_free(as);
    free(m);
    peer_free(&alice);
    peer_free(&bob);
}

/* The named limit PARLEY_MAX_KEM_PREKEYS, batches, publishing and forgetting. */
static void test_pq_limits(void)
{
    parley_account *a = NULL;
    uint8_t small[8];
    size_t len = 0;

    CHECK_RC(parley_account_new(&a), PARLEY_OK);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 0), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_generate_kem_prekeys(a, PARLEY_MAX_PREKEY_BATCH + 1),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 60), PARLEY_OK);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 41), PARLEY_ERR_LIMIT);
    CHECK(parley_account_kem_prekey_count(a) == 60);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 40), PARLEY_OK);
    CHECK(parley_account_kem_prekey_count(a) == PARLEY_MAX_KEM_PREKEYS);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 1), PARLEY_ERR_LIMIT);
    CHECK(parley_account_kem_upload_size(a) == 33 + 1636 + 2 + 100 * 1636u);
    CHECK_RC(parley_account_kem_upload(a, small, sizeof small, &len), PARLEY_ERR_BUFFER);
    CHECK(parley_account_forget_kem_prekeys(a, 10) == 0); /* none published yet */
    CHECK_RC(parley_account_mark_kem_published(a), PARLEY_OK);
    CHECK(parley_account_kem_unpublished_count(a) == 0);
    CHECK(parley_account_kem_upload_size(a) == 33 + 1636 + 2);
    CHECK(parley_account_forget_kem_prekeys(a, 10) == 10);
    CHECK(parley_account_kem_prekey_count(a) == 90);
    CHECK_RC(parley_account_generate_kem_prekeys(a, 10), PARLEY_OK);
    CHECK(parley_account_kem_unpublished_count(a) == 10);
    CHECK_RC(parley_account_generate_kem_prekeys(NULL, 1), PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_kem_prekey_id(NULL) == 0 && parley_session_version(NULL) == 0);
    parley_account_free(a);
}

/* Sealed state: a version 2 account and session survive seal and unseal; an account made
 * before version 2 (no KEM prekeys) still seals as plain version 1 and gets its first
 * last-resort KEM prekey by rotation. */
static void test_pq_state(void)
{
    static const uint8_t key[32] = {5};
    struct pq_peer alice, bob;
    parley_session *as = NULL, *bs = NULL, *copy = NULL;
    parley_account *restored = NULL;
    struct parley_account *old;
    uint8_t *buf = NULL, *m = NULL, pt[16], seed[64] = {1}, up[8];
    size_t len = 0, m_len = 0, pt_len = 0;

    CHECK(peer_new(&alice, 0, 0, 0));
    CHECK(peer_new(&bob, 1, 2, 1));
    CHECK((buf = malloc(parley_account_sealed_size(bob.acct))) != NULL);
    CHECK_RC(parley_account_seal(bob.acct, key, buf, parley_account_sealed_size(bob.acct), &len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&restored, key, buf, len), PARLEY_OK);
    free(buf);
    buf = NULL;
    CHECK(parley_account_kem_prekey_count(restored) == 2 &&
          parley_account_kem_prekey_id(restored) == parley_account_kem_prekey_id(bob.acct));
    CHECK_RC(parley_session_new_outbound_pq(&as, alice.acct, bob.bundle, bob.bundle_len,
                                            upload_record(&bob, 1), PARLEY_KEM_PREKEY_BYTES),
             PARLEY_OK);
    CHECK((buf = malloc(parley_session_sealed_size(as))) != NULL);
    CHECK_RC(parley_session_seal(as, key, buf, parley_session_sealed_size(as), &len), PARLEY_OK);
    CHECK_RC(parley_session_unseal(&copy, key, buf, len), PARLEY_OK);
    CHECK(parley_session_version(copy) == 2);
    CHECK((m = encrypt_msg(copy, "sealed", &m_len)) != NULL);
    CHECK(m[0] == PARLEY_MESSAGE_PREKEY_PQ);
    /* The restored account answers it. */
    CHECK_RC(parley_session_new_inbound(&bs, restored, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_OK);
    CHECK(pt_len == 6 && parley_account_kem_prekey_count(restored) == 1);
    free(buf);
    buf = NULL;
    /* An account without KEM state: plain version 1, then a rotation adds one. */
    old = malloc(sizeof *old);
    CHECK(old != NULL);
    CHECK_RC(account_init(old, seed, seed + 32), PARLEY_OK);
    CHECK(parley_account_kem_prekey_id(old) == 0);
    CHECK_RC(parley_account_kem_upload(old, up, sizeof up, &len), PARLEY_ERR_STATE);
    CHECK(account_plain_size(old) == 1 + 32 + 100 + 1 + 4 + 4 + 2);
    CHECK_RC(parley_account_rotate_kem_prekey(old), PARLEY_OK);
    CHECK(parley_account_kem_prekey_id(old) == 1);
    CHECK(account_plain_size(old) == 1 + 32 + 100 + 1 + 4 + 4 + 2 + 4 + 1 + 132 + 1 + 2);
    parley_account_free(old);
    parley_session_free(as);
    parley_session_free(bs);
    parley_session_free(copy);
    parley_account_free(restored);
    free(m);
    peer_free(&alice);
    peer_free(&bob);
}

/* Version 1 beside version 2: an X3DH session between the same accounts still works. */
static void test_pq_v1_beside(void)
{
    struct pq_peer alice, bob;
    parley_session *as = NULL, *bs = NULL;
    uint8_t *m = NULL, pt[16];
    size_t m_len = 0, pt_len = 0;

    CHECK(peer_new(&alice, 0, 0, 0));
    CHECK(peer_new(&bob, 1, 1, 1));
    CHECK_RC(parley_session_new_outbound(&as, alice.acct, bob.bundle, bob.bundle_len), PARLEY_OK);
    CHECK(parley_session_version(as) == 1);
    CHECK((m = encrypt_msg(as, "v1", &m_len)) != NULL);
    CHECK(m[0] == PARLEY_MESSAGE_PREKEY && m_len == 74 + 41 + 16 + 2);
    CHECK_RC(parley_session_new_inbound(&bs, bob.acct, m, m_len, pt, sizeof pt, &pt_len),
             PARLEY_OK);
    CHECK(parley_session_version(bs) == 1 && parley_account_kem_prekey_count(bob.acct) == 1);
    parley_session_free(as);
    parley_session_free(bs);
    free(m);
    peer_free(&alice);
    peer_free(&bob);
}

/* The previous signed prekey's id must be below the current one's (docs/PROTOCOL.md 6.1). */
static void test_prev_spk_id(void)
{
    static const uint8_t key[32] = {6}, nonce[12] = {7};
    struct parley_account *a = malloc(sizeof *a);
    parley_account *out = NULL;
    uint8_t seed[64] = {3}, r[32] = {4}, *plain = NULL, *sealed = NULL;
    size_t plain_len, len = 0, cap;

    CHECK(a != NULL);
    CHECK_RC(account_init(a, seed, seed + 32), PARLEY_OK);
    CHECK_RC(account_rotate_spk_with(a, r), PARLEY_OK);
    CHECK(a->has_prev && a->spk_prev.id == 1 && a->spk.id == 2);
    plain_len = account_plain_size(a);
    cap = plain_len + 30;
    plain = malloc(plain_len);
    sealed = malloc(cap);
    CHECK(plain != NULL && sealed != NULL);
    CHECK_RC(account_seal_with(a, key, nonce, sealed, cap, &len), PARLEY_OK);
    CHECK_RC(parley_aead_open(plain, key, nonce, sealed, 2, sealed + 14, len - 14), PARLEY_OK);
    CHECK(get_u32be(plain + 134) == 1); /* version, seed, current spk (100), has_prev */
    put_u32be(plain + 134, 2);          /* the same id as the current one */
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed, cap, &len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, len), PARLEY_ERR_MALFORMED);
    put_u32be(plain + 134, 0); /* any lower id is accepted */
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed, cap, &len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, len), PARLEY_OK);
    parley_account_free(out);
    sodium_memzero(plain, plain_len);
    free(plain);
    free(sealed);
    account_wipe(a);
    free(a);
}

void suite_pqxdh(void)
{
    t_run("pqxdh: one-time prekey and one-time KEM prekey", test_pq_one_time_both);
    t_run("pqxdh: one-time KEM prekey, no one-time prekey", test_pq_one_time_kem_only);
    t_run("pqxdh: last-resort KEM prekey with a one-time prekey", test_pq_last_resort_with_opk);
    t_run("pqxdh: last-resort KEM prekey only", test_pq_last_resort_only);
    t_run("pqxdh: initiator and responder refusals", test_pq_refusals);
    t_run("pqxdh: last-resort KEM prekey rotation", test_pq_rotation);
    t_run("pqxdh: KEM prekey limits, publishing, forgetting", test_pq_limits);
    t_run("pqxdh: sealed state of both versions", test_pq_state);
    t_run("pqxdh: version 1 sessions beside version 2", test_pq_v1_beside);
    t_run("state: the previous signed prekey's id is below the current one's", test_prev_spk_id);
}
