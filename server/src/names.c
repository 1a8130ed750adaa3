#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Refused by the username rules themselves (/api/keys/me is the caller's own keys). */
static const char *const username_reserved[] = {"me"};

/* Names someone could use to pass for the server or its operator. "me" is refused by the
 * username rules already (it is too short, and /api/keys/me is the caller's own); listed here
 * too so that its look-alikes (m.e, rne) are refused with it. */
const char *const names_reserved_default[] = {
    "admin",  "administrator", "root",  "system",   "support", "help",       "parley",
    "security", "moderator",   "staff", "official", "server",  "postmaster", "abuse",
    "noreply",  "me",          NULL};

int account_username_valid(const char *name)
{
    size_t len;

    if (name == NULL) {
        return 0;
    }
    len = strnlen(name, NAMES_NAME_MAX + 1);
    if (len < NAMES_NAME_MIN || len > NAMES_NAME_MAX || name[0] < 'a' || name[0] > 'z') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.')) {
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof username_reserved / sizeof username_reserved[0]; i++) {
        if (strcmp(name, username_reserved[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

const char *account_username_fold(const char *name, char out[NAMES_NAME_LEN])
{
    size_t len;

    if (name == NULL) {
        return NULL;
    }
    len = strnlen(name, NAMES_NAME_MAX + 1);
    if (len > NAMES_NAME_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    return account_username_valid(out) ? out : NULL;
}

size_t names_skeleton(const char *name, char out[NAMES_SKELETON_MAX + 1])
{
    size_t len;
    size_t n = 0;

    out[0] = '\0';
    if (name == NULL) {
        return 0;
    }
    len = strnlen(name, NAMES_NAME_MAX + 1);
    if (len == 0 || len > NAMES_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        const char *to;

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        switch (c) {
        case '.':
        case '_':
        case '-':
            to = "";
            break;
        case '0':
            to = "o";
            break;
        case '1':
        case 'i':
            to = "l";
            break;
        case 'm':
            to = "rn";
            break;
        case 'w':
            to = "vv";
            break;
        case 'd':
            to = "cl";
            break;
        default:
            out[n++] = c;
            continue;
        }
        for (; *to != '\0'; to++) {
            out[n++] = *to;
        }
    }
    out[n] = '\0';
    return n;
}

/* Reads one line of f into buf (at most cap - 1 bytes, NUL-terminated). 1 a line, 0 end of
 * file, -1 the line is too long, -2 it holds a NUL byte, -3 a read error. */
static int read_line(FILE *f, char *buf, size_t cap)
{
    size_t n = 0;
    int c;
    int result = 1;

    while ((c = getc(f)) != EOF && c != '\n') {
        if (c == '\0') {
            result = -2;
        } else if (n + 1 >= cap) {
            result = result == 1 ? -1 : result;
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
    if (ferror(f)) {
        return -3;
    }
    if (c == EOF && n == 0 && result == 1) {
        return 0;
    }
    return result;
}

/* Cuts a '#' comment and the spaces, tabs and CR around what is left; returns the start. */
static char *trim(char *line)
{
    char *hash = strchr(line, '#');
    size_t len;

    if (hash != NULL) {
        *hash = '\0';
    }
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    len = strlen(line);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    return line;
}

int names_read_file(const char *path, char (*out)[NAMES_NAME_LEN], int max, int *n, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "r");
    char buf[256] = {0}; /* zeroed: clang-analyzer does not see read_line's NUL bound strnlen */
    long line_no = 0;
    int rc;

    *n = 0;
    if (f == NULL) {
        snprintf(err, errlen, "cannot read the reserved names file '%.200s': %s", path,
                 strerror(errno));
        return -1;
    }
    while ((rc = read_line(f, buf, sizeof buf)) != 0) {
        const char *name;
        char folded[NAMES_NAME_LEN];

        line_no++;
        if (rc == -3) {
            snprintf(err, errlen, "cannot read the reserved names file '%.200s': %s", path,
                     strerror(errno));
            break;
        }
        if (rc == -2) {
            snprintf(err, errlen, "reserved names file '%.200s', line %ld: a NUL byte", path,
                     line_no);
            break;
        }
        if (rc == -1) {
            snprintf(err, errlen, "reserved names file '%.200s', line %ld: too long", path,
                     line_no);
            break;
        }
        name = trim(buf);
        if (name[0] == '\0') {
            continue;
        }
        if (account_username_fold(name, folded) == NULL) {
            snprintf(err, errlen,
                     "reserved names file '%.200s', line %ld: '%.40s' is not a username (3 to 32 "
                     "characters a-z, 0-9, _, . and -, starting with a letter)",
                     path, line_no, name);
            rc = -1;
            break;
        }
        if (*n >= max) {
            snprintf(err, errlen, "reserved names file '%.200s': more than %d names", path, max);
            rc = -1;
            break;
        }
        memcpy(out[(*n)++], folded, strlen(folded) + 1);
    }
    fclose(f);
    if (rc != 0) {
        *n = 0;
        return -1;
    }
    return 0;
}
