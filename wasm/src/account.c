/*
 * The account: a long-term Ed25519 identity (its X25519 agreement key is derived from it with
 * libsodium's birational map), a signed prekey with an id, the previous signed prekey, and up to
 * PARLEY_MAX_ONE_TIME_PREKEYS one-time prekeys with ids. Its KEM prekeys are in kemkeys.c.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

/* X25519 public key of a 32-byte random string (clamped by X25519 itself). */
static int x25519_from_random(uint8_t pub[32], uint8_t priv[32], const uint8_t random[32])
{
    memcpy(priv, random, 32);
    return crypto_scalarmult_curve25519_base(pub, priv) == 0 ? PARLEY_OK : PARLEY_ERR_WEAK_KEY;
}

void account_spk_message(uint8_t out[PARLEY_SPK_SIGNED_BYTES], uint32_t id, const uint8_t pub[32])
{
    size_t label_len = sizeof(PARLEY_LABEL_SPK) - 1;

    memcpy(out, PARLEY_LABEL_SPK, label_len);
    put_u32be(out + label_len, id);
    memcpy(out + label_len + 4, pub, 32);
}

/* Recomputes every public value from the secrets (used after unsealing, too). */
int account_derive_keys(struct parley_account *a)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    int rc = PARLEY_OK;

    crypto_sign_seed_keypair(a->identity_pub, sk, a->identity_seed);
    if (crypto_sign_ed25519_sk_to_curve25519(a->identity_xpriv, sk) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(a->identity_xpub, a->identity_pub) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
    }
    PARLEY_WIPE(sk);
    if (rc == PARLEY_OK && crypto_scalarmult_curve25519_base(a->spk.pub, a->spk.priv) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
    }
    if (rc == PARLEY_OK && a->has_prev &&
        crypto_scalarmult_curve25519_base(a->spk_prev.pub, a->spk_prev.priv) != 0) {
        rc = PARLEY_ERR_WEAK_KEY;
    }
    for (size_t i = 0; rc == PARLEY_OK && i < a->n_opk; i++) {
        if (crypto_scalarmult_curve25519_base(a->opk[i].pub, a->opk[i].priv) != 0) {
            rc = PARLEY_ERR_WEAK_KEY;
        }
    }
    return rc;
}

static int sign_spk(const struct parley_account *a, struct parley_signed_prekey *spk)
{
    uint8_t msg[PARLEY_SPK_SIGNED_BYTES];

    account_spk_message(msg, spk->id, spk->pub);
    return parley_ed25519_sign(spk->sig, a->identity_seed, msg, sizeof msg);
}

int account_init(struct parley_account *a, const uint8_t identity_seed[32],
                 const uint8_t spk_random[32])
{
    int rc;

    memset(a, 0, sizeof *a);
    memcpy(a->identity_seed, identity_seed, 32);
    a->next_spk_id = 1;
    a->next_opk_id = 1;
    a->next_kem_id = 1;
    rc = account_derive_keys(a);
    if (rc == PARLEY_OK) {
        a->spk.id = a->next_spk_id++;
        rc = x25519_from_random(a->spk.pub, a->spk.priv, spk_random);
    }
    if (rc == PARLEY_OK) {
        rc = sign_spk(a, &a->spk);
    }
    if (rc != PARLEY_OK) {
        account_wipe(a);
    }
    return rc;
}

int account_rotate_spk_with(struct parley_account *a, const uint8_t random[32])
{
    struct parley_signed_prekey fresh;
    int rc;

    if (a->next_spk_id == UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }
    fresh.id = a->next_spk_id;
    rc = x25519_from_random(fresh.pub, fresh.priv, random);
    if (rc == PARLEY_OK) {
        rc = sign_spk(a, &fresh);
    }
    if (rc == PARLEY_OK) {
        a->spk_prev = a->spk;
        a->has_prev = 1;
        a->spk = fresh;
        a->next_spk_id++;
    }
    PARLEY_WIPE(fresh);
    return rc;
}

int account_add_prekeys_with(struct parley_account *a, size_t count, const uint8_t *random)
{
    if (count == 0 || count > PARLEY_MAX_PREKEY_BATCH) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (a->n_opk + count > PARLEY_MAX_ONE_TIME_PREKEYS ||
        (uint64_t)a->next_opk_id + count > UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }
    for (size_t i = 0; i < count; i++) {
        struct parley_prekey *k = &a->opk[a->n_opk + i];
        if (x25519_from_random(k->pub, k->priv, random + 32 * i) != PARLEY_OK) {
            for (size_t j = 0; j <= i; j++) {
                PARLEY_WIPE(a->opk[a->n_opk + j]);
            }
            return PARLEY_ERR_WEAK_KEY;
        }
        k->id = a->next_opk_id + (uint32_t)i;
        k->published = 0;
    }
    a->n_opk += count;
    a->next_opk_id += (uint32_t)count;
    return PARLEY_OK;
}

void account_wipe(struct parley_account *a)
{
    sodium_memzero(a, sizeof *a);
}

int parley_account_new(parley_account **out)
{
    uint8_t random[64 + PARLEY_MLKEM_SEEDBYTES];
    struct parley_account *a;
    int rc;

    if (out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    *out = NULL;
    rc = parley_random(random, sizeof random);
    if (rc != PARLEY_OK) {
        return rc;
    }
    a = malloc(sizeof *a);
    if (a == NULL) {
        PARLEY_WIPE(random);
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = account_init(a, random, random + 32);
    if (rc == PARLEY_OK) {
        rc = account_rotate_kem_with(a, random + 64); /* the last-resort KEM prekey */
    }
    PARLEY_WIPE(random);
    if (rc != PARLEY_OK) {
        account_wipe(a);
        free(a);
        return rc;
    }
    *out = a;
    return PARLEY_OK;
}

void parley_account_free(parley_account *account)
{
    if (account != NULL) {
        account_wipe(account);
        free(account);
    }
}

int parley_account_identity_key(const parley_account *account, uint8_t out[PARLEY_KEY_BYTES])
{
    if (account == NULL || out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    memcpy(out, account->identity_pub, 32);
    return PARLEY_OK;
}

int parley_account_generate_prekeys(parley_account *account, size_t count)
{
    uint8_t *random;
    int rc;

    if (account == NULL || count == 0 || count > PARLEY_MAX_PREKEY_BATCH) {
        return PARLEY_ERR_ARGUMENT;
    }
    random = malloc(32 * count);
    if (random == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_random(random, 32 * count);
    if (rc == PARLEY_OK) {
        rc = account_add_prekeys_with(account, count, random);
    }
    sodium_memzero(random, 32 * count);
    free(random);
    return rc;
}

size_t parley_account_prekey_count(const parley_account *account)
{
    return account == NULL ? 0 : account->n_opk;
}

size_t parley_account_unpublished_count(const parley_account *account)
{
    size_t n = 0;

    if (account != NULL) {
        for (size_t i = 0; i < account->n_opk; i++) {
            n += account->opk[i].published ? 0 : 1;
        }
    }
    return n;
}

int parley_account_rotate_signed_prekey(parley_account *account)
{
    uint8_t random[32];
    int rc;

    if (account == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(random, sizeof random);
    if (rc == PARLEY_OK) {
        rc = account_rotate_spk_with(account, random);
    }
    PARLEY_WIPE(random);
    return rc;
}

uint32_t parley_account_signed_prekey_id(const parley_account *account)
{
    return account == NULL ? 0 : account->spk.id;
}

/* Bundle: version(1) ik(32) spk_id(4) spk(32) spk_sig(64) count(2) count x [id(4) pub(32)]. */
size_t parley_account_bundle_size(const parley_account *account)
{
    return 1 + 32 + 4 + 32 + 64 + 2 + 36 * parley_account_unpublished_count(account);
}

int parley_account_bundle(const parley_account *account, uint8_t *out, size_t out_cap,
                          size_t *out_len)
{
    size_t need, pos, count;

    if (account == NULL || out == NULL || out_len == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    need = parley_account_bundle_size(account);
    if (out_cap < need) {
        return PARLEY_ERR_BUFFER;
    }
    count = parley_account_unpublished_count(account);
    out[0] = PARLEY_BUNDLE_VERSION;
    memcpy(out + 1, account->identity_pub, 32);
    put_u32be(out + 33, account->spk.id);
    memcpy(out + 37, account->spk.pub, 32);
    memcpy(out + 69, account->spk.sig, 64);
    out[133] = (uint8_t)(count >> 8);
    out[134] = (uint8_t)count;
    pos = 135;
    for (size_t i = 0; i < account->n_opk; i++) {
        if (!account->opk[i].published) {
            put_u32be(out + pos, account->opk[i].id);
            memcpy(out + pos + 4, account->opk[i].pub, 32);
            pos += 36;
        }
    }
    *out_len = pos;
    return PARLEY_OK;
}

int parley_account_mark_published(parley_account *account)
{
    if (account == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    for (size_t i = 0; i < account->n_opk; i++) {
        account->opk[i].published = 1;
    }
    return PARLEY_OK;
}

size_t parley_account_forget_prekeys(parley_account *account, size_t count)
{
    size_t erased = 0, i = 0;

    if (account == NULL) {
        return 0;
    }
    /* Prekeys are kept in id order, so the oldest published ones come first. */
    while (i < account->n_opk && erased < count) {
        if (account->opk[i].published) {
            memmove(&account->opk[i], &account->opk[i + 1],
                    (account->n_opk - i - 1) * sizeof account->opk[0]);
            account->n_opk--;
            PARLEY_WIPE(account->opk[account->n_opk]);
            erased++;
        } else {
            i++;
        }
    }
    return erased;
}
