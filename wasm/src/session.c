/*
 * Sessions: X3DH to start, the Double Ratchet after. The initiator sends prekey messages (the
 * X3DH values in front of a ratchet message) until the first reply decrypts.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define RATCHET_OVERHEAD (PARLEY_HEADER_BYTES + PARLEY_AEAD_TAGBYTES)

void session_wipe(struct parley_session *s)
{
    ratchet_wipe(&s->r);
    sodium_memzero(s, sizeof *s);
}

int session_encrypt(struct parley_session *s, const uint8_t *pt, size_t pt_len, uint8_t *out,
                    size_t cap, size_t *out_len)
{
    size_t prefix = s->pending ? PARLEY_PREKEY_PREFIX_BYTES : 0;
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
        out[0] = PARLEY_MESSAGE_PREKEY;
        memcpy(out + 1, s->ad, 32); /* IK_A: our identity */
        memcpy(out + 33, s->base_key, 32);
        put_u32be(out + 65, s->spk_id);
        out[69] = s->has_opk;
        put_u32be(out + 70, s->opk_id);
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
    if (msg[0] == PARLEY_MESSAGE_PREKEY) {
        /* A repeat of the initial message of this very session, or another session. */
        if (len < PARLEY_PREKEY_PREFIX_BYTES + RATCHET_OVERHEAD) {
            return PARLEY_ERR_MALFORMED;
        }
        if (s->role != PARLEY_ROLE_RESPONDER || memcmp(msg + 1, s->ad, 32) != 0 ||
            memcmp(msg + 33, s->base_key, 32) != 0 || get_u32be(msg + 65) != s->spk_id ||
            msg[69] != s->has_opk || get_u32be(msg + 70) != s->opk_id) {
            return PARLEY_ERR_STATE;
        }
        inner = msg + PARLEY_PREKEY_PREFIX_BYTES;
        inner_len = len - PARLEY_PREKEY_PREFIX_BYTES;
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
    return (session->pending ? PARLEY_PREKEY_PREFIX_BYTES : 0) + RATCHET_OVERHEAD + plaintext_len;
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
    size_t off = (len > 0 && msg[0] == PARLEY_MESSAGE_PREKEY) ? PARLEY_PREKEY_PREFIX_BYTES : 0;

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
    if (message[0] == PARLEY_MESSAGE_RATCHET || message[0] == PARLEY_MESSAGE_PREKEY) {
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
    overhead = RATCHET_OVERHEAD + (type == PARLEY_MESSAGE_PREKEY ? PARLEY_PREKEY_PREFIX_BYTES : 0);
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
    if (type != PARLEY_MESSAGE_PREKEY) {
        return PARLEY_ERR_STATE;
    }
    if (message_len < PARLEY_PREKEY_PREFIX_BYTES + RATCHET_OVERHEAD) {
        return PARLEY_ERR_MALFORMED;
    }
    memcpy(out, message + 1, 32);
    return PARLEY_OK;
}
