/* Cross-origin requests from pages served elsewhere (a static bundle, README "Static bundle and
 * offline use"): the API answers the origins given with --origin, and only those. A server given
 * no --origin answers no CORS at all (its pages are its own origin). */
#ifndef PARLEY_SERVER_CORS_H
#define PARLEY_SERVER_CORS_H

#include "config.h"

#include <civetweb.h>

/* The origins CORS answers: cfg's --origin list (copied). */
void cors_init(const struct config *cfg);

/* The request's Origin when it is one of them, else NULL. */
const char *cors_allowed_origin(struct mg_connection *conn);

/* Adds Access-Control-Allow-Origin (and Vary: Origin) to a response being built with
 * mg_response_header_start when the request's Origin is allowed. */
void cors_add_headers(struct mg_connection *conn);

/* Answers an OPTIONS request from an allowed origin (a CORS preflight): 204 with the allowed
 * methods and headers (Authorization, Content-Type); 403 with a JSON reason when it is no
 * preflight (no Access-Control-Request-Method). */
int cors_preflight(struct mg_connection *conn);

/* Same origin by the request's own Host (a server given no --origin, typically listening on
 * 0.0.0.0 or ::, reached under any of its addresses or names): from now on the WebSocket also
 * takes a page whose Origin is the scheme (https with tls) and the request's Host, when that Host
 * names port `port` (0: off). */
void cors_same_host(int port, int tls);

/* 1 when origin is exactly scheme://host, a well-formed origin (config_origin_valid), and host's
 * port (explicit, else the scheme's default) is port. Pure: unit-tested. */
int cors_origin_is_host(const char *origin, const char *host, int port, int tls);

/* 1 when the same-host rule is on and the request's Origin and Host pass cors_origin_is_host. */
int cors_same_host_origin(const struct mg_connection *conn);

/* POST /api/origin: 200 {"ok":true} when the request's Origin may open the WebSocket, else 403
 * forbidden_origin naming it, so that a page the WebSocket refuses can say why (a browser does
 * not show a refused handshake's answer to the page). */
int cors_origin_check(struct mg_connection *conn);

#endif
