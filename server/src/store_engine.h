/*
 * The engines behind store.h: each one fills a table of the interface's functions, and store.c
 * hands every call to the engine store_open chose (SQLite until then, so that the unit tests may
 * open a database with db_open alone). Private to store*.c.
 *
 *   store_sqlite*.c  SQLite: one embedded file, one connection (db.c)
 *   store_pg*.c      PostgreSQL through libpq: a pool of connections, shared by instances
 */
#ifndef PARLEY_SERVER_STORE_ENGINE_H
#define PARLEY_SERVER_STORE_ENGINE_H

#include "store.h"

struct store_engine {
    const char *name;
    int (*user_get)(const char *username, long long *id, long long *token_gen, char *pwhash,
                    size_t pwhash_size);
    int (*user_lookalike)(const char *skeleton);
    int (*user_create)(const char *username, const char *skeleton, const char *pwhash,
                       uint32_t device, long long now, long long *device_gen);
    int (*user_revoke)(long long user_id, const char *new_pwhash, long long *token_gen);
    int (*user_delete)(long long user_id, long long now);
    int (*device_auth)(const char *username, uint32_t device, long long now,
                       struct store_device_auth *out);
    int (*device_login)(long long user_id, uint32_t device, long long now, long long *device_gen);
    int (*device_revoke)(long long user_id, uint32_t device, long long *device_gen);
    int (*device_seen)(long long user_id, uint32_t device, long long now);
    int (*devices_get)(long long user_id, long long now, struct store_devices *out);
    int (*devices_listed)(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX], size_t *n);
    int (*devices_put)(long long user_id, const struct store_devices_put *in, long long now,
                       uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed);
    int (*device_listed)(const char *username, uint32_t device, long long *user_id);
    long long (*devices_sweep)(long long now);
    int (*presence_get)(const char *username, unsigned char cap_hash[32], int *has_cap,
                        int *visible);
    int (*presence_set)(const char *username, const unsigned char *cap_hash, int visible);
    int (*presence_get_many)(struct store_presence *p, size_t n);
    int (*keys_upload)(long long user_id, const struct store_keys_upload *up, long long now,
                       struct store_keys_stored *out);
    long long (*keys_count)(long long user_id, uint32_t device);
    int (*identity_get)(const char *username, struct store_identity *out);
    int (*bundle_take)(const char *username, uint32_t device, int take_one_time,
                       struct store_bundle *b);
    int (*kem_upload)(long long user_id, const struct store_kem_upload *up, long long *count);
    long long (*kem_count)(long long user_id, uint32_t device);
    int (*mail_put_batch)(struct store_put *puts, size_t n, const struct store_quota *quota);
    int (*mail_ack_batch)(const struct store_ack *acks, size_t n, size_t *deleted);
    int (*mail_fetch)(long long recipient_id, uint32_t device, long long after_id, long long now,
                      size_t max_count, size_t max_bytes, store_mail_fn fn, void *arg);
    long long (*mail_sweep)(long long now);
    int (*mail_usage)(long long recipient_id, uint32_t device, long long *count,
                      long long *bytes);
    int (*throttle_take)(const char *key, double burst, double per_second);
    /* 1 when the engine answers now (a round trip), 0 not. */
    int (*ping)(void);
};

extern const struct store_engine store_sqlite_engine;
extern const struct store_engine store_pg_engine;

/* PostgreSQL: connects to database (a postgres:// URL) and migrates the schema. 0, or -1 with err
 * set (never the URL: it may hold a password). store_pg_close drops every connection. */
int store_pg_open(const char *database, char *err, size_t errlen);
void store_pg_close(void);

#endif
