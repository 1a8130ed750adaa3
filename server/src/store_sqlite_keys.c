/* The key directory (store.h) on SQLite: identities (identity key and signed prekey, one row per
 * user) and one_time_prekeys. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

enum stmt_id {
    ST_COUNT_OTPK,
    ST_IDENTITY_OF_ID,
    ST_DROP_OTPK,
    ST_UPSERT_IDENTITY,
    ST_INSERT_OTPK,
    ST_IDENTITY_OF_NAME,
    ST_BUNDLE,
    ST_TAKE_OTPK,
    ST_KEY_OWNED,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_COUNT_OTPK] = {"SELECT count(*) FROM one_time_prekeys WHERE user_id = ?", NULL},
    [ST_IDENTITY_OF_ID] = {"SELECT identity_key, identity_counter, identity_changed_at "
                           "FROM identities WHERE user_id = ?",
                           NULL},
    [ST_DROP_OTPK] = {"DELETE FROM one_time_prekeys WHERE user_id = ?", NULL},
    [ST_UPSERT_IDENTITY] = {"INSERT INTO identities (user_id, identity_key, identity_counter, "
                            "identity_changed_at, spk_id, spk_public, spk_signature) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                            "identity_key = excluded.identity_key, "
                            "identity_counter = excluded.identity_counter, "
                            "identity_changed_at = excluded.identity_changed_at, "
                            "spk_id = excluded.spk_id, spk_public = excluded.spk_public, "
                            "spk_signature = excluded.spk_signature",
                            NULL},
    [ST_INSERT_OTPK] = {"INSERT INTO one_time_prekeys (user_id, key_id, public_key) "
                        "VALUES (?, ?, ?)",
                        NULL},
    [ST_IDENTITY_OF_NAME] = {"SELECT i.identity_key, i.identity_counter, i.identity_changed_at "
                             "FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                             "WHERE u.username = ?",
                             NULL},
    [ST_BUNDLE] = {"SELECT u.id, i.identity_key, i.identity_counter, "
                   "i.identity_changed_at, i.spk_id, i.spk_public, i.spk_signature "
                   "FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                   "WHERE u.username = ?",
                   NULL},
    [ST_TAKE_OTPK] = {"DELETE FROM one_time_prekeys WHERE user_id = ?1 AND key_id = "
                      "(SELECT min(key_id) FROM one_time_prekeys WHERE user_id = ?1) "
                      "RETURNING key_id, public_key",
                      NULL},
    [ST_KEY_OWNED] = {"SELECT 1 FROM identities WHERE identity_key = ? AND user_id <> ? LIMIT 1",
                      NULL},
};

static sqlite3_stmt *stmt(sqlite3 *db, enum stmt_id id)
{
    return sqlite_stmt_get(db, &stmts[id]);
}

void store_sqlite_keys_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

/* The one-time prekeys of user_id, or -1. db_lock held. */
static long long count_locked(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = stmt(db, ST_COUNT_OTPK);
    long long n = -1;

    if (st != NULL && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return n;
}

long long store_keys_count(long long user_id)
{
    sqlite3 *db = db_lock();
    long long n = count_locked(db, user_id);

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

/* The body of the upload's transaction. */
static int upload_locked(sqlite3 *db, long long user_id, const struct store_keys_upload *up,
                         struct store_keys_stored *out)
{
    struct store_identity old;
    long long existing;
    sqlite3_stmt *st;
    int found;

    memset(&old, 0, sizeof old);
    found = identity_locked(db, user_id, &old);
    if (found < 0) {
        return STORE_ERROR;
    }
    out->identity_replaced = 0;
    if (found == 0 || sodium_memcmp(old.key, up->identity_key, 32) != 0) {
        if (found == 1 && !up->reset_identity) {
            return STORE_CONFLICT;
        }
        /* One identity key, one account: another account's key uploaded again would let its
         * holder be taken for this one (an unknown-key-share). */
        st = stmt(db, ST_KEY_OWNED);
        if (st == NULL ||
            sqlite3_bind_blob(st, 1, up->identity_key, 32, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, user_id) != SQLITE_OK) {
            return STORE_ERROR;
        }
        int owned = sqlite3_step(st);
        sqlite3_reset(st);
        if (owned == SQLITE_ROW) {
            return STORE_IN_USE;
        }
        if (owned != SQLITE_DONE) {
            return STORE_ERROR;
        }
        if (found == 1) {
            out->identity_replaced = 1;
            st = stmt(db, ST_DROP_OTPK);
            if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
                sqlite_step_done(st) != 0) {
                return STORE_ERROR;
            }
        }
        old.counter++;
        old.changed_at = db_now();
    }
    existing = count_locked(db, user_id);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_one_time > up->max_one_time) {
        return STORE_FULL;
    }
    st = stmt(db, ST_UPSERT_IDENTITY);
    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, up->identity_key, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, old.counter) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, old.changed_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, (sqlite3_int64)up->signed_prekey.id) != SQLITE_OK ||
        sqlite3_bind_blob(st, 6, up->signed_prekey.public_key, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 7, up->signature, 64, SQLITE_STATIC) != SQLITE_OK ||
        sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    for (size_t i = 0; i < up->n_one_time; i++) {
        const struct store_prekey *pk = &up->one_time[i];
        int rc;

        st = stmt(db, ST_INSERT_OTPK);
        if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, (sqlite3_int64)pk->id) != SQLITE_OK ||
            sqlite3_bind_blob(st, 3, pk->public_key, 32, SQLITE_STATIC) != SQLITE_OK) {
            return STORE_ERROR;
        }
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_CONSTRAINT) {
            return STORE_DUPLICATE; /* (user_id, key_id) is the primary key */
        }
        if (rc != SQLITE_DONE) {
            return STORE_ERROR;
        }
    }
    out->identity_counter = old.counter;
    out->identity_changed_at = old.changed_at;
    out->one_time_count = existing + (long long)up->n_one_time;
    return STORE_OK;
}

int store_keys_upload(long long user_id, const struct store_keys_upload *up,
                      struct store_keys_stored *out)
{
    sqlite3 *db = db_lock();
    int result = STORE_ERROR;

    memset(out, 0, sizeof *out);
    if (db_exec(db, "BEGIN IMMEDIATE") == SQLITE_OK) {
        result = upload_locked(db, user_id, up, out);
        if (result != STORE_OK || db_exec(db, "COMMIT") != SQLITE_OK) {
            if (result == STORE_OK) {
                result = STORE_ERROR;
            }
            if (result == STORE_ERROR) {
                log_msg(LOG_ERROR, "store: storing keys failed: %s", sqlite3_errmsg(db));
            }
            db_exec(db, "ROLLBACK");
        }
    } else {
        log_msg(LOG_ERROR, "store: storing keys failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return result;
}

int store_identity_get(const char *username, struct store_identity *out)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_IDENTITY_OF_NAME);
    int result = STORE_ERROR;

    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            result = STORE_NO_KEYS;
            if (sqlite3_column_bytes(st, 0) == 32) {
                memcpy(out->key, sqlite3_column_blob(st, 0), 32);
                out->counter = sqlite3_column_int64(st, 1);
                out->changed_at = sqlite3_column_int64(st, 2);
                result = STORE_OK;
            }
        } else if (rc == SQLITE_DONE) {
            result = STORE_NO_USER;
        }
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    if (result == STORE_ERROR) {
        log_msg(LOG_ERROR, "store: reading an identity failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return result;
}

/* Reads the bundle row of username: STORE_OK with *user_id and b's signed part filled,
 * STORE_NO_USER, STORE_NO_KEYS or STORE_ERROR. db_lock held. */
static int bundle_row_locked(sqlite3 *db, const char *username, long long *user_id,
                             struct store_bundle *b)
{
    sqlite3_stmt *st = stmt(db, ST_BUNDLE);
    int result = STORE_ERROR;
    int rc;

    if (st == NULL || sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        result = STORE_NO_USER;
    } else if (rc == SQLITE_ROW) {
        *user_id = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
            result = STORE_NO_KEYS;
        } else if (sqlite3_column_bytes(st, 1) == 32 && sqlite3_column_bytes(st, 5) == 32 &&
                   sqlite3_column_bytes(st, 6) == 64) {
            memcpy(b->identity.key, sqlite3_column_blob(st, 1), 32);
            b->identity.counter = sqlite3_column_int64(st, 2);
            b->identity.changed_at = sqlite3_column_int64(st, 3);
            b->spk_id = sqlite3_column_int64(st, 4);
            memcpy(b->spk_public, sqlite3_column_blob(st, 5), 32);
            memcpy(b->spk_signature, sqlite3_column_blob(st, 6), 64);
            result = STORE_OK;
        }
    }
    sqlite3_reset(st);
    return result;
}

/* The body of the bundle's transaction. */
static int bundle_locked(sqlite3 *db, const char *username, int take_one_time,
                         struct store_bundle *b)
{
    long long user_id = 0;
    sqlite3_stmt *st;
    int result = bundle_row_locked(db, username, &user_id, b);
    int rc;

    b->has_one_time = 0;
    if (result != STORE_OK || !take_one_time) {
        return result; /* without take_one_time: the signed prekey alone (X3DH without DH4) */
    }
    st = stmt(db, ST_TAKE_OTPK);
    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
        b->has_one_time = 1;
        b->one_time.id = (uint32_t)sqlite3_column_int64(st, 0);
        memcpy(b->one_time.public_key, sqlite3_column_blob(st, 1), 32);
        rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return STORE_ERROR;
    }
    b->one_time_left = count_locked(db, user_id);
    return b->one_time_left >= 0 ? STORE_OK : STORE_ERROR;
}

int store_bundle_take(const char *username, int take_one_time, struct store_bundle *b)
{
    sqlite3 *db = db_lock();
    int result = STORE_ERROR;

    memset(b, 0, sizeof *b);
    if (db_exec(db, "BEGIN IMMEDIATE") == SQLITE_OK) {
        result = bundle_locked(db, username, take_one_time, b);
        if (db_exec(db, result == STORE_OK ? "COMMIT" : "ROLLBACK") != SQLITE_OK &&
            result == STORE_OK) {
            db_exec(db, "ROLLBACK");
            result = STORE_ERROR;
        }
    }
    if (result == STORE_ERROR) {
        log_msg(LOG_ERROR, "store: reading a bundle failed: %s", sqlite3_errmsg(db));
        b->has_one_time = 0;
    }
    db_unlock();
    return result;
}
