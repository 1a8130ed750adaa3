// The web app's room payloads and records (docs/PROTOCOL.md 20.7) without a browser:
// docs/vectors/rooms-web-v1.json is derived here from the section and from the core's vectors
// (docs/vectors/rooms-v1.json: its descriptors, keys and leave statements) and must equal the
// checked-in file byte for byte; then the page's own strict readers (web/js/rooms-wire.js) must
// read every valid payload and record as the file says and refuse every invalid one.
// `node tests/e2e/rooms-vectors.test.mjs --write` rewrites the file (deterministic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = join(ROOT, 'docs/vectors/rooms-web-v1.json');
const CORE = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/rooms-v1.json'), 'utf8'));
const wire = await import(join(ROOT, 'web/js/rooms-wire.js'));

const b64u = (hex) => Buffer.from(hex, 'hex').toString('base64url');
const ID = '0123456789abcdef0123456789abcdef';
const ID2 = 'fedcba9876543210fedcba9876543210';

export function derive() {
  const desc = (label) => CORE.descriptors.find((x) => x.label.startsWith(label));
  const v1 = desc('v1 by alice');
  const largest = desc('largest');
  const room = v1.roomId;
  const key = (who) => b64u(CORE.people[who].identityKey);
  const names = { [key('alice')]: 'alice', [key('bob')]: 'bob', [key('carol')]: 'carol' };
  const d = b64u(v1.descriptor);
  const leave = b64u(CORE.leaves.find((l) => l.who === 'carol').leave);
  const msg = { v: 1, t: 'room-msg', id: ID, ts: 1780000000000, room, ver: 1, text: 'hello, room' };
  const ch = CORE.challenges.find((c) => c.signer === 'bob' && c.verifier === 'alice');
  const chVer = CORE.descriptors[Number(ch.descriptor)].version;
  const hello = { v: 1, t: 'room-hello', room, ver: chVer, nonce: b64u(ch.nonce) };
  const proof = { v: 1, t: 'room-proof', room, ver: chVer, nonce: b64u(ch.nonce), ts: Number(ch.issuedAt), sig: b64u(ch.signature) };
  const valid = [
    { payload: { v: 1, t: 'room', id: ID, d, names }, bytes: { d: v1.descriptor } },
    { payload: { v: 1, t: 'room', id: ID, d: b64u(largest.descriptor), names: { [key('alice')]: 'alice' } }, bytes: { d: largest.descriptor } },
    // Code contacts (20.8): "~" and the first 8 characters of the key they name.
    { payload: { v: 1, t: 'room', id: ID2, d, names: { [key('alice')]: `~${key('alice').slice(0, 8)}`, [key('bob')]: 'bob' } }, bytes: { d: v1.descriptor } },
    { payload: msg },
    { payload: { ...msg, text: 'x'.repeat(16384), ver: Number.MAX_SAFE_INTEGER, ts: 0 } },
    { payload: { v: 1, t: 'room-leave', id: ID2, room, leave }, bytes: { leave: CORE.leaves.find((l) => l.who === 'carol').leave } },
    // The room check (20.7 "Direct connections"): alice's nonce and bob's answer from the core's
    // vectors (bob answers alice at v3).
    { payload: hello, bytes: { nonce: ch.nonce } },
    { payload: proof, bytes: { nonce: ch.nonce, sig: ch.signature } },
    { payload: { ...proof, ver: Number.MAX_SAFE_INTEGER, ts: 0 }, bytes: { nonce: ch.nonce, sig: ch.signature } },
  ];
  const without = (o, k) => Object.fromEntries(Object.entries(o).filter(([x]) => x !== k));
  const tooManyNames = {};
  for (let i = 0; i < 17; i += 1) tooManyNames[Buffer.alloc(32, i).toString('base64url')] = `user${i}x`;
  const invalid = [
    { why: 'not an object', payload: [msg] },
    { why: 'no version', payload: without(msg, 'v') },
    { why: 'version 2', payload: { ...msg, v: 2 } },
    { why: 'version 0', payload: { ...msg, v: 0 } },
    { why: 'version as a string', payload: { ...msg, v: '1' } },
    { why: 'unknown kind', payload: { ...msg, t: 'room-call' } },
    { why: 'a chat kind', payload: { ...msg, t: 'msg' } },
    { why: 'an unknown field', payload: { ...msg, extra: 1 } },
    { why: 'a field of another kind', payload: { ...msg, leave } },
    { why: 'no id', payload: without(msg, 'id') },
    { why: 'an id in capitals', payload: { ...msg, id: ID.toUpperCase() } },
    { why: 'no room', payload: without(msg, 'room') },
    { why: 'a room id in capitals', payload: { ...msg, room: room.toUpperCase() } },
    { why: 'a room id of 15 bytes', payload: { ...msg, room: room.slice(2) } },
    { why: 'version 0 of the room', payload: { ...msg, ver: 0 } },
    { why: 'a room version that is not an integer', payload: { ...msg, ver: 1.5 } },
    { why: 'a room version above 2^53-1', payload: { ...msg, ver: 2 ** 53 } },
    { why: 'a negative time', payload: { ...msg, ts: -1 } },
    { why: 'no text', payload: without(msg, 'text') },
    { why: 'an empty text', payload: { ...msg, text: '' } },
    { why: 'a text of 16385', payload: { ...msg, text: 'x'.repeat(16385) } },
    { why: 'a descriptor that is not base64url', payload: { v: 1, t: 'room', id: ID, d: `${d.slice(0, -4)}+/==`, names } },
    { why: 'a descriptor in padded base64', payload: { v: 1, t: 'room', id: ID, d: Buffer.from(v1.descriptor, 'hex').toString('base64'), names } },
    { why: 'a descriptor of 156 bytes', payload: { v: 1, t: 'room', id: ID, d: b64u(v1.descriptor.slice(0, 312)), names } },
    { why: 'a descriptor of 716 bytes', payload: { v: 1, t: 'room', id: ID, d: b64u(`${largest.descriptor}00`), names } },
    { why: 'no names', payload: { v: 1, t: 'room', id: ID, d, names: {} } },
    { why: 'names as a list', payload: { v: 1, t: 'room', id: ID, d, names: ['alice'] } },
    { why: '17 names', payload: { v: 1, t: 'room', id: ID, d, names: tooManyNames } },
    { why: 'a name that is not a username', payload: { v: 1, t: 'room', id: ID, d, names: { [key('alice')]: 'Alice!' } } },
    { why: 'a code name of another key', payload: { v: 1, t: 'room', id: ID, d, names: { [key('alice')]: `~${key('bob').slice(0, 8)}` } } },
    { why: 'a code name of 9 characters', payload: { v: 1, t: 'room', id: ID, d, names: { [key('alice')]: `~${key('alice').slice(0, 9)}` } } },
    { why: 'the local profile\'s own name', payload: { v: 1, t: 'room', id: ID, d, names: { [key('alice')]: '~local' } } },
    { why: 'a key of 31 bytes', payload: { v: 1, t: 'room', id: ID, d, names: { [Buffer.alloc(31).toString('base64url')]: 'alice' } } },
    { why: 'a leave statement of 120 bytes', payload: { v: 1, t: 'room-leave', id: ID, room, leave: b64u(CORE.leaves[0].leave.slice(0, 240)) } },
    { why: 'a leave statement of 122 bytes', payload: { v: 1, t: 'room-leave', id: ID, room, leave: b64u(`${CORE.leaves[0].leave}00`) } },
    { why: 'a hello with an id', payload: { ...hello, id: ID } },
    { why: 'a hello without a nonce', payload: without(hello, 'nonce') },
    { why: 'a hello with a nonce of 31 bytes', payload: { ...hello, nonce: b64u(ch.nonce.slice(2)) } },
    { why: 'a hello with a nonce of 33 bytes', payload: { ...hello, nonce: b64u(`${ch.nonce}00`) } },
    { why: 'a hello with a proof field', payload: { ...hello, sig: proof.sig } },
    { why: 'a hello of version 0', payload: { ...hello, ver: 0 } },
    { why: 'a hello for a room id in capitals', payload: { ...hello, room: room.toUpperCase() } },
    { why: 'a hello of wire version 2', payload: { ...hello, v: 2 } },
    { why: 'a proof without a signature', payload: without(proof, 'sig') },
    { why: 'a proof without its time', payload: without(proof, 'ts') },
    { why: 'a proof with a negative time', payload: { ...proof, ts: -1 } },
    { why: 'a proof with a time that is not an integer', payload: { ...proof, ts: 1.5 } },
    { why: 'a proof with a signature of 63 bytes', payload: { ...proof, sig: b64u(ch.signature.slice(2)) } },
    { why: 'a proof with a signature in padded base64', payload: { ...proof, sig: Buffer.from(ch.signature, 'hex').toString('base64') } },
    { why: 'a proof without a nonce', payload: without(proof, 'nonce') },
    { why: 'a proof with a room version above 2^53-1', payload: { ...proof, ver: 2 ** 53 } },
    { why: 'a proof with an id', payload: { ...proof, id: ID } },
  ];
  const entry = { d, past: [], names, status: 'active', gone: [], unread: 2 };
  const record = { v: 1, rooms: { [room]: entry } };
  const records = {
    valid: [
      record,
      { v: 1, rooms: {} },
      { v: 1, rooms: { [room]: { ...entry, past: [d], status: 'removed', gone: [key('carol')], unread: 0 } } },
    ],
    invalid: [
      { why: 'version 2', record: { ...record, v: 2 } },
      { why: 'an unknown field', record: { ...record, extra: true } },
      { why: 'a room id in capitals', record: { v: 1, rooms: { [room.toUpperCase()]: entry } } },
      { why: 'an unknown status', record: { v: 1, rooms: { [room]: { ...entry, status: 'archived' } } } },
      { why: 'an unknown field of a room', record: { v: 1, rooms: { [room]: { ...entry, members: [] } } } },
      { why: 'a room without names', record: { v: 1, rooms: { [room]: without(entry, 'names') } } },
      { why: '16 past versions', record: { v: 1, rooms: { [room]: { ...entry, past: Array(16).fill(d) } } } },
      { why: 'a negative unread count', record: { v: 1, rooms: { [room]: { ...entry, unread: -1 } } } },
    ],
  };
  const logs = {
    valid: [[
      { id: ID, from: 'system', ts: 1780000000000, text: 'alice added you to the room Book club.' },
      { id: ID2, from: 'them', by: 'alice', ts: 1780000000001, text: 'hello, room', ver: 1 },
      { id: ID, from: 'me', ts: 1780000000002, text: 'hi all', ver: 1, to: ['alice', 'bob'] },
    ], [
      { id: ID2, from: 'them', by: '~pHAKJzqt', ts: 1780000000001, text: 'from a code contact', ver: 1 },
      { id: ID, from: 'me', ts: 1780000000002, text: 'to code contacts', ver: 1, to: ['~pHAKJzqt', 'bob'] },
    ]],
    invalid: [
      { why: 'their message without its sender', log: [{ id: ID, from: 'them', ts: 1, text: 'x', ver: 1 }] },
      { why: 'a sender name in from', log: [{ id: ID, from: 'alice', ts: 1, text: 'x', ver: 1 }] },
      { why: 'an own message without its recipients', log: [{ id: ID, from: 'me', ts: 1, text: 'x', ver: 1 }] },
      { why: 'a line with a version', log: [{ id: ID, from: 'system', ts: 1, text: 'x', ver: 1 }] },
      { why: 'a sender named ~local', log: [{ id: ID, from: 'them', by: '~local', ts: 1, text: 'x', ver: 1 }] },
      { why: 'a recipient with a code name of 7 characters', log: [{ id: ID, from: 'me', ts: 1, text: 'x', ver: 1, to: ['~pHAKJzq'] }] },
      { why: 'not a list', log: { 0: { id: ID, from: 'system', ts: 1, text: 'x' } } },
    ],
  };
  return {
    version: 1,
    description: 'docs/PROTOCOL.md 20.7: the web app\'s room payloads (inside the pairwise Double Ratchet, 12.6) and its '
      + 'records, from the core\'s vectors (docs/vectors/rooms-v1.json). Valid payloads are read as themselves '
      + '(d, leave, nonce and sig as the bytes given in hex); invalid ones are refused (why). Written by tests/e2e/rooms-vectors.test.mjs --write.',
    valid, invalid, records, logs,
  };
}

const text = `${JSON.stringify(derive(), null, 1)}\n`;
if (process.argv.includes('--write')) {
  writeFileSync(FILE, text);
  process.exit(0);
}
const V = JSON.parse(readFileSync(FILE, 'utf8'));
const hexOf = (b) => Buffer.from(b).toString('hex');

test('the file is what section 20.7 and the core\'s vectors make, byte for byte', () => {
  assert.equal(readFileSync(FILE, 'utf8'), text);
});

test('every valid payload is read as itself', () => {
  assert.ok(V.valid.length >= 5);
  for (const { payload, bytes } of V.valid) {
    const r = wire.readRoomPayload(payload);
    const shown = { ...r };
    if (r.d) shown.d = Buffer.from(r.d).toString('base64url');
    for (const k of ['leave', 'nonce', 'sig']) if (r[k]) shown[k] = Buffer.from(r[k]).toString('base64url');
    assert.deepEqual(shown, payload);
    for (const k of ['d', 'leave', 'nonce', 'sig']) if (bytes?.[k]) assert.equal(hexOf(r[k]), bytes[k]);
  }
  assert.deepEqual(new Set(V.valid.map((v) => v.payload.t)), wire.ROOM_KINDS);
});

test('every invalid payload is refused with a RoomPayloadError', () => {
  assert.ok(V.invalid.length >= 45);
  for (const { payload, why } of V.invalid) {
    assert.throws(() => wire.readRoomPayload(payload), wire.RoomPayloadError, why);
  }
});

test('an own entry travels as the payload the reader takes', () => {
  for (const { payload } of V.valid.filter((x) => wire.ROOM_CHECK_KINDS.has(x.payload.t))) {
    const r = wire.readRoomPayload(payload);
    assert.deepEqual(wire.roomCheckPayload(r.t, r), payload);
  }
  for (const { payload } of V.valid.filter((x) => !wire.ROOM_CHECK_KINDS.has(x.payload.t))) {
    const { v, t, id, ts, ...rest } = payload;
    assert.equal(v, 1);
    const entry = { id, ts, kind: 'room', room: { t, ...rest } };
    assert.deepEqual(wire.roomWirePayload(entry), t === 'room-msg' ? payload : { v, t, id, ...rest });
  }
});

test('the records: valid ones read, invalid ones refused', () => {
  for (const rec of V.records.valid) {
    const rooms = wire.readRoomsRecord(rec);
    assert.deepEqual([...rooms.keys()], Object.keys(rec.rooms));
    for (const [id, r] of rooms) {
      assert.equal(Buffer.from(r.d).toString('base64url'), rec.rooms[id].d);
      assert.deepEqual(r.names, rec.rooms[id].names);
    }
  }
  for (const { record, why } of V.records.invalid) assert.throws(() => wire.readRoomsRecord(record), wire.RoomPayloadError, why);
  for (const log of V.logs.valid) assert.deepEqual(wire.readRoomLog(log), log);
  for (const { log, why } of V.logs.invalid) assert.throws(() => wire.readRoomLog(log), wire.RoomPayloadError, why);
});

test("the document's limits are the reader's", () => {
  const doc = readFileSync(join(ROOT, 'docs/PROTOCOL.md'), 'utf8');
  const start = doc.indexOf('### 20.7');
  assert.ok(start > 0, 'section 20.7');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  assert.equal(wire.MAX_ROOM_TEXT, 16384);
  assert.equal(wire.MAX_ROOMS, 64);
  assert.equal(wire.MAX_PAST, 15);
  assert.equal(wire.MAX_LOG, 1000);
  for (const s of ['1..16384', '`MAX_ROOMS` = 64', '`MAX_PAST` = 15', '`MAX_LOG` = 1000', '157..715', '121 bytes',
    '`nonce` 32 bytes', '`sig` 64 bytes']) {
    assert.ok(section.includes(s), `${s} documented`);
  }
});
