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
#include <stddef.h>

struct ws;

struct client {
    struct ws *ws;
    unsigned long long cid; /* a number no other connection of this run has */
    char user[USERNAME_MAX + 1];
    char addr[48];
    int authed;
    int registered; /* in the list of authenticated users (not replaced) */
    int closing;    /* a close frame was sent: later messages are dropped */
    int refs;       /* other threads writing to ws right now */
    double connected_at;
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

/* The open connection of user, held (client_release() it when done), or NULL. */
struct client *client_hold_user(const char *user);
void client_release(struct client *c);

/* Sends a close frame (code, reason) and drops what the client sends until it answers; 1. */
int client_close_with(struct client *c, int code, const char *reason);

/* The auth message: authenticates c or refuses it (closing it); 1. */
int client_authenticate(struct client *c, const cJSON *msg, const cJSON *ref);

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
