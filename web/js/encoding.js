//# allFunctionsCalledOnLoad
// Byte and text helpers shared by the page's modules.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const utf8 = (text) => encoder.encode(text);
export const fromUtf8 = (bytes) => decoder.decode(bytes);

/** base64url without padding (RFC 4648 section 5), as the server's API uses. */
export function toB64u(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The bytes of base64url without padding, read strictly: one encoding per value (a final
 * character whose unused bits are not zero is refused, as is a length that leaves a single
 * character), so that two strings never read as the same bytes.
 */
export function fromB64u(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error('invalid base64url');
  }
  const tail = text.length % 4;
  if (tail && (B64U.indexOf(text[text.length - 1]) & (tail === 2 ? 0x0f : 0x03)) !== 0) {
    throw new Error('invalid base64url (not canonical)');
  }
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i += 1) out[i] = s.charCodeAt(i);
  return out;
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function u32be(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** A random identifier (128 bits, hex): message ids and link (connection) ids. */
export function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** What randomId() draws: the only form a message id or a link id is taken in. */
/** The JSON object in UTF-8 bytes (a ratchet payload), or null for anything else. */
export function parseObject(bytes) {
  try {
    const v = JSON.parse(fromUtf8(bytes));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export const RANDOM_ID_RE = /^[0-9a-f]{32}$/;

/** Usernames as the server accepts them (docs/API.md). */
export const USERNAME_RE = /^[a-z][a-z0-9_.-]{2,31}$/;
