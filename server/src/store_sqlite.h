/*
 * What the SQLite files of the store share (private to store_sqlite*.c; the interface is
 * store.h). Each file keeps the statements it runs prepared in a table of its own, on the one
 * connection of db.c; every function here is called with db_lock() held.
 *
 *   store_sqlite.c           this header's helpers and store_close
 *   store_sqlite_accounts.c  users: accounts, token generations, presence settings
 *   store_sqlite_keys.c      the key directory
 *   store_sqlite_mail.c      the mailbox
 */
#ifndef PARLEY_SERVER_STORE_SQLITE_H
#define PARLEY_SERVER_STORE_SQLITE_H

#include <sqlite3.h>
#include <stddef.h>

/* A statement kept prepared: its SQL, and the statement once prepared (NULL before). */
struct sqlite_stmt {
    const char *const sql;
    sqlite3_stmt *st;
};

/* The statement of s (prepared on first use), reset and unbound; NULL with the error logged when
 * it cannot be prepared. */
sqlite3_stmt *sqlite_stmt_get(sqlite3 *db, struct sqlite_stmt *s);

/* Finalizes the statements of stmts[0..n) that were prepared. */
void sqlite_stmt_drop(struct sqlite_stmt *stmts, size_t n);

/* Runs a statement that returns no row to its end and resets it. 0 or -1. */
int sqlite_step_done(sqlite3_stmt *st);

/* Each file's store_close part: drops its prepared statements. */
void store_sqlite_accounts_close(void);
void store_sqlite_keys_close(void);
void store_sqlite_mail_close(void);

#endif
