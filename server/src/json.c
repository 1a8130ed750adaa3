#include "json.h"

#include <stdint.h>
#include <string.h>

int api_json_has_nul(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0') {
            return 1;
        }
        if (buf[i] == '\\' && i + 1 < len) {
            if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0) {
                return 1;
            }
            i++; /* skip the escaped character, so "\\u0000" is two characters, not NUL */
        }
    }
    return 0;
}

int api_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return 0; /* a continuation byte first, 0xc0/0xc1 (overlong) or over 0xf4 */
        }
        if (len - i <= n) {
            return 0; /* cut short */
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0; /* overlong, beyond U+10FFFF, or a UTF-16 surrogate */
        }
        i += n + 1;
    }
    return 1;
}

cJSON *api_json_parse(const char *buf, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);

    if (root == NULL) {
        return NULL;
    }
    /* cJSON stops after the first value: whatever follows it, other than whitespace, is refused
     * ({...}garbage, {...}{...}), as RFC 8259 has one value per text. */
    while (end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
        end++;
    }
    if (end != buf + len) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int json_object_repeats(const cJSON *obj, int max_keys)
{
    int n = 0;

    /* Counted first, so the pairwise check below runs over at most max_keys keys. */
    for (const cJSON *a = obj->child; a != NULL; a = a->next) {
        if (++n > max_keys) {
            return 1;
        }
    }
    for (const cJSON *a = obj->child; a != NULL; a = a->next) {
        for (const cJSON *b = a->next; b != NULL; b = b->next) {
            if (a->string != NULL && b->string != NULL && strcmp(a->string, b->string) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

int api_json_repeated_key(const cJSON *item, int max_keys)
{
    /* Depth first without recursion: the path from item down to the current value (cJSON
     * parses at most CJSON_NESTING_LIMIT levels). */
    const cJSON *path[CJSON_NESTING_LIMIT + 1];
    int depth = 0;
    const cJSON *cur = item;

    while (cur != NULL) {
        if (cJSON_IsObject(cur) && json_object_repeats(cur, max_keys)) {
            return 1;
        }
        if ((cJSON_IsObject(cur) || cJSON_IsArray(cur)) && cur->child != NULL) {
            if (depth == CJSON_NESTING_LIMIT + 1) {
                return 1;
            }
            path[depth++] = cur;
            cur = cur->child;
            continue;
        }
        while (cur->next == NULL && depth > 0) {
            cur = path[--depth];
        }
        cur = cur->next;
    }
    return 0;
}
