/*
 * libFuzzer target: state unsealing. The input's first byte picks account or session; the rest
 * is taken as a plain encoding, sealed under a fixed key (so the fuzzer reaches the parser past
 * the tag) and unsealed; the raw input is also offered as sealed bytes. Whatever parses must seal
 * again to a form that unseals to the same bytes.
 * With PARLEY_FUZZ_SEEDS=DIR set, LLVMFuzzerInitialize writes real account and session
 * encodings into DIR as a seed corpus.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[32] = {3};
static const uint8_t nonce[12] = {4};

/* The plain encoding of an object, recovered from its sealed form. */
static uint8_t *plain_of(const uint8_t *sealed, size_t len, size_t *plain_len)
{
    uint8_t *plain = malloc(len);

    if (plain == NULL || len < 30 ||
        parley_aead_open(plain, key, sealed + 2, sealed, 2, sealed + 14, len - 14) != PARLEY_OK) {
        abort();
    }
    *plain_len = len - 30;
    return plain;
}

static void write_seed(const char *dir, const char *name, uint8_t kind, const uint8_t *sealed,
                       size_t len)
{
    char path[4096];
    size_t plain_len = 0;
    uint8_t *plain = plain_of(sealed, len, &plain_len);
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fputc(kind, f);
        fwrite(plain, 1, plain_len, f);
        fclose(f);
    }
    free(plain);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");
    uint8_t r[8][32], bundle[171], pt[16], *msg, buf[65536];
    struct parley_account a, b;
    struct parley_session sa, sb;
    struct parley_bundle bb;
    size_t blen = 0, len = 0, pt_len = 0;

    (void)argc;
    (void)argv;
    if (parley_init() != PARLEY_OK) {
        abort();
    }
    if (dir == NULL) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        memset(r[i], i + 1, 32);
    }
    for (size_t i = 0; i < 96; i++) {
        buf[i] = (uint8_t)(i * 7 + 1);
    }
    if (account_init(&a, r[0], r[1]) != PARLEY_OK || account_init(&b, r[2], r[3]) != PARLEY_OK ||
        account_add_prekeys_with(&b, 3, (const uint8_t *)buf) != PARLEY_OK ||
        account_rotate_spk_with(&b, r[4]) != PARLEY_OK ||
        parley_account_bundle(&b, bundle, 135, &blen) != PARLEY_ERR_BUFFER) {
        abort();
    }
    /* A bundle with one one-time prekey, built by hand from the account. */
    bundle[0] = 1;
    memcpy(bundle + 1, b.identity_pub, 32);
    put_u32be(bundle + 33, b.spk.id);
    memcpy(bundle + 37, b.spk.pub, 32);
    memcpy(bundle + 69, b.spk.sig, 64);
    bundle[133] = 0;
    bundle[134] = 1;
    put_u32be(bundle + 135, b.opk[0].id);
    memcpy(bundle + 139, b.opk[0].pub, 32);
    if (bundle_parse_single(&bb, bundle, sizeof bundle) != PARLEY_OK ||
        session_outbound_with(&sa, &a, &bb, r[5], r[6], NULL) != PARLEY_OK) {
        abort();
    }
    msg = malloc(256);
    if (session_encrypt(&sa, (const uint8_t *)"seed", 4, msg, 256, &len) != PARLEY_OK ||
        session_inbound_with(&sb, &b, msg, len, pt, sizeof pt, &pt_len, r[7], NULL) != PARLEY_OK) {
        abort();
    }
    free(msg);
    if (account_seal_with(&b, key, nonce, buf, sizeof buf, &len) != PARLEY_OK) {
        abort();
    }
    write_seed(dir, "account", 'A', buf, len);
    if (session_seal_with(&sa, key, nonce, buf, sizeof buf, &len) != PARLEY_OK) {
        abort();
    }
    write_seed(dir, "session-initiator", 'S', buf, len);
    if (session_seal_with(&sb, key, nonce, buf, sizeof buf, &len) != PARLEY_OK) {
        abort();
    }
    write_seed(dir, "session-responder", 'S', buf, len);
    session_wipe(&sa);
    session_wipe(&sb);
    /* Version 2: an account with KEM prekeys, and a PQXDH session. */
    {
        struct parley_kem_bundle kb;
        uint8_t rec[PARLEY_KEM_PREKEY_BYTES];
        if (account_rotate_kem_with(&b, buf) != PARLEY_OK ||
            account_add_kem_prekeys_with(&b, 1, buf + 64) != PARLEY_OK ||
            account_rotate_kem_with(&b, buf + 128) != PARLEY_OK ||
            account_kem_record(&b.kem_otk[0], rec) != PARLEY_OK ||
            kem_bundle_parse(&kb, rec, sizeof rec) != PARLEY_OK ||
            session_outbound_pq_with(&sa, &a, &bb, &kb, r[5], r[6], r[7], NULL) != PARLEY_OK ||
            account_seal_with(&b, key, nonce, buf, sizeof buf, &len) != PARLEY_OK) {
            abort();
        }
        write_seed(dir, "account-v2", 'A', buf, len);
        if (session_seal_with(&sa, key, nonce, buf, sizeof buf, &len) != PARLEY_OK) {
            abort();
        }
        write_seed(dir, "session-v2", 'S', buf, len);
        session_wipe(&sa);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t kind, *sealed, *again;
    size_t sealed_len = 0, again_len = 0, cap;
    parley_account *acc = NULL;
    parley_session *sess = NULL;

    /* Raw input as sealed bytes (header checks, tag check). */
    if (parley_account_unseal(&acc, key, data, size) == PARLEY_OK) {
        parley_account_free(acc);
        acc = NULL;
    }
    if (parley_session_unseal(&sess, key, data, size) == PARLEY_OK) {
        parley_session_free(sess);
        sess = NULL;
    }
    if (size < 1) {
        return 0;
    }
    kind = data[0] == 'A' ? PARLEY_STATE_KIND_ACCOUNT : PARLEY_STATE_KIND_SESSION;
    cap = size + 64;
    sealed = malloc(cap);
    if (seal_state(kind, data + 1, size - 1, key, nonce, sealed, cap, &sealed_len) != PARLEY_OK) {
        abort();
    }
    if (kind == PARLEY_STATE_KIND_ACCOUNT && parley_account_unseal(&acc, key, sealed, sealed_len) ==
                                                 PARLEY_OK) {
        /* What parses must serialise back to the same plain bytes. */
        again = malloc(parley_account_sealed_size(acc));
        if (account_seal_with(acc, key, nonce, again, parley_account_sealed_size(acc),
                              &again_len) != PARLEY_OK ||
            again_len != sealed_len || memcmp(again, sealed, sealed_len) != 0) {
            abort();
        }
        free(again);
        parley_account_free(acc);
    }
    if (kind == PARLEY_STATE_KIND_SESSION && parley_session_unseal(&sess, key, sealed, sealed_len) ==
                                                 PARLEY_OK) {
        again = malloc(parley_session_sealed_size(sess));
        if (session_seal_with(sess, key, nonce, again, parley_session_sealed_size(sess),
                              &again_len) != PARLEY_OK ||
            again_len != sealed_len || memcmp(again, sealed, sealed_len) != 0) {
            abort();
        }
        free(again);
        parley_session_free(sess);
    }
    free(sealed);
    return 0;
}
