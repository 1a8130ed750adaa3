//# allFunctionsCalledOnLoad
// The binding of file chunks (docs/PROTOCOL.md section 18; parley.js re-exports it): sealing and
// opening one chunk under a file's key, and the running SHA-256 of a file's plaintext.
import {
  check, withArena, bytes, transform, construct, Handle, ready, ParleyError, ErrorCode,
} from './parley-runtime.js';

export const FILE_VERSION = 1;
export const FILE_KEY_BYTES = 32;
export const FILE_ID_BYTES = 16;
export const FILE_HASH_BYTES = 32;
export const FILE_HEADER_BYTES = 6;
export const FILE_OVERHEAD = 22;
export const FILE_CHUNK_MAX = 196608;

function position(index, last) {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new TypeError('index must be an integer from 0 to 2^32 - 1');
  }
  if (typeof last !== 'boolean') throw new TypeError('last must be a boolean');
}

const NO_HEAD = new Uint8Array(0);

// One heap block per call: a 4-byte length slot, the inputs, then `head` and the output right
// after it, so that head || output comes out in one slice (no copy into a frame afterwards). The
// length slot and the inputs (key, plaintext) are zero-filled and the block freed in `finally`;
// once sealed the output is ciphertext and the head public (the whole block is zero-filled when
// the call failed). Returns the slice.
function sealAfter(inputs, head, cap, fn) {
  const m = ready();
  let size = 8 + head.length + cap;
  for (const input of inputs) size += input.length;
  const base = m._malloc(size);
  if (base === 0) throw new ParleyError(ErrorCode.NO_MEMORY, 'out of memory');
  let at = base + 8;
  let sealed = false;
  try {
    const ptrs = [];
    for (const input of inputs) {
      m.HEAPU8.set(input, at);
      ptrs.push(at);
      at += input.length;
    }
    m.HEAPU8.set(head, at);
    m.HEAPU32[base >>> 2] = cap;
    check(m, fn(m, ptrs, at + head.length, base));
    sealed = true;
    return m.HEAPU8.slice(at, at + head.length + m.HEAPU32[base >>> 2]);
  } finally {
    m.HEAPU8.fill(0, base, sealed ? at : base + size);
    m._free(base);
  }
}

/**
 * Seals chunk `index` (final when `last`) of file `id` under `key`: header || ciphertext || tag,
 * preceded by `head` when given (a frame's head: the sealed chunk is written right after it).
 */
export function fileSealChunk(key, id, index, last, plaintext, head = NO_HEAD) {
  bytes('key', key, FILE_KEY_BYTES);
  bytes('id', id, FILE_ID_BYTES);
  bytes('plaintext', plaintext);
  bytes('head', head);
  position(index, last);
  const cap = plaintext.length + FILE_OVERHEAD;
  return sealAfter([key, id, plaintext], head, cap,
    (m, [k, d, p], out, lenPtr) => m._parley_file_seal(out, cap, lenPtr, k, d, index >>> 0,
      last ? 1 : 0, p, plaintext.length));
}

/**
 * Opens a sealed chunk as chunk `index` (final when `last`) of file `id`; returns its plaintext and,
 * with `hash` (a FileHash), absorbs it. Throws ParleyError: AUTH (forged or moved), MALFORMED
 * (another position, short), VERSION, TOO_LARGE.
 */
export function fileOpenChunk(key, id, index, last, sealed, hash = null) {
  bytes('key', key, FILE_KEY_BYTES);
  bytes('id', id, FILE_ID_BYTES);
  bytes('sealed', sealed);
  position(index, last);
  const cap = Math.max(0, sealed.length - FILE_OVERHEAD);
  return transform([key, id, sealed], cap,
    (m, [k, d, c], out, lenPtr) => m._parley_file_open(out, cap, lenPtr, k, d, index >>> 0,
      last ? 1 : 0, c, sealed.length, hash ? hash.ptr : 0));
}

/**
 * Checks a sealed chunk like fileOpenChunk without handing its plaintext out (it stays in the
 * core's scratch buffer, wiped); absorbs it into `hash` when given. Returns the plaintext length.
 */
export function fileCheckChunk(key, id, index, last, sealed, hash = null) {
  bytes('key', key, FILE_KEY_BYTES);
  bytes('id', id, FILE_ID_BYTES);
  bytes('sealed', sealed);
  position(index, last);
  return withArena((m, a) => {
    const lenPtr = a.alloc(4);
    check(m, m._parley_file_open(0, 0, lenPtr, a.input(key), a.input(id), index >>> 0,
      last ? 1 : 0, a.input(sealed), sealed.length, hash ? hash.ptr : 0));
    return a.u32(lenPtr);
  });
}

/** The running SHA-256 of a file's plaintext, held in the core. free() wipes it. */
export class FileHash extends Handle {
  static create() {
    return construct(FileHash, '_parley_file_hash_free', (m, a, out) => m._parley_file_hash_new(out));
  }

  update(data) {
    bytes('data', data);
    withArena((m, a) => check(m, m._parley_file_hash_update(this.ptr, a.input(data), data.length)));
  }

  /** The digest of everything absorbed so far (32 bytes); the hash stays usable. */
  digest() {
    return withArena((m, a) => {
      const out = a.alloc(FILE_HASH_BYTES);
      check(m, m._parley_file_hash_digest(this.ptr, out));
      return a.read(out, FILE_HASH_BYTES);
    });
  }

  /** True when the digest so far equals `expected` (compared in constant time in the core). */
  matches(expected) {
    bytes('expected', expected, FILE_HASH_BYTES);
    return withArena((m, a) => m._parley_file_hash_check(this.ptr, a.input(expected)) === 0);
  }
}

