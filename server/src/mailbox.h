/*
 * The mailbox: sealed envelopes (docs/PROTOCOL.md 13) kept for a recipient's device until it
 * acknowledges them. Messages on the WebSocket (docs/API.md "Mailbox"):
 *
 *   {"type":"mail-put","to":NAME[,"device":N],"env":B64,"id":…}
 *                                                   ->  {"type":"mail-stored","ref":…} once the
 *                                                        row is durable, or an error
 *   server -> recipient: {"type":"mail","id":N,"env":B64}, every waiting envelope after it
 *                        authenticates and each new one at once, at most MAIL_WINDOW_COUNT /
 *                        MAIL_WINDOW_BYTES unacknowledged at a time
 *   {"type":"mail-ack","ids":[N,…]}  ->  deleted (ids that are not the recipient's are ignored)
 *
 * One thread does all mailbox work: the event loops only check a message's shape and queue it,
 * so they never wait for a disk flush. Envelopes that arrive together are stored in one
 * transaction (group commit): one fsync for the lot. The row holds the recipient, the envelope
 * and an expiry time, never the sender; the sender's name is used only in memory, to answer it.
 */
#ifndef PARLEY_SERVER_MAILBOX_H
#define PARLEY_SERVER_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Envelope sizes (docs/PROTOCOL.md 13: padded to these classes); the version byte 0x01. */
#define MAIL_ENVELOPE_MIN 512
#define MAIL_ENVELOPE_MAX 65536
#define MAIL_ENVELOPE_VERSION 0x01
/* Per recipient by default: waiting envelopes and their bytes together. */
#define MAIL_QUOTA_COUNT 5000
#define MAIL_QUOTA_MIB 32
/* How long an undelivered envelope is kept, by default and at most. */
#define MAIL_TTL_DEFAULT (30LL * 86400)
#define MAIL_TTL_MAX (365LL * 86400)
/* Unacknowledged envelopes in flight to one connection (count and bytes, at least one). */
#define MAIL_WINDOW_COUNT 64
#define MAIL_WINDOW_BYTES ((size_t)256 * 1024)
/* Envelopes per transaction, by default and at most; 1 commits each on its own. */
#define MAIL_BATCH_DEFAULT 512
#define MAIL_BATCH_MAX 4096
/* Envelope bytes queued for the mailbox thread; beyond it mail-put answers server_busy. */
#define MAIL_QUEUE_BYTES_MAX ((size_t)64 * 1024 * 1024)
/* Ids in one mail-ack. */
#define MAIL_ACK_IDS_MAX 256

/* Sends text to user's connection cid (0: whichever is current). 0 sent, -1 not connected. */
typedef int (*mailbox_send_fn)(const char *user, unsigned long long cid, const char *text,
                               size_t len);

struct mailbox_config {
    long long ttl;       /* seconds an envelope is kept, 1..MAIL_TTL_MAX */
    int batch;           /* envelopes per transaction, 1..MAIL_BATCH_MAX */
    long long quota;     /* envelopes waiting for one recipient */
    long long quota_mib; /* and their MiB */
};

/* Starts the mailbox thread. 0 or -1. */
int mailbox_init(const struct mailbox_config *cfg, mailbox_send_fn send);

/* Stores what is queued, then stops the thread. */
void mailbox_shutdown(void);

/* user's listed device (connection cid) authenticated, or was listed: its waiting envelopes are
 * delivered from the start. */
void mailbox_online(const char *user, uint32_t device, unsigned long long cid);

/* New mail for user's device was stored by another instance (bus.h): its box here looks again;
 * user NULL: every box. */
void mailbox_wake(const char *user, uint32_t device);

/* user's device's connection cid closed (or was replaced). */
void mailbox_offline(const char *user, uint32_t device, unsigned long long cid);

/*
 * A mail-put from user's device's connection cid. Checks its shape and queues it; the answer
 * (mail-stored or an error, with ref) comes from the mailbox thread. Returns NULL when queued,
 * else an error code to answer at once, with *message set.
 */
const char *mailbox_put(const char *user, uint32_t device, unsigned long long cid,
                        const struct cJSON *msg, const struct cJSON *ref, const char **message);

/* A mail-ack from user's device's connection cid. NULL when queued, else an error code and
 * *message. */
const char *mailbox_ack(const char *user, uint32_t device, unsigned long long cid,
                        const struct cJSON *msg, const char **message);

/* 1 when len is an envelope size class (MAIL_ENVELOPE_MIN * 4^k up to MAIL_ENVELOPE_MAX). */
int mailbox_size_class(size_t len);

#endif
