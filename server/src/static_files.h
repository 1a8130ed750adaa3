/* Guards the static file tree: Civetweb serves web/ only for paths this module lets through. */
#ifndef PARLEY_SERVER_STATIC_FILES_H
#define PARLEY_SERVER_STATIC_FILES_H

#include <civetweb.h>

#define STATIC_PATH_MAX 1024

/*
 * 1 when a request path, as sent (Civetweb runs with decode_url=no), may be looked up under the
 * web root: it starts with '/', is shorter than STATIC_PATH_MAX, holds only RFC 3986 unreserved
 * characters and '/', and no segment starts with '.' (so no "..", no "." and no hidden files).
 * Percent-encoding is refused outright: the bundle's file names never need it, and refusing it
 * removes encoded dots, slashes, backslashes and NUL bytes in one rule. 0 otherwise.
 */
int static_path_is_safe(const char *path);

/*
 * Request handler for "/" (cbdata: the web root's real path): refuses unsafe paths (400), methods
 * other than GET and HEAD (405) and folders other than the root (404) with a JSON error; returns 0
 * for everything else so that Civetweb serves the file.
 */
int static_guard(struct mg_connection *conn, void *cbdata);

/*
 * Civetweb's http_error callback: every error Civetweb raises itself is answered in JSON. A 416
 * whose message is a Content-Range for an unsatisfiable range (from parley_range in
 * server/civetweb/http.inc) carries that header too.
 */
int static_http_error(struct mg_connection *conn, int status, const char *msg);

#endif
