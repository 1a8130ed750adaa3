/* AES-256-GCM: Wycheproof vectors, known answers, tampering and argument checks. */
#include "harness.h"
#include "parley.h"

#include <stdlib.h>
#include <string.h>

/* Wycheproof aes_gcm_test.json: every group with a 256-bit key, 96-bit IV and 128-bit tag. */
static void test_wycheproof(void)
{
    cJSON *doc = t_load_vectors("wycheproof/aes_gcm_test.json");
    const cJSON *group;
    int run = 0, valid = 0, invalid = 0, bad = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(doc, "testGroups"))
    {
        const cJSON *tc;
        if (cJSON_GetObjectItemCaseSensitive(group, "keySize")->valueint != 256 ||
            cJSON_GetObjectItemCaseSensitive(group, "ivSize")->valueint != 96 ||
            cJSON_GetObjectItemCaseSensitive(group, "tagSize")->valueint != 128) {
            continue;
        }
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            size_t klen, nlen, alen, mlen, clen, tlen;
            uint8_t *key = t_unhex_alloc(t_str(tc, "key"), &klen);
            uint8_t *iv = t_unhex_alloc(t_str(tc, "iv"), &nlen);
            uint8_t *aad = t_unhex_alloc(t_str(tc, "aad"), &alen);
            uint8_t *msg = t_unhex_alloc(t_str(tc, "msg"), &mlen);
            uint8_t *ct = t_unhex_alloc(t_str(tc, "ct"), &clen);
            uint8_t *tag = t_unhex_alloc(t_str(tc, "tag"), &tlen);
            int is_valid = strcmp(t_str(tc, "result"), "valid") == 0;
            uint8_t *sealed = malloc(clen + tlen + 1);
            uint8_t *opened = malloc(clen + 1);
            int ok = key && iv && aad && msg && ct && tag && sealed && opened && klen == 32 &&
                     nlen == 12 && tlen == 16;

            if (ok) {
                int rc;
                memcpy(sealed, ct, clen);
                memcpy(sealed + clen, tag, tlen);
                rc = parley_aead_open(opened, key, iv, aad, alen, sealed, clen + tlen);
                if (is_valid) {
                    ok = rc == PARLEY_OK && clen == mlen && memcmp(opened, msg, mlen) == 0;
                    /* Sealing the message must reproduce ciphertext and tag exactly. */
                    ok = ok && parley_aead_seal(sealed, key, iv, aad, alen, msg, mlen) == PARLEY_OK &&
                         memcmp(sealed, ct, clen) == 0 && memcmp(sealed + clen, tag, tlen) == 0;
                    valid++;
                } else {
                    ok = rc == PARLEY_ERR_AUTH;
                    invalid++;
                }
            }
            if (!ok) {
                t_note("Wycheproof AES-GCM tcId %d: wrong result",
                       cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint);
                bad++;
            }
            run++;
            free(key), free(iv), free(aad), free(msg), free(ct), free(tag), free(sealed),
                free(opened);
        }
    }
    cJSON_Delete(doc);
    t_note("%d Wycheproof AES-256-GCM vectors (%d valid, %d invalid), %d wrong", run, valid,
           invalid, bad);
    CHECK(run >= 60);
    CHECK(bad == 0);
}

static void test_round_trip_and_in_place(void)
{
    uint8_t key[32], nonce[12], ad[7] = "header";
    uint8_t msg[300], buf[300 + 16], out[300];

    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = (uint8_t)(i * 7 + 1);
    }
    memset(nonce, 0x42, sizeof nonce);
    for (size_t len = 0; len <= sizeof msg; len += 37) {
        for (size_t i = 0; i < len; i++) {
            msg[i] = (uint8_t)(i ^ len);
        }
        CHECK_RC(parley_aead_seal(buf, key, nonce, ad, sizeof ad, msg, len), PARLEY_OK);
        CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, buf, len + 16), PARLEY_OK);
        CHECK(len == 0 || memcmp(out, msg, len) == 0);
        /* In place, both ways. */
        memcpy(buf, msg, len);
        CHECK_RC(parley_aead_seal(buf, key, nonce, NULL, 0, buf, len), PARLEY_OK);
        CHECK_RC(parley_aead_open(buf, key, nonce, NULL, 0, buf, len + 16), PARLEY_OK);
        CHECK(len == 0 || memcmp(buf, msg, len) == 0);
    }
}

/* Every single-bit flip of ciphertext or tag, and any change of key, nonce or AD, is refused,
 * and the refused output is zeroed. */
static void test_tampering(void)
{
    uint8_t key[32] = {1}, nonce[12] = {2}, ad[4] = {3, 4, 5, 6};
    uint8_t msg[40], sealed[56], copy[56], out[40];

    memset(msg, 0xab, sizeof msg);
    CHECK_RC(parley_aead_seal(sealed, key, nonce, ad, sizeof ad, msg, sizeof msg), PARLEY_OK);
    for (size_t bit = 0; bit < sizeof sealed * 8; bit++) {
        memcpy(copy, sealed, sizeof copy);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(out, 0x55, sizeof out);
        CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, copy, sizeof copy),
                 PARLEY_ERR_AUTH);
        for (size_t i = 0; i < sizeof out; i++) {
            CHECK(out[i] == 0);
        }
    }
    key[31] ^= 1;
    CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, sealed, sizeof sealed),
             PARLEY_ERR_AUTH);
    key[31] ^= 1;
    nonce[11] ^= 1;
    CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, sealed, sizeof sealed),
             PARLEY_ERR_AUTH);
    nonce[11] ^= 1;
    CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad - 1, sealed, sizeof sealed),
             PARLEY_ERR_AUTH);
    /* Truncations, down to shorter than a tag. */
    for (size_t len = 0; len < sizeof sealed; len++) {
        CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, sealed, len), PARLEY_ERR_AUTH);
    }
    CHECK_RC(parley_aead_open(out, key, nonce, ad, sizeof ad, sealed, sizeof sealed), PARLEY_OK);
}

static void test_arguments(void)
{
    uint8_t key[32] = {0}, nonce[12] = {0}, buf[32] = {0};

    CHECK_RC(parley_aead_seal(NULL, key, nonce, NULL, 0, buf, 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_seal(buf, NULL, nonce, NULL, 0, buf, 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_seal(buf, key, NULL, NULL, 0, buf, 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_seal(buf, key, nonce, NULL, 1, buf, 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_seal(buf, key, nonce, NULL, 0, NULL, 1), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_open(buf, key, nonce, NULL, 0, NULL, 16), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_aead_seal(buf, key, nonce, NULL, 0, buf, PARLEY_AEAD_MAX_PLAINTEXT + 1),
             PARLEY_ERR_TOO_LARGE);
    CHECK(parley_aead_keybytes() == 32 && parley_aead_noncebytes() == 12 &&
          parley_aead_tagbytes() == 16);
    CHECK(strcmp(parley_strerror(PARLEY_ERR_AUTH), "authentication failed") == 0);
    CHECK(strcmp(parley_strerror(12345), "unknown error") == 0);
}

static void test_selftest(void)
{
    CHECK_RC(parley_selftest(), PARLEY_OK);
}

void suite_aead(void)
{
    if (t_vectors_dir() != NULL) {
        t_run("aead: Wycheproof AES-256-GCM", test_wycheproof);
    } else {
        t_skip("aead: Wycheproof AES-256-GCM", "shared vectors folder absent");
    }
    t_run("aead: round trip, in place, lengths 0..300", test_round_trip_and_in_place);
    t_run("aead: every bit flip, wrong key/nonce/AD, truncation", test_tampering);
    t_run("aead: argument checks and sizes", test_arguments);
    t_run("core: self-test", test_selftest);
}
