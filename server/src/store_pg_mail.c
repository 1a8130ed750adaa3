/* The mailbox (store.h) on PostgreSQL: sealed envelopes and each recipient device's usage, kept
 * in step. The usage row is locked (FOR UPDATE, by the upsert) while an envelope is added, so
 * that instances filing mail for the same device at once keep its quota. */
#include "store_pg.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

static int usage(struct pg *pg, long long recipient_id, uint32_t device, long long *count,
                 long long *bytes)
{
    struct pg_args a;
    PGresult *res;

    pg_args_init(&a);
    pg_arg_int(&a, recipient_id);
    pg_arg_int(&a, (long long)device);
    res = pg_run(pg,
                 "SELECT count, bytes FROM mailbox_usage WHERE recipient_id = $1 AND "
                 "recipient_device = $2",
                 &a);
    if (res == NULL) {
        return -1;
    }
    *count = PQntuples(res) > 0 ? pg_get_int(res, 0, 0) : 0;
    *bytes = PQntuples(res) > 0 ? pg_get_int(res, 0, 1) : 0;
    PQclear(res);
    return 0;
}

int store_pg_mail_usage(long long recipient_id, uint32_t device, long long *count,
                        long long *bytes)
{
    struct pg *pg = pg_take();
    int rc;

    if (pg == NULL) {
        return -1;
    }
    rc = usage(pg, recipient_id, device, count, bytes);
    pg_give(pg);
    return rc;
}

/* Stores one envelope within the transaction; STORE_OK, STORE_FULL or STORE_ERROR. */
static int put_one(struct pg *pg, struct store_put *p, const struct store_quota *quota)
{
    struct pg_args a;
    PGresult *res;
    long long count;
    long long bytes;

    /* The usage row, created when missing and locked until the transaction ends. */
    pg_args_init(&a);
    pg_arg_int(&a, p->recipient_id);
    pg_arg_int(&a, (long long)p->recipient_device);
    res = pg_run(pg,
                 "INSERT INTO mailbox_usage (recipient_id, recipient_device, count, bytes) "
                 "VALUES ($1, $2, 0, 0) ON CONFLICT (recipient_id, recipient_device) DO UPDATE "
                 "SET count = mailbox_usage.count RETURNING count, bytes",
                 &a);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        return STORE_ERROR;
    }
    count = pg_get_int(res, 0, 0);
    bytes = pg_get_int(res, 0, 1);
    PQclear(res);
    if (count + 1 > quota->max_count || bytes + (long long)p->len > quota->max_bytes) {
        return STORE_FULL;
    }
    pg_arg_int(&a, p->expires_at);
    pg_arg_bytes(&a, p->envelope, p->len);
    pg_arg_int(&a, (long long)p->len);
    if (pg_int(pg,
               "WITH m AS (INSERT INTO mailbox (recipient_id, recipient_device, expires_at, "
               "envelope) VALUES ($1, $2, $3, $4) RETURNING id) "
               "UPDATE mailbox_usage SET count = count + 1, bytes = bytes + $5 "
               "WHERE recipient_id = $1 AND recipient_device = $2 RETURNING (SELECT id FROM m)",
               &a, &p->id) != 1) {
        return STORE_ERROR;
    }
    return STORE_OK;
}

struct put_args {
    struct store_put *puts;
    size_t n;
    const struct store_quota *quota;
};

static int put_body(struct pg *pg, void *arg)
{
    const struct put_args *pa = arg;

    for (size_t i = 0; i < pa->n; i++) {
        pa->puts[i].result = put_one(pg, &pa->puts[i], pa->quota);
        if (pa->puts[i].result == STORE_ERROR) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_pg_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota)
{
    struct put_args pa = {puts, n, quota};
    int result = pg_transaction(0, put_body, &pa, "storing envelopes");

    if (result != STORE_OK) {
        for (size_t i = 0; i < n; i++) {
            puts[i].result = STORE_ERROR;
        }
    }
    return result;
}

struct ack_args {
    const struct store_ack *acks;
    size_t n;
    size_t deleted; /* out */
};

static int ack_body(struct pg *pg, void *arg)
{
    struct ack_args *aa = arg;

    aa->deleted = 0;
    for (size_t i = 0; i < aa->n; i++) {
        struct pg_args a;
        long long len = 0;
        int found;

        pg_args_init(&a);
        pg_arg_int(&a, aa->acks[i].id);
        pg_arg_int(&a, aa->acks[i].recipient_id);
        pg_arg_int(&a, (long long)aa->acks[i].recipient_device);
        found = pg_int(pg,
                       "DELETE FROM mailbox WHERE id = $1 AND recipient_id = $2 AND "
                       "recipient_device = $3 RETURNING octet_length(envelope)",
                       &a, &len);
        if (found < 0) {
            return STORE_ERROR;
        }
        if (found == 0) {
            continue; /* not there, or not this recipient's: nothing to say */
        }
        aa->deleted++;
        pg_args_init(&a);
        pg_arg_int(&a, len);
        pg_arg_int(&a, aa->acks[i].recipient_id);
        pg_arg_int(&a, (long long)aa->acks[i].recipient_device);
        if (pg_do(pg,
                  "UPDATE mailbox_usage SET count = count - 1, bytes = bytes - $1 "
                  "WHERE recipient_id = $2 AND recipient_device = $3",
                  &a) != 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_pg_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted)
{
    struct ack_args aa = {acks, n, 0};
    int result = pg_transaction(0, ack_body, &aa, "removing acknowledged envelopes");

    *deleted = result == STORE_OK ? aa.deleted : 0;
    return result;
}

int store_pg_mail_fetch(long long recipient_id, uint32_t device, long long after_id,
                        long long now, size_t max_count, size_t max_bytes, store_mail_fn fn,
                        void *arg)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;
    unsigned char *env = NULL;
    size_t bytes = 0;
    int handed = 0;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, recipient_id);
    pg_arg_int(&a, (long long)device);
    pg_arg_int(&a, after_id);
    pg_arg_int(&a, now);
    pg_arg_int(&a, (long long)max_count);
    res = pg_run(pg,
                 "SELECT id, envelope FROM mailbox WHERE recipient_id = $1 AND "
                 "recipient_device = $2 AND id > $3 AND expires_at > $4 ORDER BY id LIMIT $5",
                 &a);
    pg_give(pg);
    if (res == NULL) {
        log_msg(LOG_ERROR, "store: reading a mailbox failed");
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        size_t max = (size_t)PQgetlength(res, i, 1) / 2;
        long long len;

        free(env);
        env = malloc(max > 0 ? max : 1);
        len = env != NULL ? pg_get_bytes(res, i, 1, env, max) : -1;
        if (len < 0) {
            handed = -1;
            break;
        }
        if (handed > 0 && bytes + (size_t)len > max_bytes) {
            break;
        }
        bytes += (size_t)len;
        handed++;
        if (fn(arg, pg_get_int(res, i, 0), env, (size_t)len) != 0) {
            break;
        }
    }
    free(env);
    PQclear(res);
    if (handed < 0) {
        log_msg(LOG_ERROR, "store: reading a mailbox failed");
    }
    return handed;
}

struct sweep_args {
    long long now;
    long long swept; /* out */
};

static int sweep_body(struct pg *pg, void *arg)
{
    struct sweep_args *s = arg;
    struct pg_args a;
    PGresult *res;
    PGresult *users;
    int more;

    s->swept = 0;
    pg_args_init(&a);
    pg_arg_int(&a, s->now);
    /* The recipients whose usage must be recounted, a bounded number per pass. */
    users = pg_run(pg,
                   "SELECT DISTINCT recipient_id, recipient_device FROM mailbox "
                   "WHERE expires_at <= $1 LIMIT 256",
                   &a);
    if (users == NULL) {
        return STORE_ERROR;
    }
    more = PQntuples(users) == 256;
    res = pg_run(pg, "DELETE FROM mailbox WHERE expires_at <= $1", &a);
    if (res == NULL) {
        PQclear(users);
        return STORE_ERROR;
    }
    s->swept = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (more) {
        /* More recipients than the list holds: recount every one. */
        PQclear(users);
        return pg_do(pg,
                     "UPDATE mailbox_usage u SET count = (SELECT count(*) FROM mailbox m WHERE "
                     "m.recipient_id = u.recipient_id AND m.recipient_device = "
                     "u.recipient_device), bytes = (SELECT coalesce(sum(octet_length("
                     "m.envelope)), 0) FROM mailbox m WHERE m.recipient_id = u.recipient_id AND "
                     "m.recipient_device = u.recipient_device)",
                     NULL) == 0
                   ? STORE_OK
                   : STORE_ERROR;
    }
    for (int i = 0; i < PQntuples(users); i++) {
        pg_args_init(&a);
        pg_arg_int(&a, pg_get_int(users, i, 0));
        pg_arg_int(&a, pg_get_int(users, i, 1));
        if (pg_do(pg,
                  "UPDATE mailbox_usage SET count = (SELECT count(*) FROM mailbox m WHERE "
                  "m.recipient_id = $1 AND m.recipient_device = $2), bytes = (SELECT "
                  "coalesce(sum(octet_length(m.envelope)), 0) FROM mailbox m WHERE "
                  "m.recipient_id = $1 AND m.recipient_device = $2) "
                  "WHERE recipient_id = $1 AND recipient_device = $2",
                  &a) != 0) {
            PQclear(users);
            return STORE_ERROR;
        }
    }
    PQclear(users);
    return STORE_OK;
}

long long store_pg_mail_sweep(long long now)
{
    struct sweep_args s = {now, 0};

    return pg_transaction(0, sweep_body, &s, "sweeping expired envelopes") == STORE_OK ? s.swept
                                                                                       : -1;
}
