/* The JSON API under /api: routing and the helpers every handler shares. */
#ifndef PARLEY_SERVER_API_H
#define PARLEY_SERVER_API_H

#include "config.h"

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <stddef.h>

#define API_ADDR_MAX 48

/* Keeps the STUN servers configured (at most CONFIG_STUN_MAX) for GET /api/config, which answers
 * {"iceServers":[...]} in the form RTCPeerConnection takes. 0, or -1 for a count out of range. */
int api_config_init(const char (*stun)[CONFIG_STUN_LEN], int n);

/* Request handler for "/api": dispatches by path and method, JSON 404/405 otherwise. */
int api_dispatch(struct mg_connection *conn, void *cbdata);

/*
 * Reads the request body (Content-Type application/json, at most cap bytes) and parses it into
 * a JSON object. Returns 0 with *out set (the caller cJSON_Deletes it), or the HTTP status of
 * the error already sent (411, 413, 415, 400 invalid_json).
 */
int api_read_json(struct mg_connection *conn, size_t cap, cJSON **out);

/*
 * 1 when JSON text holds a NUL byte or a \u0000 escape (cJSON would silently cut the string
 * there, so "abc\u0000def" would become "abc"). Escaped backslashes are skipped correctly.
 */
int api_json_has_nul(const char *buf, size_t len);

/* 1 when buf[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * beyond U+10FFFF). JSON text must be UTF-8, and a browser fails a WebSocket that carries a text
 * frame which is not, so nothing else is relayed. */
int api_utf8_valid(const char *buf, size_t len);

/* Keys one object of an API body may have at most. */
#define API_JSON_KEYS_MAX 256

/* Parses buf[0..len) as exactly one JSON value: NULL when it is not JSON or when anything but
 * whitespace follows the value. */
cJSON *api_json_parse(const char *buf, size_t len);

/* 1 when item, its siblings or anything inside them is an object that names a key twice (parsers
 * disagree on which counts) or has more than max_keys keys. */
int api_json_repeated_key(const cJSON *item, int max_keys);

/* Sends obj (then deletes it) with status. */
int api_send_object(struct mg_connection *conn, int status, cJSON *obj);

/* 429 rate_limited with Retry-After: seconds. */
int api_send_throttled(struct mg_connection *conn, int retry_after);

/* The client's address as text ("127.0.0.1", "::1"). */
void api_client_addr(const struct mg_connection *conn, char *buf, size_t len);

/* The string member name of obj, or NULL when absent or not a string. */
const char *api_get_string(const cJSON *obj, const char *name);

#endif
