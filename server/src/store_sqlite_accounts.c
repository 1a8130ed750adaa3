/* Accounts and presence settings (store.h) on SQLite: the users table. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

enum stmt_id {
    ST_USER_GET,
    ST_USER_INSERT,
    ST_SKELETON_GET,
    ST_REVOKE,
    ST_REVOKE_PASSWORD,
    ST_PRESENCE_GET,
    ST_PRESENCE_SET,
    ST_TOMBSTONE,
    ST_DELETE_MAIL,
    ST_DELETE_USAGE,
    ST_DELETE_IDENTITY,
    ST_DELETE_DEVICES,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_USER_GET] = {"SELECT id, token_gen, pwhash FROM users WHERE username = ?", NULL},
    [ST_USER_INSERT] = {"INSERT INTO users (username, skeleton, pwhash, token_gen, created_at) "
                        "VALUES (?, ?, ?, 0, ?)",
                        NULL},
    [ST_SKELETON_GET] = {"SELECT 1 FROM users WHERE skeleton = ?", NULL},
    [ST_REVOKE] = {"UPDATE users SET token_gen = token_gen + 1 WHERE id = ? RETURNING token_gen",
                   NULL},
    [ST_REVOKE_PASSWORD] = {"UPDATE users SET token_gen = token_gen + 1, pwhash = ? "
                            "WHERE id = ? RETURNING token_gen",
                            NULL},
    [ST_PRESENCE_GET] = {"SELECT contact_cap_hash, show_presence FROM users WHERE username = ?",
                         NULL},
    [ST_PRESENCE_SET] = {"UPDATE users SET contact_cap_hash = ?, show_presence = ? "
                         "WHERE username = ?",
                         NULL},
    [ST_TOMBSTONE] = {"UPDATE users SET pwhash = '', token_gen = token_gen + 1, "
                      "contact_cap_hash = NULL, show_presence = 0, device_list = NULL, "
                      "deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                      NULL},
    [ST_DELETE_MAIL] = {"DELETE FROM mailbox WHERE recipient_id = ?1", NULL},
    [ST_DELETE_USAGE] = {"DELETE FROM mailbox_usage WHERE recipient_id = ?1", NULL},
    [ST_DELETE_IDENTITY] = {"DELETE FROM identities WHERE user_id = ?1", NULL},
    /* The devices' signed, one-time and KEM prekeys go with them (ON DELETE CASCADE). */
    [ST_DELETE_DEVICES] = {"DELETE FROM devices WHERE user_id = ?1", NULL},
};

static sqlite3_stmt *stmt(sqlite3 *db, enum stmt_id id)
{
    return sqlite_stmt_get(db, &stmts[id]);
}

void store_sqlite_accounts_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

int store_sqlite_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                   size_t pwhash_size)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_USER_GET);
    int found = -1;

    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (id != NULL) {
                *id = sqlite3_column_int64(st, 0);
            }
            if (token_gen != NULL) {
                *token_gen = sqlite3_column_int64(st, 1);
            }
            if (pwhash != NULL && pwhash_size > 0) {
                const unsigned char *h = sqlite3_column_text(st, 2);
                snprintf(pwhash, pwhash_size, "%s", h != NULL ? (const char *)h : "");
            }
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
        sqlite3_reset(st);
    }
    db_unlock();
    return found;
}

/* 1 when a row has column = value (the statement id selects it), 0 none, -1 an error. The
 * caller holds the lock. */
static int row_exists(sqlite3 *db, enum stmt_id id, const char *value)
{
    sqlite3_stmt *st = stmt(db, id);
    int found = -1;

    if (st != NULL && sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(st);
    }
    return found;
}

int store_sqlite_user_lookalike(const char *skeleton)
{
    sqlite3 *db = db_lock();
    int found = row_exists(db, ST_SKELETON_GET, skeleton);

    db_unlock();
    return found;
}

struct create_args {
    const char *username;
    const char *skeleton;
    const char *pwhash;
    uint32_t device;
    long long now;
    long long device_gen; /* out */
};

static int create_locked(sqlite3 *db, void *arg)
{
    struct create_args *a = arg;
    sqlite3_stmt *st = stmt(db, ST_USER_INSERT);
    int rc = SQLITE_ERROR;
    int taken;

    if (st != NULL && sqlite3_bind_text(st, 1, a->username, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, a->skeleton, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 3, a->pwhash, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 4, a->now) == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st); /* keeps no pointer to the caller's hash */
    }
    if (rc == SQLITE_DONE) {
        /* The first device: listed when it is device 1 (a new account has no list). */
        return sqlite_device_insert(db, sqlite3_last_insert_rowid(db), a->device, a->device == 1,
                                    a->now, &a->device_gen) == 0
                   ? STORE_OK
                   : STORE_ERROR;
    }
    if (rc != SQLITE_CONSTRAINT) {
        return STORE_ERROR;
    }
    /* The username or the skeleton is UNIQUE: which one, asked in the same transaction. */
    taken = row_exists(db, ST_USER_GET, a->username);
    return taken == 1 ? STORE_TAKEN : taken == 0 ? STORE_LOOKALIKE : STORE_ERROR;
}

int store_sqlite_user_create(const char *username, const char *skeleton, const char *pwhash,
                      uint32_t device, long long now, long long *device_gen)
{
    struct create_args a = {username, skeleton, pwhash, device, now, 0};
    sqlite3 *db = db_lock();
    int result = sqlite_transaction(db, create_locked, &a, "storing an account");

    db_unlock();
    *device_gen = a.device_gen;
    return result;
}

int store_sqlite_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, new_pwhash != NULL ? ST_REVOKE_PASSWORD : ST_REVOKE);
    int idx = 1;
    int rc = SQLITE_ERROR;

    if (st != NULL &&
        (new_pwhash == NULL ||
         sqlite3_bind_text(st, idx++, new_pwhash, -1, SQLITE_STATIC) == SQLITE_OK) &&
        sqlite3_bind_int64(st, idx, user_id) == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *token_gen = sqlite3_column_int64(st, 0);
            rc = sqlite3_step(st);
        }
    }
    if (rc != SQLITE_DONE) {
        log_msg(LOG_ERROR, "store: revoking tokens failed: %s", sqlite3_errmsg(db));
    }
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    db_unlock();
    return rc == SQLITE_DONE ? 0 : -1;
}

struct delete_args {
    long long user_id;
    long long now;
};

static int delete_locked(sqlite3 *db, void *arg)
{
    static const enum stmt_id wipes[] = {ST_DELETE_MAIL, ST_DELETE_USAGE, ST_DELETE_IDENTITY,
                                         ST_DELETE_DEVICES};
    const struct delete_args *a = arg;
    sqlite3_stmt *st = stmt(db, ST_TOMBSTONE);

    if (st == NULL || sqlite3_bind_int64(st, 1, a->user_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, a->now) != SQLITE_OK || sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    if (sqlite3_changes(db) != 1) {
        return STORE_NO_USER; /* no such user, or deleted already */
    }
    for (size_t i = 0; i < sizeof wipes / sizeof wipes[0]; i++) {
        st = stmt(db, wipes[i]);
        if (st == NULL || sqlite3_bind_int64(st, 1, a->user_id) != SQLITE_OK ||
            sqlite_step_done(st) != 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_sqlite_user_delete(long long user_id, long long now)
{
    struct delete_args a = {user_id, now};
    sqlite3 *db = db_lock();
    int result = sqlite_transaction(db, delete_locked, &a, "deleting an account");

    db_unlock();
    return result;
}

int store_sqlite_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_PRESENCE_GET);
    int found = -1;

    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const void *hash = sqlite3_column_blob(st, 0);
            *has_cap = hash != NULL && sqlite3_column_bytes(st, 0) == 32;
            if (*has_cap) {
                memcpy(cap_hash, hash, 32);
            }
            *visible = sqlite3_column_int(st, 1) != 0;
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
        sqlite3_reset(st);
    }
    db_unlock();
    return found;
}

int store_sqlite_presence_get_many(struct store_presence *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int found = store_sqlite_presence_get(p[i].username, p[i].cap_hash, &p[i].has_cap,
                                              &p[i].visible);
        if (found < 0) {
            for (size_t j = 0; j < n; j++) {
                p[j].found = 0;
            }
            return -1;
        }
        p[i].found = found;
    }
    return 0;
}

int store_sqlite_presence_set(const char *username, const unsigned char *cap_hash, int visible)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_PRESENCE_SET);
    int rc = -1;

    if (st != NULL &&
        (cap_hash != NULL ? sqlite3_bind_blob(st, 1, cap_hash, 32, SQLITE_STATIC)
                          : sqlite3_bind_null(st, 1)) == SQLITE_OK &&
        sqlite3_bind_int(st, 2, visible ? 1 : 0) == SQLITE_OK &&
        sqlite3_bind_text(st, 3, username, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite_step_done(st) == 0) {
        rc = sqlite3_changes(db) == 1 ? 0 : 1;
    }
    db_unlock();
    return rc;
}
