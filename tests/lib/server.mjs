// Starts the real parley-server binary on a free port with a temporary data folder.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** The server binary under test: PARLEY_SERVER_BIN, else the sanitizer build, else native. */
export function serverBinary() {
  return process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/asan/server/parley-server');
}

/**
 * Spawns the server and resolves once it prints its listening line.
 * Returns { url, port, proc, dataDir, logs(), stop(signal) }; stop() resolves to the exit code.
 */
export async function startServer({ args = [], dataDir, web = join(ROOT, 'web'), env = {} } = {}) {
  const dir = dataDir || mkdtempSync(join(tmpdir(), 'parley-test-'));
  const proc = spawn(serverBinary(), ['--listen', '127.0.0.1:0', '--data', dir, '--web', web, ...args], {
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
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
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
