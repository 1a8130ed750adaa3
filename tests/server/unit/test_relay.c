/* Unit tests of the relay fast path's scan and rewrite (server/src/relay.c). */
#include "relay.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

/* Rewrites in with from "alice", device 7; returns the text (static buffer) or NULL when refused. */
static const char *rewrite(const char *in, struct relay_fields *f)
{
    static char out[512];
    size_t n = relay_rewrite(in, strlen(in), "alice", 7, out, f);

    if (n == 0) {
        return NULL;
    }
    EXPECT(n <= strlen(in) + strlen("alice") + RELAY_EXTRA);
    out[n] = '\0';
    return out;
}

static int rewrites_to(const char *in, const char *want)
{
    struct relay_fields f;
    const char *got = rewrite(in, &f);

    if (got == NULL || strcmp(got, want) != 0) {
        printf("  %s -> %s (want %s)\n", in, got != NULL ? got : "refused", want);
        return 0;
    }
    return 1;
}

static int refused(const char *in)
{
    struct relay_fields f;

    return rewrite(in, &f) == NULL;
}

void test_relay(void)
{
    struct relay_fields f;
    const char *out;
    char deep[256];
    char many[480];
    unsigned char h[WS_HEADER_MAX];

    EXPECT(rewrites_to("{\"type\":\"offer\",\"to\":\"bob\",\"id\":3,\"sdp\":\"v=0\"}",
                       "{\"type\":\"offer\",\"to\":\"bob\",\"id\":3,\"sdp\":\"v=0\",\"from\":\"alice\",\"fromDevice\":7}"));
    /* A top-level "from" goes, wherever it is; nested ones stay. */
    EXPECT(rewrites_to("{\"from\":\"x\",\"type\":\"a\",\"to\":\"bob\"}",
                       "{\"type\":\"a\",\"to\":\"bob\",\"from\":\"alice\",\"fromDevice\":7}"));
    EXPECT(rewrites_to("{\"type\":\"a\",\"from\":null,\"to\":\"bob\"}",
                       "{\"type\":\"a\",\"to\":\"bob\",\"from\":\"alice\",\"fromDevice\":7}"));
    EXPECT(rewrites_to("{\"type\":\"a\",\"to\":\"b\",\"x\":{\"from\":\"y\"}}",
                       "{\"type\":\"a\",\"to\":\"b\",\"x\":{\"from\":\"y\"},\"from\":\"alice\",\"fromDevice\":7}"));
    EXPECT(rewrites_to(" {\"type\" : \"a\" ,\n\"to\":\"b\", \"v\":[1,-2.5e+3,true,false,null,\"\\u00e9\\n\",{},[]]} \r\n",
                       "{\"type\" : \"a\",\"to\":\"b\",\"v\":[1,-2.5e+3,true,false,null,\"\\u00e9\\n\",{},[]],\"from\":\"alice\",\"fromDevice\":7}"));
    /* A top-level "fromDevice" goes too; "toDevice" stays and is noticed. */
    EXPECT(rewrites_to("{\"fromDevice\":9,\"type\":\"a\",\"to\":\"bob\"}",
                       "{\"type\":\"a\",\"to\":\"bob\",\"from\":\"alice\",\"fromDevice\":7}"));
    out = rewrite("{\"type\":\"a\",\"to\":\"bob\",\"toDevice\":3}", &f);
    EXPECT(out != NULL && f.has_to_device == 1 &&
           strcmp(out, "{\"type\":\"a\",\"to\":\"bob\",\"toDevice\":3,\"from\":\"alice\","
                       "\"fromDevice\":7}") == 0);
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"fromDevice\":1,\"fromDevice\":2}"));
    {
        static const char in[] = "{\"type\":\"a\",\"to\":\"b\"}";
        static char wide[128];
        size_t n = relay_rewrite(in, sizeof in - 1, "alice", 2147483647UL, wide, &f);
        wide[n] = '\0';
        EXPECT(n > 0 && n <= sizeof in - 1 + 5 + RELAY_EXTRA && f.has_to_device == 0 &&
               strcmp(wide, "{\"type\":\"a\",\"to\":\"b\",\"from\":\"alice\","
                            "\"fromDevice\":2147483647}") == 0);
    }
    out = rewrite("{\"type\":\"offer\",\"to\":\"Bob\"}", &f);
    EXPECT(out != NULL && f.type_len == 5 && memcmp(out + f.type_off, "offer", 5) == 0 &&
           f.to_len == 3 && memcmp(out + f.to_off, "Bob", 3) == 0);

    /* Left to the general path. */
    EXPECT(refused(""));
    EXPECT(refused("[]"));
    EXPECT(refused("{}"));
    EXPECT(refused("{\"type\":\"a\"}"));
    EXPECT(refused("{\"to\":\"b\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"type\":\"ready\"}")); /* repeated type */
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"to\":\"c\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"id\":1,\"id\":2}")); /* any repeated key */
    EXPECT(refused("{\"from\":\"x\",\"type\":\"a\",\"to\":\"b\",\"from\":1}"));
    /* RELAY_KEYS_MAX keys pass, one more does not. */
    strcpy(many, "{\"type\":\"a\",\"to\":\"b\"");
    for (int i = 0; i < RELAY_KEYS_MAX - 2; i++) {
        snprintf(many + strlen(many), sizeof many - strlen(many), ",\"%d\":0", i);
    }
    strcat(many, "}");
    EXPECT(!refused(many));
    strcpy(many + strlen(many) - 1, ",\"x\":0}");
    EXPECT(refused(many));
    EXPECT(refused("{\"type\":1,\"to\":\"b\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":[\"b\"]}"));
    EXPECT(refused("{\"type\":\"\\u0061\",\"to\":\"b\"}"));              /* escaped value */
    EXPECT(refused("{\"fr\\u006fm\":\"x\",\"type\":\"a\",\"to\":\"b\"}")); /* escaped key */
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\"} x"));                   /* trailing bytes */
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\" \"x\":1}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":\"\\u0000\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":\"\\ud800\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":\"\\x\"}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":\"a\tb\"}")); /* raw control character */
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":+1}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":01}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":1.}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":.5}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":1e}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":tru}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":[1,]}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":{\"k\"}}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":[}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":\"open}"));
    EXPECT(refused("{\"type\":\"a\",\"to\":\"b\",\"x\":1234567890123456789012345678901234567890123456789012345678901234}"));
    EXPECT(!refused("{\"type\":\"a\",\"to\":\"b\",\"x\":123456789012345678901234567890123456789012345678901234567890123}"));
    /* Nesting: RELAY_DEPTH_MAX levels counting the message itself. */
    memset(deep, 0, sizeof deep);
    strcpy(deep, "{\"type\":\"a\",\"to\":\"b\",\"x\":");
    for (int i = 0; i < RELAY_DEPTH_MAX - 1; i++) {
        strcat(deep, "[");
    }
    for (int i = 0; i < RELAY_DEPTH_MAX - 1; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}");
    EXPECT(!refused(deep));
    memmove(deep + 27, deep + 26, strlen(deep + 26) + 1);
    deep[26] = '[';
    strcpy(deep + strlen(deep) - 1, "]}");
    EXPECT(refused(deep));

    EXPECT(ws_frame_header(h, 1, 125) == 2 && h[8] == 0x81 && h[9] == 125);
    EXPECT(ws_frame_header(h, 1, 126) == 4 && h[6] == 0x81 && h[7] == 126 && h[8] == 0 &&
           h[9] == 126);
    EXPECT(ws_frame_header(h, 8, 65535) == 4 && h[6] == 0x88 && h[8] == 0xff && h[9] == 0xff);
    EXPECT(ws_frame_header(h, 1, 65536) == 10 && h[0] == 0x81 && h[1] == 127 && h[7] == 1 &&
           h[8] == 0 && h[9] == 0);
}
