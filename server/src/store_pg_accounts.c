/* Accounts and presence settings (store.h) on PostgreSQL: the users table. */
#include "store_pg.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_pg_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                      size_t pwhash_size)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;
    int found = -1;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, username);
    res = pg_run(pg, "SELECT id, token_gen, pwhash FROM users WHERE username = $1", &a);
    if (res != NULL) {
        found = PQntuples(res) > 0;
        if (found) {
            if (id != NULL) {
                *id = pg_get_int(res, 0, 0);
            }
            if (token_gen != NULL) {
                *token_gen = pg_get_int(res, 0, 1);
            }
            if (pwhash != NULL && pwhash_size > 0) {
                snprintf(pwhash, pwhash_size, "%s", PQgetvalue(res, 0, 2));
            }
        }
        PQclear(res);
    }
    pg_give(pg);
    return found;
}

int store_pg_user_lookalike(const char *skeleton)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    long long one = 0;
    int found;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, skeleton);
    found = pg_int(pg, "SELECT 1 FROM users WHERE skeleton = $1", &a, &one);
    pg_give(pg);
    return found;
}

int store_pg_throttle_take(const char *key, double burst, double per_second)
{
    struct pg *pg;
    struct pg_args a;
    PGresult *res;
    int wait = -1;

    if (strlen(key) > 64 || burst < 1.0 || per_second <= 0.0) {
        return -1;
    }
    pg = pg_take();
    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, key);
    pg_arg_int(&a, (long long)burst);
    {
        char rate[40];
        snprintf(rate, sizeof rate, "%.9g", per_second);
        pg_arg_text(&a, rate);
        /* One statement, atomic across instances: the bucket refilled up to now (the
         * database's clock), less one token when it has one. */
        res = pg_run(pg,
                     "WITH now AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS t) "
                     "INSERT INTO throttles AS b (key, tokens, last, allowed) "
                     "SELECT $1, $2::float8 - 1, now.t, 1 FROM now "
                     "ON CONFLICT (key) DO UPDATE SET "
                     "tokens = least($2::float8, b.tokens + (excluded.last - b.last) * $3::float8) "
                     "- CASE WHEN least($2::float8, b.tokens + (excluded.last - b.last) * "
                     "$3::float8) >= 1 THEN 1 ELSE 0 END, "
                     "allowed = CASE WHEN least($2::float8, b.tokens + (excluded.last - b.last) * "
                     "$3::float8) >= 1 THEN 1 ELSE 0 END, last = excluded.last "
                     "RETURNING tokens, allowed",
                     &a);
    }
    pg_give(pg);
    if (res != NULL && PQntuples(res) == 1) {
        if (pg_get_int(res, 0, 1) != 0) {
            wait = 0;
        } else {
            double tokens = strtod(PQgetvalue(res, 0, 0), NULL);
            double seconds = (1.0 - tokens) / per_second;
            wait = seconds < 1.0 ? 1 : seconds > 86400.0 ? 86400 : (int)seconds + 1;
        }
    }
    PQclear(res);
    return wait;
}

struct create_args {
    const char *username;
    const char *skeleton;
    const char *pwhash;
    uint32_t device;
    long long now;
    long long device_gen; /* out */
};

static int create_body(struct pg *pg, void *arg)
{
    struct create_args *c = arg;
    struct pg_args a;
    long long id = 0;
    int inserted;
    int taken;

    pg_args_init(&a);
    pg_arg_text(&a, c->username);
    pg_arg_text(&a, c->skeleton);
    pg_arg_text(&a, c->pwhash);
    pg_arg_int(&a, c->now);
    /* The username and the skeleton are UNIQUE: a conflict on either inserts nothing. */
    inserted = pg_int(pg,
                      "INSERT INTO users (username, skeleton, pwhash, token_gen, created_at) "
                      "VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING RETURNING id",
                      &a, &id);
    if (inserted == 1) {
        /* The first device: listed when it is device 1 (a new account has no list). */
        return pg_device_insert(pg, id, c->device, c->device == 1, c->now, &c->device_gen) == 0
                   ? STORE_OK
                   : STORE_ERROR;
    }
    if (inserted < 0) {
        return STORE_ERROR;
    }
    /* Which one, asked in the same transaction. */
    pg_args_init(&a);
    pg_arg_text(&a, c->username);
    taken = pg_int(pg, "SELECT 1 FROM users WHERE username = $1", &a, &id);
    return taken == 1 ? STORE_TAKEN : taken == 0 ? STORE_LOOKALIKE : STORE_ERROR;
}

int store_pg_user_create(const char *username, const char *skeleton, const char *pwhash,
                         uint32_t device, long long now, long long *device_gen)
{
    struct create_args c = {username, skeleton, pwhash, device, now, 0};
    int result = pg_transaction(1, create_body, &c, "storing an account");

    *device_gen = c.device_gen;
    return result;
}

int store_pg_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    int found;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    if (new_pwhash != NULL) {
        pg_arg_text(&a, new_pwhash);
        found = pg_int(pg,
                       "UPDATE users SET token_gen = token_gen + 1, pwhash = $2 WHERE id = $1 "
                       "RETURNING token_gen",
                       &a, token_gen);
    } else {
        found = pg_int(pg, "UPDATE users SET token_gen = token_gen + 1 WHERE id = $1 "
                           "RETURNING token_gen",
                       &a, token_gen);
    }
    pg_give(pg);
    if (found < 0) {
        log_msg(LOG_ERROR, "store: revoking tokens failed");
    }
    return found < 0 ? -1 : 0;
}

int store_pg_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                          int *visible)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;
    int found = -1;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, username);
    res = pg_run(pg, "SELECT contact_cap_hash, show_presence FROM users WHERE username = $1", &a);
    if (res != NULL) {
        found = PQntuples(res) > 0;
        if (found) {
            *has_cap = pg_get_bytes(res, 0, 0, cap_hash, 32) == 32;
            *visible = pg_get_int(res, 0, 1) != 0;
        }
        PQclear(res);
    }
    pg_give(pg);
    return found;
}

/* The text[] literal of p's usernames ({"a","b"}, each quoted and escaped), malloc'd; NULL when
 * out of memory. */
static char *names_array(const struct store_presence *p, size_t n)
{
    size_t size = 3;
    char *out;
    char *w;

    for (size_t i = 0; i < n; i++) {
        size += 2 * strlen(p[i].username) + 3;
    }
    out = malloc(size);
    if (out == NULL) {
        return NULL;
    }
    w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            *w++ = ',';
        }
        *w++ = '"';
        for (const char *c = p[i].username; *c != '\0'; c++) {
            if (*c == '"' || *c == '\\') {
                *w++ = '\\';
            }
            *w++ = *c;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}

int store_pg_presence_get_many(struct store_presence *p, size_t n)
{
    struct pg *pg;
    struct pg_args a;
    PGresult *res;
    char *names;

    for (size_t i = 0; i < n; i++) {
        p[i].found = 0;
    }
    if (n == 0) {
        return 0;
    }
    names = names_array(p, n);
    pg = names != NULL ? pg_take() : NULL;
    if (pg == NULL) {
        free(names);
        return -1;
    }
    pg_args_init(&a);
    pg_arg_text(&a, names);
    res = pg_run(pg,
                 "SELECT username, contact_cap_hash, show_presence FROM users "
                 "WHERE username = ANY ($1::text[])",
                 &a);
    pg_give(pg);
    free(names);
    if (res == NULL) {
        return -1;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *name = PQgetvalue(res, r, 0);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(p[i].username, name) == 0) {
                p[i].found = 1;
                p[i].has_cap = pg_get_bytes(res, r, 1, p[i].cap_hash, 32) == 32;
                p[i].visible = pg_get_int(res, r, 2) != 0;
            }
        }
    }
    PQclear(res);
    return 0;
}

int store_pg_presence_set(const char *username, const unsigned char *cap_hash, int visible)
{
    struct pg *pg = pg_take();
    struct pg_args a;
    PGresult *res;
    int rc = -1;

    if (pg == NULL) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_bytes(&a, cap_hash, cap_hash != NULL ? 32 : 0);
    pg_arg_int(&a, visible ? 1 : 0);
    pg_arg_text(&a, username);
    res = pg_run(pg,
                 "UPDATE users SET contact_cap_hash = $1, show_presence = $2 WHERE username = $3",
                 &a);
    if (res != NULL) {
        rc = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : 1;
        PQclear(res);
    }
    pg_give(pg);
    return rc;
}

struct delete_args {
    long long user_id;
    long long now;
};

static int delete_body(struct pg *pg, void *arg)
{
    static const char *const wipes[] = {
        "DELETE FROM mailbox WHERE recipient_id = $1",
        "DELETE FROM mailbox_usage WHERE recipient_id = $1",
        "DELETE FROM identities WHERE user_id = $1",
        /* The devices' signed, one-time and KEM prekeys go with them (ON DELETE CASCADE). */
        "DELETE FROM devices WHERE user_id = $1",
    };
    const struct delete_args *d = arg;
    struct pg_args a;
    long long id = 0;
    int found;

    pg_args_init(&a);
    pg_arg_int(&a, d->user_id);
    pg_arg_int(&a, d->now);
    found = pg_int(pg,
                   "UPDATE users SET pwhash = '', token_gen = token_gen + 1, "
                   "contact_cap_hash = NULL, show_presence = 0, device_list = NULL, "
                   "deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id",
                   &a, &id);
    if (found != 1) {
        return found == 0 ? STORE_NO_USER : STORE_ERROR;
    }
    pg_args_init(&a);
    pg_arg_int(&a, d->user_id);
    for (size_t i = 0; i < sizeof wipes / sizeof wipes[0]; i++) {
        if (pg_do(pg, wipes[i], &a) != 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_pg_user_delete(long long user_id, long long now)
{
    struct delete_args d = {user_id, now};

    return pg_transaction(1, delete_body, &d, "deleting an account");
}
