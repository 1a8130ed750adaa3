#include "config.h"

#include "bus.h"
#include "log.h"
#include "turn.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_DATA "./parley-data"
#define DEFAULT_WEB "./web"

void config_usage(const char *prog)
{
    printf("Usage: %s [options]\n"
           "\n"
           "Parley server: serves the web app, keeps accounts and public keys, relays signaling.\n"
           "Every option can also be set by the environment variable shown; a flag wins.\n"
           "\n"
           "  --listen ADDR:PORT  address to listen on, an IP literal and a port; IPv6 in\n"
           "                      brackets, e.g. [::1]:8080; port 0 picks a free port\n"
           "                      (PARLEY_LISTEN, default " DEFAULT_LISTEN ")\n"
           "  --data DIR          data folder, created with mode 0700 if missing\n"
           "                      (PARLEY_DATA, default " DEFAULT_DATA ")\n"
           "  --database URL      where accounts, keys and mail are kept: sqlite (the\n"
           "                      default: DATA/parley.db) or a PostgreSQL URL,\n"
           "                      postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAMS], shared\n"
           "                      by every instance of a cluster (PARLEY_DATABASE)\n"
           "  --bus URL           the instance bus of a cluster, redis://HOST:PORT[/DB]:\n"
           "                      signaling reaches users connected to any instance that\n"
           "                      shares it and the database (PARLEY_BUS; default none)\n"
           "  --web DIR           folder of the web app to serve; must exist\n"
           "                      (PARLEY_WEB, default " DEFAULT_WEB ")\n"
           "  --log-level LEVEL   error, warn, info or debug (PARLEY_LOG_LEVEL, default info)\n"
           "  --origin ORIGIN     a page origin allowed to open the WebSocket, e.g.\n"
           "                      https://chat.example.org; repeatable (up to 8). Default:\n"
           "                      the listen origin http://ADDR:PORT, plus\n"
           "                      http://localhost:PORT when listening on 127.0.0.1\n"
           "                      (PARLEY_ORIGIN, one origin)\n"
           "  --max-connections N concurrent WebSocket connections, 1..19500; more are\n"
           "                      refused at once. Each takes an open file: the open-file\n"
           "                      limit (ulimit -Hn) must exceed N by 224\n"
           "                      (PARLEY_MAX_CONNECTIONS, default 256)\n"
           "  --max-per-address N WebSocket connections one client address (an IPv4 address,\n"
           "                      an IPv6 /64) may hold, 1..19500 (PARLEY_MAX_PER_ADDRESS,\n"
           "                      default 64); raise it for many users behind one NAT\n"
           "  --max-http-per-address N\n"
           "                      HTTP connections one client address may hold at once,\n"
           "                      1..128 (PARLEY_MAX_HTTP_PER_ADDRESS, default 32)\n"
           "  --io-threads N      threads that serve the WebSockets (event loops), 1..16\n"
           "                      (PARLEY_IO_THREADS, default one per 2 processors, 1..4)\n"
           "  --tls-cert FILE     serve HTTPS with this PEM certificate chain (PARLEY_TLS_CERT)\n"
           "  --tls-key FILE      and this PEM private key (PARLEY_TLS_KEY); both or neither\n"
           "  --self-signed       serve HTTPS with a self-signed certificate generated on\n"
           "                      first run into the data folder (PARLEY_SELF_SIGNED=1)\n"
           "  --stun URI          a STUN server the pages use to find their public address,\n"
           "                      e.g. stun:stun.example.org:3478, so that people behind\n"
           "                      different NATs can connect; repeatable (up to 4). Default:\n"
           "                      none (pages connect directly on the same network only)\n"
           "                      (PARLEY_STUN, one URI)\n"
           "  --turn URI          a TURN relay (coturn) for people whose networks cannot\n"
           "                      reach each other, e.g. turn:turn.example.org:3478 or\n"
           "                      turns:turn.example.org:5349?transport=tcp; repeatable (up\n"
           "                      to 4); needs --turn-secret-file (PARLEY_TURN, one URI)\n"
           "  --turn-secret-file FILE\n"
           "                      the secret shared with the relay (coturn's\n"
           "                      static-auth-secret), one line (PARLEY_TURN_SECRET_FILE)\n"
           "  --turn-ttl SECONDS  how long a relay credential handed to a page lives,\n"
           "                      60..86400 (PARLEY_TURN_TTL, default 3600)\n"
           "  --mail-ttl SECONDS  how long the mailbox keeps an envelope its recipient has\n"
           "                      not fetched, 1..31536000 (PARLEY_MAIL_TTL, default\n"
           "                      2592000: 30 days)\n"
           "  --mail-quota N      envelopes waiting for one recipient at most, 1..100000\n"
           "                      (PARLEY_MAIL_QUOTA, default 5000)\n"
           "  --mail-quota-mib N  MiB of envelopes waiting for one recipient at most, 1..4096\n"
           "                      (PARLEY_MAIL_QUOTA_MIB, default 32)\n"
           "  --mail-batch N      envelopes stored per transaction at most, 1..4096; 1 makes\n"
           "                      one disk flush per envelope (PARLEY_MAIL_BATCH, default 512)\n"
           "  --reserved-names FILE\n"
           "                      more usernames nobody may sign up with, nor with a\n"
           "                      look-alike of one: one per line, '#' starts a comment,\n"
           "                      up to 1024 (PARLEY_RESERVED_NAMES). Reserved always:\n"
           "                      admin, administrator, root, system, support, help,\n"
           "                      parley, security, moderator, staff, official, server,\n"
           "                      postmaster, abuse, noreply. Accounts that exist keep\n"
           "                      logging in\n"
           "  --help              print this help and exit\n"
           "  --version           print the version and exit\n",
           prog);
}

static int copy_value(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);

    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

int config_parse_listen(struct config *cfg, const char *value)
{
    const char *colon;
    const char *port_str;
    char host[CONFIG_LISTEN_MAX];
    unsigned char addr[16];
    size_t host_len;
    char *end;
    long port;

    if (strlen(value) >= CONFIG_LISTEN_MAX) {
        return -1;
    }
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':') {
            return -1;
        }
        host_len = (size_t)(close - value - 1);
        memcpy(host, value + 1, host_len);
        host[host_len] = '\0';
        port_str = close + 2;
        if (inet_pton(AF_INET6, host, addr) != 1) {
            return -1;
        }
        cfg->ipv6 = 1;
    } else {
        colon = strrchr(value, ':');
        if (colon == NULL) {
            return -1;
        }
        host_len = (size_t)(colon - value);
        memcpy(host, value, host_len);
        host[host_len] = '\0';
        port_str = colon + 1;
        if (inet_pton(AF_INET, host, addr) != 1) {
            return -1;
        }
        cfg->ipv6 = 0;
    }
    if (port_str[0] < '0' || port_str[0] > '9') {
        return -1;
    }
    port = strtol(port_str, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        return -1;
    }
    memcpy(cfg->host, host, host_len + 1);
    cfg->port = (int)port;
    snprintf(cfg->listen, sizeof cfg->listen, "%s", value);
    return 0;
}

int config_origin_valid(const char *value)
{
    const char *host;
    size_t len = strlen(value);

    if (len == 0 || len >= CONFIG_ORIGIN_LEN) {
        return 0;
    }
    if (strncmp(value, "http://", 7) == 0) {
        host = value + 7;
    } else if (strncmp(value, "https://", 8) == 0) {
        host = value + 8;
    } else {
        return 0;
    }
    if (*host == '\0') {
        return 0;
    }
    for (const char *p = host; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']')) {
            return 0;
        }
    }
    return 1;
}

/* A decimal count 1..max for option name; 0 or -1 with err set. */
static int parse_count(const char *name, const char *value, int max, int *out, char *err,
                       size_t errlen)
{
    char *end;
    long n = strtol(value, &end, 10);

    if (value[0] < '0' || value[0] > '9' || *end != '\0' || n < 1 || n > max) {
        snprintf(err, errlen, "invalid --%s '%.40s': expected 1..%d", name, value, max);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* 1 when host[0..len) is a DNS name: labels of 1..63 letters, digits and hyphens, not starting
 * or ending with a hyphen, separated by single dots, 253 bytes at most; one made only of digits
 * and dots must be an IPv4 address instead. */
static int stun_host_valid(const char *host, size_t len)
{
    size_t label = 0;
    int numeric = 1;

    if (len == 0 || len > 253) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-') {
            return 0;
        }
        if ((c == '-' && label == 0) || ++label > 63) {
            return 0;
        }
        if (!isdigit((unsigned char)c)) {
            numeric = 0;
        }
    }
    if (label == 0 || host[len - 1] == '-') {
        return 0;
    }
    if (numeric) {
        struct in_addr a4;
        char ip[INET_ADDRSTRLEN];

        if (len >= sizeof ip) {
            return 0;
        }
        memcpy(ip, host, len);
        ip[len] = '\0';
        return inet_pton(AF_INET, ip, &a4) == 1;
    }
    return 1;
}

/* host[:port] at p (after the scheme): the end of it, or NULL when it is not valid. */
static const char *ice_host_port(const char *p)
{
    if (*p == '[') {
        /* An IPv6 literal. */
        const char *end = strchr(p, ']');
        char ip[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        size_t len;

        if (end == NULL) {
            return NULL;
        }
        len = (size_t)(end - p - 1);
        if (len == 0 || len >= sizeof ip) {
            return NULL;
        }
        memcpy(ip, p + 1, len);
        ip[len] = '\0';
        if (inet_pton(AF_INET6, ip, &a6) != 1) {
            return NULL;
        }
        p = end + 1;
    } else {
        const char *end = p + strcspn(p, ":");
        if (!stun_host_valid(p, (size_t)(end - p))) {
            return NULL;
        }
        p = end;
    }
    if (*p == ':') {
        /* A port: 1..65535, decimal, no leading zero. */
        long port = 0;
        size_t digits = 0;

        p++;
        if (*p == '0') {
            return NULL;
        }
        while (isdigit((unsigned char)*p) && digits < 5) {
            port = port * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || port > 65535) {
            return NULL;
        }
    }
    return p;
}

int config_stun_valid(const char *value)
{
    const char *p;

    if (strlen(value) >= CONFIG_STUN_LEN) {
        return 0;
    }
    if (strncmp(value, "stun:", 5) == 0) {
        p = value + 5;
    } else if (strncmp(value, "stuns:", 6) == 0) {
        p = value + 6;
    } else {
        return 0;
    }
    p = ice_host_port(p);
    return p != NULL && *p == '\0';
}

int config_turn_valid(const char *value)
{
    const char *p;
    int tls;

    if (strlen(value) >= CONFIG_TURN_LEN) {
        return 0;
    }
    if (strncmp(value, "turn:", 5) == 0) {
        p = value + 5;
        tls = 0;
    } else if (strncmp(value, "turns:", 6) == 0) {
        p = value + 6;
        tls = 1;
    } else {
        return 0;
    }
    p = ice_host_port(p);
    if (p == NULL) {
        return 0;
    }
    if (*p == '\0') {
        return 1;
    }
    return strcmp(p, "?transport=tcp") == 0 || (!tls && strcmp(p, "?transport=udp") == 0);
}

int config_database_valid(const char *value)
{
    size_t len = strlen(value);
    size_t scheme;

    if (strcmp(value, "sqlite") == 0) {
        return 1;
    }
    if (strncmp(value, "postgres://", 11) == 0) {
        scheme = 11;
    } else if (strncmp(value, "postgresql://", 13) == 0) {
        scheme = 13;
    } else {
        return 0;
    }
    if (len >= CONFIG_DATABASE_LEN || len == scheme) {
        return 0;
    }
    for (size_t i = scheme; i < len; i++) {
        if (value[i] <= ' ' || value[i] > '~') {
            return 0;
        }
    }
    return 1;
}

static int apply(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    if (strcmp(name, "listen") == 0) {
        if (config_parse_listen(cfg, value) != 0) {
            snprintf(err, errlen,
                     "invalid listen address '%.80s': expected IPv4:PORT or [IPv6]:PORT", value);
            return -1;
        }
    } else if (strcmp(name, "data") == 0) {
        if (copy_value(cfg->data_dir, sizeof cfg->data_dir, value) != 0) {
            snprintf(err, errlen, "invalid data folder: empty or too long");
            return -1;
        }
    } else if (strcmp(name, "database") == 0) {
        if (!config_database_valid(value)) {
            /* The value may hold a password: it is not repeated. */
            snprintf(err, errlen,
                     "invalid --database: expected sqlite or postgres://USER@HOST[:PORT]/DB "
                     "(printable, no spaces, under %d bytes)",
                     CONFIG_DATABASE_LEN);
            return -1;
        }
        if (strcmp(value, "sqlite") == 0) {
            cfg->database[0] = '\0';
        } else {
            snprintf(cfg->database, sizeof cfg->database, "%s", value);
        }
    } else if (strcmp(name, "bus") == 0) {
        if (!bus_url_valid(value)) {
            snprintf(err, errlen,
                     "invalid --bus: expected redis://HOST:PORT[/DB] (HOST an address or a name, "
                     "PORT 1..65535, DB 0..15, under %d bytes)",
                     CONFIG_BUS_LEN);
            return -1;
        }
        snprintf(cfg->bus, sizeof cfg->bus, "%s", value);
    } else if (strcmp(name, "web") == 0) {
        if (copy_value(cfg->web_dir, sizeof cfg->web_dir, value) != 0) {
            snprintf(err, errlen, "invalid web folder: empty or too long");
            return -1;
        }
    } else if (strcmp(name, "log-level") == 0) {
        int level = log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen, "invalid log level '%.40s': use error, warn, info or debug",
                     value);
            return -1;
        }
        cfg->log_level = level;
    } else if (strcmp(name, "origin") == 0) {
        if (!config_origin_valid(value)) {
            snprintf(err, errlen,
                     "invalid origin '%.80s': expected http(s)://host[:port] in lower case, "
                     "without a path",
                     value);
            return -1;
        }
        if (cfg->n_origins >= CONFIG_ORIGINS_MAX) {
            snprintf(err, errlen, "too many origins (at most %d)", CONFIG_ORIGINS_MAX);
            return -1;
        }
        snprintf(cfg->origins[cfg->n_origins++], CONFIG_ORIGIN_LEN, "%s", value);
    } else if (strcmp(name, "tls-cert") == 0 || strcmp(name, "tls-key") == 0) {
        char *dst = name[4] == 'c' ? cfg->tls_cert : cfg->tls_key;
        if (copy_value(dst, CONFIG_PATH_MAX, value) != 0) {
            snprintf(err, errlen, "invalid --%s: empty or too long", name);
            return -1;
        }
    } else if (strcmp(name, "self-signed") == 0) {
        if (strcmp(value, "1") != 0 && strcmp(value, "yes") != 0) {
            snprintf(err, errlen, "--self-signed takes no value (PARLEY_SELF_SIGNED=1)");
            return -1;
        }
        cfg->self_signed = 1;
    } else if (strcmp(name, "stun") == 0) {
        if (!config_stun_valid(value)) {
            snprintf(err, errlen,
                     "invalid STUN server '%.80s': expected stun:host[:port] or stuns:host[:port]",
                     value);
            return -1;
        }
        if (cfg->n_stun >= CONFIG_STUN_MAX) {
            snprintf(err, errlen, "too many STUN servers (at most %d)", CONFIG_STUN_MAX);
            return -1;
        }
        snprintf(cfg->stun[cfg->n_stun++], CONFIG_STUN_LEN, "%s", value);
    } else if (strcmp(name, "turn") == 0) {
        if (!config_turn_valid(value)) {
            snprintf(err, errlen,
                     "invalid TURN server '%.80s': expected turn:host[:port][?transport=udp|tcp] "
                     "or turns:host[:port][?transport=tcp]",
                     value);
            return -1;
        }
        if (cfg->n_turn >= CONFIG_TURN_MAX) {
            snprintf(err, errlen, "too many TURN servers (at most %d)", CONFIG_TURN_MAX);
            return -1;
        }
        snprintf(cfg->turn[cfg->n_turn++], CONFIG_TURN_LEN, "%s", value);
    } else if (strcmp(name, "turn-secret-file") == 0) {
        if (copy_value(cfg->turn_secret_file, sizeof cfg->turn_secret_file, value) != 0) {
            snprintf(err, errlen, "invalid --turn-secret-file: empty or too long");
            return -1;
        }
    } else if (strcmp(name, "turn-ttl") == 0) {
        if (parse_count(name, value, TURN_TTL_MAX, &cfg->turn_ttl, err, errlen) != 0) {
            return -1;
        }
        if (cfg->turn_ttl < TURN_TTL_MIN) {
            snprintf(err, errlen, "--turn-ttl must be %d..%d seconds", TURN_TTL_MIN, TURN_TTL_MAX);
            return -1;
        }
    } else if (strcmp(name, "max-connections") == 0) {
        return parse_count(name, value, CONFIG_MAX_CONNECTIONS_LIMIT, &cfg->max_connections, err,
                           errlen);
    } else if (strcmp(name, "max-per-address") == 0) {
        return parse_count(name, value, CONFIG_MAX_CONNECTIONS_LIMIT, &cfg->max_per_address, err,
                           errlen);
    } else if (strcmp(name, "max-http-per-address") == 0) {
        return parse_count(name, value, CONFIG_HTTP_PER_ADDRESS_LIMIT, &cfg->max_http_per_address,
                           err, errlen);
    } else if (strcmp(name, "io-threads") == 0) {
        return parse_count(name, value, CONFIG_IO_THREADS_LIMIT, &cfg->io_threads, err, errlen);
    } else if (strcmp(name, "mail-ttl") == 0) {
        return parse_count(name, value, CONFIG_MAIL_TTL_LIMIT, &cfg->mail_ttl, err, errlen);
    } else if (strcmp(name, "mail-quota") == 0) {
        return parse_count(name, value, CONFIG_MAIL_QUOTA_LIMIT, &cfg->mail_quota, err, errlen);
    } else if (strcmp(name, "mail-quota-mib") == 0) {
        return parse_count(name, value, CONFIG_MAIL_QUOTA_MIB_LIMIT, &cfg->mail_quota_mib, err,
                           errlen);
    } else if (strcmp(name, "mail-batch") == 0) {
        return parse_count(name, value, CONFIG_MAIL_BATCH_LIMIT, &cfg->mail_batch, err, errlen);
    } else if (strcmp(name, "reserved-names") == 0) {
        if (copy_value(cfg->reserved_file, sizeof cfg->reserved_file, value) != 0) {
            snprintf(err, errlen, "invalid --reserved-names: empty or too long");
            return -1;
        }
        return names_read_file(value, cfg->reserved, NAMES_RESERVED_MAX, &cfg->n_reserved, err,
                               errlen);
    } else {
        snprintf(err, errlen, "unknown option --%.60s (see --help)", name);
        return -1;
    }
    return 0;
}

static const struct {
    const char *option;
    const char *env;
} env_names[] = {
    {"listen", "PARLEY_LISTEN"},
    {"data", "PARLEY_DATA"},
    {"database", "PARLEY_DATABASE"},
    {"bus", "PARLEY_BUS"},
    {"web", "PARLEY_WEB"},
    {"log-level", "PARLEY_LOG_LEVEL"},
    {"origin", "PARLEY_ORIGIN"},
    {"max-connections", "PARLEY_MAX_CONNECTIONS"},
    {"max-per-address", "PARLEY_MAX_PER_ADDRESS"},
    {"max-http-per-address", "PARLEY_MAX_HTTP_PER_ADDRESS"},
    {"io-threads", "PARLEY_IO_THREADS"},
    {"tls-cert", "PARLEY_TLS_CERT"},
    {"tls-key", "PARLEY_TLS_KEY"},
    {"self-signed", "PARLEY_SELF_SIGNED"},
    {"stun", "PARLEY_STUN"},
    {"turn", "PARLEY_TURN"},
    {"turn-secret-file", "PARLEY_TURN_SECRET_FILE"},
    {"turn-ttl", "PARLEY_TURN_TTL"},
    {"mail-ttl", "PARLEY_MAIL_TTL"},
    {"mail-quota", "PARLEY_MAIL_QUOTA"},
    {"mail-quota-mib", "PARLEY_MAIL_QUOTA_MIB"},
    {"mail-batch", "PARLEY_MAIL_BATCH"},
    {"reserved-names", "PARLEY_RESERVED_NAMES"},
};

static int is_known(const char *name)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        if (strcmp(name, env_names[i].option) == 0) {
            return 1;
        }
    }
    return 0;
}

enum config_result config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    (void)config_parse_listen(cfg, DEFAULT_LISTEN);
    (void)copy_value(cfg->data_dir, sizeof cfg->data_dir, DEFAULT_DATA);
    (void)copy_value(cfg->web_dir, sizeof cfg->web_dir, DEFAULT_WEB);
    cfg->log_level = LOG_INFO;
    cfg->max_connections = CONFIG_MAX_CONNECTIONS_DEFAULT;
    cfg->max_per_address = CONFIG_PER_ADDRESS_DEFAULT;
    cfg->max_http_per_address = CONFIG_HTTP_PER_ADDRESS_DEFAULT;
    cfg->mail_ttl = CONFIG_MAIL_TTL_DEFAULT;
    cfg->turn_ttl = TURN_TTL_DEFAULT;
    cfg->mail_batch = CONFIG_MAIL_BATCH_DEFAULT;
    cfg->mail_quota = CONFIG_MAIL_QUOTA_DEFAULT;
    cfg->mail_quota_mib = CONFIG_MAIL_QUOTA_MIB_DEFAULT;
    {
        /* Half the processors: the kernel's TCP work, about three quarters of a relayed
         * message's CPU, runs on the others (bench/server/README.md: on 2 cores one loop
         * relayed as fast as two, with a lower p99). */
        long half = sysconf(_SC_NPROCESSORS_ONLN) / 2;
        cfg->io_threads = half < 1                               ? 1
                          : half > CONFIG_IO_THREADS_DEFAULT_MAX ? CONFIG_IO_THREADS_DEFAULT_MAX
                                                                 : (int)half;
    }

    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        const char *value = getenv(env_names[i].env);
        if (value != NULL && value[0] != '\0' &&
            apply(cfg, env_names[i].option, value, err, errlen) != 0) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (from %s)", env_names[i].env);
            return CONFIG_ERROR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char name[32];
        const char *value;
        const char *eq;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(argv[0]);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--self-signed") == 0) {
            cfg->self_signed = 1;
            continue;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("parley-server %s\n", PARLEY_SERVER_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%.60s' (see --help)", arg);
            return CONFIG_ERROR;
        }
        eq = strchr(arg, '=');
        if (eq != NULL) {
            size_t n = (size_t)(eq - arg - 2);
            if (n >= sizeof name) {
                snprintf(err, errlen, "unknown option '%.60s' (see --help)", arg);
                return CONFIG_ERROR;
            }
            memcpy(name, arg + 2, n);
            name[n] = '\0';
            value = eq + 1;
        } else {
            if (strlen(arg + 2) >= sizeof name) {
                snprintf(err, errlen, "unknown option '%.60s' (see --help)", arg);
                return CONFIG_ERROR;
            }
            snprintf(name, sizeof name, "%s", arg + 2);
            if (!is_known(name)) {
                snprintf(err, errlen, "unknown option --%s (see --help)", name);
                return CONFIG_ERROR;
            }
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value (see --help)", name);
                return CONFIG_ERROR;
            }
            value = argv[++i];
        }
        if (apply(cfg, name, value, err, errlen) != 0) {
            return CONFIG_ERROR;
        }
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return CONFIG_ERROR;
    }
    if ((cfg->n_turn == 0) != (cfg->turn_secret_file[0] == '\0')) {
        snprintf(err, errlen, "--turn and --turn-secret-file go together");
        return CONFIG_ERROR;
    }
    if (cfg->self_signed && cfg->tls_cert[0] != '\0') {
        snprintf(err, errlen, "--self-signed and --tls-cert exclude each other");
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}
