// Where does parley-server's memory go? Starts the native server with --max-connections N on a
// temporary data folder, reads /proc/PID/smaps idle, with N authenticated WebSockets, and after
// every pair has relayed a few messages, and splits the resident memory into: worker thread
// stacks (with a histogram of how much of each stack is resident), the main heap and malloc's
// thread arenas, other anonymous memory (Civetweb's per-worker connection structs, ...) and
// files (the binary and libraries).
//
//   node bench/server/memory.mjs [connections=2000] [stackKiB=256] [--tls]
//
// --tls: the server runs with --self-signed and the clients use wss:// (OpenSSL's state and
// buffers per connection then count too).
// Users and tokens are made as in capacity.mjs (straight into the database; tokens signed with
// the data folder's jwt.key). One client process; prints figures, asserts nothing.
//
// The server's limits against abuse shape the set-up: the clients connect 64 at a time from 4
// loopback addresses (one address may have 16 waiting to authenticate) with --max-per-address
// N, and the two clients of a pair become contacts before relaying (one shows a presence
// capability, the other subscribes with it; measured as a step of its own).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { benchUsers, sleep } from './lib.mjs';
import { presenceCap } from '../../tests/lib/ws.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2).filter((a) => a !== '--tls');
const TLS = process.argv.includes('--tls');
const N = Number(args[0] || 2000);
const STACK_KIB = Number(args[1] || 256);

/** Resident KiB by kind of mapping, and the resident KiB of every thread stack. */
function smaps(pid) {
  const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const out = { stacks: [], heap: 0, arenas: 0, anon: 0, files: 0, total: 0, bigAnon: [] };
  let cur = null;
  const flush = () => {
    if (!cur) return;
    out.total += cur.rss;
    if (cur.path === '[heap]') out.heap += cur.rss;
    else if (cur.path && !cur.path.startsWith('[')) out.files += cur.rss;
    else if (cur.path) out.anon += cur.rss; // [stack], [vvar], [vdso]
    else if (cur.perms.startsWith('rw') && cur.size >= STACK_KIB && cur.size <= STACK_KIB + 8) out.stacks.push(cur.rss);
    else if (cur.perms.startsWith('rw') && (cur.start % (64 * 1024 * 1024)) === 0 && cur.size <= 64 * 1024) out.arenas += cur.rss;
    else { out.anon += cur.rss; if (cur.rss > 1024) out.bigAnon.push([cur.size, cur.rss]); }
  };
  for (const line of lines) {
    const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (m) {
      flush();
      cur = { start: parseInt(m[1], 16), perms: m[3], path: m[4], size: 0, rss: 0 };
    } else if (cur && line.startsWith('Size:')) cur.size = Number(line.match(/(\d+)/)[1]);
    else if (cur && line.startsWith('Rss:')) cur.rss = Number(line.match(/(\d+)/)[1]);
  }
  flush();
  return out;
}

function report(label, s, conns) {
  const stackSum = s.stacks.reduce((a, b) => a + b, 0);
  const hist = {};
  for (const k of s.stacks) hist[k] = (hist[k] || 0) + 1;
  const h = Object.entries(hist).sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([k, n]) => `${k} KiB x${n}`).join(', ');
  console.log(`${label}: RSS ${(s.total / 1024).toFixed(1)} MiB; stacks ${(stackSum / 1024).toFixed(1)} MiB ` +
    `(${s.stacks.length} threads: ${h}); main heap ${(s.heap / 1024).toFixed(1)} MiB; ` +
    `malloc arenas ${(s.arenas / 1024).toFixed(1)} MiB; other anonymous ${(s.anon / 1024).toFixed(1)} MiB` +
    `${s.bigAnon.length ? ` (largest: ${s.bigAnon.sort((a, b) => b[1] - a[1]).slice(0, 4).map(([sz, r]) => `${r} of ${sz} KiB`).join(', ')})` : ''}; ` +
    `files ${(s.files / 1024).toFixed(1)} MiB${conns ? `; ${(s.total / conns).toFixed(1)} KiB per connection` : ''}`);
}

function diff(label, a, b, conns) {
  const sum = (x) => x.reduce((p, q) => p + q, 0);
  const per = (x, y) => ((y - x) / conns).toFixed(2);
  console.log(`${label}, KiB per connection: total ${per(a.total, b.total)} = stacks ${per(sum(a.stacks), sum(b.stacks))}` +
    ` + main heap ${per(a.heap, b.heap)} + arenas ${per(a.arenas, b.arenas)} + other anonymous ${per(a.anon, b.anon)}` +
    ` + files ${per(a.files, b.files)}`);
}

const bin = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
const base = mkdtempSync(join(tmpdir(), 'parley-mem-'));
const dataDir = join(base, 'data');
const proc = spawn(bin, ['--listen', '127.0.0.1:0', '--data', dataDir, '--web', join(ROOT, 'web'),
  '--log-level', 'error', '--max-connections', String(N), '--max-per-address', String(N), ...(TLS ? ['--self-signed'] : [])],
{ stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; const m = out.match(/listening on https?:\/\/[^\s]*:(\d+)\//); if (m) resolve(Number(m[1])); });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  const tokens = new Map(benchUsers(dataDir, 'mem', N).map((u) => [u.name, u.token]));
  const token = (name) => tokens.get(name);
  await sleep(1000);
  const idle = smaps(proc.pid);
  report('idle', idle, 0);

  const conns = new Array(N);
  const answers = new Array(N); // a resolver for the next answer that is not an offer
  let received = 0;
  const open = (i, localAddress) => new Promise((resolve) => {
    const scheme = TLS ? 'https' : 'http';
    const ws = new WebSocket(`${TLS ? 'wss' : 'ws'}://127.0.0.1:${port}/ws`,
      { origin: `${scheme}://127.0.0.1:${port}`, localAddress, perMessageDeflate: false, rejectUnauthorized: false });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: token(`mem${i}`) })));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'ready') { conns[i] = ws; resolve(); } else if (m.type === 'offer') received++;
      else if (answers[i]) { const r = answers[i]; answers[i] = null; r(m); } else resolve();
    });
    ws.on('error', () => resolve());
    ws.on('close', () => resolve());
  });
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async (_, lane) => { while (next < N) await open(next++, `127.0.0.${40 + (lane % 4)}`); }));
  const held = conns.filter(Boolean).length;
  await sleep(2000);
  const connected = smaps(proc.pid);
  report(`${held} connected`, connected, held);
  diff('connected - idle', idle, connected, held);

  // Contacts: in each pair the second shows a presence capability, the first subscribes with it.
  const answer = (i, msg) => new Promise((r) => { answers[i] = r; conns[i].send(JSON.stringify(msg)); });
  let contacts = 0;
  let k = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (k + 1 < N) {
      const i = k;
      k += 2;
      if (!conns[i] || !conns[i + 1]) continue;
      const { cap, capHash } = presenceCap();
      if ((await answer(i + 1, { type: 'presence-settings', capHash, visible: true })).type !== 'presence-saved') continue;
      if ((await answer(i, { type: 'subscribe', users: [{ user: `mem${i + 1}`, cap }] })).type === 'presence') contacts++;
    }
  }));
  await sleep(1000);
  const withContacts = smaps(proc.pid);
  report(`${contacts} pairs made contacts`, withContacts, held);
  diff('contacts - connected', connected, withContacts, held);

  const payload = 'x'.repeat(200);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i + 1 < N; i += 2) {
      conns[i]?.send(`{"type":"offer","to":"mem${i + 1}","t":1,"sdp":"${payload}"}`);
      conns[i + 1]?.send(`{"type":"offer","to":"mem${i}","t":1,"sdp":"${payload}"}`);
    }
    await sleep(500);
  }
  await sleep(1500);
  const relayed = smaps(proc.pid);
  report(`after relaying ${received} messages`, relayed, held);
  diff('after relaying - idle', idle, relayed, held);
  for (const c of conns) c?.terminate();
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(base, { recursive: true, force: true });
}
