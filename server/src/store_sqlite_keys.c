/* The key directory (store.h) on SQLite: identities (one row per user), and per device
 * signed_prekeys and one_time_prekeys. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

enum stmt_id {
    ST_COUNT_OTPK,
    ST_IDENTITY_OF_ID,
    ST_UPLOADER,
    ST_OTHER_DEVICES,
    ST_FORGET_LIST,
    ST_UPLOADER_LISTED,
    ST_UPLOADER_PENDING,
    ST_DROP_OTPK,
    ST_DROP_KEM,
    ST_UPSERT_IDENTITY,
    ST_UPSERT_SPK,
    ST_INSERT_OTPK,
    ST_IDENTITY_OF_NAME,
    ST_DEVICE_LISTED,
    ST_SPKS,
    ST_TAKE_OTPK,
    ST_KEY_OWNED,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_COUNT_OTPK] = {"SELECT count(*) FROM one_time_prekeys WHERE user_id = ? AND device_id = ?",
                       NULL},
    [ST_IDENTITY_OF_ID] = {"SELECT identity_key, identity_counter, identity_changed_at "
                           "FROM identities WHERE user_id = ?",
                           NULL},
    [ST_UPLOADER] = {"SELECT d.listed, u.device_list IS NOT NULL FROM devices d "
                     "JOIN users u ON u.id = d.user_id "
                     "WHERE d.user_id = ? AND d.device_id = ? AND d.removed = 0",
                     NULL},
    [ST_OTHER_DEVICES] = {"SELECT device_id FROM devices WHERE user_id = ? AND device_id <> ? "
                          "AND removed = 0",
                          NULL},
    [ST_FORGET_LIST] = {"UPDATE users SET device_list = NULL, device_list_gen = 0 WHERE id = ?",
                        NULL},
    [ST_UPLOADER_LISTED] = {"UPDATE devices SET listed = 1 WHERE user_id = ? AND device_id = ?",
                            NULL},
    [ST_UPLOADER_PENDING] = {"UPDATE devices SET listed = 0, created_at = ?3 "
                             "WHERE user_id = ?1 AND device_id = ?2",
                             NULL},
    [ST_DROP_OTPK] = {"DELETE FROM one_time_prekeys WHERE user_id = ?", NULL},
    [ST_DROP_KEM] = {"DELETE FROM kem_prekeys WHERE user_id = ?", NULL},
    [ST_UPSERT_IDENTITY] = {"INSERT INTO identities (user_id, identity_key, identity_counter, "
                            "identity_changed_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO "
                            "UPDATE SET identity_key = excluded.identity_key, "
                            "identity_counter = excluded.identity_counter, "
                            "identity_changed_at = excluded.identity_changed_at",
                            NULL},
    [ST_UPSERT_SPK] = {"INSERT INTO signed_prekeys (user_id, device_id, spk_id, spk_public, "
                       "spk_signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id) "
                       "DO UPDATE SET spk_id = excluded.spk_id, spk_public = excluded.spk_public, "
                       "spk_signature = excluded.spk_signature",
                       NULL},
    [ST_INSERT_OTPK] = {"INSERT INTO one_time_prekeys (user_id, device_id, key_id, public_key) "
                        "VALUES (?, ?, ?, ?)",
                        NULL},
    [ST_IDENTITY_OF_NAME] = {"SELECT u.id, i.identity_key, i.identity_counter, "
                             "i.identity_changed_at, u.device_list "
                             "FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                             "WHERE u.username = ?",
                             NULL},
    [ST_DEVICE_LISTED] = {"SELECT 1 FROM devices WHERE user_id = ? AND device_id = ? AND "
                          "listed = 1",
                          NULL},
    [ST_SPKS] = {"SELECT d.device_id, s.spk_id, s.spk_public, s.spk_signature FROM devices d "
                 "JOIN signed_prekeys s ON s.user_id = d.user_id AND s.device_id = d.device_id "
                 "WHERE d.user_id = ?1 AND d.listed = 1 AND (?2 = 0 OR d.device_id = ?2) "
                 "ORDER BY d.device_id LIMIT 8",
                 NULL},
    [ST_TAKE_OTPK] = {"DELETE FROM one_time_prekeys WHERE user_id = ?1 AND device_id = ?2 AND "
                      "key_id = (SELECT min(key_id) FROM one_time_prekeys WHERE user_id = ?1 AND "
                      "device_id = ?2) RETURNING key_id, public_key",
                      NULL},
    [ST_KEY_OWNED] = {"SELECT 1 FROM identities WHERE identity_key = ? AND user_id <> ? LIMIT 1",
                      NULL},
};

_Static_assert(STORE_DEVICES_LISTED_MAX == 8, "ST_SPKS reads at most 8 devices");

static sqlite3_stmt *stmt(sqlite3 *db, enum stmt_id id)
{
    return sqlite_stmt_get(db, &stmts[id]);
}

void store_sqlite_keys_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

static sqlite3_stmt *stmt_device(sqlite3 *db, enum stmt_id id, long long user_id,
                                 uint32_t device)
{
    return sqlite_stmt_device(db, &stmts[id], user_id, device);
}

/* The one-time prekeys of user_id's device, or -1. db_lock held. */
static long long count_locked(sqlite3 *db, long long user_id, uint32_t device)
{
    sqlite3_stmt *st = stmt_device(db, ST_COUNT_OTPK, user_id, device);
    long long n = -1;

    if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return n;
}

long long store_sqlite_keys_count(long long user_id, uint32_t device)
{
    sqlite3 *db = db_lock();
    long long n = count_locked(db, user_id, device);

    db_unlock();
    return n;
}

/* Reads the stored identity of user_id: 1 found, 0 none, -1 error. db_lock held. */
static int identity_locked(sqlite3 *db, long long user_id, struct store_identity *id)
{
    sqlite3_stmt *st = stmt(db, ST_IDENTITY_OF_ID);
    int found = -1;

    if (st != NULL && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
            memcpy(id->key, sqlite3_column_blob(st, 0), 32);
            id->counter = sqlite3_column_int64(st, 1);
            id->changed_at = sqlite3_column_int64(st, 2);
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return found;
}

/* The uploading device: 0 with *listed and *has_list (the account has a device list), 1 when it
 * is not a device of the account any more (removed or forgotten meanwhile), -1 an error. */
static int uploader_locked(sqlite3 *db, long long user_id, uint32_t device, int *listed,
                           int *has_list)
{
    sqlite3_stmt *st = stmt_device(db, ST_UPLOADER, user_id, device);
    int rc;

    if (st == NULL) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *listed = sqlite3_column_int(st, 0) != 0;
        *has_list = sqlite3_column_int(st, 1) != 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* 1 when another account holds identity_key, 0 not, -1 an error. */
static int key_owned_locked(sqlite3 *db, long long user_id, const unsigned char key[32])
{
    sqlite3_stmt *st = stmt(db, ST_KEY_OWNED);
    int rc;

    if (st == NULL || sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, user_id) != SQLITE_OK) {
        return -1;
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * A new identity replaces the old (docs/API.md "Devices"): every one-time prekey goes, the
 * device list is forgotten (the new identity signs its own, from generation 1), every other
 * device is removed, and the uploader is listed when it is device 1 (an account without a list),
 * otherwise pending again from now, to be listed by the new identity's first list.
 */
static int reset_devices_locked(sqlite3 *db, long long user_id, uint32_t uploader, int has_list,
                                long long now, struct store_keys_stored *out)
{
    uint32_t others[STORE_DEVICES_KNOWN_MAX * 2];
    size_t n = 0;
    sqlite3_stmt *st = stmt(db, ST_DROP_OTPK);
    int rc;

    /* Abandoned link attempts are forgotten, not removed for good: their ids stay usable. */
    if (sqlite_devices_forget_pending(db, user_id, now) != 0) {
        return -1;
    }
    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite_step_done(st) != 0) {
        return -1;
    }
    /* The KEM prekeys were signed by the former identity, the uploader's too. */
    st = stmt(db, ST_DROP_KEM);
    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite_step_done(st) != 0) {
        return -1;
    }
    st = stmt_device(db, ST_OTHER_DEVICES, user_id, uploader);
    if (st == NULL) {
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < sizeof others / sizeof others[0]) {
        others[n++] = (uint32_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (sqlite_device_remove(db, user_id, others[i]) != 0) {
            return -1;
        }
        if (out->n_removed < STORE_DEVICES_KNOWN_MAX) {
            out->removed[out->n_removed++] = others[i];
        }
    }
    if (has_list) {
        st = stmt(db, ST_FORGET_LIST);
        if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
            sqlite_step_done(st) != 0) {
            return -1;
        }
        out->list_forgotten = 1;
    }
    if (uploader == 1) {
        st = stmt_device(db, ST_UPLOADER_LISTED, user_id, uploader);
    } else {
        st = stmt_device(db, ST_UPLOADER_PENDING, user_id, uploader);
        if (st != NULL && sqlite3_bind_int64(st, 3, now) != SQLITE_OK) {
            st = NULL;
        }
    }
    return st != NULL ? sqlite_step_done(st) : -1;
}

/* The device's signed prekey and one-time prekeys. */
static int store_prekeys_locked(sqlite3 *db, long long user_id, const struct store_keys_upload *up)
{
    sqlite3_stmt *st = stmt_device(db, ST_UPSERT_SPK, user_id, up->device);

    if (st == NULL || sqlite3_bind_int64(st, 3, (sqlite3_int64)up->signed_prekey.id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 4, up->signed_prekey.public_key, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 5, up->signature, 64, SQLITE_STATIC) != SQLITE_OK ||
        sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    for (size_t i = 0; i < up->n_one_time; i++) {
        const struct store_prekey *pk = &up->one_time[i];
        int rc;

        st = stmt_device(db, ST_INSERT_OTPK, user_id, up->device);
        if (st == NULL || sqlite3_bind_int64(st, 3, (sqlite3_int64)pk->id) != SQLITE_OK ||
            sqlite3_bind_blob(st, 4, pk->public_key, 32, SQLITE_STATIC) != SQLITE_OK) {
            return STORE_ERROR;
        }
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_CONSTRAINT) {
            return STORE_DUPLICATE; /* (user_id, device_id, key_id) is the primary key */
        }
        if (rc != SQLITE_DONE) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

struct upload_args {
    long long user_id;
    const struct store_keys_upload *up;
    long long now;
    struct store_keys_stored *out;
};

/* The body of the upload's transaction. */
static int upload_locked(sqlite3 *db, void *arg)
{
    const struct upload_args *a = arg;
    const struct store_keys_upload *up = a->up;
    struct store_keys_stored *out = a->out;
    struct store_identity old;
    long long existing;
    sqlite3_stmt *st;
    int found;
    int listed = 0;
    int has_list = 0;
    int replacing = 0;

    memset(&old, 0, sizeof old);
    found = identity_locked(db, a->user_id, &old);
    if (found < 0) {
        return STORE_ERROR;
    }
    switch (uploader_locked(db, a->user_id, up->device, &listed, &has_list)) {
    case 0:
        break;
    case 1:
        return STORE_NOT_LISTED;
    default:
        return STORE_ERROR;
    }
    if (found == 0 || sodium_memcmp(old.key, up->identity_key, 32) != 0) {
        int owned;
        if (found == 1 && !up->reset_identity) {
            return STORE_CONFLICT;
        }
        /* One identity key, one account: another account's key uploaded again would let its
         * holder be taken for this one (an unknown-key-share). */
        owned = key_owned_locked(db, a->user_id, up->identity_key);
        if (owned != 0) {
            return owned > 0 ? STORE_IN_USE : STORE_ERROR;
        }
        replacing = found == 1;
        old.counter++;
        old.changed_at = a->now;
    }
    /* A device the list leaves out (one being linked) uploads keys once it is listed, or to
     * start a new identity. */
    if (has_list && !listed && !replacing) {
        return STORE_NOT_LISTED;
    }
    if (replacing) {
        out->identity_replaced = 1;
        if (reset_devices_locked(db, a->user_id, up->device, has_list, a->now, out) != 0) {
            return STORE_ERROR;
        }
    }
    existing = count_locked(db, a->user_id, up->device);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_one_time > up->max_one_time) {
        return STORE_FULL;
    }
    st = stmt(db, ST_UPSERT_IDENTITY);
    if (st == NULL || sqlite3_bind_int64(st, 1, a->user_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, up->identity_key, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, old.counter) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, old.changed_at) != SQLITE_OK || sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    out->identity_counter = old.counter;
    out->identity_changed_at = old.changed_at;
    out->one_time_count = existing + (long long)up->n_one_time;
    return store_prekeys_locked(db, a->user_id, up);
}

int store_sqlite_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                      struct store_keys_stored *out)
{
    struct upload_args a = {user_id, up, now, out};
    sqlite3 *db = db_lock();
    int result;

    memset(out, 0, sizeof *out);
    result = sqlite_transaction(db, upload_locked, &a, "storing keys");
    db_unlock();
    if (result != STORE_OK) {
        memset(out, 0, sizeof *out);
    }
    return result;
}

/* Reads the identity row of username: STORE_OK with *user_id and *out filled, STORE_NO_USER,
 * STORE_NO_KEYS or STORE_ERROR. db_lock held. */
static int identity_of_name_locked(sqlite3 *db, const char *username, long long *user_id,
                                   struct store_identity *out)
{
    sqlite3_stmt *st = stmt(db, ST_IDENTITY_OF_NAME);
    int result = STORE_ERROR;
    int rc;

    if (st == NULL || sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        result = STORE_NO_USER;
    } else if (rc == SQLITE_ROW) {
        int list_len = sqlite3_column_bytes(st, 4);
        *user_id = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
            result = STORE_NO_KEYS;
        } else if (sqlite3_column_bytes(st, 1) == 32 && list_len >= 0 &&
                   list_len <= STORE_DEVICE_LIST_MAX) {
            memcpy(out->key, sqlite3_column_blob(st, 1), 32);
            out->counter = sqlite3_column_int64(st, 2);
            out->changed_at = sqlite3_column_int64(st, 3);
            out->list_len = (size_t)list_len;
            if (list_len > 0) {
                memcpy(out->list, sqlite3_column_blob(st, 4), (size_t)list_len);
            }
            result = STORE_OK;
        }
    }
    sqlite3_reset(st);
    return result;
}

int store_sqlite_identity_get(const char *username, struct store_identity *out)
{
    sqlite3 *db = db_lock();
    long long user_id = 0;
    int result = identity_of_name_locked(db, username, &user_id, out);

    if (result == STORE_ERROR) {
        log_msg(LOG_ERROR, "store: reading an identity failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return result;
}

/* Reads the signed prekeys of the listed devices of user_id (device alone unless 0) into b.
 * 0 or -1. db_lock held. */
static int spks_locked(sqlite3 *db, long long user_id, uint32_t device, struct store_bundle *b)
{
    sqlite3_stmt *st = stmt_device(db, ST_SPKS, user_id, device);
    int rc;

    if (st == NULL) {
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && b->n < STORE_DEVICES_LISTED_MAX) {
        struct store_device_bundle *d = &b->devices[b->n];
        if (sqlite3_column_bytes(st, 2) != 32 || sqlite3_column_bytes(st, 3) != 64) {
            rc = SQLITE_ERROR;
            break;
        }
        d->device = (uint32_t)sqlite3_column_int64(st, 0);
        d->spk_id = sqlite3_column_int64(st, 1);
        memcpy(d->spk_public, sqlite3_column_blob(st, 2), 32);
        memcpy(d->spk_signature, sqlite3_column_blob(st, 3), 64);
        b->n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Takes the one-time prekey with the lowest id of user_id's device into d. 0 or -1. */
static int take_locked(sqlite3 *db, long long user_id, struct store_device_bundle *d)
{
    sqlite3_stmt *st = stmt_device(db, ST_TAKE_OTPK, user_id, d->device);
    int rc;

    if (st == NULL) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
        d->has_one_time = 1;
        d->one_time.id = (uint32_t)sqlite3_column_int64(st, 0);
        memcpy(d->one_time.public_key, sqlite3_column_blob(st, 1), 32);
        rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return -1;
    }
    d->one_time_left = count_locked(db, user_id, d->device);
    return d->one_time_left >= 0 ? 0 : -1;
}

struct bundle_args {
    const char *username;
    uint32_t device;
    int take_one_time;
    struct store_bundle *b;
};

/* The body of the bundle's transaction. */
static int bundle_locked(sqlite3 *db, void *arg)
{
    const struct bundle_args *a = arg;
    struct store_bundle *b = a->b;
    long long user_id = 0;
    int result = identity_of_name_locked(db, a->username, &user_id, &b->identity);

    if (result != STORE_OK) {
        return result;
    }
    if (a->device != 0) {
        sqlite3_stmt *st = stmt_device(db, ST_DEVICE_LISTED, user_id, a->device);
        int rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
        if (st != NULL) {
            sqlite3_reset(st);
        }
        if (rc != SQLITE_ROW) {
            return rc == SQLITE_DONE ? STORE_UNKNOWN_DEVICE : STORE_ERROR;
        }
    }
    if (spks_locked(db, user_id, a->device, b) != 0) {
        return STORE_ERROR;
    }
    if (b->n == 0) {
        return STORE_NO_KEYS;
    }
    /* Without take_one_time: the signed prekeys alone (X3DH without DH4), and the last-resort
     * KEM prekeys. */
    for (size_t i = 0; i < b->n; i++) {
        if ((a->take_one_time && take_locked(db, user_id, &b->devices[i]) != 0) ||
            sqlite_kem_take(db, user_id, &b->devices[i], a->take_one_time) != 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_sqlite_bundle_take(const char *username, uint32_t device, int take_one_time,
                      struct store_bundle *b)
{
    struct bundle_args a = {username, device, take_one_time, b};
    sqlite3 *db = db_lock();
    int result;

    memset(b, 0, sizeof *b);
    result = sqlite_transaction(db, bundle_locked, &a, "reading a bundle");
    if (result != STORE_OK) {
        memset(b, 0, sizeof *b); /* nothing was taken */
    }
    db_unlock();
    return result;
}
