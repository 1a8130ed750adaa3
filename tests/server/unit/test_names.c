/* Unit tests of look-alike usernames (server/src/names.c): the skeleton, the default reserved
 * names and the operator's file of reserved names. */
#include "names.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 when a and b have the same skeleton. */
static int alike(const char *a, const char *b)
{
    char sa[NAMES_SKELETON_MAX + 1];
    char sb[NAMES_SKELETON_MAX + 1];

    if (names_skeleton(a, sa) == 0 || names_skeleton(b, sb) == 0) {
        return 0;
    }
    if (strcmp(sa, sb) != 0) {
        return 0;
    }
    return 1;
}

static int skeleton_is(const char *name, const char *want)
{
    char out[NAMES_SKELETON_MAX + 1];
    size_t n = names_skeleton(name, out);

    if (n != strlen(want) || strcmp(out, want) != 0) {
        printf("  skeleton(%s) = %s (want %s)\n", name, out, want);
        return 0;
    }
    return 1;
}

static void test_skeleton(void)
{
    /* Pairs that must collide: the review's examples and each mapping on its own. */
    static const char *const same[][2] = {
        {"alice", "a1ice"},     {"alice", "aiice"},     {"alice", "al1ce"},   {"mallory", "rnallory"},
        {"dave", "dave."},      {"dave", "d.ave"},      {"dave", "d_a-v.e"},  {"dave", "clave"},
        {"walter", "vvalter"},  {"tom", "t0m"},         {"tom", "torn"},      {"bob", "b0b"},
        {"admin", "adm1n"},     {"admin", "aclrnin"},   {"support", "supp0rt"},
        {"system", "sys.tem"},  {"parley", "par1ey"},   {"Alice", "alice"},   {"ALICE", "a1ice"},
        {"lily", "1i1y"},       {"w.w", "vvvv"},        {"m0m", "rnorn"},     {"ab-c", "a_b.c"},
    };
    /* Pairs that must not: what the mapping leaves apart on purpose. */
    static const char *const apart[][2] = {
        {"tom", "tonn"},   {"alice", "alicia"}, {"dave", "davey"}, {"bob", "bab"},
        {"sam", "5am"},    {"zed", "2ed"},      {"bob", "8ob"},    {"gary", "9ary"},
        {"quinn", "qvinn"}, {"uma", "vma"},     {"anna", "arma"},  {"carol", "caro"},
    };
    char out[NAMES_SKELETON_MAX + 1];
    char longest[NAMES_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        if (!alike(same[i][0], same[i][1])) {
            printf("  %s and %s should look alike\n", same[i][0], same[i][1]);
            EXPECT(0);
        } else {
            EXPECT(1);
        }
    }
    for (size_t i = 0; i < sizeof apart / sizeof apart[0]; i++) {
        if (alike(apart[i][0], apart[i][1])) {
            printf("  %s and %s should not look alike\n", apart[i][0], apart[i][1]);
            EXPECT(0);
        } else {
            EXPECT(1);
        }
    }
    /* The exact mapping. */
    EXPECT(skeleton_is("alice", "allce"));
    EXPECT(skeleton_is("mallory", "rnallory"));
    EXPECT(skeleton_is("dave.", "clave"));
    EXPECT(skeleton_is("w0m-d_1.i", "vvornclll"));
    EXPECT(skeleton_is("abcefghjknpqrstuvxyz", "abcefghjknpqrstuvxyz"));
    EXPECT(skeleton_is("a23456789", "a23456789"));
    EXPECT(skeleton_is("ABC", "abc"));
    /* The skeleton of a skeleton is itself. */
    {
        static const char *const names[] = {"mallory", "w0m-d_1.i", "dddddddd", "admin",
                                            "x_y-z.w"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char again[NAMES_SKELETON_MAX + 1];
            EXPECT(names_skeleton(names[i], out) > 0);
            EXPECT(names_skeleton(out, again) == strlen(out) && strcmp(out, again) == 0);
        }
    }
    /* The longest: 32 characters that each become two. */
    memset(longest, 'm', NAMES_NAME_MAX);
    longest[NAMES_NAME_MAX] = '\0';
    EXPECT(names_skeleton(longest, out) == NAMES_SKELETON_MAX && strlen(out) == 64 &&
           strncmp(out, "rnrnrn", 6) == 0);
    longest[NAMES_NAME_MAX] = 'm';
    longest[NAMES_NAME_MAX + 1] = '\0';
    EXPECT(names_skeleton(longest, out) == 0 && out[0] == '\0');
    EXPECT(names_skeleton("", out) == 0 && out[0] == '\0');
    EXPECT(names_skeleton(NULL, out) == 0 && out[0] == '\0');
    /* Only separators: nothing is left. */
    EXPECT(names_skeleton("._-", out) == 0 && out[0] == '\0');
}

static void test_default_reserved(void)
{
    static const char *const wanted[] = {"admin", "support", "system", "parley", "me"};
    size_t n = 0;

    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        int found = 0;
        for (size_t j = 0; names_reserved_default[j] != NULL; j++) {
            found |= strcmp(names_reserved_default[j], wanted[i]) == 0;
        }
        EXPECT(found);
    }
    while (names_reserved_default[n] != NULL) {
        n++;
    }
    EXPECT(n >= 5 && n < 64);
}

/* Writes text (len bytes) to a temporary file; its path goes to path. */
static int temp_file(char *path, size_t cap, const char *text, size_t len)
{
    int fd;
    ssize_t w;

    snprintf(path, cap, "/tmp/parley-names-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) {
        return -1;
    }
    w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

/* Reads text as a reserved names file: the result, with *n and err filled. */
static int read_text(const char *text, size_t len, char (*names)[NAMES_NAME_LEN], int max, int *n,
                     char *err, size_t errlen)
{
    char path[64];
    int rc;

    if (temp_file(path, sizeof path, text, len) != 0) {
        return -99;
    }
    rc = names_read_file(path, names, max, n, err, errlen);
    unlink(path);
    return rc;
}

static void test_reserved_file(void)
{
    static char names[8][NAMES_NAME_LEN];
    static const char good[] = "# the operator's names\n"
                               "\n"
                               "Acme\n"
                               "  helpdesk\t# the help desk\n"
                               "ceo\r\n"
                               "   \n"
                               "# end";
    static const char *const bad[] = {
        "acme\nnot valid\n", "ab\n", "1abc\n", "acme\n-x-y\n", "caf\xc3\xa9s\n",
        "abcdefghijklmnopqrstuvwxyz0123456\n", "a/b/c\n", "me\n",
    };
    char err[512];
    int n = -1;
    char big[400];

    EXPECT(read_text(good, strlen(good), names, 8, &n, err, sizeof err) == 0 && n == 3 &&
           strcmp(names[0], "acme") == 0 && strcmp(names[1], "helpdesk") == 0 &&
           strcmp(names[2], "ceo") == 0);
    EXPECT(read_text("", 0, names, 8, &n, err, sizeof err) == 0 && n == 0);
    EXPECT(read_text("last\nno-newline", 15, names, 8, &n, err, sizeof err) == 0 && n == 2 &&
           strcmp(names[1], "no-newline") == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        EXPECT(read_text(bad[i], strlen(bad[i]), names, 8, &n, err, sizeof err) == -1 && n == 0 &&
               strstr(err, "is not a username") != NULL);
    }
    /* The line is named. */
    EXPECT(read_text("acme\nnot valid\n", 15, names, 8, &n, err, sizeof err) == -1 &&
           strstr(err, "line 2: 'not valid'") != NULL);
    /* A NUL byte, a line too long, too many names, no such file, a folder. */
    EXPECT(read_text("acme\nab\0cd\n", 11, names, 8, &n, err, sizeof err) == -1 &&
           strstr(err, "line 2: a NUL byte") != NULL);
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\n';
    EXPECT(read_text(big, sizeof big, names, 8, &n, err, sizeof err) == -1 &&
           strstr(err, "line 1: too long") != NULL);
    EXPECT(read_text("aaa\nbbb\nccc\n", 12, names, 2, &n, err, sizeof err) == -1 && n == 0 &&
           strstr(err, "more than 2 names") != NULL);
    EXPECT(names_read_file("/nonexistent/parley-names", names, 8, &n, err, sizeof err) == -1 &&
           strstr(err, "cannot read") != NULL);
    EXPECT(names_read_file("/tmp", names, 8, &n, err, sizeof err) == -1 &&
           strstr(err, "cannot read") != NULL);
}

void test_names(void)
{
    test_skeleton();
    test_default_reserved();
    test_reserved_file();
}
