#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_LINE_MAX 2048

static enum log_level current = LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    current = level;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char stamp[32];
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level > current) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One line per event: a newline in a logged value must not forge a second entry. */
    for (char *p = line; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&lock);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000L, names[level], line);
    fflush(stderr);
    pthread_mutex_unlock(&lock);
}

void log_redact_names(const char *line, char *out, size_t cap)
{
    static const char *const prefixes[] = {"/api/keys/", "/api/identity/"};
    size_t o = 0;

    if (cap == 0) {
        return;
    }
    while (*line != '\0' && o + 1 < cap) {
        size_t plen = 0;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t n = strlen(prefixes[i]);
            if (strncmp(line, prefixes[i], n) == 0 && strncmp(line + n, "me/count", 8) != 0) {
                plen = n;
                break;
            }
        }
        if (plen == 0) {
            out[o++] = *line++;
            continue;
        }
        for (size_t i = 0; i < plen && o + 1 < cap; i++) {
            out[o++] = *line++;
        }
        if (o + 1 < cap) {
            out[o++] = '*';
        }
        while (*line != '\0' && *line != ' ' && *line != '"' && *line != '?') {
            line++; /* the name (or whatever stands there) */
        }
    }
    out[o] = '\0';
}
