/*
 * The core's configuration of mlkem-native 2.0.0 (built from ../shared/deps/mlkem-native-2.0.0,
 * unmodified; see CMakeLists.txt): ML-KEM-1024 only, portable C only (no assembly backends, in
 * wasm or natively), the deterministic API only (the core passes its randomness in), and
 * libsodium's sodium_memzero for every buffer mlkem-native wipes.
 */
#ifndef PARLEY_MLKEM_CONFIG_H
#define PARLEY_MLKEM_CONFIG_H

#define MLK_CONFIG_PARAMETER_SET 1024
#define MLK_CONFIG_NAMESPACE_PREFIX parley_mlk
#define MLK_CONFIG_NO_RANDOMIZED_API

#if !defined(__ASSEMBLER__)
#include <sodium.h>
#include <stddef.h>
#define MLK_CONFIG_CUSTOM_ZEROIZE
static inline void mlk_zeroize(void *ptr, size_t len)
{
    sodium_memzero(ptr, len);
}
#endif

#endif
