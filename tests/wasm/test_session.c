/*
 * Accounts, X3DH, the Double Ratchet and sealed state: known behaviour, limits at their
 * boundaries, and a property test over 1000 seeded random conversations with drops, reordering,
 * duplicates and corruptions.
 */
#include "harness.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic randomness ---- */

struct trng {
    uint8_t key[32];
    uint64_t ctr;
};

static void trng_init(struct trng *r, uint32_t seed)
{
    memset(r, 0, sizeof *r);
    put_u32be(r->key, seed);
    r->ctr = 0;
}

static void trng_bytes(struct trng *r, uint8_t *out, size_t n)
{
    uint8_t in[40], k[32];

    memcpy(in, r->key, 32);
    put_u64be(in + 32, r->ctr++);
    crypto_hash_sha256(k, in, sizeof in);
    randombytes_buf_deterministic(out, n, k);
}

static uint32_t trng_below(struct trng *r, uint32_t bound)
{
    uint8_t b[4];

    trng_bytes(r, b, 4);
    return get_u32be(b) % bound;
}

/* ---- helpers ---- */

static const uint8_t snap_key[32] = {9, 9, 9};
static const uint8_t snap_nonce[12] = {7, 7, 7};

/* A byte snapshot of a session (its sealed form under a fixed key and nonce). */
static uint8_t *snapshot(const struct parley_session *s, size_t *len)
{
    size_t cap = parley_session_sealed_size(s);
    uint8_t *buf = malloc(cap);

    if (buf != NULL && session_seal_with(s, snap_key, snap_nonce, buf, cap, len) != PARLEY_OK) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

static int same_snapshot(const struct parley_session *s, const uint8_t *snap, size_t snap_len)
{
    size_t len = 0;
    uint8_t *now = snapshot(s, &len);
    int same = now != NULL && len == snap_len && memcmp(now, snap, len) == 0;

    free(now);
    return same;
}

/* A copy of a session through seal and unseal (what the app does between page loads). */
static struct parley_session *clone_session(const struct parley_session *s)
{
    size_t cap = parley_session_sealed_size(s), len = 0;
    uint8_t *buf = malloc(cap);
    parley_session *copy = NULL;

    if (buf != NULL && session_seal_with(s, snap_key, snap_nonce, buf, cap, &len) == PARLEY_OK &&
        parley_session_unseal(&copy, snap_key, buf, len) != PARLEY_OK) {
        copy = NULL;
    }
    free(buf);
    return copy;
}

static struct parley_account *new_account(struct trng *r, size_t n_opk)
{
    struct parley_account *a = malloc(sizeof *a);
    uint8_t seed[64], *rand_opk;

    if (a == NULL) {
        return NULL;
    }
    trng_bytes(r, seed, sizeof seed);
    if (account_init(a, seed, seed + 32) != PARLEY_OK) {
        free(a);
        return NULL;
    }
    if (n_opk != 0) {
        rand_opk = malloc(32 * n_opk);
        trng_bytes(r, rand_opk, 32 * n_opk);
        if (account_add_prekeys_with(a, n_opk, rand_opk) != PARLEY_OK) {
            free(a);
            a = NULL;
        }
        free(rand_opk);
    }
    return a;
}

/* The bundle of account b with its first one-time prekey (or none). */
static int single_bundle(struct parley_bundle *out, const struct parley_account *b, int with_opk)
{
    uint8_t buf[135 + 36];

    memset(buf, 0, sizeof buf);
    buf[0] = PARLEY_BUNDLE_VERSION;
    memcpy(buf + 1, b->identity_pub, 32);
    put_u32be(buf + 33, b->spk.id);
    memcpy(buf + 37, b->spk.pub, 32);
    memcpy(buf + 69, b->spk.sig, 64);
    if (with_opk && b->n_opk > 0) {
        buf[134] = 1;
        put_u32be(buf + 135, b->opk[0].id);
        memcpy(buf + 139, b->opk[0].pub, 32);
        return bundle_parse_single(out, buf, sizeof buf);
    }
    return bundle_parse_single(out, buf, 135);
}

static int encrypt_alloc(struct parley_session *s, const uint8_t *pt, size_t len, uint8_t **out,
                         size_t *out_len)
{
    size_t cap = parley_session_encrypted_size(s, len);

    *out = malloc(cap);
    if (*out == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    return session_encrypt(s, pt, len, *out, cap, out_len);
}

static int decrypt_r(struct parley_session *s, const uint8_t *msg, size_t len, uint8_t *pt,
                     size_t cap, size_t *pt_len, struct trng *r)
{
    uint8_t rnd[32];

    trng_bytes(r, rnd, sizeof rnd);
    return session_decrypt_with(s, msg, len, pt, cap, pt_len, rnd);
}

/* Alice and Bob with a session each: Alice's first message has reached Bob. */
struct pair {
    struct parley_account *a, *b;
    struct parley_session alice, bob;
};

static int make_pair(struct pair *p, struct trng *r, int with_opk)
{
    struct parley_bundle bundle;
    uint8_t ek[32], rr[32], rr2[32], sk_a[32], sk_b[32], *msg = NULL, pt[64];
    size_t msg_len = 0, pt_len = 0;
    int rc;

    memset(p, 0, sizeof *p);
    p->a = new_account(r, 0);
    p->b = new_account(r, 3);
    if (p->a == NULL || p->b == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    trng_bytes(r, ek, 32);
    trng_bytes(r, rr, 32);
    trng_bytes(r, rr2, 32);
    rc = single_bundle(&bundle, p->b, with_opk);
    if (rc == PARLEY_OK) {
        rc = session_outbound_with(&p->alice, p->a, &bundle, ek, rr, sk_a);
    }
    if (rc == PARLEY_OK) {
        rc = encrypt_alloc(&p->alice, (const uint8_t *)"hello", 5, &msg, &msg_len);
    }
    if (rc == PARLEY_OK) {
        rc = session_inbound_with(&p->bob, p->b, msg, msg_len, pt, sizeof pt, &pt_len, rr2, sk_b);
    }
    if (rc == PARLEY_OK && (pt_len != 5 || memcmp(pt, "hello", 5) != 0 ||
                            memcmp(sk_a, sk_b, 32) != 0)) {
        rc = PARLEY_ERR_AUTH;
    }
    free(msg);
    return rc;
}

static void free_pair(struct pair *p)
{
    session_wipe(&p->alice);
    session_wipe(&p->bob);
    free(p->a);
    free(p->b);
}

/* ---- X3DH ---- */

static void test_x3dh(void)
{
    struct trng r;
    struct pair p;
    uint8_t peer[32];

    trng_init(&r, 1);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    CHECK(p.b->n_opk == 2); /* the one-time prekey was consumed */
    CHECK_RC(parley_session_peer_identity(&p.alice, peer), PARLEY_OK);
    CHECK(memcmp(peer, p.b->identity_pub, 32) == 0);
    CHECK_RC(parley_session_peer_identity(&p.bob, peer), PARLEY_OK);
    CHECK(memcmp(peer, p.a->identity_pub, 32) == 0);
    CHECK(memcmp(p.alice.ad, p.bob.ad, 64) == 0);
    free_pair(&p);

    /* Without a one-time prekey (three DH values). */
    CHECK_RC(make_pair(&p, &r, 0), PARLEY_OK);
    CHECK(p.b->n_opk == 3);
    free_pair(&p);
}

static void test_x3dh_rejections(void)
{
    struct trng r;
    struct parley_account *a, *b;
    struct parley_bundle bundle;
    struct parley_session s, s2, s3;
    uint8_t ek[32], rr[32], *msg = NULL, *copy, pt[64];
    size_t msg_len = 0, pt_len = 0;

    trng_init(&r, 2);
    a = new_account(&r, 0);
    b = new_account(&r, 2);
    CHECK(a != NULL && b != NULL);
    trng_bytes(&r, ek, 32);
    trng_bytes(&r, rr, 32);

    /* A forged signed-prekey signature. */
    CHECK_RC(single_bundle(&bundle, b, 1), PARLEY_OK);
    bundle.spk_sig[10] ^= 0x20;
    CHECK_RC(session_outbound_with(&s, a, &bundle, ek, rr, NULL), PARLEY_ERR_BAD_SIGNATURE);
    bundle.spk_sig[10] ^= 0x20;
    bundle.spk_id ^= 1; /* the signature covers the id */
    CHECK_RC(session_outbound_with(&s, a, &bundle, ek, rr, NULL), PARLEY_ERR_BAD_SIGNATURE);
    bundle.spk_id ^= 1;

    CHECK_RC(session_outbound_with(&s, a, &bundle, ek, rr, NULL), PARLEY_OK);
    CHECK_RC(encrypt_alloc(&s, (const uint8_t *)"hi", 2, &msg, &msg_len), PARLEY_OK);
    CHECK(msg[0] == PARLEY_MESSAGE_PREKEY);

    /* A tampered initial message is refused and the one-time prekey is kept. */
    copy = malloc(msg_len);
    memcpy(copy, msg, msg_len);
    copy[msg_len - 1] ^= 1;
    CHECK_RC(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_AUTH);
    CHECK(b->n_opk == 2);
    /* Swapped identity key: the DH values differ, so authentication fails. */
    memcpy(copy, msg, msg_len);
    memcpy(copy + 1, b->identity_pub, 32);
    CHECK(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL) !=
          PARLEY_OK);
    CHECK(b->n_opk == 2);
    /* Unknown signed prekey id, unknown one-time prekey id, bad flag. */
    memcpy(copy, msg, msg_len);
    put_u32be(copy + 65, 77);
    CHECK_RC(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_UNKNOWN_PREKEY);
    memcpy(copy, msg, msg_len);
    put_u32be(copy + 70, 77);
    CHECK_RC(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_UNKNOWN_PREKEY);
    memcpy(copy, msg, msg_len);
    copy[69] = 2;
    CHECK_RC(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_MALFORMED);
    copy[0] = 0x07;
    CHECK_RC(session_inbound_with(&s2, b, copy, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_VERSION);
    CHECK_RC(session_inbound_with(&s2, b, msg, 80, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_MALFORMED);
    CHECK_RC(session_inbound_with(&s2, b, msg, msg_len, pt, 1, &pt_len, rr, NULL),
             PARLEY_ERR_BUFFER);
    free(copy);

    /* The real one works once; replaying it finds its one-time prekey spent. */
    CHECK_RC(session_inbound_with(&s2, b, msg, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_OK);
    CHECK(pt_len == 2 && memcmp(pt, "hi", 2) == 0);
    CHECK(b->n_opk == 1);
    CHECK_RC(session_inbound_with(&s3, b, msg, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_UNKNOWN_PREKEY);
    /* ... while the established session sees it as a duplicate. */
    CHECK_RC(decrypt_r(&s2, msg, msg_len, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_DUPLICATE);
    session_wipe(&s2);
    session_wipe(&s);
    free(msg);

    /* After a rotation the previous signed prekey still answers messages in flight; after two
     * rotations it is gone. */
    CHECK_RC(single_bundle(&bundle, b, 0), PARLEY_OK);
    CHECK_RC(session_outbound_with(&s, a, &bundle, ek, rr, NULL), PARLEY_OK);
    CHECK_RC(encrypt_alloc(&s, (const uint8_t *)"late", 4, &msg, &msg_len), PARLEY_OK);
    CHECK_RC(account_rotate_spk_with(b, rr), PARLEY_OK);
    CHECK(b->spk.id == 2 && b->spk_prev.id == 1);
    CHECK_RC(session_inbound_with(&s2, b, msg, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_OK);
    session_wipe(&s2);
    CHECK_RC(account_rotate_spk_with(b, ek), PARLEY_OK);
    CHECK_RC(session_inbound_with(&s2, b, msg, msg_len, pt, sizeof pt, &pt_len, rr, NULL),
             PARLEY_ERR_UNKNOWN_PREKEY);
    session_wipe(&s);
    free(msg);
    free(a);
    free(b);
}

/* ---- Double Ratchet: known behaviour ---- */

static void test_ratchet_basics(void)
{
    struct trng r;
    struct pair p;
    uint8_t *m1 = NULL, *m2 = NULL, *m3 = NULL, pt[64];
    size_t l1 = 0, l2 = 0, l3 = 0, pt_len = 0, snap_len = 0;
    uint8_t *snap;

    trng_init(&r, 3);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    /* Bob cannot... yes he can: he received a message, so he has a sending chain. */
    CHECK_RC(encrypt_alloc(&p.bob, (const uint8_t *)"b1", 2, &m1, &l1), PARLEY_OK);
    CHECK(m1[0] == PARLEY_MESSAGE_RATCHET);
    /* Alice keeps sending prekey messages until a reply decrypts. */
    CHECK_RC(encrypt_alloc(&p.alice, (const uint8_t *)"a2", 2, &m2, &l2), PARLEY_OK);
    CHECK(m2[0] == PARLEY_MESSAGE_PREKEY);
    CHECK_RC(decrypt_r(&p.bob, m2, l2, pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    CHECK(pt_len == 2 && memcmp(pt, "a2", 2) == 0);
    CHECK_RC(decrypt_r(&p.alice, m1, l1, pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    CHECK(pt_len == 2 && memcmp(pt, "b1", 2) == 0);
    CHECK(p.alice.pending == 0);
    free(m2);
    CHECK_RC(encrypt_alloc(&p.alice, (const uint8_t *)"a3", 2, &m2, &l2), PARLEY_OK);
    CHECK(m2[0] == PARLEY_MESSAGE_RATCHET);

    /* Replays and corruptions are refused without changing state. */
    snap = snapshot(&p.alice, &snap_len);
    CHECK(snap != NULL);
    CHECK_RC(decrypt_r(&p.alice, m1, l1, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_DUPLICATE);
    CHECK(same_snapshot(&p.alice, snap, snap_len));
    m1[0] = 0x09;
    CHECK_RC(decrypt_r(&p.alice, m1, l1, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_VERSION);
    CHECK_RC(decrypt_r(&p.alice, m1, 10, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_VERSION);
    m1[0] = PARLEY_MESSAGE_RATCHET;
    CHECK_RC(decrypt_r(&p.alice, m1, 10, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_MALFORMED);
    CHECK_RC(decrypt_r(&p.alice, m1, 0, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_MALFORMED);
    CHECK(same_snapshot(&p.alice, snap, snap_len));
    free(snap);

    /* A message of another session (same shape, other keys) fails authentication. */
    {
        struct pair q;
        CHECK_RC(make_pair(&q, &r, 1), PARLEY_OK);
        CHECK_RC(encrypt_alloc(&q.bob, (const uint8_t *)"zz", 2, &m3, &l3), PARLEY_OK);
        snap = snapshot(&p.alice, &snap_len);
        CHECK(decrypt_r(&p.alice, m3, l3, pt, sizeof pt, &pt_len, &r) == PARLEY_ERR_AUTH);
        CHECK(same_snapshot(&p.alice, snap, snap_len));
        free(snap);
        /* A prekey message of another session: a new session is needed. */
        free(m3);
        CHECK_RC(encrypt_alloc(&q.alice, (const uint8_t *)"zz", 2, &m3, &l3), PARLEY_OK);
        CHECK_RC(decrypt_r(&p.bob, m3, l3, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_STATE);
        free_pair(&q);
    }
    /* Output buffer checks. */
    CHECK_RC(decrypt_r(&p.bob, m2, l2, pt, 1, &pt_len, &r), PARLEY_ERR_BUFFER);
    CHECK_RC(decrypt_r(&p.bob, m2, l2, pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    free(m1);
    free(m2);
    free(m3);
    free_pair(&p);
}

/* ---- Double Ratchet: limits at their boundaries ---- */

/* Alice sends count messages; returns them (each malloc'd) in msgs. */
static int send_many(struct parley_session *s, size_t count, uint8_t **msgs, size_t *lens)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t pt[8];
        put_u32be(pt, (uint32_t)i);
        put_u32be(pt + 4, 0xabcdef01);
        int rc = encrypt_alloc(s, pt, sizeof pt, &msgs[i], &lens[i]);
        if (rc != PARLEY_OK) {
            return rc;
        }
    }
    return PARLEY_OK;
}

static void free_many(uint8_t **msgs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(msgs[i]);
    }
}

static void test_gap_limit(void)
{
    enum { COUNT = PARLEY_MAX_SKIP + 2 };
    static uint8_t *msgs[COUNT];
    static size_t lens[COUNT];
    struct trng r;
    struct pair p;
    struct parley_session *clone;
    uint8_t pt[16], *snap;
    size_t pt_len = 0, snap_len = 0;

    trng_init(&r, 4);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    /* Bob has read message 0 of Alice's chain; these are 1 .. PARLEY_MAX_SKIP + 2. */
    CHECK_RC(send_many(&p.alice, COUNT, msgs, lens), PARLEY_OK);
    clone = clone_session(&p.bob);
    CHECK(clone != NULL);
    /* Skipping exactly PARLEY_MAX_SKIP messages is allowed ... */
    CHECK_RC(decrypt_r(&p.bob, msgs[PARLEY_MAX_SKIP], lens[PARLEY_MAX_SKIP], pt, sizeof pt,
                       &pt_len, &r),
             PARLEY_OK);
    CHECK(p.bob.r.n_skipped == PARLEY_MAX_SKIP);
    /* ... one more is refused, and the state stays as it was. */
    snap = snapshot(clone, &snap_len);
    CHECK_RC(decrypt_r(clone, msgs[PARLEY_MAX_SKIP + 1], lens[PARLEY_MAX_SKIP + 1], pt, sizeof pt,
                       &pt_len, &r),
             PARLEY_ERR_LIMIT);
    CHECK(same_snapshot(clone, snap, snap_len));
    free(snap);
    /* Every skipped message still decrypts, once. */
    for (size_t i = 0; i < PARLEY_MAX_SKIP; i++) {
        CHECK_RC(decrypt_r(&p.bob, msgs[i], lens[i], pt, sizeof pt, &pt_len, &r), PARLEY_OK);
        CHECK(get_u32be(pt) == i);
    }
    CHECK(p.bob.r.n_skipped == 0);
    CHECK_RC(decrypt_r(&p.bob, msgs[5], lens[5], pt, sizeof pt, &pt_len, &r),
             PARLEY_ERR_DUPLICATE);
    parley_session_free(clone);
    free_many(msgs, COUNT);
    free_pair(&p);
}

/* Ping-pong once: Bob answers Alice and Alice answers Bob, so both open new chains. */
static int ping_pong(struct pair *p, struct trng *r)
{
    uint8_t *m = NULL, pt[16];
    size_t len = 0, pt_len = 0;
    int rc = encrypt_alloc(&p->bob, (const uint8_t *)"pong", 4, &m, &len);

    if (rc == PARLEY_OK) {
        rc = decrypt_r(&p->alice, m, len, pt, sizeof pt, &pt_len, r);
    }
    free(m);
    m = NULL;
    if (rc == PARLEY_OK) {
        rc = encrypt_alloc(&p->alice, (const uint8_t *)"ping", 4, &m, &len);
    }
    if (rc == PARLEY_OK) {
        rc = decrypt_r(&p->bob, m, len, pt, sizeof pt, &pt_len, r);
    }
    free(m);
    return rc;
}

static void test_skipped_store_limit(void)
{
    enum { COUNT = PARLEY_MAX_SKIP + 1 };
    static uint8_t *chain1[COUNT], *chain2[COUNT];
    static size_t len1[COUNT], len2[COUNT];
    struct trng r;
    struct pair p;
    uint8_t pt[16], *extra = NULL, *snap;
    size_t pt_len = 0, extra_len = 0, snap_len = 0;

    CHECK(PARLEY_MAX_SKIPPED_KEYS == 2 * PARLEY_MAX_SKIP);
    trng_init(&r, 5);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    /* Chain 1: skip PARLEY_MAX_SKIP keys. */
    CHECK_RC(send_many(&p.alice, COUNT, chain1, len1), PARLEY_OK);
    CHECK_RC(decrypt_r(&p.bob, chain1[COUNT - 1], len1[COUNT - 1], pt, sizeof pt, &pt_len, &r),
             PARLEY_OK);
    CHECK_RC(ping_pong(&p, &r), PARLEY_OK);
    /* Chain 2 (after the ping-pong): skip PARLEY_MAX_SKIP more: the store is full. */
    CHECK_RC(send_many(&p.alice, COUNT, chain2, len2), PARLEY_OK);
    CHECK_RC(decrypt_r(&p.bob, chain2[COUNT - 1], len2[COUNT - 1], pt, sizeof pt, &pt_len, &r),
             PARLEY_OK);
    CHECK(p.bob.r.n_skipped == PARLEY_MAX_SKIPPED_KEYS);
    /* One more skipped key does not fit: refused, state unchanged. */
    CHECK_RC(send_many(&p.alice, 1, &extra, &extra_len), PARLEY_OK);
    free(extra);
    CHECK_RC(send_many(&p.alice, 1, &extra, &extra_len), PARLEY_OK);
    snap = snapshot(&p.bob, &snap_len);
    CHECK_RC(decrypt_r(&p.bob, extra, extra_len, pt, sizeof pt, &pt_len, &r), PARLEY_ERR_LIMIT);
    CHECK(same_snapshot(&p.bob, snap, snap_len));
    free(snap);
    /* Reading one skipped message frees a slot; then the same message fits. */
    CHECK_RC(decrypt_r(&p.bob, chain1[0], len1[0], pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    CHECK_RC(decrypt_r(&p.bob, extra, extra_len, pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    CHECK(p.bob.r.n_skipped == PARLEY_MAX_SKIPPED_KEYS);
    free(extra);
    free_many(chain1, COUNT);
    free_many(chain2, COUNT);
    free_pair(&p);
}

static void test_receiving_chain_limit(void)
{
    struct trng r;
    struct pair p;
    uint8_t *lost[2], pt[16];
    size_t lost_len[2], pt_len = 0;
    struct parley_session *at_limit;

    trng_init(&r, 6);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    CHECK_RC(ping_pong(&p, &r), PARLEY_OK);
    /* Message 0 of this chain of Alice's is held back; message 1 arrives. */
    CHECK_RC(send_many(&p.alice, 2, lost, lost_len), PARLEY_OK);
    CHECK_RC(decrypt_r(&p.bob, lost[1], lost_len[1], pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    CHECK(p.bob.r.n_skipped == 1);
    /* Each ping-pong moves Bob to a new receiving chain; the held chain gets older. */
    for (int i = 0; i < PARLEY_MAX_RECEIVING_CHAINS; i++) {
        CHECK_RC(ping_pong(&p, &r), PARLEY_OK);
    }
    CHECK(p.bob.r.n_old == PARLEY_MAX_RECEIVING_CHAINS);
    at_limit = clone_session(&p.bob);
    CHECK(at_limit != NULL);
    /* Still remembered at the limit ... */
    CHECK_RC(decrypt_r(at_limit, lost[0], lost_len[0], pt, sizeof pt, &pt_len, &r), PARLEY_OK);
    /* ... forgotten, with its skipped key, one chain later. */
    CHECK_RC(ping_pong(&p, &r), PARLEY_OK);
    CHECK(p.bob.r.n_old == PARLEY_MAX_RECEIVING_CHAINS);
    CHECK(p.bob.r.n_skipped == 0);
    CHECK(decrypt_r(&p.bob, lost[0], lost_len[0], pt, sizeof pt, &pt_len, &r) != PARLEY_OK);
    parley_session_free(at_limit);
    free_many(lost, 2);
    free_pair(&p);
}

/* ---- property test over random conversations ---- */

struct msg {
    uint8_t *bytes;
    size_t len;
    uint32_t id;
};

struct queue {
    struct msg *m;
    size_t n, cap;
};

static int q_push(struct queue *q, struct msg m)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct msg *bigger = realloc(q->m, cap * sizeof *bigger);
        if (bigger == NULL) {
            return -1;
        }
        q->m = bigger;
        q->cap = cap;
    }
    q->m[q->n++] = m;
    return 0;
}

static struct msg q_take(struct queue *q, size_t i)
{
    struct msg m = q->m[i];

    memmove(&q->m[i], &q->m[i + 1], (q->n - i - 1) * sizeof *q->m);
    q->n--;
    return m;
}

static void q_free(struct queue *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->m[i].bytes);
    }
    free(q->m);
}

struct tally {
    long delivered, duplicates, corruptions, drops, reloads;
};

static void plaintext_for(uint8_t *pt, size_t *len, uint32_t id)
{
    *len = 4 + id % 61;
    put_u32be(pt, id);
    for (size_t i = 4; i < *len; i++) {
        pt[i] = (uint8_t)(id * 31 + i);
    }
}

/* One conversation; returns 0 when every property held, else a line number. */
static int conversation(uint32_t seed, struct tally *t)
{
    struct trng r;
    struct pair p;
    struct parley_session *sess[2];
    struct queue pending[2] = {{0}, {0}}, done[2] = {{0}, {0}};
    uint8_t pt[128], want[128];
    size_t pt_len = 0, want_len = 0;
    uint32_t next_id = 1;
    int fail = 0;

    trng_init(&r, 1000 + seed);
    if (make_pair(&p, &r, (int)(seed % 2)) != PARLEY_OK) {
        return __LINE__;
    }
    sess[0] = &p.alice;
    sess[1] = &p.bob;
    for (int step = 0; step < 60 && !fail; step++) {
        uint32_t op = trng_below(&r, 100);
        int side = (int)trng_below(&r, 2); /* sender */
        struct queue *q = &pending[side];

        if (op < 40) {
            uint32_t k = 1 + trng_below(&r, 3);
            for (uint32_t i = 0; i < k && !fail; i++) {
                struct msg m;
                m.id = next_id++;
                plaintext_for(pt, &pt_len, m.id);
                if (encrypt_alloc(sess[side], pt, pt_len, &m.bytes, &m.len) != PARLEY_OK ||
                    q_push(q, m) != 0) {
                    fail = __LINE__;
                }
            }
        } else if (op < 50 && q->n > 0) {
            /* Drop one of the oldest three. */
            struct msg m = q_take(q, trng_below(&r, q->n < 3 ? (uint32_t)q->n : 3));
            free(m.bytes);
            t->drops++;
        } else if (op < 60 && q->n > 0) {
            /* Corrupt one bit of a pending message: refused, state unchanged. */
            struct msg *m = &q->m[trng_below(&r, (uint32_t)q->n)];
            uint8_t *bad = malloc(m->len), *snap;
            size_t snap_len = 0;
            uint32_t bit = trng_below(&r, (uint32_t)(m->len * 8));
            memcpy(bad, m->bytes, m->len);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            snap = snapshot(sess[!side], &snap_len);
            if (decrypt_r(sess[!side], bad, m->len, pt, sizeof pt, &pt_len, &r) == PARLEY_OK ||
                !same_snapshot(sess[!side], snap, snap_len)) {
                fail = __LINE__;
            }
            free(snap);
            free(bad);
            t->corruptions++;
        } else if (op < 68 && done[side].n > 0) {
            /* Replay a delivered message: refused, state unchanged. */
            struct msg *m = &done[side].m[trng_below(&r, (uint32_t)done[side].n)];
            uint8_t *snap;
            size_t snap_len = 0;
            int rc;
            snap = snapshot(sess[!side], &snap_len);
            rc = decrypt_r(sess[!side], m->bytes, m->len, pt, sizeof pt, &pt_len, &r);
            if ((rc != PARLEY_ERR_DUPLICATE && rc != PARLEY_ERR_AUTH) ||
                !same_snapshot(sess[!side], snap, snap_len)) {
                fail = __LINE__;
            }
            free(snap);
            t->duplicates++;
        } else if (op < 72) {
            /* The receiving page reloads: its session goes through seal and unseal. */
            struct parley_session *copy = clone_session(sess[!side]);
            if (copy == NULL) {
                fail = __LINE__;
            } else {
                session_wipe(sess[!side]);
                *sess[!side] = *copy;
                free(copy);
                t->reloads++;
            }
        } else if (q->n > 0) {
            /* Deliver one of the oldest three (reordering within a window). */
            struct msg m = q_take(q, trng_below(&r, q->n < 3 ? (uint32_t)q->n : 3));
            plaintext_for(want, &want_len, m.id);
            if (decrypt_r(sess[!side], m.bytes, m.len, pt, sizeof pt, &pt_len, &r) != PARLEY_OK ||
                pt_len != want_len || memcmp(pt, want, want_len) != 0) {
                fail = __LINE__;
            }
            if (q_push(&done[side], m) != 0) {
                fail = __LINE__;
            }
            t->delivered++;
        }
    }
    /* Everything still pending arrives, oldest first within a window. */
    for (int side = 0; side < 2 && !fail; side++) {
        while (pending[side].n > 0 && !fail) {
            struct msg m = q_take(&pending[side], 0);
            plaintext_for(want, &want_len, m.id);
            if (decrypt_r(sess[!side], m.bytes, m.len, pt, sizeof pt, &pt_len, &r) != PARLEY_OK ||
                pt_len != want_len || memcmp(pt, want, want_len) != 0) {
                fail = __LINE__;
            }
            free(m.bytes);
            t->delivered++;
        }
    }
    for (int side = 0; side < 2; side++) {
        q_free(&pending[side]);
        q_free(&done[side]);
    }
    free_pair(&p);
    return fail;
}

static void test_property(void)
{
    struct tally t = {0, 0, 0, 0, 0};
    int seeds = t_seeds, failures = 0;

    for (int seed = 0; seed < seeds; seed++) {
        int line = conversation((uint32_t)seed, &t);
        if (line != 0) {
            if (failures++ < 5) {
                t_note("seed %d: property broken (test line %d)", seed, line);
            }
        }
    }
    t_note("%d seeds: %ld delivered, %ld replays and %ld corruptions refused, %ld dropped, "
           "%ld reloads",
           seeds, t.delivered, t.duplicates, t.corruptions, t.drops, t.reloads);
    CHECK(failures == 0);
    CHECK(t.delivered > 10L * seeds && t.duplicates > seeds && t.corruptions > seeds);
}

/* ---- sealed state ---- */

static void test_sealed_state(void)
{
    struct trng r;
    struct pair p;
    uint8_t key[32], *buf, *copy;
    size_t cap, len = 0;
    parley_account *acc = NULL;
    parley_session *sess = NULL;

    trng_init(&r, 7);
    trng_bytes(&r, key, 32);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    CHECK_RC(ping_pong(&p, &r), PARLEY_OK);

    /* Account: round trip keeps every key. */
    cap = parley_account_sealed_size(p.b);
    buf = malloc(cap);
    CHECK_RC(parley_account_seal(p.b, key, buf, cap, &len), PARLEY_OK);
    CHECK(len == cap);
    CHECK_RC(parley_account_seal(p.b, key, buf, cap - 1, &len), PARLEY_ERR_BUFFER);
    CHECK_RC(parley_account_seal(p.b, key, buf, cap, &len), PARLEY_OK);
    CHECK_RC(parley_account_unseal(&acc, key, buf, len), PARLEY_OK);
    CHECK(memcmp(acc->identity_pub, p.b->identity_pub, 32) == 0);
    CHECK(memcmp(acc->identity_xpriv, p.b->identity_xpriv, 32) == 0);
    CHECK(acc->n_opk == p.b->n_opk && memcmp(acc->opk, p.b->opk, sizeof acc->opk) == 0);
    CHECK(memcmp(&acc->spk, &p.b->spk, sizeof acc->spk) == 0);
    parley_account_free(acc);
    /* Every truncation and every single-bit flip is refused. */
    copy = malloc(len);
    for (size_t n = 0; n < len; n++) {
        CHECK(parley_account_unseal(&acc, key, buf, n) != PARLEY_OK);
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(copy, buf, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(parley_account_unseal(&acc, key, copy, len) != PARLEY_OK);
    }
    copy[0] = buf[0] ^ 0x02;
    memcpy(copy + 1, buf + 1, len - 1);
    CHECK_RC(parley_account_unseal(&acc, key, copy, len), PARLEY_ERR_VERSION);
    /* Wrong key, and a session blob given as an account. */
    key[0] ^= 1;
    CHECK_RC(parley_account_unseal(&acc, key, buf, len), PARLEY_ERR_AUTH);
    key[0] ^= 1;
    free(copy);
    free(buf);

    /* Session: round trip, then it keeps working. */
    cap = parley_session_sealed_size(&p.alice);
    buf = malloc(cap);
    CHECK_RC(parley_session_seal(&p.alice, key, buf, cap, &len), PARLEY_OK);
    CHECK_RC(parley_account_unseal(&acc, key, buf, len), PARLEY_ERR_MALFORMED);
    CHECK_RC(parley_session_unseal(&sess, key, buf, len), PARLEY_OK);
    copy = malloc(len);
    for (size_t n = 0; n < len; n++) {
        parley_session *bad = NULL;
        CHECK(parley_session_unseal(&bad, key, buf, n) != PARLEY_OK && bad == NULL);
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        parley_session *bad = NULL;
        memcpy(copy, buf, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(parley_session_unseal(&bad, key, copy, len) != PARLEY_OK && bad == NULL);
    }
    free(copy);
    free(buf);
    {
        /* The unsealed copy talks to Bob. */
        uint8_t *m = NULL, pt[16];
        size_t m_len = 0, pt_len = 0;
        struct parley_session *restored = NULL;
        buf = malloc(cap);
        CHECK_RC(parley_session_seal(&p.alice, key, buf, cap, &len), PARLEY_OK);
        CHECK_RC(parley_session_unseal(&restored, key, buf, len), PARLEY_OK);
        free(buf);
        CHECK_RC(encrypt_alloc(restored, (const uint8_t *)"again", 5, &m, &m_len), PARLEY_OK);
        CHECK_RC(decrypt_r(&p.bob, m, m_len, pt, sizeof pt, &pt_len, &r), PARLEY_OK);
        CHECK(pt_len == 5 && memcmp(pt, "again", 5) == 0);
        free(m);
        parley_session_free(restored);
    }
    parley_session_free(sess);
    free_pair(&p);
}

/* Plain encodings with an unknown version, trailing bytes or bad fields are refused even when
 * correctly sealed. */
static void test_plain_format_checks(void)
{
    struct trng r;
    struct parley_account *a;
    uint8_t key[32] = {1}, nonce[12] = {2}, *plain, *sealed;
    size_t plain_len, sealed_len = 0, sealed_cap;
    parley_account *out = NULL;

    trng_init(&r, 8);
    a = new_account(&r, 2);
    CHECK(a != NULL);
    plain_len = account_plain_size(a);
    plain = calloc(1, plain_len + 1);
    sealed_cap = plain_len + 1 + 64;
    sealed = malloc(sealed_cap);
    /* Build the plain encoding through a seal/unseal of the real thing. */
    CHECK_RC(account_seal_with(a, key, nonce, sealed, sealed_cap, &sealed_len), PARLEY_OK);
    CHECK_RC(parley_aead_open(plain, key, nonce, sealed, 2, sealed + 14, sealed_len - 14),
             PARLEY_OK);
    /* Trailing byte. */
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len + 1, key, nonce, sealed,
                        sealed_cap, &sealed_len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, sealed_len), PARLEY_ERR_MALFORMED);
    /* Unknown plain version (3); version 1 fields labelled version 2 lack the KEM part. */
    plain[0] = 3;
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed,
                        sealed_cap, &sealed_len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, sealed_len), PARLEY_ERR_VERSION);
    plain[0] = 2;
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed,
                        sealed_cap, &sealed_len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, sealed_len), PARLEY_ERR_MALFORMED);
    plain[0] = 1;
    /* has_prev flag out of range (offset 1 + 32 + 100). */
    plain[133] = 2;
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed,
                        sealed_cap, &sealed_len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, sealed_len), PARLEY_ERR_MALFORMED);
    plain[133] = 0;
    CHECK_RC(seal_state(PARLEY_STATE_KIND_ACCOUNT, plain, plain_len, key, nonce, sealed,
                        sealed_cap, &sealed_len),
             PARLEY_OK);
    CHECK_RC(parley_account_unseal(&out, key, sealed, sealed_len), PARLEY_OK);
    parley_account_free(out);
    sodium_memzero(plain, plain_len);
    free(plain);
    free(sealed);
    free(a);
}

/* ---- accounts, bundles, safety numbers, challenges ---- */

static void test_account_api(void)
{
    parley_account *a = NULL;
    uint8_t *bundle, ik[32];
    size_t len = 0, cap;

    CHECK_RC(parley_account_new(&a), PARLEY_OK);
    CHECK(parley_account_prekey_count(a) == 0);
    CHECK_RC(parley_account_generate_prekeys(a, 0), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_generate_prekeys(a, PARLEY_MAX_PREKEY_BATCH + 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_generate_prekeys(a, 100), PARLEY_OK);
    CHECK_RC(parley_account_generate_prekeys(a, 100), PARLEY_OK);
    CHECK_RC(parley_account_generate_prekeys(a, 1), PARLEY_ERR_LIMIT);
    CHECK(parley_account_prekey_count(a) == PARLEY_MAX_ONE_TIME_PREKEYS);
    CHECK(parley_account_unpublished_count(a) == 200);
    cap = parley_account_bundle_size(a);
    CHECK(cap == 135 + 36 * 200);
    bundle = malloc(cap);
    CHECK_RC(parley_account_bundle(a, bundle, cap - 1, &len), PARLEY_ERR_BUFFER);
    CHECK_RC(parley_account_bundle(a, bundle, cap, &len), PARLEY_OK);
    CHECK(len == cap && bundle[0] == PARLEY_BUNDLE_VERSION);
    CHECK_RC(parley_account_identity_key(a, ik), PARLEY_OK);
    CHECK(memcmp(bundle + 1, ik, 32) == 0);
    CHECK(get_u32be(bundle + 33) == parley_account_signed_prekey_id(a));
    {
        uint8_t msg[PARLEY_SPK_SIGNED_BYTES];
        account_spk_message(msg, get_u32be(bundle + 33), bundle + 37);
        CHECK_RC(parley_ed25519_verify(ik, msg, sizeof msg, bundle + 69), PARLEY_OK);
    }
    CHECK(parley_account_forget_prekeys(a, 10) == 0); /* none published yet */
    CHECK_RC(parley_account_mark_published(a), PARLEY_OK);
    CHECK(parley_account_unpublished_count(a) == 0);
    CHECK(parley_account_forget_prekeys(a, 50) == 50);
    CHECK(parley_account_prekey_count(a) == 150 && a->opk[0].id == 51);
    CHECK_RC(parley_account_generate_prekeys(a, 50), PARLEY_OK);
    CHECK(parley_account_unpublished_count(a) == 50 && a->opk[149].id == 200 && a->opk[150].id == 201);
    CHECK(parley_account_forget_prekeys(a, 1000) == 150);
    CHECK(parley_account_prekey_count(a) == 50);
    CHECK_RC(parley_account_mark_published(a), PARLEY_OK);
    CHECK(parley_account_bundle_size(a) == 135);
    CHECK(parley_account_prekey_count(a) == 50);
    CHECK_RC(parley_account_rotate_signed_prekey(a), PARLEY_OK);
    CHECK(parley_account_signed_prekey_id(a) == 2);
    free(bundle);
    parley_account_free(a);
}

static void test_safety_number(void)
{
    struct trng r;
    uint8_t a[32], b[32], c[32], qa[65], qb[65];
    char n1[61], n2[61], n3[61];

    trng_init(&r, 9);
    trng_bytes(&r, a, 32);
    trng_bytes(&r, b, 32);
    trng_bytes(&r, c, 32);
    CHECK_RC(parley_safety_number(n1, a, b), PARLEY_OK);
    CHECK_RC(parley_safety_number(n2, b, a), PARLEY_OK);
    CHECK_RC(parley_safety_number(n3, a, c), PARLEY_OK);
    CHECK(strlen(n1) == 60 && strcmp(n1, n2) == 0 && strcmp(n1, n3) != 0);
    for (int i = 0; i < 60; i++) {
        CHECK(n1[i] >= '0' && n1[i] <= '9');
    }
    CHECK_RC(parley_safety_qr(qa, a, b), PARLEY_OK);
    CHECK_RC(parley_safety_qr(qb, b, a), PARLEY_OK);
    CHECK(qa[0] == 1 && memcmp(qa, qb, 65) == 0);
    CHECK_RC(parley_safety_number(NULL, a, b), PARLEY_ERR_ARGUMENT);
}

static void test_challenge(void)
{
    parley_account *a = NULL;
    uint8_t ik[32], nonce[32] = {5}, sig[64];
    static const uint8_t room[] = "room-42";

    CHECK_RC(parley_account_new(&a), PARLEY_OK);
    CHECK_RC(parley_account_identity_key(a, ik), PARLEY_OK);
    CHECK_RC(parley_account_sign_challenge(a, room, 7, 1763900000123.0, nonce, sig), PARLEY_OK);
    CHECK_RC(parley_challenge_verify(ik, room, 7, 1763900000123.0, nonce, sig), PARLEY_OK);
    CHECK_RC(parley_challenge_verify(ik, room, 6, 1763900000123.0, nonce, sig),
             PARLEY_ERR_BAD_SIGNATURE);
    CHECK_RC(parley_challenge_verify(ik, room, 7, 1763900000124.0, nonce, sig),
             PARLEY_ERR_BAD_SIGNATURE);
    nonce[31] ^= 1;
    CHECK_RC(parley_challenge_verify(ik, room, 7, 1763900000123.0, nonce, sig),
             PARLEY_ERR_BAD_SIGNATURE);
    CHECK_RC(parley_account_sign_challenge(a, room, 7, -1.0, nonce, sig), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_sign_challenge(a, room, 7, 1.5, nonce, sig), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_sign_challenge(a, room, 7, 9007199254740992.0, nonce, sig),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_sign_challenge(a, room, 0, 1.0, nonce, sig), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_account_sign_challenge(a, room, PARLEY_MAX_ROOM_ID + 1, 1.0, nonce, sig),
             PARLEY_ERR_ARGUMENT);
    parley_account_free(a);
}

static void test_message_helpers(void)
{
    struct trng r;
    struct pair p;
    uint8_t *m = NULL, ik[32];
    size_t len = 0, size = 0;

    trng_init(&r, 10);
    CHECK_RC(make_pair(&p, &r, 1), PARLEY_OK);
    CHECK_RC(encrypt_alloc(&p.alice, (const uint8_t *)"12345", 5, &m, &len), PARLEY_OK);
    CHECK(parley_message_type(m, len) == PARLEY_MESSAGE_PREKEY);
    CHECK_RC(parley_message_plaintext_size(m, len, &size), PARLEY_OK);
    CHECK(size == 5);
    CHECK_RC(parley_message_sender_identity(m, len, ik), PARLEY_OK);
    CHECK(memcmp(ik, p.a->identity_pub, 32) == 0);
    CHECK(parley_message_type(m, 0) == PARLEY_ERR_MALFORMED);
    m[0] = 0x33;
    CHECK(parley_message_type(m, len) == PARLEY_ERR_VERSION);
    free(m);
    CHECK_RC(encrypt_alloc(&p.bob, (const uint8_t *)"123", 3, &m, &len), PARLEY_OK);
    CHECK(parley_message_type(m, len) == PARLEY_MESSAGE_RATCHET);
    CHECK_RC(parley_message_sender_identity(m, len, ik), PARLEY_ERR_STATE);
    CHECK_RC(parley_message_plaintext_size(m, 20, &size), PARLEY_ERR_MALFORMED);
    CHECK(parley_session_encrypted_size(&p.bob, 0) == 57);
    free(m);
    /* Size limit. */
    {
        uint8_t *big = calloc(1, PARLEY_MAX_PLAINTEXT + 1), *out = malloc(PARLEY_MAX_PLAINTEXT + 200);
        CHECK_RC(session_encrypt(&p.bob, big, PARLEY_MAX_PLAINTEXT + 1, out,
                                 PARLEY_MAX_PLAINTEXT + 200, &len),
                 PARLEY_ERR_TOO_LARGE);
        CHECK_RC(session_encrypt(&p.bob, big, PARLEY_MAX_PLAINTEXT, out, PARLEY_MAX_PLAINTEXT + 200,
                                 &len),
                 PARLEY_OK);
        free(big);
        free(out);
    }
    free_pair(&p);
}

void suite_session(void)
{
    t_run("account: API, prekey limits, bundle, rotation", test_account_api);
    t_run("x3dh: both sides agree, with and without a one-time prekey", test_x3dh);
    t_run("x3dh: forged, tampered, replayed and unknown-prekey messages", test_x3dh_rejections);
    t_run("ratchet: replies, replay, foreign, version, truncation", test_ratchet_basics);
    t_run("ratchet: largest gap at its boundary", test_gap_limit);
    t_run("ratchet: skipped-key store at its boundary", test_skipped_store_limit);
    t_run("ratchet: receiving chains at their boundary", test_receiving_chain_limit);
    t_run("ratchet: random conversations (1000 seeds)", test_property);
    t_run("state: seal round trips, truncations, bit flips", test_sealed_state);
    t_run("state: version, trailing bytes and field checks", test_plain_format_checks);
    t_run("safety number: order-independent 60 digits and QR bytes", test_safety_number);
    t_run("challenge: sign and verify {roomId, issuedAt, nonce}", test_challenge);
    t_run("message: type, size, sender identity, size limit", test_message_helpers);
}
