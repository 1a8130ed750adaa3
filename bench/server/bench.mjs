// Signaling benchmark: parley-server (native build) against the PeerJS server (npm peer), on
// 127.0.0.1. Measures connection set-up, relay round trips and server memory, plus Parley's
// Argon2id sign-up and login latency. Run: node bench/server/bench.mjs [pairs] [roundTrips]
//
// Round trips per pair stay within Parley's per-account burst (100 messages) so that the
// rate limit, a deliberate protection, does not dominate the figures.
//
// Parley's other limits against abuse shape the set-up, not the figures: the clients connect
// from several loopback addresses (one address may have 16 WebSockets waiting to authenticate;
// --max-connections is raised so that the server lets all 2 x pairs wait at once), and the two
// clients of a pair become contacts (one shows a presence capability, the other subscribes with
// it) before relaying: only chat requests reach someone who is not a contact.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { api } from '../../tests/lib/api.mjs';
import { presenceCap } from '../../tests/lib/ws.mjs';

const PAIRS = Number(process.argv[2] || 25);
const ROUNDS = Math.min(Number(process.argv[3] || 80), 90);
process.env.PARLEY_SERVER_BIN ||= join(ROOT, 'build/native/server/parley-server');

const pct = (arr, p) => {
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;
const rssMiB = (pid) => {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
};

/** A ws client whose next() resolves with the next parsed message. */
function open(url, opts) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const queue = [];
    let waiter = null;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (waiter) { const w = waiter; waiter = null; w(m); } else queue.push(m);
    });
    ws.on('error', reject);
    ws.on('open', () => resolve({
      ws,
      send: (o) => ws.send(JSON.stringify(o)),
      next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => { waiter = r; })),
    }));
  });
}

async function relayRounds(pairs, send, rounds) {
  const rtts = [];
  const t0 = performance.now();
  await Promise.all(pairs.map(async ([a, b]) => {
    for (let i = 0; i < rounds; i++) {
      const s = performance.now();
      send(a, b, i);
      const got = await b.c.next();
      send(b, a, got.n ?? got.payload?.n);
      await a.c.next();
      rtts.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { rtts, msgsPerSec: (pairs.length * rounds * 2) / secs };
}

async function benchParley() {
  // At most max-connections / 4 connections may wait to authenticate: all 2 x PAIRS at once.
  const server = await startServer({ args: ['--log-level', 'warn', '--max-connections', String(Math.max(256, 8 * PAIRS))] });
  const out = {};
  try {
    const users = [];
    const signupTimes = [];
    for (let i = 0; i < PAIRS * 2; i++) {
      const username = `bench${i}`;
      const t = performance.now();
      const r = await api(server.url, 'POST', '/api/signup', { body: { username, password: 'bench password' } });
      signupTimes.push(performance.now() - t);
      if (r.status !== 201) throw new Error(`signup ${r.status} ${JSON.stringify(r.body)}`);
      users.push({ username, token: r.body.token });
    }
    const loginTimes = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await api(server.url, 'POST', '/api/login', { body: { username: users[i].username, password: 'bench password' } });
      loginTimes.push(performance.now() - t);
    }
    // Two logins at once share the 2 hashing slots; four queue.
    const t4 = performance.now();
    await Promise.all(users.slice(10, 14).map((u) => api(server.url, 'POST', '/api/login', { body: { username: u.username, password: 'bench password' } })));
    out.login4 = performance.now() - t4;
    out.signup = pct(signupTimes, 50);
    out.login = pct(loginTimes, 50);
    out.rssIdle = rssMiB(server.proc.pid);

    const url = `${server.url.replace('http', 'ws')}/ws`;
    const connTimes = [];
    const tc = performance.now();
    const clients = await Promise.all(users.map(async (u, i) => {
      const t = performance.now();
      const c = await open(url, { origin: server.url, localAddress: `127.0.0.${50 + Math.floor(i / 16)}` });
      c.send({ type: 'auth', token: u.token });
      const ready = await c.next();
      if (ready.type !== 'ready') throw new Error(JSON.stringify(ready));
      connTimes.push(performance.now() - t);
      return { c, user: u.username };
    }));
    out.connectAll = performance.now() - tc;
    out.connect = pct(connTimes, 50);
    out.rssConnected = rssMiB(server.proc.pid);
    const pairs = [];
    for (let i = 0; i < PAIRS; i++) pairs.push([clients[2 * i], clients[2 * i + 1]]);
    // Contacts: b shows a presence capability, a subscribes with it (both directions relay).
    await Promise.all(pairs.map(async ([a, b]) => {
      const { cap, capHash } = presenceCap();
      b.c.send({ type: 'presence-settings', capHash, visible: true });
      const saved = await b.c.next();
      if (saved.type !== 'presence-saved') throw new Error(JSON.stringify(saved));
      a.c.send({ type: 'subscribe', users: [{ user: b.user, cap }] });
      const seen = await a.c.next();
      if (seen.type !== 'presence' || seen.state !== 'online') throw new Error(JSON.stringify(seen));
    }));
    const { rtts, msgsPerSec } = await relayRounds(pairs, (from, to, n) => from.c.send({ type: 'offer', to: to.user, n, sdp: 'x'.repeat(200) }), ROUNDS);
    out.rttP50 = pct(rtts, 50);
    out.rttP99 = pct(rtts, 99);
    out.msgsPerSec = msgsPerSec;
    out.rssAfter = rssMiB(server.proc.pid);
    for (const { c } of clients) c.ws.close();
  } finally {
    await server.stop();
  }
  return out;
}

async function benchPeerJS() {
  const proc = spawn(process.execPath, [join(ROOT, 'bench/server/peerjs-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/ready (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (c) => reject(new Error(`peerjs server exited ${c}`)));
  });
  const out = {};
  try {
    await new Promise((r) => setTimeout(r, 300));
    out.rssIdle = rssMiB(proc.pid);
    const connTimes = [];
    const tc = performance.now();
    const clients = await Promise.all(Array.from({ length: PAIRS * 2 }, async (_, i) => {
      const t = performance.now();
      const id = `bench${i}`;
      const c = await open(`ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${id}&token=t${i}`, { localAddress: `127.0.0.${50 + Math.floor(i / 16)}` });
      const o = await c.next();
      if (o.type !== 'OPEN') throw new Error(JSON.stringify(o));
      connTimes.push(performance.now() - t);
      return { c, user: id };
    }));
    out.connectAll = performance.now() - tc;
    out.connect = pct(connTimes, 50);
    out.rssConnected = rssMiB(proc.pid);
    const pairs = [];
    for (let i = 0; i < PAIRS; i++) pairs.push([clients[2 * i], clients[2 * i + 1]]);
    const { rtts, msgsPerSec } = await relayRounds(pairs, (from, to, n) => from.c.send({ type: 'OFFER', dst: to.user, payload: { n, sdp: 'x'.repeat(200) } }), ROUNDS);
    out.rttP50 = pct(rtts, 50);
    out.rttP99 = pct(rtts, 99);
    out.msgsPerSec = msgsPerSec;
    out.rssAfter = rssMiB(proc.pid);
    for (const { c } of clients) c.ws.close();
  } finally {
    proc.kill('SIGTERM');
  }
  return out;
}

const parley = await benchParley();
const peerjs = await benchPeerJS();
console.log(`Signaling benchmark on 127.0.0.1: ${PAIRS * 2} clients, ${PAIRS} pairs x ${ROUNDS} round trips (200-byte payload)`);
console.log(`Parley sign-up (Argon2id hash) p50 ${ms(parley.signup)}; login p50 ${ms(parley.login)}; 4 concurrent logins ${ms(parley.login4)}`);
const rows = [
  ['', 'parley-server', 'PeerJS server'],
  ['connect (+auth) p50', ms(parley.connect), ms(peerjs.connect)],
  [`all ${PAIRS * 2} connected`, ms(parley.connectAll), ms(peerjs.connectAll)],
  ['relay round trip p50', ms(parley.rttP50), ms(peerjs.rttP50)],
  ['relay round trip p99', ms(parley.rttP99), ms(peerjs.rttP99)],
  ['relayed messages/s', parley.msgsPerSec.toFixed(0), peerjs.msgsPerSec.toFixed(0)],
  ['RSS idle (MiB)', parley.rssIdle.toFixed(1), peerjs.rssIdle.toFixed(1)],
  [`RSS, ${PAIRS * 2} connected (MiB)`, parley.rssConnected.toFixed(1), peerjs.rssConnected.toFixed(1)],
  ['RSS after relaying (MiB)', parley.rssAfter.toFixed(1), peerjs.rssAfter.toFixed(1)],
];
for (const r of rows) console.log(`${r[0].padEnd(28)} ${r[1].padStart(14)} ${r[2].padStart(14)}`);
