#include "cors.h"

#include "http.h"

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
