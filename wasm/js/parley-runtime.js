//# allFunctionsCalledOnLoad
// The binding's runtime (parley.js re-exports its public part): the core's error codes and sizes,
// loading the module once (init), and the per-call memory discipline every wrapper uses: an
// arena zeroed and freed in `finally`, argument checks, C objects held as handles.
import createParleyCore from './parley-core.js';

export const ErrorCode = Object.freeze({
  ARGUMENT: -1,
  INIT: -2,
  AUTH: -3,
  WEAK_KEY: -4,
  TOO_LARGE: -5,
  NO_MEMORY: -6,
  BAD_SIGNATURE: -7,
  VERSION: -8,
  MALFORMED: -9,
  DUPLICATE: -10,
  LIMIT: -11,
  UNKNOWN_PREKEY: -12,
  STATE: -13,
  BUFFER: -14,
  NOT_ADMIN: -15,
  STALE: -16,
  OTHER_ROOM: -17,
  EXPIRED: -18,
  NOT_MEMBER: -19,
});

const CODE_NAMES = new Map(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

export class ParleyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
    this.codeName = CODE_NAMES.get(code) || 'UNKNOWN';
  }
}

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const CHALLENGE_NONCE_BYTES = 32;
export const PASSWORD_SALT_BYTES = 16;
export const MESSAGE_RATCHET = 1;
export const MESSAGE_PREKEY = 2;
/** A PQXDH initial message (protocol version 2): Session.inbound() answers it like MESSAGE_PREKEY. */
export const MESSAGE_PREKEY_PQ = 3;
/** A signed KEM prekey record: id(4, big-endian) || ML-KEM-1024 key(1568) || signature(64). */
export const KEM_PREKEY_BYTES = 1636;
export const KEM_UPLOAD_VERSION = 1;
export const MAX_KEM_PREKEYS = 100;
export const SEALED_MIN = 512;
export const SEALED_MAX = 65536;
export const SEALED_NAME_MAX = 64;
export const DEVICES_VERSION = 1;
export const MAX_DEVICES = 8;
export const DEVICE_ID_MAX = 0x7fffffff;
export const DEVICE_LABEL_MAX = 64;
export const DEVICES_MAX_BYTES = 622;
export const IDENTITY_TRANSFER_BYTES = 61;

let modulePromise = null;
let core = null;

/**
 * Loads the core. Memoised: every caller gets the same promise. Pass `{ wasmBinary }` to hand the
 * bytes over directly (Node); otherwise the module is fetched next to this file.
 */
export function init(options = {}) {
  if (!modulePromise) {
    modulePromise = createParleyCore(options).then((m) => {
      const rc = m._parley_init();
      if (rc !== 0) throw new ParleyError(rc, cString(m, m._parley_strerror(rc)));
      core = m;
      return m;
    });
    modulePromise.catch(() => { modulePromise = null; });
  }
  return modulePromise;
}

export function ready() {
  if (!core) throw new ParleyError(ErrorCode.INIT, 'the crypto core is not initialised: await init() first');
  return core;
}

export function cString(m, ptr) {
  const heap = m.HEAPU8;
  let end = ptr;
  while (heap[end] !== 0) end += 1;
  return new TextDecoder().decode(heap.subarray(ptr, end));
}

export function check(m, rc) {
  if (rc !== 0) throw new ParleyError(rc, cString(m, m._parley_strerror(rc)));
  return rc;
}

// A per-call arena: allocations are zero-filled on release and freed together.
class Arena {
  constructor(m) {
    this.m = m;
    this.blocks = [];
  }

  alloc(len) {
    const size = Math.max(len, 1);
    const ptr = this.m._malloc(size);
    if (ptr === 0) throw new ParleyError(ErrorCode.NO_MEMORY, 'out of memory');
    this.blocks.push([ptr, size]);
    return ptr;
  }

  input(bytes) {
    const ptr = this.alloc(bytes.length);
    this.m.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  // Reads from memory as it is now (a call may have grown memory and replaced HEAPU8).
  read(ptr, len) {
    return this.m.HEAPU8.slice(ptr, ptr + len);
  }

  u32(ptr) {
    return new DataView(this.m.HEAPU8.buffer).getUint32(ptr, true);
  }

  release() {
    for (const [ptr, len] of this.blocks) {
      this.m.HEAPU8.fill(0, ptr, ptr + len);
      this.m._free(ptr);
    }
    this.blocks = [];
  }
}

export function withArena(fn) {
  const m = ready();
  const arena = new Arena(m);
  try {
    return fn(m, arena);
  } finally {
    arena.release();
  }
}

export function bytes(name, value, len) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (len !== undefined && value.length !== len) {
    throw new TypeError(`${name} must be ${len} bytes, got ${value.length}`);
  }
  return value;
}

export function utf8(value) {
  return typeof value === 'string' ? new TextEncoder().encode(value) : bytes('value', value);
}

// The per-message path (encrypt, decrypt, AEAD): one heap block holds a 4-byte length slot, the
// inputs and the output; it is zero-filled and freed in `finally`. fn(m, ptrs, outPtr, lenPtr)
// gets the inputs' pointers in order; returns the output's first u32(lenPtr) bytes, or all
// `cap` bytes when fn does not write a length.
export function transform(inputs, cap, fn) {
  const m = ready();
  let size = 8 + cap;
  for (const input of inputs) size += input.length;
  const base = m._malloc(size);
  if (base === 0) throw new ParleyError(ErrorCode.NO_MEMORY, 'out of memory');
  try {
    const ptrs = [];
    let at = base + 8;
    for (const input of inputs) {
      m.HEAPU8.set(input, at);
      ptrs.push(at);
      at += input.length;
    }
    m.HEAPU32[base >>> 2] = cap;
    check(m, fn(m, ptrs, at, base));
    return m.HEAPU8.slice(at, at + m.HEAPU32[base >>> 2]);
  } finally {
    m.HEAPU8.fill(0, base, base + size);
    m._free(base);
  }
}

// Calls fn(outPtr, capPtr...) for a variable-size output of `size` bytes; returns the bytes.
export function sized(m, a, size, fn) {
  const out = a.alloc(size);
  const lenPtr = a.alloc(4);
  check(m, fn(out, size, lenPtr));
  return a.read(out, a.u32(lenPtr));
}

// Objects dropped without free() are freed (and wiped) by the core when collected.
const finalizer = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ fn, ptr }) => { if (core) core[fn](ptr); })
  : null;

export class Handle {
  #ptr;

  #freeFn;

  constructor(ptr, freeFn) {
    this.#ptr = ptr;
    this.#freeFn = freeFn;
    if (finalizer) finalizer.register(this, { fn: freeFn, ptr }, this);
  }

  get ptr() {
    if (this.#ptr === 0) throw new ParleyError(ErrorCode.STATE, `this ${this.constructor.name} was freed`);
    return this.#ptr;
  }

  /** Wipes and frees the C object; the handle is unusable afterwards. */
  free() {
    if (this.#ptr !== 0) {
      if (finalizer) finalizer.unregister(this);
      ready()[this.#freeFn](this.#ptr);
      this.#ptr = 0;
    }
  }
}

// Creates a handle from a C constructor that writes the new pointer to an out-parameter.
export function construct(Cls, freeFn, fn) {
  return withArena((m, a) => {
    const out = a.alloc(4);
    check(m, fn(m, a, out));
    return new Cls(a.u32(out), freeFn);
  });
}
