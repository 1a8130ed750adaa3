/*
 * libFuzzer target: the server's WebSocket frame header parser (server/src/wsframe.c). The first
 * input byte picks the payload limit; the rest is a byte stream from a client. Every prefix of
 * the stream is parsed and checked against a second, independent decoder written here from RFC
 * 6455 5.2, and against the parser's own promises:
 *   - a header is at most WSFRAME_HEADER_MAX bytes: with that many, the answer is never MORE;
 *   - an answer other than MORE does not change when more bytes arrive (OK with the same fields);
 *   - OK means: a known opcode, a masked frame, a length in its shortest form and within the
 *     limit, a control frame final and at most 125 bytes, the mask the 4 bytes before the payload.
 * The stream is then walked frame by frame as the event loop does, and each payload unmasked
 * whole, in pieces at any offset, and twice (which must give the masked bytes back). Last, the
 * header the server writes (ws_frame_header, relay.c) for a length from the input must be in its
 * shortest form and read back by the parser.
 */
#include "fuzz_server.h"
#include "relay.h"
#include "wsframe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Payload limits the first byte picks from: the edges of each length form, the server's
 * WS_FRAME_MAX (server/src/signaling.h, which needs Civetweb's header) and the extremes. */
static const uint64_t limits[] = {0,      1,      125,        126,          127,
                                  65535,  65536,  98304,      UINT64_MAX,   INT64_MAX,
                                  (uint64_t)INT64_MAX + 1,    0x7fffffffffffffffull - 1};

#define N_LIMITS (sizeof limits / sizeof limits[0])

/* ---- The reference decoder ---------------------------------------------------------------- */

/* Decides only once the whole header is there: MORE for anything shorter. */
static enum wsframe_result ref_parse(const unsigned char *p, size_t n, uint64_t max,
                                     struct wsframe *out)
{
    unsigned fin, rsv, opcode, masked, len7;
    size_t ext, need;
    uint64_t len = 0;
    int control, known;

    if (n < 2) {
        return WSFRAME_MORE;
    }
    fin = p[0] >> 7;
    rsv = (p[0] >> 4) & 7u;
    opcode = p[0] & 15u;
    masked = p[1] >> 7;
    len7 = p[1] & 127u;
    ext = len7 == 127 ? 8 : len7 == 126 ? 2 : 0;
    need = 2 + ext + 4;
    if (n < need) {
        return WSFRAME_MORE;
    }
    if (ext == 0) {
        len = len7;
    }
    for (size_t i = 0; i < ext; i++) {
        len = len * 256 + p[2 + i];
    }
    control = opcode >= 8;
    known = opcode <= 2 || (opcode >= 8 && opcode <= 10);
    if (rsv != 0 || !masked || !known) {
        return WSFRAME_PROTOCOL;
    }
    if ((ext == 2 && len <= 125) || (ext == 8 && len <= 65535) || len > (uint64_t)INT64_MAX) {
        return WSFRAME_PROTOCOL; /* not the shortest form; the top bit of a 64-bit length set */
    }
    if (control && (!fin || len > 125)) {
        return WSFRAME_PROTOCOL;
    }
    out->len = len;
    if (len > max) {
        return WSFRAME_TOO_BIG;
    }
    out->fin = fin ? 0x80 : 0;
    out->opcode = (int)opcode;
    out->header_len = need;
    memcpy(out->mask, p + need - 4, 4);
    return WSFRAME_OK;
}

/* ---- Checks -------------------------------------------------------------------------------- */

static int same_header(const struct wsframe *a, const struct wsframe *b)
{
    return a->fin == b->fin && a->opcode == b->opcode && a->len == b->len &&
           a->header_len == b->header_len && memcmp(a->mask, b->mask, 4) == 0;
}

/* What an OK answer promises about h, read from the bytes p[0..n). */
static void check_ok(const unsigned char *p, size_t n, uint64_t max, const struct wsframe *h)
{
    int op = h->opcode;

    CHECK(h->header_len == 6 || h->header_len == 8 || h->header_len == WSFRAME_HEADER_MAX);
    CHECK(h->header_len <= n);
    CHECK(h->len <= max);
    CHECK(h->fin == 0 || h->fin == 0x80);
    CHECK(op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10);
    CHECK(op < 8 || (h->fin && h->len <= 125));
    CHECK((h->header_len == 6) == (h->len <= 125));
    CHECK((h->header_len == 8) == (h->len >= 126 && h->len <= 65535));
    CHECK(memcmp(h->mask, p + h->header_len - 4, 4) == 0);
}

/* Parses every prefix of p[0..n) (up to one byte past the longest header). */
static void check_prefixes(const unsigned char *p, size_t n, uint64_t max)
{
    struct wsframe prev, h, ref;
    enum wsframe_result prev_rc = WSFRAME_MORE;
    size_t last = n < WSFRAME_HEADER_MAX + 1 ? n : WSFRAME_HEADER_MAX + 1;

    memset(&prev, 0, sizeof prev);
    for (size_t k = 0; k <= last; k++) {
        enum wsframe_result rc, ref_rc;

        memset(&h, 0, sizeof h);
        memset(&ref, 0, sizeof ref);
        rc = wsframe_parse(p, k, max, &h);
        ref_rc = ref_parse(p, k, max, &ref);
        CHECK(rc == WSFRAME_OK || rc == WSFRAME_MORE || rc == WSFRAME_PROTOCOL ||
              rc == WSFRAME_TOO_BIG);
        CHECK(k < WSFRAME_HEADER_MAX || rc != WSFRAME_MORE);
        if (rc == WSFRAME_OK) {
            check_ok(p, k, max, &h);
        }
        /* The reference decides with the whole header; before that the parser may decide
         * early (a reserved bit, a length over the limit), but never OK. */
        if (ref_rc != WSFRAME_MORE) {
            CHECK(rc == ref_rc);
            CHECK(rc != WSFRAME_OK || same_header(&h, &ref));
            CHECK(rc != WSFRAME_TOO_BIG || h.len == ref.len);
        } else {
            CHECK(rc != WSFRAME_OK);
        }
        /* Stable once decided. */
        if (prev_rc != WSFRAME_MORE) {
            CHECK(rc == prev_rc);
            CHECK(rc != WSFRAME_OK || same_header(&h, &prev));
            CHECK(rc != WSFRAME_TOO_BIG || h.len == prev.len);
        }
        prev_rc = rc;
        prev = h;
    }
}

/* Unmasks payload[0..len) of h whole, in pieces and twice, against a plain XOR. */
static void check_unmask(const struct wsframe *h, const unsigned char *payload, size_t len,
                         uint64_t offset)
{
    unsigned char *whole = malloc(len + 1);
    unsigned char *pieces = malloc(len + 1);
    size_t cut = len / 3;

    CHECK(whole != NULL && pieces != NULL);
    memcpy(whole, payload, len);
    memcpy(pieces, payload, len);
    wsframe_unmask(h, whole, len, offset);
    for (size_t i = 0; i < len; i++) {
        CHECK(whole[i] == (unsigned char)(payload[i] ^ h->mask[(offset + i) % 4]));
    }
    /* As the event loop does when a payload arrives over several reads. */
    wsframe_unmask(h, pieces, cut, offset);
    wsframe_unmask(h, pieces + cut, len - cut, offset + cut);
    CHECK(memcmp(whole, pieces, len) == 0);
    wsframe_unmask(h, whole, len, offset);
    CHECK(memcmp(whole, payload, len) == 0);
    free(whole);
    free(pieces);
}

/* Reads frames one after the other while whole ones are there. */
static void walk(const unsigned char *p, size_t n, uint64_t max)
{
    size_t pos = 0;

    while (pos < n) {
        struct wsframe h;
        uint64_t offset = 0;

        if (wsframe_parse(p + pos, n - pos, max, &h) != WSFRAME_OK ||
            h.len > n - pos - h.header_len) {
            return;
        }
        /* A large offset too: the mask index must wrap like the payload position. */
        if (h.len >= 8) {
            memcpy(&offset, p + pos + h.header_len, 8);
        }
        check_unmask(&h, p + pos + h.header_len, (size_t)h.len, 0);
        check_unmask(&h, p + pos + h.header_len, (size_t)h.len, offset);
        pos += h.header_len + (size_t)h.len;
    }
}

/* The server's own frame header (ws_frame_header, relay.c) for opcode and len taken from p[0..9):
 * the shortest form, right-aligned; with a mask added, the client parser reads it back. */
static void check_writer(const unsigned char *p)
{
    static const int opcodes[] = {0x0, 0x1, 0x2, 0x8, 0x9, 0xa};
    static const unsigned char mask[4] = {1, 2, 3, 4};
    unsigned char h[WS_HEADER_MAX];
    unsigned char masked[WSFRAME_HEADER_MAX];
    int opcode = opcodes[p[0] % 6];
    uint64_t len64 = 0;
    size_t len;
    size_t hlen;
    struct wsframe back;

    for (int i = 1; i < 9; i++) {
        len64 = len64 << 8 | p[i];
    }
    len = (size_t)(len64 >> (p[0] >> 3 & 63)); /* small lengths as often as large ones */
    hlen = ws_frame_header(h, opcode, len);
    CHECK(hlen == (len <= 125 ? 2 : len <= 65535 ? 4 : 10));
    memcpy(masked, h + WS_HEADER_MAX - hlen, hlen);
    memcpy(masked + hlen, mask, sizeof mask);
    masked[1] |= 0x80;
    if (len > (size_t)INT64_MAX || (opcode >= 8 && len > 125)) {
        CHECK(wsframe_parse(masked, hlen + 4, UINT64_MAX, &back) == WSFRAME_PROTOCOL);
        return;
    }
    CHECK(wsframe_parse(masked, hlen + 4, UINT64_MAX, &back) == WSFRAME_OK);
    CHECK(back.fin == 0x80 && back.opcode == opcode && back.len == len &&
          back.header_len == hlen + 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t max;
    unsigned char *stream;

    if (size < 1) {
        return 0;
    }
    max = limits[data[0] % N_LIMITS];
    /* An exact copy, so that a read past the end is caught. */
    stream = malloc(size > 1 ? size - 1 : 1);
    CHECK(stream != NULL);
    memcpy(stream, data + 1, size - 1);
    check_prefixes(stream, size - 1, max);
    walk(stream, size - 1, max);
    if (size >= 10) {
        check_writer(stream);
    }
    free(stream);
    return 0;
}

/* ---- Seeds: real frames from a browser ------------------------------------------------------ */

/* Appends a masked client frame to buf at *n (the payload is given unmasked). */
static void put_frame(unsigned char *buf, size_t *n, unsigned char b0, const char *payload,
                      size_t len, int length_form)
{
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t o = *n;

    buf[o++] = b0;
    if (length_form == 0) {
        buf[o++] = (unsigned char)(0x80 | len);
    } else if (length_form == 2) {
        buf[o++] = 0x80 | 126;
        buf[o++] = (unsigned char)(len >> 8);
        buf[o++] = (unsigned char)len;
    } else {
        buf[o++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) {
            buf[o++] = (unsigned char)((uint64_t)len >> (8 * i));
        }
    }
    memcpy(buf + o, mask, 4);
    o += 4;
    for (size_t i = 0; i < len; i++) {
        buf[o + i] = (unsigned char)(payload[i] ^ mask[i % 4]);
    }
    *n = o + len;
}

/* A seed: limit selector limit_index, then the frames in buf[0..n). */
static void write_stream(const char *dir, const char *name, size_t limit_index,
                         const unsigned char *buf, size_t n)
{
    unsigned char *seed = malloc(n + 1);

    CHECK(seed != NULL);
    seed[0] = (unsigned char)limit_index;
    memcpy(seed + 1, buf, n);
    seed_write(dir, name, seed, n + 1);
    free(seed);
}

/* libFuzzer's signature. */
int LLVMFuzzerInitialize(int *argc, char ***argv) // NOLINT(readability-non-const-parameter)
{
    const char *dir = seed_dir();
    static const char auth[] = "{\"type\":\"auth\",\"token\":"
                               "\"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9."
                               "c2lnbmF0dXJl\"}";
    static const char offer[] =
        "{\"type\":\"offer\",\"to\":\"bob\",\"id\":3,\"sdp\":\"v=0\\r\\n\"}";
    static const char close_frame[] = "\x03\xe8" "bye";
    unsigned char *buf;
    char *big;
    size_t n = 0;

    (void)argc;
    (void)argv;
    if (dir == NULL) {
        return 0;
    }
    buf = malloc(70000 + 64);
    big = malloc(70000);
    CHECK(buf != NULL && big != NULL);
    memset(big, 'x', 70000);

    put_frame(buf, &n, 0x81, auth, sizeof auth - 1, 0);
    write_stream(dir, "text-auth", 7, buf, n);
    n = 0;
    put_frame(buf, &n, 0x81, offer, sizeof offer - 1, 0);
    put_frame(buf, &n, 0x89, "ping", 4, 0);
    put_frame(buf, &n, 0x8a, "", 0, 0);
    put_frame(buf, &n, 0x88, close_frame, sizeof close_frame - 1, 0);
    write_stream(dir, "offer-ping-pong-close", 7, buf, n);
    n = 0;
    put_frame(buf, &n, 0x82, big, 300, 2);
    write_stream(dir, "binary-16bit-length", 7, buf, n);
    n = 0;
    put_frame(buf, &n, 0x01, big, 10, 0);
    put_frame(buf, &n, 0x80, big, 10, 0);
    write_stream(dir, "fragmented", 7, buf, n);
    n = 0;
    put_frame(buf, &n, 0x81, big, 70000, 8);
    write_stream(dir, "text-64bit-length", 8, buf, n);
    write_stream(dir, "text-too-big", 7, buf, 14);
    n = 0;
    put_frame(buf, &n, 0x81, big, 125, 0);
    write_stream(dir, "text-125", 2, buf, n);
    free(buf);
    free(big);
    return 0;
}
