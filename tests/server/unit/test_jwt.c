/* Unit tests: JWT signing and verification, usernames, token buckets, base64url. */
#include "accounts.h"
#include "api.h"
#include "b64.h"
#include "jwt.h"
#include "ratelimit.h"
#include "unit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char key[JWT_KEY_BYTES];
static const long long now = 1700000000;

/* Builds b64(header).b64(payload).b64(HMAC(key_for_mac)) into out. */
static void forge(char *out, size_t cap, const char *header, const char *payload,
                  const unsigned char *mac_key)
{
    unsigned char mac[32];
    size_t used;

    b64_encode(out, cap, (const unsigned char *)header, strlen(header));
    used = strlen(out);
    out[used++] = '.';
    b64_encode(out + used, cap - used, (const unsigned char *)payload, strlen(payload));
    used = strlen(out);
    crypto_auth_hmacsha256(mac, (const unsigned char *)out, used, mac_key);
    out[used++] = '.';
    b64_encode(out + used, cap - used, mac, sizeof mac);
}

static enum jwt_result verify(const char *token)
{
    struct jwt_claims c;

    return jwt_verify(key, token, now, &c);
}

static void test_round_trip(void)
{
    char token[JWT_MAX_LEN + 1];
    char other_token[JWT_MAX_LEN + 1];
    struct jwt_claims c;
    unsigned char other[JWT_KEY_BYTES];

    EXPECT(jwt_sign(key, "alice", 3, 7, 12, now, now + 3600, token, sizeof token) == 0);
    EXPECT(jwt_verify(key, token, now, &c) == JWT_OK && strcmp(c.sub, "alice") == 0 &&
           c.gen == 3 && c.dev == 7 && c.dgen == 12 && c.iat == now && c.exp == now + 3600);
    /* Device ids are 1..2^31-1. */
    EXPECT(jwt_sign(key, "alice", 3, 0, 0, now, now + 3600, other_token, sizeof other_token) != 0);
    EXPECT(jwt_sign(key, "alice", 3, JWT_DEVICE_MAX + 1, 0, now, now + 3600, other_token,
                    sizeof other_token) != 0);
    EXPECT(jwt_sign(key, "alice", 3, JWT_DEVICE_MAX, 0, now, now + 3600, other_token,
                    sizeof other_token) == 0);
    /* Another server's key. */
    randombytes_buf(other, sizeof other);
    EXPECT(jwt_verify(other, token, now, &c) == JWT_BAD_SIGNATURE);
    /* Expiry and not-before. */
    EXPECT(jwt_verify(key, token, now + 3600, &c) == JWT_EXPIRED);
    EXPECT(jwt_verify(key, token, now + 3599, &c) == JWT_OK);
    EXPECT(jwt_verify(key, token, now - JWT_SKEW, &c) == JWT_OK);
    EXPECT(jwt_verify(key, token, now - JWT_SKEW - 1, &c) == JWT_NOT_YET_VALID);
    /* Too small a buffer. */
    EXPECT(jwt_sign(key, "alice", 3, 1, 0, now, now + 3600, token, 20) != 0);
}

static void test_tampering(void)
{
    char token[JWT_MAX_LEN + 1];
    char copy[JWT_MAX_LEN + 8];
    char *dot;
    size_t len;

    jwt_sign(key, "alice", 0, 1, 0, now, now + 3600, token, sizeof token);
    len = strlen(token);

    /* Signature stripped, emptied, or one character flipped. */
    memcpy(copy, token, len + 1);
    dot = strrchr(copy, '.');
    dot[0] = '\0';
    EXPECT(verify(copy) == JWT_MALFORMED);
    dot[0] = '.';
    dot[1] = '\0';
    EXPECT(verify(copy) == JWT_BAD_SIGNATURE);
    memcpy(copy, token, len + 1);
    copy[len - 5] = copy[len - 5] == 'A' ? 'B' : 'A';
    EXPECT(verify(copy) == JWT_BAD_SIGNATURE);
    /* The last character changes only padding bits in a canonical encoder: must be refused. */
    memcpy(copy, token, len + 1);
    copy[len - 1] = copy[len - 1] == 'A' ? 'B' : 'A';
    EXPECT(verify(copy) != JWT_OK);
    /* Payload swapped for another (the MAC no longer matches). */
    {
        char other[JWT_MAX_LEN + 1];
        char mixed[2 * JWT_MAX_LEN];
        const char *p1 = strchr(token, '.');
        const char *p2 = strrchr(token, '.');
        const char *o1;
        const char *o2;

        jwt_sign(key, "mallory", 0, 1, 0, now, now + 3600, other, sizeof other);
        o1 = strchr(other, '.');
        o2 = strrchr(other, '.');
        snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(p1 - token), token, (int)(o2 - o1), o1,
                 p2);
        EXPECT(verify(mixed) == JWT_BAD_SIGNATURE);
    }
    /* Trailing garbage, extra segment, whitespace. */
    snprintf(copy, sizeof copy, "%s.", token);
    EXPECT(verify(copy) == JWT_MALFORMED);
    snprintf(copy, sizeof copy, "%s ", token);
    EXPECT(verify(copy) != JWT_OK);
    snprintf(copy, sizeof copy, " %s", token);
    EXPECT(verify(copy) != JWT_OK);
    snprintf(copy, sizeof copy, "%s=", token);
    EXPECT(verify(copy) != JWT_OK);
}

static void test_algorithms(void)
{
    char t[JWT_MAX_LEN + 1];
    const char *payload = "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000,\"exp\":1700003600}";
    unsigned char empty[32] = {0};

    forge(t, sizeof t, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key);
    EXPECT(verify(t) == JWT_OK);
    forge(t, sizeof t, "{\"alg\":\"HS256\"}", payload, key);
    EXPECT(verify(t) == JWT_OK);
    /* alg none, with an empty or a real signature. */
    forge(t, sizeof t, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    *(strrchr(t, '.') + 1) = '\0';
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":\"None\"}", payload, empty);
    EXPECT(verify(t) == JWT_BAD_ALG);
    /* Algorithm confusion. */
    forge(t, sizeof t, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":\"hs256\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"typ\":\"JWT\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":[\"HS256\"]}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    forge(t, sizeof t, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload, key);
    EXPECT(verify(t) == JWT_BAD_ALG);
    /* Header or payload not a JSON object. */
    forge(t, sizeof t, "[\"HS256\"]", payload, key);
    EXPECT(verify(t) == JWT_MALFORMED);
    forge(t, sizeof t, "{\"alg\":\"HS256\"", payload, key);
    EXPECT(verify(t) == JWT_MALFORMED);
    forge(t, sizeof t, "{\"alg\":\"HS256\"}", "\"alice\"", key);
    EXPECT(verify(t) == JWT_MALFORMED);
}

static void test_claims(void)
{
    char t[JWT_MAX_LEN + 1];
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char *const bad[] = {
        "{\"gen\":0,\"iat\":1700000000,\"exp\":1700003600}",              /* no sub */
        "{\"sub\":\"\",\"gen\":0,\"iat\":1700000000,\"exp\":1700003600}", /* empty sub */
        "{\"sub\":5,\"gen\":0,\"iat\":1700000000,\"exp\":1700003600}",    /* sub not a string */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700003600}",      /* no gen */
        "{\"sub\":\"alice\",\"gen\":\"0\",\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"exp\":1700003600}",                      /* no iat */
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000}",                      /* no exp */
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000,\"exp\":\"1700003600\"}", /* string */
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000,\"exp\":1700003600.5}",   /* fraction */
        "{\"sub\":\"alice\",\"gen\":-1,\"iat\":1700000000,\"exp\":1700003600}",    /* negative */
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000,\"exp\":1e300}",          /* huge */
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1699000000,\"exp\":1800000000}", /* too long-lived */
        /* dev and dgen: both or neither, dev 1..2^31-1, dgen a non-negative integer */
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":2,\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dgen\":2,\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":0,\"dgen\":0,\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":2147483648,\"dgen\":0,\"iat\":1700000000,"
        "\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":\"2\",\"dgen\":0,\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":2,\"dgen\":-1,\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"alice\",\"gen\":0,\"dev\":2.5,\"dgen\":0,\"iat\":1700000000,\"exp\":1700003600}",
    };
    struct jwt_claims c;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        forge(t, sizeof t, h, bad[i], key);
        EXPECT(verify(t) == JWT_MALFORMED);
    }
    forge(t, sizeof t, h, "{\"sub\":\"alice\",\"gen\":0,\"iat\":1699990000,\"exp\":1699999999}",
          key);
    EXPECT(verify(t) == JWT_EXPIRED);
    forge(t, sizeof t, h, "{\"sub\":\"alice\",\"gen\":0,\"iat\":1699999990,\"exp\":1700000000}",
          key);
    EXPECT(verify(t) == JWT_EXPIRED);
    forge(t, sizeof t, h, "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000030,\"exp\":1700000020}",
          key);
    EXPECT(verify(t) == JWT_MALFORMED);
    forge(t, sizeof t, h, "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000061,\"exp\":1700003600}",
          key);
    EXPECT(verify(t) == JWT_NOT_YET_VALID);
    forge(t, sizeof t, h, "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000060,\"exp\":1700003600}",
          key);
    EXPECT(verify(t) == JWT_OK);
    /* A token from before devices is device 1's, generation 0. */
    EXPECT(jwt_verify(key, t, now, &c) == JWT_OK && c.dev == 1 && c.dgen == 0);
    forge(t, sizeof t, h,
          "{\"sub\":\"alice\",\"gen\":0,\"dev\":2147483647,\"dgen\":9,\"iat\":1700000060,"
          "\"exp\":1700003600}",
          key);
    EXPECT(jwt_verify(key, t, now, &c) == JWT_OK && c.dev == 2147483647 && c.dgen == 9);
}

static void test_malformed(void)
{
    static char big[JWT_MAX_LEN + 100];
    static const char *const bad[] = {"", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d",
                                      "eyJhbGciOiJIUzI1NiJ9..", "eyJhbGciOiJIUzI1NiJ9.e30.",
                                      "!!!.???.***", "eyJhbGciOiJIUzI1NiJ9.e30=.AAAA"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT(verify(bad[i]) != JWT_OK);
    }
    EXPECT(verify(NULL) == JWT_MALFORMED);
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    EXPECT(verify(big) == JWT_TOO_LONG);
    /* Oversized but well-formed: a payload too big for the length cap. */
    {
        char payload[3000];
        char t[8192];
        snprintf(payload, sizeof payload,
                 "{\"sub\":\"alice\",\"gen\":0,\"iat\":1700000000,\"exp\":1700003600,\"x\":\"%02000d\"}",
                 0);
        forge(t, sizeof t, "{\"alg\":\"HS256\"}", payload, key);
        EXPECT(verify(t) == JWT_TOO_LONG);
    }
}

static void test_key_file(void)
{
    char dir[] = "/tmp/parley-unit-XXXXXX";
    char path[64];
    char err[256];
    unsigned char k1[JWT_KEY_BYTES];
    unsigned char k2[JWT_KEY_BYTES];
    struct stat st;
    FILE *f;

    if (mkdtemp(dir) == NULL) {
        EXPECT(0);
        return;
    }
    snprintf(path, sizeof path, "%s/jwt.key", dir);
    EXPECT(jwt_load_key(dir, k1, err, sizeof err) == 0);
    EXPECT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == JWT_KEY_BYTES);
    EXPECT(jwt_load_key(dir, k2, err, sizeof err) == 0 && memcmp(k1, k2, sizeof k1) == 0);
    /* A truncated key file is refused, not silently replaced. */
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite("short", 1, 5, f);
        fclose(f);
    }
    EXPECT(jwt_load_key(dir, k2, err, sizeof err) != 0 && strstr(err, "exactly 32") != NULL);
    unlink(path);
    rmdir(dir);
    EXPECT(jwt_load_key("/nonexistent-parley-dir", k2, err, sizeof err) != 0);
}

void test_jwt(void)
{
    test_key_file();
    randombytes_buf(key, sizeof key);
    test_round_trip();
    test_tampering();
    test_algorithms();
    test_claims();
    test_malformed();
}

void test_usernames(void)
{
    static const char *const good[] = {"abc", "alice", "bob-2", "carol_x", "a23", "ab.c",
                                       "abcdefghijklmnopqrstuvwxyz012345"};
    static const char *const bad[] = {"", "ab", "Alice", "1abc", "-abc", "_abc", ".abc", "ab c",
                                      "abc!", "abcdefghijklmnopqrstuvwxyz0123456", "me",
                                      "ali\xc3\xa9", "abc/def", "abc%20", "abc\n", ".."};
    char folded[USERNAME_MAX + 1];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        EXPECT(account_username_valid(good[i]) == 1);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT(account_username_valid(bad[i]) == 0);
    }
    EXPECT(account_username_valid(NULL) == 0);
    /* Case folding: "Alice" is alice; folding never makes an invalid name valid otherwise. */
    EXPECT(account_username_fold("Alice", folded) == folded && strcmp(folded, "alice") == 0);
    EXPECT(account_username_fold("BOB.SMITH", folded) != NULL && strcmp(folded, "bob.smith") == 0);
    EXPECT(account_username_fold("ME", folded) == NULL);
    EXPECT(account_username_fold("Al", folded) == NULL);
    EXPECT(account_username_fold("ALI\xc3\x89", folded) == NULL);
    EXPECT(account_username_fold(NULL, folded) == NULL);
    EXPECT(account_username_fold("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", folded) == NULL);
}

void test_ratelimit(void)
{
    struct rl_bucket b;
    struct rl_table *t;
    int allowed = 0;
    int wait = 0;

    memset(&b, 0, sizeof b);
    /* Burst 3, one token every 10 s. */
    for (int i = 0; i < 5; i++) {
        if (rl_bucket_take(&b, 3.0, 0.1, 100.0) == 0) {
            allowed++;
        }
    }
    EXPECT(allowed == 3);
    wait = rl_bucket_take(&b, 3.0, 0.1, 100.0);
    EXPECT(wait == 10);
    EXPECT(rl_bucket_take(&b, 3.0, 0.1, 105.0) == 5);
    EXPECT(rl_bucket_take(&b, 3.0, 0.1, 110.0) == 0);
    /* Never a permanent lockout: after a long pause the full burst is back, and no more. */
    allowed = 0;
    for (int i = 0; i < 10; i++) {
        if (rl_bucket_take(&b, 3.0, 0.1, 10000.0) == 0) {
            allowed++;
        }
    }
    EXPECT(allowed == 3);

    t = rl_create(64, 2.0, 1.0);
    EXPECT(t != NULL);
    if (t == NULL) {
        return;
    }
    EXPECT(rl_take(t, "ip:1.2.3.4", 50.0) == 0);
    EXPECT(rl_take(t, "ip:1.2.3.4", 50.0) == 0);
    EXPECT(rl_take(t, "ip:1.2.3.4", 50.0) == 1);
    /* Another key has its own bucket. */
    EXPECT(rl_take(t, "ip:5.6.7.8", 50.0) == 0);
    EXPECT(rl_take(t, "ip:1.2.3.4", 51.0) == 0);
    /* Many keys: the table never grows and never refuses a fresh key. */
    allowed = 0;
    for (int i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof k, "ip:10.0.%d.%d", i / 256, i % 256);
        if (rl_take(t, k, 60.0) == 0) {
            allowed++;
        }
    }
    EXPECT(allowed == 1000);
    /* A very long key is truncated, not overflowed. */
    {
        char k[300];
        memset(k, 'k', sizeof k - 1);
        k[sizeof k - 1] = '\0';
        EXPECT(rl_take(t, k, 70.0) == 0);
    }
    rl_free(t);
    {
        char k[80];
        rl_address_key("192.0.2.7", k, sizeof k);
        EXPECT(strcmp(k, "192.0.2.7") == 0);
        rl_address_key("::ffff:192.0.2.7", k, sizeof k);
        EXPECT(strcmp(k, "192.0.2.7") == 0);
        rl_address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k, sizeof k);
        EXPECT(strcmp(k, "2001:db8:1:2::/64") == 0);
        rl_address_key("2001:db8:1:2::1", k, sizeof k);
        EXPECT(strcmp(k, "2001:db8:1:2::/64") == 0);
        rl_address_key("::1", k, sizeof k);
        EXPECT(strcmp(k, "::/64") == 0);
        rl_address_key("not an address", k, sizeof k);
        EXPECT(strcmp(k, "not an address") == 0);
        rl_address_key(NULL, k, sizeof k);
        EXPECT(strcmp(k, "?") == 0);
    }
    EXPECT(rl_create(4, 1.0, 1.0) == NULL);
    EXPECT(rl_create(64, 0.0, 1.0) == NULL);
}

void test_b64(void)
{
    unsigned char out[64];
    char text[B64_LEN(64) + 1];
    unsigned char in[32];
    size_t n = 0;

    for (size_t i = 0; i < sizeof in; i++) {
        in[i] = (unsigned char)(i * 7 + 250);
    }
    EXPECT(b64_encode(text, sizeof text, in, sizeof in) == 0 && strlen(text) == 43);
    EXPECT(b64_decode_exact(text, out, 32) == 0 && memcmp(out, in, 32) == 0);
    EXPECT(b64_decode_exact(text, out, 31) != 0);
    EXPECT(b64_decode_exact(text, out, 33) != 0);
    text[42] = 'B'; /* non-canonical trailing bits (a canonical last char ends in 0000) */
    EXPECT(b64_decode_exact(text, out, 32) != 0);
    EXPECT(b64_decode_exact("AAAA+AAA", out, 6) != 0); /* standard alphabet */
    EXPECT(b64_decode_exact("AAAA/AAA", out, 6) != 0);
    EXPECT(b64_decode_exact("AAAA-_AA", out, 6) == 0);
    EXPECT(b64_decode_exact("AAAAAA==", out, 4) != 0); /* padding */
    EXPECT(b64_decode_exact("AAAA AA", out, 5) != 0);
    EXPECT(b64_decode_exact(NULL, out, 4) != 0);
    EXPECT(b64_decode("A", 1, out, sizeof out, &n) != 0);
    EXPECT(b64_encode(text, 10, in, 32) != 0);
    /* Bytes from 0x80 up are not base64url (libsodium alone would read them as '_' or '-'). */
    EXPECT(b64_decode_exact("AAAA\xc3\xa9" "AA", out, 6) != 0);
    EXPECT(b64_decode("AAA\xef\xbb\xbf" "AA", 8, out, sizeof out, &n) != 0);
    EXPECT(b64_decode("AAAA\x80\x80" "AA", 8, out, sizeof out, &n) != 0);
    EXPECT(b64_decode("AAAA__AA", 8, out, sizeof out, &n) == 0 && n == 6);
}

void test_json_nul(void)
{
    static const char *const with_nul[] = {"{\"a\":\"x\\u0000y\"}", "\"\\u0000\"",
                                           "{\"a\":\"\\\\\\u0000\"}"};
    static const char *const without[] = {"{\"a\":\"x\\u0001y\"}", "{\"a\":\"\\\\u0000\"}",
                                          "{\"a\":\"u0000\"}", "\"\\u000\"", "\"\\\""};

    for (size_t i = 0; i < sizeof with_nul / sizeof with_nul[0]; i++) {
        EXPECT(api_json_has_nul(with_nul[i], strlen(with_nul[i])) == 1);
    }
    for (size_t i = 0; i < sizeof without / sizeof without[0]; i++) {
        EXPECT(api_json_has_nul(without[i], strlen(without[i])) == 0);
    }
    EXPECT(api_json_has_nul("ab\0cd", 5) == 1);
}
