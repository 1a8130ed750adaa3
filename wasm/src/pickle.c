/*
 * State serialization and sealing. Plain encodings are version-first, fixed-order, big-endian,
 * and the reader is bounds-checked: unknown versions, out-of-range fields, truncation and
 * trailing bytes are all refused. Sealed state is
 *   version (0x01) || kind ('A' account, 'S' session) || nonce (12) || AES-256-GCM(plain)
 * with the first two bytes as associated data.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define SEAL_HEADER_BYTES 14 /* version, kind, nonce */
#define PLAIN_VERSION 0x01
/* Version 2 of the plain account adds the KEM prekeys; of the plain session, the PQXDH fields.
 * Version 1 is still read (and written for accounts without KEM prekeys and for X3DH sessions,
 * so that their bytes do not change). */
#define PLAIN_VERSION_PQ 0x02
#define KEM_PLAIN_BYTES (4 + PARLEY_MLKEM_SEEDBYTES + 64)

struct writer {
    uint8_t *p;
    size_t pos;
};

static void w_bytes(struct writer *w, const uint8_t *b, size_t n)
{
    memcpy(w->p + w->pos, b, n);
    w->pos += n;
}

static void w_u8(struct writer *w, uint8_t v)
{
    w->p[w->pos++] = v;
}

static void w_u16(struct writer *w, uint16_t v)
{
    w->p[w->pos++] = (uint8_t)(v >> 8);
    w->p[w->pos++] = (uint8_t)v;
}

static void w_u32(struct writer *w, uint32_t v)
{
    put_u32be(w->p + w->pos, v);
    w->pos += 4;
}

struct reader {
    const uint8_t *p;
    size_t pos;
    size_t len;
    int err;
};

static void r_bytes(struct reader *r, uint8_t *out, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
}

static uint8_t r_u8(struct reader *r)
{
    uint8_t v;

    r_bytes(r, &v, 1);
    return v;
}

static uint16_t r_u16(struct reader *r)
{
    uint8_t b[2];

    r_bytes(r, b, 2);
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t r_u32(struct reader *r)
{
    uint8_t b[4];

    r_bytes(r, b, 4);
    return get_u32be(b);
}

/* A flag byte: 0 or 1, anything else is malformed. */
static uint8_t r_flag(struct reader *r)
{
    uint8_t v = r_u8(r);

    if (v > 1) {
        r->err = 1;
    }
    return v;
}

static int all_zero(const uint8_t *b, size_t n)
{
    return sodium_is_zero(b, n);
}

/* ---- account ---- */

static int account_has_kem_state(const struct parley_account *a)
{
    return a->has_kem || a->has_kem_prev || a->n_kem_otk != 0 || a->next_kem_id != 1;
}

size_t account_plain_size(const struct parley_account *a)
{
    size_t n = 1 + 32 + (4 + 32 + 64) + 1 + (a->has_prev ? 4 + 32 + 64 : 0) + 4 + 4 + 2 +
               a->n_opk * (4 + 32 + 1);

    if (account_has_kem_state(a)) {
        n += 4 + 1 + (a->has_kem ? KEM_PLAIN_BYTES : 0) + 1 +
             (a->has_kem_prev ? KEM_PLAIN_BYTES : 0) + 2 + a->n_kem_otk * (KEM_PLAIN_BYTES + 1);
    }
    return n;
}

static void write_kem(struct writer *w, const struct parley_kem_prekey *k)
{
    w_u32(w, k->id);
    w_bytes(w, k->seed, sizeof k->seed);
    w_bytes(w, k->sig, sizeof k->sig);
}

static void read_kem(struct reader *r, struct parley_kem_prekey *k, uint32_t next_id)
{
    k->id = r_u32(r);
    r_bytes(r, k->seed, sizeof k->seed);
    r_bytes(r, k->sig, sizeof k->sig);
    if (k->id == 0 || k->id >= next_id) {
        r->err = 1;
    }
}

static void write_spk(struct writer *w, const struct parley_signed_prekey *spk)
{
    w_u32(w, spk->id);
    w_bytes(w, spk->priv, 32);
    w_bytes(w, spk->sig, 64);
}

static void account_write(const struct parley_account *a, const struct writer *wp)
{
    struct writer w = *wp;

    w_u8(&w, account_has_kem_state(a) ? PLAIN_VERSION_PQ : PLAIN_VERSION);
    w_bytes(&w, a->identity_seed, 32);
    write_spk(&w, &a->spk);
    w_u8(&w, a->has_prev);
    if (a->has_prev) {
        write_spk(&w, &a->spk_prev);
    }
    w_u32(&w, a->next_spk_id);
    w_u32(&w, a->next_opk_id);
    w_u16(&w, (uint16_t)a->n_opk);
    for (size_t i = 0; i < a->n_opk; i++) {
        w_u32(&w, a->opk[i].id);
        w_bytes(&w, a->opk[i].priv, 32);
        w_u8(&w, a->opk[i].published);
    }
    if (account_has_kem_state(a)) {
        w_u32(&w, a->next_kem_id);
        w_u8(&w, a->has_kem);
        if (a->has_kem) {
            write_kem(&w, &a->kem);
        }
        w_u8(&w, a->has_kem_prev);
        if (a->has_kem_prev) {
            write_kem(&w, &a->kem_prev);
        }
        w_u16(&w, (uint16_t)a->n_kem_otk);
        for (size_t i = 0; i < a->n_kem_otk; i++) {
            write_kem(&w, &a->kem_otk[i]);
            w_u8(&w, a->kem_otk[i].published);
        }
    }
}

/* The KEM part of a version 2 plain account. */
static void account_read_kem(struct reader *r, struct parley_account *a)
{
    a->next_kem_id = r_u32(r);
    a->has_kem = r_flag(r);
    if (a->has_kem) {
        read_kem(r, &a->kem, a->next_kem_id);
    }
    a->has_kem_prev = r_flag(r);
    if (a->has_kem_prev) {
        read_kem(r, &a->kem_prev, a->next_kem_id);
    }
    a->n_kem_otk = r_u16(r);
    if (a->next_kem_id == 0 || a->n_kem_otk > PARLEY_MAX_KEM_PREKEYS ||
        (a->has_kem_prev && !a->has_kem)) {
        r->err = 1;
    }
    for (size_t i = 0; i < a->n_kem_otk && !r->err; i++) {
        read_kem(r, &a->kem_otk[i], a->next_kem_id);
        a->kem_otk[i].published = r_flag(r);
    }
}

static void read_spk(struct reader *r, struct parley_signed_prekey *spk)
{
    spk->id = r_u32(r);
    r_bytes(r, spk->priv, 32);
    r_bytes(r, spk->sig, 64);
}

static int account_read(struct parley_account *a, const uint8_t *in, size_t len)
{
    struct reader r = {in, 0, len, 0};
    uint8_t version;

    memset(a, 0, sizeof *a);
    version = r_u8(&r);
    if (r.err) {
        return PARLEY_ERR_MALFORMED;
    }
    if (version != PLAIN_VERSION && version != PLAIN_VERSION_PQ) {
        return PARLEY_ERR_VERSION;
    }
    r_bytes(&r, a->identity_seed, 32);
    read_spk(&r, &a->spk);
    a->has_prev = r_flag(&r);
    if (a->has_prev) {
        read_spk(&r, &a->spk_prev);
    }
    a->next_spk_id = r_u32(&r);
    a->next_opk_id = r_u32(&r);
    a->n_opk = r_u16(&r);
    if (r.err || a->n_opk > PARLEY_MAX_ONE_TIME_PREKEYS || a->spk.id >= a->next_spk_id ||
        (a->has_prev && a->spk_prev.id >= a->spk.id)) {
        return PARLEY_ERR_MALFORMED;
    }
    for (size_t i = 0; i < a->n_opk && !r.err; i++) {
        a->opk[i].id = r_u32(&r);
        r_bytes(&r, a->opk[i].priv, 32);
        a->opk[i].published = r_flag(&r);
        if (a->opk[i].id >= a->next_opk_id) {
            r.err = 1;
        }
    }
    a->next_kem_id = 1;
    if (version == PLAIN_VERSION_PQ && !r.err) {
        account_read_kem(&r, a);
        if (!account_has_kem_state(a)) {
            r.err = 1; /* written as version 1: one encoding per account */
        }
    }
    if (r.err || r.pos != len) {
        return PARLEY_ERR_MALFORMED;
    }
    return account_derive_keys(a) == PARLEY_OK ? PARLEY_OK : PARLEY_ERR_MALFORMED;
}

/* ---- session ---- */

size_t session_plain_size(const struct parley_session *s)
{
    return 1 + 1 + 64 + 32 + 1 + 4 + 1 + 4 + /* session */
           (s->version == 2 ? 4 + PARLEY_MLKEM_CIPHERTEXTBYTES : 0) + /* PQXDH */
           32 + 32 + 1 + 32 * 3 + 4 * 3 +    /* ratchet */
           1 + s->r.n_old * (32 + 4) + 2 + s->r.n_skipped * (32 + 4 + 32);
}

static void session_write(const struct parley_session *s, const struct writer *wp)
{
    struct writer w = *wp;
    const struct parley_ratchet *r = &s->r;

    w_u8(&w, s->version == 2 ? PLAIN_VERSION_PQ : PLAIN_VERSION);
    w_u8(&w, s->role);
    w_bytes(&w, s->ad, sizeof s->ad);
    w_bytes(&w, s->base_key, 32);
    w_u8(&w, s->pending);
    w_u32(&w, s->spk_id);
    w_u8(&w, s->has_opk);
    w_u32(&w, s->opk_id);
    if (s->version == 2) {
        w_u32(&w, s->kem_id);
        w_bytes(&w, s->kem_ct, sizeof s->kem_ct);
    }
    w_bytes(&w, r->rk, 32);
    w_bytes(&w, r->dhs_priv, 32);
    w_u8(&w, (uint8_t)(r->has_dhr | r->has_cks << 1 | r->has_ckr << 2));
    w_bytes(&w, r->dhr, 32);
    w_bytes(&w, r->cks, 32);
    w_bytes(&w, r->ckr, 32);
    w_u32(&w, r->ns);
    w_u32(&w, r->nr);
    w_u32(&w, r->pn);
    w_u8(&w, r->n_old);
    for (size_t i = 0; i < r->n_old; i++) {
        w_bytes(&w, r->old[i].pub, 32);
        w_u32(&w, r->old[i].end);
    }
    w_u16(&w, (uint16_t)r->n_skipped);
    for (size_t i = 0; i < r->n_skipped; i++) {
        w_bytes(&w, r->skipped[i].pub, 32);
        w_u32(&w, r->skipped[i].n);
        w_bytes(&w, r->skipped[i].mk, 32);
    }
}

static int session_read(struct parley_session *s, const uint8_t *in, size_t len)
{
    struct reader rd = {in, 0, len, 0};
    struct parley_ratchet *r = &s->r;
    uint8_t version, flags;
    size_t n_skipped;

    memset(s, 0, sizeof *s);
    version = r_u8(&rd);
    if (rd.err) {
        return PARLEY_ERR_MALFORMED;
    }
    if (version != PLAIN_VERSION && version != PLAIN_VERSION_PQ) {
        return PARLEY_ERR_VERSION;
    }
    s->version = version == PLAIN_VERSION_PQ ? 2 : 1;
    s->role = r_flag(&rd);
    r_bytes(&rd, s->ad, sizeof s->ad);
    r_bytes(&rd, s->base_key, 32);
    s->pending = r_flag(&rd);
    s->spk_id = r_u32(&rd);
    s->has_opk = r_flag(&rd);
    s->opk_id = r_u32(&rd);
    if (s->version == 2) {
        s->kem_id = r_u32(&rd);
        r_bytes(&rd, s->kem_ct, sizeof s->kem_ct);
    }
    r_bytes(&rd, r->rk, 32);
    r_bytes(&rd, r->dhs_priv, 32);
    flags = r_u8(&rd);
    r_bytes(&rd, r->dhr, 32);
    r_bytes(&rd, r->cks, 32);
    r_bytes(&rd, r->ckr, 32);
    r->ns = r_u32(&rd);
    r->nr = r_u32(&rd);
    r->pn = r_u32(&rd);
    r->n_old = r_u8(&rd);
    if (rd.err || (flags & ~7u) != 0 || r->n_old > PARLEY_MAX_RECEIVING_CHAINS ||
        (s->pending && s->role != PARLEY_ROLE_INITIATOR) || (!s->has_opk && s->opk_id != 0)) {
        return PARLEY_ERR_MALFORMED;
    }
    r->has_dhr = flags & 1;
    r->has_cks = (flags >> 1) & 1;
    r->has_ckr = (flags >> 2) & 1;
    if ((r->has_ckr && !r->has_dhr) || (!r->has_dhr && !all_zero(r->dhr, 32)) ||
        (!r->has_cks && !all_zero(r->cks, 32)) || (!r->has_ckr && !all_zero(r->ckr, 32))) {
        return PARLEY_ERR_MALFORMED;
    }
    for (size_t i = 0; i < r->n_old; i++) {
        r_bytes(&rd, r->old[i].pub, 32);
        r->old[i].end = r_u32(&rd);
    }
    n_skipped = r_u16(&rd);
    if (rd.err || n_skipped > PARLEY_MAX_SKIPPED_KEYS ||
        rd.len - rd.pos != n_skipped * (32 + 4 + 32)) {
        return PARLEY_ERR_MALFORMED;
    }
    if (n_skipped != 0) {
        r->skipped = calloc(n_skipped, sizeof *r->skipped);
        if (r->skipped == NULL) {
            return PARLEY_ERR_NO_MEMORY;
        }
        r->cap_skipped = n_skipped;
        for (size_t i = 0; i < n_skipped; i++) {
            r_bytes(&rd, r->skipped[i].pub, 32);
            r->skipped[i].n = r_u32(&rd);
            r_bytes(&rd, r->skipped[i].mk, 32);
        }
        r->n_skipped = n_skipped;
    }
    if (crypto_scalarmult_curve25519_base(r->dhs_pub, r->dhs_priv) != 0) {
        return PARLEY_ERR_MALFORMED;
    }
    return rd.err || rd.pos != len ? PARLEY_ERR_MALFORMED : PARLEY_OK;
}

/* ---- sealing ---- */

int seal_state(uint8_t kind, const uint8_t *plain, size_t plain_len, const uint8_t key[32],
               const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len)
{
    int rc;

    if (cap < SEAL_HEADER_BYTES + plain_len + PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_BUFFER;
    }
    out[0] = PARLEY_STATE_VERSION;
    out[1] = kind;
    memcpy(out + 2, nonce, 12);
    rc = parley_aead_seal(out + SEAL_HEADER_BYTES, key, nonce, out, 2, plain, plain_len);
    if (rc == PARLEY_OK) {
        *out_len = SEAL_HEADER_BYTES + plain_len + PARLEY_AEAD_TAGBYTES;
    }
    return rc;
}

/* Opens sealed state of the given kind into a fresh heap buffer (wipe and free it after). */
static int unseal_state(uint8_t kind, const uint8_t key[32], const uint8_t *in, size_t len,
                        uint8_t **plain, size_t *plain_len)
{
    size_t n;
    uint8_t *buf;
    int rc;

    if (len < 2) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_STATE_VERSION) {
        return PARLEY_ERR_VERSION;
    }
    if (in[1] != kind) {
        return PARLEY_ERR_MALFORMED;
    }
    if (len < SEAL_HEADER_BYTES + PARLEY_AEAD_TAGBYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    n = len - SEAL_HEADER_BYTES - PARLEY_AEAD_TAGBYTES;
    buf = malloc(n + 1);
    if (buf == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_aead_open(buf, key, in + 2, in, 2, in + SEAL_HEADER_BYTES, len - SEAL_HEADER_BYTES);
    if (rc != PARLEY_OK) {
        free(buf);
        return rc;
    }
    *plain = buf;
    *plain_len = n;
    return PARLEY_OK;
}

static int seal_plain(uint8_t kind, size_t plain_len, void (*write)(const void *, struct writer *),
                      const void *obj, const uint8_t key[32], const uint8_t nonce[12], uint8_t *out,
                      size_t cap, size_t *out_len)
{
    uint8_t *plain = malloc(plain_len);
    struct writer w;
    int rc;

    if (plain == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    w.p = plain;
    w.pos = 0;
    write(obj, &w);
    rc = seal_state(kind, plain, plain_len, key, nonce, out, cap, out_len);
    sodium_memzero(plain, plain_len);
    free(plain);
    return rc;
}

static void account_write_cb(const void *obj, struct writer *w)
{
    account_write(obj, w);
}

static void session_write_cb(const void *obj, struct writer *w)
{
    session_write(obj, w);
}

int account_seal_with(const struct parley_account *a, const uint8_t key[32],
                      const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len)
{
    return seal_plain(PARLEY_STATE_KIND_ACCOUNT, account_plain_size(a), account_write_cb, a, key,
                      nonce, out, cap, out_len);
}

int session_seal_with(const struct parley_session *s, const uint8_t key[32],
                      const uint8_t nonce[12], uint8_t *out, size_t cap, size_t *out_len)
{
    return seal_plain(PARLEY_STATE_KIND_SESSION, session_plain_size(s), session_write_cb, s, key,
                      nonce, out, cap, out_len);
}

/* ---- public API ---- */

size_t parley_account_sealed_size(const parley_account *account)
{
    return account == NULL ? 0
                           : SEAL_HEADER_BYTES + account_plain_size(account) + PARLEY_AEAD_TAGBYTES;
}

size_t parley_session_sealed_size(const parley_session *session)
{
    return session == NULL ? 0
                           : SEAL_HEADER_BYTES + session_plain_size(session) + PARLEY_AEAD_TAGBYTES;
}

int parley_account_seal(const parley_account *account, const uint8_t key[PARLEY_KEY_BYTES],
                        uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[12];
    int rc;

    if (account == NULL || key == NULL || out == NULL || out_len == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(nonce, sizeof nonce);
    return rc != PARLEY_OK ? rc : account_seal_with(account, key, nonce, out, out_cap, out_len);
}

int parley_session_seal(const parley_session *session, const uint8_t key[PARLEY_KEY_BYTES],
                        uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[12];
    int rc;

    if (session == NULL || key == NULL || out == NULL || out_len == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(nonce, sizeof nonce);
    return rc != PARLEY_OK ? rc : session_seal_with(session, key, nonce, out, out_cap, out_len);
}

int parley_account_unseal(parley_account **out, const uint8_t key[PARLEY_KEY_BYTES],
                          const uint8_t *in, size_t in_len)
{
    struct parley_account *a;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc;

    if (out == NULL || key == NULL || in == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    rc = unseal_state(PARLEY_STATE_KIND_ACCOUNT, key, in, in_len, &plain, &plain_len);
    if (rc != PARLEY_OK) {
        return rc;
    }
    a = malloc(sizeof *a);
    if (a == NULL) {
        rc = PARLEY_ERR_NO_MEMORY;
    } else {
        rc = account_read(a, plain, plain_len);
    }
    sodium_memzero(plain, plain_len);
    free(plain);
    if (rc != PARLEY_OK) {
        if (a != NULL) {
            account_wipe(a);
            free(a);
        }
        return rc;
    }
    *out = a;
    return PARLEY_OK;
}

int parley_session_unseal(parley_session **out, const uint8_t key[PARLEY_KEY_BYTES],
                          const uint8_t *in, size_t in_len)
{
    struct parley_session *s;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc;

    if (out == NULL || key == NULL || in == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    rc = unseal_state(PARLEY_STATE_KIND_SESSION, key, in, in_len, &plain, &plain_len);
    if (rc != PARLEY_OK) {
        return rc;
    }
    s = malloc(sizeof *s);
    if (s == NULL) {
        rc = PARLEY_ERR_NO_MEMORY;
    } else {
        rc = session_read(s, plain, plain_len);
    }
    sodium_memzero(plain, plain_len);
    free(plain);
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
