/*
 * The storage interface: everything the server keeps at rest, behind one set of functions so
 * that a second database engine can stand in for SQLite (store_sqlite*.c) by implementing this
 * header, without touching the code that serves requests. Behind it: accounts (username,
 * password hash, token generation), their devices (device list signed by the identity key, each
 * device's token generation and last-seen hour), presence settings, the key directory (identity
 * key per account; signed prekey and one-time prekeys per device) and the mailbox (per device).
 * SQL and the engine's types stay in the implementations: store_sqlite*.c with db.c (SQLite),
 * store_pg*.c (PostgreSQL, shared by several server instances); store.c hands each call to the
 * one store_open chose (store_engine.h).
 *
 * Any thread may call any function (on SQLite they take turns on one connection behind
 * db_lock(); on PostgreSQL each takes a connection of a pool). Whatever a function changes, it
 * changes atomically, also against other server instances on the same PostgreSQL: writes to more
 * than one row are one transaction, committed durably before the function returns (SQLite:
 * synchronous=FULL; PostgreSQL: synchronous_commit on),
 * so what it reports as stored survives kill -9 and power loss, and what it refuses or fails
 * leaves nothing behind. Slow work (password hashing) is done by the callers, never inside.
 *
 * The mailbox holds sealed envelopes (docs/PROTOCOL.md 13) for a recipient's device: the row knows
 * its recipient and device, its size and when it expires, never its sender.
 *
 * Functions that depend on the time take it as now (Unix seconds), so that tests can move it.
 */
#ifndef PARLEY_SERVER_STORE_H
#define PARLEY_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_result {
    STORE_OK = 0,
    STORE_FULL = 1,      /* at a limit (a mailbox's quota, the one-time prekeys a user may
                          * keep): nothing was stored */
    STORE_TAKEN = 2,     /* the username is taken: nothing was stored */
    STORE_NO_USER = 3,   /* no such user */
    STORE_NO_KEYS = 4,   /* the user has not uploaded keys */
    STORE_CONFLICT = 5,  /* a different identity key is stored: nothing was stored */
    STORE_DUPLICATE = 6, /* a one-time prekey with that id is stored: nothing was stored */
    STORE_IN_USE = 7,    /* the identity key is another account's: nothing was stored */
    STORE_LOOKALIKE = 8, /* another username has the same skeleton: nothing was stored */
    STORE_REMOVED = 9,   /* the device was removed from the account for good */
    STORE_STALE = 10,    /* a device list whose generation is not above the stored one */
    STORE_UNKNOWN_DEVICE = 11, /* no such device (never registered, forgotten, removed, or for
                                * bundles: not listed) */
    STORE_NOT_LISTED = 12,     /* the device is not listed, and the operation needs it to be */
    STORE_ERROR = -1     /* the database failed: nothing was stored */
};

/*
 * Devices. Each account has devices, numbered 1..STORE_DEVICE_ID_MAX by the clients. A device is
 * registered by the first log-in (or the sign-up) naming its id, unlisted: only a list signed by
 * the account's identity key (docs/PROTOCOL.md 14.1), uploaded by store_devices_put, lists it.
 * Listed devices are the account's devices as others see them (their bundles are served, their
 * mail kept); a device dropped from the list is removed for good (its keys and mail deleted, its
 * tokens refused, its id never registered again). A device that is not listed within
 * STORE_DEVICE_PENDING_SECONDS of its registration is forgotten (an abandoned link attempt), and
 * its id may be registered again. At most STORE_DEVICES_KNOWN_MAX devices that are not removed
 * exist per account.
 *
 * An account without a list (every account from before devices, and the web app's until it
 * signs one) has device 1 listed when it has a device 1: "absent device means device 1".
 */
#define STORE_DEVICE_ID_MAX 2147483647LL
#define STORE_DEVICES_KNOWN_MAX 16
#define STORE_DEVICES_LISTED_MAX 8
#define STORE_DEVICE_PENDING_SECONDS 86400LL
#define STORE_DEVICE_LIST_MAX 622 /* a signed list, at most (PARLEY_DEVICES_MAX_BYTES) */
#define STORE_SEEN_GRAIN 3600LL   /* last-seen times are rounded down to the hour */
#define STORE_KEM_RECORD 1636     /* a KEM prekey record (docs/PROTOCOL.md 15.2) */

/*
 * Accounts. A user has an id (never reused), a unique canonical username, its skeleton (names.h:
 * unique among accounts created since schema version 3; of accounts that already looked alike
 * then, only the oldest holds it), a password hash (crypto_pwhash_str text, made by the caller)
 * and a token generation (0 at sign-up; a token carries the generation it was issued with and is
 * valid while it is the current one).
 */

/*
 * Looks username up. 1 found, with its id, token generation and password hash (NUL-terminated,
 * cut to pwhash_size - 1 bytes) in whichever of id, token_gen and pwhash are not NULL; 0 no such
 * user; -1 a database error.
 */
int store_user_get(const char *username, long long *id, long long *token_gen, char *pwhash,
                   size_t pwhash_size);

/* 1 when an account holds skeleton (names_skeleton), 0 none, -1 a database error. */
int store_user_lookalike(const char *skeleton);

/*
 * Creates the user with its skeleton and token generation 0, stamped with now, checking both in
 * the same step (sign-ups racing for alice and a1ice: one wins), and registers its first device
 * (listed when it is device 1: an account without a list; *device_gen its token generation).
 * STORE_OK, STORE_TAKEN (the username exists), STORE_LOOKALIKE (another account holds the
 * skeleton) or STORE_ERROR.
 */
int store_user_create(const char *username, const char *skeleton, const char *pwhash,
                      uint32_t device, long long now, long long *device_gen);

/*
 * Revokes every token of user_id: its token generation goes up by one, and its password hash
 * becomes new_pwhash when that is not NULL, in one statement. 0 with the new generation in
 * *token_gen (left as it was when no user has that id), -1 a database error.
 */
int store_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen);

/*
 * Deletes the account user_id, in one transaction: its identity, devices (and with them their
 * signed, one-time and KEM prekeys), mail and mail usage go; its row stays as a tombstone that
 * keeps the username (and its skeleton) taken for good: no password hash (no log-in can
 * succeed), the token generation one up (every token issued before is refused), no presence
 * capability, presence hidden, no device list, deleted_at = now. STORE_OK, STORE_NO_USER (no such
 * user, or deleted already) or STORE_ERROR.
 */
int store_user_delete(long long user_id, long long now);

/* What a token is checked against: the account's and the device's token generations. */
struct store_device_auth {
    long long user_id;
    long long account_gen;
    long long device_gen;
    int state;  /* STORE_OK, STORE_REMOVED, or STORE_UNKNOWN_DEVICE (not registered, forgotten) */
    int listed; /* the device is listed (store_devices_put; device 1 without a list) */
};

/* The account username and its device, at now. 1 found (*out filled), 0 no such user, -1 a
 * database error. */
int store_device_auth(const char *username, uint32_t device, long long now,
                      struct store_device_auth *out);

/*
 * A log-in of user_id as device, in one transaction: first the devices pending for longer than
 * STORE_DEVICE_PENDING_SECONDS are forgotten; then an unknown device is registered (unlisted, or
 * listed when it is device 1 and the account has no list) unless STORE_DEVICES_KNOWN_MAX that are
 * not removed exist. STORE_OK with *device_gen (the device's token generation), STORE_REMOVED,
 * STORE_FULL or STORE_ERROR.
 */
int store_device_login(long long user_id, uint32_t device, long long now, long long *device_gen);

/* A logout: every token of the device is revoked (its token generation goes up by one). 0 with
 * the new generation in *device_gen, -1 a database error. */
int store_device_revoke(long long user_id, uint32_t device, long long *device_gen);

/* The device was seen at now: its last-seen time becomes now rounded down to the hour (a write
 * only when that changes). 0 or -1. */
int store_device_seen(long long user_id, uint32_t device, long long now);

/* One device as GET /api/devices shows it. */
struct store_device {
    uint32_t id;
    int listed;
    long long last_seen; /* Unix seconds, a multiple of STORE_SEEN_GRAIN */
};

/* An account's list and its devices that are not removed (pending ones older than
 * STORE_DEVICE_PENDING_SECONDS left out). */
struct store_devices {
    unsigned char list[STORE_DEVICE_LIST_MAX];
    size_t list_len;       /* 0: no list */
    long long generation;  /* 0 without a list */
    size_t n;
    struct store_device d[STORE_DEVICES_KNOWN_MAX]; /* ascending ids */
};

/* STORE_OK with *out filled, or STORE_ERROR. */
int store_devices_get(long long user_id, long long now, struct store_devices *out);

/* The ids of the listed devices of username (ascending). 0 with *n set (0 for an unknown user),
 * -1 a database error. */
int store_devices_listed(const char *username, uint32_t ids[STORE_DEVICES_KNOWN_MAX], size_t *n);

/* A new signed device list, opened by the caller under identity_key; ids[0..n) its device ids. */
struct store_devices_put {
    unsigned char identity_key[32];
    const unsigned char *list;
    size_t len;
    long long generation;
    const uint32_t *ids;
    size_t n;
    uint32_t uploader; /* the device uploading it */
};

/*
 * Stores a new list for user_id in one transaction (BEGIN IMMEDIATE), checking in this order: the
 * account's identity key is identity_key (STORE_NO_KEYS without one, STORE_CONFLICT when it was
 * replaced meanwhile); the generation is above the stored one (STORE_STALE); every id is a device
 * of the account that is not removed nor forgotten (STORE_UNKNOWN_DEVICE); the uploader is listed
 * (STORE_NOT_LISTED). Then the listed devices that the new list leaves out are removed (their ids
 * in removed[0..*n_removed)), and the new ones listed. STORE_OK or one of those (or STORE_ERROR),
 * having stored nothing.
 */
int store_devices_put(long long user_id, const struct store_devices_put *in, long long now,
                      uint32_t removed[STORE_DEVICES_KNOWN_MAX], size_t *n_removed);

/* Whether device of username is listed (mail may be filed under it): 1 with *user_id, 0 no (or
 * no such user), -1 a database error. */
int store_device_listed(const char *username, uint32_t device, long long *user_id);

/* Forgets the devices pending for longer than STORE_DEVICE_PENDING_SECONDS at now, with their
 * keys. The number forgotten, or -1. */
long long store_devices_sweep(long long now);

/*
 * Presence settings of a user: the SHA-256 of the capability its contacts present to see it
 * (none: nobody does) and whether it shows its presence at all. store_presence_get: 1 with the
 * values filled, 0 no such user, -1 a database error. store_presence_set: 0, 1 no such user, -1.
 */
int store_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible);
int store_presence_set(const char *username, const unsigned char *cap_hash, int visible);

/* One user's presence settings in store_presence_get_many: username in, the rest out. */
struct store_presence {
    const char *username;
    unsigned char cap_hash[32];
    int found; /* 1 the user exists (the rest is filled), 0 not */
    int has_cap;
    int visible;
};

/* The presence settings of p[0..n) at once (one round trip on PostgreSQL, whatever n is). 0, or
 * -1 a database error (then every found is 0). */
int store_presence_get_many(struct store_presence *p, size_t n);

/*
 * The key directory. Each user has at most one identity key (32-byte Ed25519) with its counter
 * (1 for the first, +1 at each replacement) and the time it was last set; each of its devices one
 * signed prekey and one-time prekeys (ids unique per device), each handed out once.
 */

/* A prekey: its id and its 32-byte X25519 public key. */
struct store_prekey {
    uint32_t id;
    unsigned char public_key[32];
};

/* An upload (PUT /api/keys), checked by the caller (the signature verifies, ids are unique
 * within one_time). */
struct store_keys_upload {
    uint32_t device;         /* the uploading device (the token's) */
    unsigned char identity_key[32];
    struct store_prekey signed_prekey;
    unsigned char signature[64];
    const struct store_prekey *one_time;
    size_t n_one_time;
    int reset_identity;      /* a different identity key may replace the stored one */
    long long max_one_time;  /* the most one-time prekeys a device may have stored */
};

/* What an upload left stored. */
struct store_keys_stored {
    long long identity_counter;
    long long identity_changed_at; /* Unix seconds */
    long long one_time_count;      /* the device's one-time prekeys, the new ones included */
    int identity_replaced;         /* a different identity key was replaced */
    int list_forgotten;            /* ... and the account had a device list, now forgotten */
    uint32_t removed[STORE_DEVICES_KNOWN_MAX]; /* ... and these devices were removed */
    size_t n_removed;
};

/*
 * Stores an upload of user_id's device up->device, in one transaction (BEGIN IMMEDIATE): the
 * identity key (set at the first upload, counter 1; the same key again changes nothing about it;
 * a different one only with reset_identity, and then every stored one-time prekey is deleted, the
 * counter goes up by one, the time becomes now, the device list is forgotten, every other device
 * is removed, and the uploader is listed when it is device 1, else pending again from now), the
 * device's signed prekey (replaced), and its one-time prekeys (appended). A device that is not
 * listed while the account has a list may upload only to replace the identity. STORE_OK with
 * *out filled; STORE_CONFLICT (a different identity key and no reset_identity), STORE_IN_USE,
 * STORE_NOT_LISTED, STORE_FULL (more than max_one_time would be stored), STORE_DUPLICATE (an id
 * is already stored for the device) or STORE_ERROR, each having stored nothing.
 */
int store_keys_upload(long long user_id, const struct store_keys_upload *up, long long now,
                      struct store_keys_stored *out);

/* The one-time prekeys user_id's device has stored, or -1 on a database error. */
long long store_keys_count(long long user_id, uint32_t device);

/* A user's identity key, its counter and when it was set, and its device list. */
struct store_identity {
    unsigned char key[32];
    long long counter;
    long long changed_at; /* Unix seconds */
    unsigned char list[STORE_DEVICE_LIST_MAX];
    size_t list_len;      /* 0: no list */
};

/* The identity of username, consuming nothing. STORE_OK with *out filled, STORE_NO_USER,
 * STORE_NO_KEYS or STORE_ERROR. */
int store_identity_get(const char *username, struct store_identity *out);

/* One device's part of a bundle. */
struct store_device_bundle {
    uint32_t device;
    long long spk_id;
    unsigned char spk_public[32];
    unsigned char spk_signature[64];
    int has_one_time;                  /* one_time holds a one-time prekey, taken */
    struct store_prekey one_time;
    long long one_time_left;           /* when take_one_time: the device's one-time prekeys left */
    int has_kem;                       /* kem holds a KEM prekey record (docs/PROTOCOL.md 15) */
    int kem_one_time;                  /* ... a one-time one, taken (else the last-resort one) */
    unsigned char kem[STORE_KEM_RECORD];
    long long kem_left;                /* when take_one_time: one-time KEM prekeys left */
};

/*
 * Post-quantum KEM prekeys (docs/PROTOCOL.md 15): per device one last-resort record and up to
 * max_one_time one-time records, each STORE_KEM_RECORD bytes (u32 id || ML-KEM-1024 key ||
 * signature), checked by the caller against identity_key. Ids are unique per device across both
 * kinds. A new identity deletes every device's; a removed device's go with it.
 */
struct store_kem_upload {
    uint32_t device;
    unsigned char identity_key[32];   /* the key the records were checked with */
    const unsigned char *last_resort; /* STORE_KEM_RECORD bytes: replaces the stored one */
    const unsigned char *one_time;    /* n_one_time x STORE_KEM_RECORD: appended */
    size_t n_one_time;
    long long max_one_time;
};

/* Stores an upload in one transaction: STORE_OK with *count (the device's one-time KEM prekeys
 * now); STORE_NO_KEYS (no identity key), STORE_CONFLICT (the stored identity key is not
 * up->identity_key), STORE_NOT_LISTED (the account has a list without this device, or the device
 * is gone), STORE_FULL, STORE_DUPLICATE (an id is stored for the device) or STORE_ERROR, each
 * having stored nothing. */
int store_kem_upload(long long user_id, const struct store_kem_upload *up, long long *count);

/* The id of a KEM prekey record: its first 4 bytes, big-endian. */
uint32_t store_kem_record_id(const unsigned char *record);

/* The one-time KEM prekeys user_id's device has stored, or -1 on a database error. */
long long store_kem_count(long long user_id, uint32_t device);

/* A prekey bundle (GET /api/keys/{username}): the identity and each listed device's keys. */
struct store_bundle {
    struct store_identity identity;
    size_t n;
    struct store_device_bundle devices[STORE_DEVICES_LISTED_MAX]; /* ascending ids */
};

/*
 * The bundle of username, in one transaction (BEGIN IMMEDIATE) so that a one-time prekey is
 * never handed to two callers: the listed devices that have a signed prekey (device alone when
 * it is not 0); when take_one_time is non-zero, each one's one-time prekey with the lowest id is
 * deleted and handed over (has_one_time 0 when it has none left; one_time_left counts those that
 * remain), and likewise its one-time KEM prekey with the lowest id, else (and without
 * take_one_time) its last-resort KEM prekey (has_kem 0 when it has none). STORE_OK with *b
 * filled (b->n at least 1), STORE_NO_USER, STORE_NO_KEYS (no identity
 * key, or no listed device with keys), STORE_UNKNOWN_DEVICE (device is not listed) or STORE_ERROR
 * (then nothing was taken).
 */
int store_bundle_take(const char *username, uint32_t device, int take_one_time,
                      struct store_bundle *b);

/*
 * The mailbox.
 */

/* Per-recipient-device quota, both limits together. */
struct store_quota {
    long long max_count;
    long long max_bytes;
};

/* One envelope to store. result and id are filled by store_mail_put_batch. */
struct store_put {
    long long recipient_id;
    uint32_t recipient_device;
    const unsigned char *envelope;
    size_t len;
    long long expires_at; /* Unix seconds */
    int result;           /* enum store_result */
    long long id;         /* the new row's id when STORE_OK */
};

/*
 * Stores every put of puts[0..n) that fits its recipient device's quota, in one transaction. Returns
 * STORE_OK when the transaction committed (each put's result says whether it was stored or
 * refused with STORE_FULL), STORE_ERROR when it did not (every result is STORE_ERROR).
 */
int store_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota);

/* One acknowledgement: the recipient's device removes one of its envelopes. */
struct store_ack {
    long long recipient_id;
    uint32_t recipient_device;
    long long id;
};

/* Deletes the envelopes acks name that belong to the recipient device named with them (others are
 * ignored), in one transaction. STORE_OK or STORE_ERROR; *deleted counts the rows removed. */
int store_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted);

/* Called by store_mail_fetch for each envelope, in id order; the bytes are valid during the call.
 * Returns 0 to go on, non-zero to stop. */
typedef int (*store_mail_fn)(void *arg, long long id, const unsigned char *envelope, size_t len);

/*
 * Hands fn the envelopes of the recipient's device with an id above after_id that have not
 * expired at now, in id order, at most max_count of them and, after the first, at most max_bytes
 * together. Returns how many were handed over, or -1 on a database error.
 */
int store_mail_fetch(long long recipient_id, uint32_t device, long long after_id, long long now,
                     size_t max_count, size_t max_bytes, store_mail_fn fn, void *arg);

/* Deletes every envelope that expired at or before now. The number deleted, or -1. */
long long store_mail_sweep(long long now);

/* The waiting envelopes of the recipient's device and their bytes (expired ones included until
 * swept). */
int store_mail_usage(long long recipient_id, uint32_t device, long long *count, long long *bytes);

/*
 * Opening and closing. store_open opens database: empty for SQLite in data_dir (parley.db,
 * db.c), else a postgres:// URL (store_pg*.c), migrating the schema either way. 0, or -1 with
 * err set (never the URL, which may hold a password). store_shutdown closes what it opened.
 */
int store_open(const char *database, const char *data_dir, char *err, size_t errlen);
void store_shutdown(void);

/*
 * Throttles that hold across the instances sharing a database: takes one token from the bucket
 * key (at most 64 bytes; callers pass a keyed hash, never an address or a name in clear) that
 * holds up to burst tokens and gains per_second a second, by the database's clock. 0 allowed,
 * else the seconds to wait (>= 1); -1 a database error; STORE_THROTTLE_LOCAL when the engine is
 * one instance's alone (SQLite), whose callers throttle in memory.
 */
#define STORE_THROTTLE_LOCAL (-2)
int store_throttle_take(const char *key, double burst, double per_second);

/* "sqlite" or "postgres". */
const char *store_engine_name(void);

/* 1 when the database answers now, 0 not (health checks). */
int store_ping(void);

#endif
