// Accounts and tokens over real HTTP: sign-up, login, logout, password change, refresh, and the
// bearer-token checks every authenticated endpoint shares.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbQuery, startServer, testEngine } from '../lib/server.mjs';
import { api, kemRecord, newIdentity, newUser, oneTimePrekeys, signedPrekey, uniqueName } from '../lib/api.mjs';
import { login as wsLogin, makeContacts } from '../lib/ws.mjs';
import { legacyDatabase } from '../lib/legacy.mjs';

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
  assert.equal(typeof r.body, 'object', 'JSON body');
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
}

test('sign-up returns a token; the username is then taken', async () => {
  const username = uniqueName('alice');
  const r = await api(base, 'POST', '/api/signup', { body: { username, password: 'correct horse' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.username, username);
  assert.match(r.body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(r.body.expiresAt > Date.now() / 1000 + 3600);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const again = await api(base, 'POST', '/api/signup', { body: { username, password: 'another one' } });
  isError(again, 409, 'username_taken');
});

test('sign-up validates the username and the password', async () => {
  for (const username of ['ab', 'AB', '1abc', '.abc', 'a b c', 'abc!', 'me', 'ME', 'x'.repeat(33), 'caf\u00e9s']) {
    const r = await api(base, 'POST', '/api/signup', { body: { username, password: 'long enough' } });
    isError(r, 400, 'invalid_username');
  }
  for (const password of ['', 'short', 'x'.repeat(1025)]) {
    const r = await api(base, 'POST', '/api/signup', { body: { username: uniqueName(), password } });
    isError(r, 400, 'invalid_password');
  }
  isError(await api(base, 'POST', '/api/signup', { body: { username: uniqueName() } }), 400, 'missing_field');
  isError(await api(base, 'POST', '/api/signup', { body: { username: 5, password: 'long enough' } }), 400, 'missing_field');
  isError(await api(base, 'POST', '/api/signup', { raw: '{"username":', headers: { 'Content-Type': 'application/json' } }), 400, 'invalid_json');
  isError(await api(base, 'POST', '/api/signup', { raw: '[1,2]', headers: { 'Content-Type': 'application/json' } }), 400, 'invalid_json');
  isError(await api(base, 'POST', '/api/signup', { raw: '{"username":"abc","password":"12345678"}', headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
  isError(await api(base, 'POST', '/api/signup', { raw: JSON.stringify({ username: 'abc', password: 'p'.repeat(5000) }), headers: { 'Content-Type': 'application/json' } }), 413, 'too_large');
  isError(await api(base, 'GET', '/api/signup'), 405, 'method_not_allowed');
});

test('usernames are case-folded: one account whatever the case', async () => {
  const lower = uniqueName();
  const mixed = lower[0].toUpperCase() + lower.slice(1, 4).toUpperCase() + lower.slice(4);
  const r = await api(base, 'POST', '/api/signup', { body: { username: mixed, password: 'case folding' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.username, lower, 'stored in lower case');
  isError(await api(base, 'POST', '/api/signup', { body: { username: lower, password: 'case folding' } }), 409, 'username_taken');
  isError(await api(base, 'POST', '/api/signup', { body: { username: lower.toUpperCase(), password: 'other pw 1' } }), 409, 'username_taken');
  const login = await api(base, 'POST', '/api/login', { body: { username: lower.toUpperCase(), password: 'case folding' } });
  assert.equal(login.status, 200);
  assert.equal(login.body.username, lower);
  const dotted = `${uniqueName()}.x`;
  assert.equal((await api(base, 'POST', '/api/signup', { body: { username: dotted, password: 'dots are fine' } })).status, 201);
});

test('login: right password gives a token; wrong password and unknown user look the same', async () => {
  const u = await newUser(base);
  const ok = await api(base, 'POST', '/api/login', { body: { username: u.username, password: u.password } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.username, u.username);
  const refresh = await api(base, 'POST', '/api/token/refresh', { token: ok.body.token });
  assert.equal(refresh.status, 200);

  const t0 = performance.now();
  const wrong = await api(base, 'POST', '/api/login', { body: { username: u.username, password: 'wrong password' } });
  const t1 = performance.now();
  const unknown = await api(base, 'POST', '/api/login', { body: { username: uniqueName('ghost'), password: 'wrong password' } });
  const t2 = performance.now();
  isError(wrong, 401, 'invalid_credentials');
  isError(unknown, 401, 'invalid_credentials');
  assert.deepEqual(wrong.body, unknown.body);
  // Both run one Argon2id verification: neither answers much faster than the other.
  const [a, b] = [t1 - t0, t2 - t1];
  assert.ok(Math.min(a, b) > Math.max(a, b) / 4, `timings ${a.toFixed(1)} ms vs ${b.toFixed(1)} ms`);
  const invalidName = await api(base, 'POST', '/api/login', { body: { username: 'NOT VALID', password: 'wrong password' } });
  assert.deepEqual(invalidName.body, unknown.body);
});

test('tokens: missing, malformed, forged, alg none and wrong scheme are refused', async () => {
  const u = await newUser(base);
  isError(await api(base, 'POST', '/api/token/refresh'), 401, 'missing_token');
  isError(await api(base, 'POST', '/api/token/refresh', { headers: { Authorization: `Basic ${u.token}` } }), 401, 'missing_token');
  isError(await api(base, 'POST', '/api/token/refresh', { token: 'garbage' }), 401, 'invalid_token');
  isError(await api(base, 'POST', '/api/token/refresh', { token: 'a'.repeat(5000) }), 401, 'invalid_token');
  const [h, p, s] = u.token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  const other = Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url');
  isError(await api(base, 'POST', '/api/token/refresh', { token: `${h}.${other}.${s}` }), 401, 'invalid_token');
  const none = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
  isError(await api(base, 'POST', '/api/token/refresh', { token: `${none}.${p}.` }), 401, 'invalid_token');
  const hs512 = Buffer.from('{"alg":"HS512","typ":"JWT"}').toString('base64url');
  isError(await api(base, 'POST', '/api/token/refresh', { token: `${hs512}.${p}.${s}` }), 401, 'invalid_token');
  // A token signed with another key (e.g. guessed or from another server).
  const mac = crypto.createHmac('sha256', crypto.randomBytes(32)).update(`${h}.${p}`).digest('base64url');
  isError(await api(base, 'POST', '/api/token/refresh', { token: `${h}.${p}.${mac}` }), 401, 'invalid_token');
  // Tokens in the URL are never read.
  isError(await api(base, 'POST', `/api/token/refresh?token=${u.token}`), 401, 'missing_token');
  // The genuine token still works.
  assert.equal((await api(base, 'POST', '/api/token/refresh', { token: u.token })).status, 200);
});

test('logout revokes every token of the device (device 1, named or not)', async () => {
  const u = await newUser(base);
  const second = await api(base, 'POST', '/api/login', { body: { username: u.username, password: u.password } });
  const r = await api(base, 'POST', '/api/logout', { token: u.token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { ok: true });
  isError(await api(base, 'POST', '/api/token/refresh', { token: u.token }), 401, 'token_revoked');
  isError(await api(base, 'POST', '/api/token/refresh', { token: second.body.token }), 401, 'token_revoked');
  isError(await api(base, 'POST', '/api/logout', { token: u.token }), 401, 'token_revoked');
  const again = await api(base, 'POST', '/api/login', { body: { username: u.username, password: u.password } });
  assert.equal(again.status, 200);
  assert.equal((await api(base, 'POST', '/api/token/refresh', { token: again.body.token })).status, 200);
});

test('password change needs the old password, revokes old tokens and returns a new one', async () => {
  const u = await newUser(base);
  isError(await api(base, 'POST', '/api/password', { token: u.token, body: { oldPassword: 'not the one', newPassword: 'new password 1' } }), 403, 'wrong_password');
  isError(await api(base, 'POST', '/api/password', { token: u.token, body: { oldPassword: u.password, newPassword: 'short' } }), 400, 'invalid_password');
  isError(await api(base, 'POST', '/api/password', { token: u.token, body: { oldPassword: u.password } }), 400, 'missing_field');
  isError(await api(base, 'POST', '/api/password', { body: { oldPassword: u.password, newPassword: 'new password 1' } }), 401, 'missing_token');
  const r = await api(base, 'POST', '/api/password', { token: u.token, body: { oldPassword: u.password, newPassword: 'new password 1' } });
  assert.equal(r.status, 200);
  assert.ok(r.body.token);
  isError(await api(base, 'POST', '/api/token/refresh', { token: u.token }), 401, 'token_revoked');
  assert.equal((await api(base, 'POST', '/api/token/refresh', { token: r.body.token })).status, 200);
  isError(await api(base, 'POST', '/api/login', { body: { username: u.username, password: u.password } }), 401, 'invalid_credentials');
  assert.equal((await api(base, 'POST', '/api/login', { body: { username: u.username, password: 'new password 1' } })).status, 200);
});

test('account deletion: password checked, keys, mail and tokens gone, sockets closed 4410, the name kept for good, others untouched', async () => {
  const alice = await newUser(base, 'del');
  const bob = await newUser(base, 'delb');
  for (const u of [alice, bob]) {
    const id = newIdentity();
    u.identity = id;
    assert.equal((await api(base, 'PUT', '/api/keys', { token: u.token, body: { identityKey: id.publicKey, signedPrekey: signedPrekey(id, 1), oneTimePrekeys: oneTimePrekeys(0, 5) } })).status, 200);
    assert.equal((await api(base, 'PUT', '/api/keys/me/kem', { token: u.token, body: { lastResort: await kemRecord(id, 1), oneTime: [await kemRecord(id, 2)] } })).status, 200);
  }
  const second = await api(base, 'POST', '/api/login', { body: { username: alice.username, password: alice.password } });
  assert.equal(second.status, 200);
  // Mail waiting for alice (contacts: both show presence and subscribe to each other).
  const a = await wsLogin(server, alice.token);
  const b = await wsLogin(server, bob.token);
  await makeContacts(a, b);
  b.send({ type: 'mail-put', to: alice.username, env: Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url'), id: 'm1' });
  const stored = await b.next((m) => m.ref === 'm1');
  assert.equal(stored.type, 'mail-stored', JSON.stringify(stored));
  await a.next((m) => m.type === 'mail');
  const uid = dbQuery(server.dataDir, `SELECT id FROM users WHERE username = '${alice.username}';`);
  const count = (table, col = 'user_id') => Number(dbQuery(server.dataDir, `SELECT count(*) FROM ${table} WHERE ${col} = ${uid};`));
  assert.equal(count('mailbox', 'recipient_id'), 1);
  assert.ok(count('kem_prekeys') > 0 && count('one_time_prekeys') > 0);

  // Bad input and a wrong password change nothing.
  isError(await api(base, 'POST', '/api/account/delete', { token: alice.token, body: {} }), 400, 'missing_field');
  isError(await api(base, 'POST', '/api/account/delete', { token: alice.token, body: { password: 7 } }), 400, 'missing_field');
  isError(await api(base, 'POST', '/api/account/delete', { token: alice.token, raw: 'not json', headers: { 'Content-Type': 'application/json' } }), 400, 'invalid_json');
  isError(await api(base, 'POST', '/api/account/delete', { body: { password: alice.password } }), 401, 'missing_token');
  isError(await api(base, 'POST', '/api/account/delete', { token: alice.token, body: { password: 'not the password' } }), 403, 'wrong_password');
  assert.equal((await api(base, 'GET', `/api/keys/${alice.username}`, { token: bob.token })).status, 200);

  const r = await api(base, 'POST', '/api/account/delete', { token: alice.token, body: { password: alice.password } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { ok: true });
  // The open WebSocket is told and closed; bob's stays open.
  const err = await a.next((m) => m.type === 'error');
  assert.equal(err.code, 'account_deleted');
  assert.equal((await a.closed()).code, 4410);
  b.send({ type: 'ping', id: 'still' });
  assert.equal((await b.next((m) => m.ref === 'still')).type, 'pong');

  // Every token from before is refused, and the password no longer logs in.
  for (const t of [alice.token, second.body.token]) {
    isError(await api(base, 'POST', '/api/token/refresh', { token: t }), 401, 'token_revoked');
    isError(await api(base, 'POST', '/api/account/delete', { token: t, body: { password: alice.password } }), 401, 'token_revoked');
  }
  await assert.rejects(wsLogin(server, alice.token), /auth failed.*token_revoked/);
  isError(await api(base, 'POST', '/api/login', { body: { username: alice.username, password: alice.password } }), 401, 'invalid_credentials');
  // The name stays taken, in any case and as a look-alike.
  isError(await api(base, 'POST', '/api/signup', { body: { username: alice.username, password: 'another password' } }), 409, 'username_taken');
  isError(await api(base, 'POST', '/api/signup', { body: { username: alice.username.toUpperCase(), password: 'another password' } }), 409, 'username_taken');
  // Keys, bundle, mail and presence settings are gone.
  isError(await api(base, 'GET', `/api/keys/${alice.username}`, { token: bob.token }), 404, 'no_keys');
  assert.equal((await api(base, 'GET', `/api/identity/${alice.username}`, { token: bob.token })).status, 404);
  for (const [table, col] of [['mailbox', 'recipient_id'], ['mailbox_usage', 'recipient_id'], ['identities'], ['devices'], ['signed_prekeys'], ['one_time_prekeys'], ['kem_prekeys']]) {
    assert.equal(count(table, col), 0, table);
  }
  assert.equal(dbQuery(server.dataDir, `SELECT coalesce(pwhash, 'x') || '|' || coalesce(contact_cap_hash IS NULL, true) || '|' || show_presence || '|' || (deleted_at > 0) FROM users WHERE id = ${uid};`).replace(/\btrue\b|\bt\b/g, '1'), '|1|0|1');
  // Mail to the deleted account is not stored for anyone.
  b.send({ type: 'mail-put', to: alice.username, env: Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url'), id: 'm2' });
  await b.next((m) => m.ref === 'm2');
  assert.equal(count('mailbox', 'recipient_id'), 0);
  // Bob is untouched.
  assert.equal((await api(base, 'POST', '/api/token/refresh', { token: bob.token })).status, 200);
  assert.equal((await api(base, 'GET', `/api/keys/${bob.username}`, { token: bob.token })).status, 200);
  assert.equal((await api(base, 'POST', '/api/login', { body: { username: bob.username, password: bob.password } })).status, 200);
  b.close();
});

test('the token key is 32 bytes in DATA/jwt.key with mode 0600; tokens survive a restart', async () => {
  const st = statSync(join(server.dataDir, 'jwt.key'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.size, 32);
  if (testEngine() === 'sqlite') {
    const db = statSync(join(server.dataDir, 'parley.db'));
    assert.ok(db.size > 0);
  }

  const dataDir = join(server.dataDir, 'restart');
  const s1 = await startServer({ dataDir });
  const u = await newUser(s1.url);
  await s1.stop();
  const key1 = readFileSync(join(dataDir, 'jwt.key'));
  const s2 = await startServer({ dataDir });
  try {
    assert.deepEqual(readFileSync(join(dataDir, 'jwt.key')), key1);
    assert.equal((await api(s2.url, 'POST', '/api/token/refresh', { token: u.token })).status, 200);
    assert.equal((await api(s2.url, 'POST', '/api/login', { body: { username: u.username, password: u.password } })).status, 200);
  } finally {
    await s2.stop();
  }
});

test('a data folder with a bad jwt.key is refused at start-up', async () => {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const dataDir = join(server.dataDir, 'badkey');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'jwt.key'), 'short');
  await assert.rejects(startServer({ dataDir }), /jwt\.key must hold exactly 32 bytes/);
});

test('logs never hold passwords or tokens', async () => {
  const u = await newUser(base);
  await api(base, 'POST', '/api/login', { body: { username: u.username, password: u.password } });
  await api(base, 'POST', '/api/token/refresh', { token: u.token });
  const logs = server.logs();
  assert.ok(!logs.includes(u.password), 'password in logs');
  assert.ok(!logs.includes(u.token.split('.')[2]), 'token in logs');
  assert.match(logs, /signup: new account/);
});

// Look-alike names (docs/API.md, Usernames). Each test has a server of its own: the names are
// the review's own (alice, mallory, dave), and the sign-ups stay within one address's burst.

const sql = (db, q) => execFileSync('sqlite3', [db, q]).toString().trim();
const signup = (url, username, password = 'long enough') => api(url, 'POST', '/api/signup', { body: { username, password } });
const login = (url, username, password = 'long enough') => api(url, 'POST', '/api/login', { body: { username, password } });

/** Runs fn with a server of its own, which must then exit 0 without a sanitizer's report. */
async function withServer(options, fn) {
  const s = await startServer(options);
  try {
    await fn(s);
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, `parley-server exited with ${code}:\n${s.logs().slice(-4000)}`);
    assert.doesNotMatch(s.logs(), /Sanitizer|runtime error:/);
  }
}

/** A random run of letters the skeleton leaves as they are. */
function plainLetters(n) {
  const letters = 'abefghjkpqstuxyz';
  return Array.from(crypto.randomBytes(n), (b) => letters[b % letters.length]).join('');
}

test('a look-alike of an existing account is refused: 409 username_confusable, naming no account', async () => {
  await withServer({}, async (s) => {
    const lookalikes = {
      alice: ['a1ice', 'aiice', 'aIice', 'al1ce', 'a.lice', 'a_l-i.c-e', 'alice.', 'A1ICE'],
      mallory: ['rnallory', 'rna11ory', 'mal1ory', 'ma.llory', 'rnaiiory', 'malI0ry'],
      dave: ['dave.', 'd.ave', 'd_ave', 'dave-', 'clave', 'c1ave'],
      walter: ['vvalter', 'wa1ter', 'vva-lter'],
      tom: ['t0m', 'torn', 't.o.m', 'T0M'],
    };
    for (const name of Object.keys(lookalikes)) {
      assert.equal((await signup(s.url, name, `pw of ${name}`)).status, 201, name);
    }
    for (const [original, names] of Object.entries(lookalikes)) {
      for (const name of names) {
        const r = await signup(s.url, name);
        isError(r, 409, 'username_confusable');
        assert.deepEqual(Object.keys(r.body), ['error']);
        for (const other of Object.keys(lookalikes)) {
          assert.ok(!r.body.error.message.toLowerCase().includes(other), `${name}: the message names ${other}`);
        }
        assert.ok(!JSON.stringify(r.body).includes(original));
      }
    }
    // The same name in any case is taken, as before; names that only share letters are not refused
    // (nn is not m, alicia is not alice).
    isError(await signup(s.url, 'alice'), 409, 'username_taken');
    isError(await signup(s.url, 'ALICE'), 409, 'username_taken');
    for (const name of ['alicia', 'davey', 'tonn', 'walters']) {
      assert.equal((await signup(s.url, name)).status, 201, name);
    }
    // Nothing was stored for a refused name; the originals log in as before.
    isError(await login(s.url, 'a1ice'), 401, 'invalid_credentials');
    isError(await login(s.url, 'rnallory'), 401, 'invalid_credentials');
    for (const name of ['alice', 'mallory', 'dave']) {
      const r = await login(s.url, name, `pw of ${name}`);
      assert.equal(r.status, 200, name);
      assert.equal(r.body.username, name);
    }
    assert.match(s.logs(), /signup: refused a1ice, a look-alike of an account/);
  });
});

test('reserved names and their look-alikes are refused: 409 username_reserved', async () => {
  await withServer({}, async (s) => {
    const reserved = ['admin', 'ADMIN', 'adm1n', 'a.d.m.i.n', 'support', 'supp0rt', 'system', 'sys.tem', 'systern',
      'parley', 'par1ey', 'PARLEY', 'root', 'r00t', 'administrator', 'help', 'he1p', 'security', 'moderator', 'staff',
      'official', 'server', 'postmaster', 'abuse', 'noreply', 'm.e', 'rne'];
    for (const name of reserved) {
      const r = await signup(s.url, name);
      isError(r, 409, 'username_reserved');
    }
    isError(await signup(s.url, 'me'), 400, 'invalid_username');
    for (const name of ['admins', 'parleyfan', 'supporter']) {
      assert.equal((await signup(s.url, name)).status, 201, name);
    }
    isError(await login(s.url, 'admin'), 401, 'invalid_credentials');
  });
});

test('look-alike sign-ups racing: exactly one of them succeeds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-race-'));
  try {
    await withServer({ dataDir: dir }, async (s) => {
      for (let round = 0; round < 3; round += 1) {
        const x = plainLetters(6);
        // Sixteen different names, one skeleton (rnol...vv).
        const names = [`mol${x}w`, `rnol${x}w`, `m0l${x}w`, `mo1${x}w`, `moi${x}w`, `mol${x}vv`, `m.ol${x}w`,
          `mo_l${x}w`, `mol${x}-w`, `rn0i${x}vv`, `rn.o.1${x}vv`, `m0i${x}w`, `rnoi${x}vv`, `mol.${x}.w`,
          `r.nol${x}w`, `mo-l${x}w`];
        assert.equal(new Set(names).size, names.length);
        const results = await Promise.all(names.map((name) => signup(s.url, name, `pw ${name}`)));
        const won = names.filter((_, i) => results[i].status === 201);
        assert.equal(won.length, 1, `round ${round}: ${results.map((r, i) => `${names[i]} ${r.status}`).join(', ')}`);
        for (const r of results) {
          if (r.status !== 201) isError(r, 409, 'username_confusable');
        }
        assert.equal((await login(s.url, won[0], `pw ${won[0]}`)).status, 200);
      }
    });
    assert.equal(await dbQuery(dir, 'SELECT count(*) FROM users;'), '3');
    assert.equal(await dbQuery(dir, 'SELECT count(DISTINCT skeleton) FROM users;'), '3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// An upgrade of SQLite's own files: it runs on SQLite whichever engine the suite runs on.
test('a schema-2 database that holds look-alike accounts opens, and every one of them still logs in', async () => {
  const sqlite = ['--database', 'sqlite'];
  const dir = mkdtempSync(join(tmpdir(), 'parley-migrate-'));
  const old = mkdtempSync(join(tmpdir(), 'parley-migrate-'));
  try {
    const x = plainLetters(6);
    const db = join(dir, 'parley.db');
    const users = [`alice${x}`, `bob${x}`, `carol${x}`, `erin${x}`, `frank${x}`];
    // Real password hashes from today's server, moved into a database of schema version 2 (no
    // skeleton column), with names that version let through: bob becomes a1ice (alice's
    // look-alike), erin a.l.i.c.e (a third), frank the reserved admin.
    await withServer({ dataDir: old, args: sqlite }, async (s) => {
      for (const name of users) assert.equal((await signup(s.url, name, `pw ${name}`)).status, 201);
    });
    const renamed = { [`bob${x}`]: `a1ice${x}`, [`erin${x}`]: `a.l.i.c.e${x}`, [`frank${x}`]: 'admin' };
    legacyDatabase(db, 2);
    for (const name of users) {
      const [pwhash, created] = sql(join(old, 'parley.db'), `SELECT pwhash, created_at FROM users WHERE username = '${name}';`).split('|');
      sql(db, `INSERT INTO users (username, pwhash, token_gen, created_at) VALUES ('${renamed[name] || name}', '${pwhash}', 0, ${created});`);
    }
    assert.doesNotMatch(sql(db, '.schema users'), /skeleton/);
    await withServer({ dataDir: dir, args: sqlite }, async (s) => {
      assert.equal(sql(db, 'PRAGMA user_version;'), '6');
      assert.match(s.logs(), /database migrated to schema version 3/);
      assert.match(s.logs(), /2 existing accounts look like older ones/);
      assert.match(s.logs(), /database migrated to schema version 4/);
      // Every account logs in with its password, and its tokens work.
      for (const name of users) {
        const username = renamed[name] || name;
        const r = await login(s.url, username, `pw ${name}`);
        assert.equal(r.status, 200, username);
        assert.equal(r.body.username, username);
        assert.equal((await api(s.url, 'POST', '/api/token/refresh', { token: r.body.token })).status, 200);
      }
      // The oldest of the look-alikes holds the skeleton; the others are kept without one.
      assert.equal(sql(db, `SELECT username || ' ' || ifnull(skeleton, 'NULL') FROM users ORDER BY id;`),
        [`alice${x} allce${x}`, `a1ice${x} NULL`, `carol${x} carol${x}`, `a.l.i.c.e${x} NULL`, 'admin aclrnln'].join('\n'));
      // New look-alikes of any of them are refused, the backfilled carol's too.
      isError(await signup(s.url, `aiice${x}`), 409, 'username_confusable');
      isError(await signup(s.url, `a1ice${x}`), 409, 'username_taken');
      isError(await signup(s.url, `car0l${x}`), 409, 'username_confusable');
      isError(await signup(s.url, 'adm1n'), 409, 'username_reserved');
      assert.equal((await signup(s.url, `dave${x}`)).status, 201);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
});
