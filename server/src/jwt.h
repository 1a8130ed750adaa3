/*
 * HS256 JSON Web Tokens: {"alg":"HS256","typ":"JWT"} . {"sub","gen","dev","dgen","iat","exp"} .
 * HMAC-SHA-256. gen is the account's token generation, dev the device (1..JWT_DEVICE_MAX) and
 * dgen that device's token generation. The 32-byte secret lives in DATA/jwt.key (mode 0600,
 * created on first run). Verification accepts only that exact algorithm, compares the MAC in
 * constant time, requires integral iat, exp, gen (and dev and dgen, both or neither: a token
 * from before devices has neither and is device 1's, generation 0), exp in the future and iat no
 * more than JWT_SKEW seconds in the future.
 */
#ifndef PARLEY_SERVER_JWT_H
#define PARLEY_SERVER_JWT_H

#include <stddef.h>

#define JWT_KEY_BYTES 32
#define JWT_MAX_LEN 2048
#define JWT_SKEW 60
#define JWT_LIFETIME 86400LL /* 24 hours */
#define JWT_SUB_MAX 64
#define JWT_DEVICE_MAX 2147483647LL

struct jwt_claims {
    char sub[JWT_SUB_MAX + 1];
    long long gen;
    long long dev;  /* 1..JWT_DEVICE_MAX (1 when the token has no dev) */
    long long dgen; /* 0 when the token has no dev */
    long long iat;
    long long exp;
};

enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED,     /* not three base64url segments of JSON objects, or a bad claim */
    JWT_TOO_LONG,      /* longer than JWT_MAX_LEN */
    JWT_BAD_ALG,       /* header other than alg HS256 (none, HS512, RS256, crit, ...) */
    JWT_BAD_SIGNATURE, /* MAC does not match */
    JWT_EXPIRED,       /* exp <= now */
    JWT_NOT_YET_VALID  /* iat > now + JWT_SKEW */
};

/* Writes a token for sub's device dev into out. 0, or -1 if it does not fit, sub is too long or
 * dev is out of range. */
int jwt_sign(const unsigned char key[JWT_KEY_BYTES], const char *sub, long long gen,
             long long dev, long long dgen, long long iat, long long exp, char *out,
             size_t outlen);

/* Verifies token at time now; on JWT_OK fills *claims. */
enum jwt_result jwt_verify(const unsigned char key[JWT_KEY_BYTES], const char *token,
                           long long now, struct jwt_claims *claims);

/* Reads DIR/jwt.key, or creates it (0600, random) when absent. 0, or -1 with err set. */
int jwt_load_key(const char *data_dir, unsigned char key[JWT_KEY_BYTES], char *err,
                 size_t errlen);

#endif
