// A private Redis (Debian's redis-server, installed by scripts/deps.sh --test) for the tests of
// the instance bus, started by the project's scripts/redis.sh in a temporary folder on a free
// loopback port. A missing engine throws: the tests fail, they are not skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './pg.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const SCRIPT = join(ROOT, 'scripts/redis.sh');

function redisScript(...args) {
  return execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Starts a private Redis. Returns { url, dir, port, stop(), kill(), start(), close() }: stop()
 * and start() stop and start it on the same port (kill() ends it at once, like a crash);
 * close() stops it and removes its folder.
 */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const port = await freePort();
  let url;
  try {
    url = redisScript('start', '--dir', dir, '--port', String(port));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Redis did not start (scripts/redis.sh): ${e.stderr || e.message}`);
  }
  return {
    url,
    dir,
    port,
    stop() { redisScript('stop', '--dir', dir); },
    kill() { redisScript('kill', '--dir', dir); },
    start() { redisScript('start', '--dir', dir); },
    close() {
      spawnSync('bash', [SCRIPT, 'stop', '--dir', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
