// The store: schema version, refusal of a newer database, WAL mode, and --help for the new flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from '../lib/server.mjs';
import { api, b64u, newIdentity, signedPrekey, x25519Public } from '../lib/api.mjs';
import { newUser } from '../lib/api.mjs';
import { legacyDatabase } from '../lib/legacy.mjs';
import { login } from '../lib/ws.mjs';

const sql = (db, q) => execFileSync('sqlite3', [db, q]).toString().trim();
// These tests are about SQLite's own files: they run on SQLite whichever engine the suite runs on
// (tests/server/postgres.test.mjs has PostgreSQL's).
const sqlite = ['--database', 'sqlite'];

function run(args) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('a new database gets the current schema version in WAL mode with foreign keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    const s = await startServer({ dataDir: dir, args: sqlite });
    await newUser(s.url);
    await s.stop();
    const db = join(dir, 'parley.db');
    // The database and its journal files are the server's alone.
    for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
      if (existsSync(join(dir, f))) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    }
    assert.equal(sql(db, 'PRAGMA user_version;'), '6');
    assert.equal(sql(db, 'PRAGMA journal_mode;'), 'wal');
    assert.equal(sql(db, 'SELECT count(*) FROM users;'), '1');
    assert.match(sql(db, '.schema devices'), /REFERENCES users\(id\) ON DELETE CASCADE/);
    assert.match(sql(db, '.schema one_time_prekeys'), /REFERENCES devices \(user_id, device_id\) ON DELETE CASCADE/);
    // The account's first device (1: none named), listed, as an account without a device list.
    assert.equal(sql(db, 'SELECT device_id, listed, removed FROM devices;'), '1|1|0');
    // Each username's look-alike skeleton, unique (schema version 3).
    assert.match(sql(db, '.schema users'), /CREATE UNIQUE INDEX users_by_skeleton ON users \(skeleton\)/);
    assert.equal(sql(db, 'SELECT count(*) FROM users WHERE skeleton IS NOT NULL;'), '1');
    // A restart keeps the version and the data.
    const s2 = await startServer({ dataDir: dir, args: sqlite });
    await s2.stop();
    assert.equal(sql(db, 'PRAGMA user_version;'), '6');
    assert.equal(sql(db, 'SELECT count(*) FROM users;'), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('database files made 0644 by an older server are made 0600, and new ones are 0600 while it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    const s = await startServer({ dataDir: dir, args: sqlite });
    await newUser(s.url);
    await s.stop();
    for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
      if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o644);
    }
    const s2 = await startServer({ dataDir: dir, args: sqlite });
    try {
      await newUser(s2.url); // writes: the WAL and shared-memory files exist now
      for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
        assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
      }
    } finally {
      await s2.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// An HS256 token as the server made them before devices ({"sub","gen","iat","exp"}: no device).
function legacyToken(dir, sub) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64u('{"alg":"HS256","typ":"JWT"}')}.${b64u(JSON.stringify({ sub, gen: 0, iat: now, exp: now + 3600 }))}`;
  return `${body}.${crypto.createHmac('sha256', readFileSync(join(dir, 'jwt.key'))).update(body).digest('base64url')}`;
}

test('schema 3 to 4: existing keys, one-time prekeys and mail become device 1\'s, and tokens from before still work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    const db = join(dir, 'parley.db');
    const s0 = await startServer({ dataDir: dir, args: sqlite }); // only to make jwt.key
    await s0.stop();
    rmSync(db);
    for (const f of ['parley.db-wal', 'parley.db-shm']) rmSync(join(dir, f), { force: true });
    legacyDatabase(db, 3);
    const id = newIdentity();
    const spk = signedPrekey(id, 9);
    const hex = (b64) => Buffer.from(b64, 'base64url').toString('hex');
    const now = Math.floor(Date.now() / 1000);
    const env = Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]);
    const otpk = x25519Public();
    sql(db, `INSERT INTO users (username, pwhash, token_gen, created_at) VALUES ('olduser', 'x', 0, ${now - 7200}), ('other', 'x', 0, ${now});` +
      `INSERT INTO identities VALUES (1, X'${hex(id.publicKey)}', 1, ${now}, 9, X'${hex(spk.publicKey)}', X'${hex(spk.signature)}');` +
      `INSERT INTO one_time_prekeys VALUES (1, 5, X'${hex(otpk)}');` +
      `INSERT INTO mailbox (recipient_id, expires_at, envelope) VALUES (1, ${now + 86400}, X'${env.toString('hex')}');` +
      `INSERT INTO mailbox_usage VALUES (1, 1, 512);`);
    const s = await startServer({ dataDir: dir, args: sqlite });
    try {
      assert.match(s.logs(), /database migrated to schema version 4/);
      assert.equal(sql(db, 'PRAGMA user_version;'), '6');
      assert.equal(sql(db, 'SELECT user_id, device_id, listed, removed, token_gen, last_seen % 3600 FROM devices ORDER BY user_id;'), '1|1|1|0|0|0\n2|1|1|0|0|0');
      assert.equal(sql(db, 'SELECT user_id, device_id, spk_id FROM signed_prekeys;'), '1|1|9');
      assert.equal(sql(db, 'SELECT user_id, device_id, key_id FROM one_time_prekeys;'), '1|1|5');
      assert.equal(sql(db, 'SELECT recipient_id, recipient_device, count, bytes FROM mailbox_usage;'), '1|1|1|512');
      assert.doesNotMatch(sql(db, '.schema identities'), /spk_/);
      // A token from before devices is device 1's; its bundle, count and mail are as they were.
      const olduser = legacyToken(dir, 'olduser');
      const other = legacyToken(dir, 'other');
      const count = await api(s.url, 'GET', '/api/keys/me/count', { token: olduser });
      assert.deepEqual(count.body, { count: 1, low: true, kemCount: 0, kemLow: true });
      const b = await api(s.url, 'GET', '/api/keys/olduser', { token: other });
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.devices, null);
      assert.deepEqual(b.body.signedPrekey, spk);
      assert.deepEqual(b.body.oneTimePrekey, { id: 5, publicKey: otpk });
      assert.deepEqual(b.body.bundles, [{ device: 1, signedPrekey: spk, oneTimePrekey: { id: 5, publicKey: otpk }, kemPrekey: null }]);
      const c = await login(s, olduser);
      assert.equal(c.device, 1);
      const mail = await c.next((m) => m.type === 'mail');
      assert.equal(Buffer.from(mail.env, 'base64url').toString('hex'), env.toString('hex'));
      c.close();
      await c.closed();
    } finally {
      const { code } = await s.stop();
      assert.equal(code, 0, s.logs().slice(-3000));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database from a newer server is refused, untouched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    const db = join(dir, 'parley.db');
    sql(db, 'CREATE TABLE future (x); PRAGMA user_version = 99;');
    const r = await run(['--listen', '127.0.0.1:0', '--data', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /schema version 99, newer than this server/);
    assert.equal(sql(db, 'PRAGMA user_version;'), '99');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--help documents the new flags', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--origin', '--max-connections', '--tls-cert', '--tls-key', '--self-signed', 'PARLEY_ORIGIN', 'PARLEY_MAX_CONNECTIONS']) {
    assert.ok(r.out.includes(flag), flag);
  }
  const bad = await run(['--max-connections', '0']);
  assert.equal(bad.code, 2);
  const badOrigin = await run(['--origin', 'https://x.org/path']);
  assert.equal(badOrigin.code, 2);
  assert.match(badOrigin.err, /invalid origin/);
});

test('--max-connections up to 19500 is accepted; beyond the open-file limit it is refused, clearly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    assert.equal((await run(['--max-connections', '19501'])).code, 2);
    // Under a hard limit of 1000 open files, 1000 connections cannot be held; 776 can (224 files
    // are kept for the 128 worker threads' connections and 96 for listening sockets, database...).
    const limited = (n) => new Promise((resolve) => {
      const p = spawn('sh', ['-c', 'ulimit -Sn 500 && ulimit -Hn 1000 && exec "$0" "$@"', serverBinary(),
        '--listen', '127.0.0.1:0', '--data', dir, '--max-connections', String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      let out = '';
      p.stderr.on('data', (d) => { err += d; });
      p.stdout.on('data', (d) => { out += d; if (/listening on/.test(out)) p.kill('SIGTERM'); });
      p.on('exit', (code) => resolve({ code, err, out }));
    });
    const refused = await limited(1000);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /--max-connections 1000 needs 1224 open files, but the open-file limit is 1000/);
    // The soft limit (500) is raised to the hard limit (1000) by the server itself.
    const ok = await limited(776);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /listening on/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
