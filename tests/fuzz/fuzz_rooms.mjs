// A mutation fuzzer for the web app's room payloads and records (docs/PROTOCOL.md 20.7), whose
// strict readers are JavaScript (web/js/rooms-wire.js readRoomPayload, readRoomsRecord,
// readRoomLog), run under Node for a bounded time. Inputs: the vectors of
// docs/vectors/rooms-web-v1.json as JSON text with bytes flipped, inserted, deleted and truncated;
// and as objects with a field removed, added, or given another value. A failure is a reader that
// throws anything but a RoomPayloadError, or accepts something that breaks the section's rules
// (checked here from the section, not from the reader's code), or whose result does not travel
// and read again as itself. (The core's own fuzzer, tests/fuzz/fuzz_rooms.c, covers the
// descriptor and leave bytes.)
//   node tests/fuzz/fuzz_rooms.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
const root = new URL('../..', import.meta.url);
const wire = await import(new URL('web/js/rooms-wire.js', root));
const V = JSON.parse(readFileSync(new URL('docs/vectors/rooms-web-v1.json', root), 'utf8'));
const payloads = [...V.valid, ...V.invalid].map((v) => v.payload);
const shortPayloads = payloads.filter((p) => JSON.stringify(p).length < 3000);
const records = [...V.records.valid, ...V.records.invalid.map((x) => x.record)];
const logs = [...V.logs.valid, ...V.logs.invalid.map((x) => x.log)];

const { rnd, pick, mutateText } = fuzzer(0x5eed7007);

const ID = '0123456789abcdef0123456789abcdef';
const KEY = 'A'.repeat(43);
const KEYS = ['v', 't', 'id', 'ts', 'room', 'ver', 'text', 'd', 'names', 'leave', 'nonce', 'sig', 'extra', '__proto__', 'constructor', 'toString'];
const KINDS = ['room', 'room-msg', 'room-leave', 'room-hello', 'room-proof', 'msg', 'ack', 'room-call', '', '__proto__', 'hasOwnProperty'];
function value() {
  return pick([
    () => ID, () => ID.toUpperCase(), () => ID.slice(1), () => `${ID}0`, () => '', () => 'x', () => 'alice', () => 1, () => 2,
    () => '1', () => 0, () => -1, () => 1.5, () => 2 ** 53, () => Number.MAX_SAFE_INTEGER, () => NaN, () => true, () => null,
    () => [], () => ({}), () => ({ [KEY]: 'alice' }), () => ({ [KEY]: 'A' }), () => 'x'.repeat(16384), () => 'x'.repeat(16385),
    () => 'A'.repeat(210), () => 'A'.repeat(161), () => 'A'.repeat(954), () => 'A'.repeat(955), () => pick(KINDS),
    () => 'AAAA+/==', () => KEY, () => 'A'.repeat(42), () => 'A'.repeat(44), () => 'A'.repeat(85), () => 'A'.repeat(86),
    () => `${'A'.repeat(85)}B`, () => `${'A'.repeat(42)}B`,
  ])();
}

function mutateObject(obj) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return value();
  const out = { ...obj };
  const edits = 1 + rnd(3);
  for (let i = 0; i < edits; i += 1) {
    const op = rnd(5);
    const keys = Object.keys(out);
    if (op === 0 && keys.length) delete out[pick(keys)];
    else if (op === 1) Object.defineProperty(out, pick(KEYS), { value: value(), enumerable: true, configurable: true, writable: true });
    else if (op === 2 && keys.length) out[pick(keys)] = value();
    else if (op === 3) out.t = pick(KINDS);
    else out.v = pick([1, 2, 0, '1', null]);
  }
  return out;
}

const failures = [];
function fail(what, input, e) {
  failures.push(`${what}: ${String(input).slice(0, 300)} -> ${e?.stack || e}`);
}

const FIELDS = {
  room: ['v', 't', 'id', 'd', 'names'],
  'room-msg': ['v', 't', 'id', 'ts', 'room', 'ver', 'text'],
  'room-leave': ['v', 't', 'id', 'room', 'leave'],
  'room-hello': ['v', 't', 'room', 'ver', 'nonce'],
  'room-proof': ['v', 't', 'room', 'ver', 'nonce', 'ts', 'sig'],
};
const CHECKS = new Set(['room-hello', 'room-proof']);
const canon = (s, n) => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) return false;
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s && (n === undefined || n(b.length));
};

// What an accepted payload must be, by the section alone.
function check(obj, r) {
  if (obj.v !== 1) return 'version';
  const f = FIELDS[obj.t];
  if (!f) return 'kind';
  for (const k of Object.keys(obj)) if (!f.includes(k)) return `field ${k}`;
  for (const k of f) if (!Object.hasOwn(obj, k)) return `missing ${k}`;
  if (!CHECKS.has(obj.t) && !/^[0-9a-f]{32}$/.test(obj.id)) return 'id';
  if (CHECKS.has(obj.t)) {
    if (!/^[0-9a-f]{32}$/.test(obj.room)) return 'room';
    if (!Number.isSafeInteger(obj.ver) || obj.ver < 1) return 'ver';
    if (!canon(obj.nonce, (n) => n === 32) || !(r.nonce instanceof Uint8Array)) return 'nonce';
    if (obj.t === 'room-proof') {
      if (!Number.isSafeInteger(obj.ts) || obj.ts < 0) return 'ts';
      if (!canon(obj.sig, (n) => n === 64) || !(r.sig instanceof Uint8Array)) return 'sig';
    }
  } else if (obj.t === 'room') {
    if (!canon(obj.d, (n) => n >= 157 && n <= 715)) return 'd';
    const names = Object.entries(obj.names || {});
    if (names.length < 1 || names.length > 16) return 'names';
    for (const [k, n] of names) if (!canon(k, (x) => x === 32) || !(/^[a-z][a-z0-9_.-]{2,31}$/.test(n) || n === `~${k.slice(0, 8)}`)) return 'names';
    if (!(r.d instanceof Uint8Array)) return 'd bytes';
  } else {
    if (!/^[0-9a-f]{32}$/.test(obj.room)) return 'room';
    if (obj.t === 'room-leave' && !canon(obj.leave, (n) => n === 121)) return 'leave';
    if (obj.t === 'room-msg') {
      if (!Number.isSafeInteger(obj.ts) || obj.ts < 0) return 'ts';
      if (!Number.isSafeInteger(obj.ver) || obj.ver < 1) return 'ver';
      if (typeof obj.text !== 'string' || obj.text.length < 1 || obj.text.length > 16384) return 'text';
    }
  }
  return null;
}

function runPayload(obj, shown) {
  let r;
  try {
    r = wire.readRoomPayload(obj);
  } catch (e) {
    if (!(e instanceof wire.RoomPayloadError)) fail('threw', shown, e);
    return;
  }
  const bad = check(obj, r);
  if (bad) {
    fail(`accepted a bad ${bad}`, shown, 'accepted');
    return;
  }
  if (CHECKS.has(r.t)) {
    // A check payload travels again (as rooms-mesh.js sends it) and reads as itself.
    let back;
    try {
      back = wire.readRoomPayload(JSON.parse(JSON.stringify(wire.roomCheckPayload(r.t, r))));
    } catch (e) {
      fail('its own check payload was refused', shown, e);
      return;
    }
    if (!isDeepStrictEqual(back, r)) fail('its own check payload read differently', shown, JSON.stringify(back));
    return;
  }
  // What is read travels again (as an own entry would) and reads as itself.
  const { v, t, id, ts, ...rest } = r;
  const room = { t, ...rest };
  if (room.d) room.d = Buffer.from(room.d).toString('base64url');
  if (room.leave) room.leave = Buffer.from(room.leave).toString('base64url');
  let again;
  try {
    again = wire.readRoomPayload(JSON.parse(JSON.stringify(wire.roomWirePayload({ id, ts, kind: 'room', room }))));
  } catch (e) {
    fail('its own payload was refused', shown, e);
    return;
  }
  if (!isDeepStrictEqual(again, r)) fail('its own payload read differently', shown, JSON.stringify(again));
  if (v !== 1) fail('version', shown, v);
}

function runRecord(obj, shown) {
  try {
    const rooms = wire.readRoomsRecord(obj);
    if (obj.v !== 1) fail('accepted a record of another version', shown, 'accepted');
    if (rooms.size > 64) fail('accepted too many rooms', shown, 'accepted');
    for (const r of rooms.values()) {
      if (!['active', 'removed', 'left'].includes(r.status)) fail('accepted a bad status', shown, r.status);
      if (r.past.length > 15) fail('accepted too many past versions', shown, r.past.length);
    }
  } catch (e) {
    if (!(e instanceof wire.RoomPayloadError)) fail('record threw', shown, e);
  }
}

function runLog(obj, shown) {
  try {
    const log = wire.readRoomLog(obj);
    for (const e of log) {
      if (!['me', 'them', 'system'].includes(e.from)) fail('accepted a bad from', shown, e.from);
      if (e.from === 'them' && !/^([a-z][a-z0-9_.-]{2,31}|~[A-Za-z0-9_-]{8})$/.test(e.by)) fail('accepted a bad by', shown, e.by);
    }
  } catch (e) {
    if (!(e instanceof wire.RoomPayloadError)) fail('log threw', shown, e);
  }
}

function viaText(seed, run) {
  const text = mutateText(JSON.stringify(seed), '{}[]":,0123456789abcdefv');
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    return;
  }
  run(obj, text);
}

function deepMutate(obj) {
  // A field of a nested object (a room of a record, an entry of a log) changed.
  if (Array.isArray(obj)) {
    const out = [...obj];
    if (out.length) out[rnd(out.length)] = mutateObject(out[rnd(out.length)]);
    else out.push(value());
    return out;
  }
  if (obj && typeof obj === 'object' && obj.rooms && typeof obj.rooms === 'object') {
    const rooms = { ...obj.rooms };
    const ids = Object.keys(rooms);
    if (ids.length) rooms[pick(ids)] = mutateObject(rooms[pick(ids)]);
    return { ...obj, rooms };
  }
  return mutateObject(obj);
}

const cases = [
  () => viaText(pick(shortPayloads), runPayload),
  () => {
    const obj = mutateObject(pick(payloads));
    runPayload(obj, JSON.stringify(obj)?.slice(0, 300));
  },
  () => viaText(pick(records), runRecord),
  () => {
    const obj = rnd(2) ? deepMutate(pick(records)) : mutateObject(pick(records));
    runRecord(obj, JSON.stringify(obj)?.slice(0, 300));
  },
  () => {
    const obj = deepMutate(pick(logs));
    runLog(obj, JSON.stringify(obj)?.slice(0, 300));
  },
];

// The vectors first: valid ones read, invalid ones refused.
for (const v of V.valid) wire.readRoomPayload(v.payload);
for (const v of V.invalid) {
  let accepted = false;
  try {
    wire.readRoomPayload(v.payload);
    accepted = true;
  } catch (e) {
    if (!(e instanceof wire.RoomPayloadError)) throw e;
  }
  if (accepted) throw new Error(`an invalid vector was accepted: ${v.why}`);
}

await runFuzzer('fuzz_rooms', seconds, failures, (i) => cases[i % cases.length]());
