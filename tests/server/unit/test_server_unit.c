/* Unit tests of the server's pure functions: the static path guard and configuration parsing. */
#include "config.h"
#include "static_files.h"
#include "unit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int unit_passed;
int unit_failed;

static void test_paths(void)
{
    static const char *const safe[] = {"/", "/index.html", "/core/parley-core.wasm", "/a/b/c.js",
                                       "/file.name.with.dots", "/x..y"};
    static const char *const unsafe[] = {"", "index.html", "/../etc/passwd", "/a/../../b", "/..",
                                         "/.", "/./index.html", "/.git/config", "/a/.hidden",
                                         "/..\\secret", "\\..\\secret", "/a\\b", "/a\001b",
                                         "/a\177b", "/%2e%2e/x", "/index.html%00.txt",
                                         "/a b", "/a?b", "/caf\xc3\xa9", "/a;b"};
    char longpath[STATIC_PATH_MAX + 2];

    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++) {
        EXPECT(static_path_is_safe(safe[i]) == 1);
    }
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
        EXPECT(static_path_is_safe(unsafe[i]) == 0);
    }
    EXPECT(static_path_is_safe(NULL) == 0);
    memset(longpath, 'a', sizeof longpath);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    EXPECT(static_path_is_safe(longpath) == 0);
    longpath[STATIC_PATH_MAX - 1] = '\0';
    EXPECT(static_path_is_safe(longpath) == 1);
}

static void test_listen(void)
{
    struct config cfg;

    memset(&cfg, 0, sizeof cfg);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1:8080") == 0 && cfg.port == 8080 && !cfg.ipv6 &&
           strcmp(cfg.host, "127.0.0.1") == 0);
    EXPECT(config_parse_listen(&cfg, "[::1]:0") == 0 && cfg.port == 0 && cfg.ipv6 &&
           strcmp(cfg.host, "::1") == 0);
    EXPECT(config_parse_listen(&cfg, "0.0.0.0:65535") == 0 && cfg.port == 65535);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1:65536") != 0);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1:-1") != 0);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1:") != 0);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1") != 0);
    EXPECT(config_parse_listen(&cfg, "localhost:80") != 0);
    EXPECT(config_parse_listen(&cfg, "::1:80") != 0);
    EXPECT(config_parse_listen(&cfg, "[::1]80") != 0);
    EXPECT(config_parse_listen(&cfg, "[nonsense]:80") != 0);
    EXPECT(config_parse_listen(&cfg, "127.0.0.1:80x") != 0);
    EXPECT(config_parse_listen(&cfg, "999.0.0.1:80") != 0);
}

static void test_flags(void)
{
    struct config cfg;
    char err[256];
    char *ok[] = {"parley-server", "--listen", "[::1]:9000", "--data=/tmp/d", "--web", "/tmp/w",
                  "--log-level", "debug"};
    char *unknown[] = {"parley-server", "--bogus"};
    char *missing[] = {"parley-server", "--web"};
    char *bad_level[] = {"parley-server", "--log-level=loud"};
    char *stray[] = {"parley-server", "web"};

    EXPECT(config_load(&cfg, 8, ok, err, sizeof err) == CONFIG_OK && cfg.port == 9000 &&
           strcmp(cfg.data_dir, "/tmp/d") == 0 && strcmp(cfg.web_dir, "/tmp/w") == 0 &&
           cfg.log_level == 3);
    EXPECT(config_load(&cfg, 2, unknown, err, sizeof err) == CONFIG_ERROR &&
           strstr(err, "unknown option") != NULL);
    EXPECT(config_load(&cfg, 2, missing, err, sizeof err) == CONFIG_ERROR &&
           strstr(err, "needs a value") != NULL);
    EXPECT(config_load(&cfg, 2, bad_level, err, sizeof err) == CONFIG_ERROR);
    EXPECT(config_load(&cfg, 2, stray, err, sizeof err) == CONFIG_ERROR);
}

static void test_origins(void)
{
    struct config cfg;
    char err[256];
    char *two[] = {"parley-server", "--origin", "https://chat.example.org", "--origin=http://[::1]:8080",
                   "--max-connections", "10"};
    char *bad_origin[] = {"parley-server", "--origin", "https://x.org/path"};
    char *bad_max[] = {"parley-server", "--max-connections", "0"};

    EXPECT(config_origin_valid("http://127.0.0.1:8080"));
    EXPECT(config_origin_valid("https://chat.example.org"));
    EXPECT(!config_origin_valid("ftp://x.org"));
    EXPECT(!config_origin_valid("http://"));
    EXPECT(!config_origin_valid("http://X.org"));
    EXPECT(!config_origin_valid("http://x.org/"));
    EXPECT(!config_origin_valid("http://x.org evil"));
    EXPECT(!config_origin_valid("null"));
    EXPECT(config_load(&cfg, 6, two, err, sizeof err) == CONFIG_OK && cfg.n_origins == 2 &&
           strcmp(cfg.origins[1], "http://[::1]:8080") == 0 && cfg.max_connections == 10);
    EXPECT(config_load(&cfg, 3, bad_origin, err, sizeof err) == CONFIG_ERROR);
    EXPECT(config_load(&cfg, 3, bad_max, err, sizeof err) == CONFIG_ERROR);
}

static void test_tls_flags(void)
{
    struct config cfg;
    char err[256];
    char *pair[] = {"parley-server", "--tls-cert", "/c.pem", "--tls-key=/k.pem"};
    char *half[] = {"parley-server", "--tls-key", "/k.pem"};
    char *self[] = {"parley-server", "--self-signed"};
    char *both[] = {"parley-server", "--self-signed", "--tls-cert", "/c", "--tls-key", "/k"};
    char *self_value[] = {"parley-server", "--self-signed=maybe"};

    EXPECT(config_load(&cfg, 4, pair, err, sizeof err) == CONFIG_OK && CONFIG_TLS(&cfg) &&
           strcmp(cfg.tls_cert, "/c.pem") == 0 && strcmp(cfg.tls_key, "/k.pem") == 0);
    EXPECT(config_load(&cfg, 3, half, err, sizeof err) == CONFIG_ERROR &&
           strstr(err, "go together") != NULL);
    EXPECT(config_load(&cfg, 2, self, err, sizeof err) == CONFIG_OK && cfg.self_signed &&
           CONFIG_TLS(&cfg));
    EXPECT(config_load(&cfg, 6, both, err, sizeof err) == CONFIG_ERROR);
    EXPECT(config_load(&cfg, 2, self_value, err, sizeof err) == CONFIG_ERROR);
    EXPECT(config_load(&cfg, 1, self, err, sizeof err) == CONFIG_OK && !CONFIG_TLS(&cfg) &&
           cfg.max_connections == CONFIG_MAX_CONNECTIONS_DEFAULT);
}

int main(void)
{
    if (sodium_init() < 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    test_paths();
    test_listen();
    test_flags();
    test_origins();
    test_tls_flags();
    test_jwt();
    test_usernames();
    test_names();
    test_ratelimit();
    test_b64();
    test_json_nul();
    test_relay();
    test_guard();
    test_cors();
    test_store();
    test_bus();
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed == 0 ? 0 : 1;
}
