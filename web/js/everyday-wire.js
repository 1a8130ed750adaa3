// The everyday payloads (docs/PROTOCOL.md 12.15) and their strict reader: an unknown field, a
// missing one or a value out of range refuses the payload whole. No DOM, no storage.
import { RANDOM_ID_RE, USERNAME_RE } from './encoding.js';

export const MAX_TEXT = 16384;
export const MAX_READ_IDS = 256;
/** Disappearing-message timers, seconds (0: off). */
export const TIMERS = [0, 30, 300, 3600, 86400, 604800, 2419200];
export const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
export const EVERYDAY_KINDS = new Set(['msg', 'timer', 'read', 'typing', 'edit', 'delete', 'react']);
/** What own devices get, with `peer` (`read`: the peer's messages read on that device). */
export const OWN_KINDS = new Set(['timer', 'read', 'edit', 'delete', 'react']);

const FIELDS = {
  msg: { required: ['t', 'id', 'ts', 'text'], optional: ['reply', 'exp'] },
  timer: { required: ['t', 'id', 'ts', 'secs'], optional: [] },
  read: { required: ['t', 'ids'], optional: [] },
  typing: { required: ['t', 'on'], optional: [] },
  edit: { required: ['t', 'id', 'ts', 'of', 'text'], optional: [] },
  delete: { required: ['t', 'id', 'ts', 'of'], optional: [] },
  react: { required: ['t', 'id', 'ts', 'of', 'emoji'], optional: [] },
};

export class PayloadError extends Error {}

function fail(why) {
  throw new PayloadError(why);
}

const isId = (v) => typeof v === 'string' && RANDOM_ID_RE.test(v);
const isText = (v) => typeof v === 'string' && v.length >= 1 && v.length <= MAX_TEXT;

/** A fresh object of the fields read, or PayloadError. own: from another device of ours. */
export function readEveryday(obj, { own = false } = {}) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) fail('not an object');
  const spec = typeof obj.t === 'string' && Object.hasOwn(FIELDS, obj.t) ? FIELDS[obj.t] : null;
  if (!spec || (own && !OWN_KINDS.has(obj.t))) fail('unknown kind');
  const allowed = new Set([...spec.required, ...spec.optional, ...(own ? ['peer'] : [])]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) fail(`unknown field ${k}`);
  for (const k of spec.required) if (!Object.hasOwn(obj, k)) fail(`missing ${k}`);
  const out = { t: obj.t };
  if (own) {
    if (typeof obj.peer !== 'string' || !USERNAME_RE.test(obj.peer)) fail('bad peer');
    out.peer = obj.peer;
  }
  if (spec.required.includes('id')) {
    if (!isId(obj.id)) fail('bad id');
    out.id = obj.id;
  }
  if (spec.required.includes('ts')) {
    if (!Number.isSafeInteger(obj.ts) || obj.ts < 0) fail('bad ts');
    out.ts = obj.ts || 0; // -0 reads as 0
  }
  if (spec.required.includes('of')) {
    if (!isId(obj.of)) fail('bad of');
    out.of = obj.of;
  }
  switch (obj.t) {
    case 'msg':
      if (!isText(obj.text)) fail('bad text');
      out.text = obj.text;
      if (Object.hasOwn(obj, 'reply')) {
        if (!isId(obj.reply)) fail('bad reply');
        out.reply = obj.reply;
      }
      if (Object.hasOwn(obj, 'exp')) {
        if (!TIMERS.includes(obj.exp) || obj.exp === 0) fail('bad exp');
        out.exp = obj.exp;
      }
      break;
    case 'timer':
      if (!TIMERS.includes(obj.secs)) fail('bad secs');
      out.secs = obj.secs || 0; // -0 reads as 0
      break;
    case 'read':
      if (!Array.isArray(obj.ids) || obj.ids.length < 1 || obj.ids.length > MAX_READ_IDS || !obj.ids.every(isId)) fail('bad ids');
      out.ids = [...obj.ids];
      break;
    case 'typing':
      if (typeof obj.on !== 'boolean') fail('bad on');
      out.on = obj.on;
      break;
    case 'edit':
      if (!isText(obj.text)) fail('bad text');
      out.text = obj.text;
      break;
    case 'react':
      if (obj.emoji !== '' && !EMOJI.includes(obj.emoji)) fail('bad emoji');
      out.emoji = obj.emoji;
      break;
    default:
      break;
  }
  return out;
}

/** The words for a timer: "30 seconds", "5 minutes", ... ("off" for 0). */
export function timerWords(secs) {
  return {
    0: 'off', 30: '30 seconds', 300: '5 minutes', 3600: '1 hour', 86400: '1 day', 604800: '1 week', 2419200: '4 weeks',
  }[secs] || `${secs} seconds`;
}

/** The transcript line for a timer change: by "You" or by the contact's name. */
export function timerLine(who, secs) {
  return secs === 0
    ? `${who} turned off disappearing messages.`
    : `${who} set disappearing messages to ${timerWords(secs)}.`;
}

/**
 * The payload an own transcript entry travels as: a chat message (with `reply` and `exp` when it
 * has them) or, for an entry with `kind`, that action (12.15). peer: for another device of this
 * account, the chat it belongs to.
 */
export function wirePayload(entry, peer = null) {
  const p = { t: entry.kind || 'msg', id: entry.id, ts: entry.ts };
  switch (entry.kind) {
    case 'timer':
      p.secs = entry.secs;
      break;
    case 'edit':
      p.of = entry.of;
      p.text = entry.body;
      break;
    case 'delete':
      p.of = entry.of;
      break;
    case 'react':
      p.of = entry.of;
      p.emoji = entry.emoji;
      break;
    default:
      p.text = entry.text;
      if (entry.reply) p.reply = entry.reply;
      if (entry.exp) p.exp = entry.exp;
  }
  if (peer && entry.kind) p.peer = peer;
  return p;
}
