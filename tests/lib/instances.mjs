// Several parley-server instances on one database, as a cluster behind a load balancer runs
// them (tests/server/postgres.test.mjs, tests/server/bus.test.mjs): their data folders, the token
// key they share, clean stops, and the server binary run to its exit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from './server.mjs';

const dirs = [];

/** A new temporary folder whose name starts with prefix; removeTempDirs() removes it. */
export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Removes the folders tempDir() made. */
export function removeTempDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Stops a server and checks it exited cleanly (status 0, no sanitizer report). */
export async function stopClean(s) {
  const { code, signal } = await s.stop();
  assert.equal(code, 0, `parley-server exited with ${code ?? signal}:\n${s.logs().slice(-3000)}`);
  assert.doesNotMatch(s.logs(), /Sanitizer|runtime error:/);
}

/**
 * Instances A and B started with args, in data folders named `${prefix}a-...` and
 * `${prefix}b-...`, sharing A's token key (jwt.key) as a cluster behind a load balancer does.
 */
export async function startPair(prefix, args) {
  const dirA = tempDir(`${prefix}a-`);
  const dirB = tempDir(`${prefix}b-`);
  const a = await startServer({ dataDir: dirA, args });
  copyFileSync(join(dirA, 'jwt.key'), join(dirB, 'jwt.key'));
  const b = await startServer({ dataDir: dirB, args });
  return { a, b };
}

/** Runs the server binary with args (env: its environment) until it exits: { code, out, err }. */
export function runServer(args, env = process.env) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args, { env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
