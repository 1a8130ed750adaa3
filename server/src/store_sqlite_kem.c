/* Post-quantum KEM prekeys (store.h) on SQLite: kem_prekeys, per device one last-resort record
 * and one-time records. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

enum stmt_id {
    ST_IDENTITY,
    ST_UPLOADER,
    ST_COUNT_ONE_TIME,
    ST_DROP_LAST,
    ST_INSERT,
    ST_TAKE,
    ST_LAST,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_IDENTITY] = {"SELECT identity_key FROM identities WHERE user_id = ?", NULL},
    [ST_UPLOADER] = {"SELECT d.listed, u.device_list IS NOT NULL FROM devices d "
                     "JOIN users u ON u.id = d.user_id "
                     "WHERE d.user_id = ? AND d.device_id = ? AND d.removed = 0",
                     NULL},
    [ST_COUNT_ONE_TIME] = {"SELECT count(*) FROM kem_prekeys WHERE user_id = ? AND device_id = ? "
                           "AND last_resort = 0",
                           NULL},
    [ST_DROP_LAST] = {"DELETE FROM kem_prekeys WHERE user_id = ? AND device_id = ? AND "
                      "last_resort = 1",
                      NULL},
    [ST_INSERT] = {"INSERT INTO kem_prekeys (user_id, device_id, key_id, record, last_resort) "
                   "VALUES (?, ?, ?, ?, ?)",
                   NULL},
    [ST_TAKE] = {"DELETE FROM kem_prekeys WHERE user_id = ?1 AND device_id = ?2 AND key_id = "
                 "(SELECT min(key_id) FROM kem_prekeys WHERE user_id = ?1 AND device_id = ?2 AND "
                 "last_resort = 0) RETURNING record",
                 NULL},
    [ST_LAST] = {"SELECT record FROM kem_prekeys WHERE user_id = ? AND device_id = ? AND "
                 "last_resort = 1",
                 NULL},
};

void store_sqlite_kem_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

static sqlite3_stmt *stmt_device(sqlite3 *db, enum stmt_id id, long long user_id,
                                 uint32_t device)
{
    return sqlite_stmt_device(db, &stmts[id], user_id, device);
}

/* The device's one-time KEM prekeys, or -1. db_lock held. */
static long long count_locked(sqlite3 *db, long long user_id, uint32_t device)
{
    sqlite3_stmt *st = stmt_device(db, ST_COUNT_ONE_TIME, user_id, device);
    long long n = -1;

    if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return n;
}

long long store_sqlite_kem_count(long long user_id, uint32_t device)
{
    sqlite3 *db = db_lock();
    long long n = count_locked(db, user_id, device);

    db_unlock();
    return n;
}

/* Inserts one record: STORE_OK, STORE_DUPLICATE (its id is stored for the device) or
 * STORE_ERROR. */
static int insert_locked(sqlite3 *db, long long user_id, uint32_t device,
                         const unsigned char *rec, int last_resort)
{
    sqlite3_stmt *st = stmt_device(db, ST_INSERT, user_id, device);
    int rc;

    if (st == NULL || sqlite3_bind_int64(st, 3, (sqlite3_int64)store_kem_record_id(rec)) != SQLITE_OK ||
        sqlite3_bind_blob(st, 4, rec, STORE_KEM_RECORD, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 5, last_resort) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : rc == SQLITE_CONSTRAINT ? STORE_DUPLICATE : STORE_ERROR;
}

struct upload_args {
    long long user_id;
    const struct store_kem_upload *up;
    long long *count;
};

static int upload_locked(sqlite3 *db, void *arg)
{
    const struct upload_args *a = arg;
    const struct store_kem_upload *up = a->up;
    sqlite3_stmt *st = sqlite_stmt_get(db, &stmts[ST_IDENTITY]);
    long long existing;
    int rc;
    int listed = 0;
    int has_list = 0;
    int result;

    /* Signed by the identity stored now (it may have changed since the caller read it). */
    if (st == NULL || sqlite3_bind_int64(st, 1, a->user_id) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    result = rc == SQLITE_DONE                                      ? STORE_NO_KEYS
             : rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32 ? STORE_ERROR
             : sodium_memcmp(sqlite3_column_blob(st, 0), up->identity_key, 32) != 0
                 ? STORE_CONFLICT
                 : STORE_OK;
    sqlite3_reset(st);
    if (result != STORE_OK) {
        return result;
    }
    /* A device the account's list leaves out (one being linked) uploads once listed. */
    st = stmt_device(db, ST_UPLOADER, a->user_id, up->device);
    if (st == NULL) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        listed = sqlite3_column_int(st, 0) != 0;
        has_list = sqlite3_column_int(st, 1) != 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE ? STORE_NOT_LISTED : STORE_ERROR;
    }
    if (has_list && !listed) {
        return STORE_NOT_LISTED;
    }
    existing = count_locked(db, a->user_id, up->device);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_one_time > up->max_one_time) {
        return STORE_FULL;
    }
    st = stmt_device(db, ST_DROP_LAST, a->user_id, up->device);
    if (st == NULL || sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    result = insert_locked(db, a->user_id, up->device, up->last_resort, 1);
    for (size_t i = 0; result == STORE_OK && i < up->n_one_time; i++) {
        result = insert_locked(db, a->user_id, up->device, up->one_time + i * STORE_KEM_RECORD, 0);
    }
    if (result == STORE_OK) {
        *a->count = existing + (long long)up->n_one_time;
    }
    return result;
}

int store_sqlite_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count)
{
    struct upload_args a = {user_id, up, count};
    sqlite3 *db = db_lock();
    int result;

    *count = 0;
    result = sqlite_transaction(db, upload_locked, &a, "storing KEM prekeys");
    db_unlock();
    return result;
}

/* Copies the record in column 0 of st's row into d: 1 (has_kem set), or 0 when it is not a
 * record's size. */
static int read_record(sqlite3_stmt *st, struct store_device_bundle *d)
{
    if (sqlite3_column_bytes(st, 0) != STORE_KEM_RECORD) {
        return 0;
    }
    memcpy(d->kem, sqlite3_column_blob(st, 0), STORE_KEM_RECORD);
    d->has_kem = 1;
    return 1;
}

int sqlite_kem_take(sqlite3 *db, long long user_id, struct store_device_bundle *d,
                    int take_one_time)
{
    sqlite3_stmt *st;
    int rc;

    d->has_kem = 0;
    d->kem_one_time = 0;
    if (take_one_time) {
        st = stmt_device(db, ST_TAKE, user_id, d->device);
        if (st == NULL) {
            return -1;
        }
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && read_record(st, d)) {
            d->kem_one_time = 1;
            rc = sqlite3_step(st);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            return -1;
        }
        d->kem_left = count_locked(db, user_id, d->device);
        if (d->kem_left < 0) {
            return -1;
        }
        if (d->has_kem) {
            return 0;
        }
    }
    st = stmt_device(db, ST_LAST, user_id, d->device);
    if (st == NULL) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_record(st, d);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
