/*
 * The key directory: PUT /api/keys (identity key, signed prekey, one-time prekeys),
 * GET /api/keys/{username} (a prekey bundle; consumes one one-time prekey atomically) and
 * GET /api/keys/me/count. Every endpoint needs a bearer token. Formats are in docs/API.md.
 */
#ifndef PARLEY_SERVER_KEYS_H
#define PARLEY_SERVER_KEYS_H

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_BODY_MAX 32768
/* One-time prekeys uploaded at once, stored per device, and the count below which a device is
 * told to upload more. */
#define KEYS_UPLOAD_MAX 100
#define KEYS_STORED_MAX 200
#define KEYS_LOW_WATER 20
#define KEYS_SPK_CONTEXT "parley-spk-v1"
/* Bundle fetches per requesting account. */
#define KEYS_FETCH_BURST 100.0
#define KEYS_FETCH_PER_SECOND 1.0
/* Identity lookups per requesting account (one per name, single or in a batch). */
#define KEYS_IDENTITY_BURST 128.0
#define KEYS_IDENTITY_PER_SECOND 1.0
/* POST /api/identities: names per request, and its body. */
#define KEYS_IDENTITIES_MAX 64
#define KEYS_IDENTITIES_BODY_MAX 4096
/* One-time prekeys handed out: per requester and target, and per target from everyone together.
 * A fetch past either allowance gets the bundle without a one-time prekey (never a refusal), so
 * draining someone's 200 one-time prekeys takes hours whatever the number of accounts. */
#define KEYS_OTPK_PAIR_BURST 3.0
#define KEYS_OTPK_PAIR_PER_SECOND (1.0 / 600.0)
#define KEYS_OTPK_TARGET_BURST 50.0
#define KEYS_OTPK_TARGET_PER_SECOND (1.0 / 60.0)

/* Prepares the fetch throttle. 0 or -1. */
int keys_init(void);
void keys_shutdown(void);

/* Writes the signed-prekey message: "parley-spk-v1" || id (4 bytes, big-endian) || public. */
void keys_spk_message(uint32_t id, const unsigned char public_key[32], unsigned char out[49]);

/* Called (outside any lock) when a fetch left a user's device fewer than KEYS_LOW_WATER one-time
 * prekeys. */
void keys_set_low_listener(void (*listener)(const char *username, uint32_t device));

/* Called (outside any lock) after a user's identity key was replaced. */
void keys_set_identity_listener(void (*listener)(const char *username));

/* Why a bundle was not given: an HTTP status (400, 404, 429 or 500), an error code and message
 * (static strings), and for 429 the seconds to wait. */
struct keys_refusal {
    int status;
    const char *code;
    const char *message;
    int retry_after;
};

/* The bundle of username (any case) for the account requester, consuming one one-time prekey of
 * each device it covers atomically (every listed device, or device alone when it is not 0), as
 * the JSON object GET /api/keys/{username} answers (the caller owns it); NULL and *why filled
 * when refused. Shared by HTTP and the WebSocket's get-bundle, under one throttle. */
struct cJSON;
struct cJSON *keys_fetch(const char *requester, const char *username, uint32_t device,
                         struct keys_refusal *why);

/* Adds name: the base64url of bin[0..n), or null when n is 0 (a device list). */
void keys_add_list(struct cJSON *obj, const char *name, const unsigned char *bin, size_t n);

int keys_put(struct mg_connection *conn);
int keys_get(struct mg_connection *conn, const char *username);
int keys_count(struct mg_connection *conn);
/* GET /api/identity/{username}: the identity key and its counter, consuming nothing. */
int keys_identity(struct mg_connection *conn, const char *username);
/* POST /api/identities: the same for up to KEYS_IDENTITIES_MAX names in the body. */
int keys_identities(struct mg_connection *conn);

#endif
