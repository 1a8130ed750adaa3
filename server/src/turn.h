/*
 * TURN relay credentials (docs/API.md, "TURN relays"): the time-limited scheme coturn calls
 * use-auth-secret (also known as the TURN REST API). The server and coturn share a secret; the
 * server hands a logged-in page
 *
 *   username   = EXPIRY ":" OPAQUE        EXPIRY: Unix seconds, OPAQUE: 22 base64url characters
 *   credential = base64(HMAC-SHA1(secret, username))        (standard base64, with padding)
 *
 * and coturn recomputes the credential from the username, refusing it after EXPIRY. OPAQUE is
 * HMAC-SHA256 of the account's name under a key derived from the server's own jwt.key (never the
 * shared secret), cut to 16 bytes: the same for one account, different between accounts, and
 * nothing the relay's operator can turn back into a name.
 */
#ifndef PARLEY_SERVER_TURN_H
#define PARLEY_SERVER_TURN_H

#include <stddef.h>

#define TURN_SECRET_MAX 256   /* bytes of the shared secret (the file's first line) */
#define TURN_TTL_DEFAULT 3600 /* seconds a credential lives (--turn-ttl) */
#define TURN_TTL_MIN 60
#define TURN_TTL_MAX 86400
#define TURN_USERNAME_LEN 48   /* "EXPIRY:OPAQUE" with its NUL (20 + 1 + 22 + 1 fits) */
#define TURN_CREDENTIAL_LEN 32 /* base64 of 20 bytes (28 characters) and its NUL */
/* Credentials one account may be issued: a burst, then one a minute. */
#define TURN_ISSUE_BURST 20.0
#define TURN_ISSUE_PER_SECOND (1.0 / 60.0)

/*
 * Reads the shared secret (the first line of path, 1..TURN_SECRET_MAX printable bytes, a trailing
 * newline allowed) and derives the OPAQUE key from DATA/jwt.key. 0, or -1 with err set.
 */
int turn_init(const char *secret_path, const char *data_dir, int ttl, char *err, size_t errlen);

/* 1 once turn_init succeeded: GET /api/config hands out credentials. */
int turn_enabled(void);

/* Wipes the secret and the key. */
void turn_shutdown(void);

/*
 * The credential pair for account at time now: username "EXPIRY:OPAQUE" (EXPIRY = now + ttl),
 * credential base64(HMAC-SHA1(secret, username)); *expires_at = EXPIRY. 0, or -1 (not enabled).
 */
int turn_issue(const char *account, long long now, char username[TURN_USERNAME_LEN],
               char credential[TURN_CREDENTIAL_LEN], long long *expires_at);

/* The same computation with the secret and key given (tests and the unit tests' vectors). */
int turn_credentials(const unsigned char *secret, size_t secret_len,
                     const unsigned char key[32], const char *account, long long expiry,
                     char username[TURN_USERNAME_LEN], char credential[TURN_CREDENTIAL_LEN]);

#endif
