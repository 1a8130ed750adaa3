/*
 * Device lists (docs/PROTOCOL.md 14.1) and identity transfer (14.2): sign and open round trips at
 * the limits, every refusal in the order the document gives, refused lists that carry a genuine
 * signature (so the parser, not the signature, refuses them), every flipped bit, entry reading,
 * output buffers and aliasing; the transfer's round trip, wrong keys, every refusal and that a
 * refusal writes nothing.
 */
#include "fixtures.h"
#include "harness.h"
#include "state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK 0xA5A5A5A5u

/* The fixed inputs of these tests (fixtures.h). */
#define fixed fixture_bytes

static struct parley_account *account_from(const char *name)
{
    return fixture_account("devices-test", name);
}

#define account_release fixture_account_free

struct entry {
    uint32_t id;
    size_t label_len; /* the label is label_len bytes of 'a' + index */
};

/* Writes a list as 14.1 spells it, without checking anything (lists a signer never makes, too);
 * returns its length. out holds PARLEY_DEVICES_MAX_BYTES + 600 bytes. */
static size_t encode(uint8_t *out, uint8_t version, uint32_t generation, uint8_t count,
                     const struct entry *e, size_t n)
{
    size_t pos = 6;

    out[0] = version;
    put_u32be(out + 1, generation);
    out[5] = count;
    for (size_t i = 0; i < n; i++) {
        put_u32be(out + pos, e[i].id);
        out[pos + 4] = (uint8_t)e[i].label_len;
        memset(out + pos + 5, 'a' + (int)i, e[i].label_len);
        pos += 5 + e[i].label_len;
    }
    return pos;
}

/* list || Ed25519-Sign(seed, "parley-devices-v1" || IK || list) without the signer's checks, so
 * that refused lists carry a genuine signature. */
static int sign_raw(const struct parley_account *a, uint8_t *buf, size_t list_len)
{
    uint8_t msg[PARLEY_DEVICES_MESSAGE_BYTES(PARLEY_DEVICES_MAX_BYTES + 600)];

    if (list_len > PARLEY_DEVICES_MAX_BYTES + 600 - 64) {
        return PARLEY_ERR_ARGUMENT;
    }
    devices_message(msg, a->identity_pub, buf, list_len);
    return parley_ed25519_sign(buf + list_len, a->identity_seed, msg,
                               PARLEY_DEVICES_MESSAGE_BYTES(list_len));
}

/* parley_devices_open whose outputs start as marks; a refusal must leave both marks. */
#define UNTOUCHED_FAILED 1
static uint32_t opened_generation, opened_count;

static int open_checked(const uint8_t ik[32], const uint8_t *in, size_t len)
{
    int rc;

    opened_generation = MARK;
    opened_count = MARK;
    rc = parley_devices_open(ik, in, len, &opened_generation, &opened_count);
    if (rc != PARLEY_OK && (opened_generation != MARK || opened_count != MARK)) {
        return UNTOUCHED_FAILED;
    }
    return rc;
}

/* A list that is refused with `want`, both unsigned (by the signer) and with a genuine signature
 * (by the reader); the signer writes nothing when it refuses. */
static int refused_both_ways(const struct parley_account *a, uint8_t *buf, size_t list_len,
                             int want)
{
    uint8_t out[PARLEY_DEVICES_MAX_BYTES + 600];
    size_t out_len = 7;
    int rc;

    memset(out, 0x33, sizeof out);
    rc = parley_account_sign_devices(a, buf, list_len, out, sizeof out, &out_len);
    if (rc != want || out_len != 7 || out[0] != 0x33 || out[sizeof out - 1] != 0x33) {
        t_note("sign: %d, want %d", rc, want);
        return 0;
    }
    if (list_len != 0 && sign_raw(a, buf, list_len) != PARLEY_OK) {
        return 0;
    }
    rc = open_checked(a->identity_pub, buf, list_len + (list_len != 0 ? 64 : 0));
    if (rc != want) {
        t_note("open: %d, want %d", rc, want);
        return 0;
    }
    return 1;
}

/* ---- device lists ---- */

static void test_devices_round_trip(void)
{
    static const struct entry two[] = {{1, 17}, {7, 0}};
    struct entry eight[PARLEY_MAX_DEVICES];
    struct parley_account *alice = account_from("alice");
    uint8_t list[PARLEY_DEVICES_MAX_BYTES], out[PARLEY_DEVICES_MAX_BYTES];
    size_t len, out_len = 0;
    uint32_t id = 0, off = 0, label_len = 0;

    CHECK(alice != NULL);
    /* Two devices, one with an empty label. */
    len = encode(list, 1, 1, 2, two, 2);
    CHECK(len == 6 + 5 + 17 + 5);
    CHECK_RC(parley_account_sign_devices(alice, list, len, out, sizeof out, &out_len), PARLEY_OK);
    CHECK(out_len == len + 64 && memcmp(out, list, len) == 0);
    CHECK_RC(open_checked(alice->identity_pub, out, out_len), PARLEY_OK);
    CHECK(opened_generation == 1 && opened_count == 2);
    CHECK_RC(parley_devices_entry(out, out_len, 0, &id, &off, &label_len), PARLEY_OK);
    CHECK(id == 1 && off == 11 && label_len == 17 && out[off] == 'a' && out[off + 16] == 'a');
    CHECK_RC(parley_devices_entry(out, out_len, 1, &id, &off, &label_len), PARLEY_OK);
    CHECK(id == 7 && off == 6 + 5 + 17 + 5 && label_len == 0);
    /* Signing is deterministic (RFC 8032). */
    {
        uint8_t again[PARLEY_DEVICES_MAX_BYTES];
        size_t again_len = 0;
        CHECK_RC(parley_account_sign_devices(alice, list, len, again, sizeof again, &again_len),
                 PARLEY_OK);
        CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
    }
    /* The largest list: 8 devices with 64-byte labels, the largest id and generation. */
    for (uint32_t i = 0; i < PARLEY_MAX_DEVICES; i++) {
        eight[i].id = PARLEY_DEVICE_ID_MAX - (PARLEY_MAX_DEVICES - 1) + i;
        eight[i].label_len = PARLEY_DEVICE_LABEL_MAX;
    }
    len = encode(list, 1, UINT32_MAX, PARLEY_MAX_DEVICES, eight, PARLEY_MAX_DEVICES);
    CHECK(len == PARLEY_DEVICES_MAX_LIST && len == 558 && PARLEY_DEVICES_MAX_BYTES == 622);
    CHECK_RC(parley_account_sign_devices(alice, list, len, out, sizeof out, &out_len), PARLEY_OK);
    CHECK(out_len == PARLEY_DEVICES_MAX_BYTES);
    CHECK_RC(open_checked(alice->identity_pub, out, out_len), PARLEY_OK);
    CHECK(opened_generation == UINT32_MAX && opened_count == PARLEY_MAX_DEVICES);
    for (uint32_t i = 0; i < PARLEY_MAX_DEVICES; i++) {
        CHECK_RC(parley_devices_entry(out, out_len, i, &id, &off, &label_len), PARLEY_OK);
        CHECK(id == eight[i].id && label_len == PARLEY_DEVICE_LABEL_MAX);
        CHECK(off == 6 + i * 69 + 5 && out[off] == 'a' + i && out[off + 63] == 'a' + i);
    }
    CHECK(id == PARLEY_DEVICE_ID_MAX);
    /* Outputs may be NULL when not wanted. */
    CHECK_RC(parley_devices_open(alice->identity_pub, out, out_len, NULL, NULL), PARLEY_OK);
    CHECK_RC(parley_devices_entry(out, out_len, 3, NULL, NULL, NULL), PARLEY_OK);
    account_release(alice);
}

/* 14.1's refusals, each on its own, in the order the document lists them. */
static void test_devices_refusals(void)
{
    static const struct entry one[] = {{1, 3}};
    struct entry e[PARLEY_MAX_DEVICES + 1];
    struct parley_account *alice = account_from("alice");
    uint8_t buf[PARLEY_DEVICES_MAX_BYTES + 600], good[PARLEY_DEVICES_MAX_BYTES];
    size_t len, good_len;

    CHECK(alice != NULL);
    good_len = encode(good, 1, 5, 1, one, 1);
    CHECK_RC(sign_raw(alice, good, good_len), PARLEY_OK);
    good_len += 64;
    CHECK_RC(open_checked(alice->identity_pub, good, good_len), PARLEY_OK);

    /* A length of 0, with or without a pointer. */
    CHECK(refused_both_ways(alice, good, 0, PARLEY_ERR_MALFORMED));
    CHECK(open_checked(alice->identity_pub, NULL, 0) == PARLEY_ERR_MALFORMED);
    /* Another first byte: read before any length (1 byte, short, right size, too long). */
    for (unsigned v = 0; v < 256; v++) {
        if (v == PARLEY_DEVICES_VERSION) {
            continue;
        }
        memcpy(buf, good, good_len);
        buf[0] = (uint8_t)v;
        CHECK(open_checked(alice->identity_pub, buf, 1) == PARLEY_ERR_VERSION);
        CHECK(open_checked(alice->identity_pub, buf, 69) == PARLEY_ERR_VERSION);
        CHECK(open_checked(alice->identity_pub, buf, good_len) == PARLEY_ERR_VERSION);
        CHECK(open_checked(alice->identity_pub, buf, PARLEY_DEVICES_MAX_BYTES + 1) ==
              PARLEY_ERR_VERSION);
    }
    len = encode(buf, 2, 5, 1, one, 1);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_VERSION));
    /* A length below 70 or above 622. */
    memset(buf, 0, sizeof buf);
    buf[0] = PARLEY_DEVICES_VERSION;
    for (size_t n = 1; n < 70; n++) {
        CHECK(open_checked(alice->identity_pub, buf, n) == PARLEY_ERR_MALFORMED);
    }
    CHECK(open_checked(alice->identity_pub, buf, PARLEY_DEVICES_MAX_BYTES + 1) ==
          PARLEY_ERR_MALFORMED);
    CHECK(open_checked(alice->identity_pub, buf, sizeof buf) == PARLEY_ERR_MALFORMED);
    /* Generation 0; count 0 and 9 (with nine real entries, 9 x 5 bytes, under 622). */
    len = encode(buf, 1, 0, 1, one, 1);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    len = encode(buf, 1, 1, 0, NULL, 0);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    for (uint32_t i = 0; i < PARLEY_MAX_DEVICES + 1; i++) {
        e[i].id = i + 1;
        e[i].label_len = 0;
    }
    len = encode(buf, 1, 1, PARLEY_MAX_DEVICES, e, PARLEY_MAX_DEVICES); /* the limit is fine */
    CHECK_RC(sign_raw(alice, buf, len), PARLEY_OK);
    CHECK_RC(open_checked(alice->identity_pub, buf, len + 64), PARLEY_OK);
    CHECK(opened_count == PARLEY_MAX_DEVICES);
    len = encode(buf, 1, 1, PARLEY_MAX_DEVICES + 1, e, PARLEY_MAX_DEVICES + 1);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    len = encode(buf, 1, 1, 255, e, PARLEY_MAX_DEVICES + 1);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    /* Ids not ascending, equal, 0, 2^31 (and 2^32 - 1); 2^31 - 1 is the largest. */
    e[0].id = 2;
    e[1].id = 1;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[0].id = 3;
    e[1].id = 3;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[0].id = 0;
    len = encode(buf, 1, 1, 1, e, 1);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[0].id = 1;
    e[1].id = 0x80000000u;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[1].id = UINT32_MAX;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[1].id = PARLEY_DEVICE_ID_MAX;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK_RC(sign_raw(alice, buf, len), PARLEY_OK);
    CHECK_RC(open_checked(alice->identity_pub, buf, len + 64), PARLEY_OK);
    /* A label of 65 bytes (64 is the largest), first or last. */
    e[0].label_len = PARLEY_DEVICE_LABEL_MAX + 1;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[0].label_len = 0;
    e[1].label_len = PARLEY_DEVICE_LABEL_MAX + 1;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    e[1].label_len = 255;
    len = encode(buf, 1, 1, 2, e, 2);
    CHECK(refused_both_ways(alice, buf, len, PARLEY_ERR_MALFORMED));
    /* Truncation: every shorter prefix of a list (fewer entries than its count, a cut entry, a cut
     * label); and a trailing byte. */
    e[0].label_len = 10;
    e[1].label_len = 20;
    len = encode(buf, 1, 1, 2, e, 2);
    for (size_t n = 1; n < len; n++) {
        CHECK(refused_both_ways(alice, buf, n, PARLEY_ERR_MALFORMED));
        len = encode(buf, 1, 1, 2, e, 2); /* sign_raw wrote over the tail */
    }
    buf[len] = 0;
    CHECK(refused_both_ways(alice, buf, len + 1, PARLEY_ERR_MALFORMED));
    /* Truncating or extending a signed list. */
    for (size_t n = 0; n < good_len; n++) {
        CHECK(open_checked(alice->identity_pub, good, n) == PARLEY_ERR_MALFORMED);
    }
    memcpy(buf, good, good_len);
    buf[good_len] = 0;
    CHECK(open_checked(alice->identity_pub, buf, good_len + 1) == PARLEY_ERR_MALFORMED);
    account_release(alice);
}

static void test_devices_signatures(void)
{
    static const struct entry two[] = {{1, 17}, {7, 0}};
    struct parley_account *alice = account_from("alice"), *bob = account_from("bob");
    uint8_t list[PARLEY_DEVICES_MAX_BYTES], a_signed[PARLEY_DEVICES_MAX_BYTES],
        b_signed[PARLEY_DEVICES_MAX_BYTES];
    size_t len, a_len = 0, b_len = 0;
    int refused = 0;

    CHECK(alice != NULL && bob != NULL);
    len = encode(list, 1, 1, 2, two, 2);
    CHECK_RC(parley_account_sign_devices(alice, list, len, a_signed, sizeof a_signed, &a_len),
             PARLEY_OK);
    CHECK_RC(parley_account_sign_devices(bob, list, len, b_signed, sizeof b_signed, &b_len),
             PARLEY_OK);
    /* The same list signed by another identity: refused under alice's key, and bob's list opens
     * only under bob's. The identity key is in what is signed. */
    CHECK(open_checked(alice->identity_pub, b_signed, b_len) == PARLEY_ERR_BAD_SIGNATURE);
    CHECK(open_checked(bob->identity_pub, a_signed, a_len) == PARLEY_ERR_BAD_SIGNATURE);
    CHECK_RC(open_checked(bob->identity_pub, b_signed, b_len), PARLEY_OK);
    /* A flipped bit anywhere is refused: VERSION in the first byte, MALFORMED or BAD_SIGNATURE
     * elsewhere; never accepted, never an output. */
    for (size_t i = 0; i < a_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            int rc;
            a_signed[i] ^= (uint8_t)(1u << bit);
            rc = open_checked(alice->identity_pub, a_signed, a_len);
            a_signed[i] ^= (uint8_t)(1u << bit);
            CHECK(i != 0 || rc == PARLEY_ERR_VERSION);
            CHECK(rc == PARLEY_ERR_VERSION || rc == PARLEY_ERR_MALFORMED ||
                  rc == PARLEY_ERR_BAD_SIGNATURE);
            refused += rc == PARLEY_ERR_BAD_SIGNATURE;
        }
    }
    CHECK(refused >= 64 * 8); /* every bit of the signature at least */
    CHECK_RC(open_checked(alice->identity_pub, a_signed, a_len), PARLEY_OK);
    /* A low-order or otherwise invalid identity key never verifies. */
    {
        uint8_t small[32] = {1};
        CHECK(open_checked(small, a_signed, a_len) == PARLEY_ERR_BAD_SIGNATURE);
    }
    account_release(alice);
    account_release(bob);
}

static void test_devices_entries(void)
{
    static const struct entry three[] = {{2, 0}, {9, 64}, {100, 1}};
    struct parley_account *alice = account_from("alice");
    uint8_t list[PARLEY_DEVICES_MAX_BYTES], out[PARLEY_DEVICES_MAX_BYTES];
    size_t len, out_len = 0;
    uint32_t id = MARK, off = MARK, label_len = MARK;

    CHECK(alice != NULL);
    len = encode(list, 1, 42, 3, three, 3);
    CHECK_RC(parley_account_sign_devices(alice, list, len, out, sizeof out, &out_len), PARLEY_OK);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_RC(parley_devices_entry(out, out_len, i, &id, &off, &label_len), PARLEY_OK);
        CHECK(id == three[i].id && label_len == three[i].label_len && off + label_len <= len);
    }
    CHECK(off == 6 + 5 + 5 + 64 + 5);
    /* An index out of range, and inputs that do not parse, write nothing. */
    id = off = label_len = MARK;
    CHECK(parley_devices_entry(out, out_len, 3, &id, &off, &label_len) == PARLEY_ERR_ARGUMENT);
    CHECK(parley_devices_entry(out, out_len, UINT32_MAX, &id, &off, &label_len) ==
          PARLEY_ERR_ARGUMENT);
    CHECK(parley_devices_entry(out, out_len - 1, 0, &id, &off, &label_len) ==
          PARLEY_ERR_MALFORMED);
    CHECK(parley_devices_entry(out, 63, 0, &id, &off, &label_len) == PARLEY_ERR_ARGUMENT);
    CHECK(parley_devices_entry(NULL, out_len, 0, &id, &off, &label_len) == PARLEY_ERR_ARGUMENT);
    out[0] = 2;
    CHECK(parley_devices_entry(out, out_len, 0, &id, &off, &label_len) == PARLEY_ERR_VERSION);
    out[0] = 1;
    CHECK(id == MARK && off == MARK && label_len == MARK);
    /* Entries are read without the signature: the caller opens the list first. */
    out[out_len - 1] ^= 1;
    CHECK(open_checked(alice->identity_pub, out, out_len) == PARLEY_ERR_BAD_SIGNATURE);
    CHECK_RC(parley_devices_entry(out, out_len, 2, &id, &off, &label_len), PARLEY_OK);
    CHECK(id == 100 && label_len == 1);
    account_release(alice);
}

static void test_devices_sign_buffers(void)
{
    static const struct entry two[] = {{1, 17}, {7, 0}};
    struct parley_account *alice = account_from("alice");
    uint8_t list[PARLEY_DEVICES_MAX_BYTES], out[PARLEY_DEVICES_MAX_BYTES],
        in_place[PARLEY_DEVICES_MAX_BYTES];
    size_t len, out_len = 0, in_place_len = 0;

    CHECK(alice != NULL);
    len = encode(list, 1, 3, 2, two, 2);
    /* One byte short of list + signature. */
    memset(out, 0x33, sizeof out);
    out_len = 7;
    CHECK(parley_account_sign_devices(alice, list, len, out, len + 63, &out_len) ==
          PARLEY_ERR_BUFFER);
    CHECK(out_len == 7 && out[0] == 0x33 && out[len + 62] == 0x33);
    CHECK_RC(parley_account_sign_devices(alice, list, len, out, len + 64, &out_len), PARLEY_OK);
    CHECK(out_len == len + 64);
    /* out == list: the list is signed where it lies. */
    memcpy(in_place, list, len);
    CHECK_RC(parley_account_sign_devices(alice, in_place, len, in_place, len + 64, &in_place_len),
             PARLEY_OK);
    CHECK(in_place_len == out_len && memcmp(in_place, out, out_len) == 0);
    /* Arguments. */
    CHECK(parley_account_sign_devices(NULL, list, len, out, sizeof out, &out_len) ==
          PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_sign_devices(alice, NULL, len, out, sizeof out, &out_len) ==
          PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_sign_devices(alice, list, len, NULL, sizeof out, &out_len) ==
          PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_sign_devices(alice, list, len, out, sizeof out, NULL) ==
          PARLEY_ERR_ARGUMENT);
    CHECK(parley_devices_open(NULL, out, out_len, NULL, NULL) == PARLEY_ERR_ARGUMENT);
    CHECK(parley_devices_open(alice->identity_pub, NULL, out_len, NULL, NULL) ==
          PARLEY_ERR_ARGUMENT);
    account_release(alice);
}

/* ---- identity transfer ---- */

/* Expects every transfer refusal to leave *out NULL (the public form) and the account struct of
 * the internal form exactly as it was. */
static int linked_refused(const uint8_t key[32], const uint8_t *in, size_t len, int want)
{
    static struct parley_account marked, scratch;
    parley_account *out = (parley_account *)&marked; /* any non-NULL value */
    uint8_t spk[32];
    int rc;

    rc = parley_account_new_linked(&out, key, in, len);
    if (rc != want || out != NULL) {
        t_note("new_linked: %d, want %d", rc, want);
        parley_account_free(rc == PARLEY_OK ? out : NULL);
        return 0;
    }
    memset(&marked, 0x5A, sizeof marked);
    memcpy(&scratch, &marked, sizeof scratch);
    fixed(spk, "devices-test-linked-spk");
    rc = account_new_linked_with(&scratch, key, in, len, spk);
    if (rc != want || memcmp(&scratch, &marked, sizeof marked) != 0) {
        t_note("new_linked_with: %d, want %d, or the account was written", rc, want);
        return 0;
    }
    return 1;
}

static void test_transfer_round_trip(void)
{
    struct parley_account *alice = account_from("alice"), *carol = account_from("carol");
    uint8_t key[32], nonce[32], t1[PARLEY_IDENTITY_TRANSFER_BYTES],
        t2[PARLEY_IDENTITY_TRANSFER_BYTES], ik[32], bundle[200], env[512], got_ik[32], name[8],
        msg[16], spk_msg[PARLEY_SPK_SIGNED_BYTES];
    size_t bundle_len = 0, env_len = 0, name_len = 0, msg_len = 0;
    parley_account *linked = NULL;
    struct parley_account *l;

    CHECK(alice != NULL && carol != NULL);
    fixed(key, "devices-test-transfer-key");
    fixed(nonce, "devices-test-transfer-nonce"); /* the first 12 bytes are the nonce */
    /* The internal form is deterministic; the layout is version || nonce || sealed seed. */
    CHECK_RC(account_export_identity_with(alice, key, nonce, t1), PARLEY_OK);
    CHECK_RC(account_export_identity_with(alice, key, nonce, t2), PARLEY_OK);
    CHECK(memcmp(t1, t2, sizeof t1) == 0 && t1[0] == 0x01 && memcmp(t1 + 1, nonce, 12) == 0);
    {
        uint8_t ad[19], seed[32];
        memcpy(ad, "parley-identity-v1", 18);
        ad[18] = 0x01;
        CHECK_RC(parley_aead_open(seed, key, nonce, ad, sizeof ad, t1 + 13, 48), PARLEY_OK);
        CHECK(memcmp(seed, alice->identity_seed, 32) == 0);
        sodium_memzero(seed, sizeof seed);
    }
    /* The public form draws a fresh nonce each time. */
    CHECK_RC(parley_account_export_identity(alice, key, t1), PARLEY_OK);
    CHECK_RC(parley_account_export_identity(alice, key, t2), PARLEY_OK);
    CHECK(memcmp(t1 + 1, t2 + 1, 12) != 0 && memcmp(t1 + 13, t2 + 13, 48) != 0);
    /* A new device: the same identity, its own signed prekey (id 1), no one-time prekeys. */
    CHECK_RC(parley_account_new_linked(&linked, key, t1, sizeof t1), PARLEY_OK);
    l = linked;
    CHECK_RC(parley_account_identity_key(linked, ik), PARLEY_OK);
    CHECK(memcmp(ik, alice->identity_pub, 32) == 0);
    CHECK(memcmp(l->identity_seed, alice->identity_seed, 32) == 0);
    CHECK(memcmp(l->identity_xpub, alice->identity_xpub, 32) == 0);
    CHECK(parley_account_signed_prekey_id(linked) == 1);
    CHECK(memcmp(l->spk.pub, alice->spk.pub, 32) != 0);
    CHECK(parley_account_prekey_count(linked) == 0 && !l->has_prev);
    account_spk_message(spk_msg, l->spk.id, l->spk.pub);
    CHECK_RC(parley_ed25519_verify(alice->identity_pub, spk_msg, sizeof spk_msg, l->spk.sig),
             PARLEY_OK);
    CHECK_RC(parley_account_bundle(linked, bundle, sizeof bundle, &bundle_len), PARLEY_OK);
    CHECK(bundle_len == 135 && memcmp(bundle + 1, alice->identity_pub, 32) == 0);
    /* What is sealed to the identity opens on the new device too. */
    CHECK_RC(parley_sealed_seal(carol, alice->identity_pub, (const uint8_t *)"carol", 5,
                                (const uint8_t *)"to every device", 15, env, sizeof env, &env_len),
             PARLEY_OK);
    CHECK_RC(parley_sealed_open(linked, env, env_len, got_ik, name, sizeof name, &name_len, msg,
                                sizeof msg, &msg_len),
             PARLEY_OK);
    CHECK(msg_len == 15 && memcmp(msg, "to every device", 15) == 0);
    CHECK(memcmp(got_ik, carol->identity_pub, 32) == 0);
    /* The new device can export the identity again, to a third device. */
    CHECK_RC(parley_account_export_identity(linked, key, t2), PARLEY_OK);
    parley_account_free(linked);
    linked = NULL;
    CHECK_RC(parley_account_new_linked(&linked, key, t2, sizeof t2), PARLEY_OK);
    CHECK_RC(parley_account_identity_key(linked, ik), PARLEY_OK);
    CHECK(memcmp(ik, alice->identity_pub, 32) == 0);
    parley_account_free(linked);
    account_release(alice);
    account_release(carol);
}

static void test_transfer_refusals(void)
{
    struct parley_account *alice = account_from("alice");
    uint8_t key[32], wrong[32], nonce[32], t[PARLEY_IDENTITY_TRANSFER_BYTES + 2], copy[64];
    parley_account *linked = NULL;

    CHECK(alice != NULL);
    fixed(key, "devices-test-transfer-key");
    fixed(nonce, "devices-test-transfer-nonce");
    CHECK_RC(account_export_identity_with(alice, key, nonce, t), PARLEY_OK);
    t[61] = 0;
    t[62] = 0;
    /* In order: length 0, another first byte (at any length), a length other than 61, the tag. */
    CHECK(linked_refused(key, t, 0, PARLEY_ERR_MALFORMED));
    CHECK(linked_refused(key, NULL, 0, PARLEY_ERR_MALFORMED));
    for (unsigned v = 0; v < 256; v++) {
        if (v == PARLEY_IDENTITY_TRANSFER_VERSION) {
            continue;
        }
        memcpy(copy, t, 63);
        copy[0] = (uint8_t)v;
        CHECK(linked_refused(key, copy, 1, PARLEY_ERR_VERSION));
        CHECK(linked_refused(key, copy, 60, PARLEY_ERR_VERSION));
        CHECK(linked_refused(key, copy, 61, PARLEY_ERR_VERSION));
        CHECK(linked_refused(key, copy, 62, PARLEY_ERR_VERSION));
    }
    for (size_t n = 1; n < 61; n++) {
        CHECK(linked_refused(key, t, n, PARLEY_ERR_MALFORMED));
    }
    CHECK(linked_refused(key, t, 62, PARLEY_ERR_MALFORMED));
    CHECK(linked_refused(key, t, 63, PARLEY_ERR_MALFORMED));
    /* A wrong key (one bit off, or another key altogether), and every flipped bit after the
     * version byte: the nonce, the ciphertext and the tag are all authenticated. */
    memcpy(wrong, key, 32);
    wrong[31] ^= 0x80;
    CHECK(linked_refused(wrong, t, 61, PARLEY_ERR_AUTH));
    fixed(wrong, "devices-test-another-key");
    CHECK(linked_refused(wrong, t, 61, PARLEY_ERR_AUTH));
    for (size_t i = 1; i < 61; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, t, 61);
            copy[i] ^= (uint8_t)(1u << bit);
            CHECK(linked_refused(key, copy, 61, PARLEY_ERR_AUTH));
        }
    }
    /* The version is authenticated too: a transfer sealed with another AD does not open. */
    {
        uint8_t ad[19], forged[61];
        memcpy(ad, "parley-identity-v1", 18);
        ad[18] = 0x02;
        forged[0] = 0x01;
        memcpy(forged + 1, nonce, 12);
        CHECK_RC(parley_aead_seal(forged + 13, key, nonce, ad, sizeof ad, alice->identity_seed, 32),
                 PARLEY_OK);
        CHECK(linked_refused(key, forged, 61, PARLEY_ERR_AUTH));
        CHECK_RC(parley_aead_seal(forged + 13, key, nonce, ad, 18, alice->identity_seed, 32),
                 PARLEY_OK);
        CHECK(linked_refused(key, forged, 61, PARLEY_ERR_AUTH));
    }
    CHECK_RC(parley_account_new_linked(&linked, key, t, 61), PARLEY_OK);
    parley_account_free(linked);
    /* Arguments. */
    CHECK(parley_account_new_linked(NULL, key, t, 61) == PARLEY_ERR_ARGUMENT);
    linked = (parley_account *)alice;
    CHECK(parley_account_new_linked(&linked, NULL, t, 61) == PARLEY_ERR_ARGUMENT);
    CHECK(linked == NULL);
    CHECK(parley_account_new_linked(&linked, key, NULL, 61) == PARLEY_ERR_ARGUMENT);
    memset(copy, 0x33, sizeof copy);
    CHECK(parley_account_export_identity(NULL, key, copy) == PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_export_identity(alice, NULL, copy) == PARLEY_ERR_ARGUMENT);
    CHECK(parley_account_export_identity(alice, key, NULL) == PARLEY_ERR_ARGUMENT);
    CHECK(copy[0] == 0x33 && copy[60] == 0x33);
    account_release(alice);
}

void suite_devices(void)
{
    t_run("devices: sign and open at the limits, entries, determinism", test_devices_round_trip);
    t_run("devices: every refusal of 14.1 in its order, signed or not", test_devices_refusals);
    t_run("devices: another identity's signature, every flipped bit", test_devices_signatures);
    t_run("devices: entries, index out of range, unparsed input", test_devices_entries);
    t_run("devices: output buffer too small, signing in place, arguments",
          test_devices_sign_buffers);
    t_run("transfer: round trip to a new device of the same identity", test_transfer_round_trip);
    t_run("transfer: every refusal in its order, wrong keys, flipped bits, nothing written",
          test_transfer_refusals);
}
