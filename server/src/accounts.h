/*
 * Accounts: sign-up, login, logout, password change, token refresh, and the bearer-token check
 * every authenticated endpoint and the WebSocket use.
 *
 * Passwords are opaque strings of 8..1024 bytes (the web app sends a derived login secret) kept
 * as crypto_pwhash_str (Argon2id, OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE: t=2, m=64 MiB).
 * At most ACCOUNTS_HASH_SLOTS hashes run at once. A login for an unknown user verifies against a
 * fixed dummy hash, so both failures take the same time and get the same 401.
 */
#ifndef PARLEY_SERVER_ACCOUNTS_H
#define PARLEY_SERVER_ACCOUNTS_H

#include "names.h"

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

#define USERNAME_MIN 3
#define USERNAME_MAX 32
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define ACCOUNTS_HASH_SLOTS 2

/* Per client address: sign-ups, logins and password changes together. */
#define AUTH_IP_BURST 60.0
#define AUTH_IP_PER_SECOND 1.0
/* Per account: logins and password changes. */
#define AUTH_ACCOUNT_BURST 10.0
#define AUTH_ACCOUNT_PER_SECOND 0.1

/* Who a token speaks for: an account and one of its devices. */
struct account {
    long long id;
    long long gen;        /* the account's token generation */
    uint32_t device;      /* 1..2^31-1 (1 for a token from before devices) */
    long long device_gen; /* the device's token generation */
    int listed;           /* the device is listed (docs/API.md "Devices"), as of the check */
    char username[USERNAME_MAX + 1];
};

/* account_username_valid and account_username_fold, the username rules, are in names.h (pure
 * functions, fuzzed by tests/fuzz/fuzz_server_body.c). */

/*
 * Reserves names[0..n) (valid, case-folded usernames: the operator's --reserved-names) besides
 * names_reserved_default. Sign-up refuses a reserved name and every name that looks like one
 * (the same skeleton, names.h); logging in is not affected. Called at start, before serving.
 */
void accounts_set_reserved(const char (*names)[NAMES_NAME_LEN], int n);

/* Loads DATA/jwt.key, prepares the dummy hash and the hashing slots. 0, or -1 with err set. */
int accounts_init(const char *data_dir, char *err, size_t errlen);
void accounts_shutdown(void);

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,
    AUTH_INVALID,
    AUTH_EXPIRED,
    AUTH_REVOKED,
    AUTH_REMOVED,    /* the token's device was removed from the account */
    AUTH_UNAVAILABLE /* the database did not answer: the token could not be checked */
};

/* Checks a token (signature, times, the account's and the device's current generations, the
 * device not removed); fills *acc on AUTH_OK. */
enum auth_result accounts_verify_token(const char *token, struct account *acc);

/* The token of "Authorization: Bearer TOKEN" (spaces after "Bearer" skipped), or NULL. */
const char *accounts_bearer_token(const struct mg_connection *conn);

/*
 * Checks "Authorization: Bearer TOKEN". Returns 0 with *acc filled, or the status of the error
 * already sent (401 missing_token, invalid_token, token_expired, token_revoked; 403
 * device_removed; 503 database_unavailable).
 */
int accounts_authenticate(struct mg_connection *conn, struct account *acc);

/* Looks a username up. 1 found (id in *id when not NULL), 0 unknown, -1 database error. */
int accounts_exists(const char *username, long long *id);

/* Called (outside any lock) after tokens of username were revoked: device's (a logout), or every
 * device's when device is 0 (a password change). */
void accounts_set_revoke_listener(void (*listener)(const char *username, uint32_t device));

int accounts_signup(struct mg_connection *conn);
int accounts_login(struct mg_connection *conn);
int accounts_logout(struct mg_connection *conn);
int accounts_password(struct mg_connection *conn);
int accounts_refresh(struct mg_connection *conn);

/* Called (outside any lock) after username's account was deleted (POST /api/account/delete). */
void accounts_set_delete_listener(void (*listener)(const char *username));
int accounts_delete(struct mg_connection *conn);

#endif
