#include "accounts.h"

#include "api.h"
#include "devlist.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

_Static_assert(NAMES_NAME_MIN == USERNAME_MIN && NAMES_NAME_MAX == USERNAME_MAX,
               "names.h and accounts.h agree on the length of a username");

#define AUTH_BODY_MAX 4096

static unsigned char jwt_key[JWT_KEY_BYTES];
static char dummy_hash[crypto_pwhash_STRBYTES];
static sem_t hash_slots;
static struct rl_table *ip_limits;
static struct rl_table *account_limits;

/* The skeletons of the operator's reserved names (accounts_set_reserved). */
static char reserved_skeletons[NAMES_RESERVED_MAX][NAMES_SKELETON_MAX + 1];
static int n_reserved_skeletons;
static void (*revoke_listener)(const char *username, uint32_t device);
static void (*delete_listener)(const char *username);

/* The time tokens are issued and checked at, in Unix seconds. */
static long long now_seconds(void)
{
    return (long long)time(NULL);
}

void accounts_set_revoke_listener(void (*listener)(const char *username, uint32_t device))
{
    revoke_listener = listener;
}

void accounts_set_delete_listener(void (*listener)(const char *username))
{
    delete_listener = listener;
}

void accounts_set_reserved(const char (*names)[NAMES_NAME_LEN], int n)
{
    n_reserved_skeletons = 0;
    for (int i = 0; i < n && i < NAMES_RESERVED_MAX; i++) {
        if (names_skeleton(names[i], reserved_skeletons[n_reserved_skeletons]) > 0) {
            n_reserved_skeletons++;
        }
    }
}

/* 1 when skeleton is a reserved name's: the defaults' or the operator's. */
static int skeleton_reserved(const char *skeleton)
{
    char other[NAMES_SKELETON_MAX + 1];

    for (size_t i = 0; names_reserved_default[i] != NULL; i++) {
        if (names_skeleton(names_reserved_default[i], other) > 0 && strcmp(skeleton, other) == 0) {
            return 1;
        }
    }
    for (int i = 0; i < n_reserved_skeletons; i++) {
        if (strcmp(skeleton, reserved_skeletons[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int password_valid(const char *pw)
{
    size_t len;

    if (pw == NULL) {
        return 0;
    }
    len = strnlen(pw, PASSWORD_MAX + 1);
    return len >= PASSWORD_MIN && len <= PASSWORD_MAX;
}

static void slot_acquire(void)
{
    while (sem_wait(&hash_slots) != 0 && errno == EINTR) {
    }
}

static int hash_password(const char *pw, char out[crypto_pwhash_STRBYTES])
{
    int rc;

    slot_acquire();
    rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&hash_slots);
    return rc;
}

static int verify_password(const char *hash, const char *pw)
{
    int rc;

    slot_acquire();
    rc = crypto_pwhash_str_verify(hash, pw, strlen(pw));
    sem_post(&hash_slots);
    return rc == 0;
}

int accounts_init(const char *data_dir, char *err, size_t errlen)
{
    unsigned char random_pw[32];
    char random_b64[64];

    if (jwt_load_key(data_dir, jwt_key, err, errlen) != 0) {
        return -1;
    }
    if (sem_init(&hash_slots, 0, ACCOUNTS_HASH_SLOTS) != 0) {
        snprintf(err, errlen, "sem_init failed");
        return -1;
    }
    randombytes_buf(random_pw, sizeof random_pw);
    sodium_bin2base64(random_b64, sizeof random_b64, random_pw, sizeof random_pw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (hash_password(random_b64, dummy_hash) != 0) {
        snprintf(err, errlen, "cannot compute the dummy password hash (out of memory?)");
        return -1;
    }
    sodium_memzero(random_pw, sizeof random_pw);
    sodium_memzero(random_b64, sizeof random_b64);
    ip_limits = rl_create(4096, AUTH_IP_BURST, AUTH_IP_PER_SECOND);
    account_limits = rl_create(4096, AUTH_ACCOUNT_BURST, AUTH_ACCOUNT_PER_SECOND);
    if (ip_limits == NULL || account_limits == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void accounts_shutdown(void)
{
    sodium_memzero(jwt_key, sizeof jwt_key);
    rl_free(ip_limits);
    rl_free(account_limits);
    ip_limits = NULL;
    account_limits = NULL;
    sem_destroy(&hash_slots);
}

/* Zeroes every password field of a request body, then deletes it. */
static void delete_body(cJSON *body)
{
    static const char *const secret_fields[] = {"password", "oldPassword", "newPassword"};

    if (body == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof secret_fields / sizeof secret_fields[0]; i++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(body, secret_fields[i]);
        if (cJSON_IsString(item)) {
            sodium_memzero(item->valuestring, strlen(item->valuestring));
        }
    }
    cJSON_Delete(body);
}

/*
 * Takes a token of key's bucket: in the database when it is shared by several instances
 * (PostgreSQL), so that the limit holds across them, else (or when the database fails) in t. The
 * database sees a hash of the key keyed by the token key (every instance has the same), never
 * an address or a username.
 */
static int throttle_take(struct rl_table *t, const char *key, double burst, double per_second)
{
    unsigned char h[16];
    char hex[2 * sizeof h + 1];
    int wait;

    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), jwt_key,
                       sizeof jwt_key);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    wait = store_throttle_take(hex, burst, per_second);
    if (wait < 0) {
        wait = rl_take(t, key, rl_now());
    }
    return wait;
}

static int throttle_ip(struct mg_connection *conn)
{
    char addr[API_ADDR_MAX];
    char prefix[API_ADDR_MAX + 8];
    char key[RL_KEY_MAX];
    int wait;

    api_client_addr(conn, addr, sizeof addr);
    rl_address_key(addr, prefix, sizeof prefix);
    snprintf(key, sizeof key, "ip:%s", prefix);
    wait = throttle_take(ip_limits, key, AUTH_IP_BURST, AUTH_IP_PER_SECOND);
    if (wait > 0) {
        log_msg(LOG_WARN, "auth: throttled address %s for %d s", addr, wait);
        return api_send_throttled(conn, wait);
    }
    return 0;
}

static int throttle_account(struct mg_connection *conn, const char *username)
{
    char key[RL_KEY_MAX];
    int wait;

    snprintf(key, sizeof key, "user:%s", username);
    wait = throttle_take(account_limits, key, AUTH_ACCOUNT_BURST, AUTH_ACCOUNT_PER_SECOND);
    if (wait > 0) {
        log_msg(LOG_WARN, "auth: throttled account %s for %d s", username, wait);
        return api_send_throttled(conn, wait);
    }
    return 0;
}

/* Sends {"username","device","token","expiresAt"} for the account's device. */
static int send_token(struct mg_connection *conn, int status, const char *username, long long gen,
                      uint32_t device, long long device_gen)
{
    char token[JWT_MAX_LEN + 1];
    long long now = now_seconds();
    cJSON *obj;

    if (jwt_sign(jwt_key, username, gen, device, device_gen, now, now + JWT_LIFETIME, token,
                 sizeof token) != 0) {
        return http_send_error(conn, 500, "internal", "cannot issue a token");
    }
    obj = cJSON_CreateObject();
    if (obj != NULL) {
        cJSON_AddStringToObject(obj, "username", username);
        cJSON_AddNumberToObject(obj, "device", (double)device);
        cJSON_AddStringToObject(obj, "token", token);
        cJSON_AddNumberToObject(obj, "expiresAt", (double)(now + JWT_LIFETIME));
    }
    sodium_memzero(token, sizeof token);
    return api_send_object(conn, status, obj);
}

int accounts_exists(const char *username, long long *id)
{
    return store_user_get(username, id, NULL, NULL, 0);
}

/* Reads and checks {"username","password"[,"device"]}; 0, or the status already sent. */
static int read_credentials(struct mg_connection *conn, cJSON **body, const char **username,
                            const char **password, uint32_t *device)
{
    int rc = api_read_json(conn, AUTH_BODY_MAX, body);

    if (rc != 0) {
        return rc;
    }
    *username = api_get_string(*body, "username");
    *password = api_get_string(*body, "password");
    if (*username == NULL || *password == NULL) {
        return http_send_error(conn, 400, "missing_field",
                               "username and password are required strings");
    }
    /* Absent: device 1, the only device of an account from before devices. */
    if (devlist_field(*body, "device", 1, device) != 0) {
        return http_send_error(conn, 400, "invalid_field",
                               "device must be an integer from 1 to 2147483647");
    }
    return 0;
}

static int username_taken(struct mg_connection *conn)
{
    return http_send_error(conn, 409, "username_taken", "this username is taken");
}

/* The answer names no account: it says no more than username_taken would about which. */
static int username_confusable(struct mg_connection *conn)
{
    return http_send_error(conn, 409, "username_confusable",
                           "this username looks too much like one that is taken (0/o, 1/i/l, "
                           "rn/m, vv/w, cl/d and names with or without . _ - are not told "
                           "apart); choose another");
}

int accounts_signup(struct mg_connection *conn)
{
    char folded[USERNAME_MAX + 1];
    char skeleton[NAMES_SKELETON_MAX + 1];
    cJSON *body = NULL;
    const char *username = NULL;
    const char *password = NULL;
    char hash[crypto_pwhash_STRBYTES];
    uint32_t device = 1;
    long long device_gen = 0;
    int rc;

    if ((rc = throttle_ip(conn)) != 0 ||
        (rc = read_credentials(conn, &body, &username, &password, &device)) != 0) {
        delete_body(body);
        return rc;
    }
    username = account_username_fold(username, folded);
    if (username == NULL) {
        delete_body(body);
        return http_send_error(conn, 400, "invalid_username",
                               "a username is 3 to 32 characters a-z, 0-9, _, . and -, starting "
                               "with a letter (upper case is folded to lower case)");
    }
    if (!password_valid(password)) {
        delete_body(body);
        return http_send_error(conn, 400, "invalid_password",
                               "the password must be 8 to 1024 bytes long");
    }
    (void)names_skeleton(username, skeleton);
    if (skeleton_reserved(skeleton)) {
        delete_body(body);
        log_msg(LOG_INFO, "signup: refused reserved name %s", username);
        return http_send_error(conn, 409, "username_reserved",
                               "this username is reserved, or looks like a reserved one; choose "
                               "another");
    }
    /* Taken or confusable already: answered before spending a password hash. The insert below
     * checks both again, atomically (UNIQUE username and skeleton), for sign-ups racing. */
    rc = accounts_exists(username, NULL);
    if (rc != 0) {
        delete_body(body);
        /* A database that does not answer is not a taken name. */
        return rc < 0 ? http_send_error(conn, 500, "internal", "the account could not be stored")
                      : username_taken(conn);
    }
    rc = store_user_lookalike(skeleton);
    if (rc != 0) {
        delete_body(body);
        if (rc < 0) {
            return http_send_error(conn, 500, "internal", "the account could not be stored");
        }
        log_msg(LOG_INFO, "signup: refused %s, a look-alike of an account", username);
        return username_confusable(conn);
    }
    if (hash_password(password, hash) != 0) {
        delete_body(body);
        return http_send_error(conn, 503, "busy", "cannot hash the password now; retry later");
    }
    rc = store_user_create(username, skeleton, hash, device, now_seconds(), &device_gen);
    sodium_memzero(hash, sizeof hash);
    if (rc == STORE_TAKEN) {
        delete_body(body);
        return username_taken(conn);
    }
    if (rc == STORE_LOOKALIKE) {
        delete_body(body);
        log_msg(LOG_INFO, "signup: refused %s, a look-alike of an account", username);
        return username_confusable(conn);
    }
    if (rc != STORE_OK) {
        delete_body(body);
        log_msg(LOG_ERROR, "signup: database error");
        return http_send_error(conn, 500, "internal", "the account could not be stored");
    }
    log_msg(LOG_INFO, "signup: new account %s (device %u)", username, (unsigned)device);
    rc = send_token(conn, 201, username, 0, device, device_gen);
    delete_body(body);
    return rc;
}

static int invalid_credentials(struct mg_connection *conn)
{
    return http_send_error(conn, 401, "invalid_credentials", "wrong username or password");
}

int accounts_login(struct mg_connection *conn)
{
    char folded[USERNAME_MAX + 1];
    cJSON *body = NULL;
    const char *username = NULL;
    const char *password = NULL;
    char hash[crypto_pwhash_STRBYTES];
    long long id = 0;
    long long gen = 0;
    long long device_gen = 0;
    uint32_t device = 1;
    int found = 0;
    int ok;
    int rc;

    if ((rc = throttle_ip(conn)) != 0 ||
        (rc = read_credentials(conn, &body, &username, &password, &device)) != 0) {
        delete_body(body);
        return rc;
    }
    username = account_username_fold(username, folded);
    if (username != NULL) {
        if ((rc = throttle_account(conn, username)) != 0) {
            delete_body(body);
            return rc;
        }
        found = store_user_get(username, &id, &gen, hash, sizeof hash);
        if (found < 0) {
            delete_body(body);
            return http_send_error(conn, 500, "internal", "the account could not be read");
        }
    }
    /* Same work and the same answer for an unknown user and a wrong password. */
    ok = verify_password(found == 1 ? hash : dummy_hash,
                         password_valid(password) ? password : "invalid-password") &&
         found == 1 && password_valid(password);
    sodium_memzero(hash, sizeof hash);
    if (!ok) {
        log_msg(LOG_INFO, "login: failed");
        delete_body(body);
        return invalid_credentials(conn);
    }
    delete_body(body);
    /* Only now, the password verified: whether the device may log in (an unknown user and a
     * wrong password were answered alike above). */
    switch (store_device_login(id, device, now_seconds(), &device_gen)) {
    case STORE_OK:
        break;
    case STORE_REMOVED:
        log_msg(LOG_INFO, "login: %s named a removed device", username);
        return http_send_error(conn, 403, "device_removed",
                               "this device was removed from the account; log in with another "
                               "device id");
    case STORE_FULL:
        return http_send_error(conn, 409, "too_many_devices",
                               "the account has 16 devices already; remove one from the device "
                               "list first");
    default:
        return http_send_error(conn, 500, "internal", "the device could not be stored");
    }
    log_msg(LOG_INFO, "login: %s (device %u)", username, (unsigned)device);
    return send_token(conn, 200, username, gen, device, device_gen);
}

int accounts_logout(struct mg_connection *conn)
{
    struct account acc;
    long long gen = 0;
    int rc = accounts_authenticate(conn, &acc);

    if (rc != 0) {
        return rc;
    }
    if (store_device_revoke(acc.id, acc.device, &gen) != 0) {
        return http_send_error(conn, 500, "internal", "cannot revoke the tokens");
    }
    log_msg(LOG_INFO, "logout: %s (device %u)", acc.username, (unsigned)acc.device);
    if (revoke_listener != NULL) {
        revoke_listener(acc.username, acc.device);
    }
    return http_send_json(conn, 200, "{\"ok\":true}");
}

int accounts_refresh(struct mg_connection *conn)
{
    struct account acc;
    int rc = accounts_authenticate(conn, &acc);

    if (rc != 0) {
        return rc;
    }
    return send_token(conn, 200, acc.username, acc.gen, acc.device, acc.device_gen);
}

int accounts_password(struct mg_connection *conn)
{
    struct account acc;
    cJSON *body = NULL;
    const char *old_pw;
    const char *new_pw;
    char hash[crypto_pwhash_STRBYTES];
    long long id = 0;
    long long gen = 0;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 || (rc = throttle_ip(conn)) != 0 ||
        (rc = throttle_account(conn, acc.username)) != 0 ||
        (rc = api_read_json(conn, AUTH_BODY_MAX, &body)) != 0) {
        return rc;
    }
    old_pw = api_get_string(body, "oldPassword");
    new_pw = api_get_string(body, "newPassword");
    if (old_pw == NULL || new_pw == NULL) {
        delete_body(body);
        return http_send_error(conn, 400, "missing_field",
                               "oldPassword and newPassword are required strings");
    }
    if (!password_valid(new_pw)) {
        delete_body(body);
        return http_send_error(conn, 400, "invalid_password",
                               "the password must be 8 to 1024 bytes long");
    }
    if (store_user_get(acc.username, &id, &gen, hash, sizeof hash) != 1) {
        delete_body(body);
        return http_send_error(conn, 500, "internal", "the account could not be read");
    }
    if (!password_valid(old_pw) || !verify_password(hash, old_pw)) {
        sodium_memzero(hash, sizeof hash);
        delete_body(body);
        return http_send_error(conn, 403, "wrong_password", "the old password is wrong");
    }
    if (hash_password(new_pw, hash) != 0) {
        delete_body(body);
        return http_send_error(conn, 503, "busy", "cannot hash the password now; retry later");
    }
    delete_body(body);
    rc = store_user_revoke(acc.id, hash, &gen);
    sodium_memzero(hash, sizeof hash);
    if (rc != 0) {
        return http_send_error(conn, 500, "internal", "the password could not be stored");
    }
    log_msg(LOG_INFO, "password: changed for %s", acc.username);
    if (revoke_listener != NULL) {
        revoke_listener(acc.username, 0);
    }
    return send_token(conn, 200, acc.username, gen, acc.device, acc.device_gen);
}

/*
 * POST /api/account/delete {"password"}: the password checked again (throttled like a log-in),
 * then the account deleted in one transaction (store_user_delete), its name kept as a tombstone,
 * and every WebSocket of the account closed (4410).
 */
int accounts_delete(struct mg_connection *conn)
{
    struct account acc;
    cJSON *body = NULL;
    const char *password;
    char hash[crypto_pwhash_STRBYTES];
    long long id = 0;
    long long gen = 0;
    int ok;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 || (rc = throttle_ip(conn)) != 0 ||
        (rc = throttle_account(conn, acc.username)) != 0 ||
        (rc = api_read_json(conn, AUTH_BODY_MAX, &body)) != 0) {
        return rc;
    }
    password = api_get_string(body, "password");
    if (password == NULL) {
        delete_body(body);
        return http_send_error(conn, 400, "missing_field", "password is a required string");
    }
    if (store_user_get(acc.username, &id, &gen, hash, sizeof hash) != 1 || id != acc.id) {
        sodium_memzero(hash, sizeof hash);
        delete_body(body);
        return http_send_error(conn, 500, "internal", "the account could not be read");
    }
    ok = password_valid(password) && verify_password(hash, password);
    sodium_memzero(hash, sizeof hash);
    delete_body(body);
    if (!ok) {
        return http_send_error(conn, 403, "wrong_password", "the password is wrong");
    }
    switch (store_user_delete(acc.id, now_seconds())) {
    case STORE_OK:
        break;
    case STORE_NO_USER: /* deleted meanwhile by another request */
        return http_send_error(conn, 401, "token_revoked", "the account was deleted");
    default:
        return http_send_error(conn, 500, "internal", "the account could not be deleted");
    }
    log_msg(LOG_INFO, "account: %s deleted", acc.username);
    if (delete_listener != NULL) {
        delete_listener(acc.username);
    }
    return http_send_json(conn, 200, "{\"ok\":true}");
}

enum auth_result accounts_verify_token(const char *token, struct account *acc)
{
    struct jwt_claims claims;
    struct store_device_auth dev;

    if (token == NULL || token[0] == '\0') {
        return AUTH_MISSING;
    }
    switch (jwt_verify(jwt_key, token, now_seconds(), &claims)) {
    case JWT_OK:
        break;
    case JWT_EXPIRED:
        return AUTH_EXPIRED;
    default:
        return AUTH_INVALID;
    }
    if (!account_username_valid(claims.sub)) {
        return AUTH_INVALID;
    }
    switch (store_device_auth(claims.sub, (uint32_t)claims.dev, now_seconds(), &dev)) {
    case 1:
        break;
    case 0:
        return AUTH_INVALID; /* no such account */
    default:
        return AUTH_UNAVAILABLE;
    }
    if (dev.state == STORE_REMOVED) {
        return AUTH_REMOVED; /* for good, whatever the generations say */
    }
    if (dev.account_gen != claims.gen || dev.state != STORE_OK || dev.device_gen != claims.dgen) {
        return AUTH_REVOKED; /* a password change, a logout, or a device forgotten */
    }
    acc->id = dev.user_id;
    acc->gen = claims.gen;
    acc->device = (uint32_t)claims.dev;
    acc->device_gen = claims.dgen;
    acc->listed = dev.listed;
    memcpy(acc->username, claims.sub, strlen(claims.sub) + 1);
    return AUTH_OK;
}

const char *accounts_bearer_token(const struct mg_connection *conn)
{
    const char *header = mg_get_header(conn, "Authorization");
    const char *token = NULL;

    if (header != NULL && strncasecmp(header, "Bearer ", 7) == 0) {
        token = header + 7;
        while (*token == ' ') {
            token++;
        }
    }
    return token;
}

int accounts_authenticate(struct mg_connection *conn, struct account *acc)
{
    memset(acc, 0, sizeof *acc);
    switch (accounts_verify_token(accounts_bearer_token(conn), acc)) {
    case AUTH_OK:
        return 0;
    case AUTH_MISSING:
        return http_send_error(conn, 401, "missing_token",
                               "send the token as Authorization: Bearer TOKEN");
    case AUTH_EXPIRED:
        return http_send_error(conn, 401, "token_expired", "the token has expired; log in again");
    case AUTH_REVOKED:
        return http_send_error(conn, 401, "token_revoked",
                               "the token was revoked by a logout, a password change or the "
                              "account's deletion");
    case AUTH_REMOVED:
        return http_send_error(conn, 403, "device_removed",
                               "this device was removed from the account");
    case AUTH_UNAVAILABLE:
        return http_send_error_header(conn, 503, "database_unavailable",
                                      "the database cannot be reached now; retry later",
                                      "Retry-After", "5");
    case AUTH_INVALID:
        break;
    }
    return http_send_error(conn, 401, "invalid_token", "the token is not valid");
}
