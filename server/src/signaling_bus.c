/*
 * What the instance bus (bus.h) brings, done on this instance's connections: devices of a user
 * connected elsewhere (presence shows the union; a local connection older than the same device
 * elsewhere is replaced, 4409), relayed messages and server messages for local devices, and
 * account events (identity and device-list changes, revoked sessions, removed devices,
 * prekeys-low, new mail). Runs on the bus's subscriber thread: everything it calls is
 * thread-safe, and it never waits for Redis.
 */
#include "client.h"

#include "bus.h"
#include "mailbox.h"
#include "presence.h"
#include "signaling.h"
#include "wsloop.h"

#include <stdio.h>
#include <string.h>

/* A local connection of user's device older than the same device's connection elsewhere (a
 * newer one replaces an older one; at the same millisecond the greater instance id wins). */
static void replace_older(const char *user, const struct bus_msg *m)
{
    for (size_t i = 0; i < m->n_devices; i++) {
        struct client *old;
        client_registry_lock();
        old = client_find_device(user, m->devices[i].id);
        if (old != NULL && (old->closing || (unsigned long long)old->authed_ms >
                                                  (unsigned long long)m->devices[i].since ||
                            ((unsigned long long)old->authed_ms == m->devices[i].since &&
                             bus_id_greater(m->from)))) {
            old = NULL;
        }
        if (old != NULL) {
            client_unregister(old);
            old->closing = 1;
            client_hold(old);
        }
        client_registry_unlock();
        if (old != NULL) {
            ws_close(old->ws, WS_CLOSE_REPLACED, "replaced by a newer connection");
            client_release(old);
        }
    }
}

static void on_user(const char *user, const struct bus_msg *m)
{
    if (m != NULL) {
        replace_older(user, m);
    }
    client_registry_lock();
    client_presence_update(user, m != NULL && (m->flags & BUS_USER_SETTINGS),
                           m != NULL && (m->flags & BUS_USER_HAS_CAP) ? m->cap_hash : NULL,
                           m != NULL && (m->flags & BUS_USER_VISIBLE));
    client_registry_unlock();
}

static void on_relay(const struct bus_msg *m)
{
    struct client *peers[CLIENT_USER_MAX];
    size_t n = client_hold_user(m->user, m->device, !(m->flags & BUS_RELAY_OWN), peers);

    if ((m->flags & BUS_RELAY_CHECK) && n > 0 && !presence_accepted(m->sender, m->user)) {
        /* Told to the sender, as its own instance would have told it. */
        static const char fmt[] =
            "{\"type\":\"error\",\"code\":\"not_accepted\",\"message\":\"they have not accepted "
            "a chat with you: only chat requests can be sent to them until they do\"%s%.*s}";
        char text[sizeof fmt + BUS_REF_MAX + 8];
        int len = snprintf(text, sizeof text, fmt, m->ref_len > 0 ? ",\"ref\":" : "",
                           (int)m->ref_len, m->ref_len > 0 ? m->ref : "");
        for (size_t i = 0; i < n; i++) {
            client_release(peers[i]);
        }
        if (len > 0 && (size_t)len < sizeof text) {
            bus_deliver(m->from, m->sender, m->sender_device, text, (size_t)len);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        (void)ws_relay(peers[i]->ws, m->text, m->text_len);
        client_release(peers[i]);
    }
}

static void on_deliver(const struct bus_msg *m)
{
    struct client *peers[CLIENT_USER_MAX];
    size_t n = client_hold_user(m->user, m->device, 0, peers);

    for (size_t i = 0; i < n; i++) {
        (void)ws_send(peers[i]->ws, WS_OP_TEXT, m->text, m->text_len);
        client_release(peers[i]);
    }
}

static void on_notice(const struct bus_msg *m)
{
    switch (m->what) {
    case BUS_NOTICE_IDENTITY:
        presence_notice(m->user, "identity-changed");
        break;
    case BUS_NOTICE_DEVICES:
        signaling_devices_changed_here(m->user, m->ids[0]);
        break;
    case BUS_NOTICE_REVOKED:
        client_close_matching(m->user, m->ids[0], WS_CLOSE_UNAUTHORIZED, "session revoked", NULL);
        break;
    case BUS_NOTICE_DELETED:
        client_close_matching(m->user, 0, WS_CLOSE_ACCOUNT_DELETED, "account deleted", "account_deleted");
        break;
    case BUS_NOTICE_REMOVED:
        signaling_devices_removed_here(m->user, m->ids, m->n_ids);
        break;
    case BUS_NOTICE_PREKEYS:
        signaling_prekeys_low_here(m->user, m->ids[0]);
        break;
    case BUS_NOTICE_MAIL:
        /* no user: after a reconnection to Redis, every mailbox looks again */
        mailbox_wake(m->user[0] != '\0' ? m->user : NULL, m->ids[0]);
        break;
    default:
        break;
    }
}

int signaling_bus_start(const char *url)
{
    static const struct bus_handlers h = {on_user, on_relay, on_deliver, on_notice};

    return bus_start(url, &h);
}
