/*
 * Unit tests of the store's devices (store.h on SQLite, a database in a temporary folder):
 * registration and its limits, forgetting pending devices, token checks, device lists and
 * removal, keys per device and identity resets, bundles per device, and mail per device. The
 * time is passed in, so a day goes by in a line.
 */
#include "db.h"
#include "store.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1800000000LL

static long long user_id_of(const char *name)
{
    long long id = 0;

    EXPECT(store_user_get(name, &id, NULL, NULL, 0) == 1);
    return id;
}

/* An upload of device for identity key byte k, signed prekey spk, one-time prekeys from..+n. */
static int upload(long long uid, uint32_t device, unsigned char k, uint32_t spk, uint32_t from,
                  size_t n, int reset, long long now, struct store_keys_stored *out)
{
    struct store_prekey otpk[8];
    struct store_keys_upload up;

    memset(&up, 0, sizeof up);
    memset(otpk, 0, sizeof otpk);
    up.device = device;
    memset(up.identity_key, k, sizeof up.identity_key);
    up.signed_prekey.id = spk;
    up.signed_prekey.public_key[0] = (unsigned char)spk;
    for (size_t i = 0; i < n && i < 8; i++) {
        otpk[i].id = from + (uint32_t)i;
        otpk[i].public_key[0] = (unsigned char)(from + i);
    }
    up.one_time = otpk;
    up.n_one_time = n;
    up.reset_identity = reset;
    up.max_one_time = 200;
    return store_keys_upload(uid, &up, now, out);
}

/* A "list" for store_devices_put: the store keeps the bytes, it does not read them. */
static int put_list(long long uid, unsigned char k, long long gen, const uint32_t *ids, size_t n,
                    uint32_t uploader, long long now, uint32_t *removed, size_t *n_removed)
{
    unsigned char bytes[70] = {1};
    struct store_devices_put in;

    memset(&in, 0, sizeof in);
    memset(in.identity_key, k, sizeof in.identity_key);
    bytes[1] = (unsigned char)gen;
    in.list = bytes;
    in.len = sizeof bytes;
    in.generation = gen;
    in.ids = ids;
    in.n = n;
    in.uploader = uploader;
    return store_devices_put(uid, &in, now, removed, n_removed);
}

static int collect(void *arg, long long id, const unsigned char *envelope, size_t len)
{
    long long *last = arg;

    (void)envelope;
    (void)len;
    *last = id;
    return 0;
}

static void test_registration(void)
{
    struct store_device_auth a;
    struct store_devices devs;
    long long gen = -1;
    long long uid;

    EXPECT(store_user_create("dana", "dana", "hash", 1, T0, &gen) == STORE_OK && gen == T0);
    EXPECT(store_user_create("eve", "eve", "hash", 7, T0, &gen) == STORE_OK);
    uid = user_id_of("dana");
    /* Device 1 of an account without a list is listed from the start; others pend. */
    EXPECT(store_device_auth("dana", 1, T0, &a) == 1 && a.state == STORE_OK && a.listed &&
           a.device_gen == T0 && a.user_id == uid);
    EXPECT(store_device_auth("eve", 7, T0, &a) == 1 && a.state == STORE_OK && !a.listed);
    EXPECT(store_device_auth("eve", 1, T0, &a) == 1 && a.state == STORE_UNKNOWN_DEVICE);
    EXPECT(store_device_auth("nobody", 1, T0, &a) == 0);
    /* Up to 16 that are not removed; a known one logs in whatever the count. */
    for (uint32_t d = 2; d <= 16; d++) {
        EXPECT(store_device_login(uid, d, T0 + d, &gen) == STORE_OK && gen == T0 + d);
    }
    EXPECT(store_device_login(uid, 17, T0 + 20, &gen) == STORE_FULL);
    EXPECT(store_device_login(uid, 16, T0 + 20, &gen) == STORE_OK && gen == T0 + 16);
    /* A logout moves one device's generation only. */
    EXPECT(store_device_revoke(uid, 16, &gen) == 0 && gen == T0 + 17);
    EXPECT(store_device_auth("dana", 15, T0, &a) == 1 && a.device_gen == T0 + 15);
    /* A day later the pending ones are forgotten (by a log-in, or the sweep); device 1 stays. */
    EXPECT(store_device_auth("dana", 2, T0 + 2 + 86400, &a) == 1 &&
           a.state == STORE_UNKNOWN_DEVICE);
    EXPECT(store_devices_get(uid, T0 + 2 + 86400, &devs) == STORE_OK && devs.n == 15);
    EXPECT(store_device_login(uid, 17, T0 + 3 + 86400, &gen) == STORE_OK);
    EXPECT(store_devices_get(uid, T0 + 3 + 86400, &devs) == STORE_OK && devs.n == 15 &&
           devs.d[0].id == 1 && devs.d[0].listed && devs.d[1].id == 4 && devs.d[14].id == 17);
    /* A day after 17's registration the sweep forgets 4..17, and eve's 7. */
    EXPECT(store_devices_sweep(T0 + 3 + 2 * 86400) == 15);
    EXPECT(store_devices_get(uid, T0, &devs) == STORE_OK && devs.n == 1 && devs.list_len == 0 &&
           devs.generation == 0);
    /* Last seen: rounded down to the hour. */
    EXPECT(store_device_seen(uid, 1, T0 + 7199) == 0);
    EXPECT(store_devices_get(uid, T0, &devs) == STORE_OK && devs.d[0].last_seen == T0 + 7199 -
                                                               (T0 + 7199) % 3600);
}

static void test_lists_and_keys(void)
{
    struct store_keys_stored out;
    struct store_bundle *b = malloc(sizeof *b);
    struct store_device_auth a;
    struct store_identity idn;
    uint32_t removed[STORE_DEVICES_KNOWN_MAX];
    uint32_t ids[STORE_DEVICES_KNOWN_MAX];
    size_t n_removed = 0;
    size_t n = 0;
    long long gen = 0;
    long long uid;
    const uint32_t one_two[] = {1, 2};
    const uint32_t one_three[] = {1, 3};
    const uint32_t two[] = {2};

    EXPECT(b != NULL);
    if (b == NULL) {
        return;
    }
    EXPECT(store_user_create("fay", "fay", "hash", 1, T0, &gen) == STORE_OK);
    uid = user_id_of("fay");
    EXPECT(store_device_login(uid, 2, T0, &gen) == STORE_OK);
    EXPECT(store_device_login(uid, 3, T0, &gen) == STORE_OK);
    EXPECT(put_list(uid, 9, 1, one_two, 2, 1, T0, removed, &n_removed) == STORE_NO_KEYS);
    EXPECT(upload(uid, 1, 9, 11, 100, 3, 0, T0, &out) == STORE_OK && out.one_time_count == 3);
    /* Before any list, a pending device may upload (its keys are not served yet). */
    EXPECT(upload(uid, 2, 9, 22, 100, 2, 0, T0, &out) == STORE_OK && out.one_time_count == 2);
    EXPECT(store_keys_count(uid, 1) == 3 && store_keys_count(uid, 2) == 2);
    EXPECT(store_bundle_take("fay", 0, 0, b) == STORE_OK && b->n == 1 &&
           b->devices[0].device == 1 && b->devices[0].spk_id == 11);
    /* The checks of a list, in order. */
    EXPECT(put_list(uid, 8, 1, one_two, 2, 1, T0, removed, &n_removed) == STORE_CONFLICT);
    EXPECT(put_list(uid, 9, 1, (const uint32_t[]){1, 5}, 2, 1, T0, removed, &n_removed) ==
           STORE_UNKNOWN_DEVICE);
    EXPECT(put_list(uid, 9, 1, two, 1, 1, T0, removed, &n_removed) == STORE_NOT_LISTED);
    EXPECT(put_list(uid, 9, 1, one_two, 2, 1, T0, removed, &n_removed) == STORE_OK &&
           n_removed == 0);
    EXPECT(put_list(uid, 9, 1, one_two, 2, 1, T0, removed, &n_removed) == STORE_STALE);
    EXPECT(store_devices_listed("fay", ids, &n) == 0 && n == 2 && ids[0] == 1 && ids[1] == 2);
    EXPECT(store_identity_get("fay", &idn) == STORE_OK && idn.list_len == 70 && idn.list[1] == 1);
    /* Bundles: each listed device with keys, one one-time prekey each. */
    EXPECT(store_bundle_take("fay", 0, 1, b) == STORE_OK && b->n == 2 &&
           b->devices[0].one_time.id == 100 && b->devices[1].one_time.id == 100 &&
           b->devices[0].one_time_left == 2 && b->devices[1].one_time_left == 1);
    EXPECT(store_bundle_take("fay", 2, 1, b) == STORE_OK && b->n == 1 &&
           b->devices[0].device == 2 && b->devices[0].one_time.id == 101);
    EXPECT(store_bundle_take("fay", 3, 1, b) == STORE_UNKNOWN_DEVICE);
    EXPECT(store_bundle_take("fay", 2, 1, b) == STORE_OK && !b->devices[0].has_one_time);
    /* Device 3 is pending while the account has a list: no keys, unless for a new identity. */
    EXPECT(upload(uid, 3, 9, 33, 1, 1, 0, T0, &out) == STORE_NOT_LISTED);
    EXPECT(upload(uid, 3, 9, 33, 1, 1, 1, T0, &out) == STORE_NOT_LISTED);
    /* A list leaving 2 out removes it: tokens refused, keys gone, never listed again. */
    EXPECT(put_list(uid, 9, 2, one_three, 2, 3, T0, removed, &n_removed) == STORE_OK &&
           n_removed == 1 && removed[0] == 2);
    EXPECT(store_device_auth("fay", 2, T0, &a) == 1 && a.state == STORE_REMOVED);
    EXPECT(store_device_login(uid, 2, T0, &gen) == STORE_REMOVED);
    EXPECT(store_keys_count(uid, 2) == 0);
    EXPECT(put_list(uid, 9, 3, one_two, 2, 1, T0, removed, &n_removed) ==
           STORE_UNKNOWN_DEVICE);
    /* A new identity from device 3: the list is forgotten, 1 removed, 3 pending from now. */
    EXPECT(upload(uid, 3, 7, 34, 300, 2, 1, T0 + 50, &out) == STORE_OK &&
           out.identity_replaced && out.list_forgotten && out.n_removed == 1 &&
           out.removed[0] == 1 && out.identity_counter == 2 && out.one_time_count == 2);
    EXPECT(store_keys_count(uid, 1) == 0);
    EXPECT(store_device_auth("fay", 1, T0 + 50, &a) == 1 && a.state == STORE_REMOVED);
    EXPECT(store_device_auth("fay", 3, T0 + 50 + 86399, &a) == 1 && a.state == STORE_OK &&
           !a.listed);
    EXPECT(store_bundle_take("fay", 0, 0, b) == STORE_NO_KEYS);
    EXPECT(store_identity_get("fay", &idn) == STORE_OK && idn.list_len == 0);
    EXPECT(put_list(uid, 7, 1, (const uint32_t[]){3}, 1, 3, T0 + 60, removed, &n_removed) ==
           STORE_OK);
    EXPECT(store_bundle_take("fay", 0, 0, b) == STORE_OK && b->n == 1 &&
           b->devices[0].device == 3 && b->devices[0].spk_id == 34);
    free(b);
}

static void test_mail(void)
{
    struct store_quota quota = {2, 1 << 20};
    unsigned char env[512] = {1};
    struct store_put puts[4];
    struct store_ack ack;
    long long count = 0;
    long long bytes = 0;
    long long last = 0;
    long long gen = 0;
    size_t deleted = 0;
    long long uid;

    EXPECT(store_user_create("gus", "gus", "hash", 1, T0, &gen) == STORE_OK);
    uid = user_id_of("gus");
    memset(puts, 0, sizeof puts);
    for (int i = 0; i < 4; i++) {
        puts[i].recipient_id = uid;
        puts[i].recipient_device = i < 3 ? 1 : 2;
        puts[i].envelope = env;
        puts[i].len = sizeof env;
        puts[i].expires_at = T0 + 1000;
    }
    /* The quota counts per device. */
    EXPECT(store_mail_put_batch(puts, 4, &quota) == STORE_OK && puts[0].result == STORE_OK &&
           puts[1].result == STORE_OK && puts[2].result == STORE_FULL &&
           puts[3].result == STORE_OK);
    EXPECT(store_mail_usage(uid, 1, &count, &bytes) == 0 && count == 2 && bytes == 1024);
    EXPECT(store_mail_usage(uid, 2, &count, &bytes) == 0 && count == 1);
    EXPECT(store_mail_fetch(uid, 2, 0, T0, 10, 1 << 20, collect, &last) == 1 &&
           last == puts[3].id);
    EXPECT(store_mail_fetch(uid, 1, 0, T0, 10, 1 << 20, collect, &last) == 2 &&
           last == puts[1].id);
    /* A device acknowledges its own mail only. */
    ack.recipient_id = uid;
    ack.recipient_device = 1;
    ack.id = puts[3].id;
    EXPECT(store_mail_ack_batch(&ack, 1, &deleted) == STORE_OK && deleted == 0);
    ack.recipient_device = 2;
    EXPECT(store_mail_ack_batch(&ack, 1, &deleted) == STORE_OK && deleted == 1);
    EXPECT(store_mail_usage(uid, 2, &count, &bytes) == 0 && count == 0 && bytes == 0);
    /* The sweep recounts per device. */
    EXPECT(store_mail_sweep(T0 + 1000) == 2);
    EXPECT(store_mail_usage(uid, 1, &count, &bytes) == 0 && count == 0 && bytes == 0);
}

/* Deleting an account: its devices and mail go, its row stays as a tombstone holding the name. */
static void test_delete(void)
{
    struct store_quota quota = {4, 1 << 20};
    unsigned char env[512] = {1};
    struct store_put put;
    struct store_device_auth auth;
    char hash[32];
    long long gen = 0;
    long long token_gen = -1;
    long long count = 0;
    long long bytes = 0;
    long long uid;

    EXPECT(store_user_create("hal", "hal", "hash", 1, T0, &gen) == STORE_OK);
    uid = user_id_of("hal");
    memset(&put, 0, sizeof put);
    put.recipient_id = uid;
    put.recipient_device = 1;
    put.envelope = env;
    put.len = sizeof env;
    put.expires_at = T0 + 1000;
    EXPECT(store_mail_put_batch(&put, 1, &quota) == STORE_OK && put.result == STORE_OK);
    EXPECT(store_user_delete(uid, T0 + 5) == STORE_OK);
    EXPECT(store_user_get("hal", NULL, &token_gen, hash, sizeof hash) == 1 && token_gen == 1 &&
           hash[0] == '\0');
    EXPECT(store_mail_usage(uid, 1, &count, &bytes) == 0 && count == 0 && bytes == 0);
    EXPECT(store_device_auth("hal", 1, T0 + 6, &auth) == 1 && auth.state == STORE_UNKNOWN_DEVICE);
    EXPECT(store_user_delete(uid, T0 + 7) == STORE_NO_USER);
    EXPECT(store_user_create("hal", "hal", "hash", 1, T0, &gen) == STORE_TAKEN);
    EXPECT(store_user_lookalike("hal") == 1);
}

void test_store(void)
{
    char dir[] = "/tmp/parley-unit-XXXXXX";
    char path[64];
    char err[256];

    if (mkdtemp(dir) == NULL) {
        EXPECT(0);
        return;
    }
    snprintf(path, sizeof path, "%s/parley.db", dir);
    EXPECT(db_open(path, err, sizeof err) == 0);
    test_registration();
    test_lists_and_keys();
    test_mail();
    test_delete();
    db_close();
    for (size_t i = 0; i < 3; i++) {
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        char file[80];
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        (void)unlink(file);
    }
    (void)rmdir(dir);
}
