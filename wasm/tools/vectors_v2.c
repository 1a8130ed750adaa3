/*
 * parley-tool vectors-v2: docs/vectors/protocol-v2.json (docs/PROTOCOL.md section 16). PQXDH
 * (protocol version 2) with and without one-time prekeys of either kind, and what the version 1
 * vectors leave out: X3DH without a one-time prekey, skipped keys across a DH ratchet step, a
 * forgotten receiving chain, every named limit refused, sealed account and session state, safety
 * numbers and their QR payload, signed challenges and a mailbox envelope. Every random input is
 * SHA-256 ("parley-vectors-v2" || label), or SHA-512 of the same for a 64-byte KEM seed.
 */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void random64(uint8_t out[64], const char *label)
{
    crypto_hash_sha512_state st;

    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, (const uint8_t *)vectors_prefix, strlen(vectors_prefix));
    crypto_hash_sha512_update(&st, (const uint8_t *)label, strlen(label));
    crypto_hash_sha512_final(&st, out);
}

const char *v2_error_name(int rc)
{
    static const char *const names[] = {
        "PARLEY_OK",           "PARLEY_ERR_ARGUMENT",      "PARLEY_ERR_INIT",
        "PARLEY_ERR_AUTH",     "PARLEY_ERR_WEAK_KEY",      "PARLEY_ERR_TOO_LARGE",
        "PARLEY_ERR_NO_MEMORY", "PARLEY_ERR_BAD_SIGNATURE", "PARLEY_ERR_VERSION",
        "PARLEY_ERR_MALFORMED", "PARLEY_ERR_DUPLICATE",    "PARLEY_ERR_LIMIT",
        "PARLEY_ERR_UNKNOWN_PREKEY", "PARLEY_ERR_STATE",   "PARLEY_ERR_BUFFER"};

    return rc <= 0 && -rc < (int)(sizeof names / sizeof names[0]) ? names[-rc] : "?";
}

/* ---- accounts ---- */

static int make_accounts(struct parley_account *a, struct parley_account *b)
{
    uint8_t r[5][32], kem_lr[64], kem_ot[64];

    fixed_random(r[0], "alice-identity");
    fixed_random(r[1], "alice-signed-prekey");
    fixed_random(r[2], "bob-identity");
    fixed_random(r[3], "bob-signed-prekey");
    fixed_random(r[4], "bob-one-time-prekey");
    random64(kem_lr, "bob-kem-last-resort");
    random64(kem_ot, "bob-kem-one-time");
    return account_init(a, r[0], r[1]) == PARLEY_OK && account_init(b, r[2], r[3]) == PARLEY_OK &&
           account_add_prekeys_with(b, 1, r[4]) == PARLEY_OK &&
           account_rotate_kem_with(b, kem_lr) == PARLEY_OK &&
           account_add_kem_prekeys_with(b, 1, kem_ot) == PARLEY_OK;
}

static cJSON *kem_json(const struct parley_kem_prekey *k, const char *label, int *ok)
{
    cJSON *e = cJSON_CreateObject();
    uint8_t rec[PARLEY_KEM_PREKEY_BYTES];

    if (account_kem_record(k, rec) != PARLEY_OK) {
        *ok = 0;
    }
    cJSON_AddNumberToObject(e, "id", k->id);
    cJSON_AddStringToObject(e, "seedLabel", label);
    add_hex(e, "seed", k->seed, sizeof k->seed);
    add_hex(e, "publicKey", rec + 4, PARLEY_MLKEM_PUBLICKEYBYTES);
    add_hex(e, "signature", k->sig, 64);
    add_hex(e, "record", rec, sizeof rec);
    return e;
}

static void identity_json(cJSON *o, const struct parley_account *a)
{
    add_hex(o, "identitySeed", a->identity_seed, 32);
    add_hex(o, "identityKey", a->identity_pub, 32);
    add_hex(o, "identityX25519Private", a->identity_xpriv, 32);
    cJSON_AddNumberToObject(o, "signedPrekeyId", a->spk.id);
    add_hex(o, "signedPrekeyPrivate", a->spk.priv, 32);
    add_hex(o, "signedPrekey", a->spk.pub, 32);
    add_hex(o, "signedPrekeySignature", a->spk.sig, 64);
}

static cJSON *accounts_section(const struct parley_account *a, const struct parley_account *b,
                               int *ok)
{
    cJSON *s = cJSON_CreateObject(), *alice = cJSON_AddObjectToObject(s, "alice");
    cJSON *bob = cJSON_AddObjectToObject(s, "bob");
    size_t len = parley_account_kem_upload_size(b), got = 0;
    uint8_t *up = malloc(len);

    identity_json(alice, a);
    identity_json(bob, b);
    cJSON_AddNumberToObject(bob, "oneTimePrekeyId", b->opk[0].id);
    add_hex(bob, "oneTimePrekeyPrivate", b->opk[0].priv, 32);
    add_hex(bob, "oneTimePrekey", b->opk[0].pub, 32);
    cJSON_AddItemToObject(bob, "kemLastResort", kem_json(&b->kem, "bob-kem-last-resort", ok));
    cJSON_AddItemToObject(bob, "kemOneTime", kem_json(&b->kem_otk[0], "bob-kem-one-time", ok));
    if (up == NULL || parley_account_kem_upload(b, up, len, &got) != PARLEY_OK) {
        *ok = 0;
    } else {
        add_hex(bob, "kemUpload", up, got);
    }
    free(up);
    return s;
}

/* Bob's single bundle, with his one-time prekey or without. */
int v2_bundle_of(const struct parley_account *b, int with_opk, uint8_t out[171], size_t *len)
{
    uint8_t full[135 + 36];
    size_t full_len = 0;

    if (parley_account_bundle(b, full, sizeof full, &full_len) != PARLEY_OK || full_len != 171) {
        return 0;
    }
    memcpy(out, full, 171);
    if (!with_opk) {
        out[134] = 0;
    }
    *len = with_opk ? 171 : 135;
    return 1;
}

/* ---- PQXDH and X3DH session starts ---- */

/* One session start from Alice to Bob (a copy of b): PQXDH when kem is non-NULL, X3DH otherwise;
 * then Bob's reply. *first gets the initial message when first is not NULL. */
static cJSON *start_case(const struct parley_account *a, const struct parley_account *b,
                         const char *name, int with_opk, const struct parley_kem_prekey *kem,
                         struct sent *first, int *ok)
{
    cJSON *e = cJSON_CreateObject(), *resp;
    struct parley_account *bc = malloc(sizeof *bc);
    struct party *alice = calloc(1, sizeof *alice), *bob = calloc(1, sizeof *bob);
    struct parley_bundle bundle;
    struct parley_kem_bundle kb;
    struct sent m0 = {0}, m1 = {0};
    uint8_t bbytes[171], ek[32], ek_pub[32], ikbx[32], dh[4][32], coins[32], r0[32], rb[32];
    uint8_t sk_a[32], sk_b[32], ss[32], pt[256], rec[PARLEY_KEM_PREKEY_BYTES];
    uint8_t *ct = malloc(PARLEY_MLKEM_CIPHERTEXTBYTES);
    size_t blen = 0, pt_len = 0;
    char label[4][80], text[64];

    snprintf(label[0], sizeof label[0], "%s-alice-ephemeral", name);
    snprintf(label[1], sizeof label[1], "%s-kem-coins", name);
    snprintf(label[2], sizeof label[2], "%s-alice-ratchet-0", name);
    snprintf(label[3], sizeof label[3], "%s-bob-ratchet-1", name);
    fixed_random(ek, label[0]);
    fixed_random(coins, label[1]);
    fixed_random(r0, label[2]);
    fixed_random(rb, label[3]);
    if (bc == NULL || alice == NULL || bob == NULL || ct == NULL) {
        *ok = 0;
        goto done;
    }
    *bc = *b;
    alice->name = "alice";
    bob->name = "bob";
    if (!v2_bundle_of(bc, with_opk, bbytes, &blen) ||
        bundle_parse_single(&bundle, bbytes, blen) != PARLEY_OK ||
        crypto_scalarmult_curve25519_base(ek_pub, ek) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(ikbx, bc->identity_pub) != 0 ||
        crypto_scalarmult_curve25519(dh[0], a->identity_xpriv, bc->spk.pub) != 0 ||
        crypto_scalarmult_curve25519(dh[1], ek, ikbx) != 0 ||
        crypto_scalarmult_curve25519(dh[2], ek, bc->spk.pub) != 0 ||
        crypto_scalarmult_curve25519(dh[3], ek, bc->opk[0].pub) != 0) {
        *ok = 0;
        goto done;
    }
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddBoolToObject(e, "withOneTimePrekey", with_opk);
    add_hex(e, "bundle", bbytes, blen);
    cJSON_AddStringToObject(e, "ephemeralLabel", label[0]);
    add_hex(e, "ephemeralPrivate", ek, 32);
    add_hex(e, "ephemeralKey", ek_pub, 32);
    add_hex(e, "dh1", dh[0], 32);
    add_hex(e, "dh2", dh[1], 32);
    add_hex(e, "dh3", dh[2], 32);
    if (with_opk) {
        add_hex(e, "dh4", dh[3], 32);
    }
    if (kem != NULL) {
        cJSON_AddBoolToObject(e, "withOneTimeKemPrekey", kem != &b->kem);
        if (account_kem_record(kem, rec) != PARLEY_OK ||
            kem_bundle_parse(&kb, rec, sizeof rec) != PARLEY_OK ||
            parley_mlkem_encaps(ct, ss, kb.pk, sizeof kb.pk, coins) != PARLEY_OK ||
            session_outbound_pq_with(&alice->s, a, &bundle, &kb, ek, r0, coins, sk_a) !=
                PARLEY_OK ||
            memcmp(alice->s.kem_ct, ct, PARLEY_MLKEM_CIPHERTEXTBYTES) != 0) {
            *ok = 0;
            goto done;
        }
        cJSON_AddNumberToObject(e, "kemPrekeyId", kem->id);
        add_hex(e, "kemPrekey", rec, sizeof rec);
        cJSON_AddStringToObject(e, "kemCoinsLabel", label[1]);
        add_hex(e, "kemCoins", coins, 32);
        add_hex(e, "kemCiphertext", ct, PARLEY_MLKEM_CIPHERTEXTBYTES);
        add_hex(e, "kemSharedSecret", ss, 32);
    } else if (session_outbound_with(&alice->s, a, &bundle, ek, r0, sk_a) != PARLEY_OK) {
        *ok = 0;
        goto done;
    }
    add_hex(e, "sk", sk_a, 32);
    add_hex(e, "ad", alice->s.ad, 64);
    cJSON_AddStringToObject(e, "aliceRatchetLabel", label[2]);
    add_hex(e, "aliceRatchetPrivate0", r0, 32);
    add_hex(e, "aliceRootKey", alice->s.r.rk, 32);
    add_hex(e, "aliceSendingChainKey", alice->s.r.cks, 32);
    snprintf(text, sizeof text, "First message (%s)", name);
    cJSON_AddItemToObject(e, "initial", message_entry(alice, 0, text, &m0));
    if (m0.bytes == NULL ||
        session_inbound_with(&bob->s, bc, m0.bytes, m0.len, pt, sizeof pt, &pt_len, rb, sk_b) !=
            PARLEY_OK ||
        memcmp(sk_a, sk_b, 32) != 0 || pt_len != strlen(text)) {
        *ok = 0;
        goto done;
    }
    bob->ratchet_steps = 1;
    resp = cJSON_AddObjectToObject(e, "responder");
    cJSON_AddStringToObject(resp, "bobRatchetLabel", label[3]);
    add_hex(resp, "bobRatchetPrivate1", rb, 32);
    add_hex(resp, "rootKey", bob->s.r.rk, 32);
    add_hex(resp, "receivingChainKey", bob->s.r.ckr, 32);
    add_hex(resp, "sendingChainKey", bob->s.r.cks, 32);
    cJSON_AddNumberToObject(resp, "oneTimePrekeysLeft", (double)bc->n_opk);
    cJSON_AddNumberToObject(resp, "oneTimeKemPrekeysLeft", (double)bc->n_kem_otk);
    snprintf(text, sizeof text, "Reply (%s)", name);
    cJSON_AddItemToObject(e, "reply", message_entry(bob, 1, text, &m1));
    m1.from = 1;
    if (m1.bytes == NULL) {
        *ok = 0;
        goto done;
    }
    cJSON_AddItemToObject(e, "replyDelivery", delivery_entry(alice, &m1, ok));
    if (first != NULL) {
        *first = m0;
        m0.bytes = NULL;
    }
done:
    free(m0.bytes);
    free(m1.bytes);
    free(ct);
    if (alice != NULL) {
        session_wipe(&alice->s);
    }
    if (bob != NULL) {
        session_wipe(&bob->s);
    }
    free(alice);
    free(bob);
    if (bc != NULL) {
        account_wipe(bc);
    }
    free(bc);
    return e;
}

/* ---- Double Ratchet scenarios ---- */

/* A script step: 's' send (from 0 Alice / 1 Bob, after advancing the sending chain to message
 * number skip_to when it is not -1), or 'd' deliver message index, expecting error (0: success). */
struct step {
    char kind;
    int who;
    int skip_to;
    int error;
};

#define MAX_SCRIPT 64

static void advance_chain(struct parley_ratchet *r, uint32_t to)
{
    uint8_t mk[32];

    while (r->ns < to) {
        kdf_ck(mk, r->cks, r->cks);
        r->ns++;
    }
    PARLEY_WIPE(mk);
}

/* The script runs after an X3DH start without one-time prekey (message 0 is its initial message,
 * delivered first); refused deliveries must leave the receiver unchanged. */
static cJSON *scenario(const struct parley_account *a, const struct parley_account *b,
                       const char *name, const struct step *steps, size_t n_steps, int *ok)
{
    cJSON *e = cJSON_CreateObject(), *x, *events;
    struct parley_account *bc = malloc(sizeof *bc);
    struct party *p[2] = {calloc(1, sizeof **p), calloc(1, sizeof **p)};
    struct sent sent[MAX_SCRIPT];
    struct parley_bundle bundle;
    uint8_t bbytes[171], ek[32], r0[32], rb[32], sk[32], pt[256];
    size_t blen = 0, pt_len = 0;
    int n_sent = 0;
    char label[3][80], text[64];

    memset(sent, 0, sizeof sent);
    snprintf(label[0], sizeof label[0], "%s-alice-ephemeral", name);
    snprintf(label[1], sizeof label[1], "%s-alice-ratchet-0", name);
    snprintf(label[2], sizeof label[2], "%s-bob-ratchet-1", name);
    fixed_random(ek, label[0]);
    fixed_random(r0, label[1]);
    fixed_random(rb, label[2]);
    if (bc == NULL || p[0] == NULL || p[1] == NULL) {
        *ok = 0;
        goto done;
    }
    *bc = *b;
    p[0]->name = "alice";
    p[1]->name = "bob";
    if (!v2_bundle_of(bc, 0, bbytes, &blen) || bundle_parse_single(&bundle, bbytes, blen) != PARLEY_OK ||
        session_outbound_with(&p[0]->s, a, &bundle, ek, r0, sk) != PARLEY_OK) {
        *ok = 0;
        goto done;
    }
    cJSON_AddStringToObject(e, "name", name);
    x = cJSON_AddObjectToObject(e, "x3dh");
    cJSON_AddStringToObject(x, "ephemeralLabel", label[0]);
    add_hex(x, "aliceEphemeralPrivate", ek, 32);
    add_hex(x, "sk", sk, 32);
    add_hex(x, "ad", p[0]->s.ad, 64);
    cJSON_AddStringToObject(x, "aliceRatchetLabel", label[1]);
    add_hex(x, "aliceRatchetPrivate0", r0, 32);
    add_hex(x, "aliceRootKey", p[0]->s.r.rk, 32);
    add_hex(x, "aliceSendingChainKey", p[0]->s.r.cks, 32);
    events = cJSON_AddArrayToObject(e, "events");
    for (size_t i = 0; *ok && i < n_steps; i++) {
        const struct step *st = &steps[i];
        if (st->kind == 's') {
            cJSON *m;
            if (n_sent == MAX_SCRIPT) {
                *ok = 0;
                break;
            }
            if (st->skip_to >= 0) {
                advance_chain(&p[st->who]->s.r, (uint32_t)st->skip_to);
            }
            snprintf(text, sizeof text, "%s %d", name, n_sent);
            m = message_entry(p[st->who], n_sent, text, &sent[n_sent]);
            if (m == NULL) {
                *ok = 0;
                break;
            }
            if (st->skip_to >= 0) {
                cJSON_AddNumberToObject(m, "skipTo", st->skip_to);
            }
            sent[n_sent].from = st->who;
            cJSON_AddItemToArray(events, m);
            n_sent++;
        } else if (st->who == 0) { /* message 0: responder X3DH */
            cJSON *d = cJSON_CreateObject();
            if (session_inbound_with(&p[1]->s, bc, sent[0].bytes, sent[0].len, pt, sizeof pt,
                                     &pt_len, rb, NULL) != PARLEY_OK) {
                *ok = 0;
            }
            p[1]->ratchet_steps = 1;
            cJSON_AddNumberToObject(d, "deliver", 0);
            cJSON_AddStringToObject(d, "to", "bob");
            cJSON_AddStringToObject(d, "randomLabel", label[2]);
            add_hex(d, "newRatchetPrivateKey", rb, 32);
            add_hex(d, "rootKey", p[1]->s.r.rk, 32);
            add_hex(d, "receivingChainKey", p[1]->s.r.ckr, 32);
            add_hex(d, "sendingChainKey", p[1]->s.r.cks, 32);
            cJSON_AddNumberToObject(d, "skippedKeys", 0);
            cJSON_AddItemToArray(events, d);
        } else if (st->error == 0) {
            const struct sent *m = &sent[st->who];
            cJSON_AddItemToArray(events, delivery_entry(p[1 - m->from], m, ok));
        } else {
            const struct sent *m = &sent[st->who];
            struct party *to = p[1 - m->from];
            cJSON *d = cJSON_CreateObject();
            uint8_t random[32] = {0};
            uint8_t *buf = malloc(m->len);
            int rc = buf == NULL ? PARLEY_ERR_NO_MEMORY
                                 : session_decrypt_with(&to->s, m->bytes, m->len, buf, m->len,
                                                        &pt_len, random);
            free(buf);
            if (rc != st->error) {
                *ok = 0;
            }
            cJSON_AddNumberToObject(d, "deliver", m->index);
            cJSON_AddStringToObject(d, "to", to->name);
            cJSON_AddStringToObject(d, "error", v2_error_name(rc));
            cJSON_AddNumberToObject(d, "skippedKeys", (double)to->s.r.n_skipped);
            cJSON_AddNumberToObject(d, "earlierChains", to->s.r.n_old);
            cJSON_AddItemToArray(events, d);
        }
    }
done:
    for (int i = 0; i < n_sent; i++) {
        free(sent[i].bytes);
    }
    for (int i = 0; i < 2; i++) {
        if (p[i] != NULL) {
            session_wipe(&p[i]->s);
        }
        free(p[i]);
    }
    if (bc != NULL) {
        account_wipe(bc);
    }
    free(bc);
    return e;
}

/* Deliveries name messages by index ("d" with who = index). */#define SEND(w) {'s', (w), -1, 0}
#define SEND_AT(w, n) {'s', (w), (n), 0}
#define DELIVER(i) {'d', (i), -1, 0}
#define REFUSE(i, err) {'d', (i), -1, (err)}

static cJSON *ratchet_section(const struct parley_account *a, const struct parley_account *b,
                              int *ok)
{
    /* Alice sends 0, 1, 2; Bob gets 0 and answers 3; Alice gets 3 and sends 4 in a new chain with
     * PN = 3 while Bob has seen 1 message of the old one: he keeps keys for 1 and 2, then 2 and 1
     * arrive late. */
    static const struct step skipped[] = {SEND(0),    SEND(0),    SEND(0),    DELIVER(0),
                                          SEND(1),    DELIVER(3), SEND(0),    DELIVER(4),
                                          DELIVER(2), DELIVER(1)};
    /* Message 1 is held back; Bob gets 2 (a key for 1 is kept), then nine round trips give him
     * nine new receiving chains: at the ninth, the first is forgotten with its kept key, and
     * message 1 is refused. */
    static const struct step forgotten[] = {
        SEND(0),    SEND(0),    SEND(0),    DELIVER(0), DELIVER(2), SEND(1),    DELIVER(3),
        SEND(0),    DELIVER(4), SEND(1),    DELIVER(5), SEND(0),    DELIVER(6), SEND(1),
        DELIVER(7), SEND(0),    DELIVER(8), SEND(1),    DELIVER(9), SEND(0),    DELIVER(10),
        SEND(1),    DELIVER(11), SEND(0),   DELIVER(12), SEND(1),   DELIVER(13), SEND(0),
        DELIVER(14), SEND(1),   DELIVER(15), SEND(0),   DELIVER(16), SEND(1),   DELIVER(17),
        SEND(0),    DELIVER(18), SEND(1),   DELIVER(19), SEND(0),   DELIVER(20),
        REFUSE(1, PARLEY_ERR_AUTH)};
    /* The skipped-key limits in one chain: 1000 keys kept (gap 1000), 2000 kept, one more refused
     * (PARLEY_MAX_SKIPPED_KEYS), then a gap of 1001 refused (PARLEY_MAX_SKIP). */
    static const struct step limits[] = {SEND(0),          DELIVER(0),
                                         SEND_AT(0, 1001), DELIVER(1),
                                         SEND_AT(0, 2002), DELIVER(2),
                                         SEND_AT(0, 2004), REFUSE(3, PARLEY_ERR_LIMIT),
                                         SEND_AT(0, 3004), REFUSE(4, PARLEY_ERR_LIMIT)};
    cJSON *s = cJSON_CreateObject();

    cJSON_AddItemToObject(s, "skippedAcrossStep",
                          scenario(a, b, "skipped", skipped, sizeof skipped / sizeof *skipped, ok));
    cJSON_AddItemToObject(s, "ninthChainForgotten",
                          scenario(a, b, "forgotten", forgotten,
                                   sizeof forgotten / sizeof *forgotten, ok));
    cJSON_AddItemToObject(s, "skipLimits",
                          scenario(a, b, "limits", limits, sizeof limits / sizeof *limits, ok));
    return s;
}

/* ---- safety numbers, challenges, mailbox ---- */

static cJSON *safety_section(const struct parley_account *a, const struct parley_account *b,
                             int *ok)
{
    cJSON *e = cJSON_CreateObject();
    char number[61], grouped[72];
    uint8_t qr[PARLEY_SAFETY_QR_BYTES];
    size_t g = 0;

    if (parley_safety_number(number, a->identity_pub, b->identity_pub) != PARLEY_OK ||
        parley_safety_qr(qr, a->identity_pub, b->identity_pub) != PARLEY_OK) {
        *ok = 0;
        return e;
    }
    for (int i = 0; i < 60; i++) {
        if (i != 0 && i % 5 == 0) {
            grouped[g++] = ' ';
        }
        grouped[g++] = number[i];
    }
    grouped[g] = '\0';
    add_hex(e, "identityKeyA", a->identity_pub, 32);
    add_hex(e, "identityKeyB", b->identity_pub, 32);
    cJSON_AddStringToObject(e, "safetyNumber", number);
    cJSON_AddStringToObject(e, "grouped", grouped);
    add_hex(e, "qr", qr, sizeof qr);
    return e;
}

static cJSON *challenge_entry(const struct parley_account *a, const uint8_t *room, size_t room_len,
                              double issued, int *ok)
{
    cJSON *e = cJSON_CreateObject();
    uint8_t nonce[32], sig[64], msg[19 + 2 + PARLEY_MAX_ROOM_ID + 8 + 32];
    size_t len;

    fixed_random(nonce, "challenge-nonce");
    memcpy(msg, PARLEY_LABEL_CHALLENGE, sizeof(PARLEY_LABEL_CHALLENGE) - 1); /* 19 bytes */
    msg[19] = (uint8_t)(room_len >> 8);
    msg[20] = (uint8_t)room_len;
    memcpy(msg + 21, room, room_len);
    put_u64be(msg + 21 + room_len, (uint64_t)issued);
    memcpy(msg + 29 + room_len, nonce, 32);
    len = 61 + room_len;
    if (parley_account_sign_challenge(a, room, room_len, issued, nonce, sig) != PARLEY_OK ||
        parley_ed25519_verify(a->identity_pub, msg, len, sig) != PARLEY_OK ||
        parley_challenge_verify(a->identity_pub, room, room_len, issued, nonce, sig) != PARLEY_OK) {
        *ok = 0;
    }
    add_hex(e, "identityKey", a->identity_pub, 32);
    add_hex(e, "roomId", room, room_len);
    cJSON_AddNumberToObject(e, "issuedAtMs", issued);
    cJSON_AddStringToObject(e, "nonceLabel", "challenge-nonce");
    add_hex(e, "nonce", nonce, 32);
    add_hex(e, "signedMessage", msg, len);
    add_hex(e, "signature", sig, 64);
    return e;
}

int cmd_vectors_v2(void)
{
    struct parley_account *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    cJSON *root = cJSON_CreateObject(), *list, *ch;
    struct sent first = {0};
    uint8_t room[PARLEY_MAX_ROOM_ID];
    char *json;
    int ok = 1;

    vectors_prefix = "parley-vectors-v2";
    if (a == NULL || b == NULL || !make_accounts(a, b)) {
        ok = 0;
        goto done;
    }
    cJSON_AddStringToObject(root, "protocol", "parley-v2 (docs/PROTOCOL.md, section 16 describes "
                                              "this file)");
    cJSON_AddStringToObject(root, "randomness",
                            "every 32-byte random input is SHA-256(\"parley-vectors-v2\" || label) "
                            "and every 64-byte ML-KEM seed SHA-512(\"parley-vectors-v2\" || label); "
                            "each value's label is in the field beside it or named in section 16");
    cJSON_AddItemToObject(root, "accounts", accounts_section(a, b, &ok));
    list = cJSON_AddArrayToObject(root, "pqxdh");
    cJSON_AddItemToArray(list, start_case(a, b, "pq-opk-otkem", 1, &b->kem_otk[0], &first, &ok));
    cJSON_AddItemToArray(list, start_case(a, b, "pq-otkem", 0, &b->kem_otk[0], NULL, &ok));
    cJSON_AddItemToArray(list, start_case(a, b, "pq-opk-lastresort", 1, &b->kem, NULL, &ok));
    cJSON_AddItemToArray(list, start_case(a, b, "pq-lastresort", 0, &b->kem, NULL, &ok));
    cJSON_AddItemToObject(root, "x3dhNoOneTimePrekey", start_case(a, b, "x3dh-noopk", 0, NULL,
                                                                   NULL, &ok));
    cJSON_AddItemToObject(root, "ratchet", ratchet_section(a, b, &ok));
    cJSON_AddItemToObject(root, "limits", v2_limits_section(a, b, &ok));
    cJSON_AddItemToObject(root, "sealedState", v2_state_section(a, b, &ok));
    cJSON_AddItemToObject(root, "safetyNumber", safety_section(a, b, &ok));
    ch = cJSON_AddArrayToObject(root, "challenges");
    cJSON_AddItemToArray(ch, challenge_entry(a, (const uint8_t *)"room-7f3a", 9, 1765000000000.0,
                                             &ok));
    for (size_t i = 0; i < sizeof room; i++) {
        room[i] = (uint8_t)('a' + i % 26);
    }
    cJSON_AddItemToArray(ch, challenge_entry(a, room, sizeof room, 4102444800000.0, &ok));
    if (ok && first.bytes != NULL) {
        cJSON_AddItemToObject(root, "mailbox", sealed_entry(a, b, "mailbox-ephemeral", "alice",
                                                            first.bytes, first.len, &ok));
    }
done:
    free(first.bytes);
    if (a != NULL) {
        account_wipe(a);
    }
    if (b != NULL) {
        account_wipe(b);
    }
    free(a);
    free(b);
    if (!ok) {
        cJSON_Delete(root);
        fprintf(stderr, "parley-tool: the version 2 vectors failed\n");
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
