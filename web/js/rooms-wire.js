// The web app's room payloads (docs/PROTOCOL.md 20.7) and their strict reader: the version `v`
// first (only 1 is known: any other refuses the payload whole), then the kind, then the fields:
// an unknown field, a missing one or a value out of range refuses the payload. No DOM, no storage.
import { RANDOM_ID_RE, USERNAME_RE, fromB64u, toB64u } from './encoding.js';

export const ROOM_WIRE_VERSION = 1;
export const ROOM_KINDS = new Set(['room', 'room-msg', 'room-leave', 'room-hello', 'room-proof']);
// The room check on a direct connection (20.7 "Direct connections", rooms-mesh.js): never
// transcript entries, never mailed, never acknowledged.
export const ROOM_CHECK_KINDS = new Set(['room-hello', 'room-proof']);
export const ROOM_NONCE_BYTES = 32;
export const ROOM_SIG_BYTES = 64;
export const MAX_ROOM_TEXT = 16384; // UTF-16 code units, as a chat message
export const ROOM_ID_RE = /^[0-9a-f]{32}$/; // the 16-byte room id, lowercase hex
const KEY_RE = /^[A-Za-z0-9_-]{43}$/; // a 32-byte key, base64url
const DESCRIPTOR_MIN = 157;
const DESCRIPTOR_MAX = 715;
const LEAVE_BYTES = 121;
const MAX_NAMES = 16;
// A code contact's name (invite-chat.js codeName, 17): "~" and the first 8 characters of its
// identity key in base64url. In `names` it must be the one of the key it names (20.7, 20.8).
export const CODE_NAME_RE = /^~[A-Za-z0-9_-]{8}$/;
const memberNameOk = (n) => typeof n === 'string' && (USERNAME_RE.test(n) || CODE_NAME_RE.test(n));

const FIELDS = {
  room: ['v', 't', 'id', 'd', 'names'],
  'room-msg': ['v', 't', 'id', 'ts', 'room', 'ver', 'text'],
  'room-leave': ['v', 't', 'id', 'room', 'leave'],
  'room-hello': ['v', 't', 'room', 'ver', 'nonce'],
  'room-proof': ['v', 't', 'room', 'ver', 'nonce', 'ts', 'sig'],
};

export class RoomPayloadError extends Error {}

function fail(why) {
  throw new RoomPayloadError(why);
}

function b64(v, min, max, what) {
  let bytes;
  try {
    bytes = fromB64u(v);
  } catch {
    fail(`bad ${what}`);
  }
  if (bytes.length < min || bytes.length > max) fail(`bad ${what}`);
  return bytes;
}

/** Whether a ratchet payload is one of the room kinds (read it with readRoomPayload). */
export function isRoomPayload(inner) {
  return !!inner && typeof inner.t === 'string' && ROOM_KINDS.has(inner.t);
}

/**
 * Reads a room payload: a fresh object {v, t, id, ...} with `d`, `leave`, `nonce` and `sig` as
 * bytes, or throws RoomPayloadError. The descriptor, the leave statement and the check's signature
 * are only shaped here; the core opens and judges them (section 20). room-hello and room-proof
 * carry no id.
 */
export function readRoomPayload(obj) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) fail('not an object');
  if (!Object.hasOwn(obj, 'v')) fail('missing v');
  if (obj.v !== ROOM_WIRE_VERSION) fail('unknown version');
  const spec = typeof obj.t === 'string' && Object.hasOwn(FIELDS, obj.t) ? FIELDS[obj.t] : null;
  if (!spec) fail('unknown kind');
  for (const k of Object.keys(obj)) if (!spec.includes(k)) fail(`unknown field ${k}`);
  for (const k of spec) if (!Object.hasOwn(obj, k)) fail(`missing ${k}`);
  const check = ROOM_CHECK_KINDS.has(obj.t);
  if (!check && (typeof obj.id !== 'string' || !RANDOM_ID_RE.test(obj.id))) fail('bad id');
  const out = check ? { v: obj.v, t: obj.t } : { v: obj.v, t: obj.t, id: obj.id };
  if (obj.t === 'room') {
    out.d = b64(obj.d, DESCRIPTOR_MIN, DESCRIPTOR_MAX, 'descriptor');
    out.names = readNames(obj.names, MAX_NAMES);
    if (!Object.keys(out.names).length) fail('bad names');
    return out;
  }
  if (typeof obj.room !== 'string' || !ROOM_ID_RE.test(obj.room)) fail('bad room');
  out.room = obj.room;
  if (obj.t === 'room-leave') {
    out.leave = b64(obj.leave, LEAVE_BYTES, LEAVE_BYTES, 'leave');
    return out;
  }
  if (check) {
    if (!Number.isSafeInteger(obj.ver) || obj.ver < 1) fail('bad ver');
    out.ver = obj.ver;
    out.nonce = b64(obj.nonce, ROOM_NONCE_BYTES, ROOM_NONCE_BYTES, 'nonce');
    if (obj.t === 'room-hello') return out;
    if (!Number.isSafeInteger(obj.ts) || obj.ts < 0) fail('bad ts');
    out.ts = obj.ts;
    out.sig = b64(obj.sig, ROOM_SIG_BYTES, ROOM_SIG_BYTES, 'sig');
    return out;
  }
  if (!Number.isSafeInteger(obj.ts) || obj.ts < 0) fail('bad ts');
  out.ts = obj.ts || 0;
  if (!Number.isSafeInteger(obj.ver) || obj.ver < 1) fail('bad ver');
  out.ver = obj.ver;
  if (typeof obj.text !== 'string' || obj.text.length < 1 || obj.text.length > MAX_ROOM_TEXT) fail('bad text');
  out.text = obj.text;
  return out;
}

/** The payload an own pairwise entry of a room kind travels as (rooms.js makes the entries). */
export function roomWirePayload(entry) {
  const r = entry.room;
  switch (r.t) {
    case 'room':
      return { v: ROOM_WIRE_VERSION, t: 'room', id: entry.id, d: r.d, names: r.names };
    case 'room-msg':
      return { v: ROOM_WIRE_VERSION, t: 'room-msg', id: entry.id, ts: entry.ts, room: r.room, ver: r.ver, text: r.text };
    case 'room-leave':
      return { v: ROOM_WIRE_VERSION, t: 'room-leave', id: entry.id, room: r.room, leave: r.leave };
    default:
      throw new Error('not a room entry');
  }
}

/** A room check payload (rooms-mesh.js): hello {room, ver, nonce} or proof {room, ver, nonce, ts, sig}, bytes as bytes. */
export function roomCheckPayload(t, fields) {
  const out = { v: ROOM_WIRE_VERSION, t, room: fields.room, ver: fields.ver, nonce: toB64u(fields.nonce) };
  if (t === 'room-proof') {
    out.ts = fields.ts;
    out.sig = toB64u(fields.sig);
  }
  return out;
}

/** Room ids travel and are stored as lowercase hex. */
export function roomHex(bytes) {
  return [...bytes].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// ---- the stored records (sealed in the vault, docs/PROTOCOL.md 20.7) ----------------------------

export const ROOMS_RECORD_VERSION = 1;
export const MAX_ROOMS = 64;
export const MAX_PAST = 15;
export const MAX_LOG = 1000;
const MAX_RECORD_NAMES = 64;
const STATUSES = new Set(['active', 'removed', 'left']);
const ROOM_FIELDS = ['d', 'past', 'names', 'status', 'gone', 'unread'];

function readNames(n, max) {
  if (!n || typeof n !== 'object' || Array.isArray(n)) fail('bad names');
  const keys = Object.keys(n);
  if (keys.length > max) fail('bad names');
  const out = {};
  for (const k of keys) {
    if (!KEY_RE.test(k)) fail('bad names');
    b64(k, 32, 32, 'names');
    if (typeof n[k] !== 'string' || !(USERNAME_RE.test(n[k]) || n[k] === `~${k.slice(0, 8)}`)) fail('bad names');
    out[k] = n[k];
  }
  return out;
}

/**
 * Reads the `rooms` record: {v: 1, rooms: {ID: {d, past, names, status, gone, unread}}} with the
 * descriptors as bytes, or throws RoomPayloadError (the version first; unknown fields refused).
 */
export function readRoomsRecord(rec) {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) fail('not an object');
  if (rec.v !== ROOMS_RECORD_VERSION) fail('unknown version');
  for (const k of Object.keys(rec)) if (k !== 'v' && k !== 'rooms') fail(`unknown field ${k}`);
  const rooms = rec.rooms;
  if (!rooms || typeof rooms !== 'object' || Array.isArray(rooms)) fail('bad rooms');
  const ids = Object.keys(rooms);
  if (ids.length > MAX_ROOMS) fail('too many rooms');
  const out = new Map();
  for (const id of ids) {
    if (!ROOM_ID_RE.test(id)) fail('bad room id');
    const r = rooms[id];
    if (!r || typeof r !== 'object' || Array.isArray(r)) fail('bad room');
    for (const k of Object.keys(r)) if (!ROOM_FIELDS.includes(k)) fail(`unknown field ${k}`);
    for (const k of ROOM_FIELDS) if (!Object.hasOwn(r, k)) fail(`missing ${k}`);
    if (!Array.isArray(r.past) || r.past.length > MAX_PAST) fail('bad past');
    if (!Array.isArray(r.gone) || r.gone.length > 16 || !r.gone.every((k) => typeof k === 'string' && KEY_RE.test(k))) fail('bad gone');
    if (!STATUSES.has(r.status)) fail('bad status');
    if (!Number.isSafeInteger(r.unread) || r.unread < 0) fail('bad unread');
    out.set(id, {
      d: b64(r.d, DESCRIPTOR_MIN, DESCRIPTOR_MAX, 'descriptor'),
      past: r.past.map((p) => b64(p, DESCRIPTOR_MIN, DESCRIPTOR_MAX, 'past descriptor')),
      names: readNames(r.names, MAX_RECORD_NAMES),
      status: r.status,
      gone: [...r.gone],
      unread: r.unread,
    });
  }
  return out;
}

/**
 * Reads a `room-log:ID` record: at most MAX_LOG entries {id, from ("me", "them" or "system"), ts,
 * text; for a message ver; for theirs by (the sender's username or code name); for an own one to
 * (usernames or code names)}.
 * Throws RoomPayloadError.
 */
export function readRoomLog(log) {
  if (!Array.isArray(log) || log.length > MAX_LOG) fail('bad log');
  return log.map((e) => {
    if (!e || typeof e !== 'object' || Array.isArray(e)) fail('bad entry');
    const system = e.from === 'system';
    const mine = e.from === 'me';
    if (!system && !mine && e.from !== 'them') fail('bad from');
    const allowed = system ? ['id', 'from', 'ts', 'text'] : mine ? ['id', 'from', 'ts', 'text', 'ver', 'to'] : ['id', 'from', 'by', 'ts', 'text', 'ver'];
    for (const k of Object.keys(e)) if (!allowed.includes(k)) fail(`unknown field ${k}`);
    for (const k of allowed) if (!Object.hasOwn(e, k)) fail(`missing ${k}`);
    if (typeof e.id !== 'string' || !RANDOM_ID_RE.test(e.id)) fail('bad id');
    if (e.from === 'them' && !memberNameOk(e.by)) fail('bad by');
    if (!Number.isSafeInteger(e.ts) || e.ts < 0) fail('bad ts');
    if (typeof e.text !== 'string' || e.text.length > MAX_ROOM_TEXT) fail('bad text');
    if (!system && (!Number.isSafeInteger(e.ver) || e.ver < 1)) fail('bad ver');
    if (mine && (!Array.isArray(e.to) || e.to.length > 15 || !e.to.every(memberNameOk))) fail('bad to');
    return { ...e, ...(mine ? { to: [...e.to] } : {}) };
  });
}
