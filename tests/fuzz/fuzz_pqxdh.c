/*
 * libFuzzer target: the PQXDH (protocol version 2) formats. The first input byte picks what the
 * rest is: even, a message, offered to the message helpers, to a live version 2 responder session
 * and initiator session, and to the responder's account as an initial message (on a copy: it may
 * spend prekeys); odd, a signed KEM prekey record, parsed and used to start a session. Nothing
 * may crash, and a rejected message must leave a session unchanged (compared through its sealed
 * form under a fixed key and nonce).
 * With PARLEY_FUZZ_SEEDS=DIR set, LLVMFuzzerInitialize writes a real initial message, a ratchet
 * message and KEM prekey records into DIR as a seed corpus.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct parley_account alice_acc, bob_acc;
static struct parley_session alice, bob;
static struct parley_bundle bundle;
static uint8_t record[PARLEY_KEM_PREKEY_BYTES], lr_record[PARLEY_KEM_PREKEY_BYTES];
static uint8_t *initial, *reply;
static size_t initial_len, reply_len;
static const uint8_t fixed_key[32] = {1};
static const uint8_t fixed_nonce[12] = {2};

static void seed_bytes(uint8_t *out, size_t n, uint8_t label)
{
    uint8_t k[32] = {label};

    randombytes_buf_deterministic(out, n, k);
}

static int setup(void)
{
    uint8_t r[10][64], pt[64], buf[171];
    struct parley_account copy;
    struct parley_kem_bundle kb;
    size_t blen = 0, pt_len = 0;

    for (int i = 0; i < 10; i++) {
        seed_bytes(r[i], 64, (uint8_t)(i + 1));
    }
    if (parley_init() != PARLEY_OK || account_init(&alice_acc, r[0], r[1]) != PARLEY_OK ||
        account_init(&bob_acc, r[2], r[3]) != PARLEY_OK ||
        account_add_prekeys_with(&bob_acc, 1, r[4]) != PARLEY_OK ||
        account_rotate_kem_with(&bob_acc, r[5]) != PARLEY_OK ||
        account_add_kem_prekeys_with(&bob_acc, 1, r[6]) != PARLEY_OK ||
        parley_account_bundle(&bob_acc, buf, sizeof buf, &blen) != PARLEY_OK ||
        bundle_parse_single(&bundle, buf, blen) != PARLEY_OK ||
        account_kem_record(&bob_acc.kem_otk[0], record) != PARLEY_OK ||
        account_kem_record(&bob_acc.kem, lr_record) != PARLEY_OK ||
        kem_bundle_parse(&kb, record, sizeof record) != PARLEY_OK ||
        session_outbound_pq_with(&alice, &alice_acc, &bundle, &kb, r[7], r[8], r[9], NULL) !=
            PARLEY_OK) {
        return -1;
    }
    initial_len = parley_session_encrypted_size(&alice, 5);
    initial = malloc(initial_len);
    copy = bob_acc;
    if (initial == NULL ||
        session_encrypt(&alice, (const uint8_t *)"hello", 5, initial, initial_len, &initial_len) !=
            PARLEY_OK ||
        session_inbound_with(&bob, &copy, initial, initial_len, pt, sizeof pt, &pt_len, r[0],
                             NULL) != PARLEY_OK) {
        return -1;
    }
    reply_len = parley_session_encrypted_size(&bob, 5);
    reply = malloc(reply_len);
    if (reply == NULL || session_encrypt(&bob, (const uint8_t *)"howdy", 5, reply, reply_len,
                                         &reply_len) != PARLEY_OK) {
        return -1;
    }
    account_wipe(&copy);
    return 0;
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *data,
                       size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fputc(mode, f);
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");

    (void)argc;
    (void)argv;
    if (setup() != 0) {
        abort();
    }
    if (dir != NULL) {
        write_seed(dir, "initial", 0, initial, initial_len);
        write_seed(dir, "reply", 0, reply, reply_len);
        write_seed(dir, "kem-one-time", 1, record, sizeof record);
        write_seed(dir, "kem-last-resort", 1, lr_record, sizeof lr_record);
    }
    return 0;
}

static uint8_t *snapshot(const struct parley_session *s, size_t *len)
{
    size_t cap = parley_session_sealed_size(s);
    uint8_t *buf = malloc(cap);

    if (buf == NULL || session_seal_with(s, fixed_key, fixed_nonce, buf, cap, len) != PARLEY_OK) {
        abort();
    }
    return buf;
}

static void try_session(struct parley_session *s, const uint8_t *data, size_t size)
{
    uint8_t random[32] = {42}, *pt, *before, *after;
    size_t pt_len = 0, cap = size + 1, before_len = 0, after_len = 0;

    pt = malloc(cap);
    before = snapshot(s, &before_len);
    if (session_decrypt_with(s, data, size, pt, cap, &pt_len, random) != PARLEY_OK) {
        after = snapshot(s, &after_len);
        if (after_len != before_len || memcmp(before, after, before_len) != 0) {
            abort(); /* a rejected message changed the session */
        }
        free(after);
    }
    free(before);
    free(pt);
}

static void try_message(const uint8_t *data, size_t size)
{
    uint8_t ik[32], random[32] = {7}, *pt;
    size_t n = 0, pt_len = 0;
    struct parley_account *acc = malloc(sizeof *acc);
    struct parley_session fresh;

    (void)parley_message_type(data, size);
    (void)parley_message_plaintext_size(data, size, &n);
    (void)parley_message_sender_identity(data, size, ik);
    try_session(&bob, data, size);
    try_session(&alice, data, size);
    pt = malloc(size + 1);
    if (acc == NULL || pt == NULL) {
        abort();
    }
    *acc = bob_acc;
    if (session_inbound_with(&fresh, acc, data, size, pt, size + 1, &pt_len, random, NULL) ==
        PARLEY_OK) {
        session_wipe(&fresh);
    }
    account_wipe(acc);
    free(acc);
    free(pt);
}

static void try_record(const uint8_t *data, size_t size)
{
    struct parley_kem_bundle kb;
    struct parley_session fresh;
    uint8_t r1[32] = {1}, r2[32] = {2}, r3[32] = {3};

    if (kem_bundle_parse(&kb, data, size) == PARLEY_OK &&
        session_outbound_pq_with(&fresh, &alice_acc, &bundle, &kb, r1, r2, r3, NULL) ==
            PARLEY_OK) {
        session_wipe(&fresh);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        try_message(data + 1, size - 1);
    } else {
        try_record(data + 1, size - 1);
    }
    return 0;
}
