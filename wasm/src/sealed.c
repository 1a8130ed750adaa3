/*
 * Sealed sender envelopes (docs/PROTOCOL.md section 13): the sender's name and a message sealed to
 * the recipient's identity key, so that a mailbox stores them without learning who sent them.
 *
 *   envelope = u8(0x01) || E_pub (32) || c1 (32 + 16) || c2 (content + 16)
 *   DH1      = X25519(e, IK_R)
 *   k1 || ck = HKDF(ikm = DH1, salt = empty, info = "parley-sealed-v1" || E_pub || IK_R, L = 64)
 *   c1       = AEAD(k1, 0 x 12, u8(0x01) || E_pub, IK_S)
 *   DH2      = X25519(IK_S, IK_R)
 *   k2       = HKDF(ikm = ck || DH2, salt = empty, info = "parley-sealed-v1-static" || c1, L = 32)
 *   c2       = AEAD(k2, 0 x 12, u8(0x01) || E_pub || c1, content)
 *   content  = u8(name_len) || name || u32(msg_len) || msg || zero padding to a size class
 *
 * IK_R and IK_S are Ed25519 identity keys (in the info and in c1), used in their X25519 forms for
 * DH1 and DH2. Every key is used for one envelope only (e is fresh), so the nonces are zero.
 * Opening decrypts into a scratch buffer and writes nothing before both tags verified and the
 * content parsed.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

static const size_t size_classes[] = {512, 2048, 8192, 32768, PARLEY_SEALED_MAX};
static const uint8_t zero_nonce[PARLEY_AEAD_NONCEBYTES] = {0};

static int is_size_class(size_t len)
{
    for (size_t i = 0; i < sizeof size_classes / sizeof size_classes[0]; i++) {
        if (len == size_classes[i]) {
            return 1;
        }
    }
    return 0;
}

size_t parley_sealed_size(size_t name_len, size_t message_len)
{
    size_t need;

    if (name_len == 0 || name_len > PARLEY_SEALED_NAME_MAX || message_len > PARLEY_SEALED_MAX) {
        return 0;
    }
    need = PARLEY_SEALED_OVERHEAD + PARLEY_SEALED_CONTENT_FIXED + name_len + message_len;
    for (size_t i = 0; i < sizeof size_classes / sizeof size_classes[0]; i++) {
        if (need <= size_classes[i]) {
            return size_classes[i];
        }
    }
    return 0;
}

int sealed_kdf_ephemeral(uint8_t k1[32], uint8_t ck[32], const uint8_t dh1[32],
                         const uint8_t e_pub[32], const uint8_t ik_r[32])
{
    enum { LABEL_LEN = sizeof(PARLEY_LABEL_SEALED) - 1 };
    uint8_t info[LABEL_LEN + 64], okm[64];
    int rc;

    memcpy(info, PARLEY_LABEL_SEALED, LABEL_LEN);
    memcpy(info + LABEL_LEN, e_pub, 32);
    memcpy(info + LABEL_LEN + 32, ik_r, 32);
    rc = parley_hkdf_sha256(okm, sizeof okm, dh1, 32, NULL, 0, info, sizeof info);
    if (rc == PARLEY_OK) {
        memcpy(k1, okm, 32);
        memcpy(ck, okm + 32, 32);
    }
    PARLEY_WIPE(okm);
    return rc;
}

int sealed_kdf_static(uint8_t k2[32], const uint8_t ck[32], const uint8_t dh2[32],
                      const uint8_t c1[PARLEY_SEALED_C1_BYTES])
{
    enum { LABEL_LEN = sizeof(PARLEY_LABEL_SEALED_STATIC) - 1 };
    uint8_t info[LABEL_LEN + PARLEY_SEALED_C1_BYTES], ikm[64];
    int rc;

    memcpy(info, PARLEY_LABEL_SEALED_STATIC, LABEL_LEN);
    memcpy(info + LABEL_LEN, c1, PARLEY_SEALED_C1_BYTES);
    memcpy(ikm, ck, 32);
    memcpy(ikm + 32, dh2, 32);
    rc = parley_hkdf_sha256(k2, 32, ikm, sizeof ikm, NULL, 0, info, sizeof info);
    PARLEY_WIPE(ikm);
    return rc;
}

void sealed_content_write(uint8_t *content, size_t content_len, const uint8_t *name,
                          size_t name_len, const uint8_t *msg, size_t msg_len)
{
    size_t used = PARLEY_SEALED_CONTENT_FIXED + name_len + msg_len;

    content[0] = (uint8_t)name_len;
    memcpy(content + 1, name, name_len);
    put_u32be(content + 1 + name_len, (uint32_t)msg_len);
    if (msg_len != 0) {
        memcpy(content + PARLEY_SEALED_CONTENT_FIXED + name_len, msg, msg_len);
    }
    memset(content + used, 0, content_len - used);
}

/* What the sender derives before it touches the output: E_pub, c1 and k2. */
struct sender_keys {
    uint8_t e_pub[32];
    uint8_t c1[PARLEY_SEALED_C1_BYTES];
    uint8_t k2[32];
};

static int sender_keys(struct sender_keys *k, const struct parley_account *sender,
                       const uint8_t ik_r[32], const uint8_t e[32])
{
    uint8_t ik_r_x[32], dh[32], k1[32], ck[32], ad[1 + 32];
    int rc = PARLEY_OK;

    if (crypto_sign_ed25519_pk_to_curve25519(ik_r_x, ik_r) != 0 ||
        crypto_scalarmult_curve25519_base(k->e_pub, e) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
        goto out;
    }
    /* DH1 */
    if (crypto_scalarmult_curve25519(dh, e, ik_r_x) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
        goto out;
    }
    rc = sealed_kdf_ephemeral(k1, ck, dh, k->e_pub, ik_r); /* k1 || ck */
    if (rc != PARLEY_OK) {
        goto out;
    }
    ad[0] = PARLEY_SEALED_VERSION;
    memcpy(ad + 1, k->e_pub, 32);
    rc = parley_aead_seal(k->c1, k1, zero_nonce, ad, sizeof ad, sender->identity_pub, 32); /* c1 */
    if (rc != PARLEY_OK) {
        goto out;
    }
    /* DH2 */
    if (crypto_scalarmult_curve25519(dh, sender->identity_xpriv, ik_r_x) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
        goto out;
    }
    rc = sealed_kdf_static(k->k2, ck, dh, k->c1); /* k2 */
out:
    PARLEY_WIPE(dh);
    PARLEY_WIPE(k1);
    PARLEY_WIPE(ck);
    if (rc != PARLEY_OK) {
        sodium_memzero(k, sizeof *k);
    }
    return rc;
}

/* Writes version || E_pub || c1 and seals content_len bytes of content as c2 after them. */
static int write_envelope(uint8_t *out, const struct sender_keys *k, const uint8_t *content,
                          size_t content_len)
{
    out[0] = PARLEY_SEALED_VERSION;
    memcpy(out + 1, k->e_pub, 32);
    memcpy(out + 33, k->c1, PARLEY_SEALED_C1_BYTES);
    return parley_aead_seal(out + PARLEY_SEALED_HEADER_BYTES, k->k2, zero_nonce, out,
                            PARLEY_SEALED_HEADER_BYTES, content, content_len);
}

int sealed_encrypt_with(const struct parley_account *sender, const uint8_t ik_r[32],
                        const uint8_t e[32], const uint8_t *content, size_t content_len,
                        uint8_t *out)
{
    struct sender_keys k;
    int rc;

    if (content_len > PARLEY_SEALED_MAX - PARLEY_SEALED_OVERHEAD) {
        return PARLEY_ERR_TOO_LARGE;
    }
    rc = sender_keys(&k, sender, ik_r, e);
    if (rc == PARLEY_OK) {
        rc = write_envelope(out, &k, content, content_len);
    }
    PARLEY_WIPE(k);
    return rc;
}

/* The checks both seal functions make before anything else: 0 and the envelope size, or why. */
static int seal_size(size_t name_len, size_t msg_len, size_t cap, size_t *size)
{
    if (name_len == 0 || name_len > PARLEY_SEALED_NAME_MAX) {
        return PARLEY_ERR_ARGUMENT;
    }
    *size = parley_sealed_size(name_len, msg_len);
    if (*size == 0) {
        return PARLEY_ERR_TOO_LARGE;
    }
    return cap < *size ? PARLEY_ERR_BUFFER : PARLEY_OK;
}

int sealed_seal_with(const struct parley_account *sender, const uint8_t ik_r[32],
                     const uint8_t *name, size_t name_len, const uint8_t *msg, size_t msg_len,
                     const uint8_t e[32], uint8_t *out, size_t cap, size_t *out_len)
{
    struct sender_keys k;
    size_t size = 0;
    int rc = seal_size(name_len, msg_len, cap, &size);

    if (rc != PARLEY_OK) {
        return rc;
    }
    rc = sender_keys(&k, sender, ik_r, e);
    if (rc == PARLEY_OK) {
        /* The content is written where c2 goes and sealed in place. */
        size_t content_len = size - PARLEY_SEALED_OVERHEAD;

        sealed_content_write(out + PARLEY_SEALED_HEADER_BYTES, content_len, name, name_len, msg,
                             msg_len);
        rc = write_envelope(out, &k, out + PARLEY_SEALED_HEADER_BYTES, content_len);
        if (rc == PARLEY_OK) {
            *out_len = size;
        } else {
            sodium_memzero(out, size);
        }
    }
    PARLEY_WIPE(k);
    return rc;
}

int parley_sealed_seal(const parley_account *sender,
                       const uint8_t recipient_identity[PARLEY_KEY_BYTES], const uint8_t *name,
                       size_t name_len, const uint8_t *message, size_t message_len, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    uint8_t e[32];
    size_t size = 0;
    int rc;

    if (sender == NULL || recipient_identity == NULL || name == NULL || out == NULL ||
        out_len == NULL || (message == NULL && message_len != 0)) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = seal_size(name_len, message_len, out_cap, &size);
    if (rc == PARLEY_OK) {
        rc = parley_random(e, sizeof e);
    }
    if (rc == PARLEY_OK) {
        rc = sealed_seal_with(sender, recipient_identity, name, name_len, message, message_len, e,
                              out, out_cap, out_len);
    }
    PARLEY_WIPE(e);
    return rc;
}

/* Finds name and message in authenticated content; MALFORMED unless every field is in range and
 * the padding is zero. */
static int parse_content(const uint8_t *content, size_t len, size_t *name_len, size_t *msg_len)
{
    size_t n_name, n_msg, used;

    n_name = content[0];
    if (n_name == 0 || n_name > PARLEY_SEALED_NAME_MAX ||
        len < PARLEY_SEALED_CONTENT_FIXED + n_name) {
        return PARLEY_ERR_MALFORMED;
    }
    n_msg = get_u32be(content + 1 + n_name);
    if (n_msg > len - PARLEY_SEALED_CONTENT_FIXED - n_name) {
        return PARLEY_ERR_MALFORMED;
    }
    used = PARLEY_SEALED_CONTENT_FIXED + n_name + n_msg;
    if (!sodium_is_zero(content + used, len - used)) {
        return PARLEY_ERR_MALFORMED;
    }
    *name_len = n_name;
    *msg_len = n_msg;
    return PARLEY_OK;
}

int parley_sealed_open(const parley_account *recipient, const uint8_t *envelope,
                       size_t envelope_len, uint8_t sender_identity[PARLEY_KEY_BYTES],
                       uint8_t *name, size_t name_cap, size_t *name_len, uint8_t *message,
                       size_t message_cap, size_t *message_len)
{
    const uint8_t *e_pub, *c1, *c2;
    uint8_t dh[32], k1[32], ck[32], k2[32], ik_s[32], ik_s_x[32], *content = NULL;
    size_t content_len = 0, n_name = 0, n_msg = 0;
    int rc;

    if (sender_identity == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (recipient == NULL || envelope == NULL || name_len == NULL || message_len == NULL ||
        (name == NULL && name_cap != 0) || (message == NULL && message_cap != 0)) {
        rc = PARLEY_ERR_ARGUMENT;
        goto out;
    }
    if (envelope_len < 1) {
        rc = PARLEY_ERR_MALFORMED;
        goto out;
    }
    if (envelope[0] != PARLEY_SEALED_VERSION) {
        rc = PARLEY_ERR_VERSION;
        goto out;
    }
    if (!is_size_class(envelope_len)) {
        rc = PARLEY_ERR_MALFORMED;
        goto out;
    }
    e_pub = envelope + 1;
    c1 = envelope + 33;
    c2 = envelope + PARLEY_SEALED_HEADER_BYTES;
    content_len = envelope_len - PARLEY_SEALED_OVERHEAD;
    /* DH1 */
    if (crypto_scalarmult_curve25519(dh, recipient->identity_xpriv, e_pub) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
        goto out;
    }
    rc = sealed_kdf_ephemeral(k1, ck, dh, e_pub, recipient->identity_pub);
    if (rc != PARLEY_OK) {
        goto out;
    }
    rc = parley_aead_open(ik_s, k1, zero_nonce, envelope, 33, c1, PARLEY_SEALED_C1_BYTES);
    if (rc != PARLEY_OK) {
        goto out;
    }
    /* DH2, with the sender identity c1 names (authenticated only once c2 opens) */
    if (crypto_sign_ed25519_pk_to_curve25519(ik_s_x, ik_s) != 0 ||
        crypto_scalarmult_curve25519(dh, recipient->identity_xpriv, ik_s_x) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
        goto out;
    }
    rc = sealed_kdf_static(k2, ck, dh, c1);
    if (rc != PARLEY_OK) {
        goto out;
    }
    content = malloc(content_len);
    if (content == NULL) {
        rc = PARLEY_ERR_NO_MEMORY;
        goto out;
    }
    rc = parley_aead_open(content, k2, zero_nonce, envelope, PARLEY_SEALED_HEADER_BYTES, c2,
                          content_len + PARLEY_AEAD_TAGBYTES);
    if (rc != PARLEY_OK) {
        goto out;
    }
    rc = parse_content(content, content_len, &n_name, &n_msg);
    if (rc != PARLEY_OK) {
        goto out;
    }
    if (name_cap < n_name || message_cap < n_msg) {
        rc = PARLEY_ERR_BUFFER;
        goto out;
    }
    /* Authenticated and well formed: commit. */
    memcpy(sender_identity, ik_s, 32);
    memcpy(name, content + 1, n_name);
    if (n_msg != 0) {
        memcpy(message, content + PARLEY_SEALED_CONTENT_FIXED + n_name, n_msg);
    }
    *name_len = n_name;
    *message_len = n_msg;
out:
    PARLEY_WIPE(dh);
    PARLEY_WIPE(k1);
    PARLEY_WIPE(ck);
    PARLEY_WIPE(k2);
    PARLEY_WIPE(ik_s);
    PARLEY_WIPE(ik_s_x);
    if (content != NULL) {
        sodium_memzero(content, content_len);
        free(content);
    }
    if (rc != PARLEY_OK) {
        sodium_memzero(sender_identity, PARLEY_KEY_BYTES);
    }
    return rc;
}
