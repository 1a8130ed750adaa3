// Starts the real parley-server binary on a free port with a temporary data folder.
import { execFileSync, spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { currentCluster, databaseFor, psql, testCluster } from './pg.mjs';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** The server binary under test: PARLEY_SERVER_BIN, else the sanitizer build, else native. */
export function serverBinary() {
  return process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/asan/server/parley-server');
}

/**
 * The engine the servers under test keep their data in: PARLEY_TEST_DATABASE=postgres runs them
 * on PostgreSQL (tests/lib/pg.mjs: a database per data folder), anything else on SQLite.
 */
export function testEngine() {
  return process.env.PARLEY_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * Runs one SQL statement on the database of the server whose data folder is dataDir (SQLite's
 * DATA/parley.db when there is one, else its PostgreSQL database), and returns the rows as text: columns joined by
 * |, rows by newlines (sqlite3's and psql -At's common form).
 */
export function dbQuery(dataDir, sql) {
  if (testEngine() === 'postgres' && !existsSync(join(dataDir, 'parley.db'))) return psql(currentCluster().url, sql, databaseFor(dataDir));
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(dataDir, 'parley.db'), sql]).toString().trim();
}

/**
 * Whether the database of dataDir is whole: 'ok', or what is wrong. SQLite: PRAGMA
 * integrity_check. PostgreSQL (which checks its own pages): every mailbox usage row counts the
 * envelopes and bytes its device really has.
 */
export function dbIntegrity(dataDir) {
  if (testEngine() === 'postgres' && !existsSync(join(dataDir, 'parley.db'))) {
    return dbQuery(dataDir, "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' usage rows differ' END " +
      'FROM mailbox_usage u WHERE (u.count, u.bytes) <> (SELECT count(*), coalesce(sum(length(m.envelope)), 0) ' +
      'FROM mailbox m WHERE m.recipient_id = u.recipient_id AND m.recipient_device = u.recipient_device)');
  }
  return dbQuery(dataDir, 'PRAGMA integrity_check;');
}

/**
 * Spawns the server and resolves once it prints its listening line.
 * Returns { url, port, proc, dataDir, logs(), stop(signal) }; stop() resolves to the exit code.
 */
export async function startServer({ args = [], dataDir, web = join(ROOT, 'web'), env = {} } = {}) {
  const dir = dataDir || mkdtempSync(join(tmpdir(), 'parley-test-'));
  // On PostgreSQL, the data folder's own database (made on first use, kept with the folder),
  // unless the test names a database itself.
  let pg = null;
  const dbArgs = [];
  if (testEngine() === 'postgres' && !args.some((a) => String(a).startsWith('--database'))) {
    pg = await testCluster();
    dbArgs.push('--database', pg.database(databaseFor(dir)));
  }
  // Every client of a test or bench (browsers, sockets) comes from 127.0.0.1, standing for people
  // at addresses of their own: the address may hold as many HTTP connections as the server allows
  // unless the caller sets the limit. With the default (32, one client's share), five browsers
  // loading the page's modules at once were answered 503 now and then, and a page whose module
  // graph fails to load stays blank.
  const perAddress = args.includes('--max-http-per-address') || 'PARLEY_MAX_HTTP_PER_ADDRESS' in env
    ? [] : ['--max-http-per-address', '128'];
  const proc = spawn(serverBinary(), ['--listen', '127.0.0.1:0', '--data', dir, '--web', web, ...dbArgs, ...perAddress, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let scheme = 'http';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start: ${err}`)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (https?):\/\/[^\s]*:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        scheme = m[1];
        res(Number(m[2]));
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code} before listening: ${err}`));
    });
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    proc,
    dataDir: dir,
    exited,
    logs: () => err,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const result = await exited;
      if (!dataDir) {
        rmSync(dir, { recursive: true, force: true });
        if (pg) pg.drop(databaseFor(dir));
      }
      return result;
    },
  };
}

/**
 * For a test file: a fresh server started before its tests and stopped after them; a server that
 * then exits with anything but 0 (a sanitizer's report, a leak at shutdown) fails the file. The
 * object is filled in (url, port, dataDir, stop, ...) by the time the first test runs.
 */
export function serverForTests(options) {
  const server = {};
  before(async () => {
    Object.assign(server, await startServer(options));
  });
  after(async () => {
    if (!server.stop) return;
    const { code, signal } = await server.stop();
    if (signal !== 'SIGKILL') {
      assert.equal(code, 0, `parley-server exited with ${code ?? signal} after the tests:\n${server.logs().slice(-4000)}`);
      assert.doesNotMatch(server.logs(), /Sanitizer|runtime error:/);
    }
  });
  return server;
}
