/* File chunks (docs/PROTOCOL.md section 18): docs/vectors/files-v1.json and properties. */
#include "harness.h"
#include "parley.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int error_code(const char *name)
{
    if (strcmp(name, "AUTH") == 0) {
        return PARLEY_ERR_AUTH;
    }
    if (strcmp(name, "MALFORMED") == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (strcmp(name, "VERSION") == 0) {
        return PARLEY_ERR_VERSION;
    }
    return 1; /* never a return code: the check fails */
}

static int hex_field(const cJSON *obj, const char *name, uint8_t *out, size_t len)
{
    const char *hex = t_str(obj, name);

    return hex != NULL && t_unhex(out, len, hex) == (long)len;
}

/* Every chunk of every file seals to its vector and opens back; the running hash of the opened
 * chunks matches the file's SHA-256. */
static void test_vectors_files(void)
{
    cJSON *v = t_load_docs_vectors("files-v1.json");
    const cJSON *file;
    int count = 0;

    CHECK(v != NULL);
    cJSON_ArrayForEach(file, cJSON_GetObjectItemCaseSensitive(v, "files")) {
        uint8_t key[32], id[16], sha[32], out[256], back[256];
        const cJSON *chunk;
        struct parley_file_hash *h = NULL;
        size_t out_len = 0, back_len = 0;

        if (!hex_field(file, "key", key, 32) || !hex_field(file, "id", id, 16) ||
            !hex_field(file, "sha256", sha, 32) || parley_file_hash_new(&h) != PARLEY_OK) {
            cJSON_Delete(v);
            CHECK(0);
        }
        cJSON_ArrayForEach(chunk, cJSON_GetObjectItemCaseSensitive(file, "chunks")) {
            size_t pt_len = 0, sealed_len = 0;
            uint8_t *pt = t_unhex_alloc(t_str(chunk, "plaintext"), &pt_len);
            uint8_t *sealed = t_unhex_alloc(t_str(chunk, "sealed"), &sealed_len);
            uint32_t index = (uint32_t)cJSON_GetObjectItemCaseSensitive(chunk, "index")->valueint;
            int last = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(chunk, "last"));
            int ok = pt != NULL && sealed != NULL &&
                     parley_file_seal(out, sizeof out, &out_len, key, id, index, last, pt,
                                      pt_len) == PARLEY_OK &&
                     out_len == sealed_len && memcmp(out, sealed, sealed_len) == 0 &&
                     parley_file_open(back, sizeof back, &back_len, key, id, index, last, sealed,
                                      sealed_len, h) == PARLEY_OK &&
                     back_len == pt_len && (pt_len == 0 || memcmp(back, pt, pt_len) == 0);

            free(pt);
            free(sealed);
            if (!ok) {
                parley_file_hash_free(h);
                cJSON_Delete(v);
                CHECK(0);
            }
            count++;
        }
        if (parley_file_hash_check(h, sha) != PARLEY_OK) {
            parley_file_hash_free(h);
            cJSON_Delete(v);
            CHECK(0);
        }
        parley_file_hash_free(h);
    }
    cJSON_Delete(v);
    t_note("%d chunks", count);
    CHECK(count >= 6);
}

/* Every reject case fails with its named error and writes nothing. */
static void test_vectors_rejects(void)
{
    cJSON *v = t_load_docs_vectors("files-v1.json");
    const cJSON *files, *r;
    int count = 0;

    CHECK(v != NULL);
    files = cJSON_GetObjectItemCaseSensitive(v, "files");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(v, "rejects")) {
        const cJSON *file = cJSON_GetArrayItem(
            files, cJSON_GetObjectItemCaseSensitive(r, "file")->valueint);
        uint8_t key[32], id[16], out[256];
        size_t sealed_len = 0, out_len = 12345;
        uint8_t *sealed = t_unhex_alloc(t_str(r, "sealed"), &sealed_len);
        uint32_t index = (uint32_t)cJSON_GetObjectItemCaseSensitive(r, "index")->valueint;
        int last = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "last"));
        int want = error_code(t_str(r, "error"));
        int ok;

        memset(out, 0xee, sizeof out);
        ok = file != NULL && sealed != NULL && hex_field(file, "key", key, 32) &&
             hex_field(file, "id", id, 16) &&
             parley_file_open(out, sizeof out, &out_len, key, id, index, last, sealed, sealed_len,
                              NULL) == want &&
             out_len == 12345 && out[0] == 0xee;
        free(sealed);
        if (!ok) {
            t_note("reject case failed: %s", t_str(r, "why"));
            cJSON_Delete(v);
            CHECK(0);
        }
        count++;
    }
    cJSON_Delete(v);
    t_note("%d rejects", count);
    CHECK(count >= 10);
}

/* A refused chunk leaves the running hash as it was; limits and buffer sizes are enforced. */
static void test_files_properties(void)
{
    static uint8_t big[PARLEY_FILE_CHUNK_MAX + PARLEY_FILE_OVERHEAD + 1];
    static uint8_t bigpt[PARLEY_FILE_CHUNK_MAX + 1];
    uint8_t key[32] = {7}, id[16] = {9}, pt[100], sealed[200], out[100], d1[32], d2[32];
    size_t len = 0, out_len = 0;
    struct parley_file_hash *h = NULL;

    for (size_t i = 0; i < sizeof pt; i++) {
        pt[i] = (uint8_t)i;
    }
    CHECK_RC(parley_file_seal(sealed, sizeof sealed, &len, key, id, 5, 0, pt, sizeof pt), PARLEY_OK);
    CHECK(len == sizeof pt + PARLEY_FILE_OVERHEAD);
    CHECK_RC(parley_file_hash_new(&h), PARLEY_OK);
    CHECK_RC(parley_file_hash_digest(h, d1), PARLEY_OK);
    sealed[30] ^= 1;
    if (parley_file_open(out, sizeof out, &out_len, key, id, 5, 0, sealed, len, h) !=
        PARLEY_ERR_AUTH || parley_file_hash_digest(h, d2) != PARLEY_OK || memcmp(d1, d2, 32) != 0) {
        parley_file_hash_free(h);
        CHECK(0);
    }
    sealed[30] ^= 1;
    /* too small an output; verify-only (out NULL) absorbs the plaintext into the hash */
    if (parley_file_open(out, 10, &out_len, key, id, 5, 0, sealed, len, h) != PARLEY_ERR_BUFFER ||
        parley_file_open(NULL, 0, &out_len, key, id, 5, 0, sealed, len, h) != PARLEY_OK ||
        out_len != sizeof pt || parley_file_hash_update(h, NULL, 0) != PARLEY_OK) {
        parley_file_hash_free(h);
        CHECK(0);
    }
    crypto_hash_sha256(d1, pt, sizeof pt);
    CHECK_RC(parley_file_hash_check(h, d1), PARLEY_OK);
    d1[31] ^= 1;
    CHECK_RC(parley_file_hash_check(h, d1), PARLEY_ERR_AUTH);
    parley_file_hash_free(h);
    /* the same index sealed as last uses another nonce: the ciphertexts differ */
    CHECK_RC(parley_file_seal(big, sizeof big, &len, key, id, 5, 1, pt, sizeof pt), PARLEY_OK);
    CHECK(memcmp(big + PARLEY_FILE_HEADERBYTES, sealed + PARLEY_FILE_HEADERBYTES, 16) != 0);
    CHECK_RC(parley_file_seal(sealed, sizeof sealed, &len, key, id, 5, 2, pt, sizeof pt),
             PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_file_seal(sealed, sizeof pt + 21, &len, key, id, 5, 0, pt, sizeof pt),
             PARLEY_ERR_BUFFER);
    CHECK_RC(parley_file_seal(big, sizeof big, &len, key, id, 0, 0, bigpt,
                              PARLEY_FILE_CHUNK_MAX + 1),
             PARLEY_ERR_TOO_LARGE);
    big[0] = PARLEY_FILE_VERSION;
    big[1] = 0;
    memset(big + 2, 0, 4);
    CHECK_RC(parley_file_open(NULL, 0, &out_len, key, id, 0, 0, big, sizeof big, NULL),
             PARLEY_ERR_TOO_LARGE);
    CHECK_RC(parley_file_seal(big, sizeof big, &len, key, id, 0xffffffffu, 1, bigpt,
                              PARLEY_FILE_CHUNK_MAX), PARLEY_OK);
    CHECK_RC(parley_file_open(NULL, 0, &out_len, key, id, 0xffffffffu, 1, big, len, NULL),
             PARLEY_OK);
    CHECK(out_len == PARLEY_FILE_CHUNK_MAX);
    CHECK_RC(parley_file_open(NULL, 0, NULL, key, id, 0, 0, big, len, NULL), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_file_hash_new(NULL), PARLEY_ERR_ARGUMENT);
    parley_file_hash_free(NULL);
}

void suite_files(void)
{
    t_run("files: docs/vectors/files-v1.json chunks seal, open and hash", test_vectors_files);
    t_run("files: docs/vectors/files-v1.json rejects", test_vectors_rejects);
    t_run("files: refused chunks, limits and buffers", test_files_properties);
}
