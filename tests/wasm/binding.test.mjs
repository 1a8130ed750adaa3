// The JavaScript binding under Node: the same wasm module the page loads (web/core/), a full
// conversation, sealed state, error mapping, no heap growth over 10,000 calls, and no key or
// plaintext left behind in the module's memory.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ROOT } from '../lib/server.mjs';

const core = await import(`${ROOT}/web/core/parley.js`);
let module;

before(async () => {
  module = await core.init({ wasmBinary: readFileSync(`${ROOT}/web/core/parley-core.wasm`) });
});

const text = (b) => new TextDecoder().decode(b);

// The bundle the directory hands out: identity, signed prekey and at most one one-time prekey.
function singleBundle(full) {
  const count = (full[133] << 8) | full[134];
  if (count === 0) return full;
  const one = new Uint8Array(135 + 36);
  one.set(full.subarray(0, 135 + 36));
  one[133] = 0;
  one[134] = 1;
  return one;
}

function startChat() {
  const alice = core.Account.create();
  const bob = core.Account.create();
  bob.generatePrekeys(5);
  const outbound = core.Session.outbound(alice, singleBundle(bob.bundle()));
  const first = outbound.encrypt('hello Bob');
  assert.equal(core.messageType(first), core.MESSAGE_PREKEY);
  assert.deepEqual(core.messageSenderIdentity(first), alice.identityKey());
  const { session: inbound, plaintext } = core.Session.inbound(bob, first);
  assert.equal(text(plaintext), 'hello Bob');
  return { alice, bob, a: outbound, b: inbound };
}

test('init() is memoised and the module self-tests', async () => {
  assert.equal(await core.init(), module);
  core.selftest();
  assert.match(core.version(), /^\d+\.\d+\.\d+$/);
});

test('a conversation in both directions through the binding', () => {
  const { alice, bob, a, b } = startChat();
  assert.equal(bob.prekeyCount, 4, 'one one-time prekey spent');
  assert.deepEqual(a.peerIdentity(), bob.identityKey());
  assert.deepEqual(b.peerIdentity(), alice.identityKey());
  for (let i = 0; i < 20; i += 1) {
    const [from, to] = i % 3 === 0 ? [b, a] : [a, b];
    const msg = `message ${i} — ünïcödé ✓ 👋`;
    assert.equal(text(to.decrypt(from.encrypt(msg))), msg);
  }
  const safety = core.safetyNumber(alice.identityKey(), bob.identityKey());
  assert.match(safety, /^\d{60}$/);
  assert.equal(core.safetyNumber(bob.identityKey(), alice.identityKey()), safety);
  assert.equal(core.safetyQr(alice.identityKey(), bob.identityKey()).length, 65);
  for (const o of [alice, bob, a, b]) o.free();
});

test('sealed state round trips and refuses a wrong key', () => {
  const { alice, bob, a, b } = startChat();
  const key = core.randomBytes(32);
  const sealedA = a.seal(key);
  const sealedAlice = alice.seal(key);
  a.free();
  alice.free();
  const alice2 = core.Account.unseal(key, sealedAlice);
  const a2 = core.Session.unseal(key, sealedA);
  assert.equal(text(b.decrypt(a2.encrypt('after reload'))), 'after reload');
  assert.equal(text(a2.decrypt(b.encrypt('welcome back'))), 'welcome back');
  const wrong = key.slice();
  wrong[0] ^= 1;
  assert.throws(() => core.Session.unseal(wrong, sealedA), (e) => e instanceof core.ParleyError && e.codeName === 'AUTH');
  assert.throws(() => core.Account.unseal(key, sealedA), (e) => e.code === core.ErrorCode.MALFORMED);
  for (const o of [alice2, bob, a2, b]) o.free();
});

test('errors are mapped to ParleyError codes, and bad types to TypeError', () => {
  const { alice, bob, a, b } = startChat();
  const msg = a.encrypt('once');
  b.decrypt(msg);
  assert.throws(() => b.decrypt(msg), (e) => e instanceof core.ParleyError && e.code === -10 && e.codeName === 'DUPLICATE');
  const forged = a.encrypt('forged');
  forged[forged.length - 1] ^= 1;
  assert.throws(() => b.decrypt(forged), (e) => e.codeName === 'AUTH');
  assert.throws(() => b.decrypt(new Uint8Array([9, 1, 2])), (e) => e.codeName === 'VERSION');
  assert.throws(() => b.decrypt(new Uint8Array([1, 1, 2])), (e) => e.codeName === 'MALFORMED');
  assert.throws(() => core.Session.outbound(alice, new Uint8Array(10)), (e) => e.codeName === 'MALFORMED');
  const badSig = singleBundle(bob.bundle());
  badSig[100] ^= 1;
  assert.throws(() => core.Session.outbound(alice, badSig), (e) => e.codeName === 'BAD_SIGNATURE');
  assert.throws(() => b.decrypt('not bytes'), TypeError);
  assert.throws(() => a.seal(new Uint8Array(31)), TypeError);
  assert.throws(() => bob.generatePrekeys(0), (e) => e.codeName === 'ARGUMENT');
  a.free();
  assert.throws(() => a.encrypt('x'), (e) => e.codeName === 'STATE');
  a.free(); // a second free is harmless
  for (const o of [alice, bob, b]) o.free();
});

test('challenges, password derivation and primitives', () => {
  const acc = core.Account.create();
  const nonce = core.randomBytes(32);
  const sig = acc.signChallenge('room-1', 1763900000000, nonce);
  assert.equal(core.verifyChallenge(acc.identityKey(), 'room-1', 1763900000000, nonce, sig), true);
  assert.equal(core.verifyChallenge(acc.identityKey(), 'room-2', 1763900000000, nonce, sig), false);
  assert.throws(() => acc.signChallenge('room-1', 1.5, nonce), (e) => e.codeName === 'ARGUMENT');
  const salt = core.passwordSalt('http://127.0.0.1:8080\u0000alice');
  assert.equal(salt.length, 16);
  const t0 = performance.now();
  const k1 = core.passwordDerive('correct horse battery staple', salt, 64);
  const ms = performance.now() - t0;
  assert.deepEqual(core.passwordDerive('correct horse battery staple', salt, 64), k1);
  assert.notDeepEqual(core.passwordDerive('correct horse battery stapler', salt, 64), k1);
  console.log(`# Argon2id (t=3, m=32 MiB) in wasm under Node: ${ms.toFixed(0)} ms`);
  acc.free();
});

test('no heap growth over 10,000 encrypt/decrypt calls', () => {
  const { alice, bob, a, b } = startChat();
  const payload = new Uint8Array(100).fill(7);
  // Warm up: the first replies grow the ratchet's structures once.
  for (let i = 0; i < 50; i += 1) b.decrypt(a.encrypt(payload));
  const before = core.heapUsed();
  for (let i = 0; i < 5000; i += 1) {
    b.decrypt(a.encrypt(payload));
    a.decrypt(b.encrypt(payload));
  }
  const after = core.heapUsed();
  assert.ok(before > 0, 'heap accounting works');
  assert.equal(after, before, `heap in use before ${before}, after ${after}`);
  for (const o of [alice, bob, a, b]) o.free();
});

test('no key or plaintext is left in the module heap after a call', () => {
  const { alice, bob, a, b } = startChat();
  const marker = new TextEncoder().encode('SECRET-PLAINTEXT-MARKER-0123456789-abcdefghij');
  const key = core.randomBytes(32);
  const msg = a.encrypt(marker);
  assert.deepEqual(b.decrypt(msg), marker);
  a.seal(key);
  const aeadKey = core.randomBytes(32);
  core.aeadOpen(aeadKey, new Uint8Array(12), new Uint8Array(0),
    core.aeadSeal(aeadKey, new Uint8Array(12), new Uint8Array(0), marker));
  const heap = module.HEAPU8;
  const find = (needle) => {
    for (let i = heap.indexOf(needle[0]); i !== -1; i = heap.indexOf(needle[0], i + 1)) {
      let j = 1;
      while (j < needle.length && heap[i + j] === needle[j]) j += 1;
      if (j === needle.length) return i;
    }
    return -1;
  };
  assert.equal(find(marker), -1, 'plaintext left in wasm memory');
  assert.equal(find(key), -1, 'sealing key left in wasm memory');
  assert.equal(find(aeadKey), -1, 'AEAD key left in wasm memory');
  for (const o of [alice, bob, a, b]) o.free();
});
