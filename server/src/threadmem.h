/*
 * Per-thread memory. Civetweb gives every WebSocket a worker thread for its lifetime, so at
 * 19,000 connections whatever a thread keeps for itself is multiplied 19,000 times. Two things
 * did most of that (bench/server/README.md, "Where the memory goes"): glibc malloc's per-thread
 * cache of freed blocks, and stack pages touched once by a deep call and resident ever after.
 */
#ifndef PARLEY_SERVER_THREADMEM_H
#define PARLEY_SERVER_THREADMEM_H

/*
 * Call first thing in main. Reads PARLEY_STACK_TRIM (0 turns threadmem_trim_stack off, so that
 * bench/server/stack-depth.mjs can see how deep calls go). Under glibc's allocator (not ASan's, not a preloaded one), when
 * the malloc thread cache is not configured yet, sets GLIBC_TUNABLES=glibc.malloc.tcache_count=0
 * (keeping any other tunables) and re-executes the server with the same arguments: that cache
 * can only be sized by that variable, read when a process starts. Returns only when no re-exec
 * is needed or it failed (the server then runs with the cache, at a memory cost only).
 */
void threadmem_init(char **argv);

/*
 * Gives back to the kernel the pages of the calling thread's stack below the caller's frame
 * (madvise MADV_DONTNEED; they read as zeros when touched again). Those pages hold only dead
 * frames of calls that have returned. Call after a deep call chain that will not recur soon
 * (the WebSocket handshake, authentication, a message on the general cJSON path, an API request).
 * Does nothing on the main thread or when the stack bounds are unknown.
 */
void threadmem_trim_stack(void);

#endif
