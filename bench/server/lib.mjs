// Pieces the server benchmarks share: users straight into a parley-server data folder with tokens
// signed by its key, and child processes that are started, awaited and always cleaned up.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// A well-formed Argon2id hash that no password matches: benchmark users cannot log in.
const NO_PASSWORD = '$argon2id$v=19$m=65536,t=2,p=1$bm90LWEtaGFzaA$bm90LWEtaGFzaA';
const JWT_HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');

/**
 * Inserts users PREFIX0 .. PREFIX{count-1} into the running server's database (19,000 Argon2id
 * sign-ups would take half an hour) and returns [{ name, token }], each token an HS256 JWT signed
 * with the folder's jwt.key as server/src/jwt.c makes them ({"sub","gen","iat","exp"}, 24 h).
 * The SQL is the same on both engines; query(sql) runs it: by default the sqlite3 CLI on
 * DATA/parley.db, else e.g. tests/lib/server.mjs's dbQuery for a server on PostgreSQL.
 */
export function benchUsers(dataDir, prefix, count, query = null) {
  const now = Math.floor(Date.now() / 1000);
  const run = query || ((q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(dataDir, 'parley.db'), q]));
  run(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ${count - 1}) ` +
    `INSERT INTO users (username, pwhash, token_gen, created_at) SELECT '${prefix}' || i, '${NO_PASSWORD}', 0, ${now} FROM c; ` +
    // Each account's device 1, listed (an account without a device list), token generation 0:
    // what the tokens below (no device claim) are checked against.
    `INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, removed, token_gen) ` +
    `SELECT id, 1, ${now}, ${now - (now % 3600)}, 1, 0, 0 FROM users u WHERE NOT EXISTS ` +
    `(SELECT 1 FROM devices d WHERE d.user_id = u.id);`);
  const key = readFileSync(join(dataDir, 'jwt.key'));
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}${i}`;
    const body = `${JWT_HEADER}.${Buffer.from(JSON.stringify({ sub: name, gen: 0, iat: now, exp: now + 86400 })).toString('base64url')}`;
    return { name, token: `${body}.${crypto.createHmac('sha256', key).update(body).digest('base64url')}` };
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Child processes that are killed when this process exits: launch(cmd, args, re, env) resolves
 * with { proc, port } once the child's stdout matches re (port = its first group); stop(proc)
 * asks politely, then kills.
 */
export function processGroup() {
  const children = new Set();
  const cleanup = () => {
    for (const c of children) {
      try { c.kill('SIGKILL'); } catch { /* gone */ }
    }
  };
  process.on('exit', cleanup);
  const launch = (cmd, args, re, env = {}) => new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.add(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => { out += d; const m = out.match(re); if (m) resolve({ proc, port: Number(m[1]) }); });
    proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    proc.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${err}`)));
  });
  const stop = async (proc) => {
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(20000)]);
    proc.kill('SIGKILL');
    children.delete(proc);
  };
  return { children, cleanup, launch, stop };
}
