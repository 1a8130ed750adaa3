/*
 * What the SQLite files of the store share (private to store_sqlite*.c; the interface is
 * store.h). Each file keeps the statements it runs prepared in a table of its own, on the one
 * connection of db.c; every function here is called with db_lock() held.
 *
 *   store_sqlite.c           this header's helpers, the engine's table and store_sqlite_close
 *   store_sqlite_accounts.c  users: accounts, token generations, presence settings
 *   store_sqlite_devices.c   devices: registration, tokens, lists, removal
 *   store_sqlite_keys.c      the key directory
 *   store_sqlite_mail.c      the mailbox
 */
#ifndef PARLEY_SERVER_STORE_SQLITE_H
#define PARLEY_SERVER_STORE_SQLITE_H

#include "store.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

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

/* The prepared statement s with (user_id, device) bound as parameters 1 and 2; NULL on failure. */
sqlite3_stmt *sqlite_stmt_device(sqlite3 *db, struct sqlite_stmt *s, long long user_id,
                                 uint32_t device);

/*
 * Runs body(db, arg) inside BEGIN IMMEDIATE; commits when it returns STORE_OK, rolls back
 * otherwise. Returns body's result, or STORE_ERROR when the transaction could not begin or
 * commit (what names the work in the log line of a failure).
 */
int sqlite_transaction(sqlite3 *db, int (*body)(sqlite3 *db, void *arg), void *arg,
                       const char *what);

/* Removes device of user_id for good within the caller's transaction: flagged removed (no longer
 * listed), its keys and mail deleted. 0 or -1. */
int sqlite_device_remove(sqlite3 *db, long long user_id, uint32_t device);

/* Forgets user_id's devices pending (unlisted) since before the 24 h cut-off: their ids may be
 * registered again. 0 or -1. */
int sqlite_devices_forget_pending(sqlite3 *db, long long user_id, long long now);

/* Forgets device of user_id within the caller's transaction: its row, keys and mail deleted
 * (its id may be registered again). 0 or -1. */
int sqlite_device_forget(sqlite3 *db, long long user_id, uint32_t device);

/* Registers device of user_id at now within the caller's transaction: listed when listed is
 * non-zero; its token generation is now (larger than any a forgotten device of the same id had:
 * a device is forgotten a day after its registration, and fewer logouts than seconds fit in a
 * day, the account's log-ins being throttled). 0 with *token_gen, -1 (a constraint too). */
int sqlite_device_insert(sqlite3 *db, long long user_id, uint32_t device, int listed,
                         long long now, long long *token_gen);

/* Puts a KEM prekey of user_id's device d->device into d within the caller's transaction: with
 * take_one_time its one-time one with the lowest id (deleted), else (or when none is left) its
 * last-resort one; has_kem 0 when it has neither. 0 or -1. */
int sqlite_kem_take(sqlite3 *db, long long user_id, struct store_device_bundle *d,
                    int take_one_time);

/* The engine's functions (store.h, store_engine.h), each named store_sqlite_ and its store_
 * name's end. */
int store_sqlite_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                   size_t pwhash_size);
int store_sqlite_user_lookalike(const char *skeleton);
int store_sqlite_user_create(const char *username, const char *skeleton, const char *pwhash,
                      uint32_t device, long long now, long long *device_gen);
int store_sqlite_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen);
int store_sqlite_user_delete(long long user_id, long long now);
int store_sqlite_device_auth(const char *username, uint32_t device, long long now,
                      struct store_device_auth *out);
int store_sqlite_device_login(long long user_id, uint32_t device, long long now, long long *device_gen);
int store_sqlite_device_revoke(long long user_id, uint32_t device, long long *device_gen);
int store_sqlite_device_seen(long long user_id, uint32_t device, long long now);
int store_sqlite_devices_get(long long user_id, long long now, struct store_devices *out);
int store_sqlite_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX], size_t *n);
int store_sqlite_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                      uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed);
int store_sqlite_device_listed(const char *username, uint32_t device, long long *user_id);
long long store_sqlite_devices_sweep(long long now);
int store_sqlite_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible);
int store_sqlite_presence_get_many(struct store_presence *p, size_t n);
int store_sqlite_presence_set(const char *username, const unsigned char *cap_hash, int visible);
int store_sqlite_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                      struct store_keys_stored *out);
long long store_sqlite_keys_count(long long user_id, uint32_t device);
int store_sqlite_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count);
long long store_sqlite_kem_count(long long user_id, uint32_t device);
int store_sqlite_identity_get(const char *username, struct store_identity *out);
int store_sqlite_bundle_take(const char *username, uint32_t device, int take_one_time,
                      struct store_bundle *b);
int store_sqlite_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota);
int store_sqlite_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted);
int store_sqlite_mail_fetch(long long recipient_id, uint32_t device, long long after_id, long long now,
                     size_t max_count, size_t max_bytes, store_mail_fn fn, void *arg);
long long store_sqlite_mail_sweep(long long now);
int store_sqlite_mail_usage(long long recipient_id, uint32_t device, long long *count, long long *bytes);

/* Each file's store_sqlite_close part: drops its prepared statements. */
void store_sqlite_accounts_close(void);
void store_sqlite_devices_close(void);
void store_sqlite_keys_close(void);
void store_sqlite_kem_close(void);
void store_sqlite_mail_close(void);

/* Drops the statements the store keeps prepared (db_close calls it). */
void store_sqlite_close(void);

#endif
