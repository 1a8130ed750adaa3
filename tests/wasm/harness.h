/*
 * A small test harness shared by the native (ASan+UBSan, valgrind) and wasm (Node) builds.
 * A test is a void function; CHECK stops it at the first failed condition. main() prints one line
 * per test and ends with "N passed, N failed".
 */
#ifndef PARLEY_TEST_HARNESS_H
#define PARLEY_TEST_HARNESS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

void t_fail(const char *file, int line, const char *what);
int t_current_failed(void);

#define CHECK(cond)                                   \
    do {                                              \
        if (!(cond)) {                                \
            t_fail(__FILE__, __LINE__, #cond);        \
            return;                                   \
        }                                             \
    } while (0)

#define CHECK_RC(expr, want) CHECK((expr) == (want))

/* Seeds of the ratchet property test (argv[2]; 1000 unless a slow runner such as valgrind asks
 * for fewer). */
extern int t_seeds;

/* Runs one test and records its outcome. */
void t_run(const char *name, void (*fn)(void));
/* Records a skipped test loudly, with the reason. */
void t_skip(const char *name, const char *reason);
/* Prints a note under the current test (counts of vectors, for example). */
void t_note(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Decodes lowercase or uppercase hex; returns the byte count or -1. */
long t_unhex(uint8_t *out, size_t cap, const char *hex);
/* Decodes hex into a fresh malloc'd buffer (at least one byte); NULL on bad hex. */
uint8_t *t_unhex_alloc(const char *hex, size_t *len);

/* The shared vectors folder (argv[1], else ../shared/vectors); NULL if it is absent. */
const char *t_vectors_dir(void);
/* Parses a JSON file under the vectors folder; NULL (with a note) on failure. */
cJSON *t_load_vectors(const char *relpath);
/* Parses docs/vectors/NAME, the repository's own vectors (PARLEY_DOCS_VECTORS, else docs/vectors
 * under the working directory: the tests run from the repository root); NULL on failure. */
cJSON *t_load_docs_vectors(const char *name);
/* A string member of a JSON object, or NULL. */
const char *t_str(const cJSON *obj, const char *name);

/* Suites, one per file. */
void suite_aead(void);
void suite_aes_simd(void);
void suite_x25519(void);
void suite_primitives(void);
void suite_session(void);
void suite_sealed(void);
void suite_devices(void);
void suite_mlkem(void);
void suite_pqxdh(void);
void suite_files(void);
void suite_rooms(void);

#endif
