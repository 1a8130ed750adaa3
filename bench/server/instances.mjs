// Two parley-server instances on one PostgreSQL and one Redis (the instance bus, --bus): relay
// between users on different instances beside users on the same instance, in the same run, with
// the C load generator (bench/server/loadgen.c; --port2 puts the second client of each pair on
// instance B).
//
//   cmake --build build/native --target bench_loadgen parley-server
//   node bench/server/instances.mjs [pairs=500] [seconds=10] [rate=5000]
//
// Starts a private PostgreSQL and Redis (scripts/pg.sh, scripts/redis.sh through tests/lib), two
// native instances A and B sharing the database, the bus and the token key, and inserts 4 x pairs
// users (lib.mjs). Then:
//   1. fixed rate: two generators at once, `pairs` same-instance pairs (both clients on A) and
//      `pairs` cross-instance pairs (one client on A, one on B), each sending rate/2 offers a
//      second (rate in all): one-way latency p50/p99 of each;
//   2. full speed: the same two generators at once, each pair bouncing one offer as fast as it
//      arrives: delivered msgs/s of each;
//   3. full speed, cross-instance pairs alone.
// Prints the connections both instances held together, and the figures; asserts nothing.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchUsers, processGroup, sleep } from './lib.mjs';
import { psql, startPostgres } from '../../tests/lib/pg.mjs';
import { startRedis } from '../../tests/lib/redis.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const PAIRS = Number(process.argv[2] || 500);
const SECS = Number(process.argv[3] || 10);
const RATE = Number(process.argv[4] || 5000);
const LOADGEN = process.env.LOADGEN_BIN || join(ROOT, 'build/native/bench_loadgen');
const SERVER = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
const ORIGIN = 'http://127.0.0.1:9'; // both instances allow it, as behind one public origin
for (const f of [LOADGEN, SERVER]) {
  if (!existsSync(f)) {
    console.error(`instances: ${f} missing: cmake --build build/native --target bench_loadgen parley-server`);
    process.exit(2);
  }
}

const { children, launch, stop } = processGroup();
const baseDir = mkdtempSync(join(tmpdir(), 'parley-instances-'));
const pg = await startPostgres();
const redis = await startRedis();
process.on('exit', () => {
  redis.close();
  pg.close();
  rmSync(baseDir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

const loadgen = (args) => new Promise((resolve, reject) => {
  const proc = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => process.stderr.write(d));
  proc.on('exit', (code) => {
    children.delete(proc);
    if (code === 0) resolve(JSON.parse(out)); else reject(new Error(`bench_loadgen exited ${code}`));
  });
});

const n = 4 * PAIRS;
const dbUrl = pg.database('instances');
const serverArgs = (dir) => ['--listen', '127.0.0.1:0', '--data', dir, '--web', join(ROOT, 'web'), '--log-level', 'error',
  '--database', dbUrl, '--bus', redis.url, '--origin', ORIGIN,
  '--max-connections', String(n + 100), '--max-per-address', String(n + 100)];
const dirA = join(baseDir, 'a');
const dirB = join(baseDir, 'b');
mkdirSync(dirB);
const RE = /listening on https?:\/\/[^\s]*:(\d+)\//;
const a = await launch(SERVER, serverArgs(dirA), RE);
copyFileSync(join(dirA, 'jwt.key'), join(dirB, 'jwt.key'));
const b = await launch(SERVER, serverArgs(dirB), RE);

try {
  const users = benchUsers(dirA, 'ins', n, (q) => psql(dbUrl, q, 'instances'));
  const file = (name, list) => {
    const path = join(baseDir, `${name}.users`);
    writeFileSync(path, `${list.map((u) => {
      const cap = crypto.randomBytes(32);
      const capHash = crypto.createHmac('sha256', 'parley-presence-cap-v1').update(cap).digest('base64url');
      return `${u.name} ${u.token} ${cap.toString('base64url')} ${capHash}`;
    }).join('\n')}\n`);
    return path;
  };
  const sameFile = file('same', users.slice(0, 2 * PAIRS));
  const crossFile = file('cross', users.slice(2 * PAIRS));
  await sleep(500);
  const common = ['--kind', 'parley', '--origin', ORIGIN, '--pairs', String(PAIRS), '--secs', String(SECS), '--busy-poll', '0', '--inflight', '128'];
  const same = (extra) => loadgen([...common, '--port', String(a.port), '--users', sameFile, '--slot-base', '10', '--server-pid', String(a.proc.pid), ...extra]);
  const cross = (extra) => loadgen([...common, '--port', String(a.port), '--port2', String(b.port), '--users', crossFile, '--slot-base', '100', '--server-pid', String(b.proc.pid), ...extra]);

  const [fixedSame, fixedCross] = await Promise.all([same(['--rate', String(RATE / 2)]), cross(['--rate', String(RATE / 2)])]);
  const [fullSame, fullCross] = await Promise.all([same([]), cross([])]);
  const crossAlone = await cross([]);

  const f = (x, d = 2) => (Number.isFinite(x) && x >= 0 ? x.toFixed(d) : '-');
  console.log(`Two instances (native), one PostgreSQL, one Redis, on 127.0.0.1; ${PAIRS} same-instance pairs and ${PAIRS} cross-instance pairs, 200-byte offers, ${SECS} s per phase`);
  console.log(`connections held by both instances together: ${fixedSame.held + fixedCross.held} of ${n}`);
  const rows = [
    ['', 'same instance', 'across instances'],
    [`p50 at ${RATE} msgs/s in all (ms)`, f(fixedSame.p50), f(fixedCross.p50)],
    [`p99 at ${RATE} msgs/s in all (ms)`, f(fixedSame.p99), f(fixedCross.p99)],
    ['  delivered msgs/s', f(fixedSame.rate, 0), f(fixedCross.rate, 0)],
    ['full speed, both at once: msgs/s', f(fullSame.rate, 0), f(fullCross.rate, 0)],
    ['  p99 (ms)', f(fullSame.p99), f(fullCross.p99)],
    ['full speed, cross-instance alone: msgs/s', '', f(crossAlone.rate, 0)],
    ['  p99 (ms)', '', f(crossAlone.p99)],
    ['pairs made contacts', `${fixedSame.contacts}`, `${fixedCross.contacts}`],
    ['rate_limited answers / clients lost', `${fixedSame.rateLimited} / ${fixedSame.lost}`, `${fixedCross.rateLimited} / ${fixedCross.lost}`],
  ];
  for (const r of rows) console.log(`${r[0].padEnd(44)} ${r[1].padStart(14)} ${r[2].padStart(17)}`);
  console.log(`cross-instance p99 / same-instance p99 at ${RATE} msgs/s: ${f(fixedCross.p99 / fixedSame.p99)} (target: at most 2)`);
} finally {
  await stop(a.proc);
  await stop(b.proc);
}
process.exit(0);
