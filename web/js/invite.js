//# allFunctionsCalledOnLoad
// Invitation codes (docs/PROTOCOL.md section 17): a chat set up with no server, by two codes that
// people copy between them. The invite holds the inviter's identity key, an X3DH signed prekey and
// one-time prekey, and a WebRTC offer cut down to what ICE and DTLS need (ICE ufrag/pwd, the DTLS
// certificate's SHA-256 fingerprint, candidates packed); the reply holds the X3DH initial message
// and the answer's same fields. Each is signed by its author's identity key (a signed challenge,
// section 9, over the SHA-256 of the bytes before the signature), which binds the DTLS fingerprint
// to the identity: a code changed in transit is refused. Binary, version first, base64url text,
// read strictly (no trailing bytes, every length checked). Pure: no DOM, no network.
import * as core from '../core/parley.js';
import { concat, equalBytes, fromB64u, toB64u } from './encoding.js';
import { UserError } from './errors.js';

// Version 2: the reply's answer is passive, so the inviter starts the DTLS handshake (17.4).
export const INVITE_VERSION = 2;
export const KIND_INVITE = 1;
export const KIND_REPLY = 2;
export const INVITE_TTL_MS = 10 * 60 * 1000; // a code is good for 10 minutes
export const MAX_CODE_CHARS = 1000; // the longest code the encoder writes
export const MAX_CANDIDATES = 8;
export const INVITE_ROOM = 'parley-invite-v1'; // the signed challenge's room id, per kind
export const REPLY_ROOM = 'parley-invite-reply-v1';
// A code whose expiry is further ahead than this was not made by a clock close to ours.
const MAX_CLOCK_AHEAD_MS = INVITE_TTL_MS + 5 * 60 * 1000;
const UFRAG_RE = /^[A-Za-z0-9+/]{4,32}$/; // RFC 8839 ice-char
const PWD_RE = /^[A-Za-z0-9+/]{22,64}$/;
const MAX_PREKEY_MESSAGE = 512;

// Candidate flags: bits 0-1 the type, bits 2-3 the address form.
export const CAND_TYPES = ['host', 'srflx', 'prflx', 'relay'];
const FORM_IPV4 = 0;
const FORM_IPV6 = 1;
const FORM_MDNS = 2; // an mDNS name, UUID.local: the UUID's 16 bytes

/** A code that cannot be used; `reason` says which check refused it, the message is for people. */
export class InviteError extends UserError {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

export const MESSAGES = {
  damaged: 'This code is damaged or incomplete. Copy it again, all of it.',
  version: 'This code was made by a newer version of Parley. Reload the page to get the current version.',
  old: 'This code was made by an older version of Parley. Both of you: reload the page, then make a new invite.',
  kind: 'This is not the right kind of code here: paste an invite under "Paste invite", and a reply under "Reply code".',
  expired: 'This invite has expired: invites are good for 10 minutes. Ask for a new one.',
  used: 'This invite was already used. Ask for a new one.',
  unknown: 'This reply is not for an invite open on this device. Create a new invite and send it again.',
  clock: 'This invite says it was made in the future: check the date and time on both devices.',
  own: 'This is your own invite: send it to the person you want to chat with.',
  toolong: 'This code would be longer than 1,000 characters (too many network addresses).',
  noaddress: 'This device found no network address to offer for the chat.',
  lookalike: 'This code comes from a key whose short name is that of one of your contacts, but it is not their key, so it was refused. Ask the person for a new invite, and compare safety numbers.',
};

const fail = (reason) => {
  throw new InviteError(reason, MESSAGES[reason]);
};

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// ---- bytes ------------------------------------------------------------------------------------

class Writer {
  constructor() {
    this.parts = [];
  }

  u8(n) {
    this.parts.push(Uint8Array.of(n));
  }

  u16(n) {
    this.parts.push(Uint8Array.of(n >>> 8, n & 0xff));
  }

  u32(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.parts.push(b);
  }

  bytes(b, len = b.length) {
    if (b.length !== len) throw new TypeError(`expected ${len} bytes`);
    this.parts.push(b);
  }

  text(s) { // u8 length, ASCII
    this.u8(s.length);
    this.parts.push(Uint8Array.from(s, (c) => c.charCodeAt(0)));
  }

  done() {
    return concat(...this.parts);
  }
}

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.at = 0;
  }

  take(n) {
    if (this.at + n > this.b.length) fail('damaged');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8() {
    return this.take(1)[0];
  }

  u16() {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }

  u32() {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  text(re) {
    const s = String.fromCharCode(...this.take(this.u8()));
    if (!re.test(s)) fail('damaged');
    return s;
  }

  end() {
    if (this.at !== this.b.length) fail('damaged');
  }
}

// ---- addresses ------------------------------------------------------------------------------

function ipv4Bytes(s) {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) < 256)) return null;
  return Uint8Array.from(parts.map(Number));
}

function ipv6Bytes(s) {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words = [];
  const push = (list) => {
    for (let i = 0; i < list.length; i += 1) {
      const g = list[i];
      if (i === list.length - 1 && g.includes('.')) { // an embedded IPv4 address
        const v4 = ipv4Bytes(g);
        if (!v4) return false;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  const w = [];
  if (!push(head)) return null;
  w.push(...words.splice(0));
  if (!push(tail)) return null;
  const t = words.splice(0);
  const fill = 8 - w.length - t.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...w, ...new Array(fill).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((x, i) => {
    out[2 * i] = x >>> 8;
    out[2 * i + 1] = x & 0xff;
  });
  return out;
}

function ipv6Text(b) {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] << 8) | b[i + 1]).toString(16));
  return words.join(':'); // the full form: SDP takes it as it is
}

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const UUID_LOCAL_RE = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\.local$/;

function mdnsBytes(s) {
  const m = UUID_LOCAL_RE.exec(s);
  if (!m) return null;
  return Uint8Array.from(m.slice(1).join('').match(/../g).map((x) => parseInt(x, 16)));
}

function mdnsText(b) {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}.local`;
}

/** A candidate {type, address, port} as packed bytes; null when it cannot be packed. */
export function packCandidate({ type, address, port }) {
  const t = CAND_TYPES.indexOf(type);
  if (t < 0 || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  let form;
  let addr = ipv4Bytes(address);
  if (addr) form = FORM_IPV4;
  else if ((addr = ipv6Bytes(address))) form = FORM_IPV6;
  else if ((addr = mdnsBytes(address))) form = FORM_MDNS;
  else return null;
  return concat(Uint8Array.of((form << 2) | t), addr, Uint8Array.of(port >>> 8, port & 0xff));
}

function readCandidate(r) {
  const flags = r.u8();
  if (flags > 0x0b) fail('damaged');
  const form = flags >>> 2;
  const type = CAND_TYPES[flags & 3];
  let address;
  if (form === FORM_IPV4) address = [...r.take(4)].join('.');
  else if (form === FORM_IPV6) address = ipv6Text(r.take(16));
  else address = mdnsText(r.take(16));
  const port = r.u16();
  if (port === 0) fail('damaged');
  return { type, address, port };
}

// ---- the ICE and DTLS part -------------------------------------------------------------------

function writeIce(w, ice) {
  if (!UFRAG_RE.test(ice.ufrag) || !PWD_RE.test(ice.pwd)) throw new TypeError('ICE ufrag or pwd out of range');
  w.text(ice.ufrag);
  w.text(ice.pwd);
  w.bytes(ice.fingerprint, 32);
  const packed = ice.candidates.map(packCandidate).filter(Boolean).slice(0, MAX_CANDIDATES);
  if (!packed.length) fail('noaddress');
  w.u8(packed.length);
  for (const c of packed) w.bytes(c);
}

function readIce(r) {
  const ufrag = r.text(UFRAG_RE);
  const pwd = r.text(PWD_RE);
  const fingerprint = r.take(32).slice();
  const count = r.u8();
  if (count < 1 || count > MAX_CANDIDATES) fail('damaged');
  const candidates = [];
  for (let i = 0; i < count; i += 1) candidates.push(readCandidate(r));
  return { ufrag, pwd, fingerprint, candidates };
}

// ---- signatures --------------------------------------------------------------------------------

// What is signed (docs/PROTOCOL.md 17.4): a signed challenge (section 9) with room id
// INVITE_ROOM or REPLY_ROOM, issuedAt the invite's expiry in milliseconds, and nonce the SHA-256
// of every byte of the code before the signature.
export async function signingInput(kind, body, expirySeconds) {
  return { room: kind === KIND_INVITE ? INVITE_ROOM : REPLY_ROOM, issuedAt: expirySeconds * 1000, nonce: await sha256(body) };
}

async function finish(kind, w, expiry, sign) {
  const body = w.done();
  const s = await signingInput(kind, body, expiry);
  const sig = await sign(s.room, s.issuedAt, s.nonce);
  const text = toB64u(concat(body, sig));
  if (text.length > MAX_CODE_CHARS) fail('toolong');
  return text;
}

async function checkSignature(kind, bytes, identityKey, expiry) {
  const body = bytes.subarray(0, bytes.length - 64);
  const sig = bytes.subarray(bytes.length - 64);
  const s = await signingInput(kind, body, expiry);
  let ok = false;
  try {
    ok = core.verifyChallenge(identityKey, s.room, s.issuedAt, s.nonce, sig);
  } catch {
    ok = false; // a key that is no point on the curve
  }
  if (!ok) fail('damaged');
}

// The code's bytes: base64url read strictly, at most MAX_CODE_CHARS, the version and kind checked.
function open(text, kind) {
  const clean = typeof text === 'string' ? text.replace(/\s+/g, '') : '';
  if (!clean || clean.length > MAX_CODE_CHARS) fail('damaged');
  let bytes;
  try {
    bytes = fromB64u(clean);
  } catch {
    fail('damaged');
  }
  if (bytes.length < 2 + 64) fail('damaged');
  if (bytes[0] !== INVITE_VERSION) fail(bytes[0] > INVITE_VERSION ? 'version' : bytes[0] === 1 ? 'old' : 'damaged');
  if (bytes[1] !== kind) fail(bytes[1] === KIND_INVITE || bytes[1] === KIND_REPLY ? 'kind' : 'damaged');
  return bytes;
}

// ---- invite -------------------------------------------------------------------------------------

/**
 * The invite code (text) for: expiry (seconds since the epoch), id (16 random bytes), bundle (the
 * core's bundle with exactly one one-time prekey), ice {ufrag, pwd, fingerprint (32 bytes),
 * candidates [{type, address, port}]}; sign(room, issuedAt, nonce) is the identity's signed
 * challenge (Account.signChallenge). Throws InviteError toolong / noaddress.
 */
export async function encodeInvite({ expiry, id, bundle, ice }, sign) {
  const b = parseBundle(bundle);
  const w = new Writer();
  w.u8(INVITE_VERSION);
  w.u8(KIND_INVITE);
  w.u32(expiry);
  w.bytes(id, 16);
  w.bytes(b.identityKey, 32);
  w.u32(b.spkId);
  w.bytes(b.spk, 32);
  w.bytes(b.spkSig, 64);
  w.u32(b.opkId);
  w.bytes(b.opk, 32);
  writeIce(w, ice);
  return finish(KIND_INVITE, w, expiry, sign);
}

/**
 * Reads an invite code strictly and checks its signature (not its expiry: see checkFresh):
 * {expiry, id, identityKey, bundle (the core's format, one one-time prekey), ice}. Throws
 * InviteError.
 */
export async function decodeInvite(text) {
  const bytes = open(text, KIND_INVITE);
  const r = new Reader(bytes.subarray(0, bytes.length - 64));
  r.take(2);
  const expiry = r.u32();
  const id = r.take(16).slice();
  const identityKey = r.take(32).slice();
  const spkId = r.u32();
  const spk = r.take(32);
  const spkSig = r.take(64);
  const opkId = r.u32();
  const opk = r.take(32);
  if (spkId === 0 || opkId === 0) fail('damaged');
  const ice = readIce(r);
  r.end();
  await checkSignature(KIND_INVITE, bytes, identityKey, expiry);
  const bundle = concat(Uint8Array.of(1), identityKey, u32(spkId), spk, spkSig, Uint8Array.of(0, 1), u32(opkId), opk);
  return { expiry, id, identityKey, bundle, ice };
}

/** Refuses a code whose expiry has passed, or lies too far ahead of `now` (ms). */
export function checkFresh(expiry, now) {
  if (now >= expiry * 1000) fail('expired');
  if (expiry * 1000 - now > MAX_CLOCK_AHEAD_MS) fail('clock');
}

// ---- reply --------------------------------------------------------------------------------------

/**
 * The reply code for the invite {expiry, id}: message (the X3DH prekey message, whose sender is
 * the signing identity) and ice. Throws InviteError toolong / noaddress.
 */
export async function encodeReply({ expiry, id, message, ice }, sign) {
  if (message.length > MAX_PREKEY_MESSAGE) fail('toolong');
  const w = new Writer();
  w.u8(INVITE_VERSION);
  w.u8(KIND_REPLY);
  w.u32(expiry);
  w.bytes(id, 16);
  w.u16(message.length);
  w.bytes(message);
  writeIce(w, ice);
  return finish(KIND_REPLY, w, expiry, sign);
}

/**
 * Reads a reply code strictly and checks its signature by the identity its prekey message names:
 * {expiry, id, identityKey, message, ice}. Throws InviteError.
 */
export async function decodeReply(text) {
  const bytes = open(text, KIND_REPLY);
  const r = new Reader(bytes.subarray(0, bytes.length - 64));
  r.take(2);
  const expiry = r.u32();
  const id = r.take(16).slice();
  const len = r.u16();
  if (len > MAX_PREKEY_MESSAGE) fail('damaged');
  const message = r.take(len).slice();
  const ice = readIce(r);
  r.end();
  let identityKey;
  try {
    if (core.messageType(message) !== core.MESSAGE_PREKEY) fail('damaged');
    identityKey = core.messageSenderIdentity(message);
  } catch (e) {
    if (e instanceof InviteError) throw e;
    fail('damaged');
  }
  await checkSignature(KIND_REPLY, bytes, identityKey, expiry);
  return { expiry, id, identityKey, message, ice };
}

// ---- helpers ------------------------------------------------------------------------------------

function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** The fields of a core bundle with exactly one one-time prekey (section 3). */
export function parseBundle(bundle) {
  if (!(bundle instanceof Uint8Array) || bundle.length !== 1 + 32 + 4 + 32 + 64 + 2 + 36 || bundle[0] !== 1 ||
      bundle[133] !== 0 || bundle[134] !== 1) {
    throw new TypeError('a bundle with exactly one one-time prekey is needed');
  }
  const dv = new DataView(bundle.buffer, bundle.byteOffset, bundle.length);
  return {
    identityKey: bundle.subarray(1, 33),
    spkId: dv.getUint32(33),
    spk: bundle.subarray(37, 69),
    spkSig: bundle.subarray(69, 133),
    opkId: dv.getUint32(135),
    opk: bundle.subarray(139, 171),
  };
}

/** The code's invite id as text (a key for the stores of used ids). */
export const idText = (id) => hex(id);

export { equalBytes };
