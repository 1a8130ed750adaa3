// docs/vectors/rooms-v1.json (docs/PROTOCOL.md section 20): the file is derived here from the
// section alone, with node:crypto (Ed25519 from fixed seeds, SHA-256), and must equal the checked-in
// file byte for byte; then the wasm core, through the binding the page uses, must sign the same
// descriptors, leave statements and challenges, and give every acceptance, reject and check its
// named result. `node tests/wasm/rooms-vectors.test.mjs --write` rewrites the file (deterministic).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = join(ROOT, 'docs/vectors/rooms-v1.json');
const PREFIX = 'parley-vectors-v1';
const sha = (label) => crypto.createHash('sha256').update(PREFIX + label).digest();
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
const edKey = (seed) => crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8',
});
const edPublic = (seed) => Buffer.from(crypto.createPublicKey(edKey(seed)).export({ format: 'jwk' }).x, 'base64url');
const ROLE = { admin: 1, member: 2 };

// ---- the derivation from section 20 -------------------------------------------------------------

const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin'];
function people() {
  const out = {};
  for (const who of PEOPLE) {
    const seed = sha(`room-${who}-identity`);
    out[who] = { seedLabel: `room-${who}-identity`, identitySeed: seed, identityKey: edPublic(seed) };
  }
  return out;
}

// body = everything before the signature; descriptor = body || sig. raw: no sorting, no checks.
function body({ format = 1, roomId, version, name, members, signer }, P) {
  const nm = Buffer.isBuffer(name) ? name : Buffer.from(name, 'utf8');
  const ms = members.map((m) => Buffer.concat([m.key ?? P[m.who].identityKey, Buffer.from([m.roleByte ?? ROLE[m.role]])]));
  return Buffer.concat([Buffer.from([format]), roomId, u64(version), Buffer.from([nm.length]), nm,
    Buffer.from([ms.length]), ...ms, P[signer].identityKey]);
}
const roomSign = (b, seed) => crypto.sign(null, Buffer.concat([Buffer.from('parley-room-v1'), b]), edKey(seed));

function sorted(members, P) {
  return [...members].sort((x, y) => Buffer.compare(P[x.who].identityKey, P[y.who].identityKey));
}

export function derive() {
  const P = people();
  const roomId = sha('room-id').subarray(0, 16);
  const otherRoomId = sha('room-id-other').subarray(0, 16);
  const M = (who, role) => ({ who, role });
  // Descriptors a member may see; `signError` is what the core's signer says (else it makes the
  // same bytes).
  const specs = [
    { label: 'v1 by alice', signer: 'alice', roomId, version: 1, name: 'Book club',
      members: [M('alice', 'admin'), M('bob', 'member'), M('carol', 'member')] },
    { label: 'v2 by alice: dave added, bob made admin', signer: 'alice', roomId, version: 2, name: 'Book club',
      members: [M('alice', 'admin'), M('bob', 'admin'), M('carol', 'member'), M('dave', 'member')] },
    { label: 'v3 by bob: dave removed, renamed', signer: 'bob', roomId, version: 3, name: 'Book club \u2615 caf\u00e9',
      members: [M('alice', 'admin'), M('bob', 'admin'), M('carol', 'member')] },
    { label: 'v4 by carol (a member, not an admin): erin added', signer: 'carol', roomId, version: 4, name: 'Book club',
      members: [M('alice', 'admin'), M('bob', 'admin'), M('carol', 'member'), M('erin', 'member')] },
    { label: 'v2 by alice again, other members (a rollback once v3 is held)', signer: 'alice', roomId, version: 2,
      name: 'Book club', members: [M('alice', 'admin'), M('erin', 'member')] },
    { label: 'v1 of another room by erin', signer: 'erin', roomId: otherRoomId, version: 1, name: 'Elsewhere',
      members: [M('erin', 'admin'), M('alice', 'member')] },
    { label: 'v9 by erin of the first room, naming herself admin', signer: 'erin', roomId, version: 9, name: 'Book club',
      members: [M('alice', 'admin'), M('erin', 'admin')] },
    { label: 'v2 by bob while only a member of v1', signer: 'bob', roomId, version: 2, name: 'Book club',
      members: [M('alice', 'admin'), M('bob', 'admin')] },
    { label: 'v1 by bob listing alice as the only admin', signer: 'bob', roomId: otherRoomId, version: 1,
      name: 'Not mine', members: [M('alice', 'admin'), M('bob', 'member')], signError: 'NOT_ADMIN' },
    { label: 'largest: 16 members, a 64-byte name, version 2^53-1', signer: 'alice', roomId: otherRoomId,
      version: Number.MAX_SAFE_INTEGER, name: '\u00e9'.repeat(32), largest: true },
  ];
  const extra = [];
  for (let i = 0; i < 11; i += 1) {
    const seed = sha(`room-extra-${i}-identity`);
    extra.push({ key: edPublic(seed) });
  }
  const descriptors = specs.map((s) => {
    let members = s.members ? sorted(s.members, P) : null;
    if (s.largest) {
      members = [...PEOPLE.map((who) => M(who, who === 'alice' ? 'admin' : 'member')),
        ...extra.map((e) => ({ key: e.key, role: 'member' }))]
        .sort((x, y) => Buffer.compare(x.key ?? P[x.who].identityKey, y.key ?? P[y.who].identityKey));
    }
    const b = body({ ...s, members }, P);
    const sig = roomSign(b, P[s.signer].identitySeed);
    const out = {
      label: s.label, signer: s.signer, roomId: hex(s.roomId), version: s.version, name: s.name,
      members: members.map((m) => ({ key: hex(m.key ?? P[m.who].identityKey), role: m.role })),
      signedMessage: hex(Buffer.concat([Buffer.from('parley-room-v1'), b])),
      descriptor: hex(Buffer.concat([b, sig])),
    };
    if (s.signError) out.signError = s.signError;
    return out;
  });
  const accept = [
    [null, 0, 'OK', 'the first version, signed by its creator, an admin it lists'],
    [0, 1, 'OK', 'v2 signed by alice, an admin of v1'],
    [1, 2, 'OK', 'v3 signed by bob, made an admin in v2'],
    [0, 2, 'NOT_ADMIN', 'v3 signed by bob, who is not an admin of the held v1 (authority comes from the held version)'],
    [1, 3, 'NOT_ADMIN', 'v4 signed by carol, a member only'],
    [2, 4, 'STALE', 'v2 again once v3 is held: rollback'],
    [2, 1, 'STALE', 'the earlier v2 replayed'],
    [2, 2, 'STALE', 'the same version again'],
    [0, 5, 'OTHER_ROOM', 'a descriptor of another room'],
    [2, 6, 'NOT_ADMIN', 'erin is admin only in the version she signed'],
    [0, 7, 'NOT_ADMIN', 'bob is a member of v1, so his v2 is refused'],
    [null, 1, 'STATE', 'no version held: only a version 1 is taken'],
    [null, 8, 'NOT_ADMIN', 'a version 1 whose signer is not an admin in it'],
    [null, 9, 'STATE', 'the largest descriptor (version 2^53-1) with none held'],
    [null, 5, 'OK', "another room's first version"],
  ].map(([current, candidate, result, why]) => ({ current, candidate, result, why }));
  const acceptFirst = [
    [1, 'alice', 'dave', 'OK', 'dave, added in v2, takes it from alice'],
    [2, 'bob', 'carol', 'OK', 'from bob, an admin in it who signed it'],
    [2, 'alice', 'carol', 'NOT_ADMIN', 'signed by bob, but handed over as if from alice'],
    [3, 'carol', 'erin', 'NOT_ADMIN', 'signed by carol, a member only'],
    [7, 'bob', 'alice', 'OK', "bob's own v2 in which he is admin: first sight trusts the sender"],
    [9, 'alice', 'bob', 'OK', 'the largest descriptor'],
    [1, 'alice', 'erin', 'NOT_MEMBER', 'a good version that does not list the receiver (erin)'],
    [2, 'bob', 'dave', 'NOT_MEMBER', 'v3 handed to dave, whom it no longer lists'],
    [3, 'carol', 'dave', 'NOT_ADMIN', 'neither the signer an admin nor the receiver listed: the signer is judged first'],
  ].map(([candidate, sender, receiver, result, why]) => ({ candidate, sender, receiver, result, why }));

  // Rejects: each well signed by alice (so only the named rule fails), unless said otherwise.
  const base = { roomId, version: 1, name: 'Book club', signer: 'alice',
    members: sorted([M('alice', 'admin'), M('bob', 'member')], P) };
  const signed = (over) => { const b = body({ ...base, ...over }, P); return Buffer.concat([b, roomSign(b, P.alice.identitySeed)]); };
  const many = (n) => [M('alice', 'admin'), ...Array.from({ length: n - 1 }, (_, i) => ({ key: edPublic(sha(`room-extra-${i}-identity`)), role: 'member' }))]
    .sort((x, y) => Buffer.compare(x.key ?? P[x.who].identityKey, y.key ?? P[y.who].identityKey));
  const good = signed({});
  const flip = (b, at) => { const c = Buffer.from(b); c[at] ^= 1; return c; };
  const [k1, k2] = base.members;
  const rejects = [
    ['format byte 2', signed({ format: 2 }), 'VERSION'],
    ['format byte 0', signed({ format: 0 }), 'VERSION'],
    ['empty', Buffer.alloc(0), 'MALFORMED'],
    ['the format byte alone', Buffer.from([1]), 'MALFORMED'],
    ['version 0', signed({ version: 0 }), 'MALFORMED'],
    ['version 2^53', signed({ version: 2 ** 53 }), 'MALFORMED'],
    ['an empty name', signed({ name: '' }), 'MALFORMED'],
    ['a 65-byte name', signed({ name: 'x'.repeat(65) }), 'TOO_LARGE'],
    ['a name with an overlong UTF-8 form (C0 80)', signed({ name: Buffer.from([0x41, 0xc0, 0x80]) }), 'MALFORMED'],
    ['a name with a UTF-16 surrogate (ED A0 80)', signed({ name: Buffer.from([0xed, 0xa0, 0x80]) }), 'MALFORMED'],
    ['a name cut inside a character', signed({ name: Buffer.from([0x41, 0xe2, 0x98]) }), 'MALFORMED'],
    ['no members', signed({ members: [] }), 'MALFORMED'],
    ['17 members', signed({ members: many(17) }), 'LIMIT'],
    ['a member listed twice', signed({ members: [k1, k1, k2].sort((x, y) => Buffer.compare(P[x.who].identityKey, P[y.who].identityKey)) }), 'MALFORMED'],
    ['members not in ascending key order', signed({ members: [k2, k1] }), 'MALFORMED'],
    ['role 0', signed({ members: [k1, { ...k2, roleByte: 0 }] }), 'MALFORMED'],
    ['role 3', signed({ members: [k1, { ...k2, roleByte: 3 }] }), 'MALFORMED'],
    ['no admin', signed({ members: base.members.map((m) => ({ ...m, role: 'member' })) }), 'MALFORMED'],
    ['a trailing byte', Buffer.concat([good, Buffer.from([0])]), 'MALFORMED'],
    ['the last byte cut', good.subarray(0, good.length - 1), 'MALFORMED'],
    ['cut after the member list', good.subarray(0, good.length - 96), 'MALFORMED'],
    ['a flipped signature bit', flip(good, good.length - 1), 'BAD_SIGNATURE'],
    ['a flipped name bit (signature no longer covers it)', flip(good, 26), 'BAD_SIGNATURE'],
    ['the signer field swapped for bob', Buffer.concat([good.subarray(0, good.length - 96), P.bob.identityKey, good.subarray(good.length - 64)]), 'BAD_SIGNATURE'],
  ].map(([why, bytes, error]) => ({ why, descriptor: hex(bytes), error }));

  // Leave statements.
  const leaveBody = (rid, version, who) => Buffer.concat([Buffer.from([1]), rid, u64(version), P[who].identityKey]);
  const leaveSign = (b, who) => Buffer.concat([b, crypto.sign(null, Buffer.concat([Buffer.from('parley-room-leave-v1'), b]), edKey(P[who].identitySeed))]);
  const leaves = [
    { who: 'carol', descriptor: 2 }, { who: 'dave', descriptor: 1 },
  ].map(({ who, descriptor }) => {
    const b = leaveBody(roomId, descriptors[descriptor].version, who);
    return { who, descriptor, signedMessage: hex(Buffer.concat([Buffer.from('parley-room-leave-v1'), b])), leave: hex(leaveSign(b, who)) };
  });
  const carolLeave = Buffer.from(leaves[0].leave, 'hex');
  const leaveChecks = [
    [2, carolLeave, 'OK', 'carol leaves at v3, checked against v3'],
    [1, Buffer.from(leaves[1].leave, 'hex'), 'OK', 'dave leaves at v2, checked against v2'],
    [2, Buffer.from(leaves[1].leave, 'hex'), 'STALE', "dave's leave made at v2, checked against v3"],
    [1, carolLeave, 'STATE', "carol's leave made at v3, checked against v2 (update first)"],
    [5, carolLeave, 'OTHER_ROOM', 'checked against another room'],
    [2, leaveSign(leaveBody(roomId, 3, 'dave'), 'dave'), 'NOT_MEMBER', 'dave, removed in v3, leaving v3'],
    [2, flip(carolLeave, 120), 'BAD_SIGNATURE', 'a flipped signature bit'],
    [2, Buffer.concat([carolLeave.subarray(0, 25), P.alice.identityKey, carolLeave.subarray(57)]), 'BAD_SIGNATURE', "carol's statement claimed for alice"],
    [2, Buffer.concat([Buffer.from([2]), carolLeave.subarray(1)]), 'VERSION', 'format byte 2'],
    [2, carolLeave.subarray(0, 120), 'MALFORMED', 'one byte short'],
    [2, Buffer.concat([carolLeave, Buffer.from([0])]), 'MALFORMED', 'a trailing byte'],
    [2, leaveSign(leaveBody(roomId, 0, 'carol'), 'carol'), 'MALFORMED', 'version 0'],
  ].map(([descriptor, leave, result, why]) => ({ descriptor, leave: hex(leave), result, why }));

  // Challenges: bob and alice answer each other's nonce on one connection at v3.
  const fp = { alice: sha('room-alice-certificate'), bob: sha('room-bob-certificate'), dave: sha('room-dave-certificate'), erin: sha('room-erin-certificate') };
  const issuedAt = 1767225600000;
  const chMessage = (d, nonce, at, first, second) => {
    const v = descriptors[d];
    return Buffer.concat([Buffer.from('parley-room-challenge-v1'), Buffer.from(v.roomId, 'hex'), u64(v.version), nonce, u64(at), first, second]);
  };
  const challenge = (signer, verifier, d, nonceLabel, at = issuedAt) => {
    const nonce = sha(nonceLabel);
    const msg = chMessage(d, nonce, at, fp[signer], fp[verifier]);
    return {
      signer, verifier, descriptor: d, nonceLabel, nonce: hex(nonce), issuedAt: at,
      signerFingerprint: hex(fp[signer]), verifierFingerprint: hex(fp[verifier]),
      signedMessage: hex(msg), signature: hex(crypto.sign(null, msg, edKey(P[signer].identitySeed))),
    };
  };
  const challenges = [
    challenge('bob', 'alice', 2, 'room-alice-nonce'),
    challenge('alice', 'bob', 2, 'room-bob-nonce'),
    challenge('dave', 'alice', 1, 'room-alice-nonce'),
    challenge('erin', 'alice', 2, 'room-alice-nonce'),
  ];
  const C = (i, over, now, maxSkew, result, why) => ({ challenge: i, ...over, now, maxSkew, result, why });
  const challengeChecks = [
    C(0, {}, issuedAt, 60000, 'OK', 'checked at once'),
    C(0, {}, issuedAt + 60000, 60000, 'OK', '60 s later, at the edge of a 60 s window'),
    C(0, {}, issuedAt + 60001, 60000, 'EXPIRED', '60.001 s later'),
    C(0, {}, issuedAt - 60000, 60000, 'OK', 'issued 60 s ahead of the verifier clock'),
    C(0, {}, issuedAt - 60001, 60000, 'EXPIRED', 'issued 60.001 s ahead of the verifier clock'),
    C(1, {}, issuedAt + 5, 60000, 'OK', "alice's answer to bob"),
    C(0, { swapFingerprints: true }, issuedAt, 60000, 'BAD_SIGNATURE', 'the two fingerprints swapped'),
    C(0, { ownFingerprint: hex(fp.erin) }, issuedAt, 60000, 'BAD_SIGNATURE', "another connection's certificate on the verifier's side (a relayed answer)"),
    C(0, { nonceLabel: 'room-bob-nonce' }, issuedAt, 60000, 'BAD_SIGNATURE', 'checked against another nonce'),
    C(0, { descriptor: 1 }, issuedAt, 60000, 'BAD_SIGNATURE', 'checked against v2: the version is signed'),
    C(0, { issuedAt: issuedAt + 1 }, issuedAt, 60000, 'BAD_SIGNATURE', 'another issuedAt'),
    C(0, { signer: 'carol' }, issuedAt, 60000, 'BAD_SIGNATURE', "bob's signature presented as carol's"),
    C(2, { descriptor: 2 }, issuedAt, 60000, 'NOT_MEMBER', 'dave, removed in v3, answering with his v2 challenge'),
    C(3, {}, issuedAt, 60000, 'NOT_MEMBER', 'erin, not a member'),
    C(0, { descriptor: 5 }, issuedAt, 60000, 'NOT_MEMBER', "another room's descriptor (bob not in it)"),
    C(0, {}, issuedAt, 600001, 'ARGUMENT', 'a window above the 600 s cap'),
  ];

  return {
    about: 'Parley rooms, docs/PROTOCOL.md section 20. Seeds and random inputs are SHA-256("parley-vectors-v1" || label). descriptor = u8(1) || roomId(16) || u64(version) || u8(nameLen) || name || u8(count) || count x (key(32) || u8(role: 1 admin, 2 member)) || signer(32) || Ed25519(signer, signedMessage = "parley-room-v1" || every byte before the signature). accept: parley_room_accept(descriptors[current] or none, descriptors[candidate]); acceptFirst: parley_room_accept_first(descriptors[candidate], people[sender], people[receiver]); rejects: parley_room_open errors; leaves/leaveChecks: section 20.5; challenges/challengeChecks: section 20.6 (fields of challengeChecks override the challenge\'s: a descriptor index, signer, nonceLabel, issuedAt, ownFingerprint, swapFingerprints).',
    version: 1,
    people: Object.fromEntries(PEOPLE.map((w) => [w, { seedLabel: P[w].seedLabel, identitySeed: hex(P[w].identitySeed), identityKey: hex(P[w].identityKey) }])),
    extraMembers: { seedLabels: 'room-extra-N-identity, N = 0..10', keys: extra.map((e) => hex(e.key)) },
    roomIdLabel: 'room-id (first 16 bytes)',
    otherRoomIdLabel: 'room-id-other (first 16 bytes)',
    descriptors,
    accept,
    acceptFirst,
    rejects,
    leaves,
    leaveChecks,
    fingerprintLabels: 'room-NAME-certificate',
    challenges,
    challengeChecks,
  };
}

export const text = () => `${JSON.stringify(derive(), null, 2)}\n`;

if (process.argv.includes('--write')) {
  writeFileSync(FILE, text());
  console.log(`wrote ${FILE}`);
} else {
  const V = JSON.parse(readFileSync(FILE, 'utf8'));
  let core;
  const accounts = {};

  before(async () => {
    core = await import(`${ROOT}/web/core/parley.js`);
    await core.init({ wasmBinary: readFileSync(`${ROOT}/web/core/parley-core.wasm`) });
    // Each person's seed reaches the core as an identity transfer (section 14.2).
    for (const [who, p] of Object.entries(V.people)) {
      const key = sha(`room-${who}-transfer-key`);
      const nonce = sha(`room-${who}-transfer-nonce`).subarray(0, 12);
      const c = crypto.createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.concat([Buffer.from('parley-identity-v1'), Buffer.from([1])]));
      const sealed = Buffer.concat([c.update(unhex(p.identitySeed)), c.final(), c.getAuthTag()]);
      accounts[who] = core.Account.linked(new Uint8Array(key), new Uint8Array(Buffer.concat([Buffer.from([1]), nonce, sealed])));
    }
  });

  const result = (fn) => { try { fn(); return 'OK'; } catch (e) { if (e instanceof core.ParleyError) return e.codeName; throw e; } };

  test('rooms-v1: the file is what section 20 makes from its seeds (node:crypto)', () => {
    assert.equal(readFileSync(FILE, 'utf8'), text());
  });

  test('rooms-v1: the core signs every descriptor to the same bytes and opens it', () => {
    for (const d of V.descriptors) {
      assert.deepEqual(accounts[d.signer].identityKey(), unhex(V.people[d.signer].identityKey));
      const input = {
        roomId: unhex(d.roomId), version: d.version, name: d.name,
        members: [...d.members].reverse().map((m) => ({ key: unhex(m.key), role: m.role })),
      };
      if (d.signError) {
        assert.equal(result(() => core.signRoom(accounts[d.signer], input)), d.signError, d.label);
      } else {
        assert.equal(hex(core.signRoom(accounts[d.signer], input)), d.descriptor, d.label);
      }
      const opened = core.openRoom(unhex(d.descriptor));
      assert.equal(hex(opened.roomId), d.roomId);
      assert.equal(opened.version, d.version);
      assert.equal(opened.name, d.name);
      assert.equal(hex(opened.signer), V.people[d.signer].identityKey);
      assert.deepEqual(opened.members.map((m) => ({ key: hex(m.key), role: m.role })), d.members);
      for (const m of d.members) assert.equal(core.roomRole(unhex(d.descriptor), unhex(m.key)), m.role);
    }
    assert.equal(core.roomRole(unhex(V.descriptors[0].descriptor), unhex(V.people.erin.identityKey)), null);
  });

  test('rooms-v1: acceptance, first sight and rejects give their named results', () => {
    const D = (i) => (i === null ? null : unhex(V.descriptors[i].descriptor));
    for (const a of V.accept) assert.equal(result(() => core.acceptRoom(D(a.current), D(a.candidate))), a.result, a.why);
    for (const a of V.acceptFirst) {
      assert.equal(result(() => core.acceptRoomFirst(D(a.candidate), unhex(V.people[a.sender].identityKey), unhex(V.people[a.receiver].identityKey))), a.result, a.why);
    }
    for (const r of V.rejects) {
      assert.equal(result(() => core.openRoom(unhex(r.descriptor))), r.error, r.why);
      assert.equal(result(() => core.acceptRoom(null, unhex(r.descriptor))), r.error, r.why);
    }
    assert.ok(V.accept.length >= 12 && V.rejects.length >= 20);
  });

  test('rooms-v1: leave statements sign to the same bytes and check as named', () => {
    const D = (i) => unhex(V.descriptors[i].descriptor);
    for (const l of V.leaves) assert.equal(hex(core.signRoomLeave(accounts[l.who], D(l.descriptor))), l.leave);
    for (const c of V.leaveChecks) {
      let leaver = null;
      assert.equal(result(() => { leaver = core.verifyRoomLeave(D(c.descriptor), unhex(c.leave)); }), c.result, c.why);
      if (c.result === 'OK') assert.equal(hex(leaver), c.leave.slice(50, 114));
    }
    assert.equal(result(() => core.signRoomLeave(accounts.erin, D(2))), 'NOT_MEMBER');
  });

  test('rooms-v1: challenges sign to the same bytes and check as named', () => {
    const D = (i) => unhex(V.descriptors[i].descriptor);
    for (const c of V.challenges) {
      const sig = result(() => core.signRoomChallenge(accounts[c.signer], D(c.descriptor), {
        nonce: unhex(c.nonce), issuedAt: c.issuedAt, ownFingerprint: unhex(c.signerFingerprint), peerFingerprint: unhex(c.verifierFingerprint),
      }));
      if (c.signer === 'erin') {
        assert.equal(sig, 'NOT_MEMBER');
      } else {
        const s = core.signRoomChallenge(accounts[c.signer], D(c.descriptor), {
          nonce: unhex(c.nonce), issuedAt: c.issuedAt, ownFingerprint: unhex(c.signerFingerprint), peerFingerprint: unhex(c.verifierFingerprint),
        });
        assert.equal(hex(s), c.signature);
      }
    }
    for (const k of V.challengeChecks) {
      const c = { ...V.challenges[k.challenge], ...k };
      const signerFp = k.swapFingerprints ? c.verifierFingerprint : c.signerFingerprint;
      const ownFp = k.swapFingerprints ? c.signerFingerprint : (k.ownFingerprint ?? c.verifierFingerprint);
      assert.equal(result(() => core.checkRoomChallenge(D(c.descriptor), {
        signerKey: unhex(V.people[c.signer].identityKey), nonce: new Uint8Array(sha(c.nonceLabel)), issuedAt: c.issuedAt,
        signerFingerprint: unhex(signerFp), ownFingerprint: unhex(ownFp), signature: unhex(V.challenges[k.challenge].signature),
      }, k.now, k.maxSkew)), k.result, k.why);
    }
  });

  test('rooms: the binding checks its arguments and does not leak', () => {
    const d = unhex(V.descriptors[2].descriptor);
    assert.throws(() => core.openRoom('x'), TypeError);
    assert.throws(() => core.signRoom(accounts.alice, { roomId: new Uint8Array(15), version: 1, name: 'a', members: [] }), TypeError);
    assert.throws(() => core.signRoom(accounts.alice, { roomId: new Uint8Array(16), version: 0.5, name: 'a', members: [] }), TypeError);
    assert.throws(() => core.signRoom(accounts.alice, { roomId: new Uint8Array(16), version: 1, name: 'a', members: [{ key: new Uint8Array(32), role: 'owner' }] }), TypeError);
    assert.throws(() => core.signRoom(accounts.alice, { roomId: new Uint8Array(16), version: 1, name: 'a', members: new Array(17).fill({ key: new Uint8Array(32), role: 'admin' }) }), RangeError);
    assert.equal(result(() => core.signRoom(accounts.alice, { roomId: new Uint8Array(16), version: 1, name: 'a',
      members: [{ key: accounts.alice.identityKey(), role: 'admin' }, { key: accounts.alice.identityKey(), role: 'member' }] })), 'MALFORMED');
    assert.equal(result(() => core.openRoom(new Uint8Array(100000).fill(1))), 'MALFORMED');
    assert.throws(() => core.checkRoomChallenge(d, {}, 0, 0), TypeError);
    const used = core.heapUsed();
    for (let i = 0; i < 50; i += 1) {
      core.openRoom(d);
      core.acceptRoom(unhex(V.descriptors[1].descriptor), d);
      result(() => core.acceptRoom(d, d));
    }
    assert.equal(core.heapUsed(), used);
  });
}
