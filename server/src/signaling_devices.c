/*
 * Signaling of an account's devices (docs/API.md "Devices"): which connected devices presence
 * shows, what follows a change of the device list (devices-changed, removed devices closed with
 * 4403), and messages for one device (prekeys-low).
 */
#include "client.h"

#include "bus.h"
#include "mailbox.h"
#include "presence.h"
#include "signaling.h"
#include "store.h"
#include "wsloop.h"

#include <stdio.h>
#include <string.h>

void signaling_prekeys_low(const char *username, uint32_t device)
{
    signaling_prekeys_low_here(username, device);
    if (bus_remote_has(username, device, 0)) {
        bus_notice(BUS_NOTICE_PREKEYS, username, &device, 1);
    }
}

void signaling_prekeys_low_here(const char *username, uint32_t device)
{
    static const char text[] = "{\"type\":\"prekeys-low\"}";
    struct client *peers[CLIENT_USER_MAX];
    size_t n = client_hold_user(username, device, 0, peers);

    for (size_t i = 0; i < n; i++) {
        (void)ws_send(peers[i]->ws, WS_OP_TEXT, text, sizeof text - 1);
        client_release(peers[i]);
    }
}

/* The ids of user's listed devices that are connected, ascending, into ids; reg_lock held. */
static size_t connected_listed(const char *user, uint32_t ids[CLIENT_USER_MAX])
{
    size_t n = 0;

    for (struct client *c = client_chain(user); c != NULL && n < CLIENT_USER_MAX; c = c->hnext) {
        if (c->listed && !c->closing && strcmp(c->user, user) == 0) {
            size_t at = n++;
            while (at > 0 && ids[at - 1] > c->device) {
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = c->device;
        }
    }
    return n;
}

/* Every registered connection of user here, ascending by device, for the bus; reg_lock held. */
static size_t connected_all(const char *user, struct bus_device out[CLIENT_USER_MAX])
{
    size_t n = 0;

    for (struct client *c = client_chain(user); c != NULL && n < CLIENT_USER_MAX; c = c->hnext) {
        if (!c->closing && strcmp(c->user, user) == 0) {
            size_t at = n++;
            while (at > 0 && out[at - 1].id > c->device) {
                out[at] = out[at - 1];
                at--;
            }
            out[at].id = c->device;
            out[at].listed = c->listed != 0;
            out[at].since = (uint64_t)c->authed_ms;
        }
    }
    return n;
}

void client_presence_update(const char *user, int has_settings, const unsigned char *cap_hash,
                            int visible)
{
    uint32_t ids[CLIENT_USER_MAX];
    size_t n = connected_listed(user, ids);
    unsigned char remote_hash[PRESENCE_HASH_BYTES];
    int remote_settings = 0;
    int remote_cap = 0;
    int remote_visible = 0;

    _Static_assert(CLIENT_USER_MAX == BUS_DEVICES_MAX, "one device list size");
    bus_remote_devices(user, ids, &n, &remote_settings, remote_hash, &remote_cap,
                       &remote_visible);
    /* Settings that changed anywhere reached this instance's presence (every instance hears
     * them): those announced with remote devices serve only when presence has none yet. */
    if (!has_settings && remote_settings && !presence_known(user)) {
        has_settings = 1;
        cap_hash = remote_cap ? remote_hash : NULL;
        visible = remote_visible;
    }
    if (has_settings && n > 0) {
        presence_online(user, cap_hash, visible, ids, n);
    } else {
        presence_devices(user, ids, n);
    }
}

void client_publish_devices(const char *user, int has_settings, const unsigned char *cap_hash,
                            int visible)
{
    if (bus_enabled()) {
        struct bus_device devs[CLIENT_USER_MAX];
        size_t n = connected_all(user, devs);
        bus_local_user(user, devs, n, has_settings, cap_hash, visible);
    }
    client_presence_update(user, has_settings, cap_hash, visible);
}

void signaling_devices_removed(const char *username, const uint32_t *ids, size_t n)
{
    uint32_t some[BUS_DEVICES_MAX];
    size_t k = 0;

    signaling_devices_removed_here(username, ids, n);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] != 0) {
            some[k++] = ids[i];
        }
        if (k == BUS_DEVICES_MAX || (k > 0 && i + 1 == n)) {
            bus_notice(BUS_NOTICE_REMOVED, username, some, k);
            k = 0;
        }
    }
}

void signaling_devices_removed_here(const char *username, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] != 0) {
            client_close_matching(username, ids[i], WS_CLOSE_DEVICE_REMOVED,
                           "this device was removed from the account", "device_removed");
        }
    }
}

int signaling_device_connected(const char *username, uint32_t device)
{
    struct client *c;
    int yes;

    client_registry_lock();
    c = client_find_device(username, device);
    yes = c != NULL && !c->closing;
    client_registry_unlock();
    return yes || bus_remote_has(username, device, 0);
}

void signaling_devices_changed(const char *username, uint32_t by)
{
    signaling_devices_changed_here(username, by);
    bus_notice(BUS_NOTICE_DEVICES, username, &by, 1);
}

void signaling_devices_changed_here(const char *username, uint32_t by)
{
    static const char fmt[] = "{\"type\":\"devices-changed\",\"user\":\"%s\"}";
    char text[sizeof fmt + USERNAME_MAX];
    uint32_t listed[STORE_DEVICES_KNOWN_MAX];
    size_t n_listed = 0;
    unsigned char cap_hash[PRESENCE_HASH_BYTES];
    int has_cap = 0;
    int visible = 0;
    struct client *peers[CLIENT_USER_MAX];
    size_t n;

    if (store_devices_listed(username, listed, &n_listed) != 0) {
        return; /* the connections keep what they knew: a reconnect reads it again */
    }
    if (store_presence_get(username, cap_hash, &has_cap, &visible) != 1) {
        has_cap = 0;
    }
    struct client *now_listed[CLIENT_USER_MAX];
    size_t n_now_listed = 0;

    client_registry_lock();
    for (struct client *c = client_chain(username); c != NULL; c = c->hnext) {
        if (strcmp(c->user, username) == 0) {
            int was = c->listed;
            c->listed = 0;
            for (size_t i = 0; i < n_listed; i++) {
                c->listed |= listed[i] == c->device;
            }
            if (c->listed && !was && !c->closing && n_now_listed < CLIENT_USER_MAX) {
                client_hold(c);
                now_listed[n_now_listed++] = c;
            }
        }
    }
    client_publish_devices(username, 1, has_cap ? cap_hash : NULL, visible);
    client_registry_unlock();
    /* A device listed now has a mailbox from now on (docs/API.md "Mailbox"). */
    for (size_t i = 0; i < n_now_listed; i++) {
        mailbox_online(now_listed[i]->user, now_listed[i]->device, now_listed[i]->cid);
        client_release(now_listed[i]);
    }
    presence_notice(username, "devices-changed");
    snprintf(text, sizeof text, fmt, username);
    n = client_hold_user(username, 0, 0, peers);
    for (size_t i = 0; i < n; i++) {
        if (peers[i]->device != by) {
            (void)ws_send(peers[i]->ws, WS_OP_TEXT, text, strlen(text));
        }
        client_release(peers[i]);
    }
}

