/* Server configuration from command-line flags and PARLEY_* environment variables. */
#ifndef PARLEY_SERVER_CONFIG_H
#define PARLEY_SERVER_CONFIG_H

#include "names.h"

#include <stddef.h>

#define CONFIG_PATH_MAX 4096
#define CONFIG_LISTEN_MAX 64
#define CONFIG_ORIGINS_MAX 8
#define CONFIG_ORIGIN_LEN 256
#define CONFIG_MAX_CONNECTIONS_DEFAULT 256
#define CONFIG_MAX_CONNECTIONS_LIMIT 19500
#define CONFIG_IO_THREADS_LIMIT 16 /* wsloop.h WSLOOP_THREADS_MAX */
#define CONFIG_IO_THREADS_DEFAULT_MAX 4 /* the default: one per 2 processors, at most this many */
#define CONFIG_STUN_MAX 4   /* --stun servers */
#define CONFIG_STUN_LEN 128 /* "stun:host:port", with its NUL */
#define CONFIG_TURN_MAX 4   /* --turn servers */
#define CONFIG_TURN_LEN 160 /* "turns:host:port?transport=tcp", with its NUL */
#define CONFIG_MAIL_TTL_DEFAULT 2592000 /* 30 days: mailbox.h MAIL_TTL_DEFAULT */
#define CONFIG_MAIL_TTL_LIMIT 31536000   /* 365 days: mailbox.h MAIL_TTL_MAX */
#define CONFIG_MAIL_BATCH_DEFAULT 512        /* mailbox.h MAIL_BATCH_DEFAULT */
#define CONFIG_MAIL_BATCH_LIMIT 4096         /* mailbox.h MAIL_BATCH_MAX */
#define CONFIG_MAIL_QUOTA_DEFAULT 5000       /* mailbox.h MAIL_QUOTA_COUNT */
#define CONFIG_MAIL_QUOTA_LIMIT 100000
#define CONFIG_MAIL_QUOTA_MIB_DEFAULT 32     /* mailbox.h MAIL_QUOTA_BYTES */
#define CONFIG_MAIL_QUOTA_MIB_LIMIT 4096
#define CONFIG_PER_ADDRESS_DEFAULT 64        /* WebSockets per client address */
#define CONFIG_HTTP_PER_ADDRESS_DEFAULT 32   /* HTTP connections per client address */
#define CONFIG_HTTP_PER_ADDRESS_LIMIT 128    /* main.c HTTP_THREADS */
#define CONFIG_DATABASE_LEN 1024 /* a postgres:// URL, with its NUL */
#define CONFIG_BUS_LEN 256       /* bus.h BUS_URL_MAX */

struct config {
    char listen[CONFIG_LISTEN_MAX]; /* "127.0.0.1:8080" or "[::1]:8080" (IP literal, port) */
    char host[CONFIG_LISTEN_MAX];   /* the address part, without brackets */
    int port;                       /* 0 asks the system for a free port */
    int ipv6;
    char data_dir[CONFIG_PATH_MAX];
    /* Where accounts, keys and mail are kept (--database): empty for SQLite in the data folder
     * (DATA/parley.db), else a postgres:// or postgresql:// URL (libpq's URI form; it may hold a
     * password, so it is never logged). */
    char database[CONFIG_DATABASE_LEN];
    /* The instance bus (--bus redis://HOST:PORT[/DB], bus.h): empty for a single instance. */
    char bus[CONFIG_BUS_LEN];
    char web_dir[CONFIG_PATH_MAX];
    int log_level;
    /* Allowed WebSocket origins (--origin, repeatable); none given means the defaults. */
    char origins[CONFIG_ORIGINS_MAX][CONFIG_ORIGIN_LEN];
    int n_origins;
    int max_connections; /* concurrent WebSocket connections */
    int io_threads;      /* event loops serving the WebSockets */
    int max_per_address;      /* WebSockets one client address (IPv4, IPv6 /64) may hold */
    int max_http_per_address; /* HTTP connections one client address may hold in the workers */
    char tls_cert[CONFIG_PATH_MAX]; /* PEM certificate chain (--tls-cert) */
    char tls_key[CONFIG_PATH_MAX];  /* PEM private key (--tls-key) */
    int self_signed;                /* --self-signed: generate into the data folder */
    /* STUN servers the pages use to find their public addresses (--stun, repeatable); none by
     * default, so that pages on a LAN contact nothing outside it. */
    char stun[CONFIG_STUN_MAX][CONFIG_STUN_LEN];
    int n_stun;
    /* TURN relays (--turn, repeatable) and the secret shared with them (--turn-secret-file,
     * coturn's static-auth-secret); credentials live turn_ttl seconds. */
    char turn[CONFIG_TURN_MAX][CONFIG_TURN_LEN];
    int n_turn;
    char turn_secret_file[CONFIG_PATH_MAX];
    int turn_ttl;
    int mail_ttl;   /* seconds the mailbox keeps an undelivered envelope */
    int mail_batch; /* envelopes per transaction at most (1: one flush each) */
    int mail_quota;     /* envelopes waiting for one recipient at most */
    int mail_quota_mib; /* and their MiB */
    /* Names refused at sign-up besides names.h's defaults (--reserved-names FILE), read and
     * checked when the configuration is loaded. */
    char reserved_file[CONFIG_PATH_MAX];
    char reserved[NAMES_RESERVED_MAX][NAMES_NAME_LEN];
    int n_reserved;
};

/* 1 when the server speaks TLS. */
#define CONFIG_TLS(cfg) ((cfg)->self_signed || (cfg)->tls_cert[0] != '\0')

enum config_result { CONFIG_OK = 0, CONFIG_EXIT_OK = 1, CONFIG_ERROR = -1 };

/*
 * Fills cfg from defaults, then the environment, then argv (flags win). On CONFIG_ERROR err holds
 * a one-line reason; CONFIG_EXIT_OK means --help or --version was printed.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Parses ADDR:PORT (IPv4 literal or [IPv6 literal]) into cfg; 0 or -1. */
int config_parse_listen(struct config *cfg, const char *value);

/* 1 when value is a valid origin: http(s)://host[:port], no path, no spaces, < 256 bytes. */
int config_origin_valid(const char *value);

/* 1 when value is a STUN URI (RFC 7064) this server hands out: stun:host[:port] or
 * stuns:host[:port], host a DNS name (dot-separated labels of 1..63 letters, digits and inner
 * hyphens), an IPv4 address or an IPv6 address in brackets, port 1..65535 without leading
 * zeros, less than CONFIG_STUN_LEN bytes. */
int config_stun_valid(const char *value);

/* 1 when value is a TURN URI (RFC 7065) this server hands out: turn:host[:port] or
 * turns:host[:port] (host as for STUN), optionally followed by ?transport=udp or ?transport=tcp
 * (turns: only tcp, the one Chromium speaks over TLS), less than CONFIG_TURN_LEN bytes. */
int config_turn_valid(const char *value);

/* 1 when value names a database this server opens: "sqlite" (the default, DATA/parley.db) or a
 * postgres:// or postgresql:// URL of printable ASCII without spaces, less than
 * CONFIG_DATABASE_LEN bytes. */
int config_database_valid(const char *value);

void config_usage(const char *prog);

#endif
