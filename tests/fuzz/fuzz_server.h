/*
 * What the server's fuzz targets share: CHECK, which names the property that failed before
 * aborting (libFuzzer then saves the input), and seed files: with PARLEY_FUZZ_SEEDS=DIR set, a
 * target's LLVMFuzzerInitialize writes real inputs (frames, messages, bodies, tokens) into DIR,
 * and tests/fuzz/run.sh starts the fuzzer from them.
 */
#ifndef PARLEY_FUZZ_SERVER_H
#define PARLEY_FUZZ_SERVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) ((cond) ? (void)0 : check_failed(__FILE__, __LINE__, #cond))

static inline void check_failed(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: property does not hold: %s\n", file, line, cond);
    abort();
}

/* The seed folder, or NULL when no seeds are asked for. */
static inline const char *seed_dir(void)
{
    return getenv("PARLEY_FUZZ_SEEDS");
}

/* Writes DIR/NAME-N (N counts the seeds written so far, so names stay unique). */
static inline void seed_write(const char *dir, const char *name, const void *data, size_t len)
{
    static unsigned count;
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s-%u", dir, name, count++);
    f = fopen(path, "wb");
    if (f == NULL) {
        abort();
    }
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        abort();
    }
}

/* A seed of one prefix byte (a target's mode or limit selector) followed by text. */
static inline void seed_write_text(const char *dir, const char *name, unsigned char prefix,
                                   const char *text)
{
    size_t len = strlen(text);
    unsigned char *buf = malloc(len + 1);

    if (buf == NULL) {
        abort();
    }
    buf[0] = prefix;
    memcpy(buf + 1, text, len);
    seed_write(dir, name, buf, len + 1);
    free(buf);
}

#endif
