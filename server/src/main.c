/* parley-server: entry point. Configuration, start-up checks, Civetweb, clean shutdown. */
#include "accounts.h"
#include "api.h"
#include "bus.h"
#include "config.h"
#include "cors.h"
#include "store.h"
#include "guard.h"
#include "http.h"
#include "devices.h"
#include "iceconfig.h"
#include "keys.h"
#include "log.h"
#include "mailbox.h"
#include "signaling.h"
#include "static_files.h"
#include "tls.h"
#include "turn.h"

#include <civetweb.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Civetweb's worker threads: HTTP requests and WebSocket upgrade requests. A thread is held by an
 * accepted connection until its request is read (headers and body together within
 * HTTP_REQUEST_TIMEOUT_MS: the scripts/deps.sh patch of pull_all) and then by an idle keep-alive
 * connection (HTTP_KEEP_ALIVE_MS), so the pool is sized well beyond what the requests
 * themselves need; idle threads cost a page or two of stack each. One client address holds at
 * most --max-http-per-address of them (guard.h), so that a few addresses sending slowly cannot
 * hold them all. */
#define HTTP_THREADS 128
#define HTTP_REQUEST_TIMEOUT_MS "5000"
#define HTTP_KEEP_ALIVE_MS "2000"
/* Open files besides the WebSockets and the worker threads' connections: the listening
 * sockets, the database and its WAL and shm files, jwt.key, TLS files, standard streams,
 * the queue of accepted sockets (Civetweb's connection_queue, 20), the event loops' epoll and
 * eventfd descriptors (2 each, up to 16 loops), with room to spare. */
#define FD_RESERVE 96

#define MIME_TYPES                                                                         \
    ".wasm=application/wasm,.js=text/javascript,.mjs=text/javascript,"                     \
    ".json=application/json,.svg=image/svg+xml,.webmanifest=application/manifest+json," \
    ".css=text/css,.html=text/html; charset=utf-8,.txt=text/plain; charset=utf-8"

static int log_civetweb_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_msg(LOG_WARN, "http: %s", message);
    return 1;
}

static int log_civetweb_access(const struct mg_connection *conn, const char *message)
{
    char line[1024];

    (void)conn;
    log_redact_names(message, line, sizeof line); /* no names of others in the log */
    log_msg(LOG_INFO, "access: %s", line);
    return 1;
}

/* A worker took a connection (Civetweb's init_connection): counted against its address, or
 * answered 503 and closed when the address holds its share already. */
static const char http_counted = 1;

static int http_connection_open(const struct mg_connection *conn, void **conn_data)
{
    const char *addr = mg_parley_remote_addr(conn);
    static const char body[] = "{\"error\":{\"code\":\"too_many_requests\",\"message\":\"this "
                               "address has too many requests in progress; retry in a few "
                               "seconds\"}}";
    char refusal[512];
    int n;

    if (guard_http_enter(addr) == 0) {
        *conn_data = (void *)&http_counted;
        return 0;
    }
    log_msg(LOG_WARN, "http: refused %s: too many connections from that address", addr);
    n = snprintf(refusal, sizeof refusal,
                 "HTTP/1.1 503 Service Unavailable\r\n"
                 "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nRetry-After: 5\r\nConnection: close\r\n\r\n%s",
                 sizeof body - 1, body);
    mg_parley_refuse((struct mg_connection *)conn, refusal,
                     n > 0 && (size_t)n < sizeof refusal ? (size_t)n : 0);
    return 0;
}

static void http_connection_close(const struct mg_connection *conn)
{
    if (mg_get_user_connection_data(conn) == &http_counted) {
        guard_http_leave(mg_parley_remote_addr(conn));
    }
}

/* mkdir -p with mode 0700 for the folders it creates. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[CONFIG_PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof buf) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
                return -1;
            }
            buf[i] = saved;
        }
    }
    return 0;
}

/* Raises the soft open-file limit to the hard limit; refuses a --max-connections that the hard
 * limit cannot hold (every connection is a socket). */
static int raise_fd_limit(int max_connections, char *err, size_t errlen)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)max_connections + HTTP_THREADS + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "cannot read the open-file limit: %s", strerror(errno));
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rl.rlim_max == RLIM_INFINITY || rl.rlim_cur < rl.rlim_max)) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = old;
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        snprintf(err, errlen,
                 "--max-connections %d needs %llu open files, but the open-file limit is %llu "
                 "(hard limit %llu, see ulimit -Hn): lower --max-connections to at most %lld or "
                 "raise the limit",
                 max_connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
                 (unsigned long long)rl.rlim_max,
                 (long long)rl.rlim_cur - HTTP_THREADS - FD_RESERVE);
        return -1;
    }
    return 0;
}

static int check_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Allowed WebSocket origins (--origin, else the listen origin and its localhost twin), then
 * the /ws handlers. */
static int start_signaling(struct mg_context *ctx, const struct config *cfg, int port)
{
    static char defaults[2][CONFIG_ORIGIN_LEN];
    const char *list[CONFIG_ORIGINS_MAX];
    int n = 0;
    struct mailbox_config mail;

    if (cfg->n_origins > 0) {
        for (int i = 0; i < cfg->n_origins; i++) {
            list[n++] = cfg->origins[i];
        }
    } else {
        const char *scheme = CONFIG_TLS(cfg) ? "https" : "http";
        snprintf(defaults[0], sizeof defaults[0], "%s://%s%s%s:%d", scheme, cfg->ipv6 ? "[" : "",
                 cfg->host, cfg->ipv6 ? "]" : "", port);
        list[n++] = defaults[0];
        if (strcmp(cfg->host, "127.0.0.1") == 0) {
            snprintf(defaults[1], sizeof defaults[1], "%s://localhost:%d", scheme, port);
            list[n++] = defaults[1];
        }
        /* Also the page's own Host on this port: on 0.0.0.0 or :: the server is reached under
         * addresses and names no list can hold (cors.c). */
        cors_same_host(port, CONFIG_TLS(cfg));
        log_msg(LOG_INFO, "WebSocket origin allowed: the page's own (Origin equal to the scheme and Host, on port %d)", port);
    }
    for (int i = 0; i < n; i++) {
        log_msg(LOG_INFO, "WebSocket origin allowed: %s", list[i]);
    }
    mail.ttl = cfg->mail_ttl;
    mail.batch = cfg->mail_batch;
    mail.quota = cfg->mail_quota;
    mail.quota_mib = cfg->mail_quota_mib;
    if (signaling_init(list, n, cfg->max_connections, cfg->io_threads, &mail) != 0) {
        return -1;
    }
    keys_set_identity_listener(signaling_identity_changed);
    keys_set_low_listener(signaling_prekeys_low);
    accounts_set_revoke_listener(signaling_revoked);
    accounts_set_delete_listener(signaling_deleted);
    {
        static const struct devices_hooks hooks = {signaling_devices_removed,
                                                   signaling_devices_changed,
                                                   signaling_device_connected};
        devices_set_hooks(&hooks);
    }
    if (cfg->bus[0] != '\0' && signaling_bus_start(cfg->bus) != 0) {
        fprintf(stderr, "parley-server: cannot start the instance bus\n");
        return -1;
    }
    signaling_register(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512] = "";
    char web_real[PATH_MAX];
    char error_text[256] = "";
    unsigned error_code = 0;
    struct mg_callbacks callbacks;
    struct mg_init_data init;
    struct mg_error_data error;
    struct mg_context *ctx;
    struct mg_server_port ports[4];
    sigset_t stop_signals;
    int nports, sig;
    const char *options[64]; /* name, value pairs and a NULL */
    char threads[16];
    char listen_opt[CONFIG_LISTEN_MAX + 2];
    size_t n = 0;

    switch (config_load(&cfg, argc, argv, err, sizeof err)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "parley-server: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    log_set_level((enum log_level)cfg.log_level);
    if (raise_fd_limit(cfg.max_connections, err, sizeof err) != 0) {
        fprintf(stderr, "parley-server: %s\n", err);
        return 1;
    }

    if (!check_dir(cfg.web_dir) || realpath(cfg.web_dir, web_real) == NULL) {
        fprintf(stderr,
                "parley-server: the web folder '%s' does not exist or is not a folder "
                "(build it with scripts/build.sh, or pass --web DIR)\n",
                cfg.web_dir);
        return 1;
    }
    if (make_dirs(cfg.data_dir, err, sizeof err) != 0 || !check_dir(cfg.data_dir)) {
        fprintf(stderr, "parley-server: the data folder '%s' cannot be used: %s\n", cfg.data_dir,
                err);
        return 1;
    }

    if (sodium_init() < 0) {
        fprintf(stderr, "parley-server: libsodium cannot be initialised\n");
        return 1;
    }
    if (store_open(cfg.database, cfg.data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "parley-server: %s\n", err);
        return 1;
    }
    if (cfg.self_signed) {
        char cert_path[CONFIG_PATH_MAX + 16];
        char key_path[CONFIG_PATH_MAX + 16];

        if (tls_self_signed(cfg.data_dir, cfg.host, cert_path, key_path, sizeof cert_path, err,
                            sizeof err) != 0) {
            fprintf(stderr, "parley-server: %s\n", err);
            store_shutdown();
            return 1;
        }
        tls_set_files(cert_path, key_path);
    } else if (CONFIG_TLS(&cfg)) {
        tls_set_files(cfg.tls_cert, cfg.tls_key);
    }
    accounts_set_reserved((const char(*)[NAMES_NAME_LEN])cfg.reserved, cfg.n_reserved);
    if (accounts_init(cfg.data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "parley-server: %s\n", err);
        store_shutdown();
        return 1;
    }
    if (keys_init() != 0) {
        fprintf(stderr, "parley-server: out of memory\n");
        accounts_shutdown();
        store_shutdown();
        return 1;
    }
    /* TURN relays: the shared secret is read now, so that a wrong file stops the start. */
    if ((cfg.n_turn > 0 && turn_init(cfg.turn_secret_file, cfg.data_dir, cfg.turn_ttl, err,
                                     sizeof err) != 0) ||
        iceconfig_init(&cfg) != 0) {
        fprintf(stderr, "parley-server: %s\n",
                cfg.n_turn > 0 && !turn_enabled() ? err : "out of memory");
        turn_shutdown();
        keys_shutdown();
        accounts_shutdown();
        store_shutdown();
        return 1;
    }

    /* Stop signals are taken synchronously by the main thread; workers inherit the mask. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_init_library(MG_FEATURES_WEBSOCKET | MG_FEATURES_IPV6 | MG_FEATURES_TLS |
                    MG_FEATURES_COMPRESSION);

    http_init(CONFIG_TLS(&cfg));
    cors_init(&cfg); /* the API answers pages of these origins (cors.c) */
    /* Civetweb marks a TLS port with a trailing 's'. */
    snprintf(listen_opt, sizeof listen_opt, "%s%s", cfg.listen, CONFIG_TLS(&cfg) ? "s" : "");
    options[n++] = "listening_ports";
    options[n++] = listen_opt;
    options[n++] = "document_root";
    options[n++] = web_real;
    options[n++] = "enable_directory_listing";
    options[n++] = "no";
    options[n++] = "index_files";
    options[n++] = "index.html";
    options[n++] = "extra_mime_types";
    options[n++] = MIME_TYPES;
    options[n++] = "additional_header";
    options[n++] = http_security_headers();
    options[n++] = "static_file_cache_control";
    options[n++] = "no-cache";
    options[n++] = "decode_url";
    options[n++] = "no";
    options[n++] = "enable_keep_alive";
    options[n++] = "yes";
    /* An idle keep-alive connection is closed after HTTP_KEEP_ALIVE_MS; responses announce a
     * shorter timeout (http.c: "Keep-Alive: timeout=1"), so that a client that honours it never
     * reuses a connection the server is closing at that moment (Node's fetch would otherwise fail
     * now and then; browsers retry such a request by themselves). */
    options[n++] = "keep_alive_timeout_ms";
    options[n++] = HTTP_KEEP_ALIVE_MS;
    options[n++] = "request_timeout_ms";
    options[n++] = HTTP_REQUEST_TIMEOUT_MS;
    /* Signaling is many small messages: without TCP_NODELAY, Nagle's algorithm and delayed
     * ACKs add about 40 ms to every relayed message. */
    /* Same origin only: no CORS headers, no automatic answers to CORS preflights (Civetweb's
     * defaults allow every origin). */
    options[n++] = "access_control_allow_origin";
    options[n++] = "";
    options[n++] = "access_control_allow_methods";
    options[n++] = "";
    options[n++] = "tcp_nodelay";
    options[n++] = "1";
    /* Each connection's buffer, allocated when its worker takes it: it holds the request line
     * and headers (bodies are read past it) and, on a WebSocket, the upgrade request followed by
     * incoming frames (a frame larger than what is left is read into its own allocation).
     * 8 KiB, like nginx's header buffers: a browser's request is under 1 KiB. */
    options[n++] = "max_request_size";
    options[n++] = "8192";
    options[n++] = "num_threads";
    /* A WebSocket holds a worker thread only for its upgrade request (then the event loops of
     * wsloop.c serve it), so the pool is sized for HTTP requests alone. */
    snprintf(threads, sizeof threads, "%d", HTTP_THREADS);
    options[n++] = threads;
    options[n] = NULL;

    {
        /* Unauthenticated WebSockets may take a quarter of the slots at most (at least 64):
         * the rest stay for users who have authenticated. */
        struct guard_limits limits;
        limits.ws_per_address = cfg.max_per_address;
        limits.ws_unauth_total = cfg.max_connections / 4 > 64 ? cfg.max_connections / 4 : 64;
        limits.http_per_address = cfg.max_http_per_address;
        if (guard_init(&limits) != 0) {
            fprintf(stderr, "parley-server: out of memory\n");
            iceconfig_shutdown();
            turn_shutdown();
            keys_shutdown();
            accounts_shutdown();
            store_shutdown();
            return 1;
        }
    }
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.log_message = log_civetweb_message;
    callbacks.log_access = log_civetweb_access;
    callbacks.http_error = static_http_error;
    callbacks.init_connection = http_connection_open;
    callbacks.connection_close = http_connection_close;
    if (CONFIG_TLS(&cfg)) {
        callbacks.init_ssl = tls_init_ssl;
    }

    memset(&init, 0, sizeof init);
    init.callbacks = &callbacks;
    init.configuration_options = options;
    memset(&error, 0, sizeof error);
    error.code = &error_code;
    error.text = error_text;
    error.text_buffer_size = sizeof error_text;

    ctx = mg_start2(&init, &error);
    if (ctx == NULL) {
        fprintf(stderr, "parley-server: cannot start on %s: %s\n", cfg.listen,
                error_text[0] != '\0' ? error_text : "unknown error");
        mg_exit_library();
        iceconfig_shutdown();
        turn_shutdown();
        accounts_shutdown();
        keys_shutdown();
        store_shutdown();
        return 1;
    }
    mg_set_request_handler(ctx, "/healthz$", http_healthz, NULL);
    mg_set_request_handler(ctx, "/api", api_dispatch, NULL);
    mg_set_request_handler(ctx, "/", static_guard, web_real);

    nports = mg_get_server_ports(ctx, (int)(sizeof ports / sizeof ports[0]), ports);
    if (nports < 1 || start_signaling(ctx, &cfg, ports[0].port) != 0) {
        fprintf(stderr, "parley-server: no listening port or no signaling\n");
        mg_stop(ctx);
        mg_exit_library();
        iceconfig_shutdown();
        turn_shutdown();
        accounts_shutdown();
        keys_shutdown();
        store_shutdown();
        return 1;
    }
    log_msg(LOG_INFO, "serving %s, data in %s", web_real, cfg.data_dir);
    printf("Parley is listening on %s://%s%s%s:%d/ (Ctrl-C stops it)\n",
           CONFIG_TLS(&cfg) ? "https" : "http", cfg.ipv6 ? "[" : "",
           cfg.host, cfg.ipv6 ? "]" : "", ports[0].port);
    fflush(stdout);

    while (sigwait(&stop_signals, &sig) != 0) {
    }
    log_msg(LOG_INFO, "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    signaling_close_all();
    mg_stop(ctx);
    bus_stop(); /* the others forget this instance's users at once (BYE) */
    signaling_shutdown();
    guard_shutdown();
    mg_exit_library();
    iceconfig_shutdown();
    turn_shutdown();
    accounts_shutdown();
    keys_shutdown();
    store_shutdown();
    log_msg(LOG_INFO, "stopped");
    return 0;
}
