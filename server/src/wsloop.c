#include "wsloop.h"
#include "wsloop_internal.h"

#include "log.h"
#include "relay.h"
#include "wsframe.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256
#define WAIT_MS 250
#define SWEEP_EVERY 1.0 /* seconds between checks of deadlines and keep-alives */


static struct loop loops[WSLOOP_THREADS_MAX];
static int n_loops;
static unsigned next_loop;
static atomic_int stopping;
static atomic_size_t partial_total; /* bytes held for frames still arriving, every connection */
static struct ws_handlers handlers;
static size_t max_frame;
static size_t scratch_size;
static double grace;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_open;

static void count_add(int d)
{
    pthread_mutex_lock(&count_lock);
    n_open += d;
    pthread_mutex_unlock(&count_lock);
}

int wsloop_count(void)
{
    int n;

    pthread_mutex_lock(&count_lock);
    n = n_open;
    pthread_mutex_unlock(&count_lock);
    return n;
}

/* ---- Connections ----------------------------------------------------------------------------- */

struct ws *ws_create(int fd, void *ssl, const char *pending, size_t n, void *user)
{
    struct ws *ws = calloc(1, sizeof *ws);
    int flags = fcntl(fd, F_GETFL);

    if (ws == NULL || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        (n > 0 && (ws->in = malloc(n)) == NULL)) {
        free(ws);
        if (ssl != NULL) {
            SSL_free(ssl);
        }
        close(fd);
        return NULL;
    }
    ws->fd = fd;
    ws->ssl = ssl;
    if (ws->ssl != NULL) {
        SSL_set_mode(ws->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    ws->user = user;
    if (n > 0) {
        memcpy(ws->in, pending, n);
        ws->in_len = n;
        ws->in_held = n;
        atomic_fetch_add(&partial_total, n);
    }
    pthread_mutex_init(&ws->lock, NULL);
    ws->last_rx = ws_now();
    count_add(1);
    return ws;
}

void ws_start(struct ws *ws)
{
    struct loop *l;
    uint64_t one = 1;

    pthread_mutex_lock(&count_lock);
    l = &loops[next_loop++ % (unsigned)n_loops];
    pthread_mutex_unlock(&count_lock);
    ws->loop = l;
    pthread_mutex_lock(&l->lock);
    ws->fresh_next = l->fresh;
    l->fresh = ws;
    pthread_mutex_unlock(&l->lock);
    (void)!write(l->wake, &one, sizeof one);
}

/* Makes ws->in hold size bytes, keeping what it holds, within WS_PARTIAL_TOTAL_MAX for all
 * connections together. 0, or -1 (nothing changed). */
static int hold_in(struct ws *ws, size_t size)
{
    char *grown;

    if (size > ws->in_held &&
        atomic_load(&partial_total) + (size - ws->in_held) > WS_PARTIAL_TOTAL_MAX) {
        return -1;
    }
    grown = realloc(ws->in, size);
    if (grown == NULL) {
        return -1;
    }
    ws->in = grown;
    atomic_fetch_add(&partial_total, size);
    atomic_fetch_sub(&partial_total, ws->in_held);
    ws->in_held = size;
    return 0;
}

/* Frees what ws->in holds. */
static void drop_in(struct ws *ws)
{
    free(ws->in);
    atomic_fetch_sub(&partial_total, ws->in_held);
    ws->in = NULL;
    ws->in_len = 0;
    ws->in_held = 0;
    ws->in_partial = 0;
}

/* Forgets the fragmented message ws was putting together, if any. */
static void drop_msg(struct ws *ws)
{
    free(ws->msg);
    atomic_fetch_sub(&partial_total, ws->msg_held);
    ws->msg = NULL;
    ws->msg_len = 0;
    ws->msg_held = 0;
    ws->msg_op = 0;
    ws->msg_frames = 0;
}

/* Closes and frees ws (its loop's thread, or any thread once the loops have stopped). */
static void destroy(struct ws *ws)
{
    struct loop *l = ws->loop;

    pthread_mutex_lock(&ws->lock);
    ws->dead = 1;
    if (ws->registered) {
        (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, ws->fd, NULL);
        ws->registered = 0;
    }
    pthread_mutex_unlock(&ws->lock);
    pthread_mutex_lock(&l->lock);
    if (ws->prev != NULL) {
        ws->prev->next = ws->next;
    } else if (l->all == ws) {
        l->all = ws->next;
    }
    if (ws->next != NULL) {
        ws->next->prev = ws->prev;
    }
    pthread_mutex_unlock(&l->lock);
    handlers.on_close(ws, ws->user);
    if (ws->ssl != NULL) {
        ERR_clear_error();
        (void)SSL_shutdown(ws->ssl); /* a close_notify if the socket takes it; no waiting */
        SSL_free(ws->ssl);
    }
    close(ws->fd);
    atomic_fetch_sub(&ws_queued_total, ws->out_len);
    free(ws->out);
    drop_in(ws);
    drop_msg(ws);
    pthread_mutex_destroy(&ws->lock);
    free(ws);
    count_add(-1);
}

/* Fails the connection (RFC 6455 7.1.7): a close frame, then input is discarded until the
 * client closes (or WS_FAIL_LINGER passes), so that the close frame is not lost to a reset. */
static void fail(struct ws *ws, int code, const char *reason)
{
    ws_close(ws, code, reason);
    ws->draining = 1;
}

/* Fails ws for abuse (its handler sent the close frame): nothing more is read from it, not even
 * to discard (a flood would cost as much discarded as handled), and the sweep closes it once
 * WS_FAIL_LINGER has passed, time for the close frame to reach a client that listens. */
static void mute(struct ws *ws)
{
    pthread_mutex_lock(&ws->lock);
    ws->muted = 1;
    ws_set_events(ws);
    pthread_mutex_unlock(&ws->lock);
    ws->draining = 1;
}

/* A text, binary or continuation frame (RFC 6455 5.4): a whole message goes to on_frame at once;
 * the pieces of a fragmented one are put together first, within the frame limit for the whole
 * message, WS_FRAGMENTS_MAX pieces and the budget for input held. 1 when delivered (verdict in
 * *verdict), 0 when kept for later, -1 when ws was failed. */
static int assemble(struct ws *ws, int fin, int op, const unsigned char *data, size_t len,
                    int *verdict)
{
    if (op == WS_OP_CONTINUATION ? ws->msg_op == 0 : ws->msg_op != 0) {
        fail(ws, 1002, op == WS_OP_CONTINUATION ? "a continuation frame with no message to continue"
                                                : "a new message before the fragmented one ended");
        return -1;
    }
    if (op != WS_OP_CONTINUATION && fin) {
        *verdict = handlers.on_frame(ws, ws->user, WS_FIN | op, (char *)data, len);
        return 1;
    }
    if (ws->msg_len + len > max_frame) {
        log_msg(LOG_WARN, "ws: a fragmented message over the limit: closing");
        fail(ws, 1009, "messages are limited to 96 KiB");
        return -1;
    }
    if (++ws->msg_frames > WS_FRAGMENTS_MAX) {
        fail(ws, 1008, "a message in too many fragments");
        return -1;
    }
    if (ws->msg_len + len > ws->msg_held) {
        size_t want = ws->msg_len + len;
        char *grown;
        if (atomic_load(&partial_total) + (want - ws->msg_held) > WS_PARTIAL_TOTAL_MAX ||
            (grown = realloc(ws->msg, want)) == NULL) {
            fail(ws, WS_CLOSE_BUSY, "the server is busy; try again later");
            return -1;
        }
        ws->msg = grown;
        atomic_fetch_add(&partial_total, want - ws->msg_held);
        ws->msg_held = want;
    }
    if (len > 0) {
        memcpy(ws->msg + ws->msg_len, data, len);
        ws->msg_len += len;
    }
    if (op != WS_OP_CONTINUATION) {
        ws->msg_op = op;
    }
    if (!fin) {
        return 0;
    }
    *verdict = handlers.on_frame(ws, ws->user, WS_FIN | ws->msg_op, ws->msg, ws->msg_len);
    drop_msg(ws);
    return 1;
}

/* Handles the complete frames in buf[0..have); returns how many bytes they took. */
static size_t parse(struct ws *ws, unsigned char *buf, size_t have)
{
    size_t off = 0;

    while (!ws->finishing && !ws->draining && have - off >= 2) {
        unsigned char *p = buf + off;
        size_t avail = have - off;
        struct wsframe h;
        enum wsframe_result r = wsframe_parse(p, avail, max_frame, &h);
        unsigned char *data;
        size_t len;
        int op;

        if (r == WSFRAME_PROTOCOL) {
            fail(ws, 1002, "protocol error");
            break;
        }
        if (r == WSFRAME_TOO_BIG) {
            log_msg(LOG_WARN, "ws: a %llu-byte frame: closing", (unsigned long long)h.len);
            fail(ws, 1009, "frames are limited to 96 KiB");
            break;
        }
        if (r == WSFRAME_MORE || avail < h.header_len + h.len) {
            break;
        }
        len = (size_t)h.len;
        op = h.opcode;
        data = p + h.header_len;
        wsframe_unmask(&h, data, len, 0);
        off += h.header_len + len;
        if (op == WS_OP_PING || op == WS_OP_PONG) {
            /* Counted in the connection's limits like any message (a flood of pings is one). */
            int verdict = handlers.on_control(ws, ws->user, op);
            if (verdict < 0) {
                mute(ws);
            } else if (verdict > 0 && op == WS_OP_PING) {
                (void)ws_send(ws, WS_OP_PONG, (const char *)data, len);
            }
            /* a pong answers a keep-alive ping: last_rx is already updated */
        } else if (op == WS_OP_CLOSE) {
            (void)handlers.on_frame(ws, ws->user, h.fin | op, (char *)data, len);
            ws->finishing = 1;
        } else {
            int verdict = 1;
            int done = assemble(ws, h.fin != 0, op, data, len, &verdict);
            if (done < 0) {
                break;
            }
            if (done > 0 && verdict < 0) {
                mute(ws);
            } else if (done > 0 && verdict == 0) {
                ws->finishing = 1;
            }
        }
    }
    return off;
}

/* Keeps buf[0..n) (a partial frame) for the next read. */
static void keep_partial(struct ws *ws, const unsigned char *buf, size_t n)
{
    if (n == 0 || ws->finishing || ws->draining) {
        return;
    }
    if (hold_in(ws, n) != 0) {
        fail(ws, WS_CLOSE_BUSY, "the server is busy; try again later");
        return;
    }
    memcpy(ws->in, buf, n);
    ws->in_len = n;
    ws->in_partial = 1;
}

/* The whole size of the frame starting at p[0..n) (header, mask, payload) once its header is
 * there, else 0. parse() has checked that header already. */
static size_t frame_size(const unsigned char *p, size_t n)
{
    struct wsframe h;

    if (wsframe_parse(p, n, max_frame, &h) != WSFRAME_OK) {
        return 0;
    }
    return h.header_len + (size_t)h.len;
}

/* Reads the rest of a partial frame whose size is known straight into its buffer, so that a frame
 * arriving in many small pieces is not copied again with each one. 0 (whole or not yet), or -1
 * when ws is to be destroyed. */
static int read_rest(struct ws *ws, size_t need)
{
    unsigned char *frame;
    size_t held;

    if (need > ws->in_len) {
        long r;
        if (hold_in(ws, need) != 0) {
            fail(ws, WS_CLOSE_BUSY, "the server is busy; try again later");
            return 0;
        }
        r = ws_raw_read(ws, ws->in + ws->in_len, need - ws->in_len);
        if (r == 0 || r == -2) {
            return -1;
        }
        if (r == -1) {
            return 0;
        }
        ws->last_rx = ws_now();
        ws->in_len += (size_t)r;
        if (ws->in_len < need) {
            return 0;
        }
    }
    frame = (unsigned char *)ws->in;
    held = ws->in_held;
    ws->in = NULL;
    ws->in_len = 0;
    ws->in_held = 0;
    ws->in_partial = 0;
    (void)parse(ws, frame, need);
    free(frame);
    atomic_fetch_sub(&partial_total, held);
    return 0;
}

/* Reads and handles what the client sent. 0, or -1 when ws is to be destroyed. */
static int on_readable(struct loop *l, struct ws *ws)
{
    unsigned char *buf = l->scratch;

    for (;;) {
        size_t have = 0;
        size_t used;
        long r;
        int more = 0;
        int paused;

        pthread_mutex_lock(&ws->lock);
        paused = ws->out_len > WS_OUT_PAUSE || ws->muted;
        pthread_mutex_unlock(&ws->lock);
        if (paused || ws->finishing) {
            return 0; /* ws_set_events resumes reading once the queue is written */
        }
        if (ws->in_partial && ws->in_len >= 14 && !ws->draining) {
            /* A frame in pieces whose header is complete (at most 14 bytes) and was checked by
             * parse(); it is larger than what is here (else parse() would have taken it). */
            if (read_rest(ws, frame_size((unsigned char *)ws->in, ws->in_len)) != 0) {
                return -1;
            }
            if (ws->in_len > 0) {
                return 0; /* not whole yet */
            }
            continue; /* whole and handled: read on (a TLS session may hold more already) */
        }
        if (ws->in_len > 0) {
            memcpy(buf, ws->in, ws->in_len);
            have = ws->in_len;
            drop_in(ws);
        }
        r = ws_raw_read(ws, buf + have, scratch_size - have);
        if (r > 0) {
            ws->last_rx = ws_now();
            have += (size_t)r;
        }
        if (ws->draining) {
            return r == 0 || r == -2 ? -1 : 0; /* discarded; one read per event */
        }
        /* What arrived before an end of stream is handled first (a close frame, say). */
        used = parse(ws, buf, have);
        if (r == 0 || r == -2) {
            return -1;
        }
        keep_partial(ws, buf + used, have - used);
        if (r == -1 || ws->finishing || ws->draining) {
            return 0;
        }
        if (ws->ssl != NULL) {
            pthread_mutex_lock(&ws->lock);
            more = SSL_pending(ws->ssl) > 0;
            pthread_mutex_unlock(&ws->lock);
        }
        if (!more) {
            return 0; /* level-triggered: the loop comes back for the rest */
        }
    }
}

/* After an event: closes ws when it is finished and its queue written. 1 when destroyed. */
static int settle(struct ws *ws)
{
    int done;

    pthread_mutex_lock(&ws->lock);
    done = ws->doomed || (ws->finishing && ws->out_len == 0);
    pthread_mutex_unlock(&ws->lock);
    if (done) {
        destroy(ws);
    }
    return done;
}

static void on_event(struct loop *l, struct ws *ws, unsigned events)
{
    if (ws->muted && (events & (EPOLLERR | EPOLLHUP))) {
        destroy(ws); /* gone: nothing more to wait for (and the event would come back at once) */
        return;
    }
    if (events & EPOLLOUT) {
        pthread_mutex_lock(&ws->lock);
        ws_flush_locked(ws);
        pthread_mutex_unlock(&ws->lock);
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP) || (ws->ssl != NULL && (events & EPOLLOUT))) {
        if (on_readable(l, ws) != 0) {
            destroy(ws);
            return;
        }
    }
    (void)settle(ws);
}

/* New connections: into the epoll set, then whatever they sent already. */
static void take_fresh(struct loop *l)
{
    struct ws *fresh;
    uint64_t count;

    (void)!read(l->wake, &count, sizeof count);
    pthread_mutex_lock(&l->lock);
    fresh = l->fresh;
    l->fresh = NULL;
    pthread_mutex_unlock(&l->lock);
    while (fresh != NULL) {
        struct ws *ws = fresh;
        struct epoll_event ev;
        int ok;
        fresh = ws->fresh_next;
        pthread_mutex_lock(&l->lock);
        ws->next = l->all;
        ws->prev = NULL;
        if (l->all != NULL) {
            l->all->prev = ws;
        }
        l->all = ws;
        pthread_mutex_unlock(&l->lock);
        pthread_mutex_lock(&ws->lock);
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | (ws->out_len > 0 ? EPOLLOUT : 0);
        ev.data.ptr = ws;
        ok = epoll_ctl(l->ep, EPOLL_CTL_ADD, ws->fd, &ev) == 0;
        ws->registered = ok;
        ws->events = ev.events;
        pthread_mutex_unlock(&ws->lock);
        /* Bytes Civetweb had read, and for TLS what the session may hold decrypted already
         * (which the socket will not signal): read once without waiting. */
        if (!ok || on_readable(l, ws) != 0) {
            destroy(ws);
            continue;
        }
        (void)settle(ws);
    }
}

/* Deadlines: closes that were not answered, failed connections, queues that overflowed, silent
 * connections; and keep-alive pings. The connections to close are gathered in one pass. */
static void sweep(struct loop *l, double now)
{
    struct ws *reap = NULL;

    pthread_mutex_lock(&l->lock);
    for (struct ws *ws = l->all; ws != NULL; ws = ws->next) {
        int close_now, ping;
        pthread_mutex_lock(&ws->lock);
        close_now = ws->doomed ||
                    (ws->close_sent > 0 &&
                     now - ws->close_sent > (ws->draining ? WS_FAIL_LINGER : grace)) ||
                    now - ws->last_rx > WS_DEAD_AFTER;
        ping = !close_now && ws->close_sent == 0 && now - ws->last_rx >= WS_PING_EVERY &&
               now - ws->last_ping >= WS_PING_EVERY;
        if (ping) {
            /* an empty ping is its 2-byte header (the lock is held already) */
            static const char frame[2] = {(char)(0x80 | WS_OP_PING), 0};
            ws->last_ping = now;
            (void)ws_send_locked(ws, frame, sizeof frame, 0);
        }
        pthread_mutex_unlock(&ws->lock);
        if (close_now) {
            ws->reap_next = reap;
            reap = ws;
        }
    }
    pthread_mutex_unlock(&l->lock);
    while (reap != NULL) {
        struct ws *ws = reap;
        reap = ws->reap_next;
        destroy(ws);
    }
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event events[EVENTS_PER_WAIT];

    while (!stopping) {
        int n = epoll_wait(l->ep, events, EVENTS_PER_WAIT, WAIT_MS);
        double now;
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "ws: epoll_wait failed: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !stopping; i++) {
            if (events[i].data.ptr == NULL) {
                take_fresh(l);
            } else {
                on_event(l, events[i].data.ptr, events[i].events);
            }
        }
        now = ws_now();
        if (now - l->last_sweep >= SWEEP_EVERY) {
            l->last_sweep = now;
            sweep(l, now);
        }
    }
    return NULL;
}

int wsloop_start(int threads, size_t frame_max, double close_grace, const struct ws_handlers *h)
{
    if (threads < 1 || threads > WSLOOP_THREADS_MAX) {
        return -1;
    }
    handlers = *h;
    max_frame = frame_max;
    grace = close_grace;
    /* Room for a partial frame of the largest size plus a read of the same size. */
    scratch_size = 2 * (frame_max + 14);
    stopping = 0;
    for (n_loops = 0; n_loops < threads; n_loops++) {
        struct loop *l = &loops[n_loops];
        struct epoll_event ev;
        memset(l, 0, sizeof *l);
        pthread_mutex_init(&l->lock, NULL);
        l->ep = epoll_create1(EPOLL_CLOEXEC);
        l->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        l->scratch = malloc(scratch_size);
        l->last_sweep = ws_now();
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = NULL;
        if (l->ep < 0 || l->wake < 0 || l->scratch == NULL ||
            epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &ev) != 0 ||
            pthread_create(&l->thread, NULL, loop_main, l) != 0) {
            free(l->scratch);
            if (l->ep >= 0) {
                close(l->ep);
            }
            if (l->wake >= 0) {
                close(l->wake);
            }
            wsloop_stop(0);
            return -1;
        }
    }
    return 0;
}

void wsloop_stop(double wait)
{
    double until = ws_now() + wait;
    uint64_t one = 1;

    while (wsloop_count() > 0 && ws_now() < until) {
        struct timespec ts = {0, 10000000L}; /* 10 ms */
        nanosleep(&ts, NULL);
    }
    stopping = 1;
    for (int i = 0; i < n_loops; i++) {
        (void)!write(loops[i].wake, &one, sizeof one);
    }
    for (int i = 0; i < n_loops; i++) {
        struct loop *l = &loops[i];
        pthread_join(l->thread, NULL);
        while (l->fresh != NULL) {
            struct ws *ws = l->fresh;
            l->fresh = ws->fresh_next;
            destroy(ws);
        }
        while (l->all != NULL) {
            destroy(l->all);
        }
        close(l->ep);
        close(l->wake);
        free(l->scratch);
        pthread_mutex_destroy(&l->lock);
    }
    n_loops = 0;
}
