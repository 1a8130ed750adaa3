/*
 * WebSocket signaling at GET /ws. The page authenticates with its first message
 * {"type":"auth","token":...} as a user's device; afterwards messages {type, to[, toDevice], ...}
 * are relayed to the recipient's connections (one device's, or every listed device's) with
 * "from" and "fromDevice" set by the server, presence is published to subscribers, and identity
 * and device changes are announced. One connection per device: a newer one replaces the older
 * (closed with 4409). Message shapes, limits and close codes are in docs/API.md.
 */
#ifndef PARLEY_SERVER_SIGNALING_H
#define PARLEY_SERVER_SIGNALING_H

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

/* server/civetweb/detach.inc, appended to Civetweb by scripts/deps.sh. */
int mg_parley_detach(struct mg_connection *conn, int *fd, void **ssl, char *pending,
                     size_t pending_max, size_t *pending_len);
void mg_parley_refuse(struct mg_connection *conn, const char *response, size_t len);
const char *mg_parley_remote_addr(const struct mg_connection *conn);

/* A mail-put carries an envelope of up to 64 KiB in base64url (87,382 characters). */
#define WS_FRAME_MAX 98304
#define WS_AUTH_TIMEOUT 5
#define WS_RATE 50.0
#define WS_BURST 100.0
#define WS_ABUSE_FACTOR 3
#define WS_ABUSE_SECONDS 3
#define WS_SUBSCRIBE_MAX 256
#define WS_ORIGINS_MAX 10
#define WS_CLOSE_GRACE 5.0 /* seconds to wait for the client's close frame */
#define WS_SHUTDOWN_WAIT 2.0 /* seconds shutdown waits for clients to answer its close frames */

#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_TRY_LATER 1013
#define WS_CLOSE_UNAUTHORIZED 4401
#define WS_CLOSE_DEVICE_REMOVED 4403
#define WS_CLOSE_REPLACED 4409
#define WS_CLOSE_ACCOUNT_DELETED 4410

/* 1 when type may be relayed: ^[a-z][a-z0-9-]{0,31}$ and not reserved by the server. */
int signaling_type_relayable(const char *type);

/* Allowed Origin values (copied), the connection cap, the number of event loops serving the
 * connections (wsloop.h), and the mailbox's settings (mailbox.h). Starts them, the mailbox thread and the auth watchdog. 0 or -1. */
struct mailbox_config;
/* Whether the request's Origin may open the WebSocket: one of the allowed origins, or (no
 * --origin given) the page's own Host (cors.c). */
int signaling_origin_allowed(const struct mg_connection *conn);

int signaling_init(const char *const *allowed, int n_allowed, int max_connections, int io_threads,
                   const struct mailbox_config *mail);

/* 1 when a close frame may carry code (RFC 6455 7.4: 1000-1003, 1007-1014, 3000-4999). */
int signaling_close_code_valid(int code);

/* Registers the /ws handlers on ctx. */
void signaling_register(struct mg_context *ctx);

/* Closes what is still open, stops the event loops and the watchdog (call after mg_stop). */
void signaling_shutdown(void);

/* Closes the connection of username's device with 4401 "session revoked" (after a logout), or
 * every connection of username when device is 0 (after a password change). */
void signaling_revoked(const char *username, uint32_t device);

/* username's account was deleted: each of its connections is sent an error account_deleted and
 * closed with 4410 "account deleted". */
void signaling_deleted(const char *username);

/* ids[0..n) of username were removed: their connections are sent an error device_removed and
 * closed with 4403. */
void signaling_devices_removed(const char *username, const uint32_t *ids, size_t n);

/* username's device list changed (uploaded by device by, 0 for none): its connections learn
 * which are listed, presence shows the listed ones, and the subscribers of username's presence
 * and its other devices are sent {"type":"devices-changed","user":username}. */
void signaling_devices_changed(const char *username, uint32_t by);

/* 1 when username's device has a connection. */
int signaling_device_connected(const char *username, uint32_t device);

/* Closes every connection with 1001 "server shutting down" (call before mg_stop). */
void signaling_close_all(void);

/* Tells the connection of username's device, if any, that its one-time prekeys are running low. */
void signaling_prekeys_low(const char *username, uint32_t device);

/* Tells the subscribers of username's presence that its identity key changed. */
void signaling_identity_changed(const char *username);

/* The same four for this instance's connections alone (what the instance bus brings from
 * another instance: the public ones above also tell the others). */
void signaling_devices_changed_here(const char *username, uint32_t by);
void signaling_devices_removed_here(const char *username, const uint32_t *ids, size_t n);
void signaling_prekeys_low_here(const char *username, uint32_t device);

/* Joins the instance bus at url (bus.h, signaling_bus.c). 0 or -1. */
int signaling_bus_start(const char *url);

#endif
