/* The mailbox (store.h) on SQLite: sealed envelopes and each recipient device's usage, kept in
 * step. */
#include "store.h"
#include "store_sqlite.h"

#include "db.h"
#include "log.h"

/* The mailbox runs these thousands of times a second. */
enum stmt_id {
    ST_USAGE,
    ST_INSERT,
    ST_USAGE_ADD,
    ST_DELETE,
    ST_USAGE_SUB,
    ST_FETCH,
    ST_EXPIRED_USERS,
    ST_SWEEP,
    ST_USAGE_RECOUNT,
    ST_COUNT
};

static struct sqlite_stmt stmts[ST_COUNT] = {
    [ST_USAGE] = {"SELECT count, bytes FROM mailbox_usage WHERE recipient_id = ? AND "
                  "recipient_device = ?",
                  NULL},
    [ST_INSERT] = {"INSERT INTO mailbox (recipient_id, recipient_device, expires_at, envelope) "
                   "VALUES (?, ?, ?, ?)",
                   NULL},
    [ST_USAGE_ADD] = {"INSERT INTO mailbox_usage (recipient_id, recipient_device, count, bytes) "
                      "VALUES (?, ?, 1, ?) ON CONFLICT (recipient_id, recipient_device) DO UPDATE "
                      "SET count = count + 1, bytes = bytes + excluded.bytes",
                      NULL},
    [ST_DELETE] = {"DELETE FROM mailbox WHERE id = ? AND recipient_id = ? AND "
                   "recipient_device = ? RETURNING length(envelope)",
                   NULL},
    [ST_USAGE_SUB] = {"UPDATE mailbox_usage SET count = count - 1, bytes = bytes - ? "
                      "WHERE recipient_id = ? AND recipient_device = ?",
                      NULL},
    [ST_FETCH] = {"SELECT id, envelope FROM mailbox WHERE recipient_id = ? AND "
                  "recipient_device = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?",
                  NULL},
    [ST_EXPIRED_USERS] = {"SELECT DISTINCT recipient_id, recipient_device FROM mailbox "
                          "WHERE expires_at <= ?",
                          NULL},
    [ST_SWEEP] = {"DELETE FROM mailbox WHERE expires_at <= ?", NULL},
    [ST_USAGE_RECOUNT] =
        {"UPDATE mailbox_usage SET count = (SELECT count(*) FROM mailbox m WHERE "
         "m.recipient_id = ?1 AND m.recipient_device = ?2), bytes = (SELECT coalesce(sum(length("
         "m.envelope)), 0) FROM mailbox m WHERE m.recipient_id = ?1 AND m.recipient_device = ?2) "
         "WHERE recipient_id = ?1 AND recipient_device = ?2",
         NULL},
};

static sqlite3_stmt *stmt(sqlite3 *db, enum stmt_id id)
{
    return sqlite_stmt_get(db, &stmts[id]);
}

void store_sqlite_mail_close(void)
{
    sqlite_stmt_drop(stmts, ST_COUNT);
}

static int usage_locked(sqlite3 *db, long long recipient_id, uint32_t device, long long *count,
                        long long *bytes)
{
    sqlite3_stmt *st = stmt(db, ST_USAGE);
    int rc;

    if (st == NULL || sqlite3_bind_int64(st, 1, recipient_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)device) != SQLITE_OK) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        *count = 0;
        *bytes = 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_sqlite_mail_usage(long long recipient_id, uint32_t device, long long *count, long long *bytes)
{
    sqlite3 *db = db_lock();
    int rc = usage_locked(db, recipient_id, device, count, bytes);

    db_unlock();
    return rc;
}

/* Stores one envelope within the transaction; STORE_OK, STORE_FULL or STORE_ERROR. */
static int put_one(sqlite3 *db, struct store_put *p, const struct store_quota *quota)
{
    long long count;
    long long bytes;
    sqlite3_stmt *st;

    if (usage_locked(db, p->recipient_id, p->recipient_device, &count, &bytes) != 0) {
        return STORE_ERROR;
    }
    if (count + 1 > quota->max_count || bytes + (long long)p->len > quota->max_bytes) {
        return STORE_FULL;
    }
    st = stmt(db, ST_INSERT);
    if (st == NULL || sqlite3_bind_int64(st, 1, p->recipient_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)p->recipient_device) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, p->expires_at) != SQLITE_OK ||
        sqlite3_bind_blob(st, 4, p->envelope, (int)p->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    p->id = sqlite3_last_insert_rowid(db);
    st = stmt(db, ST_USAGE_ADD);
    if (st == NULL || sqlite3_bind_int64(st, 1, p->recipient_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)p->recipient_device) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, (long long)p->len) != SQLITE_OK || sqlite_step_done(st) != 0) {
        return STORE_ERROR;
    }
    return STORE_OK;
}

int store_sqlite_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota)
{
    sqlite3 *db = db_lock();
    int failed = db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK;

    for (size_t i = 0; i < n && !failed; i++) {
        puts[i].result = put_one(db, &puts[i], quota);
        failed = puts[i].result == STORE_ERROR;
    }
    if (!failed && db_exec(db, "COMMIT") != SQLITE_OK) {
        failed = 1;
    }
    if (failed) {
        log_msg(LOG_ERROR, "store: storing %zu envelopes failed: %s", n, sqlite3_errmsg(db));
        db_exec(db, "ROLLBACK");
        for (size_t i = 0; i < n; i++) {
            puts[i].result = STORE_ERROR;
        }
    }
    db_unlock();
    return failed ? STORE_ERROR : STORE_OK;
}

int store_sqlite_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted)
{
    sqlite3 *db = db_lock();
    int failed = db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK;
    size_t removed = 0;

    for (size_t i = 0; i < n && !failed; i++) {
        sqlite3_stmt *st = stmt(db, ST_DELETE);
        long long len = -1;
        int rc;

        if (st == NULL || sqlite3_bind_int64(st, 1, acks[i].id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, acks[i].recipient_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, (sqlite3_int64)acks[i].recipient_device) != SQLITE_OK) {
            failed = 1;
            break;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            len = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            failed = 1;
            break;
        }
        if (len < 0) {
            continue; /* not there, or not this recipient's: nothing to say */
        }
        removed++;
        st = stmt(db, ST_USAGE_SUB);
        if (st == NULL || sqlite3_bind_int64(st, 1, len) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, acks[i].recipient_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, (sqlite3_int64)acks[i].recipient_device) != SQLITE_OK ||
            sqlite_step_done(st) != 0) {
            failed = 1;
        }
    }
    if (!failed && db_exec(db, "COMMIT") != SQLITE_OK) {
        failed = 1;
    }
    if (failed) {
        log_msg(LOG_ERROR, "store: removing acknowledged envelopes failed: %s",
                sqlite3_errmsg(db));
        db_exec(db, "ROLLBACK");
        removed = 0;
    }
    db_unlock();
    *deleted = removed;
    return failed ? STORE_ERROR : STORE_OK;
}

int store_sqlite_mail_fetch(long long recipient_id, uint32_t device, long long after_id, long long now,
                     size_t max_count, size_t max_bytes, store_mail_fn fn, void *arg)
{
    sqlite3 *db = db_lock();
    sqlite3_stmt *st = stmt(db, ST_FETCH);
    int handed = 0;
    int rc = SQLITE_ERROR;

    if (st != NULL && sqlite3_bind_int64(st, 1, recipient_id) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, (sqlite3_int64)device) == SQLITE_OK &&
        sqlite3_bind_int64(st, 3, after_id) == SQLITE_OK &&
        sqlite3_bind_int64(st, 4, now) == SQLITE_OK &&
        sqlite3_bind_int64(st, 5, (long long)max_count) == SQLITE_OK) {
        size_t bytes = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *env = sqlite3_column_blob(st, 1);
            size_t len = (size_t)sqlite3_column_bytes(st, 1);
            if (handed > 0 && bytes + len > max_bytes) {
                rc = SQLITE_DONE;
                break;
            }
            bytes += len;
            handed++;
            if (fn(arg, sqlite3_column_int64(st, 0), env, len) != 0) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        log_msg(LOG_ERROR, "store: reading a mailbox failed: %s", sqlite3_errmsg(db));
        handed = -1;
    }
    db_unlock();
    return handed;
}

long long store_sqlite_mail_sweep(long long now)
{
    sqlite3 *db = db_lock();
    long long swept = -1;
    long long users[256];
    uint32_t devices[256];
    size_t n_users = 0;
    int more = 1;
    sqlite3_stmt *st;

    /* The recipients whose usage must be recounted, a bounded number per pass. */
    if (db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        goto out;
    }
    st = stmt(db, ST_EXPIRED_USERS);
    if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        goto fail;
    }
    while (n_users < sizeof users / sizeof users[0] && sqlite3_step(st) == SQLITE_ROW) {
        users[n_users] = sqlite3_column_int64(st, 0);
        devices[n_users++] = (uint32_t)sqlite3_column_int64(st, 1);
    }
    more = n_users == sizeof users / sizeof users[0];
    sqlite3_reset(st);
    st = stmt(db, ST_SWEEP);
    if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK || sqlite_step_done(st) != 0) {
        goto fail;
    }
    swept = sqlite3_changes(db);
    if (more) {
        /* More recipients than the list holds: recount every one. */
        if (db_exec(db, "UPDATE mailbox_usage SET count = (SELECT count(*) FROM mailbox m WHERE "
                        "m.recipient_id = mailbox_usage.recipient_id AND m.recipient_device = "
                        "mailbox_usage.recipient_device), bytes = (SELECT "
                        "coalesce(sum(length(m.envelope)), 0) FROM mailbox m WHERE "
                        "m.recipient_id = mailbox_usage.recipient_id AND m.recipient_device = "
                        "mailbox_usage.recipient_device)") != SQLITE_OK) {
            goto fail;
        }
    } else {
        for (size_t i = 0; i < n_users; i++) {
            st = stmt(db, ST_USAGE_RECOUNT);
            if (st == NULL || sqlite3_bind_int64(st, 1, users[i]) != SQLITE_OK ||
                sqlite3_bind_int64(st, 2, (sqlite3_int64)devices[i]) != SQLITE_OK ||
                sqlite_step_done(st) != 0) {
                goto fail;
            }
        }
    }
    if (db_exec(db, "COMMIT") == SQLITE_OK) {
        goto out;
    }
fail:
    log_msg(LOG_ERROR, "store: sweeping expired envelopes failed: %s", sqlite3_errmsg(db));
    db_exec(db, "ROLLBACK");
    swept = -1;
out:
    db_unlock();
    return swept;
}
