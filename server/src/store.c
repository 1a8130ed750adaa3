/*
 * The storage interface (store.h) handed to the engine store_open chose: SQLite in the data
 * folder by default, PostgreSQL for a postgres:// URL (store_engine.h).
 */
#include "store.h"
#include "store_engine.h"

#include "db.h"

#include <stdio.h>
#include <string.h>

/* SQLite until store_open says otherwise (the unit tests open the database with db_open). */
static const struct store_engine *engine = &store_sqlite_engine;

int store_open(const char *database, const char *data_dir, char *err, size_t errlen)
{
    if (database != NULL && database[0] != '\0') {
        if (store_pg_open(database, err, errlen) != 0) {
            return -1;
        }
        engine = &store_pg_engine;
        return 0;
    }
    {
        char path[4200];
        int n = snprintf(path, sizeof path, "%s/parley.db", data_dir);
        if (n < 0 || (size_t)n >= sizeof path) {
            snprintf(err, errlen, "the data folder's path is too long");
            return -1;
        }
        engine = &store_sqlite_engine;
        return db_open(path, err, errlen);
    }
}

void store_shutdown(void)
{
    if (engine == &store_pg_engine) {
        store_pg_close();
    } else {
        db_close();
    }
    engine = &store_sqlite_engine;
}

const char *store_engine_name(void)
{
    return engine->name;
}

int store_throttle_take(const char *key, double burst, double per_second)
{
    return engine->throttle_take(key, burst, per_second);
}

int store_ping(void)
{
    return engine->ping();
}

int store_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                   size_t pwhash_size)
{
    return engine->user_get(username, id, token_gen, pwhash, pwhash_size);
}

int store_user_lookalike(const char *skeleton)
{
    return engine->user_lookalike(skeleton);
}

int store_user_create(const char *username, const char *skeleton, const char *pwhash,
                      uint32_t device, long long now, long long *device_gen)
{
    return engine->user_create(username, skeleton, pwhash, device, now, device_gen);
}

int store_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen)
{
    return engine->user_revoke(user_id, new_pwhash, token_gen);
}

int store_user_delete(long long user_id, long long now)
{
    return engine->user_delete(user_id, now);
}

int store_device_auth(const char *username, uint32_t device, long long now,
                      struct store_device_auth *out)
{
    return engine->device_auth(username, device, now, out);
}

int store_device_login(long long user_id, uint32_t device, long long now, long long *device_gen)
{
    return engine->device_login(user_id, device, now, device_gen);
}

int store_device_revoke(long long user_id, uint32_t device, long long *device_gen)
{
    return engine->device_revoke(user_id, device, device_gen);
}

int store_device_seen(long long user_id, uint32_t device, long long now)
{
    return engine->device_seen(user_id, device, now);
}

int store_devices_get(long long user_id, long long now, struct store_devices *out)
{
    return engine->devices_get(user_id, now, out);
}

int store_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX], size_t *n)
{
    return engine->devices_listed(username, ids, n);
}

int store_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                      uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed)
{
    return engine->devices_put(user_id, in, now, removed, n_removed);
}

int store_device_listed(const char *username, uint32_t device, long long *user_id)
{
    return engine->device_listed(username, device, user_id);
}

long long store_devices_sweep(long long now)
{
    return engine->devices_sweep(now);
}

int store_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible)
{
    return engine->presence_get(username, cap_hash, has_cap, visible);
}

int store_presence_set(const char *username, const unsigned char *cap_hash, int visible)
{
    return engine->presence_set(username, cap_hash, visible);
}

int store_presence_get_many(struct store_presence *p, size_t n)
{
    return engine->presence_get_many(p, n);
}

int store_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                      struct store_keys_stored *out)
{
    return engine->keys_upload(user_id, up, now, out);
}

long long store_keys_count(long long user_id, uint32_t device)
{
    return engine->keys_count(user_id, device);
}

int store_identity_get(const char *username, struct store_identity *out)
{
    return engine->identity_get(username, out);
}

uint32_t store_kem_record_id(const unsigned char *record)
{
    return (uint32_t)record[0] << 24 | (uint32_t)record[1] << 16 | (uint32_t)record[2] << 8 |
           record[3];
}

int store_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count)
{
    return engine->kem_upload(user_id, up, count);
}

long long store_kem_count(long long user_id, uint32_t device)
{
    return engine->kem_count(user_id, device);
}

int store_bundle_take(const char *username, uint32_t device, int take_one_time,
                      struct store_bundle *b)
{
    return engine->bundle_take(username, device, take_one_time, b);
}

int store_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota)
{
    return engine->mail_put_batch(puts, n, quota);
}

int store_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted)
{
    return engine->mail_ack_batch(acks, n, deleted);
}

int store_mail_fetch(long long recipient_id, uint32_t device, long long after_id, long long now,
                     size_t max_count, size_t max_bytes, store_mail_fn fn, void *arg)
{
    return engine->mail_fetch(recipient_id, device, after_id, now, max_count, max_bytes, fn, arg);
}

long long store_mail_sweep(long long now)
{
    return engine->mail_sweep(now);
}

int store_mail_usage(long long recipient_id, uint32_t device, long long *count, long long *bytes)
{
    return engine->mail_usage(recipient_id, device, count, bytes);
}
