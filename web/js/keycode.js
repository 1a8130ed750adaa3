// Key codes (docs/PROTOCOL.md 20.8): the text form of a 32-byte Ed25519 identity key, to read
// aloud or paste to a room's host. "PK1-" then the 32 key bytes and a 2-byte checksum (the first
// two bytes of SHA-256("parley-key-code-v1" || key)) in base32 (RFC 4648 alphabet, no padding:
// 55 characters, the last one's 3 low bits zero), in 11 groups of 5 joined by "-".
// The reader is strict: ASCII whitespace anywhere and letter case are ignored, nothing else is;
// the prefix names the version (only 1 is known); exactly 55 characters of the alphabet in the
// same 11 groups; the checksum must match. Every refusal is a KeyCodeError with a code.

export const KEY_BYTES = 32;
export const CHECK_BYTES = 2;
export const KEY_CODE_VERSION = 1;
export const CODE_CHARS = 55; // ceil((32 + 2) * 8 / 5)
export const GROUP = 5;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DOMAIN = new TextEncoder().encode('parley-key-code-v1');
export const KEY_CODE_MAX_INPUT = 512; // characters read at most (with whitespace)

export const KEY_CODE_DAMAGED = 'This key code is damaged or incomplete.';

export class KeyCodeError extends Error {
  constructor(code, message = KEY_CODE_DAMAGED) {
    super(message);
    this.code = code;
  }
}

async function checksum(key) {
  const data = new Uint8Array(DOMAIN.length + key.length);
  data.set(DOMAIN);
  data.set(key, DOMAIN.length);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data)).subarray(0, CHECK_BYTES);
}

function base32(bytes) {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** The key code of a 32-byte identity key. */
export async function keyCode(key) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new TypeError('a key code needs a 32-byte key');
  const all = new Uint8Array(KEY_BYTES + CHECK_BYTES);
  all.set(key);
  all.set(await checksum(key), KEY_BYTES);
  const body = base32(all);
  const groups = [];
  for (let i = 0; i < body.length; i += GROUP) groups.push(body.slice(i, i + GROUP));
  return `PK${KEY_CODE_VERSION}-${groups.join('-')}`;
}

/** The start of a key's code, to name an unknown member: "PK1-ABCDE-FGHIJ…" (the same as its code's first 15 characters). */
export function shortKeyCode(key) {
  const b = base32(key.subarray(0, 7));
  return `PK${KEY_CODE_VERSION}-${b.slice(0, GROUP)}-${b.slice(GROUP, 2 * GROUP)}…`;
}

/** Reads a key code strictly: the 32-byte key, or a KeyCodeError (code: FORMAT, VERSION, LENGTH, CHARACTER, PADDING, CHECKSUM). */
export async function readKeyCode(text) {
  if (typeof text !== 'string' || text.length > KEY_CODE_MAX_INPUT) throw new KeyCodeError('LENGTH');
  const s = text.replace(/[ \t\r\n\f]/g, '').toUpperCase();
  const head = /^PK([0-9]{1,3})-/.exec(s);
  if (!head) throw new KeyCodeError('FORMAT');
  if (head[1] !== String(KEY_CODE_VERSION)) {
    throw new KeyCodeError('VERSION', 'This key code is from a newer version of Parley (or damaged); it cannot be read here.');
  }
  const groups = s.slice(head[0].length).split('-');
  const body = groups.join('');
  if (body.length !== CODE_CHARS || groups.length !== CODE_CHARS / GROUP) throw new KeyCodeError('LENGTH');
  if (groups.some((g) => g.length !== GROUP)) throw new KeyCodeError('FORMAT');
  const out = new Uint8Array(KEY_BYTES + CHECK_BYTES);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const ch of body) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new KeyCodeError('CHARACTER');
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out[n] = (acc >>> (bits - 8)) & 255;
      n += 1;
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) throw new KeyCodeError('PADDING');
  const key = out.slice(0, KEY_BYTES);
  const want = await checksum(key);
  let diff = 0;
  for (let i = 0; i < CHECK_BYTES; i += 1) diff |= want[i] ^ out[KEY_BYTES + i];
  if (diff !== 0) throw new KeyCodeError('CHECKSUM');
  return key;
}
