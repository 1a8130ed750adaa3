//# allFunctionsCalledOnLoad
// The formats of file transfers (docs/PROTOCOL.md 18.4-18.6): the ratchet payloads with their
// strict readers, the frames of the files data channel, names made safe to save under, and the
// picture types recognised from a file's first bytes.
import { RANDOM_ID_RE, fromB64u } from './encoding.js';

export const CHUNK_MIN = 4096;
export const CHUNK_MAX = 196608; // PARLEY_FILE_CHUNK_MAX
export const MAX_FILE_BYTES = 2 ** 41; // 2 TiB: far above what a browser stores, below 2^53
export const MAX_NAME = 255; // UTF-16 code units of a file name as offered
export const MAX_TYPE = 127;
const TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;
export const CANCEL_REASONS = new Set(['cancelled', 'damaged']);

export const FRAME_CHUNK = 1;
export const FRAME_STORED = 2;
export const FRAME_HEAD = 17; // kind (1) || file id (16)

const exactKeys = (o, keys) => {
  const k = Object.keys(o);
  return k.length === keys.length && keys.every((x) => Object.prototype.hasOwnProperty.call(o, x));
};
const uint = (v, max) => Number.isSafeInteger(v) && v >= 0 && v <= max;
const bytes32 = (s) => {
  try {
    return typeof s === 'string' && s.length === 43 ? fromB64u(s) : null;
  } catch {
    return null;
  }
};

/** The number of chunks of a file: max(1, ceil(size / chunk)). */
export function chunkCount(size, chunk) {
  return Math.max(1, Math.ceil(size / chunk));
}

/** The plaintext length of chunk `index`. */
export function chunkLength(size, chunk, index) {
  const n = chunkCount(size, chunk);
  return index < n - 1 ? chunk : size - (n - 1) * chunk;
}

/**
 * Reads a file offer {t:"file", id, name, size, type, chunk, key, sha256, ts} strictly: exactly
 * those keys, each in range. Returns {id, name, size, type, chunk, key, sha256, ts} (key and sha256
 * as bytes) or null.
 */
export function readOffer(o) {
  if (!o || o.t !== 'file' || !exactKeys(o, ['t', 'id', 'name', 'size', 'type', 'chunk', 'key', 'sha256', 'ts'])) return null;
  if (typeof o.id !== 'string' || !RANDOM_ID_RE.test(o.id)) return null;
  if (typeof o.name !== 'string' || o.name.length < 1 || o.name.length > MAX_NAME) return null;
  if (!uint(o.size, MAX_FILE_BYTES) || !uint(o.chunk, CHUNK_MAX) || o.chunk < CHUNK_MIN) return null;
  if (chunkCount(o.size, o.chunk) > 0xffffffff) return null;
  if (typeof o.type !== 'string' || o.type.length > MAX_TYPE || (o.type !== '' && !TYPE_RE.test(o.type))) return null;
  if (!Number.isSafeInteger(o.ts)) return null;
  const key = bytes32(o.key);
  const sha256 = bytes32(o.sha256);
  if (!key || key.length !== 32 || !sha256 || sha256.length !== 32) return null;
  return { id: o.id, name: o.name, size: o.size, type: o.type, chunk: o.chunk, key, sha256, ts: o.ts };
}

/**
 * Reads the other file payloads: {t:"file-get", id, from} (send from chunk `from`),
 * {t:"file-done", id} (received whole and checked), {t:"file-cancel", id, reason}. Null when
 * malformed.
 */
export function readControl(o) {
  if (!o || typeof o.id !== 'string' || !RANDOM_ID_RE.test(o.id)) return null;
  if (o.t === 'file-get' && exactKeys(o, ['t', 'id', 'from']) && uint(o.from, 0xffffffff)) return o;
  if (o.t === 'file-done' && exactKeys(o, ['t', 'id'])) return o;
  if (o.t === 'file-cancel' && exactKeys(o, ['t', 'id', 'reason']) && CANCEL_REASONS.has(o.reason)) return o;
  return null;
}

export const isFilePayload = (o) => !!o && typeof o.t === 'string' && /^file(-get|-done|-cancel)?$/.test(o.t);

export const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));

/** kind || id (16 bytes) || body */
export function frame(kind, idBytes, body) {
  const out = new Uint8Array(FRAME_HEAD + body.length);
  out[0] = kind;
  out.set(idBytes, 1);
  out.set(body, FRAME_HEAD);
  return out;
}

/** {kind, id (hex), body} of a frame, or null. */
export function readFrame(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < FRAME_HEAD) return null;
  const kind = bytes[0];
  if (kind !== FRAME_CHUNK && kind !== FRAME_STORED) return null;
  const body = bytes.subarray(FRAME_HEAD);
  if (kind === FRAME_STORED && body.length !== 4) return null;
  let id = '';
  for (let i = 1; i < FRAME_HEAD; i += 1) id += bytes[i].toString(16).padStart(2, '0');
  return { kind, id, body };
}

// Extensions that a browser or desktop may open as a page, a script or a program.
const ACTIVE_EXT = new Set(['html', 'htm', 'xhtml', 'xht', 'shtml', 'mht', 'mhtml', 'svg', 'svgz', 'xml',
  'xsl', 'js', 'mjs', 'jse', 'vbs', 'vbe', 'wsf', 'wsh', 'hta', 'exe', 'com', 'scr', 'pif', 'bat', 'cmd',
  'msi', 'msp', 'ps1', 'psm1', 'jar', 'lnk', 'url', 'reg', 'cpl', 'inf', 'desktop', 'sh', 'command', 'app',
  'dmg', 'pkg', 'deb', 'rpm', 'appimage', 'swf']);
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * A name safe to save a received file under: the last path part only; no control, format (bidi
 * overrides, zero-width) or reserved characters; no leading dots, no trailing dots or spaces;
 * at most 120 characters; and an extension that could run or render (html, svg, exe, ...) made
 * inert: "evil.html" becomes "evil_html.txt". Never empty.
 */
export function safeName(name) {
  let s = String(name ?? '').split(/[/\\]/).pop();
  s = s.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}<>:"|?*\u{FFFD}]/gu, '').normalize('NFC').replace(/\s+/gu, ' ');
  const trim = (t) => t.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
  s = trim(s);
  if (Array.from(s).length > 120) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 12 ? s.slice(dot) : '';
    s = trim(Array.from(s.slice(0, s.length - ext.length)).slice(0, 120 - ext.length).join('') + ext);
  }
  if (!s) return 'file';
  if (WINDOWS_RESERVED.test(s.split('.')[0])) s = `file_${s}`;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 ? s.slice(dot + 1).toLowerCase() : '';
  if (ACTIVE_EXT.has(ext)) s = `${s.slice(0, dot)}_${s.slice(dot + 1)}.txt`;
  return s;
}

export const MAX_PICTURE = 20 * 1000 * 1000;

/** The picture type of a file's first bytes (PNG, JPEG, GIF, WebP), else null. */
export function pictureType(head) {
  const b = head || new Uint8Array(0);
  const at = (i, list) => list.every((v, k) => b[i + k] === v);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (at(0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (at(0, [0x47, 0x49, 0x46, 0x38])) return 'image/gif';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'image/webp';
  return null;
}

/** "1.5 MB" (decimal units). */
export function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u += 1;
  } while (v >= 1000 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
