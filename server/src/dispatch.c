/* What an authenticated connection's messages do, by type (docs/API.md "Messages"): a message
 * that the relay's fast path did not take is parsed here and handed to its handler. */
#include "client.h"

#include "api.h"
#include "mailbox.h"
#include "signaling.h"
#include "wsloop.h"

#include <cjson/cJSON.h>
#include <string.h>

/* A usable "id" of the client's message to echo as "ref": a short string or a number. */
static const cJSON *message_ref(const cJSON *msg)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

    if (cJSON_IsNumber(id) || (cJSON_IsString(id) && strlen(id->valuestring) <= 64)) {
        return id;
    }
    return NULL;
}

int client_dispatch(struct client *c, const char *data, size_t len)
{
    cJSON *msg = api_json_has_nul(data, len) ? NULL : api_json_parse(data, len);
    const cJSON *ref;
    const char *type;
    int rc = 1;

    if (msg == NULL) {
        client_send_error(c->ws, "invalid_json", "the message is not valid JSON", NULL);
        return 1;
    }
    if (messages_repeated_key(msg)) {
        /* Parsers disagree on which of two equal keys counts (cJSON: the first; browsers: the
         * last): {"type":"offer",...,"type":"presence"} would be checked as one type and read
         * as another. */
        client_send_error(c->ws, "invalid_message",
                   "a message may not repeat a key, and has at most 64 top-level keys", NULL);
        cJSON_Delete(msg);
        return c->authed ? 1
                         : client_close_with(c, WS_CLOSE_UNAUTHORIZED, "authentication required");
    }
    ref = message_ref(msg);
    type = cJSON_IsObject(msg) ? (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "type"))
                                      ? cJSON_GetObjectItemCaseSensitive(msg, "type")->valuestring
                                      : NULL)
                               : NULL;
    if (type == NULL) {
        client_send_error(c->ws, "invalid_message", "a message is a JSON object with a string type",
                   ref);
        if (!c->authed) {
            rc = client_close_with(c, WS_CLOSE_UNAUTHORIZED, "authentication required");
        }
    } else if (!c->authed) {
        if (strcmp(type, "auth") == 0) {
            rc = client_authenticate(c, msg, ref);
        } else {
            client_send_error(c->ws, "auth_required", "the first message must be type auth", ref);
            rc = client_close_with(c, WS_CLOSE_UNAUTHORIZED, "authentication required");
        }
    } else if (strcmp(type, "auth") == 0) {
        client_send_error(c->ws, "already_authenticated", "this connection is authenticated", ref);
    } else if (!c->listed && (strcmp(type, "presence-settings") == 0 ||
                              strcmp(type, "get-bundle") == 0 || strcmp(type, "mail-put") == 0 ||
                              strcmp(type, "mail-ack") == 0)) {
        /* A device being linked: only ping, subscribe and its own account's devices. */
        client_send_error(c->ws, "device_not_listed",
                          "this device is not in the account's device list yet: it may only talk "
                          "to the account's other devices",
                          ref);
    } else if (strcmp(type, "subscribe") == 0) {
        rc = messages_subscribe(c, msg, ref);
    } else if (strcmp(type, "presence-settings") == 0) {
        rc = messages_presence_settings(c, msg, ref);
    } else if (strcmp(type, "get-bundle") == 0) {
        rc = messages_get_bundle(c, msg, ref);
    } else if (strcmp(type, "mail-put") == 0) {
        const char *message = NULL;
        int retry_after = 0;
        const char *code = messages_mail_allowed(c, msg, &message, &retry_after);
        if (code == NULL) {
            code = mailbox_put(c->user, c->device, c->cid, msg, ref, &message);
        }
        if (code != NULL) {
            client_send_refusal(c->ws, code, message, retry_after, ref);
        }
    } else if (strcmp(type, "mail-ack") == 0) {
        const char *message = NULL;
        const char *code = mailbox_ack(c->user, c->device, c->cid, msg, &message);
        if (code != NULL) {
            client_send_error(c->ws, code, message, ref);
        }
    } else if (strcmp(type, "ping") == 0) {
        cJSON *pong = cJSON_CreateObject();
        if (pong != NULL) {
            cJSON_AddStringToObject(pong, "type", "pong");
            if (ref != NULL) {
                cJSON_AddItemToObject(pong, "ref", cJSON_Duplicate(ref, 1));
            }
            client_write_object(c->ws, pong);
        }
    } else {
        rc = messages_relay(c, msg, type, ref);
    }
    cJSON_Delete(msg);
    return rc;
}
