// The call binding statement and sealed frames (docs/PROTOCOL.md 12.17) without a browser:
// docs/vectors/calls-v1.json is derived again with node:crypto (Ed25519, AES-256-GCM) and with the
// page's own calls-binding.js on the wasm core and calls-frames.js on WebCrypto, and the strict
// readers take what they must and refuse the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/calls-v1.json'), 'utf8'));
const hex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const sha = (label) => crypto.createHash('sha256').update(`parley-vectors-v1${label}`).digest();
const b64u = (b) => Buffer.from(b).toString('base64url');

async function load() {
  const core = await nodeCore();
  return { core, B: await import(`${ROOT}/web/js/calls-binding.js`) };
}

const edKey = (seed) => crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const edPublic = (seed) => Buffer.from(crypto.createPublicKey(edKey(seed)).export({ format: 'jwk' }).x, 'base64url');

test('the vectors, derived again with node:crypto', () => {
  for (const who of ['alice', 'bob']) {
    const p = V[who];
    assert.deepEqual(hex(p.identitySeed), new Uint8Array(sha(`call-${who}-identity-seed`)));
    assert.deepEqual(new Uint8Array(edPublic(hex(p.identitySeed))), hex(p.identityKey));
    const t = hex(p.transfer);
    const d = crypto.createDecipheriv('aes-256-gcm', hex(p.transferKey), t.subarray(1, 13));
    d.setAAD(Buffer.concat([Buffer.from('parley-identity-v1'), Buffer.from([1])]));
    d.setAuthTag(t.subarray(t.length - 16));
    assert.deepEqual(new Uint8Array(Buffer.concat([d.update(t.subarray(13, t.length - 16)), d.final()])), hex(p.identitySeed));
  }
  const room = `parley-call-v1.${V.callId}.${b64u(hex(V.aliceFingerprint))}.${b64u(hex(V.bobFingerprint))}.${b64u(hex(V.bob.identityKey))}`;
  assert.equal(room, V.room);
  assert.equal(room.length, 179);
  const u16 = Buffer.alloc(2);
  u16.writeUInt16BE(room.length);
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(BigInt(V.issuedAt));
  const signed = Buffer.concat([Buffer.from('parley-challenge-v1'), u16, Buffer.from(room, 'ascii'), u64, hex(V.nonce)]);
  assert.equal(signed.toString('hex'), V.signed);
  assert.equal(signed.length, 240);
  assert.equal(crypto.sign(null, signed, edKey(hex(V.alice.identitySeed))).toString('hex'), V.signature);
});

test('the page signs and checks the vectors\' statement, and refuses every changed field', async () => {
  const { core, B } = await load();
  const alice = core.Account.linked(hex(V.alice.transferKey), hex(V.alice.transfer));
  try {
    assert.deepEqual(alice.identityKey(), hex(V.alice.identityKey));
    const fields = {
      callId: V.callId, at: V.issuedAt, nonce: hex(V.nonce), ownFp: hex(V.aliceFingerprint),
      peerFp: hex(V.bobFingerprint), peerIdentity: hex(V.bob.identityKey),
    };
    assert.equal(B.statementRoom(fields.callId, fields.ownFp, fields.peerFp, fields.peerIdentity), V.room);
    const sig = B.signStatement(alice, fields);
    assert.equal(Buffer.from(sig).toString('hex'), V.signature);
    const check = (f) => B.checkStatement(hex(V.alice.identityKey), hex(V.bob.identityKey), { ...f, sig: f.sig ?? sig });
    assert.equal(check(fields), true);
    const flip = (b) => { const c = Uint8Array.from(b); c[5] ^= 1; return c; };
    assert.equal(check({ ...fields, at: fields.at + 1 }), false, 'time');
    assert.equal(check({ ...fields, nonce: flip(fields.nonce) }), false, 'nonce');
    assert.equal(check({ ...fields, ownFp: flip(fields.ownFp) }), false, 'own fingerprint');
    assert.equal(check({ ...fields, peerFp: flip(fields.peerFp) }), false, 'peer fingerprint');
    assert.equal(check({ ...fields, callId: `${V.callId.slice(0, 31)}0` === V.callId ? `${V.callId.slice(0, 31)}1` : `${V.callId.slice(0, 31)}0` }), false, 'call id');
    assert.equal(check({ ...fields, sig: flip(sig) }), false, 'signature');
    assert.equal(check({ ...fields, ownFp: fields.peerFp, peerFp: fields.ownFp }), false, 'fingerprints swapped');
    // Sent to someone else, or reflected back to its signer: another verifier key.
    assert.equal(B.checkStatement(hex(V.alice.identityKey), hex(V.alice.identityKey), { ...fields, sig }), false, 'reflected');
    assert.equal(B.checkStatement(hex(V.bob.identityKey), hex(V.alice.identityKey), { ...fields, sig }), false, 'wrong signer');
  } finally {
    alice.free();
  }
});

test('the strict reader: every vector payload, and none of the refused ones', async () => {
  const { B } = await load();
  for (const [k, p] of Object.entries(V.payloads)) {
    const got = B.parseCallPayload(p);
    assert.ok(got, `${k} is read`);
    assert.equal(got.k, k);
    assert.equal(got.call, V.callId);
    // Written back by callPayload (from the fields as read for the byte-carrying kinds).
    const { t: _t, v: _v, call: _c, k: _k, ...rest } = p;
    const again = B.callPayload(k, V.callId, ['nonce', 'bind', 'key'].includes(k) ? got : rest);
    assert.deepEqual(again, p, `${k} written back`);
  }
  const bind = B.parseCallPayload(V.payloads.bind);
  assert.deepEqual(bind.nonce, hex(V.nonce));
  assert.deepEqual(bind.ownFp, hex(V.aliceFingerprint));
  assert.deepEqual(bind.peerFp, hex(V.bobFingerprint));
  assert.equal(Buffer.from(bind.sig).toString('hex'), V.signature);
  assert.equal(bind.at, V.issuedAt);
  // A group call's legs (20.9): the room and the group call named, the key as bytes; written back.
  const g = V.group;
  const inv = B.parseCallPayload(g.invite);
  assert.deepEqual({ ...inv, key: Buffer.from(inv.key).toString('base64url') },
    { k: 'invite', call: V.callId, media: 'video', room: g.invite.room, group: g.invite.group, key: g.invite.key, live: false });
  assert.deepEqual(B.callPayload('invite', V.callId, inv), g.invite);
  const bare = B.parseCallPayload(g.inviteWithoutKey);
  assert.equal(bare.key, null);
  assert.deepEqual(B.callPayload('invite', V.callId, bare), g.inviteWithoutKey);
  const live = B.parseCallPayload(g.inviteLive);
  assert.equal(live.live, true);
  assert.deepEqual(B.callPayload('invite', V.callId, live), g.inviteLive);
  assert.deepEqual(B.parseCallPayload(g.declineFull), { k: 'decline', call: V.callId, reason: 'full' });
  // A call between two is read without room, group or key.
  assert.deepEqual(B.parseCallPayload(V.payloads.invite), { k: 'invite', call: V.callId, media: 'video' });
  for (const r of V.rejected) assert.equal(B.parseCallPayload(r.payload), null, r.why);
  for (const bad of [null, [], 'x', 1, {}, { t: 'msg' }]) assert.equal(B.parseCallPayload(bad), null);
});

test('fingerprints from a session description and from stats, read strictly', async () => {
  const { B } = await load();
  const fp = hex(V.aliceFingerprint);
  const text = [...fp].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
  assert.deepEqual(B.fpFromHex(text), fp);
  assert.deepEqual(B.fpFromHex(text.toLowerCase()), fp);
  assert.equal(B.fpFromHex(text.slice(3)), null);
  assert.equal(B.fpFromHex(`${text}:00`), null);
  const sdp = `v=0\r\na=fingerprint:sha-256 ${text}\r\nm=audio 9\r\na=fingerprint:sha-256 ${text}\r\n`;
  assert.deepEqual(B.sdpFingerprint(sdp), fp);
  assert.equal(B.sdpFingerprint(sdp.replace(/:BA\r\nm=/, ':BB\r\nm=')), null, 'two that differ');
  assert.equal(B.sdpFingerprint(sdp.replace(/sha-256/g, 'sha-1')), null, 'another algorithm');
  assert.equal(B.sdpFingerprint('v=0\r\n'), null, 'none');
});

test('a sealed frame: the vector derived again with node:crypto, sealed and opened by the page\'s code, any change refused', async () => {
  const F = await import(`${ROOT}/web/js/calls-frames.js`);
  const f = V.frame;
  assert.deepEqual(hex(f.key), new Uint8Array(sha('call-frame-key')));
  const data = hex(f.frame);
  const clear = data.subarray(0, f.clear);
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(f.ctr), 4);
  const c = crypto.createCipheriv('aes-256-gcm', hex(f.key), iv);
  c.setAAD(Buffer.concat([Buffer.from('parley-frame-v1'), Buffer.from([f.clear]), clear]));
  const body = Buffer.concat([c.update(data.subarray(f.clear)), c.final(), c.getAuthTag()]);
  const trailer = Buffer.alloc(9);
  trailer.writeBigUInt64BE(BigInt(f.ctr));
  trailer[8] = f.clear;
  const expected = Buffer.concat([clear, body, trailer]);
  assert.equal(expected.toString('hex'), f.sealed);
  const key = await F.frameKey(hex(f.key));
  assert.equal(Buffer.from(await F.sealFrame(key, BigInt(f.ctr), f.clear, data)).toString('hex'), f.sealed);
  assert.deepEqual(await F.openFrame(key, hex(f.sealed)), data);
  const sealed = hex(f.sealed);
  for (let i = 0; i < sealed.length; i += 1) {
    const changed = Uint8Array.from(sealed);
    changed[i] ^= 0x01;
    assert.equal(await F.openFrame(key, changed), null, `byte ${i} changed`);
  }
  assert.equal(await F.openFrame(key, sealed.subarray(0, sealed.length - 1)), null, 'cut');
  assert.equal(await F.openFrame(await F.frameKey(new Uint8Array(32)), sealed), null, 'another key');
  assert.equal(await F.openFrame(key, new Uint8Array(24)), null, 'too short');
  // What stays in the clear: the codec's header.
  assert.equal(F.clearBytes('video', 'key', 100), 10);
  assert.equal(F.clearBytes('video', 'delta', 100), 3);
  assert.equal(F.clearBytes('audio', undefined, 100), 1);
  assert.equal(F.clearBytes('video', 'key', 4), 4);
});
