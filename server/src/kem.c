#include "kem.h"

#include "accounts.h"
#include "api.h"
#include "b64.h"
#include "http.h"
#include "log.h"
#include "store.h"

#include "parley.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int kem_record_valid(const unsigned char rec[KEM_RECORD_BYTES], const unsigned char identity_key[32],
                     uint32_t *id)
{
    unsigned char msg[sizeof KEM_CONTEXT - 1 + 4 + KEM_KEY_BYTES];
    unsigned char ct[PARLEY_MLKEM_CIPHERTEXTBYTES];
    unsigned char ss[PARLEY_MLKEM_SHAREDBYTES];
    unsigned char coins[PARLEY_MLKEM_COINBYTES] = {0};
    int ok;

    memcpy(msg, KEM_CONTEXT, sizeof KEM_CONTEXT - 1);
    memcpy(msg + sizeof KEM_CONTEXT - 1, rec, 4 + KEM_KEY_BYTES);
    if (crypto_sign_verify_detached(rec + 4 + KEM_KEY_BYTES, msg, sizeof msg, identity_key) != 0) {
        return 0;
    }
    /* An encapsulation that the key refuses (FIPS 203's modulus check) would fail every
     * initiator: refused here rather than handed out. The coins are public and the result
     * thrown away. */
    ok = parley_mlkem_encaps(ct, ss, rec + 4, KEM_KEY_BYTES, coins) == PARLEY_OK;
    sodium_memzero(ss, sizeof ss);
    *id = store_kem_record_id(rec);
    return ok;
}

void kem_add_record(cJSON *obj, const unsigned char *rec)
{
    char text[B64_LEN(KEM_RECORD_BYTES) + 1];

    if (rec != NULL && b64_encode(text, sizeof text, rec, KEM_RECORD_BYTES) == 0) {
        cJSON_AddStringToObject(obj, "kemPrekey", text);
    } else {
        cJSON_AddNullToObject(obj, "kemPrekey");
    }
}

/* A record field: base64url of exactly KEM_RECORD_BYTES bytes. 0 or -1. */
static int get_record(const cJSON *item, unsigned char out[KEM_RECORD_BYTES])
{
    return cJSON_IsString(item) ? b64_decode_exact(item->valuestring, out, KEM_RECORD_BYTES) : -1;
}

int kem_put(struct mg_connection *conn)
{
    struct account acc;
    struct store_identity *ident = NULL;
    struct store_kem_upload up;
    unsigned char *records = NULL; /* [0]: last resort, then the one-time ones */
    cJSON *body = NULL;
    const cJSON *last;
    const cJSON *ones;
    const cJSON *item;
    long long count = 0;
    int rc;
    int result;
    size_t n = 0;

    if ((rc = accounts_authenticate(conn, &acc)) != 0 ||
        (rc = api_read_json(conn, KEM_BODY_MAX, &body)) != 0) {
        return rc;
    }
    last = cJSON_GetObjectItemCaseSensitive(body, "lastResort");
    ones = cJSON_GetObjectItemCaseSensitive(body, "oneTime");
    records = malloc((size_t)(1 + KEM_UPLOAD_MAX) * KEM_RECORD_BYTES);
    ident = malloc(sizeof *ident);
    if (records == NULL || ident == NULL) {
        rc = http_send_error(conn, 500, "internal", "out of memory");
        goto out;
    }
    if (get_record(last, records) != 0) {
        rc = http_send_error(conn, 400, "invalid_kem_prekey",
                             "lastResort must be a KEM prekey record (1636 bytes) in base64url "
                             "without padding");
        goto out;
    }
    if (ones != NULL && !cJSON_IsArray(ones)) {
        rc = http_send_error(conn, 400, "invalid_kem_prekey", "oneTime must be an array");
        goto out;
    }
    if (cJSON_GetArraySize(ones) > KEM_UPLOAD_MAX) {
        rc = http_send_error(conn, 400, "too_many_prekeys",
                             "at most 25 one-time KEM prekeys per upload");
        goto out;
    }
    cJSON_ArrayForEach(item, ones)
    {
        if (get_record(item, records + (1 + n) * KEM_RECORD_BYTES) != 0) {
            rc = http_send_error(conn, 400, "invalid_kem_prekey",
                                 "each one-time KEM prekey must be a record of 1636 bytes in "
                                 "base64url without padding");
            goto out;
        }
        n++;
    }
    /* Signed by the account's identity key, as stored now. */
    result = store_identity_get(acc.username, ident);
    if (result == STORE_NO_KEYS || result == STORE_NO_USER) {
        rc = http_send_error(conn, 409, "no_keys", "upload the identity key (PUT /api/keys) first");
        goto out;
    }
    if (result != STORE_OK) {
        rc = http_send_error(conn, 500, "internal", "the keys could not be read");
        goto out;
    }
    {
        uint32_t ids[1 + KEM_UPLOAD_MAX];
        for (size_t i = 0; i <= n; i++) {
            if (!kem_record_valid(records + i * KEM_RECORD_BYTES, ident->key, &ids[i])) {
                rc = http_send_error(conn, 400, "bad_signature",
                                     "a KEM prekey's signature does not verify with the identity "
                                     "key, or its key is not a valid ML-KEM-1024 key");
                goto out;
            }
            for (size_t j = 0; j < i; j++) {
                if (ids[j] == ids[i]) {
                    rc = http_send_error(conn, 400, "duplicate_prekey_id",
                                         "two KEM prekeys in the upload share an id");
                    goto out;
                }
            }
        }
    }
    up.device = acc.device;
    memcpy(up.identity_key, ident->key, 32);
    up.last_resort = records;
    up.one_time = records + KEM_RECORD_BYTES;
    up.n_one_time = n;
    up.max_one_time = KEM_STORED_MAX;
    result = store_kem_upload(acc.id, &up, &count);
    switch (result) {
    case STORE_OK:
        break;
    case STORE_NOT_LISTED:
        rc = http_send_error(conn, 403, "device_not_listed",
                             "this device is not in the account's device list yet");
        goto out;
    case STORE_CONFLICT:
        rc = http_send_error(conn, 409, "identity_conflict",
                             "the identity key changed meanwhile: sign with the new one");
        goto out;
    case STORE_FULL:
        rc = http_send_error(conn, 409, "prekey_limit",
                             "at most 100 one-time KEM prekeys may be stored");
        goto out;
    case STORE_DUPLICATE:
        rc = http_send_error(conn, 409, "duplicate_prekey_id",
                             "a KEM prekey with this id is already stored");
        goto out;
    case STORE_NO_KEYS:
        rc = http_send_error(conn, 409, "no_keys", "upload the identity key (PUT /api/keys) first");
        goto out;
    default:
        log_msg(LOG_ERROR, "kem: database error storing KEM prekeys");
        rc = http_send_error(conn, 500, "internal", "the keys could not be stored");
        goto out;
    }
    {
        cJSON *obj = cJSON_CreateObject();
        if (obj != NULL) {
            cJSON_AddNumberToObject(obj, "kemCount", (double)count);
            cJSON_AddBoolToObject(obj, "kemLow", count < KEM_LOW_WATER);
        }
        rc = api_send_object(conn, 200, obj);
    }
out:
    cJSON_Delete(body);
    free(records); /* public keys only */
    free(ident);
    return rc;
}
