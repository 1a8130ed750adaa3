// The everyday payloads (docs/PROTOCOL.md 12.15) without a browser: every payload of
// docs/vectors/everyday-v1.json is read by the page's own strict reader (web/js/everyday-wire.js),
// the valid ones as themselves, the invalid ones refused; and the reader's limits are the
// document's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/everyday-v1.json'), 'utf8'));
const wire = await import(`${ROOT}/web/js/everyday-wire.js`);

test('every valid vector is read as itself', () => {
  assert.equal(V.version, 1);
  assert.ok(V.valid.length >= 15);
  for (const { payload, own } of V.valid) {
    assert.deepEqual(wire.readEveryday(payload, { own }), payload, JSON.stringify(payload).slice(0, 120));
  }
  // Every kind, from a contact and from an own device where allowed.
  assert.deepEqual(new Set(V.valid.map((v) => v.payload.t)), wire.EVERYDAY_KINDS);
  assert.deepEqual(new Set(V.valid.filter((v) => v.own).map((v) => v.payload.t)), wire.OWN_KINDS);
});

test('every invalid vector is refused with a PayloadError', () => {
  assert.ok(V.invalid.length >= 30);
  for (const { payload, own, why } of V.invalid) {
    assert.throws(() => wire.readEveryday(payload, { own }), wire.PayloadError, why);
  }
});

test('the reader keeps only what it read: the result is a fresh object', () => {
  const p = { t: 'read', ids: ['0123456789abcdef0123456789abcdef'] };
  const r = wire.readEveryday(p);
  assert.notEqual(r, p);
  assert.notEqual(r.ids, p.ids);
  p.ids.push('x');
  assert.equal(r.ids.length, 1);
  // An inherited field is not one of the payload's own.
  const proto = Object.create({ t: 'typing', on: true });
  assert.throws(() => wire.readEveryday(proto), wire.PayloadError);
});

test("the document's constants: timers, reactions, text and receipt limits", () => {
  const doc = readFileSync(join(ROOT, 'docs/PROTOCOL.md'), 'utf8');
  const start = doc.indexOf('### 12.15 Everyday payloads');
  assert.ok(start > 0, 'section 12.15');
  const section = doc.slice(start, doc.indexOf('\n### ', start + 1));
  assert.deepEqual(wire.TIMERS, [0, 30, 300, 3600, 86400, 604800, 2419200]);
  for (const s of wire.TIMERS) assert.ok(section.includes(`\`${s}\``), `timer ${s} documented`);
  for (const e of wire.EMOJI) assert.ok(section.includes(`\`${e}\``), `emoji ${e} documented`);
  assert.equal(wire.MAX_TEXT, 16384);
  assert.equal(wire.MAX_READ_IDS, 256);
  assert.ok(section.includes('1..16384') && section.includes('1..256'));
});

test('wirePayload: an own entry travels as the payload the reader takes', () => {
  const id = '0123456789abcdef0123456789abcdef';
  const of = 'fedcba9876543210fedcba9876543210';
  const entries = [
    { id, from: 'me', text: 'hi', ts: 5, state: 'queued', reply: of, exp: 30, expiresAt: 30005 },
    { id, from: 'me', text: '', ts: 5, state: 'queued', kind: 'edit', of, body: 'new' },
    { id, from: 'me', text: '', ts: 5, state: 'queued', kind: 'delete', of },
    { id, from: 'me', text: '', ts: 5, state: 'queued', kind: 'react', of, emoji: '' },
    { id, from: 'me', text: 'You set…', ts: 5, state: 'queued', kind: 'timer', secs: 300 },
  ];
  for (const e of entries) {
    const p = wire.wirePayload(e);
    assert.deepEqual(wire.readEveryday(JSON.parse(JSON.stringify(p))), p);
    if (e.kind) assert.deepEqual(wire.readEveryday(wire.wirePayload(e, 'alice'), { own: true }), { ...p, peer: 'alice' });
  }
});
