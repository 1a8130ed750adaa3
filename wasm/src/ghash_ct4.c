/*
 * GHASH in constant time with aggregated reduction: BearSSL's ghash_ctmul64 (carry-less 64-bit
 * multiplication by integer multiplications of bits spaced four apart, Karatsuba over the two
 * halves, the high halves of products through bit reversal) with the reduction modulo the GCM
 * polynomial done once per four blocks instead of once per block:
 *
 *   Y' = (Y ^ X1) H^4 ^ X2 H^3 ^ X3 H^2 ^ X4 H
 *
 * Every step between the products and the reduced result (Karatsuba recombination, bit
 * reversal, shift, reduction) is linear over GF(2), so the four unreduced products are summed
 * word by word and reduced once; H^2..H^4 are computed at key setup. No table, no branch or
 * memory index on secret data.
 *
 * bmul64, rev64 and the reduction are BearSSL 0.6's (src/hash/ghash_ctmul64.c), whose notice
 * follows:
 *
 * Copyright (c) 2016 Thomas Pornin <pornin@bolet.org>
 *
 * Permission is hereby granted, free of charge, to any person obtaining
 * a copy of this software and associated documentation files (the
 * "Software"), to deal in the Software without restriction, including
 * without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to
 * permit persons to whom the Software is furnished to do so, subject to
 * the following conditions:
 *
 * The above copyright notice and this permission notice shall be
 * included in all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
 * EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 * MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 * NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS
 * BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
 * ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 * CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 */
#include "ghash_ct4.h"

#include <string.h>

#include "internal.h"

/* Bits spaced four apart: x = split(x, 0) | split(x, 1) | split(x, 2) | split(x, 3). */
#define M0 0x1111111111111111u
#define M1 0x2222222222222222u
#define M2 0x4444444444444444u
#define M3 0x8888888888888888u

/* The low 64 bits of the carry-less product of x and y (BearSSL's bmul64), y given as its four
 * parts y & M0, y & M1, y & M2, y & M3 (precomputed for the key). */
static inline uint64_t bmul64(uint64_t x, const uint64_t y[4])
{
    uint64_t x0 = x & M0, x1 = x & M1, x2 = x & M2, x3 = x & M3;
    uint64_t z0 = (x0 * y[0]) ^ (x1 * y[3]) ^ (x2 * y[2]) ^ (x3 * y[1]);
    uint64_t z1 = (x0 * y[1]) ^ (x1 * y[0]) ^ (x2 * y[3]) ^ (x3 * y[2]);
    uint64_t z2 = (x0 * y[2]) ^ (x1 * y[1]) ^ (x2 * y[0]) ^ (x3 * y[3]);
    uint64_t z3 = (x0 * y[3]) ^ (x1 * y[2]) ^ (x2 * y[1]) ^ (x3 * y[0]);

    return (z0 & M0) | (z1 & M1) | (z2 & M2) | (z3 & M3);
}

static inline uint64_t rev64(uint64_t x)
{
    x = ((x & 0x5555555555555555u) << 1) | ((x >> 1) & 0x5555555555555555u);
    x = ((x & 0x3333333333333333u) << 2) | ((x >> 2) & 0x3333333333333333u);
    x = ((x & 0x0F0F0F0F0F0F0F0Fu) << 4) | ((x >> 4) & 0x0F0F0F0F0F0F0F0Fu);
    x = ((x & 0x00FF00FF00FF00FFu) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFu);
    x = ((x & 0x0000FFFF0000FFFFu) << 16) | ((x >> 16) & 0x0000FFFF0000FFFFu);
    return (x << 32) | (x >> 32);
}

/* Unreduced sum of products: the six partial products of BearSSL's loop body. */
struct acc {
    uint64_t z0, z1, z2, z0h, z1h, z2h;
};

/* acc += (y1:y0) * K, unreduced; k is one row of parley_ghash_key.k. */
static inline void mul_acc(struct acc *a, uint64_t y1, uint64_t y0, const uint64_t k[6][4])
{
    uint64_t y0r = rev64(y0), y1r = rev64(y1);

    a->z0 ^= bmul64(y0, k[0]);
    a->z1 ^= bmul64(y1, k[1]);
    a->z2 ^= bmul64(y0 ^ y1, k[2]);
    a->z0h ^= bmul64(y0r, k[3]);
    a->z1h ^= bmul64(y1r, k[4]);
    a->z2h ^= bmul64(y0r ^ y1r, k[5]);
}

/* Karatsuba recombination, shift and reduction of acc into (y1:y0). */
static inline void reduce(const struct acc *a, uint64_t *y1, uint64_t *y0)
{
    uint64_t z2 = a->z2 ^ a->z0 ^ a->z1, z2h = a->z2h ^ a->z0h ^ a->z1h;
    uint64_t z0h = rev64(a->z0h) >> 1, z1h = rev64(a->z1h) >> 1;
    uint64_t v0, v1, v2, v3;

    z2h = rev64(z2h) >> 1;
    v0 = a->z0;
    v1 = z0h ^ z2;
    v2 = a->z1 ^ z2h;
    v3 = z1h;

    v3 = (v3 << 1) | (v2 >> 63);
    v2 = (v2 << 1) | (v1 >> 63);
    v1 = (v1 << 1) | (v0 >> 63);
    v0 = (v0 << 1);

    v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
    v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
    v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
    v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);

    *y0 = v2;
    *y1 = v3;
}

static void set_row(uint64_t k[6][4], uint64_t h1, uint64_t h0)
{
    uint64_t w[6];

    w[0] = h0;
    w[1] = h1;
    w[2] = h0 ^ h1;
    w[3] = rev64(h0);
    w[4] = rev64(h1);
    w[5] = w[3] ^ w[4];
    for (int i = 0; i < 6; i++) {
        k[i][0] = w[i] & M0;
        k[i][1] = w[i] & M1;
        k[i][2] = w[i] & M2;
        k[i][3] = w[i] & M3;
    }
    sodium_memzero(w, sizeof w);
}

void parley_ghash_init(parley_ghash_key *key, const uint8_t h[16], unsigned powers)
{
    uint64_t p1 = get_u64be(h), p0 = get_u64be(h + 8);

    memset(key, 0, sizeof *key);
    key->powers = powers == 4 ? 4 : 1;
    set_row(key->k[0], p1, p0);
    for (unsigned i = 1; i < key->powers; i++) {
        struct acc a = {0, 0, 0, 0, 0, 0};

        mul_acc(&a, p1, p0, key->k[0]); /* H^(i + 1) = H^i * H */
        reduce(&a, &p1, &p0);
        set_row(key->k[i], p1, p0);
        sodium_memzero(&a, sizeof a);
    }
}

void parley_ghash_update(uint8_t y[16], const parley_ghash_key *key, const uint8_t *data,
                         size_t len)
{
    uint64_t y1 = get_u64be(y), y0 = get_u64be(y + 8);
    uint8_t tmp[16];
    struct acc a;

    if (key->powers == 4) {
        for (; len >= 64; data += 64, len -= 64) {
            memset(&a, 0, sizeof a);
            mul_acc(&a, y1 ^ get_u64be(data), y0 ^ get_u64be(data + 8), key->k[3]);
            mul_acc(&a, get_u64be(data + 16), get_u64be(data + 24), key->k[2]);
            mul_acc(&a, get_u64be(data + 32), get_u64be(data + 40), key->k[1]);
            mul_acc(&a, get_u64be(data + 48), get_u64be(data + 56), key->k[0]);
            reduce(&a, &y1, &y0);
        }
    }
    while (len > 0) {
        const uint8_t *src = data;

        if (len >= 16) {
            data += 16;
            len -= 16;
        } else {
            memcpy(tmp, data, len);
            memset(tmp + len, 0, sizeof tmp - len);
            src = tmp;
            len = 0;
        }
        memset(&a, 0, sizeof a);
        mul_acc(&a, y1 ^ get_u64be(src), y0 ^ get_u64be(src + 8), key->k[0]);
        reduce(&a, &y1, &y0);
    }
    put_u64be(y, y1);
    put_u64be(y + 8, y0);
    sodium_memzero(&a, sizeof a);
    sodium_memzero(tmp, sizeof tmp);
}
