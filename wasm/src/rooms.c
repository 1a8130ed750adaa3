/*
 * Rooms (docs/PROTOCOL.md section 20): signed room descriptors, the rule that decides which
 * descriptor a member takes, "leave" statements and room challenges.
 *
 *   descriptor = u8(0x01) || room_id(16) || u64(version) || u8(name_len) || name
 *                || u8(count) || count x ( identity_key(32) || u8(role) ) || signer(32)
 *                || Ed25519-Sign(signer's seed, "parley-room-v1" || everything before it)
 *   leave      = u8(0x01) || room_id(16) || u64(version) || leaver(32)
 *                || Ed25519-Sign(leaver's seed, "parley-room-leave-v1" || the 57 bytes before it)
 *   challenge  = Ed25519-Sign(seed, "parley-room-challenge-v1" || room_id || u64(version)
 *                || nonce(32) || u64(issuedAt) || signer's fingerprint(32) || peer's fingerprint(32))
 *
 * One strict parser serves signing (what is signed is parsed back first), opening, accepting,
 * leaving and challenges. Everything here is public data except the identity seed, which only
 * parley_ed25519_sign touches (it wipes its expanded key). Key and room id comparisons are
 * constant time (sodium_memcmp), and a member lookup always scans the whole list.
 */
#include "state.h"

#include <string.h>

#define ROOM_LABEL "parley-room-v1"
#define ROOM_LEAVE_LABEL "parley-room-leave-v1"
#define ROOM_CHALLENGE_LABEL "parley-room-challenge-v1"
#define ROOM_LABEL_BYTES (sizeof(ROOM_LABEL) - 1)
#define ROOM_LEAVE_LABEL_BYTES (sizeof(ROOM_LEAVE_LABEL) - 1)
#define ROOM_CHALLENGE_LABEL_BYTES (sizeof(ROOM_CHALLENGE_LABEL) - 1)
#define ROOM_HEADER_BYTES (1 + PARLEY_ROOM_IDBYTES + 8) /* format, room id, version */
#define ROOM_SIG_BYTES PARLEY_ED25519_SIGNATUREBYTES
#define ROOM_LEAVE_BODY_BYTES (PARLEY_ROOM_LEAVE_BYTES - ROOM_SIG_BYTES) /* 57 */
#define ROOM_CHALLENGE_BYTES                                                                     \
    (ROOM_CHALLENGE_LABEL_BYTES + PARLEY_ROOM_IDBYTES + 8 + PARLEY_CHALLENGE_NONCEBYTES + 8 +     \
     PARLEY_ROOM_FINGERPRINTBYTES + PARLEY_ROOM_FINGERPRINTBYTES)
#define ROOM_VERSION_MAX ((uint64_t)9007199254740991u)

/* A descriptor that parsed: pointers into the caller's bytes. */
struct room_view {
    const uint8_t *room_id;
    uint64_t version;
    const uint8_t *name;
    size_t name_len;
    size_t count;
    const uint8_t *members; /* count x PARLEY_ROOM_MEMBERBYTES, keys strictly ascending */
    const uint8_t *signer;
    const uint8_t *sig;
    size_t body_len; /* the bytes before the signature */
};

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}

/* An integer 1..2^53-1 (versions) or 0..2^53-1 (times) held in a double. */
static int whole_number(double v, double min, uint64_t *out)
{
    if (!(v >= min && v <= PARLEY_ROOM_VERSION_MAX)) {
        return 0;
    }
    *out = (uint64_t)v;
    return (double)*out == v;
}

/* Parses the structure (no signature check). */
static int room_parse(const uint8_t *in, size_t len, struct room_view *v)
{
    size_t pos = ROOM_HEADER_BYTES, admins = 0;

    if (len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (in[0] != PARLEY_ROOM_FORMAT) {
        return PARLEY_ERR_VERSION;
    }
    if (len < ROOM_HEADER_BYTES + 1) {
        return PARLEY_ERR_MALFORMED;
    }
    v->room_id = in + 1;
    v->version = get_u64be(in + 1 + PARLEY_ROOM_IDBYTES);
    if (v->version == 0 || v->version > ROOM_VERSION_MAX) {
        return PARLEY_ERR_MALFORMED;
    }
    v->name_len = in[pos++];
    if (v->name_len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (v->name_len > PARLEY_ROOM_NAME_MAX) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (len - pos < v->name_len + 1) {
        return PARLEY_ERR_MALFORMED;
    }
    v->name = in + pos;
    if (!utf8_valid(v->name, v->name_len)) {
        return PARLEY_ERR_MALFORMED;
    }
    pos += v->name_len;
    v->count = in[pos++];
    if (v->count == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (v->count > PARLEY_ROOM_MAX_MEMBERS) {
        return PARLEY_ERR_LIMIT;
    }
    if (len - pos < v->count * PARLEY_ROOM_MEMBERBYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    v->members = in + pos;
    for (size_t i = 0; i < v->count; i++) {
        const uint8_t *m = v->members + i * PARLEY_ROOM_MEMBERBYTES;
        uint8_t role = m[PARLEY_KEY_BYTES];

        /* Keys strictly ascending: one encoding per member set, and no key twice. */
        if (i > 0 && memcmp(m - PARLEY_ROOM_MEMBERBYTES, m, PARLEY_KEY_BYTES) >= 0) {
            return PARLEY_ERR_MALFORMED;
        }
        if (role != PARLEY_ROOM_ROLE_ADMIN && role != PARLEY_ROOM_ROLE_MEMBER) {
            return PARLEY_ERR_MALFORMED;
        }
        admins += role == PARLEY_ROOM_ROLE_ADMIN;
    }
    if (admins == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    pos += v->count * PARLEY_ROOM_MEMBERBYTES;
    if (len - pos != PARLEY_KEY_BYTES + ROOM_SIG_BYTES) {
        return PARLEY_ERR_MALFORMED; /* truncated, or trailing bytes */
    }
    v->signer = in + pos;
    v->sig = in + pos + PARLEY_KEY_BYTES;
    v->body_len = pos + PARLEY_KEY_BYTES;
    return PARLEY_OK;
}

static void room_message(uint8_t *msg, const uint8_t *body, size_t body_len)
{
    memcpy(msg, ROOM_LABEL, ROOM_LABEL_BYTES);
    memcpy(msg + ROOM_LABEL_BYTES, body, body_len);
}

/* Parses and verifies the signature. */
static int room_open(const uint8_t *in, size_t len, struct room_view *v)
{
    uint8_t msg[ROOM_LABEL_BYTES + PARLEY_ROOM_MAX_BYTES];
    int rc;

    if (in == NULL) {
        return len == 0 ? PARLEY_ERR_MALFORMED : PARLEY_ERR_ARGUMENT;
    }
    rc = room_parse(in, len, v);
    if (rc != PARLEY_OK) {
        return rc;
    }
    /* room_parse bounds body_len by PARLEY_ROOM_MAX_BYTES - 64. */
    room_message(msg, in, v->body_len);
    return parley_ed25519_verify(v->signer, msg, ROOM_LABEL_BYTES + v->body_len, v->sig);
}

/* The role of key in v (0 when absent). Scans every member, whatever it finds. */
static uint8_t room_role(const struct room_view *v, const uint8_t key[PARLEY_KEY_BYTES])
{
    unsigned role = 0;

    for (size_t i = 0; i < v->count; i++) {
        const uint8_t *m = v->members + i * PARLEY_ROOM_MEMBERBYTES;
        /* sodium_memcmp: 0 when equal, -1 otherwise, in constant time. */
        unsigned eq = (unsigned)(sodium_memcmp(m, key, PARLEY_KEY_BYTES) + 1);

        role |= (0u - eq) & m[PARLEY_KEY_BYTES];
    }
    return (uint8_t)role;
}

static int same_bytes(const uint8_t *a, const uint8_t *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

int parley_account_room_sign(const parley_account *account,
                             const uint8_t room_id[PARLEY_ROOM_IDBYTES], double version,
                             const uint8_t *name, size_t name_len, const uint8_t *members,
                             size_t member_count, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t body[PARLEY_ROOM_MAX_BYTES];
    uint8_t msg[ROOM_LABEL_BYTES + PARLEY_ROOM_MAX_BYTES];
    const uint8_t *order[PARLEY_ROOM_MAX_MEMBERS];
    struct room_view v;
    uint64_t ver;
    size_t pos = 0, len;
    int rc;

    if (account == NULL || room_id == NULL || (name == NULL && name_len != 0) ||
        (members == NULL && member_count != 0) || out == NULL || out_len == NULL ||
        !whole_number(version, 1.0, &ver)) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (name_len == 0 || member_count == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (name_len > PARLEY_ROOM_NAME_MAX) {
        return PARLEY_ERR_TOO_LARGE;
    }
    if (member_count > PARLEY_ROOM_MAX_MEMBERS) {
        return PARLEY_ERR_LIMIT;
    }
    /* Insertion sort of the entries by key (at most 16); equal keys stay adjacent and the
     * parser below refuses them. */
    for (size_t i = 0; i < member_count; i++) {
        const uint8_t *m = members + i * PARLEY_ROOM_MEMBERBYTES;
        size_t j = i;

        while (j > 0 && memcmp(order[j - 1], m, PARLEY_KEY_BYTES) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = m;
    }
    body[pos++] = PARLEY_ROOM_FORMAT;
    memcpy(body + pos, room_id, PARLEY_ROOM_IDBYTES);
    pos += PARLEY_ROOM_IDBYTES;
    put_u64be(body + pos, ver);
    pos += 8;
    body[pos++] = (uint8_t)name_len;
    memcpy(body + pos, name, name_len);
    pos += name_len;
    body[pos++] = (uint8_t)member_count;
    for (size_t i = 0; i < member_count; i++) {
        memcpy(body + pos, order[i], PARLEY_ROOM_MEMBERBYTES);
        pos += PARLEY_ROOM_MEMBERBYTES;
    }
    memcpy(body + pos, account->identity_pub, PARLEY_KEY_BYTES);
    pos += PARLEY_KEY_BYTES;
    len = pos + ROOM_SIG_BYTES;
    /* The reader's checks on what will be signed (the signature bytes are not read yet). */
    memset(body + pos, 0, ROOM_SIG_BYTES);
    rc = room_parse(body, len, &v);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (ver == 1 && room_role(&v, account->identity_pub) != PARLEY_ROOM_ROLE_ADMIN) {
        return PARLEY_ERR_NOT_ADMIN;
    }
    if (out_cap < len) {
        return PARLEY_ERR_BUFFER;
    }
    room_message(msg, body, pos);
    rc = parley_ed25519_sign(body + pos, account->identity_seed, msg, ROOM_LABEL_BYTES + pos);
    if (rc == PARLEY_OK) {
        memcpy(out, body, len);
        *out_len = len;
    }
    return rc;
}

int parley_room_open(const uint8_t *in, size_t in_len, uint8_t room_id[PARLEY_ROOM_IDBYTES],
                     double *version, uint32_t *member_count, uint8_t signer[PARLEY_KEY_BYTES],
                     uint32_t *name_offset, uint32_t *name_len)
{
    struct room_view v;
    int rc = room_open(in, in_len, &v);

    if (rc != PARLEY_OK) {
        return rc;
    }
    if (room_id != NULL) {
        memcpy(room_id, v.room_id, PARLEY_ROOM_IDBYTES);
    }
    if (version != NULL) {
        *version = (double)v.version;
    }
    if (member_count != NULL) {
        *member_count = (uint32_t)v.count;
    }
    if (signer != NULL) {
        memcpy(signer, v.signer, PARLEY_KEY_BYTES);
    }
    if (name_offset != NULL) {
        *name_offset = (uint32_t)(v.name - in);
    }
    if (name_len != NULL) {
        *name_len = (uint32_t)v.name_len;
    }
    return PARLEY_OK;
}

int parley_room_member(const uint8_t *in, size_t in_len, uint32_t index,
                       uint8_t key[PARLEY_KEY_BYTES], uint32_t *role)
{
    struct room_view v;
    int rc = room_open(in, in_len, &v);

    if (rc != PARLEY_OK) {
        return rc;
    }
    if (index >= v.count) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (key != NULL) {
        memcpy(key, v.members + (size_t)index * PARLEY_ROOM_MEMBERBYTES, PARLEY_KEY_BYTES);
    }
    if (role != NULL) {
        *role = v.members[(size_t)index * PARLEY_ROOM_MEMBERBYTES + PARLEY_KEY_BYTES];
    }
    return PARLEY_OK;
}

int parley_room_role(const uint8_t *in, size_t in_len, const uint8_t key[PARLEY_KEY_BYTES],
                     uint32_t *role)
{
    struct room_view v;
    uint8_t r;
    int rc;

    if (key == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = room_open(in, in_len, &v);
    if (rc != PARLEY_OK) {
        return rc;
    }
    r = room_role(&v, key);
    if (r == 0) {
        return PARLEY_ERR_NOT_MEMBER;
    }
    if (role != NULL) {
        *role = r;
    }
    return PARLEY_OK;
}

int parley_room_accept(const uint8_t *current, size_t current_len, const uint8_t *candidate,
                       size_t candidate_len)
{
    struct room_view cur, cand;
    int rc;

    if (current == NULL && current_len != 0) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = room_open(candidate, candidate_len, &cand);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (current == NULL || current_len == 0) {
        /* None yet: only a room's first version, signed by its creator, an admin it lists. */
        if (cand.version != 1) {
            return PARLEY_ERR_STATE;
        }
        return room_role(&cand, cand.signer) == PARLEY_ROOM_ROLE_ADMIN ? PARLEY_OK
                                                                       : PARLEY_ERR_NOT_ADMIN;
    }
    if (room_open(current, current_len, &cur) != PARLEY_OK) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (!same_bytes(cur.room_id, cand.room_id, PARLEY_ROOM_IDBYTES)) {
        return PARLEY_ERR_OTHER_ROOM;
    }
    if (cand.version <= cur.version) {
        return PARLEY_ERR_STALE;
    }
    /* The signer's authority comes from the descriptor the member holds, not the new one. */
    return room_role(&cur, cand.signer) == PARLEY_ROOM_ROLE_ADMIN ? PARLEY_OK
                                                                  : PARLEY_ERR_NOT_ADMIN;
}

int parley_room_accept_first(const uint8_t *candidate, size_t candidate_len,
                             const uint8_t sender_key[PARLEY_KEY_BYTES],
                             const uint8_t receiver_key[PARLEY_KEY_BYTES])
{
    struct room_view cand;
    int rc;

    if (sender_key == NULL || receiver_key == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = room_open(candidate, candidate_len, &cand);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (!same_bytes(cand.signer, sender_key, PARLEY_KEY_BYTES) ||
        room_role(&cand, cand.signer) != PARLEY_ROOM_ROLE_ADMIN) {
        return PARLEY_ERR_NOT_ADMIN;
    }
    /* A room is taken only by a member it lists. */
    return room_role(&cand, receiver_key) != 0 ? PARLEY_OK : PARLEY_ERR_NOT_MEMBER;
}

static void leave_message(uint8_t msg[ROOM_LEAVE_LABEL_BYTES + ROOM_LEAVE_BODY_BYTES],
                          const uint8_t body[ROOM_LEAVE_BODY_BYTES])
{
    memcpy(msg, ROOM_LEAVE_LABEL, ROOM_LEAVE_LABEL_BYTES);
    memcpy(msg + ROOM_LEAVE_LABEL_BYTES, body, ROOM_LEAVE_BODY_BYTES);
}

int parley_account_room_leave(const parley_account *account, const uint8_t *descriptor,
                              size_t descriptor_len, uint8_t out[PARLEY_ROOM_LEAVE_BYTES])
{
    uint8_t body[ROOM_LEAVE_BODY_BYTES];
    uint8_t msg[ROOM_LEAVE_LABEL_BYTES + ROOM_LEAVE_BODY_BYTES];
    struct room_view v;
    int rc;

    if (account == NULL || out == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = room_open(descriptor, descriptor_len, &v);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (room_role(&v, account->identity_pub) == 0) {
        return PARLEY_ERR_NOT_MEMBER;
    }
    body[0] = PARLEY_ROOM_FORMAT;
    memcpy(body + 1, v.room_id, PARLEY_ROOM_IDBYTES);
    put_u64be(body + 1 + PARLEY_ROOM_IDBYTES, v.version);
    memcpy(body + ROOM_HEADER_BYTES, account->identity_pub, PARLEY_KEY_BYTES);
    leave_message(msg, body);
    rc = parley_ed25519_sign(out + ROOM_LEAVE_BODY_BYTES, account->identity_seed, msg, sizeof msg);
    if (rc == PARLEY_OK) {
        memcpy(out, body, ROOM_LEAVE_BODY_BYTES);
    }
    return rc;
}

int parley_room_leave_verify(const uint8_t *descriptor, size_t descriptor_len,
                             const uint8_t *leave, size_t leave_len,
                             uint8_t leaver[PARLEY_KEY_BYTES])
{
    uint8_t msg[ROOM_LEAVE_LABEL_BYTES + ROOM_LEAVE_BODY_BYTES];
    struct room_view v;
    uint64_t ver;
    int rc;

    if ((leave == NULL && leave_len != 0) || leaver == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (room_open(descriptor, descriptor_len, &v) != PARLEY_OK) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (leave_len == 0) {
        return PARLEY_ERR_MALFORMED;
    }
    if (leave[0] != PARLEY_ROOM_FORMAT) {
        return PARLEY_ERR_VERSION;
    }
    if (leave_len != PARLEY_ROOM_LEAVE_BYTES) {
        return PARLEY_ERR_MALFORMED;
    }
    ver = get_u64be(leave + 1 + PARLEY_ROOM_IDBYTES);
    if (ver == 0 || ver > ROOM_VERSION_MAX) {
        return PARLEY_ERR_MALFORMED;
    }
    if (!same_bytes(leave + 1, v.room_id, PARLEY_ROOM_IDBYTES)) {
        return PARLEY_ERR_OTHER_ROOM;
    }
    if (ver < v.version) {
        return PARLEY_ERR_STALE;
    }
    if (ver > v.version) {
        return PARLEY_ERR_STATE;
    }
    if (room_role(&v, leave + ROOM_HEADER_BYTES) == 0) {
        return PARLEY_ERR_NOT_MEMBER;
    }
    leave_message(msg, leave);
    rc = parley_ed25519_verify(leave + ROOM_HEADER_BYTES, msg, sizeof msg,
                               leave + ROOM_LEAVE_BODY_BYTES);
    if (rc == PARLEY_OK) {
        memcpy(leaver, leave + ROOM_HEADER_BYTES, PARLEY_KEY_BYTES);
    }
    return rc;
}

static int challenge_message(uint8_t msg[ROOM_CHALLENGE_BYTES], const struct room_view *v,
                             const uint8_t *nonce, double issued_at_ms, const uint8_t *first_fp,
                             const uint8_t *second_fp)
{
    uint64_t issued;
    size_t pos = 0;

    if (nonce == NULL || first_fp == NULL || second_fp == NULL ||
        !whole_number(issued_at_ms, 0.0, &issued)) {
        return PARLEY_ERR_ARGUMENT;
    }
    memcpy(msg, ROOM_CHALLENGE_LABEL, ROOM_CHALLENGE_LABEL_BYTES);
    pos += ROOM_CHALLENGE_LABEL_BYTES;
    memcpy(msg + pos, v->room_id, PARLEY_ROOM_IDBYTES);
    pos += PARLEY_ROOM_IDBYTES;
    put_u64be(msg + pos, v->version);
    pos += 8;
    memcpy(msg + pos, nonce, PARLEY_CHALLENGE_NONCEBYTES);
    pos += PARLEY_CHALLENGE_NONCEBYTES;
    put_u64be(msg + pos, issued);
    pos += 8;
    memcpy(msg + pos, first_fp, PARLEY_ROOM_FINGERPRINTBYTES);
    pos += PARLEY_ROOM_FINGERPRINTBYTES;
    memcpy(msg + pos, second_fp, PARLEY_ROOM_FINGERPRINTBYTES);
    return PARLEY_OK;
}

int parley_account_room_challenge(const parley_account *account, const uint8_t *descriptor,
                                  size_t descriptor_len,
                                  const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
                                  double issued_at_ms,
                                  const uint8_t own_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
                                  const uint8_t peer_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
                                  uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES])
{
    uint8_t msg[ROOM_CHALLENGE_BYTES];
    struct room_view v;
    int rc;

    if (account == NULL || sig == NULL) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = room_open(descriptor, descriptor_len, &v);
    if (rc != PARLEY_OK) {
        return rc;
    }
    rc = challenge_message(msg, &v, nonce, issued_at_ms, own_fingerprint, peer_fingerprint);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (room_role(&v, account->identity_pub) == 0) {
        return PARLEY_ERR_NOT_MEMBER;
    }
    return parley_ed25519_sign(sig, account->identity_seed, msg, sizeof msg);
}

int parley_room_challenge_verify(const uint8_t *descriptor, size_t descriptor_len,
                                 const uint8_t signer_key[PARLEY_KEY_BYTES],
                                 const uint8_t nonce[PARLEY_CHALLENGE_NONCEBYTES],
                                 double issued_at_ms,
                                 const uint8_t signer_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
                                 const uint8_t own_fingerprint[PARLEY_ROOM_FINGERPRINTBYTES],
                                 double now_ms, double max_skew_ms,
                                 const uint8_t sig[PARLEY_ED25519_SIGNATUREBYTES])
{
    uint8_t msg[ROOM_CHALLENGE_BYTES];
    struct room_view v;
    uint64_t now, skew, issued;
    int rc;

    if (signer_key == NULL || sig == NULL || !whole_number(now_ms, 0.0, &now) ||
        !whole_number(max_skew_ms, 0.0, &skew) || max_skew_ms > PARLEY_ROOM_CHALLENGE_MAX_SKEW) {
        return PARLEY_ERR_ARGUMENT;
    }
    if (room_open(descriptor, descriptor_len, &v) != PARLEY_OK) {
        return PARLEY_ERR_ARGUMENT;
    }
    rc = challenge_message(msg, &v, nonce, issued_at_ms, signer_fingerprint, own_fingerprint);
    if (rc != PARLEY_OK) {
        return rc;
    }
    if (room_role(&v, signer_key) == 0) {
        return PARLEY_ERR_NOT_MEMBER;
    }
    issued = (uint64_t)issued_at_ms;
    if ((issued > now ? issued - now : now - issued) > skew) {
        return PARLEY_ERR_EXPIRED;
    }
    return parley_ed25519_verify(signer_key, msg, sizeof msg, sig);
}
