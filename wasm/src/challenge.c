/*
 * Signed challenges for key-based rooms: an Ed25519 signature by the identity key over
 * "parley-challenge-v1" || len(roomId) (2, big-endian) || roomId || issuedAt (8, big-endian,
 * milliseconds) || nonce (32).
 */
#include "state.h"

#include <string.h>

#define CHALLENGE_MAX (sizeof(PARLEY_LABEL_CHALLENGE) - 1 + 2 + PARLEY_MAX_ROOM_ID + 8 + 32)

static int encode(uint8_t out[CHALLENGE_MAX], size_t *len, const uint8_t *room_id,
                  size_t room_id_len, double issued_at_ms, const uint8_t nonce[32])
{
    size_t label_len = sizeof(PARLEY_LABEL_CHALLENGE) - 1;
    uint64_t issued;

    if ((room_id == NULL && room_id_len != 0) || nonce == NULL || room_id_len == 0 ||
        room_id_len > PARLEY_MAX_ROOM_ID) {
        return PARLEY_ERR_ARGUMENT;
    }
    /* An integer in 0..2^53-1: what a JavaScript number holds exactly. */
    if (!(issued_at_ms >= 0.0 && issued_at_ms <= 9007199254740991.0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    issued = (uint64_t)issued_at_ms;
    if ((double)issued != issued_at_ms) {
        return PARLEY_ERR_ARGUMENT;
    }
    memcpy(out, PARLEY_LABEL_CHALLENGE, label_len);
    out[label_len] = (uint8_t)(room_id_len >> 8);
    out[label_len + 1] = (uint8_t)room_id_len;
    memcpy(out + label_len + 2, room_id, room_id_len);
    put_u64be(out + label_len + 2 + room_id_len, issued);
    memcpy(out + label_len + 2 + room_id_len + 8, nonce, 32);
    *len = label_len + 2 + room_id_len + 8 + 32;
    return PARLEY_OK;
}

int parley_account_sign_challenge(const parley_account *account, const uint8_t *room_id,
                                  size_t room_id_len, double issued_at_ms,
                                  const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
                                  uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES])
{
    uint8_t msg[CHALLENGE_MAX];
    size_t len;
    int rc;

    if (account == NULL || sig == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = encode(msg, &len, room_id, room_id_len, issued_at_ms, nonce);
    if (rc == PARLEY_OK) {
        rc = parley_ed25519_sign(sig, account->identity_seed, msg, len);
    }
    return rc;
}

int parley_challenge_verify(const uint8_t identity_key[PARLEY_KEY_BYTES], const uint8_t *room_id,
                            size_t room_id_len, double issued_at_ms,
                            const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
                            const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES])
{
    uint8_t msg[CHALLENGE_MAX];
    size_t len;
    int rc;

    if (identity_key == NULL || sig == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = encode(msg, &len, room_id, room_id_len, issued_at_ms, nonce);
    if (rc == PARLEY_OK) {
        rc = parley_ed25519_verify(identity_key, msg, len, sig);
    }
    return rc;
}
