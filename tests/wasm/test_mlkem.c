/* ML-KEM-1024: every Wycheproof vector (key generation from seeds, encapsulation with fixed
 * randomness, decapsulation from seeds and from expanded keys, malformed inputs included). */
#include "harness.h"
#include "parley.h"

#include <stdlib.h>
#include <string.h>

struct kem_count {
    int run, valid, invalid, bad;
};

static void count(struct kem_count *c, const cJSON *tc, int is_valid, int ok, const char *file)
{
    if (!ok) {
        t_note("Wycheproof %s tcId %d: wrong result", file,
               cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint);
        c->bad++;
    }
    c->valid += is_valid;
    c->invalid += !is_valid;
    c->run++;
}

static int matches(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    return want != NULL && got_len == want_len && memcmp(got, want, want_len) == 0;
}

/* One test case of any of the four files; fields a file lacks are NULL. */
static int kem_case(const cJSON *tc, const char *file)
{
    size_t seed_len = 0, ek_len = 0, dk_len = 0, c_len = 0, k_len = 0, m_len = 0;
    const char *hs = t_str(tc, "seed"), *hek = t_str(tc, "ek"), *hdk = t_str(tc, "dk");
    const char *hc = t_str(tc, "c"), *hk = t_str(tc, "K"), *hm = t_str(tc, "m");
    uint8_t *seed = hs ? t_unhex_alloc(hs, &seed_len) : NULL;
    uint8_t *ek = hek ? t_unhex_alloc(hek, &ek_len) : NULL;
    uint8_t *dk = hdk ? t_unhex_alloc(hdk, &dk_len) : NULL;
    uint8_t *c = hc ? t_unhex_alloc(hc, &c_len) : NULL;
    uint8_t *k = hk ? t_unhex_alloc(hk, &k_len) : NULL;
    uint8_t *m = hm ? t_unhex_alloc(hm, &m_len) : NULL;
    uint8_t *pk = malloc(PARLEY_MLKEM_PUBLICKEYBYTES), *sk = malloc(PARLEY_MLKEM_SECRETKEYBYTES);
    uint8_t *ct = malloc(PARLEY_MLKEM_CIPHERTEXTBYTES), ss[PARLEY_MLKEM_SHAREDBYTES];
    int ok = 1, rc = PARLEY_OK;

    if (pk == NULL || sk == NULL || ct == NULL) {
        ok = 0;
    } else if (strcmp(file, "keygen") == 0) {
        rc = parley_mlkem_keypair(pk, sk, seed, seed_len);
        ok = rc == PARLEY_OK && matches(pk, PARLEY_MLKEM_PUBLICKEYBYTES, ek, ek_len) &&
             matches(sk, PARLEY_MLKEM_SECRETKEYBYTES, dk, dk_len);
    } else if (strcmp(file, "encaps") == 0) {
        rc = parley_mlkem_encaps(ct, ss, ek, ek_len, m_len == PARLEY_MLKEM_COINBYTES ? m : ss);
        ok = rc == PARLEY_OK && matches(ct, PARLEY_MLKEM_CIPHERTEXTBYTES, c, c_len) &&
             matches(ss, sizeof ss, k, k_len);
    } else if (strcmp(file, "decaps") == 0) {
        rc = parley_mlkem_keypair(pk, sk, seed, seed_len);
        ok = rc == PARLEY_OK && matches(pk, PARLEY_MLKEM_PUBLICKEYBYTES, ek, ek_len);
        if (rc == PARLEY_OK) {
            rc = parley_mlkem_decaps(ss, c, c_len, sk, PARLEY_MLKEM_SECRETKEYBYTES);
            ok = ok && rc == PARLEY_OK && matches(ss, sizeof ss, k, k_len);
        }
    } else { /* expanded decapsulation keys */
        rc = parley_mlkem_decaps(ss, c, c_len, dk, dk_len);
        ok = rc == PARLEY_OK && matches(ss, sizeof ss, k, k_len);
    }
    if (strcmp(t_str(tc, "result"), "valid") != 0) {
        /* Every invalid vector must be refused as malformed, with the secret wiped. */
        static const uint8_t zero[PARLEY_MLKEM_SHAREDBYTES];
        ok = rc == PARLEY_ERR_MALFORMED &&
             (strcmp(file, "keygen") == 0 || strcmp(file, "decaps") == 0 ||
              memcmp(ss, zero, sizeof ss) == 0);
    }
    free(seed), free(ek), free(dk), free(c), free(k), free(m), free(pk), free(ct);
    if (sk != NULL) {
        memset(sk, 0, PARLEY_MLKEM_SECRETKEYBYTES);
    }
    free(sk);
    return ok;
}

static void run_file(const char *path, const char *kind, int minimum)
{
    cJSON *doc = t_load_vectors(path);
    const cJSON *group, *tc;
    struct kem_count c = {0, 0, 0, 0};

    CHECK(doc != NULL);
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(doc, "testGroups"))
    {
        CHECK(strcmp(t_str(group, "parameterSet"), "ML-KEM-1024") == 0);
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            int is_valid = strcmp(t_str(tc, "result"), "valid") == 0;
            count(&c, tc, is_valid, kem_case(tc, kind), path);
        }
    }
    CHECK(c.run == cJSON_GetObjectItemCaseSensitive(doc, "numberOfTests")->valueint);
    cJSON_Delete(doc);
    t_note("%d Wycheproof ML-KEM-1024 %s vectors (%d valid, %d invalid), %d wrong", c.run, kind,
           c.valid, c.invalid, c.bad);
    CHECK(c.run >= minimum);
    CHECK(c.bad == 0);
}

static void test_keygen(void)
{
    run_file("wycheproof/mlkem_1024_keygen_seed_test.json", "keygen", 100);
}

static void test_encaps(void)
{
    run_file("wycheproof/mlkem_1024_encaps_test.json", "encaps", 269);
}

static void test_decaps(void)
{
    run_file("wycheproof/mlkem_1024_test.json", "decaps", 193);
}

static void test_decaps_expanded(void)
{
    run_file("wycheproof/mlkem_1024_semi_expanded_decaps_test.json", "expanded", 9);
}

/* A round trip, a tampered ciphertext (implicit rejection), and the argument checks. */
static void test_roundtrip(void)
{
    static uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES], sk[PARLEY_MLKEM_SECRETKEYBYTES],
        ct[PARLEY_MLKEM_CIPHERTEXTBYTES];
    uint8_t seed[64], coins[32], ss1[32], ss2[32];

    memset(seed, 7, sizeof seed);
    memset(coins, 9, sizeof coins);
    CHECK(parley_mlkem_publickeybytes() == 1568 && parley_mlkem_ciphertextbytes() == 1568);
    CHECK_RC(parley_mlkem_keypair(pk, sk, seed, sizeof seed), PARLEY_OK);
    CHECK_RC(parley_mlkem_encaps(ct, ss1, pk, sizeof pk, coins), PARLEY_OK);
    CHECK_RC(parley_mlkem_decaps(ss2, ct, sizeof ct, sk, sizeof sk), PARLEY_OK);
    CHECK(memcmp(ss1, ss2, 32) == 0);
    ct[100] ^= 1;
    CHECK_RC(parley_mlkem_decaps(ss2, ct, sizeof ct, sk, sizeof sk), PARLEY_OK);
    CHECK(memcmp(ss1, ss2, 32) != 0);
    CHECK_RC(parley_mlkem_keypair(NULL, sk, seed, sizeof seed), PARLEY_ERR_ARGUMENT);
    CHECK_RC(parley_mlkem_keypair(pk, sk, seed, 63), PARLEY_ERR_MALFORMED);
    CHECK_RC(parley_mlkem_encaps(ct, ss1, pk, sizeof pk - 1, coins), PARLEY_ERR_MALFORMED);
    CHECK_RC(parley_mlkem_decaps(ss2, ct, sizeof ct, sk, sizeof sk + 1), PARLEY_ERR_MALFORMED);
    CHECK_RC(parley_mlkem_decaps(NULL, ct, sizeof ct, sk, sizeof sk), PARLEY_ERR_ARGUMENT);
}

void suite_mlkem(void)
{
    t_run("mlkem: round trip, implicit rejection, arguments", test_roundtrip);
    if (t_vectors_dir() != NULL) {
        t_run("mlkem: Wycheproof key generation from seeds", test_keygen);
        t_run("mlkem: Wycheproof encapsulation", test_encaps);
        t_run("mlkem: Wycheproof decapsulation (seed-form keys)", test_decaps);
        t_run("mlkem: Wycheproof decapsulation (expanded keys)", test_decaps_expanded);
    } else {
        t_skip("mlkem: Wycheproof", "shared vectors folder absent");
    }
}
