// The call binding statement (docs/PROTOCOL.md 12.17) without a browser: docs/vectors/calls-v1.json
// is derived again with node:crypto (Ed25519, the identity transfer's AES-256-GCM) and with the
// page's own calls-binding.js on the wasm core, and the strict reader takes the payloads it must
// and refuses the rest.
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
    const again = B.callPayload(k, V.callId, k === 'nonce' || k === 'bind' ? got : rest);
    assert.deepEqual(again, p, `${k} written back`);
  }
  const bind = B.parseCallPayload(V.payloads.bind);
  assert.deepEqual(bind.nonce, hex(V.nonce));
  assert.deepEqual(bind.ownFp, hex(V.aliceFingerprint));
  assert.deepEqual(bind.peerFp, hex(V.bobFingerprint));
  assert.equal(Buffer.from(bind.sig).toString('hex'), V.signature);
  assert.equal(bind.at, V.issuedAt);
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
