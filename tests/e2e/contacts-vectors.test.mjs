// The vault record "blocks" and the "remove" payload (docs/PROTOCOL.md 12.16) without a browser:
// docs/vectors/contacts-v1.json read with the page's own strict reader (web/js/contacts.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/contacts-v1.json'), 'utf8'));

async function load() {
  await nodeCore();
  return import(`${ROOT}/web/js/contacts.js`);
}

test('blocks record: the valid vectors read as given and write back the same; the invalid ones are refused whole', async () => {
  const { parseBlocks, blocksValue } = await load();
  for (const v of V.valid) {
    const got = parseBlocks(v.value);
    assert.deepEqual([...got.blocked], v.blocked);
    assert.deepEqual([...got.declined], v.declined);
    assert.deepEqual(parseBlocks(JSON.parse(JSON.stringify(blocksValue(got.blocked, got.declined)))), got);
  }
  for (const bad of V.invalid) assert.throws(() => parseBlocks(bad), TypeError, JSON.stringify(bad));
});

test('blocks record: at most 1024 entries in each map', async () => {
  const { parseBlocks, MAX_BLOCKED, MAX_DECLINED } = await load();
  const many = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`user${i}`, i]));
  assert.equal(parseBlocks({ v: 1, blocked: many(MAX_BLOCKED), declined: many(MAX_DECLINED) }).blocked.size, 1024);
  assert.throws(() => parseBlocks({ v: 1, blocked: many(MAX_BLOCKED + 1), declined: {} }), TypeError);
  assert.throws(() => parseBlocks({ v: 1, blocked: {}, declined: many(MAX_DECLINED + 1) }), TypeError);
});

test('remove payload: exactly {"t":"remove"}', async () => {
  const { isRemovePayload } = await load();
  for (const p of V.remove.valid) assert.equal(isRemovePayload(p), true);
  for (const p of V.remove.invalid) assert.equal(isRemovePayload(p), false, JSON.stringify(p));
});

test('a Block or Unblock copied to our own devices: exactly the fields of its kind, read strictly', async () => {
  const { parseOwnBlock } = await load();
  for (const v of V.ownBlock.valid) {
    assert.deepEqual(parseOwnBlock(v.payload), { block: v.block, name: v.name, at: v.at, cap: v.cap });
  }
  for (const p of V.ownBlock.invalid) assert.equal(parseOwnBlock(p), null, JSON.stringify(p));
});

test('presence settings copied to our own devices: exactly four fields, read strictly', async () => {
  const { parseOwnPresence } = await load();
  for (const v of V.ownPresence.valid) {
    assert.deepEqual(parseOwnPresence(v.payload), { at: v.at, cap: v.cap, visible: v.visible });
  }
  for (const p of V.ownPresence.invalid) assert.equal(parseOwnPresence(p), null, JSON.stringify(p));
});

test('notify record: the valid vectors read as given; the invalid ones are refused whole', async () => {
  await nodeCore();
  const { parseNotify } = await import(`${ROOT}/web/js/notify.js`);
  for (const v of V.notify.valid) assert.deepEqual(parseNotify(v.value), { text: v.text, sound: v.sound });
  for (const bad of V.notify.invalid) assert.throws(() => parseNotify(bad), TypeError, JSON.stringify(bad));
});
