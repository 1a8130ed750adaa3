/*
 * AES encryption, eight blocks per pass: BearSSL's constant-time bitsliced aes_ct64 on a 128-bit
 * vector holding two independent ct64 states (see aes_ct64x2.c). Internal to the core.
 */
#ifndef PARLEY_AES_CT64X2_H
#define PARLEY_AES_CT64X2_H

#include <stdint.h>

/*
 * Encrypts eight 16-byte blocks in place. w holds the blocks as little-endian 32-bit words (block
 * i is w[4 * i] .. w[4 * i + 3]). skey is the expanded key schedule of br_aes_ct64_skey_expand()
 * (8 * (rounds + 1) words) and rounds its round count (10, 12 or 14). Runs in constant time: no
 * branch or memory index depends on the key or the data.
 */
void parley_aes_ct64x2_encrypt8(unsigned rounds, const uint64_t *skey, uint32_t w[32]);

#endif
