#include "bus.h"

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
#define LOCAL_BUCKETS 4096
#define REMOTE_BUCKETS 65536
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
static struct bus_handlers handlers;
static unsigned char my_id[BUS_ID_BYTES];
static char host[BUS_URL_MAX];
static int port;
static int db;
static char ch_all[CHANNEL_MAX];
static char ch_mine[CHANNEL_MAX];
static pthread_t sub_thread, pub_thread;

/* Users this instance holds: the USER message last announced for each (local_lock). */
struct local {
    struct local *next;
    struct bus_msg m;
};
static pthread_mutex_t local_lock = PTHREAD_MUTEX_INITIALIZER;
static struct local *locals[LOCAL_BUCKETS];

/* Instances heard from, and users connected at them (remote_lock). */
struct inst {
    int used;
    unsigned char id[BUS_ID_BYTES];
    double last_seen;
};
struct remote {
    struct remote *next;
    int inst;
    unsigned long long seq; /* when announced (a counter): the latest settings win */
    struct bus_msg m;       /* its USER message (user, flags, cap_hash, devices) */
};
static pthread_mutex_t remote_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inst insts[BUS_INSTANCES_MAX];
static struct remote **remotes;
static size_t n_remote;
static unsigned long long remote_seq;

/* What waits to be published (q_lock; taken inside local_lock, never the other way). */
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

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t bucket(const char *user, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h % n;
}

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

static void drop_queue(void)
{
    struct item *list;

    pthread_mutex_lock(&q_lock);
    list = q_head;
    q_head = NULL;
    q_tail = &q_head;
    q_bytes = 0;
    pthread_mutex_unlock(&q_lock);
    while (list != NULL) {
        struct item *next = list->next;
        free(list);
        list = next;
    }
}

/* Encodes m (from this instance) and queues it. */
static int send_msg(const unsigned char *to, struct bus_msg *m)
{
    size_t cap = 128 + 2 * BUS_NAME_MAX + BUS_HASH_BYTES + BUS_DEVICES_MAX * 13 + m->ref_len +
                 m->text_len;
    unsigned char *buf = malloc(cap);
    size_t len;
    int rc = -1;

    memcpy(m->from, my_id, BUS_ID_BYTES);
    if (buf != NULL && (len = bus_wire_write(m, buf, cap)) > 0) {
        rc = enqueue(to, buf, len);
    }
    free(buf);
    return rc;
}

/* ---- Local users --------------------------------------------------------------------------- */

/* Queues the USER message of every local user, for every instance (to NULL) or one. */
static void announce_all(const unsigned char *to)
{
    pthread_mutex_lock(&local_lock);
    for (size_t i = 0; i < LOCAL_BUCKETS; i++) {
        for (struct local *l = locals[i]; l != NULL; l = l->next) {
            (void)send_msg(to, &l->m);
        }
    }
    pthread_mutex_unlock(&local_lock);
}

/* Instances that asked (SYNC) for this instance's users: answered on their own channels, so that
 * one instance coming back costs one announcement per user, not one per user and instance. */
static pthread_mutex_t askers_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char askers[BUS_INSTANCES_MAX][BUS_ID_BYTES];
static int n_askers;
static atomic_int have_askers;

static void ask(const unsigned char id[BUS_ID_BYTES])
{
    pthread_mutex_lock(&askers_lock);
    for (int i = 0; i < n_askers; i++) {
        if (memcmp(askers[i], id, BUS_ID_BYTES) == 0) {
            pthread_mutex_unlock(&askers_lock);
            return;
        }
    }
    if (n_askers < BUS_INSTANCES_MAX) {
        memcpy(askers[n_askers++], id, BUS_ID_BYTES);
        atomic_store(&have_askers, 1);
    }
    pthread_mutex_unlock(&askers_lock);
}

/* Answers the instances that asked (publisher thread). */
static void answer_askers(void)
{
    unsigned char ids[BUS_INSTANCES_MAX][BUS_ID_BYTES];
    int n;

    pthread_mutex_lock(&askers_lock);
    n = n_askers;
    memcpy(ids, askers, sizeof askers);
    n_askers = 0;
    atomic_store(&have_askers, 0);
    pthread_mutex_unlock(&askers_lock);
    for (int i = 0; i < n; i++) {
        announce_all(ids[i]);
    }
}

void bus_local_user(const char *user, const struct bus_device *devs, size_t n, int has_settings,
                    const unsigned char *cap_hash, int visible)
{
    struct local **p;
    struct local *l = NULL;

    if (!enabled) {
        return;
    }
    if (n > BUS_DEVICES_MAX) {
        n = BUS_DEVICES_MAX;
    }
    pthread_mutex_lock(&local_lock);
    if (!atomic_load(&enabled)) {
        pthread_mutex_unlock(&local_lock); /* stopped meanwhile: its tables are freed */
        return;
    }
    for (p = &locals[bucket(user, LOCAL_BUCKETS)]; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->m.user, user) == 0) {
            l = *p;
            break;
        }
    }
    if (l == NULL && n > 0) {
        l = calloc(1, sizeof *l);
        if (l == NULL) {
            pthread_mutex_unlock(&local_lock);
            log_msg(LOG_ERROR, "bus: out of memory: a user is not announced");
            return;
        }
        l->m.kind = BUS_USER;
        snprintf(l->m.user, sizeof l->m.user, "%s", user);
        l->next = locals[bucket(user, LOCAL_BUCKETS)];
        locals[bucket(user, LOCAL_BUCKETS)] = l;
        p = NULL;
    }
    if (l != NULL) {
        if (has_settings) {
            l->m.flags = BUS_USER_SETTINGS | (cap_hash != NULL ? BUS_USER_HAS_CAP : 0) |
                         (visible ? BUS_USER_VISIBLE : 0);
            if (cap_hash != NULL) {
                memcpy(l->m.cap_hash, cap_hash, BUS_HASH_BYTES);
            }
        }
        l->m.n_devices = n;
        if (n > 0) {
            memcpy(l->m.devices, devs, n * sizeof devs[0]);
        }
        (void)send_msg(NULL, &l->m);
        if (n == 0 && p != NULL) {
            *p = l->next; /* announced gone: forgotten */
            free(l);
        }
    }
    pthread_mutex_unlock(&local_lock);
}

void bus_local_settings(const char *user, const unsigned char *cap_hash, int visible)
{
    if (!enabled) {
        return;
    }
    pthread_mutex_lock(&local_lock);
    for (struct local *l = locals[bucket(user, LOCAL_BUCKETS)]; l != NULL; l = l->next) {
        if (strcmp(l->m.user, user) == 0) {
            l->m.flags = BUS_USER_SETTINGS | (cap_hash != NULL ? BUS_USER_HAS_CAP : 0) |
                         (visible ? BUS_USER_VISIBLE : 0);
            if (cap_hash != NULL) {
                memcpy(l->m.cap_hash, cap_hash, BUS_HASH_BYTES);
            }
            (void)send_msg(NULL, &l->m);
            break;
        }
    }
    pthread_mutex_unlock(&local_lock);
}

/* ---- Remote users -------------------------------------------------------------------------- */

static int find_inst(const unsigned char id[BUS_ID_BYTES], int create)
{
    int free_slot = -1;

    for (int i = 0; i < BUS_INSTANCES_MAX; i++) {
        if (insts[i].used && memcmp(insts[i].id, id, BUS_ID_BYTES) == 0) {
            return i;
        }
        if (!insts[i].used && free_slot < 0) {
            free_slot = i;
        }
    }
    if (!create || free_slot < 0) {
        return -1;
    }
    insts[free_slot].used = 1;
    memcpy(insts[free_slot].id, id, BUS_ID_BYTES);
    insts[free_slot].last_seen = now_s();
    return free_slot;
}

/* A list of names whose devices elsewhere changed, told to the handler once the lock is free. */
struct names {
    char (*v)[BUS_NAME_MAX + 1];
    size_t n, cap;
};

static void names_add(struct names *ns, const char *user)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 64;
        char(*grown)[BUS_NAME_MAX + 1] = realloc(ns->v, cap * sizeof *grown);
        if (grown == NULL) {
            return;
        }
        ns->v = grown;
        ns->cap = cap;
    }
    snprintf(ns->v[ns->n++], BUS_NAME_MAX + 1, "%s", user);
}

static void names_tell(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        handlers.user(ns->v[i], NULL);
    }
    free(ns->v);
    ns->v = NULL;
    ns->n = ns->cap = 0;
}

/* Forgets the users of instance i (every instance when i < 0); remote_lock held. */
static void forget_locked(int i, struct names *ns)
{
    if (remotes == NULL) {
        return;
    }
    for (size_t b = 0; b < REMOTE_BUCKETS; b++) {
        for (struct remote **p = &remotes[b]; *p != NULL;) {
            struct remote *r = *p;
            if (i < 0 || r->inst == i) {
                *p = r->next;
                names_add(ns, r->m.user);
                free(r);
                n_remote--;
            } else {
                p = &r->next;
            }
        }
    }
    for (int k = 0; k < BUS_INSTANCES_MAX; k++) {
        if (i < 0 || k == i) {
            insts[k].used = 0;
        }
    }
}

static void forget(int i)
{
    struct names ns = {NULL, 0, 0};

    pthread_mutex_lock(&remote_lock);
    forget_locked(i, &ns);
    pthread_mutex_unlock(&remote_lock);
    names_tell(&ns);
}

/* Instances silent for BUS_DEAD_AFTER seconds are forgotten. */
static void forget_silent(void)
{
    double now = now_s();

    for (int i = 0; i < BUS_INSTANCES_MAX; i++) {
        int dead;
        pthread_mutex_lock(&remote_lock);
        dead = insts[i].used && now - insts[i].last_seen > BUS_DEAD_AFTER;
        pthread_mutex_unlock(&remote_lock);
        if (dead) {
            log_msg(LOG_WARN, "bus: an instance fell silent: its users are offline here");
            forget(i);
        }
    }
}

/* A USER message from instance i: its record of m->user replaced. */
static void remote_user(int i, const struct bus_msg *m)
{
    size_t b = bucket(m->user, REMOTE_BUCKETS);
    struct remote **p;

    pthread_mutex_lock(&remote_lock);
    for (p = &remotes[b]; *p != NULL; p = &(*p)->next) {
        if ((*p)->inst == i && strcmp((*p)->m.user, m->user) == 0) {
            break;
        }
    }
    if (m->n_devices == 0) {
        if (*p != NULL) {
            struct remote *r = *p;
            *p = r->next;
            free(r);
            n_remote--;
        }
    } else {
        struct remote *r = *p;
        if (r == NULL && n_remote < BUS_REMOTE_MAX && (r = calloc(1, sizeof *r)) != NULL) {
            r->inst = i;
            r->next = remotes[b];
            remotes[b] = r;
            n_remote++;
        }
        if (r != NULL) {
            r->m = *m;
            r->m.ref = NULL;
            r->m.text = NULL;
            r->seq = ++remote_seq;
        } else {
            log_msg(LOG_ERROR, "bus: the remote table is full: a user elsewhere looks offline");
        }
    }
    pthread_mutex_unlock(&remote_lock);
    if (m->flags & BUS_USER_SETTINGS) {
        /* The settings changed or were read there: what this instance announces of the same
         * user carries them from now on (not older ones it read itself). */
        pthread_mutex_lock(&local_lock);
        for (struct local *l = locals[bucket(m->user, LOCAL_BUCKETS)]; l != NULL; l = l->next) {
            if (strcmp(l->m.user, m->user) == 0) {
                l->m.flags = m->flags;
                memcpy(l->m.cap_hash, m->cap_hash, BUS_HASH_BYTES);
                break;
            }
        }
        pthread_mutex_unlock(&local_lock);
    }
    handlers.user(m->user, m);
}

static int matches(const struct bus_msg *m, uint32_t device, int only_listed)
{
    for (size_t k = 0; k < m->n_devices; k++) {
        if ((device == 0 || m->devices[k].id == device) && (!only_listed || m->devices[k].listed)) {
            return 1;
        }
    }
    return 0;
}

void bus_remote_devices(const char *user, uint32_t ids[BUS_DEVICES_MAX], size_t *n,
                        int *has_settings, unsigned char cap_hash[BUS_HASH_BYTES], int *has_cap,
                        int *visible)
{
    unsigned long long best = 0;

    *has_settings = 0;
    if (!enabled) {
        return;
    }
    pthread_mutex_lock(&remote_lock);
    for (struct remote *r = remotes != NULL ? remotes[bucket(user, REMOTE_BUCKETS)] : NULL;
         r != NULL; r = r->next) {
        if (strcmp(r->m.user, user) != 0) {
            continue;
        }
        for (size_t k = 0; k < r->m.n_devices; k++) {
            uint32_t id = r->m.devices[k].id;
            size_t at = 0;
            if (!r->m.devices[k].listed) {
                continue;
            }
            while (at < *n && ids[at] < id) {
                at++;
            }
            if ((at < *n && ids[at] == id) || *n >= BUS_DEVICES_MAX) {
                continue;
            }
            memmove(ids + at + 1, ids + at, (*n - at) * sizeof ids[0]);
            ids[at] = id;
            (*n)++;
        }
        if ((r->m.flags & BUS_USER_SETTINGS) && r->seq > best) {
            best = r->seq;
            *has_settings = 1;
            *has_cap = (r->m.flags & BUS_USER_HAS_CAP) != 0;
            *visible = (r->m.flags & BUS_USER_VISIBLE) != 0;
            memcpy(cap_hash, r->m.cap_hash, BUS_HASH_BYTES);
        }
    }
    pthread_mutex_unlock(&remote_lock);
}

int bus_remote_has(const char *user, uint32_t device, int only_listed)
{
    int yes = 0;

    if (!enabled) {
        return 0;
    }
    pthread_mutex_lock(&remote_lock);
    for (struct remote *r = remotes != NULL ? remotes[bucket(user, REMOTE_BUCKETS)] : NULL;
         r != NULL && !yes; r = r->next) {
        yes = strcmp(r->m.user, user) == 0 && matches(&r->m, device, only_listed);
    }
    pthread_mutex_unlock(&remote_lock);
    return yes;
}

/* The instances holding a matching device of user, into to[0..return). */
static int holders(const char *user, uint32_t device, int only_listed,
                   unsigned char to[BUS_INSTANCES_MAX][BUS_ID_BYTES])
{
    int n = 0;

    pthread_mutex_lock(&remote_lock);
    for (struct remote *r = remotes != NULL ? remotes[bucket(user, REMOTE_BUCKETS)] : NULL;
         r != NULL && n < BUS_INSTANCES_MAX; r = r->next) {
        if (strcmp(r->m.user, user) == 0 && matches(&r->m, device, only_listed)) {
            memcpy(to[n++], insts[r->inst].id, BUS_ID_BYTES);
        }
    }
    pthread_mutex_unlock(&remote_lock);
    return n;
}

int bus_relay(struct bus_msg *m)
{
    unsigned char to[BUS_INSTANCES_MAX][BUS_ID_BYTES];
    int n;
    int sent = 0;
    size_t cap;
    unsigned char *buf;
    size_t len;

    if (!enabled) {
        return 0;
    }
    n = holders(m->user, m->device, !(m->flags & BUS_RELAY_OWN), to);
    if (n == 0) {
        return 0;
    }
    m->kind = BUS_RELAY;
    memcpy(m->from, my_id, BUS_ID_BYTES);
    cap = 64 + 2 * BUS_NAME_MAX + m->ref_len + m->text_len;
    buf = malloc(cap);
    if (buf == NULL || (len = bus_wire_write(m, buf, cap)) == 0) {
        free(buf);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        sent += enqueue(to[i], buf, len) == 0;
    }
    free(buf);
    return sent;
}

void bus_deliver(const unsigned char to[BUS_ID_BYTES], const char *user, uint32_t device,
                 const char *text, size_t len)
{
    struct bus_msg m;

    if (!enabled) {
        return;
    }
    memset(&m, 0, sizeof m);
    m.kind = BUS_DELIVER;
    snprintf(m.user, sizeof m.user, "%s", user);
    m.device = device;
    m.text = text;
    m.text_len = len;
    (void)send_msg(to, &m);
}

void bus_notice(int what, const char *user, const uint32_t *ids, size_t n)
{
    struct bus_msg m;

    if (!enabled) {
        return;
    }
    memset(&m, 0, sizeof m);
    m.kind = BUS_NOTICE;
    m.what = what;
    snprintf(m.user, sizeof m.user, "%s", user);
    m.n_ids = n < BUS_DEVICES_MAX ? n : BUS_DEVICES_MAX;
    for (size_t i = 0; i < m.n_ids; i++) {
        m.ids[i] = ids[i];
    }
    (void)send_msg(NULL, &m);
}

void bus_mail(const char *user, uint32_t device)
{
    unsigned char to[BUS_INSTANCES_MAX][BUS_ID_BYTES];
    struct bus_msg m;
    int n;

    if (!enabled) {
        return;
    }
    n = holders(user, device, 1, to);
    memset(&m, 0, sizeof m);
    m.kind = BUS_NOTICE;
    m.what = BUS_NOTICE_MAIL;
    snprintf(m.user, sizeof m.user, "%s", user);
    m.n_ids = 1;
    m.ids[0] = device;
    for (int i = 0; i < n; i++) {
        (void)send_msg(to[i], &m);
    }
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
            if (was_up) {
                log_msg(LOG_WARN, "bus: cannot reach Redis (publisher): retrying with backoff");
                was_up = 0;
            }
            backoff(&wait_ms);
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
                (void)send_msg(NULL, &m);
            }
            if (atomic_exchange(&need_announce, 0)) {
                announce_all(NULL);
            }
            if (atomic_load(&have_askers)) {
                answer_askers();
            }
            pthread_mutex_lock(&q_lock);
            now = now_s();
            while (q_head == NULL && !atomic_load(&stopping) && now < next_alive &&
                   !atomic_load(&need_sync) && !atomic_load(&need_announce) &&
                   !atomic_load(&have_askers)) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 100 * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&q_cond, &q_lock, &until);
                now = now_s();
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
                while (list != NULL) {
                    struct item *next = list->next;
                    free(list);
                    list = next;
                }
                break;
            }
            while (list != NULL) {
                struct item *next = list->next;
                free(list);
                list = next;
            }
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
    int i;

    if (bus_wire_parse(data, len, &m) != 0) {
        log_msg(LOG_WARN, "bus: an invalid message was ignored");
        return;
    }
    if (memcmp(m.from, my_id, BUS_ID_BYTES) == 0) {
        *heard_self = now_s();
        return;
    }
    pthread_mutex_lock(&remote_lock);
    i = find_inst(m.from, m.kind != BUS_BYE);
    if (i >= 0) {
        insts[i].last_seen = now_s();
    }
    pthread_mutex_unlock(&remote_lock);
    if (i < 0) {
        if (m.kind != BUS_BYE) {
            log_msg(LOG_ERROR, "bus: more than %d instances: one is ignored", BUS_INSTANCES_MAX);
        }
        return;
    }
    switch (m.kind) {
    case BUS_ALIVE:
        break;
    case BUS_SYNC:
        ask(m.from);
        pthread_mutex_lock(&q_lock);
        pthread_cond_signal(&q_cond);
        pthread_mutex_unlock(&q_lock);
        break;
    case BUS_BYE:
        forget(i);
        break;
    case BUS_USER:
        remote_user(i, &m);
        break;
    case BUS_RELAY:
        handlers.relay(&m);
        break;
    case BUS_DELIVER:
        handlers.deliver(&m);
        break;
    case BUS_NOTICE:
        handlers.notice(&m);
        break;
    default:
        break;
    }
}

/* Reads what the subscription brings until the connection fails or the bus stops. */
static void listen_on(redisContext *c)
{
    double heard_self = now_s();

    while (!atomic_load(&stopping)) {
        void *reply = NULL;
        redisReply *r;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            return;
        }
        if (reply == NULL) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int ready = poll(&pfd, 1, POLL_MS);
            forget_silent();
            if (atomic_load(&pub_up) && now_s() - heard_self > BUS_SILENT_AFTER) {
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
            if (was_up) {
                log_msg(LOG_WARN, "bus: cannot reach Redis (subscriber): retrying with backoff");
                was_up = 0;
            }
            backoff(&wait_ms);
            continue;
        }
        wait_ms = BUS_BACKOFF_MIN_MS;
        was_up = 1;
        log_msg(LOG_INFO, "bus: subscribed");
        atomic_store(&sub_up, 1);
        /* Everyone announces again (this instance may have missed changes), and so does it. */
        atomic_store(&need_sync, 1);
        atomic_store(&need_announce, 1);
        pthread_mutex_lock(&q_lock);
        pthread_cond_signal(&q_cond);
        pthread_mutex_unlock(&q_lock);
        if (handlers.notice != NULL) {
            /* Wake-ups of mail may have been lost meanwhile: every mailbox looks again. */
            struct bus_msg m;
            memset(&m, 0, sizeof m);
            m.kind = BUS_NOTICE;
            m.what = BUS_NOTICE_MAIL;
            handlers.notice(&m);
        }
        listen_on(c);
        atomic_store(&sub_up, 0);
        redisFree(c);
        forget(-1);
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
    remotes = calloc(REMOTE_BUCKETS, sizeof(struct remote *));
    if (remotes == NULL) {
        return -1;
    }
    handlers = *h;
    randombytes_buf(my_id, sizeof my_id);
    snprintf(ch_all, sizeof ch_all, "parley:%d:all", db);
    channel_of(my_id, ch_mine);
    atomic_store(&stopping, 0);
    enabled = 1;
    if (pthread_create(&pub_thread, NULL, pub_main, NULL) != 0) {
        enabled = 0;
        free(remotes);
        remotes = NULL;
        return -1;
    }
    if (pthread_create(&sub_thread, NULL, sub_main, NULL) != 0) {
        atomic_store(&stopping, 1);
        pthread_join(pub_thread, NULL);
        enabled = 0;
        free(remotes);
        remotes = NULL;
        return -1;
    }
    sodium_bin2hex(hex, sizeof hex, my_id, sizeof my_id);
    log_msg(LOG_INFO, "bus: instance %s on Redis database %d", hex, db);
    return 0;
}

void bus_stop(void)
{
    struct names ns = {NULL, 0, 0};

    if (!enabled) {
        return;
    }
    atomic_store(&stopping, 1);
    pthread_mutex_lock(&q_lock);
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
    pthread_join(pub_thread, NULL);
    pthread_join(sub_thread, NULL);
    pthread_mutex_lock(&q_lock);
    atomic_store(&enabled, 0);
    atomic_store(&pub_up, 0);
    pthread_mutex_unlock(&q_lock);
    drop_queue();
    pthread_mutex_lock(&remote_lock);
    forget_locked(-1, &ns);
    free(remotes);
    remotes = NULL;
    pthread_mutex_unlock(&remote_lock);
    free(ns.v);
    pthread_mutex_lock(&local_lock);
    for (size_t i = 0; i < LOCAL_BUCKETS; i++) {
        while (locals[i] != NULL) {
            struct local *l = locals[i];
            locals[i] = l->next;
            free(l);
        }
    }
    pthread_mutex_unlock(&local_lock);
}
