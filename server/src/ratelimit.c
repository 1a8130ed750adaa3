#include "ratelimit.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBES 8

struct rl_slot {
    char key[RL_KEY_MAX + 1];
    struct rl_bucket bucket;
};

struct rl_table {
    pthread_mutex_t lock;
    size_t nslots;
    double burst;
    double per_second;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct rl_slot *slots;
};

double rl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void refill(struct rl_bucket *b, double burst, double per_second, double now)
{
    if (!b->started) {
        b->tokens = burst;
        b->last = now;
        b->started = 1;
        return;
    }
    if (now > b->last) {
        b->tokens += (now - b->last) * per_second;
        if (b->tokens > burst) {
            b->tokens = burst;
        }
        b->last = now;
    }
}

int rl_bucket_take(struct rl_bucket *b, double burst, double per_second, double now)
{
    double wait;

    refill(b, burst, per_second, now);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    wait = ceil((1.0 - b->tokens) / per_second);
    return wait < 1.0 ? 1 : (int)wait;
}

struct rl_table *rl_create(size_t slots, double burst, double per_second)
{
    struct rl_table *t;

    if (slots < PROBES || burst < 1.0 || per_second <= 0.0) {
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    t->slots = calloc(slots, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->nslots = slots;
    t->burst = burst;
    t->per_second = per_second;
    randombytes_buf(t->hash_key, sizeof t->hash_key);
    return t;
}

void rl_free(struct rl_table *t)
{
    if (t != NULL) {
        pthread_mutex_destroy(&t->lock);
        free(t->slots);
        free(t);
    }
}

int rl_take(struct rl_table *t, const char *key, double now)
{
    unsigned char h[crypto_shorthash_BYTES];
    unsigned long long start = 0;
    char k[RL_KEY_MAX + 1];
    struct rl_slot *pick = NULL;
    double best = -1.0;
    int rc;

    snprintf(k, sizeof k, "%s", key);
    crypto_shorthash(h, (const unsigned char *)k, strlen(k), t->hash_key);
    for (size_t i = 0; i < sizeof h; i++) {
        start = (start << 8) | h[i];
    }
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < PROBES; i++) {
        struct rl_slot *s = &t->slots[(start + i) % t->nslots];
        if (s->key[0] == '\0' || strcmp(s->key, k) == 0) {
            pick = s;
            break;
        }
        refill(&s->bucket, t->burst, t->per_second, now);
        if (s->bucket.tokens > best) {
            best = s->bucket.tokens;
            pick = s;
        }
    }
    if (strcmp(pick->key, k) != 0) {
        memcpy(pick->key, k, sizeof k);
        memset(&pick->bucket, 0, sizeof pick->bucket);
    }
    rc = rl_bucket_take(&pick->bucket, t->burst, t->per_second, now);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void rl_address_key(const char *addr, char *out, size_t len)
{
    unsigned char a6[16];
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (addr != NULL && strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, a6) == 1) {
        char text[INET6_ADDRSTRLEN];

        if (memcmp(a6, v4_mapped, sizeof v4_mapped) == 0) {
            inet_ntop(AF_INET, a6 + 12, text, sizeof text);
            snprintf(out, len, "%s", text);
            return;
        }
        memset(a6 + 8, 0, 8); /* one /64: what a single host or site can rotate within */
        inet_ntop(AF_INET6, a6, text, sizeof text);
        snprintf(out, len, "%s/64", text);
        return;
    }
    snprintf(out, len, "%s", addr != NULL ? addr : "?");
}
