/*
 * Presence, shown only to a user's contacts. A user hands its contacts a capability (32 random
 * bytes) inside the Double Ratchet and tells the server only its hash, HMAC-SHA256 keyed with
 * "parley-presence-cap-v1" (presence-settings);
 * a watcher subscribes with the capability itself. The server reports a user's state
 * ("online" / "offline") to a watcher whose capability hashes to the user's current hash while
 * the user shows its presence, and "unknown" to everyone else: a stranger learns nothing, and
 * with "Show when I'm online" off nobody does. The server keeps one hash per user and no list
 * of contacts; who watches whom lives in memory only, for as long as the connection.
 *
 * Watchers are indexed by the user they watch, so a change costs the number of its watchers.
 * Messages are sent under this module's lock, which is what keeps a watcher's connection alive
 * while it is written to: presence_unwatch (called before a connection is freed) waits for it.
 */
#ifndef PARLEY_SERVER_PRESENCE_H
#define PARLEY_SERVER_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#define PRESENCE_CAP_BYTES 32
/* Devices shown in a presence message, at most (a user's listed devices). */
#define PRESENCE_DEVICES_MAX 16
#define PRESENCE_HASH_BYTES 32
#define PRESENCE_CAP_CONTEXT "parley-presence-cap-v1"

struct ws;

/* One subscription: the watched user (canonical name) and the capability presented, if any. */
struct presence_watch {
    char user[33];
    int has_cap;
    unsigned char cap[PRESENCE_CAP_BYTES];
};

/* The hash tables (sized for max_connections). 0 or -1. */
int presence_init(int max_connections);
void presence_shutdown(void);

/* Replaces the subscriptions of connection ws (a connection of user watcher) and sends it one
 * presence message per user with what it may see now. */
void presence_watch(struct ws *ws, const char *watcher, const struct presence_watch *list, int n);

/* Drops every subscription of ws (before ws is freed). */
void presence_unwatch(struct ws *ws);

/* user is online with these settings (from the store), its listed devices devices[0..n) (n at
 * least 1, ascending) connected: a watcher who may see it is told when it came online, when the
 * set of devices changed, or when the settings let it see it now (a replaced connection is no
 * change). */
void presence_online(const char *user, const unsigned char *cap_hash, int visible,
                     const uint32_t *devices, size_t n);

/* user's listed devices connected now are devices[0..n) (ascending): n 0 is offline. Changes
 * are told as presence_online tells them (settings kept; none known: nobody sees it). */
void presence_devices(const char *user, const uint32_t *devices, size_t n);

/* 1 when user is online here with settings known (presence_online was told). */
int presence_known(const char *user);

/* user changed its settings (cap_hash NULL: no capability): watchers whose view changes are
 * told. */
void presence_settings(const char *user, const unsigned char *cap_hash, int visible);

/* Sends every watcher of user {"type":TYPE,"user":user}: "identity-changed" or
 * "devices-changed" (public knowledge: the directory answers anyone). */
void presence_notice(const char *user, const char *type);

/*
 * Whether recipient has accepted sender as a contact, as far as the server can tell without a
 * contact list: a connection of sender's watches recipient with recipient's current capability
 * (recipient handed it over inside the Double Ratchet), or a connection of recipient's watches
 * sender with sender's current one (which sender handed to recipient in its chat request, and
 * recipient presents once it has accepted). Nothing of it is stored: it lives with the
 * connections' subscriptions.
 */
int presence_accepted(const char *sender, const char *recipient);

/* A number that changes whenever presence_accepted's answer may have changed (a subscription,
 * a connection gone, a capability changed): a caller may keep an answer while it stays. */
unsigned presence_generation(void);

#endif
