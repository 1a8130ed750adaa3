/*
 * Files (docs/PROTOCOL.md section 18): chunks sealed with AES-256-GCM under a per-file key, and
 * the running SHA-256 of a file's plaintext.
 *
 * A sealed chunk is version(1) || flags(1) || index(4, big-endian) || ciphertext || tag(16). The
 * nonce is 0^7 || flags || be32(index) and the associated data version || file id || be32(index)
 * || flags, so a chunk opens only at its own position of its own file, and only as final (or not)
 * as it was sealed: reordering, duplication, truncation and splicing between files all fail.
 * Opening decrypts into a scratch buffer of its own, wiped before it is freed, and hands the
 * plaintext on only after the tag verified (parley_aead_open checks the tag before decrypting).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { AD_BYTES = 1 + PARLEY_FILE_IDBYTES + 4 + 1 };

struct parley_file_hash {
    crypto_hash_sha256_state st;
};

size_t parley_file_overhead(void) { return PARLEY_FILE_OVERHEAD; }
size_t parley_file_chunk_max(void) { return PARLEY_FILE_CHUNK_MAX; }

static void chunk_nonce_ad(uint8_t nonce[PARLEY_AEAD_NONCEBYTES], uint8_t ad[AD_BYTES],
                           const uint8_t id[PARLEY_FILE_IDBYTES], uint32_t index, uint8_t flags)
{
    memset(nonce, 0, PARLEY_AEAD_NONCEBYTES);
    nonce[7] = flags;
    put_u32be(nonce + 8, index);
    ad[0] = PARLEY_FILE_VERSION;
    memcpy(ad + 1, id, PARLEY_FILE_IDBYTES);
    put_u32be(ad + 1 + PARLEY_FILE_IDBYTES, index);
    ad[AD_BYTES - 1] = flags;
}

int parley_file_seal(uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t key[PARLEY_FILE_KEYBYTES], const uint8_t id[PARLEY_FILE_IDBYTES],
                     uint32_t index, int last, const uint8_t *pt, size_t pt_len)
{
    uint8_t nonce[PARLEY_AEAD_NONCEBYTES], ad[AD_BYTES];
    uint8_t flags;
    int rc;

    if (out == NULL || out_len == NULL || key == NULL || id == NULL || (pt == NULL && pt_len != 0) ||
        (last != 0 && last != 1)) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (pt_len > PARLEY_FILE_CHUNK_MAX) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (out_cap < pt_len + PARLEY_FILE_OVERHEAD) {
        return PARLEY_ERR_BUFFER;
    }
    flags = (uint8_t)last;
    chunk_nonce_ad(nonce, ad, id, index, flags);
    rc = parley_aead_seal(out + PARLEY_FILE_HEADERBYTES, key, nonce, ad, sizeof ad, pt, pt_len);
    if (rc != PARLEY_OK) {
        return rc;
    }
    out[0] = PARLEY_FILE_VERSION;
    out[1] = flags;
    put_u32be(out + 2, index);
    *out_len = pt_len + PARLEY_FILE_OVERHEAD;
    return PARLEY_OK;
}

int parley_file_open(uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t key[PARLEY_FILE_KEYBYTES], const uint8_t id[PARLEY_FILE_IDBYTES],
                     uint32_t index, int last, const uint8_t *sealed, size_t sealed_len,
                     struct parley_file_hash *hash)
{
    uint8_t nonce[PARLEY_AEAD_NONCEBYTES], ad[AD_BYTES];
    uint8_t *scratch;
    size_t pt_len;
    int rc;

    if (out_len == NULL || key == NULL || id == NULL || (sealed == NULL && sealed_len != 0) ||
        (last != 0 && last != 1)) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (sealed_len < 1) {
        return PARLEY_ERR_MALFORMED;
    }
    if (sealed[0] != PARLEY_FILE_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    if (sealed_len < PARLEY_FILE_OVERHEAD) {
        return PARLEY_ERR_MALFORMED;
    }
    if (sealed[1] != (uint8_t)last || get_u32be(sealed + 2) != index) {
        return PARLEY_ERR_MALFORMED;
    }
    pt_len = sealed_len - PARLEY_FILE_OVERHEAD;
    if (pt_len > PARLEY_FILE_CHUNK_MAX) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (out != NULL && out_cap < pt_len) {
        return PARLEY_ERR_BUFFER;
    }
    scratch = malloc(pt_len + PARLEY_AEAD_TAGBYTES);
    if (scratch == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    chunk_nonce_ad(nonce, ad, id, index, (uint8_t)last);
    rc = parley_aead_open(scratch, key, nonce, ad, sizeof ad, sealed + PARLEY_FILE_HEADERBYTES,
                          sealed_len - PARLEY_FILE_HEADERBYTES);
    if (rc == PARLEY_OK) {
        if (hash != NULL) {
            crypto_hash_sha256_update(&hash->st, scratch, pt_len);
        }
        if (out != NULL && pt_len != 0) {
            memcpy(out, scratch, pt_len);
        }
        *out_len = pt_len;
    }
    sodium_memzero(scratch, pt_len + PARLEY_AEAD_TAGBYTES);
    free(scratch);
    return rc;
}

int parley_file_hash_new(struct parley_file_hash **out)
{
    struct parley_file_hash *h;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    h = malloc(sizeof *h);
    if (h == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    crypto_hash_sha256_init(&h->st);
    *out = h;
    return PARLEY_OK;
}

int parley_file_hash_update(struct parley_file_hash *hash, const uint8_t *data, size_t len)
{
    if (hash == NULL || (data == NULL && len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    crypto_hash_sha256_update(&hash->st, data, len);
    return PARLEY_OK;
}

int parley_file_hash_digest(const struct parley_file_hash *hash, uint8_t out[PARLEY_FILE_HASHBYTES])
{
    crypto_hash_sha256_state copy;

    if (hash == NULL || out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    copy = hash->st;
    crypto_hash_sha256_final(&copy, out);
    sodium_memzero(&copy, sizeof copy);
    return PARLEY_OK;
}

int parley_file_hash_check(const struct parley_file_hash *hash,
                           const uint8_t expected[PARLEY_FILE_HASHBYTES])
{
    uint8_t digest[PARLEY_FILE_HASHBYTES];
    int rc;

    if (expected == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_file_hash_digest(hash, digest);
    if (rc == PARLEY_OK && crypto_verify_32(digest, expected) != 0) {
        rc = PARLEY_ERR_AUTH;
    }
    sodium_memzero(digest, sizeof digest);
    return rc;
}

void parley_file_hash_free(struct parley_file_hash *hash)
{
    if (hash != NULL) {
        sodium_memzero(hash, sizeof *hash);
        free(hash);
    }
}
