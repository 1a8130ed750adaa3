/*
 * The storage interface (store.h) on SQLite: the one connection of db.c, under its lock. The
 * functions of store.h are in store_sqlite_accounts.c, store_sqlite_keys.c and
 * store_sqlite_mail.c; this file holds what they share (store_sqlite.h).
 */
#include "store.h"
#include "store_engine.h"
#include "store_sqlite.h"

#include "db.h"

#include "log.h"

sqlite3_stmt *sqlite_stmt_get(sqlite3 *db, struct sqlite_stmt *s)
{
    if (s->st == NULL &&
        sqlite3_prepare_v3(db, s->sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "store: cannot prepare a statement: %s", sqlite3_errmsg(db));
        s->st = NULL;
        return NULL;
    }
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    return s->st;
}

void sqlite_stmt_drop(struct sqlite_stmt *stmts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_finalize(stmts[i].st);
        stmts[i].st = NULL;
    }
}

int sqlite_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

sqlite3_stmt *sqlite_stmt_device(sqlite3 *db, struct sqlite_stmt *s, long long user_id,
                                 uint32_t device)
{
    sqlite3_stmt *st = sqlite_stmt_get(db, s);

    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)device) != SQLITE_OK) {
        return NULL;
    }
    return st;
}

int sqlite_transaction(sqlite3 *db, int (*body)(sqlite3 *db, void *arg), void *arg,
                       const char *what)
{
    int result;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "store: %s failed: %s", what, sqlite3_errmsg(db));
        return STORE_ERROR;
    }
    result = body(db, arg);
    if (result == STORE_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        result = STORE_ERROR;
    }
    if (result == STORE_ERROR) {
        log_msg(LOG_ERROR, "store: %s failed: %s", what, sqlite3_errmsg(db));
    }
    if (result != STORE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return result;
}

/* One instance's database: its callers throttle in memory. */
static int sqlite_throttle_take(const char *key, double burst, double per_second)
{
    (void)key;
    (void)burst;
    (void)per_second;
    return STORE_THROTTLE_LOCAL;
}

/* One round trip on the connection. */
static int sqlite_ping(void)
{
    sqlite3 *db = db_lock();
    int ok = db != NULL && db_exec(db, "SELECT 1") == SQLITE_OK;

    db_unlock();
    return ok;
}

const struct store_engine store_sqlite_engine = {
    .name = "sqlite",
    .user_get = store_sqlite_user_get,
    .user_lookalike = store_sqlite_user_lookalike,
    .user_create = store_sqlite_user_create,
    .user_revoke = store_sqlite_user_revoke,
    .user_delete = store_sqlite_user_delete,
    .device_auth = store_sqlite_device_auth,
    .device_login = store_sqlite_device_login,
    .device_revoke = store_sqlite_device_revoke,
    .device_seen = store_sqlite_device_seen,
    .devices_get = store_sqlite_devices_get,
    .devices_listed = store_sqlite_devices_listed,
    .devices_put = store_sqlite_devices_put,
    .device_listed = store_sqlite_device_listed,
    .devices_sweep = store_sqlite_devices_sweep,
    .presence_get = store_sqlite_presence_get,
    .presence_set = store_sqlite_presence_set,
    .presence_get_many = store_sqlite_presence_get_many,
    .keys_upload = store_sqlite_keys_upload,
    .keys_count = store_sqlite_keys_count,
    .identity_get = store_sqlite_identity_get,
    .bundle_take = store_sqlite_bundle_take,
    .kem_upload = store_sqlite_kem_upload,
    .kem_count = store_sqlite_kem_count,
    .mail_put_batch = store_sqlite_mail_put_batch,
    .mail_ack_batch = store_sqlite_mail_ack_batch,
    .mail_fetch = store_sqlite_mail_fetch,
    .mail_sweep = store_sqlite_mail_sweep,
    .mail_usage = store_sqlite_mail_usage,
    .throttle_take = sqlite_throttle_take,
    .ping = sqlite_ping,
};

void store_sqlite_close(void)
{
    store_sqlite_accounts_close();
    store_sqlite_devices_close();
    store_sqlite_keys_close();
    store_sqlite_kem_close();
    store_sqlite_mail_close();
}
