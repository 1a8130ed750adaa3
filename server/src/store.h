/*
 * The storage interface: what the server keeps at rest, behind one set of functions so that a
 * second database engine can stand in for SQLite (store_sqlite.c) without touching the code
 * that serves requests.
 *
 * The mailbox holds sealed envelopes (docs/PROTOCOL.md 13) for a recipient: the row knows its
 * recipient, its size and when it expires, never its sender. Every function here runs its
 * statements under db_lock(); a batch is one transaction, committed with synchronous=FULL before
 * the function returns, so what it reports as stored survives kill -9 and power loss.
 */
#ifndef PARLEY_SERVER_STORE_H
#define PARLEY_SERVER_STORE_H

#include <stddef.h>

enum store_result {
    STORE_OK = 0,
    STORE_FULL = 1,   /* the recipient's mailbox is at its quota: nothing was stored */
    STORE_ERROR = -1  /* the database failed: nothing was stored */
};

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

/*
 * Presence settings of a user: the SHA-256 of the capability its contacts present to see it
 * (none: nobody does) and whether it shows its presence at all. store_presence_get: 1 with the
 * values filled, 0 no such user, -1 a database error. store_presence_set: 0, 1 no such user, -1.
 */
int store_presence_get(const char *username, unsigned char cap_hash[32], int *has_cap,
                       int *visible);
int store_presence_set(const char *username, const unsigned char *cap_hash, int visible);

/* Drops the statements the store keeps prepared (before db_close). */
void store_close(void);

#endif
