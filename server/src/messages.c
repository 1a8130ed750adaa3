/* What each signaling message does once its connection is authenticated: subscriptions and
 * presence settings, prekey bundles, and relaying to another user (docs/API.md). */
#include "client.h"

#include "accounts.h"
#include "b64.h"
#include "bus.h"
#include "devlist.h"
#include "json.h"
#include "keys.h"
#include "senders.h"
#include "presence.h"
#include "relay.h"
#include "signaling.h"
#include "store.h"
#include "wsloop.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reserved_types[] = {
    "auth", "ready", "error", "subscribe", "presence", "identity-changed", "ping", "pong",
    "get-bundle", "bundle", "mail-put", "mail-stored", "mail", "mail-ack", "presence-settings",
    "presence-saved", "prekeys-low", "devices-changed"};

int signaling_type_relayable(const char *type)
{
    size_t len;

    if (type == NULL) {
        return 0;
    }
    len = strnlen(type, 33);
    if (len < 1 || len > 32 || type[0] < 'a' || type[0] > 'z') {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof reserved_types / sizeof reserved_types[0]; i++) {
        if (strcmp(type, reserved_types[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

/* {"type":"subscribe","users":[{"user":NAME,"cap":B64},...]}: a name alone (a string) or
 * without cap sees "unknown" (presence.h). */
int messages_subscribe(struct client *c, const cJSON *msg, const cJSON *ref)
{
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(msg, "users");
    const cJSON *item;
    struct presence_watch *list;
    int n = 0;

    if (!cJSON_IsArray(users)) {
        client_send_error(c->ws, "invalid_message",
                   "subscribe needs users: an array of {user, cap} objects or usernames", ref);
        return 1;
    }
    if (cJSON_GetArraySize(users) > WS_SUBSCRIBE_MAX) {
        client_send_error(c->ws, "too_many_subscriptions", "at most 256 users per subscribe", ref);
        return 1;
    }
    list = calloc((size_t)cJSON_GetArraySize(users) + 1, sizeof *list);
    if (list == NULL) {
        client_send_error(c->ws, "internal", "out of memory", ref);
        return 1;
    }
    cJSON_ArrayForEach(item, users)
    {
        const cJSON *name = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "user")
                                                 : item;
        const cJSON *cap = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "cap")
                                                : NULL;
        struct presence_watch *w = &list[n];
        if (!cJSON_IsString(name) || account_username_fold(name->valuestring, w->user) == NULL ||
            (cap != NULL && (!cJSON_IsString(cap) ||
                             b64_decode_exact(cap->valuestring, w->cap, PRESENCE_CAP_BYTES) != 0)) ||
            (cJSON_IsObject(item) && messages_repeated_key(item))) {
            sodium_memzero(list, sizeof *list * ((size_t)n + 1));
            free(list);
            client_send_error(c->ws, "invalid_message",
                       "users must hold valid usernames, each alone or as {user, cap} with a "
                       "32-byte cap in base64url",
                       ref);
            return 1;
        }
        w->has_cap = cap != NULL;
        n++;
    }
    presence_watch(c->ws, c->user, list, n);
    sodium_memzero(list, sizeof *list * (size_t)n);
    free(list);
    return 1;
}

/* {"type":"presence-settings","capHash":B64|null,"visible":BOOL}: what contacts present to see
 * this user, and whether anyone does; answered {"type":"presence-saved","ref":...}. */
int messages_presence_settings(struct client *c, const cJSON *msg, const cJSON *ref)
{
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(msg, "capHash");
    const cJSON *visible = cJSON_GetObjectItemCaseSensitive(msg, "visible");
    unsigned char cap_hash[PRESENCE_HASH_BYTES];
    int has_cap = cJSON_IsString(hash);
    cJSON *saved;

    if ((!has_cap && !cJSON_IsNull(hash)) || !cJSON_IsBool(visible) ||
        (has_cap && b64_decode_exact(hash->valuestring, cap_hash, sizeof cap_hash) != 0)) {
        client_send_error(c->ws, "invalid_message",
                   "presence-settings needs capHash (32 bytes in base64url, or null) and visible "
                   "(a boolean)",
                   ref);
        return 1;
    }
    if (store_presence_set(c->user, has_cap ? cap_hash : NULL, cJSON_IsTrue(visible)) != 0) {
        client_send_error(c->ws, "internal", "the settings could not be saved; try again", ref);
        return 1;
    }
    presence_settings(c->user, has_cap ? cap_hash : NULL, cJSON_IsTrue(visible));
    bus_local_settings(c->user, has_cap ? cap_hash : NULL, cJSON_IsTrue(visible));
    saved = cJSON_CreateObject();
    if (saved != NULL) {
        cJSON_AddStringToObject(saved, "type", "presence-saved");
        if (ref != NULL) {
            cJSON_AddItemToObject(saved, "ref", cJSON_Duplicate(ref, 1));
        }
        client_write_object(c->ws, saved);
    }
    return 1;
}

/*
 * The connections a message from c to user `to` goes to (held), into peers: device to_device's
 * alone when it is not 0, else every listed device's. Another account's devices that are not
 * listed (being linked) get nothing from others. Returns how many, or -1 with *code and
 * *message when c may not send it (to itself without another device, or from a device that is
 * not listed to anyone but its own account).
 */
static int relay_targets(const struct client *c, const char *to, uint32_t to_device,
                         struct client *peers[CLIENT_USER_MAX], const char **code,
                         const char **message)
{
    int own = strcmp(to, c->user) == 0;

    if (own && (to_device == 0 || to_device == c->device)) {
        *code = "invalid_recipient";
        *message = "a message to yourself needs toDevice naming another of your devices";
        return -1;
    }
    if (!own && !c->listed) {
        *code = "device_not_listed";
        *message = "this device is not in the account's device list yet: it may only talk to the "
                   "account's other devices";
        return -1;
    }
    return (int)client_hold_user(to, to_device, !own, peers);
}

/* Relays text[0..len) (a frame at text - WS_HEADER_MAX when frame is set, see relay.h) to
 * peers[0..n), releasing them: 1 when at least one connection took it. */
static int relay_to(struct client **peers, size_t n, char *text, size_t len, int frame)
{
    int taken = 0;

    for (size_t i = 0; i < n; i++) {
        int rc = frame ? ws_relay_frame(peers[i]->ws, text - WS_HEADER_MAX, len)
                       : ws_relay(peers[i]->ws, text, len);
        taken |= rc != WS_BUSY;
        client_release(peers[i]);
    }
    return taken;
}

static void release_all(struct client **peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        client_release(peers[i]);
    }
}

/* Publishes text[0..len) from c to user to's device to_device (0: every one) at the other
 * instances holding it (bus.h); own: to c's own account; check: the recipient's instance checks
 * it accepted c's user. Returns how many instances it went to. */
static int relay_remote(const struct client *c, const char *to, uint32_t to_device, int own,
                        int check, const cJSON *ref, const char *text, size_t len)
{
    struct bus_msg m;
    char *ref_text = NULL;
    int n;

    if (!bus_enabled()) {
        return 0;
    }
    memset(&m, 0, sizeof m);
    snprintf(m.sender, sizeof m.sender, "%s", c->user);
    m.sender_device = c->device;
    snprintf(m.user, sizeof m.user, "%s", to);
    m.device = to_device;
    m.flags = (own ? BUS_RELAY_OWN : 0) | (check ? BUS_RELAY_CHECK : 0);
    if (ref != NULL && (ref_text = cJSON_PrintUnformatted(ref)) != NULL &&
        strlen(ref_text) <= BUS_REF_MAX) {
        m.ref = ref_text;
        m.ref_len = strlen(ref_text);
    }
    m.text = text;
    m.text_len = len;
    n = bus_relay(&m);
    cJSON_free(ref_text);
    return n;
}

int messages_relay(struct client *c, cJSON *msg, const char *type, const cJSON *ref)
{
    const char *to = NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "to");
    struct client *peers[CLIENT_USER_MAX];
    const char *code = NULL;
    const char *message = NULL;
    uint32_t to_device = 0;
    int n;
    int own;
    int remote;
    int taken;
    char *text;

    if (!signaling_type_relayable(type)) {
        client_send_error(c->ws, "invalid_type",
                   "type must match ^[a-z][a-z0-9-]{0,31}$ and not be reserved by the server",
                   ref);
        return 1;
    }
    if (cJSON_IsString(t)) {
        char folded[USERNAME_MAX + 1];
        if (account_username_fold(t->valuestring, folded) != NULL) {
            memcpy(t->valuestring, folded, strlen(folded) + 1); /* same length, canonical form */
        }
        to = t->valuestring;
    }
    if (to == NULL || !account_username_valid(to)) {
        client_send_error(c->ws, "invalid_recipient", "to must be a valid username", ref);
        return 1;
    }
    if (devlist_field(msg, "toDevice", 0, &to_device) != 0) {
        client_send_error(c->ws, "invalid_recipient",
                          "toDevice must be an integer from 1 to 2147483647", ref);
        return 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "from");
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "fromDevice");
    if (cJSON_AddStringToObject(msg, "from", c->user) == NULL ||
        cJSON_AddNumberToObject(msg, "fromDevice", (double)c->device) == NULL) {
        client_send_error(c->ws, "internal", "out of memory", ref);
        return 1;
    }
    n = relay_targets(c, to, to_device, peers, &code, &message);
    if (n < 0) {
        client_send_error(c->ws, code, message, ref);
        return 1;
    }
    own = strcmp(to, c->user) == 0;
    remote = bus_remote_has(to, to_device, !own);
    if (n == 0 && !remote) {
        /* Whether the name is an account or not, the answer is the same: relaying tells nobody
         * who exists. */
        client_send_error(c->ws, "recipient_offline", "the recipient is not connected", ref);
        return 1;
    }
    /* Only what reaches someone counts against what a stranger may send them. */
    {
        int retry_after = 0;
        code = limits_check_send(c, to, type, &message, &retry_after);
        if (code != NULL && !(remote && strcmp(code, "not_accepted") == 0)) {
            release_all(peers, (size_t)n);
            client_send_refusal(c->ws, code, message, retry_after, ref);
            return 1;
        }
    }
    text = cJSON_PrintUnformatted(msg);
    if (text == NULL) {
        release_all(peers, (size_t)n);
        client_send_error(c->ws, "internal", "out of memory", ref);
        return 1;
    }
    if (code != NULL) {
        /* Not accepted as far as this instance can tell: the recipient's instance, which has
         * its subscriptions, decides (and answers not_accepted itself). */
        release_all(peers, (size_t)n);
        taken = relay_remote(c, to, to_device, own, 1, ref, text, strlen(text)) > 0;
    } else {
        taken = relay_remote(c, to, to_device, own, 0, ref, text, strlen(text)) > 0;
        taken |= relay_to(peers, (size_t)n, text, strlen(text), 0);
    }
    if (!taken) {
        client_send_error(c->ws, "recipient_busy",
                          "the recipient is not reading fast enough; the message was not relayed",
                          ref);
    }
    cJSON_free(text);
    return 1;
}

/*
 * The common case without a cJSON tree: a listed device's well-formed message of a relayable
 * type to every device of another user (relay.h says which messages qualify). Returns 1 when it
 * was relayed, 0 when the general path must take it (it also answers every error).
 */
int messages_relay_fast(struct client *c, const char *data, size_t len)
{
    size_t from_len = strlen(c->user);
    char *frame;
    char *out;
    struct relay_fields f;
    char type[33];
    char to[USERNAME_MAX + 1];
    char folded[USERNAME_MAX + 1];
    struct client *peers[CLIENT_USER_MAX];
    size_t n;
    size_t n_peers;
    int remote;
    int taken;

    if (!c->listed) {
        return 0; /* a device being linked: the general path says what it may do */
    }
    frame = malloc(WS_HEADER_MAX + len + from_len + RELAY_EXTRA);
    if (frame == NULL) {
        return 0;
    }
    out = frame + WS_HEADER_MAX;
    n = relay_rewrite(data, len, c->user, c->device, out, &f);
    if (n == 0 || f.has_to_device || f.type_len >= sizeof type || f.to_len >= sizeof to) {
        free(frame);
        return 0; /* (one device of the recipient: the general path reads toDevice) */
    }
    memcpy(type, out + f.type_off, f.type_len);
    type[f.type_len] = '\0';
    memcpy(to, out + f.to_off, f.to_len);
    to[f.to_len] = '\0';
    if (!signaling_type_relayable(type) || account_username_fold(to, folded) == NULL ||
        strcmp(folded, c->user) == 0) {
        free(frame);
        return 0;
    }
    memcpy(out + f.to_off, folded, f.to_len); /* same length, canonical form */
    n_peers = client_hold_user(folded, 0, 1, peers);
    remote = bus_remote_has(folded, 0, 1);
    if (n_peers == 0 && !remote) {
        free(frame);
        return 0; /* offline or unknown: the general path says which */
    }
    if (!limits_accepted(c, folded)) {
        release_all(peers, n_peers);
        free(frame);
        return 0; /* from a stranger: the general path counts it, or refuses it */
    }
    taken = remote && relay_remote(c, folded, 0, 0, 0, NULL, out, n) > 0;
    taken |= relay_to(peers, n_peers, out, n, 1);
    free(frame);
    return taken; /* the general path answers recipient_busy with the message's ref */
}

/* 1 when the top level of an object names a key twice, or has more than RELAY_KEYS_MAX keys
 * (which bounds this quadratic check; messages have a handful). */
int messages_repeated_key(const cJSON *msg)
{
    return cJSON_IsObject(msg) && json_object_repeats(msg, RELAY_KEYS_MAX);
}

/* {"type":"get-bundle","user":NAME[,"id":ID]}: NAME's prekey bundle exactly as
 * GET /api/keys/{NAME} gives it (one one-time prekey consumed, the same throttle), answered as
 * {"type":"bundle","bundle":{...},"ref":ID}; a refusal as an error with the HTTP endpoint's code
 * (rate_limited with retryAfter in seconds). Saves the page an HTTP request when starting a chat. */
int messages_get_bundle(struct client *c, const cJSON *msg, const cJSON *ref)
{
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(msg, "user");
    struct keys_refusal why;
    uint32_t device = 0;
    cJSON *bundle;
    cJSON *out;

    if (!cJSON_IsString(user)) {
        client_send_error(c->ws, "invalid_message", "get-bundle needs a string user", ref);
        return 1;
    }
    if (devlist_field(msg, "device", 0, &device) != 0) {
        client_send_error(c->ws, "invalid_field", "device must be an integer from 1 to 2147483647",
                          ref);
        return 1;
    }
    bundle = keys_fetch(c->user, user->valuestring, device, &why);
    if (bundle == NULL) {
        client_send_refusal(c->ws, why.code, why.message, why.status == 429 ? why.retry_after : 0,
                            ref);
        return 1;
    }
    out = cJSON_CreateObject();
    if (out == NULL || cJSON_AddStringToObject(out, "type", "bundle") == NULL ||
        !cJSON_AddItemToObject(out, "bundle", bundle)) {
        /* The one-time prekey is spent all the same (as when an HTTP answer is lost). */
        cJSON_Delete(bundle);
        cJSON_Delete(out);
        client_send_error(c->ws, "internal", "out of memory", ref);
        return 1;
    }
    if (ref != NULL) {
        cJSON_AddItemToObject(out, "ref", cJSON_Duplicate(ref, 1));
    }
    client_write_object(c->ws, out);
    return 1;
}

const char *messages_mail_allowed(struct client *c, const cJSON *msg, const char **message,
                                  int *retry_after)
{
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(msg, "to");
    char folded[USERNAME_MAX + 1];

    *retry_after = 0;
    if (!cJSON_IsString(to) || account_username_fold(to->valuestring, folded) == NULL) {
        return NULL; /* mailbox_put answers it */
    }
    return limits_check_send(c, folded, NULL, message, retry_after);
}
