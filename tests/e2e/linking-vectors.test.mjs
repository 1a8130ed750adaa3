// Linking a device (docs/PROTOCOL.md 14.5) without a browser: docs/vectors/linking-v1.json is
// derived again with node:crypto (X25519, HKDF-SHA256, AES-256-GCM) and with the page's own
// link.js (on the wasm core), and the strict parsers refuse what they must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/linking-v1.json'), 'utf8'));
const hex = (s) => Buffer.from(s, 'hex');
const sha = (label) => crypto.createHash('sha256').update(`parley-vectors-v1${label}`).digest();

async function load() {
  await nodeCore();
  return import(`${ROOT}/web/js/link.js`);
}

function nodeX25519(priv, pub) {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b656e04220420'), priv]), format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b656e032100'), pub]), format: 'der', type: 'spki' });
  return crypto.diffieHellman({ privateKey, publicKey });
}

function nodePublic(priv) {
  const k = crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b656e04220420'), priv]), format: 'der', type: 'pkcs8' });
  return Buffer.from(crypto.createPublicKey(k).export({ format: 'jwk' }).x, 'base64url');
}

test('the vectors: keys, code, check number and a sealed frame, derived again with node:crypto', () => {
  assert.deepEqual(hex(V.aPrivate), sha('link-a-ephemeral'));
  assert.deepEqual(hex(V.bPrivate), sha('link-b-ephemeral'));
  assert.deepEqual(nodePublic(hex(V.aPrivate)), hex(V.aPublic));
  assert.deepEqual(nodePublic(hex(V.bPrivate)), hex(V.bPublic));
  const shared = nodeX25519(hex(V.aPrivate), hex(V.bPublic));
  assert.deepEqual(shared, hex(V.shared));
  assert.deepEqual(nodeX25519(hex(V.bPrivate), hex(V.aPublic)), shared);
  const device = Buffer.alloc(4);
  device.writeUInt32BE(V.device);
  assert.deepEqual(Buffer.from(V.code, 'base64url'), Buffer.concat([Buffer.from([1]), device, hex(V.bPublic)]));
  const salt = Buffer.concat([hex(V.aPublic), hex(V.bPublic)]);
  const info = Buffer.concat([Buffer.from('parley-link-v1'), device]);
  assert.deepEqual(salt, hex(V.salt));
  assert.deepEqual(info, hex(V.info));
  const okm = Buffer.from(crypto.hkdfSync('sha256', shared, salt, info, 104));
  assert.deepEqual(okm, hex(V.okm));
  assert.deepEqual(okm.subarray(0, 32), hex(V.keyToNew));
  assert.deepEqual(okm.subarray(32, 64), hex(V.keyToOld));
  assert.deepEqual(okm.subarray(64, 96), hex(V.keyIdentity));
  assert.equal(String(okm.readBigUInt64BE(96) % 1_000_000_000_000n).padStart(12, '0'), V.fingerprint);
  const f = V.frame;
  const seq = Buffer.alloc(4);
  seq.writeUInt32BE(f.seq);
  const ad = Buffer.concat([Buffer.from('parley-link-v1'), Buffer.from([f.direction]), device, seq]);
  assert.deepEqual(ad, hex(f.ad));
  const c = crypto.createCipheriv('aes-256-gcm', hex(V.keyToNew), hex(f.nonce));
  c.setAAD(ad);
  const ct = Buffer.concat([c.update(Buffer.concat([Buffer.from([f.kind]), hex(f.body)])), c.final(), c.getAuthTag()]);
  assert.equal(Buffer.concat([hex(f.nonce), ct]).toString('base64url'), f.box);
});

test('link.js makes the same code, keys and frame, and opens the frame only at its place', async () => {
  const L = await load();
  const base = new Uint8Array(32);
  base[0] = 9;
  assert.equal(L.encodeCode(V.device, hex(V.bPublic)), V.code);
  const parsed = L.parseCode(` ${V.code.slice(0, 20)}\n${V.code.slice(20)} `);
  assert.equal(parsed.device, V.device);
  assert.deepEqual(Buffer.from(parsed.publicKey), hex(V.bPublic));
  const keys = L.deriveLinkKeys(new Uint8Array(hex(V.shared)), new Uint8Array(hex(V.aPublic)), new Uint8Array(hex(V.bPublic)), V.device);
  assert.equal(Buffer.from(keys.toNew).toString('hex'), V.keyToNew);
  assert.equal(Buffer.from(keys.toOld).toString('hex'), V.keyToOld);
  assert.equal(Buffer.from(keys.identity).toString('hex'), V.keyIdentity);
  assert.equal(keys.fingerprint, V.fingerprint);
  const f = V.frame;
  assert.equal(L.sealFrame(keys.toNew, f.direction, V.device, f.seq, f.kind, new Uint8Array(hex(f.body)), new Uint8Array(hex(f.nonce))), f.box);
  const opened = L.openFrame(keys.toNew, f.direction, V.device, f.seq, f.box);
  assert.equal(opened.kind, f.kind);
  assert.deepEqual(Buffer.from(opened.body), hex(f.body));
  // Another place in the stream, the other direction, another device or key: refused.
  assert.throws(() => L.openFrame(keys.toNew, f.direction, V.device, f.seq + 1, f.box));
  assert.throws(() => L.openFrame(keys.toNew, L.TO_OLD, V.device, f.seq, f.box));
  assert.throws(() => L.openFrame(keys.toNew, f.direction, V.device + 1, f.seq, f.box));
  assert.throws(() => L.openFrame(keys.toOld, f.direction, V.device, f.seq, f.box));
  const flipped = Buffer.from(f.box, 'base64url');
  flipped[20] ^= 1;
  assert.throws(() => L.openFrame(keys.toNew, f.direction, V.device, f.seq, flipped.toString('base64url')));
  L.wipeKeys(keys);
  assert.ok(keys.toNew.every((b) => b === 0) && keys.identity.every((b) => b === 0));
});

test('the code parser refuses truncated, extended, other-version and non-canonical codes', async () => {
  const L = await load();
  const bytes = Buffer.from(V.code, 'base64url');
  const refuse = (text, pattern) => assert.throws(() => L.parseCode(text), (e) => pattern.test(e.message), text);
  refuse(bytes.subarray(0, 36).toString('base64url'), /not a link code/);
  refuse(Buffer.concat([bytes, Buffer.from([0])]).toString('base64url'), /not a link code/);
  refuse(V.code.slice(0, -1), /not a link code/);
  refuse('', /not a link code/);
  refuse(`${V.code}!`, /not a link code/);
  refuse(V.code.replace(/.$/, (c) => (c === 'h' ? 'g' : 'h')), /not a link code/); // trailing bits set
  const v2 = Buffer.from(bytes);
  v2[0] = 2;
  refuse(v2.toString('base64url'), /another version/);
  const zero = Buffer.from(bytes);
  zero.writeUInt32BE(0, 1);
  refuse(zero.toString('base64url'), /not a link code/);
  const high = Buffer.from(bytes);
  high.writeUInt32BE(0x80000000, 1);
  refuse(high.toString('base64url'), /not a link code/);
  assert.throws(() => L.parseCode(undefined), /not a link code/);
});

test('the wire and the transfer are read strictly', async () => {
  const L = await load();
  const key = Buffer.from(V.aPublic, 'hex').toString('base64url');
  assert.ok(L.parseWire({ type: 'link', v: 1, step: 'start', key, from: 'a', fromDevice: 3, to: 'a', toDevice: 4 }));
  assert.equal(L.parseWire({ type: 'link', v: 2, step: 'start', key }), null);
  assert.equal(L.parseWire({ type: 'link', v: 1, step: 'start', key: key.slice(1) }), null);
  assert.equal(L.parseWire({ type: 'link', v: 1, step: 'start', key, extra: 1 }), null);
  assert.equal(L.parseWire({ type: 'link', v: 1, step: 'other' }), null);
  assert.deepEqual(L.parseWire({ type: 'link', v: 1, seq: 0, box: 'AA' }), { seq: 0, box: 'AA' });
  assert.equal(L.parseWire({ type: 'link', v: 1, seq: -1, box: 'AA' }), null);
  assert.equal(L.parseWire({ type: 'link', v: 1, seq: 1.5, box: 'AA' }), null);
  assert.equal(L.parseWire({ type: 'link', v: 1, seq: 1, box: 'AA', step: 'abort' }), null);

  const ik = Buffer.alloc(32, 7).toString('base64url');
  const good = {
    v: 1,
    contacts: { bob: { name: 'bob', status: 'active', identityKey: ik, verified: true, since: 5 } },
    history: {
      bob: [
        { id: 'a'.repeat(32), from: 'me', text: 'hi', ts: 1, state: 'sent', copied: true },
        { id: 'b'.repeat(32), from: 'them', text: 'yo', ts: 2, state: 'received' },
      ],
    },
  };
  const enc = (x) => new TextEncoder().encode(JSON.stringify(x));
  assert.equal(L.parseTransfer(enc(good)).messages, 2);
  const cap = Buffer.alloc(32, 9).toString('base64url');
  assert.deepEqual(L.parseTransfer(enc({ ...good, presence: { cap, visible: false } })).presence, { cap, visible: false });
  // Blocks travel as the record "blocks" (12.16), read strictly.
  const blocks = L.parseTransfer(enc({ ...good, blocks: { v: 1, blocked: { mallory: 7 }, declined: { eve: 9 } } })).blocks;
  assert.deepEqual([[...blocks.blocked], [...blocks.declined]], [[['mallory', 7]], [['eve', 9]]]);
  const bad = [
    { ...good, v: 2 },
    { ...good, extra: 1 },
    { ...good, presence: { cap: cap.slice(1), visible: true } },
    { ...good, presence: { cap, visible: 'yes' } },
    { ...good, presence: { cap, visible: true, more: 1 } },
    { ...good, blocks: { v: 1, blocked: { Mallory: 1 }, declined: {} } },
    { ...good, blocks: { v: 2, blocked: {}, declined: {} } },
    { ...good, blocks: null },
    { ...good, contacts: { bob: { ...good.contacts.bob, session: 'x' } } },
    { ...good, contacts: { bob: { ...good.contacts.bob, status: 'pending' } } },
    { ...good, contacts: { bob: { ...good.contacts.bob, identityKey: 'AAAA' } } },
    { ...good, contacts: { 'Bob!': { ...good.contacts.bob, name: 'Bob!' } } },
    { ...good, history: { carol: [] } },
    { ...good, history: { bob: [{ ...good.history.bob[0], copied: false }] } },
    { ...good, history: { bob: [{ ...good.history.bob[0], state: 'queued' }] } },
    { ...good, history: { bob: [{ ...good.history.bob[1], wire: 'x' }] } },
    { ...good, history: { bob: [{ ...good.history.bob[1], from: 'system' }] } },
    { ...good, history: { bob: [{ ...good.history.bob[1], text: 'x'.repeat(16385) }] } },
  ];
  for (const b of bad) assert.throws(() => L.parseTransfer(enc(b)), JSON.stringify(b).slice(0, 120));
  assert.throws(() => L.parseTransfer(new TextEncoder().encode('{"v":1,')));

  // What travels of a contact and of an entry.
  assert.deepEqual(L.transferableContact('bob', { status: 'active', identityKey: ik, session: 1, device: 7, hello: 'x', unread: 3, verified: false }),
    { name: 'bob', status: 'active', identityKey: ik, verified: false });
  assert.deepEqual(L.transferableEntry({ id: 'x', from: 'me', text: 't', ts: 1, state: 'queued', wire: 'w', mailed: true }),
    { id: 'x', from: 'me', text: 't', ts: 1, state: 'sent', copied: true });
  assert.deepEqual(L.transferableEntry({ id: 'x', from: 'me', text: 't', ts: 1, state: 'delivered' }).state, 'delivered');
});
