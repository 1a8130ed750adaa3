/* Devices (store.h) on PostgreSQL: the devices table, and the account's signed list in users. */
#include "store_pg.h"

#include "log.h"

#include <sodium.h>
#include <string.h>

/* The pending cut-off at now: a device registered at or before it and still unlisted is
 * forgotten. */
static long long pending_cutoff(long long now)
{
    return now - STORE_DEVICE_PENDING_SECONDS;
}

/* Runs sql with (user_id, device) as $1 and $2. 0 or -1. */
static int run_device(struct pg *pg, const char *sql, long long user_id, uint32_t device)
{
    struct pg_args a;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    return pg_do(pg, sql, &a);
}

/* Deletes the mail of a device and its usage row. 0 or -1. */
static int drop_mail(struct pg *pg, long long user_id, uint32_t device)
{
    return run_device(pg, "DELETE FROM mailbox WHERE recipient_id = $1 AND recipient_device = $2",
                      user_id, device) == 0 &&
                   run_device(pg,
                              "DELETE FROM mailbox_usage WHERE recipient_id = $1 AND "
                              "recipient_device = $2",
                              user_id, device) == 0
               ? 0
               : -1;
}

int pg_device_remove(struct pg *pg, long long user_id, uint32_t device)
{
    static const char *const steps[] = {
        "UPDATE devices SET removed = 1, listed = 0 WHERE user_id = $1 AND device_id = $2",
        "DELETE FROM signed_prekeys WHERE user_id = $1 AND device_id = $2",
        "DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2",
        "DELETE FROM kem_prekeys WHERE user_id = $1 AND device_id = $2"};

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (run_device(pg, steps[i], user_id, device) != 0) {
            return -1;
        }
    }
    return drop_mail(pg, user_id, device);
}

int pg_device_forget(struct pg *pg, long long user_id, uint32_t device)
{
    /* The keys go with the row (ON DELETE CASCADE); mail is deleted here (a device made pending
     * again by an identity reset may have some). */
    if (drop_mail(pg, user_id, device) != 0) {
        return -1;
    }
    return run_device(pg, "DELETE FROM devices WHERE user_id = $1 AND device_id = $2", user_id,
                      device);
}

int pg_device_insert(struct pg *pg, long long user_id, uint32_t device, int listed, long long now,
                     long long *token_gen)
{
    struct pg_args a;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    pg_arg_int(&a, now);
    pg_arg_int(&a, now / STORE_SEEN_GRAIN * STORE_SEEN_GRAIN);
    pg_arg_int(&a, listed ? 1 : 0);
    if (pg_do(pg,
              "INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, removed, "
              "token_gen) VALUES ($1, $2, $3, $4, $5, 0, $3)",
              &a) != 0) {
        return -1;
    }
    *token_gen = now;
    return 0;
}

int pg_devices_forget_pending(struct pg *pg, long long user_id, long long now)
{
    struct pg_args a;
    PGresult *res;
    int rc = 0;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, pending_cutoff(now));
    res = pg_run(pg,
                 "SELECT device_id FROM devices WHERE user_id = $1 AND listed = 0 AND "
                 "removed = 0 AND created_at <= $2",
                 &a);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        rc = pg_device_forget(pg, user_id, (uint32_t)pg_get_int(res, i, 0));
    }
    PQclear(res);
    return rc;
}

int store_pg_device_auth(const char *username, uint32_t device, long long now,
                         struct store_device_auth *out)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;
    int found = -1;

    memset(out, 0, sizeof *out);
    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, username);
    pg_arg_int(&a, (long long)device);
    res = pg_run(pg,
                 "SELECT u.id, u.token_gen, d.token_gen, d.removed, d.listed, d.created_at "
                 "FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.device_id = $2 "
                 "WHERE u.username = $1",
                 &a);
    if (res != NULL) {
        found = PQntuples(res) > 0;
        if (found) {
            out->user_id = pg_get_int(res, 0, 0);
            out->account_gen = pg_get_int(res, 0, 1);
            out->state = STORE_UNKNOWN_DEVICE;
            if (!PQgetisnull(res, 0, 2)) {
                int removed = pg_get_int(res, 0, 3) != 0;
                int listed = pg_get_int(res, 0, 4) != 0;
                long long created = pg_get_int(res, 0, 5);
                out->device_gen = pg_get_int(res, 0, 2);
                out->listed = listed;
                if (removed) {
                    out->state = STORE_REMOVED;
                } else if (listed || created > pending_cutoff(now)) {
                    out->state = STORE_OK;
                } /* else pending for too long: forgotten (the sweep deletes the row) */
            }
        }
        PQclear(res);
    }
    pg_give(pg);
    return found;
}

/* Whether the account has a device list: 1 yes, 0 no, -1 error. */
static int has_list(struct pg *pg, long long user_id)
{
    struct pg_args a;
    long long yes = 0;
    int found;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    found = pg_int(pg, "SELECT (device_list IS NOT NULL)::int FROM users WHERE id = $1", &a, &yes);
    return found == 1 ? yes != 0 : -1;
}

struct login_args {
    long long user_id;
    uint32_t device;
    long long now;
    long long device_gen; /* out */
};

static int login_body(struct pg *pg, void *arg)
{
    struct login_args *l = arg;
    struct pg_args a;
    PGresult *res;
    long long known = -1;
    int list;

    if (pg_devices_forget_pending(pg, l->user_id, l->now) != 0) {
        return STORE_ERROR;
    }
    pg_args_init(&a);
    pg_arg_int(&a, l->user_id);
    pg_arg_int(&a, (long long)l->device);
    res = pg_run(pg, "SELECT removed, token_gen FROM devices WHERE user_id = $1 AND device_id = $2",
                 &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    if (PQntuples(res) > 0) {
        int removed = pg_get_int(res, 0, 0) != 0;
        l->device_gen = pg_get_int(res, 0, 1);
        PQclear(res);
        return removed ? STORE_REMOVED : STORE_OK;
    }
    PQclear(res);
    pg_args_init(&a);
    pg_arg_int(&a, l->user_id);
    if (pg_int(pg, "SELECT count(*) FROM devices WHERE user_id = $1 AND removed = 0", &a,
               &known) != 1) {
        return STORE_ERROR;
    }
    if (known >= STORE_DEVICES_KNOWN_MAX) {
        return STORE_FULL;
    }
    list = has_list(pg, l->user_id);
    if (list < 0) {
        return STORE_ERROR;
    }
    /* Without a list, device 1 is the account's device as before devices: listed at once. */
    return pg_device_insert(pg, l->user_id, l->device, l->device == 1 && !list, l->now,
                            &l->device_gen) == 0
               ? STORE_OK
               : STORE_ERROR;
}

int store_pg_device_login(long long user_id, uint32_t device, long long now,
                          long long *device_gen)
{
    struct login_args l = {user_id, device, now, 0};
    int result = pg_transaction(1, login_body, &l, "registering a device");

    *device_gen = l.device_gen;
    return result;
}

int store_pg_device_revoke(long long user_id, uint32_t device, long long *device_gen)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    int found;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    found = pg_int(pg,
                   "UPDATE devices SET token_gen = token_gen + 1 WHERE user_id = $1 AND "
                   "device_id = $2 RETURNING token_gen",
                   &a, device_gen);
    pg_give(pg);
    if (found < 0) {
        log_msg(LOG_ERROR, "store: revoking a device's tokens failed");
    }
    return found < 0 ? -1 : 0;
}

int store_pg_device_seen(long long user_id, uint32_t device, long long now)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    int rc;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    pg_arg_int(&a, now / STORE_SEEN_GRAIN * STORE_SEEN_GRAIN);
    rc = pg_do(pg,
               "UPDATE devices SET last_seen = $3 WHERE user_id = $1 AND device_id = $2 AND "
               "last_seen <> $3",
               &a);
    pg_give(pg);
    return rc;
}

/* The account's list and generation into list (STORE_DEVICE_LIST_MAX bytes) and *len (0 for
 * none). 0, or -1. */
static int account_list(struct pg *pg, long long user_id, unsigned char *list, size_t *len,
                        long long *generation)
{
    struct pg_args a;
    PGresult *res;
    int rc = -1;

    *len = 0;
    *generation = 0;
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    res = pg_run(pg, "SELECT device_list, device_list_gen FROM users WHERE id = $1", &a);
    if (res != NULL && PQntuples(res) > 0) {
        *generation = pg_get_int(res, 0, 1);
        if (PQgetisnull(res, 0, 0)) {
            rc = 0;
        } else {
            long long n = pg_get_bytes(res, 0, 0, list, STORE_DEVICE_LIST_MAX);
            if (n > 0) {
                *len = (size_t)n;
                rc = 0;
            }
        }
    }
    PQclear(res);
    return rc;
}

int store_pg_devices_get(long long user_id, long long now, struct store_devices *out)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res = NULL;

    memset(out, 0, sizeof *out);
    if (pg == NULL) {
        return STORE_ERROR;
    }
    if (account_list(pg, user_id, out->list, &out->list_len, &out->generation) == 0) {
        pg_args_init(&a);
        pg_arg_int(&a, user_id);
        res = pg_run(pg,
                     "SELECT device_id, listed, last_seen, created_at FROM devices "
                     "WHERE user_id = $1 AND removed = 0 ORDER BY device_id",
                     &a);
    }
    for (int i = 0; res != NULL && i < PQntuples(res); i++) {
        int listed = pg_get_int(res, i, 1) != 0;
        if (!listed && pg_get_int(res, i, 3) <= pending_cutoff(now)) {
            continue; /* forgotten (the sweep deletes the row) */
        }
        if (out->n < STORE_DEVICES_KNOWN_MAX) {
            struct store_device *d = &out->d[out->n++];
            d->id = (uint32_t)pg_get_int(res, i, 0);
            d->listed = listed;
            d->last_seen = pg_get_int(res, i, 2);
        }
    }
    pg_give(pg);
    if (res == NULL) {
        log_msg(LOG_ERROR, "store: reading the devices failed");
        return STORE_ERROR;
    }
    PQclear(res);
    return STORE_OK;
}

int store_pg_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX],
                            size_t *n)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;

    *n = 0;
    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, username);
    res = pg_run(pg,
                 "SELECT d.device_id FROM users u JOIN devices d ON d.user_id = u.id "
                 "WHERE u.username = $1 AND d.listed = 1 ORDER BY d.device_id",
                 &a);
    pg_give(pg);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && *n < STORE_DEVICES_KNOWN_MAX; i++) {
        ids[(*n)++] = (uint32_t)pg_get_int(res, i, 0);
    }
    PQclear(res);
    return 0;
}

int store_pg_device_listed(const char *username, uint32_t device, long long *user_id)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    int found;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, username);
    pg_arg_int(&a, (long long)device);
    found = pg_int(pg,
                   "SELECT u.id FROM users u JOIN devices d ON d.user_id = u.id "
                   "WHERE u.username = $1 AND d.device_id = $2 AND d.listed = 1",
                   &a, user_id);
    pg_give(pg);
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
static int identity_is(struct pg *pg, long long user_id, const unsigned char key[32])
{
    struct pg_args a;
    PGresult *res;
    int result = STORE_ERROR;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    res = pg_run(pg, "SELECT identity_key FROM identities WHERE user_id = $1", &a);
    if (res != NULL) {
        unsigned char stored[32];
        if (PQntuples(res) == 0) {
            result = STORE_NO_KEYS;
        } else if (pg_get_bytes(res, 0, 0, stored, sizeof stored) == 32) {
            result = sodium_memcmp(stored, key, 32) == 0 ? STORE_OK : STORE_CONFLICT;
        }
        PQclear(res);
    }
    return result;
}

/* Whether each of in's ids is a device of the account that is not removed: STORE_OK,
 * STORE_UNKNOWN_DEVICE or STORE_ERROR. */
static int ids_known(struct pg *pg, long long user_id, const struct store_devices_put *in)
{
    for (size_t i = 0; i < in->n; i++) {
        struct pg_args a;
        long long removed = 0;
        int found;

        pg_args_init(&a);
        pg_arg_int(&a, user_id);
        pg_arg_int(&a, (long long)in->ids[i]);
        found = pg_int(pg, "SELECT removed FROM devices WHERE user_id = $1 AND device_id = $2",
                       &a, &removed);
        if (found < 0) {
            return STORE_ERROR;
        }
        if (found == 0 || removed != 0) {
            return STORE_UNKNOWN_DEVICE;
        }
    }
    return STORE_OK;
}

static int put_body(struct pg *pg, void *arg)
{
    struct put_args *p = arg;
    const struct store_devices_put *in = p->in;
    unsigned char old_list[STORE_DEVICE_LIST_MAX];
    size_t old_len;
    long long old_gen;
    struct pg_args a;
    PGresult *res;
    int result;

    p->n_removed = 0;
    result = identity_is(pg, p->user_id, in->identity_key);
    if (result != STORE_OK) {
        return result;
    }
    if (account_list(pg, p->user_id, old_list, &old_len, &old_gen) != 0) {
        return STORE_ERROR;
    }
    if (in->generation <= old_gen) {
        return STORE_STALE;
    }
    if (pg_devices_forget_pending(pg, p->user_id, p->now) != 0) {
        return STORE_ERROR;
    }
    result = ids_known(pg, p->user_id, in);
    if (result != STORE_OK) {
        return result;
    }
    if (!in_ids(in->uploader, in->ids, in->n)) {
        return STORE_NOT_LISTED;
    }
    /* The listed devices the new list leaves out are removed; the others become listed. */
    pg_args_init(&a);
    pg_arg_int(&a, p->user_id);
    res = pg_run(pg, "SELECT device_id FROM devices WHERE user_id = $1 AND listed = 1", &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    for (int i = 0; i < PQntuples(res) && p->n_removed < STORE_DEVICES_KNOWN_MAX; i++) {
        uint32_t id = (uint32_t)pg_get_int(res, i, 0);
        if (!in_ids(id, in->ids, in->n)) {
            if (pg_device_remove(pg, p->user_id, id) != 0) {
                PQclear(res);
                return STORE_ERROR;
            }
            p->removed[p->n_removed++] = id;
        }
    }
    PQclear(res);
    for (size_t i = 0; i < in->n; i++) {
        if (run_device(pg, "UPDATE devices SET listed = 1 WHERE user_id = $1 AND device_id = $2",
                       p->user_id, in->ids[i]) != 0) {
            return STORE_ERROR;
        }
    }
    pg_args_init(&a);
    pg_arg_bytes(&a, in->list, in->len);
    pg_arg_int(&a, in->generation);
    pg_arg_int(&a, p->user_id);
    return pg_do(pg, "UPDATE users SET device_list = $1, device_list_gen = $2 WHERE id = $3",
                 &a) == 0
               ? STORE_OK
               : STORE_ERROR;
}

int store_pg_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                         uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed)
{
    struct put_args p;
    int result;

    *n_removed = 0;
    if (in->len == 0 || in->len > STORE_DEVICE_LIST_MAX || in->n == 0 ||
        in->n > STORE_DEVICES_LISTED_MAX) {
        return STORE_ERROR;
    }
    memset(&p, 0, sizeof p);
    p.user_id = user_id;
    p.in = in;
    p.now = now;
    result = pg_transaction(1, put_body, &p, "storing a device list");
    if (result == STORE_OK) {
        memcpy(removed, p.removed, p.n_removed * sizeof removed[0]);
        *n_removed = p.n_removed;
    }
    return result;
}

/* Forgets at most 256 pending devices in one transaction; the number in *n. */
struct sweep_args {
    long long now;
    long long n; /* out */
};

static int sweep_body(struct pg *pg, void *arg)
{
    struct sweep_args *s = arg;
    struct pg_args a;
    PGresult *res;
    int rc = 0;

    s->n = 0;
    pg_args_init(&a);
    pg_arg_int(&a, pending_cutoff(s->now));
    res = pg_run(pg,
                 "SELECT user_id, device_id FROM devices WHERE listed = 0 AND removed = 0 AND "
                 "created_at <= $1 LIMIT 256 FOR UPDATE SKIP LOCKED",
                 &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        rc = pg_device_forget(pg, pg_get_int(res, i, 0), (uint32_t)pg_get_int(res, i, 1));
    }
    s->n = PQntuples(res);
    PQclear(res);
    return rc == 0 ? STORE_OK : STORE_ERROR;
}

long long store_pg_devices_sweep(long long now)
{
    long long forgotten = 0;
    struct sweep_args s = {now, 256};
    struct pg *pg = pg_take();

    /* Throttle buckets untouched for an hour are full again: forgotten. */
    if (pg == NULL) {
        return -1;
    }
    (void)pg_do(pg,
                "DELETE FROM throttles WHERE last < extract(epoch FROM clock_timestamp()) - 3600",
                NULL);
    pg_give(pg);

    /* A bounded number per transaction. */
    while (s.n == 256) {
        if (pg_transaction(0, sweep_body, &s, "forgetting pending devices") != STORE_OK) {
            return -1;
        }
        forgotten += s.n;
    }
    return forgotten;
}
