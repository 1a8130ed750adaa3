// An independent check of docs/vectors/protocol-v2.json against docs/PROTOCOL.md, written with
// node:crypto (X25519, Ed25519, SHA-2, HKDF, HMAC, AES-GCM) and @noble/post-quantum's ML-KEM-1024:
// PQXDH, X3DH without a one-time prekey, the ratchet scenarios (skipped keys across a DH step, a
// forgotten chain, the skipped-key limits), sealed state, safety numbers, challenges and a
// mailbox envelope are all re-derived here from the document, not from the core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ml_kem1024 as mlkem } from '@noble/post-quantum/ml-kem.js';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/protocol-v2.json`, 'utf8'));
const hex = (s) => Buffer.from(s, 'hex');
// Compares bytes; a string is hex.
const asHex = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString('hex'));
const eq = (a, b, what) => assert.equal(asHex(a), asHex(b), what);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u16 = (n) => Buffer.from([n >> 8, n & 255]);
const ZERO32 = Buffer.alloc(32);
const PREFIX = 'parley-vectors-v2';
const rand32 = (label) => crypto.createHash('sha256').update(PREFIX).update(label).digest();
const rand64 = (label) => crypto.createHash('sha512').update(PREFIX).update(label).digest();

const x25519Priv = (k) => crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b656e04220420'), k]), format: 'der', type: 'pkcs8' });
const x25519Pub = (k) => crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b656e032100'), k]), format: 'der', type: 'spki' });
const dh = (priv, pub) => crypto.diffieHellman({ privateKey: x25519Priv(priv), publicKey: x25519Pub(pub) });
const pubOf = (priv) => crypto.createPublicKey(x25519Priv(priv)).export({ format: 'der', type: 'spki' }).subarray(12);
const edPriv = (seed) => crypto.createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
const edPublicOf = (seed) => crypto.createPublicKey(edPriv(seed)).export({ format: 'der', type: 'spki' }).subarray(12);
const edPub = (pk) => crypto.createPublicKey({ key: Buffer.concat([hex('302a300506032b6570032100'), pk]), format: 'der', type: 'spki' });
const sign = (seed, msg) => crypto.sign(null, msg, edPriv(seed));
const hkdf = (ikm, salt, info, len) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), len));
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const kdfRk = (rk, d) => { const o = hkdf(d, rk, 'parley-ratchet-v1', 64); return [o.subarray(0, 32), o.subarray(32)]; };
const kdfCk = (ck) => [hmac(ck, Buffer.from([1])), hmac(ck, Buffer.from([2]))];
const messageKeys = (mk) => {
  const info = Buffer.from('parley-message-keys-v1');
  const t1 = hmac(mk, Buffer.concat([info, Buffer.from([1])]));
  const t2 = hmac(mk, Buffer.concat([t1, info, Buffer.from([2])]));
  return [t1, t2.subarray(0, 12)];
};
const gcm = (key, nonce, ad, pt) => {
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(ad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
};
const gcmOpen = (key, nonce, ad, ct) => {
  const d = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(ad);
  d.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
};
const x25519PrivateOfSeed = (seed) => {
  const h = crypto.createHash('sha512').update(seed).digest().subarray(0, 32);
  h[0] &= 248;
  h[31] = (h[31] & 127) | 64;
  return h;
};
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
const edToX25519 = (pk) => { const y = fromLE(pk) & ((1n << 255n) - 1n); return toLE(((1n + y) * modPow(1n - y, P - 2n)) % P); };

// A ratchet message: header type(1) dh(32) pn(4) n(4), then AES-256-GCM under AD || header.
const header = (dhPriv, pn, n) => Buffer.concat([Buffer.from([1]), pubOf(dhPriv), u32(pn), u32(n)]);
const sealMsg = (mk, ad, hdr, text) => { const [k, nonce] = messageKeys(mk); return Buffer.concat([hdr, gcm(k, nonce, Buffer.concat([ad, hdr]), Buffer.from(text))]); };

const A = V.accounts.alice;
const B = V.accounts.bob;

const kemMessage = (id, pk) => Buffer.concat([Buffer.from('parley-kem-prekey-v1'), u32(id), pk]);

test('accounts: identity keys, signed prekeys, KEM prekeys from their seeds, signatures, records, upload', () => {
  for (const [who, x] of [['alice', A], ['bob', B]]) {
    eq(x.identitySeed, rand32(`${who}-identity`), `${who}: identity seed`);
    eq(edPublicOf(hex(x.identitySeed)), hex(x.identityKey), `${who}: identity key`);
    eq(x25519PrivateOfSeed(hex(x.identitySeed)), hex(x.identityX25519Private), `${who}: X25519 private`);
    eq(x.signedPrekeyPrivate, rand32(`${who}-signed-prekey`), `${who}: SPK private`);
    eq(pubOf(hex(x.signedPrekeyPrivate)), hex(x.signedPrekey), `${who}: SPK`);
    const signed = Buffer.concat([Buffer.from('parley-spk-v1'), u32(x.signedPrekeyId), hex(x.signedPrekey)]);
    eq(sign(hex(x.identitySeed), signed), hex(x.signedPrekeySignature), `${who}: SPK signature`);
  }
  eq(pubOf(rand32('bob-one-time-prekey')), hex(B.oneTimePrekey), 'OPK');
  for (const k of [B.kemLastResort, B.kemOneTime]) {
    eq(rand64(k.seedLabel), hex(k.seed), `${k.seedLabel}: seed`);
    const { publicKey } = mlkem.keygen(hex(k.seed));
    eq(publicKey, hex(k.publicKey), `${k.seedLabel}: ML-KEM-1024 encapsulation key`);
    eq(sign(hex(B.identitySeed), kemMessage(k.id, publicKey)), hex(k.signature), `${k.seedLabel}: signature`);
    assert.ok(crypto.verify(null, kemMessage(k.id, publicKey), edPub(hex(B.identityKey)), hex(k.signature)));
    eq(Buffer.concat([u32(k.id), publicKey, hex(k.signature)]), hex(k.record), `${k.seedLabel}: record`);
  }
  assert.deepEqual([B.kemLastResort.id, B.kemOneTime.id], [1, 2], 'one id counter, the last-resort key first');
  eq(Buffer.concat([Buffer.from([1]), hex(B.identityKey), hex(B.kemLastResort.record), u16(1), hex(B.kemOneTime.record)]),
    hex(B.kemUpload), 'upload');
});

function checkStart(c) {
  const what = c.name;
  const withOpk = c.withOneTimePrekey;
  const bundle = Buffer.concat([Buffer.from([1]), hex(B.identityKey), u32(B.signedPrekeyId), hex(B.signedPrekey),
    hex(B.signedPrekeySignature), u16(withOpk ? 1 : 0), withOpk ? Buffer.concat([u32(B.oneTimePrekeyId), hex(B.oneTimePrekey)]) : Buffer.alloc(0)]);
  eq(bundle, hex(c.bundle), `${what}: bundle`);
  const ek = rand32(c.ephemeralLabel);
  eq(ek, hex(c.ephemeralPrivate), `${what}: EK private`);
  eq(pubOf(ek), hex(c.ephemeralKey), `${what}: EK`);
  const ikBx = edToX25519(hex(B.identityKey));
  const dhs = [dh(hex(A.identityX25519Private), hex(B.signedPrekey)), dh(ek, ikBx), dh(ek, hex(B.signedPrekey))];
  if (withOpk) dhs.push(dh(ek, hex(B.oneTimePrekey)));
  dhs.forEach((d, i) => eq(d, hex(c[`dh${i + 1}`]), `${what}: DH${i + 1}`));
  assert.equal(c.dh4 === undefined, !withOpk, `${what}: DH4 only with a one-time prekey`);
  let ikm = Buffer.concat([Buffer.alloc(32, 0xff), ...dhs]);
  let info = 'parley-x3dh-v1';
  const pq = c.kemPrekey !== undefined;
  let ct = null;
  if (pq) {
    const k = c.withOneTimeKemPrekey ? B.kemOneTime : B.kemLastResort;
    eq(hex(c.kemPrekey), hex(k.record), `${what}: the KEM prekey handed out`);
    assert.equal(c.kemPrekeyId, k.id);
    eq(rand32(c.kemCoinsLabel), hex(c.kemCoins), `${what}: coins`);
    const enc = mlkem.encapsulate(hex(k.publicKey), hex(c.kemCoins));
    ct = Buffer.from(enc.cipherText);
    eq(ct, hex(c.kemCiphertext), `${what}: KEM ciphertext`);
    eq(enc.sharedSecret, hex(c.kemSharedSecret), `${what}: KEM shared secret`);
    // The responder's side: the decapsulation key from the seed.
    eq(mlkem.decapsulate(ct, mlkem.keygen(hex(k.seed)).secretKey), hex(c.kemSharedSecret), `${what}: decapsulation`);
    ikm = Buffer.concat([ikm, enc.sharedSecret]);
    info = 'parley-pqxdh-v2';
  }
  const sk = hkdf(ikm, ZERO32, info, 32);
  eq(sk, hex(c.sk), `${what}: SK`);
  const ad = Buffer.concat([hex(A.identityKey), hex(B.identityKey)]);
  eq(ad, hex(c.ad), `${what}: AD`);
  const r0 = rand32(c.aliceRatchetLabel);
  eq(r0, hex(c.aliceRatchetPrivate0), `${what}: Alice's first ratchet key`);
  const [rk, cks] = kdfRk(sk, dh(r0, hex(B.signedPrekey)));
  eq(rk, hex(c.aliceRootKey), `${what}: root key`);
  eq(cks, hex(c.aliceSendingChainKey), `${what}: sending chain key`);
  const [mk] = kdfCk(cks);
  const body = sealMsg(mk, ad, header(r0, 0, 0), c.initial.plaintext);
  const prefix = Buffer.concat([Buffer.from([pq ? 3 : 2]), hex(A.identityKey), pubOf(ek), u32(B.signedPrekeyId),
    Buffer.from([withOpk ? 1 : 0]), u32(withOpk ? B.oneTimePrekeyId : 0), pq ? Buffer.concat([u32(c.kemPrekeyId), ct]) : Buffer.alloc(0)]);
  assert.equal(prefix.length, pq ? 1646 : 74, `${what}: prefix length`);
  eq(Buffer.concat([prefix, body]), hex(c.initial.message), `${what}: initial message`);
  // Bob: the DH ratchet step on Alice's first ratchet key, from his signed prekey.
  const r = c.responder;
  const rb = rand32(r.bobRatchetLabel);
  eq(rb, hex(r.bobRatchetPrivate1), `${what}: Bob's ratchet key`);
  const [rk1, ckr] = kdfRk(sk, dh(hex(B.signedPrekeyPrivate), pubOf(r0)));
  const [rk2, bcks] = kdfRk(rk1, dh(rb, pubOf(r0)));
  eq(rk2, hex(r.rootKey), `${what}: Bob's root key`);
  eq(kdfCk(ckr)[1], hex(r.receivingChainKey), `${what}: Bob's receiving chain key`);
  eq(bcks, hex(r.sendingChainKey), `${what}: Bob's sending chain key`);
  assert.equal(r.oneTimePrekeysLeft, withOpk ? 0 : 1, `${what}: the one-time prekey is spent`);
  assert.equal(r.oneTimeKemPrekeysLeft, pq && c.withOneTimeKemPrekey ? 0 : 1, `${what}: the one-time KEM prekey is spent`);
  eq(sealMsg(kdfCk(bcks)[0], ad, header(rb, 0, 0), c.reply.plaintext), hex(c.reply.message), `${what}: reply`);
  // Alice: the step on Bob's key, with her next ratchet key.
  const d = c.replyDelivery;
  const ra = rand32(d.randomLabel);
  eq(ra, hex(d.newRatchetPrivateKey), `${what}: Alice's second ratchet key`);
  const [ark1, ackr] = kdfRk(rk, dh(r0, pubOf(rb)));
  const [ark2, acks] = kdfRk(ark1, dh(ra, pubOf(rb)));
  eq(ark2, hex(d.rootKey), `${what}: Alice's root key after the reply`);
  eq(kdfCk(ackr)[1], hex(d.receivingChainKey), `${what}: Alice's receiving chain key`);
  eq(acks, hex(d.sendingChainKey), `${what}: Alice's sending chain key`);
  assert.equal(d.plaintext, c.reply.plaintext);
}

test('PQXDH: the four session starts, from bundle and KEM prekey to the first reply', () => {
  assert.equal(V.pqxdh.length, 4);
  const combos = new Set(V.pqxdh.map((c) => `${c.withOneTimePrekey}/${c.withOneTimeKemPrekey}`));
  assert.equal(combos.size, 4, 'with and without each kind of one-time prekey');
  for (const c of V.pqxdh) checkStart(c);
});

test('X3DH without a one-time prekey', () => {
  assert.equal(V.x3dhNoOneTimePrekey.withOneTimePrekey, false);
  checkStart(V.x3dhNoOneTimePrekey);
});

// The Double Ratchet scenarios, replayed from the document (section 5): every key and message,
// the skipped-key store, the earlier receiving chains it remembers, and the refusals.
const MAX_SKIP = 1000;
const MAX_SKIPPED_KEYS = 2000;
const MAX_RECEIVING_CHAINS = 8;

function replay(sc) {
  const x = sc.x3dh;
  const ad = hex(x.ad);
  eq(rand32(x.aliceRatchetLabel), hex(x.aliceRatchetPrivate0), `${sc.name}: Alice's first ratchet key`);
  const ek = rand32(x.ephemeralLabel);
  const ikBx = edToX25519(hex(B.identityKey));
  const sk = hkdf(Buffer.concat([Buffer.alloc(32, 0xff), dh(hex(A.identityX25519Private), hex(B.signedPrekey)),
    dh(ek, ikBx), dh(ek, hex(B.signedPrekey))]), ZERO32, 'parley-x3dh-v1', 32);
  eq(sk, hex(x.sk), `${sc.name}: SK (X3DH without a one-time prekey)`);
  const [rk0, cks0] = kdfRk(sk, dh(hex(x.aliceRatchetPrivate0), hex(B.signedPrekey)));
  const party = {
    alice: { rk: rk0, cks: cks0, dhsPriv: hex(x.aliceRatchetPrivate0), dhr: hex(B.signedPrekey), ns: 0, nr: 0, pn: 0, ckr: null, skipped: new Map(), old: [] },
    bob: { rk: sk, cks: null, dhsPriv: hex(B.signedPrekeyPrivate), dhr: null, ns: 0, nr: 0, pn: 0, ckr: null, skipped: new Map(), old: [] },
  };
  const messages = [];
  const outcome = { refused: [], maxSkipped: 0 };
  for (const e of sc.events) {
    if (e.from !== undefined) {
      const p = party[e.from];
      for (; e.skipTo !== undefined && p.ns < e.skipTo; p.ns += 1) [, p.cks] = kdfCk(p.cks);
      eq(p.cks, hex(e.sendingChainKey), `${sc.name} ${e.index}: sending chain key`);
      const [mk, next] = kdfCk(p.cks);
      const hdr = header(p.dhsPriv, p.pn, p.ns);
      eq(hdr, hex(e.header), `${sc.name} ${e.index}: header`);
      const msg = sealMsg(mk, ad, hdr, e.plaintext);
      eq(hex(e.message).subarray(hex(e.message)[0] === 2 ? 74 : 0), msg, `${sc.name} ${e.index}: message`);
      p.cks = next;
      p.ns += 1;
      messages[e.index] = { hdr, ct: msg.subarray(41), text: e.plaintext };
      continue;
    }
    const p = party[e.to];
    const m = messages[e.deliver];
    const pub = m.hdr.subarray(1, 33);
    const pn = m.hdr.readUInt32BE(33);
    const n = m.hdr.readUInt32BE(37);
    const id = `${pub.toString('hex')}:${n}`;
    const open = (mk) => gcmOpen(...messageKeys(mk), Buffer.concat([ad, m.hdr]), m.ct).toString('utf8');
    const sameChain = p.dhr && p.ckr && pub.equals(p.dhr);
    // What the document says the receiver must refuse, before any key is derived.
    let refusal = null;
    if (!p.skipped.has(id)) {
      if (sameChain) {
        if (n - p.nr > MAX_SKIP || p.skipped.size + (n - p.nr) > MAX_SKIPPED_KEYS) refusal = 'PARLEY_ERR_LIMIT';
      } else if (!p.old.some((o) => o.equals(pub)) && p.ckr && pn < p.nr) {
        refusal = 'PARLEY_ERR_AUTH';
      }
    }
    if (e.error !== undefined) {
      assert.equal(refusal, e.error, `${sc.name}: delivery of ${e.deliver} is refused as the document says`);
      assert.equal(p.skipped.size, e.skippedKeys, `${sc.name}: a refusal changes nothing`);
      if (refusal === 'PARLEY_ERR_AUTH') {
        // Not a remembered chain: taken as a new one, whose keys cannot open the message.
        const [, ckr] = kdfRk(p.rk, dh(p.dhsPriv, pub));
        let ck = ckr;
        for (let k = 0; k < n; k += 1) [, ck] = kdfCk(ck);
        assert.throws(() => open(kdfCk(ck)[0]), `${sc.name}: the forgotten chain's message does not open`);
      }
      outcome.refused.push(e.error);
      continue;
    }
    assert.equal(refusal, null, `${sc.name}: delivery of ${e.deliver} accepted`);
    let mk;
    if (p.skipped.has(id)) {
      mk = p.skipped.get(id);
      p.skipped.delete(id);
    } else {
      if (!sameChain) {
        for (; p.ckr && p.nr < pn; p.nr += 1) {
          const [k, next] = kdfCk(p.ckr);
          p.skipped.set(`${p.dhr.toString('hex')}:${p.nr}`, k);
          p.ckr = next;
        }
        if (p.ckr) {
          p.old.push(p.dhr);
          if (p.old.length > MAX_RECEIVING_CHAINS) {
            const gone = p.old.shift().toString('hex');
            for (const key of [...p.skipped.keys()]) if (key.startsWith(gone)) p.skipped.delete(key);
          }
        }
        const [rk1, ckr] = kdfRk(p.rk, dh(p.dhsPriv, pub));
        const fresh = hex(e.newRatchetPrivateKey);
        eq(fresh, rand32(e.randomLabel), `${sc.name}: ${e.randomLabel}`);
        const [rk2, cks] = kdfRk(rk1, dh(fresh, pub));
        Object.assign(p, { rk: rk2, ckr, cks, dhr: pub, dhsPriv: fresh, pn: p.ns, ns: 0, nr: 0 });
      }
      for (; p.nr < n; p.nr += 1) {
        const [k, next] = kdfCk(p.ckr);
        p.skipped.set(`${pub.toString('hex')}:${p.nr}`, k);
        p.ckr = next;
      }
      [mk, p.ckr] = kdfCk(p.ckr);
      p.nr = n + 1;
    }
    assert.equal(open(mk), m.text, `${sc.name}: delivery of ${e.deliver}`);
    eq(p.rk, hex(e.rootKey), `${sc.name}: delivery of ${e.deliver}: root key`);
    eq(p.ckr, hex(e.receivingChainKey), `${sc.name}: delivery of ${e.deliver}: receiving chain key`);
    eq(p.cks, hex(e.sendingChainKey), `${sc.name}: delivery of ${e.deliver}: sending chain key`);
    assert.equal(p.skipped.size, e.skippedKeys, `${sc.name}: delivery of ${e.deliver}: skipped keys`);
    outcome.maxSkipped = Math.max(outcome.maxSkipped, p.skipped.size);
  }
  return outcome;
}

test('Double Ratchet: skipped keys across a DH ratchet step (PN above the receiver\'s count)', () => {
  const sc = V.ratchet.skippedAcrossStep;
  const step = sc.events.find((e) => e.deliver === 4);
  assert.equal(step.skippedKeys, 2, 'keys for messages 1 and 2 of the old chain kept at the step');
  assert.equal(hex(sc.events.find((e) => e.index === 4).header).readUInt32BE(33), 3, 'PN = 3');
  replay(sc);
});

test('Double Ratchet: the ninth new receiving chain forgets the first, and its message is refused', () => {
  const out = replay(V.ratchet.ninthChainForgotten);
  assert.deepEqual(out.refused, ['PARLEY_ERR_AUTH']);
  assert.equal(V.ratchet.ninthChainForgotten.events.at(-1).earlierChains, MAX_RECEIVING_CHAINS);
});

test('Double Ratchet: the skipped-key limits (2000 kept, the next refused; a gap of 1001 refused)', () => {
  const out = replay(V.ratchet.skipLimits);
  assert.equal(out.maxSkipped, MAX_SKIPPED_KEYS);
  assert.deepEqual(out.refused, ['PARLEY_ERR_LIMIT', 'PARLEY_ERR_LIMIT']);
});

test('named limits: each is refused with its error', () => {
  const want = {
    PARLEY_MAX_PREKEY_BATCH: [100, 'PARLEY_ERR_ARGUMENT'], PARLEY_MAX_ONE_TIME_PREKEYS: [200, 'PARLEY_ERR_LIMIT'],
    PARLEY_MAX_KEM_PREKEYS: [100, 'PARLEY_ERR_LIMIT'], PARLEY_MAX_PLAINTEXT: [262144, 'PARLEY_ERR_TOO_LARGE'],
    'message number': [2 ** 32 - 1, 'PARLEY_ERR_LIMIT'], PARLEY_MAX_ROOM_ID: [256, 'PARLEY_ERR_ARGUMENT'],
    PARLEY_SEALED_NAME_MAX: [64, 'PARLEY_ERR_ARGUMENT'], PARLEY_MAX_DEVICES: [8, 'PARLEY_ERR_MALFORMED'],
    PARLEY_DEVICE_ID_MAX: [2 ** 31 - 1, 'PARLEY_ERR_MALFORMED'], PARLEY_DEVICE_LABEL_MAX: [64, 'PARLEY_ERR_MALFORMED'],
    PARLEY_SEALED_MAX: [65536, 'PARLEY_ERR_TOO_LARGE'], PARLEY_PASSWORD_MAX_BYTES: [4096, 'PARLEY_ERR_TOO_LARGE'],
    PARLEY_HKDF_MAX_OUTPUT: [8160, 'PARLEY_ERR_TOO_LARGE'],
  };
  for (const l of V.limits) assert.deepEqual([l.value, l.error], want[l.limit], l.limit);
  assert.deepEqual(new Set(V.limits.map((l) => l.limit)), new Set(Object.keys(want)));
});

// Sealed state (section 8): version 0x01 || kind || nonce(12) || AES-256-GCM(plain), the first two
// bytes as associated data; the plain encodings read field by field as the document lays them out.
function reader(buf) {
  let at = 0;
  const take = (n) => { assert.ok(at + n <= buf.length, 'truncated'); const v = buf.subarray(at, at + n); at += n; return v; };
  return {
    bytes: take, u8: () => take(1)[0], u16: () => take(2).readUInt16BE(0), u32: () => take(4).readUInt32BE(0),
    end: () => assert.equal(at, buf.length, 'no trailing bytes'),
  };
}

function readAccount(plain) {
  const r = reader(plain);
  const a = { plainVersion: r.u8() };
  const seed = r.bytes(32);
  a.identityKey = edPublicOf(seed).toString('hex');
  const spk = () => ({ id: r.u32(), priv: r.bytes(32), sig: r.bytes(64) });
  const cur = spk();
  a.signedPrekeyId = cur.id;
  a.signedPrekey = pubOf(cur.priv).toString('hex');
  if (r.u8()) spk();
  r.u32(); // next signed prekey id
  r.u32(); // next one-time prekey id
  a.oneTimePrekeys = r.u16();
  for (let i = 0; i < a.oneTimePrekeys; i += 1) { r.u32(); r.bytes(32); assert.ok(r.u8() <= 1); }
  a.kemPrekeyId = 0;
  a.oneTimeKemPrekeys = 0;
  a.nextKemPrekeyId = 1;
  if (a.plainVersion === 2) {
    const kem = () => {
      const k = { id: r.u32(), seed: r.bytes(64), sig: r.bytes(64) };
      const { publicKey } = mlkem.keygen(k.seed);
      assert.ok(crypto.verify(null, kemMessage(k.id, publicKey), edPub(edPublicOf(seed)), k.sig), 'KEM prekey signature');
      return k;
    };
    a.nextKemPrekeyId = r.u32();
    if (r.u8()) a.kemPrekeyId = kem().id;
    if (r.u8()) kem();
    a.oneTimeKemPrekeys = r.u16();
    for (let i = 0; i < a.oneTimeKemPrekeys; i += 1) { kem(); assert.ok(r.u8() <= 1); }
  }
  r.end();
  return a;
}

function readSession(plain) {
  const r = reader(plain);
  const v = r.u8();
  const s = { plainVersion: v, protocolVersion: v, role: r.u8() === 0 ? 'initiator' : 'responder' };
  s.ad = r.bytes(64).toString('hex');
  r.bytes(32); // base key
  s.pending = r.u8() === 1;
  r.u32();
  r.u8();
  r.u32();
  s.kemPrekeyId = 0;
  if (v === 2) { s.kemPrekeyId = r.u32(); r.bytes(1568); }
  s.rootKey = r.bytes(32).toString('hex');
  r.bytes(32); // our ratchet private key
  r.u8(); // flags
  r.bytes(32); // their ratchet key
  s.sendingChainKey = r.bytes(32).toString('hex');
  s.receivingChainKey = r.bytes(32).toString('hex');
  s.ns = r.u32();
  s.nr = r.u32();
  s.pn = r.u32();
  const nOld = r.u8();
  for (let i = 0; i < nOld; i += 1) { r.bytes(32); r.u32(); }
  s.skippedKeys = r.u16();
  r.bytes(s.skippedKeys * 68);
  r.end();
  return s;
}

test('sealed state: account and session, version 1 and 2, opened and read field by field', () => {
  const seen = new Set();
  for (const e of V.sealedState) {
    eq(rand32(e.keyLabel), hex(e.key), `${e.what}: key`);
    eq(rand32(e.nonceLabel).subarray(0, 12), hex(e.nonce), `${e.what}: nonce`);
    const sealed = hex(e.sealed);
    assert.equal(sealed[0], 1, `${e.what}: sealed-state version`);
    const kind = String.fromCharCode(sealed[1]);
    eq(sealed.subarray(2, 14), hex(e.nonce), `${e.what}: the nonce is stored`);
    const plain = gcmOpen(hex(e.key), sealed.subarray(2, 14), sealed.subarray(0, 2), sealed.subarray(14));
    eq(plain, hex(e.plain), `${e.what}: plain bytes`);
    const fields = kind === 'A' ? readAccount(plain) : readSession(plain);
    assert.deepEqual(fields, e.fields, `${e.what}: fields`);
    seen.add(`${kind}${fields.plainVersion}`);
  }
  assert.deepEqual(seen, new Set(['A1', 'A2', 'S1', 'S2']));
});

// Safety numbers (section 9): SHA-512 iterated 5200 times per identity key, 30 digits from six
// 5-byte big-endian chunks mod 100000, the two halves in ascending order.
function fingerprint(ik) {
  let h = crypto.createHash('sha512').update(Buffer.from([0, 1])).update('parley-fingerprint-v1').update(ik).digest();
  for (let i = 1; i < 5200; i += 1) h = crypto.createHash('sha512').update(h).update(ik).digest();
  return h;
}
const digitsOf = (fp) => Array.from({ length: 6 }, (_, c) => (fp.readUIntBE(c * 5, 5) % 100000).toString().padStart(5, '0')).join('');

test('safety number, its grouping and its QR payload', () => {
  const s = V.safetyNumber;
  const parts = [hex(s.identityKeyA), hex(s.identityKeyB)].map((k) => ({ fp: fingerprint(k), d: digitsOf(fingerprint(k)) }));
  parts.sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : Buffer.compare(a.fp.subarray(0, 32), b.fp.subarray(0, 32))));
  assert.equal(s.safetyNumber, parts[0].d + parts[1].d);
  assert.equal(s.grouped, s.safetyNumber.match(/.{5}/g).join(' '));
  eq(Buffer.concat([Buffer.from([1]), parts[0].fp.subarray(0, 32), parts[1].fp.subarray(0, 32)]), hex(s.qr), 'QR payload');
});

test('signed challenges: the signed message and the signature', () => {
  for (const c of V.challenges) {
    const room = hex(c.roomId);
    const issued = Buffer.alloc(8);
    issued.writeBigUInt64BE(BigInt(c.issuedAtMs));
    eq(rand32(c.nonceLabel), hex(c.nonce), 'nonce');
    const msg = Buffer.concat([Buffer.from('parley-challenge-v1'), u16(room.length), room, issued, hex(c.nonce)]);
    eq(msg, hex(c.signedMessage), 'signed message');
    eq(sign(hex(A.identitySeed), msg), hex(c.signature), 'signature');
  }
  assert.deepEqual(V.challenges.map((c) => hex(c.roomId).length), [9, 256]);
});

test('mailbox: a PQXDH initial message in a sealed envelope', () => {
  const m = V.mailbox;
  eq(hex(m.message), hex(V.pqxdh[0].initial.message), 'the first PQXDH start\'s initial message');
  const e = rand32(m.ephemeralLabel);
  const ePub = pubOf(e);
  const ikR = hex(B.identityKey);
  const ikRx = edToX25519(ikR);
  const okm = hkdf(dh(e, ikRx), Buffer.alloc(0), Buffer.concat([Buffer.from('parley-sealed-v1'), ePub, ikR]), 64);
  const [k1, ck] = [okm.subarray(0, 32), okm.subarray(32)];
  const c1 = gcm(k1, Buffer.alloc(12), Buffer.concat([Buffer.from([1]), ePub]), hex(A.identityKey));
  const k2 = hkdf(Buffer.concat([ck, dh(hex(A.identityX25519Private), ikRx)]), Buffer.alloc(0),
    Buffer.concat([Buffer.from('parley-sealed-v1-static'), c1]), 32);
  const name = Buffer.from(m.name);
  const msg = hex(m.message);
  const need = 97 + 5 + name.length + msg.length;
  assert.equal(m.sizeClass, [512, 2048, 8192, 32768, 65536].find((c) => need <= c));
  const content = Buffer.concat([Buffer.from([name.length]), name, u32(msg.length), msg, Buffer.alloc(m.sizeClass - need)]);
  const c2 = gcm(k2, Buffer.alloc(12), Buffer.concat([Buffer.from([1]), ePub, c1]), content);
  eq(Buffer.concat([Buffer.from([1]), ePub, c1, c2]), hex(m.envelope), 'envelope');
});
