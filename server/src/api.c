#include "api.h"

#include "accounts.h"
#include "cors.h"
#include "devices.h"
#include "http.h"
#include "iceconfig.h"
#include "kem.h"
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int (*api_handler)(struct mg_connection *conn);

/* GET or PUT /api/devices. */
static int api_devices(struct mg_connection *conn)
{
    const char *method = mg_get_request_info(conn)->request_method;

    if (strcmp(method, "GET") == 0) {
        return devices_get(conn);
    }
    if (strcmp(method, "PUT") == 0) {
        return devices_put(conn);
    }
    return http_method_not_allowed(conn, "GET, PUT");
}

struct route {
    const char *path;
    const char *method;
    api_handler handler;
};

static const struct route routes[] = {
    {"/api/signup", "POST", accounts_signup},
    {"/api/login", "POST", accounts_login},
    {"/api/logout", "POST", accounts_logout},
    {"/api/password", "POST", accounts_password},
    {"/api/account/delete", "POST", accounts_delete},
    {"/api/token/refresh", "POST", accounts_refresh},
    {"/api/keys", "PUT", keys_put},
    {"/api/keys/me/kem", "PUT", kem_put},
    {"/api/keys/me/count", "GET", keys_count},
    {"/api/identities", "POST", keys_identities},
    {"/api/config", "GET", iceconfig_get},
    {"/api/origin", "POST", cors_origin_check},
    {"/api/devices", NULL, api_devices}, /* the handler checks the method */
};

#define KEYS_PREFIX "/api/keys/"
#define IDENTITY_PREFIX "/api/identity/"

static int api_route(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri->local_uri_raw;

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) == 0) {
            if (routes[i].method != NULL && strcmp(ri->request_method, routes[i].method) != 0) {
                return http_method_not_allowed(conn, routes[i].method);
            }
            return routes[i].handler(conn);
        }
    }
    if (strncmp(path, KEYS_PREFIX, strlen(KEYS_PREFIX)) == 0) {
        if (strcmp(ri->request_method, "GET") != 0) {
            return http_method_not_allowed(conn, "GET");
        }
        return keys_get(conn, path + strlen(KEYS_PREFIX));
    }
    if (strncmp(path, IDENTITY_PREFIX, strlen(IDENTITY_PREFIX)) == 0) {
        if (strcmp(ri->request_method, "GET") != 0) {
            return http_method_not_allowed(conn, "GET");
        }
        return keys_identity(conn, path + strlen(IDENTITY_PREFIX));
    }
    return http_send_error(conn, 404, "not_found", "no such API endpoint");
}

int api_dispatch(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    /* A CORS preflight from a page of the --origin list (cors.c); any other OPTIONS is refused
     * like every method the API does not take. */
    if (strcmp(mg_get_request_info(conn)->request_method, "OPTIONS") == 0 &&
        cors_allowed_origin(conn) != NULL) {
        return cors_preflight(conn);
    }
    return api_route(conn);
}

int api_read_json(struct mg_connection *conn, size_t cap, cJSON **out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *type = mg_get_header(conn, "Content-Type");
    char *buf;
    size_t used = 0;
    cJSON *root;

    *out = NULL;
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] != '\0' && type[16] != ';')) {
        return http_send_error(conn, 415, "unsupported_media_type",
                               "send the body as Content-Type: application/json");
    }
    if (ri->content_length > (long long)cap) {
        return http_send_error(conn, 413, "too_large", "the request body is too large");
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    for (;;) {
        int n = mg_read(conn, buf + used, cap + 1 - used);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        if (used > cap) {
            free(buf);
            return http_send_error(conn, 413, "too_large", "the request body is too large");
        }
    }
    if (ri->content_length > 0 && used < (size_t)ri->content_length) {
        /* The body stopped short: the request's deadline passed (HTTP_REQUEST_TIMEOUT_MS, headers
         * and body together) or the client went away. The connection is closed after this. */
        free(buf);
        return http_send_error(conn, 408, "request_timeout",
                               "the request body did not arrive in time; send it at once");
    }
    if (used == 0) {
        free(buf);
        return http_send_error(conn, 400, "invalid_json", "the request body is empty");
    }
    if (api_json_has_nul(buf, used)) {
        free(buf);
        return http_send_error(conn, 400, "invalid_json",
                               "NUL characters (\\u0000) are not accepted in strings");
    }
    if (!api_utf8_valid(buf, used)) {
        free(buf);
        return http_send_error(conn, 400, "invalid_json", "the request body is not valid UTF-8");
    }
    root = api_json_parse(buf, used);
    free(buf);
    if (root == NULL) {
        return http_send_error(conn, 400, "invalid_json",
                               "the request body is not one valid JSON value (nothing may follow "
                               "it)");
    }
    if (api_json_repeated_key(root, API_JSON_KEYS_MAX)) {
        cJSON_Delete(root);
        return http_send_error(conn, 400, "invalid_json",
                               "an object names a key twice, or has more than 256 keys");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return http_send_error(conn, 400, "invalid_json", "the request body must be a JSON object");
    }
    *out = root;
    return 0;
}

int api_send_object(struct mg_connection *conn, int status, cJSON *obj)
{
    char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
    int rc;

    cJSON_Delete(obj);
    if (text == NULL) {
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    rc = http_send_json(conn, status, text);
    cJSON_free(text);
    return rc;
}

int api_send_throttled(struct mg_connection *conn, int retry_after)
{
    char value[16];

    snprintf(value, sizeof value, "%d", retry_after);
    return http_send_error_header(conn, 429, "rate_limited",
                                  "too many attempts; retry after the number of seconds in "
                                  "Retry-After",
                                  "Retry-After", value);
}

void api_client_addr(const struct mg_connection *conn, char *buf, size_t len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);

    snprintf(buf, len, "%s", ri != NULL ? ri->remote_addr : "?");
}

const char *api_get_string(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}
