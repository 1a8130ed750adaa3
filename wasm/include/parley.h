/*
 * Parley crypto core: the public C API.
 *
 * Conventions (see docs/PROTOCOL.md for the protocol itself):
 * - Every function returns an int: 0 (PARLEY_OK) on success, a negative enum parley_error otherwise;
 *   parley_strerror() names it.
 * - Sizes are written into the signatures and exist both as a #define and as a function, so the
 *   JavaScript binding can ask at run time.
 * - Outputs are written only on success; on failure secret outputs are zeroed.
 * - Every function marked PARLEY_API is exported to WebAssembly: the export list is generated from
 *   this header (wasm/tools/gen-exports.mjs), never maintained by hand.
 */
#ifndef PARLEY_H
#define PARLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PARLEY_NODISCARD __attribute__((warn_unused_result))
#else
#define PARLEY_NODISCARD
#endif

/* Marks the exported API; the export generator looks for it at the start of a declaration. */
#define PARLEY_API

#define PARLEY_VERSION_STRING "0.1.0"

enum parley_error {
    PARLEY_OK = 0,
    PARLEY_ERR_ARGUMENT = -1,   /* a NULL pointer or an impossible length */
    PARLEY_ERR_INIT = -2,       /* parley_init() failed or was not called */
    PARLEY_ERR_AUTH = -3,       /* authentication failed: tag or signature does not verify */
    PARLEY_ERR_WEAK_KEY = -4,   /* a Diffie-Hellman result was all zeros (low-order point) */
    PARLEY_ERR_TOO_LARGE = -5,  /* an input or output exceeds a documented limit */
    PARLEY_ERR_NO_MEMORY = -6,  /* an allocation failed */
    PARLEY_ERR_BAD_SIGNATURE = -7, /* an Ed25519 signature does not verify */
    PARLEY_ERR_VERSION = -8,    /* a message or state of an unknown version */
    PARLEY_ERR_MALFORMED = -9,  /* truncated, trailing bytes, or a field out of range */
    PARLEY_ERR_DUPLICATE = -10, /* a message that was already decrypted (replay) */
    PARLEY_ERR_LIMIT = -11,     /* a named limit (skipped keys, gap, chains, prekeys) is reached */
    PARLEY_ERR_UNKNOWN_PREKEY = -12, /* a prekey message names a prekey this account lacks */
    PARLEY_ERR_STATE = -13,     /* the operation does not fit the object's state */
    PARLEY_ERR_BUFFER = -14,    /* the output buffer is too small: ask the length first */
    /* Rooms (docs/PROTOCOL.md section 20). */
    PARLEY_ERR_NOT_ADMIN = -15,  /* a room change signed by a key that is not an admin there */
    PARLEY_ERR_STALE = -16,      /* a room version not above the current one (replay, rollback) */
    PARLEY_ERR_OTHER_ROOM = -17, /* a descriptor, statement or challenge of another room */
    PARLEY_ERR_EXPIRED = -18,    /* a challenge issued too long ago or in the future */
    PARLEY_ERR_NOT_MEMBER = -19  /* a key that the room's descriptor does not list */
};

/* Initialises the core (libsodium, the randomness source). Safe to call more than once. */
PARLEY_API PARLEY_NODISCARD int parley_init(void);

/* The core's version, "MAJOR.MINOR.PATCH"; a static string. */
PARLEY_API const char *parley_version(void);

/* A short English description of an error code; a static string, never NULL. */
PARLEY_API const char *parley_strerror(int code);

/* Fills buf with len bytes from the operating system's (or browser's) secure generator. */
PARLEY_API PARLEY_NODISCARD int parley_random(uint8_t *buf, size_t len);

/* ---- AES-256-GCM: 256-bit key, 96-bit nonce, 128-bit tag ------------------------------------ */

#define PARLEY_AEAD_KEYBYTES 32
#define PARLEY_AEAD_NONCEBYTES 12
#define PARLEY_AEAD_TAGBYTES 16
/* The largest plaintext one call accepts (GCM allows 2^36 - 32 bytes; we cap far below). */
#define PARLEY_AEAD_MAX_PLAINTEXT ((size_t)1 << 30)

PARLEY_API size_t parley_aead_keybytes(void);
PARLEY_API size_t parley_aead_noncebytes(void);
PARLEY_API size_t parley_aead_tagbytes(void);

/*
 * Encrypts pt_len bytes of pt and writes ciphertext || tag (pt_len + PARLEY_AEAD_TAGBYTES bytes)
 * to out. out may equal pt (in place); otherwise the buffers must not overlap.
 * ad may be NULL when ad_len is 0; pt may be NULL when pt_len is 0.
 */
PARLEY_API PARLEY_NODISCARD int parley_aead_seal(uint8_t *out,
                                                 const uint8_t key[PARLEY_AEAD_KEYBYTES],
                                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                                 const uint8_t *ad, size_t ad_len,
                                                 const uint8_t *pt, size_t pt_len);

/*
 * Verifies and decrypts ct (ciphertext || tag, ct_len >= PARLEY_AEAD_TAGBYTES) and writes
 * ct_len - PARLEY_AEAD_TAGBYTES bytes of plaintext to out. out may equal ct; otherwise the
 * buffers must not overlap. Returns
 * PARLEY_ERR_AUTH, with out zeroed, when the tag does not verify.
 */
PARLEY_API PARLEY_NODISCARD int parley_aead_open(uint8_t *out,
                                                 const uint8_t key[PARLEY_AEAD_KEYBYTES],
                                                 const uint8_t nonce[PARLEY_AEAD_NONCEBYTES],
                                                 const uint8_t *ad, size_t ad_len,
                                                 const uint8_t *ct, size_t ct_len);

/* ---- X25519 ------------------------------------------------------------------------------- */

#define PARLEY_X25519_BYTES 32

PARLEY_API size_t parley_x25519_bytes(void);

/* Derives the public key of a (clamped on use) 32-byte private scalar. */
PARLEY_API PARLEY_NODISCARD int parley_x25519_public(uint8_t pub[PARLEY_X25519_BYTES],
                                                     const uint8_t priv[PARLEY_X25519_BYTES]);

/* Creates a key pair from the secure generator. */
PARLEY_API PARLEY_NODISCARD int parley_x25519_keypair(uint8_t pub[PARLEY_X25519_BYTES],
                                                      uint8_t priv[PARLEY_X25519_BYTES]);

/*
 * shared = X25519(priv, pub). Returns PARLEY_ERR_WEAK_KEY, with shared zeroed, when the result is
 * all zeros (pub is a low-order point).
 */
PARLEY_API PARLEY_NODISCARD int parley_x25519(uint8_t shared[PARLEY_X25519_BYTES],
                                              const uint8_t priv[PARLEY_X25519_BYTES],
                                              const uint8_t pub[PARLEY_X25519_BYTES]);

/* ---- Hashes, MAC and KDF -------------------------------------------------------------- */

#define PARLEY_SHA256_BYTES 32
#define PARLEY_SHA512_BYTES 64
#define PARLEY_HMAC_BYTES 32
/* RFC 5869: at most 255 blocks of HashLen bytes. */
#define PARLEY_HKDF_MAX_OUTPUT ((size_t)255 * 32)

PARLEY_API PARLEY_NODISCARD int parley_sha256(uint8_t out[PARLEY_SHA256_BYTES], const uint8_t *in,
                                              size_t in_len);
PARLEY_API PARLEY_NODISCARD int parley_sha512(uint8_t out[PARLEY_SHA512_BYTES], const uint8_t *in,
                                              size_t in_len);

/* HMAC-SHA256 with a key of any length. */
PARLEY_API PARLEY_NODISCARD int parley_hmac_sha256(uint8_t out[PARLEY_HMAC_BYTES],
                                                   const uint8_t *key, size_t key_len,
                                                   const uint8_t *data, size_t data_len);

/*
 * HKDF-SHA256 (RFC 5869), extract then expand. An empty salt means 32 zero bytes. Returns
 * PARLEY_ERR_TOO_LARGE for out_len > PARLEY_HKDF_MAX_OUTPUT and PARLEY_ERR_ARGUMENT for 0.
 */
PARLEY_API PARLEY_NODISCARD int parley_hkdf_sha256(uint8_t *out, size_t out_len,
                                                   const uint8_t *ikm, size_t ikm_len,
                                                   const uint8_t *salt, size_t salt_len,
                                                   const uint8_t *info, size_t info_len);

/* ---- Ed25519 ------------------------------------------------------------------------------ */

#define PARLEY_ED25519_SEEDBYTES 32
#define PARLEY_ED25519_PUBLICKEYBYTES 32
#define PARLEY_ED25519_SIGNATUREBYTES 64

/* The public key of a 32-byte seed (RFC 8032's secret key). */
PARLEY_API PARLEY_NODISCARD int parley_ed25519_public(uint8_t pub[PARLEY_ED25519_PUBLICKEYBYTES],
                                                      const uint8_t seed[PARLEY_ED25519_SEEDBYTES]);

/* A deterministic RFC 8032 signature of msg under the key of seed. */
PARLEY_API PARLEY_NODISCARD int parley_ed25519_sign(uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES],
                                                    const uint8_t seed[PARLEY_ED25519_SEEDBYTES],
                                                    const uint8_t *msg, size_t msg_len);

/*
 * 0 when sig is a valid signature of msg under pub; PARLEY_ERR_BAD_SIGNATURE otherwise
 * (libsodium's strict checks: canonical S, no small-order or non-canonical public keys or R).
 */
PARLEY_API PARLEY_NODISCARD int parley_ed25519_verify(
    const uint8_t pub[PARLEY_ED25519_PUBLICKEYBYTES], const uint8_t *msg, size_t msg_len,
    const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES]);

/* ---- Password-based keys (Argon2id) ------------------------------------------------------- */

#define PARLEY_PASSWORD_SALTBYTES 16
/* Argon2id parameters (see docs/PROTOCOL.md): 3 passes over 32 MiB, one lane. OWASP's minimum
 * is 2 passes over 19 MiB; these cost about the same in a browser as that minimum doubled. */
#define PARLEY_PASSWORD_OPSLIMIT 3
#define PARLEY_PASSWORD_MEMLIMIT ((size_t)32 * 1024 * 1024)
#define PARLEY_PASSWORD_MIN_OUTPUT 16
#define PARLEY_PASSWORD_MAX_OUTPUT 64
#define PARLEY_PASSWORD_MAX_BYTES 4096

PARLEY_API size_t parley_password_saltbytes(void);

/*
 * The 16-byte salt for a context: the first 16 bytes of SHA-256("parley-password-salt-v1" ||
 * context). The web app's context binds the server origin and the username.
 */
PARLEY_API PARLEY_NODISCARD int parley_password_salt(uint8_t salt[PARLEY_PASSWORD_SALTBYTES],
                                                     const uint8_t *context, size_t context_len);

/* Derives out_len (16..64) bytes from a password with Argon2id and the parameters above. */
PARLEY_API PARLEY_NODISCARD int parley_password_derive(uint8_t *out, size_t out_len,
                                                       const uint8_t *password, size_t password_len,
                                                       const uint8_t salt[PARLEY_PASSWORD_SALTBYTES]);

/* ---- ML-KEM-1024 (FIPS 203), deterministic ------------------------------------------------ */

#define PARLEY_MLKEM_SEEDBYTES 64          /* d || z: the seed form of a decapsulation key */
#define PARLEY_MLKEM_PUBLICKEYBYTES 1568   /* encapsulation key */
#define PARLEY_MLKEM_SECRETKEYBYTES 3168   /* expanded decapsulation key */
#define PARLEY_MLKEM_CIPHERTEXTBYTES 1568
#define PARLEY_MLKEM_SHAREDBYTES 32
#define PARLEY_MLKEM_COINBYTES 32          /* m: the randomness of one encapsulation */

PARLEY_API size_t parley_mlkem_publickeybytes(void);
PARLEY_API size_t parley_mlkem_ciphertextbytes(void);

/* ML-KEM.KeyGen_internal(d, z) of a seed of seed_len (PARLEY_MLKEM_SEEDBYTES) bytes: writes the
 * encapsulation key pk and the expanded decapsulation key sk. PARLEY_ERR_MALFORMED for another
 * seed length (sk zeroed). */
PARLEY_API PARLEY_NODISCARD int parley_mlkem_keypair(uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES],
                                                     uint8_t sk[PARLEY_MLKEM_SECRETKEYBYTES],
                                                     const uint8_t *seed, size_t seed_len);

/* ML-KEM.Encaps_internal(pk, coins): ciphertext ct and shared secret ss. PARLEY_ERR_MALFORMED
 * (ss zeroed) for a pk_len other than PARLEY_MLKEM_PUBLICKEYBYTES or a key that fails FIPS 203's
 * modulus check. */
PARLEY_API PARLEY_NODISCARD int parley_mlkem_encaps(uint8_t ct[PARLEY_MLKEM_CIPHERTEXTBYTES],
                                                    uint8_t ss[PARLEY_MLKEM_SHAREDBYTES],
                                                    const uint8_t *pk, size_t pk_len,
                                                    const uint8_t coins[PARLEY_MLKEM_COINBYTES]);

/* ML-KEM.Decaps(sk, ct): the shared secret, or the implicit-rejection secret for a ciphertext
 * that does not match. PARLEY_ERR_MALFORMED (ss zeroed) for a wrong ct_len or sk_len or a key
 * that fails FIPS 203's hash check. */
PARLEY_API PARLEY_NODISCARD int parley_mlkem_decaps(uint8_t ss[PARLEY_MLKEM_SHAREDBYTES],
                                                    const uint8_t *ct, size_t ct_len,
                                                    const uint8_t *sk, size_t sk_len);

/* ---- Protocol limits (docs/PROTOCOL.md) -------------------------------------------------- */

#define PARLEY_MAX_ONE_TIME_PREKEYS 200   /* one-time prekeys an account holds */
#define PARLEY_MAX_PREKEY_BATCH 100       /* one-time prekeys one call may create */
#define PARLEY_MAX_KEM_PREKEYS 100        /* one-time KEM prekeys an account holds */
#define PARLEY_MAX_SKIP 1000              /* largest gap the ratchet skips in one chain */
#define PARLEY_MAX_SKIPPED_KEYS 2000      /* skipped message keys a session stores */
#define PARLEY_MAX_RECEIVING_CHAINS 8     /* earlier receiving chains a session remembers */
#define PARLEY_MAX_PLAINTEXT 262144       /* bytes of plaintext in one message */
#define PARLEY_MAX_ROOM_ID 256            /* bytes of a room id in a signed challenge */
#define PARLEY_CHALLENGE_NONCEBYTES 32
#define PARLEY_KEY_BYTES 32               /* public keys, state-sealing keys */
#define PARLEY_SAFETY_NUMBER_DIGITS 60
#define PARLEY_SAFETY_QR_BYTES 65

/* Message types: the first byte of every message. */
#define PARLEY_MESSAGE_RATCHET 0x01
#define PARLEY_MESSAGE_PREKEY 0x02     /* protocol version 1: X3DH initial message */
#define PARLEY_MESSAGE_PREKEY_PQ 0x03  /* protocol version 2: PQXDH initial message */

/* A signed KEM prekey as it travels: id(4) || ML-KEM-1024 encapsulation key(1568) ||
 * Ed25519 signature(64) over "parley-kem-prekey-v1" || id || encapsulation key. */
#define PARLEY_KEM_PREKEY_BYTES (4 + PARLEY_MLKEM_PUBLICKEYBYTES + 64)
#define PARLEY_KEM_UPLOAD_VERSION 0x01

/* ---- Account: identity, signed prekey, one-time prekeys ----------------------------------- */

typedef struct parley_account parley_account;

/* A new account: a fresh identity, a signed prekey and no one-time prekeys. */
PARLEY_API PARLEY_NODISCARD int parley_account_new(parley_account **out);

/* Wipes and frees; NULL is ignored. */
PARLEY_API void parley_account_free(parley_account *account);

/* The Ed25519 identity public key (the X25519 identity key is derived from it). */
PARLEY_API PARLEY_NODISCARD int parley_account_identity_key(const parley_account *account,
                                                            uint8_t out[PARLEY_KEY_BYTES]);

/* Creates count (1..PARLEY_MAX_PREKEY_BATCH) one-time prekeys with fresh ids; PARLEY_ERR_LIMIT
 * when the account would hold more than PARLEY_MAX_ONE_TIME_PREKEYS. */
PARLEY_API PARLEY_NODISCARD int parley_account_generate_prekeys(parley_account *account,
                                                                size_t count);

/* The number of one-time prekeys held, and of those not yet marked published. */
PARLEY_API size_t parley_account_prekey_count(const parley_account *account);
PARLEY_API size_t parley_account_unpublished_count(const parley_account *account);

/* Replaces the signed prekey with a fresh one; the replaced one is kept to answer initial
 * messages already in flight until the next rotation. */
PARLEY_API PARLEY_NODISCARD int parley_account_rotate_signed_prekey(parley_account *account);

/* The id of the current signed prekey. */
PARLEY_API uint32_t parley_account_signed_prekey_id(const parley_account *account);

/* The public bundle (identity, signed prekey, every unpublished one-time prekey). */
PARLEY_API size_t parley_account_bundle_size(const parley_account *account);
PARLEY_API PARLEY_NODISCARD int parley_account_bundle(const parley_account *account, uint8_t *out,
                                                      size_t out_cap, size_t *out_len);

/* Erases the count oldest published one-time prekeys (fewer if fewer exist), to make room for a
 * new batch when earlier ones were handed out but never used. Returns how many were erased. */
PARLEY_API size_t parley_account_forget_prekeys(parley_account *account, size_t count);

/* Marks every one-time prekey as published (after the bundle reached the directory). */
PARLEY_API PARLEY_NODISCARD int parley_account_mark_published(parley_account *account);

/* ---- KEM prekeys for PQXDH (docs/PROTOCOL.md section 15) ---------------------------------- */

/* Replaces the last-resort KEM prekey with a fresh one (new id); the replaced one still answers
 * initial messages already in flight until the next rotation. New and linked accounts have one;
 * an account sealed before protocol version 2 gets its first here. */
PARLEY_API PARLEY_NODISCARD int parley_account_rotate_kem_prekey(parley_account *account);

/* The id of the current last-resort KEM prekey; 0 when the account has none yet. */
PARLEY_API uint32_t parley_account_kem_prekey_id(const parley_account *account);

/* Creates count (1..PARLEY_MAX_PREKEY_BATCH) one-time KEM prekeys, signed with the identity key;
 * PARLEY_ERR_LIMIT when the account would hold more than PARLEY_MAX_KEM_PREKEYS. */
PARLEY_API PARLEY_NODISCARD int parley_account_generate_kem_prekeys(parley_account *account,
                                                                    size_t count);

/* One-time KEM prekeys held, and of those not yet marked published. */
PARLEY_API size_t parley_account_kem_prekey_count(const parley_account *account);
PARLEY_API size_t parley_account_kem_unpublished_count(const parley_account *account);

/*
 * The KEM prekeys to upload: version(1) = PARLEY_KEM_UPLOAD_VERSION || identity key(32) ||
 * the last-resort KEM prekey (PARLEY_KEM_PREKEY_BYTES) || count(2, big-endian) || count one-time
 * KEM prekeys not yet marked published (PARLEY_KEM_PREKEY_BYTES each). PARLEY_ERR_STATE when the
 * account has no last-resort KEM prekey (rotate one in first).
 */
PARLEY_API size_t parley_account_kem_upload_size(const parley_account *account);
PARLEY_API PARLEY_NODISCARD int parley_account_kem_upload(const parley_account *account,
                                                          uint8_t *out, size_t out_cap,
                                                          size_t *out_len);

/* Marks every one-time KEM prekey as published (after the upload reached the directory). */
PARLEY_API PARLEY_NODISCARD int parley_account_mark_kem_published(parley_account *account);

/* Erases the count oldest published one-time KEM prekeys; returns how many were erased. */
PARLEY_API size_t parley_account_forget_kem_prekeys(parley_account *account, size_t count);

/* Signs the canonical encoding of {roomId, issuedAt, nonce} (issued_at_ms: an integer number of
 * milliseconds, 0..2^53-1) with the identity key. */
PARLEY_API PARLEY_NODISCARD int parley_account_sign_challenge(
    const parley_account *account, const uint8_t *room_id, size_t room_id_len,
    double issued_at_ms, const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
    uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES]);

/* Verifies a challenge signature against an identity key: 0 or PARLEY_ERR_BAD_SIGNATURE. */
PARLEY_API PARLEY_NODISCARD int parley_challenge_verify(
    const uint8_t identity_key[PARLEY_KEY_BYTES], const uint8_t *room_id, size_t room_id_len,
    double issued_at_ms, const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
    const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES]);

/* ---- Device lists (docs/PROTOCOL.md section 14.1) ---------------------------------------- */

#define PARLEY_DEVICES_VERSION 0x01
#define PARLEY_MAX_DEVICES 8                 /* devices one identity may list */
#define PARLEY_DEVICE_ID_MAX 0x7FFFFFFFu     /* device ids are 1..2^31-1 */
#define PARLEY_DEVICE_LABEL_MAX 64           /* bytes of a device's label (UTF-8) */
/* The largest unsigned list and signed list: 6 header bytes, 8 entries of 5 + 64 bytes. */
#define PARLEY_DEVICES_MAX_LIST (6 + PARLEY_MAX_DEVICES * (5 + PARLEY_DEVICE_LABEL_MAX))
#define PARLEY_DEVICES_MAX_BYTES (PARLEY_DEVICES_MAX_LIST + PARLEY_ED25519_SIGNATUREBYTES)

/*
 * Signs a device list with the identity key: checks that list (list_len bytes) is a well-formed
 * unsigned list (PARLEY_ERR_VERSION, PARLEY_ERR_MALFORMED otherwise) and writes list || signature,
 * list_len + 64 bytes, into out (PARLEY_ERR_BUFFER when out_cap is smaller). out may equal list.
 */
PARLEY_API PARLEY_NODISCARD int parley_account_sign_devices(const parley_account *account,
                                                            const uint8_t *list, size_t list_len,
                                                            uint8_t *out, size_t out_cap,
                                                            size_t *out_len);

/*
 * Opens a signed device list of identity_key: 0 with its generation and number of entries, or
 * PARLEY_ERR_VERSION (another version byte), PARLEY_ERR_MALFORMED (any field out of range, ids
 * not strictly ascending, truncation, trailing bytes) or PARLEY_ERR_BAD_SIGNATURE.
 */
PARLEY_API PARLEY_NODISCARD int parley_devices_open(const uint8_t identity_key[PARLEY_KEY_BYTES],
                                                    const uint8_t *in, size_t in_len,
                                                    uint32_t *generation, uint32_t *count);

/*
 * Entry index (from 0) of a signed list that parley_devices_open accepted: its device id, and
 * where its label lies in `in` (offset and length). PARLEY_ERR_ARGUMENT for an index out of range.
 */
PARLEY_API PARLEY_NODISCARD int parley_devices_entry(const uint8_t *in, size_t in_len,
                                                     uint32_t index, uint32_t *device_id,
                                                     uint32_t *label_offset, uint32_t *label_len);

/* ---- Identity transfer (docs/PROTOCOL.md section 14.2) ----------------------------------- */

#define PARLEY_IDENTITY_TRANSFER_VERSION 0x01
/* version(1) nonce(12) sealed identity seed(32 + 16) */
#define PARLEY_IDENTITY_TRANSFER_BYTES 61

/*
 * Seals the account's identity seed under key (32 bytes from the web app's provisioning channel)
 * with a fresh nonce, for a new device of the same identity: writes
 * PARLEY_IDENTITY_TRANSFER_BYTES bytes to out. Anyone who holds the key and these bytes holds the
 * identity: use a key once, for one transfer.
 */
PARLEY_API PARLEY_NODISCARD int parley_account_export_identity(
    const parley_account *account, const uint8_t key[PARLEY_KEY_BYTES],
    uint8_t out[PARLEY_IDENTITY_TRANSFER_BYTES]);

/*
 * A new account (a new device) with the identity seed of a transfer sealed under key: its own
 * fresh signed prekey (id 1) and no one-time prekeys, as parley_account_new. Refuses, in this
 * order: in_len 0 (PARLEY_ERR_MALFORMED), another first byte (PARLEY_ERR_VERSION), a length other
 * than PARLEY_IDENTITY_TRANSFER_BYTES (PARLEY_ERR_MALFORMED), a tag that does not verify
 * (PARLEY_ERR_AUTH, a wrong key among others). *out is NULL on every failure.
 */
PARLEY_API PARLEY_NODISCARD int parley_account_new_linked(parley_account **out,
                                                          const uint8_t key[PARLEY_KEY_BYTES],
                                                          const uint8_t *in, size_t in_len);

/* Sealed state: versioned bytes encrypted with AES-256-GCM under a caller-supplied 32-byte key. */
PARLEY_API size_t parley_account_sealed_size(const parley_account *account);
PARLEY_API PARLEY_NODISCARD int parley_account_seal(const parley_account *account,
                                                    const uint8_t key[PARLEY_KEY_BYTES],
                                                    uint8_t *out, size_t out_cap, size_t *out_len);
PARLEY_API PARLEY_NODISCARD int parley_account_unseal(parley_account **out,
                                                      const uint8_t key[PARLEY_KEY_BYTES],
                                                      const uint8_t *in, size_t in_len);

/* ---- Sessions: X3DH and the Double Ratchet ------------------------------------------------ */

typedef struct parley_session parley_session;

/*
 * Starts a session with the owner of bundle (a bundle as parley_account_bundle writes it, with
 * zero or one one-time prekey). Checks the signed prekey's signature (PARLEY_ERR_BAD_SIGNATURE).
 * Messages encrypted before the first reply arrives are prekey messages.
 */
PARLEY_API PARLEY_NODISCARD int parley_session_new_outbound(parley_session **out,
                                                            const parley_account *account,
                                                            const uint8_t *bundle,
                                                            size_t bundle_len);

/*
 * Answers a prekey message (type 0x02, X3DH; or 0x03, PQXDH): runs the key agreement as the
 * responder, decrypts the message into plaintext and,
 * only when it authenticates, consumes the one-time prekey it used from account (seal the account
 * again afterwards). plaintext must hold parley_message_plaintext_size() bytes.
 */
/*
 * Starts a protocol version 2 (PQXDH) session: as parley_session_new_outbound, plus an
 * encapsulation to kem_prekey (one signed KEM prekey of the same identity, PARLEY_KEM_PREKEY_BYTES
 * bytes, as the directory hands it out with the bundle). PARLEY_ERR_MALFORMED for a wrong length
 * or an encapsulation key that fails ML-KEM's check, PARLEY_ERR_BAD_SIGNATURE for a signature
 * that does not verify. Messages before the first reply are PQXDH prekey messages (type 0x03).
 */
PARLEY_API PARLEY_NODISCARD int parley_session_new_outbound_pq(parley_session **out,
                                                               const parley_account *account,
                                                               const uint8_t *bundle,
                                                               size_t bundle_len,
                                                               const uint8_t *kem_prekey,
                                                               size_t kem_prekey_len);

/* The protocol version of a session: 1 (X3DH) or 2 (PQXDH); 0 for NULL. */
PARLEY_API uint32_t parley_session_version(const parley_session *session);

PARLEY_API PARLEY_NODISCARD int parley_session_new_inbound(parley_session **out,
                                                           parley_account *account,
                                                           const uint8_t *message,
                                                           size_t message_len, uint8_t *plaintext,
                                                           size_t plaintext_cap,
                                                           size_t *plaintext_len);

PARLEY_API void parley_session_free(parley_session *session);

/* The peer's Ed25519 identity key. */
PARLEY_API PARLEY_NODISCARD int parley_session_peer_identity(const parley_session *session,
                                                             uint8_t out[PARLEY_KEY_BYTES]);

/* The size of the message that encrypting plaintext_len bytes produces now. */
PARLEY_API size_t parley_session_encrypted_size(const parley_session *session,
                                                size_t plaintext_len);
PARLEY_API PARLEY_NODISCARD int parley_session_encrypt(parley_session *session,
                                                       const uint8_t *plaintext,
                                                       size_t plaintext_len, uint8_t *out,
                                                       size_t out_cap, size_t *out_len);

/*
 * Decrypts a ratchet message, or a prekey message of this same session. A message that is
 * rejected leaves the session unchanged. PARLEY_ERR_STATE: a prekey message of another session.
 */
PARLEY_API PARLEY_NODISCARD int parley_session_decrypt(parley_session *session,
                                                       const uint8_t *message, size_t message_len,
                                                       uint8_t *plaintext, size_t plaintext_cap,
                                                       size_t *plaintext_len);

PARLEY_API size_t parley_session_sealed_size(const parley_session *session);
PARLEY_API PARLEY_NODISCARD int parley_session_seal(const parley_session *session,
                                                    const uint8_t key[PARLEY_KEY_BYTES],
                                                    uint8_t *out, size_t out_cap, size_t *out_len);
PARLEY_API PARLEY_NODISCARD int parley_session_unseal(parley_session **out,
                                                      const uint8_t key[PARLEY_KEY_BYTES],
                                                      const uint8_t *in, size_t in_len);

/* ---- Messages ----------------------------------------------------------------------------- */

/* The message type (PARLEY_MESSAGE_RATCHET, PARLEY_MESSAGE_PREKEY or PARLEY_MESSAGE_PREKEY_PQ),
 * or a negative error. */
PARLEY_API int parley_message_type(const uint8_t *message, size_t message_len);

/* The plaintext size a well-formed message carries; PARLEY_ERR_MALFORMED otherwise. */
PARLEY_API PARLEY_NODISCARD int parley_message_plaintext_size(const uint8_t *message,
                                                              size_t message_len, size_t *out);

/* The sender's identity key named in a prekey message (unauthenticated until decrypted). */
PARLEY_API PARLEY_NODISCARD int parley_message_sender_identity(const uint8_t *message,
                                                               size_t message_len,
                                                               uint8_t out[PARLEY_KEY_BYTES]);

/* ---- Sealed sender envelopes -------------------------------------------------------------- */

/*
 * An envelope carries the sender's name and a message (a Double Ratchet message) to a recipient's
 * identity key so that whoever stores it learns the recipient and the size class only; the
 * recipient learns the sender's identity key, authenticated by a static-static DH
 * (docs/PROTOCOL.md section 13). Envelopes are exactly 512, 2048, 8192, 32768 or 65536 bytes.
 */
#define PARLEY_SEALED_VERSION 0x01
#define PARLEY_SEALED_MAX 65536        /* largest envelope */
#define PARLEY_SEALED_MIN 512          /* smallest size class */
#define PARLEY_SEALED_NAME_MAX 64

/* The envelope size (a size class) for a name and a message; 0 when they cannot fit or name_len
 * is 0 or above PARLEY_SEALED_NAME_MAX. */
PARLEY_API size_t parley_sealed_size(size_t name_len, size_t message_len);

/*
 * Seals name (1..PARLEY_SEALED_NAME_MAX bytes, PARLEY_ERR_ARGUMENT otherwise) and message to the
 * owner of recipient_identity (an Ed25519 identity key) under sender's identity, with a fresh
 * ephemeral key. Writes parley_sealed_size(name_len, message_len) bytes; PARLEY_ERR_TOO_LARGE
 * when they do not fit in PARLEY_SEALED_MAX, PARLEY_ERR_WEAK_KEY for a low-order recipient key.
 */
PARLEY_API PARLEY_NODISCARD int parley_sealed_seal(
    const parley_account *sender, const uint8_t recipient_identity[PARLEY_KEY_BYTES],
    const uint8_t *name, size_t name_len, const uint8_t *message, size_t message_len, uint8_t *out,
    size_t out_cap, size_t *out_len);

/*
 * Opens an envelope sealed to recipient's identity: writes the sender's Ed25519 identity key, its
 * name (at most PARLEY_SEALED_NAME_MAX bytes) and the message (never more than envelope_len - 103
 * bytes: message_cap = envelope_len always suffices). Returns PARLEY_ERR_VERSION (another version
 * byte), PARLEY_ERR_MALFORMED (a length that is not a size class, or content out of range,
 * including non-zero padding), PARLEY_ERR_AUTH (either tag), PARLEY_ERR_WEAK_KEY (a low-order
 * key), PARLEY_ERR_BUFFER (name_cap or message_cap too small). message may be NULL when
 * message_cap is 0 (only an empty message then fits). On failure sender_identity is zeroed and
 * nothing else is written. The caller must still check that the sender identity is the one the
 * name maps to (docs/PROTOCOL.md 13.5).
 */
PARLEY_API PARLEY_NODISCARD int parley_sealed_open(
    const parley_account *recipient, const uint8_t *envelope, size_t envelope_len,
    uint8_t sender_identity[PARLEY_KEY_BYTES], uint8_t *name, size_t name_cap, size_t *name_len,
    uint8_t *message, size_t message_cap, size_t *message_len);

/* ---- Safety numbers ----------------------------------------------------------------------- */

/*
 * The 60-digit safety number of two identity keys, the same whichever order they are given in,
 * written as 60 ASCII digits and a NUL (show it as 12 groups of 5).
 */
PARLEY_API PARLEY_NODISCARD int parley_safety_number(char out[PARLEY_SAFETY_NUMBER_DIGITS + 1],
                                                     const uint8_t a[PARLEY_KEY_BYTES],
                                                     const uint8_t b[PARLEY_KEY_BYTES]);

/* The same comparison as bytes for a QR code: a version byte and two 32-byte fingerprints. */
PARLEY_API PARLEY_NODISCARD int parley_safety_qr(uint8_t out[PARLEY_SAFETY_QR_BYTES],
                                                 const uint8_t a[PARLEY_KEY_BYTES],
                                                 const uint8_t b[PARLEY_KEY_BYTES]);

/* ---- Files: chunks sealed under a per-file key (docs/PROTOCOL.md section 18) -------------- */

#define PARLEY_FILE_VERSION 1
#define PARLEY_FILE_KEYBYTES 32
#define PARLEY_FILE_IDBYTES 16
#define PARLEY_FILE_HASHBYTES 32
/* version(1) || flags(1) || index(4, big-endian) in front of the AES-256-GCM ciphertext. */
#define PARLEY_FILE_HEADERBYTES 6
/* Bytes a sealed chunk adds to its plaintext: the header and the 16-byte tag. */
#define PARLEY_FILE_OVERHEAD 22
/* The largest plaintext of one chunk (a sealed chunk then fits Chromium's 256 KiB data-channel
 * message with room for framing). */
#define PARLEY_FILE_CHUNK_MAX 196608

PARLEY_API size_t parley_file_overhead(void);
PARLEY_API size_t parley_file_chunk_max(void);

/*
 * Seals chunk `index` (last: 1 for the file's final chunk, else 0) of the file `id` under `key`:
 * writes header || ciphertext || tag (pt_len + PARLEY_FILE_OVERHEAD bytes) to out and its length
 * to *out_len. pt_len <= PARLEY_FILE_CHUNK_MAX. The nonce is derived from index and last, so a key
 * must seal each (index, last) pair at most once with one plaintext (the sender's file is fixed).
 */
PARLEY_API PARLEY_NODISCARD int parley_file_seal(uint8_t *out, size_t out_cap, size_t *out_len,
                                                 const uint8_t key[PARLEY_FILE_KEYBYTES],
                                                 const uint8_t id[PARLEY_FILE_IDBYTES],
                                                 uint32_t index, int last,
                                                 const uint8_t *pt, size_t pt_len);

/* A running SHA-256 of a file's plaintext (opaque; parley_file_hash_free wipes it). */
struct parley_file_hash;

/*
 * Opens a sealed chunk that must be chunk `index` of file `id`, final when last is 1. Checks the
 * version (PARLEY_ERR_VERSION), the flags and index against the expected ones
 * (PARLEY_ERR_MALFORMED) and the tag (PARLEY_ERR_AUTH), decrypting into a scratch buffer that is
 * wiped. On success the plaintext is copied to out (when out is not NULL; out_cap must hold it,
 * else PARLEY_ERR_BUFFER), its length written to *out_len and, when hash is not NULL, absorbed
 * into hash. On failure nothing is written and hash is unchanged.
 */
PARLEY_API PARLEY_NODISCARD int parley_file_open(uint8_t *out, size_t out_cap, size_t *out_len,
                                                 const uint8_t key[PARLEY_FILE_KEYBYTES],
                                                 const uint8_t id[PARLEY_FILE_IDBYTES],
                                                 uint32_t index, int last,
                                                 const uint8_t *sealed, size_t sealed_len,
                                                 struct parley_file_hash *hash);

PARLEY_API PARLEY_NODISCARD int parley_file_hash_new(struct parley_file_hash **out);
PARLEY_API PARLEY_NODISCARD int parley_file_hash_update(struct parley_file_hash *hash,
                                                        const uint8_t *data, size_t len);
/* The digest of everything absorbed so far (the running state stays usable). */
PARLEY_API PARLEY_NODISCARD int parley_file_hash_digest(const struct parley_file_hash *hash,
                                                        uint8_t out[PARLEY_FILE_HASHBYTES]);
/* PARLEY_OK when the digest so far equals expected (compared in constant time), else
 * PARLEY_ERR_AUTH. */
PARLEY_API PARLEY_NODISCARD int parley_file_hash_check(const struct parley_file_hash *hash,
                                                       const uint8_t expected[PARLEY_FILE_HASHBYTES]);
PARLEY_API void parley_file_hash_free(struct parley_file_hash *hash);

/* ---- Rooms: signed descriptors and room challenges (docs/PROTOCOL.md section 20) ---------- */

#define PARLEY_ROOM_FORMAT 0x01
#define PARLEY_ROOM_IDBYTES 16
#define PARLEY_ROOM_MAX_MEMBERS 16        /* members one room lists: the mesh limit */
#define PARLEY_ROOM_NAME_MAX 64           /* bytes of a room's name (UTF-8, at least 1) */
#define PARLEY_ROOM_ROLE_ADMIN 0x01
#define PARLEY_ROOM_ROLE_MEMBER 0x02
#define PARLEY_ROOM_MEMBERBYTES 33        /* identity key(32) || role(1) */
/* format(1) room id(16) version(8) name_len(1) name count(1) members signer(32) signature(64) */
#define PARLEY_ROOM_MIN_BYTES (1 + PARLEY_ROOM_IDBYTES + 8 + 1 + 1 + 1 + PARLEY_ROOM_MEMBERBYTES + 32 + 64)
#define PARLEY_ROOM_MAX_BYTES                                                                   \
    (1 + PARLEY_ROOM_IDBYTES + 8 + 1 + PARLEY_ROOM_NAME_MAX + 1 +                               \
     PARLEY_ROOM_MAX_MEMBERS * PARLEY_ROOM_MEMBERBYTES + 32 + 64)
/* Versions are integers 1..2^53-1 (what a JavaScript number holds exactly). */
#define PARLEY_ROOM_VERSION_MAX 9007199254740991.0
/* format(1) room id(16) version(8) leaver's identity key(32) signature(64) */
#define PARLEY_ROOM_LEAVE_BYTES 121
/* The largest freshness window a room challenge may be checked with (milliseconds). */
#define PARLEY_ROOM_CHALLENGE_MAX_SKEW 600000.0
#define PARLEY_ROOM_FINGERPRINTBYTES 32   /* a DTLS certificate's SHA-256 fingerprint */

/*
 * Signs a room descriptor with the account's identity key: room id (16 bytes; for version 1 fresh
 * random bytes drawn by the caller, later the room's own), version (an integer 1..2^53-1), name
 * (1..PARLEY_ROOM_NAME_MAX bytes of UTF-8) and members (member_count entries of
 * PARLEY_ROOM_MEMBERBYTES: identity key || role, in any order; the core sorts them). Writes the
 * descriptor (at most PARLEY_ROOM_MAX_BYTES) into out. Refuses what a reader refuses
 * (PARLEY_ERR_MALFORMED, PARLEY_ERR_TOO_LARGE for a long name, PARLEY_ERR_LIMIT for more than
 * PARLEY_ROOM_MAX_MEMBERS members), and version 1 not listing the signer as an admin
 * (PARLEY_ERR_NOT_ADMIN). PARLEY_ERR_BUFFER when out_cap is too small.
 */
PARLEY_API PARLEY_NODISCARD int parley_account_room_sign(
    const parley_account *account, const uint8_t room_id[PARLEY_ROOM_IDBYTES], double version,
    const uint8_t *name, size_t name_len, const uint8_t *members, size_t member_count,
    uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Parses a descriptor strictly and verifies its signature under the signer key it names: 0 with
 * its room id, version, member count, signer and where the name lies in `in`; or
 * PARLEY_ERR_VERSION (another format byte), PARLEY_ERR_MALFORMED, PARLEY_ERR_TOO_LARGE,
 * PARLEY_ERR_LIMIT or PARLEY_ERR_BAD_SIGNATURE. Any output pointer may be NULL. This says only
 * that the bytes are well formed and signed: whether to take them is parley_room_accept's answer.
 */
PARLEY_API PARLEY_NODISCARD int parley_room_open(const uint8_t *in, size_t in_len,
                                                 uint8_t room_id[PARLEY_ROOM_IDBYTES],
                                                 double *version, uint32_t *member_count,
                                                 uint8_t signer[PARLEY_KEY_BYTES],
                                                 uint32_t *name_offset, uint32_t *name_len);

/* Member index (from 0, in the descriptor's order) of a descriptor parley_room_open accepts. */
PARLEY_API PARLEY_NODISCARD int parley_room_member(const uint8_t *in, size_t in_len,
                                                   uint32_t index, uint8_t key[PARLEY_KEY_BYTES],
                                                   uint32_t *role);

/* The role of an identity key in a descriptor parley_room_open accepts: 0 with *role, or
 * PARLEY_ERR_NOT_MEMBER. */
PARLEY_API PARLEY_NODISCARD int parley_room_role(const uint8_t *in, size_t in_len,
                                                 const uint8_t key[PARLEY_KEY_BYTES],
                                                 uint32_t *role);

/*
 * The acceptance rule: 0 when a member holding `current` (NULL and 0 for none) takes `candidate`.
 * With none, the candidate must be version 1 (else PARLEY_ERR_STATE) signed by an admin it lists
 * (else PARLEY_ERR_NOT_ADMIN). With a current descriptor (PARLEY_ERR_ARGUMENT if it does not open),
 * the candidate must name the same room (PARLEY_ERR_OTHER_ROOM), a greater version
 * (PARLEY_ERR_STALE) and be signed by a key that is an admin in `current` (PARLEY_ERR_NOT_ADMIN).
 * A candidate that does not open gives parley_room_open's error.
 */
PARLEY_API PARLEY_NODISCARD int parley_room_accept(const uint8_t *current, size_t current_len,
                                                   const uint8_t *candidate,
                                                   size_t candidate_len);

/*
 * First sight of a room at any version (a member added after version 1): 0 when the candidate
 * opens, was signed by sender_key (the contact it came from, over the pairwise session),
 * sender_key is an admin in it (PARLEY_ERR_NOT_ADMIN otherwise) and it lists receiver_key, the
 * identity key of the member taking it (PARLEY_ERR_NOT_MEMBER otherwise).
 */
PARLEY_API PARLEY_NODISCARD int parley_room_accept_first(
    const uint8_t *candidate, size_t candidate_len, const uint8_t sender_key[PARLEY_KEY_BYTES],
    const uint8_t receiver_key[PARLEY_KEY_BYTES]);

/* "Leave room": a statement signed by a member's identity key that it leaves the room of
 * `descriptor` at that descriptor's version (PARLEY_ROOM_LEAVE_BYTES into out).
 * PARLEY_ERR_NOT_MEMBER when the account is not listed. */
PARLEY_API PARLEY_NODISCARD int parley_account_room_leave(const parley_account *account,
                                                          const uint8_t *descriptor,
                                                          size_t descriptor_len,
                                                          uint8_t out[PARLEY_ROOM_LEAVE_BYTES]);

/*
 * Checks a leave statement against the current descriptor: 0 with the leaver's key, or
 * PARLEY_ERR_VERSION, PARLEY_ERR_MALFORMED (length), PARLEY_ERR_OTHER_ROOM, PARLEY_ERR_STALE
 * (made for an earlier version), PARLEY_ERR_STATE (for a later version than `descriptor`: update
 * first), PARLEY_ERR_NOT_MEMBER, PARLEY_ERR_BAD_SIGNATURE; PARLEY_ERR_ARGUMENT if the descriptor
 * does not open.
 */
PARLEY_API PARLEY_NODISCARD int parley_room_leave_verify(const uint8_t *descriptor,
                                                         size_t descriptor_len,
                                                         const uint8_t *leave, size_t leave_len,
                                                         uint8_t leaver[PARLEY_KEY_BYTES]);

/*
 * Signs a room challenge (section 20.6) for the room and version of `descriptor` (which must list
 * the account: PARLEY_ERR_NOT_MEMBER): the peer's nonce, issued_at_ms (an integer 0..2^53-1) and
 * both DTLS fingerprints of the connection, the signer's own first.
 */
PARLEY_API PARLEY_NODISCARD int parley_account_room_challenge(
    const parley_account *account, const uint8_t *descriptor, size_t descriptor_len,
    const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES], double issued_at_ms,
    const uint8_t own_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
    const uint8_t peer_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
    uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES]);

/*
 * Verifies a peer's room challenge against the verifier's current descriptor: the signer must be
 * listed (PARLEY_ERR_NOT_MEMBER); |now_ms - issued_at_ms| must be at most max_skew_ms (0..
 * PARLEY_ROOM_CHALLENGE_MAX_SKEW; else PARLEY_ERR_EXPIRED); the signature must cover this room, this
 * version, the verifier's nonce, issued_at_ms, the signer's fingerprint and then the verifier's
 * (PARLEY_ERR_BAD_SIGNATURE). Replays within the window are the caller's to refuse (one nonce,
 * one answer). PARLEY_ERR_ARGUMENT for a descriptor that does not open or times out of range.
 */
PARLEY_API PARLEY_NODISCARD int parley_room_challenge_verify(
    const uint8_t *descriptor, size_t descriptor_len,
    const uint8_t signer_key[PARLEY_KEY_BYTES], const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
    double issued_at_ms, const uint8_t signer_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
    const uint8_t own_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES], double now_ms,
    double max_skew_ms, const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES]);

/* ---- Diagnostics ------------------------------------------------------------------------ */

/* Bytes currently allocated on the core's heap (wasm builds; 0 natively). The binding's tests use
 * it to show that calls do not leak. */
PARLEY_API size_t parley_heap_used(void);

/* ---- Self-test ---------------------------------------------------------------------------- */

/*
 * Runs known-answer tests of AES-256-GCM and X25519 and a fresh X25519 agreement. Returns 0 when
 * every check passes; a negative code naming the first failure otherwise.
 */
PARLEY_API PARLEY_NODISCARD int parley_selftest(void);

#ifdef __cplusplus
}
#endif

#endif /* PARLEY_H */
