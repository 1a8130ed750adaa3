// JavaScript binding of the Parley crypto core (parley-core.wasm).
//
// - init() loads and instantiates the module once; every other call awaits nothing.
// - Every call copies its inputs into wasm memory it allocates for that call alone, and zeroes and
//   frees all of it in `finally`, so no secret outlives the call in the module's heap.
// - Failures throw ParleyError, carrying the core's numeric code and its name.
import createParleyCore from './parley-core.js';

export class ParleyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
  }
}

let modulePromise = null;
let core = null;

/**
 * Loads the core. Memoised: every caller gets the same promise. Pass `{ wasmBinary }` to hand the
 * bytes over directly (Node), otherwise the module is fetched next to this file.
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

function ready() {
  if (!core) throw new ParleyError(-2, 'the crypto core is not initialised: await init() first');
  return core;
}

function cString(m, ptr) {
  const heap = m.HEAPU8;
  let end = ptr;
  while (heap[end] !== 0) end += 1;
  return new TextDecoder().decode(heap.subarray(ptr, end));
}

function check(m, rc) {
  if (rc !== 0) throw new ParleyError(rc, cString(m, m._parley_strerror(rc)));
}

// A per-call arena: allocations are zero-filled and freed together.
class Arena {
  constructor(m) {
    this.m = m;
    this.blocks = [];
  }

  alloc(len) {
    const ptr = this.m._malloc(Math.max(len, 1));
    if (ptr === 0) throw new ParleyError(-6, 'out of memory');
    this.blocks.push([ptr, Math.max(len, 1)]);
    return ptr;
  }

  input(bytes) {
    const ptr = this.alloc(bytes.length);
    this.m.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  read(ptr, len) {
    return this.m.HEAPU8.slice(ptr, ptr + len);
  }

  release() {
    for (const [ptr, len] of this.blocks) {
      this.m.HEAPU8.fill(0, ptr, ptr + len);
      this.m._free(ptr);
    }
    this.blocks = [];
  }
}

function withArena(fn) {
  const m = ready();
  const arena = new Arena(m);
  try {
    return fn(m, arena);
  } finally {
    arena.release();
  }
}

function requireBytes(name, value, len) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (len !== undefined && value.length !== len) {
    throw new TypeError(`${name} must be ${len} bytes, got ${value.length}`);
  }
}

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const X25519_BYTES = 32;

export function version() {
  const m = ready();
  return cString(m, m._parley_version());
}

export function strerror(code) {
  const m = ready();
  return cString(m, m._parley_strerror(code));
}

/** Runs the core's known-answer self-test; throws ParleyError on a failure. */
export function selftest() {
  const m = ready();
  check(m, m._parley_selftest());
}

export function randomBytes(len) {
  return withArena((m, a) => {
    const out = a.alloc(len);
    check(m, m._parley_random(out, len));
    return a.read(out, len);
  });
}

/** AES-256-GCM: returns ciphertext || 16-byte tag. */
export function aeadSeal(key, nonce, ad, plaintext) {
  requireBytes('key', key, AEAD_KEY_BYTES);
  requireBytes('nonce', nonce, AEAD_NONCE_BYTES);
  requireBytes('ad', ad);
  requireBytes('plaintext', plaintext);
  return withArena((m, a) => {
    const out = a.alloc(plaintext.length + AEAD_TAG_BYTES);
    check(m, m._parley_aead_seal(out, a.input(key), a.input(nonce), a.input(ad), ad.length,
      a.input(plaintext), plaintext.length));
    return a.read(out, plaintext.length + AEAD_TAG_BYTES);
  });
}

/** AES-256-GCM: verifies and decrypts ciphertext || tag; throws ParleyError (-3) if forged. */
export function aeadOpen(key, nonce, ad, sealed) {
  requireBytes('key', key, AEAD_KEY_BYTES);
  requireBytes('nonce', nonce, AEAD_NONCE_BYTES);
  requireBytes('ad', ad);
  requireBytes('sealed', sealed);
  if (sealed.length < AEAD_TAG_BYTES) throw new ParleyError(-3, 'authentication failed');
  return withArena((m, a) => {
    const len = sealed.length - AEAD_TAG_BYTES;
    const out = a.alloc(len);
    check(m, m._parley_aead_open(out, a.input(key), a.input(nonce), a.input(ad), ad.length,
      a.input(sealed), sealed.length));
    return a.read(out, len);
  });
}

/** A fresh X25519 key pair: { publicKey, privateKey }. */
export function x25519Keypair() {
  return withArena((m, a) => {
    const pub = a.alloc(X25519_BYTES);
    const priv = a.alloc(X25519_BYTES);
    check(m, m._parley_x25519_keypair(pub, priv));
    return { publicKey: a.read(pub, X25519_BYTES), privateKey: a.read(priv, X25519_BYTES) };
  });
}

/** X25519(privateKey, publicKey); throws ParleyError (-4) for a low-order public key. */
export function x25519(privateKey, publicKey) {
  requireBytes('privateKey', privateKey, X25519_BYTES);
  requireBytes('publicKey', publicKey, X25519_BYTES);
  return withArena((m, a) => {
    const out = a.alloc(X25519_BYTES);
    check(m, m._parley_x25519(out, a.input(privateKey), a.input(publicKey)));
    return a.read(out, X25519_BYTES);
  });
}
