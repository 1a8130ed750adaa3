/* Devices (store.h) on SQLite: the devices table, and the account's signed list in users. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

enum stmt_id {
    ST_AUTH,
    ST_DEVICE,
    ST_COUNT_KNOWN,
    ST_INSERT,
    ST_REVOKE,
    ST_SEEN,
    ST_ACCOUNT_LIST,
    ST_DEVICES,
    ST_LISTED_OF_NAME,
    ST_LISTED_ONE,
    ST_IDENTITY_KEY,
    ST_SET_LIST,
    ST_SET_LISTED,
    ST_LISTED_IDS,
    ST_REMOVE,
    ST_DROP_SPK,
    ST_DROP_OTPK,
    ST_DROP_KEM,
    ST_DROP_MAIL,
    ST_DROP_USAGE,
    ST_FORGET,
    ST_PENDING_OF_USER,
    ST_PENDING,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_AUTH] = {"SELECT u.id, u.token_gen, d.token_gen, d.removed, d.listed, d.created_at "
                 "FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.device_id = ?2 "
                 "WHERE u.username = ?1",
                 NULL},
    [ST_DEVICE] = {"SELECT removed, listed, created_at, token_gen FROM devices "
                   "WHERE user_id = ? AND device_id = ?",
                   NULL},
    [ST_COUNT_KNOWN] = {"SELECT count(*) FROM devices WHERE user_id = ? AND removed = 0", NULL},
    [ST_INSERT] = {"INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, "
                   "removed, token_gen) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?3)",
                   NULL},
    [ST_REVOKE] = {"UPDATE devices SET token_gen = token_gen + 1 WHERE user_id = ? AND "
                   "device_id = ? RETURNING token_gen",
                   NULL},
    [ST_SEEN] = {"UPDATE devices SET last_seen = ?3 WHERE user_id = ?1 AND device_id = ?2 AND "
                 "last_seen <> ?3",
                 NULL},
    [ST_ACCOUNT_LIST] = {"SELECT device_list, device_list_gen FROM users WHERE id = ?", NULL},
    [ST_DEVICES] = {"SELECT device_id, listed, last_seen, created_at FROM devices "
                    "WHERE user_id = ? AND removed = 0 ORDER BY device_id",
                    NULL},
    [ST_LISTED_OF_NAME] = {"SELECT d.device_id FROM users u JOIN devices d ON d.user_id = u.id "
                           "WHERE u.username = ? AND d.listed = 1 ORDER BY d.device_id",
                           NULL},
    [ST_LISTED_ONE] = {"SELECT u.id FROM users u JOIN devices d ON d.user_id = u.id "
                       "WHERE u.username = ? AND d.device_id = ? AND d.listed = 1",
                       NULL},
    [ST_IDENTITY_KEY] = {"SELECT identity_key FROM identities WHERE user_id = ?", NULL},
    [ST_SET_LIST] = {"UPDATE users SET device_list = ?, device_list_gen = ? WHERE id = ?", NULL},
    [ST_SET_LISTED] = {"UPDATE devices SET listed = 1 WHERE user_id = ? AND device_id = ?", NULL},
    [ST_LISTED_IDS] = {"SELECT device_id FROM devices WHERE user_id = ? AND listed = 1", NULL},
    [ST_REMOVE] = {"UPDATE devices SET removed = 1, listed = 0 WHERE user_id = ? AND "
                   "device_id = ?",
                   NULL},
    [ST_DROP_SPK] = {"DELETE FROM signed_prekeys WHERE user_id = ? AND device_id = ?", NULL},
    [ST_DROP_OTPK] = {"DELETE FROM one_time_prekeys WHERE user_id = ? AND device_id = ?", NULL},
    [ST_DROP_KEM] = {"DELETE FROM kem_prekeys WHERE user_id = ? AND device_id = ?", NULL},
    [ST_DROP_MAIL] = {"DELETE FROM mailbox WHERE recipient_id = ? AND recipient_device = ?", NULL},
    [ST_DROP_USAGE] = {"DELETE FROM mailbox_usage WHERE recipient_id = ? AND recipient_device = ?",
                       NULL},
    [ST_FORGET] = {"DELETE FROM devices WHERE user_id = ? AND device_id = ?", NULL},
    [ST_PENDING_OF_USER] = {"SELECT device_id FROM devices WHERE user_id = ? AND listed = 0 AND "
                            "removed = 0 AND created_at <= ?",
                            NULL},
    [ST_PENDING] = {"SELECT user_id, device_id FROM devices WHERE listed = 0 AND removed = 0 AND "
                    "created_at <= ? LIMIT 256",
                    NULL},
};

static sqlite3_stmt *stmt(sqlite3 *db, enum stmt_id id)
{
    return sqlite_stmt_get(db, &stmts[id]);
}

void store_sqlite_devices_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

static sqlite3_stmt *stmt_device(sqlite3 *db, enum stmt_id id, long long user_id,
                                 uint32_t device)
{
    return sqlite_stmt_device(db, &stmts[id], user_id, device);
}

/* Runs statement id on (user_id, device) to its end. 0 or -1. */
static int run_device(sqlite3 *db, enum stmt_id id, long long user_id, uint32_t device)
{
    sqlite3_stmt *st = stmt_device(db, id, user_id, device);

    return st != NULL ? sqlite_step_done(st) : -1;
}

/* The pending cut-off at now: a device registered at or before it and still unlisted is
 * forgotten. */
static long long pending_cutoff(long long now)
{
    return now - STORE_DEVICE_PENDING_SECONDS;
}

int sqlite_device_remove(sqlite3 *db, long long user_id, uint32_t device)
{
    static const enum stmt_id steps[] = {ST_REMOVE, ST_DROP_SPK, ST_DROP_OTPK, ST_DROP_KEM,
                                         ST_DROP_MAIL, ST_DROP_USAGE};

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (run_device(db, steps[i], user_id, device) != 0) {
            return -1;
        }
    }
    return 0;
}

int sqlite_device_forget(sqlite3 *db, long long user_id, uint32_t device)
{
    /* The keys go with the row (foreign keys, ON DELETE CASCADE); mail is deleted here (a device
     * made pending again by an identity reset may have some). */
    static const enum stmt_id steps[] = {ST_DROP_MAIL, ST_DROP_USAGE, ST_FORGET};

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (run_device(db, steps[i], user_id, device) != 0) {
            return -1;
        }
    }
    return 0;
}

int sqlite_device_insert(sqlite3 *db, long long user_id, uint32_t device, int listed,
                         long long now, long long *token_gen)
{
    sqlite3_stmt *st = stmt_device(db, ST_INSERT, user_id, device);

    if (st == NULL || sqlite3_bind_int64(st, 3, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, now / STORE_SEEN_GRAIN * STORE_SEEN_GRAIN) != SQLITE_OK ||
        sqlite3_bind_int(st, 5, listed ? 1 : 0) != SQLITE_OK || sqlite_step_done(st) != 0) {
        return -1;
    }
    *token_gen = now;
    return 0;
}

int sqlite_devices_forget_pending(sqlite3 *db, long long user_id, long long now)
{
    uint32_t ids[STORE_DEVICES_KNOWN_MAX * 2];
    size_t n = 0;
    sqlite3_stmt *st = stmt(db, ST_PENDING_OF_USER);
    int rc;

    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, pending_cutoff(now)) != SQLITE_OK) {
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < sizeof ids / sizeof ids[0]) {
        ids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (sqlite_device_forget(db, user_id, ids[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

int store_sqlite_device_auth(const char *username, uint32_t device, long long now,
                      struct store_device_auth *out)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_AUTH);
    int found = -1;

    memset(out, 0, sizeof *out);
    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, (sqlite3_int64)device) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            found = 1;
            out->user_id = sqlite3_column_int64(st, 0);
            out->account_gen = sqlite3_column_int64(st, 1);
            out->state = STORE_UNKNOWN_DEVICE;
            if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
                int removed = sqlite3_column_int(st, 3) != 0;
                int listed = sqlite3_column_int(st, 4) != 0;
                long long created = sqlite3_column_int64(st, 5);
                out->device_gen = sqlite3_column_int64(st, 2);
                out->listed = listed;
                if (removed) {
                    out->state = STORE_REMOVED;
                } else if (listed || created > pending_cutoff(now)) {
                    out->state = STORE_OK;
                } /* else pending for too long: forgotten (the sweep deletes the row) */
            }
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
        sqlite3_reset(st);
    }
    if (found < 0) {
        log_msg(LOG_ERROR, "store: reading a device failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return found;
}

/* Whether the account has a device list: 1 yes, 0 no, -1 error. */
static int has_list_locked(sqlite3 *db, long long user_id)
{
    sqlite3_stmt *st = stmt(db, ST_ACCOUNT_LIST);
    int result = -1;

    if (st != NULL && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        result = sqlite3_column_type(st, 0) != SQLITE_NULL;
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return result;
}

struct login_args {
    long long user_id;
    uint32_t device;
    long long now;
    long long device_gen; /* out */
};

static int login_locked(sqlite3 *db, void *arg)
{
    struct login_args *a = arg;
    sqlite3_stmt *st;
    long long known = -1;
    int rc;
    int has_list;

    if (sqlite_devices_forget_pending(db, a->user_id, a->now) != 0) {
        return STORE_ERROR;
    }
    st = stmt_device(db, ST_DEVICE, a->user_id, a->device);
    if (st == NULL) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int removed = sqlite3_column_int(st, 0) != 0;
        a->device_gen = sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
        return removed ? STORE_REMOVED : STORE_OK;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return STORE_ERROR;
    }
    st = stmt(db, ST_COUNT_KNOWN);
    if (st != NULL && sqlite3_bind_int64(st, 1, a->user_id) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        known = sqlite3_column_int64(st, 0);
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    if (known < 0) {
        return STORE_ERROR;
    }
    if (known >= STORE_DEVICES_KNOWN_MAX) {
        return STORE_FULL;
    }
    has_list = has_list_locked(db, a->user_id);
    if (has_list < 0) {
        return STORE_ERROR;
    }
    /* Without a list, device 1 is the account's device as before devices: listed at once. */
    return sqlite_device_insert(db, a->user_id, a->device, a->device == 1 && !has_list, a->now,
                                &a->device_gen) == 0
               ? STORE_OK
               : STORE_ERROR;
}

int store_sqlite_device_login(long long user_id, uint32_t device, long long now, long long *device_gen)
{
    struct login_args a = {user_id, device, now, 0};
    sqlite3 *db = db_lock();
    int result = sqlite_transaction(db, login_locked, &a, "registering a device");

    db_unlock();
    *device_gen = a.device_gen;
    return result;
}

int store_sqlite_device_revoke(long long user_id, uint32_t device, long long *device_gen)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt_device(db, ST_REVOKE, user_id, device);
    int rc = SQLITE_ERROR;

    if (st != NULL) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *device_gen = sqlite3_column_int64(st, 0);
            rc = sqlite3_step(st);
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        log_msg(LOG_ERROR, "store: revoking a device's tokens failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_sqlite_device_seen(long long user_id, uint32_t device, long long now)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt_device(db, ST_SEEN, user_id, device);
    int rc = -1;

    if (st != NULL &&
        sqlite3_bind_int64(st, 3, now / STORE_SEEN_GRAIN * STORE_SEEN_GRAIN) == SQLITE_OK) {
        rc = sqlite_step_done(st);
    }
    if (rc != 0) {
        log_msg(LOG_ERROR, "store: noting when a device was seen failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return rc;
}

/* The account's list and generation into *list (STORE_DEVICE_LIST_MAX bytes) and *len (0 for
 * none). 0, or -1. */
static int account_list_locked(sqlite3 *db, long long user_id, unsigned char *list, size_t *len,
                               long long *generation)
{
    sqlite3_stmt *st = stmt(db, ST_ACCOUNT_LIST);
    int rc = -1;

    *len = 0;
    *generation = 0;
    if (st != NULL && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        *generation = sqlite3_column_int64(st, 1);
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            rc = 0;
        } else if (n > 0 && n <= STORE_DEVICE_LIST_MAX) {
            memcpy(list, sqlite3_column_blob(st, 0), (size_t)n);
            *len = (size_t)n;
            rc = 0;
        }
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    return rc;
}

int store_sqlite_devices_get(long long user_id, long long now, struct store_devices *out)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st;
    int rc = SQLITE_ERROR;

    memset(out, 0, sizeof *out);
    if (account_list_locked(db, user_id, out->list, &out->list_len, &out->generation) == 0 &&
        (st = stmt(db, ST_DEVICES)) != NULL && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int listed = sqlite3_column_int(st, 1) != 0;
            if (!listed && sqlite3_column_int64(st, 3) <= pending_cutoff(now)) {
                continue; /* forgotten (the sweep deletes the row) */
            }
            if (out->n < STORE_DEVICES_KNOWN_MAX) {
                struct store_device *d = &out->d[out->n++];
                d->id = (uint32_t)sqlite3_column_int64(st, 0);
                d->listed = listed;
                d->last_seen = sqlite3_column_int64(st, 2);
            }
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        log_msg(LOG_ERROR, "store: reading the devices failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_sqlite_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX], size_t *n)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_LISTED_OF_NAME);
    int rc = SQLITE_ERROR;

    *n = 0;
    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n < STORE_DEVICES_KNOWN_MAX) {
                ids[(*n)++] = (uint32_t)sqlite3_column_int64(st, 0);
            }
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        log_msg(LOG_ERROR, "store: reading the listed devices failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_sqlite_device_listed(const char *username, uint32_t device, long long *user_id)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_LISTED_ONE);
    int found = -1;

    if (st != NULL && sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, (sqlite3_int64)device) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *user_id = sqlite3_column_int64(st, 0);
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
        sqlite3_reset(st);
    }
    if (found < 0) {
        log_msg(LOG_ERROR, "store: reading a device failed: %s", sqlite3_errmsg(db));
    }
    db_unlock();
    return found;
}

struct put_args {
    long long user_id;
    const struct store_devices_put *in;
    long long now;
    uint32_t removed[STORE_DEVICES_KNOWN_MAX]; /* out */
    size_t n_removed;
};

/* 1 when id is one of ids[0..n). */
static int in_ids(uint32_t id, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

/* The identity check of a list upload: STORE_OK, STORE_NO_KEYS, STORE_CONFLICT or STORE_ERROR. */
static int identity_is_locked(sqlite3 *db, long long user_id, const unsigned char key[32])
{
    sqlite3_stmt *st = stmt(db, ST_IDENTITY_KEY);
    int result = STORE_ERROR;
    int rc;

    if (st == NULL || sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK) {
        return STORE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        result = STORE_NO_KEYS;
    } else if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        result = sodium_memcmp(sqlite3_column_blob(st, 0), key, 32) == 0 ? STORE_OK
                                                                          : STORE_CONFLICT;
    }
    sqlite3_reset(st);
    return result;
}

static int put_locked(sqlite3 *db, void *arg)
{
    struct put_args *a = arg;
    const struct store_devices_put *in = a->in;
    unsigned char old_list[STORE_DEVICE_LIST_MAX];
    size_t old_len;
    long long old_gen;
    uint32_t listed[STORE_DEVICES_KNOWN_MAX];
    size_t n_listed = 0;
    sqlite3_stmt *st;
    int rc;
    int result = identity_is_locked(db, a->user_id, in->identity_key);

    if (result != STORE_OK) {
        return result;
    }
    if (account_list_locked(db, a->user_id, old_list, &old_len, &old_gen) != 0) {
        return STORE_ERROR;
    }
    if (in->generation <= old_gen) {
        return STORE_STALE;
    }
    if (sqlite_devices_forget_pending(db, a->user_id, a->now) != 0) {
        return STORE_ERROR;
    }
    for (size_t i = 0; i < in->n; i++) {
        st = stmt_device(db, ST_DEVICE, a->user_id, in->ids[i]);
        if (st == NULL) {
            return STORE_ERROR;
        }
        rc = sqlite3_step(st);
        result = rc == SQLITE_DONE                                  ? STORE_UNKNOWN_DEVICE
                 : rc != SQLITE_ROW                                 ? STORE_ERROR
                 : sqlite3_column_int(st, 0) != 0 ? STORE_UNKNOWN_DEVICE /* removed */
                                                                    : STORE_OK;
        sqlite3_reset(st);
        if (result != STORE_OK) {
            return result;
        }
    }
    if (!in_ids(in->uploader, in->ids, in->n)) {
        return STORE_NOT_LISTED;
    }
    /* The listed devices the new list leaves out are removed; the others become listed. */
    st = stmt(db, ST_LISTED_IDS);
    if (st == NULL || sqlite3_bind_int64(st, 1, a->user_id) != SQLITE_OK) {
        return STORE_ERROR;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n_listed < STORE_DEVICES_KNOWN_MAX) {
        listed[n_listed++] = (uint32_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return STORE_ERROR;
    }
    for (size_t i = 0; i < n_listed; i++) {
        if (!in_ids(listed[i], in->ids, in->n)) {
            if (sqlite_device_remove(db, a->user_id, listed[i]) != 0) {
                return STORE_ERROR;
            }
            a->removed[a->n_removed++] = listed[i];
        }
    }
    for (size_t i = 0; i < in->n; i++) {
        if (run_device(db, ST_SET_LISTED, a->user_id, in->ids[i]) != 0) {
            return STORE_ERROR;
        }
    }
    st = stmt(db, ST_SET_LIST);
    if (st == NULL ||
        sqlite3_bind_blob(st, 1, in->list, (int)in->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, in->generation) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, a->user_id) != SQLITE_OK || sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    sqlite3_clear_bindings(st); /* keeps no pointer to the caller's list */
    return STORE_OK;
}

int store_sqlite_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                      uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed)
{
    struct put_args a;
    sqlite3 *db;
    int result;

    *n_removed = 0;
    if (in->len == 0 || in->len > STORE_DEVICE_LIST_MAX || in->n == 0 ||
        in->n > STORE_DEVICES_LISTED_MAX) {
        return STORE_ERROR;
    }
    memset(&a, 0, sizeof a);
    a.user_id = user_id;
    a.in = in;
    a.now = now;
    db = db_lock();
    result = sqlite_transaction(db, put_locked, &a, "storing a device list");
    db_unlock();
    if (result == STORE_OK) {
        memcpy(removed, a.removed, a.n_removed * sizeof removed[0]);
        *n_removed = a.n_removed;
    }
    return result;
}

long long store_sqlite_devices_sweep(long long now)
{
    sqlite3 *db = db_lock();
    long long forgotten = 0;
    int more = 1;

    /* A bounded number per transaction, so that the lock is not held for long. */
    while (more && forgotten >= 0) {
        long long users[256];
        uint32_t devices[256];
        size_t n = 0;
        sqlite3_stmt *st;
        int rc = SQLITE_ERROR;

        if (db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
            forgotten = -1;
            break;
        }
        st = stmt(db, ST_PENDING);
        if (st != NULL && sqlite3_bind_int64(st, 1, pending_cutoff(now)) == SQLITE_OK) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 256) {
                users[n] = sqlite3_column_int64(st, 0);
                devices[n++] = (uint32_t)sqlite3_column_int64(st, 1);
            }
            sqlite3_reset(st);
        }
        more = n == 256;
        for (size_t i = 0; i < n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
            if (sqlite_device_forget(db, users[i], devices[i]) != 0) {
                rc = SQLITE_ERROR;
            }
        }
        if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || db_exec(db, "COMMIT") != SQLITE_OK) {
            log_msg(LOG_ERROR, "store: forgetting pending devices failed: %s",
                    sqlite3_errmsg(db));
            db_exec(db, "ROLLBACK");
            forgotten = -1;
            break;
        }
        forgotten += (long long)n;
    }
    db_unlock();
    return forgotten;
}
