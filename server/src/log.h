/* One-line logs to stderr with a UTC timestamp and a level. Never log secrets or message bodies. */
#ifndef PARLEY_SERVER_LOG_H
#define PARLEY_SERVER_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * Copies an access-log line into out (cap bytes, cut if longer) with the username in paths
 * that name one (/api/keys/NAME, /api/identity/NAME) replaced by "*": a run of such lines after
 * a log-in would rebuild a contact list. /api/keys/me/count is kept as it is.
 */
void log_redact_names(const char *line, char *out, size_t cap);

#endif
