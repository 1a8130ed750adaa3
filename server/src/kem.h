/*
 * Post-quantum KEM prekeys in the key directory (docs/PROTOCOL.md 15, docs/API.md
 * "PUT /api/keys/me/kem"): each device uploads a signed last-resort ML-KEM-1024 prekey and up to
 * KEM_STORED_MAX signed one-time ones; every bundle part carries one of them (a one-time one,
 * handed out once, or the last-resort one when none is left).
 */
#ifndef PARLEY_SERVER_KEM_H
#define PARLEY_SERVER_KEM_H

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

#define KEM_RECORD_BYTES 1636   /* u32 id || encapsulation key (1568) || Ed25519 signature (64) */
#define KEM_KEY_BYTES 1568
#define KEM_UPLOAD_MAX 25       /* one-time KEM prekeys in one upload */
#define KEM_STORED_MAX 100      /* one-time KEM prekeys stored per device */
#define KEM_LOW_WATER 20        /* below this, the device is told it runs low */
#define KEM_BODY_MAX 98304      /* 26 records in base64url and the JSON around them */
#define KEM_CONTEXT "parley-kem-prekey-v1"

/* Whether rec is a KEM prekey record signed by identity_key whose encapsulation key passes FIPS
 * 203's checks; its id in *id. 1 valid, 0 not. */
int kem_record_valid(const unsigned char rec[KEM_RECORD_BYTES], const unsigned char identity_key[32],
                     uint32_t *id);

/* Adds "kemPrekey": the base64url of rec, or null when rec is NULL. */
struct cJSON;
void kem_add_record(struct cJSON *obj, const unsigned char *rec);

/* PUT /api/keys/me/kem (not /api/keys/kem: "kem" may be a username). */
int kem_put(struct mg_connection *conn);

#endif
