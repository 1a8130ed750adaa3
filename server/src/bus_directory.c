/*
 * The instance bus's directory (bus_internal.h): the users this instance holds and announces,
 * the other instances and the users connected at them, and the answers the event loops ask of
 * it (who is online elsewhere, where to relay). Redis is bus_redis.c's.
 */
#include "bus_internal.h"

#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCAL_BUCKETS 4096
#define REMOTE_BUCKETS 65536

/* ---- State ----------------------------------------------------------------------------------- */

static struct bus_handlers handlers;

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

double bus_now(void)
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

/* ---- Local users --------------------------------------------------------------------------- */

/* Queues the USER message of every local user, for every instance (to NULL) or one. */
static void announce_all(const unsigned char *to)
{
    pthread_mutex_lock(&local_lock);
    for (size_t i = 0; i < LOCAL_BUCKETS; i++) {
        for (struct local *l = locals[i]; l != NULL; l = l->next) {
            (void)bus_send(to, &l->m);
        }
    }
    pthread_mutex_unlock(&local_lock);
}

void bus_dir_announce(void)
{
    announce_all(NULL);
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

int bus_dir_have_askers(void)
{
    return atomic_load(&have_askers);
}

void bus_dir_answer_askers(void)
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

    if (!bus_enabled()) {
        return;
    }
    if (n > BUS_DEVICES_MAX) {
        n = BUS_DEVICES_MAX;
    }
    pthread_mutex_lock(&local_lock);
    if (!bus_enabled()) {
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
        (void)bus_send(NULL, &l->m);
        if (n == 0 && p != NULL) {
            *p = l->next; /* announced gone: forgotten */
            free(l);
        }
    }
    pthread_mutex_unlock(&local_lock);
}

void bus_local_settings(const char *user, const unsigned char *cap_hash, int visible)
{
    if (!bus_enabled()) {
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
            (void)bus_send(NULL, &l->m);
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
    insts[free_slot].last_seen = bus_now();
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

void bus_dir_forget_silent(void)
{
    double now = bus_now();

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
    if (!bus_enabled()) {
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

    if (!bus_enabled()) {
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

    if (!bus_enabled()) {
        return 0;
    }
    n = holders(m->user, m->device, !(m->flags & BUS_RELAY_OWN), to);
    if (n == 0) {
        return 0;
    }
    m->kind = BUS_RELAY;
    return bus_send_each(to, n, m);
}

void bus_deliver(const unsigned char to[BUS_ID_BYTES], const char *user, uint32_t device,
                 const char *text, size_t len)
{
    struct bus_msg m;

    if (!bus_enabled()) {
        return;
    }
    memset(&m, 0, sizeof m);
    m.kind = BUS_DELIVER;
    snprintf(m.user, sizeof m.user, "%s", user);
    m.device = device;
    m.text = text;
    m.text_len = len;
    (void)bus_send(to, &m);
}

void bus_notice(int what, const char *user, const uint32_t *ids, size_t n)
{
    struct bus_msg m;

    if (!bus_enabled()) {
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
    (void)bus_send(NULL, &m);
}

void bus_mail(const char *user, uint32_t device)
{
    unsigned char to[BUS_INSTANCES_MAX][BUS_ID_BYTES];
    struct bus_msg m;
    int n;

    if (!bus_enabled()) {
        return;
    }
    n = holders(user, device, 1, to);
    memset(&m, 0, sizeof m);
    m.kind = BUS_NOTICE;
    m.what = BUS_NOTICE_MAIL;
    snprintf(m.user, sizeof m.user, "%s", user);
    m.n_ids = 1;
    m.ids[0] = device;
    (void)bus_send_each(to, n, &m);
}

/* ---- What the subscriber hears ------------------------------------------------------------- */

void bus_dir_heard(const struct bus_msg *m)
{
    int i;

    pthread_mutex_lock(&remote_lock);
    i = find_inst(m->from, m->kind != BUS_BYE);
    if (i >= 0) {
        insts[i].last_seen = bus_now();
    }
    pthread_mutex_unlock(&remote_lock);
    if (i < 0) {
        if (m->kind != BUS_BYE) {
            log_msg(LOG_ERROR, "bus: more than %d instances: one is ignored", BUS_INSTANCES_MAX);
        }
        return;
    }
    switch (m->kind) {
    case BUS_ALIVE:
        break;
    case BUS_SYNC:
        ask(m->from);
        bus_wake_publisher();
        break;
    case BUS_BYE:
        forget(i);
        break;
    case BUS_USER:
        remote_user(i, m);
        break;
    case BUS_RELAY:
        handlers.relay(m);
        break;
    case BUS_DELIVER:
        handlers.deliver(m);
        break;
    case BUS_NOTICE:
        handlers.notice(m);
        break;
    default:
        break;
    }
}

void bus_dir_forget_all(void)
{
    forget(-1);
}

void bus_dir_recheck_mail(void)
{
    if (handlers.notice != NULL) {
        struct bus_msg m;
        memset(&m, 0, sizeof m);
        m.kind = BUS_NOTICE;
        m.what = BUS_NOTICE_MAIL;
        handlers.notice(&m);
    }
}

/* ---- Start and stop ------------------------------------------------------------------------ */

int bus_dir_init(const struct bus_handlers *h)
{
    remotes = calloc(REMOTE_BUCKETS, sizeof(struct remote *));
    if (remotes == NULL) {
        return -1;
    }
    handlers = *h;
    return 0;
}

void bus_dir_free(void)
{
    struct names ns = {NULL, 0, 0};

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
