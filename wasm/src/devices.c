/*
 * Device lists (docs/PROTOCOL.md section 14.1): the devices of one identity, signed by the
 * identity key, so that a directory that serves the list cannot add a device of its own.
 *
 *   list   = u8(0x01) || u32(generation) || u8(count)
 *            || count x ( u32(device_id) || u8(label_len) || label )
 *   signed = list || Ed25519-Sign(identity seed, "parley-devices-v1" || IK || list)
 *
 * One strict parser serves signing (the caller's list is checked before it is signed), opening
 * and reading entries, and the server links the same file.
 */
#include "state.h"

#include <string.h>

#define DEVICES_HEADER_BYTES 6 /* version(1) generation(4) count(1) */
#define DEVICES_LABEL_BYTES (sizeof(PARLEY_LABEL_DEVICES) - 1)

/* Checks an unsigned list; on success *count is its number of entries. */
static int parse_list(const uint8_t *in, size_t len, uint32_t *generation, uint32_t *count)
{
    size_t pos = DEVICES_HEADER_BYTES;
    uint32_t n, prev = 0;

    if (len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_DEVICES_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    if (len < DEVICES_HEADER_BYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    n = in[5];
    if (get_u32be(in + 1) == 0 || n == 0 || n > PARLEY_MAX_DEVICES) {
        return PARLEY_ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id;
        size_t label_len;

        if (len - pos < 5) {
            return PARLEY_ERR_MALFORMED;
        }
        id = get_u32be(in + pos);
        label_len = in[pos + 4];
        /* Ids ascend strictly (so each is listed once) and stay in 1..PARLEY_DEVICE_ID_MAX. */
        if (id <= prev || id > PARLEY_DEVICE_ID_MAX || label_len > PARLEY_DEVICE_LABEL_MAX ||
            len - pos - 5 < label_len) {
            return PARLEY_ERR_MALFORMED;
        }
        prev = id;
        pos += 5 + label_len;
    }
    if (pos != len) {
        return PARLEY_ERR_MALFORMED; /* trailing bytes */
    }
    if (generation != NULL) {
        *generation = get_u32be(in + 1);
    }
    if (count != NULL) {
        *count = n;
    }
    return PARLEY_OK;
}

void devices_message(uint8_t *out, const uint8_t identity_key[32], const uint8_t *list,
                     size_t list_len)
{
    memcpy(out, PARLEY_LABEL_DEVICES, DEVICES_LABEL_BYTES);
    memcpy(out + DEVICES_LABEL_BYTES, identity_key, 32);
    memcpy(out + DEVICES_LABEL_BYTES + 32, list, list_len);
}

int parley_account_sign_devices(const parley_account *account, const uint8_t *list,
                                size_t list_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t msg[PARLEY_DEVICES_MESSAGE_BYTES(PARLEY_DEVICES_MAX_LIST)];
    int rc;

    if (account == NULL || list == NULL || out == NULL || out_len == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parse_list(list, list_len, NULL, NULL);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (out_cap < list_len + PARLEY_ED25519_SIGNATUREBYTES) {
        return PARLEY_ERR_BUFFER;
    }
    /* parse_list bounded list_len by PARLEY_DEVICES_MAX_LIST. */
    devices_message(msg, account->identity_pub, list, list_len);
    memmove(out, list, list_len);
    rc = parley_ed25519_sign(out + list_len, account->identity_seed, msg,
                             PARLEY_DEVICES_MESSAGE_BYTES(list_len));
    if (rc == PARLEY_OK) {
        *out_len = list_len + PARLEY_ED25519_SIGNATUREBYTES;
    }
    return rc;
}

int parley_devices_open(const uint8_t identity_key[PARLEY_KEY_BYTES], const uint8_t *in,
                        size_t in_len, uint32_t *generation, uint32_t *count)
{
    size_t list_len;
    uint32_t gen = 0, n = 0;
    int rc;

    if (identity_key == NULL || (in == NULL && in_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (in_len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_DEVICES_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    if (in_len < DEVICES_HEADER_BYTES + PARLEY_ED25519_SIGNATUREBYTES ||
        in_len > PARLEY_DEVICES_MAX_BYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    list_len = in_len - PARLEY_ED25519_SIGNATUREBYTES;
    rc = parse_list(in, list_len, &gen, &n);
    if (rc == PARLEY_OK) {
        uint8_t msg[PARLEY_DEVICES_MESSAGE_BYTES(PARLEY_DEVICES_MAX_LIST)];

        devices_message(msg, identity_key, in, list_len);
        rc = parley_ed25519_verify(identity_key, msg, PARLEY_DEVICES_MESSAGE_BYTES(list_len),
                                   in + list_len);
    }
    if (rc == PARLEY_OK) {
        if (generation != NULL) {
            *generation = gen;
        }
        if (count != NULL) {
            *count = n;
        }
    }
    return rc;
}

int parley_devices_entry(const uint8_t *in, size_t in_len, uint32_t index, uint32_t *device_id,
                         uint32_t *label_offset, uint32_t *label_len)
{
    size_t list_len, pos = DEVICES_HEADER_BYTES;
    uint32_t n = 0;
    int rc;

    if (in == NULL || in_len < PARLEY_ED25519_SIGNATUREBYTES) {
        return PARLEY_ERR_ARGUMENT;
    }
    list_len = in_len - PARLEY_ED25519_SIGNATUREBYTES;
    rc = parse_list(in, list_len, NULL, &n);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (index >= n) {
        return PARLEY_ERR_ARGUMENT;
    }
    for (uint32_t i = 0; i < index; i++) {
        pos += 5 + in[pos + 4];
    }
    if (device_id != NULL) {
        *device_id = get_u32be(in + pos);
    }
    if (label_offset != NULL) {
        *label_offset = (uint32_t)(pos + 5);
    }
    if (label_len != NULL) {
        *label_len = in[pos + 4];
    }
    return PARLEY_OK;
}
