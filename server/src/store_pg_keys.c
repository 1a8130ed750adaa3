/* The key directory (store.h) on PostgreSQL: identities (one row per user), and per device
 * signed_prekeys and one_time_prekeys. A one-time prekey is taken by DELETE ... RETURNING of a
 * row locked FOR UPDATE SKIP LOCKED: instances taking from the same device at once each get a
 * different one, none waits for another, and none is handed out twice. */
#include "store_pg.h"

#include "log.h"

#include <sodium.h>
#include <string.h>

_Static_assert(STORE_DEVICES_LISTED_MAX == 8, "the signed prekeys' query reads at most 8 devices");

static long long count_otpk(struct pg *pg, long long user_id, uint32_t device)
{
    struct pg_args a;
    long long n = -1;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    return pg_int(pg,
                  "SELECT count(*) FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2",
                  &a, &n) == 1
               ? n
               : -1;
}

long long store_pg_keys_count(long long user_id, uint32_t device)
{
    struct pg *pg = pg_take();
    long long n;

    if (pg == NULL) {
        return -1;
    }
    n = count_otpk(pg, user_id, device);
    pg_give(pg);
    return n;
}

/* Reads the stored identity of user_id: 1 found, 0 none, -1 error. */
static int identity_of_id(struct pg *pg, long long user_id, struct store_identity *id)
{
    struct pg_args a;
    PGresult *res;
    int found = -1;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    res = pg_run(pg,
                 "SELECT identity_key, identity_counter, identity_changed_at FROM identities "
                 "WHERE user_id = $1",
                 &a);
    if (res != NULL) {
        if (PQntuples(res) == 0) {
            found = 0;
        } else if (pg_get_bytes(res, 0, 0, id->key, 32) == 32) {
            id->counter = pg_get_int(res, 0, 1);
            id->changed_at = pg_get_int(res, 0, 2);
            found = 1;
        }
        PQclear(res);
    }
    return found;
}

/* The uploading device: 0 with *listed and *has_list, 1 when it is not a device of the account
 * any more, -1 an error. */
static int uploader(struct pg *pg, long long user_id, uint32_t device, int *listed, int *has_list)
{
    struct pg_args a;
    PGresult *res;
    int rc = -1;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    res = pg_run(pg,
                 "SELECT d.listed, (u.device_list IS NOT NULL)::int FROM devices d "
                 "JOIN users u ON u.id = d.user_id "
                 "WHERE d.user_id = $1 AND d.device_id = $2 AND d.removed = 0",
                 &a);
    if (res != NULL) {
        rc = PQntuples(res) > 0 ? 0 : 1;
        if (rc == 0) {
            *listed = pg_get_int(res, 0, 0) != 0;
            *has_list = pg_get_int(res, 0, 1) != 0;
        }
        PQclear(res);
    }
    return rc;
}

/* 1 when another account holds key, 0 not, -1 an error. */
static int key_owned(struct pg *pg, long long user_id, const unsigned char key[32])
{
    struct pg_args a;
    long long one = 0;

    pg_args_init(&a);
    pg_arg_bytes(&a, key, 32);
    pg_arg_int(&a, user_id);
    return pg_int(pg, "SELECT 1 FROM identities WHERE identity_key = $1 AND user_id <> $2 LIMIT 1",
                  &a, &one);
}

/* A new identity replaces the old (as store_sqlite_keys.c's reset_devices_locked). */
static int reset_devices(struct pg *pg, long long user_id, uint32_t uploader_id, int has_list,
                         long long now, struct store_keys_stored *out)
{
    struct pg_args a;
    PGresult *res;
    int rc = 0;

    /* Abandoned link attempts are forgotten, not removed for good: their ids stay usable. */
    if (pg_devices_forget_pending(pg, user_id, now) != 0) {
        return -1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    if (pg_do(pg, "DELETE FROM one_time_prekeys WHERE user_id = $1", &a) != 0 ||
        /* The KEM prekeys were signed by the former identity, the uploader's too. */
        pg_do(pg, "DELETE FROM kem_prekeys WHERE user_id = $1", &a) != 0) {
        return -1;
    }
    pg_arg_int(&a, (long long)uploader_id);
    res = pg_run(pg,
                 "SELECT device_id FROM devices WHERE user_id = $1 AND device_id <> $2 AND "
                 "removed = 0",
                 &a);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        uint32_t id = (uint32_t)pg_get_int(res, i, 0);
        rc = pg_device_remove(pg, user_id, id);
        if (rc == 0 && out->n_removed < STORE_DEVICES_KNOWN_MAX) {
            out->removed[out->n_removed++] = id;
        }
    }
    PQclear(res);
    if (rc != 0) {
        return -1;
    }
    if (has_list) {
        pg_args_init(&a);
        pg_arg_int(&a, user_id);
        if (pg_do(pg, "UPDATE users SET device_list = NULL, device_list_gen = 0 WHERE id = $1",
                  &a) != 0) {
            return -1;
        }
        out->list_forgotten = 1;
    }
    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)uploader_id);
    if (uploader_id == 1) {
        return pg_do(pg, "UPDATE devices SET listed = 1 WHERE user_id = $1 AND device_id = $2",
                     &a);
    }
    pg_arg_int(&a, now);
    return pg_do(pg,
                 "UPDATE devices SET listed = 0, created_at = $3 WHERE user_id = $1 AND "
                 "device_id = $2",
                 &a);
}

/* The device's signed prekey and one-time prekeys. */
static int store_prekeys(struct pg *pg, long long user_id, const struct store_keys_upload *up)
{
    struct pg_args a;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)up->device);
    pg_arg_int(&a, (long long)up->signed_prekey.id);
    pg_arg_bytes(&a, up->signed_prekey.public_key, 32);
    pg_arg_bytes(&a, up->signature, 64);
    if (pg_do(pg,
              "INSERT INTO signed_prekeys (user_id, device_id, spk_id, spk_public, spk_signature) "
              "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, device_id) DO UPDATE SET "
              "spk_id = excluded.spk_id, spk_public = excluded.spk_public, "
              "spk_signature = excluded.spk_signature",
              &a) != 0) {
        return STORE_ERROR;
    }
    for (size_t i = 0; i < up->n_one_time; i++) {
        const struct store_prekey *pk = &up->one_time[i];
        long long id = 0;
        int inserted;

        pg_args_init(&a);
        pg_arg_int(&a, user_id);
        pg_arg_int(&a, (long long)up->device);
        pg_arg_int(&a, (long long)pk->id);
        pg_arg_bytes(&a, pk->public_key, 32);
        inserted = pg_int(pg,
                          "INSERT INTO one_time_prekeys (user_id, device_id, key_id, public_key) "
                          "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING key_id",
                          &a, &id);
        if (inserted == 0) {
            return STORE_DUPLICATE; /* (user_id, device_id, key_id) is the primary key */
        }
        if (inserted < 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

struct upload_args {
    long long user_id;
    const struct store_keys_upload *up;
    long long now;
    struct store_keys_stored *out;
};

static int upload_body(struct pg *pg, void *arg)
{
    const struct upload_args *u = arg;
    const struct store_keys_upload *up = u->up;
    struct store_keys_stored *out = u->out;
    struct store_identity old;
    struct pg_args a;
    long long existing;
    int found;
    int listed = 0;
    int has_list = 0;
    int replacing = 0;

    memset(out, 0, sizeof *out);
    memset(&old, 0, sizeof old);
    found = identity_of_id(pg, u->user_id, &old);
    if (found < 0) {
        return STORE_ERROR;
    }
    switch (uploader(pg, u->user_id, up->device, &listed, &has_list)) {
    case 0:
        break;
    case 1:
        return STORE_NOT_LISTED;
    default:
        return STORE_ERROR;
    }
    if (found == 0 || sodium_memcmp(old.key, up->identity_key, 32) != 0) {
        int owned;
        if (found == 1 && !up->reset_identity) {
            return STORE_CONFLICT;
        }
        /* One identity key, one account (an unknown-key-share otherwise). */
        owned = key_owned(pg, u->user_id, up->identity_key);
        if (owned != 0) {
            return owned > 0 ? STORE_IN_USE : STORE_ERROR;
        }
        replacing = found == 1;
        old.counter++;
        old.changed_at = u->now;
    }
    if (has_list && !listed && !replacing) {
        return STORE_NOT_LISTED;
    }
    if (replacing) {
        out->identity_replaced = 1;
        if (reset_devices(pg, u->user_id, up->device, has_list, u->now, out) != 0) {
            return STORE_ERROR;
        }
    }
    existing = count_otpk(pg, u->user_id, up->device);
    if (existing < 0) {
        return STORE_ERROR;
    }
    if (existing + (long long)up->n_one_time > up->max_one_time) {
        return STORE_FULL;
    }
    pg_args_init(&a);
    pg_arg_int(&a, u->user_id);
    pg_arg_bytes(&a, up->identity_key, 32);
    pg_arg_int(&a, old.counter);
    pg_arg_int(&a, old.changed_at);
    if (pg_do(pg,
              "INSERT INTO identities (user_id, identity_key, identity_counter, "
              "identity_changed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET "
              "identity_key = excluded.identity_key, identity_counter = excluded.identity_counter, "
              "identity_changed_at = excluded.identity_changed_at",
              &a) != 0) {
        return STORE_ERROR;
    }
    out->identity_counter = old.counter;
    out->identity_changed_at = old.changed_at;
    out->one_time_count = existing + (long long)up->n_one_time;
    return store_prekeys(pg, u->user_id, up);
}

int store_pg_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                         struct store_keys_stored *out)
{
    struct upload_args u = {user_id, up, now, out};
    int result = pg_transaction(1, upload_body, &u, "storing keys");

    if (result != STORE_OK) {
        memset(out, 0, sizeof *out);
    }
    return result;
}

/* Reads the identity row of username: STORE_OK with *user_id and *out filled, STORE_NO_USER,
 * STORE_NO_KEYS or STORE_ERROR. */
static int identity_of_name(struct pg *pg, const char *username, long long *user_id,
                            struct store_identity *out)
{
    struct pg_args a;
    PGresult *res;
    int result = STORE_ERROR;

    pg_args_init(&a);
    pg_arg_text(&a, username);
    res = pg_run(pg,
                 "SELECT u.id, i.identity_key, i.identity_counter, i.identity_changed_at, "
                 "u.device_list FROM users u LEFT JOIN identities i ON i.user_id = u.id "
                 "WHERE u.username = $1",
                 &a);
    if (res == NULL) {
        return STORE_ERROR;
    }
    if (PQntuples(res) == 0) {
        result = STORE_NO_USER;
    } else {
        *user_id = pg_get_int(res, 0, 0);
        if (PQgetisnull(res, 0, 1)) {
            result = STORE_NO_KEYS;
        } else if (pg_get_bytes(res, 0, 1, out->key, 32) == 32) {
            long long list_len = PQgetisnull(res, 0, 4)
                                     ? 0
                                     : pg_get_bytes(res, 0, 4, out->list, STORE_DEVICE_LIST_MAX);
            out->counter = pg_get_int(res, 0, 2);
            out->changed_at = pg_get_int(res, 0, 3);
            if (list_len >= 0) {
                out->list_len = (size_t)list_len;
                result = STORE_OK;
            }
        }
    }
    PQclear(res);
    return result;
}

int store_pg_identity_get(const char *username, struct store_identity *out)
{
    struct pg *pg = pg_take();
    long long user_id = 0;
    int result;

    if (pg == NULL) {
        return STORE_ERROR;
    }
    result = identity_of_name(pg, username, &user_id, out);
    pg_give(pg);
    return result;
}

/* Reads the signed prekeys of the listed devices of user_id (device alone unless 0) into b.
 * 0 or -1. */
static int spks(struct pg *pg, long long user_id, uint32_t device, struct store_bundle *b)
{
    struct pg_args a;
    PGresult *res;
    int rc = 0;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)device);
    res = pg_run(pg,
                 "SELECT d.device_id, s.spk_id, s.spk_public, s.spk_signature FROM devices d "
                 "JOIN signed_prekeys s ON s.user_id = d.user_id AND s.device_id = d.device_id "
                 "WHERE d.user_id = $1 AND d.listed = 1 AND ($2 = 0 OR d.device_id = $2) "
                 "ORDER BY d.device_id LIMIT 8",
                 &a);
    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && b->n < STORE_DEVICES_LISTED_MAX; i++) {
        struct store_device_bundle *d = &b->devices[b->n];
        if (pg_get_bytes(res, i, 2, d->spk_public, 32) != 32 ||
            pg_get_bytes(res, i, 3, d->spk_signature, 64) != 64) {
            rc = -1;
            break;
        }
        d->device = (uint32_t)pg_get_int(res, i, 0);
        d->spk_id = pg_get_int(res, i, 1);
        b->n++;
    }
    PQclear(res);
    return rc;
}

/* Takes the one-time prekey with the lowest id that no other transaction holds. 0 or -1. */
static int take(struct pg *pg, long long user_id, struct store_device_bundle *d)
{
    struct pg_args a;
    PGresult *res;

    pg_args_init(&a);
    pg_arg_int(&a, user_id);
    pg_arg_int(&a, (long long)d->device);
    res = pg_run(pg,
                 "DELETE FROM one_time_prekeys WHERE (user_id, device_id, key_id) = "
                 "(SELECT user_id, device_id, key_id FROM one_time_prekeys "
                 "WHERE user_id = $1 AND device_id = $2 ORDER BY key_id LIMIT 1 "
                 "FOR UPDATE SKIP LOCKED) RETURNING key_id, public_key",
                 &a);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) > 0) {
        if (pg_get_bytes(res, 0, 1, d->one_time.public_key, 32) != 32) {
            PQclear(res);
            return -1;
        }
        d->has_one_time = 1;
        d->one_time.id = (uint32_t)pg_get_int(res, 0, 0);
    }
    PQclear(res);
    d->one_time_left = count_otpk(pg, user_id, d->device);
    return d->one_time_left >= 0 ? 0 : -1;
}

struct bundle_args {
    const char *username;
    uint32_t device;
    int take_one_time;
    struct store_bundle *b;
};

static int bundle_body(struct pg *pg, void *arg)
{
    const struct bundle_args *ba = arg;
    struct store_bundle *b = ba->b;
    long long user_id = 0;
    int result;

    memset(b, 0, sizeof *b);
    result = identity_of_name(pg, ba->username, &user_id, &b->identity);
    if (result != STORE_OK) {
        return result;
    }
    if (ba->device != 0) {
        struct pg_args a;
        long long one = 0;
        int found;

        pg_args_init(&a);
        pg_arg_int(&a, user_id);
        pg_arg_int(&a, (long long)ba->device);
        found = pg_int(pg,
                       "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2 AND "
                       "listed = 1",
                       &a, &one);
        if (found != 1) {
            return found == 0 ? STORE_UNKNOWN_DEVICE : STORE_ERROR;
        }
    }
    if (spks(pg, user_id, ba->device, b) != 0) {
        return STORE_ERROR;
    }
    if (b->n == 0) {
        return STORE_NO_KEYS;
    }
    for (size_t i = 0; i < b->n; i++) {
        if ((ba->take_one_time && take(pg, user_id, &b->devices[i]) != 0) ||
            pg_kem_take(pg, user_id, &b->devices[i], ba->take_one_time) != 0) {
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

int store_pg_bundle_take(const char *username, uint32_t device, int take_one_time,
                         struct store_bundle *b)
{
    struct bundle_args ba = {username, device, take_one_time, b};
    /* READ COMMITTED: the take's row lock is what keeps a prekey from two callers. */
    int result = pg_transaction(0, bundle_body, &ba, "reading a bundle");

    if (result != STORE_OK) {
        memset(b, 0, sizeof *b); /* nothing was taken */
    }
    return result;
}
