/*
 * Benchmark of the core in C, built natively and to wasm (run by Node, no JS binding in the
 * loop): Double Ratchet messages per second (100-byte messages, one
 * direction and alternating every message), AES-256-GCM MB/s (seal and open) and ML-KEM-1024 operations per
 * second. Prints figures; asserts nothing.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define WHERE "wasm/C"
#else
#define WHERE "native"
#endif

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process (wasm: Node's process.cpuUsage(), Emscripten has no process clock). */
static double cpu_now(void)
{
#ifdef __EMSCRIPTEN__
    return EM_ASM_DOUBLE({
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
    });
#else
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

static int pair(parley_session **a, parley_session **b, parley_account **acc_a,
                parley_account **acc_b)
{
    uint8_t bundle[171], msg[256], pt[64];
    size_t blen = 0, len = 0, pt_len = 0;

    if (parley_account_new(acc_a) != PARLEY_OK || parley_account_new(acc_b) != PARLEY_OK ||
        parley_account_generate_prekeys(*acc_b, 1) != PARLEY_OK ||
        parley_account_bundle(*acc_b, bundle, sizeof bundle, &blen) != PARLEY_OK ||
        parley_session_new_outbound(a, *acc_a, bundle, blen) != PARLEY_OK ||
        parley_session_encrypt(*a, (const uint8_t *)"hi", 2, msg, sizeof msg, &len) != PARLEY_OK ||
        parley_session_new_inbound(b, *acc_b, msg, len, pt, sizeof pt, &pt_len) != PARLEY_OK) {
        return -1;
    }
    return 0;
}

static double ratchet_rate(int alternating, int count)
{
    parley_session *a, *b;
    parley_account *x, *y;
    uint8_t payload[100], msg[512], pt[128];
    size_t len = 0, pt_len = 0;
    double t0;

    memset(payload, 0x61, sizeof payload);
    if (pair(&a, &b, &x, &y) != 0) {
        return -1;
    }
    /* Bob answers once so both sides have left the prekey phase. */
    if (parley_session_encrypt(b, payload, 100, msg, sizeof msg, &len) != PARLEY_OK ||
        parley_session_decrypt(a, msg, len, pt, sizeof pt, &pt_len) != PARLEY_OK) {
        return -1;
    }
    t0 = now();
    for (int i = 0; i < count; i++) {
        parley_session *from = (alternating && i % 2) ? b : a;
        parley_session *to = from == a ? b : a;
        if (parley_session_encrypt(from, payload, 100, msg, sizeof msg, &len) != PARLEY_OK ||
            parley_session_decrypt(to, msg, len, pt, sizeof pt, &pt_len) != PARLEY_OK) {
            return -1;
        }
    }
    t0 = now() - t0;
    parley_session_free(a);
    parley_session_free(b);
    parley_account_free(x);
    parley_account_free(y);
    return count / t0;
}

/* AES-256-GCM MB/s sealing (open = 0) or opening (open = 1) size-byte messages: the best of five
 * rounds of reps / 5 messages, in CPU time of the process, so that other work on a shared
 * machine weighs less on the figure. */
static double aead_rate(size_t size, int reps, int open)
{
    uint8_t key[32] = {1}, nonce[12] = {2};
    uint8_t *buf = malloc(size + 16), *sealed = malloc(size + 16);
    double best = 0;
    int rc = PARLEY_OK;

    if (buf == NULL || sealed == NULL) {
        free(buf);
        free(sealed);
        return -1;
    }
    memset(buf, 0x5a, size);
    rc |= parley_aead_seal(sealed, key, nonce, NULL, 0, buf, size);
    for (int round = 0; round < 5; round++) {
        double t0 = cpu_now(), rate;

        for (int i = 0; i < reps / 5; i++) {
            rc |= open ? parley_aead_open(buf, key, nonce, NULL, 0, sealed, size + 16)
                       : parley_aead_seal(buf, key, nonce, NULL, 0, buf, size);
        }
        rate = (double)size * (reps / 5) / (cpu_now() - t0) / 1e6;
        best = rate > best ? rate : best;
    }
    free(buf);
    free(sealed);
    return rc == PARLEY_OK ? best : -1;
}

/* Cost of each step of a ratchet message, in microseconds. */
static double per_call(void (*fn)(void), int reps)
{
    double t0 = now();
    for (int i = 0; i < reps; i++) {
        fn();
    }
    return (now() - t0) / reps * 1e6;
}

static uint8_t g_a[32] = {1}, g_b[32] = {9}, g_c[32], g_d[32], g_buf[256], g_ad[105];

static void part_sha256(void) { crypto_hash_sha256(g_c, g_buf, 32); }
static void part_sha512(void) { crypto_hash_sha512(g_buf, g_buf, 32); }
static void part_kdf_ck(void) { kdf_ck(g_c, g_a, g_a); }
static void part_message_keys(void) { message_keys(g_c, g_d, g_a); }
static void part_kdf_rk(void) { kdf_rk(g_c, g_d, g_a, g_b); }
static int g_rc;
static void part_gcm(void) { g_rc |= parley_aead_seal(g_buf, g_a, g_b, g_ad, sizeof g_ad, g_buf, 100); }
static void part_x25519(void) { g_rc |= crypto_scalarmult_curve25519(g_c, g_a, g_b); }
static void part_x25519_base(void) { g_rc |= crypto_scalarmult_curve25519_base(g_c, g_a); }

static void parts(const char *where)
{
    printf("%-7s per step (us): sha256 block %.2f, sha512 block %.2f, kdf_ck %.2f, message_keys %.2f, "
           "kdf_rk %.2f, gcm 100 B %.2f, x25519 %.1f, x25519 base %.1f\n", where,
           per_call(part_sha256, 200000), per_call(part_sha512, 200000),
           per_call(part_kdf_ck, 200000), per_call(part_message_keys, 200000),
           per_call(part_kdf_rk, 100000), per_call(part_gcm, 100000),
           per_call(part_x25519, 2000), per_call(part_x25519_base, 5000));
}

/* ML-KEM-1024 (mlkem-native's portable C): key pairs, encapsulations, decapsulations per second. */
static uint8_t g_pk[PARLEY_MLKEM_PUBLICKEYBYTES], g_sk[PARLEY_MLKEM_SECRETKEYBYTES],
    g_ct[PARLEY_MLKEM_CIPHERTEXTBYTES], g_seed[64] = {7};

static void part_keygen(void) { g_rc |= parley_mlkem_keypair(g_pk, g_sk, g_seed, sizeof g_seed); }
static void part_encaps(void) { g_rc |= parley_mlkem_encaps(g_ct, g_c, g_pk, sizeof g_pk, g_a); }
static void part_decaps(void) { g_rc |= parley_mlkem_decaps(g_c, g_ct, sizeof g_ct, g_sk, sizeof g_sk); }

static void kem(const char *where)
{
    part_keygen();
    part_encaps();
    printf("%-7s ML-KEM-1024 per second: keygen %.0f, encaps %.0f, decaps %.0f\n", where,
           1e6 / per_call(part_keygen, 2000), 1e6 / per_call(part_encaps, 2000),
           1e6 / per_call(part_decaps, 2000));
}

static void aead(const char *where)
{
    /* 64512 bytes: a file chunk (wasm/src/files.c). */
    printf("%-7s AES-256-GCM 1 KiB    seal %9.1f MB/s   open %9.1f MB/s\n", where,
           aead_rate(1024, 50000, 0), aead_rate(1024, 50000, 1));
    printf("%-7s AES-256-GCM 64 KiB   seal %9.1f MB/s   open %9.1f MB/s\n", where,
           aead_rate(65536, 1000, 0), aead_rate(65536, 1000, 1));
    printf("%-7s AES-256-GCM 64512 B  seal %9.1f MB/s   open %9.1f MB/s\n", where,
           aead_rate(64512, 1000, 0), aead_rate(64512, 1000, 1));
}

/* "bench_core aead" runs the AES-256-GCM figures only. */
int main(int argc, char **argv)
{
    if (parley_init() != PARLEY_OK) {
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "aead") == 0) {
        aead(WHERE);
        return 0;
    }
    parts(WHERE);
    kem(WHERE);
    printf("%-7s ratchet one-way      %9.0f msg/s (100-byte messages, encrypt + decrypt)\n", WHERE,
           ratchet_rate(0, 200000));
    printf("%-7s ratchet alternating  %9.0f msg/s\n", WHERE, ratchet_rate(1, 20000));
    aead(WHERE);
    return 0;
}
