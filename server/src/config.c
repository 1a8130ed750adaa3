#include "config.h"

#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
           "  --web DIR           folder of the web app to serve; must exist\n"
           "                      (PARLEY_WEB, default " DEFAULT_WEB ")\n"
           "  --log-level LEVEL   error, warn, info or debug (PARLEY_LOG_LEVEL, default info)\n"
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
    {"web", "PARLEY_WEB"},
    {"log-level", "PARLEY_LOG_LEVEL"},
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
    return CONFIG_OK;
}
