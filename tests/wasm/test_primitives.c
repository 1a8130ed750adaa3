/* HKDF, HMAC, SHA-2, Ed25519 and Argon2id: RFC and Wycheproof vectors, and parameter checks. */
#include "harness.h"
#include "parley.h"

#include <stdlib.h>
#include <string.h>

static void test_hkdf_rfc5869(void)
{
    cJSON *doc = t_load_vectors("rfc/rfc5869_hkdf_sha256.json");
    const cJSON *tc;
    int run = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
    {
        size_t ikm_len, salt_len, info_len, okm_len;
        uint8_t *ikm = t_unhex_alloc(t_str(tc, "ikm"), &ikm_len);
        uint8_t *salt = t_unhex_alloc(t_str(tc, "salt"), &salt_len);
        uint8_t *info = t_unhex_alloc(t_str(tc, "info"), &info_len);
        uint8_t *okm = t_unhex_alloc(t_str(tc, "okm"), &okm_len);
        uint8_t out[128];
        int ok = ikm && salt && info && okm && okm_len <= sizeof out &&
                 (size_t)cJSON_GetObjectItemCaseSensitive(tc, "length")->valueint == okm_len &&
                 parley_hkdf_sha256(out, okm_len, ikm, ikm_len, salt, salt_len, info, info_len) ==
                     PARLEY_OK &&
                 memcmp(out, okm, okm_len) == 0;
        free(ikm), free(salt), free(info), free(okm);
        if (!ok) {
            t_note("HKDF %s wrong", t_str(tc, "id"));
        }
        CHECK(ok);
        run++;
    }
    cJSON_Delete(doc);
    t_note("%d RFC 5869 vectors", run);
    CHECK(run == 3);
}

static void test_hkdf_limits(void)
{
    uint8_t out[PARLEY_HKDF_MAX_OUTPUT + 1], a[32], b[32];

    CHECK_RC(parley_hkdf_sha256(out, PARLEY_HKDF_MAX_OUTPUT, (const uint8_t *)"k", 1, NULL, 0,
                                NULL, 0),
             PARLEY_OK);
    CHECK_RC(parley_hkdf_sha256(out, PARLEY_HKDF_MAX_OUTPUT + 1, (const uint8_t *)"k", 1, NULL, 0,
                                NULL, 0),
             PARLEY_ERR_TOO_LARGE);
    CHECK_RC(parley_hkdf_sha256(out, 0, NULL, 0, NULL, 0, NULL, 0), PARLEY_ERR_ARGUMENT);
    /* An empty salt is 32 zero bytes (RFC 5869 section 2.2). */
    memset(b, 0, sizeof b);
    CHECK_RC(parley_hkdf_sha256(a, 32, (const uint8_t *)"ikm", 3, NULL, 0, NULL, 0), PARLEY_OK);
    CHECK_RC(parley_hkdf_sha256(b, 32, (const uint8_t *)"ikm", 3, b, 32, NULL, 0), PARLEY_OK);
    CHECK(memcmp(a, b, 32) == 0);
}

static void test_hmac_rfc4231(void)
{
    cJSON *doc = t_load_vectors("rfc/rfc4231_hmac_sha256.json");
    const cJSON *tc;
    int run = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
    {
        size_t key_len, data_len, mac_len;
        uint8_t *key = t_unhex_alloc(t_str(tc, "key"), &key_len);
        uint8_t *data = t_unhex_alloc(t_str(tc, "data"), &data_len);
        uint8_t *mac = t_unhex_alloc(t_str(tc, "mac"), &mac_len);
        const cJSON *trunc = cJSON_GetObjectItemCaseSensitive(tc, "truncate_bytes");
        size_t cmp = cJSON_IsNumber(trunc) ? (size_t)trunc->valueint : 32;
        uint8_t out[32];
        int ok = key && data && mac && cmp <= mac_len &&
                 parley_hmac_sha256(out, key, key_len, data, data_len) == PARLEY_OK &&
                 memcmp(out, mac, cmp) == 0;
        free(key), free(data), free(mac);
        if (!ok) {
            t_note("HMAC %s wrong", t_str(tc, "id"));
        }
        CHECK(ok);
        run++;
    }
    cJSON_Delete(doc);
    t_note("%d RFC 4231 vectors", run);
    CHECK(run >= 6);
}

static void test_sha2(void)
{
    static const uint8_t abc256[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const uint8_t abc512_head[8] = {0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba};
    uint8_t out[64];

    CHECK_RC(parley_sha256(out, (const uint8_t *)"abc", 3), PARLEY_OK);
    CHECK(memcmp(out, abc256, 32) == 0);
    CHECK_RC(parley_sha512(out, (const uint8_t *)"abc", 3), PARLEY_OK);
    CHECK(memcmp(out, abc512_head, 8) == 0);
    CHECK_RC(parley_sha256(NULL, NULL, 0), PARLEY_ERR_ARGUMENT);
}

static void test_ed25519_rfc8032(void)
{
    cJSON *doc = t_load_vectors("rfc/rfc8032_ed25519.json");
    const cJSON *tc;
    int run = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
    {
        size_t msg_len;
        uint8_t seed[32], pub[32], sig[64], out_pub[32], out_sig[64];
        uint8_t *msg = t_unhex_alloc(t_str(tc, "message"), &msg_len);
        int ok = msg && t_unhex(seed, 32, t_str(tc, "secret")) == 32 &&
                 t_unhex(pub, 32, t_str(tc, "public")) == 32 &&
                 t_unhex(sig, 64, t_str(tc, "signature")) == 64 &&
                 parley_ed25519_public(out_pub, seed) == PARLEY_OK &&
                 memcmp(out_pub, pub, 32) == 0 &&
                 parley_ed25519_sign(out_sig, seed, msg, msg_len) == PARLEY_OK &&
                 memcmp(out_sig, sig, 64) == 0 &&
                 parley_ed25519_verify(pub, msg, msg_len, sig) == PARLEY_OK;
        if (ok) {
            sig[0] ^= 1;
            ok = parley_ed25519_verify(pub, msg, msg_len, sig) == PARLEY_ERR_BAD_SIGNATURE;
        }
        free(msg);
        if (!ok) {
            t_note("Ed25519 %s wrong", t_str(tc, "id"));
        }
        CHECK(ok);
        run++;
    }
    cJSON_Delete(doc);
    t_note("%d RFC 8032 vectors", run);
    CHECK(run == 3);
}

static void test_ed25519_wycheproof(void)
{
    cJSON *doc = t_load_vectors("wycheproof/ed25519_test.json");
    const cJSON *group, *tc;
    int run = 0, valid = 0, invalid = 0, bad = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(doc, "testGroups"))
    {
        uint8_t pub[32];
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(group, "publicKey");
        CHECK(t_unhex(pub, 32, t_str(key, "pk")) == 32);
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            size_t msg_len, sig_len;
            uint8_t *msg = t_unhex_alloc(t_str(tc, "msg"), &msg_len);
            uint8_t *sig = t_unhex_alloc(t_str(tc, "sig"), &sig_len);
            int is_valid = strcmp(t_str(tc, "result"), "valid") == 0;
            int rc = (msg && sig && sig_len == 64) ? parley_ed25519_verify(pub, msg, msg_len, sig)
                                                   : PARLEY_ERR_BAD_SIGNATURE;
            if ((rc == PARLEY_OK) != is_valid) {
                t_note("Wycheproof Ed25519 tcId %d: wrong result",
                       cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint);
                bad++;
            }
            valid += is_valid;
            invalid += !is_valid;
            run++;
            free(msg), free(sig);
        }
    }
    cJSON_Delete(doc);
    t_note("%d Wycheproof Ed25519 vectors (%d valid, %d invalid), %d wrong", run, valid, invalid,
           bad);
    CHECK(run >= 150);
    CHECK(bad == 0);
}

static void test_password(void)
{
    uint8_t salt[16], salt2[16], a[64], b[64];
    static const uint8_t ctx1[] = "https://parley.example\0alice";
    static const uint8_t ctx2[] = "https://parley.example\0alicf";

    /* The parameters meet OWASP's minimum for Argon2id (19 MiB, 2 passes). */
    CHECK(PARLEY_PASSWORD_MEMLIMIT >= 19u * 1024 * 1024);
    CHECK(PARLEY_PASSWORD_OPSLIMIT >= 2);
    CHECK(parley_password_saltbytes() == 16);
    CHECK_RC(parley_password_salt(salt, ctx1, sizeof ctx1), PARLEY_OK);
    CHECK_RC(parley_password_salt(salt2, ctx2, sizeof ctx2), PARLEY_OK);
    CHECK(memcmp(salt, salt2, 16) != 0);
    CHECK_RC(parley_password_derive(a, 64, (const uint8_t *)"correct horse", 13, salt), PARLEY_OK);
    CHECK_RC(parley_password_derive(b, 64, (const uint8_t *)"correct horse", 13, salt), PARLEY_OK);
    CHECK(memcmp(a, b, 64) == 0);
    CHECK_RC(parley_password_derive(b, 64, (const uint8_t *)"correct horsf", 13, salt), PARLEY_OK);
    CHECK(memcmp(a, b, 64) != 0);
    CHECK_RC(parley_password_derive(b, 64, (const uint8_t *)"correct horse", 13, salt2), PARLEY_OK);
    CHECK(memcmp(a, b, 64) != 0);
    CHECK_RC(parley_password_derive(a, 8, (const uint8_t *)"x", 1, salt), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_password_derive(a, 65, (const uint8_t *)"x", 1, salt), PARLEY_ERR_ARGUMENT);
}

void suite_primitives(void)
{
    if (t_vectors_dir() != NULL) {
        t_run("hkdf: RFC 5869", test_hkdf_rfc5869);
        t_run("hmac: RFC 4231", test_hmac_rfc4231);
        t_run("ed25519: RFC 8032", test_ed25519_rfc8032);
        t_run("ed25519: Wycheproof", test_ed25519_wycheproof);
    } else {
        t_skip("hkdf: RFC 5869", "shared vectors folder absent");
        t_skip("hmac: RFC 4231", "shared vectors folder absent");
        t_skip("ed25519: RFC 8032", "shared vectors folder absent");
        t_skip("ed25519: Wycheproof", "shared vectors folder absent");
    }
    t_run("hkdf: output limits and empty salt", test_hkdf_limits);
    t_run("sha2: known answers", test_sha2);
    t_run("password: Argon2id parameters, salts, determinism", test_password);
}
