/* Rooms (docs/PROTOCOL.md section 20): docs/vectors/rooms-v1.json and properties. */
#include "fixtures.h"
#include "harness.h"
#include "parley.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int error_code(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {
        {"OK", PARLEY_OK},
        {"ARGUMENT", PARLEY_ERR_ARGUMENT},
        {"TOO_LARGE", PARLEY_ERR_TOO_LARGE},
        {"BAD_SIGNATURE", PARLEY_ERR_BAD_SIGNATURE},
        {"VERSION", PARLEY_ERR_VERSION},
        {"MALFORMED", PARLEY_ERR_MALFORMED},
        {"LIMIT", PARLEY_ERR_LIMIT},
        {"STATE", PARLEY_ERR_STATE},
        {"NOT_ADMIN", PARLEY_ERR_NOT_ADMIN},
        {"STALE", PARLEY_ERR_STALE},
        {"OTHER_ROOM", PARLEY_ERR_OTHER_ROOM},
        {"EXPIRED", PARLEY_ERR_EXPIRED},
        {"NOT_MEMBER", PARLEY_ERR_NOT_MEMBER},
    };

    for (size_t i = 0; name != NULL && i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(name, codes[i].name) == 0) {
            return codes[i].code;
        }
    }
    return 1; /* never a return code: the check fails */
}

static int hex_field(const cJSON *obj, const char *name, uint8_t *out, size_t len)
{
    const char *hex = t_str(obj, name);

    return hex != NULL && t_unhex(out, len, hex) == (long)len;
}

static double num(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(item) ? item->valuedouble : -1.0;
}

/* The vectors, with every person's account made from its identity seed. */
struct fixture {
    cJSON *v;
    const cJSON *people;
    const cJSON *descriptors;
    struct parley_account *acc[5];
    const char *names[5];
    int n;
};

static void fixture_free(struct fixture *f)
{
    for (int i = 0; i < f->n; i++) {
        account_wipe(f->acc[i]);
        free(f->acc[i]);
    }
    cJSON_Delete(f->v);
    memset(f, 0, sizeof *f);
}

static int fixture_load(struct fixture *f)
{
    const cJSON *p;
    uint8_t spk[32];

    memset(f, 0, sizeof *f);
    f->v = t_load_docs_vectors("rooms-v1.json");
    if (f->v == NULL) {
        return 0;
    }
    f->people = cJSON_GetObjectItemCaseSensitive(f->v, "people");
    f->descriptors = cJSON_GetObjectItemCaseSensitive(f->v, "descriptors");
    fixture_bytes(spk, "rooms-test-spk");
    cJSON_ArrayForEach(p, f->people) {
        uint8_t seed[32], key[32];

        if (f->n == 5 || !hex_field(p, "identitySeed", seed, 32) ||
            !hex_field(p, "identityKey", key, 32) ||
            (f->acc[f->n] = malloc(sizeof(struct parley_account))) == NULL) {
            return 0;
        }
        f->names[f->n] = p->string;
        if (account_init(f->acc[f->n], seed, spk) != PARLEY_OK) {
            free(f->acc[f->n]);
            return 0;
        }
        f->n++;
        if (memcmp(f->acc[f->n - 1]->identity_pub, key, 32) != 0) {
            return 0;
        }
    }
    return f->n == 5 && cJSON_GetArraySize(f->descriptors) >= 10;
}

static struct parley_account *person(const struct fixture *f, const char *name)
{
    for (int i = 0; name != NULL && i < f->n; i++) {
        if (strcmp(f->names[i], name) == 0) {
            return f->acc[i];
        }
    }
    return NULL;
}

/* Descriptor i of the file (a fresh buffer); NULL for a JSON null. */
static uint8_t *descriptor(const struct fixture *f, const cJSON *index, size_t *len)
{
    const cJSON *d;

    *len = 0;
    if (!cJSON_IsNumber(index)) {
        return NULL;
    }
    d = cJSON_GetArrayItem(f->descriptors, index->valueint);
    return d == NULL ? NULL : t_unhex_alloc(t_str(d, "descriptor"), len);
}

/* Every descriptor: the core signs it to the same bytes (members handed over in reverse order)
 * or refuses it as the file says, and opens it with the same fields. */
static void test_vectors_descriptors(void)
{
    struct fixture f;
    const cJSON *d;
    int count = 0, ok = 1;

    if (!fixture_load(&f)) {
        fixture_free(&f);
        CHECK(0);
    }
    cJSON_ArrayForEach(d, f.descriptors) {
        uint8_t id[16], members[PARLEY_ROOM_MAX_MEMBERS * 33], out[PARLEY_ROOM_MAX_BYTES];
        uint8_t rid[16], signer[32], key[32];
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(d, "members"), *m;
        const char *name = t_str(d, "name");
        struct parley_account *acc = person(&f, t_str(d, "signer"));
        size_t want_len = 0, out_len = 0, n = (size_t)cJSON_GetArraySize(ms), i = 0;
        uint8_t *want = t_unhex_alloc(t_str(d, "descriptor"), &want_len);
        uint32_t count_out = 0, name_off = 0, name_len = 0, role = 0;
        double version = 0;
        int rc, want_rc = t_str(d, "signError") ? error_code(t_str(d, "signError")) : PARLEY_OK;

        ok = want != NULL && acc != NULL && name != NULL && hex_field(d, "roomId", id, 16) &&
             n <= PARLEY_ROOM_MAX_MEMBERS;
        cJSON_ArrayForEach(m, ms) {
            const char *r = t_str(m, "role");

            ok = ok && hex_field(m, "key", members + (n - 1 - i) * 33, 32) && r != NULL;
            if (ok) {
                members[(n - 1 - i) * 33 + 32] = strcmp(r, "admin") == 0 ? 1 : 2;
            }
            i++;
        }
        if (ok) {
            rc = parley_account_room_sign(acc, id, num(d, "version"), (const uint8_t *)name,
                                          strlen(name), members, n, out, sizeof out, &out_len);
            ok = rc == want_rc && (rc != PARLEY_OK || (out_len == want_len &&
                                                       memcmp(out, want, want_len) == 0));
            if (ok && rc == PARLEY_OK) {
                /* too small an output */
                ok = parley_account_room_sign(acc, id, num(d, "version"), (const uint8_t *)name,
                                              strlen(name), members, n, out, want_len - 1,
                                              &out_len) == PARLEY_ERR_BUFFER;
            }
        }
        ok = ok &&
             parley_room_open(want, want_len, rid, &version, &count_out, signer, &name_off,
                              &name_len) == PARLEY_OK &&
             memcmp(rid, id, 16) == 0 && version == num(d, "version") && count_out == n &&
             memcmp(signer, acc->identity_pub, 32) == 0 && name_len == strlen(name) &&
             memcmp(want + name_off, name, name_len) == 0;
        for (uint32_t k = 0; ok && k < count_out; k++) {
            /* the file lists members in the descriptor's order; members[] holds them reversed */
            ok = parley_room_member(want, want_len, k, key, &role) == PARLEY_OK &&
                 memcmp(key, members + (n - 1 - k) * 33, 32) == 0 &&
                 role == members[(n - 1 - k) * 33 + 32] &&
                 parley_room_role(want, want_len, key, &role) == PARLEY_OK &&
                 role == members[(n - 1 - k) * 33 + 32];
        }
        ok = ok && parley_room_member(want, want_len, count_out, key, &role) == PARLEY_ERR_ARGUMENT;
        free(want);
        if (!ok) {
            t_note("descriptor failed: %s", t_str(d, "label"));
            break;
        }
        count++;
    }
    fixture_free(&f);
    CHECK(ok);
    t_note("%d descriptors", count);
}

/* accept, acceptFirst and rejects give their named results. */
static void test_vectors_accept(void)
{
    struct fixture f;
    const cJSON *a, *sender;
    int count = 0, ok = 1;

    if (!fixture_load(&f)) {
        fixture_free(&f);
        CHECK(0);
    }
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(f.v, "accept")) {
        size_t cur_len, cand_len;
        uint8_t *cur = descriptor(&f, cJSON_GetObjectItemCaseSensitive(a, "current"), &cur_len);
        uint8_t *cand = descriptor(&f, cJSON_GetObjectItemCaseSensitive(a, "candidate"), &cand_len);

        ok = cand != NULL &&
             parley_room_accept(cur, cur_len, cand, cand_len) == error_code(t_str(a, "result"));
        free(cur);
        free(cand);
        if (!ok) {
            t_note("accept case failed: %s", t_str(a, "why"));
            break;
        }
        count++;
    }
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(f.v, "acceptFirst")) {
        size_t cand_len;
        uint8_t *cand = descriptor(&f, cJSON_GetObjectItemCaseSensitive(a, "candidate"), &cand_len);
        uint8_t key[32];
        uint8_t receiver_key[32];
        const cJSON *receiver = cJSON_GetObjectItemCaseSensitive(f.people, t_str(a, "receiver"));

        sender = cJSON_GetObjectItemCaseSensitive(f.people, t_str(a, "sender"));
        ok = ok && cand != NULL && hex_field(sender, "identityKey", key, 32) &&
             hex_field(receiver, "identityKey", receiver_key, 32) &&
             parley_room_accept_first(cand, cand_len, key, receiver_key) ==
                 error_code(t_str(a, "result"));
        free(cand);
        if (!ok) {
            t_note("acceptFirst case failed: %s", t_str(a, "why"));
            break;
        }
        count++;
    }
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(f.v, "rejects")) {
        size_t len = 0;
        const char *h = t_str(a, "descriptor");
        uint8_t *d = h != NULL ? t_unhex_alloc(h, &len) : NULL;
        uint8_t rid[16] = {0xee};
        int want = error_code(t_str(a, "error"));

        ok = ok && d != NULL && parley_room_open(d, len, rid, NULL, NULL, NULL, NULL, NULL) == want &&
             rid[0] == 0xee && parley_room_accept(NULL, 0, d, len) == want &&
             parley_room_accept_first(d, len, d, d) == want;
        free(d);
        if (!ok) {
            t_note("reject case failed: %s", t_str(a, "why"));
            break;
        }
        count++;
    }
    fixture_free(&f);
    CHECK(ok);
    t_note("%d cases", count);
    CHECK(count >= 40);
}

/* Leave statements: signed to the same bytes; every check gives its named result. */
static void test_vectors_leave(void)
{
    struct fixture f;
    const cJSON *l;
    int count = 0, ok = 1;

    if (!fixture_load(&f)) {
        fixture_free(&f);
        CHECK(0);
    }
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(f.v, "leaves")) {
        size_t dlen;
        uint8_t *d = descriptor(&f, cJSON_GetObjectItemCaseSensitive(l, "descriptor"), &dlen);
        uint8_t want[PARLEY_ROOM_LEAVE_BYTES], out[PARLEY_ROOM_LEAVE_BYTES];
        struct parley_account *acc = person(&f, t_str(l, "who"));

        ok = d != NULL && acc != NULL && hex_field(l, "leave", want, sizeof want) &&
             parley_account_room_leave(acc, d, dlen, out) == PARLEY_OK &&
             memcmp(out, want, sizeof want) == 0 &&
             parley_account_room_leave(person(&f, "erin"), d, dlen, out) == PARLEY_ERR_NOT_MEMBER;
        free(d);
        if (!ok) {
            break;
        }
        count++;
    }
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(f.v, "leaveChecks")) {
        size_t dlen, llen = 0;
        uint8_t *d = descriptor(&f, cJSON_GetObjectItemCaseSensitive(l, "descriptor"), &dlen);
        uint8_t *leave = t_unhex_alloc(t_str(l, "leave"), &llen);
        uint8_t leaver[32] = {0xee};
        int want = error_code(t_str(l, "result"));

        ok = ok && d != NULL && leave != NULL &&
             parley_room_leave_verify(d, dlen, leave, llen, leaver) == want &&
             (want == PARLEY_OK ? memcmp(leaver, leave + 25, 32) == 0 : leaver[0] == 0xee);
        free(d);
        free(leave);
        if (!ok) {
            t_note("leave check failed: %s", t_str(l, "why"));
            break;
        }
        count++;
    }
    fixture_free(&f);
    CHECK(ok);
    t_note("%d leave cases", count);
    CHECK(count >= 10);
}

/* Challenges: signed to the same bytes; every check gives its named result. */
static void test_vectors_challenges(void)
{
    struct fixture f;
    const cJSON *c, *k;
    const cJSON *challenges;
    int count = 0, ok = 1;

    if (!fixture_load(&f)) {
        fixture_free(&f);
        CHECK(0);
    }
    challenges = cJSON_GetObjectItemCaseSensitive(f.v, "challenges");
    cJSON_ArrayForEach(c, challenges) {
        size_t dlen;
        uint8_t *d = descriptor(&f, cJSON_GetObjectItemCaseSensitive(c, "descriptor"), &dlen);
        uint8_t nonce[32], sfp[32], vfp[32], want[64], sig[64];
        const char *signer = t_str(c, "signer");
        int rc;

        ok = d != NULL && signer != NULL && hex_field(c, "nonce", nonce, 32) &&
             hex_field(c, "signerFingerprint", sfp, 32) &&
             hex_field(c, "verifierFingerprint", vfp, 32) && hex_field(c, "signature", want, 64);
        if (ok) {
            rc = parley_account_room_challenge(person(&f, signer), d, dlen, nonce,
                                               num(c, "issuedAt"), sfp, vfp, sig);
            ok = strcmp(signer, "erin") == 0 ? rc == PARLEY_ERR_NOT_MEMBER
                                             : rc == PARLEY_OK && memcmp(sig, want, 64) == 0;
        }
        free(d);
        if (!ok) {
            break;
        }
        count++;
    }
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(f.v, "challengeChecks")) {
        const cJSON *base = cJSON_GetArrayItem(challenges,
                                               cJSON_GetObjectItemCaseSensitive(k, "challenge")->valueint);
        const cJSON *dsel = cJSON_GetObjectItemCaseSensitive(k, "descriptor");
        const char *signer = t_str(k, "signer") ? t_str(k, "signer") : t_str(base, "signer");
        const char *nonce_label = t_str(k, "nonceLabel") ? t_str(k, "nonceLabel")
                                                          : t_str(base, "nonceLabel");
        double issued = cJSON_GetObjectItemCaseSensitive(k, "issuedAt") ? num(k, "issuedAt")
                                                                        : num(base, "issuedAt");
        int swap = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "swapFingerprints"));
        uint8_t nonce[32], sfp[32], vfp[32], sig[64], key[32];
        char label[128];
        size_t dlen;
        uint8_t *d = descriptor(&f, dsel ? dsel : cJSON_GetObjectItemCaseSensitive(base, "descriptor"),
                                &dlen);

        snprintf(label, sizeof label, "parley-vectors-v1%s", nonce_label ? nonce_label : "");
        fixture_bytes(nonce, label);
        ok = ok && d != NULL && hex_field(base, "signature", sig, 64) &&
             hex_field(base, swap ? "verifierFingerprint" : "signerFingerprint", sfp, 32) &&
             (t_str(k, "ownFingerprint") ? hex_field(k, "ownFingerprint", vfp, 32)
                                         : hex_field(base, swap ? "signerFingerprint"
                                                                : "verifierFingerprint",
                                                     vfp, 32)) &&
             hex_field(cJSON_GetObjectItemCaseSensitive(f.people, signer), "identityKey", key, 32) &&
             parley_room_challenge_verify(d, dlen, key, nonce, issued, sfp, vfp, num(k, "now"),
                                          num(k, "maxSkew"), sig) ==
                 error_code(t_str(k, "result"));
        free(d);
        if (!ok) {
            t_note("challenge check failed: %s", t_str(k, "why"));
            break;
        }
        count++;
    }
    fixture_free(&f);
    CHECK(ok);
    t_note("%d challenge cases", count);
    CHECK(count >= 16);
}

/* Properties beyond the vectors: sign -> open -> accept round trips from fixed randomness, a
 * change made by each admin in turn, argument checks and the bounds of time values. */
static void test_rooms_properties(void)
{
    struct parley_account *a = fixture_account("rooms-prop", "alice");
    struct parley_account *b = fixture_account("rooms-prop", "bob");
    uint8_t id[16], members[2 * 33], d1[PARLEY_ROOM_MAX_BYTES], d2[PARLEY_ROOM_MAX_BYTES];
    uint8_t nonce[32] = {1}, fa[32] = {2}, fb[32] = {3}, sig[64], leave[PARLEY_ROOM_LEAVE_BYTES];
    uint8_t key[32];
    size_t l1 = 0, l2 = 0;
    int ok;

    if (a == NULL || b == NULL) {
        fixture_account_free(a);
        fixture_account_free(b);
        CHECK(0);
    }
    fixture_bytes(key, "rooms-prop-id");
    memcpy(id, key, 16);
    memcpy(members, a->identity_pub, 32);
    members[32] = PARLEY_ROOM_ROLE_ADMIN;
    memcpy(members + 33, b->identity_pub, 32);
    members[65] = PARLEY_ROOM_ROLE_MEMBER;
    ok = parley_account_room_sign(a, id, 1, (const uint8_t *)"r", 1, members, 2, d1, sizeof d1,
                                  &l1) == PARLEY_OK &&
         parley_room_accept(NULL, 0, d1, l1) == PARLEY_OK &&
         /* bob (a member) cannot make version 1 of his own listing alice as admin */
         parley_account_room_sign(b, id, 1, (const uint8_t *)"r", 1, members, 2, d2, sizeof d2,
                                  &l2) == PARLEY_ERR_NOT_ADMIN &&
         /* bob's version 2 is well formed but refused */
         parley_account_room_sign(b, id, 2, (const uint8_t *)"r", 1, members, 2, d2, sizeof d2,
                                  &l2) == PARLEY_OK &&
         parley_room_accept(d1, l1, d2, l2) == PARLEY_ERR_NOT_ADMIN &&
         parley_room_accept(d2, l2, d2, l2) == PARLEY_ERR_STALE &&
         /* a damaged current descriptor is the caller's error */
         parley_room_accept(d1, l1 - 1, d2, l2) == PARLEY_ERR_ARGUMENT &&
         parley_room_accept(NULL, 5, d2, l2) == PARLEY_ERR_ARGUMENT &&
         /* versions: integers 1..2^53-1 only */
         parley_account_room_sign(a, id, 0.5, (const uint8_t *)"r", 1, members, 2, d2, sizeof d2,
                                  &l2) == PARLEY_ERR_ARGUMENT &&
         parley_account_room_sign(a, id, 9007199254740992.0, (const uint8_t *)"r", 1, members, 2,
                                  d2, sizeof d2, &l2) == PARLEY_ERR_ARGUMENT &&
         parley_account_room_sign(a, id, 2, (const uint8_t *)"r", 1, members, 17, d2, sizeof d2,
                                  &l2) == PARLEY_ERR_LIMIT &&
         parley_account_room_sign(a, id, 2, (const uint8_t *)"\xff", 1, members, 2, d2, sizeof d2,
                                  &l2) == PARLEY_ERR_MALFORMED &&
         parley_account_room_sign(NULL, id, 2, (const uint8_t *)"r", 1, members, 2, d2, sizeof d2,
                                  &l2) == PARLEY_ERR_ARGUMENT &&
         /* challenges both ways */
         parley_account_room_challenge(b, d1, l1, nonce, 1000, fb, fa, sig) == PARLEY_OK &&
         parley_room_challenge_verify(d1, l1, b->identity_pub, nonce, 1000, fb, fa, 61000, 60000,
                                      sig) == PARLEY_OK &&
         parley_room_challenge_verify(d1, l1, b->identity_pub, nonce, 1000, fb, fa, 61001, 60000,
                                      sig) == PARLEY_ERR_EXPIRED &&
         parley_room_challenge_verify(d1, l1, a->identity_pub, nonce, 1000, fb, fa, 1000, 60000,
                                      sig) == PARLEY_ERR_BAD_SIGNATURE &&
         parley_room_challenge_verify(d1, l1, b->identity_pub, nonce, 1000, fb, fa, -1, 60000,
                                      sig) == PARLEY_ERR_ARGUMENT &&
         parley_room_challenge_verify(d1, l1, b->identity_pub, nonce, 1000.5, fb, fa, 1000, 60000,
                                      sig) == PARLEY_ERR_ARGUMENT &&
         parley_room_challenge_verify(d1, l1, b->identity_pub, nonce, 1000, fb, fa, 1000, 0.5,
                                      sig) == PARLEY_ERR_ARGUMENT &&
         parley_account_room_challenge(b, d1, l1, nonce, -1, fb, fa, sig) == PARLEY_ERR_ARGUMENT &&
         parley_account_room_challenge(b, d1, l1, NULL, 1, fb, fa, sig) == PARLEY_ERR_ARGUMENT &&
         /* bob leaves; alice applies it and signs version 2 without him */
         parley_account_room_leave(b, d1, l1, leave) == PARLEY_OK &&
         parley_room_leave_verify(d1, l1, leave, sizeof leave, key) == PARLEY_OK &&
         memcmp(key, b->identity_pub, 32) == 0 &&
         parley_account_room_sign(a, id, 2, (const uint8_t *)"r", 1, members, 1, d2, sizeof d2,
                                  &l2) == PARLEY_OK &&
         parley_room_accept(d1, l1, d2, l2) == PARLEY_OK &&
         parley_room_role(d2, l2, b->identity_pub, NULL) == PARLEY_ERR_NOT_MEMBER &&
         parley_room_leave_verify(d2, l2, leave, sizeof leave, key) == PARLEY_ERR_STALE &&
         parley_room_challenge_verify(d2, l2, b->identity_pub, nonce, 1000, fb, fa, 1000, 60000,
                                      sig) == PARLEY_ERR_NOT_MEMBER &&
         parley_room_open(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL) == PARLEY_ERR_MALFORMED &&
         parley_room_open(NULL, 3, NULL, NULL, NULL, NULL, NULL, NULL) == PARLEY_ERR_ARGUMENT;
    fixture_account_free(a);
    fixture_account_free(b);
    CHECK(ok);
    CHECK(strcmp(parley_strerror(PARLEY_ERR_NOT_ADMIN), "unknown error") != 0);
    CHECK(strcmp(parley_strerror(PARLEY_ERR_NOT_MEMBER), "unknown error") != 0);
}

void suite_rooms(void)
{
    t_run("rooms: docs/vectors/rooms-v1.json descriptors sign and open", test_vectors_descriptors);
    t_run("rooms: docs/vectors/rooms-v1.json acceptance, first sight and rejects",
          test_vectors_accept);
    t_run("rooms: docs/vectors/rooms-v1.json leave statements", test_vectors_leave);
    t_run("rooms: docs/vectors/rooms-v1.json challenges", test_vectors_challenges);
    t_run("rooms: round trips, limits and arguments", test_rooms_properties);
}
