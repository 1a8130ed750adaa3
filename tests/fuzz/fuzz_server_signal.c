/*
 * libFuzzer target: signaling messages, the relay's fast path (relay_rewrite, server/src/relay.c)
 * against the general path (server/src/json.c and cJSON), as signaling.c and messages.c take
 * them. The input is the text of one WebSocket message from an authenticated client.
 *
 * When relay_rewrite accepts a message, the general path must accept it too (no NUL, one JSON
 * value, an object with at most RELAY_KEYS_MAX keys and none repeated, string "type" and "to"),
 * and both must relay the same thing: the rewritten text parses with cJSON to the input's members
 * without "from" and "fromDevice", in order, then "from" and "fromDevice" set to the sender's
 * name and device, which cJSON prints exactly as it prints the general path's tree; the fast
 * path notices a top-level "toDevice" (which sends the message to the general path). The offsets of "type" and "to" must frame those strings; the
 * output must fit the room relay.h promises (the buffer is that size exactly, so ASan sees any
 * byte past it), hold no NUL, and be UTF-8 whenever the input was.
 */
#include "fuzz_server.h"
#include "json.h"
#include "names.h"
#include "relay.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Senders: valid usernames of each edge (the shortest, the longest, every character class), and
 * device ids (the smallest, a middling one, the largest). */
static const char *const senders[] = {"alice", "bob", "a.b-c_d0123456789abcdefghijklmnop"};
static const unsigned long devices[] = {1, 7, 40000, 2147483647};

/* messages_repeated_key (messages.c) written again: 1 when the top level of msg is an object with
 * at most RELAY_KEYS_MAX keys, none repeated. */
static int top_keys_ok(const cJSON *msg)
{
    int n = 0;

    if (!cJSON_IsObject(msg)) {
        return 0;
    }
    for (const cJSON *a = msg->child; a != NULL; a = a->next) {
        if (++n > RELAY_KEYS_MAX) {
            return 0;
        }
        for (const cJSON *b = msg->child; b != a; b = b->next) {
            if (strcmp(a->string, b->string) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

/* The string member name of msg, framed by out[off - 1] and out[off + len] quotes. */
static void check_field(const cJSON *msg, const char *name, const char *out, size_t n, size_t off,
                        size_t len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(msg, name);

    CHECK(cJSON_IsString(item));
    CHECK(off >= 1 && off + len < n);
    CHECK(out[off - 1] == '"' && out[off + len] == '"');
    CHECK(strlen(item->valuestring) == len && memcmp(out + off, item->valuestring, len) == 0);
}

/* The general path's relay (messages_relay): "to" folded to its canonical form when it is a
 * username, the client's "from" and "fromDevice" dropped, the sender's appended; the text cJSON
 * prints. */
static char *general_relay(cJSON *msg, const char *from, unsigned long device)
{
    cJSON *to = cJSON_GetObjectItemCaseSensitive(msg, "to");
    char folded[NAMES_NAME_LEN];

    if (cJSON_IsString(to) && account_username_fold(to->valuestring, folded) != NULL) {
        memcpy(to->valuestring, folded, strlen(folded) + 1);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "from");
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "fromDevice");
    CHECK(cJSON_AddStringToObject(msg, "from", from) != NULL);
    CHECK(cJSON_AddNumberToObject(msg, "fromDevice", (double)device) != NULL);
    return cJSON_PrintUnformatted(msg);
}

/* What relay_rewrite wrote (out[0..n)), checked and compared with the general path's result. */
static void check_rewrite(const char *in, size_t in_len, const char *from, unsigned long device,
                          char *out, size_t n, const struct relay_fields *f)
{
    cJSON *msg;
    cJSON *fast;
    const cJSON *last;
    const cJSON *before;
    char *want;
    char *got;
    char to[NAMES_NAME_LEN];

    CHECK(n <= in_len + strlen(from) + RELAY_EXTRA);
    CHECK(memchr(out, '\0', n) == NULL);
    CHECK(!api_utf8_valid(in, in_len) || api_utf8_valid(out, n));
    /* The general path takes it as well. */
    CHECK(!api_json_has_nul(in, in_len));
    msg = api_json_parse(in, in_len);
    CHECK(msg != NULL && top_keys_ok(msg));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "type")));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "to")));
    /* The rewritten text. */
    CHECK(!api_json_has_nul(out, n));
    fast = api_json_parse(out, n);
    CHECK(fast != NULL && top_keys_ok(fast));
    check_field(fast, "type", out, n, f->type_off, f->type_len);
    check_field(fast, "to", out, n, f->to_off, f->to_len);
    check_field(msg, "type", out, n, f->type_off, f->type_len);
    CHECK(f->has_to_device == (cJSON_GetObjectItemCaseSensitive(msg, "toDevice") != NULL));
    before = NULL;
    last = fast->child;
    while (last->next != NULL) {
        before = last;
        last = last->next;
    }
    CHECK(before != NULL && strcmp(before->string, "from") == 0 && cJSON_IsString(before) &&
          strcmp(before->valuestring, from) == 0);
    CHECK(strcmp(last->string, "fromDevice") == 0 && cJSON_IsNumber(last) &&
          last->valuedouble == (double)device);
    /* messages_relay_fast then folds "to" in place (the same length). */
    if (f->to_len < sizeof to) {
        char folded[NAMES_NAME_LEN];
        memcpy(to, out + f->to_off, f->to_len);
        to[f->to_len] = '\0';
        if (account_username_fold(to, folded) != NULL) {
            CHECK(strlen(folded) == f->to_len);
            memcpy(out + f->to_off, folded, f->to_len);
            cJSON_Delete(fast);
            fast = api_json_parse(out, n);
            CHECK(fast != NULL);
        }
    }
    /* Both paths relay the same message. */
    want = general_relay(msg, from, device);
    got = cJSON_PrintUnformatted(fast);
    CHECK(want != NULL && got != NULL && strcmp(want, got) == 0);
    cJSON_free(want);
    cJSON_free(got);
    cJSON_Delete(fast);
    cJSON_Delete(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *from = senders[size % (sizeof senders / sizeof senders[0])];
    unsigned long device = devices[(size / 3) % (sizeof devices / sizeof devices[0])];
    /* Exact sizes: the input as a frame payload (no NUL after it), the output as relay.h says. */
    char *in = malloc(size > 0 ? size : 1);
    char *out = malloc(size + strlen(from) + RELAY_EXTRA);
    struct relay_fields f;
    size_t n;

    CHECK(in != NULL && out != NULL);
    memcpy(in, data, size);
    memset(&f, 0, sizeof f);
    n = relay_rewrite(in, size, from, device, out, &f);
    if (n > 0) {
        check_rewrite(in, size, from, device, out, n, &f);
    }
    free(in);
    free(out);
    return 0;
}

/* ---- Seeds: messages a page sends --------------------------------------------------------- */

/* libFuzzer's signature. */
int LLVMFuzzerInitialize(int *argc, char ***argv) // NOLINT(readability-non-const-parameter)
{
    static const char offer[] =
        "{\"type\":\"offer\",\"to\":\"bob\",\"id\":3,\"sdp\":\"v=0\\r\\n"
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"
        "a=group:BUNDLE 0\\r\\nm=application 9 "
        "UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\na=ice-ufrag:EsAw\\r\\n"
        "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24\\r\\n\"}";
    static const char ice[] =
        "{\"type\":\"ice\",\"to\":\"bob\",\"candidate\":{\"candidate\":\"candidate:842163049 1 udp "
        "1677729535 192.0.2.7 51938 typ srflx raddr 0.0.0.0 rport 0\",\"sdpMid\":\"0\","
        "\"sdpMLineIndex\":0,\"usernameFragment\":\"EsAw\"},\"id\":17}";
    static const char spaced[] =
        " {\"type\" : \"chat-request\" ,\n\"to\":\"carol\", \"v\":[1,-2.5e+3,true,false,null,"
        "\"\\u00e9\\n\\ud83d\\ude00\",{},[]], \"from\":{\"nested\":\"from\"}} \r\n";
    static const char *const messages[] = {
        offer,
        "{\"type\":\"answer\",\"to\":\"Alice\",\"sdp\":\"v=0\\r\\n\",\"from\":\"mallory\"}",
        ice,
        "{\"type\":\"bye\",\"to\":\"bob\"}",
        spaced,
        "{\"type\":\"offer\",\"to\":\"bob\",\"type\":\"ready\"}",
        "{\"type\":\"x\",\"to\":\"b\\u0000ob\"}",
        "{\"type\":\"auth\",\"token\":\"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln\"}",
        "{\"type\":\"subscribe\",\"users\":[{\"user\":\"bob\",\"cap\":\"AAAA\"},\"carol\"]}",
        "{\"type\":\"mail-put\",\"to\":\"bob\",\"env\":\"AQIDBAUGBwgJCgsMDQ4PEA\",\"id\":\"m1\"}",
        "{\"type\":\"ping\",\"id\":1e400}",
        "{\"type\":\"caf\xc3\xa9\",\"to\":\"\xe2\x82\xac\",\"n\":-0.0e-0}",
        "{\"type\":\"answer\",\"to\":\"bob\",\"toDevice\":7,\"fromDevice\":3,\"sdp\":\"v=0\"}",
        "{\"fromDevice\":\"x\",\"type\":\"link-hello\",\"to\":\"alice\",\"toDevice\":2147483647}",
        "{\"type\":\"offer\",\"to\":\"bob\",\"fromDevice\":1,\"fromDevice\":2}",
    };
    const char *dir = seed_dir();

    (void)argc;
    (void)argv;
    if (dir == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        seed_write(dir, "message", messages[i], strlen(messages[i]));
    }
    return 0;
}
