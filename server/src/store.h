/*
 * The storage interface: everything the server keeps at rest, behind one set of functions so
 * that a second database engine can stand in for SQLite (store_sqlite*.c) by implementing this
 * header, without touching the code that serves requests. Behind it: accounts (username,
 * password hash, token generation), presence settings, the key directory (identity key, signed
 * prekey, one-time prekeys) and the mailbox. SQL and the engine's types stay in the
 * implementation (and db.c, which opens and migrates the SQLite database).
 *
 * Any thread may call any function (on SQLite they take turns on one connection behind
 * db_lock()). Whatever a function changes, it changes atomically: writes to more than one row
 * are one transaction, committed durably before the function returns (SQLite: synchronous=FULL),
 * so what it reports as stored survives kill -9 and power loss, and what it refuses or fails
 * leaves nothing behind. Slow work (password hashing) is done by the callers, never inside.
 *
 * The mailbox holds sealed envelopes (docs/PROTOCOL.md 13) for a recipient: the row knows its
 * recipient, its size and when it expires, never its sender.
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
    STORE_ERROR = -1     /* the database failed: nothing was stored */
};

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
 * Creates the user with its skeleton and token generation 0, stamped with the current time,
 * checking both in the same step (sign-ups racing for alice and a1ice: one wins). STORE_OK,
 * STORE_TAKEN (the username exists), STORE_LOOKALIKE (another account holds the skeleton) or
 * STORE_ERROR.
 */
int store_user_create(const char *username, const char *skeleton, const char *pwhash);

/*
 * Revokes every token of user_id: its token generation goes up by one, and its password hash
 * becomes new_pwhash when that is not NULL, in one statement. 0 with the new generation in
 * *token_gen (left as it was when no user has that id), -1 a database error.
 */
int store_user_revoke(long long user_id, const char *new_pwhash, long long *token_gen);

/*
 * Presence settings of a user: the SHA-256 of the capability its contacts present to see it
 * (none: nobody does) and whether it shows its presence at all. store_presence_get: 1 with the
 * values filled, 0 no such user, -1 a database error. store_presence_set: 0, 1 no such user, -1.
 */
int store_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible);
int store_presence_set(const char *username, const unsigned char *cap_hash, int visible);

/*
 * The key directory. Each user has at most one identity key (32-byte Ed25519) with its counter
 * (1 for the first, +1 at each replacement) and the time it was last set, one signed prekey, and
 * one-time prekeys (ids unique per user), each handed out once.
 */

/* A prekey: its id and its 32-byte X25519 public key. */
struct store_prekey {
    uint32_t id;
    unsigned char public_key[32];
};

/* An upload (PUT /api/keys), checked by the caller (the signature verifies, ids are unique
 * within one_time). */
struct store_keys_upload {
    unsigned char identity_key[32];
    struct store_prekey signed_prekey;
    unsigned char signature[64];
    const struct store_prekey *one_time;
    size_t n_one_time;
    int reset_identity;      /* a different identity key may replace the stored one */
    long long max_one_time;  /* the most one-time prekeys a user may have stored */
};

/* What an upload left stored. */
struct store_keys_stored {
    long long identity_counter;
    long long identity_changed_at; /* Unix seconds */
    long long one_time_count;      /* one-time prekeys stored, the new ones included */
    int identity_replaced;         /* a different identity key was replaced */
};

/*
 * Stores an upload for user_id, in one transaction (BEGIN IMMEDIATE): the identity key (set at
 * the first upload, counter 1; the same key again changes nothing about it; a different one
 * only with reset_identity, and then every stored one-time prekey is deleted, the counter goes
 * up by one and the time becomes now), the signed prekey (replaced), and the one-time prekeys
 * (appended). STORE_OK with *out filled; STORE_CONFLICT (a different identity key and no
 * reset_identity), STORE_FULL (more than max_one_time would be stored), STORE_DUPLICATE (an id is
 * already stored) or STORE_ERROR, each having stored nothing.
 */
int store_keys_upload(long long user_id, const struct store_keys_upload *up,
                      struct store_keys_stored *out);

/* The one-time prekeys user_id has stored, or -1 on a database error. */
long long store_keys_count(long long user_id);

/* A user's identity key, its counter and when it was set. */
struct store_identity {
    unsigned char key[32];
    long long counter;
    long long changed_at; /* Unix seconds */
};

/* The identity of username, consuming nothing. STORE_OK with *out filled, STORE_NO_USER,
 * STORE_NO_KEYS or STORE_ERROR. */
int store_identity_get(const char *username, struct store_identity *out);

/* A prekey bundle (GET /api/keys/{username}). */
struct store_bundle {
    struct store_identity identity;
    long long spk_id;
    unsigned char spk_public[32];
    unsigned char spk_signature[64];
    int has_one_time;                  /* one_time holds a one-time prekey, taken */
    struct store_prekey one_time;
    long long one_time_left;           /* when take_one_time: the one-time prekeys left */
};

/*
 * The bundle of username, in one transaction (BEGIN IMMEDIATE) so that a one-time prekey is
 * never handed to two callers: when take_one_time is non-zero, the one-time prekey with the
 * lowest id is deleted and handed over (has_one_time 0 when none is left; one_time_left counts
 * those that remain). STORE_OK with *b filled, STORE_NO_USER, STORE_NO_KEYS or STORE_ERROR (then
 * nothing was taken).
 */
int store_bundle_take(const char *username, int take_one_time, struct store_bundle *b);

/*
 * The mailbox.
 */

/* Per-recipient quota, both limits together. */
struct store_quota {
    long long max_count;
    long long max_bytes;
};

/* One envelope to store. result and id are filled by store_mail_put_batch. */
struct store_put {
    long long recipient_id;
    const unsigned char *envelope;
    size_t len;
    long long expires_at; /* Unix seconds */
    int result;           /* enum store_result */
    long long id;         /* the new row's id when STORE_OK */
};

/*
 * Stores every put of puts[0..n) that fits its recipient's quota, in one transaction. Returns
 * STORE_OK when the transaction committed (each put's result says whether it was stored or
 * refused with STORE_FULL), STORE_ERROR when it did not (every result is STORE_ERROR).
 */
int store_mail_put_batch(struct store_put *puts, size_t n, const struct store_quota *quota);

/* One acknowledgement: the recipient removes one of its envelopes. */
struct store_ack {
    long long recipient_id;
    long long id;
};

/* Deletes the envelopes acks name that belong to the recipient named with them (others are
 * ignored), in one transaction. STORE_OK or STORE_ERROR; *deleted counts the rows removed. */
int store_mail_ack_batch(const struct store_ack *acks, size_t n, size_t *deleted);

/* Called by store_mail_fetch for each envelope, in id order; the bytes are valid during the call.
 * Returns 0 to go on, non-zero to stop. */
typedef int (*store_mail_fn)(void *arg, long long id, const unsigned char *envelope, size_t len);

/*
 * Hands fn the recipient's envelopes with an id above after_id that have not expired at now, in
 * id order, at most max_count of them and, after the first, at most max_bytes together. Returns
 * how many were handed over, or -1 on a database error.
 */
int store_mail_fetch(long long recipient_id, long long after_id, long long now, size_t max_count,
                     size_t max_bytes, store_mail_fn fn, void *arg);

/* Deletes every envelope that expired at or before now. The number deleted, or -1. */
long long store_mail_sweep(long long now);

/* The recipient's waiting envelopes and their bytes (expired ones included until swept). */
int store_mail_usage(long long recipient_id, long long *count, long long *bytes);

/* Drops the statements the store keeps prepared (before db_close). */
void store_close(void);

#endif
