// An independent check of docs/vectors/protocol-v1.json against docs/PROTOCOL.md, written with
// node:crypto only (OpenSSL's X25519, Ed25519, HKDF, HMAC and AES-GCM; BigInt arithmetic for the
// Ed25519-to-X25519 map): if this passes, the document says enough to reimplement the protocol,
// and the C core follows it.
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

// Sealed sender (PROTOCOL.md section 13). The Ed25519 -> X25519 map of the identity keys is done
// here with BigInt arithmetic (u = (1 + y) / (1 - y) mod p), not taken from the vectors.
const P = 2n ** 255n - 19n;
const modPow = (b, e) => {
  let r = 1n;
  let x = ((b % P) + P) % P;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % P;
    x = (x * x) % P;
  }
  return r;
};
const fromLE = (b) => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);
const toLE = (n) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
const edToX25519 = (pk) => {
  const y = fromLE(pk) & ((1n << 255n) - 1n);
  return toLE(((1n + y) * modPow(1n - y, P - 2n)) % P);
};
const edPublicOf = (seed) => crypto.createPublicKey(crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' }))
  .export({ format: 'der', type: 'spki' }).subarray(12);
const x25519PrivateOfSeed = (seed) => {
  const h = crypto.createHash('sha512').update(seed).digest().subarray(0, 32);
  h[0] &= 248;
  h[31] = (h[31] & 127) | 64;
  return h;
};
const gcmSeal = (key, ad, pt) => {
  const c = crypto.createCipheriv('aes-256-gcm', key, Buffer.alloc(12));
  c.setAAD(ad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
};
const gcmOpen = (key, ad, ct) => {
  const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.alloc(12));
  d.setAAD(ad);
  d.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
};
const SIZE_CLASSES = [512, 2048, 8192, 32768, 65536];
const EMPTY = Buffer.alloc(0);
const sealedKeys1 = (dh1, ePub, ikR) => {
  const okm = hkdf(dh1, EMPTY, Buffer.concat([Buffer.from('parley-sealed-v1'), ePub, ikR]), 64);
  return [okm.subarray(0, 32), okm.subarray(32)];
};
const sealedKey2 = (ck, dh2, c1) => hkdf(Buffer.concat([ck, dh2]), EMPTY, Buffer.concat([Buffer.from('parley-sealed-v1-static'), c1]), 32);

test('Sealed sender: identity keys, DH1, DH2, k1, ck, k2, c1, c2, padding and size classes', () => {
  const s = V.sealed;
  const x = V.x3dh;
  const ikS = edPublicOf(hex(x.aliceIdentitySeed));
  const ikR = edPublicOf(hex(x.bobIdentitySeed));
  eq(ikS, hex(s.senderIdentityKey), 'sender identity key from its seed');
  eq(ikR, hex(s.recipientIdentityKey), 'recipient identity key from its seed');
  const xS = x25519PrivateOfSeed(hex(x.aliceIdentitySeed));
  const xR = x25519PrivateOfSeed(hex(x.bobIdentitySeed));
  eq(xS, hex(s.senderIdentityX25519Private), 'sender X25519 private key');
  eq(xR, hex(s.recipientIdentityX25519Private), 'recipient X25519 private key');
  const ikRx = edToX25519(ikR);
  eq(ikRx, hex(s.recipientIdentityX25519Public), 'recipient X25519 public key (birational map)');
  eq(pubOf(xR), ikRx, 'the map agrees with the private key');
  eq(edToX25519(ikS), pubOf(xS), 'sender: the map agrees with the private key');

  const seen = { classes: new Set(), exact: 0 };
  for (const v of s.envelopes) {
    const what = v.ephemeralLabel;
    // Sender side.
    const e = crypto.createHash('sha256').update('parley-vectors-v1').update(v.ephemeralLabel).digest();
    eq(e, hex(v.ephemeralPrivate), `${what}: e`);
    const ePub = pubOf(e);
    eq(ePub, hex(v.ephemeralKey), `${what}: E_pub`);
    const dh1 = dh(e, ikRx);
    eq(dh1, hex(v.dh1), `${what}: DH1`);
    const [k1, ck] = sealedKeys1(dh1, ePub, ikR);
    eq(k1, hex(v.k1), `${what}: k1`);
    eq(ck, hex(v.ck), `${what}: ck`);
    const c1 = gcmSeal(k1, Buffer.concat([Buffer.from([1]), ePub]), ikS);
    eq(c1, hex(v.c1), `${what}: c1`);
    const dh2 = dh(xS, ikRx);
    eq(dh2, hex(v.dh2), `${what}: DH2`);
    const k2 = sealedKey2(ck, dh2, c1);
    eq(k2, hex(v.k2), `${what}: k2`);
    const name = Buffer.from(v.name, 'utf8');
    const msg = hex(v.message);
    const need = 97 + 5 + name.length + msg.length;
    const size = SIZE_CLASSES.find((c) => need <= c);
    assert.equal(v.sizeClass, size, `${what}: the smallest class that fits`);
    const content = Buffer.concat([Buffer.from([name.length]), name, u32(msg.length), msg, Buffer.alloc(size - need)]);
    const c2 = gcmSeal(k2, Buffer.concat([Buffer.from([1]), ePub, c1]), content);
    const envelope = Buffer.concat([Buffer.from([1]), ePub, c1, c2]);
    assert.equal(envelope.length, size, `${what}: length`);
    eq(envelope, hex(v.envelope), `${what}: envelope`);

    // Recipient side, from the envelope alone.
    const got = hex(v.envelope);
    assert.equal(got[0], 1, `${what}: version`);
    const rePub = got.subarray(1, 33);
    const rc1 = got.subarray(33, 81);
    const [rk1, rck] = sealedKeys1(dh(xR, rePub), rePub, ikR);
    const sender = gcmOpen(rk1, got.subarray(0, 33), rc1);
    eq(sender, ikS, `${what}: the sender identity opened from c1`);
    const rk2 = sealedKey2(rck, dh(xR, edToX25519(sender)), rc1);
    const plain = gcmOpen(rk2, got.subarray(0, 81), got.subarray(81));
    const nameLen = plain[0];
    assert.ok(nameLen >= 1 && nameLen <= 64, `${what}: name length`);
    assert.equal(plain.subarray(1, 1 + nameLen).toString('utf8'), v.name, `${what}: name`);
    const msgLen = plain.readUInt32BE(1 + nameLen);
    eq(plain.subarray(5 + nameLen, 5 + nameLen + msgLen), msg, `${what}: message`);
    assert.ok(plain.subarray(5 + nameLen + msgLen).every((b) => b === 0), `${what}: zero padding`);
    seen.classes.add(size);
    if (need === size) seen.exact += 1;
  }
  eq(hex(s.envelopes[0].message), hex(V.conversation.find((m) => m.index === 0 && m.from).message), 'first envelope carries message 0');
  assert.ok(seen.classes.has(512) && seen.classes.has(2048), 'the 512 and 2048 classes');
  assert.ok(seen.exact >= 1, 'an envelope that fills its class exactly');
});

// Device lists and identity transfer (PROTOCOL.md section 14): the list encoded from the JSON's
// fields, signed with node:crypto's Ed25519 (deterministic, so the signature must match), the
// transfer sealed with AES-256-GCM from the labelled key and nonce.
const vectorRandom = (label) => crypto.createHash('sha256').update('parley-vectors-v1').update(label).digest();
const edPrivateOf = (seed) => crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });

test('Device list: encoding, signed message and signature', () => {
  const d = V.devices;
  const x = V.x3dh;
  eq(hex(d.identitySeed), hex(x.aliceIdentitySeed), 'Alice of the x3dh vectors');
  eq(edPublicOf(hex(d.identitySeed)), hex(d.identityKey), 'identity key from its seed');
  assert.deepEqual(d.devices, [{ id: 1, label: 'Chromium on Linux' }, { id: 7, label: '' }]);
  const entries = d.devices.map(({ id, label }) => {
    const l = Buffer.from(label, 'utf8');
    return Buffer.concat([u32(id), Buffer.from([l.length]), l]);
  });
  const list = Buffer.concat([Buffer.from([1]), u32(d.generation), Buffer.from([d.devices.length]), ...entries]);
  eq(list, hex(d.list), 'list');
  const message = Buffer.concat([Buffer.from('parley-devices-v1'), hex(d.identityKey), list]);
  eq(message, hex(d.signedMessage), 'signed message');
  const sig = crypto.sign(null, message, edPrivateOf(hex(d.identitySeed)));
  eq(sig, hex(d.signature), 'signature');
  eq(Buffer.concat([list, sig]), hex(d.signed), 'signed list');
  const edPub = crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b6570032100'), hex(d.identityKey)]), format: 'der', type: 'spki' });
  assert.ok(crypto.verify(null, message, edPub, sig), 'verifies under the identity key');
  const otherKey = Buffer.concat([Buffer.from('parley-devices-v1'), hex(x.bobIdentityKey), list]);
  assert.ok(!crypto.verify(null, otherKey, edPub, sig), 'the identity key is part of what is signed');
});

test('Identity transfer: key, nonce, AD, sealed seed and the new device\'s signed prekey', () => {
  const t = V.identityTransfer;
  const x = V.x3dh;
  eq(hex(t.identitySeed), hex(x.aliceIdentitySeed), 'Alice of the x3dh vectors');
  eq(edPublicOf(hex(t.identitySeed)), hex(t.identityKey), 'identity key from its seed');
  const key = vectorRandom(t.keyLabel);
  const nonce = vectorRandom(t.nonceLabel).subarray(0, 12);
  eq(key, hex(t.key), 'key');
  eq(nonce, hex(t.nonce), 'nonce');
  const ad = Buffer.concat([Buffer.from('parley-identity-v1'), Buffer.from([1])]);
  eq(ad, hex(t.ad), 'ad');
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(ad);
  const sealed = Buffer.concat([c.update(hex(t.identitySeed)), c.final(), c.getAuthTag()]);
  const transfer = Buffer.concat([Buffer.from([1]), nonce, sealed]);
  assert.equal(transfer.length, 61);
  eq(transfer, hex(t.transfer), 'transfer');
  // The receiving side, from the transfer alone.
  const got = hex(t.transfer);
  const d = crypto.createDecipheriv('aes-256-gcm', key, got.subarray(1, 13));
  d.setAAD(ad);
  d.setAuthTag(got.subarray(45));
  eq(Buffer.concat([d.update(got.subarray(13, 45)), d.final()]), hex(t.identitySeed), 'the seed opens');
  // The new device's signed prekey: its own key, id 1, signed by the shared identity.
  const spk = vectorRandom(t.linkedSignedPrekeyLabel);
  eq(spk, hex(t.linkedSignedPrekeyPrivate), 'signed prekey private key');
  eq(pubOf(spk), hex(t.linkedSignedPrekey), 'signed prekey');
  assert.equal(t.linkedSignedPrekeyId, 1);
  assert.notEqual(t.linkedSignedPrekey, x.bobSignedPrekey);
  const signed = Buffer.concat([Buffer.from('parley-spk-v1'), u32(t.linkedSignedPrekeyId), hex(t.linkedSignedPrekey)]);
  eq(crypto.sign(null, signed, edPrivateOf(hex(t.identitySeed))), hex(t.linkedSignedPrekeySignature), 'signed prekey signature');
});
