// Invitation codes (docs/PROTOCOL.md 17) without a browser: docs/vectors/invite-v2.json is derived
// again from the document with node:crypto (Ed25519, X25519, SHA-256), the page's own invite.js
// (on the wasm core) writes the same codes and reads them back, and its strict readers refuse
// what they must, each with its reason.
//   PARLEY_WRITE_VECTORS=1 node --test tests/e2e/invite-vectors.test.mjs   writes the file anew
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';

const FILE = join(ROOT, 'docs/vectors/invite-v2.json');
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');
const sha = (label) => crypto.createHash('sha256').update(`parley-vectors-v1${label}`).digest();
const u8 = (n) => Buffer.from([n]);
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };

function edKey(seed) {
  return crypto.createPrivateKey({ key: Buffer.concat([unhex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
}
const edPublic = (seed) => Buffer.from(crypto.createPublicKey(edKey(seed)).export({ format: 'jwk' }).x, 'base64url');
const edSign = (seed, msg) => crypto.sign(null, msg, edKey(seed));
function xPublic(priv) {
  const k = crypto.createPrivateKey({ key: Buffer.concat([unhex('302e020100300506032b656e04220420'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(k).export({ format: 'jwk' }).x, 'base64url');
}

// Section 9 with section 17.3's room and nonce.
function challenge(seed, room, expiry, body) {
  const r = Buffer.from(room);
  const nonce = crypto.createHash('sha256').update(body).digest();
  const signed = Buffer.concat([Buffer.from('parley-challenge-v1'), u16(r.length), r, u64(expiry * 1000), nonce]);
  return { signed, sig: edSign(seed, signed) };
}

const FORMS = { 4: 0, 16: 1 };
function packedCandidates(list) {
  const TYPES = ['host', 'srflx', 'prflx', 'relay'];
  return Buffer.concat([u8(list.length), ...list.map((c) => {
    const addr = unhex(c.addressHex);
    const form = c.address.endsWith('.local') ? 2 : FORMS[addr.length];
    return Buffer.concat([u8((form << 2) | TYPES.indexOf(c.type)), addr, u16(c.port)]);
  })]);
}
const iceBytes = (ice) => Buffer.concat([u8(ice.ufrag.length), Buffer.from(ice.ufrag), u8(ice.pwd.length), Buffer.from(ice.pwd),
  unhex(ice.fingerprint), packedCandidates(ice.candidates)]);

// Everything from the document and the labels.
function derive() {
  const aSeed = sha('invite-alice-identity');
  const bSeed = sha('invite-bob-identity');
  const spkPriv = sha('invite-alice-signed-prekey');
  const opkPriv = sha('invite-alice-one-time-prekey');
  const spk = xPublic(spkPriv);
  const opk = xPublic(opkPriv);
  const spkSig = edSign(aSeed, Buffer.concat([Buffer.from('parley-spk-v1'), u32(1), spk]));
  const aIce = {
    ufrag: 'Pq7x', pwd: 'u9Kd2Lm4Np6Qr8St0Vw1Xy3Z', fingerprint: hex(sha('invite-alice-dtls')),
    candidates: [
      { type: 'host', address: '192.168.1.20', addressHex: 'c0a80114', port: 50000 },
      { type: 'host', address: '2001:db8:0:0:0:0:0:7', addressHex: '20010db8000000000000000000000007', port: 50001 },
      { type: 'host', address: '0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9.local', addressHex: '0a1b2c3d4e5f4061827394a5b6c7d8e9', port: 50002 },
      { type: 'srflx', address: '203.0.113.9', addressHex: 'cb007109', port: 61000 },
    ],
  };
  const bIce = {
    ufrag: 'Zy+/', pwd: 'aAbBcCdDeEfFgGhHiIjJkKlL', fingerprint: hex(sha('invite-bob-dtls')),
    candidates: [{ type: 'host', address: '10.0.0.2', addressHex: '0a000002', port: 40000 }],
  };
  const expiry = 1765000600;
  const id = sha('invite-id').subarray(0, 16);
  const aIK = edPublic(aSeed);
  const bIK = edPublic(bSeed);
  const body = Buffer.concat([u8(2), u8(1), u32(expiry), id, aIK, u32(1), spk, spkSig, u32(7), opk, iceBytes(aIce)]);
  const { signed, sig } = challenge(aSeed, 'parley-invite-v1', expiry, body);
  const invite = {
    identitySeedLabel: 'invite-alice-identity', identityKey: hex(aIK),
    signedPrekeyLabel: 'invite-alice-signed-prekey', signedPrekeyId: 1, signedPrekey: hex(spk), signedPrekeySignature: hex(spkSig),
    oneTimePrekeyLabel: 'invite-alice-one-time-prekey', oneTimePrekeyId: 7, oneTimePrekey: hex(opk),
    expiry, idLabel: 'invite-id', id: hex(id), ice: aIce,
    bundle: hex(Buffer.concat([u8(1), aIK, u32(1), spk, spkSig, u16(1), u32(7), opk])),
    signedMessage: hex(signed), signature: hex(sig),
    bytes: hex(Buffer.concat([body, sig])), code: Buffer.concat([body, sig]).toString('base64url'),
  };
  // A well-formed prekey message (5.1) from Bob: its ciphertext is a label's bytes (29: the 13 of
  // {"t":"hello"} and the tag). The reader does not decrypt it; the inviter's core does (17.5).
  const initial = Buffer.concat([u8(2), bIK, xPublic(sha('invite-bob-ephemeral')), u32(1), u8(1), u32(7),
    u8(1), xPublic(sha('invite-bob-ratchet-0')), u32(0), u32(0), sha('invite-initial-ciphertext').subarray(0, 29)]);
  const rBody = Buffer.concat([u8(2), u8(2), u32(expiry), id, u16(initial.length), initial, iceBytes(bIce)]);
  const r = challenge(bSeed, 'parley-invite-reply-v1', expiry, rBody);
  const reply = {
    identitySeedLabel: 'invite-bob-identity', identityKey: hex(bIK), expiry, id: hex(id),
    initialLabels: ['invite-bob-ephemeral', 'invite-bob-ratchet-0', 'invite-initial-ciphertext'], initial: hex(initial), ice: bIce,
    signedMessage: hex(r.signed), signature: hex(r.sig),
    bytes: hex(Buffer.concat([rBody, r.sig])), code: Buffer.concat([rBody, r.sig]).toString('base64url'),
  };
  // What the readers refuse, each from the invite or the reply above.
  const inv = Buffer.concat([body, sig]);
  const rep = Buffer.concat([rBody, r.sig]);
  const flip = (b, at) => { const c = Buffer.from(b); c[at] ^= 1; return c.toString('base64url'); };
  const resign = (b) => { const s = challenge(aSeed, 'parley-invite-v1', expiry, b).sig; return Buffer.concat([b, s]).toString('base64url'); };
  // A version 1 code (its answer active, 17.4): the same fields, signed by its author.
  const asVersion1 = (b, seed, room) => {
    const one = Buffer.concat([u8(1), b.subarray(1)]);
    return Buffer.concat([one, challenge(seed, room, expiry, one).sig]).toString('base64url');
  };
  const fpAt = body.length - 1 - (1 + 4 + 2) * 2 - (1 + 16 + 2) * 2 - 32; // start of the fingerprint
  const refusals = [
    { what: 'version 3', code: Buffer.concat([u8(3), inv.subarray(1)]).toString('base64url'), reason: 'version' },
    { what: 'a version 1 invite (signed as version 1 was)', code: asVersion1(body, aSeed, 'parley-invite-v1'), reason: 'old' },
    { what: 'a version 1 reply (signed as version 1 was)', code: asVersion1(rBody, bSeed, 'parley-invite-reply-v1'), reason: 'old', reader: 'reply' },
    { what: 'version 0', code: Buffer.concat([u8(0), inv.subarray(1)]).toString('base64url'), reason: 'damaged' },
    { what: 'a reply where an invite is wanted', code: reply.code, reason: 'kind', reader: 'invite' },
    { what: 'an invite where a reply is wanted', code: invite.code, reason: 'kind', reader: 'reply' },
    { what: 'a trailing byte', code: Buffer.concat([inv, u8(0)]).toString('base64url'), reason: 'damaged' },
    { what: 'the last byte missing', code: inv.subarray(0, -1).toString('base64url'), reason: 'damaged' },
    { what: 'one bit of the fingerprint', code: flip(inv, fpAt), reason: 'damaged' },
    { what: 'one bit of the signature', code: flip(inv, inv.length - 1), reason: 'damaged' },
    { what: 'one bit of the reply\'s initial message', code: flip(rep, 2 + 4 + 16 + 2 + 40), reason: 'damaged', reader: 'reply' },
    { what: 'a candidate with flags 0x0c, signed', code: resign(Buffer.concat([body.subarray(0, body.length - 7), u8(0x0c), body.subarray(body.length - 6)])), reason: 'damaged' },
    { what: 'a port of 0, signed', code: resign(Buffer.concat([body.subarray(0, body.length - 2), u16(0)])), reason: 'damaged' },
    { what: 'a one-time prekey id of 0, signed', code: resign(Buffer.concat([body.subarray(0, 154), u32(0), body.subarray(158)])), reason: 'damaged' },
    { what: 'non-canonical base64url', code: `${invite.code.slice(0, -1)}${String.fromCharCode(invite.code.charCodeAt(invite.code.length - 1) + 1)}`, reason: 'damaged' },
  ];
  const times = [
    { what: 'one second before the expiry', now: expiry * 1000 - 1000, reason: null },
    { what: 'at the expiry', now: expiry * 1000, reason: 'expired' },
    { what: 'made 16 minutes ahead of this clock', now: expiry * 1000 - 16 * 60 * 1000, reason: 'clock' },
  ];
  return { version: 2, invite, reply, refusals, times };
}

const core = await nodeCore();
const inv = await import(`${ROOT}/web/js/invite.js`);
const V = derive();
if (process.env.PARLEY_WRITE_VECTORS === '1') writeFileSync(FILE, `${JSON.stringify(V, null, 1)}\n`);
const FILED = JSON.parse(readFileSync(FILE, 'utf8'));
const nodeSigner = (label) => (room, issuedAt, nonce) => {
  const r = Buffer.from(room);
  return new Uint8Array(edSign(sha(label), Buffer.concat([Buffer.from('parley-challenge-v1'), u16(r.length), r, u64(issuedAt), nonce])));
};
const strip = (ice) => ({ ...ice, fingerprint: unhex(ice.fingerprint), candidates: ice.candidates.map(({ type, address, port }) => ({ type, address, port })) });

test('the file is what the document derives (node:crypto)', () => {
  assert.deepEqual(FILED, V);
  assert.ok(V.invite.code.length <= 1000 && V.reply.code.length <= 1000);
});

test('invite.js writes the same codes from the same inputs, and reads them back', async () => {
  const code = await inv.encodeInvite({
    expiry: V.invite.expiry, id: unhex(V.invite.id), bundle: new Uint8Array(unhex(V.invite.bundle)), ice: strip(V.invite.ice),
  }, nodeSigner(V.invite.identitySeedLabel));
  assert.equal(code, V.invite.code);
  const read = await inv.decodeInvite(code);
  assert.equal(hex(read.identityKey), V.invite.identityKey);
  assert.equal(hex(read.bundle), V.invite.bundle);
  assert.equal(hex(read.id), V.invite.id);
  assert.equal(read.expiry, V.invite.expiry);
  assert.deepEqual({ ...read.ice, fingerprint: hex(read.ice.fingerprint) }, { ...strip(V.invite.ice), fingerprint: V.invite.ice.fingerprint });
  // The core verifies the signed prekey in the bundle: a session starts from it.
  const b = core.Account.create();
  core.Session.outbound(b, read.bundle).free();
  b.free();

  const reply = await inv.encodeReply({
    expiry: V.reply.expiry, id: unhex(V.reply.id), message: new Uint8Array(unhex(V.reply.initial)), ice: strip(V.reply.ice),
  }, nodeSigner(V.reply.identitySeedLabel));
  assert.equal(reply, V.reply.code);
  const r = await inv.decodeReply(reply);
  assert.equal(hex(r.identityKey), V.reply.identityKey);
  assert.equal(hex(r.message), V.reply.initial);
  // White space (a code broken over lines) is ignored.
  assert.equal(hex((await inv.decodeInvite(code.replace(/(.{60})/g, '$1\n '))).id), V.invite.id);
});

test('the readers refuse what the document refuses, each with its reason', async () => {
  for (const r of V.refusals) {
    const read = r.reader === 'reply' ? inv.decodeReply : inv.decodeInvite;
    await assert.rejects(read(r.code), (e) => e instanceof inv.InviteError && e.reason === r.reason && e.message.length > 10, r.what);
  }
  for (const t of V.times) {
    if (t.reason === null) inv.checkFresh(V.invite.expiry, t.now);
    else assert.throws(() => inv.checkFresh(V.invite.expiry, t.now), (e) => e.reason === t.reason, t.what);
  }
  // The encoder refuses to write more than 1,000 characters.
  const many = Array.from({ length: 8 }, (_, i) => ({ type: 'host', address: `2001:db8::${i + 1}`, port: 1000 + i }));
  const big = strip({ ...V.invite.ice, pwd: 'x'.repeat(64), ufrag: 'y'.repeat(32), candidates: [] });
  big.candidates = many;
  const id = unhex(V.invite.id);
  const msg = new Uint8Array(512);
  msg.set(unhex(V.reply.initial));
  await assert.rejects(inv.encodeReply({ expiry: 1, id, message: msg, ice: big }, nodeSigner('x')), (e) => e.reason === 'toolong');
});
