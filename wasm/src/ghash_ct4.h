/*
 * GHASH (NIST SP 800-38D) in constant time, four blocks per reduction (see ghash_ct4.c). Internal
 * to the core.
 */
#ifndef PARLEY_GHASH_CT4_H
#define PARLEY_GHASH_CT4_H

#include <stddef.h>
#include <stdint.h>

/* The hash key H and its powers, ready for multiplication. */
typedef struct {
    /* k[i] describes H^(i + 1): its two 64-bit halves h0 and h1 (h1 the first 8 bytes), h0 ^ h1,
     * and the bit reversals of those three, each split into its bits of index 0, 1, 2 and 3
     * modulo 4 (the operand form of the multiplication). */
    uint64_t k[4][6][4];
    unsigned powers; /* 1 or 4: how many powers are ready */
} parley_ghash_key;

/*
 * Prepares key from H (16 bytes). powers is 4 to precompute H^2..H^4 (three field
 * multiplications; worth it from about 64 bytes of data on) or 1 for H alone.
 */
void parley_ghash_init(parley_ghash_key *key, const uint8_t h[16], unsigned powers);

/*
 * y = GHASH_H(y, data): processes len bytes of data into the 16-byte accumulator y, zero-padding
 * a partial last block; the same result as BearSSL's br_ghash_ctmul64(y, h, data, len).
 */
void parley_ghash_update(uint8_t y[16], const parley_ghash_key *key, const uint8_t *data,
                         size_t len);

#endif
