/* Fixed inputs shared by the core's tests (fixtures.h). */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fixture_bytes(uint8_t out[32], const char *label)
{
    crypto_hash_sha256(out, (const uint8_t *)label, strlen(label));
}

struct parley_account *fixture_account(const char *prefix, const char *name)
{
    struct parley_account *a = malloc(sizeof *a);
    uint8_t seed[32], spk[32];
    char label[96];

    if (a == NULL) {
        return NULL;
    }
    snprintf(label, sizeof label, "%s-%s-identity", prefix, name);
    fixture_bytes(seed, label);
    snprintf(label, sizeof label, "%s-%s-spk", prefix, name);
    fixture_bytes(spk, label);
    if (account_init(a, seed, spk) != PARLEY_OK) {
        free(a);
        return NULL;
    }
    return a;
}

void fixture_account_free(struct parley_account *a)
{
    if (a != NULL) {
        account_wipe(a);
        free(a);
    }
}
