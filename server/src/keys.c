#include "keys.h"

#include "accounts.h"
#include "api.h"
#include "b64.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void (*identity_listener)(const char *username);
static void (*low_listener)(const char *username);

void keys_set_low_listener(void (*listener)(const char *username))
{
    low_listener = listener;
}
static struct rl_table *fetch_limits;
static struct rl_table *pair_limits;
static struct rl_table *target_limits;

int keys_init(void)
{
    fetch_limits = rl_create(4096, KEYS_FETCH_BURST, KEYS_FETCH_PER_SECOND);
    pair_limits = rl_create(16384, KEYS_OTPK_PAIR_BURST, KEYS_OTPK_PAIR_PER_SECOND);
    target_limits = rl_create(4096, KEYS_OTPK_TARGET_BURST, KEYS_OTPK_TARGET_PER_SECOND);
    return fetch_limits != NULL && pair_limits != NULL && target_limits != NULL ? 0 : -1;
}

void keys_shutdown(void)
{
    rl_free(fetch_limits);
    rl_free(pair_limits);
    rl_free(target_limits);
    fetch_limits = NULL;
    pair_limits = NULL;
    target_limits = NULL;
}

void keys_set_identity_listener(void (*listener)(const char *username))
{
    identity_listener = listener;
}

void keys_spk_message(uint32_t id, const unsigned char public_key[32], unsigned char out[49])
{
    static const unsigned char context[13] = {'p', 'a', 'r', 'l', 'e', 'y', '-',
                                              's', 'p', 'k', '-', 'v', '1'};

    memcpy(out, context, sizeof context);
    out[13] = (unsigned char)(id >> 24);
    out[14] = (unsigned char)(id >> 16);
    out[15] = (unsigned char)(id >> 8);
    out[16] = (unsigned char)id;
    memcpy(out + 17, public_key, 32);
}

struct prekey {
    uint32_t id;
    unsigned char pub[32];
};

struct upload {
    unsigned char identity[32];
    struct prekey spk;
    unsigned char spk_sig[64];
    struct prekey otpk[KEYS_UPLOAD_MAX];
    size_t n_otpk;
    int reset;
};

/* A key id: an integral JSON number in 0..2^32-1. */
static int get_key_id(const cJSON *obj, uint32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "id");
    double v;

    if (!cJSON_IsNumber(item)) {
        return -1;
    }
    v = item->valuedouble;
    if (!(v >= 0.0 && v <= 4294967295.0) || floor(v) != v) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int get_b64(const cJSON *obj, const char *name, unsigned char *out, size_t n)
{
    return b64_decode_exact(api_get_string(obj, name), out, n);
}

/* Parses and checks an upload; 0, or the status of the error already sent. */
static int parse_upload(struct mg_connection *conn, const cJSON *body, struct upload *up)
{
    const cJSON *spk = cJSON_GetObjectItemCaseSensitive(body, "signedPrekey");
    const cJSON *otpks = cJSON_GetObjectItemCaseSensitive(body, "oneTimePrekeys");
    const cJSON *reset = cJSON_GetObjectItemCaseSensitive(body, "resetIdentity");
    const cJSON *item;
    unsigned char msg[49];

    if (get_b64(body, "identityKey", up->identity, 32) != 0) {
        return http_send_error(conn, 400, "invalid_identity_key",
                               "identityKey must be a 32-byte Ed25519 public key in base64url "
                               "without padding");
    }
    if (!cJSON_IsObject(spk) || get_key_id(spk, &up->spk.id) != 0 ||
        get_b64(spk, "publicKey", up->spk.pub, 32) != 0 ||
        get_b64(spk, "signature", up->spk_sig, 64) != 0) {
        return http_send_error(conn, 400, "invalid_signed_prekey",
                               "signedPrekey must be {id: 0..4294967295, publicKey: 32 bytes, "
                               "signature: 64 bytes}, binary values in base64url without padding");
    }
    keys_spk_message(up->spk.id, up->spk.pub, msg);
    if (crypto_sign_verify_detached(up->spk_sig, msg, sizeof msg, up->identity) != 0) {
        return http_send_error(conn, 400, "bad_signature",
                               "the signed prekey's signature does not verify with identityKey");
    }
    if (reset != NULL && !cJSON_IsBool(reset)) {
        return http_send_error(conn, 400, "invalid_field", "resetIdentity must be a boolean");
    }
    up->reset = cJSON_IsTrue(reset);
    up->n_otpk = 0;
    if (otpks == NULL) {
        return 0;
    }
    if (!cJSON_IsArray(otpks)) {
        return http_send_error(conn, 400, "invalid_one_time_prekeys",
                               "oneTimePrekeys must be an array");
    }
    if (cJSON_GetArraySize(otpks) > KEYS_UPLOAD_MAX) {
        return http_send_error(conn, 400, "too_many_prekeys",
                               "at most 100 one-time prekeys per upload");
    }
    cJSON_ArrayForEach(item, otpks)
    {
        struct prekey *pk = &up->otpk[up->n_otpk];
        if (!cJSON_IsObject(item) || get_key_id(item, &pk->id) != 0 ||
            get_b64(item, "publicKey", pk->pub, 32) != 0) {
            return http_send_error(conn, 400, "invalid_one_time_prekeys",
                                   "each one-time prekey must be {id: 0..4294967295, publicKey: "
                                   "32 bytes in base64url without padding}");
        }
        for (size_t i = 0; i < up->n_otpk; i++) {
            if (up->otpk[i].id == pk->id) {
                return http_send_error(conn, 400, "duplicate_prekey_id",
                                       "two one-time prekeys in the upload share an id");
            }
        }
        up->n_otpk++;
    }
    return 0;
}

static long long count_prekeys(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM one_time_prekeys WHERE user_id = ?", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Executes a prepared statement to completion and finalizes it. SQLITE_DONE on success. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return rc;
}

enum store_result {
    STORE_OK,
    STORE_ERROR,
    STORE_IDENTITY_CONFLICT,
    STORE_FULL,
    STORE_DUPLICATE
};

struct store_out {
    long long counter;
    long long changed_at;
    long long count;
    int identity_changed;
};

/* Reads the stored identity: 1 found, 0 none, -1 error. */
static int load_identity(sqlite3 *db, long long user_id, unsigned char key[32],
                         long long *counter, long long *changed_at)
{
    sqlite3_stmt *st = NULL;
    int found = -1;

    if (sqlite3_prepare_v2(db,
                           "SELECT identity_key, identity_counter, identity_changed_at "
                           "FROM identities WHERE user_id = ?",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
            memcpy(key, sqlite3_column_blob(st, 0), 32);
            *counter = sqlite3_column_int64(st, 1);
            *changed_at = sqlite3_column_int64(st, 2);
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
    }
    sqlite3_finalize(st);
    return found;
}

/* The body of the PUT transaction. */
static enum store_result store_keys(sqlite3 *db, long long user_id, const struct upload *up,
                                    struct store_out *out)
{
    unsigned char old_key[32];
    long long counter = 0;
    long long changed_at = 0;
    long long existing;
    sqlite3_stmt *st = NULL;
    int found = load_identity(db, user_id, old_key, &counter, &changed_at);

    if (found < 0) {
        return STORE_ERROR;
    }
    out->identity_changed = 0;
    if (found == 0 || sodium_memcmp(old_key, up->identity, 32) != 0) {
        if (found == 1 && !up->reset) {
            return STORE_IDENTITY_CONFLICT;
        }
        if (found == 1) {
            out->identity_changed = 1;
            if (sqlite3_prepare_v2(db, "DELETE FROM one_time_prekeys WHERE user_id = ?", -1, &st,
                                   NULL) != SQLITE_OK ||
                sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK || step_done(st) != SQLITE_DONE) {
                sqlite3_finalize(st);
                return STORE_ERROR;
            }
            st = NULL;
        }
        counter++;
        changed_at = db_now();
    }
    existing = count_prekeys(db, user_id);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_otpk > KEYS_STORED_MAX) {
        return STORE_FULL;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO identities (user_id, identity_key, identity_counter, "
                           "identity_changed_at, spk_id, spk_public, spk_signature) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                           "identity_key = excluded.identity_key, "
                           "identity_counter = excluded.identity_counter, "
                           "identity_changed_at = excluded.identity_changed_at, "
                           "spk_id = excluded.spk_id, spk_public = excluded.spk_public, "
                           "spk_signature = excluded.spk_signature",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, up->identity, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, counter) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, changed_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, (sqlite3_int64)up->spk.id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 6, up->spk.pub, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 7, up->spk_sig, 64, SQLITE_STATIC) != SQLITE_OK ||
        step_done(st) != SQLITE_DONE) {
        sqlite3_finalize(st);
        return STORE_ERROR;
    }
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO one_time_prekeys (user_id, key_id, public_key) "
                           "VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return STORE_ERROR;
    }
    for (size_t i = 0; i < up->n_otpk; i++) {
        int rc;
        sqlite3_reset(st);
        if (sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, (sqlite3_int64)up->otpk[i].id) != SQLITE_OK ||
            sqlite3_bind_blob(st, 3, up->otpk[i].pub, 32, SQLITE_STATIC) != SQLITE_OK) {
            sqlite3_finalize(st);
            return STORE_ERROR;
        }
        rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT) {
            sqlite3_finalize(st);
            return STORE_DUPLICATE;
        }
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return STORE_ERROR;
        }
    }
    sqlite3_finalize(st);
    out->counter = counter;
    out->changed_at = changed_at;
    out->count = existing + (long long)up->n_otpk;
    return STORE_OK;
}

static cJSON *count_object(long long count)
{
    cJSON *obj = cJSON_CreateObject();

    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "count", (double)count);
        cJSON_AddBoolToObject(obj, "low", count < KEYS_LOW_WATER);
    }
    return obj;
}

int keys_put(struct mg_connection *conn)
{
    struct account acc;
    struct upload *up;
    struct store_out out;
    enum store_result result = STORE_ERROR;
    cJSON *body = NULL;
    cJSON *obj;
    sqlite3 *db;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 ||
        (rc = api_read_json(conn, KEYS_BODY_MAX, &body)) != 0) {
        return rc;
    }
    up = sodium_malloc(sizeof *up);
    if (up == NULL) {
        cJSON_Delete(body);
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    rc = parse_upload(conn, body, up);
    cJSON_Delete(body);
    if (rc != 0) {
        sodium_free(up);
        return rc;
    }
    memset(&out, 0, sizeof out);
    db = db_lock();
    if (db_exec(db, "BEGIN IMMEDIATE") == SQLITE_OK) {
        result = store_keys(db, acc.id, up, &out);
        if (result != STORE_OK || db_exec(db, "COMMIT") != SQLITE_OK) {
            db_exec(db, "ROLLBACK");
            if (result == STORE_OK) {
                result = STORE_ERROR;
            }
        }
    }
    db_unlock();
    sodium_free(up);
    switch (result) {
    case STORE_OK:
        break;
    case STORE_IDENTITY_CONFLICT:
        return http_send_error(conn, 409, "identity_conflict",
                               "a different identity key is registered; send resetIdentity: true "
                               "to replace it");
    case STORE_FULL:
        return http_send_error(conn, 409, "prekey_limit",
                               "at most 200 one-time prekeys may be stored");
    case STORE_DUPLICATE:
        return http_send_error(conn, 409, "duplicate_prekey_id",
                               "a one-time prekey with this id is already stored");
    case STORE_ERROR:
        log_msg(LOG_ERROR, "keys: database error storing keys of %s", acc.username);
        return http_send_error(conn, 500, "internal", "the keys could not be stored");
    }
    log_msg(LOG_INFO, "keys: %s uploaded keys (%lld one-time prekeys stored)%s", acc.username,
            out.count, out.identity_changed ? ", identity replaced" : "");
    if (out.identity_changed && identity_listener != NULL) {
        identity_listener(acc.username);
    }
    obj = count_object(out.count);
    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "identityCounter", (double)out.counter);
        cJSON_AddNumberToObject(obj, "identityChangedAt", (double)out.changed_at);
    }
    return api_send_object(conn, 200, obj);
}

int keys_count(struct mg_connection *conn)
{
    struct account acc;
    long long n;
    int rc = accounts_authenticate(conn, &acc);

    if (rc != 0) {
        return rc;
    }
    n = count_prekeys(db_lock(), acc.id);
    db_unlock();
    if (n < 0) {
        return http_send_error(conn, 500, "internal", "the keys could not be read");
    }
    return api_send_object(conn, 200, count_object(n));
}

struct bundle {
    unsigned char identity[32];
    long long counter;
    long long changed_at;
    long long spk_id;
    unsigned char spk_pub[32];
    unsigned char spk_sig[64];
    int has_otpk;
    long long otpk_id;
    unsigned char otpk_pub[32];
    long long left; /* one-time prekeys left after this one was taken */
};

enum fetch_result { FETCH_OK, FETCH_ERROR, FETCH_NO_USER, FETCH_NO_KEYS };

static enum fetch_result fetch_bundle(sqlite3 *db, const char *username, int take_otpk,
                                      struct bundle *b)
{
    sqlite3_stmt *st = NULL;
    long long user_id;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT u.id, i.identity_key, i.identity_counter, "
                           "i.identity_changed_at, i.spk_id, i.spk_public, i.spk_signature "
                           "FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                           "WHERE u.username = ?",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return FETCH_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return FETCH_NO_USER;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return FETCH_ERROR;
    }
    user_id = sqlite3_column_int64(st, 0);
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
        sqlite3_finalize(st);
        return FETCH_NO_KEYS;
    }
    if (sqlite3_column_bytes(st, 1) != 32 || sqlite3_column_bytes(st, 5) != 32 ||
        sqlite3_column_bytes(st, 6) != 64) {
        sqlite3_finalize(st);
        return FETCH_ERROR;
    }
    memcpy(b->identity, sqlite3_column_blob(st, 1), 32);
    b->counter = sqlite3_column_int64(st, 2);
    b->changed_at = sqlite3_column_int64(st, 3);
    b->spk_id = sqlite3_column_int64(st, 4);
    memcpy(b->spk_pub, sqlite3_column_blob(st, 5), 32);
    memcpy(b->spk_sig, sqlite3_column_blob(st, 6), 64);
    sqlite3_finalize(st);
    st = NULL;
    b->has_otpk = 0;
    if (!take_otpk) {
        return FETCH_OK; /* the signed prekey alone (X3DH without DH4) */
    }

    if (sqlite3_prepare_v2(db,
                           "DELETE FROM one_time_prekeys WHERE user_id = ?1 AND key_id = "
                           "(SELECT min(key_id) FROM one_time_prekeys WHERE user_id = ?1) "
                           "RETURNING key_id, public_key",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK) {
        sqlite3_finalize(st);
        return FETCH_ERROR;
    }
    rc = sqlite3_step(st);
    b->has_otpk = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
        b->has_otpk = 1;
        b->otpk_id = sqlite3_column_int64(st, 0);
        memcpy(b->otpk_pub, sqlite3_column_blob(st, 1), 32);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return FETCH_ERROR;
    }
    b->left = count_prekeys(db, user_id);
    return b->left >= 0 ? FETCH_OK : FETCH_ERROR;
}

static void add_b64(cJSON *obj, const char *name, const unsigned char *bin, size_t n)
{
    char text[B64_LEN(64) + 1];

    if (b64_encode(text, sizeof text, bin, n) == 0) {
        cJSON_AddStringToObject(obj, name, text);
    }
}

static cJSON *refuse(struct keys_refusal *why, int status, const char *code, const char *message)
{
    why->status = status;
    why->code = code;
    why->message = message;
    return NULL;
}

cJSON *keys_fetch(const char *requester, const char *username, struct keys_refusal *why)
{
    char folded[USERNAME_MAX + 1];
    struct bundle b;
    enum fetch_result result = FETCH_ERROR;
    cJSON *obj;
    cJSON *spk;
    sqlite3 *db;
    int take_otpk;

    why->retry_after = 0;
    username = account_username_fold(username, folded);
    if (username == NULL) {
        return refuse(why, 400, "invalid_username", "that is not a valid username");
    }
    /* Each bundle consumes a one-time prekey: one account may not drain others' quickly. */
    {
        char key[RL_KEY_MAX];
        int wait;
        snprintf(key, sizeof key, "fetch:%s", requester);
        wait = rl_take(fetch_limits, key, rl_now());
        if (wait > 0) {
            log_msg(LOG_WARN, "keys: throttled bundle fetches of %s for %d s", requester, wait);
            why->retry_after = wait;
            return refuse(why, 429, "rate_limited",
                          "too many bundle requests; retry after retryAfter seconds");
        }
    }
    /* A one-time prekey only within the pair's and the target's allowances; past them the
     * bundle comes without one (docs/API.md: what draining costs). */
    {
        char key[RL_KEY_MAX];
        double now = rl_now();
        snprintf(key, sizeof key, "%s>%s", requester, username);
        take_otpk = rl_take(pair_limits, key, now) == 0;
        take_otpk = rl_take(target_limits, username, now) == 0 && take_otpk;
    }
    memset(&b, 0, sizeof b);
    db = db_lock();
    if (db_exec(db, "BEGIN IMMEDIATE") == SQLITE_OK) {
        result = fetch_bundle(db, username, take_otpk, &b);
        if (db_exec(db, result == FETCH_OK ? "COMMIT" : "ROLLBACK") != SQLITE_OK &&
            result == FETCH_OK) {
            db_exec(db, "ROLLBACK");
            result = FETCH_ERROR;
        }
    }
    db_unlock();
    switch (result) {
    case FETCH_OK:
        break;
    case FETCH_NO_USER:
        return refuse(why, 404, "unknown_user", "no such user");
    case FETCH_NO_KEYS:
        return refuse(why, 404, "no_keys", "this user has not uploaded keys yet");
    case FETCH_ERROR:
        log_msg(LOG_ERROR, "keys: database error fetching a bundle");
        return refuse(why, 500, "internal", "the keys could not be read");
    }
    obj = cJSON_CreateObject();
    spk = cJSON_CreateObject();
    if (obj == NULL || spk == NULL) {
        cJSON_Delete(obj);
        cJSON_Delete(spk);
        return refuse(why, 500, "internal", "out of memory");
    }
    cJSON_AddStringToObject(obj, "username", username);
    add_b64(obj, "identityKey", b.identity, 32);
    cJSON_AddNumberToObject(obj, "identityCounter", (double)b.counter);
    cJSON_AddNumberToObject(obj, "identityChangedAt", (double)b.changed_at);
    cJSON_AddNumberToObject(spk, "id", (double)b.spk_id);
    add_b64(spk, "publicKey", b.spk_pub, 32);
    add_b64(spk, "signature", b.spk_sig, 64);
    cJSON_AddItemToObject(obj, "signedPrekey", spk);
    if (b.has_otpk) {
        cJSON *otpk = cJSON_AddObjectToObject(obj, "oneTimePrekey");
        if (otpk != NULL) {
            cJSON_AddNumberToObject(otpk, "id", (double)b.otpk_id);
            add_b64(otpk, "publicKey", b.otpk_pub, 32);
        }
    } else {
        cJSON_AddNullToObject(obj, "oneTimePrekey");
    }
    if (b.has_otpk && b.left < KEYS_LOW_WATER && low_listener != NULL) {
        low_listener(username); /* the owner's page, if connected, tops up now */
    }
    return obj; /* not logged: a fetch says who is about to talk to whom */
}

int keys_get(struct mg_connection *conn, const char *username)
{
    struct account acc;
    struct keys_refusal why;
    cJSON *obj;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0) {
        return rc;
    }
    obj = keys_fetch(acc.username, username, &why);
    if (obj != NULL) {
        return api_send_object(conn, 200, obj);
    }
    if (why.status == 429) {
        return api_send_throttled(conn, why.retry_after);
    }
    if (why.status == 400) {
        return http_send_error(conn, 400, why.code, "the path does not name a valid username");
    }
    return http_send_error(conn, why.status, why.code, why.message);
}

int keys_identity(struct mg_connection *conn, const char *username)
{
    char folded[USERNAME_MAX + 1];
    struct account acc;
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    unsigned char identity[32];
    long long counter = 0;
    long long changed_at = 0;
    int found = -1;
    int has_keys = 0;
    cJSON *obj;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0) {
        return rc;
    }
    username = account_username_fold(username, folded);
    if (username == NULL) {
        return http_send_error(conn, 400, "invalid_username",
                               "the path does not name a valid username");
    }
    db = db_lock();
    if (sqlite3_prepare_v2(db,
                           "SELECT i.identity_key, i.identity_counter, i.identity_changed_at "
                           "FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                           "WHERE u.username = ?",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            found = 1;
            if (sqlite3_column_bytes(st, 0) == 32) {
                has_keys = 1;
                memcpy(identity, sqlite3_column_blob(st, 0), 32);
                counter = sqlite3_column_int64(st, 1);
                changed_at = sqlite3_column_int64(st, 2);
            }
        } else if (step == SQLITE_DONE) {
            found = 0;
        }
    }
    sqlite3_finalize(st);
    db_unlock();
    if (found < 0) {
        return http_send_error(conn, 500, "internal", "the keys could not be read");
    }
    if (found == 0) {
        return http_send_error(conn, 404, "unknown_user", "no such user");
    }
    if (!has_keys) {
        return http_send_error(conn, 404, "no_keys", "this user has not uploaded keys yet");
    }
    obj = cJSON_CreateObject();
    if (obj == NULL) {
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    cJSON_AddStringToObject(obj, "username", username);
    add_b64(obj, "identityKey", identity, 32);
    cJSON_AddNumberToObject(obj, "identityCounter", (double)counter);
    cJSON_AddNumberToObject(obj, "identityChangedAt", (double)changed_at);
    return api_send_object(conn, 200, obj);
}
