/*
 * What the two halves of the WebSocket loops share (private to wsloop.c and wsio.c): a
 * connection's state, a loop, and the sending side. wsloop.c runs the loops: reading, frames,
 * keep-alive, connections coming and going. wsio.c writes: the socket or TLS session, and each
 * connection's send queue with its limits.
 */
#ifndef PARLEY_SERVER_WSLOOP_INTERNAL_H
#define PARLEY_SERVER_WSLOOP_INTERNAL_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct loop;

struct ws {
    int fd;
    SSL *ssl;
    struct loop *loop;
    void *user;

    /* Under lock: everything a sending thread touches (and the TLS session, which OpenSSL
     * does not let two threads use at once). */
    pthread_mutex_t lock;
    char *out; /* bytes the socket has not taken yet: out[out_off .. out_off + out_len) */
    size_t out_off, out_len, out_cap;
    int registered;     /* added to the loop's epoll set */
    unsigned events;    /* what it waits for there */
    int tls_read_wants_write;
    int dead;           /* being torn down: nothing more is sent */
    int doomed;         /* to be closed at the next sweep (a write failed, or the queue is full) */
    double close_sent;  /* when a close frame was queued, or 0 */
    int muted;          /* failed for abuse: never read again (set on the loop thread) */

    /* The loop thread's own. */
    int finishing;      /* close once the queue is written */
    int draining;       /* failed with a close frame: discard input until the client closes */
    double last_rx;
    double last_ping;
    char *in;           /* a partial frame kept between reads, or what Civetweb had read */
    size_t in_len;
    size_t in_held;     /* its allocation, counted in partial_total */
    int in_partial;     /* in holds one frame's first in_len bytes, its header checked */
    char *msg;          /* a fragmented message's payload so far (RFC 6455 5.4), or NULL */
    size_t msg_len;
    size_t msg_held;    /* its allocation, counted in partial_total */
    int msg_op;         /* its opcode (text or binary) while one is open, else 0 */
    int msg_frames;     /* its frames so far */
    struct ws *reap_next;   /* in a sweep's list of connections to close */
    struct ws *next, *prev; /* the loop's connections (under the loop's lock) */
    struct ws *fresh_next;  /* waiting to be added by the loop (under the loop's lock) */
};

struct loop {
    pthread_t thread;
    int ep;
    int wake; /* eventfd: new connections, stop */
    pthread_mutex_t lock;
    struct ws *all;
    struct ws *fresh;
    unsigned char *scratch;
    double last_sweep;
};

/* Bytes in every connection's send queue together. */
extern atomic_size_t ws_queued_total;

/* Monotonic seconds. */
double ws_now(void);

/* > 0: bytes read; 0: the client closed; -1: nothing now; -2: error. */
long ws_raw_read(struct ws *ws, void *buf, size_t n);

/* lock held: makes the epoll set wait for input (unless the queue is long) and for output while
 * there is a queue. */
void ws_set_events(struct ws *ws);

/* lock held: writes as much of the queue as the socket takes. */
void ws_flush_locked(struct ws *ws);

/* lock held: sends bytes (a whole frame) or queues what the socket does not take now; relayed:
 * WS_BUSY instead when the queues are too long. 0, WS_BUSY or -1. */
int ws_send_locked(struct ws *ws, const char *bytes, size_t n, int relayed);

#endif
