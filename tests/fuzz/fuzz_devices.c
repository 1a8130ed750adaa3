/*
 * libFuzzer target: device lists (docs/PROTOCOL.md 14.1) and identity transfers (14.2). Every
 * input is taken three ways:
 *   - as a signed list of a fixed identity: parley_devices_open, then parley_devices_entry for
 *     every index. What opens must read back entry by entry and encode back to the same bytes;
 *     a refusal must write nothing; a list refused for its form must give no entry either.
 *   - as an unsigned list: signed by the fixed identity. The signer must refuse exactly what the
 *     reader refuses (same code, for the same list with a genuine signature), and what it signs
 *     must open, with the same entries.
 *   - as a transfer under a fixed key: parley_account_new_linked and its internal form. Only an
 *     authentic transfer may give an account, of the identity its seed makes; a refusal leaves
 *     no account and the internal form's account untouched.
 * Nothing may crash. With PARLEY_FUZZ_SEEDS=DIR set, LLVMFuzzerInitialize writes valid signed and
 * unsigned lists (one device, the vectors' two, the largest) and a valid transfer into DIR.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK 0xA5A5A5A5u
#define BUF_BYTES 4096 /* inputs longer than this are only opened, never signed */

static struct parley_account alice;
static const uint8_t transfer_key[32] = {5};
static struct parley_account marked, scratch;

static void seed_bytes(uint8_t out[32], uint8_t label)
{
    memset(out, 0, 32);
    out[0] = label;
    crypto_hash_sha256(out, out, 32);
}

/* list || Ed25519-Sign(seed, "parley-devices-v1" || IK || list), with no check of the list. */
static void sign_raw(const uint8_t *list, size_t len, uint8_t *out)
{
    static uint8_t msg[PARLEY_DEVICES_MESSAGE_BYTES(BUF_BYTES)];

    devices_message(msg, alice.identity_pub, list, len);
    memmove(out, list, len);
    if (parley_ed25519_sign(out + len, alice.identity_seed, msg, PARLEY_DEVICES_MESSAGE_BYTES(len)) !=
        PARLEY_OK) {
        abort();
    }
}

static void write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* A list of n devices with ids first, first + 1, ... and labels of label_len bytes. */
static size_t make_list(uint8_t *out, size_t n, uint32_t first, size_t label_len)
{
    size_t pos = 6;

    out[0] = PARLEY_DEVICES_VERSION;
    put_u32be(out + 1, 1);
    out[5] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        put_u32be(out + pos, first + (uint32_t)i);
        out[pos + 4] = (uint8_t)label_len;
        memset(out + pos + 5, 'A' + (int)i, label_len);
        pos += 5 + label_len;
    }
    return pos;
}

static void write_seeds(const char *dir)
{
    static const char label[] = "Chromium on Linux";
    uint8_t list[PARLEY_DEVICES_MAX_BYTES], out[PARLEY_IDENTITY_TRANSFER_BYTES], nonce[32];
    size_t len;

    len = make_list(list, 1, 1, 0);
    write_file(dir, "list-one", list, len);
    sign_raw(list, len, list);
    write_file(dir, "signed-one", list, len + 64);
    /* The vectors' list: 1 "Chromium on Linux", 7 "". */
    len = make_list(list, 2, 1, 0);
    list[6 + 4] = sizeof label - 1;
    memcpy(list + 6 + 5, label, sizeof label - 1);
    put_u32be(list + 6 + 5 + sizeof label - 1, 7);
    list[6 + 5 + sizeof label - 1 + 4] = 0;
    len += sizeof label - 1;
    write_file(dir, "list-two", list, len);
    sign_raw(list, len, list);
    write_file(dir, "signed-two", list, len + 64);
    len = make_list(list, PARLEY_MAX_DEVICES, PARLEY_DEVICE_ID_MAX - PARLEY_MAX_DEVICES + 1,
                    PARLEY_DEVICE_LABEL_MAX);
    write_file(dir, "list-largest", list, len);
    sign_raw(list, len, list);
    write_file(dir, "signed-largest", list, len + 64);
    seed_bytes(nonce, 7);
    if (account_export_identity_with(&alice, transfer_key, nonce, out) != PARLEY_OK) {
        abort();
    }
    write_file(dir, "transfer", out, sizeof out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t r[2][32];
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");

    (void)argc;
    (void)argv;
    seed_bytes(r[0], 1);
    seed_bytes(r[1], 2);
    if (parley_init() != PARLEY_OK || account_init(&alice, r[0], r[1]) != PARLEY_OK) {
        abort();
    }
    memset(&marked, 0x5A, sizeof marked);
    if (dir != NULL) {
        write_seeds(dir);
    }
    return 0;
}

/* Opens in as alice's signed list and reads every entry; returns the open's code. */
static int open_and_read(const uint8_t *in, size_t len)
{
    static uint8_t again[PARLEY_DEVICES_MAX_LIST];
    uint32_t gen = MARK, count = MARK, prev = 0, id, off, label_len;
    size_t pos = 6;
    int rc = parley_devices_open(alice.identity_pub, in, len, &gen, &count);

    if (rc != PARLEY_OK) {
        if (gen != MARK || count != MARK) {
            abort(); /* a refused list wrote an output */
        }
        if (rc == PARLEY_ERR_BAD_SIGNATURE) {
            /* Well formed (the parser passed it): its first entry reads. */
            if (parley_devices_entry(in, len, 0, &id, &off, &label_len) != PARLEY_OK) {
                abort();
            }
        } else {
            for (uint32_t i = 0; i <= PARLEY_MAX_DEVICES; i++) {
                id = off = label_len = MARK;
                if (parley_devices_entry(in, len, i, &id, &off, &label_len) == PARLEY_OK ||
                    id != MARK || off != MARK || label_len != MARK) {
                    abort(); /* a list refused for its form gave an entry */
                }
            }
        }
        return rc;
    }
    if (gen == 0 || count == 0 || count > PARLEY_MAX_DEVICES) {
        abort();
    }
    /* Every entry reads, and the entries encode back to the very list that was signed. */
    again[0] = PARLEY_DEVICES_VERSION;
    put_u32be(again + 1, gen);
    again[5] = (uint8_t)count;
    for (uint32_t i = 0; i < count; i++) {
        if (parley_devices_entry(in, len, i, &id, &off, &label_len) != PARLEY_OK || id <= prev ||
            id > PARLEY_DEVICE_ID_MAX || label_len > PARLEY_DEVICE_LABEL_MAX ||
            off != pos + 5 || off + label_len > len - 64) {
            abort();
        }
        prev = id;
        put_u32be(again + pos, id);
        again[pos + 4] = (uint8_t)label_len;
        memcpy(again + pos + 5, in + off, label_len);
        pos += 5 + label_len;
    }
    if (pos != len - 64 || memcmp(again, in, pos) != 0) {
        abort();
    }
    if (parley_devices_entry(in, len, count, &id, &off, &label_len) != PARLEY_ERR_ARGUMENT) {
        abort();
    }
    return rc;
}

/* The input as an unsigned list: the signer and the reader must agree on it. */
static void sign_and_open(const uint8_t *data, size_t size)
{
    static uint8_t out[BUF_BYTES + 64], raw[BUF_BYTES + 64];
    size_t out_len = 7;
    int rc, raw_rc;

    if (size == 0 || size > BUF_BYTES) {
        return;
    }
    out[0] = 0x33;
    rc = parley_account_sign_devices(&alice, data, size, out, sizeof out, &out_len);
    sign_raw(data, size, raw);
    if (rc != PARLEY_OK) {
        if (out_len != 7 || out[0] != 0x33) {
            abort(); /* a refused list was written */
        }
        raw_rc = parley_devices_open(alice.identity_pub, raw, size + 64, NULL, NULL);
        if (raw_rc != rc) {
            abort(); /* the reader refuses it otherwise, or accepts it */
        }
        return;
    }
    if (out_len != size + 64 || memcmp(out, raw, out_len) != 0) {
        abort(); /* list || deterministic signature */
    }
    if (open_and_read(out, out_len) != PARLEY_OK) {
        abort(); /* what is signed opens */
    }
}

/* The input as a transfer under transfer_key. */
static void link_transfer(const uint8_t *data, size_t size)
{
    static const uint8_t ad[] = "parley-identity-v1\x01";
    parley_account *acc = (parley_account *)&marked;
    uint8_t spk[32] = {9}, seed[32], pub[32];
    int rc = parley_account_new_linked(&acc, transfer_key, data, size), authentic;

    /* Authentic exactly when the AEAD opens (the version and the length first). */
    authentic = size == PARLEY_IDENTITY_TRANSFER_BYTES && data[0] == 0x01 &&
                parley_aead_open(seed, transfer_key, data + 1, ad, sizeof ad - 1, data + 13, 48) ==
                    PARLEY_OK;
    if ((rc == PARLEY_OK) != authentic || (rc != PARLEY_OK && acc != NULL)) {
        abort();
    }
    if (rc == PARLEY_OK) {
        if (parley_ed25519_public(pub, seed) != PARLEY_OK ||
            memcmp(acc->identity_pub, pub, 32) != 0 || acc->spk.id != 1 || acc->n_opk != 0) {
            abort();
        }
        parley_account_free(acc);
    }
    memcpy(&scratch, &marked, sizeof scratch);
    rc = account_new_linked_with(&scratch, transfer_key, data, size, spk);
    if ((rc == PARLEY_OK) != authentic ||
        (rc != PARLEY_OK && memcmp(&scratch, &marked, sizeof marked) != 0)) {
        abort();
    }
    account_wipe(&scratch);
    sodium_memzero(seed, sizeof seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)open_and_read(data, size);
    sign_and_open(data, size);
    link_transfer(data, size);
    return 0;
}
