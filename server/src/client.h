/*
 * One signaling connection's state, shared by signaling.c (the connection's life cycle, the
 * registry of users, authentication, limits and dispatch) and messages.c (what each message
 * type does once authenticated). Internal to those two files.
 */
#ifndef PARLEY_SERVER_CLIENT_H
#define PARLEY_SERVER_CLIENT_H

#include "accounts.h"
#include "ratelimit.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ws;

struct client {
    struct ws *ws;
    unsigned long long cid; /* a number no other connection of this run has */
    char user[USERNAME_MAX + 1];
    long long user_id;
    uint32_t device;  /* the device the connection authenticated as */
    atomic_int listed; /* the device is listed (set under reg_lock when the account's list
                        * changes): an unlisted one (being linked) talks to its own devices only */
    char addr[48];
    int authed;
    int registered; /* in the table of authenticated connections (not replaced, not removed) */
    int closing;    /* a close frame was sent: later messages are dropped */
    int refs;       /* other threads writing to ws right now */
    double connected_at;
    long long authed_ms; /* when it authenticated, ms since 1970 (bus.h: a newer one elsewhere
                          * replaces it) */
    struct rl_bucket bucket;
    double window_start;
    int window_msgs;
    int abusive_windows;
    int window_refused;  /* messages refused for their rate in this window */
    int window_controls; /* control frames in this window */
    int guarded;            /* counted by guard.h against its address */
    /* The last recipient found to have accepted this user, while presence's generation stays
     * (senders.c): a run of messages to one contact checks once. */
    char accepted_to[USERNAME_MAX + 1];
    unsigned accepted_gen;
    int accepted_valid;
    struct client *next;  /* list of every open connection */
    struct client *prev;
    struct client *hnext; /* chain of its bucket in the user table, while registered */
};

/* ---- signaling.c -------------------------------------------------------------------------- */

/* Sends obj as text (then deletes it). */
void client_write_object(struct ws *ws, cJSON *obj);

/* {"type":"error","code":...,"message":...,"ref":ref} */
void client_send_error(struct ws *ws, const char *code, const char *message, const cJSON *ref);

/* The same, with "retryAfter" (seconds) when retry_after > 0. */
void client_send_refusal(struct ws *ws, const char *code, const char *message, int retry_after,
                         const cJSON *ref);

/* The most connections one user has registered: one per device that is not removed. */
#define CLIENT_USER_MAX 16

/*
 * The open connections of user, held (client_release() each when done), into out[0..return):
 * device's alone when device is not 0; only those of listed devices when only_listed.
 */
size_t client_hold_user(const char *user, uint32_t device, int only_listed,
                        struct client *out[CLIENT_USER_MAX]);
void client_release(struct client *c);

/* The registry of connections and its lock: what follows runs with it held. */
void client_registry_lock(void);
void client_registry_unlock(void);

/* The chain of registered connections that holds user's (follow hnext, comparing user). */
struct client *client_chain(const char *user);

/* The registered connection of user's device, or NULL. */
struct client *client_find_device(const char *user, uint32_t device);

/* Takes c out of the user table (a replaced connection); registry lock held. */
void client_unregister(struct client *c);

/* Takes a reference on c (client_release() it, without the lock). */
void client_hold(struct client *c);

/* Closes (with code and reason, after an error code when error is not NULL; without the lock)
 * every connection matching: user's device's (user's when device is 0), or all when user is
 * NULL. */
void client_close_matching(const char *user, uint32_t device, int code, const char *reason,
                           const char *error);

/* Sends a close frame (code, reason) and drops what the client sends until it answers; 1. */
int client_close_with(struct client *c, int code, const char *reason);

/* The auth message: authenticates c or refuses it (closing it); 1. */
int client_authenticate(struct client *c, const cJSON *msg, const cJSON *ref);

/* ---- signaling_devices.c ------------------------------------------------------------------ */

/* Tells presence which of user's listed devices are connected now (with settings from the store
 * when has_settings); under the registry's lock, so that concurrent changes reach presence in
 * their order. */
void client_publish_devices(const char *user, int has_settings, const unsigned char *cap_hash,
                            int visible);

/* Tells presence user's listed devices connected here and at other instances (bus.h), with
 * these settings when has_settings (else those announced with the remote devices, or those
 * presence has); registry lock held. */
void client_presence_update(const char *user, int has_settings, const unsigned char *cap_hash,
                            int visible);

/* ---- dispatch.c --------------------------------------------------------------------------- */

/* Parses one text message of c's and hands it to its handler; 1 to go on, 0 to close. */
int client_dispatch(struct client *c, const char *data, size_t len);

/* ---- messages.c --------------------------------------------------------------------------- */

/* Each handles one authenticated message and returns 1 (the connection goes on). */
int messages_subscribe(struct client *c, const cJSON *msg, const cJSON *ref);
int messages_presence_settings(struct client *c, const cJSON *msg, const cJSON *ref);
int messages_get_bundle(struct client *c, const cJSON *msg, const cJSON *ref);
int messages_relay(struct client *c, cJSON *msg, const char *type, const cJSON *ref);

/* Whether c may mail the envelope of mail-put msg to its "to" (senders.h): NULL, or an error code
 * with *message and *retry_after. A "to" that is not a username is left to mailbox_put. */
const char *messages_mail_allowed(struct client *c, const cJSON *msg, const char **message,
                                  int *retry_after);

/* The common relay without a cJSON tree (relay.h): 1 relayed, 0 for the general path. */
int messages_relay_fast(struct client *c, const char *data, size_t len);

/* 1 when the top level of an object names a key twice, or has more than RELAY_KEYS_MAX keys. */
int messages_repeated_key(const cJSON *msg);

#endif
