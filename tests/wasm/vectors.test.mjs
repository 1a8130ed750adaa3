// An independent check of docs/vectors/protocol-v1.json against docs/PROTOCOL.md, written with
// node:crypto only (OpenSSL's X25519, Ed25519, HKDF, HMAC and AES-GCM): if this passes, the
// document says enough to reimplement the protocol, and the C core follows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/protocol-v1.json`, 'utf8'));
const hex = (s) => Buffer.from(s, 'hex');
const eq = (a, b, what) => assert.equal(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'), what);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const ZERO32 = Buffer.alloc(32);

const x25519Priv = (k) => crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b656e04220420'), k]), format: 'der', type: 'pkcs8' });
const x25519Pub = (k) => crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b656e032100'), k]), format: 'der', type: 'spki' });
const dh = (priv, pub) => crypto.diffieHellman({ privateKey: x25519Priv(priv), publicKey: x25519Pub(pub) });
const pubOf = (priv) => crypto.createPublicKey(x25519Priv(priv)).export({ format: 'der', type: 'spki' }).subarray(12);
const hkdf = (ikm, salt, info, len) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), len));
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const kdfRk = (rk, d) => { const o = hkdf(d, rk, 'parley-ratchet-v1', 64); return [o.subarray(0, 32), o.subarray(32)]; };
const kdfCk = (ck) => [hmac(ck, Buffer.from([1])), hmac(ck, Buffer.from([2]))];
// HKDF-Expand alone (RFC 5869 2.3): node:crypto's hkdf always extracts first, so it is spelled out.
const hkdfExpand44 = (prk, info) => {
  const t1 = hmac(prk, Buffer.concat([Buffer.from(info), Buffer.from([1])]));
  const t2 = hmac(prk, Buffer.concat([t1, Buffer.from(info), Buffer.from([2])]));
  return Buffer.concat([t1, t2.subarray(0, 12)]);
};
const messageKeys = (mk) => { const o = hkdfExpand44(mk, 'parley-message-keys-v1'); return [o.subarray(0, 32), o.subarray(32)]; };

function open(mk, ad, header, ciphertext) {
  const [key, nonce] = messageKeys(mk);
  const d = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(Buffer.concat([ad, header]));
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  return Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]).toString('utf8');
}

test('X3DH: signed prekey signature, DH1..DH4, SK and AD', () => {
  const x = V.x3dh;
  const edPub = crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b6570032100'), hex(x.bobIdentityKey)]), format: 'der', type: 'spki' });
  const signed = Buffer.concat([Buffer.from('parley-spk-v1'), u32(x.bobSignedPrekeyId), hex(x.bobSignedPrekey)]);
  assert.ok(crypto.verify(null, signed, edPub, hex(x.bobSignedPrekeySignature)), 'SPK signature');
  const bundle = Buffer.concat([Buffer.from([1]), hex(x.bobIdentityKey), u32(x.bobSignedPrekeyId), hex(x.bobSignedPrekey),
    hex(x.bobSignedPrekeySignature), Buffer.from([0, 1]), u32(x.bobOneTimePrekeyId), hex(x.bobOneTimePrekey)]);
  eq(bundle, hex(x.bobBundle), 'bundle encoding');
  eq(pubOf(hex(x.bobSignedPrekeyPrivate)), hex(x.bobSignedPrekey), 'SPK from its private key');
  eq(pubOf(hex(x.bobOneTimePrekeyPrivate)), hex(x.bobOneTimePrekey), 'OPK from its private key');
  const ek = hex(x.aliceEphemeralPrivate);
  eq(pubOf(ek), hex(x.aliceEphemeralKey), 'EK');
  const dhs = [
    dh(hex(x.aliceIdentityX25519Private), hex(x.bobSignedPrekey)),
    dh(ek, hex(x.bobIdentityX25519Public)),
    dh(ek, hex(x.bobSignedPrekey)),
    dh(ek, hex(x.bobOneTimePrekey)),
  ];
  dhs.forEach((d, i) => eq(d, hex(x[`dh${i + 1}`]), `DH${i + 1}`));
  // The responder's side of the same values.
  eq(dh(hex(x.bobSignedPrekeyPrivate), pubOf(hex(x.aliceIdentityX25519Private))), dhs[0], 'DH1 (responder)');
  eq(dh(hex(x.bobOneTimePrekeyPrivate), hex(x.aliceEphemeralKey)), dhs[3], 'DH4 (responder)');
  const sk = hkdf(Buffer.concat([Buffer.alloc(32, 0xff), ...dhs]), ZERO32, 'parley-x3dh-v1', 32);
  eq(sk, hex(x.sk), 'SK');
  eq(Buffer.concat([hex(x.aliceIdentityKey), hex(x.bobIdentityKey)]), hex(x.ad), 'AD');
  const [rk, cks] = kdfRk(sk, dh(hex(x.aliceRatchetPrivate0), hex(x.bobSignedPrekey)));
  eq(rk, hex(x.aliceRootKey), 'initiator root key');
  eq(cks, hex(x.aliceSendingChainKey), 'initiator sending chain key');
});

test('Double Ratchet: every key, header and ciphertext of the conversation', () => {
  const x = V.x3dh;
  const ad = hex(x.ad);
  const sk = hex(x.sk);
  const alice = { rk: hex(x.aliceRootKey), cks: hex(x.aliceSendingChainKey), dhsPriv: hex(x.aliceRatchetPrivate0), dhr: hex(x.bobSignedPrekey), ns: 0, nr: 0, pn: 0, ckr: null };
  const bob = { rk: sk, cks: null, dhsPriv: hex(x.bobSignedPrekeyPrivate), dhr: null, ns: 0, nr: 0, pn: 0, ckr: null };
  alice.skipped = new Map();
  bob.skipped = new Map();
  const party = { alice, bob };
  const messages = [];
  let sent = 0;
  let delivered = 0;
  let outOfOrder = 0;

  for (const e of V.conversation) {
    if (e.from !== undefined) {
      const p = party[e.from];
      eq(p.cks, hex(e.sendingChainKey), `message ${e.index}: sending chain key`);
      const [mk, next] = kdfCk(p.cks);
      eq(mk, hex(e.messageKey), `message ${e.index}: message key`);
      const [key, nonce] = messageKeys(mk);
      eq(key, hex(e.aesKey), `message ${e.index}: AES key`);
      eq(nonce, hex(e.nonce), `message ${e.index}: nonce`);
      const header = Buffer.concat([Buffer.from([1]), pubOf(p.dhsPriv), u32(p.pn), u32(p.ns)]);
      eq(header, hex(e.header), `message ${e.index}: header`);
      assert.equal(open(mk, ad, header, hex(e.ciphertext)), e.plaintext, `message ${e.index}: decrypts`);
      const msg = hex(e.message);
      if (msg[0] === 2) {
        const prefix = Buffer.concat([Buffer.from([2]), hex(x.aliceIdentityKey), hex(x.aliceEphemeralKey),
          u32(x.bobSignedPrekeyId), Buffer.from([1]), u32(x.bobOneTimePrekeyId)]);
        eq(msg.subarray(0, 74), prefix, `message ${e.index}: prekey prefix`);
        eq(msg.subarray(74), Buffer.concat([header, hex(e.ciphertext)]), `message ${e.index}: body`);
      } else {
        eq(msg, Buffer.concat([header, hex(e.ciphertext)]), `message ${e.index}: ratchet message`);
      }
      p.cks = next;
      p.ns += 1;
      eq(p.cks, hex(e.nextSendingChainKey), `message ${e.index}: next chain key`);
      messages[e.index] = { header, ciphertext: hex(e.ciphertext), text: e.plaintext };
      sent += 1;
    } else {
      const p = party[e.to];
      const m = messages[e.deliver];
      const dhPub = m.header.subarray(1, 33);
      const pn = m.header.readUInt32BE(33);
      const n = m.header.readUInt32BE(37);
      const id = `${dhPub.toString('hex')}:${n}`;
      let mk;
      const { skipped } = p;
      if (skipped.has(id)) {
        mk = skipped.get(id);
        skipped.delete(id);
        outOfOrder += 1;
      } else {
        if (!p.dhr || !dhPub.equals(p.dhr)) {
          // Skip the rest of the current chain, then the DH ratchet step (section 5.2, step 4).
          for (; p.ckr && p.nr < pn; p.nr += 1) {
            const [k, next] = kdfCk(p.ckr);
            skipped.set(`${p.dhr.toString('hex')}:${p.nr}`, k);
            p.ckr = next;
          }
          const [rk1, ckr] = kdfRk(p.rk, dh(p.dhsPriv, dhPub));
          const fresh = hex(e.newRatchetPrivateKey);
          const [rk2, cks] = kdfRk(rk1, dh(fresh, dhPub));
          Object.assign(p, { rk: rk2, ckr, cks, dhr: dhPub, dhsPriv: fresh, pn: p.ns, ns: 0, nr: 0 });
        } else {
          assert.equal(e.newRatchetPrivateKey, undefined, `delivery of ${e.deliver}: no DH step`);
        }
        for (; p.nr < n; p.nr += 1) {
          const [k, next] = kdfCk(p.ckr);
          skipped.set(`${dhPub.toString('hex')}:${p.nr}`, k);
          p.ckr = next;
        }
        [mk, p.ckr] = kdfCk(p.ckr);
        p.nr = n + 1;
      }
      assert.equal(open(mk, ad, m.header, m.ciphertext), m.text, `delivery of ${e.deliver}`);
      assert.equal(e.plaintext, m.text, `delivery of ${e.deliver}: the core's plaintext`);
      eq(p.rk, hex(e.rootKey), `delivery of ${e.deliver}: root key`);
      eq(p.ckr, hex(e.receivingChainKey), `delivery of ${e.deliver}: receiving chain key`);
      eq(p.cks, hex(e.sendingChainKey), `delivery of ${e.deliver}: sending chain key`);
      if (e.skippedKeys !== undefined) assert.equal(skipped.size, e.skippedKeys, `delivery of ${e.deliver}: skipped keys`);
      delivered += 1;
    }
  }
  assert.ok(sent >= 20, `at least 20 messages (${sent})`);
  assert.equal(delivered, sent, 'every message delivered');
  assert.ok(outOfOrder >= 2, 'out-of-order deliveries');
  assert.ok(new Set(Object.values(V.conversation).filter((e) => e.from).map((e) => e.from)).size === 2, 'both directions');
});
