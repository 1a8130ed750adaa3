/*
 * libFuzzer target: bearer tokens (server/src/jwt.c), under a fixed key at a fixed time. The
 * first input byte picks what the rest is:
 *   0  a token as a client sends it. Only a token the key signed can verify (the MAC covers the
 *      header and payload, and base64url is canonical), so one that verifies must be exactly
 *      what jwt_sign writes for its claims;
 *   1  the signed part, header.payload: the harness signs it, so that the fuzzer reaches the
 *      header and claim checks. A token that verifies has the claims its payload says (decoded
 *      here again with libsodium and cJSON), within the rules of jwt.h, and jwt_sign makes a
 *      token of the same claims that verifies;
 *   2  arguments of jwt_sign (three 64-bit numbers, a flag byte, a 32-bit device and a 32-bit
 *      device generation, the subject): the token must verify exactly when the claims keep the
 *      rules, with the same claims (for numbers below 10^15, which cJSON prints exactly: see
 *      exact()).
 * A token without "dev" and "dgen" (from before devices) is device 1's, generation 0.
 * Whatever verifies must not verify under another key, and a token longer than JWT_MAX_LEN is
 * JWT_TOO_LONG.
 */
#include "fuzz_server.h"
#include "b64.h"
#include "jwt.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000LL
#define TWO_53 9007199254740992.0

enum { MODE_TOKEN, MODE_SIGNED_PART, MODE_SIGN, MODES };

static const unsigned char key[JWT_KEY_BYTES] = {0x5a, 0x17, 0x03};
static const unsigned char other_key[JWT_KEY_BYTES] = {0x5a, 0x17, 0x04};

static int same_claims(const struct jwt_claims *a, const struct jwt_claims *b)
{
    return strcmp(a->sub, b->sub) == 0 && a->gen == b->gen && a->dev == b->dev &&
           a->dgen == b->dgen && a->iat == b->iat && a->exp == b->exp;
}

/* The rules jwt.h states for a token that verifies at NOW. */
static void check_claims(const struct jwt_claims *c)
{
    size_t len = strnlen(c->sub, sizeof c->sub);

    CHECK(len >= 1 && len <= JWT_SUB_MAX);
    CHECK(c->gen >= 0 && c->iat >= 0 && c->exp >= 0 && c->dgen >= 0);
    CHECK((double)c->gen <= TWO_53 && (double)c->exp <= TWO_53 && (double)c->dgen <= TWO_53);
    CHECK(c->dev >= 1 && c->dev <= JWT_DEVICE_MAX);
    CHECK(c->exp > NOW && c->iat <= NOW + JWT_SKEW);
    CHECK(c->exp > c->iat && (uint64_t)c->exp - (uint64_t)c->iat <= (uint64_t)JWT_LIFETIME);
}

/* jwt_sign of the same claims gives a token that verifies to them; returns it (malloc'd). */
static char *resign(const struct jwt_claims *c)
{
    char *token = malloc(JWT_MAX_LEN + 1);
    struct jwt_claims again;

    CHECK(token != NULL);
    CHECK(jwt_sign(key, c->sub, c->gen, c->dev, c->dgen, c->iat, c->exp, token,
                   JWT_MAX_LEN + 1) == 0);
    memset(&again, 0, sizeof again);
    CHECK(jwt_verify(key, token, NOW, &again) == JWT_OK && same_claims(c, &again));
    return token;
}

/* A segment of base64url JSON, decoded here without jwt.c. */
static cJSON *decode_segment(const char *seg, size_t len)
{
    unsigned char *buf = malloc(len + 1);
    size_t n = 0;
    cJSON *json = NULL;

    CHECK(buf != NULL);
    if (sodium_base642bin(buf, len, seg, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
        json = cJSON_ParseWithLength((const char *)buf, n);
    }
    free(buf);
    return json;
}

static int number_is(const cJSON *obj, const char *name, long long want)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(item) && item->valuedouble == (double)want;
}

/* A token that verified with claims c: what its header and payload say. */
static void check_segments(const char *token, const struct jwt_claims *c)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    cJSON *header;
    cJSON *payload;
    const cJSON *alg;
    const cJSON *typ;
    const cJSON *sub;

    CHECK(dot2 != NULL && strchr(dot2 + 1, '.') == NULL);
    header = decode_segment(token, (size_t)(dot1 - token));
    payload = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    CHECK(cJSON_IsObject(header) && cJSON_IsObject(payload));
    alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    CHECK(cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0);
    typ = cJSON_GetObjectItemCaseSensitive(header, "typ");
    CHECK(typ == NULL || (cJSON_IsString(typ) && strcmp(typ->valuestring, "JWT") == 0));
    CHECK(cJSON_GetObjectItemCaseSensitive(header, "crit") == NULL);
    sub = cJSON_GetObjectItemCaseSensitive(payload, "sub");
    CHECK(cJSON_IsString(sub) && strcmp(sub->valuestring, c->sub) == 0);
    CHECK(number_is(payload, "gen", c->gen) && number_is(payload, "iat", c->iat) &&
          number_is(payload, "exp", c->exp));
    if (cJSON_GetObjectItemCaseSensitive(payload, "dev") != NULL) {
        CHECK(number_is(payload, "dev", c->dev) && number_is(payload, "dgen", c->dgen));
    } else {
        CHECK(cJSON_GetObjectItemCaseSensitive(payload, "dgen") == NULL && c->dev == 1 &&
              c->dgen == 0);
    }
    cJSON_Delete(header);
    cJSON_Delete(payload);
}

/* Verifies token; returns the result, with the checks every mode shares done. */
static enum jwt_result verify(const char *token, struct jwt_claims *c)
{
    enum jwt_result rc;
    struct jwt_claims other;

    memset(c, 0, sizeof *c);
    rc = jwt_verify(key, token, NOW, c);
    CHECK(rc >= JWT_OK && rc <= JWT_NOT_YET_VALID);
    CHECK(strlen(token) <= JWT_MAX_LEN || rc == JWT_TOO_LONG);
    if (rc == JWT_OK) {
        check_claims(c);
        check_segments(token, c);
        CHECK(jwt_verify(other_key, token, NOW, &other) == JWT_BAD_SIGNATURE);
    }
    return rc;
}

static void mode_token(const char *token)
{
    struct jwt_claims c;

    if (verify(token, &c) == JWT_OK) {
        char *again = resign(&c);
        /* The same token, unless it is one from before devices (jwt_sign writes dev and dgen). */
        CHECK(strcmp(again, token) == 0 || (c.dev == 1 && c.dgen == 0));
        free(again);
    }
}

/* text is header.payload (or anything): signed here, then verified. */
static void mode_signed_part(const char *text)
{
    size_t len = strlen(text);
    char *token = malloc(len + 1 + B64_LEN(crypto_auth_hmacsha256_BYTES) + 1);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    struct jwt_claims c;

    CHECK(token != NULL);
    memcpy(token, text, len);
    crypto_auth_hmacsha256(mac, (const unsigned char *)text, len, key);
    token[len] = '.';
    CHECK(b64_encode(token + len + 1, B64_LEN(sizeof mac) + 1, mac, sizeof mac) == 0);
    if (verify(token, &c) == JWT_OK) {
        free(resign(&c));
    }
    free(token);
}

static int64_t get_i64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return (int64_t)v;
}

/* The claim a number becomes in the token (cJSON holds doubles), or -1 when it may not be one. */
static long long claim_of(long long v)
{
    double d = (double)v;

    return d >= 0.0 && d <= TWO_53 ? (long long)d : -1;
}

/* cJSON (1.7.15) prints a number with 15 significant digits when that reads back within
 * DBL_EPSILON of it, so a claim above 10^15 may come back changed: 2^53 as 9.00719925474099e+15,
 * that is 9007199254740990. Claims are exact below. */
static int exact(long long v)
{
    return v > -1000000000000000LL && v < 1000000000000000LL;
}

/* p: gen, iat, exp (64-bit big-endian), a flag byte, dev and dgen (32-bit big-endian), then the
 * subject. Without a flag, iat and exp are taken near NOW and near each other, where the rules'
 * edges are, and dev near its range's ends. */
static void mode_sign(const uint8_t *p, size_t n)
{
    char sub[JWT_SUB_MAX + 2];
    char *token = malloc(JWT_MAX_LEN + 1);
    long long gen, iat, exp, dev, dgen, cg, ci, ce, cd;
    uint8_t flags;
    size_t sub_len;
    int rc;
    enum jwt_result want;
    enum jwt_result got;
    struct jwt_claims c;

    CHECK(token != NULL);
    if (n < 33) {
        free(token);
        return;
    }
    flags = p[24];
    gen = (flags & 1) ? get_i64(p) : (long long)(p[7] % 8);
    iat = (flags & 2) ? get_i64(p + 8) : NOW - 128 + (long long)((uint64_t)get_i64(p + 8) % 256);
    /* Wrapping arithmetic (iat may be anything): an exp near iat, whatever iat is. */
    exp = (flags & 4) ? get_i64(p + 16)
                      : (long long)((uint64_t)iat - 128u +
                                    (uint64_t)get_i64(p + 16) % (uint64_t)(JWT_LIFETIME + 256));
    dev = (long long)((uint32_t)get_i64(p + 21)); /* bytes 25..28 */
    if (!(flags & 8)) {
        dev = (dev & 1) ? JWT_DEVICE_MAX - (dev >> 1) % 3 + 1 : (dev >> 1) % 3;
    }
    dgen = (long long)((uint32_t)get_i64(p + 25)); /* bytes 29..32 */
    sub_len = n - 33 < sizeof sub - 1 ? n - 33 : sizeof sub - 1;
    memcpy(sub, p + 33, sub_len);
    sub[sub_len] = '\0';

    rc = jwt_sign(key, sub, gen, dev, dgen, iat, exp, token, JWT_MAX_LEN + 1);
    CHECK((rc == 0) == (strlen(sub) <= JWT_SUB_MAX && dev >= 1 && dev <= JWT_DEVICE_MAX));
    if (rc == 0 && !(exact(gen) && exact(iat) && exact(exp))) {
        (void)verify(token, &c);
    } else if (rc == 0) {
        cg = claim_of(gen);
        ci = claim_of(iat);
        ce = claim_of(exp);
        cd = claim_of(dgen);
        if (sub[0] == '\0' || cg < 0 || ci < 0 || ce < 0 || cd < 0 || ce <= ci ||
            ce - ci > JWT_LIFETIME) {
            want = JWT_MALFORMED;
        } else if (ce <= NOW) {
            want = JWT_EXPIRED;
        } else if (ci > NOW + JWT_SKEW) {
            want = JWT_NOT_YET_VALID;
        } else {
            want = JWT_OK;
        }
        got = verify(token, &c);
        CHECK(got == want);
        CHECK(got != JWT_OK || (strcmp(c.sub, sub) == 0 && c.gen == cg && c.dev == dev &&
                                c.dgen == cd && c.iat == ci && c.exp == ce));
    }
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size < 1) {
        return 0;
    }
    if (data[0] % MODES == MODE_SIGN) {
        mode_sign(data + 1, size - 1);
        return 0;
    }
    /* A C string, as the server has it (the Authorization header, a JSON string). */
    text = malloc(size);
    CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % MODES == MODE_TOKEN) {
        mode_token(text);
    } else {
        mode_signed_part(text);
    }
    free(text);
    return 0;
}

/* ---- Seeds: tokens the server issues, and forms it must refuse ------------------------------ */

static void token_seed(const char *dir, const char *sub, long long gen, long long iat,
                       long long exp)
{
    char token[JWT_MAX_LEN + 1];

    CHECK(jwt_sign(key, sub, gen, 1, 0, iat, exp, token, sizeof token) == 0);
    seed_write_text(dir, "token", MODE_TOKEN, token);
    CHECK(jwt_sign(key, sub, gen, 7, iat, iat, exp, token, sizeof token) == 0);
    seed_write_text(dir, "token", MODE_TOKEN, token);
}

/* header and payload as JSON text: their base64url joined by a dot. */
static void signed_part_seed(const char *dir, const char *header, const char *payload)
{
    char text[1024];
    size_t h = strlen(header);
    size_t p = strlen(payload);

    CHECK(B64_LEN(h) + 1 + B64_LEN(p) < sizeof text);
    CHECK(b64_encode(text, sizeof text, (const unsigned char *)header, h) == 0);
    text[B64_LEN(h)] = '.';
    CHECK(b64_encode(text + B64_LEN(h) + 1, sizeof text - B64_LEN(h) - 1,
                     (const unsigned char *)payload, p) == 0);
    seed_write_text(dir, "signed-part", MODE_SIGNED_PART, text);
}

static void sign_seed(const char *dir, long long gen, long long iat, long long exp,
                      uint8_t flags, const char *sub)
{
    uint8_t buf[1 + 33 + JWT_SUB_MAX + 2];
    const long long v[3] = {gen, iat, exp};
    const uint32_t device[2] = {3, 5}; /* dev and dgen (used as they are with flag 8) */
    size_t len = strlen(sub);

    CHECK(len <= JWT_SUB_MAX + 1);
    buf[0] = MODE_SIGN;
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 8; k++) {
            buf[1 + 8 * i + k] = (uint8_t)((uint64_t)v[i] >> (56 - 8 * k));
        }
    }
    buf[25] = flags;
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++) {
            buf[26 + 4 * i + k] = (uint8_t)(device[i] >> (24 - 8 * k));
        }
    }
    for (size_t i = 0; i < len; i++) {
        buf[34 + i] = (uint8_t)sub[i]; /* no NUL: the subject runs to the end of the input */
    }
    seed_write(dir, "sign", buf, 34 + len);
}

/* libFuzzer's signature. */
int LLVMFuzzerInitialize(int *argc, char ***argv) // NOLINT(readability-non-const-parameter)
{
    static const char std_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char claims[] =
        "{\"sub\":\"alice\",\"gen\":0,\"iat\":1699999990,\"exp\":1700003590}";
    const char *dir = seed_dir();
    char sub64[JWT_SUB_MAX + 1];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    if (dir == NULL) {
        return 0;
    }
    memset(sub64, 'z', JWT_SUB_MAX);
    sub64[JWT_SUB_MAX] = '\0';
    token_seed(dir, "alice", 0, NOW - 10, NOW + 3600);
    token_seed(dir, sub64, 9007199254740992LL, NOW, NOW + JWT_LIFETIME);
    token_seed(dir, "bob \"\\\x01\xc3\xa9", 3, NOW - JWT_LIFETIME + 1, NOW + 1);
    token_seed(dir, "carol", 1, NOW - 7200, NOW - 3600);      /* expired */
    token_seed(dir, "dave", 1, NOW + 3600, NOW + 7200);       /* not yet valid */
    seed_write_text(dir, "token", MODE_TOKEN, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.");

    signed_part_seed(dir, std_header, claims);
    signed_part_seed(dir, "{\"alg\":\"HS256\"}", claims);
    signed_part_seed(dir, " { \"typ\" : \"JWT\" , \"alg\" : \"HS256\" } ", claims);
    signed_part_seed(dir, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims);
    signed_part_seed(dir, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", claims);
    signed_part_seed(dir, "{\"alg\":\"none\"}", claims);
    signed_part_seed(dir, std_header,
                     "{\"exp\":1700003590,\"iat\":1699999990,\"gen\":2,\"sub\":\"al\\u0000ice\","
                     "\"admin\":true}");
    signed_part_seed(dir, std_header,
                     "{\"sub\":\"a\",\"gen\":1.5,\"iat\":1699999990,\"exp\":1.7e9}");
    signed_part_seed(dir, std_header, "{\"sub\":\"a\",\"gen\":-1,\"iat\":1e300,\"exp\":\"1\"}");
    signed_part_seed(dir, std_header, "[\"sub\",\"gen\",\"iat\",\"exp\"]");

    sign_seed(dir, 0, 0, 0, 0, "alice");
    sign_seed(dir, 5, NOW - 60, NOW + 60, 6, "Bob");
    sign_seed(dir, 9007199254740993LL, NOW, NOW + 1, 7, "x");
    sign_seed(dir, 2, NOW - 60, NOW + 60, 8 | 6, "dev");
    sign_seed(dir, -1, -5, INT64_MAX, 7, "");
    return 0;
}
