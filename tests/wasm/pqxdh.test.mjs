// PQXDH (protocol version 2) through the JavaScript binding: the page's calls for KEM prekeys
// (generate, upload, publish, rotate), a version 2 session from a bundle and one KEM prekey
// record, the responder's answer, sealed state of both versions, errors, and no heap growth.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ROOT } from '../lib/server.mjs';

const core = await import(`${ROOT}/web/core/parley.js`);

before(async () => {
  await core.init({ wasmBinary: readFileSync(`${ROOT}/web/core/parley-core.wasm`) });
});

const text = (b) => new TextDecoder().decode(b);

// The bundle the directory hands out: identity, signed prekey and at most one one-time prekey.
function singleBundle(full, withOpk = true) {
  const count = (full[133] << 8) | full[134];
  const one = new Uint8Array(135 + (withOpk && count ? 36 : 0));
  one.set(full.subarray(0, one.length));
  one[133] = 0;
  one[134] = withOpk && count ? 1 : 0;
  return one;
}

test('KEM prekeys: generate, upload layout, publish, forget, the named limit', () => {
  const bob = core.Account.create();
  assert.equal(bob.kemPrekeyId, 1, 'a new account has a last-resort KEM prekey');
  bob.generateKemPrekeys(3);
  assert.equal(bob.kemPrekeyCount, 3);
  const up = core.parseKemUpload(bob.kemUpload());
  assert.deepEqual(up.identityKey, bob.identityKey());
  assert.equal(up.lastResort.id, 1);
  assert.deepEqual(up.oneTime.map((k) => k.id), [2, 3, 4]);
  assert.equal(up.oneTime[0].record.length, core.KEM_PREKEY_BYTES);
  bob.markKemPublished();
  assert.equal(bob.kemUnpublishedCount, 0);
  assert.equal(core.parseKemUpload(bob.kemUpload()).oneTime.length, 0);
  assert.equal(bob.forgetKemPrekeys(1), 1);
  bob.generateKemPrekeys(97);
  assert.throws(() => bob.generateKemPrekeys(2), (e) => e.code === core.ErrorCode.LIMIT);
  assert.equal(bob.kemPrekeyCount, core.MAX_KEM_PREKEYS - 1);
  const bad = bob.kemUpload();
  bad[0] = 2;
  assert.throws(() => core.parseKemUpload(bad), (e) => e.code === core.ErrorCode.VERSION);
  assert.throws(() => core.parseKemUpload(bad.subarray(0, 100)), (e) => e.code === core.ErrorCode.VERSION);
  bob.rotateKemPrekey();
  assert.equal(bob.kemPrekeyId, 102);
  bob.free();
});

for (const [name, withOpk, oneTimeKem] of [
  ['one-time prekey and one-time KEM prekey', true, true],
  ['no one-time prekey, one-time KEM prekey', false, true],
  ['one-time prekey, last-resort KEM prekey', true, false],
  ['last-resort KEM prekey only', false, false],
]) {
  test(`a version 2 conversation: ${name}`, () => {
    const alice = core.Account.create();
    const bob = core.Account.create();
    bob.generatePrekeys(2);
    bob.generateKemPrekeys(2);
    const up = core.parseKemUpload(bob.kemUpload());
    const kem = oneTimeKem ? up.oneTime[1].record : up.lastResort.record;
    const a = core.Session.outboundPq(alice, singleBundle(bob.bundle(), withOpk), kem);
    assert.equal(a.version, 2);
    const first = a.encrypt('hello Bob');
    assert.equal(core.messageType(first), core.MESSAGE_PREKEY_PQ);
    assert.deepEqual(core.messageSenderIdentity(first), alice.identityKey());
    const { session: b, plaintext } = core.Session.inbound(bob, first);
    assert.equal(text(plaintext), 'hello Bob');
    assert.equal(b.version, 2);
    assert.equal(bob.kemPrekeyCount, oneTimeKem ? 1 : 2);
    assert.equal(bob.prekeyCount, withOpk ? 1 : 2);
    const reply = b.encrypt('hi Alice');
    assert.equal(core.messageType(reply), core.MESSAGE_RATCHET);
    assert.equal(text(a.decrypt(reply)), 'hi Alice');
    assert.equal(core.messageType(a.encrypt('next')), core.MESSAGE_RATCHET);
    // Sealed state of the version 2 objects.
    const key = new Uint8Array(32).fill(3);
    const restored = core.Session.unseal(key, b.seal(key));
    assert.equal(restored.version, 2);
    const bob2 = core.Account.unseal(key, bob.seal(key));
    assert.equal(bob2.kemPrekeyCount, bob.kemPrekeyCount);
    for (const o of [alice, bob, a, b, restored, bob2]) o.free();
  });
}

test('version 2 refusals are ParleyErrors; version 1 keeps working beside it', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const carol = core.Account.create();
  bob.generateKemPrekeys(1);
  const bundle = singleBundle(bob.bundle());
  const rec = core.parseKemUpload(bob.kemUpload()).oneTime[0].record;
  const carolRec = core.parseKemUpload(carol.kemUpload()).lastResort.record;
  const code = (c) => (e) => e instanceof core.ParleyError && e.code === c;
  assert.throws(() => core.Session.outboundPq(alice, bundle, carolRec), code(core.ErrorCode.BAD_SIGNATURE));
  assert.throws(() => core.Session.outboundPq(alice, bundle, rec.subarray(1)), code(core.ErrorCode.MALFORMED));
  assert.throws(() => core.Session.outboundPq(alice, bundle, 'x'), TypeError);
  const a = core.Session.outboundPq(alice, bundle, rec);
  const first = a.encrypt('x');
  assert.throws(() => core.Session.inbound(carol, first), code(core.ErrorCode.UNKNOWN_PREKEY));
  core.Session.inbound(bob, first).session.free();
  assert.throws(() => core.Session.inbound(bob, first), code(core.ErrorCode.UNKNOWN_PREKEY));
  // Version 1 between the same accounts.
  const v1 = core.Session.outbound(alice, bundle);
  assert.equal(v1.version, 1);
  const m = v1.encrypt('old');
  assert.equal(core.messageType(m), core.MESSAGE_PREKEY);
  const { session, plaintext } = core.Session.inbound(bob, m);
  assert.equal(text(plaintext), 'old');
  assert.equal(session.version, 1);
  for (const o of [alice, bob, carol, a, v1, session]) o.free();
});

test('version 2: no heap growth over 50 session starts and answers', () => {
  const alice = core.Account.create();
  const bob = core.Account.create();
  const bundle = singleBundle(bob.bundle());
  const rec = core.parseKemUpload(bob.kemUpload()).lastResort.record;
  const round = () => {
    const a = core.Session.outboundPq(alice, bundle, rec);
    const { session } = core.Session.inbound(bob, a.encrypt('ping'));
    a.free();
    session.free();
  };
  round();
  const start = core.heapUsed();
  for (let i = 0; i < 50; i += 1) round();
  assert.equal(core.heapUsed(), start);
  alice.free();
  bob.free();
});

test('version 2: no KEM shared secret or expanded decapsulation key is left in the module memory', async () => {
  const { createDecipheriv } = await import('node:crypto');
  const { ml_kem1024: noble } = await import('@noble/post-quantum/ml-kem.js');
  const m = await core.init();
  const alice = core.Account.create();
  const bob = core.Account.create();
  bob.generateKemPrekeys(1);
  const rec = core.parseKemUpload(bob.kemUpload()).oneTime[0].record;
  const a = core.Session.outboundPq(alice, singleBundle(bob.bundle()), rec);
  const first = a.encrypt('kem');
  // Bob's one-time KEM seed, read from his sealed account (docs/PROTOCOL.md 6.3), before it is spent.
  const key = core.randomBytes(32);
  const sealed = bob.seal(key);
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(2, 14));
  d.setAAD(sealed.subarray(0, 2));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([d.update(sealed.subarray(14, sealed.length - 16)), d.final()]);
  assert.equal(plain[0], 2);
  // The one-time KEM prekey is the last kem entry: id(4) seed(64) sig(64) published(1).
  const seed = plain.subarray(plain.length - 133 + 4, plain.length - 133 + 68);
  const { secretKey } = noble.keygen(seed);
  const ct = first.subarray(78, 78 + 1568);
  const ss = noble.decapsulate(ct, secretKey);
  const { session: b } = core.Session.inbound(bob, first);
  assert.equal(bob.kemPrekeyCount, 0);
  const heap = m.HEAPU8;
  const find = (needle) => {
    for (let i = heap.indexOf(needle[0]); i !== -1; i = heap.indexOf(needle[0], i + 1)) {
      let j = 1;
      while (j < needle.length && heap[i + j] === needle[j]) j += 1;
      if (j === needle.length) return i;
    }
    return -1;
  };
  assert.notEqual(find(ct.subarray(0, 32)), -1, 'the search finds what the session holds (its ciphertext)');
  assert.equal(find(ss), -1, 'KEM shared secret left in wasm memory');
  // The expanded key is s (1536 bytes) || ek (1568, public) || H(ek) (32, public) || z (32).
  for (const at of [0, 512, 1504, 3136]) {
    assert.equal(find(secretKey.subarray(at, at + 32)), -1, `expanded decapsulation key bytes ${at}.. left in wasm memory`);
  }
  assert.equal(find(seed), -1, 'the spent one-time KEM seed left in wasm memory');
  for (const o of [alice, bob, a, b]) o.free();
});
