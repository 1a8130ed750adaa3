/* Built with _GNU_SOURCE (server/CMakeLists.txt): pthread_getattr_np, gettid. */
#include "threadmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.tcache_count"
#define REEXEC_MARK "PARLEY_MALLOC_REEXEC"

/* Bytes kept below the local variable that marks threadmem_trim_stack's frame: the rest of that
 * (small) frame and madvise's return address, with room to spare. */
#define STACK_MARGIN 256

static int trim_enabled = 1;

static void disable_malloc_cache(char **argv)
{
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    const char *old = getenv("GLIBC_TUNABLES");
    char exe[4096];
    char *value;
    size_t len;
    ssize_t n;

    if (getenv(REEXEC_MARK) != NULL) {
        unsetenv(REEXEC_MARK); /* re-executed already (the loader may have dropped the tunable) */
        return;
    }
    /* Configured by the operator; or a preloaded library (valgrind, another allocator) that the
     * tunable would not reach and that a re-exec could leave behind. */
    if ((old != NULL && strstr(old, TUNABLE "=") != NULL) || getenv("LD_PRELOAD") != NULL) {
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (size_t)n >= sizeof exe - 1) {
        return;
    }
    exe[n] = '\0';
    len = (old != NULL ? strlen(old) + 1 : 0) + sizeof TUNABLE "=0";
    value = malloc(len);
    if (value == NULL) {
        return;
    }
    snprintf(value, len, "%s%s" TUNABLE "=0", old != NULL ? old : "", old != NULL ? ":" : "");
    if (setenv("GLIBC_TUNABLES", value, 1) == 0 && setenv(REEXEC_MARK, "1", 1) == 0) {
        execv(exe, argv);
    }
    /* exec failed: carry on as we are. */
    free(value);
    unsetenv(REEXEC_MARK);
#else
    (void)argv;
#endif
}

void threadmem_init(char **argv)
{
    const char *trim = getenv("PARLEY_STACK_TRIM");

    trim_enabled = trim == NULL || strcmp(trim, "0") != 0;
    disable_malloc_cache(argv);
}

/* Lowest usable address of this thread's stack (above its guard page), or NULL on the main
 * thread or when unknown. */
static _Thread_local char *stack_low; /* lowest address of this thread's stack, or NULL */
static _Thread_local uintptr_t stack_high; /* one past its highest address */
static _Thread_local int stack_known;

/* Not inlined: its pthread_attr_t must not widen threadmem_trim_stack's frame. */
__attribute__((noinline)) static void learn_stack(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;

    stack_known = 1;
    if (getpid() == gettid()) {
        return; /* the main thread's stack grows on demand; leave it alone */
    }
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        return;
    }
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && size > 0) {
        stack_low = addr;
        stack_high = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

void threadmem_trim_stack(void)
{
    volatile char here = 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t low, top;

    if (!trim_enabled) {
        return;
    }
    if (!stack_known) {
        learn_stack();
    }
    if (stack_low == NULL) {
        return;
    }
    low = (uintptr_t)stack_low;
    top = ((uintptr_t)&here - STACK_MARGIN) & ~(page - 1);
    /* Only ever below the current frame and inside this thread's stack (a local on some other
     * stack, such as a sanitizer's fake stack, must not send madvise across the heap). */
    if (top > low && top < stack_high) {
        (void)madvise(stack_low, top - low, MADV_DONTNEED);
    }
}
