/* The JSON API under /api: routing and the helpers every handler shares. */
#ifndef PARLEY_SERVER_API_H
#define PARLEY_SERVER_API_H

#include "config.h"
#include "json.h" /* api_json_parse and the other checks of a body */

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <stddef.h>

#define API_ADDR_MAX 48

/* Request handler for "/api": dispatches by path and method, JSON 404/405 otherwise. */
int api_dispatch(struct mg_connection *conn, void *cbdata);

/*
 * Reads the request body (Content-Type application/json, at most cap bytes) and parses it into
 * a JSON object. Returns 0 with *out set (the caller cJSON_Deletes it), or the HTTP status of
 * the error already sent (411, 413, 415, 400 invalid_json).
 */
int api_read_json(struct mg_connection *conn, size_t cap, cJSON **out);

/* Sends obj (then deletes it) with status. */
int api_send_object(struct mg_connection *conn, int status, cJSON *obj);

/* 429 rate_limited with Retry-After: seconds. */
int api_send_throttled(struct mg_connection *conn, int retry_after);

/* The client's address as text ("127.0.0.1", "::1"). */
void api_client_addr(const struct mg_connection *conn, char *buf, size_t len);

/* The string member name of obj, or NULL when absent or not a string. */
const char *api_get_string(const cJSON *obj, const char *name);

#endif
