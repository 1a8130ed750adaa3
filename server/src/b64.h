/* base64url without padding: the only binary encoding the API accepts and produces. */
#ifndef PARLEY_SERVER_B64_H
#define PARLEY_SERVER_B64_H

#include <stddef.h>

/* Encoded length (without NUL) of n bytes. */
#define B64_LEN(n) (((n) / 3) * 4 + (((n) % 3) ? ((n) % 3) + 1 : 0))

/*
 * Decodes s (strictly base64url, no padding, no whitespace, canonical trailing bits) into exactly
 * outlen bytes. 0 on success, -1 otherwise (wrong length, bad character, padding, ...).
 */
int b64_decode_exact(const char *s, unsigned char *out, size_t outlen);

/* Decodes s into at most cap bytes; *outlen receives the length. 0 or -1. */
int b64_decode(const char *s, size_t slen, unsigned char *out, size_t cap, size_t *outlen);

/* Encodes n bytes into out (cap >= B64_LEN(n) + 1). 0 or -1. */
int b64_encode(char *out, size_t cap, const unsigned char *in, size_t n);

#endif
