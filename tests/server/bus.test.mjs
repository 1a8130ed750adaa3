// The instance bus (--bus redis://..., docs/PROTOCOL.md 19, docs/SCALING.md): two parley-server
// instances on one PostgreSQL and one Redis, each started here by the project's scripts
// (tests/lib/pg.mjs, tests/lib/redis.mjs; in the PostgreSQL pass of scripts/test.sh the run's
// cluster). alice on instance A, bob on B: relaying both ways, presence, replacement (4409),
// identity-changed, mail wake-ups, Redis restarted under them, and A killed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { removeTempDirs, runServer, startPair, stopClean, tempDir } from '../lib/instances.mjs';
import { testCluster } from '../lib/pg.mjs';
import { startRedis } from '../lib/redis.mjs';
import { api, deviceList, loginDevice, newIdentity, newUser, oneTimePrekeys, signedPrekey } from '../lib/api.mjs';
import { login, makeContacts, presenceCap, showPresence } from '../lib/ws.mjs';

let pg;
let redis;
const WAIT = 15000;

before(async () => {
  pg = await testCluster();
  redis = await startRedis();
});

after(() => {
  if (redis) redis.close();
  removeTempDirs();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Instances A and B on database db and the test's Redis, sharing A's token key. */
function cluster(db) {
  return startPair('parley-bus-', ['--database', pg.database(db), '--bus', redis.url, '--max-http-per-address', '128']);
}

async function health(s) {
  const r = await fetch(`${s.url}/healthz`);
  return { status: r.status, body: await r.json() };
}

/** Polls until fn() is truthy (every 50 ms, up to ms); returns the elapsed milliseconds. */
async function until(fn, ms = WAIT, what = 'a condition') {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Sends from `from` to `to` a message of type every 100 ms until `to` gets one; the elapsed ms. */
async function relayed(from, to, type = 'ping-test', ms = WAIT) {
  const t0 = Date.now();
  let n = 0;
  for (;;) {
    const tag = `t${n++}`;
    from.send({ type, to: to.user, tag });
    const got = await to.next((m) => m.type === type && m.from === from.user, 100).catch(() => null);
    if (got) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`nothing relayed from ${from.user} to ${to.user} within ${ms} ms`);
  }
}

const envelope = () => Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url');

test('--bus takes redis://HOST:PORT[/DB] only, and says so at start', async () => {
  const help = (await runServer(['--help'])).out;
  assert.match(help, /--bus URL/);
  assert.match(help, /PARLEY_BUS/);
  // The grammar's cases are in the C unit test (tests/server/unit/test_bus.c); a few here.
  for (const bad of ['redis://127.0.0.1', 'redis://127.0.0.1:6379/16', 'redis://user:pw@127.0.0.1:6379',
    `redis://${'h'.repeat(300)}:1`]) {
    const r = await runServer(['--listen', '127.0.0.1:0', '--data', tempDir('parley-bus-'), '--bus', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.err, /invalid --bus/, bad);
  }
  const env = await runServer(['--listen', '127.0.0.1:0', '--data', tempDir('parley-bus-')],
    { ...process.env, PARLEY_BUS: 'redis://x' });
  assert.equal(env.code, 2);
  assert.match(env.err, /invalid --bus/);
});

test('two instances, one database, one bus: relaying, presence, 4409, identity-changed and mail across instances; A killed', async () => {
  const { a, b } = await cluster('bus_two');
  let aliveA = true;
  try {
    assert.deepEqual((await health(a)).body.bus, 'ok');
    // Sign-up on A, log-in on B.
    const alice = await newUser(a.url, 'alice');
    const bobAccount = await newUser(b.url, 'bob');
    const bobLogin = await api(a.url, 'POST', '/api/login', { body: { username: bobAccount.username, password: bobAccount.password } });
    assert.equal(bobLogin.status, 200);
    const ca = await login(a, alice.token);
    const cb = await login(b, bobLogin.body.token);

    // A chat request from a stranger crosses (the request types are what strangers may send).
    await until(async () => {
      ca.send({ type: 'chat-request', to: bobAccount.username, id: 'r1' });
      const m = await Promise.race([
        cb.next((x) => x.type === 'chat-request', 300).catch(() => null),
        ca.next((x) => x.type === 'error' && x.ref === 'r1', 300).catch(() => null),
      ]);
      return m && m.type === 'chat-request';
    }, WAIT, 'the chat request');
    // Anything else from a stranger is refused, by the recipient's instance.
    ca.send({ type: 'chat-message', to: bobAccount.username, id: 'n1' });
    const refused = await ca.next((x) => x.type === 'error' && x.ref === 'n1', WAIT);
    assert.equal(refused.code, 'not_accepted');
    assert.equal(cb.messages.filter((m) => m.type === 'chat-message').length, 0);

    // Contacts across instances: each sees the other online (presence across instances).
    await makeContacts(ca, cb);
    ca.send({ type: 'subscribe', users: [{ user: cb.user, cap: cb.presence.cap }] });
    const pb = await ca.next((m) => m.type === 'presence' && m.user === cb.user, WAIT);
    assert.equal(pb.state, 'online');
    assert.deepEqual(pb.devices, [1]);

    // Relaying both ways, with from and fromDevice set by the sender's instance.
    ca.send({ type: 'chat-message', to: cb.user, body: 'hi bob', from: 'mallory' });
    const m1 = await cb.next((m) => m.type === 'chat-message', WAIT);
    assert.equal(m1.from, alice.username);
    assert.equal(m1.fromDevice, 1);
    assert.equal(m1.body, 'hi bob');
    cb.send({ type: 'chat-message', to: ca.user, body: 'hi alice', id: 7 });
    assert.equal((await ca.next((m) => m.type === 'chat-message', WAIT)).body, 'hi alice');
    // An unknown or offline name is offline everywhere.
    ca.send({ type: 'chat-message', to: 'nobody_here', id: 'o1' });
    assert.equal((await ca.next((m) => m.type === 'error' && m.ref === 'o1')).code, 'recipient_offline');

    // identity-changed reaches bob, who watches alice, on the other instance.
    const id1 = newIdentity();
    const id2 = newIdentity();
    assert.equal((await api(a.url, 'PUT', '/api/keys', { token: alice.token, body: { identityKey: id1.publicKey, signedPrekey: signedPrekey(id1), oneTimePrekeys: oneTimePrekeys(1, 60) } })).status, 200);
    assert.equal((await api(a.url, 'PUT', '/api/keys', { token: alice.token, body: { identityKey: id2.publicKey, signedPrekey: signedPrekey(id2), oneTimePrekeys: oneTimePrekeys(100, 60), resetIdentity: true } })).status, 200);
    assert.deepEqual(await cb.next((m) => m.type === 'identity-changed', WAIT), { type: 'identity-changed', user: alice.username });

    // 50 parallel bundle fetches over both instances: distinct one-time prekeys.
    const requesters = [];
    for (let i = 0; i < 17; i++) requesters.push(await newUser(i % 2 ? b.url : a.url, 'req'));
    const fetches = [];
    for (let i = 0; i < 50; i++) {
      fetches.push(api(i % 2 ? b.url : a.url, 'GET', `/api/keys/${alice.username}`, { token: requesters[i % 17].token }));
    }
    const ids = (await Promise.all(fetches)).map((r) => r.body.oneTimePrekey?.id);
    assert.equal(new Set(ids.filter((x) => x !== undefined)).size, 50, 'no one-time prekey handed out twice');

    // Mail stored through A wakes bob's mailbox on B at once.
    const env = envelope();
    ca.send({ type: 'mail-put', to: cb.user, env, id: 'mail1' });
    assert.equal((await ca.next((m) => m.ref === 'mail1', WAIT)).type, 'mail-stored');
    const mail = await cb.next((m) => m.type === 'mail', WAIT);
    assert.equal(mail.env, env);
    cb.send({ type: 'mail-ack', ids: [mail.id] });

    // A newer connection of bob's device on A replaces the one on B (4409), and relaying
    // follows it.
    const cb2 = await login(a, bobLogin.body.token);
    assert.equal((await cb.closed()).code, 4409);
    ca.send({ type: 'chat-message', to: cb.user, body: 'same instance now' });
    assert.equal((await cb2.next((m) => m.type === 'chat-message', WAIT)).body, 'same instance now');
    // bob back on B (replacing A's), and alice watching him from A.
    const cb3 = await login(b, bobLogin.body.token);
    assert.equal((await cb2.closed()).code, 4409);
    cb3.send({ type: 'subscribe', users: [{ user: ca.user, cap: ca.presence.cap }] });
    assert.equal((await cb3.next((m) => m.type === 'presence' && m.user === ca.user, WAIT)).state, 'online');

    // A killed: bob sees alice offline within moments (BUS_DEAD_AFTER); alice reconnects to B
    // and carries on.
    ca.ws.on('error', () => {});
    aliveA = false;
    a.proc.kill('SIGKILL');
    await a.exited;
    const off = await cb3.next((m) => m.type === 'presence' && m.user === ca.user, WAIT);
    assert.equal(off.state, 'offline');
    const ca2 = await login(b, alice.token);
    ca2.send({ type: 'subscribe', users: [{ user: cb3.user, cap: cb3.presence?.cap ?? cb.presence.cap }] });
    assert.equal((await cb3.next((m) => m.type === 'presence' && m.user === ca.user, WAIT)).state, 'online');
    cb3.send({ type: 'chat-message', to: ca.user, body: 'still here' });
    assert.equal((await ca2.next((m) => m.type === 'chat-message', WAIT)).body, 'still here');
    ca2.close();
    cb3.close();
  } finally {
    if (aliveA) await stopClean(a);
    await stopClean(b);
  }
});

test('Redis restarted: both instances serve their own users and say "degraded"; relaying between them resumes within 5 s', async (t) => {
  const { a, b } = await cluster('bus_restart');
  try {
    const alice = await newUser(a.url, 'alice');
    const bob = await newUser(b.url, 'bob');
    const carol = await newUser(a.url, 'carol');
    const ca = await login(a, alice.token);
    const cb = await login(b, bob.token);
    const cc = await login(a, carol.token);
    await makeContacts(ca, cb, cc);
    await relayed(ca, cb);

    redis.kill();
    await until(async () => (await health(a)).body.status === 'degraded' && (await health(b)).body.status === 'degraded', WAIT, '"degraded"');
    const h = await health(a);
    assert.equal(h.status, 200);
    assert.deepEqual({ status: h.body.status, database: h.body.database, bus: h.body.bus }, { status: 'degraded', database: 'ok', bus: 'unavailable' });
    // Users of one instance still reach each other; users elsewhere look offline.
    await relayed(ca, cc);
    ca.send({ type: 'chat-message', to: bob.username, id: 'x1' });
    assert.equal((await ca.next((m) => m.type === 'error' && m.ref === 'x1', WAIT)).code, 'recipient_offline');

    redis.start();
    const t0 = Date.now();
    await relayed(ca, cb, 'ping-test', WAIT);
    await relayed(cb, ca, 'ping-test', WAIT);
    const elapsed = Date.now() - t0;
    t.diagnostic(`relaying both ways resumed ${elapsed} ms after Redis answered again`);
    assert.ok(elapsed < 5000, `relaying resumed ${elapsed} ms after Redis returned`);
    await until(async () => (await health(a)).body.status === 'ok' && (await health(b)).body.status === 'ok', WAIT, '"ok"');
    const busLines = (a.logs() + b.logs()).split('\n').filter((l) => / bus: /.test(l)).join('\n');
    assert.match(busLines, /lost Redis/);
    assert.doesNotMatch(busLines, new RegExp(`${alice.username}|${bob.username}|${carol.username}`), 'the bus logs no names');
    for (const c of [ca, cb, cc]) c.close();
  } finally {
    await stopClean(a);
    await stopClean(b);
  }
});

test('account events across instances: presence shows devices on both, prekeys-low, devices-changed, a removed device (4403), a logout (4401) and a deleted account (4410) reach the other instance', async () => {
  const { a, b } = await cluster('bus_events');
  try {
    const carol = await newUser(a.url, 'carol');
    const dave = await newUser(b.url, 'dave');
    const id = newIdentity();
    const keys = (token, spk, from) => api(a.url, 'PUT', '/api/keys', { token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, spk), oneTimePrekeys: oneTimePrekeys(from, 3) } });
    assert.equal((await keys(carol.token, 1, 10)).status, 200);
    const d2 = (await loginDevice(b.url, carol, 2)).token;
    const list = (token, generation, devices) => api(a.url, 'PUT', '/api/devices', { token, body: { list: deviceList(id, generation, devices) } });
    assert.equal((await list(carol.token, 1, [1, 2])).status, 200);
    assert.equal((await keys(d2, 2, 20)).status, 200);

    // carol's device 1 on A, device 2 on B; dave watches her from B.
    const c1 = await login(a, carol.token);
    const cap = presenceCap();
    await showPresence(c1, cap.capHash);
    const dv = await login(b, dave.token);
    dv.send({ type: 'subscribe', users: [{ user: carol.username, cap: cap.cap }] });
    assert.deepEqual(await dv.next((m) => m.type === 'presence', WAIT), { type: 'presence', user: carol.username, state: 'online', devices: [1] });
    const c2 = await login(b, d2);
    assert.deepEqual(await dv.next((m) => m.type === 'presence', WAIT), { type: 'presence', user: carol.username, state: 'online', devices: [1, 2] });
    // A bundle of device 1 (3 one-time prekeys: below the low water) handed out by B: device 1,
    // on A, is told to top up.
    dv.send({ type: 'get-bundle', user: carol.username, device: 1, id: 'gb' });
    assert.equal((await dv.next((m) => m.ref === 'gb', WAIT)).type, 'bundle');
    assert.deepEqual(await c1.next((m) => m.type === 'prekeys-low', WAIT), { type: 'prekeys-low' });
    // The devices API on A sees device 2 connected to B (once B's announcement has arrived:
    // dave's presence above came from B itself).
    await until(async () => (await api(a.url, 'GET', '/api/devices', { token: carol.token }))
      .body.devices.find((d) => d.device === 2)?.connected === true, WAIT, 'device 2 connected, seen from A');

    // A list uploaded through A: dave and carol's device 2, both on B, hear devices-changed.
    assert.equal((await list(carol.token, 2, [1, 2])).status, 200);
    assert.deepEqual(await dv.next((m) => m.type === 'devices-changed', WAIT), { type: 'devices-changed', user: carol.username });
    assert.deepEqual(await c2.next((m) => m.type === 'devices-changed', WAIT), { type: 'devices-changed', user: carol.username });
    // Device 2 removed through A: its connection on B is told and closed with 4403.
    assert.equal((await list(carol.token, 3, [1])).status, 200);
    assert.equal((await c2.next((m) => m.type === 'error', WAIT)).code, 'device_removed');
    assert.equal((await c2.closed()).code, 4403);
    assert.deepEqual(await dv.next((m) => m.type === 'presence' && m.devices?.length === 1, WAIT), { type: 'presence', user: carol.username, state: 'online', devices: [1] });
    // A logout through B closes device 1's connection on A with 4401; dave sees her offline.
    assert.equal((await api(b.url, 'POST', '/api/logout', { token: carol.token })).status, 200);
    assert.equal((await c1.closed()).code, 4401);
    assert.equal((await dv.next((m) => m.type === 'presence' && m.state === 'offline', WAIT)).user, carol.username);
    assert.equal(c2.messages.filter((m) => m.type === 'prekeys-low').length, 0, 'only the device that ran low');
    // An account deleted through A: its connection on B is told and closed with 4410.
    const erin = await newUser(a.url, 'erin');
    const ce = await login(b, erin.token);
    assert.equal((await api(a.url, 'POST', '/api/account/delete', { token: erin.token, body: { password: erin.password } })).status, 200);
    assert.equal((await ce.next((m) => m.type === 'error', WAIT)).code, 'account_deleted');
    assert.equal((await ce.closed()).code, 4410);
    dv.close();
  } finally {
    await stopClean(a);
    await stopClean(b);
  }
});
