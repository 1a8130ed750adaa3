/*
 * WebSockets served by a few event loops instead of a thread each. Civetweb answers the upgrade
 * request; the ready handler then takes the socket (and its TLS session) from Civetweb with
 * mg_parley_detach (server/civetweb/detach.inc) and hands it here, and the worker thread goes
 * back to Civetweb's pool. Each loop waits on epoll for its share of the connections, reads and
 * checks frames (RFC 6455: masked client frames, no extensions, control frames at most 125
 * bytes; wsframe.h), answers the pings its handler admits, keeps idle connections alive, and
 * passes every other complete frame to a handler. Any thread may send to a connection: what the
 * socket does not take at once waits in a per-connection queue (bounded: a reader that falls
 * WS_OUT_MAX behind is dropped).
 */
#ifndef PARLEY_SERVER_WSLOOP_H
#define PARLEY_SERVER_WSLOOP_H

#include <stddef.h>

#define WSLOOP_THREADS_MAX 16
/* Bytes the client sent after its upgrade request that Civetweb had read already. */
#define WS_PENDING_MAX 16384
/* Bytes queued for a connection whose reader is slow; beyond that it is closed. */
#define WS_OUT_MAX ((size_t)1024 * 1024)
/* A relayed message that would wait behind this many queued bytes, or push every connection's
 * queue together past WS_QUEUED_TOTAL_MAX, is not sent (WS_BUSY): its sender is told, and a
 * recipient on a slow link is not dropped for what others send it. */
#define WS_RELAY_QUEUE_MAX ((size_t)256 * 1024)
#define WS_QUEUED_TOTAL_MAX ((size_t)256 * 1024 * 1024)
/* Bytes kept for frames still arriving (at most a frame, 96 KiB, per connection), all connections
 * together; beyond it a connection that would need more is closed with WS_CLOSE_BUSY. */
#define WS_PARTIAL_TOTAL_MAX ((size_t)128 * 1024 * 1024)
/* Frames one fragmented message may take. Chromium cuts a message where its send pipe is full
 * (seen: 3 pieces for 200 KB); many tiny pieces would be a way to cost the loop work per byte. */
#define WS_FRAGMENTS_MAX 64
#define WS_CLOSE_BUSY 1013
/* A connection is not read from while its own queue holds more than this. */
#define WS_OUT_PAUSE ((size_t)64 * 1024)
/* Seconds a connection failed with a close frame (1002, 1009) waits for the client to close. */
#define WS_FAIL_LINGER 1.0
/* ws_relay_frame: the recipient is too far behind. */
#define WS_BUSY (-2)
/* A connection silent for WS_PING_EVERY seconds gets a ping, and another every WS_PING_EVERY
 * seconds while it stays silent; one silent for WS_DEAD_AFTER (two pings unanswered for 10 s
 * more) is closed, so that its user's contacts see them offline about a minute after their
 * network went (browsers answer pings by themselves; the page also pings every 25 s). */
#define WS_PING_EVERY 30.0
#define WS_DEAD_AFTER 70.0

#define WS_OP_CONTINUATION 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa
#define WS_FIN 0x80

struct ws;

struct ws_handlers {
    /* A complete frame other than ping and pong, on the connection's loop thread; flags is
     * WS_FIN (when set) | opcode, data is unmasked and may be changed. Returns 1 to go on, 0 to
     * close the connection once what was sent to it is written, -1 to fail it for abuse (the
     * handler has sent its close frame): it is not read from again and is closed after
     * WS_FAIL_LINGER, time for the close frame to arrive before the reset that closing a socket
     * with unread input sends. After a close frame the connection is closed in any case. */
    int (*on_frame)(struct ws *ws, void *user, int flags, char *data, size_t len);
    /* A ping or pong (opcode), on the loop thread, counted by the handler like any message:
     * 1 answers a ping with a pong, 0 ignores the frame, -1 fails the connection for abuse as
     * on_frame's -1 does. */
    int (*on_control)(struct ws *ws, void *user, int opcode);
    /* The connection is gone (the client closed it, an error, a close that completed or timed
     * out, shutdown). Called once, on the loop thread (on the caller's at wsloop_stop); ws is
     * freed when it returns, so no other thread may use it afterwards. */
    void (*on_close)(struct ws *ws, void *user);
};

/* Starts threads (1..WSLOOP_THREADS_MAX) loops. frame_max: the largest payload accepted (larger
 * frames are answered with close 1009); close_grace: seconds to wait for the client's answer to
 * a close frame. 0 or -1. */
int wsloop_start(int threads, size_t frame_max, double close_grace, const struct ws_handlers *h);

/* Waits up to wait seconds for the connections to close (after close frames were sent), closes
 * the rest (on_close on the calling thread) and stops the loops. */
void wsloop_stop(double wait);

/* Open connections. */
int wsloop_count(void);

/* A connection for socket fd and TLS session ssl (NULL for plain TCP; an OpenSSL SSL *), with
 * the n bytes already read from it, owning both from now on (on failure too, when they are
 * closed). Not served until ws_start; sending to it is allowed before. NULL when out of memory. */
struct ws *ws_create(int fd, void *ssl, const char *pending, size_t n, void *user);

/* Hands ws to a loop. */
void ws_start(struct ws *ws);

/* Sends one final frame of opcode with payload data[0..len); a close frame makes later data
 * frames dropped. Thread-safe. 0, or -1 when the connection is closing or gone. */
int ws_send(struct ws *ws, int opcode, const char *data, size_t len);

/* The same for a payload at frame + WS_HEADER_MAX (relay.h) with the header written into the
 * WS_HEADER_MAX bytes before it, so that no copy is made. */
int ws_send_frame(struct ws *ws, char *frame, int opcode, size_t len);

/* Sends a close frame with code and reason (cut to what a control frame holds); afterwards
 * nothing more is sent, and the connection is dropped if the client has not answered within the
 * close grace. Thread-safe. */
void ws_close(struct ws *ws, int code, const char *reason);

/* ws_send_frame of a text frame relayed from another client: WS_BUSY (nothing sent) when the
 * connection or the server as a whole has too much queued already (WS_RELAY_QUEUE_MAX). */
int ws_relay_frame(struct ws *ws, char *frame, size_t len);

/* The same for text[0..len) (copied). */
int ws_relay(struct ws *ws, const char *text, size_t len);

#endif
