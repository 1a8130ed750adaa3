/* X25519: RFC 7748 and Wycheproof vectors, low-order points, agreement. */
#include "harness.h"
#include "parley.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

static int all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= b[i];
    }
    return acc == 0;
}

static void test_rfc7748(void)
{
    cJSON *doc = t_load_vectors("rfc/rfc7748_x25519.json");
    const cJSON *v, *dh, *it, *after;
    uint8_t k[32], u[32], out[32], want[32], r[32];
    int run = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "scalarmult"))
    {
        CHECK(t_unhex(k, 32, t_str(v, "scalar")) == 32);
        CHECK(t_unhex(u, 32, t_str(v, "u")) == 32);
        CHECK(t_unhex(want, 32, t_str(v, "output")) == 32);
        CHECK_RC(parley_x25519(out, k, u), PARLEY_OK);
        CHECK(memcmp(out, want, 32) == 0);
        run++;
    }
    dh = cJSON_GetObjectItemCaseSensitive(doc, "dh");
    CHECK(t_unhex(k, 32, t_str(dh, "alice_private")) == 32);
    CHECK_RC(parley_x25519_public(out, k), PARLEY_OK);
    CHECK(t_unhex(want, 32, t_str(dh, "alice_public")) == 32 && memcmp(out, want, 32) == 0);
    CHECK(t_unhex(u, 32, t_str(dh, "bob_public")) == 32);
    CHECK_RC(parley_x25519(out, k, u), PARLEY_OK);
    CHECK(t_unhex(want, 32, t_str(dh, "shared")) == 32 && memcmp(out, want, 32) == 0);
    CHECK(t_unhex(k, 32, t_str(dh, "bob_private")) == 32);
    CHECK_RC(parley_x25519_public(out, k), PARLEY_OK);
    CHECK(memcmp(out, u, 32) == 0);
    run += 3;

    /* Iterated: r = X25519(k, u); u = k; k = r, checked after 1 and 1000 rounds (the million-round
     * check takes minutes under the sanitizers and is left to the benchmark). */
    it = cJSON_GetObjectItemCaseSensitive(doc, "iterated");
    after = cJSON_GetObjectItemCaseSensitive(it, "after");
    CHECK(t_unhex(k, 32, t_str(it, "initial_k")) == 32);
    CHECK(t_unhex(u, 32, t_str(it, "initial_u")) == 32);
    for (int i = 1; i <= 1000; i++) {
        CHECK_RC(parley_x25519(r, k, u), PARLEY_OK);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
        if (i == 1 || i == 1000) {
            const char *key = i == 1 ? "1" : "1000";
            CHECK(t_unhex(want, 32, t_str(after, key)) == 32);
            CHECK(memcmp(k, want, 32) == 0);
            run++;
        }
    }
    cJSON_Delete(doc);
    t_note("%d RFC 7748 checks", run);
}

/* Wycheproof x25519_test.json: every valid vector must match; "acceptable" ones must match too,
 * except an all-zero shared secret, which the core refuses by design. */
static void test_wycheproof(void)
{
    cJSON *doc = t_load_vectors("wycheproof/x25519_test.json");
    const cJSON *group, *tc;
    int run = 0, zero = 0, bad = 0;

    CHECK(doc != NULL);
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(doc, "testGroups"))
    {
        const char *curve = t_str(group, "curve");
        if (curve == NULL || strcmp(curve, "curve25519") != 0) {
            continue;
        }
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            uint8_t pub[32], priv[32], want[32], out[32];
            const char *result = t_str(tc, "result");
            int ok = t_unhex(pub, 32, t_str(tc, "public")) == 32 &&
                     t_unhex(priv, 32, t_str(tc, "private")) == 32 &&
                     t_unhex(want, 32, t_str(tc, "shared")) == 32;
            if (ok) {
                int rc = parley_x25519(out, priv, pub);
                if (all_zero(want, 32)) {
                    ok = rc == PARLEY_ERR_WEAK_KEY && all_zero(out, 32) &&
                         strcmp(result, "valid") != 0;
                    zero++;
                } else if (strcmp(result, "invalid") == 0) {
                    ok = rc != PARLEY_OK;
                } else {
                    ok = rc == PARLEY_OK && memcmp(out, want, 32) == 0;
                }
            }
            if (!ok) {
                t_note("Wycheproof X25519 tcId %d: wrong result",
                       cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint);
                bad++;
            }
            run++;
        }
    }
    cJSON_Delete(doc);
    t_note("%d Wycheproof X25519 vectors (%d with an all-zero secret refused), %d wrong", run, zero,
           bad);
    CHECK(run >= 500);
    CHECK(bad == 0);
}

static void test_agreement_and_low_order(void)
{
    uint8_t a_pub[32], a_priv[32], b_pub[32], b_priv[32], s1[32], s2[32];
    uint8_t zero[32] = {0}, one[32] = {1};

    CHECK_RC(parley_x25519_keypair(a_pub, a_priv), PARLEY_OK);
    CHECK_RC(parley_x25519_keypair(b_pub, b_priv), PARLEY_OK);
    CHECK(memcmp(a_priv, b_priv, 32) != 0);
    CHECK_RC(parley_x25519(s1, a_priv, b_pub), PARLEY_OK);
    CHECK_RC(parley_x25519(s2, b_priv, a_pub), PARLEY_OK);
    CHECK(memcmp(s1, s2, 32) == 0);
    /* Low-order points give an all-zero secret: refused, output zeroed. */
    memset(s1, 0x77, sizeof s1);
    CHECK_RC(parley_x25519(s1, a_priv, zero), PARLEY_ERR_WEAK_KEY);
    CHECK(all_zero(s1, 32));
    CHECK_RC(parley_x25519(s1, a_priv, one), PARLEY_ERR_WEAK_KEY);
    CHECK_RC(parley_x25519(NULL, a_priv, b_pub), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_x25519_keypair(NULL, a_priv), PARLEY_ERR_ARGUMENT);
    CHECK(parley_x25519_bytes() == 32);
}

/*
 * The Ed25519-to-X25519 map the protocol uses for identity keys (docs/PROTOCOL.md section 1): a
 * key with a torsion component (a main-subgroup point plus a point of order 8) is refused, a
 * small-order key is refused, and no encoding with a non-canonical y (y + p, possible for y < 19)
 * converts, with either sign bit. Checked through a public function that converts a peer's
 * identity key: sealing an envelope to it (PARLEY_ERR_WEAK_KEY).
 */
static void test_identity_key_checks(void)
{
    static const uint8_t order8[32] = {
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05};
    parley_account *a = NULL;
    uint8_t ik[32], bad[32], x[32], *env = malloc(512);
    size_t len = 0;

    CHECK(env != NULL);
    CHECK_RC(parley_account_new(&a), PARLEY_OK);
    CHECK_RC(parley_account_identity_key(a, ik), PARLEY_OK);
    CHECK_RC(parley_sealed_seal(a, ik, (const uint8_t *)"a", 1, ik, 1, env, 512, &len), PARLEY_OK);
    CHECK(crypto_core_ed25519_add(bad, ik, order8) == 0);
    CHECK(crypto_sign_ed25519_pk_to_curve25519(x, bad) != 0);
    CHECK_RC(parley_sealed_seal(a, bad, (const uint8_t *)"a", 1, ik, 1, env, 512, &len),
             PARLEY_ERR_WEAK_KEY);
    CHECK_RC(parley_sealed_seal(a, order8, (const uint8_t *)"a", 1, ik, 1, env, 512, &len),
             PARLEY_ERR_WEAK_KEY);
    for (unsigned y = 0; y < 19; y++) {
        for (unsigned sign = 0; sign < 2; sign++) {
            /* y + p, little-endian: p = 2^255 - 19 = 0xed, 0xff x 30, 0x7f. */
            memset(bad, 0xff, 32);
            bad[0] = (uint8_t)(0xed + y);
            bad[31] = (uint8_t)(0x7f | sign << 7);
            CHECK(crypto_sign_ed25519_pk_to_curve25519(x, bad) != 0);
            memset(bad, 0, 32);
            bad[0] = (uint8_t)y; /* the canonical encodings of the same y: none is usable */
            bad[31] = (uint8_t)(sign << 7);
            CHECK(crypto_sign_ed25519_pk_to_curve25519(x, bad) != 0);
        }
    }
    parley_account_free(a);
    free(env);
}

void suite_x25519(void)
{
    if (t_vectors_dir() != NULL) {
        t_run("x25519: RFC 7748", test_rfc7748);
        t_run("x25519: Wycheproof", test_wycheproof);
    } else {
        t_skip("x25519: RFC 7748", "shared vectors folder absent");
        t_skip("x25519: Wycheproof", "shared vectors folder absent");
    }
    t_run("x25519: agreement, low-order points, arguments", test_agreement_and_low_order);
    t_run("ed25519 to x25519: torsion, small order, non-canonical y refused",
          test_identity_key_checks);
}
