/*
 * The storage interface (store.h) on PostgreSQL: the pool of connections, the schema and its
 * migrations, the helpers the other store_pg*.c files share (store_pg.h) and the engine's table.
 */
#include "store_pg.h"
#include "store_engine.h"

#include "db.h"
#include "log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_URL_MAX 1024
#define PG_RETRIES 12          /* runs of a transaction that keeps meeting serialization failures */
#define PG_LOCK_MIGRATE 7161   /* the advisory lock instances take while migrating ("pa") */

/*
 * migrations[i] brings the schema from version pg_versions[i - 1] (0 for i = 0) to
 * pg_versions[i]. The first creates SQLite's schema version 4 at once (the engine came with it),
 * so that both engines count versions alike (db.h DB_SCHEMA_VERSION). Integers are bigint; flags
 * smallint 0/1; blobs bytea with SQLite's length checks.
 */
static const int pg_versions[] = {4, 5, 6};
static const char *const pg_migrations[] = {
    "CREATE TABLE users ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  username text NOT NULL UNIQUE,"
    "  skeleton text UNIQUE,"
    "  pwhash text NOT NULL,"
    "  token_gen bigint NOT NULL DEFAULT 0,"
    "  created_at bigint NOT NULL,"
    "  contact_cap_hash bytea"
    "    CHECK (contact_cap_hash IS NULL OR octet_length(contact_cap_hash) = 32),"
    "  show_presence smallint NOT NULL DEFAULT 1,"
    "  device_list bytea"
    "    CHECK (device_list IS NULL OR octet_length(device_list) BETWEEN 70 AND 622),"
    "  device_list_gen bigint NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE identities ("
    "  user_id bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  identity_key bytea NOT NULL CHECK (octet_length(identity_key) = 32),"
    "  identity_counter bigint NOT NULL,"
    "  identity_changed_at bigint NOT NULL"
    ");"
    "CREATE INDEX identities_by_key ON identities (identity_key);"
    "CREATE TABLE devices ("
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  device_id bigint NOT NULL CHECK (device_id BETWEEN 1 AND 2147483647),"
    "  created_at bigint NOT NULL,"
    "  last_seen bigint NOT NULL,"
    "  listed smallint NOT NULL DEFAULT 0 CHECK (listed IN (0, 1)),"
    "  removed smallint NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),"
    "  token_gen bigint NOT NULL,"
    "  PRIMARY KEY (user_id, device_id)"
    ");"
    "CREATE INDEX devices_pending ON devices (created_at) WHERE listed = 0 AND removed = 0;"
    "CREATE TABLE signed_prekeys ("
    "  user_id bigint NOT NULL,"
    "  device_id bigint NOT NULL,"
    "  spk_id bigint NOT NULL,"
    "  spk_public bytea NOT NULL CHECK (octet_length(spk_public) = 32),"
    "  spk_signature bytea NOT NULL CHECK (octet_length(spk_signature) = 64),"
    "  PRIMARY KEY (user_id, device_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ");"
    "CREATE TABLE one_time_prekeys ("
    "  user_id bigint NOT NULL,"
    "  device_id bigint NOT NULL,"
    "  key_id bigint NOT NULL,"
    "  public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),"
    "  PRIMARY KEY (user_id, device_id, key_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ");"
    /* Mailbox ids are never reused (an identity), so a late acknowledgement cannot delete a
     * newer row. */
    "CREATE TABLE mailbox ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  recipient_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  recipient_device bigint NOT NULL DEFAULT 1,"
    "  expires_at bigint NOT NULL,"
    "  envelope bytea NOT NULL"
    ");"
    "CREATE INDEX mailbox_by_recipient ON mailbox (recipient_id, recipient_device, id);"
    "CREATE INDEX mailbox_by_expiry ON mailbox (expires_at);"
    "CREATE TABLE mailbox_usage ("
    "  recipient_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  recipient_device bigint NOT NULL,"
    "  count bigint NOT NULL CHECK (count >= 0),"
    "  bytes bigint NOT NULL CHECK (bytes >= 0),"
    "  PRIMARY KEY (recipient_id, recipient_device)"
    ");"
    /* Throttles shared by the instances (store_throttle_take): token buckets by keyed hash,
     * timed by the database's clock (seconds since the epoch). */
    "CREATE TABLE throttles ("
    "  key text PRIMARY KEY CHECK (length(key) <= 64),"
    "  tokens double precision NOT NULL,"
    "  last double precision NOT NULL,"
    "  allowed smallint NOT NULL"
    ");"
    "CREATE INDEX throttles_by_last ON throttles (last);",
    /* 4 -> 5: post-quantum KEM prekeys, as SQLite's (db.c). */
    "CREATE TABLE kem_prekeys ("
    "  user_id bigint NOT NULL,"
    "  device_id bigint NOT NULL,"
    "  key_id bigint NOT NULL,"
    "  record bytea NOT NULL CHECK (octet_length(record) = 1636),"
    "  last_resort smallint NOT NULL CHECK (last_resort IN (0, 1)),"
    "  PRIMARY KEY (user_id, device_id, key_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ");",
    /* 5 -> 6: deleted accounts' tombstones, as SQLite's (db.c). */
    "ALTER TABLE users ADD COLUMN deleted_at bigint;",
};

_Static_assert(sizeof pg_versions / sizeof pg_versions[0] ==
                   sizeof pg_migrations / sizeof pg_migrations[0],
               "one version per migration");

static struct {
    struct pg pg;
    int busy;
} pool[PG_POOL_SIZE];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_free = PTHREAD_COND_INITIALIZER;
static char url[PG_URL_MAX];
/* The statements met so far: a statement's index here names it on every connection ("p12"). */
static const char *stmts[PG_STMTS_MAX];
static size_t n_stmts;
static pthread_mutex_t stmts_lock = PTHREAD_MUTEX_INITIALIZER;

void pg_args_init(struct pg_args *a)
{
    memset(a, 0, sizeof *a);
}

/* The next parameter's slot; an overflow is a programming error, caught by the assertion in
 * pg_run (n beyond PG_PARAMS_MAX makes the statement fail). */
static int next_arg(struct pg_args *a)
{
    if (a->n >= PG_PARAMS_MAX) {
        a->n = PG_PARAMS_MAX + 1;
        return -1;
    }
    return a->n++;
}

void pg_arg_int(struct pg_args *a, long long v)
{
    int i = next_arg(a);

    if (i >= 0) {
        snprintf(a->numbers[i], sizeof a->numbers[i], "%lld", v);
        a->values[i] = a->numbers[i];
    }
}

void pg_arg_text(struct pg_args *a, const char *v)
{
    int i = next_arg(a);

    if (i >= 0) {
        a->values[i] = v;
    }
}

void pg_arg_bytes(struct pg_args *a, const void *v, size_t len)
{
    int i = next_arg(a);

    if (i >= 0) {
        a->values[i] = v;
        a->lengths[i] = (int)len;
        a->formats[i] = 1; /* binary: the bytes as they are */
    }
}

/* Connects slot's connection. 0 or -1 (logged, without the URL). */
static int connect_one(struct pg *pg)
{
    static const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"3", "parley-server", url, NULL};

    if (pg->conn != NULL) {
        PQfinish(pg->conn);
    }
    memset(pg->prepared, 0, sizeof pg->prepared);
    pg->conn = PQconnectdbParams(keys, values, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        log_msg(LOG_ERROR, "store: cannot connect to PostgreSQL: %s",
                pg->conn != NULL ? PQerrorMessage(pg->conn) : "out of memory");
        PQfinish(pg->conn);
        pg->conn = NULL;
        return -1;
    }
    return 0;
}

/* 1 when an idle connection was closed by the server: whatever it sent while idle (a FATAL
 * notice before closing) is read, then the end of input shows on the second read. */
static int stale(PGconn *conn)
{
    for (int i = 0; i < 2; i++) {
        if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
            return 1;
        }
    }
    return 0;
}

struct pg *pg_take(void)
{
    struct pg *pg = NULL;

    pthread_mutex_lock(&pool_lock);
    while (pg == NULL) {
        for (size_t i = 0; i < PG_POOL_SIZE && pg == NULL; i++) {
            if (!pool[i].busy) {
                pool[i].busy = 1;
                pg = &pool[i].pg;
            }
        }
        if (pg == NULL) {
            pthread_cond_wait(&pool_free, &pool_lock);
        }
    }
    pthread_mutex_unlock(&pool_lock);
    pg->sqlstate[0] = '\0';
    /* A connection the server closed while it sat in the pool (PostgreSQL restarted, an idle
     * timeout) shows as end of input: made again now rather than failing its next statement. */
    if (pg->conn != NULL && stale(pg->conn)) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    if (pg->conn == NULL && connect_one(pg) != 0) {
        pg_give(pg);
        return NULL;
    }
    return pg;
}

void pg_give(struct pg *pg)
{
    /* A connection left inside a transaction (a failure between BEGIN and its end) or broken
     * is dropped: the next taker connects afresh. */
    if (pg->conn != NULL && (PQstatus(pg->conn) != CONNECTION_OK ||
                             PQtransactionStatus(pg->conn) != PQTRANS_IDLE)) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < PG_POOL_SIZE; i++) {
        if (&pool[i].pg == pg) {
            pool[i].busy = 0;
        }
    }
    pthread_cond_signal(&pool_free);
    pthread_mutex_unlock(&pool_lock);
}

/* 1 when a failure's SQLSTATE means "run the transaction again". */
static int retryable(const char *sqlstate)
{
    return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0;
}

/* The index of sql in the table of statements (added when new), or -1 when it is full. */
static int stmt_index(const char *sql)
{
    int found = -1;

    pthread_mutex_lock(&stmts_lock);
    for (size_t i = 0; i < n_stmts && found < 0; i++) {
        if (stmts[i] == sql) {
            found = (int)i;
        }
    }
    if (found < 0 && n_stmts < PG_STMTS_MAX) {
        stmts[n_stmts] = sql;
        found = (int)n_stmts++;
    }
    pthread_mutex_unlock(&stmts_lock);
    return found;
}

/* Prepares statement index (sql) on pg's connection unless it is already, the parameters'
 * types inferred by PostgreSQL. The failure's result (the caller reads and clears it), or NULL
 * when it is prepared. */
static PGresult *prepare(struct pg *pg, int index, const char *sql)
{
    char name[16];
    PGresult *res;

    if (pg->prepared[index]) {
        return NULL;
    }
    snprintf(name, sizeof name, "p%d", index);
    res = PQprepare(pg->conn, name, sql, 0, NULL);
    if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        pg->prepared[index] = 1;
        return NULL;
    }
    return res != NULL ? res : PQmakeEmptyPGresult(pg->conn, PGRES_FATAL_ERROR);
}

PGresult *pg_run(struct pg *pg, const char *sql, const struct pg_args *args)
{
    static const struct pg_args none;
    const struct pg_args *a = args != NULL ? args : &none;
    PGresult *res;
    ExecStatusType status;
    const char *state;

    pg->sqlstate[0] = '\0';
    if (a->n > PG_PARAMS_MAX) {
        log_msg(LOG_ERROR, "store: a statement has too many parameters");
        return NULL;
    }
    {
        int index = stmt_index(sql);

        if (index < 0) {
            log_msg(LOG_ERROR, "store: more statements than PG_STMTS_MAX");
            return NULL;
        }
        res = prepare(pg, index, sql);
        if (res == NULL) {
            char name[16];
            snprintf(name, sizeof name, "p%d", index);
            res = PQexecPrepared(pg->conn, name, a->n, a->values, a->lengths, a->formats, 0);
        }
    }
    status = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        return res;
    }
    state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(pg->sqlstate, sizeof pg->sqlstate, "%s", state != NULL ? state : "");
    if (strcmp(pg->sqlstate, "23505") != 0 && !retryable(pg->sqlstate)) {
        log_msg(LOG_ERROR, "store: a PostgreSQL statement failed: %s",
                res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    }
    PQclear(res);
    return NULL;
}

int pg_do(struct pg *pg, const char *sql, const struct pg_args *args)
{
    PGresult *res = pg_run(pg, sql, args);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

int pg_int(struct pg *pg, const char *sql, const struct pg_args *args, long long *out)
{
    PGresult *res = pg_run(pg, sql, args);
    int found = -1;

    if (res != NULL) {
        found = PQntuples(res) > 0;
        if (found) {
            *out = pg_get_int(res, 0, 0);
        }
        PQclear(res);
    }
    return found;
}

long long pg_get_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

long long pg_get_bytes(const PGresult *res, int row, int col, unsigned char *out, size_t max)
{
    const char *hex;
    size_t hex_len;
    size_t len = 0;

    if (PQgetisnull(res, row, col)) {
        return -1;
    }
    hex = PQgetvalue(res, row, col);
    hex_len = (size_t)PQgetlength(res, row, col);
    if (hex_len < 2 || hex[0] != '\\' || hex[1] != 'x' || (hex_len - 2) / 2 > max ||
        sodium_hex2bin(out, max, hex + 2, hex_len - 2, NULL, &len, NULL) != 0) {
        return -1;
    }
    return (long long)len;
}

int pg_transaction(int serializable, int (*body)(struct pg *pg, void *arg), void *arg,
                   const char *what)
{
    struct pg *pg = pg_take();
    int result = STORE_ERROR;

    if (pg == NULL) {
        return STORE_ERROR;
    }
    for (int attempt = 0; attempt < PG_RETRIES; attempt++) {
        if (pg_do(pg, serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN", NULL) != 0) {
            result = STORE_ERROR;
            break;
        }
        result = body(pg, arg);
        if (result == STORE_OK && pg_do(pg, "COMMIT", NULL) != 0) {
            result = STORE_ERROR;
        }
        if (result != STORE_OK) {
            char state[sizeof pg->sqlstate];
            memcpy(state, pg->sqlstate, sizeof state);
            (void)pg_do(pg, "ROLLBACK", NULL);
            if (result == STORE_ERROR && retryable(state)) {
                /* Another instance's transaction won: a short pause, and once more. */
                struct timespec pause = {
                    0, (long)((1000U << (attempt < 6 ? attempt : 6)) + randombytes_uniform(1000)) *
                           1000L};
                nanosleep(&pause, NULL);
                continue;
            }
        }
        break;
    }
    if (result == STORE_ERROR) {
        log_msg(LOG_ERROR, "store: %s failed", what);
    }
    pg_give(pg);
    return result;
}

/* The schema's version (0 before the first migration) on a connection inside the migration's
 * transaction. 0, or -1. */
static int schema_version(struct pg *pg, long long *version)
{
    int found;

    if (pg_do(pg, "CREATE TABLE IF NOT EXISTS parley_schema (version integer NOT NULL)", NULL) !=
        0) {
        return -1;
    }
    found = pg_int(pg, "SELECT version FROM parley_schema", NULL, version);
    if (found == 0) {
        *version = 0;
        return pg_do(pg, "INSERT INTO parley_schema (version) VALUES (0)", NULL);
    }
    return found == 1 ? 0 : -1;
}

/* Brings the schema up to date in one transaction, under an advisory lock so that instances
 * starting together migrate once. 0, or -1 with err. */
static int migrate(struct pg *pg, char *err, size_t errlen)
{
    const size_t n = sizeof pg_versions / sizeof pg_versions[0];
    const int latest = pg_versions[n - 1];
    long long version = 0;
    struct pg_args a;

    pg_args_init(&a);
    pg_arg_int(&a, PG_LOCK_MIGRATE);
    if (pg_do(pg, "BEGIN", NULL) != 0 ||
        pg_do(pg, "SELECT pg_advisory_xact_lock($1)", &a) != 0 ||
        schema_version(pg, &version) != 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(pg->conn));
        (void)pg_do(pg, "ROLLBACK", NULL);
        return -1;
    }
    if (version > latest) {
        snprintf(err, errlen, "the database has schema version %lld, newer than this server (%d)",
                 version, latest);
        (void)pg_do(pg, "ROLLBACK", NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        PGresult *res;
        if (pg_versions[i] <= version) {
            continue;
        }
        /* A migration is constant SQL of several statements: PQexec runs them together. */
        res = PQexec(pg->conn, pg_migrations[i]);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "migration to schema version %d failed: %s", pg_versions[i],
                     PQresultErrorMessage(res));
            PQclear(res);
            (void)pg_do(pg, "ROLLBACK", NULL);
            return -1;
        }
        PQclear(res);
        pg_args_init(&a);
        pg_arg_int(&a, pg_versions[i]);
        if (pg_do(pg, "UPDATE parley_schema SET version = $1", &a) != 0) {
            snprintf(err, errlen, "migration to schema version %d failed", pg_versions[i]);
            (void)pg_do(pg, "ROLLBACK", NULL);
            return -1;
        }
        log_msg(LOG_INFO, "database migrated to schema version %d", pg_versions[i]);
        version = pg_versions[i];
    }
    if (pg_do(pg, "COMMIT", NULL) != 0) {
        snprintf(err, errlen, "the migration could not be committed");
        return -1;
    }
    return 0;
}

int store_pg_open(const char *database, char *err, size_t errlen)
{
    struct pg *pg;
    int rc;

    if (strlen(database) >= sizeof url) {
        snprintf(err, errlen, "the database URL is too long");
        return -1;
    }
    snprintf(url, sizeof url, "%s", database);
    pg = pg_take();
    if (pg == NULL) {
        snprintf(err, errlen, "cannot connect to the PostgreSQL database (see the log above)");
        return -1;
    }
    rc = migrate(pg, err, errlen);
    pg_give(pg);
    if (rc != 0) {
        store_pg_close();
    }
    return rc;
}

void store_pg_close(void)
{
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < PG_POOL_SIZE; i++) {
        if (pool[i].pg.conn != NULL) {
            PQfinish(pool[i].pg.conn);
            pool[i].pg.conn = NULL;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    sodium_memzero(url, sizeof url);
}

static int pg_ping(void)
{
    struct pg *pg = pg_take();
    int ok;

    if (pg == NULL) {
        return 0;
    }
    ok = pg_do(pg, "SELECT 1", NULL) == 0;
    pg_give(pg);
    return ok;
}

const struct store_engine store_pg_engine = {
    .name = "postgres",
    .user_get = store_pg_user_get,
    .user_lookalike = store_pg_user_lookalike,
    .user_create = store_pg_user_create,
    .user_revoke = store_pg_user_revoke,
    .user_delete = store_pg_user_delete,
    .device_auth = store_pg_device_auth,
    .device_login = store_pg_device_login,
    .device_revoke = store_pg_device_revoke,
    .device_seen = store_pg_device_seen,
    .devices_get = store_pg_devices_get,
    .devices_listed = store_pg_devices_listed,
    .devices_put = store_pg_devices_put,
    .device_listed = store_pg_device_listed,
    .devices_sweep = store_pg_devices_sweep,
    .presence_get = store_pg_presence_get,
    .presence_set = store_pg_presence_set,
    .presence_get_many = store_pg_presence_get_many,
    .keys_upload = store_pg_keys_upload,
    .keys_count = store_pg_keys_count,
    .identity_get = store_pg_identity_get,
    .bundle_take = store_pg_bundle_take,
    .kem_upload = store_pg_kem_upload,
    .kem_count = store_pg_kem_count,
    .mail_put_batch = store_pg_mail_put_batch,
    .mail_ack_batch = store_pg_mail_ack_batch,
    .mail_fetch = store_pg_mail_fetch,
    .mail_sweep = store_pg_mail_sweep,
    .mail_usage = store_pg_mail_usage,
    .throttle_take = store_pg_throttle_take,
    .ping = pg_ping,
};
