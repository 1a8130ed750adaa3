/*
 * The account's KEM prekeys for PQXDH (docs/PROTOCOL.md section 15): one last-resort KEM prekey
 * (and the one it replaced) and up to PARLEY_MAX_KEM_PREKEYS one-time KEM prekeys, each an
 * ML-KEM-1024 key pair kept as its 64-byte seed, with an id and the identity key's signature of
 * "parley-kem-prekey-v1" || id || encapsulation key. Ids come from one counter, so an id names
 * one key whichever kind it is.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

void account_kem_message(uint8_t out[PARLEY_KEM_SIGNED_BYTES], uint32_t id,
                         const uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES])
{
    size_t label_len = sizeof(PARLEY_LABEL_KEM_PREKEY) - 1;

    memcpy(out, PARLEY_LABEL_KEM_PREKEY, label_len);
    put_u32be(out + label_len, id);
    memcpy(out + label_len + 4, pk, PARLEY_MLKEM_PUBLICKEYBYTES);
}

/* The key pair of a seed; sk is wiped here when the caller does not want it. */
static int kem_keys(const struct parley_kem_prekey *k, uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES],
                    uint8_t sk_out[PARLEY_MLKEM_SECRETKEYBYTES])
{
    uint8_t *sk = malloc(PARLEY_MLKEM_SECRETKEYBYTES);
    int rc;

    if (sk == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_mlkem_keypair(pk, sk, k->seed, sizeof k->seed);
    if (rc == PARLEY_OK && sk_out != NULL) {
        memcpy(sk_out, sk, PARLEY_MLKEM_SECRETKEYBYTES);
    }
    sodium_memzero(sk, PARLEY_MLKEM_SECRETKEYBYTES);
    free(sk);
    return rc;
}

int account_kem_secret(const struct parley_kem_prekey *k, uint8_t sk[PARLEY_MLKEM_SECRETKEYBYTES])
{
    uint8_t pk[PARLEY_MLKEM_PUBLICKEYBYTES];

    return kem_keys(k, pk, sk);
}

int account_kem_record(const struct parley_kem_prekey *k, uint8_t out[PARLEY_KEM_PREKEY_BYTES])
{
    put_u32be(out, k->id);
    memcpy(out + 4 + PARLEY_MLKEM_PUBLICKEYBYTES, k->sig, 64);
    return kem_keys(k, out + 4, NULL);
}

/* Fills k: id, seed, and the signature of its encapsulation key. */
static int kem_make(const struct parley_account *a, struct parley_kem_prekey *k, uint32_t id,
                    const uint8_t seed[PARLEY_MLKEM_SEEDBYTES])
{
    uint8_t msg[PARLEY_KEM_SIGNED_BYTES];
    size_t label_len = sizeof(PARLEY_LABEL_KEM_PREKEY) - 1;
    int rc;

    k->id = id;
    k->published = 0;
    memcpy(k->seed, seed, PARLEY_MLKEM_SEEDBYTES);
    rc = kem_keys(k, msg + label_len + 4, NULL);
    if (rc == PARLEY_OK) {
        account_kem_message(msg, id, msg + label_len + 4);
        rc = parley_ed25519_sign(k->sig, a->identity_seed, msg, sizeof msg);
    }
    if (rc != PARLEY_OK) {
        PARLEY_WIPE(*k);
    }
    return rc;
}

int account_rotate_kem_with(struct parley_account *a, const uint8_t random[64])
{
    struct parley_kem_prekey fresh;
    int rc;

    if (a->next_kem_id == UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }
    rc = kem_make(a, &fresh, a->next_kem_id, random);
    if (rc == PARLEY_OK) {
        if (a->has_kem) {
            a->kem_prev = a->kem;
            a->has_kem_prev = 1;
        }
        a->kem = fresh;
        a->has_kem = 1;
        a->next_kem_id++;
    }
    PARLEY_WIPE(fresh);
    return rc;
}

int account_add_kem_prekeys_with(struct parley_account *a, size_t count, const uint8_t *random)
{
    if (count == 0 || count > PARLEY_MAX_PREKEY_BATCH) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (a->n_kem_otk + count > PARLEY_MAX_KEM_PREKEYS ||
        (uint64_t)a->next_kem_id + count >= UINT32_MAX) {
        return PARLEY_ERR_LIMIT;
    }
    for (size_t i = 0; i < count; i++) {
        int rc = kem_make(a, &a->kem_otk[a->n_kem_otk + i], a->next_kem_id + (uint32_t)i,
                          random + PARLEY_MLKEM_SEEDBYTES * i);
        if (rc != PARLEY_OK) {
            for (size_t j = 0; j < i; j++) {
                PARLEY_WIPE(a->kem_otk[a->n_kem_otk + j]);
            }
            return rc;
        }
    }
    a->n_kem_otk += count;
    a->next_kem_id += (uint32_t)count;
    return PARLEY_OK;
}

const struct parley_kem_prekey *account_find_kem(const struct parley_account *a, uint32_t id,
                                                 long *index)
{
    *index = -1;
    for (size_t i = 0; i < a->n_kem_otk; i++) {
        if (a->kem_otk[i].id == id) {
            *index = (long)i;
            return &a->kem_otk[i];
        }
    }
    if (a->has_kem && a->kem.id == id) {
        return &a->kem;
    }
    if (a->has_kem_prev && a->kem_prev.id == id) {
        return &a->kem_prev;
    }
    return NULL;
}

static void remove_otk(struct parley_account *a, size_t i)
{
    memmove(&a->kem_otk[i], &a->kem_otk[i + 1], (a->n_kem_otk - i - 1) * sizeof a->kem_otk[0]);
    a->n_kem_otk--;
    PARLEY_WIPE(a->kem_otk[a->n_kem_otk]);
}

void account_consume_kem(struct parley_account *a, long index)
{
    if (index >= 0 && (size_t)index < a->n_kem_otk) {
        remove_otk(a, (size_t)index);
    }
}

int kem_bundle_parse(struct parley_kem_bundle *kb, const uint8_t *in, size_t len)
{
    if (len != PARLEY_KEM_PREKEY_BYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    kb->id = get_u32be(in);
    memcpy(kb->pk, in + 4, PARLEY_MLKEM_PUBLICKEYBYTES);
    memcpy(kb->sig, in + 4 + PARLEY_MLKEM_PUBLICKEYBYTES, 64);
    return PARLEY_OK;
}

/* ---- public API ---- */

int parley_account_rotate_kem_prekey(parley_account *account)
{
    uint8_t random[PARLEY_MLKEM_SEEDBYTES];
    int rc;

    if (account == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = parley_random(random, sizeof random);
    if (rc == PARLEY_OK) {
        rc = account_rotate_kem_with(account, random);
    }
    PARLEY_WIPE(random);
    return rc;
}

uint32_t parley_account_kem_prekey_id(const parley_account *account)
{
    return account == NULL || !account->has_kem ? 0 : account->kem.id;
}

int parley_account_generate_kem_prekeys(parley_account *account, size_t count)
{
    uint8_t *random;
    int rc;

    if (account == NULL || count == 0 || count > PARLEY_MAX_PREKEY_BATCH) {
        return PARLEY_ERR_ARGUMENT;
    }
    random = malloc(PARLEY_MLKEM_SEEDBYTES * count);
    if (random == NULL) {
        return PARLEY_ERR_NO_MEMORY;
    }
    rc = parley_random(random, PARLEY_MLKEM_SEEDBYTES * count);
    if (rc == PARLEY_OK) {
        rc = account_add_kem_prekeys_with(account, count, random);
    }
    sodium_memzero(random, PARLEY_MLKEM_SEEDBYTES * count);
    free(random);
    return rc;
}

size_t parley_account_kem_prekey_count(const parley_account *account)
{
    return account == NULL ? 0 : account->n_kem_otk;
}

size_t parley_account_kem_unpublished_count(const parley_account *account)
{
    size_t n = 0;

    if (account != NULL) {
        for (size_t i = 0; i < account->n_kem_otk; i++) {
            n += account->kem_otk[i].published ? 0 : 1;
        }
    }
    return n;
}

size_t parley_account_kem_upload_size(const parley_account *account)
{
    if (account == NULL) {
        return 0;
    }
    return 1 + 32 + PARLEY_KEM_PREKEY_BYTES + 2 +
           PARLEY_KEM_PREKEY_BYTES * parley_account_kem_unpublished_count(account);
}

int parley_account_kem_upload(const parley_account *account, uint8_t *out, size_t out_cap,
                              size_t *out_len)
{
    size_t need, pos, count;
    int rc;

    if (account == NULL || out == NULL || out_len == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (!account->has_kem) {
        return PARLEY_ERR_STATE;
    }
    need = parley_account_kem_upload_size(account);
    if (out_cap < need) {
        return PARLEY_ERR_BUFFER;
    }
    count = parley_account_kem_unpublished_count(account);
    out[0] = PARLEY_KEM_UPLOAD_VERSION;
    memcpy(out + 1, account->identity_pub, 32);
    rc = account_kem_record(&account->kem, out + 33);
    pos = 33 + PARLEY_KEM_PREKEY_BYTES;
    out[pos] = (uint8_t)(count >> 8);
    out[pos + 1] = (uint8_t)count;
    pos += 2;
    for (size_t i = 0; rc == PARLEY_OK && i < account->n_kem_otk; i++) {
        if (!account->kem_otk[i].published) {
            rc = account_kem_record(&account->kem_otk[i], out + pos);
            pos += PARLEY_KEM_PREKEY_BYTES;
        }
    }
    if (rc == PARLEY_OK) {
        *out_len = pos;
    }
    return rc;
}

int parley_account_mark_kem_published(parley_account *account)
{
    if (account == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    for (size_t i = 0; i < account->n_kem_otk; i++) {
        account->kem_otk[i].published = 1;
    }
    return PARLEY_OK;
}

size_t parley_account_forget_kem_prekeys(parley_account *account, size_t count)
{
    size_t erased = 0, i = 0;

    if (account == NULL) {
        return 0;
    }
    while (i < account->n_kem_otk && erased < count) {
        if (account->kem_otk[i].published) {
            remove_otk(account, i);
            erased++;
        } else {
            i++;
        }
    }
    return erased;
}
