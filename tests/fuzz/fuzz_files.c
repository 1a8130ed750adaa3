/*
 * libFuzzer target: file chunks (docs/PROTOCOL.md section 18). The first input byte picks the
 * expected index (low bits) and the last flag (top bit); the rest is opened as a sealed chunk of
 * a fixed file, with and without an output buffer and a running hash. Nothing may crash; a
 * refused chunk must leave the hash unchanged and write nothing; an accepted one must be one the
 * fixed key sealed (it seals back to the same bytes). With PARLEY_FUZZ_SEEDS=DIR set,
 * LLVMFuzzerInitialize writes valid chunks (first, middle, last, empty, largest) into DIR.
 */
#include "parley.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[PARLEY_FILE_KEYBYTES] = {3, 1, 4, 1, 5, 9, 2, 6};
static const uint8_t id[PARLEY_FILE_IDBYTES] = {2, 7, 1, 8, 2, 8};
static uint8_t *pt_buf, *out_buf, *reseal;

static void write_seed(const char *dir, const char *name, uint8_t sel, size_t pt_len)
{
    char path[4096];
    size_t len = 0;
    FILE *f;

    if (parley_file_seal(reseal + 1, PARLEY_FILE_CHUNK_MAX + PARLEY_FILE_OVERHEAD, &len, key, id,
                         sel & 0x7f, sel >> 7, pt_buf, pt_len) != PARLEY_OK) {
        abort();
    }
    reseal[0] = sel;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(reseal, 1, len + 1, f) != len + 1 || fclose(f) != 0) {
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("PARLEY_FUZZ_SEEDS");

    (void)argc;
    (void)argv;
    pt_buf = malloc(PARLEY_FILE_CHUNK_MAX);
    out_buf = malloc(PARLEY_FILE_CHUNK_MAX);
    reseal = malloc(PARLEY_FILE_CHUNK_MAX + PARLEY_FILE_OVERHEAD + 1);
    if (parley_init() != PARLEY_OK || pt_buf == NULL || out_buf == NULL || reseal == NULL) {
        abort();
    }
    for (size_t i = 0; i < PARLEY_FILE_CHUNK_MAX; i++) {
        pt_buf[i] = (uint8_t)(i * 29 + 11);
    }
    if (dir != NULL) {
        write_seed(dir, "first", 0, 64);
        write_seed(dir, "middle", 5, 300);
        write_seed(dir, "last", 0x80 | 9, 17);
        write_seed(dir, "empty", 0x80, 0);
        write_seed(dir, "largest", 1, PARLEY_FILE_CHUNK_MAX);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parley_file_hash *h = NULL;
    uint8_t before[32], after[32];
    size_t len = 0, len2 = 0, rlen = 0;
    uint32_t index;
    int last, rc, rc2;

    if (size < 1) {
        return 0;
    }
    index = data[0] & 0x7f;
    last = data[0] >> 7;
    if (parley_file_hash_new(&h) != PARLEY_OK || parley_file_hash_digest(h, before) != PARLEY_OK) {
        abort();
    }
    memset(out_buf, 0, 64);
    rc = parley_file_open(out_buf, PARLEY_FILE_CHUNK_MAX, &len, key, id, index, last, data + 1,
                          size - 1, NULL);
    rc2 = parley_file_open(NULL, 0, &len2, key, id, index, last, data + 1, size - 1, h);
    if (rc != rc2 || parley_file_hash_digest(h, after) != PARLEY_OK) {
        abort();
    }
    if (rc == PARLEY_OK) {
        /* accepted: it must be exactly what the key seals for that plaintext and position */
        if (len != len2 ||
            parley_file_seal(reseal, PARLEY_FILE_CHUNK_MAX + PARLEY_FILE_OVERHEAD, &rlen, key, id,
                             index, last, out_buf, len) != PARLEY_OK ||
            rlen != size - 1 || memcmp(reseal, data + 1, rlen) != 0) {
            abort();
        }
    } else if (memcmp(before, after, sizeof before) != 0 ||
               (size > 1 + PARLEY_FILE_OVERHEAD && out_buf[0] != 0)) {
        abort();
    }
    parley_file_hash_free(h);
    return 0;
}
