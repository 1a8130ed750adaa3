// The PostgreSQL engine (--database postgres://...) on a private PostgreSQL started by
// scripts/pg.sh (tests/lib/pg.mjs), whichever engine the rest of the suite runs on: its schema,
// two server instances sharing one database (accounts, tokens, keys, mail), an instance killed
// while storing mail, and the database stopped and started again under the servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer } from '../lib/server.mjs';
import { removeTempDirs, runServer, startPair, stopClean, tempDir } from '../lib/instances.mjs';
import { psql, startPostgres } from '../lib/pg.mjs';
import { api, newIdentity, newUser, oneTimePrekeys, signedPrekey } from '../lib/api.mjs';
import { login, makeContacts } from '../lib/ws.mjs';

let pg;

before(async () => {
  pg = await startPostgres();
});

after(() => {
  if (pg) pg.close();
  removeTempDirs();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Two instances A and B on database db, sharing A's token key (jwt.key), as a cluster behind a
 * load balancer does. extra: more flags for both.
 */
async function cluster(db, extra = []) {
  const url = pg.database(db);
  const { a, b } = await startPair('parley-pg-', ['--database', url, '--max-http-per-address', '128', ...extra]);
  return { a, b, url };
}

test('a new PostgreSQL database gets the current schema version (6); a restart keeps it; a newer one is refused untouched', async () => {
  const url = pg.database('schema_new');
  const dir = tempDir('parley-pg-');
  const s = await startServer({ dataDir: dir, args: ['--database', url] });
  await newUser(s.url);
  await stopClean(s);
  assert.match(s.logs(), /database migrated to schema version 6/);
  const q = (sql) => psql(pg.url, sql, 'schema_new');
  assert.equal(q('SELECT version FROM parley_schema'), '6');
  assert.equal(q('SELECT count(*) FROM users'), '1');
  assert.equal(q('SELECT device_id, listed, removed FROM devices'), '1|1|0');
  assert.equal(q("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_skeleton_key'"), '1');
  // Nothing of SQLite's in the data folder.
  assert.throws(() => psql(pg.url, 'SELECT 1', 'no_such_database'));
  const s2 = await startServer({ dataDir: dir, args: ['--database', url] });
  await stopClean(s2);
  assert.doesNotMatch(s2.logs(), /migrated/);
  assert.equal(q('SELECT count(*) FROM users'), '1');

  const future = pg.database('schema_future');
  psql(pg.url, 'CREATE TABLE parley_schema (version integer NOT NULL); INSERT INTO parley_schema VALUES (99); CREATE TABLE future (x int)', 'schema_future');
  const r = await runServer(['--listen', '127.0.0.1:0', '--data', tempDir('parley-pg-'), '--database', future]);
  assert.equal(r.code, 1);
  assert.match(r.err, /schema version 99, newer than this server/);
  assert.equal(psql(pg.url, 'SELECT version FROM parley_schema', 'schema_future'), '99');
  assert.equal(psql(pg.url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", 'schema_future'), '2');
});

test('--database refuses what is neither sqlite nor a postgres URL, without repeating it; an unreachable database stops the start', async () => {
  const help = (await runServer(['--help'])).out;
  assert.match(help, /--database URL/);
  assert.match(help, /PARLEY_DATABASE/);
  for (const bad of ['mysql://u:secretpw@h/db', 'postgres://', 'postgres://u:secret pw@h/db', 'x'.repeat(2000)]) {
    const r = await runServer(['--listen', '127.0.0.1:0', '--data', tempDir('parley-pg-'), '--database', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.err, /invalid --database/);
    assert.doesNotMatch(r.err, /secret/);
  }
  const closed = new URL(pg.url);
  closed.port = '1';
  closed.password = 'secretpw';
  const r = await runServer(['--listen', '127.0.0.1:0', '--data', tempDir('parley-pg-'), '--database', closed.toString()]);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot connect to PostgreSQL/);
  assert.doesNotMatch(r.err, /secretpw/);
});

test('two instances on one database: sign-up on A, log-in on B; 50 parallel bundle fetches over both hand out distinct one-time prekeys', async () => {
  const { a, b } = await cluster('two_keys');
  try {
    const alice = await newUser(a.url, 'alice');
    const login = await api(b.url, 'POST', '/api/login', { body: { username: alice.username, password: alice.password } });
    assert.equal(login.status, 200);
    // Tokens issued by one instance are taken by the other.
    assert.equal((await api(b.url, 'GET', '/api/keys/me/count', { token: alice.token })).status, 200);
    assert.equal((await api(a.url, 'GET', '/api/keys/me/count', { token: login.body.token })).status, 200);
    // The username is taken on both.
    const again = await api(b.url, 'POST', '/api/signup', { body: { username: alice.username, password: 'another password' } });
    assert.equal(again.status, 409);
    // A password change on B revokes the tokens A issued.
    const changed = await api(b.url, 'POST', '/api/password', { token: login.body.token, body: { oldPassword: alice.password, newPassword: 'a new password 1' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal((await api(a.url, 'GET', '/api/keys/me/count', { token: alice.token })).status, 401);
    const token = changed.body.token;

    const id = newIdentity();
    const up = await api(a.url, 'PUT', '/api/keys', { token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 1), oneTimePrekeys: oneTimePrekeys(1, 60) } });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    // 17 requesters (each may take 3 of alice's one-time prekeys), half signed up on each.
    const requesters = [];
    for (let i = 0; i < 17; i++) requesters.push(await newUser(i % 2 ? b.url : a.url, 'req'));
    const fetches = [];
    for (let i = 0; i < 50; i++) {
      const q = requesters[i % 17];
      fetches.push(api(i % 2 ? b.url : a.url, 'GET', `/api/keys/${alice.username}`, { token: q.token }));
    }
    const results = await Promise.all(fetches);
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    const ids = results.map((r) => r.body.oneTimePrekey?.id);
    assert.equal(ids.filter((x) => x !== undefined).length, 50, 'every fetch got a one-time prekey');
    assert.equal(new Set(ids).size, 50, 'no one-time prekey handed out twice');
    assert.deepEqual((await api(b.url, 'GET', '/api/keys/me/count', { token })).body, { count: 10, low: true, kemCount: 0, kemLow: true });
  } finally {
    await stopClean(a);
    await stopClean(b);
  }
});

test('the log-in throttle of an account holds across instances: wrong passwords on A and B count together', async () => {
  const { a, b } = await cluster('two_throttle');
  try {
    const carol = await newUser(a.url, 'carol');
    const statuses = [];
    for (let i = 0; i < 10; i++) {
      const s = i % 2 ? b : a;
      statuses.push((await api(s.url, 'POST', '/api/login', { body: { username: carol.username, password: `wrong ${i}` } })).status);
    }
    assert.deepEqual(statuses, Array(10).fill(401), 'the burst of 10 is shared, not 10 on each');
    for (const s of [a, b]) {
      const r = await api(s.url, 'POST', '/api/login', { body: { username: carol.username, password: carol.password } });
      assert.equal(r.status, 429, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    // The database keeps keyed hashes, never the username or an address.
    const keys = psql(pg.url, 'SELECT key FROM throttles', 'two_throttle');
    assert.doesNotMatch(keys, new RegExp(carol.username));
    assert.doesNotMatch(keys, /127\.0\.0\.1|user:|ip:/);
  } finally {
    await stopClean(a);
    await stopClean(b);
  }
});

test('mail stored through A is delivered by B; A killed (-9) while storing loses no acknowledged envelope', async () => {
  const { a, b } = await cluster('two_mail');
  let aliveA = true;
  try {
    const alice = await newUser(a.url, 'alice');
    const bob = await newUser(b.url, 'bob');
    // Contacts, one on each instance: the capabilities are in the shared database.
    const ca = await login(a, alice.token);
    const cb = await login(b, bob.token);
    await makeContacts(ca, cb);
    cb.close();
    await cb.closed();
    // alice stores mail for bob through A, as fast as her rate allows, until A is killed.
    const sent = new Map();
    const stored = new Set();
    const errors = [];
    let n = 0;
    ca.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'mail-stored') stored.add(m.ref);
      else if (m.type === 'error') errors.push(m);
    });
    const writer = (async () => {
      while (aliveA && n < 400) {
        const ref = `m${n++}`;
        const env = Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url');
        sent.set(ref, env);
        try { ca.send({ type: 'mail-put', to: bob.username, env, id: ref }); } catch { break; }
        await sleep(25);
      }
    })();
    while (stored.size < 20 && errors.length === 0) await sleep(20);
    assert.deepEqual(errors, [], 'no put refused');
    aliveA = false;
    a.proc.kill('SIGKILL');
    await a.exited;
    await writer;
    const acked = [...stored];
    // bob connects to B: every envelope acknowledged by A is delivered by B, intact.
    const c2 = await login(b, bob.token);
    const got = new Set();
    for (;;) {
      const m = await c2.next((x) => x.type === 'mail', 3000).catch(() => null);
      if (!m) break;
      got.add(m.env);
      c2.send({ type: 'mail-ack', ids: [m.id] });
    }
    const sentTexts = new Set(sent.values());
    for (const e of got) assert.ok(sentTexts.has(e), 'every delivery is an envelope sent');
    const lost = acked.filter((ref) => !got.has(sent.get(ref)));
    assert.deepEqual(lost, [], `acknowledged envelopes lost (${acked.length} acknowledged, ${got.size} delivered)`);
    c2.close();
  } finally {
    if (aliveA) await a.stop('SIGKILL');
    await stopClean(b);
  }
});

test('PostgreSQL stopped: clear 503 errors and an unhealthy /healthz, nothing lost; service back when it returns', async () => {
  const { a, b } = await cluster('two_down');
  try {
    const alice = await newUser(a.url, 'alice');
    const id = newIdentity();
    assert.equal((await api(a.url, 'PUT', '/api/keys', { token: alice.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 1), oneTimePrekeys: oneTimePrekeys(1, 5) } })).status, 200);
    pg.stop();
    for (const s of [a, b]) {
      const h = await fetch(`${s.url}/healthz`);
      assert.equal(h.status, 503);
      assert.equal((await h.json()).database, 'unavailable');
      const r = await api(s.url, 'POST', '/api/signup', { body: { username: `down${crypto.randomBytes(3).toString('hex')}`, password: 'long enough pw' } });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'database_unavailable');
      assert.equal(r.headers.get('retry-after'), '5');
      const k = await api(s.url, 'GET', '/api/keys/me/count', { token: alice.token });
      assert.equal(k.status, 503, JSON.stringify(k.body));
    }
    pg.start();
    for (const s of [a, b]) {
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.deepEqual((await api(s.url, 'GET', '/api/keys/me/count', { token: alice.token })).body, { count: 5, low: true, kemCount: 0, kemLow: true });
    }
    assert.equal((await newUser(b.url, 'after')).username.startsWith('after'), true);
    // Restarted while nothing asks: the pooled connections it closed are made again on their
    // next use, before any request fails on them.
    await Promise.all([a, b].flatMap((s) => Array.from({ length: 8 }, () => api(s.url, 'GET', '/api/keys/me/count', { token: alice.token }))));
    pg.stop();
    pg.start();
    const after = await Promise.all([a, b].flatMap((s) => Array.from({ length: 8 }, () => api(s.url, 'GET', '/api/keys/me/count', { token: alice.token }))));
    assert.deepEqual(after.map((r) => r.status), Array(16).fill(200), JSON.stringify(after.map((r) => r.body)));
    const integrity = psql(pg.url, 'SELECT count(*) FROM mailbox_usage u WHERE (u.count, u.bytes) <> (SELECT count(*), coalesce(sum(length(m.envelope)), 0) FROM mailbox m WHERE m.recipient_id = u.recipient_id AND m.recipient_device = u.recipient_device)', 'two_down');
    assert.equal(integrity, '0');
  } finally {
    await stopClean(a);
    await stopClean(b);
  }
});
