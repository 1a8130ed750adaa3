/*
 * Entry translation unit of the WebAssembly module (parley-core.wasm). The module has no main():
 * everything it exposes is the PARLEY_API surface of parley.h, linked from the parley_core library
 * and exported by the list that wasm/tools/gen-exports.mjs derives from the header.
 */
#include "parley.h"
