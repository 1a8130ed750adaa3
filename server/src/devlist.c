#include "devlist.h"

#include "b64.h"

#include <math.h>
#include <parley.h>
#include <string.h>

_Static_assert(DEVLIST_LISTED_MAX == PARLEY_MAX_DEVICES && DEVLIST_BYTES_MAX == PARLEY_DEVICES_MAX_BYTES &&
                   DEVLIST_ID_MAX == PARLEY_DEVICE_ID_MAX,
               "the server's device limits are the core's");

int devlist_field(const cJSON *obj, const char *name, uint32_t absent, uint32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    double v;

    if (item == NULL) {
        *out = absent;
        return 0;
    }
    if (!cJSON_IsNumber(item)) {
        return -1;
    }
    v = item->valuedouble;
    if (!(v >= 1.0 && v <= (double)DEVLIST_ID_MAX) || floor(v) != v) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int devlist_query(const char *query, uint32_t *out)
{
    const char *p = query;
    int found = 0;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (len >= 7 && memcmp(p, "device=", 7) == 0) {
            unsigned long long v = 0;
            size_t digits = len - 7;
            if (found || digits == 0 || digits > 10 || p[7] == '0') {
                return -1;
            }
            for (size_t i = 7; i < len; i++) {
                if (p[i] < '0' || p[i] > '9') {
                    return -1;
                }
                v = v * 10 + (unsigned long long)(p[i] - '0');
            }
            if (v > DEVLIST_ID_MAX) {
                return -1;
            }
            *out = (uint32_t)v;
            found = 1;
        } else if (len == 6 && memcmp(p, "device", 6) == 0) {
            return -1; /* "device" without a value */
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return found ? 0 : 1;
}

int devlist_body(const cJSON *body, unsigned char out[DEVLIST_BYTES_MAX], size_t *len)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "list");
    size_t slen;

    *len = 0;
    if (!cJSON_IsString(list)) {
        return -1;
    }
    slen = strlen(list->valuestring);
    if (slen == 0 || slen > B64_LEN(DEVLIST_BYTES_MAX) ||
        b64_decode(list->valuestring, slen, out, DEVLIST_BYTES_MAX, len) != 0 || *len == 0) {
        *len = 0;
        return -1;
    }
    return 0;
}

enum devlist_result devlist_open(const unsigned char identity_key[32], const unsigned char *list,
                                 size_t len, struct devlist *out)
{
    uint32_t generation = 0;
    uint32_t count = 0;
    int rc;

    memset(out, 0, sizeof *out);
    rc = parley_devices_open(identity_key, list, len, &generation, &count);
    if (rc == PARLEY_ERR_BAD_SIGNATURE) {
        return DEVLIST_BAD_SIGNATURE;
    }
    if (rc != PARLEY_OK || count < 1 || count > DEVLIST_LISTED_MAX) {
        return DEVLIST_MALFORMED;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id = 0;
        if (parley_devices_entry(list, len, i, &id, NULL, NULL) != PARLEY_OK || id < 1 ||
            id > DEVLIST_ID_MAX) {
            memset(out, 0, sizeof *out);
            return DEVLIST_MALFORMED;
        }
        out->ids[i] = id;
    }
    out->generation = generation;
    out->n = count;
    return DEVLIST_OK;
}
