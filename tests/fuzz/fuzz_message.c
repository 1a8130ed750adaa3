/*
 * libFuzzer target: message decoding. Every input is offered to the message helpers, to a live
 * responder session (as a ratchet or prekey message), to an initiator session, and to the
 * responder's account as an initial message. Nothing may crash, and a rejected message must
 * leave the session unchanged (compared through its sealed form under a fixed key and nonce).
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

static struct parley_account alice_acc, bob_acc;
static struct parley_session alice, bob;
static const uint8_t fixed_key[32] = {1};
static const uint8_t fixed_nonce[12] = {2};

static void seed_bytes(uint8_t out[32], uint8_t label)
{
    memset(out, 0, 32);
    out[0] = label;
    crypto_hash_sha256(out, out, 32);
}

static int setup(void)
{
    uint8_t r1[32], r2[32], r3[32], r4[32], r5[32], r6[32], r7[32], r8[32], pt[64], bundle[171];
    uint8_t *msg;
    size_t len = 0, pt_len = 0, blen = 0;
    struct parley_bundle b;

    seed_bytes(r1, 1), seed_bytes(r2, 2), seed_bytes(r3, 3), seed_bytes(r4, 4);
    seed_bytes(r5, 5), seed_bytes(r6, 6), seed_bytes(r7, 7), seed_bytes(r8, 8);
    if (parley_init() != PARLEY_OK || account_init(&alice_acc, r1, r2) != PARLEY_OK ||
        account_init(&bob_acc, r3, r4) != PARLEY_OK ||
        account_add_prekeys_with(&bob_acc, 1, r5) != PARLEY_OK ||
        parley_account_bundle(&bob_acc, bundle, sizeof bundle, &blen) != PARLEY_OK ||
        bundle_parse_single(&b, bundle, blen) != PARLEY_OK ||
        session_outbound_with(&alice, &alice_acc, &b, r6, r7, NULL) != PARLEY_OK) {
        return -1;
    }
    msg = malloc(parley_session_encrypted_size(&alice, 5));
    if (msg == NULL || session_encrypt(&alice, (const uint8_t *)"hello", 5, msg,
                                       parley_session_encrypted_size(&alice, 5), &len) != PARLEY_OK ||
        session_inbound_with(&bob, &bob_acc, msg, len, pt, sizeof pt, &pt_len, r8, NULL) !=
            PARLEY_OK) {
        free(msg);
        return -1;
    }
    free(msg);
    return 0;
}

static uint8_t *snapshot(const struct parley_session *s, size_t *len)
{
    size_t cap = parley_session_sealed_size(s);
    uint8_t *buf = malloc(cap);

    if (buf != NULL && session_seal_with(s, fixed_key, fixed_nonce, buf, cap, len) != PARLEY_OK) {
        abort();
    }
    return buf;
}

static void try_session(struct parley_session *s, const uint8_t *data, size_t size)
{
    uint8_t random[32] = {42}, *pt, *before, *after;
    size_t pt_len = 0, cap = size + 1, before_len = 0, after_len = 0;
    int rc;

    pt = malloc(cap);
    before = snapshot(s, &before_len);
    rc = session_decrypt_with(s, data, size, pt, cap, &pt_len, random);
    if (rc != PARLEY_OK) {
        after = snapshot(s, &after_len);
        if (after_len != before_len || memcmp(before, after, before_len) != 0) {
            abort(); /* a rejected message changed the session */
        }
        free(after);
    }
    free(before);
    free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    uint8_t ik[32], random[32] = {7}, *pt;
    size_t n = 0, pt_len = 0;
    struct parley_account acc;
    struct parley_session fresh;

    if (!ready) {
        if (setup() != 0) {
            abort();
        }
        ready = 1;
    }
    (void)parley_message_type(data, size);
    (void)parley_message_plaintext_size(data, size, &n);
    (void)parley_message_sender_identity(data, size, ik);
    try_session(&bob, data, size);
    try_session(&alice, data, size);
    /* As an initial message to Bob's account (on a copy: it may consume a prekey). */
    acc = bob_acc;
    pt = malloc(size + 1);
    if (session_inbound_with(&fresh, &acc, data, size, pt, size + 1, &pt_len, random, NULL) ==
        PARLEY_OK) {
        session_wipe(&fresh);
    }
    free(pt);
    return 0;
}
