/*
 * Sessions: X3DH (protocol version 1) or PQXDH (version 2) to start, the Double Ratchet after.
 * The initiator sends prekey messages (the key agreement's values in front of a ratchet message:
 * type 0x02 for X3DH, 0x03 for PQXDH) until the first reply decrypts.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define RATCHET_OVERHEAD (PARLEY_HEADER_BYTES + PARLEY_AEAD_TAGBYTES)

/* The prefix an initial message of this type carries; 0 for any other type. */
static size_t prefix_of_type(uint8_t type)
{
    return type == PARLEY_MESSAGE_PREKEY      ? PARLEY_PREKEY_PREFIX_BYTES
           : type == PARLEY_MESSAGE_PREKEY_PQ ? PARLEY_PQ_PREFIX_BYTES
                                              : 0;
}

static uint8_t initial_type(const struct parley_session *s)
{
    return s->version == 2 ? PARLEY_MESSAGE_PREKEY_PQ : PARLEY_MESSAGE_PREKEY;
}

void session_wipe(struct parley_session *s)
{
    ratchet_wipe(&s->r);
    sodium_memzero(s, sizeof *s);
}

int session_encrypt(struct parley_session *s, const uint8_t *pt, size_t pt_len, uint8_t *out,
                    size_t cap, size_t *out_len)
{
    size_t prefix = s->pending ? prefix_of_type(initial_type(s)) : 0;
    int rc;

    if (pt_len > PARLEY_MAX_PLAINTEXT) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (cap < prefix + RATCHET_OVERHEAD + pt_len) {
        return PARLEY_ERR_BUFFER;
    }
    rc = ratchet_encrypt(&s->r, s->ad, pt, pt_len, out + prefix);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (prefix != 0) {
        out[0] = initial_type(s);
        memcpy(out + 1, s->ad, 32); /* IK_A: our identity */
        memcpy(out + 33, s->base_key, 32);
        put_u32be(out + 65, s->spk_id);
        out[69] = s->has_opk;
        put_u32be(out + 70, s->opk_id);
        if (s->version == 2) {
            put_u32be(out + PARLEY_PREKEY_PREFIX_BYTES, s->kem_id);
            memcpy(out + PARLEY_PREKEY_PREFIX_BYTES + 4, s->kem_ct, PARLEY_MLKEM_CIPHERTEXTBYTES);
        }
    }
    *out_len = prefix + RATCHET_OVERHEAD + pt_len;
    return PARLEY_OK;
}

int session_decrypt_with(struct parley_session *s, const uint8_t *msg, size_t len, uint8_t *pt,
                         size_t cap, size_t *pt_len, const uint8_t random[32])
{
    const uint8_t *inner = msg;
    size_t inner_len = len;
    int rc;

    if (len < 1) {
        return PARLEY_ERR_MALFORMED;
    }
    if (msg[0] == PARLEY_MESSAGE_PREKEY || msg[0] == PARLEY_MESSAGE_PREKEY_PQ) {
        /* A repeat of the initial message of this very session, or another session. */
        size_t prefix = prefix_of_type(msg[0]);
        if (len < prefix + RATCHET_OVERHEAD) {
            return PARLEY_ERR_MALFORMED;
        }
        if (s->role != PARLEY_ROLE_RESPONDER || msg[0] != initial_type(s) ||
            memcmp(msg + 1, s->ad, 32) != 0 || memcmp(msg + 33, s->base_key, 32) != 0 ||
            get_u32be(msg + 65) != s->spk_id || msg[69] != s->has_opk ||
            get_u32be(msg + 70) != s->opk_id ||
            (s->version == 2 &&
             (get_u32be(msg + PARLEY_PREKEY_PREFIX_BYTES) != s->kem_id ||
              memcmp(msg + PARLEY_PREKEY_PREFIX_BYTES + 4, s->kem_ct,
                     PARLEY_MLKEM_CIPHERTEXTBYTES) != 0))) {
            return PARLEY_ERR_STATE;
        }
        inner = msg + prefix;
        inner_len = len - prefix;
    } else if (msg[0] != PARLEY_MESSAGE_RATCHET) {
        return PARLEY_ERR_VERSION;
    }
    if (inner_len < RATCHET_OVERHEAD) {
        return PARLEY_ERR_MALFORMED;
    }
    if (cap < inner_len - RATCHET_OVERHEAD) {
        return PARLEY_ERR_BUFFER;
    }
    rc = ratchet_decrypt(&s->r, s->ad, inner, inner_len, pt, random);
    if (rc == PARLEY_OK) {
        *pt_len = inner_len - RATCHET_OVERHEAD;
        s->pending = 0; /* a reply decrypted: the peer has the session */
    }
    return rc;
}

int parley_session_new_outbound(parley_session **out, const parley_account *account,
                                const uint8_t *bundle, size_t bundle_len)
{
    struct parley_bundle b;
    struct parley_session *s;
    uint8_t random[64];
    int rc;

    if (out == NULL || account == NULL || bundle == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    rc = bundle_parse_single(&b, bundle, bundle_len);
    if (rc != PARLEY_OK) {
        return rc;
    }
    s = malloc(sizeof *s);
    if (s == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_random(random, sizeof random);
    if (rc == PARLEY_OK) {
        rc = session_outbound_with(s, account, &b, random, random + 32, NULL);
    }
    PARLEY_WIPE(random);
    if (rc != PARLEY_OK) {
        session_wipe(s);
        free(s);
        return rc;
    }
    *out = s;
    return PARLEY_OK;
}

int parley_session_new_outbound_pq(parley_session **out, const parley_account *account,
                                   const uint8_t *bundle, size_t bundle_len,
                                   const uint8_t *kem_prekey, size_t kem_prekey_len)
{
    struct parley_bundle b;
    struct parley_kem_bundle *kb;
    struct parley_session *s;
    uint8_t random[96];
    int rc;

    if (out == NULL || account == NULL || bundle == NULL || kem_prekey == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    rc = bundle_parse_single(&b, bundle, bundle_len);
    if (rc != PARLEY_OK) {
        return rc;
    }
    kb = malloc(sizeof *kb);
    if (kb == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = kem_bundle_parse(kb, kem_prekey, kem_prekey_len);
    s = rc == PARLEY_OK ? malloc(sizeof *s) : NULL;
    if (rc == PARLEY_OK && s == NULL) {
        rc = PARLEY_ERR_NO_MEMORY;
    }
    if (rc == PARLEY_OK) {
        rc = parley_random(random, sizeof random);
    }
    if (rc == PARLEY_OK) {
        rc = session_outbound_pq_with(s, account, &b, kb, random, random + 32, random + 64, NULL);
    }
    PARLEY_WIPE(random);
    free(kb);
    if (rc != PARLEY_OK) {
        if (s != NULL) {
            session_wipe(s);
            free(s);
        }
        return rc;
    }
    *out = s;
    return PARLEY_OK;
}

uint32_t parley_session_version(const parley_session *session)
{
    return session == NULL ? 0 : session->version;
}

int parley_session_new_inbound(parley_session **out, parley_account *account,
                               const uint8_t *message, size_t message_len, uint8_t *plaintext,
                               size_t plaintext_cap, size_t *plaintext_len)
{
    struct parley_session *s;
    uint8_t random[32];
    int rc;

    if (out == NULL || account == NULL || message == NULL || plaintext_len == NULL ||
        (plaintext == NULL && plaintext_cap != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    s = malloc(sizeof *s);
    if (s == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_random(random, sizeof random);
    if (rc == PARLEY_OK) {
        rc = session_inbound_with(s, account, message, message_len, plaintext, plaintext_cap,
                                  plaintext_len, random, NULL);
    }
    PARLEY_WIPE(random);
    if (rc != PARLEY_OK) {
        session_wipe(s);
        free(s);
        return rc;
    }
    *out = s;
    return PARLEY_OK;
}

void parley_session_free(parley_session *session)
{
    if (session != NULL) {
        session_wipe(session);
        free(session);
    }
}

int parley_session_peer_identity(const parley_session *session, uint8_t out[PARLEY_KEY_BYTES])
{
    if (session == NULL || out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    memcpy(out, session->ad + (session->role == PARLEY_ROLE_INITIATOR ? 32 : 0), 32);
    return PARLEY_OK;
}

size_t parley_session_encrypted_size(const parley_session *session, size_t plaintext_len)
{
    if (session == NULL) {
        return 0;
    }
    return (session->pending ? prefix_of_type(initial_type(session)) : 0) + RATCHET_OVERHEAD +
           plaintext_len;
}

int parley_session_encrypt(parley_session *session, const uint8_t *plaintext, size_t plaintext_len,
                           uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (session == NULL || out == NULL || out_len == NULL ||
        (plaintext == NULL && plaintext_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    return session_encrypt(session, plaintext, plaintext_len, out, out_cap, out_len);
}

/* 0 only when the message names the current receiving chain (so no DH ratchet step can follow). */
static int session_may_step(const struct parley_session *s, const uint8_t *msg, size_t len)
{
    size_t off = len > 0 ? prefix_of_type(msg[0]) : 0;

    if (len < off + PARLEY_HEADER_BYTES || !s->r.has_dhr || !s->r.has_ckr) {
        return 1;
    }
    return memcmp(msg + off + 1, s->r.dhr, 32) != 0;
}

int parley_session_decrypt(parley_session *session, const uint8_t *message, size_t message_len,
                           uint8_t *plaintext, size_t plaintext_cap, size_t *plaintext_len)
{
    uint8_t random[32];
    int rc;

    if (session == NULL || message == NULL || plaintext_len == NULL ||
        (plaintext == NULL && plaintext_cap != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    /* Fresh randomness is needed only for a DH ratchet step, which a message of the current
     * receiving chain never causes; skipping the draw saves a trip to the browser per message. */
    if (session_may_step(session, message, message_len)) {
        rc = parley_random(random, sizeof random);
    } else {
        memset(random, 0, sizeof random);
        rc = PARLEY_OK;
    }
    if (rc == PARLEY_OK) {
        rc = session_decrypt_with(session, message, message_len, plaintext, plaintext_cap,
                                  plaintext_len, random);
    }
    PARLEY_WIPE(random);
    return rc;
}

int parley_message_type(const uint8_t *message, size_t message_len)
{
    if (message == NULL || message_len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (message[0] == PARLEY_MESSAGE_RATCHET || message[0] == PARLEY_MESSAGE_PREKEY ||
        message[0] == PARLEY_MESSAGE_PREKEY_PQ) {
        return message[0];
    }
    return PARLEY_ERR_VERSION;
}

int parley_message_plaintext_size(const uint8_t *message, size_t message_len, size_t *out)
{
    int type = parley_message_type(message, message_len);
    size_t overhead;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (type < 0) {
        return type;
    }
    overhead = RATCHET_OVERHEAD + prefix_of_type((uint8_t)type);
    if (message_len < overhead) {
        return PARLEY_ERR_MALFORMED;
    }
    *out = message_len - overhead;
    return PARLEY_OK;
}

int parley_message_sender_identity(const uint8_t *message, size_t message_len,
                                   uint8_t out[PARLEY_KEY_BYTES])
{
    int type = parley_message_type(message, message_len);

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (type < 0) {
        return type;
    }
    if (type == PARLEY_MESSAGE_RATCHET) {
        return PARLEY_ERR_STATE;
    }
    if (message_len < prefix_of_type((uint8_t)type) + RATCHET_OVERHEAD) {
        return PARLEY_ERR_MALFORMED;
    }
    memcpy(out, message + 1, 32);
    return PARLEY_OK;
}
