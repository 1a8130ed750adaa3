/*
 * An account's devices over HTTP (docs/API.md "Devices"): PUT /api/devices stores a device list
 * signed by the account's identity key (opened with the crypto core's parser, devlist.h), which
 * lists new devices and removes those it leaves out; GET /api/devices shows the list and the
 * devices. After any change (here, or an identity reset in keys.c) the signaling side is told
 * through hooks, so that removed devices lose their connections and the rest hear of it.
 */
#ifndef PARLEY_SERVER_DEVICES_H
#define PARLEY_SERVER_DEVICES_H

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

struct devices_hooks {
    /* ids[0..n) of username were removed: their connections get device_removed and close 4403. */
    void (*removed)(const char *username, const uint32_t *ids, size_t n);
    /* username's devices changed (by device `by`, 0 when none uploaded): connections learn which
     * devices are listed now; presence watchers and the user's other devices are told. */
    void (*changed)(const char *username, uint32_t by);
    /* 1 when username's device has a connection. */
    int (*connected)(const char *username, uint32_t device);
};

/* Sets the hooks (at start, before serving). */
void devices_set_hooks(const struct devices_hooks *hooks);

/* After a change of username's devices made by device by: removed[0..n_removed) were removed;
 * list_changed when the account's list changed. Calls the hooks (outside any lock). */
void devices_after_change(const char *username, uint32_t by, const uint32_t *removed,
                          size_t n_removed, int list_changed);

int devices_put(struct mg_connection *conn);
int devices_get(struct mg_connection *conn);

#endif
