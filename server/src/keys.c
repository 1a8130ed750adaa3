#include "keys.h"

#include "accounts.h"
#include "kem.h"
#include "api.h"
#include "b64.h"
#include "devices.h"
#include "devlist.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void (*identity_listener)(const char *username);
static void (*low_listener)(const char *username, uint32_t device);

void keys_set_low_listener(void (*listener)(const char *username, uint32_t device))
{
    low_listener = listener;
}
static struct rl_table *fetch_limits;
static struct rl_table *pair_limits;
static struct rl_table *identity_limits;
static struct rl_table *target_limits;

int keys_init(void)
{
    fetch_limits = rl_create(4096, KEYS_FETCH_BURST, KEYS_FETCH_PER_SECOND);
    identity_limits = rl_create(4096, KEYS_IDENTITY_BURST, KEYS_IDENTITY_PER_SECOND);
    pair_limits = rl_create(16384, KEYS_OTPK_PAIR_BURST, KEYS_OTPK_PAIR_PER_SECOND);
    target_limits = rl_create(4096, KEYS_OTPK_TARGET_BURST, KEYS_OTPK_TARGET_PER_SECOND);
    return fetch_limits != NULL && pair_limits != NULL && target_limits != NULL &&
                   identity_limits != NULL
               ? 0
               : -1;
}

void keys_shutdown(void)
{
    rl_free(fetch_limits);
    rl_free(pair_limits);
    rl_free(identity_limits);
    identity_limits = NULL;
    rl_free(target_limits);
    fetch_limits = NULL;
    pair_limits = NULL;
    target_limits = NULL;
}

void keys_set_identity_listener(void (*listener)(const char *username))
{
    identity_listener = listener;
}

void keys_spk_message(uint32_t id, const unsigned char public_key[32], unsigned char out[49])
{
    static const unsigned char context[13] = {'p', 'a', 'r', 'l', 'e', 'y', '-',
                                              's', 'p', 'k', '-', 'v', '1'};

    memcpy(out, context, sizeof context);
    out[13] = (unsigned char)(id >> 24);
    out[14] = (unsigned char)(id >> 16);
    out[15] = (unsigned char)(id >> 8);
    out[16] = (unsigned char)id;
    memcpy(out + 17, public_key, 32);
}

/* An upload as parsed: what the store is given, and the one-time prekeys it points to. */
struct upload {
    struct store_keys_upload keys;
    struct store_prekey otpk[KEYS_UPLOAD_MAX];
};

/* A key id: an integral JSON number in 0..2^32-1. */
static int get_key_id(const cJSON *obj, uint32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "id");
    double v;

    if (!cJSON_IsNumber(item)) {
        return -1;
    }
    v = item->valuedouble;
    if (!(v >= 0.0 && v <= 4294967295.0) || floor(v) != v) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* 1 when an X25519 public key is of low order (all zero among them): every agreement with it
 * gives the same, public result. libsodium refuses exactly those (the shared value would be all
 * zero), whatever the scalar. */
static int x25519_weak(const unsigned char pub[32])
{
    static const unsigned char scalar[32] = {9};
    unsigned char shared[32];
    int weak = crypto_scalarmult(shared, scalar, pub) != 0;

    sodium_memzero(shared, sizeof shared);
    return weak;
}

static int get_b64(const cJSON *obj, const char *name, unsigned char *out, size_t n)
{
    return b64_decode_exact(api_get_string(obj, name), out, n);
}

/* Parses and checks an upload; 0, or the status of the error already sent. */
static int parse_upload(struct mg_connection *conn, const cJSON *body, struct upload *up)
{
    const cJSON *spk = cJSON_GetObjectItemCaseSensitive(body, "signedPrekey");
    const cJSON *otpks = cJSON_GetObjectItemCaseSensitive(body, "oneTimePrekeys");
    const cJSON *reset = cJSON_GetObjectItemCaseSensitive(body, "resetIdentity");
    const cJSON *item;
    struct store_keys_upload *k = &up->keys;
    unsigned char msg[49];

    if (get_b64(body, "identityKey", k->identity_key, 32) != 0) {
        return http_send_error(conn, 400, "invalid_identity_key",
                               "identityKey must be a 32-byte Ed25519 public key in base64url "
                               "without padding");
    }
    if (!cJSON_IsObject(spk) || get_key_id(spk, &k->signed_prekey.id) != 0 ||
        get_b64(spk, "publicKey", k->signed_prekey.public_key, 32) != 0 ||
        get_b64(spk, "signature", k->signature, 64) != 0) {
        return http_send_error(conn, 400, "invalid_signed_prekey",
                               "signedPrekey must be {id: 0..4294967295, publicKey: 32 bytes, "
                               "signature: 64 bytes}, binary values in base64url without padding");
    }
    if (x25519_weak(k->signed_prekey.public_key)) {
        return http_send_error(conn, 400, "invalid_signed_prekey",
                               "the signed prekey is a low-order (or all-zero) X25519 key");
    }
    keys_spk_message(k->signed_prekey.id, k->signed_prekey.public_key, msg);
    if (crypto_sign_verify_detached(k->signature, msg, sizeof msg, k->identity_key) != 0) {
        return http_send_error(conn, 400, "bad_signature",
                               "the signed prekey's signature does not verify with identityKey");
    }
    if (reset != NULL && !cJSON_IsBool(reset)) {
        return http_send_error(conn, 400, "invalid_field", "resetIdentity must be a boolean");
    }
    k->reset_identity = cJSON_IsTrue(reset);
    k->max_one_time = KEYS_STORED_MAX;
    k->one_time = up->otpk;
    k->n_one_time = 0;
    if (otpks == NULL) {
        return 0;
    }
    if (!cJSON_IsArray(otpks)) {
        return http_send_error(conn, 400, "invalid_one_time_prekeys",
                               "oneTimePrekeys must be an array");
    }
    if (cJSON_GetArraySize(otpks) > KEYS_UPLOAD_MAX) {
        return http_send_error(conn, 400, "too_many_prekeys",
                               "at most 100 one-time prekeys per upload");
    }
    cJSON_ArrayForEach(item, otpks)
    {
        struct store_prekey *pk = &up->otpk[k->n_one_time];
        if (!cJSON_IsObject(item) || get_key_id(item, &pk->id) != 0 ||
            get_b64(item, "publicKey", pk->public_key, 32) != 0) {
            return http_send_error(conn, 400, "invalid_one_time_prekeys",
                                   "each one-time prekey must be {id: 0..4294967295, publicKey: "
                                   "32 bytes in base64url without padding}");
        }
        if (x25519_weak(pk->public_key)) {
            return http_send_error(conn, 400, "invalid_one_time_prekeys",
                                   "a one-time prekey is a low-order (or all-zero) X25519 key");
        }
        for (size_t i = 0; i < k->n_one_time; i++) {
            if (up->otpk[i].id == pk->id) {
                return http_send_error(conn, 400, "duplicate_prekey_id",
                                       "two one-time prekeys in the upload share an id");
            }
        }
        k->n_one_time++;
    }
    return 0;
}

static cJSON *count_object(long long count)
{
    cJSON *obj = cJSON_CreateObject();

    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "count", (double)count);
        cJSON_AddBoolToObject(obj, "low", count < KEYS_LOW_WATER);
    }
    return obj;
}

/* Adds the device's one-time KEM prekeys (docs/PROTOCOL.md 15) to a count object. */
static void add_kem_count(cJSON *obj, long long kem)
{
    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "kemCount", (double)kem);
        cJSON_AddBoolToObject(obj, "kemLow", kem < KEM_LOW_WATER);
    }
}

int keys_put(struct mg_connection *conn)
{
    struct account acc;
    struct upload *up;
    struct store_keys_stored out;
    int result;
    cJSON *body = NULL;
    cJSON *obj;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 ||
        (rc = api_read_json(conn, KEYS_BODY_MAX, &body)) != 0) {
        return rc;
    }
    up = sodium_malloc(sizeof *up);
    if (up == NULL) {
        cJSON_Delete(body);
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    rc = parse_upload(conn, body, up);
    cJSON_Delete(body);
    if (rc != 0) {
        sodium_free(up);
        return rc;
    }
    up->keys.device = acc.device;
    result = store_keys_upload(acc.id, &up->keys, (long long)time(NULL), &out);
    sodium_free(up);
    switch (result) {
    case STORE_OK:
        break;
    case STORE_NOT_LISTED:
        return http_send_error(conn, 403, "device_not_listed",
                               "this device is not in the account's device list: it uploads "
                               "keys once a listed device has listed it (or with resetIdentity "
                               "to start a new identity)");
    case STORE_CONFLICT:
        return http_send_error(conn, 409, "identity_conflict",
                               "a different identity key is registered; send resetIdentity: true "
                               "to replace it");
    case STORE_IN_USE:
        return http_send_error(conn, 409, "identity_in_use",
                               "this identity key belongs to another account");
    case STORE_FULL:
        return http_send_error(conn, 409, "prekey_limit",
                               "at most 200 one-time prekeys may be stored");
    case STORE_DUPLICATE:
        return http_send_error(conn, 409, "duplicate_prekey_id",
                               "a one-time prekey with this id is already stored");
    default:
        log_msg(LOG_ERROR, "keys: database error storing keys of %s", acc.username);
        return http_send_error(conn, 500, "internal", "the keys could not be stored");
    }
    log_msg(LOG_INFO, "keys: %s (device %u) uploaded keys (%lld one-time prekeys stored)%s",
            acc.username, (unsigned)acc.device, out.one_time_count,
            out.identity_replaced ? ", identity replaced" : "");
    if (out.identity_replaced && identity_listener != NULL) {
        identity_listener(acc.username);
    }
    /* A new identity forgets the device list and removes the other devices. */
    devices_after_change(acc.username, acc.device, out.removed, out.n_removed,
                         out.list_forgotten);
    obj = count_object(out.one_time_count);
    if (obj != NULL) {
        cJSON_AddNumberToObject(obj, "identityCounter", (double)out.identity_counter);
        cJSON_AddNumberToObject(obj, "identityChangedAt", (double)out.identity_changed_at);
    }
    return api_send_object(conn, 200, obj);
}

int keys_count(struct mg_connection *conn)
{
    struct account acc;
    cJSON *obj;
    long long kem;
    long long n;
    int rc = accounts_authenticate(conn, &acc);

    if (rc != 0) {
        return rc;
    }
    n = store_keys_count(acc.id, acc.device);
    kem = store_kem_count(acc.id, acc.device);
    if (n < 0 || kem < 0) {
        return http_send_error(conn, 500, "internal", "the keys could not be read");
    }
    obj = count_object(n);
    add_kem_count(obj, kem);
    return api_send_object(conn, 200, obj);
}

static void add_b64(cJSON *obj, const char *name, const unsigned char *bin, size_t n)
{
    char text[B64_LEN(64) + 1];

    if (b64_encode(text, sizeof text, bin, n) == 0) {
        cJSON_AddStringToObject(obj, name, text);
    }
}

void keys_add_list(cJSON *obj, const char *name, const unsigned char *bin, size_t n)
{
    char text[B64_LEN(STORE_DEVICE_LIST_MAX) + 1];

    if (n > 0 && n <= STORE_DEVICE_LIST_MAX && b64_encode(text, sizeof text, bin, n) == 0) {
        cJSON_AddStringToObject(obj, name, text);
    } else {
        cJSON_AddNullToObject(obj, name);
    }
}

static cJSON *refuse(struct keys_refusal *why, int status, const char *code, const char *message)
{
    why->status = status;
    why->code = code;
    why->message = message;
    return NULL;
}

/* {"id","publicKey","signature"} of a device's signed prekey. */
static cJSON *spk_object(const struct store_device_bundle *d)
{
    cJSON *spk = cJSON_CreateObject();

    if (spk != NULL) {
        cJSON_AddNumberToObject(spk, "id", (double)d->spk_id);
        add_b64(spk, "publicKey", d->spk_public, 32);
        add_b64(spk, "signature", d->spk_signature, 64);
    }
    return spk;
}

/* {"id","publicKey"} of the one-time prekey taken, or null. */
static cJSON *otpk_object(const struct store_device_bundle *d)
{
    cJSON *otpk;

    if (!d->has_one_time) {
        return cJSON_CreateNull();
    }
    otpk = cJSON_CreateObject();
    if (otpk != NULL) {
        cJSON_AddNumberToObject(otpk, "id", (double)d->one_time.id);
        add_b64(otpk, "publicKey", d->one_time.public_key, 32);
    }
    return otpk;
}

/* The JSON of a bundle: the identity, the first device's keys at the top (what clients from
 * before devices read), and every device's in "bundles". NULL when out of memory. */
static cJSON *bundle_object(const char *username, const struct store_bundle *b)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();
    int ok = obj != NULL && list != NULL;

    if (ok) {
        cJSON_AddStringToObject(obj, "username", username);
        add_b64(obj, "identityKey", b->identity.key, 32);
        cJSON_AddNumberToObject(obj, "identityCounter", (double)b->identity.counter);
        cJSON_AddNumberToObject(obj, "identityChangedAt", (double)b->identity.changed_at);
        keys_add_list(obj, "devices", b->identity.list, b->identity.list_len);
        ok = cJSON_AddItemToObject(obj, "signedPrekey", spk_object(&b->devices[0])) &&
             cJSON_AddItemToObject(obj, "oneTimePrekey", otpk_object(&b->devices[0]));
    }
    for (size_t i = 0; ok && i < b->n; i++) {
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(list, item) &&
             cJSON_AddNumberToObject(item, "device", (double)b->devices[i].device) != NULL &&
             cJSON_AddItemToObject(item, "signedPrekey", spk_object(&b->devices[i])) &&
             cJSON_AddItemToObject(item, "oneTimePrekey", otpk_object(&b->devices[i]));
        if (ok) {
            kem_add_record(item, b->devices[i].has_kem ? b->devices[i].kem : NULL);
        }
    }
    if (ok && cJSON_AddItemToObject(obj, "bundles", list)) {
        return obj;
    }
    cJSON_Delete(obj);
    cJSON_Delete(list);
    return NULL;
}

cJSON *keys_fetch(const char *requester, const char *username, uint32_t device,
                  struct keys_refusal *why)
{
    char folded[USERNAME_MAX + 1];
    struct store_bundle *b;
    int result;
    cJSON *obj;
    int take_otpk;

    why->retry_after = 0;
    username = account_username_fold(username, folded);
    if (username == NULL) {
        return refuse(why, 400, "invalid_username", "that is not a valid username");
    }
    /* Each bundle consumes one-time prekeys: one account may not drain others' quickly. */
    {
        char key[RL_KEY_MAX];
        int wait;
        snprintf(key, sizeof key, "fetch:%s", requester);
        wait = rl_take(fetch_limits, key, rl_now());
        if (wait > 0) {
            log_msg(LOG_WARN, "keys: throttled bundle fetches of %s for %d s", requester, wait);
            why->retry_after = wait;
            return refuse(why, 429, "rate_limited",
                          "too many bundle requests; retry after retryAfter seconds");
        }
    }
    /* One-time prekeys only within the pair's and the target's allowances; past them the
     * bundle comes without (docs/API.md: what draining costs). One fetch is one unit of each,
     * however many devices it covers. */
    {
        char key[RL_KEY_MAX];
        double now = rl_now();
        snprintf(key, sizeof key, "%s>%s", requester, username);
        /* The target's allowance is spent only by fetches the pair's allows: one account past
         * its 3 cannot use up everyone else's 50. */
        take_otpk = rl_take(pair_limits, key, now) == 0 && rl_take(target_limits, username, now) == 0;
    }
    b = malloc(sizeof *b);
    if (b == NULL) {
        return refuse(why, 500, "internal", "out of memory");
    }
    result = store_bundle_take(username, device, take_otpk, b);
    switch (result) {
    case STORE_OK:
        break;
    case STORE_NO_USER:
        free(b);
        return refuse(why, 404, "unknown_user", "no such user");
    case STORE_NO_KEYS:
        free(b);
        return refuse(why, 404, "no_keys", "this user has not uploaded keys yet");
    case STORE_UNKNOWN_DEVICE:
        free(b);
        return refuse(why, 404, "unknown_device", "this user has no such device in its list");
    default:
        free(b);
        log_msg(LOG_ERROR, "keys: database error fetching a bundle");
        return refuse(why, 500, "internal", "the keys could not be read");
    }
    obj = bundle_object(username, b);
    for (size_t i = 0; obj != NULL && i < b->n; i++) {
        const struct store_device_bundle *d = &b->devices[i];
        if (((d->has_one_time && d->one_time_left < KEYS_LOW_WATER) ||
             (d->kem_one_time && d->kem_left < KEM_LOW_WATER)) &&
            low_listener != NULL) {
            low_listener(username, d->device); /* that device, if connected, tops up now */
        }
    }
    free(b); /* public keys only: nothing to wipe */
    if (obj == NULL) {
        return refuse(why, 500, "internal", "out of memory");
    }
    return obj; /* not logged: a fetch says who is about to talk to whom */
}

int keys_get(struct mg_connection *conn, const char *username)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct account acc;
    struct keys_refusal why;
    uint32_t device = 0;
    cJSON *obj;
    int rc;

    if ((rc = accounts_authenticate(conn, &acc)) != 0) {
        return rc;
    }
    if (devlist_query(ri->query_string, &device) < 0) {
        return http_send_error(conn, 400, "invalid_field",
                               "device must be an integer from 1 to 2147483647");
    }
    obj = keys_fetch(acc.username, username, device, &why);
    if (obj != NULL) {
        return api_send_object(conn, 200, obj);
    }
    if (why.status == 429) {
        return api_send_throttled(conn, why.retry_after);
    }
    if (why.status == 400) {
        return http_send_error(conn, 400, why.code, "the path does not name a valid username");
    }
    return http_send_error(conn, why.status, why.code, why.message);
}

/* Takes n identity lookups from requester's allowance: 0, or the seconds to wait. */
static int identity_allowance(const char *requester, int n)
{
    char key[RL_KEY_MAX];
    double now = rl_now();

    snprintf(key, sizeof key, "identity:%s", requester);
    for (int i = 0; i < n; i++) {
        int wait = rl_take(identity_limits, key, now);
        if (wait > 0) {
            return wait;
        }
    }
    return 0;
}

/* {"username","identityKey","identityCounter","identityChangedAt","devices"}, or NULL when
 * username has no identity (no such user, or no keys yet: told apart nowhere). */
static cJSON *identity_object(const char *username, int *failed)
{
    struct store_identity id;
    cJSON *obj;
    int rc = store_identity_get(username, &id);

    if (rc != STORE_OK) {
        *failed = rc != STORE_NO_USER && rc != STORE_NO_KEYS;
        return NULL;
    }
    obj = cJSON_CreateObject();
    if (obj == NULL) {
        *failed = 1;
        return NULL;
    }
    cJSON_AddStringToObject(obj, "username", username);
    add_b64(obj, "identityKey", id.key, 32);
    cJSON_AddNumberToObject(obj, "identityCounter", (double)id.counter);
    cJSON_AddNumberToObject(obj, "identityChangedAt", (double)id.changed_at);
    keys_add_list(obj, "devices", id.list, id.list_len);
    return obj;
}

int keys_identity(struct mg_connection *conn, const char *username)
{
    char folded[USERNAME_MAX + 1];
    struct account acc;
    cJSON *obj;
    int failed = 0;
    int rc;
    int wait;

    if ((rc = accounts_authenticate(conn, &acc)) != 0) {
        return rc;
    }
    username = account_username_fold(username, folded);
    if (username == NULL) {
        return http_send_error(conn, 400, "invalid_username",
                               "the path does not name a valid username");
    }
    if ((wait = identity_allowance(acc.username, 1)) > 0) {
        return api_send_throttled(conn, wait);
    }
    obj = identity_object(username, &failed);
    if (obj != NULL) {
        return api_send_object(conn, 200, obj);
    }
    if (failed) {
        return http_send_error(conn, 500, "internal", "the keys could not be read");
    }
    /* An unknown user and one without keys look alike: this says nothing of who exists. */
    return http_send_error(conn, 404, "no_identity", "no identity key is known for this name");
}

/* POST /api/identities {"users":[NAME, ...]}: the identities of up to KEYS_IDENTITIES_MAX users
 * in one request (so that no list of contacts shows up as a run of URLs), those without one
 * left out. */
int keys_identities(struct mg_connection *conn)
{
    struct account acc;
    cJSON *body = NULL;
    const cJSON *users;
    const cJSON *item;
    cJSON *out;
    cJSON *list;
    int rc;
    int n;
    int wait;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 ||
        (rc = api_read_json(conn, KEYS_IDENTITIES_BODY_MAX, &body)) != 0) {
        return rc;
    }
    users = cJSON_GetObjectItemCaseSensitive(body, "users");
    n = cJSON_IsArray(users) ? cJSON_GetArraySize(users) : -1;
    if (n < 1 || n > KEYS_IDENTITIES_MAX) {
        cJSON_Delete(body);
        return http_send_error(conn, 400, "invalid_field",
                               "users must be an array of 1 to 64 usernames");
    }
    cJSON_ArrayForEach(item, users)
    {
        char folded[USERNAME_MAX + 1];
        if (!cJSON_IsString(item) || account_username_fold(item->valuestring, folded) == NULL) {
            cJSON_Delete(body);
            return http_send_error(conn, 400, "invalid_username",
                                   "users must hold valid usernames");
        }
        memcpy(item->valuestring, folded, strlen(folded) + 1); /* same length, canonical */
    }
    if ((wait = identity_allowance(acc.username, n)) > 0) {
        cJSON_Delete(body);
        return api_send_throttled(conn, wait);
    }
    out = cJSON_CreateObject();
    list = out != NULL ? cJSON_AddArrayToObject(out, "identities") : NULL;
    if (list == NULL) {
        cJSON_Delete(out);
        cJSON_Delete(body);
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    cJSON_ArrayForEach(item, users)
    {
        int failed = 0;
        cJSON *obj = identity_object(item->valuestring, &failed);
        if (failed) {
            cJSON_Delete(obj);
            cJSON_Delete(out);
            cJSON_Delete(body);
            return http_send_error(conn, 500, "internal", "the keys could not be read");
        }
        if (obj != NULL) {
            cJSON_AddItemToArray(list, obj);
        }
    }
    cJSON_Delete(body);
    return api_send_object(conn, 200, out);
}
