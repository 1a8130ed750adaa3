//# allFunctionsCalledOnLoad
// Linking a device (docs/PROTOCOL.md 14.5): the provisioning channel, both ends. The new browser
// shows a code (its device id and an ephemeral X25519 key); a device of the account that holds the
// identity takes the code, and the two talk through the server's relay between own devices, under
// keys derived from the two ephemeral keys. The old device sends the identity (14.2), the contacts
// and their history; the new device is then named in a new signed list (14.1).
//
// No DOM here: the derivation, the code and the frames are imported by the tests under Node.
import * as core from '../core/parley.js';
import { ApiError, request } from './api.js';
import { concat, fromB64u, fromUtf8, toB64u, u32be, USERNAME_RE, utf8 } from './encoding.js';
import { UserError } from './errors.js';
import { publish } from './keys.js';
import { readList } from './devices.js';
import { MAX_TEXT, historyChunks } from './transcript.js';
import { BLOCKS_RECORD, blocksValue, parseBlocks } from './contacts.js';

export const LINK_VERSION = 1;
export const CODE_BYTES = 37; // u8 version || u32 device id || X25519 public key (32)
export const CODE_LIFE_MS = 10 * 60_000;
// Stream bytes per DATA frame: a message of about 55 KB on the wire. Under 64 KiB, not only under
// the server's 96 KiB: Chromium may send a longer message as several WebSocket frames (it keeps
// shorter ones whole when there is time between them), and the server refuses fragmented messages
// (close 1008). A 65,672-byte frame was seen split that way.
export const CHUNK_BYTES = 40 * 1024;
export const MAX_STREAM = 64 * 1024 * 1024; // contacts and history together, as JSON
const LABEL = utf8('parley-link-v1');
const DEVICE_ID_MAX = 0x7fffffff;
const FRAME_MIN_GAP_MS = 60; // at most ~16 frames a second each way: within the account's 50/s
const ACK_TIMEOUT_MS = 15_000;
const HELLO_TIMEOUT_MS = 15_000;
const MAX_BOX_CHARS = 90_000;
const STALL_MS = 60_000; // the new device gives up on a transfer that stops this long

// Frame kinds (the first byte of a sealed frame's plaintext).
export const KIND = Object.freeze({
  IDENTITY: 0x01, DATA: 0x02, DONE: 0x03, LISTED: 0x04, // old device to new
  HELLO: 0x11, ACK: 0x12, // new device to old
});
export const TO_NEW = 1; // direction byte in the associated data
export const TO_OLD = 2;

const BAD_CODE = 'That is not a link code. Copy the whole code shown on the new device, and try again.';

/** The code the new device shows: base64url(u8 1 || u32 device id || ephemeral public key). */
export function encodeCode(device, publicKey) {
  if (!Number.isSafeInteger(device) || device < 1 || device > DEVICE_ID_MAX || publicKey.length !== 32) {
    throw new Error('bad link code fields');
  }
  return toB64u(concat(new Uint8Array([LINK_VERSION]), u32be(device), publicKey));
}

/**
 * {device, publicKey} of a code as typed (spaces and line breaks are ignored); anything else but
 * exactly 37 bytes of version 1 in canonical base64url is refused with a UserError.
 */
export function parseCode(text) {
  const s = typeof text === 'string' ? text.replace(/\s+/g, '') : '';
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new UserError(BAD_CODE);
  let bytes;
  try {
    bytes = fromB64u(s);
  } catch {
    throw new UserError(BAD_CODE);
  }
  if (bytes.length >= 1 && bytes[0] !== LINK_VERSION) {
    throw new UserError('That code was made by another version of Parley. Update Parley on both devices and try again.');
  }
  if (bytes.length !== CODE_BYTES || toB64u(bytes) !== s) throw new UserError(BAD_CODE);
  const device = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  if (device < 1 || device > DEVICE_ID_MAX) throw new UserError(BAD_CODE);
  return { device, publicKey: bytes.slice(5) };
}

/**
 * The channel's keys, from X25519 of the two ephemeral keys: HKDF-SHA256 with salt = aPub || bPub
 * and info = "parley-link-v1" || u32 device, 104 bytes: toNew (32) || toOld (32) || identity (32)
 * || check (8). The check is shown as 12 digits on both screens.
 */
export function deriveLinkKeys(shared, aPub, bPub, device) {
  const okm = core.hkdf(shared, concat(aPub, bPub), concat(LABEL, u32be(device)), 104);
  const keys = {
    toNew: okm.slice(0, 32),
    toOld: okm.slice(32, 64),
    identity: okm.slice(64, 96),
    fingerprint: fingerprintDigits(okm.subarray(96, 104)),
  };
  okm.fill(0);
  return keys;
}

/** 12 decimal digits of 8 bytes (big-endian, modulo 10^12), zero-padded. */
export function fingerprintDigits(bytes8) {
  let n = 0n;
  for (const b of bytes8) n = (n << 8n) | BigInt(b);
  return (n % 1_000_000_000_000n).toString().padStart(12, '0');
}

export function wipeKeys(keys) {
  if (!keys) return;
  keys.toNew.fill(0);
  keys.toOld.fill(0);
  keys.identity.fill(0);
}

/** The associated data of a sealed frame: "parley-link-v1" || u8 direction || u32 device || u32 seq. */
export function frameAd(direction, device, seq) {
  return concat(LABEL, new Uint8Array([direction]), u32be(device), u32be(seq));
}

/** A sealed frame's box: base64url(nonce (12) || AES-256-GCM(key, nonce, ad, kind || body)). */
export function sealFrame(key, direction, device, seq, kind, body, nonce = core.randomBytes(12)) {
  const pt = concat(new Uint8Array([kind]), body);
  const box = toB64u(concat(nonce, core.aeadSeal(key, nonce, frameAd(direction, device, seq), pt)));
  pt.fill(0);
  return box;
}

/** {kind, body} of a box; throws when it is not base64url, too short, or fails its tag. */
export function openFrame(key, direction, device, seq, box) {
  if (typeof box !== 'string' || box.length > MAX_BOX_CHARS) throw new Error('bad box');
  const raw = fromB64u(box);
  if (raw.length < 12 + 16 + 1) throw new Error('short box');
  const pt = core.aeadOpen(key, raw.subarray(0, 12), frameAd(direction, device, seq), raw.subarray(12));
  return { kind: pt[0], body: pt.slice(1) };
}

/**
 * A relayed message of the channel, checked strictly: {type: "link", v: 1} with either step
 * "start" (key) or "abort", or a sealed frame (seq, box); plus what the relay adds. Null otherwise.
 */
export function parseWire(msg) {
  if (!msg || msg.type !== 'link' || msg.v !== LINK_VERSION) return null;
  const allowed = new Set(['type', 'v', 'to', 'toDevice', 'from', 'fromDevice', 'id']);
  if (msg.step === 'start') {
    if (!Object.keys(msg).every((k) => allowed.has(k) || k === 'step' || k === 'key')) return null;
    let key;
    try {
      key = fromB64u(msg.key);
    } catch {
      return null;
    }
    return key.length === 32 ? { step: 'start', key } : null;
  }
  if (msg.step === 'abort') return Object.keys(msg).every((k) => allowed.has(k) || k === 'step') ? { step: 'abort' } : null;
  if (msg.step !== undefined) return null;
  if (!Object.keys(msg).every((k) => allowed.has(k) || k === 'seq' || k === 'box')) return null;
  if (!Number.isSafeInteger(msg.seq) || msg.seq < 0 || msg.seq > 0xffffffff || typeof msg.box !== 'string') return null;
  return { seq: msg.seq, box: msg.box };
}

// ---- what is transferred ------------------------------------------------------------------

const CONTACT_FIELDS = ['name', 'status', 'identityKey', 'identityCounter', 'verified', 'deviceList', 'cap', 'since'];

/** The person-level fields of a contact that travel (no sessions, links, mail or repairs). */
export function transferableContact(name, c) {
  const out = {};
  for (const f of CONTACT_FIELDS) if (c[f] !== undefined) out[f] = c[f];
  if (out.name === undefined) out.name = name;
  // The signed list and its generation travel; the device ids kept beside them are read again.
  if (c.deviceList) out.deviceList = { list: c.deviceList.list, generation: c.deviceList.generation };
  return out;
}

/** A transcript entry as it travels: {id, from, text, ts, state}; own ones marked copied. */
export function transferableEntry(m) {
  if (m.from === 'me') {
    return { id: m.id, from: 'me', text: m.text, ts: m.ts, state: m.state === 'delivered' ? 'delivered' : 'sent', copied: true };
  }
  return { id: m.id, from: 'them', text: m.text, ts: m.ts, state: 'received' };
}

const isB64u = (s, max) => typeof s === 'string' && s.length <= max && /^[A-Za-z0-9_-]*$/.test(s);

/** The old device's stream: its active contacts and their history, from its vault. */
export async function collectTransfer(vault) {
  const contacts = {};
  const history = {};
  let messages = 0;
  for (const [name, c] of Object.entries(await vault.getJson('contacts', {}))) {
    if (c?.status !== 'active' || !USERNAME_RE.test(name)) continue;
    contacts[name] = transferableContact(name, c);
    const chunks = await vault.getJson(`history-chunks:${name}`, 0);
    const entries = [];
    for (let i = 0; i < chunks; i += 1) {
      for (const m of await vault.getJson(`history:${name}:${i}`, [])) {
        if (m && (m.from === 'me' || m.from === 'them') && typeof m.text === 'string' && !m.kind && !m.deleted && !m.exp) entries.push(transferableEntry(m));
      }
    }
    history[name] = entries;
    messages += entries.length;
  }
  // The presence capability is the account's, not the device's (the server keeps one hash per
  // account): the new device uses the same one, so that contacts keep seeing us.
  const stored = await vault.getJson('presence', null);
  const presence = isB64u(stored?.cap, 43) && stored.cap.length === 43 ? { cap: stored.cap, visible: stored.visible !== false } : undefined;
  // Blocks and declines are the person's too (12.16): the new device drops the same people.
  const blocks = (await vault.getJson(BLOCKS_RECORD, null)) ?? undefined; // none: left out
  return { stream: utf8(JSON.stringify({ v: 1, contacts, history, presence, blocks })), contacts: Object.keys(contacts).length, messages };
}

const fail = () => {
  throw new Error('malformed transfer');
};

function checkContact(name, c) {
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail();
  for (const k of Object.keys(c)) if (!CONTACT_FIELDS.includes(k)) fail();
  if (c.name !== name || c.status !== 'active') fail();
  if (!isB64u(c.identityKey, 43) || fromB64u(c.identityKey).length !== 32) fail();
  if (c.identityCounter !== undefined && !Number.isSafeInteger(c.identityCounter)) fail();
  if (c.verified !== undefined && typeof c.verified !== 'boolean') fail();
  if (c.cap !== undefined && !isB64u(c.cap, 64)) fail();
  if (c.since !== undefined && !Number.isFinite(c.since)) fail();
  if (c.deviceList !== undefined) {
    const d = c.deviceList;
    if (!d || typeof d !== 'object' || Object.keys(d).some((k) => k !== 'list' && k !== 'generation') ||
        !isB64u(d.list, 1000) || !Number.isSafeInteger(d.generation)) fail();
  }
}

function checkEntry(m) {
  if (!m || typeof m !== 'object' || Array.isArray(m)) fail();
  const keys = Object.keys(m);
  if (typeof m.id !== 'string' || m.id.length < 1 || m.id.length > 64) fail();
  if (typeof m.text !== 'string' || m.text.length > MAX_TEXT || !Number.isFinite(m.ts)) fail();
  if (m.from === 'me') {
    if (keys.length !== 6 || m.copied !== true || (m.state !== 'sent' && m.state !== 'delivered')) fail();
  } else if (m.from === 'them') {
    if (keys.length !== 5 || m.state !== 'received') fail();
  } else fail();
}

/** The new device's reading of the stream: {contacts, history, messages}; throws if malformed. */
export function parseTransfer(bytes) {
  const data = JSON.parse(fromUtf8(bytes));
  if (!data || typeof data !== 'object' || data.v !== 1) fail();
  if (Object.keys(data).some((k) => !['v', 'contacts', 'history', 'presence', 'blocks'].includes(k))) fail();
  const { contacts, history, presence } = data;
  // The record "blocks" as it is (12.16), read strictly: a list that does not read refuses the whole.
  const blocks = data.blocks === undefined ? undefined : parseBlocks(data.blocks);
  if (presence !== undefined && (!presence || typeof presence !== 'object' || Object.keys(presence).length !== 2 ||
      !isB64u(presence.cap, 43) || presence.cap.length !== 43 || typeof presence.visible !== 'boolean')) fail();
  if (!contacts || typeof contacts !== 'object' || Array.isArray(contacts)) fail();
  if (!history || typeof history !== 'object' || Array.isArray(history)) fail();
  let messages = 0;
  for (const [name, c] of Object.entries(contacts)) {
    if (!USERNAME_RE.test(name)) fail();
    checkContact(name, c);
  }
  for (const [name, entries] of Object.entries(history)) {
    if (!Object.hasOwn(contacts, name) || !Array.isArray(entries)) fail();
    entries.forEach(checkEntry);
    messages += entries.length;
  }
  return { contacts, history, presence, blocks, messages };
}

/**
 * Makes the new device's vault from a finished link: its own prekeys published (allowed once the
 * old device listed it: a 403 device_not_listed is tried again briefly), then the contacts, each
 * contact's history (chunks of 100) and the account's list, then the sealed account.
 */
export async function installLinked(vault, account, data, list, generation) {
  // No chat has a primary pair of devices on this device yet (device 0, 14.6): every device of
  // the contact is reached through the mailbox until one is made.
  const contacts = Object.fromEntries(Object.entries(data.contacts).map(([name, c]) => [name, { ...c, device: 0 }]));
  const records = [['contacts', vault.sealJson('contacts', contacts)]];
  for (const [name, entries] of Object.entries(data.history)) {
    const chunks = historyChunks(entries);
    chunks.forEach((chunk, k) => records.push([`history:${name}:${k}`, vault.sealJson(`history:${name}:${k}`, chunk)]));
    records.push([`history-chunks:${name}`, vault.sealJson(`history-chunks:${name}`, chunks.length)]);
  }
  records.push(['devices', vault.sealJson('devices', { list, generation })]);
  if (data.presence) records.push(['presence', vault.sealJson('presence', data.presence)]);
  if (data.blocks) records.push([BLOCKS_RECORD, vault.sealJson(BLOCKS_RECORD, blocksValue(data.blocks.blocked, data.blocks.declined))]);
  await vault.putMany(records);
  account.generatePrekeys(100);
  for (let attempt = 0; ; attempt += 1) {
    try {
      await publish(account, vault); // stores the account first
      return;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403 && e.code === 'device_not_listed') || attempt >= 20) throw e;
      await sleep(500);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the channel ----------------------------------------------------------------------------

/**
 * The new device's end: shows `code`, waits for the old device's start, and follows its frames in
 * order. `run()` resolves with {account, data, list, generation} once the old device has listed
 * this device; `acknowledge()` then tells it that all is stored. `onFingerprint(digits)` runs when
 * the old device has started (the person compares it with the old device's screen).
 */
export class NewDeviceLink {
  constructor({ username, device, signaling, label, onFingerprint = () => {}, onProgress = () => {} }) {
    this.username = username;
    this.device = device;
    this.signaling = signaling;
    this.label = label;
    this.onFingerprint = onFingerprint;
    this.onProgress = onProgress;
    this.pair = core.x25519Keypair();
    this.code = encodeCode(device, this.pair.publicKey);
    this.keys = null;
    this.queue = Promise.resolve();
    this.listener = (ev) => {
      this.queue = this.queue.then(() => this.onMessage(ev.detail)).catch((e) => this.fail(e));
    };
  }

  run() {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.expiry = setTimeout(() => this.fail(new UserError('This code has expired: codes last 10 minutes. Press "Link this device" for a new one.')),
        CODE_LIFE_MS);
      this.signaling.addEventListener('message', this.listener);
    });
  }

  restart(aPub, fromDevice) {
    wipeKeys(this.keys);
    const shared = core.x25519(this.pair.privateKey, aPub);
    this.keys = deriveLinkKeys(shared, aPub, this.pair.publicKey, this.device);
    shared.fill(0);
    this.peer = fromDevice;
    this.recvSeq = 0;
    this.sendSeq = 0;
    this.state = 'identity';
    this.stream = [];
    this.streamBytes = 0;
    this.lastAck = null;
    this.onFingerprint(this.keys.fingerprint);
    this.send(KIND.HELLO, utf8(this.label));
  }

  send(kind, body) {
    const seq = this.sendSeq;
    this.sendSeq += 1;
    const msg = {
      type: 'link', v: LINK_VERSION, to: this.username, toDevice: this.peer, seq,
      box: sealFrame(this.keys.toOld, TO_OLD, this.device, seq, kind, body),
    };
    this.signaling.send(msg);
    return msg;
  }

  ack(seq, extra = new Uint8Array(0)) {
    this.lastAck = this.send(KIND.ACK, concat(u32be(seq), extra));
  }

  async onMessage(msg) {
    if (this.done || msg?.type !== 'link' || msg.from !== this.username) return;
    const w = parseWire(msg);
    if (!w) return;
    if (w.step === 'start') {
      // A new start is taken until the identity has come (the person may have tried again).
      if (this.state === undefined || this.state === 'identity') this.restart(w.key, msg.fromDevice);
      return;
    }
    if (!this.keys || msg.fromDevice !== this.peer) return;
    if (w.step === 'abort') throw new UserError('Linking was cancelled on your other device.');
    if (w.seq === this.recvSeq - 1 && this.lastAck) {
      this.signaling.send(this.lastAck); // our acknowledgement was lost: the same one again
      return;
    }
    if (w.seq !== this.recvSeq) throw new UserError('The link was interrupted. Start again on both devices.');
    let frame;
    try {
      frame = openFrame(this.keys.toNew, TO_NEW, this.device, w.seq, w.box);
    } catch {
      throw new UserError('What came from your other device could not be opened. Start again on both devices.');
    }
    this.recvSeq += 1;
    // Once the transfer has begun, the code no longer expires; an old device that stops sending
    // for a minute ends it.
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.fail(new UserError('Your other device stopped sending. Start again on both devices.')), STALL_MS);
    await this.take(w.seq, frame);
  }

  async take(seq, { kind, body }) {
    if (kind === KIND.IDENTITY && this.state === 'identity' && body.length === core.IDENTITY_TRANSFER_BYTES) {
      this.transfer = body;
      this.state = 'data';
      this.onProgress('Receiving your identity and messages…');
      this.ack(seq);
    } else if (kind === KIND.DATA && this.state === 'data' && body.length >= 1 && body.length <= CHUNK_BYTES) {
      this.streamBytes += body.length;
      if (this.streamBytes > MAX_STREAM) throw new UserError('Your other device sent more than this browser can take.');
      this.stream.push(body);
      this.ack(seq);
    } else if (kind === KIND.DONE && this.state === 'data') {
      const counts = JSON.parse(fromUtf8(body));
      let data;
      try {
        data = parseTransfer(concat(...this.stream));
      } catch {
        throw new UserError('The contacts and messages from your other device were damaged. Start again on both devices.');
      }
      this.stream = [];
      const contacts = Object.keys(data.contacts).length;
      if (counts?.contacts !== contacts || counts?.messages !== data.messages || counts?.bytes !== this.streamBytes) {
        throw new UserError('Some contacts or messages from your other device were lost. Start again on both devices.');
      }
      try {
        this.account = core.Account.linked(this.keys.identity, this.transfer);
      } catch {
        throw new UserError('The identity from your other device could not be opened. Start again on both devices.');
      } finally {
        this.transfer.fill(0);
      }
      this.data = data;
      this.state = 'listed';
      this.onProgress('Waiting for your other device to add this one to your account…');
      this.ack(seq, utf8(JSON.stringify({ contacts, messages: data.messages })));
    } else if (kind === KIND.LISTED && this.state === 'listed') {
      let listed;
      try {
        listed = readList(this.account.identityKey(), body);
      } catch {
        throw new UserError('The list of your devices from your other device is not signed by your identity.');
      }
      if (!listed.devices.some((d) => d.id === this.device)) throw new UserError('Your other device did not add this one to your account.');
      this.state = 'installing';
      this.listedSeq = seq;
      this.onProgress('Saving your contacts and messages on this browser…');
      const { account, data } = this;
      this.account = null;
      this.finishWait();
      this.resolve({ account, data, list: toB64u(body), generation: listed.generation });
    } else {
      throw new UserError('Your other device sent something out of order. Start again on both devices.');
    }
  }

  /** After the new device stored everything: the old device is told, and the keys wiped. */
  acknowledge() {
    if (this.listedSeq !== undefined) this.ack(this.listedSeq);
    this.close();
  }

  finishWait() {
    clearTimeout(this.expiry);
  }

  fail(e) {
    if (this.done) return;
    if (this.keys && this.peer) this.signaling.send({ type: 'link', v: LINK_VERSION, to: this.username, toDevice: this.peer, step: 'abort' });
    this.close();
    this.account?.free();
    this.account = null;
    this.reject?.(e);
  }

  /** Stops listening; the ephemeral secret and the derived keys are wiped. */
  close() {
    this.done = true;
    clearTimeout(this.expiry);
    this.signaling.removeEventListener('message', this.listener);
    this.pair.privateKey.fill(0);
    wipeKeys(this.keys);
    this.transfer?.fill(0);
    this.stream = [];
  }
}

/**
 * The old device's end, for a code typed in: `start()` sends the ephemeral key and resolves with
 * {fingerprint, label} once the new device answers; after the person confirms, `transfer()` sends
 * the identity, the stream and the done marker, lists the new device (PUT /api/devices) and waits
 * for its acknowledgement. `cancel()` abandons at any point.
 */
export class OldDeviceLink {
  constructor({ username, signaling, account, vault, code, onAbort = () => {} }) {
    const { device, publicKey } = parseCode(code);
    this.username = username;
    this.signaling = signaling;
    this.account = account;
    this.vault = vault;
    this.device = device; // the new device's
    this.bPub = publicKey;
    this.sendSeq = 0;
    this.recvSeq = -1;
    this.waiting = null; // {match(event), resolve, reject}
    this.lastSent = 0;
    this.onAbort = onAbort; // the new device cancelled while nothing was being waited for
    this.listener = (ev) => this.onMessage(ev.detail);
    this.signaling.addEventListener('message', this.listener);
  }

  async start() {
    const pair = core.x25519Keypair();
    this.aPriv = pair.privateKey;
    let shared;
    try {
      shared = core.x25519(this.aPriv, this.bPub);
    } catch {
      throw new UserError(BAD_CODE);
    }
    this.keys = deriveLinkKeys(shared, pair.publicKey, this.bPub, this.device);
    shared.fill(0);
    const hello = this.expect((ev) => ev.kind === KIND.HELLO, HELLO_TIMEOUT_MS,
      'No new device answered this code. Check that the new device still shows it (codes last 10 minutes), and try again.');
    this.relayWaiting({ step: 'start', key: toB64u(pair.publicKey), id: 'link-start' });
    const { body } = await hello;
    let label;
    try {
      label = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      label = '';
    }
    this.label = utf8(label).length <= 64 ? label : '';
    return { fingerprint: this.keys.fingerprint, label: this.label };
  }

  // Sends while an answer is awaited: a send that fails ends that wait with its reason.
  relayWaiting(fields) {
    try {
      this.relay(fields);
    } catch (e) {
      this.waiting?.reject(e);
    }
  }

  relay(fields) {
    if (!this.signaling.send({ type: 'link', v: LINK_VERSION, to: this.username, toDevice: this.device, ...fields })) {
      throw new UserError('This device is offline. Check your connection and try again.');
    }
  }

  // Waits for one event from the new device (or an error about what we sent) matching `match`.
  expect(match, ms, text) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new UserError(text));
      }, ms);
      this.waiting = {
        match,
        resolve: (v) => { clearTimeout(timer); this.waiting = null; resolve(v); },
        reject: (e) => { clearTimeout(timer); this.waiting = null; reject(e); },
      };
    });
  }

  onMessage(msg) {
    if (!msg || this.closed) return;
    if (msg.type === 'error' && msg.from === undefined && typeof msg.ref === 'string' && msg.ref.startsWith('link-')) {
      if (!this.waiting) return;
      if (msg.code === 'recipient_offline') {
        this.waiting.reject(new UserError('The new device is not connected. Check that it still shows the code (codes last 10 minutes), and try again.'));
      } else if (this.waiting.match({ error: msg.code, ref: msg.ref })) {
        this.waiting.resolve({ error: msg.code, ref: msg.ref }); // busy or throttled: sent again
      }
      return;
    }
    if (msg.type !== 'link' || msg.from !== this.username || msg.fromDevice !== this.device || !this.keys) return;
    const w = parseWire(msg);
    if (!w) return;
    if (w.step === 'abort') {
      const e = new UserError('Linking was cancelled on the new device.');
      if (this.waiting) {
        this.waiting.reject(e);
      } else {
        this.close();
        this.onAbort(e);
      }
      return;
    }
    if (w.step !== undefined || w.seq <= this.recvSeq) return; // only forward: nothing replayed
    let frame;
    try {
      frame = openFrame(this.keys.toOld, TO_OLD, this.device, w.seq, w.box);
    } catch {
      return; // not from the new device
    }
    this.recvSeq = w.seq;
    if (this.waiting?.match(frame)) this.waiting.resolve(frame);
  }

  // One frame, sent until the new device acknowledges it (busy or throttled: again after a pause).
  async frame(kind, body, ms = ACK_TIMEOUT_MS) {
    const seq = this.sendSeq;
    this.sendSeq += 1;
    const box = sealFrame(this.keys.toNew, TO_NEW, this.device, seq, kind, body);
    for (let attempt = 0; ; attempt += 1) {
      const gap = this.lastSent + FRAME_MIN_GAP_MS - Date.now();
      if (gap > 0) await sleep(gap);
      if (this.closed) throw new UserError('Linking was cancelled.');
      const got = this.expect((ev) => (ev.kind === KIND.ACK && ev.body.length >= 4 &&
        new DataView(ev.body.buffer, ev.body.byteOffset).getUint32(0) === seq) || ev.ref === `link-${seq}`,
      ms, 'The new device stopped answering. Start again on both devices.');
      this.lastSent = Date.now();
      this.relayWaiting({ seq, box, id: `link-${seq}` });
      const ev = await got;
      if (!ev.error) return ev.body.subarray(4);
      if (attempt >= 10) throw new UserError('The server is too busy to link a device now. Try again in a minute.');
      await sleep(1000); // recipient_busy or rate_limited: the same frame again
    }
  }

  async transfer(onProgress = () => {}) {
    const transfer = this.account.exportIdentity(this.keys.identity);
    try {
      await this.frame(KIND.IDENTITY, transfer);
    } finally {
      transfer.fill(0);
    }
    const { stream, contacts, messages } = await collectTransfer(this.vault);
    for (let off = 0; off < stream.length; off += CHUNK_BYTES) {
      onProgress(`Sending your contacts and messages… ${Math.floor((off * 100) / stream.length)}%`);
      await this.frame(KIND.DATA, stream.subarray(off, off + CHUNK_BYTES));
    }
    const bytes = stream.length;
    stream.fill(0);
    const got = await this.frame(KIND.DONE, utf8(JSON.stringify({ contacts, messages, bytes })));
    let counts = null;
    try {
      counts = JSON.parse(fromUtf8(got));
    } catch {
      counts = null;
    }
    if (counts?.contacts !== contacts || counts?.messages !== messages) {
      throw new UserError('The new device did not receive everything. Start again on both devices.');
    }
    onProgress('Adding the new device to your account…');
    const list = await this.addToList();
    onProgress('Waiting for the new device to finish…');
    await this.frame(KIND.LISTED, list, 60_000);
    this.close();
    return { contacts, messages, label: this.label };
  }

  // The account's list with the new device added (generation + 1), signed and uploaded.
  async addToList() {
    const dir = await request('GET', '/api/devices');
    if (typeof dir?.list !== 'string') throw new UserError('Your account has no list of devices yet. Reload the page and try again.');
    const ik = this.account.identityKey();
    const current = readList(ik, fromB64u(dir.list));
    if (current.devices.some((d) => d.id === this.device)) return fromB64u(dir.list); // listed already (an earlier attempt)
    if (current.devices.length >= core.MAX_DEVICES) {
      throw new UserError('Your account has 8 devices already. Remove one you no longer use, then try again.');
    }
    const entries = [...current.devices, { id: this.device, label: this.label }].sort((a, b) => a.id - b.id);
    const signed = this.account.signDevices(core.encodeDeviceList(current.generation + 1, entries));
    await request('PUT', '/api/devices', { list: toB64u(signed) });
    await this.vault.putJson('devices', { list: toB64u(signed), generation: current.generation + 1 });
    return signed;
  }

  /** Abandons: the new device is told, the ephemeral secret and keys wiped. */
  cancel() {
    if (this.closed) return;
    if (this.keys) {
      try {
        this.relay({ step: 'abort' });
      } catch {
        // offline: the new device's code expires by itself
      }
    }
    this.waiting?.reject(new UserError('Linking was cancelled.'));
    this.close();
  }

  close() {
    this.closed = true;
    this.signaling.removeEventListener('message', this.listener);
    this.aPriv?.fill(0);
    wipeKeys(this.keys);
  }
}
