/*
 * libFuzzer target: sealed sender envelopes. Every input is opened raw with a fixed recipient
 * account. Its first byte then picks a structured mode:
 *   'M' (mutate): the rest is a list of (u16 offset, u8 xor) edits applied to a valid envelope of
 *       the size class the second byte picks; the edited envelope must open exactly when no byte
 *       changed, and a refusal must write nothing but a zeroed sender identity.
 *   'C' (content): the rest, padded with zeros or cut to a size class, is sealed as the content
 *       of an envelope (past both tags); it must open exactly when it is well formed, and what
 *       opens must encode back to the same content.
 * Nothing may crash. With PARLEY_FUZZ_SEEDS=DIR set, LLVMFuzzerInitialize writes a seed for each
 * mode and each size class, and valid envelopes, into DIR.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t classes[] = {512, 2048, 8192, 32768, PARLEY_SEALED_MAX};
enum { N_CLASSES = sizeof classes / sizeof classes[0] };

static struct parley_account sender, recipient;
static uint8_t e[32];
static uint8_t *valid[N_CLASSES];  /* one valid envelope per size class */
static uint8_t *pattern, *msg_out; /* the valid envelopes' message; opened messages */

static void seed_bytes(uint8_t out[32], uint8_t label)
{
    memset(out, 0, 32);
    out[0] = label;
    crypto_hash_sha256(out, out, 32);
}

/* A message that fills class i up to its last byte but a few. */
static size_t fill_len(size_t i)
{
    return classes[i] - PARLEY_SEALED_OVERHEAD - PARLEY_SEALED_CONTENT_FIXED - 5 - 3;
}

static void write_file(const char *dir, const char *name, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(a, 1, a_len, f);
        if (b_len != 0) {
            fwrite(b, 1, b_len, f);
        }
        fclose(f);
    }
}

static void write_seeds(const char *dir)
{
    static const uint8_t edits[6] = {0, 40, 0x01, 0x01, 0x90, 0x80}, no_edit[3] = {0, 40, 0};
    char name[64];
    uint8_t head[2];
    uint8_t *plain = malloc(PARLEY_SEALED_MAX);

    if (plain == NULL) {
        abort();
    }
    for (size_t i = 0; i < N_CLASSES; i++) {
        snprintf(name, sizeof name, "envelope-%zu", classes[i]);
        write_file(dir, name, valid[i], classes[i], NULL, 0);
        head[0] = 'M';
        head[1] = (uint8_t)i;
        snprintf(name, sizeof name, "mutate-%zu", classes[i]);
        write_file(dir, name, head, 2, edits, sizeof edits);
        snprintf(name, sizeof name, "unchanged-%zu", classes[i]);
        write_file(dir, name, head, 2, no_edit, sizeof no_edit);
        /* The content of the valid envelope, without its zero padding (the mode adds it). */
        sealed_content_write(plain, classes[i] - PARLEY_SEALED_OVERHEAD, (const uint8_t *)"alice",
                             5, pattern, fill_len(i));
        head[0] = 'C';
        snprintf(name, sizeof name, "content-%zu", classes[i]);
        write_file(dir, name, head, 2, plain, PARLEY_SEALED_CONTENT_FIXED + 5 + fill_len(i));
    }
    free(plain);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t r[4][32];
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");
    size_t len = 0;

    (void)argc;
    (void)argv;
    for (uint8_t i = 0; i < 4; i++) {
        seed_bytes(r[i], (uint8_t)(i + 1));
    }
    seed_bytes(e, 9);
    pattern = malloc(PARLEY_SEALED_MAX);
    msg_out = malloc(PARLEY_SEALED_MAX);
    if (parley_init() != PARLEY_OK || pattern == NULL || msg_out == NULL ||
        account_init(&sender, r[0], r[1]) != PARLEY_OK ||
        account_init(&recipient, r[2], r[3]) != PARLEY_OK) {
        abort();
    }
    for (size_t i = 0; i < PARLEY_SEALED_MAX; i++) {
        pattern[i] = (uint8_t)(i * 13 + 5);
    }
    for (size_t i = 0; i < N_CLASSES; i++) {
        valid[i] = malloc(classes[i]);
        if (valid[i] == NULL ||
            sealed_seal_with(&sender, recipient.identity_pub, (const uint8_t *)"alice", 5, pattern,
                             fill_len(i), e, valid[i], classes[i], &len) != PARLEY_OK ||
            len != classes[i]) {
            abort();
        }
    }
    if (dir != NULL) {
        write_seeds(dir);
    }
    return 0;
}

/* Opens env; a refusal must leave only a zeroed sender identity behind. */
static int open_checked(const uint8_t *env, size_t len, uint8_t ik[32], uint8_t name[64],
                        size_t *name_len, size_t *msg_len)
{
    int rc;

    memset(ik, 0xA5, 32);
    *name_len = 999;
    *msg_len = 999;
    rc = parley_sealed_open(&recipient, env, len, ik, name, PARLEY_SEALED_NAME_MAX, name_len,
                            msg_out, PARLEY_SEALED_MAX, msg_len);
    if (rc != PARLEY_OK && (!sodium_is_zero(ik, 32) || *name_len != 999 || *msg_len != 999)) {
        abort(); /* a refused envelope wrote an output */
    }
    if (rc == PARLEY_OK && (*name_len == 0 || *name_len > PARLEY_SEALED_NAME_MAX ||
                            *msg_len > len - PARLEY_SEALED_OVERHEAD - 6)) {
        abort();
    }
    return rc;
}

static void mutate(const uint8_t *data, size_t size)
{
    uint8_t ik[32], name[64], *env;
    size_t i, len, name_len = 0, msg_len = 0;
    int rc;

    if (size < 2) {
        return;
    }
    i = data[1] % N_CLASSES;
    len = classes[i];
    env = malloc(len);
    memcpy(env, valid[i], len);
    for (size_t k = 2; k + 3 <= size; k += 3) {
        env[(size_t)(data[k] << 8 | data[k + 1]) % len] ^= data[k + 2];
    }
    rc = open_checked(env, len, ik, name, &name_len, &msg_len);
    if ((rc == PARLEY_OK) != (memcmp(env, valid[i], len) == 0)) {
        abort(); /* an edited envelope opened, or the original did not */
    }
    if (rc == PARLEY_OK && (memcmp(ik, sender.identity_pub, 32) != 0 || name_len != 5 ||
                            memcmp(name, "alice", 5) != 0 || msg_len != fill_len(i) ||
                            memcmp(msg_out, pattern, msg_len) != 0)) {
        abort();
    }
    free(env);
}

/* The content rules of PROTOCOL.md 13.3 step 5, written out once more. */
static int is_well_formed(const uint8_t *plain, size_t len)
{
    size_t name_len = plain[0], msg_len, used;

    if (name_len == 0 || name_len > PARLEY_SEALED_NAME_MAX) {
        return 0;
    }
    msg_len = get_u32be(plain + 1 + name_len);
    if (msg_len > len - PARLEY_SEALED_CONTENT_FIXED - name_len) {
        return 0;
    }
    used = PARLEY_SEALED_CONTENT_FIXED + name_len + msg_len;
    for (size_t i = used; i < len; i++) {
        if (plain[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void content(const uint8_t *data, size_t size)
{
    uint8_t ik[32], name[64], *env, *plain, *again;
    size_t i, content_len, name_len = 0, msg_len = 0;
    int rc, well_formed;

    if (size < 2) {
        return;
    }
    i = data[1] % N_CLASSES;
    content_len = classes[i] - PARLEY_SEALED_OVERHEAD;
    plain = calloc(1, content_len);
    again = malloc(content_len);
    env = malloc(classes[i]);
    memcpy(plain, data + 2, size - 2 < content_len ? size - 2 : content_len);
    if (sealed_encrypt_with(&sender, recipient.identity_pub, e, plain, content_len, env) !=
        PARLEY_OK) {
        abort();
    }
    well_formed = is_well_formed(plain, content_len);
    rc = open_checked(env, classes[i], ik, name, &name_len, &msg_len);
    if (rc == PARLEY_OK) {
        /* What opened encodes back to the very content that was sealed. */
        sealed_content_write(again, content_len, name, name_len, msg_out, msg_len);
        if (!well_formed || memcmp(again, plain, content_len) != 0 ||
            memcmp(ik, sender.identity_pub, 32) != 0) {
            abort();
        }
    } else if (rc != PARLEY_ERR_MALFORMED || well_formed) {
        abort(); /* authentic content is refused only as malformed, and only when it is */
    }
    free(plain);
    free(again);
    free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (data != NULL) {
        uint8_t ik[32], name[64];
        size_t name_len = 0, msg_len = 0;
        (void)open_checked(data, size, ik, name, &name_len, &msg_len);
    }
    if (size >= 1 && data[0] == 'M') {
        mutate(data, size);
    } else if (size >= 1 && data[0] == 'C') {
        content(data, size);
    }
    return 0;
}
