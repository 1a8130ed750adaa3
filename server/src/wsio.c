/* Writing to a WebSocket (wsloop_internal.h): the socket or TLS session, and each connection's
 * send queue, bounded as wsloop.h says. Any thread may send; sends to one connection are
 * serialized by its lock. */
#include "wsloop.h"
#include "wsloop_internal.h"

#include "log.h"
#include "relay.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

atomic_size_t ws_queued_total;

double ws_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Socket and TLS I/O ---------------------------------------------------------------------- */

/* > 0: bytes read; 0: the client closed; -1: nothing now; -2: error. */
long ws_raw_read(struct ws *ws, void *buf, size_t n)
{
    if (ws->ssl != NULL) {
        int r, err;
        pthread_mutex_lock(&ws->lock);
        ERR_clear_error();
        r = SSL_read(ws->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ws->ssl, r);
        if (ws->tls_read_wants_write != (err == SSL_ERROR_WANT_WRITE)) {
            /* TLS may have to write to read on (a key update): wait for the socket to take it */
            ws->tls_read_wants_write = err == SSL_ERROR_WANT_WRITE;
            ws_set_events(ws);
        }
        pthread_mutex_unlock(&ws->lock);
        if (r > 0) {
            return r;
        }
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            return -1;
        }
        return err == SSL_ERROR_ZERO_RETURN ? 0 : -2;
    }
    for (;;) {
        ssize_t r = read(ws->fd, buf, n);
        if (r >= 0) {
            return (long)r;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

/* lock held. > 0: bytes written; -1: the socket takes nothing now; -2: error. */
static long raw_write(struct ws *ws, const char *buf, size_t n)
{
    if (ws->ssl != NULL) {
        int r, err;
        ERR_clear_error();
        r = SSL_write(ws->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0) {
            return r;
        }
        err = SSL_get_error(ws->ssl, r);
        return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ ? -1 : -2;
    }
    for (;;) {
        ssize_t r = send(ws->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) {
            return (long)r;
        }
        if (errno == EINTR) {
            continue;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

/* lock held: makes the epoll set wait for want (EPOLLIN, plus EPOLLOUT while there is a queue). */
void ws_set_events(struct ws *ws)
{
    /* A client whose own queue is long is not read from until the queue shrinks: it cannot make
     * the server queue more for it by sending pings or requests it does not read the answers to.
     * One failed for abuse is not read from again. */
    unsigned want = ws->out_len > WS_OUT_PAUSE || ws->muted ? 0 : EPOLLIN;
    struct epoll_event ev;

    if (ws->out_len > 0 || ws->tls_read_wants_write) {
        want |= EPOLLOUT;
    }
    if (!ws->registered || ws->events == want) {
        return;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = want;
    ev.data.ptr = ws;
    if (epoll_ctl(ws->loop->ep, EPOLL_CTL_MOD, ws->fd, &ev) == 0) {
        ws->events = want;
    } else {
        ws->doomed = 1;
    }
}

/* lock held: writes as much of the queue as the socket takes. */
void ws_flush_locked(struct ws *ws)
{
    while (ws->out_len > 0 && !ws->doomed) {
        long r = raw_write(ws, ws->out + ws->out_off, ws->out_len);
        if (r == -1) {
            break;
        }
        if (r < 0) {
            ws->doomed = 1;
            break;
        }
        ws->out_off += (size_t)r;
        ws->out_len -= (size_t)r;
        atomic_fetch_sub(&ws_queued_total, (size_t)r);
    }
    if (ws->out_len == 0 && ws->out != NULL) {
        /* An idle connection keeps no buffer. */
        free(ws->out);
        ws->out = NULL;
        ws->out_off = 0;
        ws->out_cap = 0;
    }
    ws_set_events(ws);
}

/* lock held: sends bytes (a whole frame) or queues what the socket does not take now. A relayed
 * frame that would have to wait behind WS_RELAY_QUEUE_MAX bytes, or beyond the budget of every
 * queue together, is not sent (WS_BUSY); anything else that would grow the queue past WS_OUT_MAX
 * closes the connection. */
int ws_send_locked(struct ws *ws, const char *bytes, size_t n, int relayed)
{
    if (relayed && ws->out_len > 0 &&
        (ws->out_len + n > WS_RELAY_QUEUE_MAX ||
         atomic_load(&ws_queued_total) + n > WS_QUEUED_TOTAL_MAX)) {
        return WS_BUSY;
    }
    if (ws->out_len == 0) {
        while (n > 0) {
            long r = raw_write(ws, bytes, n);
            if (r == -1) {
                break;
            }
            if (r < 0) {
                ws->doomed = 1;
                return -1;
            }
            bytes += r;
            n -= (size_t)r;
        }
        if (n == 0) {
            return 0;
        }
    }
    if (ws->out_len + n > WS_OUT_MAX) {
        log_msg(LOG_WARN, "ws: a client reads too slowly (%zu bytes waiting): closing",
                ws->out_len);
        ws->doomed = 1;
        return -1;
    }
    if (ws->out_off + ws->out_len + n > ws->out_cap) {
        size_t cap = ws->out_cap > 0 ? ws->out_cap : 4096;
        char *grown;
        if (ws->out_off > 0) {
            memmove(ws->out, ws->out + ws->out_off, ws->out_len);
            ws->out_off = 0;
        }
        while (cap < ws->out_len + n) {
            cap *= 2;
        }
        if (cap != ws->out_cap) {
            grown = realloc(ws->out, cap);
            if (grown == NULL) {
                ws->doomed = 1;
                return -1;
            }
            ws->out = grown;
            ws->out_cap = cap;
        }
    }
    memcpy(ws->out + ws->out_off + ws->out_len, bytes, n);
    ws->out_len += n;
    atomic_fetch_add(&ws_queued_total, n);
    ws_set_events(ws);
    return 0;
}

static int send_frame(struct ws *ws, char *frame, int opcode, size_t len, int relayed)
{
    size_t hlen = ws_frame_header((unsigned char *)frame, opcode, len);
    int rc;

    pthread_mutex_lock(&ws->lock);
    if (ws->dead || ws->doomed || ws->close_sent > 0) {
        rc = -1; /* RFC 6455 5.5.1: nothing after a close frame */
    } else {
        if (opcode == WS_OP_CLOSE) {
            ws->close_sent = ws_now();
        }
        rc = ws_send_locked(ws, frame + WS_HEADER_MAX - hlen, hlen + len, relayed);
    }
    pthread_mutex_unlock(&ws->lock);
    return rc;
}

int ws_send_frame(struct ws *ws, char *frame, int opcode, size_t len)
{
    return send_frame(ws, frame, opcode, len, 0);
}

int ws_relay_frame(struct ws *ws, char *frame, size_t len)
{
    return send_frame(ws, frame, WS_OP_TEXT, len, 1);
}

/* send_frame of a copy of data[0..len) with room for the header in front of it. */
static int send_copy(struct ws *ws, int opcode, const char *data, size_t len, int relayed)
{
    char small[WS_HEADER_MAX + 256];
    char *frame = len <= 256 ? small : malloc(WS_HEADER_MAX + len);
    int rc;

    if (frame == NULL) {
        return -1;
    }
    if (len > 0) {
        memcpy(frame + WS_HEADER_MAX, data, len);
    }
    rc = send_frame(ws, frame, opcode, len, relayed);
    if (frame != small) {
        free(frame);
    }
    return rc;
}

int ws_send(struct ws *ws, int opcode, const char *data, size_t len)
{
    return send_copy(ws, opcode, data, len, 0);
}

int ws_relay(struct ws *ws, const char *text, size_t len)
{
    return send_copy(ws, WS_OP_TEXT, text, len, 1);
}

void ws_close(struct ws *ws, int code, const char *reason)
{
    char payload[125]; /* a control frame's limit */
    size_t len = strlen(reason);

    if (len > sizeof payload - 2) {
        len = sizeof payload - 2;
    }
    payload[0] = (char)((code >> 8) & 0xff);
    payload[1] = (char)(code & 0xff);
    for (size_t i = 0; i < len; i++) {
        payload[i + 2] = reason[i];
    }
    (void)ws_send(ws, WS_OP_CLOSE, payload, len + 2);
}
