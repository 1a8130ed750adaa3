// The store: schema version, refusal of a newer database, WAL mode, and --help for the new flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';

const sql = (db, q) => execFileSync('sqlite3', [db, q]).toString().trim();

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
    const s = await startServer({ dataDir: dir });
    await newUser(s.url);
    await s.stop();
    const db = join(dir, 'parley.db');
    // The database and its journal files are the server's alone.
    for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
      if (existsSync(join(dir, f))) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    }
    assert.equal(sql(db, 'PRAGMA user_version;'), '3');
    assert.equal(sql(db, 'PRAGMA journal_mode;'), 'wal');
    assert.equal(sql(db, 'SELECT count(*) FROM users;'), '1');
    assert.match(sql(db, '.schema one_time_prekeys'), /REFERENCES users\(id\) ON DELETE CASCADE/);
    // Each username's look-alike skeleton, unique (schema version 3).
    assert.match(sql(db, '.schema users'), /CREATE UNIQUE INDEX users_by_skeleton ON users \(skeleton\)/);
    assert.equal(sql(db, 'SELECT count(*) FROM users WHERE skeleton IS NOT NULL;'), '1');
    // A restart keeps the version and the data.
    const s2 = await startServer({ dataDir: dir });
    await s2.stop();
    assert.equal(sql(db, 'PRAGMA user_version;'), '3');
    assert.equal(sql(db, 'SELECT count(*) FROM users;'), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('database files made 0644 by an older server are made 0600, and new ones are 0600 while it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  try {
    const s = await startServer({ dataDir: dir });
    await newUser(s.url);
    await s.stop();
    for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm']) {
      if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o644);
    }
    const s2 = await startServer({ dataDir: dir });
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
