/* Unit tests of the instance bus: its messages (server/src/bus_wire.c) against the vectors of
 * docs/PROTOCOL.md 19 (docs/vectors/bus-v1.json), and the --bus URL rules (server/src/bus_redis.c). */
#include "bus.h"
#include "bus_wire.h"
#include "unit.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* The bytes of a vector's hex; NULL when it is not hex. */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *out = malloc(n + 1);

    if (out == NULL || sodium_hex2bin(out, n + 1, hex, strlen(hex), NULL, len, NULL) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_vectors(void)
{
    char *text = read_all("docs/vectors/bus-v1.json");
    cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
    const cJSON *v;
    static unsigned char out[BUS_WIRE_MAX];

    EXPECT(doc != NULL);
    if (doc == NULL) {
        free(text);
        return;
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "valid"))
    {
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(v, "fields");
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(fields, "user");
        size_t len = 0;
        unsigned char *bytes = unhex(cJSON_GetObjectItemCaseSensitive(v, "hex")->valuestring, &len);
        struct bus_msg m;
        int ok = bytes != NULL && bus_wire_parse(bytes, len, &m) == 0;
        EXPECT(ok);
        if (!ok) {
            printf("  valid vector refused: %s\n", cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring);
        } else {
            EXPECT(bus_wire_write(&m, out, sizeof out) == len && memcmp(out, bytes, len) == 0);
            EXPECT(!cJSON_IsString(user) || strcmp(user->valuestring, m.user) == 0);
        }
        free(bytes);
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "invalid"))
    {
        size_t len = 0;
        unsigned char *bytes = unhex(cJSON_GetObjectItemCaseSensitive(v, "hex")->valuestring, &len);
        struct bus_msg m;
        int refused = bytes != NULL && bus_wire_parse(bytes, len, &m) != 0;
        EXPECT(refused);
        if (!refused) {
            printf("  invalid vector taken: %s\n", cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring);
        }
        free(bytes);
    }
    cJSON_Delete(doc);
    free(text);
}

static void test_urls(void)
{
    static const char *const good[] = {"redis://127.0.0.1:6379", "redis://redis.internal:1/15",
                                       "redis://[::1]:6379/0", "redis://h:65535/9"};
    static const char *const bad[] = {"", "redis://", "redis://127.0.0.1", "redis://127.0.0.1:0",
                                      "redis://h:65536", "redis://h:6379/16", "redis://h:6379/01",
                                      "redis://h:6379/", "redis://h:06379", "rediss://h:6379",
                                      "redis://u:p@h:6379", "redis://[::1:6379", "redis://h_1:1",
                                      "redis://h:1/1x", "redis://h:1?db=1", "http://h:1"};

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        EXPECT(bus_url_valid(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bus_url_valid(bad[i])) {
            printf("  --bus %s taken\n", bad[i]);
        }
        EXPECT(!bus_url_valid(bad[i]));
    }
}

void test_bus(void)
{
    test_vectors();
    test_urls();
}
