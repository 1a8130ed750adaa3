#include "jwt.h"

#include "b64.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* {"alg":"HS256","typ":"JWT"} */
static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#define SEG_MAX JWT_MAX_LEN

int jwt_sign(const unsigned char key[JWT_KEY_BYTES], const char *sub, long long gen,
             long long dev, long long dgen, long long iat, long long exp, char *out,
             size_t outlen)
{
    cJSON *payload;
    char *json;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t jlen, used;
    int rc = -1;

    if (strlen(sub) > JWT_SUB_MAX || dev < 1 || dev > JWT_DEVICE_MAX) {
        return -1;
    }
    payload = cJSON_CreateObject();
    if (payload == NULL) {
        return -1;
    }
    if (cJSON_AddStringToObject(payload, "sub", sub) == NULL ||
        cJSON_AddNumberToObject(payload, "gen", (double)gen) == NULL ||
        cJSON_AddNumberToObject(payload, "dev", (double)dev) == NULL ||
        cJSON_AddNumberToObject(payload, "dgen", (double)dgen) == NULL ||
        cJSON_AddNumberToObject(payload, "iat", (double)iat) == NULL ||
        cJSON_AddNumberToObject(payload, "exp", (double)exp) == NULL) {
        cJSON_Delete(payload);
        return -1;
    }
    json = cJSON_PrintUnformatted(payload);
    cJSON_Delete(payload);
    if (json == NULL) {
        return -1;
    }
    jlen = strlen(json);
    used = sizeof header_b64 - 1;
    if (outlen > used + 1 + B64_LEN(jlen) + 1 + B64_LEN(sizeof mac) &&
        used + 1 + B64_LEN(jlen) + 1 + B64_LEN(sizeof mac) <= JWT_MAX_LEN) {
        memcpy(out, header_b64, used);
        out[used++] = '.';
        (void)b64_encode(out + used, outlen - used, (const unsigned char *)json, jlen);
        used += B64_LEN(jlen);
        crypto_auth_hmacsha256(mac, (const unsigned char *)out, used, key);
        out[used++] = '.';
        (void)b64_encode(out + used, outlen - used, mac, sizeof mac);
        rc = 0;
    }
    cJSON_free(json);
    return rc;
}

/* An integral JSON number in [0, 2^53]. */
static int get_int(const cJSON *obj, const char *name, long long *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    double v;

    if (!cJSON_IsNumber(item)) {
        return -1;
    }
    v = item->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0) || floor(v) != v) {
        return -1;
    }
    *out = (long long)v;
    return 0;
}

static cJSON *decode_json_segment(const char *seg, size_t len)
{
    unsigned char buf[SEG_MAX];
    size_t n = 0;

    if (len == 0 || b64_decode(seg, len, buf, sizeof buf - 1, &n) != 0) {
        return NULL;
    }
    buf[n] = '\0';
    if (strlen((const char *)buf) != n) {
        return NULL; /* embedded NUL */
    }
    return cJSON_ParseWithLength((const char *)buf, n);
}

static enum jwt_result check_header(const char *seg, size_t len)
{
    cJSON *h = decode_json_segment(seg, len);
    const cJSON *alg;
    const cJSON *typ;
    enum jwt_result rc = JWT_OK;

    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return JWT_MALFORMED;
    }
    alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0 ||
        (typ != NULL && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0)) ||
        cJSON_GetObjectItemCaseSensitive(h, "crit") != NULL) {
        rc = JWT_BAD_ALG;
    }
    cJSON_Delete(h);
    return rc;
}

static enum jwt_result check_payload(const char *seg, size_t len, long long now,
                                     struct jwt_claims *claims)
{
    cJSON *p = decode_json_segment(seg, len);
    const cJSON *sub;
    struct jwt_claims c;
    enum jwt_result rc = JWT_OK;
    int has_dev;
    int has_dgen;

    memset(&c, 0, sizeof c);
    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return JWT_MALFORMED;
    }
    sub = cJSON_GetObjectItemCaseSensitive(p, "sub");
    c.dev = 1; /* a token from before devices: device 1, generation 0 */
    has_dev = cJSON_GetObjectItemCaseSensitive(p, "dev") != NULL;
    has_dgen = cJSON_GetObjectItemCaseSensitive(p, "dgen") != NULL;
    if (!cJSON_IsString(sub) || sub->valuestring[0] == '\0' ||
        strlen(sub->valuestring) > JWT_SUB_MAX || get_int(p, "gen", &c.gen) != 0 ||
        get_int(p, "iat", &c.iat) != 0 || get_int(p, "exp", &c.exp) != 0 || c.exp <= c.iat ||
        c.exp - c.iat > JWT_LIFETIME || has_dev != has_dgen ||
        (has_dev && (get_int(p, "dev", &c.dev) != 0 || get_int(p, "dgen", &c.dgen) != 0 ||
                     c.dev < 1 || c.dev > JWT_DEVICE_MAX))) {
        rc = JWT_MALFORMED;
    } else if (c.exp <= now) {
        rc = JWT_EXPIRED;
    } else if (c.iat > now + JWT_SKEW) {
        rc = JWT_NOT_YET_VALID;
    } else {
        memcpy(c.sub, sub->valuestring, strlen(sub->valuestring) + 1);
        *claims = c;
    }
    cJSON_Delete(p);
    return rc;
}

enum jwt_result jwt_verify(const unsigned char key[JWT_KEY_BYTES], const char *token,
                           long long now, struct jwt_claims *claims)
{
    const char *dot1;
    const char *dot2;
    size_t len;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    enum jwt_result rc;

    if (token == NULL) {
        return JWT_MALFORMED;
    }
    len = strnlen(token, JWT_MAX_LEN + 1);
    if (len > JWT_MAX_LEN) {
        return JWT_TOO_LONG;
    }
    dot1 = strchr(token, '.');
    if (dot1 == NULL) {
        return JWT_MALFORMED;
    }
    dot2 = strchr(dot1 + 1, '.');
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        return JWT_MALFORMED;
    }
    rc = check_header(token, (size_t)(dot1 - token));
    if (rc != JWT_OK) {
        return rc;
    }
    if (b64_decode_exact(dot2 + 1, mac, sizeof mac) != 0) {
        return JWT_BAD_SIGNATURE;
    }
    if (crypto_auth_hmacsha256_verify(mac, (const unsigned char *)token, (size_t)(dot2 - token),
                                      key) != 0) {
        return JWT_BAD_SIGNATURE;
    }
    return check_payload(dot1 + 1, (size_t)(dot2 - dot1 - 1), now, claims);
}

/*
 * Writes a random key to DIR/jwt.key.tmp, syncs it, and links it to path, so that path either
 * does not exist or holds a whole key even after a crash; a concurrent creator wins cleanly.
 */
static int create_key(const char *data_dir, const char *path, char *err, size_t errlen)
{
    char tmp[4224];
    unsigned char key[JWT_KEY_BYTES];
    int fd;
    int dirfd;
    int ok;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    randombytes_buf(key, sizeof key);
    ok = write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    sodium_memzero(key, sizeof key);
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    unlink(tmp);
    dirfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd >= 0) {
        (void)fsync(dirfd);
        close(dirfd);
    }
    return 0;
}

int jwt_load_key(const char *data_dir, unsigned char key[JWT_KEY_BYTES], char *err,
                 size_t errlen)
{
    char path[4200];
    unsigned char buf[JWT_KEY_BYTES + 1];
    int fd;
    ssize_t n;

    if ((size_t)snprintf(path, sizeof path, "%s/jwt.key", data_dir) >= sizeof path) {
        snprintf(err, errlen, "data folder path too long");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (create_key(data_dir, path, err, errlen) != 0) {
            return -1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != JWT_KEY_BYTES) {
        sodium_memzero(buf, sizeof buf);
        snprintf(err, errlen, "%s must hold exactly %d bytes", path, JWT_KEY_BYTES);
        return -1;
    }
    memcpy(key, buf, JWT_KEY_BYTES);
    sodium_memzero(buf, sizeof buf);
    return 0;
}
