/*
 * parley-tool: the core on the command line, for debugging and interop. Hex in, hex out.
 * Exit status: 0 success, 1 rejected (bad tag, bad signature, weak key, too large), 2 usage.
 * Built natively (build/native/parley-tool) and to wasm (node build/wasm/parley-tool.js).
 */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: parley-tool COMMAND ARGS (hex in, hex out)\n"
          "  aead-seal KEY NONCE AAD PLAINTEXT          prints ciphertext||tag\n"
          "  aead-open KEY NONCE AAD CIPHERTEXT_TAG     prints plaintext, or exits 1\n"
          "  hkdf IKM SALT INFO LENGTH                  prints the output key material\n"
          "  hmac KEY DATA                              prints HMAC-SHA256\n"
          "  x25519 SCALAR U                            prints the shared secret\n"
          "  ed25519-verify PUBLIC MESSAGE SIGNATURE    exits 0 valid, 1 invalid\n"
          "  vectors                                    prints docs/vectors/protocol-v1.json\n"
          "  vectors-v2                                 prints docs/vectors/protocol-v2.json\n"
          "exit status: 0 success, 1 rejected, 2 usage error\n",
          stderr);
}

/* Decodes hex (libsodium's decoder; the whole string must be hex) into a fresh buffer of at
 * least one byte; NULL on bad hex. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    const char *end = NULL;
    uint8_t *out;

    if (n % 2 != 0) {
        return NULL;
    }
    out = malloc(n / 2 + 1);
    if (out == NULL) {
        return NULL;
    }
    if (sodium_hex2bin(out, n / 2 + 1, hex, n, NULL, len, &end) != 0 || end != hex + n) {
        free(out);
        return NULL;
    }
    return out;
}

static char *hex_string(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);

    if (s != NULL) {
        sodium_bin2hex(s, 2 * n + 1, b, n);
    }
    return s;
}

static void print_hex(const uint8_t *b, size_t n)
{
    char *s = hex_string(b, n);

    printf("%s\n", s != NULL ? s : "");
    free(s);
}

void add_hex(cJSON *obj, const char *name, const uint8_t *b, size_t n)
{
    char *s = hex_string(b, n);

    cJSON_AddStringToObject(obj, name, s != NULL ? s : "");
    free(s);
}

/* Parses argc-2 hex arguments with the lengths given (0 = any); exits 2 on bad input. */
struct args {
    uint8_t *v[4];
    size_t len[4];
};

static int parse_args(struct args *a, int argc, char **argv, int want, const size_t *fixed)
{
    memset(a, 0, sizeof *a);
    if (argc - 2 != want) {
        usage();
        return -1;
    }
    for (int i = 0; i < want; i++) {
        a->v[i] = unhex(argv[i + 2], &a->len[i]);
        if (a->v[i] == NULL || (fixed[i] != 0 && a->len[i] != fixed[i])) {
            fprintf(stderr, "parley-tool: argument %d must be %s hex%s\n", i + 1,
                    fixed[i] != 0 ? "exactly" : "valid", fixed[i] != 0 ? " of the right length" : "");
            return -1;
        }
    }
    return 0;
}

static void free_args(struct args *a)
{
    for (int i = 0; i < 4; i++) {
        free(a->v[i]);
    }
}

static int exit_for(int rc)
{
    if (rc == PARLEY_OK) {
        return 0;
    }
    if (rc == PARLEY_ERR_ARGUMENT) {
        return EXIT_USAGE;
    }
    fprintf(stderr, "parley-tool: %s\n", parley_strerror(rc));
    return EXIT_REJECTED;
}

static int cmd_aead(int argc, char **argv, int seal)
{
    static const size_t fixed[4] = {32, 12, 0, 0};
    struct args a;
    uint8_t *out;
    size_t out_len;
    int rc;

    if (parse_args(&a, argc, argv, 4, fixed) != 0) {
        free_args(&a);
        return EXIT_USAGE;
    }
    if (!seal && a.len[3] < PARLEY_AEAD_TAGBYTES) {
        free_args(&a);
        return exit_for(PARLEY_ERR_AUTH);
    }
    out_len = seal ? a.len[3] + PARLEY_AEAD_TAGBYTES : a.len[3] - PARLEY_AEAD_TAGBYTES;
    out = malloc(out_len + 1);
    rc = out == NULL ? PARLEY_ERR_NO_MEMORY
         : seal      ? parley_aead_seal(out, a.v[0], a.v[1], a.v[2], a.len[2], a.v[3], a.len[3])
                     : parley_aead_open(out, a.v[0], a.v[1], a.v[2], a.len[2], a.v[3], a.len[3]);
    if (rc == PARLEY_OK) {
        print_hex(out, out_len);
    }
    free(out);
    free_args(&a);
    return exit_for(rc);
}

static int cmd_hkdf(int argc, char **argv)
{
    static const size_t fixed[3] = {0, 0, 0};
    struct args a;
    char *end;
    long length;
    uint8_t *out;
    int rc;

    if (argc != 6 || parse_args(&a, argc - 1, argv, 3, fixed) != 0) {
        if (argc != 6) {
            usage();
        } else {
            free_args(&a);
        }
        return EXIT_USAGE;
    }
    length = strtol(argv[5], &end, 10);
    if (*end != '\0' || argv[5][0] == '\0' || length < 1) {
        fprintf(stderr, "parley-tool: LENGTH must be a positive decimal number\n");
        free_args(&a);
        return EXIT_USAGE;
    }
    if ((size_t)length > PARLEY_HKDF_MAX_OUTPUT) {
        free_args(&a);
        return exit_for(PARLEY_ERR_TOO_LARGE);
    }
    out = malloc((size_t)length);
    rc = out == NULL ? PARLEY_ERR_NO_MEMORY
                     : parley_hkdf_sha256(out, (size_t)length, a.v[0], a.len[0], a.v[1], a.len[1],
                                          a.v[2], a.len[2]);
    if (rc == PARLEY_OK) {
        print_hex(out, (size_t)length);
    }
    free(out);
    free_args(&a);
    return exit_for(rc);
}

static int cmd_hmac(int argc, char **argv)
{
    static const size_t fixed[2] = {0, 0};
    struct args a;
    uint8_t out[32];
    int rc;

    if (parse_args(&a, argc, argv, 2, fixed) != 0) {
        free_args(&a);
        return EXIT_USAGE;
    }
    rc = parley_hmac_sha256(out, a.v[0], a.len[0], a.v[1], a.len[1]);
    if (rc == PARLEY_OK) {
        print_hex(out, 32);
    }
    free_args(&a);
    return exit_for(rc);
}

static int cmd_x25519(int argc, char **argv)
{
    static const size_t fixed[2] = {32, 32};
    struct args a;
    uint8_t out[32];
    int rc;

    if (parse_args(&a, argc, argv, 2, fixed) != 0) {
        free_args(&a);
        return EXIT_USAGE;
    }
    rc = parley_x25519(out, a.v[0], a.v[1]);
    if (rc == PARLEY_OK) {
        print_hex(out, 32);
    }
    free_args(&a);
    return exit_for(rc);
}

static int cmd_ed25519_verify(int argc, char **argv)
{
    static const size_t fixed[3] = {32, 0, 64};
    struct args a;
    int rc;

    if (parse_args(&a, argc, argv, 3, fixed) != 0) {
        free_args(&a);
        return EXIT_USAGE;
    }
    rc = parley_ed25519_verify(a.v[0], a.v[1], a.len[1], a.v[2]);
    free_args(&a);
    return exit_for(rc);
}

/* ---- vectors ---- */

const char *vectors_prefix = "parley-vectors-v1";

/* The fixed "random" inputs: SHA-256(vectors_prefix || label). */
void fixed_random(uint8_t out[32], const char *label)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)vectors_prefix, strlen(vectors_prefix));
    crypto_hash_sha256_update(&st, (const uint8_t *)label, strlen(label));
    crypto_hash_sha256_final(&st, out);
}

cJSON *message_entry(struct party *p, int index, const char *text, struct sent *out)
{
    cJSON *e = cJSON_CreateObject();
    uint8_t mk[32], ck_next[32], key[32], nonce[12];
    size_t cap = parley_session_encrypted_size(&p->s, strlen(text)), len = 0;
    const uint8_t *ratchet_msg;

    cJSON_AddNumberToObject(e, "index", index);
    cJSON_AddStringToObject(e, "from", p->name);
    cJSON_AddStringToObject(e, "plaintext", text);
    add_hex(e, "sendingChainKey", p->s.r.cks, 32);
    kdf_ck(mk, ck_next, p->s.r.cks);
    message_keys(key, nonce, mk);
    add_hex(e, "messageKey", mk, 32);
    add_hex(e, "aesKey", key, 32);
    add_hex(e, "nonce", nonce, 12);
    out->bytes = malloc(cap);
    if (out->bytes == NULL || session_encrypt(&p->s, (const uint8_t *)text, strlen(text),
                                              out->bytes, cap, &len) != PARLEY_OK) {
        cJSON_Delete(e);
        return NULL;
    }
    out->len = len;
    out->index = index;
    ratchet_msg = out->bytes + (out->bytes[0] == PARLEY_MESSAGE_PREKEY      ? PARLEY_PREKEY_PREFIX_BYTES
                                : out->bytes[0] == PARLEY_MESSAGE_PREKEY_PQ ? PARLEY_PQ_PREFIX_BYTES
                                                                            : 0);
    add_hex(e, "header", ratchet_msg, PARLEY_HEADER_BYTES);
    add_hex(e, "ciphertext", ratchet_msg + PARLEY_HEADER_BYTES, len - (size_t)(ratchet_msg - out->bytes) - PARLEY_HEADER_BYTES);
    add_hex(e, "message", out->bytes, len);
    add_hex(e, "nextSendingChainKey", p->s.r.cks, 32);
    add_hex(e, "rootKey", p->s.r.rk, 32);
    return e;
}

cJSON *delivery_entry(struct party *to, const struct sent *m, int *ok)
{
    cJSON *e = cJSON_CreateObject();
    uint8_t pt[256], random[32];
    size_t pt_len = 0;
    char label[32];
    int rc;

    snprintf(label, sizeof label, "%s-ratchet-%d", to->name, to->ratchet_steps + 1);
    fixed_random(random, label);
    cJSON_AddNumberToObject(e, "deliver", m->index);
    cJSON_AddStringToObject(e, "to", to->name);
    cJSON_AddStringToObject(e, "randomLabel", label);
    rc = session_decrypt_with(&to->s, m->bytes, m->len, pt, sizeof pt, &pt_len, random);
    if (rc != PARLEY_OK) {
        *ok = 0;
    } else {
        /* A DH ratchet step consumed the random bytes: the next step takes fresh ones. */
        uint8_t pub[32];
        if (crypto_scalarmult_curve25519_base(pub, random) == 0 &&
            memcmp(pub, to->s.r.dhs_pub, 32) == 0) {
            to->ratchet_steps++;
            add_hex(e, "newRatchetPrivateKey", random, 32);
        }
    }
    cJSON_AddStringToObject(e, "plaintext", rc == PARLEY_OK ? "" : "(rejected)");
    if (rc == PARLEY_OK) {
        char *text = malloc(pt_len + 1);
        if (text != NULL) {
            memcpy(text, pt, pt_len);
            text[pt_len] = '\0';
            cJSON_ReplaceItemInObject(e, "plaintext", cJSON_CreateString(text));
            free(text);
        }
    }
    add_hex(e, "rootKey", to->s.r.rk, 32);
    add_hex(e, "receivingChainKey", to->s.r.ckr, 32);
    add_hex(e, "sendingChainKey", to->s.r.cks, 32);
    cJSON_AddNumberToObject(e, "skippedKeys", (double)to->s.r.n_skipped);
    return e;
}

/* One sealed envelope from a to b, with every intermediate value (docs/PROTOCOL.md 13). */
cJSON *sealed_entry(const struct parley_account *a, const struct parley_account *b,
                           const char *label, const char *name, const uint8_t *msg,
                           size_t msg_len, int *ok)
{
    cJSON *e = cJSON_CreateObject();
    uint8_t eph[32], e_pub[32], ik_b_x[32], dh1[32], dh2[32], k1[32], ck[32], k2[32], ad[33],
        c1[PARLEY_SEALED_C1_BYTES], ik[32], got_name[PARLEY_SEALED_NAME_MAX];
    uint8_t *env = malloc(PARLEY_SEALED_MAX), *got = malloc(PARLEY_SEALED_MAX);
    size_t env_len = 0, got_name_len = 0, got_len = 0;

    fixed_random(eph, label);
    if (env == NULL || got == NULL || crypto_scalarmult_curve25519_base(e_pub, eph) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(ik_b_x, b->identity_pub) != 0 ||
        crypto_scalarmult_curve25519(dh1, eph, ik_b_x) != 0 ||
        crypto_scalarmult_curve25519(dh2, a->identity_xpriv, ik_b_x) != 0 ||
        sealed_kdf_ephemeral(k1, ck, dh1, e_pub, b->identity_pub) != PARLEY_OK) {
        *ok = 0;
    }
    ad[0] = PARLEY_SEALED_VERSION;
    memcpy(ad + 1, e_pub, 32);
    if (*ok && (parley_aead_seal(c1, k1, (const uint8_t[12]){0}, ad, sizeof ad, a->identity_pub,
                                 32) != PARLEY_OK ||
                sealed_kdf_static(k2, ck, dh2, c1) != PARLEY_OK ||
                sealed_seal_with(a, b->identity_pub, (const uint8_t *)name, strlen(name), msg,
                                 msg_len, eph, env, PARLEY_SEALED_MAX, &env_len) != PARLEY_OK ||
                memcmp(env + 33, c1, sizeof c1) != 0 ||
                parley_sealed_open(b, env, env_len, ik, got_name, sizeof got_name, &got_name_len,
                                   got, PARLEY_SEALED_MAX, &got_len) != PARLEY_OK ||
                memcmp(ik, a->identity_pub, 32) != 0 || got_len != msg_len ||
                memcmp(got, msg, msg_len) != 0)) {
        *ok = 0;
    }
    if (*ok) {
        cJSON_AddNumberToObject(e, "sizeClass", (double)env_len);
        cJSON_AddStringToObject(e, "name", name);
        add_hex(e, "message", msg, msg_len);
        cJSON_AddStringToObject(e, "ephemeralLabel", label);
        add_hex(e, "ephemeralPrivate", eph, 32);
        add_hex(e, "ephemeralKey", e_pub, 32);
        add_hex(e, "dh1", dh1, 32);
        add_hex(e, "k1", k1, 32);
        add_hex(e, "ck", ck, 32);
        add_hex(e, "c1", c1, sizeof c1);
        add_hex(e, "dh2", dh2, 32);
        add_hex(e, "k2", k2, 32);
        add_hex(e, "envelope", env, env_len);
    }
    sodium_memzero(eph, sizeof eph);
    free(env);
    free(got);
    return e;
}

static cJSON *sealed_section(const struct parley_account *a, const struct parley_account *b,
                             const struct sent *first, int *ok)
{
    cJSON *sealed = cJSON_CreateObject(), *list;
    uint8_t pattern[2048];

    for (size_t i = 0; i < sizeof pattern; i++) {
        pattern[i] = (uint8_t)(i * 7 + 3);
    }
    cJSON_AddStringToObject(sealed, "note",
                            "Alice (the sender) seals to Bob with the accounts of \"x3dh\". Each "
                            "envelope's e is SHA-256(\"parley-vectors-v1\" || ephemeralLabel). "
                            "Messages: the conversation's message 0 (a prekey message), then bytes "
                            "(7 * i + 3) mod 256: 405 bytes fill the 512 class exactly, 406 move "
                            "to 2048, 1941 fill 2048 exactly.");
    add_hex(sealed, "senderIdentityKey", a->identity_pub, 32);
    add_hex(sealed, "senderIdentityX25519Private", a->identity_xpriv, 32);
    add_hex(sealed, "recipientIdentityKey", b->identity_pub, 32);
    add_hex(sealed, "recipientIdentityX25519Public", b->identity_xpub, 32);
    add_hex(sealed, "recipientIdentityX25519Private", b->identity_xpriv, 32);
    list = cJSON_AddArrayToObject(sealed, "envelopes");
    cJSON_AddItemToArray(list, sealed_entry(a, b, "sealed-ephemeral-1", "alice", first->bytes,
                                            first->len, ok));
    cJSON_AddItemToArray(list, sealed_entry(a, b, "sealed-ephemeral-2", "alice", pattern, 405, ok));
    cJSON_AddItemToArray(list, sealed_entry(a, b, "sealed-ephemeral-3", "alice", pattern, 406, ok));
    cJSON_AddItemToArray(list, sealed_entry(a, b, "sealed-ephemeral-4", "alice", pattern, 1941, ok));
    return sealed;
}

/* Alice's device list (docs/PROTOCOL.md 14.1): generation 1, devices 1 "Chromium on Linux" and
 * 7 with an empty label, signed by her identity key; opened and read back before it is written. */
static cJSON *devices_section(const struct parley_account *a, int *ok)
{
    static const uint32_t ids[2] = {1, 7};
    static const char *const labels[2] = {"Chromium on Linux", ""};
    cJSON *d = cJSON_CreateObject(), *list;
    uint8_t unsigned_list[PARLEY_DEVICES_MAX_LIST], out[PARLEY_DEVICES_MAX_BYTES],
        msg[PARLEY_DEVICES_MESSAGE_BYTES(PARLEY_DEVICES_MAX_LIST)];
    size_t len = 6, out_len = 0;
    uint32_t generation = 0, count = 0;

    unsigned_list[0] = PARLEY_DEVICES_VERSION;
    put_u32be(unsigned_list + 1, 1);
    unsigned_list[5] = 2;
    for (size_t i = 0; i < 2; i++) {
        put_u32be(unsigned_list + len, ids[i]);
        unsigned_list[len + 4] = (uint8_t)strlen(labels[i]);
        memcpy(unsigned_list + len + 5, labels[i], strlen(labels[i]));
        len += 5 + strlen(labels[i]);
    }
    devices_message(msg, a->identity_pub, unsigned_list, len);
    if (parley_account_sign_devices(a, unsigned_list, len, out, sizeof out, &out_len) !=
            PARLEY_OK ||
        parley_devices_open(a->identity_pub, out, out_len, &generation, &count) != PARLEY_OK ||
        generation != 1 || count != 2) {
        *ok = 0;
    }
    for (uint32_t i = 0; *ok && i < count; i++) {
        uint32_t id = 0, off = 0, label_len = 0;
        if (parley_devices_entry(out, out_len, i, &id, &off, &label_len) != PARLEY_OK ||
            id != ids[i] || label_len != strlen(labels[i]) ||
            memcmp(out + off, labels[i], label_len) != 0) {
            *ok = 0;
        }
    }
    cJSON_AddStringToObject(d, "note",
                            "Alice of \"x3dh\" signs generation 1 listing device 1, labelled "
                            "\"Chromium on Linux\", and device 7 with an empty label. "
                            "signedMessage = \"parley-devices-v1\" || identityKey || list; "
                            "signed = list || signature (Ed25519 is deterministic).");
    add_hex(d, "identitySeed", a->identity_seed, 32);
    add_hex(d, "identityKey", a->identity_pub, 32);
    cJSON_AddNumberToObject(d, "generation", 1);
    list = cJSON_AddArrayToObject(d, "devices");
    for (size_t i = 0; i < 2; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", ids[i]);
        cJSON_AddStringToObject(e, "label", labels[i]);
        cJSON_AddItemToArray(list, e);
    }
    add_hex(d, "list", unsigned_list, len);
    add_hex(d, "signedMessage", msg, PARLEY_DEVICES_MESSAGE_BYTES(len));
    add_hex(d, "signature", out + len, PARLEY_ED25519_SIGNATUREBYTES);
    add_hex(d, "signed", out, out_len);
    return d;
}

/* Alice's identity seed sealed for a new device (docs/PROTOCOL.md 14.2), and the new device's
 * account made from it with a fixed signed prekey. */
static cJSON *transfer_section(const struct parley_account *a, int *ok)
{
    enum { LABEL_LEN = sizeof(PARLEY_LABEL_IDENTITY) - 1 };
    cJSON *t = cJSON_CreateObject();
    uint8_t key[32], nonce[32], spk[32], ad[LABEL_LEN + 1], out[PARLEY_IDENTITY_TRANSFER_BYTES];
    struct parley_account linked;

    fixed_random(key, "identity-transfer-key");
    fixed_random(nonce, "identity-transfer-nonce");
    fixed_random(spk, "alice-linked-signed-prekey");
    memcpy(ad, PARLEY_LABEL_IDENTITY, LABEL_LEN);
    ad[LABEL_LEN] = PARLEY_IDENTITY_TRANSFER_VERSION;
    memset(&linked, 0, sizeof linked);
    if (account_export_identity_with(a, key, nonce, out) != PARLEY_OK ||
        account_new_linked_with(&linked, key, out, sizeof out, spk) != PARLEY_OK ||
        memcmp(linked.identity_pub, a->identity_pub, 32) != 0 || linked.spk.id != 1 ||
        linked.n_opk != 0) {
        *ok = 0;
    }
    cJSON_AddStringToObject(t, "note",
                            "Alice of \"x3dh\" seals her identity seed for a new device: key = "
                            "SHA-256(\"parley-vectors-v1\" || keyLabel), nonce = the first 12 "
                            "bytes of SHA-256(\"parley-vectors-v1\" || nonceLabel), ad = "
                            "\"parley-identity-v1\" || 0x01, transfer = 0x01 || nonce || "
                            "AES-256-GCM(key, nonce, ad, identitySeed). The new device's signed "
                            "prekey (id 1) is SHA-256(\"parley-vectors-v1\" || "
                            "linkedSignedPrekeyLabel).");
    add_hex(t, "identitySeed", a->identity_seed, 32);
    add_hex(t, "identityKey", a->identity_pub, 32);
    cJSON_AddStringToObject(t, "keyLabel", "identity-transfer-key");
    add_hex(t, "key", key, 32);
    cJSON_AddStringToObject(t, "nonceLabel", "identity-transfer-nonce");
    add_hex(t, "nonce", nonce, PARLEY_AEAD_NONCEBYTES);
    add_hex(t, "ad", ad, sizeof ad);
    add_hex(t, "transfer", out, sizeof out);
    cJSON_AddStringToObject(t, "linkedSignedPrekeyLabel", "alice-linked-signed-prekey");
    cJSON_AddNumberToObject(t, "linkedSignedPrekeyId", linked.spk.id);
    add_hex(t, "linkedSignedPrekeyPrivate", linked.spk.priv, 32);
    add_hex(t, "linkedSignedPrekey", linked.spk.pub, 32);
    add_hex(t, "linkedSignedPrekeySignature", linked.spk.sig, 64);
    account_wipe(&linked);
    sodium_memzero(key, sizeof key);
    return t;
}

static int cmd_vectors(void)
{
    /* The script: who sends what, and in which order messages are delivered. */
    static const char *const texts[] = {
        "Hi Bob, it is Alice.",      "Are you there?",          "Third message",
        "Hello Alice!",              "Yes, here.",              "Out of order, on purpose",
        "Reordered back",            "Got them all",            "Rotating again",
        "ping",                      "pong",                    "Unicode: caf\xc3\xa9 \xe2\x9c\x93",
        "A longer message that spans more than one AES block of sixteen bytes.",
        "short",                     "x",                       "Nearly done",
        "Another",                   "And another",             "Twenty",
        "Twenty-one",                "Twenty-two",              "Bye"};
    /* sender per message (0 Alice, 1 Bob) */
    static const int from[] = {0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0};
    /* delivery order, as message indexes; 1 arrives after 2, 5 after 6 */
    static const int order[] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21};
    enum { COUNT = (int)(sizeof texts / sizeof texts[0]) };
    struct parley_account a, b;
    struct party alice = {"alice", {0}, 0}, bob = {"bob", {0}, 0};
    struct parley_bundle bundle;
    struct sent sent[COUNT];
    uint8_t r_a[32], r_a_spk[32], r_b[32], r_b_spk[32], r_b_opk[32], r_ek[32], r_alice0[32],
        r_bob0[32], sk_a[32], sk_b[32], bundle_bytes[135 + 36], pt[256];
    size_t pt_len = 0, bundle_len = 0;
    cJSON *root = cJSON_CreateObject(), *x3dh, *events;
    char *json;
    int ok = 1, sent_count = 0;

    fixed_random(r_a, "alice-identity");
    fixed_random(r_a_spk, "alice-signed-prekey");
    fixed_random(r_b, "bob-identity");
    fixed_random(r_b_spk, "bob-signed-prekey");
    fixed_random(r_b_opk, "bob-one-time-prekey");
    fixed_random(r_ek, "alice-ephemeral");
    fixed_random(r_alice0, "alice-ratchet-0");
    fixed_random(r_bob0, "bob-ratchet-1");
    if (account_init(&a, r_a, r_a_spk) != PARLEY_OK || account_init(&b, r_b, r_b_spk) != PARLEY_OK ||
        account_add_prekeys_with(&b, 1, r_b_opk) != PARLEY_OK ||
        parley_account_bundle(&b, bundle_bytes, sizeof bundle_bytes, &bundle_len) != PARLEY_OK ||
        bundle_parse_single(&bundle, bundle_bytes, bundle_len) != PARLEY_OK) {
        cJSON_Delete(root);
        return EXIT_REJECTED;
    }
    cJSON_AddStringToObject(root, "protocol", "parley-v1 (docs/PROTOCOL.md)");
    cJSON_AddStringToObject(root, "randomness",
                            "every random input is SHA-256(\"parley-vectors-v1\" || label): "
                            "alice-identity, alice-signed-prekey, bob-identity, bob-signed-prekey, "
                            "bob-one-time-prekey, alice-ephemeral, alice-ratchet-0 (Alice's first "
                            "ratchet key), bob-ratchet-1 (Bob's, at his first message), then "
                            "NAME-ratchet-K for each later DH ratchet step as each delivery's "
                            "randomLabel says (used only when newRatchetPrivateKey is present). "
                            "X25519 private keys are used as drawn (clamped by X25519).");
    x3dh = cJSON_AddObjectToObject(root, "x3dh");
    add_hex(x3dh, "aliceIdentitySeed", a.identity_seed, 32);
    add_hex(x3dh, "aliceIdentityKey", a.identity_pub, 32);
    add_hex(x3dh, "aliceIdentityX25519Private", a.identity_xpriv, 32);
    add_hex(x3dh, "bobIdentitySeed", b.identity_seed, 32);
    add_hex(x3dh, "bobIdentityKey", b.identity_pub, 32);
    add_hex(x3dh, "bobIdentityX25519Public", b.identity_xpub, 32);
    cJSON_AddNumberToObject(x3dh, "bobSignedPrekeyId", b.spk.id);
    add_hex(x3dh, "bobSignedPrekeyPrivate", b.spk.priv, 32);
    add_hex(x3dh, "bobSignedPrekey", b.spk.pub, 32);
    add_hex(x3dh, "bobSignedPrekeySignature", b.spk.sig, 64);
    cJSON_AddNumberToObject(x3dh, "bobOneTimePrekeyId", b.opk[0].id);
    add_hex(x3dh, "bobOneTimePrekeyPrivate", b.opk[0].priv, 32);
    add_hex(x3dh, "bobOneTimePrekey", b.opk[0].pub, 32);
    add_hex(x3dh, "bobBundle", bundle_bytes, bundle_len);
    add_hex(x3dh, "aliceEphemeralPrivate", r_ek, 32);
    {
        uint8_t ek_pub[32], ikbx[32], dh[4][32];
        int dh_ok = crypto_scalarmult_curve25519_base(ek_pub, r_ek) == 0 &&
                    crypto_sign_ed25519_pk_to_curve25519(ikbx, b.identity_pub) == 0 &&
                    crypto_scalarmult_curve25519(dh[0], a.identity_xpriv, b.spk.pub) == 0 &&
                    crypto_scalarmult_curve25519(dh[1], r_ek, ikbx) == 0 &&
                    crypto_scalarmult_curve25519(dh[2], r_ek, b.spk.pub) == 0 &&
                    crypto_scalarmult_curve25519(dh[3], r_ek, b.opk[0].pub) == 0;
        ok = ok && dh_ok;
        add_hex(x3dh, "aliceEphemeralKey", ek_pub, 32);
        add_hex(x3dh, "dh1", dh[0], 32);
        add_hex(x3dh, "dh2", dh[1], 32);
        add_hex(x3dh, "dh3", dh[2], 32);
        add_hex(x3dh, "dh4", dh[3], 32);
    }
    if (session_outbound_with(&alice.s, &a, &bundle, r_ek, r_alice0, sk_a) != PARLEY_OK) {
        ok = 0;
    }
    add_hex(x3dh, "sk", sk_a, 32);
    add_hex(x3dh, "ad", alice.s.ad, 64);
    add_hex(x3dh, "aliceRatchetPrivate0", r_alice0, 32);
    add_hex(x3dh, "aliceRootKey", alice.s.r.rk, 32);
    add_hex(x3dh, "aliceSendingChainKey", alice.s.r.cks, 32);

    events = cJSON_AddArrayToObject(root, "conversation");
    /* Message 0 starts Bob's session (responder X3DH); later ones go through his session. */
    for (int step = 0, next = 0; ok && step < COUNT; step++) {
        int idx = order[step];
        /* Send everything up to idx that has not been sent yet. */
        while (ok && next <= idx) {
            struct party *p = from[next] == 0 ? &alice : &bob;
            cJSON *e = message_entry(p, next, texts[next], &sent[next]);
            if (e == NULL) {
                ok = 0;
            } else {
                sent[next].from = from[next];
                cJSON_AddItemToArray(events, e);
                sent_count = ++next;
            }
        }
        if (!ok) {
            break;
        }
        if (idx == 0) {
            cJSON *e = cJSON_CreateObject();
            if (session_inbound_with(&bob.s, &b, sent[0].bytes, sent[0].len, pt, sizeof pt, &pt_len,
                                     r_bob0, sk_b) != PARLEY_OK ||
                memcmp(sk_a, sk_b, 32) != 0) {
                ok = 0;
            }
            bob.ratchet_steps = 1;
            cJSON_AddNumberToObject(e, "deliver", 0);
            cJSON_AddStringToObject(e, "to", "bob");
            cJSON_AddStringToObject(e, "note", "responder X3DH; bob-ratchet-1 is his first ratchet key");
            add_hex(e, "newRatchetPrivateKey", r_bob0, 32);
            cJSON_AddStringToObject(e, "plaintext", texts[0]);
            add_hex(e, "sk", sk_b, 32);
            add_hex(e, "rootKey", bob.s.r.rk, 32);
            add_hex(e, "receivingChainKey", bob.s.r.ckr, 32);
            add_hex(e, "sendingChainKey", bob.s.r.cks, 32);
            cJSON_AddItemToArray(events, e);
        } else {
            struct party *to = sent[idx].from == 0 ? &bob : &alice;
            cJSON_AddItemToArray(events, delivery_entry(to, &sent[idx], &ok));
        }
    }
    if (ok) {
        cJSON_AddItemToObject(root, "sealed", sealed_section(&a, &b, &sent[0], &ok));
        cJSON_AddItemToObject(root, "devices", devices_section(&a, &ok));
        cJSON_AddItemToObject(root, "identityTransfer", transfer_section(&a, &ok));
    }
    for (int i = 0; i < sent_count; i++) {
        free(sent[i].bytes);
    }
    session_wipe(&alice.s);
    session_wipe(&bob.s);
    account_wipe(&a);
    account_wipe(&b);
    if (!ok) {
        cJSON_Delete(root);
        fprintf(stderr, "parley-tool: the vector conversation failed\n");
        return EXIT_REJECTED;
    }
    json = cJSON_Print(root);
    cJSON_Delete(root);
    if (json == NULL) {
        return EXIT_REJECTED;
    }
    printf("%s\n", json);
    cJSON_free(json);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        usage();
        return EXIT_USAGE;
    }
    if (parley_init() != PARLEY_OK) {
        fprintf(stderr, "parley-tool: cannot initialise the core\n");
        return EXIT_REJECTED;
    }
    cmd = argv[1];
    if (strcmp(cmd, "aead-seal") == 0) {
        return cmd_aead(argc, argv, 1);
    }
    if (strcmp(cmd, "aead-open") == 0) {
        return cmd_aead(argc, argv, 0);
    }
    if (strcmp(cmd, "hkdf") == 0) {
        return cmd_hkdf(argc, argv);
    }
    if (strcmp(cmd, "hmac") == 0) {
        return cmd_hmac(argc, argv);
    }
    if (strcmp(cmd, "x25519") == 0) {
        return cmd_x25519(argc, argv);
    }
    if (strcmp(cmd, "ed25519-verify") == 0) {
        return cmd_ed25519_verify(argc, argv);
    }
    if (strcmp(cmd, "vectors") == 0 && argc == 2) {
        return cmd_vectors();
    }
    if (strcmp(cmd, "vectors-v2") == 0 && argc == 2) {
        return cmd_vectors_v2();
    }
    usage();
    return EXIT_USAGE;
}
