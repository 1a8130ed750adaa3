// Mailbox benchmark: parley-server (native build) storing sealed envelopes durably (docs/API.md
// "Mailbox"), on 127.0.0.1.
//
//   node bench/server/mailbox.mjs [seconds=10] [senders=1000] [ratePerSender=40] [inFlight=8]
//   PARLEY_BENCH_DATABASE=postgres node bench/server/mailbox.mjs ...   (the same on PostgreSQL:
//     a private cluster started by scripts/pg.sh in a temporary folder, one database per server)
//
// (a) Durability throughput. A server on a temporary data folder (on disk, not tmpfs: the figure
//     is about disk flushes), SENDERS authenticated sender connections (users inserted with the
//     sqlite3 CLI and tokens minted from jwt.key, as capacity.mjs does) in 2 child processes, each
//     putting 512-byte envelopes to one of 50 recipients (offline) at RATE a second with at most
//     IN_FLIGHT unanswered; envelopes stored per second = mail-stored answers in the window. Run
//     with grouped commits (the default --mail-batch) and, in the same run, with --mail-batch 1
//     (one transaction, so one disk flush, per envelope). The per-account rate limit (50
//     messages/s, burst 100) bounds what one connection may offer; RATE stays under it. The
//     quota is raised (--mail-quota 100000) so that no recipient fills up during the run.
// (b) Catch-up. A recipient with 1,000 envelopes waiting (put beforehand by 20 senders) connects
//     and acknowledges what has arrived whenever half a window (32) is unacknowledged, or the
//     arrivals pause; time from opening the connection to ready, to every envelope received, and
//     until the database holds none of them (polled with the sqlite3 CLI).
//
// Prints figures, including the CPU of the server and of the generator, so that a generator that
// cannot offer more than the server takes shows as such. Asserts nothing.
//
// The server's limits against abuse shape the set-up, not the figures: a stranger may mail
// someone 10 envelopes (then one per 6 minutes), so every sender is its recipient's accepted
// contact, as a page is (the recipient showed a presence capability; the sender's connection
// subscribes with it before it puts); one address may have 16 WebSockets waiting to
// authenticate, so the senders connect from several loopback addresses (127.0.0.20 and up),
// and --max-per-address is raised for the many senders that share them.
import { execFileSync, fork } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { benchUsers, processGroup, sleep } from './lib.mjs';
import { presenceCap } from '../../tests/lib/ws.mjs';
import { psql, startPostgres, withDatabase } from '../../tests/lib/pg.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

/** A version 1 envelope of n bytes in base64url. */
const envelope = (n) => {
  const b = crypto.randomBytes(n);
  b[0] = 1;
  return b.toString('base64url');
};

// ------------------------------------------------------------------ worker (child process) ----
if (process.argv[2] === '--worker') {
  const { url, origin, users, recipients, caps, rate, inFlight, lanes, localAddresses } = await new Promise((r) => process.once('message', r));
  const envs = Array.from({ length: 16 }, () => envelope(512));
  const conns = [];
  let counting = false;
  let stored = 0;
  let sent = 0;
  const errors = {};
  let lat = [];

  const openOne = (u, k, localAddress) => new Promise((resolve) => {
    const ws = new WebSocket(`${url}/ws`, { origin, localAddress, perMessageDeflate: false });
    const to = recipients[k % recipients.length];
    const c = { ws, tokens: 1, inflight: 0, sentAt: [], n: 0, to };
    let ready = false;
    let contact = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: u.token })));
    ws.on('message', (d) => {
      const s = d.toString();
      if (!ready) {
        ready = s.startsWith('{"type":"ready"');
        // A contact of its recipient: subscribed with the recipient's capability.
        if (ready) ws.send(JSON.stringify({ type: 'subscribe', users: [{ user: to, cap: caps[to] }] }));
        else { resolve(null); ws.terminate(); }
        return;
      }
      if (!contact) {
        contact = s.startsWith('{"type":"presence"');
        resolve(contact ? c : null);
        if (!contact) ws.terminate();
        return;
      }
      // Answers come in the order of the puts (one mailbox thread, one connection's queue).
      if (s.startsWith('{"type":"mail-stored"')) {
        const t = c.sentAt.shift();
        c.inflight--;
        if (counting) {
          stored++;
          if (lat.length < 400000) lat.push(performance.now() - t);
        }
      } else if (s.startsWith('{"type":"error"')) {
        c.sentAt.shift();
        c.inflight--;
        const code = JSON.parse(s).code;
        errors[code] = (errors[code] || 0) + 1;
      }
    });
    ws.on('error', () => resolve(null));
    ws.on('close', () => { c.closed = true; resolve(null); });
  });

  process.on('message', async (cmd) => {
    if (cmd.cmd === 'connect') {
      let next = 0;
      // `lanes` at a time, spread over the addresses (at most 16 each waiting to authenticate).
      await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
        while (next < users.length) {
          const k = next++;
          const c = await openOne(users[k], k, localAddresses[lane % localAddresses.length]);
          if (c) conns.push(c);
        }
      }));
      process.send({ held: conns.length });
    } else if (cmd.cmd === 'run') {
      // One timer paces every connection: RATE tokens a second (burst 1), IN_FLIGHT at most.
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        const add = ((now - last) / 1000) * rate;
        last = now;
        for (const c of conns) {
          c.tokens = Math.min(1, c.tokens + add);
          while (c.tokens >= 1 && c.inflight < inFlight && !c.closed) {
            c.tokens -= 1;
            c.inflight++;
            c.sentAt.push(performance.now());
            c.ws.send(`{"type":"mail-put","to":"${c.to}","env":"${envs[c.n++ & 15]}","id":${c.n}}`);
            sent++;
          }
        }
      }, 5);
      await sleep(cmd.warmup * 1000);
      const cpu0 = process.cpuUsage();
      stored = 0;
      sent = 0;
      lat = [];
      counting = true;
      const t0 = performance.now();
      await sleep(cmd.secs * 1000);
      counting = false;
      const secs = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(timer);
      await sleep(1000); // the answers still on their way
      process.send({ stored, sent, secs, errors, lat, cpu: (cpu.user + cpu.system) / 1e6, lost: conns.filter((c) => c.closed).length });
    } else if (cmd.cmd === 'close') {
      for (const c of conns) c.ws.terminate();
      process.send({ closed: true });
      setTimeout(() => process.exit(0), 200);
    }
  });
  process.send({ up: true });
} else {
  await main();
}

// ------------------------------------------------------------------------- parent ----------
async function main() {
  const SECS = Number(process.argv[2] || 10);
  const SENDERS = Number(process.argv[3] || 1000);
  const RATE = Number(process.argv[4] || 40);
  const IN_FLIGHT = Number(process.argv[5] || 8);
  const WORKERS = 2;
  const RECIPIENTS = 50;
  const bin = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
  const web = join(ROOT, 'web');
  const listenRe = /listening on https?:\/\/[^\s]*:(\d+)\//;
  const { children, cleanup, launch, stop } = processGroup();
  const deadline = setTimeout(() => { console.error('mailbox: 10-minute limit reached, stopping'); cleanup(); process.exit(1); }, 9.5 * 60 * 1000);
  // The data folders go next to the repository (on disk): tmpfs would make flushes free.
  const baseDir = mkdtempSync(join(ROOT, 'build', 'bench-mailbox-'));
  const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const ticks = (path) => { const v = readFileSync(path, 'utf8').split(') ')[1].split(' '); return Number(v[11]) + Number(v[12]); };
  /** CPU ticks of the process and of each of its threads. */
  const cpuOf = (pid) => {
    const threads = {};
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try { threads[t] = ticks(`/proc/${pid}/task/${t}/stat`); } catch { /* gone */ }
    }
    return { all: ticks(`/proc/${pid}/stat`), threads };
  };
  const machine = () => { const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number); return { busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], all: v.reduce((a, b) => a + b, 0) }; };
  // PARLEY_BENCH_DATABASE=postgres: every server on PostgreSQL, a database per data folder.
  const pg = process.env.PARLEY_BENCH_DATABASE === 'postgres' ? await startPostgres() : null;
  if (pg) process.on('exit', () => pg.close());
  const databases = new Map();
  const sql = (dir, q) => (pg ? psql(pg.url, q, databases.get(dir))
    : execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(dir, 'parley.db'), q]).toString().trim());
  const users = (srv, prefix, n) => benchUsers(srv.dataDir, prefix, n, pg ? (q) => sql(srv.dataDir, q) : null);

  /**
   * Each of users shows a fresh presence capability (connects, presence-settings, goes); resolves
   * to { name: cap }, the capability a contact subscribes with.
   */
  async function showCaps(srv, users) {
    const caps = {};
    for (const u of users) {
      const { cap, capHash } = presenceCap();
      await new Promise((resolve, reject) => {
        const ws = new WebSocket(`${srv.url}/ws`, { origin: srv.origin, perMessageDeflate: false });
        ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: u.token })));
        ws.on('message', (d) => {
          const m = JSON.parse(d.toString());
          if (m.type === 'ready') ws.send(JSON.stringify({ type: 'presence-settings', capHash, visible: true }));
          else if (m.type === 'presence-saved') { ws.close(); resolve(); } else reject(new Error(JSON.stringify(m)));
        });
        ws.on('error', reject);
      });
      caps[u.name] = cap;
    }
    return caps;
  }

  async function startParley(name, args) {
    const dataDir = join(baseDir, name);
    if (pg) {
      const db = `bench_${name.replace(/[^a-z0-9]/g, '_')}`;
      databases.set(dataDir, db);
      args = [...args, '--database', withDatabase(pg.database(db), db)];
    }
    const srv = await launch(bin, ['--listen', '127.0.0.1:0', '--data', dataDir, '--web', web, '--log-level', 'warn', ...args], listenRe);
    return { ...srv, dataDir, url: `ws://127.0.0.1:${srv.port}`, origin: `http://127.0.0.1:${srv.port}` };
  }

  /** (a) on a fresh server started with args. */
  async function throughput(name, args) {
    const srv = await startParley(name, ['--max-connections', String(SENDERS + 100), '--max-per-address', String(SENDERS + 100),
      '--mail-quota', '100000', '--mail-quota-mib', '4096', ...args]);
    try {
      const senders = users(srv, 'msend', SENDERS);
      const rcpts = users(srv, 'mrcpt', RECIPIENTS);
      const caps = await showCaps(srv, rcpts);
      const recipients = rcpts.map((u) => u.name);
      const per = Math.ceil(SENDERS / WORKERS);
      // At most max(64, max-connections / 4) connections may wait to authenticate at once.
      const lanes = Math.min(48, Math.floor(Math.max(64, Math.floor((SENDERS + 100) / 4)) / WORKERS));
      const workers = [];
      for (let w = 0; w < WORKERS; w++) {
        const child = fork(SELF, ['--worker'], { serialization: 'advanced' });
        children.add(child);
        child.send({ url: srv.url, origin: srv.origin, users: senders.slice(w * per, (w + 1) * per), recipients, caps, rate: RATE, inFlight: IN_FLIGHT,
          lanes, localAddresses: [0, 1, 2, 3].map((k) => `127.0.0.${20 + 4 * w + k}`) });
        await new Promise((r) => child.once('message', r));
        workers.push(child);
      }
      const ask = (cmd) => Promise.all(workers.map((c) => new Promise((r) => { c.once('message', r); c.send(cmd); })));
      const held = (await ask({ cmd: 'connect' })).reduce((s, r) => s + r.held, 0);
      const warmup = 2;
      const running = ask({ cmd: 'run', warmup, secs: SECS });
      await sleep(warmup * 1000 + 50);
      const s0 = cpuOf(srv.proc.pid);
      const m0 = machine();
      const t0 = performance.now();
      await sleep(SECS * 1000 - 100);
      const s1 = cpuOf(srv.proc.pid);
      const wall = (performance.now() - t0) / 1000;
      const serverCpu = (s1.all - s0.all) / 100 / wall;
      // The busiest thread: the mailbox thread does every insert and commit on its own.
      const busiest = Math.max(...Object.keys(s1.threads).map((t) => s1.threads[t] - (s0.threads[t] || 0))) / 100 / wall;
      const m1 = machine();
      const rs = await running;
      await ask({ cmd: 'close' });
      for (const c of workers) children.delete(c);
      const lat = rs.flatMap((r) => r.lat).sort((a, b) => a - b);
      const secs = Math.max(...rs.map((r) => r.secs));
      const errors = {};
      for (const r of rs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] || 0) + v;
      const rows = Number(sql(srv.dataDir, 'SELECT count(*) FROM mailbox;'));
      return {
        held, rows, errors,
        stored: rs.reduce((s, r) => s + r.stored, 0) / secs,
        offered: rs.reduce((s, r) => s + r.sent, 0) / secs,
        p50: pct(lat, 50), p99: pct(lat, 99),
        serverCpu, busiest, genCpu: rs.reduce((s, r) => s + r.cpu, 0) / secs,
        busy: ((m1.busy - m0.busy) / (m1.all - m0.all)) * 2,
        lost: rs.reduce((s, r) => s + r.lost, 0),
      };
    } finally {
      await stop(srv.proc);
      rmSync(srv.dataDir, { recursive: true, force: true });
    }
  }

  /** (b): 1,000 envelopes of size bytes waiting, one recipient catching up; three rounds. */
  async function catchUp(size) {
    const N = 1000;
    const srv = await startParley(`catchup${size}`, []);
    const out = [];
    try {
      const recipients = users(srv, 'crcpt', 3);
      const caps = await showCaps(srv, recipients);
      const env = Array.from({ length: 8 }, () => envelope(size));
      for (const [j, rcpt] of recipients.entries()) {
        // Fill the mailbox: 20 senders (fresh accounts each round: the rate is per account), 50
        // puts each (within the burst of 100), contacts of the recipient, from 4 addresses (20
        // at once would be more than one address may have waiting to authenticate).
        const senders = users(srv, `c${j}send`, 20);
        await Promise.all(senders.map((u, k) => new Promise((resolve, reject) => {
          const ws = new WebSocket(`${srv.url}/ws`, { origin: srv.origin, localAddress: `127.0.0.${20 + (k % 4)}`, perMessageDeflate: false });
          let answered = 0;
          ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: u.token })));
          ws.on('message', (d) => {
            const m = JSON.parse(d.toString());
            if (m.type === 'ready') {
              ws.send(JSON.stringify({ type: 'subscribe', users: [{ user: rcpt.name, cap: caps[rcpt.name] }] }));
            } else if (m.type === 'presence') {
              for (let i = 0; i < N / senders.length; i++) ws.send(JSON.stringify({ type: 'mail-put', to: rcpt.name, env: env[(k + i) & 7], id: i }));
            } else if (m.type === 'mail-stored') {
              if (++answered === N / senders.length) { ws.close(); resolve(); }
            } else {
              reject(new Error(JSON.stringify(m)));
            }
          });
        })));
        const t0 = performance.now();
        const r = { };
        await new Promise((resolve) => {
          const ws = new WebSocket(`${srv.url}/ws`, { origin: srv.origin, perMessageDeflate: false });
          let got = 0;
          let pending = [];
          let idle = null;
          const flush = () => {
            if (pending.length === 0) return;
            ws.send(JSON.stringify({ type: 'mail-ack', ids: pending }));
            pending = [];
          };
          ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: rcpt.token })));
          ws.on('message', (d) => {
            const m = JSON.parse(d.toString());
            if (m.type === 'ready') { r.ready = performance.now() - t0; return; }
            if (m.type !== 'mail') { console.error('catch-up: unexpected', m); return; }
            got++;
            pending.push(m.id);
            clearTimeout(idle);
            if (pending.length >= 32 || got === N) flush(); else idle = setTimeout(flush, 2);
            if (got === N) {
              r.received = performance.now() - t0;
              ws.close();
              resolve();
            }
          });
        });
        const rid = `(SELECT id FROM users WHERE username = '${rcpt.name}')`;
        while (Number(sql(srv.dataDir, `SELECT count(*) FROM mailbox WHERE recipient_id = ${rid};`)) > 0) await sleep(5);
        r.deleted = performance.now() - t0;
        out.push(r);
      }
    } finally {
      await stop(srv.proc);
      rmSync(srv.dataDir, { recursive: true, force: true });
    }
    return out;
  }

  let grouped;
  let single;
  let catch512;
  let catch8k;
  try {
    grouped = await throughput('grouped', []);
    single = await throughput('single', ['--mail-batch', '1']);
    catch512 = await catchUp(512);
    catch8k = await catchUp(8192);
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
    clearTimeout(deadline);
  }

  console.log(`Mailbox benchmark on 127.0.0.1 (parley-server, native build; data folder on disk)`);
  console.log(`(a) ${SENDERS} sender connections in ${WORKERS} processes, 512-byte envelopes to ${RECIPIENTS} offline recipients, ` +
    `${RATE} puts/s each at most and ${IN_FLIGHT} in flight; ${SECS} s measured after 2 s`);
  const rows = [
    ['', 'grouped (512)', 'one each (1)'],
    ['connections held', `${grouped.held}`, `${single.held}`],
    ['offered puts/s', f(grouped.offered), f(single.offered)],
    ['envelopes stored/s (mail-stored)', f(grouped.stored), f(single.stored)],
    ['put -> mail-stored p50 (ms)', f(grouped.p50, 1), f(single.p50, 1)],
    ['put -> mail-stored p99 (ms)', f(grouped.p99, 1), f(single.p99, 1)],
    ['server CPU (cores)', f(grouped.serverCpu, 2), f(single.serverCpu, 2)],
    ['  its busiest thread (cores)', f(grouped.busiest, 2), f(single.busiest, 2)],
    ['generator CPU (cores, 2 processes)', f(grouped.genCpu, 2), f(single.genCpu, 2)],
    ['machine busy (cores of 2)', f(grouped.busy, 2), f(single.busy, 2)],
    ['  of which other processes (cores)', f(grouped.busy - grouped.serverCpu - grouped.genCpu, 2), f(single.busy - single.serverCpu - single.genCpu, 2)],
    ['rows in the database at the end', `${grouped.rows}`, `${single.rows}`],
    ['errors', JSON.stringify(grouped.errors), JSON.stringify(single.errors)],
    ['connections lost', `${grouped.lost}`, `${single.lost}`],
  ];
  for (const r of rows) console.log(`${r[0].padEnd(36)} ${r[1].padStart(14)} ${r[2].padStart(14)}`);
  console.log(`grouped / one commit each: ${f(grouped.stored / single.stored, 1)}x`);
  // A closed loop: each connection sends when it has a token (RATE a second) and fewer than
  // IN_FLIGHT unanswered. Near RATE per connection, the generator's pace set the figure; below it,
  // the connections waited for answers: the server (or the machine it shares) set it.
  for (const [label, r] of [['grouped', grouped], ['one commit each', single]]) {
    const each = r.stored / SENDERS;
    if (each >= 0.95 * RATE) {
      console.log(`note (${label}): every connection put its ${RATE}/s: the figure is the generator's pace, not the server's ceiling`);
    } else {
      console.log(`note (${label}): ${f(each, 1)} puts/s per connection of ${RATE} allowed: the connections waited for answers (${IN_FLIGHT} in flight), so the server set the figure`);
    }
  }
  if (grouped.genCpu >= 0.9 * WORKERS) {
    console.log('note: the generator processes were busy all the time: Node with ws could not offer more');
  }
  console.log('(b) catch-up: 1,000 envelopes waiting; the recipient acknowledges every 32 (or when arrivals pause)');
  for (const [size, rs] of [[512, catch512], [8192, catch8k]]) {
    for (const r of rs) {
      console.log(`  ${String(size).padStart(5)} bytes: ready ${f(r.ready, 1)} ms, all 1000 received ${f(r.received, 1)} ms, all deleted ${f(r.deleted, 1)} ms` +
        ` (${f(1000 / (r.received / 1000))} envelopes/s)`);
    }
  }
  process.exit(0);
}
