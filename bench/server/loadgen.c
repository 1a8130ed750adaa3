/* Lean WebSocket load generator for the full-speed relay benchmark (bench/server/fullspeed.mjs).
 *
 *   bench_loadgen --kind parley|peerjs --port PORT --users FILE --pairs N
 *                 [--host 127.0.0.1] [--origin URL] [--secs 10] [--threads 1]
 *                 [--server-pid PID] [--inflight 128] [--heartbeat-ms 20000] [--busy-poll 0|1]
 *                 [--rate MSGS_PER_S] [--port2 PORT] [--slot-base 10]
 *
 * Opens 2 x N WebSocket clients to 127.0.0.1:PORT (clients 2k+1 to --port2 when given: another
 * instance of a cluster, bench/server/instances.mjs) from one process (a fixed number of threads,
 * each with its own epoll set and its own pairs; non-blocking sockets, edge-triggered):
 *   parley: GET /ws (Origin: --origin), {"type":"auth","token":T}, waits for {"type":"ready"...}
 *   peerjs: GET /peerjs?key=peerjs&id=NAME&token=T, waits for {"type":"OPEN"}; sends
 *           {"type":"HEARTBEAT"} every --heartbeat-ms as bench/server/capacity.mjs does.
 * FILE has one client a line, "NAME TOKEN CAP CAPHASH" (line i is client i; clients 2k and 2k+1
 * are a pair; CAP and CAPHASH, a presence capability in base64url and its HMAC-SHA256 under
 * "parley-presence-cap-v1", only for parley, where fullspeed.mjs computes them).
 *
 * The server's limits against abuse shape the set-up, not the relay: one address may have 16
 * WebSockets waiting to authenticate, so each thread connects from its own loopback addresses
 * (127.0.0.10 and up, or --slot-base and up, one per 16 clients it may have in flight; the server's --max-per-address
 * must allow the clients an address ends up holding, and --inflight must not pass the
 * max(64, max-connections / 4) it lets wait in all), and only accepted contacts may relay
 * anything but chat requests, so once both ends of a parley pair are ready they become contacts
 * as pages do: client 2k+1 sends {"type":"presence-settings","capHash":CAPHASH,"visible":true}
 * and, once it is answered "presence-saved", client 2k subscribes with
 * {"type":"subscribe","users":[{"user":NAME,"cap":CAP}]} and waits for the "presence" answer
 * (a subscription with the recipient's capability makes both directions relayable). Only pairs
 * that became contacts relay.
 *
 * Then, like capacity.mjs's full-speed phase: every pair bounces one 200-byte offer back and
 * forth as fast as it arrives for --secs seconds. With --rate R, like capacity.mjs's fixed-rate
 * phase instead: R offers a second in all (spread evenly over the threads), sent on a schedule
 * round-robin over the pairs, alternating direction, nothing bounced; a message
 * that cannot leave on time leaves late and its latency counts from its scheduled time. The send time (ns since the program started)
 * travels in the message ("t"), so latency is one-way, sender and receiver in this process.
 * Messages that arrive in the window are counted and their latency recorded; after the window
 * the generator drains for 1 s without bouncing, sends close frames (1000) and waits up to 2 s
 * for the server's.
 *
 * Client framing per RFC 6455: every frame masked with its own random key, 7/16/64-bit lengths,
 * partial reads and writes, several frames per read, fragments reassembled, ping answered with
 * pong, a close frame answered with a close frame. The handshake's status line (101) is checked;
 * Sec-WebSocket-Accept is not (both servers are trusted here).
 *
 * Prints one JSON object on stdout: counts, rate, latency p50/p99/max, messages per second of
 * the window, the generator's CPU (getrusage) and the server's (/proc/PID/stat, with
 * --server-pid) over the window, and the machine's busy CPU (/proc/stat). Asserts nothing.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum kind { KIND_PARLEY, KIND_PEERJS };
enum cstate { C_IDLE, C_CONNECTING, C_UPGRADING, C_AUTH, C_READY, C_CLOSING, C_DEAD };

struct conn {
    int fd;
    int idx;     /* global index: line of the users file */
    int partner; /* the other end of its pair */
    uint8_t state;
    bool blocked; /* last send hit EAGAIN: wait for EPOLLOUT */
    bool close_sent;
    bool was_ready;
    bool cap_saved; /* parley: its presence-settings were answered presence-saved */
    bool contact;   /* both ends of its pair are contacts (peerjs: once both are ready) */
    int8_t slot;    /* its worker's source address, while connecting */
    uint8_t frag_op;
    int64_t started;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint8_t *frag;
    size_t frag_len, frag_cap;
    struct worker *w;
};

struct worker {
    int id;
    int epfd;
    int first, count; /* connections [first, first + count) */
    uint64_t rng;
    pthread_t th;
    /* connect phase */
    int next, inflight, settled, held, failed;
    int nslots;            /* source addresses 127.0.0.(first_slot + k), k < nslots */
    int first_slot;
    int *slot_inflight;    /* clients of each source address between connect() and ready */
    int contacts;          /* pairs made contacts */
    int64_t connected_at;  /* the connect phase's end (relative ns) */
    /* relay */
    uint64_t sent, received, late, rate_limited, errors, lost;
    uint64_t *per_sec;
    uint32_t *lat; /* microseconds */
    size_t lat_len, lat_cap;
};

static struct {
    enum kind kind;
    const char *host;
    int port;
    int port2; /* --port2: clients 2k+1 connect there (another instance; 0: --port) */
    int slot_base; /* --slot-base: the first source address 127.0.0.N (default 10) */
    const char *origin;
    const char *users_path;
    int pairs, conns, threads, inflight, secs, heartbeat_ms, busy_poll;
    double rate; /* 0: full speed (bounce); else offers per second in all */
    long server_pid;
    struct sockaddr_in addr, addr2;
    char **names, **tokens, **caps, **cap_hashes;
    struct conn *c;
    struct worker *w;
    pthread_barrier_t connected, go;
    int64_t t_base;             /* CLOCK_MONOTONIC ns at start; stamps are relative to it */
    _Atomic int64_t run_start;  /* relative ns */
    _Atomic int64_t run_end;
} G;

static const char SDP[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - G.t_base;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(2);
    }
    return q;
}

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m) return NULL;
    for (const uint8_t *p = hay; (p = memchr(p, needle[0], n - m + 1 - (size_t)(p - hay))) != NULL; p++) {
        if (memcmp(p, needle, m) == 0) return p;
        if ((size_t)(p - hay) + m >= n) break;
    }
    return NULL;
}

/* ------------------------------------------------------------------------- output -------- */

/* One source address may have at most this many clients waiting to authenticate (the server's
 * GUARD_WS_UNAUTH_PER_ADDRESS). */
#define UNAUTH_PER_ADDRESS 16

static void leave_inflight(struct conn *c)
{
    struct worker *w = c->w;
    w->inflight--;
    w->settled++;
    if (c->slot >= 0) w->slot_inflight[c->slot]--;
    c->slot = -1;
}

static void kill_conn(struct conn *c)
{
    if (c->state == C_DEAD) return;
    struct worker *w = c->w;
    if (c->state == C_IDLE) { /* never started (connect phase over): counted as failed */
        w->failed++;
    } else if (c->state < C_READY) {
        leave_inflight(c);
        w->failed++;
    } else if (c->state == C_READY && now_ns() < atomic_load(&G.run_end)) {
        w->lost++; /* dropped before the end of the window */
    }
    if (c->fd >= 0) close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->state = C_DEAD;
    c->out_off = c->out_len = 0;
}

static void flush(struct conn *c)
{
    while (c->fd >= 0 && !c->blocked && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->blocked = true;
        } else {
            kill_conn(c);
            return;
        }
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
}

static uint8_t *out_reserve(struct conn *c, size_t n)
{
    if (c->out_off > 0 && c->out_len + n > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 512;
        while (cap < c->out_len + n) cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

/* Queues one masked frame (FIN set) and tries to send it. */
static void send_frame(struct conn *c, int opcode, const void *data, size_t len)
{
    if (c->state == C_DEAD || c->close_sent) return;
    uint8_t *p = out_reserve(c, len + 14);
    size_t h = 0;
    p[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        p[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        p[h++] = 0x80 | 126;
        p[h++] = (uint8_t)(len >> 8);
        p[h++] = (uint8_t)len;
    } else {
        p[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) p[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint64_t r = rng_next(&c->w->rng);
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    memcpy(p + h, mask, 4);
    h += 4;
    const uint8_t *d = data;
    for (size_t i = 0; i < len; i++) p[h + i] = d[i] ^ mask[i & 3];
    c->out_len += h + len;
    if (opcode == 8) c->close_sent = true;
    flush(c);
}

static void send_text(struct conn *c, const char *s, size_t len) { send_frame(c, 1, s, len); }

static void send_offer(struct conn *from, int64_t t)
{
    char buf[512];
    const char *to = G.names[from->partner];
    int n;
    if (G.kind == KIND_PARLEY)
        n = snprintf(buf, sizeof buf, "{\"type\":\"offer\",\"to\":\"%s\",\"t\":%" PRId64 ",\"e\":1,\"f\":%d,\"sdp\":\"%s\"}",
                     to, t, from->idx, SDP);
    else
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"OFFER\",\"dst\":\"%s\",\"payload\":{\"t\":%" PRId64 ",\"e\":1,\"f\":%d,\"sdp\":\"%s\"}}",
                     to, t, from->idx, SDP);
    if (n <= 0 || (size_t)n >= sizeof buf) return;
    send_text(from, buf, (size_t)n);
    from->w->sent++;
}

/* ------------------------------------------------------------------------- input --------- */

static void became_ready(struct conn *c)
{
    c->state = C_READY;
    c->was_ready = true;
    leave_inflight(c);
    c->w->held++;
}

/* Parley: client a (even) subscribes to its partner b with b's capability. */
static void send_subscribe(struct conn *a)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "{\"type\":\"subscribe\",\"users\":[{\"user\":\"%s\",\"cap\":\"%s\"}]}",
                     G.names[a->partner], G.caps[a->partner]);
    if (n > 0 && (size_t)n < sizeof buf) send_text(a, buf, (size_t)n);
}

/* Parley: the contact messages (see the top). 1 when m was one of their answers. */
static int on_contact_answer(struct conn *c, const uint8_t *m, size_t n)
{
    struct conn *partner = &G.c[c->partner];
    if (find(m, n, "\"type\":\"presence-saved\"")) {
        c->cap_saved = true;
        if (partner->state == C_READY && !partner->contact) send_subscribe(partner);
        return 1;
    }
    if (find(m, n, "\"type\":\"presence\"")) {
        if ((c->idx & 1) == 0 && !c->contact && partner->state == C_READY && find(m, n, "\"state\":\"online\"")) {
            c->contact = partner->contact = true;
            c->w->contacts++;
        }
        return 1;
    }
    return 0;
}

static void on_text(struct conn *c, const uint8_t *m, size_t n)
{
    struct worker *w = c->w;
    if (c->state == C_AUTH) {
        if (find(m, n, G.kind == KIND_PARLEY ? "\"type\":\"ready\"" : "\"type\":\"OPEN\"")) {
            became_ready(c);
        } else {
            if (w->failed < 3) fprintf(stderr, "loadgen: client %d refused: %.*s\n", c->idx, (int)(n > 200 ? 200 : n), m);
            kill_conn(c);
        }
        return;
    }
    if (c->state != C_READY) return;
    if (G.kind == KIND_PARLEY && on_contact_answer(c, m, n)) return;
    const uint8_t *t = find(m, n, "\"t\":");
    if (!t || find(m, n, "\"type\":\"error\"") || find(m, n, "\"type\":\"ERROR\"")) {
        if (find(m, n, "rate_limited")) w->rate_limited++;
        else {
            if (w->errors < 3) fprintf(stderr, "loadgen: client %d got: %.*s\n", c->idx, (int)(n > 200 ? 200 : n), m);
            w->errors++;
        }
        return;
    }
    int64_t now = now_ns();
    int64_t sent_at = strtoll((const char *)t + 4, NULL, 10);
    int64_t start = atomic_load_explicit(&G.run_start, memory_order_relaxed);
    int64_t end = atomic_load_explicit(&G.run_end, memory_order_relaxed);
    if (now >= end || now < start) {
        w->late++;
        return; /* draining: no bounce */
    }
    w->received++;
    w->per_sec[(now - start) / 1000000000]++;
    int64_t us = (now - sent_at) / 1000;
    if (w->lat_len == w->lat_cap) {
        w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 1 << 16;
        w->lat = xrealloc(w->lat, w->lat_cap * sizeof *w->lat);
    }
    w->lat[w->lat_len++] = (uint32_t)(us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : us);
    if (G.rate == 0) send_offer(c, now); /* bounce back to the sender (c's partner) */
}

static void on_frame(struct conn *c, int fin, int op, uint8_t *p, size_t n)
{
    if (op == 9) { /* ping */
        send_frame(c, 10, p, n);
        return;
    }
    if (op == 10) return; /* pong */
    if (op == 8) {        /* close: answer with the same code, then drop the connection */
        if (!c->close_sent) send_frame(c, 8, p, n >= 2 ? 2 : 0);
        if (c->state == C_READY && atomic_load(&G.run_end) > now_ns() && c->w->lost < 3)
            fprintf(stderr, "loadgen: client %d closed by the server (%d)\n", c->idx, n >= 2 ? p[0] << 8 | p[1] : 0);
        kill_conn(c);
        return;
    }
    if (op == 0 || !fin) { /* fragments */
        if (op != 0) c->frag_op = (uint8_t)op, c->frag_len = 0;
        if (c->frag_len + n > c->frag_cap) {
            c->frag_cap = c->frag_len + n + 1024;
            c->frag = xrealloc(c->frag, c->frag_cap);
        }
        memcpy(c->frag + c->frag_len, p, n);
        c->frag_len += n;
        if (!fin) return;
        op = c->frag_op;
        p = c->frag;
        n = c->frag_len;
        c->frag_len = 0;
    }
    if (op == 1 || op == 2) on_text(c, p, n);
}

/* Parses the frames in c->in; returns false when the connection died. */
static bool parse_frames(struct conn *c)
{
    size_t off = 0;
    while (c->state != C_DEAD) {
        uint8_t *p = c->in + off;
        size_t avail = c->in_len - off;
        if (avail < 2) break;
        int fin = p[0] >> 7, op = p[0] & 15;
        bool masked = p[1] >> 7;
        uint64_t len = p[1] & 127;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
            h = 10;
        }
        if (len > (1u << 24)) {
            fprintf(stderr, "loadgen: client %d: frame of %" PRIu64 " bytes\n", c->idx, len);
            kill_conn(c);
            return false;
        }
        size_t mh = masked ? 4 : 0; /* servers do not mask; tolerated */
        if (avail < h + mh + len) {
            if (h + mh + len > c->in_cap) {
                c->in_cap = h + mh + len;
                c->in = xrealloc(c->in, c->in_cap);
            }
            break;
        }
        uint8_t *data = p + h + mh;
        if (masked)
            for (size_t i = 0; i < len; i++) data[i] ^= p[h + (i & 3)];
        off += h + mh + len;
        on_frame(c, fin, op, data, (size_t)len);
    }
    if (c->state == C_DEAD) return false;
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return true;
}

static void send_handshake(struct conn *c)
{
    char key[25], req[1024];
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[18];
    uint64_t a = rng_next(&c->w->rng), b = rng_next(&c->w->rng);
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    raw[16] = raw[17] = 0;
    for (int i = 0, o = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0 && o < 24; k--) key[o++] = b64[(v >> (6 * k)) & 63];
    }
    key[22] = key[23] = '=';
    key[24] = 0;
    int n;
    if (G.kind == KIND_PARLEY)
        n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n",
                     G.host, (c->idx & 1) && G.port2 > 0 ? G.port2 : G.port, key, G.origin);
    else
        n = snprintf(req, sizeof req,
                     "GET /peerjs?key=peerjs&id=%s&token=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     G.names[c->idx], G.tokens[c->idx], G.host, G.port, key);
    if (n <= 0 || (size_t)n >= sizeof req) {
        kill_conn(c);
        return;
    }
    memcpy(out_reserve(c, (size_t)n), req, (size_t)n);
    c->out_len += (size_t)n;
    c->state = C_UPGRADING;
    flush(c);
}

static void on_readable(struct conn *c, bool hangup)
{
    for (;;) {
        if (c->in_cap - c->in_len < 1024) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 4096;
            c->in = xrealloc(c->in, c->in_cap);
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (c->state == C_READY && atomic_load(&G.run_end) > now_ns() && c->w->lost < 3)
                fprintf(stderr, "loadgen: client %d: connection closed (%s)\n", c->idx, n < 0 ? strerror(errno) : "EOF");
            kill_conn(c);
            return;
        }
        c->in_len += (size_t)n;
        if (c->state == C_UPGRADING) {
            const uint8_t *e = find(c->in, c->in_len, "\r\n\r\n");
            if (!e) continue;
            if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
                if (c->w->failed < 3) fprintf(stderr, "loadgen: client %d upgrade refused: %.*s\n", c->idx, (int)(e - c->in), c->in);
                kill_conn(c);
                return;
            }
            size_t hl = (size_t)(e - c->in) + 4;
            memmove(c->in, c->in + hl, c->in_len - hl);
            c->in_len -= hl;
            c->state = C_AUTH;
            if (G.kind == KIND_PARLEY) {
                char auth[4096];
                int m = snprintf(auth, sizeof auth, "{\"type\":\"auth\",\"token\":\"%s\"}", G.tokens[c->idx]);
                if (m > 0 && (size_t)m < sizeof auth) send_text(c, auth, (size_t)m);
            }
        }
        if (c->state != C_UPGRADING && !parse_frames(c)) return;
        /* A short read emptied the socket: the next arrival raises a new edge (as nginx does),
           so no second recv() just to see EAGAIN (unless the peer hung up: read to the EOF). */
        if ((size_t)n < room && !hangup) return;
    }
}

static void on_event(struct conn *c, uint32_t ev)
{
    if (c->state == C_DEAD) return;
    if (c->state == C_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            if (c->w->failed < 3) fprintf(stderr, "loadgen: client %d: connect: %s\n", c->idx, strerror(err ? err : errno));
            kill_conn(c);
            return;
        }
        send_handshake(c);
        return;
    }
    if (ev & EPOLLOUT) {
        c->blocked = false;
        flush(c);
    }
    if (c->state != C_DEAD && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(c, (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
}

static void start_connect(struct worker *w, struct conn *c)
{
    int slot = 0;
    for (int k = 1; k < w->nslots && w->slot_inflight[slot] >= UNAUTH_PER_ADDRESS; k++) slot = k;
    c->w = w;
    c->started = now_ns();
    c->slot = (int8_t)slot;
    w->slot_inflight[slot]++;
    w->inflight++;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* From the slot's loopback address (the port is chosen at connect(), per destination). */
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(w->first_slot + slot))};
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) die("bind");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
    c->state = C_CONNECTING;
    const struct sockaddr_in *dst = (c->idx & 1) && G.port2 > 0 ? &G.addr2 : &G.addr;
    if (connect(c->fd, (const struct sockaddr *)dst, sizeof *dst) != 0 && errno != EINPROGRESS) {
        if (w->failed < 3) fprintf(stderr, "loadgen: client %d: connect: %s\n", c->idx, strerror(errno));
        kill_conn(c);
    }
}

/* ------------------------------------------------------------------------- worker -------- */

static void poll_once(struct worker *w, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(w->epfd, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
}

static void heartbeat(struct worker *w, int64_t *next)
{
    if (G.kind != KIND_PEERJS || now_ns() < *next) return;
    *next += (int64_t)G.heartbeat_ms * 1000000;
    for (int i = w->first; i < w->first + w->count; i++)
        if (G.c[i].state == C_READY) send_text(&G.c[i], "{\"type\":\"HEARTBEAT\"}", 20);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->epfd = epoll_create1(0);
    if (w->epfd < 0) die("epoll_create1");
    w->next = w->first;
    int64_t next_hb = now_ns() + (int64_t)G.heartbeat_ms * 1000000, next_check = 0;
    int limit = G.inflight / G.threads > 0 ? G.inflight / G.threads : 1;
    int64_t connect_deadline = now_ns() + 120 * (int64_t)1000000000;
    /* Connect: at most `limit` clients between connect() and ready at a time. */
    while (w->settled < w->count && now_ns() < connect_deadline) {
        while (w->inflight < limit && w->next < w->first + w->count) start_connect(w, &G.c[w->next++]);
        poll_once(w, 50);
        heartbeat(w, &next_hb);
        int64_t now = now_ns();
        if (now >= next_check) { /* 30 s per client, as capacity.mjs */
            next_check = now + 500000000;
            for (int i = w->first; i < w->next; i++)
                if (G.c[i].state > C_IDLE && G.c[i].state < C_READY && now - G.c[i].started > 30 * (int64_t)1000000000)
                    kill_conn(&G.c[i]);
        }
    }
    for (int i = w->first; i < w->first + w->count; i++)
        if (G.c[i].state < C_READY) kill_conn(&G.c[i]);
    w->connected_at = now_ns();
    /* Contacts (see the top): every pair whose both ends are ready. */
    int want = 0;
    for (int i = w->first; i + 1 < w->first + w->count; i += 2) {
        if (G.c[i].state != C_READY || G.c[i + 1].state != C_READY) continue;
        want++;
        if (G.kind == KIND_PEERJS) {
            G.c[i].contact = G.c[i + 1].contact = true;
            w->contacts++;
            continue;
        }
        char buf[256];
        int n = snprintf(buf, sizeof buf, "{\"type\":\"presence-settings\",\"capHash\":\"%s\",\"visible\":true}",
                         G.cap_hashes[i + 1]);
        if (n > 0 && (size_t)n < sizeof buf) send_text(&G.c[i + 1], buf, (size_t)n);
    }
    int64_t contact_deadline = now_ns() + 60 * (int64_t)1000000000;
    while (w->contacts < want && now_ns() < contact_deadline) {
        poll_once(w, 50);
        heartbeat(w, &next_hb);
    }
    if (w->contacts < want) fprintf(stderr, "loadgen: %d of %d pairs did not become contacts\n", want - w->contacts, want);
    pthread_barrier_wait(&G.connected);
    pthread_barrier_wait(&G.go);
    int64_t t0 = now_ns();
    int64_t end = atomic_load(&G.run_end);
    if (G.rate == 0) {
        /* Full speed: every pair whose both ends are ready starts one message. */
        for (int i = w->first; i + 1 < w->first + w->count; i += 2)
            if (G.c[i].state == C_READY && G.c[i + 1].state == C_READY && G.c[i].contact) send_offer(&G.c[i], t0);
    }
    double per_ns = G.rate / G.threads / 1e9;
    uint64_t scheduled = 0;
    int turn = 0;
    while (now_ns() < end + 1000000000) { /* the window, then 1 s to drain */
        int64_t now = now_ns();
        if (G.rate > 0 && now < end) {
            /* Fixed rate: what the schedule owes by now, each stamped with its own due time. */
            uint64_t due = (uint64_t)((double)(now - t0) * per_ns);
            for (; scheduled < due; scheduled++) {
                int pair = turn++ % (w->count / 2 > 0 ? w->count / 2 : 1);
                struct conn *a = &G.c[w->first + 2 * pair];
                struct conn *b = a + 1;
                if (w->first + 2 * pair + 1 >= w->first + w->count) break;
                if (a->state == C_READY && b->state == C_READY && a->contact)
                    send_offer((scheduled / (uint64_t)(w->count / 2)) % 2 ? b : a, t0 + (int64_t)((double)scheduled / per_ns));
            }
        }
        poll_once(w, G.busy_poll && now < end ? 0 : (G.rate > 0 && now < end ? 1 : 20));
        heartbeat(w, &next_hb);
    }
    /* Orderly close: close frame 1000, wait up to 2 s for the server's. */
    for (int i = w->first; i < w->first + w->count; i++) {
        struct conn *c = &G.c[i];
        if (c->state != C_READY) continue;
        c->state = C_CLOSING;
        uint8_t code[2] = {1000 >> 8, 1000 & 255};
        send_frame(c, 8, code, 2);
    }
    int64_t close_deadline = now_ns() + 2000000000;
    while (now_ns() < close_deadline) {
        int still = 0;
        for (int i = w->first; i < w->first + w->count; i++) still += G.c[i].state == C_CLOSING;
        if (!still) break;
        poll_once(w, 20);
    }
    for (int i = w->first; i < w->first + w->count; i++) kill_conn(&G.c[i]);
    close(w->epfd);
    return NULL;
}

/* ------------------------------------------------------------------------- main ---------- */

static double proc_cpu_s(long pid, double *sys) /* utime + stime of a process, seconds; stime in *sys */
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    *sys = (double)st / (double)sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Sums the scheduler's run time and run-queue wait (ns) over the threads of a process
   (/proc/PID/task/TID/schedstat: on-CPU ns, waiting-on-a-runqueue ns, timeslices). */
static void sched_ns(const char *proc, double *run, double *wait)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/task", proc);
    *run = *wait = 0;
    DIR *d = opendir(path);
    if (!d) {
        *run = *wait = -1;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%s/task/%s/schedstat", proc, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long r = 0, q = 0;
        if (f && fscanf(f, "%llu %llu", &r, &q) == 2) *run += (double)r, *wait += (double)q;
        if (f) fclose(f);
    }
    closedir(d);
}

static void machine_cpu(double *busy, double *total) /* seconds since boot, all CPUs */
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
        if (f) fclose(f);
        *busy = *total = -1;
        return;
    }
    fclose(f);
    double hz = (double)sysconf(_SC_CLK_TCK), all = 0;
    for (int i = 0; i < 8; i++) all += (double)v[i];
    *total = all / hz;
    *busy = (all - (double)v[3] - (double)v[4]) / hz;
}

static void self_cpu(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void load_users(void)
{
    FILE *f = fopen(G.users_path, "r");
    if (!f) die(G.users_path);
    G.names = calloc((size_t)G.conns, sizeof *G.names);
    G.tokens = calloc((size_t)G.conns, sizeof *G.tokens);
    G.caps = calloc((size_t)G.conns, sizeof *G.caps);
    G.cap_hashes = calloc((size_t)G.conns, sizeof *G.cap_hashes);
    char *line = NULL;
    size_t cap = 0;
    int i = 0;
    while (i < G.conns && getline(&line, &cap, f) > 0) {
        char *field[4] = {NULL, NULL, NULL, NULL};
        int nf = 0;
        for (char *save = NULL, *t = strtok_r(line, " \r\n", &save); t && nf < 4; t = strtok_r(NULL, " \r\n", &save))
            field[nf++] = t;
        if (nf < 2) continue;
        if (G.kind == KIND_PARLEY && (nf < 4 || strlen(field[2]) > 64 || strlen(field[3]) > 64)) {
            fprintf(stderr, "loadgen: %s line %d: NAME TOKEN CAP CAPHASH expected for parley\n", G.users_path, i + 1);
            exit(2);
        }
        G.names[i] = strdup(field[0]);
        G.tokens[i] = strdup(field[1]);
        G.caps[i] = nf > 2 ? strdup(field[2]) : NULL;
        G.cap_hashes[i] = nf > 3 ? strdup(field[3]) : NULL;
        i++;
    }
    free(line);
    fclose(f);
    if (i < G.conns) {
        fprintf(stderr, "loadgen: %s has %d users, %d needed\n", G.users_path, i, G.conns);
        exit(2);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_loadgen --kind parley|peerjs --port PORT [--port2 PORT] --users FILE --pairs N [--host 127.0.0.1]\n"
                    "       [--origin URL] [--secs 10] [--threads 1] [--server-pid PID] [--inflight 128] [--heartbeat-ms 20000] [--busy-poll 0|1]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    G.host = "127.0.0.1";
    G.secs = 10;
    G.threads = 1;
    G.inflight = 128;
    G.heartbeat_ms = 20000;
    G.slot_base = 10;
    G.kind = KIND_PARLEY;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--kind")) G.kind = !strcmp(v, "peerjs") ? KIND_PEERJS : KIND_PARLEY;
        else if (!strcmp(a, "--host")) G.host = v;
        else if (!strcmp(a, "--port")) G.port = atoi(v);
        else if (!strcmp(a, "--port2")) G.port2 = atoi(v);
        else if (!strcmp(a, "--slot-base")) G.slot_base = atoi(v);
        else if (!strcmp(a, "--origin")) G.origin = v;
        else if (!strcmp(a, "--users")) G.users_path = v;
        else if (!strcmp(a, "--pairs")) G.pairs = atoi(v);
        else if (!strcmp(a, "--secs")) G.secs = atoi(v);
        else if (!strcmp(a, "--threads")) G.threads = atoi(v);
        else if (!strcmp(a, "--server-pid")) G.server_pid = atol(v);
        else if (!strcmp(a, "--inflight")) G.inflight = atoi(v);
        else if (!strcmp(a, "--heartbeat-ms")) G.heartbeat_ms = atoi(v);
        else if (!strcmp(a, "--busy-poll")) G.busy_poll = atoi(v);
        else if (!strcmp(a, "--rate")) G.rate = atof(v);
        else usage();
    }
    if (G.port <= 0 || !G.users_path || G.pairs <= 0 || G.secs <= 0 || G.threads <= 0 || G.heartbeat_ms <= 0 || G.inflight <= 0) usage();
    if (G.threads > G.pairs) G.threads = G.pairs;
    static char origin[128];
    if (!G.origin) {
        snprintf(origin, sizeof origin, "http://%s:%d", G.host, G.port);
        G.origin = origin;
    }
    G.conns = 2 * G.pairs;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    G.addr.sin_family = AF_INET;
    G.addr.sin_port = htons((uint16_t)G.port);
    if (inet_pton(AF_INET, G.host, &G.addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        return 2;
    }
    G.addr2 = G.addr;
    G.addr2.sin_port = htons((uint16_t)(G.port2 > 0 ? G.port2 : G.port));
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    G.t_base = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    atomic_store(&G.run_start, INT64_MAX);
    atomic_store(&G.run_end, INT64_MAX);
    load_users();

    G.c = calloc((size_t)G.conns, sizeof *G.c);
    G.w = calloc((size_t)G.threads, sizeof *G.w);
    for (int i = 0; i < G.conns; i++) G.c[i] = (struct conn){.fd = -1, .idx = i, .partner = i ^ 1, .state = C_IDLE, .slot = -1};
    uint64_t seed = 0;
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(&seed, sizeof seed, 1, ur) != 1) seed = (uint64_t)G.t_base;
    if (ur) fclose(ur);
    pthread_barrier_init(&G.connected, NULL, (unsigned)G.threads + 1);
    pthread_barrier_init(&G.go, NULL, (unsigned)G.threads + 1);
    for (int t = 0; t < G.threads; t++) {
        struct worker *w = &G.w[t];
        int p0 = (int)((int64_t)G.pairs * t / G.threads), p1 = (int)((int64_t)G.pairs * (t + 1) / G.threads);
        w->id = t;
        w->first = 2 * p0;
        w->count = 2 * (p1 - p0);
        w->rng = (seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1))) | 1;
        w->per_sec = calloc((size_t)G.secs + 1, sizeof *w->per_sec);
        int limit = G.inflight / G.threads > 0 ? G.inflight / G.threads : 1;
        w->nslots = (limit + UNAUTH_PER_ADDRESS - 1) / UNAUTH_PER_ADDRESS;
        w->first_slot = G.slot_base + t * w->nslots;
        w->slot_inflight = calloc((size_t)w->nslots, sizeof *w->slot_inflight);
        if (w->first_slot + w->nslots > 255) {
            fprintf(stderr, "loadgen: --inflight too large: more source addresses than 127.0.0.10-254\n");
            return 2;
        }
        for (int i = w->first; i < w->first + w->count; i++) G.c[i].w = w;
        if (pthread_create(&w->th, NULL, worker_main, w) != 0) die("pthread_create");
    }
    int64_t t_conn0 = now_ns();
    pthread_barrier_wait(&G.connected);
    int64_t t_contacts = now_ns(), connected_at = t_conn0;
    int held = 0, failed = 0, ready_pairs = 0, contacts = 0;
    for (int t = 0; t < G.threads; t++) {
        held += G.w[t].held, failed += G.w[t].failed, contacts += G.w[t].contacts;
        if (G.w[t].connected_at > connected_at) connected_at = G.w[t].connected_at;
    }
    double connect_s = (double)(connected_at - t_conn0) / 1e9, contact_s = (double)(t_contacts - connected_at) / 1e9;
    for (int i = 0; i + 1 < G.conns; i += 2) ready_pairs += G.c[i].state == C_READY && G.c[i + 1].state == C_READY;
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL); /* let the connect phase's work (server side too) finish */

    double u0, s0, u1, s1, mb0, mt0, mb1, mt1, gr0, gw0, gr1, gw1, sr0 = 0, sw0 = 0, sr1 = 0, sw1 = 0;
    char spid[32];
    snprintf(spid, sizeof spid, "%ld", G.server_pid);
    if (G.server_pid) sched_ns(spid, &sr0, &sw0); /* before the window: reading 8,000 files takes a while */
    sched_ns("self", &gr0, &gw0);
    double ssys0 = 0, ssys1 = 0, srv0 = G.server_pid ? proc_cpu_s(G.server_pid, &ssys0) : -1;
    self_cpu(&u0, &s0);
    machine_cpu(&mb0, &mt0);
    int64_t start = now_ns();
    atomic_store(&G.run_start, start);
    atomic_store(&G.run_end, start + (int64_t)G.secs * 1000000000);
    pthread_barrier_wait(&G.go);
    int64_t end = start + (int64_t)G.secs * 1000000000 + G.t_base;
    struct timespec until = {(time_t)(end / 1000000000), (long)(end % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
    double wall = (double)(now_ns() - start) / 1e9;
    double srv1 = G.server_pid ? proc_cpu_s(G.server_pid, &ssys1) : -1;
    self_cpu(&u1, &s1);
    machine_cpu(&mb1, &mt1);
    sched_ns("self", &gr1, &gw1);
    if (G.server_pid) sched_ns(spid, &sr1, &sw1); /* includes the first moments of the drain */
    for (int t = 0; t < G.threads; t++) pthread_join(G.w[t].th, NULL);

    uint64_t sent = 0, received = 0, late = 0, rlim = 0, errs = 0, lost = 0;
    size_t nlat = 0;
    for (int t = 0; t < G.threads; t++) {
        struct worker *w = &G.w[t];
        sent += w->sent, received += w->received, late += w->late, rlim += w->rate_limited, errs += w->errors, lost += w->lost;
        nlat += w->lat_len;
    }
    uint32_t *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    size_t k = 0;
    for (int t = 0; t < G.threads; t++) {
        memcpy(lat + k, G.w[t].lat, G.w[t].lat_len * sizeof *lat);
        k += G.w[t].lat_len;
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
#define PCT(p) (nlat ? lat[(size_t)((p) / 100.0 * (double)nlat) < nlat ? (size_t)((p) / 100.0 * (double)nlat) : nlat - 1] / 1000.0 : -1.0)
    printf("{\"kind\":\"%s\",\"pairs\":%d,\"clients\":%d,\"threads\":%d,\"held\":%d,\"failed\":%d,\"readyPairs\":%d,"
           "\"contacts\":%d,\"connectSecs\":%.3f,\"contactSecs\":%.3f,\"secs\":%.3f,\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"afterWindow\":%" PRIu64 ","
           "\"rate\":%.1f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"rateLimited\":%" PRIu64 ",\"otherErrors\":%" PRIu64
           ",\"lost\":%" PRIu64 ",",
           G.kind == KIND_PARLEY ? "parley" : "peerjs", G.pairs, G.conns, G.threads, held, failed, ready_pairs, contacts, connect_s, contact_s,
           wall, sent, received, late, (double)received / wall, PCT(50), PCT(99), nlat ? lat[nlat - 1] / 1000.0 : -1.0, rlim,
           errs, lost);
    printf("\"perSec\":[");
    for (int s = 0; s < G.secs; s++) {
        uint64_t v = 0;
        for (int t = 0; t < G.threads; t++) v += G.w[t].per_sec[s];
        printf("%s%" PRIu64, s ? "," : "", v);
    }
    printf("],\"genUser\":%.3f,\"genSys\":%.3f,\"genCores\":%.3f,\"serverCpu\":%.3f,\"serverCores\":%.3f,\"serverSys\":%.3f,"
           "\"machineBusyCores\":%.3f,\"machineCores\":%.3f,\"genRunQueueWait\":%.3f,\"serverRunQueueWait\":%.3f}\n",
           u1 - u0, s1 - s0, (u1 - u0 + s1 - s0) / wall, srv0 >= 0 ? srv1 - srv0 : -1.0,
           srv0 >= 0 ? (srv1 - srv0) / wall : -1.0, srv0 >= 0 ? ssys1 - ssys0 : -1.0, (mb1 - mb0) / wall, (mt1 - mt0) / wall, (gw1 - gw0) / 1e9 / wall,
           G.server_pid ? (sw1 - sw0) / 1e9 / wall : -1.0);
    return 0;
}
