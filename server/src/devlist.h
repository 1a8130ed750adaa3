/*
 * Devices in requests (docs/API.md "Devices"): a device id in a body, a message or a query
 * string, and the body of PUT /api/devices, whose signed list is opened with the crypto core's
 * parser (parley_devices_open, wasm/src/devices.c: one strict parser for the clients and the
 * server). Pure functions (no Civetweb, no database), so that tests/fuzz/ builds them alone.
 */
#ifndef PARLEY_SERVER_DEVLIST_H
#define PARLEY_SERVER_DEVLIST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define DEVLIST_ID_MAX 2147483647u
#define DEVLIST_LISTED_MAX 8     /* PARLEY_MAX_DEVICES */
#define DEVLIST_BYTES_MAX 622    /* PARLEY_DEVICES_MAX_BYTES: a signed list */
#define DEVLIST_BODY_MAX 4096

/*
 * The device id member name of obj: 1..DEVLIST_ID_MAX as a JSON number without a fraction.
 * Returns 0 with *out set (to absent when the member is absent), -1 when it is present and
 * anything else (a string, 0, 2^31, 1.5, ...).
 */
int devlist_field(const cJSON *obj, const char *name, uint32_t absent, uint32_t *out);

/*
 * The "device" parameter of a query string (what follows '?', or NULL): 0 with *out set when it
 * is there once as plain decimal digits of 1..DEVLIST_ID_MAX (no sign, no leading zero), 1 when
 * there is none (other parameters are ignored), -1 when it is there but malformed or repeated.
 */
int devlist_query(const char *query, uint32_t *out);

/* The body of PUT /api/devices, {"list": B64}: 0 with the signed list's bytes in out (at most
 * DEVLIST_BYTES_MAX) and *len, or -1 (list absent, not a string, not base64url without padding,
 * empty or longer). */
int devlist_body(const cJSON *body, unsigned char out[DEVLIST_BYTES_MAX], size_t *len);

enum devlist_result {
    DEVLIST_OK = 0,
    DEVLIST_MALFORMED = 1,    /* not a version 1 list within the limits (docs/PROTOCOL.md 14.1) */
    DEVLIST_BAD_SIGNATURE = 2 /* well formed, but not signed by the identity key */
};

/* An opened list: its generation and device ids (ascending). */
struct devlist {
    uint32_t generation;
    size_t n;
    uint32_t ids[DEVLIST_LISTED_MAX];
};

/* Opens the signed list list[0..len) under identity_key (32 bytes, Ed25519). */
enum devlist_result devlist_open(const unsigned char identity_key[32], const unsigned char *list,
                                 size_t len, struct devlist *out);

#endif
