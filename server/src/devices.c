#include "devices.h"

#include "accounts.h"
#include "api.h"
#include "devlist.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(DEVLIST_BYTES_MAX == STORE_DEVICE_LIST_MAX &&
                   DEVLIST_LISTED_MAX == STORE_DEVICES_LISTED_MAX &&
                   DEVLIST_ID_MAX == STORE_DEVICE_ID_MAX,
               "the store keeps what a device list holds");

static struct devices_hooks hooks;

void devices_set_hooks(const struct devices_hooks *h)
{
    hooks = *h;
}

void devices_after_change(const char *username, uint32_t by, const uint32_t *removed,
                          size_t n_removed, int list_changed)
{
    if (n_removed > 0 && hooks.removed != NULL) {
        hooks.removed(username, removed, n_removed);
    }
    if ((list_changed || n_removed > 0) && hooks.changed != NULL) {
        hooks.changed(username, by);
    }
}

/* PUT /api/devices {"list": B64}: docs/API.md "Devices". */
int devices_put(struct mg_connection *conn)
{
    struct account acc;
    struct store_identity id;
    struct store_devices_put put;
    struct devlist opened;
    unsigned char list[DEVLIST_BYTES_MAX];
    size_t len = 0;
    uint32_t removed[STORE_DEVICES_KNOWN_MAX];
    size_t n_removed = 0;
    cJSON *body = NULL;
    cJSON *obj;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 ||
        (rc = api_read_json(conn, DEVLIST_BODY_MAX, &body)) != 0) {
        return rc;
    }
    rc = devlist_body(body, list, &len);
    cJSON_Delete(body);
    if (rc != 0) {
        return http_send_error(conn, 400, "invalid_device_list",
                               "list must be a signed device list (at most 622 bytes) in "
                               "base64url without padding");
    }
    switch (store_identity_get(acc.username, &id)) {
    case STORE_OK:
        break;
    case STORE_NO_KEYS:
    case STORE_NO_USER:
        return http_send_error(conn, 409, "no_keys",
                               "upload an identity key (PUT /api/keys) before a device list");
    default:
        return http_send_error(conn, 500, "internal", "the keys could not be read");
    }
    switch (devlist_open(id.key, list, len, &opened)) {
    case DEVLIST_OK:
        break;
    case DEVLIST_BAD_SIGNATURE:
        return http_send_error(conn, 400, "bad_signature",
                               "the device list is not signed by the account's identity key");
    default:
        return http_send_error(conn, 400, "invalid_device_list",
                               "not a version 1 device list (docs/PROTOCOL.md 14.1)");
    }
    memset(&put, 0, sizeof put);
    memcpy(put.identity_key, id.key, sizeof put.identity_key);
    put.list = list;
    put.len = len;
    put.generation = opened.generation;
    put.ids = opened.ids;
    put.n = opened.n;
    put.uploader = acc.device;
    switch (store_devices_put(acc.id, &put, (long long)time(NULL), removed, &n_removed)) {
    case STORE_OK:
        break;
    case STORE_NO_KEYS:
        return http_send_error(conn, 409, "no_keys",
                               "upload an identity key (PUT /api/keys) before a device list");
    case STORE_CONFLICT:
        return http_send_error(conn, 409, "identity_conflict",
                               "the identity key was replaced meanwhile; sign the list with the "
                               "new one");
    case STORE_STALE:
        return http_send_error(conn, 409, "stale_generation",
                               "the list's generation must be larger than the stored list's");
    case STORE_UNKNOWN_DEVICE:
        return http_send_error(conn, 400, "unknown_device",
                               "the list names a device that has not logged in to this account, "
                               "or was removed");
    case STORE_NOT_LISTED:
        return http_send_error(conn, 400, "device_not_listed",
                               "the device uploading a list must be in it");
    default:
        return http_send_error(conn, 500, "internal", "the device list could not be stored");
    }
    log_msg(LOG_INFO, "devices: %s (device %u) stored list generation %u: %zu devices, %zu removed",
            acc.username, (unsigned)acc.device, (unsigned)opened.generation, opened.n, n_removed);
    devices_after_change(acc.username, acc.device, removed, n_removed, 1);
    obj = cJSON_CreateObject();
    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "generation", (double)opened.generation);
    }
    return api_send_object(conn, 200, obj);
}

/* GET /api/devices: {"list","generation","devices":[{device,listed,lastSeen,connected,current}]}. */
int devices_get(struct mg_connection *conn)
{
    struct account acc;
    struct store_devices *devs;
    cJSON *obj;
    cJSON *arr;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0) {
        return rc;
    }
    devs = calloc(1, sizeof *devs);
    if (devs == NULL) {
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    if (store_devices_get(acc.id, (long long)time(NULL), devs) != STORE_OK) {
        free(devs);
        return http_send_error(conn, 500, "internal", "the devices could not be read");
    }
    obj = cJSON_CreateObject();
    arr = cJSON_CreateArray();
    if (obj == NULL || arr == NULL) {
        cJSON_Delete(obj);
        cJSON_Delete(arr);
        free(devs);
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    keys_add_list(obj, "list", devs->list, devs->list_len);
    cJSON_AddNumberToObject(obj, "generation", (double)devs->generation);
    cJSON_AddItemToObject(obj, "devices", arr);
    for (size_t i = 0; i < devs->n; i++) {
        const struct store_device *d = &devs->d[i];
        cJSON *item = cJSON_CreateObject();
        if (item == NULL) {
            cJSON_Delete(obj);
            free(devs);
            return http_send_error(conn, 500, "internal", "out of memory");
        }
        cJSON_AddNumberToObject(item, "device", (double)d->id);
        cJSON_AddBoolToObject(item, "listed", d->listed);
        cJSON_AddNumberToObject(item, "lastSeen", (double)d->last_seen);
        cJSON_AddBoolToObject(item, "connected",
                              hooks.connected != NULL && hooks.connected(acc.username, d->id));
        cJSON_AddBoolToObject(item, "current", d->id == acc.device);
        cJSON_AddItemToArray(arr, item);
    }
    free(devs);
    return api_send_object(conn, 200, obj);
}
