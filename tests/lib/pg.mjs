// A private PostgreSQL (Debian's package, installed by scripts/deps.sh --test) for the tests,
// started by the project's scripts/pg.sh in a temporary folder on a free loopback port, and the
// databases the servers under test use in it (one per data folder).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const SCRIPT = join(ROOT, 'scripts/pg.sh');

/** A TCP port free on 127.0.0.1 now. */
export async function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function pgScript(...args) {
  return execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Runs sql (one statement without parameters, written by the tests) on database db of the
 * cluster whose parley URL is url; returns psql's unaligned output.
 */
export function psql(url, sql, db = 'postgres') {
  const u = new URL(url);
  const r = spawnSync('psql', ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username),
    '-d', db, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) },
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** url with its database replaced by db. */
export function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Starts a private cluster. Returns { url (its database parley), dir, port, database(name),
 * drop(name), stop(), kill(), start(), close() }: database() creates a database when missing and
 * gives its URL; stop() and start() stop and start the same cluster (same port, same data);
 * close() stops it and removes its folder.
 */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
  const port = await freePort();
  const url = pgScript('start', '--dir', dir, '--port', String(port));
  const cluster = {
    url,
    dir,
    port,
    database(name) {
      if (!/^[a-z0-9_]{1,60}$/.test(name)) throw new Error(`bad database name ${name}`);
      const have = psql(url, `SELECT 1 FROM pg_database WHERE datname = '${name}'`);
      if (have !== '1') {
        try {
          psql(url, `CREATE DATABASE ${name}`);
        } catch (e) {
          if (!/already exists/.test(String(e))) throw e;
        }
      }
      return withDatabase(url, name);
    },
    drop(name) {
      if (!/^[a-z0-9_]{1,60}$/.test(name)) throw new Error(`bad database name ${name}`);
      psql(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop() { pgScript('stop', '--dir', dir); },
    kill() { pgScript('kill', '--dir', dir); },
    start() { pgScript('start', '--dir', dir); },
    close() {
      spawnSync('bash', [SCRIPT, 'stop', '--dir', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** A database name for a data folder: the same folder, the same database. */
export function databaseFor(dataDir) {
  return `parley_${createHash('sha256').update(dataDir).digest('hex').slice(0, 24)}`;
}

let shared = null;

/**
 * The cluster the server suite runs on when PARLEY_TEST_DATABASE=postgres: the one at
 * PARLEY_TEST_PG_URL (started by scripts/test.sh), else one started for this process and stopped
 * when it exits.
 */
export async function testCluster() {
  if (shared) return shared;
  const given = process.env.PARLEY_TEST_PG_URL;
  if (given) {
    shared = {
      url: given,
      database(name) {
        if (!/^[a-z0-9_]{1,60}$/.test(name)) throw new Error(`bad database name ${name}`);
        if (psql(given, `SELECT 1 FROM pg_database WHERE datname = '${name}'`) !== '1') {
          try { psql(given, `CREATE DATABASE ${name}`); } catch (e) { if (!/already exists/.test(String(e))) throw e; }
        }
        return withDatabase(given, name);
      },
      drop(name) { psql(given, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); },
    };
    return shared;
  }
  shared = await startPostgres();
  process.on('exit', () => shared.close());
  return shared;
}

/** The cluster testCluster() gave this process (a server under test has started on it). */
export function currentCluster() {
  if (!shared) throw new Error('no PostgreSQL cluster: no server was started on PostgreSQL');
  return shared;
}

/** The password file's content of a cluster folder (for tests that read it). */
export function clusterPassword(dir) {
  return readFileSync(join(dir, 'password'), 'utf8').trim();
}
