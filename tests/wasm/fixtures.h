/* Fixed inputs shared by the core's tests: "random" bytes and accounts made from labels. */
#ifndef PARLEY_TEST_FIXTURES_H
#define PARLEY_TEST_FIXTURES_H

#include "state.h"

#include <stdint.h>

/* SHA-256(label): a fixed "random" input. */
void fixture_bytes(uint8_t out[32], const char *label);

/* An account whose identity seed and signed prekey come from "PREFIX-NAME-identity" and
 * "PREFIX-NAME-spk"; NULL when it cannot be made. fixture_account_free wipes and frees it. */
struct parley_account *fixture_account(const char *prefix, const char *name);
void fixture_account_free(struct parley_account *a);

#endif
