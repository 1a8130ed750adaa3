// The key directory over real HTTP: uploads with signature checks, bundles that hand each
// one-time prekey out once (also under 50 parallel requests), counts, caps and identity resets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { login } from '../lib/ws.mjs';
import { startServer } from '../lib/server.mjs';
import { api, b64u, newIdentity, newUser, oneTimePrekeys, signedPrekey, x25519Public } from '../lib/api.mjs';

let server;
let base;

before(async () => {
  // 49 parallel GETs from one address (127.0.0.1): above the default 32 HTTP connections per address.
  server = await startServer({ args: ['--max-http-per-address', '128'] });
  base = server.url;
});

after(async () => {
  if (server) await server.stop();
});

function isError(r, status, code) {
  assert.equal(r.status, status, `status of ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code);
}

async function upload(user, identity, { otpks = [], spkId = 1, reset } = {}) {
  const body = { identityKey: identity.publicKey, signedPrekey: signedPrekey(identity, spkId), oneTimePrekeys: otpks };
  if (reset !== undefined) body.resetIdentity = reset;
  return api(base, 'PUT', '/api/keys', { token: user.token, body });
}

test('upload, then a bundle per GET, each one-time prekey handed out once', async () => {
  const alice = await newUser(base, 'alice');
  const bob = await newUser(base, 'bob');
  const id = newIdentity();
  const otpks = oneTimePrekeys(10, 3);
  const r = await upload(alice, id, { otpks, spkId: 7 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.count, 3);
  assert.equal(r.body.low, true);
  assert.equal(r.body.identityCounter, 1);

  const count = await api(base, 'GET', '/api/keys/me/count', { token: alice.token });
  assert.deepEqual(count.body, { count: 3, low: true, kemCount: 0, kemLow: true });

  const seen = [];
  for (let i = 0; i < 3; i++) {
    const b = await api(base, 'GET', `/api/keys/${alice.username}`, { token: bob.token });
    assert.equal(b.status, 200);
    assert.equal(b.body.username, alice.username);
    assert.equal(b.body.identityKey, id.publicKey);
    assert.equal(b.body.signedPrekey.id, 7);
    assert.equal(typeof b.body.identityChangedAt, 'number');
    seen.push(b.body.oneTimePrekey);
  }
  assert.deepEqual(seen.map((k) => k.id).sort(), [10, 11, 12]);
  for (const k of seen) assert.equal(k.publicKey, otpks.find((o) => o.id === k.id).publicKey);
  const empty = await api(base, 'GET', `/api/keys/${alice.username}`, { token: bob.token });
  assert.equal(empty.status, 200);
  assert.equal(empty.body.oneTimePrekey, null);
  assert.deepEqual((await api(base, 'GET', '/api/keys/me/count', { token: alice.token })).body, { count: 0, low: true, kemCount: 0, kemLow: true });
});

test('49 parallel GETs for 20 one-time prekeys: every id handed out at most once', async () => {
  const carol = await newUser(base, 'carol');
  // Seven requesters: each may take 3 of carol's one-time prekeys (KEYS_OTPK_PAIR_BURST).
  const requesters = [];
  for (let i = 0; i < 7; i++) requesters.push(await newUser(base, 'req'));
  const r = await upload(carol, newIdentity(), { otpks: oneTimePrekeys(100, 20) });
  assert.equal(r.status, 200);
  assert.equal(r.body.low, false);
  const results = await Promise.all(requesters.flatMap((q) => Array.from({ length: 7 }, () =>
    api(base, 'GET', `/api/keys/${carol.username}`, { token: q.token }))));
  for (const b of results) assert.equal(b.status, 200);
  const ids = results.map((b) => b.body.oneTimePrekey).filter(Boolean).map((k) => k.id);
  assert.equal(ids.length, 20);
  assert.equal(new Set(ids).size, 20, 'no id handed out twice');
  assert.equal(results.filter((b) => b.body.oneTimePrekey === null).length, 29);
});

test('one requester gets at most 3 of a user\'s one-time prekeys, then bundles without one', async () => {
  const erin = await newUser(base, 'erin');
  const drainer = await newUser(base, 'drainer');
  const friend = await newUser(base, 'friend');
  const id = newIdentity();
  assert.equal((await upload(erin, id, { otpks: oneTimePrekeys(1, 10) })).status, 200);
  const erinWs = await login({ url: base }, erin.token);
  const got = [];
  for (let i = 0; i < 8; i++) {
    const b = await api(base, 'GET', `/api/keys/${erin.username}`, { token: drainer.token });
    assert.equal(b.status, 200, 'never refused for running out');
    assert.equal(b.body.identityKey, id.publicKey);
    got.push(b.body.oneTimePrekey);
  }
  assert.deepEqual(got.map((k) => k && k.id), [1, 2, 3, null, null, null, null, null]);
  // Someone else still gets the next one; 7 are left for them.
  const f = await api(base, 'GET', `/api/keys/${erin.username}`, { token: friend.token });
  assert.equal(f.body.oneTimePrekey.id, 4);
  const count = await api(base, 'GET', '/api/keys/me/count', { token: erin.token });
  assert.equal(count.body.count, 6);
  // Each fetch that took one (4 of them, each leaving fewer than 20) told erin's page to top up;
  // the bundles without one did not.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(erinWs.messages.filter((m) => m.type === 'prekeys-low').length, 4);
  erinWs.close();
});

test('the signed prekey signature is verified', async () => {
  const u = await newUser(base);
  const id = newIdentity();
  const other = newIdentity();
  const spk = signedPrekey(id, 5);
  // Signed by another identity.
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(other, 5) } }), 400, 'bad_signature');
  // Signature over another id, or another public key.
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: { ...spk, id: 6 } } }), 400, 'bad_signature');
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: { ...spk, publicKey: x25519Public() } } }), 400, 'bad_signature');
  // One bit flipped in the signature.
  const sig = Buffer.from(spk.signature, 'base64url');
  sig[10] ^= 1;
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: { ...spk, signature: b64u(sig) } } }), 400, 'bad_signature');
  // Nothing was stored by the refused uploads.
  isError(await api(base, 'GET', `/api/keys/${u.username}`, { token: u.token }), 404, 'no_keys');
  // The genuine one is accepted.
  assert.equal((await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: spk } })).status, 200);
  // The largest id is fine.
  assert.equal((await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 4294967295) } })).status, 200);
});

test('bad uploads get clear errors', async () => {
  const u = await newUser(base);
  const id = newIdentity();
  const spk = signedPrekey(id, 1);
  const put = (body) => api(base, 'PUT', '/api/keys', { token: u.token, body });
  isError(await put({ signedPrekey: spk }), 400, 'invalid_identity_key');
  isError(await put({ identityKey: `${id.publicKey}=`, signedPrekey: spk }), 400, 'invalid_identity_key');
  isError(await put({ identityKey: Buffer.from(id.publicKey, 'base64url').toString('base64'), signedPrekey: spk }), 400, 'invalid_identity_key');
  isError(await put({ identityKey: b64u(Buffer.alloc(31)), signedPrekey: spk }), 400, 'invalid_identity_key');
  isError(await put({ identityKey: id.publicKey }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: { ...spk, id: -1 } }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: { ...spk, id: 4294967296 } }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: { ...spk, id: 1.5 } }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: { ...spk, id: '1' } }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: { ...spk, signature: spk.signature.slice(4) } }), 400, 'invalid_signed_prekey');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: {} }), 400, 'invalid_one_time_prekeys');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: [{ id: 1 }] }), 400, 'invalid_one_time_prekeys');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: [{ id: 1, publicKey: 'AAAA' }] }), 400, 'invalid_one_time_prekeys');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: [5] }), 400, 'invalid_one_time_prekeys');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: oneTimePrekeys(0, 101) }), 400, 'too_many_prekeys');
  const dup = oneTimePrekeys(0, 2);
  dup[1].id = 0;
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: dup }), 400, 'duplicate_prekey_id');
  isError(await put({ identityKey: id.publicKey, signedPrekey: spk, resetIdentity: 'yes' }), 400, 'invalid_field');
  isError(await api(base, 'PUT', '/api/keys', { body: { identityKey: id.publicKey, signedPrekey: spk } }), 401, 'missing_token');
  isError(await api(base, 'GET', '/api/keys/me/count'), 401, 'missing_token');
  isError(await api(base, 'GET', `/api/keys/${u.username}`), 401, 'missing_token');
  isError(await api(base, 'GET', '/api/keys/not!valid', { token: u.token }), 400, 'invalid_username');
  isError(await api(base, 'GET', '/api/keys/a/b', { token: u.token }), 400, 'invalid_username');
  isError(await api(base, 'GET', '/api/keys/nobody-here', { token: u.token }), 404, 'unknown_user');
  isError(await api(base, 'POST', '/api/keys', { token: u.token, body: {} }), 405, 'method_not_allowed');
  isError(await api(base, 'DELETE', `/api/keys/${u.username}`, { token: u.token }), 405, 'method_not_allowed');
});

test('stored cap of 200 and duplicate ids across uploads', async () => {
  const u = await newUser(base);
  const id = newIdentity();
  assert.equal((await upload(u, id, { otpks: oneTimePrekeys(0, 100) })).status, 200);
  isError(await upload(u, id, { otpks: oneTimePrekeys(50, 1) }), 409, 'duplicate_prekey_id');
  const second = await upload(u, id, { otpks: oneTimePrekeys(100, 100) });
  assert.equal(second.status, 200);
  assert.equal(second.body.count, 200);
  isError(await upload(u, id, { otpks: oneTimePrekeys(200, 1) }), 409, 'prekey_limit');
  // A refused upload changes nothing; an upload without one-time prekeys replaces the signed prekey.
  const spkOnly = await upload(u, id, { spkId: 99 });
  assert.equal(spkOnly.body.count, 200);
  const b = await api(base, 'GET', `/api/keys/${u.username}`, { token: u.token });
  assert.equal(b.body.signedPrekey.id, 99);
  assert.equal(b.body.oneTimePrekey.id, 0);
});

test('a different identity key is refused unless resetIdentity, which clears old prekeys', async () => {
  const u = await newUser(base);
  const peer = await newUser(base);
  const id1 = newIdentity();
  const id2 = newIdentity();
  const first = await upload(u, id1, { otpks: oneTimePrekeys(0, 5) });
  assert.equal(first.body.identityCounter, 1);
  isError(await upload(u, id2, { otpks: oneTimePrekeys(10, 5) }), 409, 'identity_conflict');
  isError(await upload(u, id2, { reset: false }), 409, 'identity_conflict');
  // Same identity again with resetIdentity: nothing changes.
  const same = await upload(u, id1, { reset: true });
  assert.equal(same.body.identityCounter, 1);
  assert.equal(same.body.count, 5);
  const before = await api(base, 'GET', `/api/keys/${u.username}`, { token: peer.token });
  assert.equal(before.body.identityKey, id1.publicKey);
  const reset = await upload(u, id2, { otpks: oneTimePrekeys(10, 2), reset: true });
  assert.equal(reset.status, 200);
  assert.equal(reset.body.identityCounter, 2);
  assert.equal(reset.body.count, 2, 'old one-time prekeys were deleted');
  const after = await api(base, 'GET', `/api/keys/${u.username}`, { token: peer.token });
  assert.equal(after.body.identityKey, id2.publicKey);
  assert.equal(after.body.identityCounter, 2);
  assert.ok(after.body.identityChangedAt >= before.body.identityChangedAt);
  assert.ok([10, 11].includes(after.body.oneTimePrekey.id));
});

test('bundle fetches are throttled per requesting account', async () => {
  const owner = await newUser(base);
  const greedy = await newUser(base);
  await upload(owner, newIdentity(), { otpks: oneTimePrekeys(0, 100) });
  let throttled;
  for (let i = 0; i < 110 && !throttled; i++) {
    const r = await api(base, 'GET', `/api/keys/${owner.username}`, { token: greedy.token });
    if (r.status === 429) throttled = r;
    else assert.equal(r.status, 200);
  }
  assert.ok(throttled, 'throttled after the burst');
  assert.equal(throttled.body.error.code, 'rate_limited');
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  // Others are not affected.
  assert.equal((await api(base, 'GET', `/api/keys/${owner.username}`, { token: owner.token })).status, 200);
});

test('GET /api/identity/{username} returns the identity key without consuming prekeys', async () => {
  const u = await newUser(base);
  const peer = await newUser(base);
  const id = newIdentity();
  // No keys yet and no such account answer alike: a lookup tells nothing of who exists.
  isError(await api(base, 'GET', `/api/identity/${u.username}`, { token: peer.token }), 404, 'no_identity');
  await upload(u, id, { otpks: oneTimePrekeys(0, 3) });
  for (let i = 0; i < 5; i++) {
    const r = await api(base, 'GET', `/api/identity/${u.username}`, { token: peer.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.identityKey, id.publicKey);
    assert.equal(r.body.identityCounter, 1);
    assert.equal(typeof r.body.identityChangedAt, 'number');
    assert.equal(r.body.oneTimePrekey, undefined);
  }
  assert.equal((await api(base, 'GET', '/api/keys/me/count', { token: u.token })).body.count, 3);
  isError(await api(base, 'GET', '/api/identity/nobody-there', { token: peer.token }), 404, 'no_identity');
  isError(await api(base, 'GET', '/api/identity/b%20ad', { token: peer.token }), 400, 'invalid_username');
  isError(await api(base, 'GET', `/api/identity/${u.username}`), 401, 'missing_token');
  isError(await api(base, 'PUT', `/api/identity/${u.username}`, { token: peer.token, body: {} }), 405, 'method_not_allowed');
});

test('an identity key belongs to one account: another account uploading it is refused (409 identity_in_use)', async () => {
  const victim = await newUser(base, 'victim');
  const thief = await newUser(base, 'thief');
  const id = newIdentity();
  assert.equal((await upload(victim, id, { otpks: oneTimePrekeys(1, 2) })).status, 200);
  // The thief re-uploads the victim's identity key and signed prekey (both public).
  const stolen = await api(base, 'GET', `/api/keys/${victim.username}`, { token: thief.token });
  const r = await api(base, 'PUT', '/api/keys', { token: thief.token, body: { identityKey: stolen.body.identityKey, signedPrekey: stolen.body.signedPrekey } });
  isError(r, 409, 'identity_in_use');
  // Also as a reset, and nothing was stored for the thief.
  isError(await api(base, 'PUT', '/api/keys', { token: thief.token, body: { identityKey: stolen.body.identityKey, signedPrekey: stolen.body.signedPrekey, resetIdentity: true } }), 409, 'identity_in_use');
  isError(await api(base, 'GET', `/api/keys/${thief.username}`, { token: victim.token }), 404, 'no_keys');
  // The owner may upload it again (a new signed prekey, more one-time prekeys).
  assert.equal((await upload(victim, id, { otpks: oneTimePrekeys(10, 1), spkId: 2 })).status, 200);
  // A thief holding keys of its own cannot switch to the victim's either.
  assert.equal((await upload(thief, newIdentity())).status, 200);
  isError(await api(base, 'PUT', '/api/keys', { token: thief.token, body: { identityKey: stolen.body.identityKey, signedPrekey: stolen.body.signedPrekey, resetIdentity: true } }), 409, 'identity_in_use');
});

test('low-order and all-zero X25519 prekeys are refused', async () => {
  const u = await newUser(base, 'weak');
  const id = newIdentity();
  // The points of order 1, 2, 4 and 8 on Curve25519 and their non-canonical encodings.
  const weak = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ].map((h) => b64u(Buffer.from(h, 'hex')));
  for (const [i, pub] of weak.entries()) {
    isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 1, pub) } }), 400, 'invalid_signed_prekey');
    isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 1), oneTimePrekeys: [{ id: 1, publicKey: x25519Public() }, { id: 2 + i, publicKey: pub }] } }), 400, 'invalid_one_time_prekeys');
  }
  // Nothing of those was stored; a sound upload works.
  isError(await api(base, 'GET', `/api/keys/${u.username}`, { token: u.token }), 404, 'no_keys');
  assert.equal((await upload(u, id, { otpks: oneTimePrekeys(1, 2) })).status, 200);
});

test('POST /api/identities: several identities in one body, the unknown left out; lookups are throttled per account', async () => {
  const a = await newUser(base, 'ida');
  const b = await newUser(base, 'idb');
  const asker = await newUser(base, 'asker');
  const ida = newIdentity();
  const idb = newIdentity();
  await upload(a, ida);
  await upload(b, idb);
  const nokeys = (await newUser(base, 'nokeys')).username;
  const r = await api(base, 'POST', '/api/identities', { token: asker.token, body: { users: [b.username.toUpperCase(), 'nobody-there', nokeys, a.username] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.identities.map((x) => [x.username, x.identityKey, x.identityCounter]),
    [[b.username, idb.publicKey, 1], [a.username, ida.publicKey, 1]], 'in request order, unknown and keyless left out alike');
  for (const [body, code] of [[{}, 'invalid_field'], [{ users: [] }, 'invalid_field'], [{ users: 'x' }, 'invalid_field'],
    [{ users: Array.from({ length: 65 }, (_, i) => `user${i}`) }, 'invalid_field'], [{ users: ['BAD NAME'] }, 'invalid_username'], [{ users: [7] }, 'invalid_username']]) {
    isError(await api(base, 'POST', '/api/identities', { token: asker.token, body }), 400, code);
  }
  isError(await api(base, 'POST', '/api/identities', { body: { users: [a.username] } }), 401, 'missing_token');
  isError(await api(base, 'GET', '/api/identities', { token: asker.token }), 405, 'method_not_allowed');
  // 128 lookups, then 1 a second: the 4 above, then 124 more in batches of 62, then refused.
  const prober = await newUser(base, 'prober');
  const batch = Array.from({ length: 62 }, (_, i) => `probe${i}x`);
  assert.equal((await api(base, 'POST', '/api/identities', { token: prober.token, body: { users: batch } })).status, 200);
  assert.equal((await api(base, 'POST', '/api/identities', { token: prober.token, body: { users: batch } })).status, 200);
  assert.equal((await api(base, 'POST', '/api/identities', { token: prober.token, body: { users: batch.slice(0, 4) } })).status, 200);
  const refused = await api(base, 'POST', '/api/identities', { token: prober.token, body: { users: batch.slice(0, 8) } });
  isError(refused, 429, 'rate_limited');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  isError(await api(base, 'GET', `/api/identity/${a.username}`, { token: prober.token }), 429, 'rate_limited');
  // Another account is not affected.
  assert.equal((await api(base, 'GET', `/api/identity/${a.username}`, { token: asker.token })).status, 200);
});

test('the access log names nobody looked up: /api/keys/NAME and /api/identity/NAME are logged without the name', async () => {
  const friend = await newUser(base, 'friendname');
  const asker = await newUser(base, 'asker');
  await upload(friend, newIdentity(), { otpks: oneTimePrekeys(1, 2) });
  // The upload's own lines (which name the friend, who did it) are in before the lookups start.
  const uploaded = new RegExp(`keys: ${friend.username} uploaded keys[^\n]*\n[^\n]*"PUT /api/keys `);
  for (let i = 0; i < 100 && !uploaded.test(server.logs()); i++) await new Promise((r) => setTimeout(r, 20));
  const from = server.logs().length;
  assert.equal((await api(base, 'GET', `/api/identity/${friend.username}`, { token: asker.token })).status, 200);
  assert.equal((await api(base, 'GET', `/api/keys/${friend.username}?x=1`, { token: asker.token })).status, 200);
  assert.equal((await api(base, 'GET', '/api/keys/me/count', { token: asker.token })).status, 200);
  await new Promise((r) => setTimeout(r, 200));
  const logged = server.logs().slice(from);
  assert.match(logged, /GET \/api\/identity\/\* /);
  assert.match(logged, /GET \/api\/keys\/\*/);
  assert.match(logged, /GET \/api\/keys\/me\/count/);
  assert.equal(logged.includes(friend.username), false, `the log names the one looked up:\n${logged}`);
});

test('base64url is its 64 characters only: bytes from 0x80 up are refused, not read as "_" or "-"', async () => {
  const u = await newUser(base, 'nonascii');
  const id = newIdentity();
  // Two characters swapped for "é" (two bytes in UTF-8): the same length, not base64url.
  const key = `${id.publicKey.slice(0, 10)}é${id.publicKey.slice(12)}`;
  assert.equal(Buffer.byteLength(key), id.publicKey.length);
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: key, signedPrekey: signedPrekey(id, 1) } }), 400, 'invalid_identity_key');
  const spk = signedPrekey(id, 1);
  spk.signature = `${spk.signature.slice(0, 20)}\u00ff${spk.signature.slice(22)}`;
  isError(await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: spk } }), 400, 'invalid_signed_prekey');
});
