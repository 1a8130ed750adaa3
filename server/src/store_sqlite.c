/*
 * The storage interface (store.h) on SQLite: the one connection of db.c, under its lock. The
 * functions of store.h are in store_sqlite_accounts.c, store_sqlite_keys.c and
 * store_sqlite_mail.c; this file holds what they share (store_sqlite.h).
 */
#include "store.h"
#include "store_sqlite.h"

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

void store_close(void)
{
    store_sqlite_accounts_close();
    store_sqlite_devices_close();
    store_sqlite_keys_close();
    store_sqlite_mail_close();
}
