#include "presence.h"

#include "log.h"
#include "store.h"
#include "wsloop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One subscription of one connection. */
struct watch {
    struct ws *ws;
    char watcher[33]; /* the user whose connection ws is */
    char user[33];
    int has_cap;
    unsigned char cap_hash[PRESENCE_HASH_BYTES];
    int authorized;          /* the view last sent was the real state */
    int contact;             /* the capability is the user's current one: an accepted contact */
    struct watch *next_user; /* the watched user's chain */
    struct watch **pprev_user;
    struct watch *next_ws;   /* the watcher's list */
};

/* A watcher: its connection and its subscriptions. */
struct watcher {
    struct ws *ws;
    struct watch *list;
    struct watcher *next;
};

/* A user who is online, with its settings. */
struct online {
    char user[33];
    int has_cap;
    unsigned char cap_hash[PRESENCE_HASH_BYTES];
    int visible;
    size_t n_devices; /* its listed devices connected, at least 1 */
    uint32_t devices[PRESENCE_DEVICES_MAX];
    struct online *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch **by_user;     /* watches by watched user */
static struct watcher **by_ws;     /* watchers by connection */
static struct online **online_tab; /* online users */
static size_t mask;
static atomic_uint generation; /* changes whenever a watch's contact flag may have */

/* capHash = HMAC-SHA256(key = "parley-presence-cap-v1", cap). */
static void cap_hash(unsigned char out[PRESENCE_HASH_BYTES], const unsigned char cap[PRESENCE_CAP_BYTES])
{
    static const char key[] = PRESENCE_CAP_CONTEXT;
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, sizeof key - 1);
    crypto_auth_hmacsha256_update(&st, cap, PRESENCE_CAP_BYTES);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

static size_t hash_name(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & mask;
}

static size_t hash_ptr(const void *p)
{
    uintptr_t v = (uintptr_t)p;

    v ^= v >> 17;
    v *= 0x9E3779B1u;
    return (size_t)(v ^ (v >> 13)) & mask;
}

int presence_init(int max_connections)
{
    size_t size = 64;

    while (size < (size_t)max_connections * 2) {
        size *= 2;
    }
    pthread_mutex_lock(&lock);
    if (by_user == NULL) {
        by_user = calloc(size, sizeof(struct watch *));
        by_ws = calloc(size, sizeof(struct watcher *));
        online_tab = calloc(size, sizeof(struct online *));
        mask = size - 1;
    }
    pthread_mutex_unlock(&lock);
    return by_user != NULL && by_ws != NULL && online_tab != NULL ? 0 : -1;
}

void presence_shutdown(void)
{
    pthread_mutex_lock(&lock);
    if (by_ws != NULL) {
        for (size_t i = 0; i <= mask; i++) {
            while (by_ws[i] != NULL) {
                struct watcher *w = by_ws[i];
                by_ws[i] = w->next;
                while (w->list != NULL) {
                    struct watch *x = w->list;
                    w->list = x->next_ws;
                    free(x);
                }
                free(w);
            }
            while (online_tab[i] != NULL) {
                struct online *o = online_tab[i];
                online_tab[i] = o->next;
                free(o);
            }
        }
    }
    free(by_user);
    free(by_ws);
    free(online_tab);
    by_user = NULL;
    by_ws = NULL;
    online_tab = NULL;
    pthread_mutex_unlock(&lock);
}

static struct online *find_online(const char *user)
{
    for (struct online *o = online_tab[hash_name(user)]; o != NULL; o = o->next) {
        if (strcmp(o->user, user) == 0) {
            return o;
        }
    }
    return NULL;
}

/* Whether a watch presents the current capability of a user with these settings. */
static int matches(const struct watch *w, int has_cap, const unsigned char *cap_hash)
{
    return has_cap && w->has_cap && sodium_memcmp(w->cap_hash, cap_hash, PRESENCE_HASH_BYTES) == 0;
}

/* Whether a watch sees the real state of a user with these settings. */
static int allowed(const struct watch *w, int has_cap, const unsigned char *cap_hash, int visible)
{
    return visible && matches(w, has_cap, cap_hash);
}

/* What a watch that may not see the real state is told: "unknown" without a capability or with
 * the user's current one (presence switched off); "offline" with any other (a stale one, after
 * the user replaced it to drop or block that contact: they see the user away, never that they
 * were shut out). w->contact must be current. */
static const char *hidden_state(const struct watch *w)
{
    return w->has_cap && !w->contact ? "offline" : "unknown";
}

/* {"type":"presence","user":USER,"state":STATE}, with "devices":[...] when o is not NULL (the
 * state is "online"). */
static void send_state(struct ws *ws, const char *user, const char *state, const struct online *o)
{
    char text[128 + PRESENCE_DEVICES_MAX * 11];
    int n = snprintf(text, sizeof text, "{\"type\":\"presence\",\"user\":\"%s\",\"state\":\"%s\"",
                     user, state);

    for (size_t i = 0; o != NULL && i < o->n_devices && n > 0 && (size_t)n < sizeof text; i++) {
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%u", i == 0 ? ",\"devices\":[" : ",",
                      (unsigned)o->devices[i]);
    }
    if (n > 0 && (size_t)n < sizeof text) {
        n += snprintf(text + n, sizeof text - (size_t)n, "%s}", o != NULL ? "]" : "");
    }
    if (n > 0 && (size_t)n < sizeof text) {
        (void)ws_send(ws, WS_OP_TEXT, text, (size_t)n);
    }
}

static void unwatch_locked(struct ws *ws)
{
    struct watcher **p = &by_ws[hash_ptr(ws)];

    for (; *p != NULL; p = &(*p)->next) {
        if ((*p)->ws == ws) {
            struct watcher *w = *p;
            *p = w->next;
            while (w->list != NULL) {
                struct watch *x = w->list;
                w->list = x->next_ws;
                *x->pprev_user = x->next_user;
                if (x->next_user != NULL) {
                    x->next_user->pprev_user = x->pprev_user;
                }
                free(x);
            }
            free(w);
            atomic_fetch_add(&generation, 1);
            return;
        }
    }
}

void presence_unwatch(struct ws *ws)
{
    pthread_mutex_lock(&lock);
    if (by_ws != NULL) {
        unwatch_locked(ws);
    }
    pthread_mutex_unlock(&lock);
}

void presence_watch(struct ws *ws, const char *watcher, const struct presence_watch *list, int n)
{
    struct watcher *w = calloc(1, sizeof *w);
    struct watch **made = calloc((size_t)n + 1, sizeof(struct watch *));
    /* Settings of the watched users, read at once before taking the lock (used for those who
     * are offline). */
    struct store_presence *settings = calloc((size_t)n + 1, sizeof *settings);
    int *stored = calloc((size_t)n + 1, sizeof *stored);
    int *stored_contact = calloc((size_t)n + 1, sizeof *stored_contact);
    size_t n_read = 0;

    if (w == NULL || made == NULL || settings == NULL || stored == NULL ||
        stored_contact == NULL) {
        goto out;
    }
    for (int i = 0; i < n; i++) {
        made[i] = calloc(1, sizeof *made[i]);
        if (made[i] == NULL) {
            goto out;
        }
        snprintf(made[i]->user, sizeof made[i]->user, "%s", list[i].user);
        snprintf(made[i]->watcher, sizeof made[i]->watcher, "%s", watcher);
        made[i]->ws = ws;
        made[i]->has_cap = list[i].has_cap;
        if (list[i].has_cap) {
            cap_hash(made[i]->cap_hash, list[i].cap);
            settings[n_read++].username = made[i]->user;
        }
    }
    /* 1: visible, with a hash this watch matches (settings[] in the order of those with a
     * capability). */
    if (store_presence_get_many(settings, n_read) == 0) {
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            if (list[i].has_cap) {
                const struct store_presence *st = &settings[k++];
                if (st->found) {
                    stored_contact[i] = matches(made[i], st->has_cap, st->cap_hash);
                    stored[i] = stored_contact[i] && st->visible;
                }
            }
        }
    }
    pthread_mutex_lock(&lock);
    if (by_ws == NULL) {
        pthread_mutex_unlock(&lock);
        goto out;
    }
    unwatch_locked(ws);
    w->ws = ws;
    w->next = by_ws[hash_ptr(ws)];
    by_ws[hash_ptr(ws)] = w;
    for (int i = n - 1; i >= 0; i--) {
        struct watch *x = made[i];
        struct watch **head;
        if (x == NULL) {
            continue; /* cannot happen: every one was allocated above */
        }
        head = &by_user[hash_name(x->user)];
        x->next_ws = w->list;
        w->list = x;
        x->next_user = *head;
        if (*head != NULL) {
            (*head)->pprev_user = &x->next_user;
        }
        x->pprev_user = head;
        *head = x;
    }
    for (int i = 0; i < n; i++) {
        struct watch *x = made[i];
        const struct online *o;
        if (x == NULL) {
            continue;
        }
        o = find_online(x->user);
        if (o != NULL) {
            x->authorized = allowed(x, o->has_cap, o->cap_hash, o->visible);
            x->contact = matches(x, o->has_cap, o->cap_hash);
            send_state(ws, x->user, x->authorized ? "online" : hidden_state(x), x->authorized ? o : NULL);
        } else {
            x->authorized = stored[i];
            x->contact = stored_contact[i];
            send_state(ws, x->user, x->authorized ? "offline" : hidden_state(x), NULL);
        }
        made[i] = NULL; /* linked: freed by unwatch */
    }
    w = NULL;
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&lock);
out:
    if (made != NULL) {
        for (int i = 0; i < n; i++) {
            free(made[i]);
        }
    }
    free(made);
    free(w);
    free(settings);
    free(stored);
    free(stored_contact);
}

/* Tells each watcher of o (or of user, going offline when o is NULL) its view, when it changed
 * or always (then only to those who see the real state: it is "online" with its devices). lock
 * held. */
static void tell_watchers(const char *user, const struct online *o, int always)
{
    for (struct watch *x = by_user[hash_name(user)]; x != NULL; x = x->next_user) {
        if (strcmp(x->user, user) != 0) {
            continue;
        }
        if (o != NULL) {
            int now = allowed(x, o->has_cap, o->cap_hash, o->visible);
            x->contact = matches(x, o->has_cap, o->cap_hash);
            if (now != x->authorized || (always && now)) {
                send_state(x->ws, user, now ? "online" : hidden_state(x), now ? o : NULL);
            }
            x->authorized = now;
        } else if (x->authorized) {
            send_state(x->ws, user, "offline", NULL);
        }
    }
}

/* Sets o's devices to devices[0..n); 1 when they changed. */
static int set_devices(struct online *o, const uint32_t *devices, size_t n)
{
    int changed;

    if (n > PRESENCE_DEVICES_MAX) {
        n = PRESENCE_DEVICES_MAX;
    }
    changed = n != o->n_devices ||
              (n > 0 && memcmp(o->devices, devices, n * sizeof devices[0]) != 0);
    if (n > 0) {
        memcpy(o->devices, devices, n * sizeof devices[0]);
    }
    o->n_devices = n;
    return changed;
}

static void set_settings(struct online *o, const unsigned char *cap_hash, int visible)
{
    atomic_fetch_add(&generation, 1);
    o->has_cap = cap_hash != NULL;
    if (cap_hash != NULL) {
        memcpy(o->cap_hash, cap_hash, PRESENCE_HASH_BYTES);
    } else {
        memset(o->cap_hash, 0, PRESENCE_HASH_BYTES);
    }
    o->visible = visible != 0;
}

/* user's devices are devices[0..n) (n at least 1), with these settings when settings is set
 * (else kept; none known for a new entry: nobody sees it). lock held. */
static void online_locked(const char *user, int settings, const unsigned char *cap_hash,
                          int visible, const uint32_t *devices, size_t n)
{
    struct online *o = find_online(user);

    if (o != NULL) {
        /* A replaced connection, or a device more or less: told only when the view changed, or
         * to those who see it when the devices did. */
        int changed = set_devices(o, devices, n);
        if (settings) {
            set_settings(o, cap_hash, visible);
        }
        tell_watchers(user, o, changed);
    } else if ((o = calloc(1, sizeof *o)) != NULL) {
        snprintf(o->user, sizeof o->user, "%s", user);
        set_settings(o, settings ? cap_hash : NULL, settings ? visible : 0);
        (void)set_devices(o, devices, n);
        o->next = online_tab[hash_name(user)];
        online_tab[hash_name(user)] = o;
        tell_watchers(user, o, 1);
    } else {
        log_msg(LOG_ERROR, "presence: out of memory");
    }
}

void presence_online(const char *user, const unsigned char *cap_hash, int visible,
                     const uint32_t *devices, size_t n)
{
    pthread_mutex_lock(&lock);
    if (online_tab != NULL && n > 0) {
        online_locked(user, 1, cap_hash, visible, devices, n);
    }
    pthread_mutex_unlock(&lock);
}

void presence_devices(const char *user, const uint32_t *devices, size_t n)
{
    pthread_mutex_lock(&lock);
    if (online_tab != NULL && n > 0) {
        online_locked(user, 0, NULL, 0, devices, n);
    } else if (online_tab != NULL) {
        for (struct online **p = &online_tab[hash_name(user)]; *p != NULL; p = &(*p)->next) {
            if (strcmp((*p)->user, user) == 0) {
                struct online *o = *p;
                *p = o->next;
                free(o);
                tell_watchers(user, NULL, 0);
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

int presence_known(const char *user)
{
    int yes = 0;

    pthread_mutex_lock(&lock);
    if (online_tab != NULL) {
        yes = find_online(user) != NULL;
    }
    pthread_mutex_unlock(&lock);
    return yes;
}

void presence_settings(const char *user, const unsigned char *cap_hash, int visible)
{
    pthread_mutex_lock(&lock);
    if (online_tab != NULL) {
        struct online *o = find_online(user);
        if (o != NULL) {
            set_settings(o, cap_hash, visible);
            tell_watchers(user, o, 0);
        }
    }
    pthread_mutex_unlock(&lock);
}

void presence_notice(const char *user, const char *type)
{
    char text[128];
    int n = snprintf(text, sizeof text, "{\"type\":\"%s\",\"user\":\"%s\"}", type, user);

    if (n <= 0 || (size_t)n >= sizeof text) {
        return;
    }
    pthread_mutex_lock(&lock);
    if (by_user != NULL) {
        for (struct watch *x = by_user[hash_name(user)]; x != NULL; x = x->next_user) {
            if (strcmp(x->user, user) == 0) {
                (void)ws_send(x->ws, WS_OP_TEXT, text, (size_t)n);
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

/* Whether a connection of watcher watches user with user's current capability; lock held. The
 * watches of user are chained by user: a walk as long as its watchers. */
static int watch_is_contact(const char *watcher, const char *user)
{
    for (const struct watch *x = by_user[hash_name(user)]; x != NULL; x = x->next_user) {
        if (x->contact && strcmp(x->user, user) == 0 && strcmp(x->watcher, watcher) == 0) {
            return 1;
        }
    }
    return 0;
}

int presence_accepted(const char *sender, const char *recipient)
{
    int yes = 0;

    pthread_mutex_lock(&lock);
    if (by_user != NULL) {
        yes = watch_is_contact(sender, recipient) || watch_is_contact(recipient, sender);
    }
    pthread_mutex_unlock(&lock);
    return yes;
}

unsigned presence_generation(void)
{
    return atomic_load(&generation);
}
