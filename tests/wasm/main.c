/* Test runner: shared by the native and wasm builds of the core tests. */
#include "harness.h"
#include "parley.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int t_seeds = 1000;
static int passed;
static int failed;
static int skipped;
static int current_failed;
static const char *current_name;

void t_fail(const char *file, int line, const char *what)
{
    printf("    check failed at %s:%d: %s\n", file, line, what);
    current_failed = 1;
}

int t_current_failed(void)
{
    return current_failed;
}

void t_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

void t_run(const char *name, void (*fn)(void))
{
    current_name = name;
    current_failed = 0;
    fn();
    if (current_failed) {
        failed++;
        printf("FAIL %s\n", name);
    } else {
        passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
    current_name = NULL;
}

void t_skip(const char *name, const char *reason)
{
    skipped++;
    printf("SKIP %s: %s\n", name, reason);
}

long t_unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex), len = 0;
    const char *end = NULL;

    /* libsodium's decoder; the whole string must be hex and fit. */
    if (n % 2 != 0 || n / 2 > cap ||
        sodium_hex2bin(out, cap, hex, n, NULL, &len, &end) != 0 || end != hex + n) {
        return -1;
    }
    return (long)len;
}

uint8_t *t_unhex_alloc(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *buf = malloc(cap);
    long n;

    if (buf == NULL) {
        return NULL;
    }
    n = t_unhex(buf, cap, hex);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

static char vectors_dir[1024] = "../shared/vectors";

const char *t_vectors_dir(void)
{
    const char *dir = vectors_dir;
    struct stat st;

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return NULL;
    }
    return dir;
}

static cJSON *load_json(const char *path)
{
    FILE *f;
    long size;
    char *text;
    cJSON *json;

    f = fopen(path, "rb");
    if (f == NULL) {
        t_note("cannot open %s", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[size] = '\0';
    json = cJSON_Parse(text);
    free(text);
    if (json == NULL) {
        t_note("cannot parse %s", path);
    }
    return json;
}

cJSON *t_load_vectors(const char *relpath)
{
    char path[2048];
    const char *dir = t_vectors_dir();

    if (dir == NULL) {
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, relpath);
    return load_json(path);
}

cJSON *t_load_docs_vectors(const char *name)
{
    char path[2048];
    const char *dir = getenv("PARLEY_DOCS_VECTORS");

    snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "docs/vectors", name);
    return load_json(path);
}

const char *t_str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int main(int argc, char **argv)
{
    if (argc > 3 || (argc == 3 && (t_seeds = atoi(argv[2])) <= 0)) {
        printf("usage: %s [VECTORS_DIR [SEEDS]]  (defaults ../shared/vectors, 1000)\n", argv[0]);
        return 2;
    }
    if (argc >= 2) {
        snprintf(vectors_dir, sizeof vectors_dir, "%s", argv[1]);
    }
    if (parley_init() != PARLEY_OK) {
        printf("parley_init failed\n");
        return 1;
    }
    printf("parley core %s tests (%s)\n", parley_version(),
#ifdef __EMSCRIPTEN__
           "wasm"
#else
           "native"
#endif
    );
    if (t_vectors_dir() == NULL) {
        printf("WARNING: the shared vectors folder %s is absent (pass it as the first argument); "
               "vector tests are SKIPPED\n", vectors_dir);
    }
    suite_aead();
    suite_aes_simd();
    suite_x25519();
    suite_primitives();
    suite_session();
    suite_sealed();
    suite_devices();
    suite_mlkem();
    suite_pqxdh();
    suite_files();
    suite_rooms();
    printf("%d passed, %d failed", passed, failed);
    if (skipped != 0) {
        printf(", %d skipped", skipped);
    }
    printf("\n");
    return failed == 0 ? 0 : 1;
}
