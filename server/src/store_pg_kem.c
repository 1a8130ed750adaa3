/* Post-quantum KEM prekeys (store.h) on PostgreSQL: kem_prekeys, as store_sqlite_kem.c. A
 * one-time KEM prekey is taken as a one-time prekey is (store_pg_keys.c): DELETE ... RETURNING of
 * a row locked FOR UPDATE SKIP LOCKED, so instances never hand out the same one. */
#include "store_pg.h"

#include "log.h"

#include <sodium.h>
#include <string.h>

static long long count_one_time(struct pg *pg, long long user_id, uint32_t device)
{
    struct pg_args a;
    long long n = -1;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    return pg_int(pg,
                  "SELECT count(*) FROM kem_prekeys WHERE user_id = $1 AND device_id = $2 AND "
                  "last_resort = 0",
                  &a, &n) == 1
               ? n
               : -1;
}

long long store_pg_kem_count(long long user_id, uint32_t device)
{
    struct pg *pg = pg_take();
    long long n;

    if (pg == NULL) {
        return -1;
    }
    n = count_one_time(pg, user_id, device);
    pg_give(pg);
    return n;
}

/* STORE_OK, STORE_DUPLICATE (its id is stored for the device) or STORE_ERROR. */
static int insert(struct pg *pg, long long user_id, uint32_t device, const unsigned char *rec,
                  int last_resort)
{
    struct pg_args a;
    long long id = 0;
    int inserted;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    pg_arg_int(&a, (long long)store_kem_record_id(rec));
    pg_arg_bytes(&a, rec, STORE_KEM_RECORD);
    pg_arg_int(&a, last_resort);
    inserted = pg_int(pg,
                      "INSERT INTO kem_prekeys (user_id, device_id, key_id, record, last_resort) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key_id",
                      &a, &id);
    return inserted == 1 ? STORE_OK : inserted == 0 ? STORE_DUPLICATE : STORE_ERROR;
}

struct upload_args {
    long long user_id;
    const struct store_kem_upload *up;
    long long *count;
};

static int upload_body(struct pg *pg, void *arg)
{
    const struct upload_args *u = arg;
    const struct store_kem_upload *up = u->up;
    unsigned char key[32];
    struct pg_args a;
    PGresult *res;
    long long existing;
    int result;

    *u->count = 0;
    pg_args_init(&a);
    pg_arg_int(&a, u->user_id);
    res = pg_run(pg, "SELECT identity_key FROM identities WHERE user_id = $1", &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    result = PQntuples(res) == 0                           ? STORE_NO_KEYS
             : pg_get_bytes(res, 0, 0, key, 32) != 32       ? STORE_ERROR
             : sodium_memcmp(key, up->identity_key, 32) != 0 ? STORE_CONFLICT
                                                             : STORE_OK;
    PQclear(res);
    if (result != STORE_OK) {
        return result;
    }
    /* A device the account's list leaves out (one being linked) uploads once listed. */
    pg_args_init(&a);
    pg_arg_int(&a, u->user_id);
    pg_arg_int(&a, (long long)up->device);
    res = pg_run(pg,
                 "SELECT d.listed, (u.device_list IS NOT NULL)::int FROM devices d "
                 "JOIN users u ON u.id = d.user_id "
                 "WHERE d.user_id = $1 AND d.device_id = $2 AND d.removed = 0",
                 &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    result = PQntuples(res) == 0 ? STORE_NOT_LISTED
             : pg_get_int(res, 0, 1) != 0 && pg_get_int(res, 0, 0) == 0 ? STORE_NOT_LISTED
                                                                         : STORE_OK;
    PQclear(res);
    if (result != STORE_OK) {
        return result;
    }
    existing = count_one_time(pg, u->user_id, up->device);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_one_time > up->max_one_time) {
        return STORE_FULL;
    }
    pg_args_init(&a);
    pg_arg_int(&a, u->user_id);
    pg_arg_int(&a, (long long)up->device);
    if (pg_do(pg,
              "DELETE FROM kem_prekeys WHERE user_id = $1 AND device_id = $2 AND last_resort = 1",
              &a) != 0) {
        return STORE_ERROR;
    }
    result = insert(pg, u->user_id, up->device, up->last_resort, 1);
    for (size_t i = 0; result == STORE_OK && i < up->n_one_time; i++) {
        result = insert(pg, u->user_id, up->device, up->one_time + i * STORE_KEM_RECORD, 0);
    }
    if (result == STORE_OK) {
        *u->count = existing + (long long)up->n_one_time;
    }
    return result;
}

int store_pg_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count)
{
    struct upload_args u = {user_id, up, count};

    *count = 0;
    return pg_transaction(1, upload_body, &u, "storing KEM prekeys");
}

int pg_kem_take(struct pg *pg, long long user_id, struct store_device_bundle *d, int take_one_time)
{
    struct pg_args a;
    PGresult *res;

    d->has_kem = 0;
    d->kem_one_time = 0;
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)d->device);
    if (take_one_time) {
        res = pg_run(pg,
                     "DELETE FROM kem_prekeys WHERE (user_id, device_id, key_id) = "
                     "(SELECT user_id, device_id, key_id FROM kem_prekeys "
                     "WHERE user_id = $1 AND device_id = $2 AND last_resort = 0 "
                     "ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING record",
                     &a);
        if (res == NULL) {
            return -1;
        }
        if (PQntuples(res) > 0) {
            if (pg_get_bytes(res, 0, 0, d->kem, STORE_KEM_RECORD) != STORE_KEM_RECORD) {
                PQclear(res);
                return -1;
            }
            d->has_kem = 1;
            d->kem_one_time = 1;
        }
        PQclear(res);
        d->kem_left = count_one_time(pg, user_id, d->device);
        if (d->kem_left < 0) {
            return -1;
        }
        if (d->has_kem) {
            return 0;
        }
    }
    res = pg_run(pg,
                 "SELECT record FROM kem_prekeys WHERE user_id = $1 AND device_id = $2 AND "
                 "last_resort = 1",
                 &a);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) > 0 && pg_get_bytes(res, 0, 0, d->kem, STORE_KEM_RECORD) == STORE_KEM_RECORD) {
        d->has_kem = 1;
    }
    PQclear(res);
    return 0;
}
