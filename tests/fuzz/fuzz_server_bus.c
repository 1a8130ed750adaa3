/*
 * libFuzzer target: the messages between instances on the bus (server/src/bus_wire.c,
 * docs/PROTOCOL.md 19). Any input is parsed; one that parses must be written back byte for byte
 * by bus_wire_write (one encoding per message), and its fields must keep the rules: names are
 * canonical usernames, device ids 1..2^31-1 ascending, counts within BUS_DEVICES_MAX, texts
 * UTF-8 JSON objects within BUS_TEXT_MAX. A message that parses with a byte appended does not.
 */
#include "fuzz_server.h"
#include "bus_wire.h"
#include "names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void seed_msg(const char *dir, struct bus_msg *m)
{
    static unsigned char buf[BUS_WIRE_MAX];
    size_t len;

    memset(m->from, 0x42, BUS_ID_BYTES);
    len = bus_wire_write(m, buf, sizeof buf);
    CHECK(len > 0);
    seed_write(dir, "bus", buf, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = seed_dir();
    struct bus_msg m;

    (void)argc;
    (void)argv;
    if (dir == NULL) {
        return 0;
    }
    for (int kind = BUS_ALIVE; kind <= BUS_BYE; kind++) {
        memset(&m, 0, sizeof m);
        m.kind = kind;
        seed_msg(dir, &m);
    }
    memset(&m, 0, sizeof m);
    m.kind = BUS_USER;
    strcpy(m.user, "alice");
    m.flags = BUS_USER_SETTINGS | BUS_USER_HAS_CAP | BUS_USER_VISIBLE;
    memset(m.cap_hash, 7, sizeof m.cap_hash);
    m.n_devices = 2;
    m.devices[0] = (struct bus_device){1, 1, 1700000000000ULL};
    m.devices[1] = (struct bus_device){3, 0, 1700000000123ULL};
    seed_msg(dir, &m);
    m.flags = 0;
    m.n_devices = 0;
    seed_msg(dir, &m);
    memset(&m, 0, sizeof m);
    m.kind = BUS_RELAY;
    strcpy(m.sender, "alice");
    m.sender_device = 1;
    strcpy(m.user, "bob.b");
    m.flags = BUS_RELAY_CHECK;
    m.ref = "\"r1\"";
    m.ref_len = 4;
    m.text = "{\"type\":\"chat-message\",\"to\":\"bob.b\",\"body\":\"h\xc3\xa9\",\"from\":\"alice\","
             "\"fromDevice\":1}";
    m.text_len = strlen(m.text);
    seed_msg(dir, &m);
    memset(&m, 0, sizeof m);
    m.kind = BUS_DELIVER;
    strcpy(m.user, "alice");
    m.device = 2;
    m.text = "{\"type\":\"error\",\"code\":\"not_accepted\"}";
    m.text_len = strlen(m.text);
    seed_msg(dir, &m);
    for (int what = BUS_NOTICE_IDENTITY; what <= BUS_NOTICE_MAIL; what++) {
        memset(&m, 0, sizeof m);
        m.kind = BUS_NOTICE;
        m.what = what;
        strcpy(m.user, "carol-1");
        m.n_ids = what == BUS_NOTICE_IDENTITY ? 0 : what == BUS_NOTICE_REMOVED ? 3 : 1;
        for (size_t i = 0; i < m.n_ids; i++) {
            m.ids[i] = (uint32_t)(i + 2);
        }
        seed_msg(dir, &m);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[BUS_WIRE_MAX + 1];
    struct bus_msg m;
    unsigned char *longer;

    if (size > BUS_WIRE_MAX + 16) {
        return 0;
    }
    if (bus_wire_parse(data, size, &m) != 0) {
        return 0;
    }
    /* One encoding: what parses is what writing it gives. */
    CHECK(bus_wire_write(&m, out, sizeof out) == size);
    CHECK(memcmp(out, data, size) == 0);
    CHECK(data[0] == BUS_WIRE_VERSION);
    CHECK(m.kind >= BUS_ALIVE && m.kind <= BUS_NOTICE);
    if (m.kind == BUS_USER || m.kind == BUS_RELAY || m.kind == BUS_DELIVER || m.kind == BUS_NOTICE) {
        CHECK(account_username_valid(m.user));
    }
    CHECK(m.n_devices <= BUS_DEVICES_MAX && m.n_ids <= BUS_DEVICES_MAX);
    for (size_t i = 0; i < m.n_devices; i++) {
        CHECK(m.devices[i].id >= 1 && m.devices[i].id <= BUS_DEVICE_ID_MAX);
        CHECK(i == 0 || m.devices[i].id > m.devices[i - 1].id);
    }
    if (m.kind == BUS_RELAY) {
        CHECK(account_username_valid(m.sender));
        CHECK(m.ref_len <= BUS_REF_MAX);
    }
    if (m.kind == BUS_RELAY || m.kind == BUS_DELIVER) {
        CHECK(m.text_len >= 2 && m.text_len <= BUS_TEXT_MAX);
        CHECK(m.text[0] == '{' && m.text[m.text_len - 1] == '}');
        CHECK(bus_wire_utf8(m.text, m.text_len));
    }
    /* No trailing bytes. */
    longer = malloc(size + 1);
    CHECK(longer != NULL);
    memcpy(longer, data, size);
    longer[size] = 0;
    CHECK(bus_wire_parse(longer, size + 1, &m) != 0);
    free(longer);
    return 0;
}
