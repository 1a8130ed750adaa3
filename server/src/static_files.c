#include "static_files.h"

#include "http.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int static_path_is_safe(const char *path)
{
    size_t len;
    const char *p;

    if (path == NULL || path[0] != '/') {
        return 0;
    }
    len = strlen(path);
    if (len >= STATIC_PATH_MAX) {
        return 0;
    }
    for (p = path; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/') {
            /* A segment starts after each '/': none may start with '.'. */
            if (p[1] == '.') {
                return 0;
            }
        } else if (!is_unreserved(c)) {
            return 0;
        }
    }
    return 1;
}

int static_guard(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *web_root = cbdata;

    if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0) {
        return http_method_not_allowed(conn, "GET, HEAD");
    }
    if (!static_path_is_safe(ri->local_uri_raw)) {
        return http_send_error(conn, 400, "invalid_path",
                               "the path may hold only letters, digits and - . _ ~ /, no segment "
                               "may start with a dot, and it must be shorter than 1024 bytes");
    }
    /* A page asks for config.json to find its server (web/js/config.js): a web folder without
     * one has this server, the page's own origin. */
    if (strcmp(ri->local_uri_raw, "/config.json") == 0) {
        char path[STATIC_PATH_MAX + 4096];
        struct stat st;

        snprintf(path, sizeof path, "%s/config.json", web_root);
        if (stat(path, &st) != 0) {
            return http_send_json(conn, 200, "{}");
        }
    }
    /* Folders other than the root are never listed nor redirected to. */
    if (strcmp(ri->local_uri_raw, "/") != 0) {
        char path[STATIC_PATH_MAX + 4096];
        struct stat st;

        snprintf(path, sizeof path, "%s%s", web_root, ri->local_uri_raw);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            return http_send_error(conn, 404, "not_found", "no such file");
        }
    }
    return 0;
}

/* 1 if text is "bytes *" then "/" and the file's size in digits: the Content-Range of a range
 * that cannot be satisfied (RFC 9110 14.4). */
static int is_unsatisfied_range(const char *text)
{
    static const char prefix[] = "bytes */";
    const char *p;

    if (strncmp(text, prefix, sizeof prefix - 1) != 0 || text[sizeof prefix - 1] == '\0') {
        return 0;
    }
    for (p = text + sizeof prefix - 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return 1;
}

int static_http_error(struct mg_connection *conn, int status, const char *msg)
{
    const char *code;
    const char *message;

    /* Civetweb's text may echo the path: the JSON says only what kind of error (the text is
     * read only for a 416 of parley_range). */
    switch (status) {
    case 400:
        code = "bad_request";
        message = "the request is malformed";
        break;
    case 403:
        code = "forbidden";
        message = "this resource cannot be listed or read";
        break;
    case 404:
        code = "not_found";
        message = "no such file";
        break;
    case 405:
        code = "method_not_allowed";
        message = "method not allowed here";
        break;
    case 413:
        code = "too_large";
        message = "the request is too large";
        break;
    case 416:
        /* From parley_range (server/civetweb/http.inc): the message is the Content-Range to
         * send with it. */
        if (msg != NULL && is_unsatisfied_range(msg)) {
            http_send_error_header(conn, status, "range_not_satisfiable",
                                   "the requested range starts at or past the end of the file",
                                   "Content-Range", msg);
            return 0;
        }
        code = "range_not_satisfiable";
        message = "the requested range is not satisfiable";
        break;
    case 431:
        code = "too_many_headers";
        message = "a request may have at most 64 header fields";
        break;
    default:
        if (status < 500) {
            code = "bad_request";
            message = "the request cannot be served";
        } else {
            code = "internal";
            message = "the server failed to answer this request";
        }
        break;
    }
    http_send_error(conn, status, code, message);
    return 0;
}
