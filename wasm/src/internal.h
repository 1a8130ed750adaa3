/* Helpers shared inside the core; not part of the public API. */
#ifndef PARLEY_INTERNAL_H
#define PARLEY_INTERNAL_H

#include "parley.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define PARLEY_WIPE(x) sodium_memzero(&(x), sizeof(x))

static inline void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void put_u64be(uint8_t *p, uint64_t v)
{
    put_u32be(p, (uint32_t)(v >> 32));
    put_u32be(p + 4, (uint32_t)v);
}

static inline uint64_t get_u64be(const uint8_t *p)
{
    return (uint64_t)get_u32be(p) << 32 | get_u32be(p + 4);
}

/* HMAC-SHA256 over the concatenation of two parts (either may be empty). */
void parley_hmac2(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *a,
                  size_t a_len, const uint8_t *b, size_t b_len);

/* HKDF-SHA256 with a string label as info; out_len <= 255 * 32. */
int parley_hkdf_label(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                      const uint8_t *salt, size_t salt_len, const char *label);

/* HKDF-Expand-SHA256(prk (32 bytes), info = label, L = 44): the per-message key expansion. */
void parley_hkdf_expand_44(uint8_t out[44], const uint8_t prk[32], const char *label);

/* 1 when the core's randomness source is ready (parley_init ran). */
int parley_is_initialised(void);

#endif
