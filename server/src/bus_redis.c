/*
 * The instance bus's Redis half (bus_internal.h): the --bus URL, this instance's id and
 * channels, the bounded publish queue, the two connections (hiredis) with their threads, start
 * and stop. What arrives is handed to the directory (bus_directory.c).
 */
#include "bus_internal.h"

#include "config.h"
#include "log.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHANNEL_MAX 64

_Static_assert(BUS_URL_MAX == CONFIG_BUS_LEN, "one URL limit");
#define POLL_MS 200
/* The subscriber hears this instance's own ALIVE on the broadcast channel: silence this long
 * means the connection is dead though no error came (a Redis that vanished without a reset). */
#define BUS_SILENT_AFTER (2 * BUS_DEAD_AFTER)

/* ---- State ----------------------------------------------------------------------------------- */

static atomic_int enabled;
static atomic_int stopping;
static atomic_int sub_up, pub_up;
static atomic_int need_sync, need_announce;
static atomic_ullong dropped;
static unsigned char my_id[BUS_ID_BYTES];
static char host[BUS_URL_MAX];
static int port;
static int db;
static char ch_all[CHANNEL_MAX];
static char ch_mine[CHANNEL_MAX];
static pthread_t sub_thread, pub_thread;

/* What waits to be published (q_lock: taken inside the directory's local_lock, never the other
 * way; bus_internal.h). */
struct item {
    struct item *next;
    int broadcast;
    unsigned char to[BUS_ID_BYTES];
    size_t len;
    unsigned char data[];
};
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct item *q_head;
static struct item **q_tail = &q_head;
static size_t q_bytes;

/* ---- The URL ------------------------------------------------------------------------------- */

/* Parses redis://HOST:PORT[/DB] into h (without brackets), *p, *d. 0 or -1. */
static int parse_url(const char *url, char h[BUS_URL_MAX], int *p, int *d)
{
    const char *s;
    const char *end;
    const char *colon;
    size_t hl;
    long v = 0;

    if (url == NULL || strlen(url) >= BUS_URL_MAX || strncmp(url, "redis://", 8) != 0) {
        return -1;
    }
    s = url + 8;
    if (*s == '[') {
        end = strchr(s, ']');
        if (end == NULL || end[1] != ':') {
            return -1;
        }
        hl = (size_t)(end - s - 1);
        for (const char *q = s + 1; q < end; q++) {
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F') ||
                  *q == ':' || *q == '.')) {
                return -1;
            }
        }
        memcpy(h, s + 1, hl);
        colon = end + 1;
    } else {
        colon = strchr(s, ':');
        if (colon == NULL) {
            return -1;
        }
        hl = (size_t)(colon - s);
        for (const char *q = s; q < colon; q++) {
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  *q == '.' || *q == '-')) {
                return -1;
            }
        }
        memcpy(h, s, hl);
    }
    if (hl == 0 || hl > 253) {
        return -1;
    }
    h[hl] = '\0';
    s = colon + 1;
    if (*s < '1' || *s > '9') {
        return -1; /* no port, or a leading zero */
    }
    while (*s >= '0' && *s <= '9' && v <= 65535) {
        v = v * 10 + (*s++ - '0');
    }
    if (v < 1 || v > 65535) {
        return -1;
    }
    *p = (int)v;
    *d = 0;
    if (*s == '/') {
        s++;
        if (!(s[0] >= '0' && s[0] <= '9') || (s[0] == '0' && s[1] != '\0') ||
            (s[1] != '\0' && !(s[1] >= '0' && s[1] <= '9' && s[2] == '\0'))) {
            return -1;
        }
        *d = s[1] == '\0' ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
        if (*d > 15) {
            return -1;
        }
        return 0;
    }
    return *s == '\0' ? 0 : -1;
}

int bus_url_valid(const char *url)
{
    char h[BUS_URL_MAX];
    int p, d;

    return parse_url(url, h, &p, &d) == 0;
}

/* ---- The queue ----------------------------------------------------------------------------- */

static void channel_of(const unsigned char id[BUS_ID_BYTES], char out[CHANNEL_MAX])
{
    char hex[2 * BUS_ID_BYTES + 1];

    sodium_bin2hex(hex, sizeof hex, id, BUS_ID_BYTES);
    snprintf(out, CHANNEL_MAX, "parley:%d:i:%s", db, hex);
}

/* Queues data[0..len) for every instance (to NULL) or one. 0, or -1 when dropped. */
static int enqueue(const unsigned char *to, const unsigned char *data, size_t len)
{
    struct item *it;

    if (!atomic_load(&enabled) || !atomic_load(&pub_up) || len == 0) {
        atomic_fetch_add(&dropped, 1);
        return -1;
    }
    it = malloc(sizeof *it + len);
    if (it == NULL) {
        atomic_fetch_add(&dropped, 1);
        return -1;
    }
    it->next = NULL;
    it->broadcast = to == NULL;
    if (to != NULL) {
        memcpy(it->to, to, BUS_ID_BYTES);
    }
    it->len = len;
    memcpy(it->data, data, len);
    pthread_mutex_lock(&q_lock);
    /* Checked again under the lock: bus_stop drops the queue under it after clearing these. */
    if (q_bytes + len > BUS_QUEUE_BYTES_MAX || !atomic_load(&enabled) || !atomic_load(&pub_up)) {
        pthread_mutex_unlock(&q_lock);
        free(it);
        atomic_fetch_add(&dropped, 1);
        return -1;
    }
    *q_tail = it;
    q_tail = &it->next;
    q_bytes += len;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
    return 0;
}

static void free_items(struct item *list)
{
    while (list != NULL) {
        struct item *next = list->next;
        free(list);
        list = next;
    }
}

static void drop_queue(void)
{
    struct item *list;

    pthread_mutex_lock(&q_lock);
    list = q_head;
    q_head = NULL;
    q_tail = &q_head;
    q_bytes = 0;
    pthread_mutex_unlock(&q_lock);
    free_items(list);
}

/* Stamps m as this instance's and encodes it into a new buffer (*len bytes), or NULL. */
static unsigned char *encode(struct bus_msg *m, size_t *len)
{
    size_t cap = 128 + 2 * BUS_NAME_MAX + BUS_HASH_BYTES + BUS_DEVICES_MAX * 13 + m->ref_len +
                 m->text_len;
    unsigned char *buf = malloc(cap);

    memcpy(m->from, my_id, BUS_ID_BYTES);
    if (buf != NULL && (*len = bus_wire_write(m, buf, cap)) == 0) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

int bus_send(const unsigned char *to, struct bus_msg *m)
{
    size_t len = 0;
    unsigned char *buf = encode(m, &len);
    int rc = buf != NULL ? enqueue(to, buf, len) : -1;

    free(buf);
    return rc;
}

int bus_send_each(const unsigned char (*to)[BUS_ID_BYTES], int n, struct bus_msg *m)
{
    size_t len = 0;
    unsigned char *buf;
    int sent = 0;

    if (n <= 0 || (buf = encode(m, &len)) == NULL) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        sent += enqueue(to[i], buf, len) == 0;
    }
    free(buf);
    return sent;
}

void bus_wake_publisher(void)
{
    pthread_mutex_lock(&q_lock);
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
}

int bus_id_greater(const unsigned char id[BUS_ID_BYTES])
{
    return memcmp(id, my_id, BUS_ID_BYTES) > 0;
}

unsigned long long bus_dropped(void)
{
    return atomic_load(&dropped);
}

int bus_enabled(void)
{
    return enabled;
}

int bus_up(void)
{
    return enabled && atomic_load(&sub_up) && atomic_load(&pub_up);
}

/* ---- Connections --------------------------------------------------------------------------- */

static redisContext *connect_redis(void)
{
    struct timeval tv = {BUS_CONNECT_TIMEOUT_MS / 1000, (suseconds_t)(BUS_CONNECT_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (c == NULL) {
        return NULL;
    }
    if (c->err != 0) {
        redisFree(c);
        return NULL;
    }
    /* Replies (to PUBLISH) that do not come within this are a dead connection. */
    tv.tv_sec = 2;
    tv.tv_usec = 0;
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    (void)redisEnableKeepAlive(c);
    return c;
}

/* Waits ms (less when stopping), then doubles it up to BUS_BACKOFF_MAX_MS. */
static void backoff(int *ms)
{
    for (int waited = 0; waited < *ms && !atomic_load(&stopping); waited += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    *ms = *ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS : *ms * 2;
}

/* Connecting failed: said once until a connection is made again, then waited (backoff). */
static void retry_later(const char *who, int *was_up, int *wait_ms)
{
    if (*was_up) {
        log_msg(LOG_WARN, "bus: cannot reach Redis (%s): retrying with backoff", who);
        *was_up = 0;
    }
    backoff(wait_ms);
}

/* ---- The publisher ------------------------------------------------------------------------- */

/* Publishes the items of list (and an ALIVE when alive): pipelined. 0, or -1 when the
 * connection failed. */
static int publish(redisContext *c, struct item *list, int alive)
{
    int sent = 0;
    int rc = 0;
    char ch[CHANNEL_MAX];

    if (alive) {
        struct bus_msg m;
        unsigned char buf[32];
        size_t len;
        memset(&m, 0, sizeof m);
        m.kind = BUS_ALIVE;
        memcpy(m.from, my_id, BUS_ID_BYTES);
        len = bus_wire_write(&m, buf, sizeof buf);
        if (redisAppendCommand(c, "PUBLISH %s %b", ch_all, buf, len) != REDIS_OK) {
            return -1;
        }
        sent++;
    }
    for (struct item *it = list; it != NULL; it = it->next) {
        if (it->broadcast) {
            snprintf(ch, sizeof ch, "%s", ch_all);
        } else {
            channel_of(it->to, ch);
        }
        if (redisAppendCommand(c, "PUBLISH %s %b", ch, it->data, it->len) != REDIS_OK) {
            return -1;
        }
        sent++;
    }
    for (int i = 0; i < sent; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
            rc = -1;
            break;
        }
        freeReplyObject(reply);
    }
    return rc;
}

static void *pub_main(void *arg)
{
    int wait_ms = BUS_BACKOFF_MIN_MS;
    int was_up = 1;

    (void)arg;
    while (!atomic_load(&stopping)) {
        redisContext *c = connect_redis();
        double next_alive = 0;
        if (c == NULL) {
            retry_later("publisher", &was_up, &wait_ms);
            continue;
        }
        wait_ms = BUS_BACKOFF_MIN_MS;
        log_msg(LOG_INFO, "bus: publisher connected to Redis");
        was_up = 1;
        atomic_store(&pub_up, 1);
        atomic_store(&need_announce, 1);
        for (;;) {
            struct item *list = NULL;
            struct item **tail = &list;
            int alive;
            double now;
            if (atomic_exchange(&need_sync, 0)) {
                struct bus_msg m;
                memset(&m, 0, sizeof m);
                m.kind = BUS_SYNC;
                (void)bus_send(NULL, &m);
            }
            if (atomic_exchange(&need_announce, 0)) {
                bus_dir_announce();
            }
            if (bus_dir_have_askers()) {
                bus_dir_answer_askers();
            }
            pthread_mutex_lock(&q_lock);
            now = bus_now();
            while (q_head == NULL && !atomic_load(&stopping) && now < next_alive &&
                   !atomic_load(&need_sync) && !atomic_load(&need_announce) &&
                   !bus_dir_have_askers()) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 100 * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&q_cond, &q_lock, &until);
                now = bus_now();
            }
            for (int k = 0; k < BUS_PIPELINE_MAX && q_head != NULL; k++) {
                struct item *it = q_head;
                q_head = it->next;
                q_bytes -= it->len;
                it->next = NULL;
                *tail = it;
                tail = &it->next;
            }
            if (q_head == NULL) {
                q_tail = &q_head;
            }
            pthread_mutex_unlock(&q_lock);
            alive = now >= next_alive;
            if (alive) {
                next_alive = now + BUS_ALIVE_EVERY;
            }
            if ((list != NULL || alive) && publish(c, list, alive) != 0) {
                free_items(list);
                break;
            }
            free_items(list);
            if (atomic_load(&stopping)) {
                struct bus_msg m;
                unsigned char buf[32];
                size_t len;
                void *reply;
                memset(&m, 0, sizeof m);
                m.kind = BUS_BYE;
                memcpy(m.from, my_id, BUS_ID_BYTES);
                len = bus_wire_write(&m, buf, sizeof buf);
                reply = redisCommand(c, "PUBLISH %s %b", ch_all, buf, len);
                if (reply != NULL) {
                    freeReplyObject(reply);
                }
                break;
            }
        }
        atomic_store(&pub_up, 0);
        drop_queue();
        redisFree(c);
        if (!atomic_load(&stopping)) {
            log_msg(LOG_WARN, "bus: lost Redis (publisher): reconnecting");
            was_up = 0;
        }
    }
    return NULL;
}

/* ---- The subscriber ------------------------------------------------------------------------ */

static void handle(const unsigned char *data, size_t len, double *heard_self)
{
    struct bus_msg m;

    if (bus_wire_parse(data, len, &m) != 0) {
        log_msg(LOG_WARN, "bus: an invalid message was ignored");
        return;
    }
    if (memcmp(m.from, my_id, BUS_ID_BYTES) == 0) {
        *heard_self = bus_now();
        return;
    }
    bus_dir_heard(&m);
}

/* Reads what the subscription brings until the connection fails or the bus stops. */
static void listen_on(redisContext *c)
{
    double heard_self = bus_now();

    while (!atomic_load(&stopping)) {
        void *reply = NULL;
        redisReply *r;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            return;
        }
        if (reply == NULL) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int ready = poll(&pfd, 1, POLL_MS);
            bus_dir_forget_silent();
            if (atomic_load(&pub_up) && bus_now() - heard_self > BUS_SILENT_AFTER) {
                log_msg(LOG_WARN, "bus: the subscription fell silent");
                return;
            }
            if (ready > 0 && redisBufferRead(c) != REDIS_OK) {
                return;
            }
            continue;
        }
        r = reply;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "message") == 0 &&
            r->element[2]->type == REDIS_REPLY_STRING) {
            handle((const unsigned char *)r->element[2]->str, r->element[2]->len, &heard_self);
        }
        freeReplyObject(reply);
    }
}

static void *sub_main(void *arg)
{
    int wait_ms = BUS_BACKOFF_MIN_MS;
    int was_up = 1;

    (void)arg;
    while (!atomic_load(&stopping)) {
        redisContext *c = connect_redis();
        void *reply = NULL;
        int ok = c != NULL && redisAppendCommand(c, "SUBSCRIBE %s %s", ch_all, ch_mine) == REDIS_OK;
        for (int k = 0; k < 2 && ok; k++) {
            ok = redisGetReply(c, &reply) == REDIS_OK && reply != NULL;
            if (reply != NULL) {
                freeReplyObject(reply);
                reply = NULL;
            }
        }
        if (!ok) {
            if (c != NULL) {
                redisFree(c);
            }
            retry_later("subscriber", &was_up, &wait_ms);
            continue;
        }
        wait_ms = BUS_BACKOFF_MIN_MS;
        was_up = 1;
        log_msg(LOG_INFO, "bus: subscribed");
        atomic_store(&sub_up, 1);
        /* Everyone announces again (this instance may have missed changes), and so does it. */
        atomic_store(&need_sync, 1);
        atomic_store(&need_announce, 1);
        bus_wake_publisher();
        bus_dir_recheck_mail();
        listen_on(c);
        atomic_store(&sub_up, 0);
        redisFree(c);
        bus_dir_forget_all();
        if (!atomic_load(&stopping)) {
            log_msg(LOG_WARN, "bus: lost Redis (subscriber): users elsewhere look offline "
                              "until it is back");
            was_up = 0;
        }
    }
    return NULL;
}

/* ---- Start and stop ------------------------------------------------------------------------ */

int bus_start(const char *url, const struct bus_handlers *h)
{
    char hex[2 * BUS_ID_BYTES + 1];

    if (parse_url(url, host, &port, &db) != 0 || h == NULL) {
        return -1;
    }
    if (bus_dir_init(h) != 0) {
        return -1;
    }
    randombytes_buf(my_id, sizeof my_id);
    snprintf(ch_all, sizeof ch_all, "parley:%d:all", db);
    channel_of(my_id, ch_mine);
    atomic_store(&stopping, 0);
    enabled = 1;
    if (pthread_create(&pub_thread, NULL, pub_main, NULL) != 0) {
        enabled = 0;
        bus_dir_free();
        return -1;
    }
    if (pthread_create(&sub_thread, NULL, sub_main, NULL) != 0) {
        atomic_store(&stopping, 1);
        pthread_join(pub_thread, NULL);
        enabled = 0;
        bus_dir_free();
        return -1;
    }
    sodium_bin2hex(hex, sizeof hex, my_id, sizeof my_id);
    log_msg(LOG_INFO, "bus: instance %s on Redis database %d", hex, db);
    return 0;
}

void bus_stop(void)
{
    if (!enabled) {
        return;
    }
    atomic_store(&stopping, 1);
    bus_wake_publisher();
    pthread_join(pub_thread, NULL);
    pthread_join(sub_thread, NULL);
    pthread_mutex_lock(&q_lock);
    atomic_store(&enabled, 0);
    atomic_store(&pub_up, 0);
    pthread_mutex_unlock(&q_lock);
    drop_queue();
    bus_dir_free();
}
