/*
 * What the PostgreSQL files of the store share (private to store_pg*.c; the interface is
 * store.h, the engine's table store_engine.h). The server holds a pool of PG_POOL_SIZE
 * connections to one database (several server instances may share it); a call takes one for its
 * work and gives it back. Every statement is prepared once per connection (PQprepare, on its
 * first use) and run with PQexecPrepared, its values as parameters, never spliced into the SQL.
 * Results come back as text; bytea values as hex.
 *
 *   store_pg.c           the pool, the schema's migrations, this header's helpers, the table
 *   store_pg_accounts.c  users: accounts, token generations, presence settings
 *   store_pg_devices.c   devices: registration, tokens, lists, removal
 *   store_pg_keys.c      the key directory
 *   store_pg_mail.c      the mailbox
 *
 * Concurrency across instances: what SQLite serialises with BEGIN IMMEDIATE runs here in
 * SERIALIZABLE transactions, retried when PostgreSQL reports a serialization failure or a
 * deadlock; the hot paths (the mailbox, taking one-time prekeys) run in READ COMMITTED with row
 * locks (SELECT ... FOR UPDATE, DELETE ... SKIP LOCKED), which never need a retry.
 */
#ifndef PARLEY_SERVER_STORE_PG_H
#define PARLEY_SERVER_STORE_PG_H

#include "store.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PG_POOL_SIZE 16
#define PG_PARAMS_MAX 8
#define PG_STMTS_MAX 128 /* distinct statements the files run, at most */

/* One connection taken from the pool, the statements prepared on it (by their index in
 * store_pg.c's table), and the SQLSTATE of its last failed statement. */
struct pg {
    PGconn *conn;
    unsigned char prepared[PG_STMTS_MAX];
    char sqlstate[6];
};

/* The parameters of one statement, added in order ($1, $2, ...). */
struct pg_args {
    int n;
    const char *values[PG_PARAMS_MAX];
    int lengths[PG_PARAMS_MAX];
    int formats[PG_PARAMS_MAX];
    char numbers[PG_PARAMS_MAX][24];
};

void pg_args_init(struct pg_args *a);
void pg_arg_int(struct pg_args *a, long long v);
void pg_arg_text(struct pg_args *a, const char *v);                   /* NULL: SQL NULL */
void pg_arg_bytes(struct pg_args *a, const void *v, size_t len);      /* NULL: SQL NULL */

/* A connection of the pool (waiting for one to be free), connected; NULL when the database
 * cannot be reached (logged). Every pg_take is paired with pg_give. */
struct pg *pg_take(void);
void pg_give(struct pg *pg);

/*
 * Runs sql (a string constant: statements are told apart by their address) with args (NULL:
 * none) on pg, preparing it on the connection first when it is new there. Returns the result (the caller PQclears it) when the
 * statement succeeded, NULL when it failed: then pg->sqlstate holds its SQLSTATE ("" when the
 * connection failed) and the error is logged unless it is a unique violation (23505) or a
 * serialization failure (40001, 40P01), which callers handle.
 */
PGresult *pg_run(struct pg *pg, const char *sql, const struct pg_args *args);

/* Runs sql to its end, discarding rows. 0, or -1. */
int pg_do(struct pg *pg, const char *sql, const struct pg_args *args);

/* Runs sql and reads column 0 of its first row as an integer: 1 with *out, 0 no row, -1 error. */
int pg_int(struct pg *pg, const char *sql, const struct pg_args *args, long long *out);

/* The value of row, col as an integer (0 when NULL). */
long long pg_get_int(const PGresult *res, int row, int col);

/* Decodes the bytea at row, col (hex) into out (max bytes): its length, or -1 when it is NULL,
 * not hex, or longer than max. */
long long pg_get_bytes(const PGresult *res, int row, int col, unsigned char *out, size_t max);

/*
 * Runs body(pg, arg) inside a transaction (SERIALIZABLE when serializable, else READ
 * COMMITTED), committing when it returns STORE_OK and rolling back otherwise; a serialization
 * failure or deadlock runs it again, from the start (a body must reset what it fills), up to a
 * few times. Returns body's result, or STORE_ERROR (what names the work in the log line).
 */
int pg_transaction(int serializable, int (*body)(struct pg *pg, void *arg), void *arg,
                   const char *what);

/* Within a transaction: removes device of user_id for good (flagged removed, no longer listed,
 * its keys and mail deleted); forgets it (its row, keys and mail deleted); forgets user_id's
 * devices pending since before the cut-off; registers it (token generation now). 0 or -1. */
int pg_device_remove(struct pg *pg, long long user_id, uint32_t device);
int pg_device_forget(struct pg *pg, long long user_id, uint32_t device);
int pg_devices_forget_pending(struct pg *pg, long long user_id, long long now);
int pg_device_insert(struct pg *pg, long long user_id, uint32_t device, int listed, long long now,
                     long long *token_gen);

/* Puts a KEM prekey of user_id's device d->device into d within the caller's transaction (as
 * store_sqlite.h's sqlite_kem_take). 0 or -1. */
int pg_kem_take(struct pg *pg, long long user_id, struct store_device_bundle *d, int take_one_time);

/* The engine's functions (store_engine.h), each named store_pg_ and its store_ name's end. */
int store_pg_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                      size_t pwhash_size);
int store_pg_user_lookalike(const char *skeleton);
int store_pg_throttle_take(const char *key, double burst, double per_second);
int store_pg_user_create(const char *username, const char *skeleton, const char *pwhash,
                         uint32_t device, long long now, long long *device_gen);
int store_pg_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen);
int store_pg_user_delete(long long user_id, long long now);
int store_pg_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                          int *visible);
int store_pg_presence_get_many(struct store_presence *p, size_t n);
int store_pg_presence_set(const char *username, const unsigned char *cap_hash, int visible);
int store_pg_device_auth(const char *username, uint32_t device, long long now,
                         struct store_device_auth *out);
int store_pg_device_login(long long user_id, uint32_t device, long long now,
                          long long *device_gen);
int store_pg_device_revoke(long long user_id, uint32_t device, long long *device_gen);
int store_pg_device_seen(long long user_id, uint32_t device, long long now);
int store_pg_devices_get(long long user_id, long long now, struct store_devices *out);
int store_pg_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX],
                            size_t *n);
int store_pg_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                         uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed);
int store_pg_device_listed(const char *username, uint32_t device, long long *user_id);
long long store_pg_devices_sweep(long long now);
int store_pg_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                         struct store_keys_stored *out);
long long store_pg_keys_count(long long user_id, uint32_t device);
int store_pg_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count);
long long store_pg_kem_count(long long user_id, uint32_t device);
int store_pg_identity_get(const char *username, struct store_identity *out);
int store_pg_bundle_take(const char *username, uint32_t device, int take_one_time,
                         struct store_bundle *b);
int store_pg_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota);
int store_pg_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted);
int store_pg_mail_fetch(long long recipient_id, uint32_t device, long long after_id,
                        long long now, size_t max_count, size_t max_bytes, store_mail_fn fn,
                        void *arg);
long long store_pg_mail_sweep(long long now);
int store_pg_mail_usage(long long recipient_id, uint32_t device, long long *count,
                        long long *bytes);

#endif
