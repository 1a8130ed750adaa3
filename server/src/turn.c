/* TURN relay credentials for coturn's use-auth-secret scheme (turn.h). */
#include "turn.h"

#include "b64.h"
#include "jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OPAQUE_LABEL "parley-turn-user-v1"
#define OPAQUE_BYTES 16

static unsigned char secret[TURN_SECRET_MAX];
static size_t secret_len;
static unsigned char opaque_key[32];
static int ttl_seconds = TURN_TTL_DEFAULT;
static int enabled;

static int read_secret(const char *path, char *err, size_t errlen)
{
    unsigned char buf[TURN_SECRET_MAX + 2];
    ssize_t n;
    size_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open the TURN secret file %s: %s", path, strerror(errno));
        return -1;
    }
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read the TURN secret file %s: %s", path, strerror(errno));
        return -1;
    }
    len = (size_t)n;
    /* One line: a trailing newline (and a carriage return before it) is not part of it. */
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        if (buf[i] < 0x21 || buf[i] > 0x7e) {
            len = 0; /* refused below: a secret is printable ASCII without spaces */
            break;
        }
    }
    if (len == 0 || len > TURN_SECRET_MAX) {
        sodium_memzero(buf, sizeof buf);
        snprintf(err, errlen,
                 "the TURN secret file %s must hold one line of 1 to %d printable characters "
                 "without spaces (coturn's static-auth-secret)",
                 path, TURN_SECRET_MAX);
        return -1;
    }
    memcpy(secret, buf, len);
    secret_len = len;
    sodium_memzero(buf, sizeof buf);
    return 0;
}

int turn_init(const char *secret_path, const char *data_dir, int ttl, char *err, size_t errlen)
{
    unsigned char jwt_key[JWT_KEY_BYTES];

    if (ttl < TURN_TTL_MIN || ttl > TURN_TTL_MAX) {
        snprintf(err, errlen, "--turn-ttl must be %d..%d seconds", TURN_TTL_MIN, TURN_TTL_MAX);
        return -1;
    }
    if (read_secret(secret_path, err, errlen) != 0) {
        return -1;
    }
    if (jwt_load_key(data_dir, jwt_key, err, errlen) != 0) {
        turn_shutdown();
        return -1;
    }
    crypto_auth_hmacsha256(opaque_key, (const unsigned char *)OPAQUE_LABEL,
                           sizeof OPAQUE_LABEL - 1, jwt_key);
    sodium_memzero(jwt_key, sizeof jwt_key);
    ttl_seconds = ttl;
    enabled = 1;
    return 0;
}

int turn_enabled(void)
{
    return enabled;
}

void turn_shutdown(void)
{
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(opaque_key, sizeof opaque_key);
    secret_len = 0;
    enabled = 0;
}

int turn_credentials(const unsigned char *key_secret, size_t key_secret_len,
                     const unsigned char key[32], const char *account, long long expiry,
                     char username[TURN_USERNAME_LEN], char credential[TURN_CREDENTIAL_LEN])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int sha1_len = 0;
    char opaque[32];
    int n, rc = -1;

    if (key_secret == NULL || key_secret_len == 0 || account == NULL || expiry < 0) {
        return -1;
    }
    crypto_auth_hmacsha256(mac, (const unsigned char *)account, strlen(account), key);
    n = b64_encode(opaque, sizeof opaque, mac, OPAQUE_BYTES) == 0
            ? snprintf(username, TURN_USERNAME_LEN, "%lld:%s", expiry, opaque)
            : -1;
    /* coturn's scheme fixes HMAC-SHA1 here (not a choice of ours: RFC 5389's long-term
     * credential mechanism keys on it). Standard base64 with padding, as coturn compares it:
     * 28 characters and a NUL. */
    if (n > 0 && n < TURN_USERNAME_LEN &&
        HMAC(EVP_sha1(), key_secret, (int)key_secret_len, (const unsigned char *)username,
             (size_t)n, sha1, &sha1_len) != NULL &&
        sha1_len == 20 && EVP_EncodeBlock((unsigned char *)credential, sha1, (int)sha1_len) == 28) {
        rc = 0;
    }
    sodium_memzero(mac, sizeof mac);
    sodium_memzero(sha1, sizeof sha1);
    return rc;
}

int turn_issue(const char *account, long long now, char username[TURN_USERNAME_LEN],
               char credential[TURN_CREDENTIAL_LEN], long long *expires_at)
{
    long long expiry = now + ttl_seconds;

    if (!enabled) {
        return -1;
    }
    if (turn_credentials(secret, secret_len, opaque_key, account, expiry, username, credential) !=
        0) {
        return -1;
    }
    *expires_at = expiry;
    return 0;
}
