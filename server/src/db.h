/*
 * The SQLite database under the store (store.h, implemented in store_sqlite*.c): one connection
 * to DATA/parley.db shared by every thread behind a mutex (db_lock/db_unlock). WAL journal,
 * synchronous=FULL (an acknowledged write survives kill -9 and power loss), foreign keys on,
 * busy_timeout 5 s. The schema version is kept in PRAGMA user_version and upgraded by the
 * migrations in db.c, each in its own transaction. Slow work (password hashing) is always done
 * outside the lock.
 */
#ifndef PARLEY_SERVER_DB_H
#define PARLEY_SERVER_DB_H

#include <stddef.h>

/* The connection's type, from <sqlite3.h>: only db.c and the store's SQLite files
 * (store_sqlite*.c) include it and use the connection; everything else goes through store.h. */
struct sqlite3;

#define DB_SCHEMA_VERSION 6

/* Opens (creating if needed) and migrates path. 0, or -1 with err set. */
int db_open(const char *path, char *err, size_t errlen);
void db_close(void);

/* Takes the connection for the calling thread; every db_lock is paired with db_unlock. */
struct sqlite3 *db_lock(void);
void db_unlock(void);

/* Runs a statement without parameters or results (BEGIN, COMMIT, ...). SQLITE_OK or an error. */
int db_exec(struct sqlite3 *db, const char *sql);

/* Current Unix time in seconds. */
long long db_now(void);

#endif
