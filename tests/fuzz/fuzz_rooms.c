/*
 * libFuzzer target: rooms (docs/PROTOCOL.md section 20). Every input is taken as:
 *   - a descriptor: parley_room_open, parley_room_member for every index, parley_room_role, and
 *     parley_room_accept against none and against a fixed valid version 1 (and the other way
 *     round). What opens must read back field by field and re-encode to the same bytes (the
 *     format has one encoding), and an accepted candidate must be one that opens; a refusal
 *     writes nothing.
 *   - its first PARLEY_ROOM_LEAVE_BYTES-ish bytes as a leave statement against the fixed
 *     descriptor, and its first 64 bytes as a challenge signature (with times drawn from it).
 * Nothing may crash. With PARLEY_FUZZ_SEEDS=DIR set, LLVMFuzzerInitialize writes valid
 * descriptors (the fixed one, a later version, the largest) and a leave statement into DIR.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct parley_account alice, bob;
static uint8_t base[PARLEY_ROOM_MAX_BYTES];
static size_t base_len;

static void seed_bytes(uint8_t out[32], uint8_t label)
{
    memset(out, 0, 32);
    out[0] = label;
    crypto_hash_sha256(out, out, 32);
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

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");
    uint8_t seed[32], spk[32], id[16] = {7, 7, 7};
    uint8_t members[PARLEY_ROOM_MAX_MEMBERS * 33];
    uint8_t out[PARLEY_ROOM_MAX_BYTES], leave[PARLEY_ROOM_LEAVE_BYTES];
    size_t len = 0;

    (void)argc;
    (void)argv;
    seed_bytes(seed, 1);
    seed_bytes(spk, 2);
    if (parley_init() != PARLEY_OK || account_init(&alice, seed, spk) != PARLEY_OK) {
        abort();
    }
    seed_bytes(seed, 3);
    if (account_init(&bob, seed, spk) != PARLEY_OK) {
        abort();
    }
    for (size_t i = 0; i < PARLEY_ROOM_MAX_MEMBERS; i++) {
        seed_bytes(members + i * 33, (uint8_t)(10 + i));
        members[i * 33 + 32] = PARLEY_ROOM_ROLE_MEMBER;
    }
    memcpy(members, alice.identity_pub, 32);
    members[32] = PARLEY_ROOM_ROLE_ADMIN;
    memcpy(members + 33, bob.identity_pub, 32);
    if (parley_account_room_sign(&alice, id, 1, (const uint8_t *)"fuzz", 4, members, 2, base,
                                 sizeof base, &base_len) != PARLEY_OK) {
        abort();
    }
    if (dir != NULL) {
        write_file(dir, "v1", base, base_len);
        if (parley_account_room_sign(&alice, id, 2, (const uint8_t *)"fuzz \xe2\x98\x95", 8,
                                     members, 5, out, sizeof out, &len) != PARLEY_OK) {
            abort();
        }
        write_file(dir, "v2", out, len);
        memset(out, 0, sizeof out);
        if (parley_account_room_sign(&alice, id, 9007199254740991.0,
                                     (const uint8_t *)"0123456789012345678901234567890123456789"
                                                      "012345678901234567890123",
                                     64, members, PARLEY_ROOM_MAX_MEMBERS, out, sizeof out,
                                     &len) != PARLEY_OK) {
            abort();
        }
        write_file(dir, "largest", out, len);
        if (parley_account_room_leave(&bob, base, base_len, leave) != PARLEY_OK) {
            abort();
        }
        write_file(dir, "leave", leave, sizeof leave);
    }
    return 0;
}

/* Re-encodes an opened descriptor from what the API reads back and signs it again (Ed25519 is
 * deterministic only for the same key: the signature bytes are copied from the input). */
static void check_reencode(const uint8_t *data, size_t size, const uint8_t rid[16], double version,
                           uint32_t count, const uint8_t signer[32], uint32_t name_off,
                           uint32_t name_len)
{
    uint8_t out[PARLEY_ROOM_MAX_BYTES];
    size_t pos = 0;

    if (size > sizeof out) {
        abort();
    }
    out[pos++] = PARLEY_ROOM_FORMAT;
    memcpy(out + pos, rid, 16);
    pos += 16;
    put_u64be(out + pos, (uint64_t)version);
    pos += 8;
    out[pos++] = (uint8_t)name_len;
    memcpy(out + pos, data + name_off, name_len);
    pos += name_len;
    out[pos++] = (uint8_t)count;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t role = 0;

        if (parley_room_member(data, size, i, out + pos, &role) != PARLEY_OK ||
            (role != PARLEY_ROOM_ROLE_ADMIN && role != PARLEY_ROOM_ROLE_MEMBER) ||
            parley_room_role(data, size, out + pos, &role) != PARLEY_OK) {
            abort();
        }
        out[pos + 32] = (uint8_t)role;
        pos += 33;
    }
    memcpy(out + pos, signer, 32);
    pos += 32;
    if (pos + 64 != size || memcmp(out, data, pos) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t rid[16], signer[32], key[32], sig[64] = {0}, nonce[32] = {0}, fp[32] = {0};
    uint32_t count = 0, name_off = 0, name_len = 0, role = 0;
    double version = 0;
    int rc, acc_none, acc_base, acc_rev;

    memset(rid, 0xee, sizeof rid);
    rc = parley_room_open(data, size, rid, &version, &count, signer, &name_off, &name_len);
    acc_none = parley_room_accept(NULL, 0, data, size);
    acc_base = parley_room_accept(base, base_len, data, size);
    acc_rev = parley_room_accept(data, size, base, base_len);
    if (rc == PARLEY_OK) {
        if (count == 0 || count > PARLEY_ROOM_MAX_MEMBERS || version < 1 ||
            version > PARLEY_ROOM_VERSION_MAX || name_len == 0 || name_len > PARLEY_ROOM_NAME_MAX ||
            size > PARLEY_ROOM_MAX_BYTES || size < PARLEY_ROOM_MIN_BYTES) {
            abort();
        }
        check_reencode(data, size, rid, version, count, signer, name_off, name_len);
        if (parley_room_member(data, size, count, key, &role) != PARLEY_ERR_ARGUMENT ||
            (acc_none == PARLEY_OK && version != 1) ||
            (acc_base == PARLEY_OK &&
             (version <= 1 || memcmp(signer, alice.identity_pub, 32) != 0)) ||
            acc_rev == PARLEY_ERR_ARGUMENT) {
            abort();
        }
    } else {
        /* an empty `current` is none: the fixed version 1 is then taken */
        if (rid[0] != 0xee || acc_none != rc || acc_base != rc ||
            acc_rev != (size == 0 ? PARLEY_OK : PARLEY_ERR_ARGUMENT) ||
            parley_room_accept_first(data, size, alice.identity_pub, bob.identity_pub) != rc) {
            abort();
        }
    }
    /* the same bytes as a leave statement and as a challenge signature */
    memset(key, 0xee, sizeof key);
    rc = parley_room_leave_verify(base, base_len, data, size, key);
    if (rc == PARLEY_OK) {
        if (size != PARLEY_ROOM_LEAVE_BYTES ||
            (memcmp(key, alice.identity_pub, 32) != 0 && memcmp(key, bob.identity_pub, 32) != 0)) {
            abort();
        }
    } else if (key[0] != 0xee) {
        abort();
    }
    if (size >= 64 + 16) {
        double issued = (double)(get_u64be(data + 64) & 0xFFFFFFFFFFull);
        double now = (double)(get_u64be(data + 72) & 0xFFFFFFFFFFull);

        memcpy(sig, data, 64);
        rc = parley_room_challenge_verify(base, base_len, bob.identity_pub, nonce, issued, fp, fp,
                                          now, 60000, sig);
        if (rc != PARLEY_ERR_BAD_SIGNATURE && rc != PARLEY_ERR_EXPIRED) {
            abort();
        }
    }
    return 0;
}
