/*
 * Token buckets. A bucket holds up to `burst` tokens and gains `per_second` tokens a second; an
 * attempt takes one token or is refused with the seconds until one is available. Buckets only
 * ever slow a client down: they refill on their own, so nothing is ever locked out for good.
 *
 * rl_table keeps buckets by key (an account name or a client address) in a fixed number of
 * slots (no allocation per key). Keys are placed by a keyed hash (SipHash with a random key, so
 * nobody can aim collisions); when every candidate slot is taken, the slot with the most
 * tokens is reused, which is the one a reset would harm least.
 */
#ifndef PARLEY_SERVER_RATELIMIT_H
#define PARLEY_SERVER_RATELIMIT_H

#include <stddef.h>

#define RL_KEY_MAX 80

struct rl_bucket {
    double tokens;
    double last;
    int started;
};

/* Takes one token from b at time now (seconds). 0 when allowed, else seconds to wait (>= 1). */
int rl_bucket_take(struct rl_bucket *b, double burst, double per_second, double now);

struct rl_table;

struct rl_table *rl_create(size_t slots, double burst, double per_second);
void rl_free(struct rl_table *t);

/* Takes one token from key's bucket. 0 when allowed, else seconds to wait (>= 1). Thread-safe. */
int rl_take(struct rl_table *t, const char *key, double now);

/*
 * The throttling key of a client address: an IPv4 address as is (also when IPv4-mapped), an
 * IPv6 address as its /64 prefix, e.g. "2001:db8:1:2::/64".
 */
void rl_address_key(const char *addr, char *out, size_t len);

/* Monotonic clock in seconds. */
double rl_now(void);

#endif
