/*
 * Sealed sender envelopes: sizes and round trips at every class boundary, every tampered region,
 * wrong recipients, lengths, content checks (envelopes a correct sender never makes, built with
 * the internal sealer), low-order keys, argument checks and determinism for a fixed ephemeral key.
 */
#include "fixtures.h"
#include "harness.h"
#include "state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t classes[] = {512, 2048, 8192, 32768, 65536};
enum { N_CLASSES = sizeof classes / sizeof classes[0] };
/* The content a message leaves room for, besides the name: 97 + 5 bytes. */
enum { FIXED = PARLEY_SEALED_OVERHEAD + PARLEY_SEALED_CONTENT_FIXED };

/* The fixed inputs of these tests (fixtures.h). */
#define fixed fixture_bytes

static struct parley_account *account_from(const char *name)
{
    return fixture_account("sealed-test", name);
}

/* Three people: alice seals to bob; carol is someone else. */
struct people {
    struct parley_account *alice, *bob, *carol;
};

static int people_new(struct people *p)
{
    p->alice = account_from("alice");
    p->bob = account_from("bob");
    p->carol = account_from("carol");
    return p->alice != NULL && p->bob != NULL && p->carol != NULL ? PARLEY_OK
                                                                  : PARLEY_ERR_NO_MEMORY;
}

static void people_free(struct people *p)
{
    free(p->alice);
    free(p->bob);
    free(p->carol);
}

static void pattern(uint8_t *b, size_t n, uint8_t salt)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(i * 31 + salt);
    }
}

/* What an open wrote; its outputs are filled with marks first. */
struct opened {
    uint8_t ik[32];
    uint8_t name[PARLEY_SEALED_NAME_MAX];
    size_t name_len;
    uint8_t msg[PARLEY_SEALED_MAX];
    size_t msg_len;
};

static struct opened *opened_buf;

#define MARK_LEN ((size_t)777)
#define NOT_UNTOUCHED 1 /* open_checked's answer when a refused open wrote an output */

/* parley_sealed_open with message_cap = envelope_len (what the header says always suffices),
 * checking that a refusal zeroes the sender identity and writes nothing else. */
static int open_caps(const struct parley_account *r, const uint8_t *env, size_t len,
                     size_t name_cap, size_t msg_cap)
{
    struct opened *o = opened_buf;
    size_t msg_check = msg_cap < sizeof o->msg ? msg_cap : sizeof o->msg;
    int rc;

    memset(o->ik, 0xA5, sizeof o->ik);
    memset(o->name, 0x5A, sizeof o->name);
    memset(o->msg, 0x5A, msg_check);
    o->name_len = MARK_LEN;
    o->msg_len = MARK_LEN;
    rc = parley_sealed_open(r, env, len, o->ik, o->name, name_cap, &o->name_len, o->msg, msg_cap,
                            &o->msg_len);
    if (rc != PARLEY_OK) {
        int untouched = sodium_is_zero(o->ik, sizeof o->ik) && o->name_len == MARK_LEN &&
                        o->msg_len == MARK_LEN;
        for (size_t i = 0; untouched && i < sizeof o->name; i++) {
            untouched = o->name[i] == 0x5A;
        }
        for (size_t i = 0; untouched && i < msg_check; i++) {
            untouched = o->msg[i] == 0x5A;
        }
        if (!untouched) {
            return NOT_UNTOUCHED;
        }
    }
    return rc;
}

static int open_checked(const struct parley_account *r, const uint8_t *env, size_t len)
{
    return open_caps(r, env, len, PARLEY_SEALED_NAME_MAX, len);
}

/* 1 when the last open gave exactly this sender, name and message. */
static int opened_is(const struct parley_account *sender, const char *name, const uint8_t *msg,
                     size_t msg_len)
{
    const struct opened *o = opened_buf;

    return memcmp(o->ik, sender->identity_pub, 32) == 0 && o->name_len == strlen(name) &&
           memcmp(o->name, name, o->name_len) == 0 && o->msg_len == msg_len &&
           (msg_len == 0 || memcmp(o->msg, msg, msg_len) == 0);
}

/* An envelope from alice to bob with ephemeral key fixed("sealed-test-e-" label), into a
 * buffer of cap bytes. */
static int seal_fixed(const struct people *p, const char *label, const char *name,
                      const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t e[32];
    char l[64];

    snprintf(l, sizeof l, "sealed-test-e-%s", label);
    fixed(e, l);
    return sealed_seal_with(p->alice, p->bob->identity_pub, (const uint8_t *)name, strlen(name),
                            msg, msg_len, e, out, cap, out_len);
}

/* ---- sizes ---- */

static void test_sealed_size(void)
{
    static const size_t names[] = {1, 5, 64};

    CHECK(parley_sealed_size(0, 0) == 0);
    CHECK(parley_sealed_size(PARLEY_SEALED_NAME_MAX + 1, 0) == 0);
    CHECK(parley_sealed_size(1, 0) == PARLEY_SEALED_MIN);
    CHECK(parley_sealed_size(64, 0) == PARLEY_SEALED_MIN);
    CHECK(parley_sealed_size(1, SIZE_MAX) == 0);
    CHECK(parley_sealed_size(1, PARLEY_SEALED_MAX) == 0);
    CHECK(FIXED == 102);
    for (size_t i = 0; i < N_CLASSES; i++) {
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
            size_t largest = classes[i] - FIXED - names[j];
            CHECK(parley_sealed_size(names[j], largest) == classes[i]);
            CHECK(parley_sealed_size(names[j], largest + 1) ==
                  (i + 1 < N_CLASSES ? classes[i + 1] : 0));
            /* The largest message any envelope of this class can hold (a 1-byte name). */
            CHECK(largest <= classes[i] - PARLEY_SEALED_OVERHEAD - 6);
        }
    }
}

/* ---- round trips ---- */

static void test_sealed_round_trip(void)
{
    static const char *const names[] = {
        "a", "a-name-of-exactly-sixty-four-bytes-for-the-boundary-of-names-064"};
    struct people p;
    uint8_t *msg = malloc(PARLEY_SEALED_MAX), *env = malloc(PARLEY_SEALED_MAX);
    size_t len = 0;
    int opened = 0;

    CHECK(msg != NULL && env != NULL);
    CHECK(strlen(names[1]) == PARLEY_SEALED_NAME_MAX);
    CHECK_RC(people_new(&p), PARLEY_OK);
    pattern(msg, PARLEY_SEALED_MAX, 3);
    for (size_t i = 0; i < N_CLASSES; i++) {
        for (size_t j = 0; j < 2; j++) {
            size_t largest = classes[i] - FIXED - strlen(names[j]);
            /* The largest message that fits the class ... */
            CHECK_RC(seal_fixed(&p, "round", names[j], msg, largest, env, PARLEY_SEALED_MAX, &len),
                     PARLEY_OK);
            CHECK(len == classes[i]);
            CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
            CHECK(opened_is(p.alice, names[j], msg, largest));
            CHECK(opened_buf->msg_len <= len - PARLEY_SEALED_OVERHEAD - 6);
            /* ... and one byte more moves up a class, or is refused after the last. */
            if (i + 1 < N_CLASSES) {
                CHECK_RC(seal_fixed(&p, "round", names[j], msg, largest + 1, env, PARLEY_SEALED_MAX,
                                    &len),
                         PARLEY_OK);
                CHECK(len == classes[i + 1]);
                CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
                CHECK(opened_is(p.alice, names[j], msg, largest + 1));
            } else {
                memset(env, 0x33, PARLEY_SEALED_MAX);
                len = 12345;
                CHECK_RC(seal_fixed(&p, "round", names[j], msg, largest + 1, env, PARLEY_SEALED_MAX,
                                    &len),
                         PARLEY_ERR_TOO_LARGE);
                CHECK(len == 12345 && env[0] == 0x33 && env[PARLEY_SEALED_MAX - 1] == 0x33);
            }
            opened += i + 1 < N_CLASSES ? 2 : 1;
        }
    }
    /* An empty message, and the public sealer (a fresh ephemeral key). */
    CHECK_RC(seal_fixed(&p, "empty", "bob", NULL, 0, env, PARLEY_SEALED_MAX, &len), PARLEY_OK);
    CHECK(len == 512);
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    CHECK(opened_is(p.alice, "bob", NULL, 0));
    CHECK_RC(parley_sealed_seal(p.alice, p.bob->identity_pub, (const uint8_t *)"alice", 5, msg,
                                3000, env, PARLEY_SEALED_MAX, &len),
             PARLEY_OK);
    CHECK(len == 8192);
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", msg, 3000));
    t_note("%d envelopes opened at the class boundaries", opened);
    people_free(&p);
    free(msg);
    free(env);
}

static void test_sealed_sender_identity(void)
{
    struct people p;
    uint8_t env[512], e[32], ik[32];
    size_t len = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    fixed(e, "sealed-test-e-identity");
    /* Carol seals to Bob: Bob learns Carol's identity key, not anyone else's. */
    CHECK_RC(sealed_seal_with(p.carol, p.bob->identity_pub, (const uint8_t *)"carol", 5,
                              (const uint8_t *)"hi", 2, e, env, sizeof env, &len),
             PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    CHECK(opened_is(p.carol, "carol", (const uint8_t *)"hi", 2));
    CHECK_RC(parley_account_identity_key(p.carol, ik), PARLEY_OK);
    CHECK(memcmp(opened_buf->ik, ik, 32) == 0);
    /* The name is the sender's word: Carol may write "alice", but the key stays hers (the app
     * checks that the name maps to the key, PROTOCOL.md 13.5). */
    CHECK_RC(sealed_seal_with(p.carol, p.bob->identity_pub, (const uint8_t *)"alice", 5,
                              (const uint8_t *)"hi", 2, e, env, sizeof env, &len),
             PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    CHECK(memcmp(opened_buf->ik, ik, 32) == 0);
    CHECK(memcmp(opened_buf->ik, p.alice->identity_pub, 32) != 0);
    /* Sealing to oneself works like any other recipient. */
    CHECK_RC(sealed_seal_with(p.bob, p.bob->identity_pub, (const uint8_t *)"bob", 3, NULL, 0, e,
                              env, sizeof env, &len),
             PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    CHECK(opened_is(p.bob, "bob", NULL, 0));
    people_free(&p);
}

static void test_sealed_deterministic(void)
{
    struct people p;
    uint8_t a[2048], b[2048], msg[600], e[32], e_pub[32];
    size_t la = 0, lb = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    pattern(msg, sizeof msg, 9);
    CHECK_RC(seal_fixed(&p, "det", "alice", msg, sizeof msg, a, sizeof a, &la), PARLEY_OK);
    CHECK_RC(seal_fixed(&p, "det", "alice", msg, sizeof msg, b, sizeof b, &lb), PARLEY_OK);
    CHECK(la == 2048 && lb == la && memcmp(a, b, la) == 0);
    fixed(e, "sealed-test-e-det");
    CHECK_RC(parley_x25519_public(e_pub, e), PARLEY_OK);
    CHECK(a[0] == PARLEY_SEALED_VERSION && memcmp(a + 1, e_pub, 32) == 0);
    /* Another ephemeral key changes every byte region but the version. */
    CHECK_RC(seal_fixed(&p, "det2", "alice", msg, sizeof msg, b, sizeof b, &lb), PARLEY_OK);
    CHECK(lb == la && b[0] == a[0] && memcmp(a + 1, b + 1, 32) != 0 &&
          memcmp(a + 33, b + 33, 48) != 0 && memcmp(a + 81, b + 81, lb - 81) != 0);
    /* The public sealer draws a fresh key every time. */
    CHECK_RC(parley_sealed_seal(p.alice, p.bob->identity_pub, (const uint8_t *)"alice", 5, msg,
                                sizeof msg, a, sizeof a, &la),
             PARLEY_OK);
    CHECK_RC(parley_sealed_seal(p.alice, p.bob->identity_pub, (const uint8_t *)"alice", 5, msg,
                                sizeof msg, b, sizeof b, &lb),
             PARLEY_OK);
    CHECK(la == 2048 && lb == 2048 && memcmp(a + 1, b + 1, 32) != 0);
    CHECK_RC(open_checked(p.bob, a, la), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", msg, sizeof msg));
    CHECK_RC(open_checked(p.bob, b, lb), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", msg, sizeof msg));
    people_free(&p);
}

/* ---- refusals ---- */

static void test_sealed_tamper(void)
{
    struct people p;
    uint8_t env[2048], other[2048], copy[2048], msg[900];
    size_t len = 0, other_len = 0, flips = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    pattern(msg, sizeof msg, 1);
    /* Every byte of a 512-byte envelope, one bit at a time (low and high bit). */
    CHECK_RC(seal_fixed(&p, "tamper", "alice", msg, 100, env, sizeof env, &len), PARLEY_OK);
    CHECK(len == 512);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            int want = i == 0 ? PARLEY_ERR_VERSION : PARLEY_ERR_AUTH;
            int rc;
            memcpy(copy, env, len);
            copy[i] ^= (uint8_t)(1u << bit);
            rc = open_checked(p.bob, copy, len);
            if (rc != want) {
                t_note("byte %zu bit %d: %d, not %d", i, bit, rc, want);
            }
            CHECK(rc == want);
            flips++;
        }
    }
    /* Named regions of a 2048-byte envelope: version, E_pub (its top bit too, which X25519
     * ignores but the KDF does not), c1 and its tag, c2 and its tag. */
    CHECK_RC(seal_fixed(&p, "tamper2", "alice", msg, sizeof msg, env, sizeof env, &len), PARLEY_OK);
    CHECK(len == 2048);
    {
        static const struct {
            size_t at;
            uint8_t mask;
            int want;
        } flip[] = {
            {0, 0x02, PARLEY_ERR_VERSION}, {1, 0x01, PARLEY_ERR_AUTH},    /* E_pub */
            {32, 0x80, PARLEY_ERR_AUTH},   {33, 0x01, PARLEY_ERR_AUTH},   /* c1 */
            {64, 0x10, PARLEY_ERR_AUTH},   {65, 0x01, PARLEY_ERR_AUTH},   /* c1 tag */
            {80, 0x80, PARLEY_ERR_AUTH},   {81, 0x01, PARLEY_ERR_AUTH},   /* c2 */
            {1000, 0x40, PARLEY_ERR_AUTH}, {2031, 0x01, PARLEY_ERR_AUTH}, /* c2, its last byte */
            {2032, 0x01, PARLEY_ERR_AUTH}, {2047, 0x80, PARLEY_ERR_AUTH}, /* c2 tag */
        };
        for (size_t i = 0; i < sizeof flip / sizeof flip[0]; i++) {
            memcpy(copy, env, len);
            copy[flip[i].at] ^= flip[i].mask;
            CHECK(open_checked(p.bob, copy, len) == flip[i].want);
            flips++;
        }
    }
    /* Regions swapped between two envelopes to the same recipient. */
    CHECK_RC(seal_fixed(&p, "tamper3", "alice", msg, sizeof msg, other, sizeof other, &other_len),
             PARLEY_OK);
    CHECK(other_len == len);
    memcpy(copy, env, len);
    memcpy(copy + 1, other + 1, 32); /* E_pub */
    CHECK(open_checked(p.bob, copy, len) == PARLEY_ERR_AUTH);
    memcpy(copy, env, len);
    memcpy(copy + 33, other + 33, 48); /* c1 */
    CHECK(open_checked(p.bob, copy, len) == PARLEY_ERR_AUTH);
    memcpy(copy, env, len);
    memcpy(copy + 81, other + 81, len - 81); /* c2 */
    CHECK(open_checked(p.bob, copy, len) == PARLEY_ERR_AUTH);
    memcpy(copy, env, len);
    memcpy(copy + 1, other + 1, 80); /* E_pub and c1 of the other, c2 of this one */
    CHECK(open_checked(p.bob, copy, len) == PARLEY_ERR_AUTH);
    t_note("%zu tampered envelopes refused", flips + 4);
    people_free(&p);
}

static void test_sealed_wrong_recipient(void)
{
    struct people p;
    uint8_t env[512];
    size_t len = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    CHECK_RC(seal_fixed(&p, "wrong", "alice", (const uint8_t *)"for bob", 7, env, sizeof env, &len),
             PARLEY_OK);
    CHECK(open_checked(p.carol, env, len) == PARLEY_ERR_AUTH);
    CHECK(open_checked(p.alice, env, len) == PARLEY_ERR_AUTH); /* not even its sender */
    CHECK_RC(open_checked(p.bob, env, len), PARLEY_OK);
    people_free(&p);
}

static void test_sealed_lengths(void)
{
    static const size_t bad[] = {0, 1, 2, 81, 97, 511, 513, 1000, 2047, 2049, 65535, 65537};
    struct people p;
    uint8_t *env = calloc(1, PARLEY_SEALED_MAX + 2), *big = calloc(1, PARLEY_SEALED_MAX);
    size_t len = 0, big_len = 0;

    CHECK(env != NULL && big != NULL);
    CHECK_RC(people_new(&p), PARLEY_OK);
    CHECK_RC(
        seal_fixed(&p, "len", "alice", (const uint8_t *)"hello", 5, env, PARLEY_SEALED_MAX, &len),
        PARLEY_OK);
    CHECK(len == 512);
    /* Truncated, extended by a byte, and lengths that are no size class. */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(open_checked(p.bob, env, bad[i]) == PARLEY_ERR_MALFORMED);
    }
    /* The version byte is read first. */
    env[0] = 0x02;
    CHECK(open_checked(p.bob, env, 1000) == PARLEY_ERR_VERSION);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_VERSION);
    env[0] = PARLEY_SEALED_VERSION;
    /* Extended (zeros) or cut to another class: the length is a class, the tag fails. */
    CHECK(open_checked(p.bob, env, 2048) == PARLEY_ERR_AUTH);
    CHECK_RC(seal_fixed(&p, "len2", "alice", env, 3000, big, PARLEY_SEALED_MAX, &big_len),
             PARLEY_OK);
    CHECK(big_len == 8192);
    CHECK(open_checked(p.bob, big, 2048) == PARLEY_ERR_AUTH);
    CHECK(open_checked(p.bob, big, 512) == PARLEY_ERR_AUTH);
    CHECK_RC(open_checked(p.bob, big, big_len), PARLEY_OK);
    people_free(&p);
    free(env);
    free(big);
}

/* Envelopes a correct sender never makes: content sealed as-is with the internal sealer. */
static void test_sealed_content_checks(void)
{
    enum { CONTENT = 512 - PARLEY_SEALED_OVERHEAD }; /* 415 */
    struct people p;
    uint8_t content[2048 - PARLEY_SEALED_OVERHEAD], env[2048], e[32];
    const uint8_t *ik_r;

    CHECK_RC(people_new(&p), PARLEY_OK);
    ik_r = p.bob->identity_pub;
    fixed(e, "sealed-test-e-content");

    /* The canonical content opens. */
    sealed_content_write(content, CONTENT, (const uint8_t *)"alice", 5, (const uint8_t *)"msg", 3);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, 512), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", (const uint8_t *)"msg", 3));
    /* Non-zero padding: its first byte, its last byte. */
    content[5 + 5 + 3] = 0x80;
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    content[5 + 5 + 3] = 0;
    content[CONTENT - 1] = 0x01;
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    content[CONTENT - 1] = 0;
    /* name_len 0 and 65 are refused; 64 opens. */
    content[0] = 0;
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    memset(content, 'n', 66);
    content[0] = PARLEY_SEALED_NAME_MAX + 1;
    put_u32be(content + 66, 0);
    memset(content + 70, 0, CONTENT - 70);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    content[0] = PARLEY_SEALED_NAME_MAX;
    put_u32be(content + 65, 0);
    content[69] = 0;
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, 512), PARLEY_OK);
    CHECK(opened_buf->name_len == 64 && opened_buf->msg_len == 0);
    /* msg_len: to the very end (no padding) opens; one more, or 2^32 - 1, is refused. */
    sealed_content_write(content, CONTENT, (const uint8_t *)"alice", 5, NULL, 0);
    put_u32be(content + 6, CONTENT - 10);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, 512), PARLEY_OK);
    CHECK(opened_buf->msg_len == CONTENT - 10 && opened_buf->msg_len == 512 - FIXED - 5);
    put_u32be(content + 6, CONTENT - 9);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    put_u32be(content + 6, UINT32_MAX);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 512) == PARLEY_ERR_MALFORMED);
    /* Content that makes no size class. */
    sealed_content_write(content, CONTENT + 1, (const uint8_t *)"alice", 5, NULL, 0);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, CONTENT + 1, env), PARLEY_OK);
    CHECK(open_checked(p.bob, env, 513) == PARLEY_ERR_MALFORMED);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, PARLEY_SEALED_MAX, env),
             PARLEY_ERR_TOO_LARGE);
    /* A sender may pad more than it must: a short message in a 2048-byte envelope opens. */
    sealed_content_write(content, sizeof content, (const uint8_t *)"alice", 5,
                         (const uint8_t *)"short", 5);
    CHECK_RC(sealed_encrypt_with(p.alice, ik_r, e, content, sizeof content, env), PARLEY_OK);
    CHECK_RC(open_checked(p.bob, env, 2048), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", (const uint8_t *)"short", 5));
    people_free(&p);
}

static void test_sealed_output_buffers(void)
{
    struct people p;
    uint8_t env[512];
    size_t len = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    CHECK_RC(
        seal_fixed(&p, "caps", "alice", (const uint8_t *)"twelve bytes", 12, env, sizeof env, &len),
        PARLEY_OK);
    /* Too small a name or message buffer: refused, nothing written. */
    CHECK(open_caps(p.bob, env, len, 4, len) == PARLEY_ERR_BUFFER);
    CHECK(open_caps(p.bob, env, len, 5, 11) == PARLEY_ERR_BUFFER);
    CHECK_RC(open_caps(p.bob, env, len, 5, 12), PARLEY_OK);
    CHECK(opened_is(p.alice, "alice", (const uint8_t *)"twelve bytes", 12));
    /* An empty message needs no message buffer at all. */
    CHECK_RC(seal_fixed(&p, "caps", "alice", NULL, 0, env, sizeof env, &len), PARLEY_OK);
    {
        uint8_t ik[32], name[8];
        size_t name_len = 0, msg_len = 9;
        CHECK_RC(parley_sealed_open(p.bob, env, len, ik, name, sizeof name, &name_len, NULL, 0,
                                    &msg_len),
                 PARLEY_OK);
        CHECK(name_len == 5 && msg_len == 0);
    }
    people_free(&p);
}

static void test_sealed_arguments(void)
{
    struct people p;
    uint8_t env[600], ik[32], name[64], msg[600], big[PARLEY_SEALED_MIN];
    size_t len = 0, name_len = 0, msg_len = 0;
    const uint8_t *ik_r;

    CHECK_RC(people_new(&p), PARLEY_OK);
    ik_r = p.bob->identity_pub;
    memset(big, 'x', sizeof big);
    /* Sealing: name length 0 and 65, too large, too small an output, NULL pointers. */
    memset(env, 0x33, sizeof env);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 0, msg, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 65, msg, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 64, msg, 1, env, sizeof env, &len), PARLEY_OK);
    CHECK(len == 512);
    memset(env, 0x33, sizeof env);
    CHECK_RC(
        parley_sealed_seal(p.alice, ik_r, big, 64, big, PARLEY_SEALED_MAX, env, sizeof env, &len),
        PARLEY_ERR_TOO_LARGE);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, big, 405, env, 511, &len),
             PARLEY_ERR_BUFFER);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, big, 406, env, sizeof env, &len),
             PARLEY_ERR_BUFFER); /* needs 2048 */
    CHECK(env[0] == 0x33 && env[sizeof env - 1] == 0x33 && len == 512);
    CHECK_RC(parley_sealed_seal(NULL, ik_r, big, 5, msg, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, NULL, big, 5, msg, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, NULL, 5, msg, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, NULL, 1, env, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, msg, 1, NULL, sizeof env, &len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, msg, 1, env, sizeof env, NULL),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_seal(p.alice, ik_r, big, 5, NULL, 0, env, sizeof env, &len), PARLEY_OK);
    /* Opening: NULL pointers, and a NULL buffer with a capacity. */
    CHECK_RC(parley_sealed_open(NULL, env, len, ik, name, 64, &name_len, msg, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, NULL, len, ik, name, 64, &name_len, msg, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, NULL, name, 64, &name_len, msg, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, ik, NULL, 64, &name_len, msg, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, ik, name, 64, NULL, msg, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, ik, name, 64, &name_len, NULL, len, &msg_len),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, ik, name, 64, &name_len, msg, len, NULL),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_sealed_open(p.bob, env, len, ik, name, 64, &name_len, msg, len, &msg_len),
             PARLEY_OK);
    CHECK(name_len == 5 && msg_len == 0);
    people_free(&p);
}

/* Low-order X25519 points (RFC 7748 section 6.1's list, as libsodium refuses them): 0, 1, the two
 * points of order 8, and p - 1, p, p + 1. */
static const uint8_t low_order[7][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static void test_sealed_low_order(void)
{
    static const uint8_t zero_nonce[12] = {0};
    /* The Ed25519 neutral element (y = 1): a small-order identity key. */
    static const uint8_t ed_identity[32] = {1};
    struct people p;
    uint8_t env[512], copy[512], e[32], e_pub[32], ik_r_x[32], dh[32], k1[32], ck[32], ad[33];
    size_t len = 0;

    CHECK_RC(people_new(&p), PARLEY_OK);
    CHECK_RC(seal_fixed(&p, "low", "alice", (const uint8_t *)"x", 1, env, sizeof env, &len),
             PARLEY_OK);
    /* A low-order E_pub makes DH1 all zeros. */
    for (size_t i = 0; i < 7; i++) {
        memcpy(copy, env, len);
        memcpy(copy + 1, low_order[i], 32);
        CHECK(open_checked(p.bob, copy, len) == PARLEY_ERR_WEAK_KEY);
    }
    /* A small-order recipient identity key is refused before anything is written. */
    memset(copy, 0x33, sizeof copy);
    fixed(e, "sealed-test-e-low");
    CHECK_RC(sealed_seal_with(p.alice, ed_identity, (const uint8_t *)"alice", 5, NULL, 0, e, copy,
                              sizeof copy, &len),
             PARLEY_ERR_WEAK_KEY);
    CHECK(copy[0] == 0x33 && copy[511] == 0x33);
    CHECK_RC(parley_sealed_seal(p.alice, ed_identity, (const uint8_t *)"alice", 5, NULL, 0, copy,
                                sizeof copy, &len),
             PARLEY_ERR_WEAK_KEY);
    /* A c1 naming a small-order sender identity (whoever knows e can write any c1). */
    CHECK_RC(parley_x25519_public(e_pub, e), PARLEY_OK);
    CHECK(crypto_sign_ed25519_pk_to_curve25519(ik_r_x, p.bob->identity_pub) == 0);
    CHECK_RC(parley_x25519(dh, e, ik_r_x), PARLEY_OK);
    CHECK_RC(sealed_kdf_ephemeral(k1, ck, dh, e_pub, p.bob->identity_pub), PARLEY_OK);
    ad[0] = PARLEY_SEALED_VERSION;
    memcpy(ad + 1, e_pub, 32);
    memcpy(copy, env, 512);
    memcpy(copy + 1, e_pub, 32);
    CHECK_RC(parley_aead_seal(copy + 33, k1, zero_nonce, ad, sizeof ad, ed_identity, 32),
             PARLEY_OK);
    CHECK(open_checked(p.bob, copy, 512) == PARLEY_ERR_WEAK_KEY);
    /* The same with the real sender key gives back the very c1 of env (same e, k1 and nonce):
     * the derivation above is the one the core uses. */
    CHECK_RC(parley_aead_seal(copy + 33, k1, zero_nonce, ad, sizeof ad, p.alice->identity_pub, 32),
             PARLEY_OK);
    CHECK(memcmp(copy, env, 512) == 0);
    CHECK_RC(open_checked(p.bob, copy, 512), PARLEY_OK);
    people_free(&p);
}

void suite_sealed(void)
{
    opened_buf = malloc(sizeof *opened_buf);
    if (opened_buf == NULL) {
        t_skip("sealed", "out of memory");
        return;
    }
    t_run("sealed: sizes of every class and its boundaries", test_sealed_size);
    t_run("sealed: round trips at every class boundary, one byte over, too large",
          test_sealed_round_trip);
    t_run("sealed: the recipient learns the sealer's identity key", test_sealed_sender_identity);
    t_run("sealed: fixed ephemeral key is deterministic, fresh ones differ",
          test_sealed_deterministic);
    t_run("sealed: every tampered region refused, outputs untouched", test_sealed_tamper);
    t_run("sealed: wrong recipient refused", test_sealed_wrong_recipient);
    t_run("sealed: truncated, extended and non-class lengths, version first", test_sealed_lengths);
    t_run("sealed: padding, name and message lengths inside the content",
          test_sealed_content_checks);
    t_run("sealed: output buffers too small", test_sealed_output_buffers);
    t_run("sealed: argument checks", test_sealed_arguments);
    t_run("sealed: low-order ephemeral, recipient and sender keys", test_sealed_low_order);
    free(opened_buf);
    opened_buf = NULL;
}
