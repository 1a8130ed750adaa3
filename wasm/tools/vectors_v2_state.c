/*
 * parley-tool vectors-v2, continued: the "limits" and "sealedState" sections of
 * docs/vectors/protocol-v2.json (docs/PROTOCOL.md section 16).
 */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- named limits refused by calls (the ratchet's are in "ratchet") ---- */

#define LIMITS_BUF ((size_t)1 << 19) /* above PARLEY_MAX_PLAINTEXT and any random input here */
static void limit_entry(cJSON *list, const char *name, double value, const char *call, int rc,
                        int want, int *ok)
{
    cJSON *e = cJSON_CreateObject();

    if (rc != want) {
        *ok = 0;
    }
    cJSON_AddStringToObject(e, "limit", name);
    cJSON_AddNumberToObject(e, "value", value);
    cJSON_AddStringToObject(e, "call", call);
    cJSON_AddStringToObject(e, "error", v2_error_name(rc));
    cJSON_AddItemToArray(list, e);
}

cJSON *v2_limits_section(const struct parley_account *a, const struct parley_account *b,
                             int *ok)
{
    cJSON *list = cJSON_CreateArray();
    struct parley_account *c = malloc(sizeof *c);
    struct parley_session *s = malloc(sizeof *s);
    struct parley_bundle bundle;
    uint8_t *buf = calloc(1, LIMITS_BUF), bbytes[171], r[32] = {1}, nonce[32] = {2}, sig[64];
    uint8_t list_bytes[6 + 9 * 5], out[PARLEY_DEVICES_MAX_BYTES + 64];
    size_t blen = 0, len = 0;

    if (c == NULL || s == NULL || buf == NULL) {
        *ok = 0;
        goto done;
    }
    *c = *b;
    limit_entry(list, "PARLEY_MAX_PREKEY_BATCH", PARLEY_MAX_PREKEY_BATCH,
                "generate 101 one-time prekeys in one call",
                account_add_prekeys_with(c, PARLEY_MAX_PREKEY_BATCH + 1, buf), PARLEY_ERR_ARGUMENT,
                ok);
    if (account_add_prekeys_with(c, 100, buf) != PARLEY_OK ||
        account_add_prekeys_with(c, 99, buf) != PARLEY_OK) {
        *ok = 0;
    }
    limit_entry(list, "PARLEY_MAX_ONE_TIME_PREKEYS", PARLEY_MAX_ONE_TIME_PREKEYS,
                "generate one more one-time prekey when 200 are held",
                account_add_prekeys_with(c, 1, buf), PARLEY_ERR_LIMIT, ok);
    limit_entry(list, "PARLEY_MAX_PREKEY_BATCH", PARLEY_MAX_PREKEY_BATCH,
                "generate 101 one-time KEM prekeys in one call",
                account_add_kem_prekeys_with(c, PARLEY_MAX_PREKEY_BATCH + 1, buf),
                PARLEY_ERR_ARGUMENT, ok);
    if (account_add_kem_prekeys_with(c, 99, buf) != PARLEY_OK) {
        *ok = 0;
    }
    limit_entry(list, "PARLEY_MAX_KEM_PREKEYS", PARLEY_MAX_KEM_PREKEYS,
                "generate one more one-time KEM prekey when 100 are held",
                account_add_kem_prekeys_with(c, 1, buf), PARLEY_ERR_LIMIT, ok);
    if (!v2_bundle_of(b, 0, bbytes, &blen) || bundle_parse_single(&bundle, bbytes, blen) != PARLEY_OK ||
        session_outbound_with(s, a, &bundle, r, r, NULL) != PARLEY_OK) {
        *ok = 0;
        goto done;
    }
    limit_entry(list, "PARLEY_MAX_PLAINTEXT", PARLEY_MAX_PLAINTEXT,
                "encrypt 262145 bytes of plaintext",
                session_encrypt(s, buf, PARLEY_MAX_PLAINTEXT + 1, buf, LIMITS_BUF, &len),
                PARLEY_ERR_TOO_LARGE, ok);
    s->r.ns = UINT32_MAX;
    limit_entry(list, "message number", 4294967295.0,
                "encrypt when the sending chain's next message number is 2^32-1",
                session_encrypt(s, buf, 1, buf, 65536, &len), PARLEY_ERR_LIMIT, ok);
    limit_entry(list, "PARLEY_MAX_ROOM_ID", PARLEY_MAX_ROOM_ID,
                "sign a challenge with a 257-byte room id",
                parley_account_sign_challenge(a, buf, PARLEY_MAX_ROOM_ID + 1, 0, nonce, sig),
                PARLEY_ERR_ARGUMENT, ok);
    limit_entry(list, "PARLEY_SEALED_NAME_MAX", PARLEY_SEALED_NAME_MAX,
                "seal an envelope with a 65-byte sender name",
                sealed_seal_with(a, b->identity_pub, buf, PARLEY_SEALED_NAME_MAX + 1, buf, 1, r,
                                 buf + 1024, 65536, &len),
                PARLEY_ERR_ARGUMENT, ok);
    list_bytes[0] = PARLEY_DEVICES_VERSION;
    put_u32be(list_bytes + 1, 1);
    list_bytes[5] = PARLEY_MAX_DEVICES + 1;
    for (size_t i = 0; i < PARLEY_MAX_DEVICES + 1; i++) {
        put_u32be(list_bytes + 6 + 5 * i, (uint32_t)i + 1);
        list_bytes[6 + 5 * i + 4] = 0;
    }
    limit_entry(list, "PARLEY_MAX_DEVICES", PARLEY_MAX_DEVICES,
                "sign a device list of 9 entries (ids 1..9, empty labels)",
                parley_account_sign_devices(a, list_bytes, sizeof list_bytes, out, sizeof out,
                                            &len),
                PARLEY_ERR_MALFORMED, ok);
    list_bytes[5] = 1; /* one entry: id 2^31, then id 1 with a 65-byte label */
    put_u32be(list_bytes + 6, PARLEY_DEVICE_ID_MAX + 1);
    limit_entry(list, "PARLEY_DEVICE_ID_MAX", PARLEY_DEVICE_ID_MAX,
                "sign a device list whose one entry has id 2^31",
                parley_account_sign_devices(a, list_bytes, 11, out, sizeof out, &len),
                PARLEY_ERR_MALFORMED, ok);
    memset(buf, 'x', 6 + 5 + PARLEY_DEVICE_LABEL_MAX + 1);
    memcpy(buf, list_bytes, 6);
    put_u32be(buf + 6, 1);
    buf[10] = PARLEY_DEVICE_LABEL_MAX + 1;
    limit_entry(list, "PARLEY_DEVICE_LABEL_MAX", PARLEY_DEVICE_LABEL_MAX,
                "sign a device list whose one entry has a 65-byte label",
                parley_account_sign_devices(a, buf, 11 + PARLEY_DEVICE_LABEL_MAX + 1, out,
                                            sizeof out, &len),
                PARLEY_ERR_MALFORMED, ok);
    memset(buf, 0, LIMITS_BUF);
    limit_entry(list, "PARLEY_SEALED_MAX", PARLEY_SEALED_MAX,
                "seal a 65536-byte message in an envelope (more than the largest class holds)",
                sealed_seal_with(a, b->identity_pub, buf, 1, buf, PARLEY_SEALED_MAX, r,
                                 buf + PARLEY_SEALED_MAX, PARLEY_SEALED_MAX, &len),
                PARLEY_ERR_TOO_LARGE, ok);
    limit_entry(list, "PARLEY_PASSWORD_MAX_BYTES", PARLEY_PASSWORD_MAX_BYTES,
                "derive a key from a 4097-byte password",
                parley_password_derive(sig, 32, buf, PARLEY_PASSWORD_MAX_BYTES + 1, nonce),
                PARLEY_ERR_TOO_LARGE, ok);
    limit_entry(list, "PARLEY_HKDF_MAX_OUTPUT", (double)PARLEY_HKDF_MAX_OUTPUT,
                "HKDF with L = 8161", parley_hkdf_sha256(buf, PARLEY_HKDF_MAX_OUTPUT + 1, r, 32,
                                                         NULL, 0, NULL, 0),
                PARLEY_ERR_TOO_LARGE, ok);
done:
    if (s != NULL) {
        session_wipe(s);
    }
    free(s);
    if (c != NULL) {
        account_wipe(c);
    }
    free(c);
    free(buf);
    return list;
}

/* ---- sealed state ---- */

static cJSON *state_entry(const char *what, const struct parley_account *acc,
                          const struct parley_session *sess, int n, int *ok)
{
    cJSON *e = cJSON_CreateObject(), *f;
    uint8_t key[32], nonce32[32], *sealed, *plain;
    size_t cap = acc != NULL ? parley_account_sealed_size(acc) : parley_session_sealed_size(sess);
    size_t len = 0;
    char label[32];

    fixed_random(key, "state-key");
    snprintf(label, sizeof label, "state-nonce-%d", n);
    fixed_random(nonce32, label);
    sealed = malloc(cap);
    plain = malloc(cap);
    if (sealed == NULL || plain == NULL ||
        (acc != NULL ? account_seal_with(acc, key, nonce32, sealed, cap, &len)
                     : session_seal_with(sess, key, nonce32, sealed, cap, &len)) != PARLEY_OK ||
        parley_aead_open(plain, key, nonce32, sealed, 2, sealed + 14, len - 14) != PARLEY_OK) {
        *ok = 0;
        free(sealed);
        free(plain);
        return e;
    }
    cJSON_AddStringToObject(e, "what", what);
    cJSON_AddStringToObject(e, "keyLabel", "state-key");
    add_hex(e, "key", key, 32);
    cJSON_AddStringToObject(e, "nonceLabel", label);
    add_hex(e, "nonce", nonce32, 12);
    add_hex(e, "sealed", sealed, len);
    add_hex(e, "plain", plain, len - 30);
    f = cJSON_AddObjectToObject(e, "fields");
    cJSON_AddNumberToObject(f, "plainVersion", plain[0]);
    if (acc != NULL) {
        add_hex(f, "identityKey", acc->identity_pub, 32);
        cJSON_AddNumberToObject(f, "signedPrekeyId", acc->spk.id);
        add_hex(f, "signedPrekey", acc->spk.pub, 32);
        cJSON_AddNumberToObject(f, "oneTimePrekeys", (double)acc->n_opk);
        cJSON_AddNumberToObject(f, "kemPrekeyId", acc->has_kem ? acc->kem.id : 0);
        cJSON_AddNumberToObject(f, "oneTimeKemPrekeys", (double)acc->n_kem_otk);
        cJSON_AddNumberToObject(f, "nextKemPrekeyId", acc->next_kem_id);
    } else if (sess != NULL) {
        cJSON_AddNumberToObject(f, "protocolVersion", sess->version);
        cJSON_AddStringToObject(f, "role", sess->role == PARLEY_ROLE_INITIATOR ? "initiator"
                                                                              : "responder");
        add_hex(f, "ad", sess->ad, 64);
        cJSON_AddBoolToObject(f, "pending", sess->pending);
        cJSON_AddNumberToObject(f, "kemPrekeyId", sess->kem_id);
        add_hex(f, "rootKey", sess->r.rk, 32);
        add_hex(f, "sendingChainKey", sess->r.cks, 32);
        add_hex(f, "receivingChainKey", sess->r.ckr, 32);
        cJSON_AddNumberToObject(f, "ns", sess->r.ns);
        cJSON_AddNumberToObject(f, "nr", sess->r.nr);
        cJSON_AddNumberToObject(f, "pn", sess->r.pn);
        cJSON_AddNumberToObject(f, "skippedKeys", (double)sess->r.n_skipped);
    }
    sodium_memzero(plain, cap);
    free(plain);
    free(sealed);
    return e;
}

/* Alice (version 1 plain: no KEM state), Bob (version 2), and both sides of a PQXDH start. */
cJSON *v2_state_section(const struct parley_account *a, const struct parley_account *b,
                            int *ok)
{
    cJSON *list = cJSON_CreateArray();
    struct parley_account *bc = malloc(sizeof *bc);
    struct parley_session *sa = malloc(sizeof *sa), *sb = malloc(sizeof *sb);
    struct parley_bundle bundle;
    struct parley_kem_bundle *kb = malloc(sizeof *kb);
    uint8_t bbytes[171], rec[PARLEY_KEM_PREKEY_BYTES], r[4][32], pt[64], *m = NULL;
    size_t blen = 0, len = 0, pt_len = 0;

    fixed_random(r[0], "state-alice-ephemeral");
    fixed_random(r[1], "state-alice-ratchet-0");
    fixed_random(r[2], "state-kem-coins");
    fixed_random(r[3], "state-bob-ratchet-1");
    if (bc == NULL || sa == NULL || sb == NULL || kb == NULL) {
        *ok = 0;
        goto done;
    }
    *bc = *b;
    cJSON_AddItemToArray(list, state_entry("account: Alice (no KEM prekeys)", a, NULL, 1, ok));
    cJSON_AddItemToArray(list, state_entry("account: Bob (KEM prekeys)", bc, NULL, 2, ok));
    if (!v2_bundle_of(bc, 1, bbytes, &blen) || bundle_parse_single(&bundle, bbytes, blen) != PARLEY_OK ||
        account_kem_record(&bc->kem_otk[0], rec) != PARLEY_OK ||
        kem_bundle_parse(kb, rec, sizeof rec) != PARLEY_OK ||
        session_outbound_pq_with(sa, a, &bundle, kb, r[0], r[1], r[2], NULL) != PARLEY_OK ||
        (m = malloc(parley_session_encrypted_size(sa, 5))) == NULL ||
        session_encrypt(sa, (const uint8_t *)"state", 5, m, parley_session_encrypted_size(sa, 5),
                        &len) != PARLEY_OK ||
        session_inbound_with(sb, bc, m, len, pt, sizeof pt, &pt_len, r[3], NULL) != PARLEY_OK) {
        *ok = 0;
        goto done;
    }
    cJSON_AddItemToArray(list, state_entry("session: Alice, PQXDH initiator after one message",
                                           NULL, sa, 3, ok));
    cJSON_AddItemToArray(list, state_entry("session: Bob, PQXDH responder", NULL, sb, 4, ok));
    session_wipe(sa);
    session_wipe(sb);
    if (session_outbound_with(sa, a, &bundle, r[0], r[1], NULL) != PARLEY_OK) {
        *ok = 0;
        goto done;
    }
    cJSON_AddItemToArray(list, state_entry("session: Alice, X3DH initiator before any message",
                                           NULL, sa, 5, ok));
    session_wipe(sa);
done:
    free(m);
    free(kb);
    free(sa);
    free(sb);
    if (bc != NULL) {
        account_wipe(bc);
    }
    free(bc);
    return list;
}
