// Full-speed relay: parley-server against the PeerJS server with the C load generator
// (bench/server/loadgen.c: one process, epoll), which costs far less CPU per message than the
// Node clients of capacity.mjs, so that on a small machine the servers, not the generator, set
// the rate.
//
//   cmake --build build/native --target bench_loadgen
//   node bench/server/fullspeed.mjs [pairs=2000,4000,8000] [seconds=10] [threads=1]
//
// For each pair count P: starts parley-server (--max-connections 2P+100, fresh data folder),
// inserts 2P users with the sqlite3 CLI and mints their tokens with the folder's jwt.key exactly
// as capacity.mjs does, runs the generator (2P clients, P pairs each bouncing one 200-byte offer
// as fast as it arrives, for the given seconds), stops the server; then the same against a fresh
// PeerJS server (npm peer, concurrent_limit 2P+100). Prints, per P, delivered msgs/s and the
// ratio, one-way latency p50/p99, and the CPU used over the relay window by the generator
// (getrusage), by the server (/proc/PID/stat) and by the whole machine (/proc/stat).
// Prints figures; asserts nothing.
//
// The server's limits against abuse shape the set-up only: the generator connects from several
// loopback addresses (16 waiting to authenticate per address at most), keeps fewer in flight than
// the server lets wait in all, and parley-server gets --max-per-address 2P+100; the two ends of a pair become contacts before relaying (the users
// file carries each client's presence capability and its hash, computed here; see loadgen.c).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchUsers, processGroup, sleep } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const SIZES = (process.argv[2] || '2000,4000,8000').split(',').map(Number);
const SECS = Number(process.argv[3] || 10);
const THREADS = Number(process.argv[4] || 1);
const ONLY = process.env.FULLSPEED_ONLY; // 'parley' or 'peerjs': run one server only
// The generator polls epoll without sleeping during the window (its thread takes a core), so that
// a server's send never has to wake it: on loopback the sender pays for waking the receiver, which
// over a network the client's machine would. FULLSPEED_BUSY_POLL=0: the generator sleeps in
// epoll_wait when it has nothing to do (see README.md for both).
const BUSY = process.env.FULLSPEED_BUSY_POLL === '0' ? '0' : '1';
// FULLSPEED_RATE=R: instead of full speed, R offers a second in all on a schedule (latency at a
// fixed load, as capacity.mjs's 5,000 msgs/s phase but with the C generator).
const RATE = Number(process.env.FULLSPEED_RATE || 0);
const LOADGEN = process.env.LOADGEN_BIN || join(ROOT, 'build/native/bench_loadgen');
const SERVER = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
if (!existsSync(LOADGEN)) {
  console.error(`fullspeed: ${LOADGEN} missing: cmake --build build/native --target bench_loadgen`);
  process.exit(2);
}

const { children, launch, stop } = processGroup();
const baseDir = mkdtempSync(join(tmpdir(), 'parley-fullspeed-'));
process.on('exit', () => rmSync(baseDir, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

/** Runs the generator; resolves with its JSON report. */
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

async function runParley(pairs) {
  const n = 2 * pairs;
  const dataDir = join(baseDir, `parley-${pairs}`);
  const srv = await launch(SERVER, ['--listen', '127.0.0.1:0', '--data', dataDir, '--web', join(ROOT, 'web'),
    '--log-level', 'error', '--max-connections', String(n + 100), '--max-per-address', String(n + 100)], /listening on https?:\/\/[^\s]*:(\d+)\//);
  try {
    // Users straight into the database; tokens signed with the server's key (lib.mjs); a
    // presence capability and its hash each (docs/API.md "Presence").
    const lines = benchUsers(dataDir, 'cap', n).map((u) => {
      const cap = crypto.randomBytes(32);
      const capHash = crypto.createHmac('sha256', 'parley-presence-cap-v1').update(cap).digest('base64url');
      return `${u.name} ${u.token} ${cap.toString('base64url')} ${capHash}`;
    });
    const file = join(baseDir, `parley-${pairs}.users`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    await sleep(500);
    // At most max(64, max-connections / 4) WebSockets may wait to authenticate at once.
    const inflight = Math.min(128, Math.max(64, Math.floor((n + 100) / 4)));
    return await loadgen(['--kind', 'parley', '--port', String(srv.port), '--users', file, '--pairs', String(pairs), '--inflight', String(inflight),
      '--secs', String(SECS), '--threads', String(THREADS), '--server-pid', String(srv.proc.pid), '--busy-poll', BUSY, '--rate', String(RATE)]);
  } finally {
    await stop(srv.proc);
  }
}

async function runPeerjs(pairs) {
  const n = 2 * pairs;
  const pj = await launch(process.execPath, [join(ROOT, 'bench/server/peerjs-server.mjs')], /ready (\d+)/,
    { PEERJS_CONCURRENT_LIMIT: String(n + 100) });
  try {
    const file = join(baseDir, `peerjs-${pairs}.users`);
    writeFileSync(file, `${Array.from({ length: n }, (_, i) => `cap${i} t${i}`).join('\n')}\n`);
    await sleep(500);
    return await loadgen(['--kind', 'peerjs', '--port', String(pj.port), '--users', file, '--pairs', String(pairs),
      '--secs', String(SECS), '--threads', String(THREADS), '--server-pid', String(pj.proc.pid), '--busy-poll', BUSY, '--rate', String(RATE)]);
  } finally {
    await stop(pj.proc);
  }
}

const results = [];
for (const pairs of SIZES) {
  const parley = ONLY === 'peerjs' ? null : await runParley(pairs);
  const peerjs = ONLY === 'parley' ? null : await runPeerjs(pairs);
  results.push({ pairs, parley, peerjs });
  if (process.env.FULLSPEED_JSON) console.error(JSON.stringify({ pairs, parley, peerjs }));
}

const f = (x, d = 2) => (Number.isFinite(x) && x >= 0 ? x.toFixed(d) : '-');
const spread = (r) => `${Math.min(...r.perSec)}-${Math.max(...r.perSec)}`;
console.log(`Full-speed relay on 127.0.0.1 (${SECS} s; C load generator, 1 process, ${THREADS} thread${THREADS > 1 ? 's' : ''}, epoll, ${BUSY === '1' ? 'busy-polling' : 'sleeping when idle'}); 200-byte offers, ${RATE > 0 ? `${RATE} a second in all, round-robin over the pairs` : 'each pair bouncing one message'}`);
const none = { held: '-', contacts: '-', contactSecs: NaN, rate: NaN, perSec: [NaN], p50: NaN, p99: NaN, received: NaN, rateLimited: '-', lost: '-' };
for (const { pairs, parley = none, peerjs = none } of results.map((r) => ({ pairs: r.pairs, parley: r.parley ?? undefined, peerjs: r.peerjs ?? undefined }))) {
  console.log(`\n${pairs} pairs (${2 * pairs} clients)                         parley-server  PeerJS server`);
  const rows = [
    ['clients held', `${parley.held}`, `${peerjs.held}`],
    ['pairs made contacts (s to make them)', `${parley.contacts} (${f(parley.contactSecs, 1)})`, `${peerjs.contacts}`],
    ['delivered msgs/s', f(parley.rate, 0), f(peerjs.rate, 0)],
    ['  ratio parley / PeerJS', f(parley.rate / peerjs.rate), ''],
    ['  slowest-fastest second (msgs)', spread(parley), spread(peerjs)],
    ['latency p50 (ms)', f(parley.p50), f(peerjs.p50)],
    ['latency p99 (ms)', f(parley.p99), f(peerjs.p99)],
    ['server CPU (cores)', f(parley.serverCores), f(peerjs.serverCores)],
    ['  of which in the kernel', f(parley.serverSys / parley.secs), f(peerjs.serverSys / peerjs.secs)],
    ['generator CPU (cores; user+sys)', f(parley.genCores), f(peerjs.genCores)],
    ['server threads waiting for a CPU (average)', f(parley.serverRunQueueWait), f(peerjs.serverRunQueueWait)],
    ['generator threads waiting for a CPU (average)', f(parley.genRunQueueWait), f(peerjs.genRunQueueWait)],
    ['machine busy (cores of 2)', f(parley.machineBusyCores), f(peerjs.machineBusyCores)],
    ['server CPU per 1000 msgs (ms)', f((parley.serverCpu / parley.received) * 1e6, 1), f((peerjs.serverCpu / peerjs.received) * 1e6, 1)],
    ['generator CPU per 1000 msgs (ms)', f(((parley.genUser + parley.genSys) / parley.received) * 1e6, 1), f(((peerjs.genUser + peerjs.genSys) / peerjs.received) * 1e6, 1)],
    ['rate_limited answers / clients lost', `${parley.rateLimited} / ${parley.lost}`, `${peerjs.rateLimited} / ${peerjs.lost}`],
  ];
  for (const r of rows) console.log(`${r[0].padEnd(46)} ${r[1].padStart(14)} ${r[2].padStart(14)}`);
}
process.exit(0);
