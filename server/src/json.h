/*
 * The checks every JSON text from a client passes (API bodies and WebSocket messages): no NUL,
 * UTF-8, exactly one value, no repeated key. Pure functions over bytes and cJSON trees (no
 * Civetweb), so that tests/fuzz/ can build them alone.
 */
#ifndef PARLEY_SERVER_JSON_H
#define PARLEY_SERVER_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Keys one object of an API body may have at most. */
#define API_JSON_KEYS_MAX 256

/*
 * 1 when JSON text holds a NUL byte or a \u0000 escape (cJSON would silently cut the string
 * there, so "abc\u0000def" would become "abc"). Escaped backslashes are skipped correctly.
 */
int api_json_has_nul(const char *buf, size_t len);

/* 1 when buf[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * beyond U+10FFFF). JSON text must be UTF-8, and a browser fails a WebSocket that carries a text
 * frame which is not, so nothing else is relayed. */
int api_utf8_valid(const char *buf, size_t len);

/* Parses buf[0..len) as exactly one JSON value: NULL when it is not JSON or when anything but
 * whitespace follows the value. */
cJSON *api_json_parse(const char *buf, size_t len);

/* 1 when item, its siblings or anything inside them is an object that names a key twice (parsers
 * disagree on which counts) or has more than max_keys keys. */
int api_json_repeated_key(const cJSON *item, int max_keys);

/* 1 when the object itself (its top level) names a key twice or has more than max_keys keys. */
int json_object_repeats(const cJSON *obj, int max_keys);

#endif
