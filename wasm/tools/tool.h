/* What parley-tool's files share: hex output into JSON, the vectors' fixed randomness, and the
 * conversation helpers of the vector generators (parley-tool.c, vectors_v2.c). */
#ifndef PARLEY_TOOL_H
#define PARLEY_TOOL_H

#include "parley.h"
#include "state.h"

#include <cjson/cJSON.h>

#define EXIT_REJECTED 1
#define EXIT_USAGE 2

/* The label prefix of the fixed randomness: "parley-vectors-v1" unless a generator sets it. */
extern const char *vectors_prefix;

void add_hex(cJSON *obj, const char *name, const uint8_t *b, size_t n);
/* SHA-256(vectors_prefix || label). */
void fixed_random(uint8_t out[32], const char *label);

struct party {
    const char *name;
    struct parley_session s;
    int ratchet_steps;
};

struct sent {
    uint8_t *bytes;
    size_t len;
    int from; /* 0 alice, 1 bob */
    int index;
};

/* p encrypts text as message index: every key of the step, the header and the message. */
cJSON *message_entry(struct party *p, int index, const char *text, struct sent *out);
/* m delivered to `to` with the randomness "NAME-ratchet-K"; *ok = 0 when it is refused. */
cJSON *delivery_entry(struct party *to, const struct sent *m, int *ok);
/* One sealed envelope from a to b with the ephemeral key of label (docs/PROTOCOL.md 13). */
cJSON *sealed_entry(const struct parley_account *a, const struct parley_account *b,
                    const char *label, const char *name, const uint8_t *msg, size_t msg_len,
                    int *ok);

/* vectors_v2.c: prints docs/vectors/protocol-v2.json. */
int cmd_vectors_v2(void);
/* The name of an error code ("PARLEY_ERR_LIMIT"). */
const char *v2_error_name(int rc);
/* Bob's single bundle, with his first one-time prekey or without; 0 on failure. */
int v2_bundle_of(const struct parley_account *b, int with_opk, uint8_t out[171], size_t *len);
/* vectors_v2_state.c: the "limits" and "sealedState" sections. */
cJSON *v2_limits_section(const struct parley_account *a, const struct parley_account *b, int *ok);
cJSON *v2_state_section(const struct parley_account *a, const struct parley_account *b, int *ok);

#endif
