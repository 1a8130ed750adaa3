/*
 * libFuzzer target: API request bodies, through the checks api_read_json makes (server/src/
 * json.c) and the username rules every name from a request goes through (server/src/names.c).
 * Each is compared with a second implementation written here:
 *   - api_utf8_valid with a validator built from the table of well-formed byte sequences
 *     (Unicode 15, table 3-7);
 *   - api_json_has_nul, on text cJSON accepts, with a scan that knows where strings are;
 *   - api_json_repeated_key (iterative, any depth) with a recursive walk, at the server's
 *     API_JSON_KEYS_MAX and at small limits;
 *   - account_username_valid and _fold with the rules as docs/API.md states them.
 * And properties: what api_json_parse accepts, cJSON prints as text that parses again and prints
 * the same, holds no NUL, and is UTF-8 when the body was (the general relay path re-prints
 * messages, and a browser fails a connection on a text frame that is not UTF-8); a folded name
 * folds to itself; a skeleton is at most NAMES_SKELETON_MAX, uses only its own alphabet and is
 * its own skeleton.
 *
 * Devices (server/src/devlist.c), each compared with a reference written here from docs/API.md
 * and docs/PROTOCOL.md 14.1:
 *   - the body of PUT /api/devices (devlist_body): a list string that decodes, re-encodes to
 *     itself (canonical base64url) and fits 622 bytes;
 *   - device ids in bodies and messages (devlist_field: "device", "toDevice") and in a query
 *     string (devlist_query, the input as GET /api/keys/NAME?QUERY);
 *   - the signed list (devlist_open, the crypto core's parser), on the input's bytes and on the
 *     list of a body: the list part signed here with a fixed identity opens exactly when the
 *     reference parser accepts it, with the same generation and ids; under another identity key
 *     it is refused, as malformed or as a bad signature for the same lists.
 */
#include "fuzz_server.h"
#include "b64.h"
#include "devlist.h"
#include "json.h"
#include "names.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- References ----------------------------------------------------------------------------- */

/* Well-formed UTF-8 by table 3-7: the range of the second byte depends on the first. */
static int ref_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char b = s[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf;

        if (b <= 0x7f) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            more = 1;
        } else if (b == 0xe0) {
            more = 2, lo = 0xa0;
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            more = 2;
        } else if (b == 0xed) {
            more = 2, hi = 0x9f;
        } else if (b == 0xf0) {
            more = 3, lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            more = 3;
        } else if (b == 0xf4) {
            more = 3, hi = 0x8f;
        } else {
            return 0;
        }
        if (i + more >= len) {
            return 0; /* cut short */
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= more; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return 0;
            }
        }
        i += more + 1;
    }
    return 1;
}

/* A NUL that would reach a string: a raw NUL byte anywhere, or \u0000 inside a string. Only
 * meaningful for JSON text (outside strings a backslash is not JSON). */
static int ref_has_nul(const char *s, size_t len)
{
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0') {
            return 1;
        }
        if (!in_string) {
            in_string = s[i] == '"';
        } else if (s[i] == '"') {
            in_string = 0;
        } else if (s[i] == '\\') {
            if (len - i > 5 && memcmp(s + i + 1, "u0000", 5) == 0) {
                return 1;
            }
            i++;
        }
    }
    return 0;
}

/* 1 when an object in the list starting at item (or below it) has more than max keys or one
 * key twice. Recursive on purpose, unlike the walk it checks (cJSON nests at most 1000 deep). */
static int ref_repeated(const cJSON *item, int max) // NOLINT(misc-no-recursion)
{
    for (; item != NULL; item = item->next) {
        if (cJSON_IsObject(item)) {
            int n = 0;
            for (const cJSON *a = item->child; a != NULL; a = a->next) {
                n++;
            }
            if (n > max) {
                return 1;
            }
            for (const cJSON *a = item->child; a != NULL; a = a->next) {
                for (const cJSON *b = item->child; b != a; b = b->next) {
                    if (strcmp(a->string, b->string) == 0) {
                        return 1;
                    }
                }
            }
        }
        if ((cJSON_IsObject(item) || cJSON_IsArray(item)) && ref_repeated(item->child, max)) {
            return 1;
        }
    }
    return 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* docs/API.md: 3 to 32 of a-z, 0-9, '_', '.' and '-', starting with a letter; not "me". */
static int ref_username(const char *s)
{
    size_t len = strlen(s);

    if (len < 3 || len > 32 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!name_char(s[i])) {
            return 0;
        }
    }
    return strcmp(s, "me") != 0;
}

/* A device id in JSON: a number without a fraction, 1..2^31-1. */
static int ref_device(const cJSON *item, uint32_t *out)
{
    double v;

    if (!cJSON_IsNumber(item)) {
        return -1;
    }
    v = item->valuedouble;
    if (v < 1.0 || v > 2147483647.0 || (double)(long long)v != v) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* The "device" parameter of a query: 0 found (plain digits, no leading zero, 1..2^31-1), 1
 * absent, -1 malformed or repeated. */
static int ref_query(const char *q, uint32_t *out)
{
    int found = 0;

    while (*q != '\0') {
        size_t len = strcspn(q, "&");
        if (len >= 6 && strncmp(q, "device", 6) == 0 && (len == 6 || q[6] == '=')) {
            unsigned long long v = 0;
            if (found || len <= 7 || len > 17 || q[7] == '0') {
                return -1;
            }
            for (size_t i = 7; i < len; i++) {
                if (q[i] < '0' || q[i] > '9') {
                    return -1;
                }
                v = v * 10 + (unsigned long long)(q[i] - '0');
            }
            if (v > 2147483647ULL) {
                return -1;
            }
            *out = (uint32_t)v;
            found = 1;
        }
        q += len;
        if (*q == '&') {
            q++;
        }
    }
    return found ? 0 : 1;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* An unsigned list of docs/PROTOCOL.md 14.1 (at most 558 bytes): 1 with its generation and ids. */
static int ref_list(const unsigned char *in, size_t len, uint32_t *gen, uint32_t ids[8], size_t *n)
{
    size_t pos = 6;
    uint32_t prev = 0;

    if (len < 6 || len > 558 || in[0] != 1 || be32(in + 1) == 0 || in[5] == 0 || in[5] > 8) {
        return 0;
    }
    *n = in[5];
    for (size_t i = 0; i < *n; i++) {
        uint32_t id;
        if (len - pos < 5) {
            return 0;
        }
        id = be32(in + pos);
        if (id <= prev || id > 0x7fffffffu || in[pos + 4] > 64 || len - pos - 5 < in[pos + 4]) {
            return 0;
        }
        ids[i] = prev = id;
        pos += 5 + in[pos + 4];
    }
    *gen = be32(in + 1);
    return pos == len;
}

/* The identities lists are signed with here, and a key that signs none of them. */
static unsigned char list_pk[crypto_sign_PUBLICKEYBYTES];
static unsigned char list_sk[crypto_sign_SECRETKEYBYTES];
static unsigned char other_pk[crypto_sign_PUBLICKEYBYTES];

/* ---- Checks --------------------------------------------------------------------------------- */

/* list[0..len) as a signed list as it is, and its list part signed here. */
static void check_list(const unsigned char *list, size_t len)
{
    static const char label[] = "parley-devices-v1";
    unsigned char msg[sizeof label - 1 + 32 + 622];
    unsigned char signed_list[622];
    struct devlist got;
    uint32_t gen = 0;
    uint32_t ids[8];
    size_t n = 0;
    size_t part;
    int good;
    enum devlist_result rc;

    /* As it is: accepted only when the part before the last 64 bytes is a list and those are its
     * signature by list_pk (which random bytes are not). */
    rc = devlist_open(list_pk, list, len, &got);
    good = len >= 70 && len <= 622 && list[0] == 1 && ref_list(list, len - 64, &gen, ids, &n);
    CHECK(rc != DEVLIST_OK || good);
    if (rc != DEVLIST_OK) {
        CHECK(got.n == 0);
    }
    CHECK(rc != DEVLIST_BAD_SIGNATURE || good);
    /* Its first bytes (up to 558) signed here. */
    part = len < 558 ? len : 558;
    if (part == 0) {
        return;
    }
    memcpy(msg, label, sizeof label - 1);
    memcpy(msg + sizeof label - 1, list_pk, 32);
    memcpy(msg + sizeof label - 1 + 32, list, part);
    memcpy(signed_list, list, part);
    crypto_sign_detached(signed_list + part, NULL, msg, sizeof label - 1 + 32 + part, list_sk);
    good = ref_list(list, part, &gen, ids, &n);
    rc = devlist_open(list_pk, signed_list, part + 64, &got);
    CHECK((rc == DEVLIST_OK) == good);
    if (good) {
        CHECK(got.generation == gen && got.n == n && memcmp(got.ids, ids, n * sizeof ids[0]) == 0);
    } else {
        CHECK(rc == DEVLIST_MALFORMED);
    }
    rc = devlist_open(other_pk, signed_list, part + 64, &got);
    CHECK(rc == (good ? DEVLIST_BAD_SIGNATURE : DEVLIST_MALFORMED));
}

/* The device fields of a body, and its list. */
static void check_devices_body(const cJSON *root)
{
    static const char *const fields[] = {"device", "toDevice"};
    unsigned char list[DEVLIST_BYTES_MAX];
    size_t len = 99;
    const cJSON *item;

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        uint32_t got = 0;
        uint32_t want = 0;
        item = cJSON_GetObjectItemCaseSensitive(root, fields[i]);
        if (item == NULL) {
            CHECK(devlist_field(root, fields[i], 5, &got) == 0 && got == 5);
            continue;
        }
        CHECK(devlist_field(root, fields[i], 5, &got) == ref_device(item, &want));
        CHECK(ref_device(item, &want) != 0 || got == want);
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "list");
    if (devlist_body(root, list, &len) == 0) {
        char again[B64_LEN(DEVLIST_BYTES_MAX) + 1];
        CHECK(cJSON_IsString(item) && len >= 1 && len <= DEVLIST_BYTES_MAX);
        CHECK(b64_encode(again, sizeof again, list, len) == 0 &&
              strcmp(again, item->valuestring) == 0);
        check_list(list, len);
    } else {
        CHECK(len == 0);
    }
}

/* The input as the query string of GET /api/keys/NAME?QUERY (a C string: up to a NUL). */
static void check_query(const uint8_t *data, size_t size)
{
    char q[256];
    size_t n = size < sizeof q - 1 ? size : sizeof q - 1;
    uint32_t got = 0;
    uint32_t want = 0;
    int rc;

    memcpy(q, data, n);
    q[n] = '\0';
    rc = devlist_query(q, &got);
    CHECK(rc == ref_query(q, &want));
    CHECK(rc != 0 || got == want);
}

/* The username rules on name (any C string of at most 64 bytes); returns whether it folds to a
 * valid username. */
static int check_fold(const char *name, const char *lower)
{
    char folded[NAMES_NAME_LEN];
    const char *got = account_username_fold(name, folded);
    int valid = ref_username(lower);

    CHECK(account_username_valid(name) == ref_username(name));
    CHECK(got == (valid ? folded : NULL));
    if (valid) {
        char again[NAMES_NAME_LEN];
        CHECK(strcmp(folded, lower) == 0 && account_username_valid(folded));
        CHECK(account_username_fold(folded, again) == again && strcmp(again, folded) == 0);
    }
    return valid;
}

/* The skeleton of name (lower: name with A-Z folded; valid: it folds to a username). */
static void check_skeleton(const char *name, const char *lower, int valid)
{
    char sk[NAMES_SKELETON_MAX + 1];
    char sk2[NAMES_SKELETON_MAX + 1];
    size_t len = strlen(name);
    size_t n = names_skeleton(name, sk);

    CHECK(n == strlen(sk) && n <= (size_t)NAMES_SKELETON_MAX);
    CHECK((n == 0) == (len == 0 || len > NAMES_NAME_MAX || strspn(name, "._-") == len));
    if (n == 0) {
        return;
    }
    /* Case folds first: the skeleton of the lower-case name is the same. */
    CHECK(names_skeleton(lower, sk2) == n && strcmp(sk, sk2) == 0);
    if (valid) {
        /* Only prototypes are left, and a skeleton (short enough to be a name) is its own. */
        CHECK(strspn(sk, "abcefghjklnopqrstuvxyz23456789") == n);
        CHECK(n > NAMES_NAME_MAX || (names_skeleton(sk, sk2) == n && strcmp(sk, sk2) == 0));
    }
}

static void check_username(const char *name)
{
    char lower[65] = {0};
    size_t len = strlen(name);

    CHECK(len < sizeof lower);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        lower[i] = c;
    }
    check_skeleton(name, lower, check_fold(name, lower));
}

/* Strings of a body that hold names: username, user, to, and the first 8 in names or users. */
static void check_body_names(const cJSON *root)
{
    static const char *const fields[] = {"username", "user", "to"};
    static const char *const lists[] = {"names", "users"};

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, fields[i]);
        if (cJSON_IsString(item) && strlen(item->valuestring) <= 64) {
            check_username(item->valuestring);
        }
    }
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, lists[i]);
        const cJSON *item = cJSON_IsArray(list) ? list->child : NULL;
        for (int k = 0; item != NULL && k < 8; item = item->next, k++) {
            if (cJSON_IsString(item) && strlen(item->valuestring) <= 64) {
                check_username(item->valuestring);
            }
        }
    }
}

/* What api_json_parse accepted: printed, parsed again and printed the same. */
static void check_reprint(const cJSON *root, int utf8)
{
    char *text = cJSON_PrintUnformatted(root);
    char *again;
    cJSON *copy;
    size_t len;

    CHECK(text != NULL);
    len = strlen(text);
    CHECK(!api_json_has_nul(text, len));
    CHECK(!utf8 || api_utf8_valid(text, len));
    copy = api_json_parse(text, len);
    CHECK(copy != NULL);
    again = cJSON_PrintUnformatted(copy);
    CHECK(again != NULL && strcmp(text, again) == 0);
    CHECK(api_json_repeated_key(root, API_JSON_KEYS_MAX) ==
          api_json_repeated_key(copy, API_JSON_KEYS_MAX));
    cJSON_free(again);
    cJSON_Delete(copy);
    cJSON_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact size: api_read_json hands over the body without a NUL after it. */
    char *body = malloc(size > 0 ? size : 1);
    char name[65] = {0};
    int utf8;
    int small = 1 + (int)(size % 4);
    cJSON *root;

    CHECK(body != NULL);
    memcpy(body, data, size);
    utf8 = api_utf8_valid(body, size);
    CHECK(utf8 == ref_utf8(data, size));
    root = api_json_parse(body, size);
    if (root != NULL) {
        CHECK(api_json_has_nul(body, size) == ref_has_nul(body, size));
        CHECK(api_json_repeated_key(root, API_JSON_KEYS_MAX) ==
              ref_repeated(root, API_JSON_KEYS_MAX));
        CHECK(api_json_repeated_key(root, small) == ref_repeated(root, small));
        if (root->child != NULL) {
            CHECK(api_json_repeated_key(root->child, small) == ref_repeated(root->child, small));
        }
        check_reprint(root, utf8);
        /* A body api_read_json accepts: its names through the username rules. */
        if (!api_json_has_nul(body, size) && utf8 &&
            !api_json_repeated_key(root, API_JSON_KEYS_MAX) && cJSON_IsObject(root)) {
            check_body_names(root);
            check_devices_body(root);
        }
        cJSON_Delete(root);
    }
    /* The body itself as a name (a path segment: GET /api/keys/{username}). */
    memcpy(name, data, size < 64 ? size : 64);
    name[size < 64 ? size : 64] = '\0';
    check_username(name);
    /* The body's bytes as a query string, and as a device list. */
    check_query(data, size);
    check_list(data, size < DEVLIST_BYTES_MAX ? size : DEVLIST_BYTES_MAX);
    free(body);
    return 0;
}

/* ---- Seeds: bodies the page sends ------------------------------------------------------------ */

/* libFuzzer's signature. */
int LLVMFuzzerInitialize(int *argc, char ***argv) // NOLINT(readability-non-const-parameter)
{
    static const char signup[] =
        "{\"username\":\"Alice\",\"password\":"
        "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}";
    static const char keys[] =
        "{\"identityKey\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
        "\"signedPrekey\":{\"id\":1,\"publicKey\":\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\","
        "\"signature\":"
        "\"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f7"
        "60984dc6594a7c15e9716ed28dc027beceea1ec40a\"},\"oneTimePrekeys\":[{\"id\":7,\"publicKey\":"
        "\"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08\"},{\"id\":8,\"publicKey\":"
        "\"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08\"}],\"resetIdentity\":false}";
    static const char *const bodies[] = {
        signup,
        "{\"username\":\"bob.smith\",\"password\":\"correct horse battery staple\"}",
        "{\"oldPassword\":\"correct horse battery\",\"newPassword\":\"Tr0ub4dor&3 \\u00e9\"}",
        keys,
        "{\"names\":[\"alice\",\"Bob\",\"carol\",\"d4ve\",\"rn.e\",\"ADMIN\"]}",
        "{\"users\":[{\"user\":\"bob\",\"cap\":\"AAAA\"},\"carol\"]}",
        "{\"a\":{\"b\":[{\"c\":1,\"c\":2}]}}",
        "[[[[[[[[[[[[{\"k\":[1,2.5e-3,-0,true,false,null,\"\\ud83d\\ude00\"]}]]]]]]]]]]]]",
        "{\"username\":\"ali\\u0000ce\",\"password\":\"12345678\"}",
        "{\"username\":\"caf\xc3\xa9\",\"x\":\"\xed\xa0\x80\"} trailing",
        "\xef\xbb\xbf{\"username\":\"alice\"}",
        "mallory_the-1.st",
    };
    const char *dir = seed_dir();
    static const unsigned char seed[32] = {'p', 'a', 'r', 'l', 'e', 'y', '-', 'f', 'u', 'z', 'z'};
    unsigned char other_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char other_seed[32];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    crypto_sign_seed_keypair(list_pk, list_sk, seed);
    memcpy(other_seed, seed, sizeof seed);
    other_seed[31] = 1;
    crypto_sign_seed_keypair(other_pk, other_sk, other_seed);
    if (dir == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        seed_write(dir, "body", bodies[i], strlen(bodies[i]));
    }
    /* Device lists: bare (generation 3, devices 1 "phone" and 7 ""), in a body, signed by the
     * fixed identity; device ids and queries. */
    {
        static const unsigned char list[] = {1, 0, 0, 0, 3, 2, 0, 0, 0, 1, 5, 'p', 'h', 'o', 'n',
                                             'e', 0, 0, 0, 7, 0};
        unsigned char msg[17 + 32 + sizeof list];
        unsigned char signed_list[sizeof list + 64];
        char b64[B64_LEN(sizeof signed_list) + 1];
        char text[256];
        static const char *const more[] = {
            "{\"username\":\"alice\",\"password\":\"12345678\",\"device\":7}",
            "{\"type\":\"mail-put\",\"to\":\"bob\",\"device\":2147483647,\"toDevice\":1.5}",
            "device=7&x=1",
            "x=&device=01&device=2",
        };
        memcpy(msg, "parley-devices-v1", 17);
        memcpy(msg + 17, list_pk, 32);
        memcpy(msg + 49, list, sizeof list);
        memcpy(signed_list, list, sizeof list);
        crypto_sign_detached(signed_list + sizeof list, NULL, msg, sizeof msg, list_sk);
        seed_write(dir, "list", list, sizeof list);
        seed_write(dir, "list", signed_list, sizeof signed_list);
        if (b64_encode(b64, sizeof b64, signed_list, sizeof signed_list) == 0) {
            snprintf(text, sizeof text, "{\"list\":\"%s\"}", b64);
            seed_write(dir, "body", text, strlen(text));
        }
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
            seed_write(dir, "body", more[i], strlen(more[i]));
        }
    }
    sodium_memzero(other_sk, sizeof other_sk);
    return 0;
}
