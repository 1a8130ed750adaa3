// Post-quantum KEM prekeys in the directory (docs/PROTOCOL.md 15, docs/API.md PUT /api/keys/me/kem):
// signatures checked with the identity key, keys checked as ML-KEM-1024 keys, sizes and caps
// enforced, one record per bundle part (a one-time one handed out once, then the last-resort one),
// counts for both kinds, and a new identity forgets them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { api, kemRecord, newIdentity, newUser, signedPrekey } from '../lib/api.mjs';

let server;
let base;

before(async () => {
  server = await startServer();
  base = server.url;
});

after(async () => {
  if (server) await server.stop();
});

function isError(r, status, code) {
  assert.equal(r.status, status, `status of ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code);
}

async function withKeys(prefix = 'kem') {
  const user = await newUser(base, prefix);
  const identity = newIdentity();
  const r = await api(base, 'PUT', '/api/keys', { token: user.token, body: { identityKey: identity.publicKey, signedPrekey: signedPrekey(identity, 1), oneTimePrekeys: [] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { user, identity };
}

const putKem = (user, body) => api(base, 'PUT', '/api/keys/me/kem', { token: user.token, body });

test('KEM prekeys uploaded and handed out: one-time ones once each, then the last-resort one; counts for both kinds', async () => {
  const { user, identity } = await withKeys();
  const viewer = await newUser(base, 'viewer');
  const lastResort = await kemRecord(identity, 1);
  const oneTime = [await kemRecord(identity, 2), await kemRecord(identity, 3)];
  const r = await putKem(user, { lastResort, oneTime });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { kemCount: 2, kemLow: true });
  const count = await api(base, 'GET', '/api/keys/me/count', { token: user.token });
  assert.equal(count.body.kemCount, 2);
  assert.equal(count.body.kemLow, true);
  const got = [];
  for (let i = 0; i < 4; i += 1) {
    const b = await api(base, 'GET', `/api/keys/${user.username}`, { token: viewer.token });
    assert.equal(b.status, 200);
    assert.equal(b.body.bundles.length, 1);
    got.push(b.body.bundles[0].kemPrekey);
  }
  assert.deepEqual(new Set(got.slice(0, 2)), new Set(oneTime), 'each one-time KEM prekey once');
  assert.deepEqual(got.slice(2), [lastResort, lastResort], 'then the last-resort one, as often as asked');
  assert.equal((await api(base, 'GET', '/api/keys/me/count', { token: user.token })).body.kemCount, 0);
  // A new last-resort KEM prekey replaces the old one.
  const next = await kemRecord(identity, 4);
  assert.equal((await putKem(user, { lastResort: next })).status, 200);
  const b = await api(base, 'GET', `/api/keys/${user.username}`, { token: viewer.token });
  assert.equal(b.body.bundles[0].kemPrekey, next);
});

test('an account without KEM prekeys gives bundles without one (kemPrekey null)', async () => {
  const { user } = await withKeys('nokem');
  const viewer = await newUser(base, 'viewer');
  const b = await api(base, 'GET', `/api/keys/${user.username}`, { token: viewer.token });
  assert.equal(b.status, 200);
  assert.equal(b.body.bundles[0].kemPrekey, null);
  const count = await api(base, 'GET', '/api/keys/me/count', { token: user.token });
  assert.equal(count.body.kemCount, 0);
});

test('bad KEM prekeys are refused: signatures, sizes, keys that are no ML-KEM keys, repeated ids, too many', async () => {
  const { user, identity } = await withKeys('badkem');
  const other = newIdentity();
  const good = await kemRecord(identity, 1);
  isError(await putKem(user, { lastResort: await kemRecord(other, 1) }), 400, 'bad_signature');
  isError(await putKem(user, { lastResort: good, oneTime: [await kemRecord(other, 2)] }), 400, 'bad_signature');
  const short = Buffer.from(good, 'base64url').subarray(0, 1635).toString('base64url');
  isError(await putKem(user, { lastResort: short }), 400, 'invalid_kem_prekey');
  const long = Buffer.concat([Buffer.from(good, 'base64url'), Buffer.from([0])]).toString('base64url');
  isError(await putKem(user, { lastResort: long }), 400, 'invalid_kem_prekey');
  isError(await putKem(user, {}), 400, 'invalid_kem_prekey');
  isError(await putKem(user, { lastResort: good, oneTime: 'x' }), 400, 'invalid_kem_prekey');
  isError(await putKem(user, { lastResort: good, oneTime: [12] }), 400, 'invalid_kem_prekey');
  // A key whose coefficients are out of range (all 0xff) fails FIPS 203's check, signed or not.
  isError(await putKem(user, { lastResort: await kemRecord(identity, 5, { key: new Uint8Array(1568).fill(0xff) }) }), 400, 'bad_signature');
  isError(await putKem(user, { lastResort: good, oneTime: [await kemRecord(identity, 1)] }), 400, 'duplicate_prekey_id');
  const many = [];
  for (let i = 0; i < 26; i += 1) many.push(await kemRecord(identity, 100 + i));
  isError(await putKem(user, { lastResort: good, oneTime: many }), 400, 'too_many_prekeys');
  // Over the cap: at most 100 stored per device.
  for (let k = 0; k < 4; k += 1) {
    const batch = await Promise.all(Array.from({ length: 25 }, (_, i) => kemRecord(identity, 1000 + k * 25 + i)));
    const r = await putKem(user, { lastResort: good, oneTime: batch });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // An id stored by an earlier upload is refused, and nothing of that upload is kept.
    if (k === 0) isError(await putKem(user, { lastResort: good, oneTime: [await kemRecord(identity, 5001), await kemRecord(identity, 1000)] }), 409, 'duplicate_prekey_id');
  }
  isError(await putKem(user, { lastResort: good, oneTime: [await kemRecord(identity, 5000)] }), 409, 'prekey_limit');
  assert.equal((await api(base, 'GET', '/api/keys/me/count', { token: user.token })).body.kemCount, 100);
  // Without an identity key first.
  const fresh = await newUser(base, 'nokeys');
  isError(await putKem(fresh, { lastResort: good }), 409, 'no_keys');
  // Without a token.
  assert.equal((await api(base, 'PUT', '/api/keys/me/kem', { body: { lastResort: good } })).status, 401);
});

test('a new identity forgets the former identity\'s KEM prekeys', async () => {
  const { user, identity } = await withKeys('kemreset');
  const viewer = await newUser(base, 'viewer');
  assert.equal((await putKem(user, { lastResort: await kemRecord(identity, 1), oneTime: [await kemRecord(identity, 2)] })).status, 200);
  const fresh = newIdentity();
  const r = await api(base, 'PUT', '/api/keys', { token: user.token, body: { identityKey: fresh.publicKey, signedPrekey: signedPrekey(fresh, 1), oneTimePrekeys: [], resetIdentity: true } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const b = await api(base, 'GET', `/api/keys/${user.username}`, { token: viewer.token });
  assert.equal(b.body.bundles[0].kemPrekey, null, 'none of the former identity\'s');
  assert.equal((await api(base, 'GET', '/api/keys/me/count', { token: user.token })).body.kemCount, 0);
});
