/*
 * The messages between parley-server instances on the bus (docs/PROTOCOL.md 19): a version
 * byte, a kind, the sending instance's id, then the kind's fields (big-endian integers, names
 * with a length byte, texts with a length word). bus_wire_parse reads them strictly: unknown
 * versions and kinds, names that are not canonical usernames, counts and lengths past their
 * limits, devices out of order, flags not defined and trailing bytes are refused. Pure: no I/O.
 */
#ifndef PARLEY_SERVER_BUS_WIRE_H
#define PARLEY_SERVER_BUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define BUS_WIRE_VERSION 0x01
#define BUS_ID_BYTES 8
#define BUS_NAME_MAX 32
#define BUS_HASH_BYTES 32
/* Devices of one user in a USER message, and ids in a NOTICE (client.h CLIENT_USER_MAX). */
#define BUS_DEVICES_MAX 16
/* A relayed text: a signaling frame (WS_FRAME_MAX, 96 KiB) and what relaying adds to it. */
#define BUS_TEXT_MAX 98432
/* A message's "id" echoed as "ref", as JSON text (mailbox.c REF_TEXT_MAX). */
#define BUS_REF_MAX 386
/* The largest message: header, two names, numbers, ref and text. */
#define BUS_WIRE_MAX (BUS_TEXT_MAX + BUS_REF_MAX + 128)
#define BUS_DEVICE_ID_MAX 2147483647u

enum bus_kind {
    BUS_ALIVE = 1,   /* the sender is up (every BUS_ALIVE_EVERY seconds) */
    BUS_SYNC = 2,    /* the sender (re)subscribed: everyone announces its users again */
    BUS_BYE = 3,     /* the sender stops: forget its users */
    BUS_USER = 4,    /* the sender's connected devices of one user, and its presence settings */
    BUS_RELAY = 5,   /* a relayed message for a user connected at the receiver */
    BUS_DELIVER = 6, /* a server message for one device connected at the receiver */
    BUS_NOTICE = 7,  /* an event about a user (bus_notice_what) */
};

enum bus_notice_what {
    BUS_NOTICE_IDENTITY = 1, /* identity-changed: no ids */
    BUS_NOTICE_DEVICES = 2,  /* devices-changed: one id, the uploading device (0: none) */
    BUS_NOTICE_REVOKED = 3,  /* session revoked: one id, the device (0: every device) */
    BUS_NOTICE_REMOVED = 4,  /* devices removed: 1..16 ids, each at least 1 */
    BUS_NOTICE_PREKEYS = 5,  /* prekeys-low: one device id */
    BUS_NOTICE_MAIL = 6,     /* new mail for a device: one device id */
    BUS_NOTICE_DELETED = 7,  /* the account was deleted: no ids */
};

/* USER flags */
#define BUS_USER_SETTINGS 0x01 /* the presence settings follow (else the receiver keeps its own) */
#define BUS_USER_HAS_CAP 0x02  /* with SETTINGS: a capability hash of 32 bytes follows */
#define BUS_USER_VISIBLE 0x04  /* with SETTINGS: "show when I'm online" */
/* RELAY flags */
#define BUS_RELAY_OWN 0x01   /* to the sender's own account: unlisted devices too */
#define BUS_RELAY_CHECK 0x02 /* the receiver checks the recipient accepted the sender */

struct bus_device {
    uint32_t id;     /* 1..BUS_DEVICE_ID_MAX, ascending within a message */
    int listed;      /* in the account's device list */
    uint64_t since;  /* when its connection authenticated, ms since 1970 (newer replaces older) */
};

struct bus_msg {
    int kind;
    unsigned char from[BUS_ID_BYTES];
    char user[BUS_NAME_MAX + 1];   /* USER, RELAY (recipient), DELIVER, NOTICE */
    /* USER */
    unsigned flags;
    unsigned char cap_hash[BUS_HASH_BYTES];
    size_t n_devices;
    struct bus_device devices[BUS_DEVICES_MAX];
    /* RELAY */
    char sender[BUS_NAME_MAX + 1];
    uint32_t sender_device;
    uint32_t device; /* RELAY: 0 for every device; DELIVER: the device */
    const char *ref; /* RELAY: into the parsed buffer, ref_len bytes (0: none) */
    size_t ref_len;
    const char *text; /* RELAY, DELIVER: into the parsed buffer */
    size_t text_len;
    /* NOTICE */
    int what;
    size_t n_ids;
    uint32_t ids[BUS_DEVICES_MAX];
};

/* Parses buf[0..len) into m. 0, or -1 when it is not a valid message. */
int bus_wire_parse(const unsigned char *buf, size_t len, struct bus_msg *m);

/* Writes m into out (room for cap bytes); returns the length, or 0 when m is not valid or does
 * not fit. What it writes parses back to m. */
size_t bus_wire_write(const struct bus_msg *m, unsigned char *out, size_t cap);

/* 1 when s[0..n) is UTF-8 (RFC 3629: shortest forms, no surrogates, at most U+10FFFF). */
int bus_wire_utf8(const char *s, size_t n);

#endif
