#include "cors.h"

#include "http.h"
#include "signaling.h"

#include <stdio.h>
#include <string.h>

static char allowed[CONFIG_ORIGINS_MAX][CONFIG_ORIGIN_LEN];
static int n_allowed;

void cors_init(const struct config *cfg)
{
    n_allowed = 0;
    for (int i = 0; i < cfg->n_origins && i < CONFIG_ORIGINS_MAX; i++) {
        snprintf(allowed[n_allowed++], CONFIG_ORIGIN_LEN, "%s", cfg->origins[i]);
    }
}

const char *cors_allowed_origin(struct mg_connection *conn)
{
    const char *origin = mg_get_header(conn, "Origin");

    if (origin == NULL) {
        return NULL;
    }
    for (int i = 0; i < n_allowed; i++) {
        if (strcmp(origin, allowed[i]) == 0) {
            return allowed[i];
        }
    }
    return NULL;
}

void cors_add_headers(struct mg_connection *conn)
{
    const char *origin = cors_allowed_origin(conn);

    if (n_allowed > 0) {
        /* The answer depends on the Origin: caches must keep one per origin. */
        mg_response_header_add(conn, "Vary", "Origin", -1);
    }
    if (origin != NULL) {
        mg_response_header_add(conn, "Access-Control-Allow-Origin", origin, -1);
        /* The page says how long to wait when throttled (429). */
        mg_response_header_add(conn, "Access-Control-Expose-Headers", "Retry-After", -1);
    }
}

int cors_preflight(struct mg_connection *conn)
{
    const char *origin = cors_allowed_origin(conn);

    if (origin == NULL || mg_get_header(conn, "Access-Control-Request-Method") == NULL) {
        return http_send_error(conn, 403, "not_a_preflight",
                               "OPTIONS is answered only as a CORS preflight from a page origin "
                               "of the --origin list");
    }
    mg_response_header_start(conn, 204);
    mg_response_header_add(conn, "Access-Control-Allow-Origin", origin, -1);
    mg_response_header_add(conn, "Vary", "Origin", -1);
    mg_response_header_add(conn, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE", -1);
    mg_response_header_add(conn, "Access-Control-Allow-Headers", "Authorization, Content-Type", -1);
    mg_response_header_add(conn, "Access-Control-Max-Age", "600", -1);
    mg_response_header_add(conn, "Content-Length", "0", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add_lines(conn, http_security_headers());
    mg_response_header_send(conn);
    return 204;
}

static int same_host_port; /* 0: the same-host rule is off */
static int same_host_tls;

void cors_same_host(int port, int tls)
{
    same_host_port = port > 0 && port <= 65535 ? port : 0;
    same_host_tls = tls;
}

/* The port a Host header names: its digits after the host (1..65535, no leading zero), the
 * scheme's default when it names none, -1 when malformed. */
static long host_port(const char *host, int tls)
{
    const char *bracket = strrchr(host, ']');
    const char *colon;
    long port = 0;

    if (bracket != NULL && host[0] != '[') {
        return -1;
    }
    colon = strchr(bracket != NULL ? bracket : host, ':');
    if (colon == NULL) {
        return tls ? 443 : 80;
    }
    if (colon == host || (bracket != NULL && colon != bracket + 1) || colon[1] == '0') {
        return -1;
    }
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || p - colon > 5) {
            return -1;
        }
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

int cors_origin_is_host(const char *origin, const char *host, int port, int tls)
{
    const char *scheme = tls ? "https://" : "http://";
    size_t n = strlen(scheme);

    if (origin == NULL || host == NULL || port < 1 || port > 65535 || host[0] == '\0') {
        return 0;
    }
    if (strncmp(origin, scheme, n) != 0 || strcmp(origin + n, host) != 0 ||
        !config_origin_valid(origin)) {
        return 0;
    }
    return host_port(host, tls) == port;
}

int cors_same_host_origin(const struct mg_connection *conn)
{
    return same_host_port != 0 &&
           cors_origin_is_host(mg_get_header(conn, "Origin"), mg_get_header(conn, "Host"),
                               same_host_port, same_host_tls);
}

int cors_origin_check(struct mg_connection *conn)
{
    const char *origin = mg_get_header(conn, "Origin");
    char message[2 * CONFIG_ORIGIN_LEN + 96];

    if (signaling_origin_allowed(conn)) {
        return http_send_json(conn, 200, "{\"ok\":true}");
    }
    if (origin == NULL || !config_origin_valid(origin)) {
        return http_send_error(conn, 403, "forbidden_origin",
                               "this request names no page origin this server takes (see --origin)");
    }
    snprintf(message, sizeof message,
             "pages from %s may not open the WebSocket; start the server with --origin %s",
             origin, origin);
    return http_send_error(conn, 403, "forbidden_origin", message);
}
