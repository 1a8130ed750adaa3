#include "b64.h"

#include <sodium.h>
#include <string.h>

/* 1 when c is one of base64url's 64 characters. libsodium's decoder (1.0.18) does not say so
 * for bytes from 0x80 up: with a signed char they compare as negative numbers, which its
 * constant-time tests take for '_' or '-', so "\xef\xbb\xbf" decoded as "___" would. */
static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int b64_decode(const char *s, size_t slen, unsigned char *out, size_t cap, size_t *outlen)
{
    const char *end = NULL;
    size_t n = 0;

    if (s == NULL || slen % 4 == 1) {
        return -1;
    }
    for (size_t i = 0; i < slen; i++) {
        if (!b64url_char((unsigned char)s[i])) {
            return -1;
        }
    }
    if (sodium_base642bin(out, cap, s, slen, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + slen) {
        return -1;
    }
    *outlen = n;
    return 0;
}

int b64_decode_exact(const char *s, unsigned char *out, size_t outlen)
{
    size_t n = 0;

    if (s == NULL || strlen(s) != B64_LEN(outlen)) {
        return -1;
    }
    if (b64_decode(s, strlen(s), out, outlen, &n) != 0 || n != outlen) {
        return -1;
    }
    return 0;
}

int b64_encode(char *out, size_t cap, const unsigned char *in, size_t n)
{
    if (cap < B64_LEN(n) + 1) {
        return -1;
    }
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}
