#include "relay.h"

_Static_assert(RELAY_DEPTH_MAX <= 64, "scan_value keeps one bit per nesting level in a uint64_t");

#include <stdint.h>
#include <string.h>

/* cJSON copies a number into a 64-byte buffer and refuses longer ones. */
#define NUMBER_MAX 63

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) {
        i++;
    }
    return i;
}

static int hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p[i] is '"': returns the index after the closing quote, or 0. *escaped tells whether the
 * string has escapes. */
static size_t scan_string(const char *p, size_t i, size_t n, int *escaped)
{
    *escaped = 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"') {
            return i + 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= n) {
                return 0;
            }
            c = (unsigned char)p[i + 1];
            if (c == 'u') {
                if (i + 5 >= n || !hex_digit(p[i + 2]) || !hex_digit(p[i + 3]) ||
                    !hex_digit(p[i + 4]) || !hex_digit(p[i + 5])) {
                    return 0;
                }
                /* \u0000 is refused by the server; surrogates are cJSON's to judge. */
                if (memcmp(p + i + 2, "0000", 4) == 0 || p[i + 2] == 'd' || p[i + 2] == 'D') {
                    return 0;
                }
                i += 5;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                       c == 'r' || c == 't') {
                i++;
            } else {
                return 0;
            }
        }
    }
    return 0;
}

static size_t scan_digits(const char *p, size_t i, size_t n)
{
    size_t start = i;

    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
    }
    return i > start ? i : 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; returns the index after it, or 0. */
static size_t scan_number(const char *p, size_t i, size_t n)
{
    size_t start = i;

    if (i < n && p[i] == '-') {
        i++;
    }
    if (i < n && p[i] == '0') {
        i++;
    } else if (i < n && p[i] >= '1' && p[i] <= '9') {
        i = scan_digits(p, i, n);
    } else {
        return 0;
    }
    if (i < n && p[i] == '.') {
        i = scan_digits(p, i + 1, n);
        if (i == 0) {
            return 0;
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        i = scan_digits(p, i, n);
        if (i == 0) {
            return 0;
        }
    }
    return i - start <= NUMBER_MAX ? i : 0;
}

static size_t scan_literal(const char *p, size_t i, size_t n, const char *word)
{
    size_t len = strlen(word);

    return n - i >= len && memcmp(p + i, word, len) == 0 ? i + len : 0;
}

/* A key and its colon inside an object: p[i] should be '"'. Returns the index after ':' (and
 * the whitespace after it), or 0. */
static size_t scan_key(const char *p, size_t i, size_t n)
{
    int escaped;

    if (i >= n || p[i] != '"') {
        return 0;
    }
    i = scan_string(p, i, n, &escaped);
    if (i == 0) {
        return 0;
    }
    i = skip_ws(p, i, n);
    if (i >= n || p[i] != ':') {
        return 0;
    }
    return skip_ws(p, i + 1, n);
}

/* Scans one value starting at p[i] (no leading whitespace), nested at most max_depth levels;
 * returns the index after it, or 0. Iterative: the stack it uses does not grow with nesting. */
static size_t scan_value(const char *p, size_t i, size_t n, int max_depth)
{
    uint64_t objects = 0; /* bit d: the container at depth d is an object */
    int depth = 0;
    int escaped;

    for (;;) {
        /* A value at p[i]. */
        if (i >= n) {
            return 0;
        }
        if (p[i] == '{' || p[i] == '[') {
            int is_object = p[i] == '{';
            if (depth >= max_depth) {
                return 0;
            }
            objects = is_object ? objects | ((uint64_t)1 << depth) : objects & ~((uint64_t)1 << depth);
            depth++;
            i = skip_ws(p, i + 1, n);
            if (i < n && p[i] == (is_object ? '}' : ']')) {
                i++;
                depth--;
            } else {
                if (is_object) {
                    i = scan_key(p, i, n);
                    if (i == 0) {
                        return 0;
                    }
                }
                continue;
            }
        } else if (p[i] == '"') {
            i = scan_string(p, i, n, &escaped);
        } else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) {
            i = scan_number(p, i, n);
        } else if (p[i] == 't') {
            i = scan_literal(p, i, n, "true");
        } else if (p[i] == 'f') {
            i = scan_literal(p, i, n, "false");
        } else if (p[i] == 'n') {
            i = scan_literal(p, i, n, "null");
        } else {
            return 0;
        }
        if (i == 0) {
            return 0;
        }
        /* After a value: close containers, or move to the next element. */
        for (;;) {
            int in_object;
            if (depth == 0) {
                return i;
            }
            in_object = (int)((objects >> (depth - 1)) & 1);
            i = skip_ws(p, i, n);
            if (i < n && p[i] == ',') {
                i = skip_ws(p, i + 1, n);
                if (in_object) {
                    i = scan_key(p, i, n);
                    if (i == 0) {
                        return 0;
                    }
                }
                break;
            }
            if (i < n && p[i] == (in_object ? '}' : ']')) {
                i++;
                depth--;
                continue;
            }
            return 0;
        }
    }
}

size_t relay_rewrite(const char *data, size_t len, const char *from, unsigned long from_device,
                     char *out, struct relay_fields *f)
{
    char device[24];
    size_t device_len = 0;
    size_t i = skip_ws(data, 0, len);
    size_t o = 0;
    size_t from_len = strlen(from);
    int members = 0, have_type = 0, have_to = 0;
    size_t key_at[RELAY_KEYS_MAX], key_len[RELAY_KEYS_MAX], n_keys = 0;

    if (i >= len || data[i] != '{') {
        return 0;
    }
    /* The sender's device in decimal, written backwards and then turned round. */
    do {
        device[device_len++] = (char)('0' + from_device % 10);
        from_device /= 10;
    } while (from_device > 0 && device_len < 10);
    f->has_to_device = 0;
    out[o++] = '{';
    i = skip_ws(data, i + 1, len);
    if (i < len && data[i] == '}') {
        return 0; /* no type */
    }
    for (;;) {
        size_t key = i, key_end, value, value_end;
        int escaped;
        const char *k;
        size_t klen;

        if (i >= len || data[i] != '"') {
            return 0;
        }
        key_end = scan_string(data, i, len, &escaped);
        if (key_end == 0 || escaped) {
            return 0;
        }
        k = data + key + 1;
        klen = key_end - key - 2;
        /* A repeated key (parsers disagree on which one counts) or too many keys: the general
         * path refuses the message. Keys here have no escapes, so bytes compare as text. */
        if (n_keys == RELAY_KEYS_MAX) {
            return 0;
        }
        for (size_t j = 0; j < n_keys; j++) {
            if (key_len[j] == klen && memcmp(data + key_at[j], k, klen) == 0) {
                return 0;
            }
        }
        key_at[n_keys] = key + 1;
        key_len[n_keys++] = klen;
        i = skip_ws(data, key_end, len);
        if (i >= len || data[i] != ':') {
            return 0;
        }
        value = skip_ws(data, i + 1, len);
        value_end = scan_value(data, value, len, RELAY_DEPTH_MAX - 1);
        if (value_end == 0) {
            return 0;
        }
        if ((klen == 4 && memcmp(k, "from", 4) == 0) ||
            (klen == 10 && memcmp(k, "fromDevice", 10) == 0)) {
            /* dropped: the server sets "from" and "fromDevice" */
        } else {
            if (klen == 8 && memcmp(k, "toDevice", 8) == 0) {
                f->has_to_device = 1;
            }
            int is_type = klen == 4 && memcmp(k, "type", 4) == 0;
            int is_to = klen == 2 && memcmp(k, "to", 2) == 0;
            if (is_type || is_to) {
                if ((is_type && have_type) || (is_to && have_to) || data[value] != '"') {
                    return 0;
                }
                (void)scan_string(data, value, len, &escaped);
                if (escaped) {
                    return 0;
                }
            }
            if (members++ > 0) {
                out[o++] = ',';
            }
            if (is_type) {
                have_type = 1;
                f->type_off = o + (value - key) + 1;
                f->type_len = value_end - value - 2;
            } else if (is_to) {
                have_to = 1;
                f->to_off = o + (value - key) + 1;
                f->to_len = value_end - value - 2;
            }
            memcpy(out + o, data + key, value_end - key);
            o += value_end - key;
        }
        i = skip_ws(data, value_end, len);
        if (i < len && data[i] == ',') {
            i = skip_ws(data, i + 1, len);
            continue;
        }
        if (i < len && data[i] == '}') {
            i++;
            break;
        }
        return 0;
    }
    if (skip_ws(data, i, len) != len || !have_type || !have_to) {
        return 0;
    }
    /* Byte loops: the output is JSON text with a length, never a C string. */
    for (const char *p = ",\"from\":\""; *p != '\0'; p++) {
        out[o++] = *p;
    }
    for (size_t k = 0; k < from_len; k++) {
        out[o++] = from[k];
    }
    out[o++] = '"';
    for (const char *p = ",\"fromDevice\":"; *p != '\0'; p++) {
        out[o++] = *p;
    }
    while (device_len > 0) {
        out[o++] = device[--device_len];
    }
    out[o++] = '}';
    return o;
}

size_t ws_frame_header(unsigned char h[WS_HEADER_MAX], int opcode, size_t len)
{
    size_t hlen = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    unsigned char *p = h + WS_HEADER_MAX - hlen;

    p[0] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (hlen == 2) {
        p[1] = (unsigned char)len;
    } else if (hlen == 4) {
        p[1] = 126;
        p[2] = (unsigned char)(len >> 8);
        p[3] = (unsigned char)len;
    } else {
        p[1] = 127;
        for (int k = 0; k < 8; k++) {
            p[2 + k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
        }
    }
    return hlen;
}
