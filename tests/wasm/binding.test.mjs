// The JavaScript binding under Node: the same wasm module the page loads (web/core/), a full
// conversation, sealed state, sealed sender envelopes, error mapping, no heap growth over 10,000
// calls, and no key or plaintext left behind in the module's memory.
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

test('sealed sender: round trip at the class boundaries, and a first message that travels sealed', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  bob.generatePrekeys(1);
  assert.equal(core.sealedSize(5, 405), 512);
  assert.equal(core.sealedSize(5, 406), 2048);
  assert.equal(core.sealedSize(5, core.SEALED_MAX - 102 - 5), core.SEALED_MAX);
  assert.equal(core.sealedSize(5, core.SEALED_MAX - 102 - 4), 0);
  assert.equal(core.sealedSize(0, 1), 0);
  assert.equal(core.sealedSize(65, 1), 0);
  for (const len of [0, 405, 406, 1941, 1942, 65536 - 107]) {
    const msg = new Uint8Array(len).map((_, i) => i * 7 + 3);
    const env = alice.sealTo(bob.identityKey(), 'alice', msg);
    assert.equal(env.length, core.sealedSize(5, len));
    const opened = bob.openSealed(env);
    assert.deepEqual(opened.senderIdentity, alice.identityKey());
    assert.equal(opened.sender, 'alice');
    assert.deepEqual(opened.message, msg);
  }
  // What the page does: the prekey message of a new session goes sealed to the mailbox.
  const outbound = core.Session.outbound(alice, singleBundle(bob.bundle()));
  const env = alice.sealTo(bob.identityKey(), 'alice', outbound.encrypt('hello through the mailbox'));
  const { senderIdentity, sender, message } = bob.openSealed(env);
  assert.equal(sender, 'alice');
  assert.deepEqual(core.messageSenderIdentity(message), senderIdentity, 'the sealed key is the X3DH key');
  const { session, plaintext } = core.Session.inbound(bob, message);
  assert.equal(text(plaintext), 'hello through the mailbox');
  assert.deepEqual(session.peerIdentity(), senderIdentity);
  for (const o of [alice, bob, outbound, session]) o.free();
});

test('sealed sender: refusals are ParleyErrors, bad types TypeErrors', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const carol = core.Account.create();
  const env = alice.sealTo(bob.identityKey(), 'alice', new Uint8Array([1, 2, 3]));
  const isCode = (name) => (e) => e instanceof core.ParleyError && e.codeName === name;
  assert.throws(() => carol.openSealed(env), isCode('AUTH'));
  const flipped = env.slice();
  flipped[200] ^= 1;
  assert.throws(() => bob.openSealed(flipped), isCode('AUTH'));
  flipped[200] ^= 1;
  flipped[0] = 2;
  assert.throws(() => bob.openSealed(flipped), isCode('VERSION'));
  assert.throws(() => bob.openSealed(env.subarray(0, 511)), isCode('MALFORMED'));
  assert.throws(() => bob.openSealed(new Uint8Array(0)), isCode('MALFORMED'));
  const lowOrder = env.slice();
  lowOrder.fill(0, 1, 33);
  assert.throws(() => bob.openSealed(lowOrder), isCode('WEAK_KEY'));
  assert.throws(() => alice.sealTo(bob.identityKey(), '', new Uint8Array(1)), isCode('ARGUMENT'));
  assert.throws(() => alice.sealTo(bob.identityKey(), 'x'.repeat(65), new Uint8Array(1)), isCode('ARGUMENT'));
  assert.equal(alice.sealTo(bob.identityKey(), 'é'.repeat(32), new Uint8Array(1)).length, 512, '64 bytes of UTF-8');
  assert.throws(() => alice.sealTo(bob.identityKey(), 'é'.repeat(33), new Uint8Array(1)), isCode('ARGUMENT'));
  assert.throws(() => alice.sealTo(bob.identityKey(), 'alice', new Uint8Array(65536)), isCode('TOO_LARGE'));
  const smallOrder = new Uint8Array(32);
  smallOrder[0] = 1;
  assert.throws(() => alice.sealTo(smallOrder, 'alice', new Uint8Array(1)), isCode('WEAK_KEY'));
  assert.throws(() => alice.sealTo(bob.identityKey().subarray(1), 'alice', new Uint8Array(1)), TypeError);
  assert.throws(() => alice.sealTo(bob.identityKey(), new Uint8Array(5), new Uint8Array(1)), TypeError);
  assert.throws(() => alice.sealTo(bob.identityKey(), 'alice', 'text'), TypeError);
  assert.throws(() => bob.openSealed([1, 2, 3]), TypeError);
  // A name that is not UTF-8 (sealed through the C API directly) is refused by the binding.
  const m = module;
  const key = m._malloc(32);
  const name = m._malloc(1);
  const out = m._malloc(512);
  const len = m._malloc(4);
  m.HEAPU8.set(bob.identityKey(), key);
  m.HEAPU8[name] = 0xff;
  assert.equal(m._parley_sealed_seal(alice.ptr, key, name, 1, 0, 0, out, 512, len), 0);
  const badName = m.HEAPU8.slice(out, out + 512);
  for (const p of [key, name, out, len]) m._free(p);
  assert.throws(() => bob.openSealed(badName), isCode('MALFORMED'));
  bob.free();
  assert.throws(() => bob.openSealed(env), isCode('STATE'));
  for (const o of [alice, carol]) o.free();
});

test('sealed sender: no heap growth over 1,000 rounds of seal, open and a refused open; nothing left in the heap', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const carol = core.Account.create();
  const marker = new TextEncoder().encode('SEALED-MESSAGE-MARKER-0123456789-abcdefghijklmn');
  const payload = new Uint8Array(1000).fill(9);
  for (let i = 0; i < 20; i += 1) bob.openSealed(alice.sealTo(bob.identityKey(), 'alice', payload));
  const before = core.heapUsed();
  for (let i = 0; i < 1000; i += 1) {
    const env = alice.sealTo(bob.identityKey(), 'alice', payload);
    bob.openSealed(env);
    assert.throws(() => carol.openSealed(env), (e) => e.codeName === 'AUTH');
  }
  const after = core.heapUsed();
  assert.ok(before > 0, 'heap accounting works');
  assert.equal(after, before, `heap in use before ${before}, after ${after}`);
  const env = alice.sealTo(bob.identityKey(), 'alice', marker);
  assert.deepEqual(bob.openSealed(env).message, marker);
  assert.throws(() => carol.openSealed(env), (e) => e.codeName === 'AUTH');
  const heap = module.HEAPU8;
  for (let i = heap.indexOf(marker[0]); i !== -1; i = heap.indexOf(marker[0], i + 1)) {
    let j = 1;
    while (j < marker.length && heap[i + j] === marker[j]) j += 1;
    assert.notEqual(j, marker.length, 'a sealed message left in wasm memory');
  }
  for (const o of [alice, bob, carol]) o.free();
});
