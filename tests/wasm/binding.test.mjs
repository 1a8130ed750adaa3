// The JavaScript binding under Node: the same wasm module the page loads (web/core/), a full
// conversation, sealed state, sealed sender envelopes, device lists, identity transfer, error
// mapping, no heap growth over 10,000 calls, and no key or plaintext left behind in the module's
// memory.
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

test('device lists: encode, sign, open, and every refusal as a ParleyError', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const isCode = (name) => (e) => e instanceof core.ParleyError && e.codeName === name;
  const list = core.encodeDeviceList(1, [{ id: 1, label: 'Chromium on Linux' }, { id: 7, label: '' }]);
  assert.equal(list.length, 6 + 5 + 17 + 5);
  const signed = alice.signDevices(list);
  assert.equal(signed.length, list.length + core.SIGNATURE_BYTES);
  assert.deepEqual(signed.subarray(0, list.length), list);
  const opened = core.openDevices(alice.identityKey(), signed);
  assert.equal(opened.generation, 1);
  assert.deepEqual(opened.devices.map((d) => d.id), [1, 7]);
  assert.equal(text(opened.devices[0].label), 'Chromium on Linux');
  assert.ok(opened.devices[1].label instanceof Uint8Array && opened.devices[1].label.length === 0);
  // The largest list, with labels given as bytes and as multi-byte UTF-8.
  const eight = Array.from({ length: core.MAX_DEVICES }, (_, i) => ({
    id: core.DEVICE_ID_MAX - 7 + i,
    label: i % 2 ? new Uint8Array(core.DEVICE_LABEL_MAX).fill(i) : 'é'.repeat(32),
  }));
  const big = alice.signDevices(core.encodeDeviceList(0xffffffff, eight));
  assert.equal(big.length, core.DEVICES_MAX_BYTES);
  const bigOpened = core.openDevices(alice.identityKey(), big);
  assert.equal(bigOpened.generation, 0xffffffff);
  bigOpened.devices.forEach((d, i) => {
    assert.equal(d.id, eight[i].id);
    assert.deepEqual(d.label, i % 2 ? eight[i].label : new TextEncoder().encode(eight[i].label));
  });
  // Refusals of the reader.
  assert.throws(() => core.openDevices(bob.identityKey(), signed), isCode('BAD_SIGNATURE'));
  assert.throws(() => core.openDevices(alice.identityKey(), bob.signDevices(list)), isCode('BAD_SIGNATURE'));
  assert.throws(() => core.openDevices(alice.identityKey(), new Uint8Array(0)), isCode('MALFORMED'));
  const v2 = signed.slice();
  v2[0] = 2;
  assert.throws(() => core.openDevices(alice.identityKey(), v2), isCode('VERSION'));
  assert.throws(() => core.openDevices(alice.identityKey(), signed.subarray(0, signed.length - 1)), isCode('MALFORMED'));
  const trailing = new Uint8Array(signed.length + 1);
  trailing.set(signed);
  assert.throws(() => core.openDevices(alice.identityKey(), trailing), isCode('MALFORMED'));
  for (const i of [1, 5, 9, 20, signed.length - 1]) {
    const flipped = signed.slice();
    flipped[i] ^= 0x10;
    assert.throws(() => core.openDevices(alice.identityKey(), flipped), (e) => e instanceof core.ParleyError);
  }
  // Refusals of the signer: lists the encoder would not write, built by hand.
  const zeroGen = list.slice();
  zeroGen.fill(0, 1, 5);
  assert.throws(() => alice.signDevices(zeroGen), isCode('MALFORMED'));
  assert.throws(() => alice.signDevices(list.subarray(0, list.length - 1)), isCode('MALFORMED'));
  assert.throws(() => alice.signDevices(new Uint8Array([3, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0])), isCode('VERSION'));
  // The encoder's own checks.
  assert.throws(() => core.encodeDeviceList(0, [{ id: 1, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(2 ** 32, [{ id: 1, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1.5, [{ id: 1, label: '' }]), TypeError);
  assert.throws(() => core.encodeDeviceList(1, []), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [...eight, { id: core.DEVICE_ID_MAX, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 2, label: '' }, { id: 2, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 3, label: '' }, { id: 2, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 0, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 2 ** 31, label: '' }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 1, label: 'x'.repeat(65) }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 1, label: 'é'.repeat(33) }]), RangeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: 1, label: 5 }]), TypeError);
  assert.throws(() => core.encodeDeviceList(1, [{ id: '1', label: '' }]), TypeError);
  assert.throws(() => core.encodeDeviceList(1, 'devices'), TypeError);
  assert.throws(() => alice.signDevices([1, 2, 3]), TypeError);
  assert.throws(() => core.openDevices(alice.identityKey().subarray(1), signed), TypeError);
  for (const o of [alice, bob]) o.free();
});

test('identity transfer: a linked account has the same identity and its own prekeys', () => {
  const alice = core.Account.create();
  alice.generatePrekeys(3);
  alice.rotateSignedPrekey();
  const carol = core.Account.create();
  const key = core.randomBytes(32);
  const isCode = (name) => (e) => e instanceof core.ParleyError && e.codeName === name;
  const transfer = alice.exportIdentity(key);
  assert.equal(transfer.length, core.IDENTITY_TRANSFER_BYTES);
  assert.equal(transfer[0], 1);
  assert.notDeepEqual(alice.exportIdentity(key), transfer, 'a fresh nonce each time');
  const linked = core.Account.linked(key, transfer);
  assert.deepEqual(linked.identityKey(), alice.identityKey());
  assert.equal(linked.signedPrekeyId, 1);
  assert.equal(linked.prekeyCount, 0);
  assert.notDeepEqual(linked.bundle().subarray(37, 69), alice.bundle().subarray(37, 69), 'its own signed prekey');
  // Both devices sign the same device list the same way (one identity key).
  const list = core.encodeDeviceList(2, [{ id: 1, label: 'old' }, { id: 2, label: 'new' }]);
  assert.deepEqual(linked.signDevices(list), alice.signDevices(list));
  // A contact can start a session with the new device's bundle, and envelopes sealed to the
  // identity open there.
  linked.generatePrekeys(1);
  const outbound = core.Session.outbound(carol, singleBundle(linked.bundle()));
  const { session, plaintext } = core.Session.inbound(linked, outbound.encrypt('hello, new device'));
  assert.equal(text(plaintext), 'hello, new device');
  assert.deepEqual(session.peerIdentity(), carol.identityKey());
  assert.equal(linked.openSealed(carol.sealTo(alice.identityKey(), 'carol', new Uint8Array([1]))).sender, 'carol');
  // Refusals.
  const wrong = key.slice();
  wrong[0] ^= 1;
  assert.throws(() => core.Account.linked(wrong, transfer), isCode('AUTH'));
  assert.throws(() => core.Account.linked(key, new Uint8Array(0)), isCode('MALFORMED'));
  const v2 = transfer.slice();
  v2[0] = 2;
  assert.throws(() => core.Account.linked(key, v2), isCode('VERSION'));
  assert.throws(() => core.Account.linked(key, transfer.subarray(0, 60)), isCode('MALFORMED'));
  const flipped = transfer.slice();
  flipped[40] ^= 4;
  assert.throws(() => core.Account.linked(key, flipped), isCode('AUTH'));
  assert.throws(() => core.Account.linked(key.subarray(1), transfer), TypeError);
  assert.throws(() => alice.exportIdentity('key'), TypeError);
  for (const o of [alice, carol, linked, outbound, session]) o.free();
});

test('devices and transfer: no heap growth over 1,000 rounds, no transfer key left in the heap', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const key = core.randomBytes(32);
  const list = core.encodeDeviceList(3, [{ id: 1, label: 'one' }, { id: 2, label: 'two' }]);
  const round = () => {
    const signed = alice.signDevices(list);
    core.openDevices(alice.identityKey(), signed);
    assert.throws(() => core.openDevices(bob.identityKey(), signed), (e) => e.codeName === 'BAD_SIGNATURE');
    assert.throws(() => alice.signDevices(list.subarray(1)), (e) => e.codeName === 'VERSION');
    const transfer = alice.exportIdentity(key);
    core.Account.linked(key, transfer).free();
    assert.throws(() => core.Account.linked(core.randomBytes(32), transfer), (e) => e.codeName === 'AUTH');
  };
  for (let i = 0; i < 20; i += 1) round();
  const before = core.heapUsed();
  for (let i = 0; i < 1000; i += 1) round();
  const after = core.heapUsed();
  assert.ok(before > 0, 'heap accounting works');
  assert.equal(after, before, `heap in use before ${before}, after ${after}`);
  const heap = module.HEAPU8;
  for (let i = heap.indexOf(key[0]); i !== -1; i = heap.indexOf(key[0], i + 1)) {
    let j = 1;
    while (j < key.length && heap[i + j] === key[j]) j += 1;
    assert.notEqual(j, key.length, 'a transfer key left in wasm memory');
  }
  for (const o of [alice, bob]) o.free();
});

test('devices and transfer: the binding reproduces and opens the protocol vectors', () => {
  const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/protocol-v1.json`, 'utf8'));
  const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
  const d = V.devices;
  assert.deepEqual(core.encodeDeviceList(d.generation, d.devices), hex(d.list));
  const opened = core.openDevices(hex(d.identityKey), hex(d.signed));
  assert.equal(opened.generation, d.generation);
  assert.deepEqual(opened.devices.map(({ id, label }) => ({ id, label: text(label) })), d.devices);
  const t = V.identityTransfer;
  const linked = core.Account.linked(hex(t.key), hex(t.transfer));
  assert.deepEqual(linked.identityKey(), hex(t.identityKey));
  assert.deepEqual(linked.signDevices(hex(d.list)), hex(d.signed), 'the new device signs as Alice');
  linked.free();
});
