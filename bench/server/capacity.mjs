// Capacity benchmark: how many authenticated WebSockets parley-server (native build) holds, what
// each costs in server memory, and how it relays between pairs at a fixed 5,000 msgs/s and at full
// speed; then the same generator against the PeerJS server (npm peer) with its cap raised.
//
//   node bench/server/capacity.mjs [connections=19000] [rate=5000] [seconds=10]
//
// Users are NOT signed up through the API (19,000 Argon2id hashes would take half an hour): the
// benchmark starts the server on a temporary data folder, inserts the users with the sqlite3 CLI
// (rows as server/src/db.c defines them, with a password hash no password matches) and mints
// their HS256 tokens with the folder's jwt.key as server/src/jwt.c does ({"sub","gen","iat","exp"},
// base64url, HMAC-SHA256). Everything else is the real path: TCP, WebSocket upgrade, auth message,
// token check against the database, relay.
//
// Clients run in child processes (WORKERS, each under its own open-file limit) bound to their
// own loopback addresses 127.0.0.(10+4i .. 13+4i). Latency is one-way: sender and receiver of a
// message are in the same child, which timestamps the send and the arrival. Prints figures;
// asserts nothing.
//
// The server's limits against abuse shape the set-up, not the figures: one address may have 16
// WebSockets waiting to authenticate (each child connects 64 at a time, 16 from each of its 4
// addresses) and --max-per-address connections in all (raised to N here: a benchmark's clients
// share a few addresses); and only accepted contacts may relay anything but chat requests, so
// the two clients of a pair become contacts as pages do (one shows a presence capability, the
// other subscribes with it) before anything is relayed.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { benchUsers, processGroup, sleep } from './lib.mjs';
import { presenceCap } from '../../tests/lib/ws.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

// ------------------------------------------------------------------ worker (child process) ----
if (process.argv[2] === '--worker') {
  // The slice of users comes in the first message (too long for the command line).
  const { kind, url, origin, users, localAddresses } = await new Promise((r) => process.once('message', r));
  const conns = new Array(users.length);
  const answers = new Array(users.length); // a resolver for the next answer that is not a relay
  let lat = [];
  let received = 0;
  let phase = 'idle';
  const pairs = [];
  const payload = 'x'.repeat(200);

  const send = (from, to, t, echo) => {
    const c = conns[from];
    if (!c) return;
    if (kind === 'parley') c.send(`{"type":"offer","to":"${users[to].name}","t":${t},"e":${echo},"f":${from},"sdp":"${payload}"}`);
    else c.send(`{"type":"OFFER","dst":"${users[to].name}","payload":{"t":${t},"e":${echo},"f":${from},"sdp":"${payload}"}}`);
  };
  const onRelay = (m, me) => {
    const p = kind === 'parley' ? m : m.payload;
    if (!p || p.t === undefined) return;
    received++;
    lat.push(performance.now() - p.t);
    if (phase === 'full') send(me, p.f, performance.now(), 1); // bounce back at once
  };

  const openOne = (i, localAddress) => new Promise((resolve) => {
    const u = users[i];
    const target = kind === 'parley' ? `${url}/ws` : `${url}/peerjs?key=peerjs&id=${u.name}&token=t${i}`;
    const ws = new WebSocket(target, { origin, localAddress, perMessageDeflate: false });
    let done = false;
    const finish = (ok) => { if (!done) { done = true; resolve(ok); } };
    ws.on('open', () => { if (kind === 'parley') ws.send(JSON.stringify({ type: 'auth', token: u.token })); });
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (!done) {
        if (m.type === 'ready' || m.type === 'OPEN') { conns[i] = ws; finish(true); } else { ws.terminate(); finish(false); }
        return;
      }
      if (m.type === 'offer' || m.type === 'OFFER') onRelay(m, i);
      else if (answers[i]) { const r = answers[i]; answers[i] = null; r(m); }
    });
    ws.on('error', () => finish(false));
    ws.on('close', () => { conns[i] = null; finish(false); });
    setTimeout(() => finish(false), 30000).unref();
  });

  process.on('message', async (cmd) => {
    if (cmd.cmd === 'connect') {
      let next = 0;
      let held = 0;
      const t0 = performance.now();
      // 64 at a time, 16 from each address (the most one address may have unauthenticated).
      await Promise.all(Array.from({ length: 64 }, async (_, lane) => {
        while (next < users.length) { const i = next++; if (await openOne(i, localAddresses[lane % localAddresses.length])) held++; }
      }));
      for (let i = 0; i + 1 < users.length; i += 2) if (conns[i] && conns[i + 1]) pairs.push([i, i + 1]);
      const connectSecs = (performance.now() - t0) / 1000;
      // The two of a pair become contacts: b shows a presence capability, a subscribes with it
      // (either side's subscription makes both directions relayable).
      const t1 = performance.now();
      let contacts = 0;
      if (kind === 'parley') {
        const answer = (i, msg) => new Promise((r) => { answers[i] = r; conns[i].send(JSON.stringify(msg)); });
        let k = 0;
        await Promise.all(Array.from({ length: 64 }, async () => {
          while (k < pairs.length) {
            const [a, b] = pairs[k++];
            const { cap, capHash } = presenceCap();
            const saved = await answer(b, { type: 'presence-settings', capHash, visible: true });
            const seen = saved.type === 'presence-saved' && await answer(a, { type: 'subscribe', users: [{ user: users[b].name, cap }] });
            if (seen && seen.type === 'presence' && seen.state === 'online') contacts++;
          }
        }));
      }
      process.send({ held, secs: connectSecs, contacts, contactSecs: (performance.now() - t1) / 1000 });
      if (kind === 'peerjs') setInterval(() => { for (const c of conns) c?.send('{"type":"HEARTBEAT"}'); }, 20000).unref();
    } else if (cmd.cmd === 'rate' || cmd.cmd === 'full') {
      lat = [];
      received = 0;
      phase = cmd.cmd;
      let sent = 0;
      const t0 = performance.now();
      if (cmd.cmd === 'rate') {
        let k = 0;
        await new Promise((resolve) => {
          const timer = setInterval(() => {
            const due = Math.floor(((performance.now() - t0) / 1000) * cmd.rate);
            while (sent < due) {
              const [a, b] = pairs[k++ % pairs.length];
              if (sent % 2) send(b, a, performance.now(), 0); else send(a, b, performance.now(), 0);
              sent++;
            }
            if (performance.now() - t0 >= cmd.secs * 1000) { clearInterval(timer); resolve(); }
          }, 5);
        });
      } else {
        for (const [a, b] of pairs.slice(0, cmd.pairs)) { send(a, b, performance.now(), 1); sent++; }
        await new Promise((r) => setTimeout(r, cmd.secs * 1000));
      }
      const secs = (performance.now() - t0) / 1000;
      const got = received;
      phase = 'drain';
      await new Promise((r) => setTimeout(r, 1000));
      process.send({ sent, received: got, secs, lat });
    } else if (cmd.cmd === 'close') {
      for (const c of conns) c?.terminate();
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
  const N = Number(process.argv[2] || 19000);
  const RATE = Number(process.argv[3] || 5000);
  const SECS = Number(process.argv[4] || 10);
  const WORKERS = Math.max(1, Math.ceil(N / 4750));
  const { children, cleanup, launch, stop } = processGroup();
  const deadline = setTimeout(() => { console.error('capacity: 10-minute limit reached, stopping'); cleanup(); process.exit(1); }, 9.5 * 60 * 1000);

  const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]);
  const threads = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/Threads:\s+(\d+)/)[1]);
  const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

  /** Runs the generator against a server whose clients are users[]; returns the figures. */
  async function drive(kind, pid, url, origin, users) {
    const out = { rssIdle: rssKiB(pid) };
    const per = Math.ceil(users.length / WORKERS);
    const workers = [];
    for (let w = 0; w < WORKERS; w++) {
      const slice = users.slice(w * per, (w + 1) * per);
      const child = fork(SELF, ['--worker'], { execArgv: ['--max-old-space-size=2048'], serialization: 'advanced' });
      children.add(child);
      child.send({ kind, url, origin, users: slice, localAddresses: [0, 1, 2, 3].map((k) => `127.0.0.${10 + 4 * w + k}`) });
      await new Promise((r) => child.once('message', r));
      workers.push(child);
    }
    const ask = (cmdFor) => Promise.all(workers.map((c, i) => new Promise((r) => { c.once('message', r); c.send(cmdFor(i)); })));
    const conn = await ask(() => ({ cmd: 'connect' }));
    out.connectSecs = Math.max(...conn.map((r) => r.secs)); // the children connect at once
    out.held = conn.reduce((s, r) => s + r.held, 0);
    out.contacts = conn.reduce((s, r) => s + r.contacts, 0);
    out.contactSecs = Math.max(...conn.map((r) => r.contactSecs));
    await sleep(3000);
    out.rssConnected = rssKiB(pid);
    out.threads = threads(pid);
    const phase = async (cmd) => {
      const rs = await ask(() => cmd);
      const lat = rs.flatMap((r) => r.lat).sort((a, b) => a - b);
      const received = rs.reduce((s, r) => s + r.received, 0);
      const secs = Math.max(...rs.map((r) => r.secs));
      return { p50: pct(lat, 50), p99: pct(lat, 99), rate: received / secs,
        sent: rs.reduce((s, r) => s + r.sent, 0), received };
    };
    out.fixed = await phase({ cmd: 'rate', rate: RATE / WORKERS, secs: SECS });
    out.full = await phase({ cmd: 'full', pairs: Math.ceil(2000 / WORKERS), secs: SECS });
    out.rssAfter = rssKiB(pid);
    await ask(() => ({ cmd: 'close' }));
    for (const c of workers) children.delete(c);
    return out;
  }

  // ---- Parley -------------------------------------------------------------------------------
  const bin = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
  const baseDir = mkdtempSync(join(tmpdir(), 'parley-cap-'));
  const listenRe = /listening on https?:\/\/[^\s]*:(\d+)\//;
  const web = join(ROOT, 'web');
  const small = await launch(bin, ['--listen', '127.0.0.1:0', '--data', join(baseDir, 'small'), '--web', web, '--log-level', 'error', '--max-connections', '1'], listenRe);
  await sleep(1000);
  const rssOneSlot = rssKiB(small.proc.pid);
  await stop(small.proc);

  const dataDir = join(baseDir, 'data');
  const tStart = performance.now();
  // --max-per-address N: the clients come from 4 addresses per child (the default, 64, is for
  // one machine's users behind one address).
  const srv = await launch(bin, ['--listen', '127.0.0.1:0', '--data', dataDir, '--web', web, '--log-level', 'error', '--max-connections', String(N), '--max-per-address', String(N)], listenRe);
  const startSecs = (performance.now() - tStart) / 1000;
  const url = `ws://127.0.0.1:${srv.port}`;
  const origin = `http://127.0.0.1:${srv.port}`;
  // Users straight into the database; tokens signed with the server's key (lib.mjs).
  const users = benchUsers(dataDir, 'cap', N);
  let parley;
  try {
    parley = await drive('parley', srv.proc.pid, url, origin, users);
  } finally {
    await stop(srv.proc);
    rmSync(baseDir, { recursive: true, force: true });
  }

  // ---- PeerJS -------------------------------------------------------------------------------
  const pj = await launch(process.execPath, [join(ROOT, 'bench/server/peerjs-server.mjs')], /ready (\d+)/, { PEERJS_CONCURRENT_LIMIT: String(N + 100) });
  let peerjs;
  try {
    await sleep(500);
    peerjs = await drive('peerjs', pj.proc.pid, `ws://127.0.0.1:${pj.port}`, undefined, users.map((u) => ({ name: u.name })));
  } finally {
    await stop(pj.proc);
  }
  clearTimeout(deadline);

  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const mib = (k) => f(k / 1024, 1);
  console.log(`Capacity benchmark on 127.0.0.1: ${N} clients in ${WORKERS} processes; relay of 200-byte offers between pairs, ${SECS} s per phase`);
  console.log(`parley-server: ${f(startSecs, 1)} s to start with --max-connections ${N}; RSS of a --max-connections 1 server ${mib(rssOneSlot)} MiB`);
  console.log(`parley-server: ${parley.contacts} of ${Math.floor(parley.held / 2)} pairs made contacts (presence-settings, subscribe) in ${f(parley.contactSecs, 1)} s after connecting`);
  const rows = [
    ['', 'parley-server', 'PeerJS server'],
    ['connections held', `${parley.held}`, `${peerjs.held}`],
    ['time to connect all (s)', f(parley.connectSecs, 1), f(peerjs.connectSecs, 1)],
    ['server threads', `${parley.threads}`, `${peerjs.threads}`],
    ['RSS idle (MiB)', mib(parley.rssIdle), mib(peerjs.rssIdle)],
    ['RSS, all connected (MiB)', mib(parley.rssConnected), mib(peerjs.rssConnected)],
    ['KiB per connection (connected - idle)', f((parley.rssConnected - parley.rssIdle) / parley.held, 1), f((peerjs.rssConnected - peerjs.rssIdle) / peerjs.held, 1)],
    ['KiB per connection (incl. its thread)', f((parley.rssConnected - rssOneSlot) / parley.held, 1), '-'],
    [`${RATE} msgs/s: delivered msgs/s`, f(parley.fixed.rate, 0), f(peerjs.fixed.rate, 0)],
    [`${RATE} msgs/s: latency p50 (ms)`, f(parley.fixed.p50), f(peerjs.fixed.p50)],
    [`${RATE} msgs/s: latency p99 (ms)`, f(parley.fixed.p99), f(peerjs.fixed.p99)],
    ['full speed: msgs/s', f(parley.full.rate, 0), f(peerjs.full.rate, 0)],
    ['full speed: latency p50 (ms)', f(parley.full.p50), f(peerjs.full.p50)],
    ['full speed: latency p99 (ms)', f(parley.full.p99), f(peerjs.full.p99)],
    ['RSS after relaying (MiB)', mib(parley.rssAfter), mib(peerjs.rssAfter)],
  ];
  for (const r of rows) console.log(`${r[0].padEnd(40)} ${r[1].padStart(14)} ${r[2].padStart(14)}`);
  process.exit(0);
}
