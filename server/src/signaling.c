#include "signaling.h"

/* Civetweb refuses larger frames itself, before reading them (scripts/deps.sh patch). */
_Static_assert(PARLEY_CIVETWEB_WS_FRAME_MAX == WS_FRAME_MAX,
               "Civetweb's frame limit must be the server's WS_FRAME_MAX");

#include "accounts.h"
#include "bus.h"
#include "api.h"
#include "config.h"
#include "cors.h"
#include "guard.h"
#include "senders.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "mailbox.h"
#include "presence.h"
#include "store.h"
#include "ratelimit.h"
#include "client.h"
#include "relay.h"
#include "wsloop.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t refs_zero = PTHREAD_COND_INITIALIZER;
static struct client *clients; /* every open connection */
static int n_clients;
/* Registered connections by user name: a relay looks its recipient up here, not by walking
 * every connection (at 19,000 connections that walk cost more than the relay). */
static struct client **user_table;
static size_t user_mask;
static int max_clients = CONFIG_MAX_CONNECTIONS_DEFAULT;
static char origins[WS_ORIGINS_MAX][CONFIG_ORIGIN_LEN];
static int n_origins;

static atomic_int shutting_down; /* signaling_close_all was called */
static atomic_ullong next_cid;
static pthread_t watchdog;
static int watchdog_running;
static int stopping;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;



/* ---- Writing --------------------------------------------------------------------------------- */

static void write_text(struct ws *ws, const char *text)
{
    (void)ws_send(ws, WS_OP_TEXT, text, strlen(text));
}

void client_write_object(struct ws *ws, cJSON *obj)
{
    char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

    cJSON_Delete(obj);
    if (text != NULL) {
        write_text(ws, text);
        cJSON_free(text);
    }
}

void client_send_refusal(struct ws *ws, const char *code, const char *message, int retry_after,
                         const cJSON *ref)
{
    cJSON *obj = cJSON_CreateObject();

    if (obj == NULL) {
        return;
    }
    cJSON_AddStringToObject(obj, "type", "error");
    cJSON_AddStringToObject(obj, "code", code);
    cJSON_AddStringToObject(obj, "message", message);
    if (retry_after > 0) {
        cJSON_AddNumberToObject(obj, "retryAfter", retry_after);
    }
    if (ref != NULL) {
        cJSON_AddItemToObject(obj, "ref", cJSON_Duplicate(ref, 1));
    }
    client_write_object(ws, obj);
}

/* {"type":"error","code":...,"message":...,"ref":ref} */
void client_send_error(struct ws *ws, const char *code, const char *message, const cJSON *ref)
{
    client_send_refusal(ws, code, message, 0, ref);
}

/* Takes a reference on c (reg_lock held) so that it can be written to without the lock. */
static void hold(struct client *c)
{
    c->refs++;
}

void client_hold(struct client *c)
{
    hold(c);
}

void client_registry_lock(void)
{
    pthread_mutex_lock(&reg_lock);
}

void client_registry_unlock(void)
{
    pthread_mutex_unlock(&reg_lock);
}

void client_release(struct client *c)
{
    pthread_mutex_lock(&reg_lock);
    c->refs--;
    if (c->refs == 0) {
        pthread_cond_broadcast(&refs_zero);
    }
    pthread_mutex_unlock(&reg_lock);
}

void signaling_identity_changed(const char *username)
{
    presence_notice(username, "identity-changed");
    bus_notice(BUS_NOTICE_IDENTITY, username, NULL, 0);
}

static size_t user_bucket(const char *user)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & user_mask;
}

struct client *client_chain(const char *user)
{
    return user_table != NULL ? user_table[user_bucket(user)] : NULL;
}

struct client *client_find_device(const char *user, uint32_t device)
{
    if (user == NULL || user_table == NULL) {
        return NULL;
    }
    for (struct client *c = user_table[user_bucket(user)]; c != NULL; c = c->hnext) {
        if (c->device == device && strcmp(c->user, user) == 0) {
            return c;
        }
    }
    return NULL;
}

size_t client_hold_user(const char *user, uint32_t device, int only_listed,
                        struct client *out[CLIENT_USER_MAX])
{
    size_t n = 0;

    pthread_mutex_lock(&reg_lock);
    for (struct client *c = user_table != NULL ? user_table[user_bucket(user)] : NULL;
         c != NULL && n < CLIENT_USER_MAX; c = c->hnext) {
        if (!c->closing && (device == 0 || c->device == device) && (!only_listed || c->listed) &&
            strcmp(c->user, user) == 0) {
            hold(c);
            out[n++] = c;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return n;
}

/* mailbox.h mailbox_send_fn: text to user's connection cid. */
static int send_to_user(const char *user, unsigned long long cid, const char *text, size_t len)
{
    struct client *peer = NULL;
    int rc = -1;

    pthread_mutex_lock(&reg_lock);
    for (struct client *c = user_table != NULL ? user_table[user_bucket(user)] : NULL; c != NULL;
         c = c->hnext) {
        if (c->cid == cid && !c->closing) {
            peer = c;
            hold(peer);
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (peer != NULL) {
        rc = ws_send(peer->ws, WS_OP_TEXT, text, len);
        client_release(peer);
    }
    return rc;
}

static void set_registered(struct client *c, int registered);

void client_unregister(struct client *c)
{
    set_registered(c, 0);
}

/* Sets c->registered and keeps the user table in step; reg_lock held. */
static void set_registered(struct client *c, int registered)
{
    struct client **p;

    if (c->registered == registered || user_table == NULL) {
        c->registered = registered;
        return;
    }
    p = &user_table[user_bucket(c->user)];
    if (registered) {
        c->hnext = *p;
        *p = c;
    } else {
        for (; *p != NULL; p = &(*p)->hnext) {
            if (*p == c) {
                *p = c->hnext;
                break;
            }
        }
        c->hnext = NULL;
    }
    c->registered = registered;
}

void client_close_matching(const char *user, uint32_t device, int code, const char *reason,
                           const char *error)
{
    for (;;) {
        struct client *target = NULL;
        pthread_mutex_lock(&reg_lock);
        for (struct client *c = clients; c != NULL; c = c->next) {
            if (!c->closing &&
                (user == NULL || (c->authed && (device == 0 || c->device == device) &&
                                  strcmp(c->user, user) == 0))) {
                target = c;
                target->closing = 1;
                hold(target);
                break;
            }
        }
        pthread_mutex_unlock(&reg_lock);
        if (target == NULL) {
            return;
        }
        if (error != NULL) {
            client_send_error(target->ws, error, reason, NULL);
        }
        ws_close(target->ws, code, reason);
        client_release(target);
    }
}

void signaling_revoked(const char *username, uint32_t device)
{
    client_close_matching(username, device, WS_CLOSE_UNAUTHORIZED, "session revoked", NULL);
    bus_notice(BUS_NOTICE_REVOKED, username, &device, 1);
}

void signaling_deleted(const char *username)
{
    client_close_matching(username, 0, WS_CLOSE_ACCOUNT_DELETED, "account deleted",
                          "account_deleted");
    bus_notice(BUS_NOTICE_DELETED, username, NULL, 0); /* its connections on other instances too */
}

void signaling_close_all(void)
{
    atomic_store(&shutting_down, 1);
    client_close_matching(NULL, 0, WS_CLOSE_GOING_AWAY, "server shutting down", NULL);
}

/* ---- Connection life cycle ------------------------------------------------------------------- */

int signaling_origin_allowed(const struct mg_connection *conn)
{
    const char *origin = mg_get_header(conn, "Origin");

    if (origin == NULL) {
        return 0;
    }
    for (int i = 0; i < n_origins; i++) {
        if (strcmp(origin, origins[i]) == 0) {
            return 1;
        }
    }
    return cors_same_host_origin(conn); /* no --origin: the page's own Host (cors.c) */
}

static int ws_connect(const struct mg_connection *cconn, void *cbdata)
{
    struct mg_connection *conn = (struct mg_connection *)cconn; /* Civetweb's callback type */
    const struct mg_request_info *ri = mg_get_request_info(conn);
    enum guard_verdict verdict;
    int full;

    (void)cbdata;
    if (!signaling_origin_allowed(conn)) {
        log_msg(LOG_WARN, "ws: refused %s: origin not allowed", ri->remote_addr);
        http_send_error_raw(conn, 403, "forbidden_origin",
                        "this page origin may not open the WebSocket (see --origin)");
        return 1;
    }
    pthread_mutex_lock(&reg_lock);
    full = n_clients >= max_clients;
    pthread_mutex_unlock(&reg_lock);
    if (full) {
        log_msg(LOG_WARN, "ws: refused %s: connection limit reached", ri->remote_addr);
        http_send_error_raw(conn, 503, "too_many_connections",
                        "the server has reached its connection limit; retry later");
        return 1;
    }
    verdict = guard_ws_check(ri->remote_addr);
    if (verdict != GUARD_OK) {
        /* What the log says, and what the client is told. */
        static const char *const why[][2] = {
            [GUARD_ADDRESS_FULL] = {"the connection limit of that address reached",
                                    "this address holds as many connections as it may; retry "
                                    "later"},
            [GUARD_UNAUTH_FULL] = {"too many connections waiting to authenticate",
                                   "too many connections are waiting to authenticate; retry "
                                   "later"},
            [GUARD_TOO_FAST] = {"too many connections from that address lately",
                                "this address opened too many connections lately; retry in a "
                                "few seconds"},
        };
        log_msg(LOG_WARN, "ws: refused %s: %s", ri->remote_addr, why[verdict][0]);
        http_send_error_raw(conn, 503, "too_many_connections", why[verdict][1]);
        return 1;
    }
    return 0;
}


/* Hands the upgraded connection to the event loops (wsloop.h): from here on no Civetweb thread
 * is held by it. */
static void ws_ready(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct client *c = calloc(1, sizeof *c);
    char pending[WS_PENDING_MAX];
    size_t n_pending = 0;
    void *ssl = NULL;
    int fd = -1;
    int full;

    (void)cbdata;
    if (c == NULL || mg_parley_detach(conn, &fd, &ssl, pending, sizeof pending, &n_pending) != 0) {
        static const char try_later[2] = {(char)(WS_CLOSE_TRY_LATER >> 8),
                                          (char)(WS_CLOSE_TRY_LATER & 0xff)};
        log_msg(LOG_ERROR, "ws: cannot take over the connection from %s", ri->remote_addr);
        (void)mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, try_later, 2);
        free(c);
        return; /* still Civetweb's: ws_civetweb_data closes it */
    }
    c->cid = atomic_fetch_add(&next_cid, 1) + 1;
    c->connected_at = rl_now();
    c->window_start = c->connected_at;
    snprintf(c->addr, sizeof c->addr, "%s", ri->remote_addr);
    c->ws = ws_create(fd, ssl, pending, n_pending, c);
    if (c->ws == NULL) {
        log_msg(LOG_ERROR, "ws: out of memory for a connection from %s", c->addr);
        free(c);
        return;
    }
    pthread_mutex_lock(&reg_lock);
    full = n_clients >= max_clients;
    if (!full && guard_ws_open(c->addr) != GUARD_OK) {
        full = 2; /* the address's share, or the slots of unauthenticated connections, are taken */
    }
    if (!full) {
        c->guarded = 1;
        c->next = clients;
        if (clients != NULL) {
            clients->prev = c;
        }
        clients = c;
        n_clients++;
    } else {
        c->closing = 1; /* lost a race for the last slot: not listed, so client_gone skips it */
    }
    pthread_mutex_unlock(&reg_lock);
    if (full) {
        ws_close(c->ws, WS_CLOSE_TRY_LATER, full == 2 ? "too many connections from this address"
                                                      : "the server has reached its connection limit");
    } else if (atomic_load(&shutting_down)) {
        /* Upgraded after signaling_close_all went by: closed like the others. */
        log_msg(LOG_INFO, "ws: connect during shutdown");
        client_close_with(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    } else {
        log_msg(LOG_INFO, "ws: connect");
    }
    ws_start(c->ws);
}

/* Civetweb's read loop runs only when ws_ready could not take the connection over. */
static int ws_civetweb_data(struct mg_connection *conn, int flags,
                            char *data, // NOLINT(readability-non-const-parameter): Civetweb's type
                            size_t len, void *cbdata)
{
    (void)conn;
    (void)flags;
    (void)data;
    (void)len;
    (void)cbdata;
    return 0;
}

/* The loop closed c's connection (wsloop.h on_close). */
static void client_gone(struct ws *ws, void *user)
{
    struct client *c = user;
    int was_registered;
    int listed;

    (void)ws;
    pthread_mutex_lock(&reg_lock);
    listed = c->prev != NULL || clients == c;
    if (listed) {
        if (c->prev != NULL) {
            c->prev->next = c->next;
        } else {
            clients = c->next;
        }
        if (c->next != NULL) {
            c->next->prev = c->prev;
        }
        n_clients--;
    }
    was_registered = c->registered;
    set_registered(c, 0);
    c->closing = 1;
    if (was_registered && (c->listed || bus_enabled())) {
        client_publish_devices(c->user, 0, NULL, 0); /* one device fewer, or offline */
    }
    while (c->refs > 0) {
        pthread_cond_wait(&refs_zero, &reg_lock);
    }
    pthread_mutex_unlock(&reg_lock);
    if (!listed) {
        free(c);
        return;
    }
    if (c->authed) {
        log_msg(LOG_INFO, "ws: close %s (device %u)", c->user, (unsigned)c->device);
    } else {
        log_msg(LOG_INFO, "ws: close unauthenticated");
    }
    if (c->guarded) {
        guard_ws_closed(c->addr, c->authed);
    }
    presence_unwatch(c->ws);
    if (c->authed) {
        mailbox_offline(c->user, c->device, c->cid);
        (void)store_device_seen(c->user_id, c->device, (long long)time(NULL));
    }
    free(c);
}

/* ---- Messages -------------------------------------------------------------------------------- */

/*
 * Sends a close frame; the connection stays open until the client answers it (or wsloop's close
 * grace, WS_CLOSE_GRACE, passes): closing the socket at once, with the client's frames still
 * unread, makes the kernel send a reset that can overtake the close frame (the client would see
 * 1006, not our code). Whatever the client sends meanwhile is dropped.
 */
int client_close_with(struct client *c, int code, const char *reason)
{
    pthread_mutex_lock(&reg_lock);
    c->closing = 1;
    pthread_mutex_unlock(&reg_lock);
    ws_close(c->ws, code, reason);
    return 1;
}

int client_authenticate(struct client *c, const cJSON *msg, const cJSON *ref)
{
    const char *token = NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "token");
    struct account acc;
    enum auth_result result;
    struct client *old;
    cJSON *ready;
    unsigned char cap_hash[PRESENCE_HASH_BYTES];
    int has_cap = 0;
    int visible = 0;

    if (cJSON_IsString(t)) {
        token = t->valuestring;
    }
    result = accounts_verify_token(token, &acc);
    if (result == AUTH_REMOVED) {
        log_msg(LOG_INFO, "ws: authentication of a removed device from %s", c->addr);
        client_send_error(c->ws, "device_removed", "this device was removed from the account",
                          ref);
        return client_close_with(c, WS_CLOSE_DEVICE_REMOVED, "device removed");
    }
    if (result == AUTH_UNAVAILABLE) {
        log_msg(LOG_WARN, "ws: authentication from %s: the database did not answer", c->addr);
        client_send_error(c->ws, "database_unavailable",
                          "the database cannot be reached now; retry later", ref);
        return client_close_with(c, WS_CLOSE_TRY_LATER, "try again later");
    }
    if (result != AUTH_OK) {
        const char *code = result == AUTH_MISSING   ? "missing_token"
                           : result == AUTH_EXPIRED ? "token_expired"
                           : result == AUTH_REVOKED ? "token_revoked"
                                                    : "invalid_token";
        log_msg(LOG_INFO, "ws: authentication failed (%s) from %s", code, c->addr);
        client_send_error(c->ws, code, "authentication failed", ref);
        return client_close_with(c, WS_CLOSE_UNAUTHORIZED, "authentication failed");
    }
    /* Read before the lock: the presence settings (shown to nobody until they can be read). */
    if (acc.listed && store_presence_get(acc.username, cap_hash, &has_cap, &visible) != 1) {
        has_cap = 0;
    }
    (void)store_device_seen(acc.id, acc.device, (long long)time(NULL));
    pthread_mutex_lock(&reg_lock);
    if (c->closing) {
        pthread_mutex_unlock(&reg_lock);
        return 1; /* closed meanwhile (e.g. the deadline passed): wait for the close frame */
    }
    old = client_find_device(acc.username, acc.device);
    if (old != NULL) {
        set_registered(old, 0);
        old->closing = 1;
        hold(old);
    }
    memcpy(c->user, acc.username, sizeof c->user);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->authed_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    c->user_id = acc.id;
    c->device = acc.device;
    c->listed = acc.listed;
    c->authed = 1;
    set_registered(c, 1);
    if (c->listed || bus_enabled()) {
        client_publish_devices(c->user, c->listed, has_cap ? cap_hash : NULL, visible);
    }
    pthread_mutex_unlock(&reg_lock);
    if (c->guarded) {
        guard_ws_authed(c->addr);
    }
    if (old != NULL) {
        log_msg(LOG_INFO, "ws: %s (device %u) replaced an older connection", acc.username,
                (unsigned)acc.device);
        ws_close(old->ws, WS_CLOSE_REPLACED, "replaced by a newer connection");
        client_release(old);
    }
    /* A username is never logged beside an address: the log does not say where a person is. */
    log_msg(LOG_INFO, "ws: authenticated %s (device %u%s)", c->user, (unsigned)c->device,
            c->listed ? "" : ", not listed");
    ready = cJSON_CreateObject();
    if (ready != NULL) {
        cJSON_AddStringToObject(ready, "type", "ready");
        cJSON_AddStringToObject(ready, "user", c->user);
        cJSON_AddNumberToObject(ready, "device", (double)c->device);
        client_write_object(c->ws, ready);
    }
    if (c->listed) {
        mailbox_online(c->user, c->device, c->cid);
    }
    return 1;
}





/* A frame from c's connection (wsloop.h on_frame). */
static int client_frame(struct ws *ws, void *user, int flags, char *data, size_t len)
{
    struct client *c = user;
    int opcode = flags & 0x0f;
    int closing;
    int admitted;
    int was_authed;

    pthread_mutex_lock(&reg_lock);
    closing = c->closing;
    pthread_mutex_unlock(&reg_lock);
    if (opcode == WS_OP_CLOSE) {
        /* Echo the peer's close code (dropped by wsloop when our close frame went first); one
         * that may not be sent (RFC 6455 7.4) or a reason that is not UTF-8 fails the connection
         * instead (1002, 1007). */
        int code = len >= 2 ? (((unsigned char)data[0] << 8) | (unsigned char)data[1]) : 1000;
        if (len == 1 || !signaling_close_code_valid(code)) {
            ws_close(ws, WS_CLOSE_PROTOCOL, "invalid close code");
        } else if (len > 2 && !api_utf8_valid(data + 2, len - 2)) {
            ws_close(ws, WS_CLOSE_INVALID_DATA, "close reason must be UTF-8");
        } else {
            ws_close(ws, code, "");
        }
        return 0;
    }
    if (closing) {
        return 1; /* waiting for the client's close frame (wsloop enforces the grace) */
    }
    if (!(flags & WS_FIN) || opcode == WS_OP_CONTINUATION) {
        /* wsloop.c puts fragmented messages together: only a whole one arrives here */
        return client_close_with(c, WS_CLOSE_PROTOCOL, "protocol error");
    }
    admitted = limits_admit(c, 0);
    if (admitted < 0) {
        /* Failed: what it sends from now on is discarded, and it is gone within a second. */
        log_msg(LOG_WARN, "ws: sustained flood from %s: closing", c->addr);
        (void)client_close_with(c, WS_CLOSE_POLICY, "rate limit exceeded for too long");
        return -1;
    }
    if (admitted == 0) {
        if (limits_refusal_first(c)) {
            client_send_error(ws, "rate_limited",
                              "too many messages; slow down (what follows within the second is "
                              "dropped)",
                              NULL);
        }
        return 1;
    }
    if (opcode != WS_OP_TEXT) {
        client_send_error(ws, "invalid_message", "messages are JSON text frames", NULL);
        return 1;
    }
    if (!api_utf8_valid(data, len)) {
        /* RFC 6455 8.1: a text frame that is not UTF-8 fails the connection (relayed, it would
         * fail the recipient's). */
        log_msg(LOG_WARN, "ws: text frame from %s is not UTF-8: closing", c->addr);
        return client_close_with(c, WS_CLOSE_INVALID_DATA, "text frames must be UTF-8");
    }
    was_authed = c->authed;
    if (was_authed && messages_relay_fast(c, data, len)) {
        return 1;
    }
    return client_dispatch(c, data, len);
}

/* A ping or pong from c's connection (wsloop.h on_control): counted like a message. */
static int client_control(struct ws *ws, void *user, int opcode)
{
    struct client *c = user;
    int closing;
    int admitted;

    (void)ws;
    (void)opcode;
    pthread_mutex_lock(&reg_lock);
    closing = c->closing;
    pthread_mutex_unlock(&reg_lock);
    if (closing) {
        return 0;
    }
    admitted = limits_admit(c, 1);
    if (admitted < 0) {
        log_msg(LOG_WARN, "ws: a flood of control frames from %s: closing", c->addr);
        (void)client_close_with(c, WS_CLOSE_POLICY, "too many pings");
        return -1;
    }
    return admitted; /* a ping beyond the rate is not answered */
}

/* ---- Authentication deadline ----------------------------------------------------------------- */

static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stop_lock);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&stop_cond, &stop_lock, &until);
        if (stopping) {
            break;
        }
        pthread_mutex_unlock(&stop_lock);
        for (;;) {
            struct client *late = NULL;
            double now = rl_now();
            pthread_mutex_lock(&reg_lock);
            for (struct client *c = clients; c != NULL; c = c->next) {
                if (!c->authed && !c->closing && now - c->connected_at > WS_AUTH_TIMEOUT) {
                    late = c;
                    late->closing = 1;
                    hold(late);
                    break;
                }
            }
            pthread_mutex_unlock(&reg_lock);
            if (late == NULL) {
                break;
            }
            log_msg(LOG_INFO, "ws: no authentication within %d s from %s: closing",
                    WS_AUTH_TIMEOUT, late->addr);
            client_send_error(late->ws, "auth_timeout", "no auth message within 5 seconds", NULL);
            ws_close(late->ws, WS_CLOSE_UNAUTHORIZED, "authentication timeout");
            client_release(late);
        }
        pthread_mutex_lock(&stop_lock);
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

int signaling_init(const char *const *allowed, int n_allowed, int max_connections, int io_threads,
                   const struct mailbox_config *mail)
{
    static const struct ws_handlers handlers = {client_frame, client_control, client_gone};

    n_origins = 0;
    for (int i = 0; i < n_allowed && i < WS_ORIGINS_MAX; i++) {
        snprintf(origins[n_origins++], CONFIG_ORIGIN_LEN, "%s", allowed[i]);
    }
    max_clients = max_connections;
    if (user_table == NULL) {
        size_t size = 64;
        while (size < (size_t)max_connections * 2) {
            size *= 2;
        }
        user_table = calloc(size, sizeof(struct client *));
        if (user_table == NULL) {
            return -1;
        }
        user_mask = size - 1;
    }
    stopping = 0;
    atomic_store(&shutting_down, 0);
    if (presence_init(max_connections) != 0 || limits_init(max_connections) != 0 ||
        mailbox_init(mail, send_to_user) != 0) {
        return -1;
    }
    if (wsloop_start(io_threads, WS_FRAME_MAX, WS_CLOSE_GRACE, &handlers) != 0) {
        mailbox_shutdown();
        return -1;
    }
    if (pthread_create(&watchdog, NULL, watchdog_main, NULL) != 0) {
        wsloop_stop(0);
        mailbox_shutdown();
        return -1;
    }
    watchdog_running = 1;
    return 0;
}

int signaling_close_code_valid(int code)
{
    /* RFC 6455 7.4.1 and the IANA registry: 1004-1006 and 1015 are never sent in a frame. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void signaling_register(struct mg_context *ctx)
{
    /* No subprotocol is spoken: with an empty list Civetweb selects none of those a client
     * offers (it would otherwise echo the first one, RFC 6455 4.2.2). */
    static struct mg_websocket_subprotocols none = {0, NULL};

    mg_set_websocket_handler_with_subprotocols(ctx, "/ws$", &none, ws_connect, ws_ready,
                                               ws_civetweb_data, NULL, NULL);
}

void signaling_shutdown(void)
{
    if (watchdog_running) {
        /* Clients answer the close frames of signaling_close_all within moments. */
        wsloop_stop(WS_SHUTDOWN_WAIT);
        mailbox_shutdown(); /* after the loops: nothing queues mail any more */
    }
    pthread_mutex_lock(&reg_lock);
    free(user_table);
    user_table = NULL;
    pthread_mutex_unlock(&reg_lock);
    presence_shutdown();
    limits_shutdown();
    if (!watchdog_running) {
        return;
    }
    pthread_mutex_lock(&stop_lock);
    stopping = 1;
    pthread_cond_broadcast(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    pthread_join(watchdog, NULL);
    watchdog_running = 0;
}
