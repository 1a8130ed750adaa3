/* HTTP helpers shared by every handler: security headers and JSON responses. */
#ifndef PARLEY_SERVER_HTTP_H
#define PARLEY_SERVER_HTTP_H

#include <civetweb.h>

/* Chooses the headers: with tls, Strict-Transport-Security too. Call once at start. */
void http_init(int tls);

/*
 * Headers sent with every response, static or not (also given to Civetweb as additional_header
 * so its own error pages carry them). Lines end in CRLF.
 */
const char *http_security_headers(void);

/* Sends a JSON body with status, security headers and Cache-Control: no-store. Returns status. */
int http_send_json(struct mg_connection *conn, int status, const char *json);

/* Sends {"error":{"code":CODE,"message":MESSAGE}}; code and message are plain ASCII constants. */
int http_send_error(struct mg_connection *conn, int status, const char *code, const char *message);

/* Like http_send_error, with one extra header (e.g. Retry-After). */
int http_send_error_header(struct mg_connection *conn, int status, const char *code,
                           const char *message, const char *hname, const char *hvalue);

/*
 * Like http_send_error, written as raw HTTP/1.1 with Connection: close: for the WebSocket
 * connect handler, where Civetweb's response-header functions are not available.
 */
int http_send_error_raw(struct mg_connection *conn, int status, const char *code,
                        const char *message);

/* 405 with an Allow header listing the methods the resource takes, e.g. "GET, HEAD". */
int http_method_not_allowed(struct mg_connection *conn, const char *allow);

/* GET|HEAD /healthz: 200 {"status":"ok","database":"ok","version":...}, or 503 with
 * "status":"unavailable" when the database does not answer (store_ping). */
int http_healthz(struct mg_connection *conn, void *cbdata);

/* Any /api/... route not otherwise handled: JSON 404. */
int http_api_not_found(struct mg_connection *conn, void *cbdata);

#endif
