/*
 * The instance bus (--bus redis://HOST:PORT[/DB]; docs/PROTOCOL.md 19, docs/SCALING.md): several
 * parley-server instances behind one load balancer, on one PostgreSQL database, hand each other
 * what concerns users connected elsewhere through Redis publish/subscribe (hiredis).
 *
 * Each instance has a random id and listens on two channels: the broadcast channel, where every
 * instance announces which devices of which users it holds (one USER message per change), that
 * it is alive (ALIVE every BUS_ALIVE_EVERY s) and account events (NOTICE), and its own channel,
 * where the others send it relayed messages (RELAY), server messages for one device (DELIVER)
 * and mail wake-ups. From the announcements every instance keeps in memory where each user is
 * connected (the remote table), so that relaying decides locally, without a Redis round trip,
 * whether a recipient is online and which instances to publish to: one PUBLISH per instance
 * that holds the recipient.
 *
 * Two threads own the two Redis connections: the subscriber reads and acts at once (the
 * signaling functions it calls are thread-safe: ws_send may be called from any thread), the
 * publisher drains a bounded queue (BUS_QUEUE_BYTES_MAX) that the event loops fill without
 * waiting. Either connection that fails is reconnected with exponential backoff
 * (BUS_BACKOFF_MIN_MS doubling up to BUS_BACKOFF_MAX_MS). While the bus is down the instance
 * serves its own users alone: the remote table is emptied (others' users look offline), what
 * is queued is dropped, and /healthz says "degraded"; once both connections are back the
 * instance asks everyone to announce again (SYNC) and announces its own users. An instance not
 * heard from for BUS_DEAD_AFTER seconds (killed, cut off) is forgotten.
 */
#ifndef PARLEY_SERVER_BUS_H
#define PARLEY_SERVER_BUS_H

#include "bus_wire.h"

#include <stddef.h>
#include <stdint.h>

#define BUS_URL_MAX 256
#define BUS_ALIVE_EVERY 0.5   /* seconds between ALIVE messages */
#define BUS_DEAD_AFTER 3.0    /* seconds of silence after which an instance is forgotten */
#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 2000
#define BUS_CONNECT_TIMEOUT_MS 1000
/* Bytes waiting to be published; beyond it messages are dropped (and counted). */
#define BUS_QUEUE_BYTES_MAX ((size_t)64 * 1024 * 1024)
/* PUBLISH commands sent before their replies are read. */
#define BUS_PIPELINE_MAX 256
/* Other instances known at once, and users connected elsewhere kept in the remote table. */
#define BUS_INSTANCES_MAX 64
#define BUS_REMOTE_MAX 4000000

/* What the subscriber does with what arrives (signaling_bus.c). Each runs on the bus thread. */
struct bus_handlers {
    /* user's devices elsewhere changed (after the remote table was updated): presence, and a
     * local connection older than one of m's devices closed with 4409. m NULL: the instance
     * holding them was forgotten. */
    void (*user)(const char *user, const struct bus_msg *m);
    void (*relay)(const struct bus_msg *m);
    void (*deliver)(const struct bus_msg *m);
    void (*notice)(const struct bus_msg *m);
};

/* 1 when url is redis://HOST:PORT[/DB]: HOST an IPv4 address, a bracketed IPv6 address or a DNS
 * name, PORT 1..65535, DB 0..15, shorter than BUS_URL_MAX. */
int bus_url_valid(const char *url);

/* Starts the bus threads for url (validated). 0 or -1. Without a call the bus is off: every
 * other function does nothing. */
int bus_start(const char *url, const struct bus_handlers *h);

/* Says goodbye (BYE), stops the threads, frees the tables. */
void bus_stop(void);

/* 1 when a bus is configured. */
int bus_enabled(void);

/* 1 when both connections are up and subscribed. */
int bus_up(void);

/* This instance holds devs[0..n) (ascending) of user now; settings when has_settings (cap_hash
 * NULL: none). Announced to the others (n 0: none any more). */
void bus_local_user(const char *user, const struct bus_device *devs, size_t n, int has_settings,
                    const unsigned char *cap_hash, int visible);

/* user's presence settings changed here: announced with its devices (when it has some here). */
void bus_local_settings(const char *user, const unsigned char *cap_hash, int visible);

/* The listed device ids of user connected at other instances, ascending and without repeats,
 * merged into ids[0..*n) (room for BUS_DEVICES_MAX); the settings announced last with them
 * into *has_settings (cap_hash, *has_cap, *visible) when any. */
void bus_remote_devices(const char *user, uint32_t ids[BUS_DEVICES_MAX], size_t *n,
                        int *has_settings, unsigned char cap_hash[BUS_HASH_BYTES], int *has_cap,
                        int *visible);

/* 1 when a device of user (device's alone when not 0; listed ones only when only_listed) is
 * connected at another instance. */
int bus_remote_has(const char *user, uint32_t device, int only_listed);

/* Sends a relayed text to every other instance holding a matching device of m->user (m: kind,
 * sender, sender_device, user, device, flags, ref, text). Returns how many instances it was
 * queued for. */
int bus_relay(struct bus_msg *m);

/* A server message text for user's device connected at instance `to`. */
void bus_deliver(const unsigned char to[BUS_ID_BYTES], const char *user, uint32_t device,
                 const char *text, size_t len);

/* Tells every other instance of an event about user (bus_notice_what, ids[0..n)). */
void bus_notice(int what, const char *user, const uint32_t *ids, size_t n);

/* New mail for user's device: the instance holding it (if another) wakes its mailbox. */
void bus_mail(const char *user, uint32_t device);

/* 1 when id is greater than this instance's (which of two connections made in the same
 * millisecond wins). */
int bus_id_greater(const unsigned char id[BUS_ID_BYTES]);

/* Messages dropped so far because the queue was full or the bus down (for the log and tests). */
unsigned long long bus_dropped(void);

#endif
