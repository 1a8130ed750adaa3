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

#endif
