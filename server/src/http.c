#include "http.h"

#include "bus.h"
#include "cors.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n"
    "X-Frame-Options: DENY\r\n"
    "Permissions-Policy: geolocation=(), payment=(), usb=()\r\n"
    /* Half of main.c's HTTP_KEEP_ALIVE_MS, in whole seconds (see there). */
    "Keep-Alive: timeout=1\r\n";

/* Over TLS: browsers keep to HTTPS for this host for a year (they ignore the header for IP
 * addresses and for certificates they had to be told to accept). */
static const char hsts[] = "Strict-Transport-Security: max-age=31536000\r\n";

static char headers[sizeof security_headers + sizeof hsts] = "";

void http_init(int tls)
{
    snprintf(headers, sizeof headers, "%s%s", security_headers, tls ? hsts : "");
}

const char *http_security_headers(void)
{
    if (headers[0] == '\0') {
        http_init(0);
    }
    return headers;
}

static int send_json(struct mg_connection *conn, int status, const char *json, const char *hname,
                     const char *hvalue)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    size_t len = strlen(json);
    char length[32];

    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json; charset=utf-8", -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    cors_add_headers(conn); /* pages of the --origin list served elsewhere (cors.c) */
    if (hname != NULL && hvalue != NULL) {
        mg_response_header_add(conn, hname, hvalue, -1);
    }
    mg_response_header_add_lines(conn, http_security_headers());
    mg_response_header_send(conn);
    /* Civetweb's error callback runs also for requests it could not parse (oversized or
     * malformed headers): no method then. */
    if (ri == NULL || ri->request_method == NULL || strcmp(ri->request_method, "HEAD") != 0) {
        mg_write(conn, json, len);
    }
    return status;
}

int http_send_json(struct mg_connection *conn, int status, const char *json)
{
    return send_json(conn, status, json, NULL, NULL);
}

static int send_error(struct mg_connection *conn, int status, const char *code,
                      const char *message, const char *hname, const char *hvalue)
{
    cJSON *root;
    cJSON *err;
    char *text;
    int rc;

    /* An internal error while the database cannot be reached (PostgreSQL stopped, the network
     * to it cut) is told as what it is: unavailable for now, to be retried. */
    if (status == 500 && strcmp(code, "internal") == 0 && !store_ping()) {
        status = 503;
        code = "database_unavailable";
        message = "the database cannot be reached now; retry later";
        hname = "Retry-After";
        hvalue = "5";
    }
    root = cJSON_CreateObject();
    err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) {
        return send_json(conn, 500,
                         "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}",
                         NULL, NULL);
    }
    rc = send_json(conn, status, text, hname, hvalue);
    cJSON_free(text);
    return rc;
}

int http_send_error(struct mg_connection *conn, int status, const char *code, const char *message)
{
    return send_error(conn, status, code, message, NULL, NULL);
}

int http_send_error_header(struct mg_connection *conn, int status, const char *code,
                           const char *message, const char *hname, const char *hvalue)
{
    return send_error(conn, status, code, message, hname, hvalue);
}

int http_send_error_raw(struct mg_connection *conn, int status, const char *code,
                        const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    char *text;

    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: application/json; charset=utf-8\r\n"
              "Content-Length: %zu\r\n"
              "Cache-Control: no-store\r\n"
              "Connection: close\r\n"
              "%s\r\n",
              status, mg_get_response_code_text(conn, status), text != NULL ? strlen(text) : 0,
              http_security_headers());
    if (text != NULL) {
        mg_write(conn, text, strlen(text));
        cJSON_free(text);
    }
    return status;
}

int http_method_not_allowed(struct mg_connection *conn, const char *allow)
{
    char message[96];

    snprintf(message, sizeof message, "method not allowed here; use %s", allow);
    return send_error(conn, 405, "method_not_allowed", message, "Allow", allow);
}

int http_healthz(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);

    (void)cbdata;
    if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0) {
        return http_method_not_allowed(conn, "GET, HEAD");
    }
    /* A load balancer takes an instance whose database does not answer out of its rotation. An
     * instance that lost the bus still serves its own users: "degraded", 200. */
    const char *bus = !bus_enabled() ? "none" : bus_up() ? "ok" : "unavailable";
    char body[160];

    if (!store_ping()) {
        snprintf(body, sizeof body,
                 "{\"status\":\"unavailable\",\"database\":\"unavailable\",\"bus\":\"%s\","
                 "\"version\":\"" PARLEY_SERVER_VERSION "\"}",
                 bus);
        return http_send_json(conn, 503, body);
    }
    snprintf(body, sizeof body,
             "{\"status\":\"%s\",\"database\":\"ok\",\"bus\":\"%s\",\"version\":\"" PARLEY_SERVER_VERSION "\"}",
             strcmp(bus, "unavailable") == 0 ? "degraded" : "ok", bus);
    return http_send_json(conn, 200, body);
}

int http_api_not_found(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    return http_send_error(conn, 404, "not_found", "no such API endpoint");
}
