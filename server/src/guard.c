#include "guard.h"

#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096 /* a power of two */

struct entry {
    char key[RL_KEY_MAX + 1];
    int ws;        /* WebSockets, authenticated or not */
    int ws_unauth; /* of which not authenticated yet */
    int http;      /* HTTP connections held by workers */
    struct entry *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static struct guard_limits lim = {64, 1024, 32};
static int unauth_total;
static struct rl_table *upgrades; /* upgrade buckets by address (its own lock) */

static size_t bucket(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a: keys are addresses, and a bucket's chain is short */

    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & (BUCKETS - 1);
}

/* The entry of addr's key (made when create), or NULL; lock held. */
static struct entry *find(const char *addr, int create)
{
    char key[RL_KEY_MAX + 1];
    struct entry *e;
    size_t b;

    rl_address_key(addr, key, sizeof key);
    b = bucket(key);
    for (e = table[b]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            return e;
        }
    }
    if (!create || (e = calloc(1, sizeof *e)) == NULL) {
        return NULL;
    }
    memcpy(e->key, key, sizeof e->key);
    e->next = table[b];
    table[b] = e;
    return e;
}

/* Frees e when it holds nothing; lock held. */
static void settle(struct entry *e)
{
    struct entry **p;

    if (e->ws > 0 || e->ws_unauth > 0 || e->http > 0) {
        return;
    }
    for (p = &table[bucket(e->key)]; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            free(e);
            return;
        }
    }
}

static void clear_locked(void)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        while (table[i] != NULL) {
            struct entry *e = table[i];
            table[i] = e->next;
            free(e);
        }
    }
    unauth_total = 0;
}

int guard_init(const struct guard_limits *limits)
{
    pthread_mutex_lock(&lock);
    clear_locked();
    lim = *limits;
    rl_free(upgrades);
    /* An operator who lets one address hold many connections (a proxy, a big NAT) lets it
     * reconnect them in numbers too. */
    upgrades = rl_create(8192,
                         lim.ws_per_address > GUARD_WS_UPGRADE_BURST ? lim.ws_per_address
                                                                     : GUARD_WS_UPGRADE_BURST,
                         lim.ws_per_address / 4.0 > GUARD_WS_UPGRADE_RATE
                             ? lim.ws_per_address / 4.0
                             : GUARD_WS_UPGRADE_RATE);
    pthread_mutex_unlock(&lock);
    return upgrades != NULL ? 0 : -1;
}

void guard_shutdown(void)
{
    pthread_mutex_lock(&lock);
    clear_locked();
    rl_free(upgrades);
    upgrades = NULL;
    pthread_mutex_unlock(&lock);
}

static enum guard_verdict verdict(const struct entry *e)
{
    if (e != NULL && e->ws >= lim.ws_per_address) {
        return GUARD_ADDRESS_FULL;
    }
    if (unauth_total >= lim.ws_unauth_total ||
        (e != NULL && e->ws_unauth >= GUARD_WS_UNAUTH_PER_ADDRESS)) {
        return GUARD_UNAUTH_FULL;
    }
    return GUARD_OK;
}

enum guard_verdict guard_ws_check(const char *addr)
{
    enum guard_verdict v;

    pthread_mutex_lock(&lock);
    v = verdict(find(addr, 0));
    if (v == GUARD_OK && upgrades != NULL) {
        char key[RL_KEY_MAX + 1];
        rl_address_key(addr, key, sizeof key);
        if (rl_take(upgrades, key, rl_now()) != 0) {
            v = GUARD_TOO_FAST;
        }
    }
    pthread_mutex_unlock(&lock);
    return v;
}

enum guard_verdict guard_ws_open(const char *addr)
{
    enum guard_verdict v;
    struct entry *e;

    pthread_mutex_lock(&lock);
    e = find(addr, 0);
    v = verdict(e);
    if (v == GUARD_OK && e == NULL && (e = find(addr, 1)) == NULL) {
        v = GUARD_UNAUTH_FULL; /* out of memory */
    }
    if (v == GUARD_OK) {
        e->ws++;
        e->ws_unauth++;
        unauth_total++;
    }
    pthread_mutex_unlock(&lock);
    return v;
}

void guard_ws_authed(const char *addr)
{
    struct entry *e;

    pthread_mutex_lock(&lock);
    e = find(addr, 0);
    if (e != NULL && e->ws_unauth > 0) {
        e->ws_unauth--;
        unauth_total--;
    }
    pthread_mutex_unlock(&lock);
}

void guard_ws_closed(const char *addr, int authed)
{
    struct entry *e;

    pthread_mutex_lock(&lock);
    e = find(addr, 0);
    if (e != NULL) {
        if (!authed && e->ws_unauth > 0) {
            e->ws_unauth--;
            unauth_total--;
        }
        if (e->ws > 0) {
            e->ws--;
        }
        settle(e);
    }
    pthread_mutex_unlock(&lock);
}

int guard_http_enter(const char *addr)
{
    struct entry *e;
    int rc = -1;

    pthread_mutex_lock(&lock);
    e = find(addr, 1);
    if (e != NULL && e->http < lim.http_per_address) {
        e->http++;
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void guard_http_leave(const char *addr)
{
    struct entry *e;

    pthread_mutex_lock(&lock);
    e = find(addr, 0);
    if (e != NULL) {
        if (e->http > 0) {
            e->http--;
        }
        settle(e);
    }
    pthread_mutex_unlock(&lock);
}

int guard_ws_unauth_count(void)
{
    int n;

    pthread_mutex_lock(&lock);
    n = unauth_total;
    pthread_mutex_unlock(&lock);
    return n;
}
