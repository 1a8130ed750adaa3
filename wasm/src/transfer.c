/*
 * Identity transfer (docs/PROTOCOL.md section 14.2): the identity seed sealed under a key that the
 * web app's provisioning channel gives both browsers, so that a new browser becomes another
 * device of the same identity.
 *
 *   transfer = u8(0x01) || nonce (12) || AEAD(key, nonce, "parley-identity-v1" || u8(0x01), seed)
 *
 * The new device takes only the seed: it draws its own signed prekey (id 1) and makes its own
 * one-time prekeys and sessions. The seed is decrypted into a local copy that is wiped on every
 * path, and the account is created only once the tag verified.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define TRANSFER_AD_BYTES (sizeof(PARLEY_LABEL_IDENTITY) - 1 + 1)
#define TRANSFER_HEADER_BYTES (1 + PARLEY_AEAD_NONCEBYTES)

/* "parley-identity-v1" || u8(0x01): binds the ciphertext to its purpose and version. */
static void transfer_ad(uint8_t ad[TRANSFER_AD_BYTES])
{
    memcpy(ad, PARLEY_LABEL_IDENTITY, TRANSFER_AD_BYTES - 1);
    ad[TRANSFER_AD_BYTES - 1] = PARLEY_IDENTITY_TRANSFER_VERSION;
}

int account_export_identity_with(const struct parley_account *a, const uint8_t key[32],
                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                 uint8_t out[PARLEY_IDENTITY_TRANSFER_BYTES])
{
    uint8_t ad[TRANSFER_AD_BYTES];

    /* out holds only the version, the nonce and ciphertext: nothing secret to stage elsewhere. */
    transfer_ad(ad);
    out[0] = PARLEY_IDENTITY_TRANSFER_VERSION;
    memcpy(out + 1, nonce, PARLEY_AEAD_NONCEBYTES);
    return parley_aead_seal(out + TRANSFER_HEADER_BYTES, key, nonce, ad, sizeof ad,
                            a->identity_seed, 32);
}

int account_new_linked_with(struct parley_account *a, const uint8_t key[32], const uint8_t *in,
                            size_t in_len, const uint8_t spk_random[32])
{
    uint8_t ad[TRANSFER_AD_BYTES], seed[32];
    int rc;

    if (in_len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_IDENTITY_TRANSFER_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    if (in_len != PARLEY_IDENTITY_TRANSFER_BYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    transfer_ad(ad);
    /* parley_aead_open zeroes seed when the tag does not verify. */
    rc = parley_aead_open(seed, key, in + 1, ad, sizeof ad, in + TRANSFER_HEADER_BYTES,
                          in_len - TRANSFER_HEADER_BYTES);
    if (rc == PARLEY_OK) {
        rc = account_init(a, seed, spk_random); /* a is written from here on, wiped on failure */
    }
    PARLEY_WIPE(seed);
    return rc;
}

int parley_account_export_identity(const parley_account *account,
                                   const uint8_t key[PARLEY_KEY_BYTES],
                                   uint8_t out[PARLEY_IDENTITY_TRANSFER_BYTES])
{
    uint8_t nonce[PARLEY_AEAD_NONCEBYTES];
    int rc;

    if (account == NULL || key == NULL || out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(nonce, sizeof nonce);
    if (rc == PARLEY_OK) {
        rc = account_export_identity_with(account, key, nonce, out);
    }
    return rc;
}

int parley_account_new_linked(parley_account **out, const uint8_t key[PARLEY_KEY_BYTES],
                              const uint8_t *in, size_t in_len)
{
    uint8_t spk_random[32];
    struct parley_account *a;
    int rc;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    if (key == NULL || (in == NULL && in_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    a = malloc(sizeof *a);
    if (a == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_random(spk_random, sizeof spk_random);
    if (rc == PARLEY_OK) {
        rc = account_new_linked_with(a, key, in, in_len, spk_random);
    }
    PARLEY_WIPE(spk_random);
    if (rc == PARLEY_OK) {
        rc = parley_account_rotate_kem_prekey(a); /* its own last-resort KEM prekey */
    }
    if (rc != PARLEY_OK) {
        account_wipe(a);
        free(a);
        return rc;
    }
    *out = a;
    return PARLEY_OK;
}
