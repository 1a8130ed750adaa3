/*
 * Relaying a signaling message without building a JSON tree: a strict scan of the message that
 * copies it with every top-level "from" and "fromDevice" removed and the sender's appended. Only a subset
 * of what cJSON accepts takes this path; anything else (escaped keys, a repeated "type" or "to",
 * nesting deeper than RELAY_DEPTH_MAX, trailing bytes, numbers cJSON would refuse, ...) is left to
 * the general path, which parses with cJSON and answers errors as before.
 */
#ifndef PARLEY_SERVER_RELAY_H
#define PARLEY_SERVER_RELAY_H

#include <stddef.h>

#define RELAY_DEPTH_MAX 64 /* at most 64: scan_value keeps one bit per level */
/* Top-level keys of a message (the general path refuses more, and any repeated key). */
#define RELAY_KEYS_MAX 64
/* Bytes the rewrite may add besides the sender's name: ,"from":"" ,"fromDevice":N (at most 10
 * digits) and the closing brace. */
#define RELAY_EXTRA 48
/* Room for the longest WebSocket frame header (2 + 8 bytes; the server does not mask). */
#define WS_HEADER_MAX 10

struct relay_fields {
    size_t type_off, type_len; /* the raw contents of "type" and "to" in the rewritten text */
    size_t to_off, to_len;
    int has_to_device;         /* the message has a top-level "toDevice" (kept in the text) */
};

/*
 * Scans data[0..len) as one JSON object (RFC 8259, whitespace allowed around it) whose top-level
 * keys carry no escapes and none repeats (at most RELAY_KEYS_MAX of them), with one "type" and
 * one "to", both strings without escapes; in
 * its strings no control characters, no \u0000 and no escaped surrogates; numbers of at most 63
 * characters; nesting at most RELAY_DEPTH_MAX. When it is, writes into out (room for
 * len + strlen(from) + RELAY_EXTRA bytes) the object without its top-level "from" and
 * "fromDevice" members and with "from":from,"fromDevice":from_device appended (from is a valid
 * username: nothing to escape), fills f and returns the length written. Otherwise returns 0.
 */
size_t relay_rewrite(const char *data, size_t len, const char *from, unsigned long from_device,
                     char *out, struct relay_fields *f);


/* Writes the header of an unmasked, final WebSocket frame of opcode and payload length len
 * right-aligned into the WS_HEADER_MAX bytes at h; returns its length (2, 4 or 10). */
size_t ws_frame_header(unsigned char h[WS_HEADER_MAX], int opcode, size_t len);

#endif
