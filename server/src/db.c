#include "db.h"

#include "log.h"
#include "names.h"
#include "store.h"
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

static sqlite3 *conn;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* migrations[i] brings the schema from version i to i + 1. */
static const char *const migrations[] = {
    /* 0 -> 1: accounts, identity and signed prekey, one-time prekeys. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  pwhash TEXT NOT NULL,"
    "  token_gen INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE identities ("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  identity_key BLOB NOT NULL CHECK (length(identity_key) = 32),"
    "  identity_counter INTEGER NOT NULL,"
    "  identity_changed_at INTEGER NOT NULL,"
    "  spk_id INTEGER NOT NULL,"
    "  spk_public BLOB NOT NULL CHECK (length(spk_public) = 32),"
    "  spk_signature BLOB NOT NULL CHECK (length(spk_signature) = 64)"
    ");"
    "CREATE TABLE one_time_prekeys ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  key_id INTEGER NOT NULL,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  PRIMARY KEY (user_id, key_id)"
    ") WITHOUT ROWID;",
    /* 1 -> 2: the mailbox (sealed envelopes: a recipient, never a sender) and its usage,
     * presence settings, and identity keys looked up by key. Mailbox ids are never reused
     * (AUTOINCREMENT), so a late acknowledgement cannot delete a newer row. */
    "CREATE TABLE mailbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  recipient_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  expires_at INTEGER NOT NULL,"
    "  envelope BLOB NOT NULL"
    ");"
    "CREATE INDEX mailbox_by_recipient ON mailbox (recipient_id, id);"
    "CREATE INDEX mailbox_by_expiry ON mailbox (expires_at);"
    "CREATE TABLE mailbox_usage ("
    "  recipient_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  count INTEGER NOT NULL CHECK (count >= 0),"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0)"
    ");"
    /* Presence: the hash of the capability a user hands its contacts (inside the ratchet) and
     * whether it shows its presence at all. One value per user: no contact list. */
    "ALTER TABLE users ADD COLUMN contact_cap_hash BLOB"
    "  CHECK (contact_cap_hash IS NULL OR length(contact_cap_hash) = 32);"
    "ALTER TABLE users ADD COLUMN show_presence INTEGER NOT NULL DEFAULT 1;"
    /* One identity key, one account: looked up by key on every identity upload. (Not UNIQUE:
     * a database from before may hold a key twice; uploads refuse a new one.) */
    "CREATE INDEX identities_by_key ON identities (identity_key);",
    /* 2 -> 3: each username's confusable skeleton (names.h), unique, so that sign-up refuses a
     * look-alike of an existing account (a1ice beside alice) in the same step as the insert.
     * Existing rows get theirs from parley_skeleton() (names_skeleton, registered on the
     * connection by db_open). Accounts that already look alike are all kept, and log in as
     * before: the oldest (lowest id) of each group holds the skeleton, the younger ones get
     * NULL, which the UNIQUE index lets repeat and no sign-up ever stores; a new name that looks
     * like any of them meets the oldest's skeleton. */
    "ALTER TABLE users ADD COLUMN skeleton TEXT;"
    "UPDATE users SET skeleton = parley_skeleton(username);"
    "UPDATE users SET skeleton = NULL"
    "  WHERE id NOT IN (SELECT min(id) FROM users GROUP BY skeleton);"
    "CREATE UNIQUE INDEX users_by_skeleton ON users (skeleton);",
    /* 3 -> 4: several devices per account (docs/API.md "Devices"). Each device has its own signed
     * prekey, one-time prekeys (ids unique per device), mail, token generation and last-seen
     * hour; the account keeps the device list its identity key signed and the list's
     * generation. Existing keys and mail become device 1's, and device 1 is listed (served as
     * the account's only device, as before: "absent device means device 1"). Its token
     * generation starts at 0, the one tokens without a device claim are checked against, so
     * nobody is logged out by the upgrade. */
    "CREATE TABLE devices ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  device_id INTEGER NOT NULL CHECK (device_id BETWEEN 1 AND 2147483647),"
    "  created_at INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  listed INTEGER NOT NULL DEFAULT 0 CHECK (listed IN (0, 1)),"
    "  removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),"
    "  token_gen INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, device_id)"
    ") WITHOUT ROWID;"
    "INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, removed, token_gen)"
    "  SELECT id, 1, created_at, created_at / 3600 * 3600, 1, 0, 0 FROM users;"
    "CREATE INDEX devices_pending ON devices (created_at) WHERE listed = 0 AND removed = 0;"
    "ALTER TABLE users ADD COLUMN device_list BLOB"
    "  CHECK (device_list IS NULL OR length(device_list) BETWEEN 70 AND 622);"
    "ALTER TABLE users ADD COLUMN device_list_gen INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE signed_prekeys ("
    "  user_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  spk_id INTEGER NOT NULL,"
    "  spk_public BLOB NOT NULL CHECK (length(spk_public) = 32),"
    "  spk_signature BLOB NOT NULL CHECK (length(spk_signature) = 64),"
    "  PRIMARY KEY (user_id, device_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "INSERT INTO signed_prekeys (user_id, device_id, spk_id, spk_public, spk_signature)"
    "  SELECT user_id, 1, spk_id, spk_public, spk_signature FROM identities;"
    "ALTER TABLE identities DROP COLUMN spk_id;"
    "ALTER TABLE identities DROP COLUMN spk_public;"
    "ALTER TABLE identities DROP COLUMN spk_signature;"
    "CREATE TABLE one_time_prekeys_v4 ("
    "  user_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  key_id INTEGER NOT NULL,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  PRIMARY KEY (user_id, device_id, key_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "INSERT INTO one_time_prekeys_v4 (user_id, device_id, key_id, public_key)"
    "  SELECT user_id, 1, key_id, public_key FROM one_time_prekeys;"
    "DROP TABLE one_time_prekeys;"
    "ALTER TABLE one_time_prekeys_v4 RENAME TO one_time_prekeys;"
    /* Mail is filed under the recipient's device; quotas count per device. */
    "ALTER TABLE mailbox ADD COLUMN recipient_device INTEGER NOT NULL DEFAULT 1;"
    "DROP INDEX mailbox_by_recipient;"
    "CREATE INDEX mailbox_by_recipient ON mailbox (recipient_id, recipient_device, id);"
    "CREATE TABLE mailbox_usage_v4 ("
    "  recipient_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  recipient_device INTEGER NOT NULL,"
    "  count INTEGER NOT NULL CHECK (count >= 0),"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  PRIMARY KEY (recipient_id, recipient_device)"
    ") WITHOUT ROWID;"
    "INSERT INTO mailbox_usage_v4 (recipient_id, recipient_device, count, bytes)"
    "  SELECT recipient_id, 1, count, bytes FROM mailbox_usage;"
    "DROP TABLE mailbox_usage;"
    "ALTER TABLE mailbox_usage_v4 RENAME TO mailbox_usage;",
    /* 4 -> 5: post-quantum KEM prekeys (docs/PROTOCOL.md 15): per device, one last-resort record
     * and one-time records (each u32 id || ML-KEM-1024 key || signature, 1636 bytes), going with
     * the device's row. */
    "CREATE TABLE kem_prekeys ("
    "  user_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  key_id INTEGER NOT NULL,"
    "  record BLOB NOT NULL CHECK (length(record) = 1636),"
    "  last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),"
    "  PRIMARY KEY (user_id, device_id, key_id),"
    "  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE"
    ") WITHOUT ROWID;",
    /* 5 -> 6: a deleted account keeps its row as a tombstone (store_user_delete), so that its
     * username is never taken again: deleted_at, NULL while the account lives. */
    "ALTER TABLE users ADD COLUMN deleted_at INTEGER;",
};

/* parley_skeleton(name): names_skeleton() of a text, NULL when it has none (empty, too long). */
static void sql_skeleton(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    char out[NAMES_SKELETON_MAX + 1];
    const unsigned char *name = argc == 1 ? sqlite3_value_text(argv[0]) : NULL;

    if (name == NULL || names_skeleton((const char *)name, out) == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

long long db_now(void)
{
    return (long long)time(NULL);
}

int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    return -1;
}

/* After migration 3: says how many existing accounts look like an older one (kept). */
static void report_lookalikes(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE skeleton IS NULL", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        log_msg(LOG_WARN,
                "%lld existing accounts look like older ones (e.g. a1ice beside alice); they are "
                "kept and log in as before; new look-alikes are refused",
                (long long)sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int version = 0;
    const int latest = (int)(sizeof migrations / sizeof migrations[0]);

    if (user_version(db, &version) != 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version > latest) {
        snprintf(err, errlen, "the database has schema version %d, newer than this server (%d)",
                 version, latest);
        return -1;
    }
    while (version < latest) {
        char bump[64];

        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", version + 1);
        if (db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK ||
            db_exec(db, migrations[version]) != SQLITE_OK || db_exec(db, bump) != SQLITE_OK ||
            db_exec(db, "COMMIT") != SQLITE_OK) {
            snprintf(err, errlen, "migration to schema version %d failed: %s", version + 1,
                     sqlite3_errmsg(db));
            db_exec(db, "ROLLBACK");
            return -1;
        }
        log_msg(LOG_INFO, "database migrated to schema version %d", version + 1);
        version++;
        if (version == 3) {
            report_lookalikes(db);
        }
    }
    return 0;
}

/* Creates path 0600 if missing and makes it and its journal files 0600. 0, or -1 with err. */
static int private_files(const char *path, char *err, size_t errlen)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char name[4200];
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        if (chmod(name, 0600) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot make %s private (0600): %s", name, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int db_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    static const char *const pragmas[] = {
        "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON",
        "PRAGMA secure_delete = ON"};

    /* The database and its -wal and -shm files are the server's alone (SQLite gives the journal
     * files the database's mode): created 0600, and tightened if an older server made them
     * 0644. */
    if (private_files(path, err, errlen) != 0) {
        return -1;
    }
    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                            SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_create_function_v2(db, "parley_skeleton", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                   sql_skeleton, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot register parley_skeleton(): %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        if (db_exec(db, pragmas[i]) != SQLITE_OK) {
            snprintf(err, errlen, "%s failed: %s", pragmas[i], sqlite3_errmsg(db));
            sqlite3_close(db);
            return -1;
        }
    }
    if (migrate(db, err, errlen) != 0) {
        sqlite3_close(db);
        return -1;
    }
    conn = db;
    return 0;
}

void db_close(void)
{
    pthread_mutex_lock(&lock);
    if (conn != NULL) {
        store_sqlite_close();
        sqlite3_close(conn);
        conn = NULL;
    }
    pthread_mutex_unlock(&lock);
}

sqlite3 *db_lock(void)
{
    pthread_mutex_lock(&lock);
    return conn;
}

void db_unlock(void)
{
    pthread_mutex_unlock(&lock);
}
