#include "wsframe.h"

static int opcode_known(int op)
{
    return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xa;
}

enum wsframe_result wsframe_parse(const unsigned char *p, size_t n, uint64_t max,
                                  struct wsframe *h)
{
    uint64_t len;
    size_t hlen = 2;

    if (n < 2) {
        return WSFRAME_MORE;
    }
    h->fin = p[0] & 0x80;
    h->opcode = p[0] & 0x0f;
    if ((p[0] & 0x70) != 0 || !(p[1] & 0x80) || !opcode_known(h->opcode)) {
        return WSFRAME_PROTOCOL;
    }
    len = p[1] & 0x7f;
    if (len == 126) {
        if (n < 4) {
            return WSFRAME_MORE;
        }
        len = ((uint64_t)p[2] << 8) | p[3];
        hlen = 4;
        if (len < 126) {
            return WSFRAME_PROTOCOL; /* RFC 6455 5.2: the minimal number of bytes */
        }
    } else if (len == 127) {
        if (n < 10) {
            return WSFRAME_MORE;
        }
        len = 0;
        for (int i = 2; i < 10; i++) {
            len = (len << 8) | p[i];
        }
        hlen = 10;
        if ((len >> 63) != 0 || len <= 0xffff) {
            return WSFRAME_PROTOCOL;
        }
    }
    if (h->opcode >= 0x8 && (!h->fin || len > 125)) {
        return WSFRAME_PROTOCOL;
    }
    if (len > max) {
        h->len = len;
        return WSFRAME_TOO_BIG;
    }
    if (n < hlen + 4) {
        return WSFRAME_MORE;
    }
    for (int i = 0; i < 4; i++) {
        h->mask[i] = p[hlen + (size_t)i];
    }
    h->len = len;
    h->header_len = hlen + 4;
    return WSFRAME_OK;
}

void wsframe_unmask(const struct wsframe *h, unsigned char *data, size_t len, uint64_t offset)
{
    for (size_t i = 0; i < len; i++) {
        data[i] ^= h->mask[(offset + i) & 3];
    }
}
