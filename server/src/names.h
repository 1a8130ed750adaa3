/*
 * Usernames: what a valid one is, the confusable skeleton of look-alikes, the reserved names,
 * and the operator's file of more reserved names (--reserved-names).
 *
 * Two usernames look alike when their skeletons are equal: sign-up refuses a name whose skeleton
 * is an existing account's (409 username_confusable) or a reserved name's (409
 * username_reserved). The skeleton follows Unicode TR39's skeleton() (each character replaced by
 * its prototype from confusables.txt) for the only characters a username may hold, a-z, 0-9, '_',
 * '.' and '-', after case folding:
 *
 *   '.', '_', '-'  removed           dave. d.ave d_ave d-ave all read as dave at a glance
 *   0              -> o              TR39 maps 0 to O, which case folding makes o
 *   1, i           -> l              TR39 maps 1 and I to l; i is I after case folding (a name
 *                                    written aIice is the account aiice, and reads as alice)
 *   m              -> rn             TR39 (m -> rn): r's arm touches n's first stem in most fonts
 *   w              -> vv             not in TR39's table, but two v in a sans-serif face at text
 *                                    size make a w with a hairline gap (vvalter, walter)
 *   d              -> cl             not in TR39's table, but c's opening closes against l's stem
 *                                    at text size in sans-serif faces (cl ~ d, as in the well-
 *                                    known "click"), a standard homoglyph pair of domain checks
 *   anything else  unchanged
 *
 * Left out on purpose: nn/m (four stems and a wide gap against m's three: not mistaken in common
 * fonts), and the digits 2-9 against letters (5/s, 2/z, 6/b, 8/b, 9/g/q): a digit stands at cap
 * height and a lower-case letter at x-height, so these never meet in a lower-case username, and
 * TR39 has no such ASCII mapping either. Each output character is mapped to itself, so the
 * skeleton of a skeleton is itself, and two names collide exactly when their skeletons are equal
 * (cheap to store and index). The mapping errs on the side of refusing: r.n reads as rn, which is
 * m's skeleton, and ci as cl. A change to this mapping needs a database migration that computes
 * the stored skeletons again (db.c, schema version 3).
 */
#ifndef PARLEY_SERVER_NAMES_H
#define PARLEY_SERVER_NAMES_H

#include <stddef.h>

#define NAMES_NAME_MIN 3                        /* accounts.h USERNAME_MIN */
#define NAMES_NAME_MAX 32                       /* accounts.h USERNAME_MAX */
#define NAMES_NAME_LEN (NAMES_NAME_MAX + 1)     /* a name with its NUL */
#define NAMES_SKELETON_MAX (2 * NAMES_NAME_MAX) /* m, w and d become two characters */
#define NAMES_RESERVED_MAX 1024                 /* names an operator's file may add */

/*
 * 1 when name is a valid username in canonical (lower-case) form: 3..32 bytes of a-z, 0-9,
 * '_', '.' and '-', starting with a letter, and not reserved ("me").
 */
int account_username_valid(const char *name);

/*
 * Case-folds a username as a client sent it (ASCII A-Z to a-z) into out and returns out when the
 * result is valid, NULL otherwise. Every username from a request goes through this, so "Alice"
 * and "alice" are one account.
 */
const char *account_username_fold(const char *name, char out[NAMES_NAME_LEN]);

/*
 * Writes the skeleton of name (upper-case ASCII folded first) into out and returns its length;
 * 0 (out empty) when name is NULL, empty or longer than NAMES_NAME_MAX bytes. Characters outside
 * the username alphabet are copied as they are (a valid username holds none).
 */
size_t names_skeleton(const char *name, char out[NAMES_SKELETON_MAX + 1]);

/* The names reserved on every server (NULL-terminated): see docs/API.md, Usernames. */
extern const char *const names_reserved_default[];

/*
 * Reads an operator's file of reserved names: one name per line, case-folded; '#' starts a
 * comment that runs to the end of the line; spaces and tabs around a name and blank lines are
 * ignored. Each name must be a valid username (3..32 of a-z, 0-9, '_', '.', '-', starting with
 * a letter). Fills out[0..*n) and returns 0, or returns -1 with a one-line reason in err (the
 * file cannot be read, a line is not a username or is too long, a NUL byte, more than max names).
 */
int names_read_file(const char *path, char (*out)[NAMES_NAME_LEN], int max, int *n, char *err,
                    size_t errlen);

#endif
