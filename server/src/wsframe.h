/*
 * The header of a WebSocket frame sent by a client (RFC 6455 5.2), read by a strict parser with
 * no state: the event loops (wsloop.c) and the fuzz target share it.
 */
#ifndef PARLEY_SERVER_WSFRAME_H
#define PARLEY_SERVER_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

/* The longest client frame header: 2 bytes, 8 of extended length, 4 of mask. */
#define WSFRAME_HEADER_MAX 14

enum wsframe_result {
    WSFRAME_OK = 1,        /* a complete header: *h is filled */
    WSFRAME_MORE = 0,      /* not all of the header is here yet */
    WSFRAME_PROTOCOL = -1, /* reserved bits, an unmasked frame, an unknown opcode, a fragmented
                              or long control frame, a 64-bit length with its top bit set, or a
                              length not in its shortest form: fail with 1002 */
    WSFRAME_TOO_BIG = -2   /* a payload longer than the limit: fail with 1009 */
};

struct wsframe {
    int fin;            /* 0x80 when final, else 0 */
    int opcode;         /* 0x0-0x2, 0x8-0xa */
    uint64_t len;       /* payload bytes */
    size_t header_len;  /* bytes before the payload (the mask included) */
    unsigned char mask[4];
};

/* Reads the header at p[0..n) of a frame whose payload may be at most max bytes. */
enum wsframe_result wsframe_parse(const unsigned char *p, size_t n, uint64_t max,
                                  struct wsframe *h);

/* Unmasks data[0..len), the payload of h (offset: how many payload bytes came before data). */
void wsframe_unmask(const struct wsframe *h, unsigned char *data, size_t len, uint64_t offset);

#endif
