// The instance bus's messages (docs/PROTOCOL.md 19): every valid vector of
// docs/vectors/bus-v1.json is built again here from the section's rules, byte for byte. The C
// unit test (tests/server/unit/test_bus.c) parses the same vectors with the server's parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/server.mjs';

const vectors = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/bus-v1.json'), 'utf8'));
const KINDS = { ALIVE: 1, SYNC: 2, BYE: 3, USER: 4, RELAY: 5, DELIVER: 6, NOTICE: 7 };

const u8 = (v) => Buffer.from([v]);
const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b; };
const name = (s) => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);
const text = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

/** A message from its fields, as section 19 lays it out. */
export function encode(f) {
  const parts = [u8(1), u8(KINDS[f.kind]), Buffer.from(f.from, 'hex')];
  if (f.kind === 'USER') {
    const flags = (f.settings ? 1 : 0) | (f.capHash ? 2 : 0) | (f.visible ? 4 : 0);
    parts.push(name(f.user), u8(flags));
    if (f.capHash) parts.push(Buffer.from(f.capHash, 'hex'));
    parts.push(u8(f.devices.length));
    for (const d of f.devices) parts.push(u32(d.id), u8(d.listed ? 1 : 0), u64(d.since));
  } else if (f.kind === 'RELAY') {
    const flags = (f.own ? 1 : 0) | (f.check ? 2 : 0);
    const ref = Buffer.from(f.ref ?? '');
    parts.push(name(f.sender), u32(f.senderDevice), name(f.user), u32(f.device), u8(flags), u16(ref.length), ref, text(f.text));
  } else if (f.kind === 'DELIVER') {
    parts.push(name(f.user), u32(f.device), text(f.text));
  } else if (f.kind === 'NOTICE') {
    parts.push(u8(f.what), name(f.user), u8(f.ids.length), ...f.ids.map(u32));
  }
  return Buffer.concat(parts).toString('hex');
}

test('every valid bus vector is the encoding of its fields (docs/PROTOCOL.md 19)', () => {
  assert.ok(vectors.valid.length >= 10);
  for (const v of vectors.valid) assert.equal(encode(v.fields), v.hex, v.name);
});

test('the invalid bus vectors are what their notes say: a valid message changed in one place', () => {
  assert.ok(vectors.invalid.length >= 10);
  const valid = new Set(vectors.valid.map((v) => v.hex));
  for (const v of vectors.invalid) {
    assert.match(v.hex, /^([0-9a-f]{2})*$/, v.name);
    assert.ok(!valid.has(v.hex), v.name);
    assert.ok(v.why.length > 0, v.name);
  }
});
