/*
 * The core's internal state and the deterministic entry points behind the public API. Every
 * function here takes its random bytes as arguments; the public wrappers draw them. Tests and
 * parley-tool's `vectors` call these directly to replay fixed-randomness conversations.
 */
#ifndef PARLEY_STATE_H
#define PARLEY_STATE_H

#include "internal.h"

/* KDF labels (docs/PROTOCOL.md, "Key derivation"). */
#define PARLEY_LABEL_X3DH "parley-x3dh-v1"
#define PARLEY_LABEL_RATCHET "parley-ratchet-v1"
#define PARLEY_LABEL_MESSAGE_KEYS "parley-message-keys-v1"
#define PARLEY_LABEL_SPK "parley-spk-v1"
#define PARLEY_LABEL_CHALLENGE "parley-challenge-v1"
#define PARLEY_LABEL_FINGERPRINT "parley-fingerprint-v1"
#define PARLEY_LABEL_SEALED "parley-sealed-v1"
#define PARLEY_LABEL_SEALED_STATIC "parley-sealed-v1-static"
#define PARLEY_LABEL_DEVICES "parley-devices-v1"
#define PARLEY_LABEL_IDENTITY "parley-identity-v1"
#define PARLEY_LABEL_PQXDH "parley-pqxdh-v2"
#define PARLEY_LABEL_KEM_PREKEY "parley-kem-prekey-v1"

#define PARLEY_BUNDLE_VERSION 0x01
#define PARLEY_STATE_VERSION 0x01
#define PARLEY_STATE_KIND_ACCOUNT 0x41 /* 'A' */
#define PARLEY_STATE_KIND_SESSION 0x53 /* 'S' */

/* Wire sizes. */
#define PARLEY_HEADER_BYTES 41 /* type(1) dh(32) pn(4) n(4) */
#define PARLEY_PREKEY_PREFIX_BYTES 74 /* type(1) ik(32) ek(32) spk_id(4) has_opk(1) opk_id(4) */
/* PQXDH (protocol version 2) initial message: the X3DH prefix, then kem_id(4) kem_ct(1568). */
#define PARLEY_PQ_PREFIX_BYTES (PARLEY_PREKEY_PREFIX_BYTES + 4 + PARLEY_MLKEM_CIPHERTEXTBYTES)
#define PARLEY_AD_BYTES 64
#define PARLEY_KEM_SIGNED_BYTES (sizeof(PARLEY_LABEL_KEM_PREKEY) - 1 + 4 + PARLEY_MLKEM_PUBLICKEYBYTES)
#define PARLEY_SPK_SIGNED_BYTES (sizeof(PARLEY_LABEL_SPK) - 1 + 4 + 32)
/* Sealed envelope: version(1) E_pub(32) c1(32 + 16) c2(content + 16). */
#define PARLEY_SEALED_C1_BYTES (32 + PARLEY_AEAD_TAGBYTES)
#define PARLEY_SEALED_HEADER_BYTES (1 + 32 + PARLEY_SEALED_C1_BYTES)                /* 81 */
#define PARLEY_SEALED_OVERHEAD (PARLEY_SEALED_HEADER_BYTES + PARLEY_AEAD_TAGBYTES) /* 97 */
#define PARLEY_SEALED_CONTENT_FIXED 5 /* u8(name_len) u32(msg_len) */

struct parley_prekey {
    uint32_t id;
    uint8_t pub[32];
    uint8_t priv[32];
    uint8_t published;
};

struct parley_signed_prekey {
    uint32_t id;
    uint8_t pub[32];
    uint8_t priv[32];
    uint8_t sig[64];
};

/* An ML-KEM-1024 prekey, kept in seed form (d || z); its keys are derived when needed. */
struct parley_kem_prekey {
    uint32_t id;
    uint8_t seed[PARLEY_MLKEM_SEEDBYTES];
    uint8_t sig[64]; /* Ed25519 over "parley-kem-prekey-v1" || id || encapsulation key */
    uint8_t published;
};

struct parley_account {
    uint8_t identity_seed[32]; /* Ed25519 seed: the identity secret */
    uint8_t identity_pub[32];  /* Ed25519 public key */
    uint8_t identity_xpriv[32]; /* X25519 private key derived from the seed */
    uint8_t identity_xpub[32];  /* X25519 public key derived from identity_pub */
    struct parley_signed_prekey spk;
    struct parley_signed_prekey spk_prev;
    uint8_t has_prev;
    uint32_t next_spk_id;
    uint32_t next_opk_id;
    size_t n_opk;
    struct parley_prekey opk[PARLEY_MAX_ONE_TIME_PREKEYS];
    /* PQXDH: the last-resort KEM prekey (absent in accounts sealed before version 2 until
     * rotated in), the one it replaced, and the one-time KEM prekeys. One id counter for all. */
    uint8_t has_kem;
    uint8_t has_kem_prev;
    struct parley_kem_prekey kem;
    struct parley_kem_prekey kem_prev;
    uint32_t next_kem_id;
    size_t n_kem_otk;
    struct parley_kem_prekey kem_otk[PARLEY_MAX_KEM_PREKEYS];
};

struct parley_skipped {
    uint8_t pub[32];
    uint32_t n;
    uint8_t mk[32];
};

struct parley_old_chain {
    uint8_t pub[32];
    uint32_t end; /* messages n < end of this chain existed */
};

struct parley_ratchet {
    uint8_t rk[32];
    uint8_t dhs_priv[32];
    uint8_t dhs_pub[32];
    uint8_t dhr[32];
    uint8_t cks[32];
    uint8_t ckr[32];
    uint8_t has_dhr;
    uint8_t has_cks;
    uint8_t has_ckr;
    uint32_t ns, nr, pn;
    uint8_t n_old;
    struct parley_old_chain old[PARLEY_MAX_RECEIVING_CHAINS]; /* oldest first */
    size_t n_skipped;
    size_t cap_skipped;
    struct parley_skipped *skipped; /* heap, at most PARLEY_MAX_SKIPPED_KEYS */
};

enum parley_role { PARLEY_ROLE_INITIATOR = 0, PARLEY_ROLE_RESPONDER = 1 };

struct parley_session {
    uint8_t role;
    uint8_t ad[PARLEY_AD_BYTES]; /* IK_A || IK_B (initiator's identity first) */
    uint8_t base_key[32];        /* EK_A: the initiator's ephemeral key */
    uint8_t pending;             /* initiator: still sending prekey messages */
    uint32_t spk_id;
    uint8_t has_opk;
    uint32_t opk_id;
    uint8_t version;  /* 1: X3DH; 2: PQXDH */
    uint32_t kem_id;  /* version 2: the KEM prekey used, and the ciphertext sent to it */
    uint8_t kem_ct[PARLEY_MLKEM_CIPHERTEXTBYTES];
    struct parley_ratchet r;
};

/* ---- account.c ---- */
int account_init(struct parley_account *a, const uint8_t identity_seed[32],
                 const uint8_t spk_random[32]);
int account_rotate_spk_with(struct parley_account *a, const uint8_t random[32]);
int account_add_prekeys_with(struct parley_account *a, size_t count, const uint8_t *random);
void account_spk_message(uint8_t out[PARLEY_SPK_SIGNED_BYTES], uint32_t id, const uint8_t pub[32]);

/* What an identity key signs for a device list (docs/PROTOCOL.md 14.1): "parley-devices-v1" ||
 * identity_key || list, written into out, PARLEY_DEVICES_MESSAGE_BYTES(list_len) bytes. */
#define PARLEY_DEVICES_MESSAGE_BYTES(list_len) (sizeof(PARLEY_LABEL_DEVICES) - 1 + 32 + (list_len))
void devices_message(uint8_t *out, const uint8_t identity_key[32], const uint8_t *list,
                     size_t list_len);
int account_derive_keys(struct parley_account *a);
void account_wipe(struct parley_account *a);

/* ---- kemkeys.c ---- */
/* A signed KEM prekey as it travels: id(4) || encapsulation key(1568) || signature(64). */
struct parley_kem_bundle {
    uint32_t id;
    uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES];
    uint8_t sig[64];
};
void account_kem_message(uint8_t out[PARLEY_KEM_SIGNED_BYTES], uint32_t id,
                         const uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES]);
/* A new last-resort KEM prekey from 64 random bytes; the current one becomes the previous. */
int account_rotate_kem_with(struct parley_account *a, const uint8_t random[64]);
/* count one-time KEM prekeys from 64 * count random bytes. */
int account_add_kem_prekeys_with(struct parley_account *a, size_t count, const uint8_t *random);
/* The KEM prekey of an id (one-time first, then the last-resort and the previous one), NULL when
 * the account holds none; *index is the one-time index or -1. */
const struct parley_kem_prekey *account_find_kem(const struct parley_account *a, uint32_t id,
                                                 long *index);
void account_consume_kem(struct parley_account *a, long index);
/* The expanded decapsulation key of a prekey (wipe it after use). */
int account_kem_secret(const struct parley_kem_prekey *k, uint8_t sk[PARLEY_MLKEM_SECRETKEYBYTES]);
/* Writes a KEM prekey as it travels (PARLEY_KEM_PREKEY_BYTES). */
int account_kem_record(const struct parley_kem_prekey *k, uint8_t out[PARLEY_KEM_PREKEY_BYTES]);
int kem_bundle_parse(struct parley_kem_bundle *kb, const uint8_t *in, size_t len);

/* ---- transfer.c ---- */
/* The identity transfer with a given nonce (never reuse one under a key). */
int account_export_identity_with(const struct parley_account *a, const uint8_t key[32],
                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                 uint8_t out[PARLEY_IDENTITY_TRANSFER_BYTES]);
/* Opens a transfer and initialises a as a new device of its identity, with the signed prekey of
 * spk_random. A refused transfer leaves a as it was; a that account_init refuses is wiped. */
int account_new_linked_with(struct parley_account *a, const uint8_t key[32], const uint8_t *in,
                            size_t in_len, const uint8_t spk_random[32]);

/* ---- x3dh.c ---- */
struct parley_bundle {
    uint8_t ik[32];
    uint32_t spk_id;
    uint8_t spk[32];
    uint8_t spk_sig[64];
    uint8_t has_opk;
    uint32_t opk_id;
    uint8_t opk[32];
};
int bundle_parse_single(struct parley_bundle *b, const uint8_t *in, size_t len);
int session_outbound_with(struct parley_session *s, const struct parley_account *a,
                          const struct parley_bundle *b, const uint8_t ek_random[32],
                          const uint8_t ratchet_random[32], uint8_t sk_out[32]);
/* PQXDH as the initiator: the X3DH of session_outbound_with plus an encapsulation to the signed
 * KEM prekey kb (verified against the bundle's identity key) with kem_coins. */
int session_outbound_pq_with(struct parley_session *s, const struct parley_account *a,
                             const struct parley_bundle *b, const struct parley_kem_bundle *kb,
                             const uint8_t ek_random[32], const uint8_t ratchet_random[32],
                             const uint8_t kem_coins[32], uint8_t sk_out[32]);
/* Answers an X3DH (type 0x02) or PQXDH (type 0x03) initial message. */
int session_inbound_with(struct parley_session *s, struct parley_account *a,
                         const uint8_t *msg, size_t len, uint8_t *pt, size_t cap, size_t *pt_len,
                         const uint8_t ratchet_random[32], uint8_t sk_out[32]);

/* ---- ratchet.c ---- */
int ratchet_init_initiator(struct parley_ratchet *r, const uint8_t sk[32],
                           const uint8_t their_spk[32], const uint8_t random[32]);
void ratchet_init_responder(struct parley_ratchet *r, const uint8_t sk[32],
                            const uint8_t spk_priv[32], const uint8_t spk_pub[32]);
int ratchet_encrypt(struct parley_ratchet *r, const uint8_t ad[PARLEY_AD_BYTES],
                    const uint8_t *pt, size_t pt_len, uint8_t *out);
int ratchet_decrypt(struct parley_ratchet *r, const uint8_t ad[PARLEY_AD_BYTES],
                    const uint8_t *msg, size_t len, uint8_t *pt, const uint8_t random[32]);
void ratchet_wipe(struct parley_ratchet *r);
void kdf_rk(uint8_t rk_out[32], uint8_t ck_out[32], const uint8_t rk[32], const uint8_t dh[32]);
void kdf_ck(uint8_t mk_out[32], uint8_t ck_out[32], const uint8_t ck[32]);
void message_keys(uint8_t key[32], uint8_t nonce[12], const uint8_t mk[32]);

/* ---- session.c ---- */
int session_encrypt(struct parley_session *s, const uint8_t *pt, size_t pt_len, uint8_t *out,
                    size_t cap, size_t *out_len);
int session_decrypt_with(struct parley_session *s, const uint8_t *msg, size_t len, uint8_t *pt,
                         size_t cap, size_t *pt_len, const uint8_t random[32]);
void session_wipe(struct parley_session *s);

/* ---- pickle.c ---- */
int seal_state(uint8_t kind, const uint8_t *plain, size_t plain_len, const uint8_t key[32],
               const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len);
size_t account_plain_size(const struct parley_account *a);
size_t session_plain_size(const struct parley_session *s);
int account_seal_with(const struct parley_account *a, const uint8_t key[32],
                      const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len);
int session_seal_with(const struct parley_session *s, const uint8_t key[32],
                      const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len);

/* ---- sealed.c ---- */
/* (k1 || ck) and k2 of docs/PROTOCOL.md 13.2; 0 (HKDF cannot fail for these lengths). */
int sealed_kdf_ephemeral(uint8_t k1[32], uint8_t ck[32], const uint8_t dh1[32],
                         const uint8_t e_pub[32], const uint8_t ik_r[32]);
int sealed_kdf_static(uint8_t k2[32], const uint8_t ck[32], const uint8_t dh2[32],
                      const uint8_t c1[PARLEY_SEALED_C1_BYTES]);
/* content = u8(name_len) || name || u32(msg_len) || msg || zeros, content_len bytes in all (the
 * caller checked that it fits). */
void sealed_content_write(uint8_t *content, size_t content_len, const uint8_t *name,
                          size_t name_len, const uint8_t *msg, size_t msg_len);
/* Seals any content_len (<= PARLEY_SEALED_MAX - PARLEY_SEALED_OVERHEAD) bytes of content as-is
 * with ephemeral private key e, writing PARLEY_SEALED_OVERHEAD + content_len bytes to out; content
 * may be out + PARLEY_SEALED_HEADER_BYTES (in place) or must not overlap out. Tests use it to
 * build envelopes a correct sender never makes. */
int sealed_encrypt_with(const struct parley_account *sender, const uint8_t ik_r[32],
                        const uint8_t e[32], const uint8_t *content, size_t content_len,
                        uint8_t *out);
int sealed_seal_with(const struct parley_account *sender, const uint8_t ik_r[32],
                     const uint8_t *name, size_t name_len, const uint8_t *msg, size_t msg_len,
                     const uint8_t e[32], uint8_t *out, size_t cap, size_t *out_len);

#endif
