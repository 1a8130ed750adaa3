#include "bus_wire.h"

#include "names.h"

#include <string.h>

_Static_assert(BUS_NAME_MAX == NAMES_NAME_MAX, "bus names are usernames");

/* ---- Reading ------------------------------------------------------------------------------- */

struct rd {
    const unsigned char *p;
    size_t left;
    int bad;
};

static const unsigned char *take(struct rd *r, size_t n)
{
    const unsigned char *at = r->p;

    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return at;
}

static unsigned u8(struct rd *r)
{
    const unsigned char *b = take(r, 1);

    return b != NULL ? b[0] : 0;
}

static uint32_t u32(struct rd *r)
{
    const unsigned char *b = take(r, 4);

    return b != NULL ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                     : 0;
}

static uint64_t u64(struct rd *r)
{
    uint64_t hi = u32(r);

    return hi << 32 | u32(r);
}

/* A name: a length byte and a canonical username. */
static void name(struct rd *r, char out[BUS_NAME_MAX + 1])
{
    size_t n = u8(r);
    const unsigned char *b;

    out[0] = '\0';
    if (n > BUS_NAME_MAX) {
        r->bad = 1;
        return;
    }
    b = take(r, n);
    if (b == NULL || memchr(b, 0, n) != NULL) {
        r->bad = 1;
        return;
    }
    memcpy(out, b, n);
    out[n] = '\0';
    if (!account_username_valid(out)) {
        r->bad = 1;
    }
}

/* A device id, 1..BUS_DEVICE_ID_MAX, or 0 as well when zero_ok. */
static uint32_t device(struct rd *r, int zero_ok)
{
    uint32_t d = u32(r);

    if (d > BUS_DEVICE_ID_MAX || (d == 0 && !zero_ok)) {
        r->bad = 1;
    }
    return d;
}

int bus_wire_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/* A JSON object's text as relaying writes it: UTF-8, from '{' to '}'. */
static int text_ok(const char *t, size_t n)
{
    return n >= 2 && n <= BUS_TEXT_MAX && t[0] == '{' && t[n - 1] == '}' && bus_wire_utf8(t, n);
}

/* A ref: JSON text of a string or a number, without control characters. */
static int ref_ok(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f) {
            return 0;
        }
    }
    return n <= BUS_REF_MAX && bus_wire_utf8(t, n);
}

/* The number of ids a NOTICE of what carries: exactly one, none, or 1..16 (-1). */
static int notice_ids(int what)
{
    switch (what) {
    case BUS_NOTICE_IDENTITY:
    case BUS_NOTICE_DELETED:
        return 0;
    case BUS_NOTICE_DEVICES:
    case BUS_NOTICE_REVOKED:
    case BUS_NOTICE_PREKEYS:
    case BUS_NOTICE_MAIL:
        return 1;
    case BUS_NOTICE_REMOVED:
        return -1;
    default:
        return -2;
    }
}

static void parse_user(struct rd *r, struct bus_msg *m)
{
    name(r, m->user);
    m->flags = u8(r);
    if ((m->flags & ~(unsigned)(BUS_USER_SETTINGS | BUS_USER_HAS_CAP | BUS_USER_VISIBLE)) != 0 ||
        (!(m->flags & BUS_USER_SETTINGS) && m->flags != 0)) {
        r->bad = 1;
        return;
    }
    if (m->flags & BUS_USER_HAS_CAP) {
        const unsigned char *h = take(r, BUS_HASH_BYTES);
        if (h != NULL) {
            memcpy(m->cap_hash, h, BUS_HASH_BYTES);
        }
    }
    m->n_devices = u8(r);
    if (m->n_devices > BUS_DEVICES_MAX) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < m->n_devices && !r->bad; i++) {
        struct bus_device *d = &m->devices[i];
        unsigned listed;
        d->id = device(r, 0);
        listed = u8(r);
        d->since = u64(r);
        if (listed > 1 || (i > 0 && d->id <= m->devices[i - 1].id)) {
            r->bad = 1;
        }
        d->listed = (int)listed;
    }
}

static void parse_relay(struct rd *r, struct bus_msg *m)
{
    const unsigned char *b;

    name(r, m->sender);
    m->sender_device = device(r, 0);
    name(r, m->user);
    m->device = device(r, 1);
    m->flags = u8(r);
    if ((m->flags & ~(unsigned)(BUS_RELAY_OWN | BUS_RELAY_CHECK)) != 0) {
        r->bad = 1;
        return;
    }
    m->ref_len = (size_t)u8(r) << 8;
    m->ref_len |= u8(r);
    b = take(r, m->ref_len);
    m->ref = (const char *)b;
    if (b == NULL || !ref_ok(m->ref, m->ref_len)) {
        r->bad = 1;
        return;
    }
    m->text_len = u32(r);
    b = m->text_len <= BUS_TEXT_MAX ? take(r, m->text_len) : NULL;
    m->text = (const char *)b;
    if (b == NULL || !text_ok(m->text, m->text_len)) {
        r->bad = 1;
    }
}

static void parse_deliver(struct rd *r, struct bus_msg *m)
{
    const unsigned char *b;

    name(r, m->user);
    m->device = device(r, 0);
    m->text_len = u32(r);
    b = m->text_len <= BUS_TEXT_MAX ? take(r, m->text_len) : NULL;
    m->text = (const char *)b;
    if (b == NULL || !text_ok(m->text, m->text_len)) {
        r->bad = 1;
    }
}

static void parse_notice(struct rd *r, struct bus_msg *m)
{
    int want;

    m->what = (int)u8(r);
    want = notice_ids(m->what);
    name(r, m->user);
    m->n_ids = u8(r);
    if (want == -2 || (want >= 0 && m->n_ids != (size_t)want) ||
        (want == -1 && (m->n_ids < 1 || m->n_ids > BUS_DEVICES_MAX))) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < m->n_ids && !r->bad; i++) {
        int zero_ok = m->what == BUS_NOTICE_DEVICES || m->what == BUS_NOTICE_REVOKED;
        m->ids[i] = device(r, zero_ok);
    }
}

int bus_wire_parse(const unsigned char *buf, size_t len, struct bus_msg *m)
{
    struct rd r = {buf, len, 0};
    const unsigned char *id;

    memset(m, 0, sizeof *m);
    if (len > BUS_WIRE_MAX || u8(&r) != BUS_WIRE_VERSION) {
        return -1;
    }
    m->kind = (int)u8(&r);
    id = take(&r, BUS_ID_BYTES);
    if (id == NULL) {
        return -1;
    }
    memcpy(m->from, id, BUS_ID_BYTES);
    switch (m->kind) {
    case BUS_ALIVE:
    case BUS_SYNC:
    case BUS_BYE:
        break;
    case BUS_USER:
        parse_user(&r, m);
        break;
    case BUS_RELAY:
        parse_relay(&r, m);
        break;
    case BUS_DELIVER:
        parse_deliver(&r, m);
        break;
    case BUS_NOTICE:
        parse_notice(&r, m);
        break;
    default:
        return -1;
    }
    return r.bad || r.left != 0 ? -1 : 0;
}

/* ---- Writing ------------------------------------------------------------------------------- */

struct wr {
    unsigned char *p;
    size_t left;
    size_t n;
    int bad;
};

static void put(struct wr *w, const void *b, size_t n)
{
    if (n == 0) {
        return;
    }
    if (w->bad || n > w->left || b == NULL) {
        w->bad = 1;
        return;
    }
    memcpy(w->p + w->n, b, n);
    w->n += n;
    w->left -= n;
}

static void put8(struct wr *w, unsigned v)
{
    unsigned char b = (unsigned char)v;

    put(w, &b, 1);
}

static void put32(struct wr *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    put(w, b, 4);
}

static void put_name(struct wr *w, const char *s)
{
    size_t n = strnlen(s, BUS_NAME_MAX + 1);

    if (n > BUS_NAME_MAX) {
        w->bad = 1;
        return;
    }
    put8(w, (unsigned)n);
    put(w, s, n);
}

size_t bus_wire_write(const struct bus_msg *m, unsigned char *out, size_t cap)
{
    struct wr w = {out, cap, 0, 0};
    struct bus_msg check;

    put8(&w, BUS_WIRE_VERSION);
    put8(&w, (unsigned)m->kind);
    put(&w, m->from, BUS_ID_BYTES);
    switch (m->kind) {
    case BUS_USER:
        put_name(&w, m->user);
        put8(&w, m->flags);
        if (m->flags & BUS_USER_HAS_CAP) {
            put(&w, m->cap_hash, BUS_HASH_BYTES);
        }
        put8(&w, (unsigned)m->n_devices);
        for (size_t i = 0; i < m->n_devices && i < BUS_DEVICES_MAX; i++) {
            put32(&w, m->devices[i].id);
            put8(&w, m->devices[i].listed ? 1 : 0);
            put32(&w, (uint32_t)(m->devices[i].since >> 32));
            put32(&w, (uint32_t)m->devices[i].since);
        }
        break;
    case BUS_RELAY:
        put_name(&w, m->sender);
        put32(&w, m->sender_device);
        put_name(&w, m->user);
        put32(&w, m->device);
        put8(&w, m->flags);
        put8(&w, (unsigned)(m->ref_len >> 8));
        put8(&w, (unsigned)(m->ref_len & 0xff));
        put(&w, m->ref, m->ref_len);
        put32(&w, (uint32_t)m->text_len);
        put(&w, m->text, m->text_len);
        break;
    case BUS_DELIVER:
        put_name(&w, m->user);
        put32(&w, m->device);
        put32(&w, (uint32_t)m->text_len);
        put(&w, m->text, m->text_len);
        break;
    case BUS_NOTICE:
        put8(&w, (unsigned)m->what);
        put_name(&w, m->user);
        put8(&w, (unsigned)m->n_ids);
        for (size_t i = 0; i < m->n_ids && i < BUS_DEVICES_MAX; i++) {
            put32(&w, m->ids[i]);
        }
        break;
    default:
        break;
    }
    /* Only what the receivers accept is sent. */
    if (w.bad || bus_wire_parse(out, w.n, &check) != 0) {
        return 0;
    }
    return w.n;
}
