/*
 * AES encryption, eight blocks per pass, constant time: BearSSL's bitsliced aes_ct64 (ortho,
 * Boyar-Peralta S-box circuit, ShiftRows, MixColumns, AddRoundKey, four blocks in uint64_t q[8])
 * rewritten on a 128-bit vector of two 64-bit lanes, each lane an independent ct64 state. The
 * algorithm and every constant are BearSSL's; only the word type changed. GCC/Clang vector
 * extensions compile the same code natively (SSE2) and to WebAssembly SIMD128 (-msimd128):
 * only bitwise operations and shifts by constants, no table, no branch or index on secret data.
 *
 * Derived from BearSSL 0.6 src/symcipher/aes_ct64.c and aes_ct64_enc.c, whose notice follows:
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
#include "aes_ct64x2.h"

#include <sodium.h>
#include <stddef.h>

/* Two 64-bit lanes: lane 0 carries blocks 0..3, lane 1 blocks 4..7. */
typedef uint64_t u64x2 __attribute__((vector_size(16)));
/* The same 128 bits seen as 32- and 16-bit lanes, for shifts and constant shuffles (lane 0 holds
 * the lowest bits: little-endian, as on x86 and in WebAssembly). */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "aes_ct64x2.c assumes a little-endian target"
#endif
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

static inline u64x2 splat(uint64_t x)
{
    return (u64x2){x, x};
}

/* The S-box circuit of Boyar and Peralta (https://eprint.iacr.org/2009/191.pdf), as in BearSSL's
 * br_aes_ct64_bitslice_Sbox; x0 is the high bit, x7 the low bit. */
static inline void sbox(u64x2 *q)
{
    u64x2 x0, x1, x2, x3, x4, x5, x6, x7;
    u64x2 y1, y2, y3, y4, y5, y6, y7, y8, y9;
    u64x2 y10, y11, y12, y13, y14, y15, y16, y17, y18, y19;
    u64x2 y20, y21;
    u64x2 z0, z1, z2, z3, z4, z5, z6, z7, z8, z9;
    u64x2 z10, z11, z12, z13, z14, z15, z16, z17;
    u64x2 t0, t1, t2, t3, t4, t5, t6, t7, t8, t9;
    u64x2 t10, t11, t12, t13, t14, t15, t16, t17, t18, t19;
    u64x2 t20, t21, t22, t23, t24, t25, t26, t27, t28, t29;
    u64x2 t30, t31, t32, t33, t34, t35, t36, t37, t38, t39;
    u64x2 t40, t41, t42, t43, t44, t45, t46, t47, t48, t49;
    u64x2 t50, t51, t52, t53, t54, t55, t56, t57, t58, t59;
    u64x2 t60, t61, t62, t63, t64, t65, t66, t67;
    u64x2 s0, s1, s2, s3, s4, s5, s6, s7;

    x0 = q[7];
    x1 = q[6];
    x2 = q[5];
    x3 = q[4];
    x4 = q[3];
    x5 = q[2];
    x6 = q[1];
    x7 = q[0];

    /* Top linear transformation. */
    y14 = x3 ^ x5;
    y13 = x0 ^ x6;
    y9 = x0 ^ x3;
    y8 = x0 ^ x5;
    t0 = x1 ^ x2;
    y1 = t0 ^ x7;
    y4 = y1 ^ x3;
    y12 = y13 ^ y14;
    y2 = y1 ^ x0;
    y5 = y1 ^ x6;
    y3 = y5 ^ y8;
    t1 = x4 ^ y12;
    y15 = t1 ^ x5;
    y20 = t1 ^ x1;
    y6 = y15 ^ x7;
    y10 = y15 ^ t0;
    y11 = y20 ^ y9;
    y7 = x7 ^ y11;
    y17 = y10 ^ y11;
    y19 = y10 ^ y8;
    y16 = t0 ^ y11;
    y21 = y13 ^ y16;
    y18 = x0 ^ y16;

    /* Non-linear section. */
    t2 = y12 & y15;
    t3 = y3 & y6;
    t4 = t3 ^ t2;
    t5 = y4 & x7;
    t6 = t5 ^ t2;
    t7 = y13 & y16;
    t8 = y5 & y1;
    t9 = t8 ^ t7;
    t10 = y2 & y7;
    t11 = t10 ^ t7;
    t12 = y9 & y11;
    t13 = y14 & y17;
    t14 = t13 ^ t12;
    t15 = y8 & y10;
    t16 = t15 ^ t12;
    t17 = t4 ^ t14;
    t18 = t6 ^ t16;
    t19 = t9 ^ t14;
    t20 = t11 ^ t16;
    t21 = t17 ^ y20;
    t22 = t18 ^ y19;
    t23 = t19 ^ y21;
    t24 = t20 ^ y18;

    t25 = t21 ^ t22;
    t26 = t21 & t23;
    t27 = t24 ^ t26;
    t28 = t25 & t27;
    t29 = t28 ^ t22;
    t30 = t23 ^ t24;
    t31 = t22 ^ t26;
    t32 = t31 & t30;
    t33 = t32 ^ t24;
    t34 = t23 ^ t33;
    t35 = t27 ^ t33;
    t36 = t24 & t35;
    t37 = t36 ^ t34;
    t38 = t27 ^ t36;
    t39 = t29 & t38;
    t40 = t25 ^ t39;

    t41 = t40 ^ t37;
    t42 = t29 ^ t33;
    t43 = t29 ^ t40;
    t44 = t33 ^ t37;
    t45 = t42 ^ t41;
    z0 = t44 & y15;
    z1 = t37 & y6;
    z2 = t33 & x7;
    z3 = t43 & y16;
    z4 = t40 & y1;
    z5 = t29 & y7;
    z6 = t42 & y11;
    z7 = t45 & y17;
    z8 = t41 & y10;
    z9 = t44 & y12;
    z10 = t37 & y3;
    z11 = t33 & y4;
    z12 = t43 & y13;
    z13 = t40 & y5;
    z14 = t29 & y2;
    z15 = t42 & y9;
    z16 = t45 & y14;
    z17 = t41 & y8;

    /* Bottom linear transformation. */
    t46 = z15 ^ z16;
    t47 = z10 ^ z11;
    t48 = z5 ^ z13;
    t49 = z9 ^ z10;
    t50 = z2 ^ z12;
    t51 = z2 ^ z5;
    t52 = z7 ^ z8;
    t53 = z0 ^ z3;
    t54 = z6 ^ z7;
    t55 = z16 ^ z17;
    t56 = z12 ^ t48;
    t57 = t50 ^ t53;
    t58 = z4 ^ t46;
    t59 = z3 ^ t54;
    t60 = t46 ^ t57;
    t61 = z14 ^ t57;
    t62 = t52 ^ t58;
    t63 = t49 ^ t58;
    t64 = z4 ^ t59;
    t65 = t61 ^ t62;
    t66 = z1 ^ t63;
    s0 = t59 ^ t63;
    s6 = t56 ^ ~t62;
    s7 = t48 ^ ~t60;
    t67 = t64 ^ t65;
    s3 = t53 ^ t66;
    s4 = t51 ^ t66;
    s5 = t47 ^ t65;
    s1 = t64 ^ ~s3;
    s2 = t55 ^ ~t67;

    q[7] = s0;
    q[6] = s1;
    q[5] = s2;
    q[4] = s3;
    q[3] = s4;
    q[2] = s5;
    q[1] = s6;
    q[0] = s7;
}

/* br_aes_ct64_ortho: transposes the bits between the word layout and the bitsliced layout. */
#define SWAPN(cl, ch, s, x, y)                                    \
    do {                                                          \
        u64x2 a_ = (x), b_ = (y);                                 \
        (x) = (a_ & splat(cl)) | ((b_ & splat(cl)) << (s));       \
        (y) = ((a_ & splat(ch)) >> (s)) | (b_ & splat(ch));       \
    } while (0)

#define SWAP2(x, y) SWAPN(0x5555555555555555u, 0xAAAAAAAAAAAAAAAAu, 1, x, y)
#define SWAP4(x, y) SWAPN(0x3333333333333333u, 0xCCCCCCCCCCCCCCCCu, 2, x, y)
#define SWAP8(x, y) SWAPN(0x0F0F0F0F0F0F0F0Fu, 0xF0F0F0F0F0F0F0F0u, 4, x, y)

static inline void ortho(u64x2 *q)
{
    SWAP2(q[0], q[1]);
    SWAP2(q[2], q[3]);
    SWAP2(q[4], q[5]);
    SWAP2(q[6], q[7]);

    SWAP4(q[0], q[2]);
    SWAP4(q[1], q[3]);
    SWAP4(q[4], q[6]);
    SWAP4(q[5], q[7]);

    SWAP8(q[0], q[4]);
    SWAP8(q[1], q[5]);
    SWAP8(q[2], q[6]);
    SWAP8(q[3], q[7]);
}

/* br_aes_ct64_interleave_in on both lanes: lane 0 from block a, lane 1 from block b. */
static inline void interleave_in(u64x2 *q0, u64x2 *q1, const uint32_t *a, const uint32_t *b)
{
    u64x2 x0 = {a[0], b[0]}, x1 = {a[1], b[1]}, x2 = {a[2], b[2]}, x3 = {a[3], b[3]};
    const u64x2 m16 = splat(0x0000FFFF0000FFFFu), m8 = splat(0x00FF00FF00FF00FFu);

    x0 |= x0 << 16;
    x1 |= x1 << 16;
    x2 |= x2 << 16;
    x3 |= x3 << 16;
    x0 &= m16;
    x1 &= m16;
    x2 &= m16;
    x3 &= m16;
    x0 |= x0 << 8;
    x1 |= x1 << 8;
    x2 |= x2 << 8;
    x3 |= x3 << 8;
    x0 &= m8;
    x1 &= m8;
    x2 &= m8;
    x3 &= m8;
    *q0 = x0 | (x2 << 8);
    *q1 = x1 | (x3 << 8);
}

/* br_aes_ct64_interleave_out on both lanes: lane 0 to block a, lane 1 to block b. */
static inline void interleave_out(uint32_t *a, uint32_t *b, u64x2 q0, u64x2 q1)
{
    const u64x2 m16 = splat(0x0000FFFF0000FFFFu), m8 = splat(0x00FF00FF00FF00FFu);
    u64x2 x0 = q0 & m8, x1 = q1 & m8, x2 = (q0 >> 8) & m8, x3 = (q1 >> 8) & m8;

    x0 |= x0 >> 8;
    x1 |= x1 >> 8;
    x2 |= x2 >> 8;
    x3 |= x3 >> 8;
    x0 &= m16;
    x1 &= m16;
    x2 &= m16;
    x3 &= m16;
    x0 |= x0 >> 16;
    x1 |= x1 >> 16;
    x2 |= x2 >> 16;
    x3 |= x3 >> 16;
    a[0] = (uint32_t)x0[0];
    a[1] = (uint32_t)x1[0];
    a[2] = (uint32_t)x2[0];
    a[3] = (uint32_t)x3[0];
    b[0] = (uint32_t)x0[1];
    b[1] = (uint32_t)x1[1];
    b[2] = (uint32_t)x2[1];
    b[3] = (uint32_t)x3[1];
}

/* The round key (the same in both lanes). */
static inline void add_round_key(u64x2 *q, const uint64_t *sk)
{
    for (int i = 0; i < 8; i++) {
        q[i] ^= splat(sk[i]);
    }
}

/*
 * ShiftRows: the same permutation as BearSSL's masks and shifts, in fewer operations. In each
 * 64-bit lane, 16-bit group r holds row r of the state, four nibbles (one per column) that rotate
 * right by r nibbles. Let s be x with the bytes of each 16-bit group swapped: row 2 of s is row 2
 * rotated. Row 1 rotated takes its low nibbles from the high nibbles of x (x >> 4) and its high
 * nibbles from the low nibbles of s (s << 4); row 3 the other way round (s >> 4, x << 4).
 */
static inline u64x2 shift_rows1(u64x2 x)
{
    u16x8 v = (u16x8)x;
    u64x2 s = (u64x2)((v << 8) | (v >> 8));
    u64x2 right = ((x & splat(0x00000000F0F00000u)) | (s & splat(0xF0F0000000000000u))) >> 4;
    u64x2 left = ((s & splat(0x000000000F0F0000u)) | (x & splat(0x0F0F000000000000u))) << 4;

    return (x & splat(0x000000000000FFFFu)) | (s & splat(0x0000FFFF00000000u)) | right | left;
}

static inline void shift_rows(u64x2 *q)
{
    for (int i = 0; i < 8; i++) {
        q[i] = shift_rows1(q[i]);
    }
}

/* Rotations of each 64-bit lane by 32 and by 16 bits (constant shuffles of 32- and 16-bit lanes). */
static inline u64x2 rotr32(u64x2 x)
{
    u32x4 v = (u32x4)x;

    return (u64x2)__builtin_shufflevector(v, v, 1, 0, 3, 2);
}

static inline u64x2 rotr16(u64x2 x)
{
    u16x8 v = (u16x8)x;

    return (u64x2)__builtin_shufflevector(v, v, 1, 2, 3, 0, 5, 6, 7, 4);
}

static inline void mix_columns(u64x2 *q)
{
    u64x2 q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3], q4 = q[4], q5 = q[5], q6 = q[6], q7 = q[7];
    u64x2 r0 = rotr16(q0), r1 = rotr16(q1), r2 = rotr16(q2), r3 = rotr16(q3);
    u64x2 r4 = rotr16(q4), r5 = rotr16(q5), r6 = rotr16(q6), r7 = rotr16(q7);

    q[0] = q7 ^ r7 ^ r0 ^ rotr32(q0 ^ r0);
    q[1] = q0 ^ r0 ^ q7 ^ r7 ^ r1 ^ rotr32(q1 ^ r1);
    q[2] = q1 ^ r1 ^ r2 ^ rotr32(q2 ^ r2);
    q[3] = q2 ^ r2 ^ q7 ^ r7 ^ r3 ^ rotr32(q3 ^ r3);
    q[4] = q3 ^ r3 ^ q7 ^ r7 ^ r4 ^ rotr32(q4 ^ r4);
    q[5] = q4 ^ r4 ^ r5 ^ rotr32(q5 ^ r5);
    q[6] = q5 ^ r5 ^ r6 ^ rotr32(q6 ^ r6);
    q[7] = q6 ^ r6 ^ r7 ^ rotr32(q7 ^ r7);
}

void parley_aes_ct64x2_encrypt8(unsigned rounds, const uint64_t *skey, uint32_t w[32])
{
    u64x2 q[8];

    for (size_t i = 0; i < 4; i++) {
        interleave_in(&q[i], &q[i + 4], w + 4 * i, w + 4 * (i + 4));
    }
    ortho(q);
    add_round_key(q, skey);
    for (unsigned u = 1; u < rounds; u++) {
        sbox(q);
        shift_rows(q);
        mix_columns(q);
        add_round_key(q, skey + (u << 3));
    }
    sbox(q);
    shift_rows(q);
    add_round_key(q, skey + (rounds << 3));
    ortho(q);
    for (size_t i = 0; i < 4; i++) {
        interleave_out(w + 4 * i, w + 4 * (i + 4), q[i], q[i + 4]);
    }
    sodium_memzero(q, sizeof q);
}
