// Several devices per account (docs/API.md "Devices") against the real binary: device ids at
// sign-up and log-in, tokens per device, signed device lists (made here with node:crypto's
// Ed25519, independently of the core), bundles per device, two devices online at once, relays by
// toDevice and fromDevice, presence with devices, mail per device, removal (4403, tokens and
// log-in refused), identity resets, and accounts from before devices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { join } from 'node:path';
import { dbQuery, startServer } from '../lib/server.mjs';
import { login, makeContacts, presenceCap, showPresence } from '../lib/ws.mjs';
import {
  api, deviceList, loginDevice, newIdentity, newUser, oneTimePrekeys, signedPrekey,
} from '../lib/api.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sql = (srv, q) => dbQuery(srv.dataDir, q);

function isError(r, status, code) {
  assert.equal(r.status, status, `status of ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code, JSON.stringify(r.body));
}

/** Runs fn with a server of its own (fresh throttles), which must exit 0 without a sanitizer's report. */
async function withServer(fn, options = {}) {
  const s = await startServer(options);
  try {
    await fn(s, s.url);
  } catch (e) {
    e.message += `\n---- server log ----\n${s.logs().slice(-3000)}`;
    throw e;
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, `parley-server exited with ${code}:\n${s.logs().slice(-4000)}`);
    assert.doesNotMatch(s.logs(), /Sanitizer|runtime error:/);
  }
}

/** Uploads keys for the token's device: a signed prekey (spkId) and n one-time prekeys from `from`. */
function putKeys(base, token, identity, { spkId = 1, from = 1, n = 3, reset } = {}) {
  const body = { identityKey: identity.publicKey, signedPrekey: signedPrekey(identity, spkId), oneTimePrekeys: oneTimePrekeys(from, n) };
  if (reset !== undefined) body.resetIdentity = reset;
  return api(base, 'PUT', '/api/keys', { token, body });
}

const putList = (base, token, list) => api(base, 'PUT', '/api/devices', { token, body: { list } });

/**
 * An account with devices 1 and 2 listed (generation 1) and keys on both: { user, id, d1, d2 }
 * with each device's token.
 */
async function twoDevices(base, prefix = 'dev') {
  const user = await newUser(base, prefix);
  const id = newIdentity();
  const d1 = user.token;
  assert.equal((await putKeys(base, d1, id, { spkId: 11, from: 100 })).status, 200);
  const d2 = (await loginDevice(base, user, 2)).token;
  const r = await putList(base, d1, deviceList(id, 1, [{ id: 1, label: 'first' }, { id: 2, label: 'second' }]));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { generation: 1 });
  assert.equal((await putKeys(base, d2, id, { spkId: 22, from: 200 })).status, 200);
  return { user, id, d1, d2 };
}

test('sign-up and log-in name a device (absent: 1); anything but 1..2^31-1 is invalid_field; a new id registers, unlisted', async () => {
  await withServer(async (s, base) => {
    const username = `dv${crypto.randomBytes(4).toString('hex')}`;
    const password = 'a long enough password';
    const up = await api(base, 'POST', '/api/signup', { body: { username, password } });
    assert.equal(up.status, 201);
    assert.equal(up.body.device, 1);
    const claims = JSON.parse(Buffer.from(up.body.token.split('.')[1], 'base64url'));
    assert.equal(claims.dev, 1);
    assert.equal(typeof claims.dgen, 'number');
    for (const device of [0, -1, 2147483648, 1.5, '2', null, true, [2], { id: 2 }]) {
      isError(await api(base, 'POST', '/api/login', { body: { username, password, device } }), 400, 'invalid_field');
      isError(await api(base, 'POST', '/api/signup', { body: { username: `${username}x`, password, device } }), 400, 'invalid_field');
    }
    const seven = await api(base, 'POST', '/api/login', { body: { username, password, device: 2147483647 } });
    assert.equal(seven.status, 200);
    assert.equal(seven.body.device, 2147483647);
    // A wrong password with a device id is the usual 401.
    isError(await api(base, 'POST', '/api/login', { body: { username, password: 'wrong password', device: 5 } }), 401, 'invalid_credentials');
    const list = await api(base, 'GET', '/api/devices', { token: seven.body.token });
    assert.equal(list.status, 200);
    assert.equal(list.body.list, null);
    assert.equal(list.body.generation, 0);
    assert.deepEqual(list.body.devices.map((d) => [d.device, d.listed, d.current, d.connected]),
      [[1, true, false, false], [2147483647, false, true, false]]);
    for (const d of list.body.devices) assert.equal(d.lastSeen % 3600, 0, 'last seen is rounded to the hour');
    // A sign-up may name its first device.
    const other = await api(base, 'POST', '/api/signup', { body: { username: `${username}b`, password, device: 42 } });
    assert.equal(other.status, 201);
    assert.equal(other.body.device, 42);
    const mine = await api(base, 'GET', '/api/devices', { token: other.body.token });
    assert.deepEqual(mine.body.devices.map((d) => [d.device, d.listed]), [[42, false]]);
  });
});

test('device lists: no_keys, malformed, forged, stale, unknown and unlisted uploaders are refused; a good one lists its devices', async () => {
  await withServer(async (s, base) => {
    const user = await newUser(base, 'lst');
    const id = newIdentity();
    const d1 = user.token;
    const d3 = (await loginDevice(base, user, 3)).token;
    isError(await putList(base, d1, deviceList(id, 1, [1, 3])), 409, 'no_keys');
    assert.equal((await putKeys(base, d1, id)).status, 200);
    // The body: list a string of base64url (no padding) of at most 622 bytes.
    for (const body of [{}, { list: 5 }, { list: '' }, { list: 'AQ==' }, { list: 'a+b/' }, { list: 'A'.repeat(900) }]) {
      isError(await api(base, 'PUT', '/api/devices', { token: d1, body }), 400, 'invalid_device_list');
    }
    isError(await api(base, 'PATCH', '/api/devices', { token: d1, body: {} }), 405, 'method_not_allowed');
    isError(await api(base, 'PUT', '/api/devices', { body: { list: deviceList(id, 1, [1]) } }), 401, 'missing_token');
    // Malformed lists (the core's parser): another version, ids not ascending, a repeated id,
    // a zero id, trailing bytes, more than 8 devices.
    const forged = newIdentity();
    const sign = (list) => Buffer.concat([list, crypto.sign(null, Buffer.concat([Buffer.from('parley-devices-v1'), Buffer.from(id.publicKey, 'base64url'), list]), id.privateKey)]).toString('base64url');
    isError(await putList(base, d1, deviceList(id, 1, [1], { version: 2 })), 400, 'invalid_device_list');
    isError(await putList(base, d1, deviceList(id, 1, [3, 1])), 400, 'invalid_device_list');
    isError(await putList(base, d1, deviceList(id, 1, [1, 1])), 400, 'invalid_device_list');
    isError(await putList(base, d1, deviceList(id, 1, [0, 1])), 400, 'invalid_device_list');
    isError(await putList(base, d1, deviceList(id, 0, [1])), 400, 'invalid_device_list');
    isError(await putList(base, d1, sign(Buffer.concat([deviceList(id, 1, [1], { raw: true }), Buffer.from([0])]))), 400, 'invalid_device_list');
    isError(await putList(base, d1, deviceList(id, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9])), 400, 'invalid_device_list');
    // Signed by another key, or altered after signing.
    isError(await putList(base, d1, deviceList(forged, 1, [1, 3])), 400, 'bad_signature');
    const altered = Buffer.from(deviceList(id, 1, [1, 3]), 'base64url');
    altered[altered.length - 1] ^= 1;
    isError(await putList(base, d1, altered.toString('base64url')), 400, 'bad_signature');
    // A device that never logged in, or a list without the uploader.
    isError(await putList(base, d1, deviceList(id, 1, [1, 3, 4])), 400, 'unknown_device');
    isError(await putList(base, d1, deviceList(id, 1, [3])), 400, 'device_not_listed');
    // Device 3 is not listed: it may not upload keys while the account has a list... which it
    // has not yet: before the first list any device may.
    assert.equal((await putKeys(base, d3, id, { spkId: 33, from: 300 })).status, 200);
    const good = deviceList(id, 5, [{ id: 1, label: 'Chromium on Linux' }, { id: 3, label: 'phone' }]);
    const ok = await putList(base, d1, good);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, { generation: 5 });
    isError(await putList(base, d1, good), 409, 'stale_generation');
    isError(await putList(base, d3, deviceList(id, 4, [1, 3])), 409, 'stale_generation');
    const got = await api(base, 'GET', '/api/devices', { token: d3 });
    assert.equal(got.body.list, good);
    assert.equal(got.body.generation, 5);
    assert.deepEqual(got.body.devices.map((d) => [d.device, d.listed, d.current]), [[1, true, false], [3, true, true]]);
    // A device the list leaves out (being linked) may not upload keys now.
    const d9 = (await loginDevice(base, user, 9)).token;
    isError(await putKeys(base, d9, id, { spkId: 99 }), 403, 'device_not_listed');
    // Nothing was stored by the refusals: the next generation lists device 9 too.
    assert.equal((await putList(base, d3, deviceList(id, 6, [1, 3, 9]))).status, 200);
    assert.equal((await putKeys(base, d9, id, { spkId: 99, from: 900 })).status, 200);
  });
});

test('bundles: every listed device with keys, the first at the top; ?device=N alone; identities carry the list', async () => {
  await withServer(async (s, base) => {
    const { user, id, d1, d2 } = await twoDevices(base, 'bdl');
    const bob = await newUser(base, 'bob');
    const b = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(typeof b.body.devices, 'string');
    assert.deepEqual(b.body.bundles.map((x) => [x.device, x.signedPrekey.id, x.oneTimePrekey.id]), [[1, 11, 100], [2, 22, 200]]);
    assert.deepEqual(b.body.signedPrekey, b.body.bundles[0].signedPrekey);
    assert.deepEqual(b.body.oneTimePrekey, b.body.bundles[0].oneTimePrekey);
    assert.equal(b.body.identityKey, id.publicKey);
    // One fetch is one unit of each allowance, however many devices: 3 per requester and target.
    await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    const third = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.deepEqual(third.body.bundles.map((x) => x.oneTimePrekey.id), [102, 202]);
    const fourth = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.deepEqual(fourth.body.bundles.map((x) => x.oneTimePrekey), [null, null]);
    // Each device counts its own one-time prekeys.
    assert.deepEqual((await api(base, 'GET', '/api/keys/me/count', { token: d1 })).body, { count: 0, low: true, kemCount: 0, kemLow: true });
    assert.deepEqual((await api(base, 'GET', '/api/keys/me/count', { token: d2 })).body, { count: 0, low: true, kemCount: 0, kemLow: true });
    const carol = await newUser(base, 'carol');
    assert.equal((await putKeys(base, d2, id, { spkId: 23, from: 210, n: 2 })).status, 200);
    const only = await api(base, 'GET', `/api/keys/${user.username}?device=2`, { token: carol.token });
    assert.equal(only.status, 200);
    assert.deepEqual(only.body.bundles.map((x) => [x.device, x.signedPrekey.id, x.oneTimePrekey.id]), [[2, 23, 210]]);
    assert.deepEqual(only.body.signedPrekey, only.body.bundles[0].signedPrekey);
    isError(await api(base, 'GET', `/api/keys/${user.username}?device=3`, { token: carol.token }), 404, 'unknown_device');
    for (const q of ['device=0', 'device=abc', 'device=01', 'device=2147483648', 'device=', 'device=1&device=2', 'device=-1']) {
      isError(await api(base, 'GET', `/api/keys/${user.username}?${q}`, { token: carol.token }), 400, 'invalid_field');
    }
    // Other parameters are ignored, as before.
    assert.equal((await api(base, 'GET', `/api/keys/${user.username}?x=1`, { token: carol.token })).status, 200);
    // get-bundle over the WebSocket takes "device" the same way.
    const c = await login(s, carol.token);
    c.send({ type: 'get-bundle', user: user.username, device: 1, id: 'g1' });
    const one = await c.next((m) => m.ref === 'g1');
    assert.equal(one.type, 'bundle');
    assert.deepEqual(one.bundle.bundles.map((x) => x.device), [1]);
    c.send({ type: 'get-bundle', user: user.username, device: 7, id: 'g2' });
    assert.equal((await c.next((m) => m.ref === 'g2')).code, 'unknown_device');
    c.send({ type: 'get-bundle', user: user.username, device: 'x', id: 'g3' });
    assert.equal((await c.next((m) => m.ref === 'g3')).code, 'invalid_field');
    c.close();
    // The identity lookups carry the list.
    const list = (await api(base, 'GET', '/api/devices', { token: d1 })).body.list;
    const one1 = await api(base, 'GET', `/api/identity/${user.username}`, { token: carol.token });
    assert.equal(one1.body.devices, list);
    const many = await api(base, 'POST', '/api/identities', { token: carol.token, body: { users: [user.username, bob.username] } });
    assert.deepEqual(many.body.identities.map((x) => [x.username, x.devices]), [[user.username, list]]);
  });
});

test('legacy: an account with keys and no list is device 1 alone, with devices null', async () => {
  await withServer(async (s, base) => {
    const alice = await newUser(base, 'old');
    const bob = await newUser(base, 'bob');
    const id = newIdentity();
    assert.equal((await putKeys(base, alice.token, id, { spkId: 4, from: 40 })).status, 200);
    // A device being linked uploads keys before the first list: not served yet.
    const d5 = (await loginDevice(base, alice, 5)).token;
    assert.equal((await putKeys(base, d5, id, { spkId: 5, from: 50 })).status, 200);
    const b = await api(base, 'GET', `/api/keys/${alice.username}`, { token: bob.token });
    assert.equal(b.body.devices, null);
    assert.deepEqual(b.body.bundles.map((x) => [x.device, x.signedPrekey.id, x.oneTimePrekey.id]), [[1, 4, 40]]);
    assert.deepEqual(b.body.signedPrekey, b.body.bundles[0].signedPrekey);
    const idn = await api(base, 'GET', `/api/identity/${alice.username}`, { token: bob.token });
    assert.equal(idn.body.devices, null);
    // Its WebSocket is device 1's, as before.
    const c = await login(s, alice.token);
    assert.equal(c.device, 1);
    c.close();
  });
});

test('two devices online at once: ready names the device; relays reach every device or toDevice, with from and fromDevice', async () => {
  await withServer(async (s, base) => {
    const { user, d1, d2 } = await twoDevices(base, 'two');
    const bob = await newUser(base, 'bob');
    const a1 = await login(s, d1);
    const a2 = await login(s, d2);
    const b = await login(s, bob.token);
    assert.equal(a1.device, 1);
    assert.equal(a2.device, 2);
    assert.deepEqual(a2.messages, []);
    await makeContacts(a1, b);
    a2.send({ type: 'subscribe', users: [{ user: bob.username, cap: b.presence.cap }] });
    await a2.next((m) => m.type === 'presence' && m.user === bob.username);
    // Without toDevice: every listed device of the recipient; "from" and "fromDevice" are the server's.
    b.send({ type: 'offer', to: user.username, sdp: 'x', from: 'mallory', fromDevice: 9 });
    for (const a of [a1, a2]) {
      assert.deepEqual(await a.next((m) => m.type === 'offer'), { type: 'offer', to: user.username, sdp: 'x', from: bob.username, fromDevice: 1 });
    }
    // With toDevice: that device alone.
    b.send({ type: 'answer', to: user.username, toDevice: 2, sdp: 'y' });
    assert.deepEqual(await a2.next((m) => m.type === 'answer'), { type: 'answer', to: user.username, toDevice: 2, sdp: 'y', from: bob.username, fromDevice: 1 });
    a1.send({ type: 'ice', to: bob.username, c: 1 });
    assert.deepEqual(await b.next((m) => m.type === 'ice'), { type: 'ice', to: bob.username, c: 1, from: user.username, fromDevice: 1 });
    a2.send({ type: 'ice', to: bob.username, toDevice: 1, c: 2 });
    assert.deepEqual(await b.next((m) => m.type === 'ice'), { type: 'ice', to: bob.username, toDevice: 1, c: 2, from: user.username, fromDevice: 2 });
    // A device that is not connected, or not a device: recipient_offline; a bad toDevice: invalid_recipient.
    b.send({ type: 'ice', to: user.username, toDevice: 3, id: 'off' });
    assert.equal((await b.next((m) => m.ref === 'off')).code, 'recipient_offline');
    b.send({ type: 'ice', to: user.username, toDevice: 0, id: 'bad' });
    assert.equal((await b.next((m) => m.ref === 'bad')).code, 'invalid_recipient');
    // To one's own devices: only with toDevice naming another.
    a1.send({ type: 'sync', to: user.username, toDevice: 2, n: 1 });
    assert.deepEqual(await a2.next((m) => m.type === 'sync'), { type: 'sync', to: user.username, toDevice: 2, n: 1, from: user.username, fromDevice: 1 });
    a1.send({ type: 'sync', to: user.username, id: 'self' });
    assert.equal((await a1.next((m) => m.ref === 'self')).code, 'invalid_recipient');
    a1.send({ type: 'sync', to: user.username, toDevice: 1, id: 'same' });
    assert.equal((await a1.next((m) => m.ref === 'same')).code, 'invalid_recipient');
    await sleep(200);
    assert.equal(a1.messages.filter((m) => m.type === 'sync').length, 0);
    // A second connection of one device replaces it (4409); the other device stays.
    const a2b = await login(s, d2);
    assert.equal((await a2.closed()).code, 4409);
    b.send({ type: 'offer', to: user.username, sdp: 'z' });
    assert.equal((await a1.next((m) => m.type === 'offer')).sdp, 'z');
    assert.equal((await a2b.next((m) => m.type === 'offer')).sdp, 'z');
    for (const c of [a1, a2b, b]) c.close();
  });
});

test('presence shows the connected listed devices; a change of the set is told; devices-changed reaches watchers and the other devices', async () => {
  await withServer(async (s, base) => {
    const { user, id, d1, d2 } = await twoDevices(base, 'prs');
    const bob = await newUser(base, 'bob');
    const b = await login(s, bob.token);
    const cap = presenceCap();
    const a1 = await login(s, d1);
    await showPresence(a1, cap.capHash);
    b.send({ type: 'subscribe', users: [{ user: user.username, cap: cap.cap }] });
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'online', devices: [1] });
    const a2 = await login(s, d2);
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'online', devices: [1, 2] });
    a1.close();
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'online', devices: [2] });
    // A device being linked is not shown, and not counted online.
    const d4 = (await loginDevice(base, user, 4)).token;
    const a4 = await login(s, d4);
    a2.close();
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'offline' });
    await sleep(100);
    assert.equal(b.messages.filter((m) => m.type === 'presence').length, 0);
    // Listing it (from device 4 itself): watchers and the other devices hear devices-changed,
    // and presence shows it at once.
    const a1b = await login(s, d1);
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'online', devices: [1] });
    assert.equal((await putList(base, d4, deviceList(id, 2, [1, 2, 4]))).status, 200);
    assert.deepEqual(await b.next((m) => m.type === 'devices-changed'), { type: 'devices-changed', user: user.username });
    assert.deepEqual(await a1b.next((m) => m.type === 'devices-changed'), { type: 'devices-changed', user: user.username });
    assert.deepEqual(await b.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'online', devices: [1, 4] });
    await sleep(100);
    assert.equal(a4.messages.filter((m) => m.type === 'devices-changed').length, 0, 'not the uploader');
    // A stranger without the capability sees unknown, with no devices.
    const carol = await newUser(base, 'carol');
    const c = await login(s, carol.token);
    c.send({ type: 'subscribe', users: [user.username] });
    assert.deepEqual(await c.next((m) => m.type === 'presence'), { type: 'presence', user: user.username, state: 'unknown' });
    // devices-changed is the server's: never relayed from a client.
    c.send({ type: 'devices-changed', to: user.username, id: 'fake' });
    assert.equal((await c.next((m) => m.ref === 'fake')).code, 'invalid_type');
    // GET /api/devices: who is connected now.
    const got = await api(base, 'GET', '/api/devices', { token: d1 });
    assert.deepEqual(got.body.devices.map((d) => [d.device, d.listed, d.connected, d.current]),
      [[1, true, true, true], [2, true, false, false], [4, true, true, false]]);
    for (const x of [a1b, a4, b, c]) x.close();
  });
});

test('a device being linked talks only to its own account: relay to own devices, ping and subscribe; the rest is device_not_listed', async () => {
  await withServer(async (s, base) => {
    const { user, d1 } = await twoDevices(base, 'lnk');
    const bob = await newUser(base, 'bob');
    const d6 = (await loginDevice(base, user, 6)).token;
    const a1 = await login(s, d1);
    const a6 = await login(s, d6);
    const b = await login(s, bob.token);
    await makeContacts(a1, b);
    a6.send({ type: 'link-hello', to: user.username, toDevice: 1, k: 'x' });
    assert.deepEqual(await a1.next((m) => m.type === 'link-hello'), { type: 'link-hello', to: user.username, toDevice: 1, k: 'x', from: user.username, fromDevice: 6 });
    a1.send({ type: 'link-reply', to: user.username, toDevice: 6, k: 'y' });
    assert.equal((await a6.next((m) => m.type === 'link-reply')).fromDevice, 1);
    a6.send({ type: 'ping', id: 'p' });
    assert.equal((await a6.next((m) => m.ref === 'p')).type, 'pong');
    a6.send({ type: 'subscribe', users: [bob.username] });
    assert.equal((await a6.next((m) => m.type === 'presence')).state, 'unknown');
    const env = Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url');
    const refused = [
      { type: 'offer', to: bob.username },
      { type: 'mail-put', to: bob.username, env },
      { type: 'mail-ack', ids: [1] },
      { type: 'get-bundle', user: bob.username },
      { type: 'presence-settings', capHash: null, visible: true },
    ];
    for (const [i, m] of refused.entries()) {
      a6.send({ ...m, id: `r${i}` });
      assert.equal((await a6.next((x) => x.ref === `r${i}`)).code, 'device_not_listed', JSON.stringify(m));
    }
    // Others do not reach it: not by name, not by toDevice.
    b.send({ type: 'offer', to: user.username, sdp: 's' });
    assert.equal((await a1.next((m) => m.type === 'offer')).sdp, 's');
    b.send({ type: 'offer', to: user.username, toDevice: 6, id: 'to6' });
    assert.equal((await b.next((m) => m.ref === 'to6')).code, 'recipient_offline');
    await sleep(200);
    assert.equal(a6.messages.filter((m) => m.type === 'offer').length, 0);
    for (const x of [a1, a6, b]) x.close();
  });
});

test('mail per device: filed under the recipient device (absent: 1), delivered to that device only; unlisted devices and unknown users are dropped alike', async () => {
  await withServer(async (s, base) => {
    const { user, d1, d2 } = await twoDevices(base, 'mbx');
    const bob = await newUser(base, 'bob');
    const b = await login(s, bob.token);
    const a1 = await login(s, d1);
    await makeContacts(a1, b);
    a1.close();
    await a1.closed();
    const env = () => Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url');
    const puts = [
      { env: env(), device: 2, id: 'to2' },
      { env: env(), id: 'to1' },
      { env: env(), device: 1, id: 'to1b' },
      { env: env(), device: 5, id: 'to5' }, // not a device of the account
      { env: env(), device: 2147483647, id: 'toMax' },
    ];
    for (const p of puts) {
      const { id, ...rest } = p;
      b.send({ type: 'mail-put', to: user.username, ...rest, id });
      assert.equal((await b.next((m) => m.ref === id)).type, 'mail-stored', id);
    }
    b.send({ type: 'mail-put', to: `nosuch${crypto.randomBytes(3).toString('hex')}`, env: env(), device: 2, id: 'nobody' });
    assert.equal((await b.next((m) => m.ref === 'nobody')).type, 'mail-stored');
    b.send({ type: 'mail-put', to: user.username, env: env(), device: 0, id: 'bad' });
    assert.equal((await b.next((m) => m.ref === 'bad')).code, 'invalid_recipient');
    assert.equal(sql(s, `SELECT recipient_device, count FROM mailbox_usage u JOIN users ON users.id = u.recipient_id WHERE username = '${user.username}' ORDER BY 1;`), '1|2\n2|1');
    const a2 = await login(s, d2);
    const m2 = await a2.next((m) => m.type === 'mail');
    assert.equal(m2.env, puts[0].env);
    const a1b = await login(s, d1);
    const got1 = [await a1b.next((m) => m.type === 'mail'), await a1b.next((m) => m.type === 'mail')];
    assert.deepEqual(got1.map((m) => m.env), [puts[1].env, puts[2].env]);
    await sleep(200);
    assert.equal(a2.messages.filter((m) => m.type === 'mail').length, 0);
    // A device's acknowledgement removes its own mail only.
    a2.send({ type: 'mail-ack', ids: got1.map((m) => m.id) });
    a1b.send({ type: 'mail-ack', ids: [m2.id] });
    await sleep(300);
    assert.equal(sql(s, `SELECT count(*) FROM mailbox m JOIN users ON users.id = m.recipient_id WHERE username = '${user.username}';`), '3');
    a1b.send({ type: 'mail-ack', ids: got1.map((m) => m.id) });
    a2.send({ type: 'mail-ack', ids: [m2.id] });
    await sleep(300);
    assert.equal(sql(s, `SELECT count(*) FROM mailbox m JOIN users ON users.id = m.recipient_id WHERE username = '${user.username}';`), '0');
    // To oneself only with another device named.
    a1b.send({ type: 'mail-put', to: user.username, env: env(), device: 2, id: 'own' });
    assert.equal((await a1b.next((m) => m.ref === 'own')).type, 'mail-stored');
    assert.equal((await a2.next((m) => m.type === 'mail')).type, 'mail');
    a1b.send({ type: 'mail-put', to: user.username, env: env(), id: 'self' });
    assert.equal((await a1b.next((m) => m.ref === 'self')).code, 'invalid_recipient');
    a1b.send({ type: 'mail-put', to: user.username, env: env(), device: 1, id: 'same' });
    assert.equal((await a1b.next((m) => m.ref === 'same')).code, 'invalid_recipient');
    for (const x of [a1b, a2, b]) x.close();
  });
});

test('removal: a device the new list leaves out is closed 4403 after device_removed, its tokens and log-in are refused for good, its keys and mail deleted', async () => {
  await withServer(async (s, base) => {
    const { user, id, d1, d2 } = await twoDevices(base, 'rmv');
    const bob = await newUser(base, 'bob');
    const b = await login(s, bob.token);
    b.send({ type: 'mail-put', to: user.username, device: 2, env: Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url'), id: 'm' });
    assert.equal((await b.next((m) => m.ref === 'm')).type, 'mail-stored');
    const a1 = await login(s, d1);
    const a2 = await login(s, d2);
    assert.equal((await putList(base, d1, deviceList(id, 2, [1]))).status, 200);
    const err = await a2.next((m) => m.type === 'error');
    assert.equal(err.code, 'device_removed');
    assert.equal((await a2.closed()).code, 4403);
    // Its token, everywhere.
    isError(await api(base, 'GET', '/api/keys/me/count', { token: d2 }), 403, 'device_removed');
    isError(await api(base, 'POST', '/api/token/refresh', { token: d2 }), 403, 'device_removed');
    const again = await login(s, d2).catch((e) => e.message);
    assert.match(again, /device_removed/);
    // Its log-in: refused once the password is verified; a wrong password is the usual 401.
    isError(await api(base, 'POST', '/api/login', { body: { username: user.username, password: user.password, device: 2 } }), 403, 'device_removed');
    isError(await api(base, 'POST', '/api/login', { body: { username: user.username, password: 'not the password', device: 2 } }), 401, 'invalid_credentials');
    // It may not come back in a list; its keys and mail are gone; device 1 goes on.
    isError(await putList(base, d1, deviceList(id, 3, [1, 2])), 400, 'unknown_device');
    const bundle = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.deepEqual(bundle.body.bundles.map((x) => x.device), [1]);
    assert.equal(sql(s, `SELECT count(*) FROM mailbox m JOIN users ON users.id = m.recipient_id WHERE username = '${user.username}';`), '0');
    assert.equal(sql(s, `SELECT count(*) FROM one_time_prekeys k JOIN users ON users.id = k.user_id WHERE username = '${user.username}' AND device_id = 2;`), '0');
    const list = await api(base, 'GET', '/api/devices', { token: d1 });
    assert.deepEqual(list.body.devices.map((d) => d.device), [1]);
    a1.send({ type: 'ping', id: 'still' });
    assert.equal((await a1.next((m) => m.ref === 'still')).type, 'pong');
    assert.equal(a1.messages.filter((m) => m.type === 'devices-changed').length, 0, 'not the uploader');
    for (const x of [a1, b]) x.close();
  });
});

test('logout closes and revokes one device only; a password change revokes and closes every device', async () => {
  await withServer(async (s, base) => {
    const { user, d1, d2 } = await twoDevices(base, 'out');
    const a1 = await login(s, d1);
    const a2 = await login(s, d2);
    assert.equal((await api(base, 'POST', '/api/logout', { token: d2 })).status, 200);
    assert.equal((await a2.closed()).code, 4401);
    isError(await api(base, 'POST', '/api/token/refresh', { token: d2 }), 401, 'token_revoked');
    assert.equal((await api(base, 'POST', '/api/token/refresh', { token: d1 })).status, 200);
    a1.send({ type: 'ping', id: 'p' });
    assert.equal((await a1.next((m) => m.ref === 'p')).type, 'pong');
    // Device 2 logs in again; then a password change ends every session.
    const d2b = (await loginDevice(base, user, 2)).token;
    const a2b = await login(s, d2b);
    const r = await api(base, 'POST', '/api/password', { token: d1, body: { oldPassword: user.password, newPassword: 'a new password' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.device, 1);
    assert.equal((await a1.closed()).code, 4401);
    assert.equal((await a2b.closed()).code, 4401);
    isError(await api(base, 'POST', '/api/token/refresh', { token: d2b }), 401, 'token_revoked');
    assert.equal((await api(base, 'POST', '/api/token/refresh', { token: r.body.token })).status, 200);
  });
});

test('an identity reset forgets the list and removes every other device (4403); the new identity lists from generation 1', async () => {
  await withServer(async (s, base) => {
    const { user, d1, d2 } = await twoDevices(base, 'rst');
    const bob = await newUser(base, 'bob');
    const b = await login(s, bob.token);
    b.send({ type: 'subscribe', users: [user.username] });
    await b.next((m) => m.type === 'presence');
    const a2 = await login(s, d2);
    const fresh = newIdentity();
    // A new key needs resetIdentity.
    isError(await putKeys(base, d1, fresh), 409, 'identity_conflict');
    const r = await putKeys(base, d1, fresh, { reset: true, spkId: 31, from: 500 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.identityCounter, 2);
    assert.equal((await a2.next((m) => m.type === 'error')).code, 'device_removed');
    assert.equal((await a2.closed()).code, 4403);
    assert.equal((await b.next((m) => m.type === 'identity-changed')).user, user.username);
    assert.equal((await b.next((m) => m.type === 'devices-changed')).user, user.username);
    isError(await api(base, 'GET', '/api/devices', { token: d2 }), 403, 'device_removed');
    const list = await api(base, 'GET', '/api/devices', { token: d1 });
    assert.equal(list.body.list, null);
    assert.equal(list.body.generation, 0);
    assert.deepEqual(list.body.devices.map((d) => [d.device, d.listed]), [[1, true]]);
    const bundle = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.equal(bundle.body.devices, null);
    assert.deepEqual(bundle.body.bundles.map((x) => [x.device, x.signedPrekey.id, x.oneTimePrekey.id]), [[1, 31, 500]]);
    // Generation 1 again, under the new key; the old key's lists are refused.
    const d3 = (await loginDevice(base, user, 3)).token;
    isError(await putList(base, d1, deviceList(newIdentity(), 9, [1, 3])), 400, 'bad_signature');
    assert.equal((await putList(base, d1, deviceList(fresh, 1, [1, 3]))).status, 200);
    assert.equal((await putKeys(base, d3, fresh, { spkId: 32, from: 600 })).status, 200);
    // A device that is not listed may start a new identity (resetIdentity) too: it becomes the
    // only device, pending until its new identity lists it.
    const d8 = (await loginDevice(base, user, 8)).token;
    isError(await putKeys(base, d8, fresh, { reset: true }), 403, 'device_not_listed');
    const newer = newIdentity();
    assert.equal((await putKeys(base, d8, newer, { reset: true, spkId: 81, from: 800 })).status, 200);
    const after = await api(base, 'GET', '/api/devices', { token: d8 });
    assert.deepEqual(after.body.devices.map((d) => [d.device, d.listed]), [[8, false]]);
    isError(await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token }), 404, 'no_keys');
    assert.equal((await putList(base, d8, deviceList(newer, 1, [8]))).status, 200);
    const served = await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.deepEqual(served.body.bundles.map((x) => [x.device, x.signedPrekey.id]), [[8, 81]]);
    b.close();
  });
});

test('prekeys-low goes to the device whose one-time prekeys ran low', async () => {
  await withServer(async (s, base) => {
    const { user, id, d1, d2 } = await twoDevices(base, 'low');
    assert.equal((await putKeys(base, d1, id, { spkId: 12, from: 1000, n: 40 })).status, 200);
    const a1 = await login(s, d1);
    const a2 = await login(s, d2);
    const bob = await newUser(base, 'bob');
    await api(base, 'GET', `/api/keys/${user.username}`, { token: bob.token });
    assert.equal((await a2.next((m) => m.type === 'prekeys-low')).type, 'prekeys-low');
    await sleep(200);
    assert.equal(a1.messages.filter((m) => m.type === 'prekeys-low').length, 0);
    a1.close();
    a2.close();
  });
});

test('at most 16 devices that are not removed; unlisted ones are forgotten a day after they were registered', async () => {
  await withServer(async (s, base) => {
    const user = await newUser(base, 'many');
    const now = Math.floor(Date.now() / 1000);
    // Devices 2..16 registered (as log-ins would: unlisted, pending), straight into the database
    // (16 log-ins would wait for the account's log-in throttle).
    sql(s, `WITH RECURSIVE d(value) AS (SELECT 2 UNION ALL SELECT value + 1 FROM d WHERE value < 16) ` +
      `INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, removed, token_gen) ` +
      `SELECT u.id, d.value, ${now}, ${now - (now % 3600)}, 0, 0, ${now} FROM users u, d WHERE u.username = '${user.username}';`);
    isError(await api(base, 'POST', '/api/login', { body: { username: user.username, password: user.password, device: 17 } }), 409, 'too_many_devices');
    // Known devices log in whatever the count.
    assert.equal((await loginDevice(base, user, 16)).device, 16);
    // Device 16 was registered more than a day ago and never listed: forgotten, with its tokens.
    const old16 = (await loginDevice(base, user, 16)).token;
    sql(s, `UPDATE devices SET created_at = ${now - 86401} WHERE device_id = 16 AND user_id = (SELECT id FROM users WHERE username = '${user.username}');`);
    isError(await api(base, 'GET', '/api/devices', { token: old16 }), 401, 'token_revoked');
    const listed = await api(base, 'GET', '/api/devices', { token: user.token });
    assert.equal(listed.body.devices.length, 15);
    assert.equal((await loginDevice(base, user, 17)).device, 17);
    // And 16 again: a new registration, whose old tokens stay refused.
    isError(await api(base, 'POST', '/api/login', { body: { username: user.username, password: user.password, device: 16 } }), 409, 'too_many_devices');
    assert.equal(sql(s, `SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id WHERE u.username = '${user.username}' AND d.device_id = 16;`), '0');
  });
});
