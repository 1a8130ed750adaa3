// Abuse benchmark (issue 13): runs attacks, one after another, against the native parley-server
// while a normal load runs, and reports what a legitimate user sees meanwhile: how often log-in,
// connecting (WebSocket + auth -> ready) and relaying succeed, and the relay round trip's p50/p99.
// Target: with each attack running, connect and relay succeed at least 99% of the time and the
// relay p99 stays within 2x of the quiet phase's.
//
//   node bench/server/abuse.mjs [secondsPerPhase=12] [pairs=20]
//        [--phases quiet,ws-slot-flood,slowloris,reconnect-flood,ping-flood,identity-probes,quiet-after]
//        [--nice 10] [--legit-addrs 8] [-- extra parley-server flags]
//
// Normal load (legitimate users, spread over 127.0.1.1..N by --legit-addrs N, default 8; 1: 127.0.0.1):
//   - PAIRS pairs of users signed up through POST /api/signup, made contacts the way pages do it
//     (each sends presence-settings with the HMAC of a random capability, then subscribes to the
//     other with the other's capability), each pair bouncing 200-byte offers A -> B -> A, one
//     round trip every 200 ms (10 relayed messages/s a pair); the round trip's p50/p99 are from
//     these. A round trip not back within 2 s, or refused with an error, is a failure.
//   - 4 probe loops, each on its own account: open a WebSocket, auth -> ready (connect), subscribe
//     to the echo user (a contact of every probe account) with its capability, relay one offer to
//     it and await the echo (relay), close; again after 100 ms.
//   - one log-in (POST /api/login, Argon2id) every 1.25 s, in turn over 8 probe accounts, so that
//     neither the per-address (1/s) nor the per-account (1 per 10 s) log-in throttle is reached.
//   - GET /healthz every 250 ms.
// Attackers run in child processes (niced, --nice: on one machine an attacker's own CPU would
// otherwise count against the server; in reality it brings its own) from other loopback addresses:
//   ws-slot-flood    127.0.0.2: 1,500 WebSocket upgrades at a time that never authenticate,
//                    each reopened as soon as it is closed or refused.
//   slowloris        127.0.0.3-6: 72 connections (12 slow bodies: POST /api/signup with
//                    Content-Length 4096 and one byte every 2-3 s; 6 slow headers: one header
//                    byte every 2-3 s, per address), reopened when closed.
//   reconnect-flood  127.0.0.7: one account connecting, sending 200 offers/chat-requests to a
//                    victim (a legitimate pair user) as fast as the socket takes them, closing and
//                    reconnecting at once; 127.0.0.8: 40 throwaway accounts each flooding the
//                    victim with offers and chat-requests, reconnecting when closed.
//   ping-flood       127.0.0.9: WebSocket ping frames (masked, raw sockets) as fast as the
//                    sockets take them, from 2 authenticated and 2 unauthenticated connections,
//                    reconnecting when closed.
//   identity-probes  127.0.0.2: GET /api/identity/NAME as fast as possible on 32 keep-alive
//                    connections, in turn over 40 accounts, names of real users and random ones.
// Attack accounts are inserted with benchUsers() (lib.mjs). Each phase: the attack starts, 1 s of
// ramp-up, SECS measured, the attack stops, 2 s for the server to let go. Prints the table, then
// per phase the sample counts, failure reasons and what the attacker achieved. Asserts nothing.
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { benchUsers, processGroup, sleep } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

const ALL_PHASES = ['quiet', 'ws-slot-flood', 'slowloris', 'reconnect-flood', 'ping-flood', 'identity-probes', 'quiet-after'];
const PAYLOAD = 'x'.repeat(200);
const capHashOf = (cap) => crypto.createHmac('sha256', 'parley-presence-cap-v1').update(cap).digest('base64url');
const inc = (o, k, n = 1) => { o[k] = (o[k] || 0) + n; };

/** The request that upgrades GET /ws (raw sockets). */
const upgradeRequest = (port) => `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:${port}\r\n\r\n`;

/** A masked client frame (RFC 6455 5.2) with the given opcode and payload. */
function maskedFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

// =============================================================== attacker (child process) ====
if (process.argv[2] === '--attack') {
  const cfg = await new Promise((r) => process.once('message', r));
  let stopping = false;
  const sockets = new Set(); // net.Socket and WebSocket objects to close at the end
  const stats = { errors: {} };
  const t0 = performance.now();
  const track = (s) => { sockets.add(s); return s; };
  const netErr = (e) => inc(stats.errors, e.code || e.message.slice(0, 40));
  const later = (fn, ms) => { if (!stopping) setTimeout(fn, ms); };
  process.on('disconnect', () => process.exit(0));

  const attacks = {
    // ---- 1: WebSocket upgrades that never authenticate, as many as possible from one address.
    'ws-slot-flood'() {
      Object.assign(stats, { attempts: 0, upgraded: 0, held: 0, peakHeld: 0, answers: {}, closedWhileHeld: 0 });
      const one = () => {
        if (stopping) return;
        stats.attempts++;
        const s = track(net.connect({ port: cfg.port, host: '127.0.0.1', localAddress: '127.0.0.2' }));
        let answered = false;
        let held = false;
        let buf = '';
        s.on('connect', () => s.write(upgradeRequest(cfg.port)));
        s.on('data', (d) => {
          if (answered) return;
          buf += d.toString('latin1');
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
          if (!m && buf.length < 12) return;
          answered = true;
          inc(stats.answers, m ? m[1] : 'garbage');
          if (m && m[1] === '101') {
            held = true;
            stats.upgraded++;
            stats.peakHeld = Math.max(stats.peakHeld, ++stats.held);
          } else {
            s.destroy();
          }
        });
        s.on('error', netErr);
        s.on('close', () => {
          sockets.delete(s);
          if (held) { stats.held--; stats.closedWhileHeld++; }
          // Refusals and closes are answered by a new attempt at once; socket errors (ports
          // or files running out) after 50 ms, so the loop does not spin on them.
          later(one, answered ? 0 : 50);
        });
      };
      for (let i = 0; i < cfg.slotSockets; i++) one();
    },

    // ---- 2: slow bodies and slow headers from 4 addresses, reopened when closed.
    slowloris() {
      Object.assign(stats, { opened: 0, open: 0, peakOpen: 0, closedByServer: 0, answers: {}, bytesTrickled: 0, lifetimesMs: [] });
      const one = (addr, slowHeaders) => {
        if (stopping) return;
        stats.opened++;
        const s = track(net.connect({ port: cfg.port, host: '127.0.0.1', localAddress: addr }));
        let timer = null;
        let opened = 0;
        s.on('connect', () => {
          opened = performance.now();
          stats.peakOpen = Math.max(stats.peakOpen, ++stats.open);
          if (slowHeaders) {
            s.write(`POST /api/signup HTTP/1.1\r\nHost: 127.0.0.1:${cfg.port}\r\nContent-Type: application/json\r\nX-Slow: `);
          } else {
            s.write(`POST /api/signup HTTP/1.1\r\nHost: 127.0.0.1:${cfg.port}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"username":"`);
          }
          const drip = () => {
            if (stopping || s.destroyed) return;
            s.write('a');
            stats.bytesTrickled++;
            timer = setTimeout(drip, 2000 + Math.random() * 1000);
          };
          timer = setTimeout(drip, 2000 + Math.random() * 1000);
        });
        s.on('data', (d) => { const m = /^HTTP\/1\.[01] (\d{3})/.exec(d.toString('latin1')); if (m) inc(stats.answers, m[1]); });
        s.on('error', netErr);
        s.on('close', () => {
          clearTimeout(timer);
          sockets.delete(s);
          if (opened) {
            stats.open--;
            if (!stopping) {
              stats.closedByServer++;
              if (stats.lifetimesMs.length < 10000) stats.lifetimesMs.push(performance.now() - opened);
            }
          }
          later(() => one(addr, slowHeaders), 100);
        });
      };
      for (const addr of ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']) {
        for (let i = 0; i < 12; i++) one(addr, false);
        for (let i = 0; i < 6; i++) one(addr, true);
      }
    },

    // ---- 3: one account reconnecting and flooding the victim; 40 throwaway accounts flooding it.
    'reconnect-flood'() {
      Object.assign(stats, { connects: 0, ready: 0, refused: {}, sent: 0, answers: {}, closes: {} });
      const url = `ws://127.0.0.1:${cfg.port}/ws`;
      const msgs = [
        `{"type":"offer","to":"${cfg.victim}","sdp":"${'y'.repeat(400)}"}`,
        `{"type":"chat-request","to":"${cfg.victim}","req":"${'z'.repeat(400)}"}`,
      ];
      /** Connects as user from addr; onReady(ws) once ready; onGone() once closed. */
      const open = (user, addr, onReady, onGone) => {
        if (stopping) return;
        stats.connects++;
        const ws = track(new WebSocket(url, { origin: cfg.origin, localAddress: addr, perMessageDeflate: false }));
        let ready = false;
        ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: user.token })));
        ws.on('message', (d) => {
          const s = d.toString();
          if (!ready) {
            if (s.startsWith('{"type":"ready"')) { ready = true; stats.ready++; onReady(ws); } else inc(stats.refused, (/"code":"([^"]+)"/.exec(s) || [])[1] || 'other');
            return;
          }
          if (s.startsWith('{"type":"error"')) inc(stats.answers, (/"code":"([^"]+)"/.exec(s) || [])[1] || 'error');
        });
        ws.on('error', (e) => { const m = /Unexpected server response: (\d+)/.exec(e.message); inc(m ? stats.refused : stats.errors, m ? `HTTP ${m[1]}` : (e.code || e.message.slice(0, 40))); });
        ws.on('close', (code) => { sockets.delete(ws); inc(stats.closes, code); onGone(ready); });
      };
      // Sends up to limit messages as fast as the socket takes them (at most 64 a turn of the event
      // loop, so that the other sockets get theirs), then done(ws).
      const pump = (ws, limit, done) => {
        let n = 0;
        const go = () => {
          if (stopping || ws.readyState !== WebSocket.OPEN) return;
          for (let k = 0; k < 64 && ws.bufferedAmount < 32768 && n < limit; k++) { ws.send(msgs[n & 1]); n++; stats.sent++; }
          if (n >= limit) done(ws); else setImmediate(go);
        };
        go();
      };
      // The reconnecting account: 200 messages a connection, then close; once closed (by itself
      // or by the server), it connects again at once.
      const reconnector = () => open(cfg.users[0], '127.0.0.7', (ws) => pump(ws, 200, (w) => w.close()),
        (wasReady) => later(reconnector, wasReady ? 0 : 20));
      reconnector();
      for (const u of cfg.users.slice(1, 41)) {
        const throwaway = () => open(u, '127.0.0.8', (ws) => pump(ws, Infinity, () => {}), () => later(throwaway, 200));
        throwaway();
      }
    },

    // ---- 4: ping frames as fast as the sockets take them, authenticated and not.
    'ping-flood'() {
      Object.assign(stats, { connects: 0, upgraded: 0, authed: 0, pingBytesSent: 0, pongs: 0, answers: {}, closeFrames: {}, closeFrameAfterSecs: [], closes: 0, closesAfterSecs: [] });
      const pingSockets = new Set();
      // What reached the kernel (socket.bytesWritten), not what was handed to write(): counted
      // when a socket closes and at the end.
      stats.finish = () => { for (const s of pingSockets) stats.pingBytesSent += s.bytesWritten - (s.handshakeBytes || 0); };
      const pings = Buffer.concat(Array.from({ length: 256 }, () => maskedFrame(0x9, crypto.randomBytes(8))));
      const one = (token) => {
        if (stopping) return;
        stats.connects++;
        const s = track(net.connect({ port: cfg.port, host: '127.0.0.1', localAddress: '127.0.0.9' }));
        pingSockets.add(s);
        let floodFrom = 0;
        let stage = 'http';
        let buf = '';
        let inb = Buffer.alloc(0);
        let closeSeen = false;
        /** Walks the server's frames (unmasked) once flooding: counts pongs, notes a close frame. */
        const frames = (d) => {
          inb = inb.length ? Buffer.concat([inb, d]) : d;
          let at = 0;
          while (inb.length - at >= 2) {
            const op = inb[at] & 0x0f;
            let len = inb[at + 1] & 0x7f;
            let hl = 2;
            if (len === 126) { if (inb.length - at < 4) break; len = inb.readUInt16BE(at + 2); hl = 4; }
            if (len === 127) { if (inb.length - at < 10) break; len = Number(inb.readBigUInt64BE(at + 2)); hl = 10; }
            if (inb.length - at < hl + len) break;
            if (op === 0xA) stats.pongs++;
            if (op === 0x8 && !closeSeen) {
              closeSeen = true;
              inc(stats.closeFrames, len >= 2 ? inb.readUInt16BE(at + hl) : 'none');
              if (!stopping) stats.closeFrameAfterSecs.push(Number(((performance.now() - floodFrom) / 1000).toFixed(1)));
            }
            at += hl + len;
          }
          inb = inb.subarray(at);
        };
        const flood = () => {
          for (let i = 0; i < 64; i++) {
            if (stopping || s.destroyed) return;
            if (!s.write(pings)) { s.once('drain', flood); return; }
          }
          setImmediate(flood);
        };
        s.on('connect', () => s.write(upgradeRequest(cfg.port)));
        s.on('data', (d) => {
          if (stage === 'flood') { frames(d); return; }
          buf += d.toString('latin1');
          if (stage === 'http') {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
            inc(stats.answers, m ? m[1] : 'garbage');
            if (!m || m[1] !== '101') { s.destroy(); return; }
            stats.upgraded++;
            buf = buf.slice(end + 4);
            if (token) {
              stage = 'auth';
              s.write(maskedFrame(0x1, JSON.stringify({ type: 'auth', token })));
            } else {
              stage = 'flood';
              s.handshakeBytes = s.bytesWritten;
              floodFrom = performance.now();
              flood();
            }
          }
          if (stage === 'auth' && buf.includes('"type":"ready"')) {
            stats.authed++;
            stage = 'flood';
            s.handshakeBytes = s.bytesWritten;
            floodFrom = performance.now();
            flood();
          }
        });
        s.on('error', netErr);
        s.on('close', () => {
          sockets.delete(s);
          pingSockets.delete(s);
          if (floodFrom) stats.pingBytesSent += s.bytesWritten - (s.handshakeBytes || 0);
          if (!stopping) {
            stats.closes++;
            if (floodFrom) stats.closesAfterSecs.push(Number(((performance.now() - floodFrom) / 1000).toFixed(1)));
          }
          later(() => one(token), 50);
        });
      };
      for (const u of cfg.users.slice(41, 43)) one(u.token);
      one(null);
      one(null);
    },

    // ---- 5: identity look-ups as fast as possible from one address.
    'identity-probes'() {
      Object.assign(stats, { requests: 0, answers: {} });
      const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.identityConcurrency });
      sockets.add({ destroy: () => agent.destroy() });
      const tokens = cfg.users.slice(50, 90).map((u) => u.token);
      let k = 0;
      const get = () => new Promise((resolve) => {
        const name = k % 2 ? cfg.names[k % cfg.names.length] : `n${crypto.randomBytes(5).toString('hex')}`;
        const req = http.request({ host: '127.0.0.1', port: cfg.port, path: `/api/identity/${name}`, localAddress: '127.0.0.2', agent,
          headers: { Authorization: `Bearer ${tokens[k++ % tokens.length]}` } }, (res) => {
          inc(stats.answers, res.statusCode);
          res.resume();
          res.on('end', resolve);
          res.on('error', resolve);
        });
        const timer = setTimeout(() => req.destroy(new Error('timeout')), 10000);
        req.on('error', (e) => { netErr(e); resolve(); });
        req.on('close', () => clearTimeout(timer));
        req.end();
        stats.requests++;
      });
      const loop = async () => {
        while (!stopping) await get();
      };
      for (let i = 0; i < cfg.identityConcurrency; i++) loop();
    },
  };

  process.on('message', async (m) => {
    if (m.cmd !== 'stop') return;
    stopping = true;
    const secs = (performance.now() - t0) / 1000;
    if (stats.finish) { stats.finish(); delete stats.finish; }
    if (stats.pingBytesSent !== undefined) stats.pingsSent = Math.floor(stats.pingBytesSent / 14);
    for (const s of sockets) {
      try { if (s.terminate) s.terminate(); else s.destroy(); } catch { /* gone */ }
    }
    const cpu = process.cpuUsage();
    if (stats.lifetimesMs) {
      const l = stats.lifetimesMs.sort((a, b) => a - b);
      stats.lifetimeP50s = l.length ? Number((l[Math.floor(l.length / 2)] / 1000).toFixed(2)) : null;
      delete stats.lifetimesMs;
    }
    process.send({ stats, secs, cpuSecs: (cpu.user + cpu.system) / 1e6 });
    setTimeout(() => process.exit(0), 200);
  });
  attacks[cfg.attack]();
  process.send({ running: true });
} else {
  await main();
}

// ============================================================================ parent ========
async function main() {
  // ---- arguments
  const argv = process.argv.slice(2);
  const dashdash = argv.indexOf('--');
  const serverExtra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const args = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const opt = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
  const phaseNames = opt('--phases', ALL_PHASES.join(',')).split(',').filter(Boolean);
  const NICE = Number(opt('--nice', 10));
  const LEGIT_ADDRS = Math.max(1, Number(opt('--legit-addrs', 8)));
  const SECS = Number(args[0] || 12);
  const PAIRS = Number(args[1] || 20);
  for (const p of phaseNames) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase ${p}; phases: ${ALL_PHASES.join(', ')}`);
  if (!(SECS > 0) || !(PAIRS > 0)) throw new Error('usage: abuse.mjs [secondsPerPhase] [pairs] [--phases a,b] [--nice N] [--legit-addrs N] [-- server flags]');

  const PROBES = 8; // accounts the log-in loop takes turns over; the first PROBE_LOOPS also connect
  const PROBE_LOOPS = 4;
  const PROBE_PAUSE_MS = 100;
  const LOGIN_EVERY_MS = 1250;
  const HEALTHZ_EVERY_MS = 250;
  const RELAY_EVERY_MS = 200;
  const RELAY_TIMEOUT_MS = 2000;
  const CONNECT_TIMEOUT_MS = 10000;
  const HTTP_TIMEOUT_MS = 10000;
  const RAMP_MS = 1000;
  const COOL_MS = 2000;

  // ---- server
  const { children, cleanup, launch, stop } = processGroup();
  const bin = process.env.PARLEY_SERVER_BIN || join(ROOT, 'build/native/server/parley-server');
  const dataDir = mkdtempSync(join(os.tmpdir(), 'parley-abuse-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { console.error(`abuse: ${sig}, stopping`); process.exit(130); });
  const deadline = setTimeout(() => { console.error('abuse: 6-minute limit reached, stopping'); cleanup(); process.exit(1); }, 6 * 60 * 1000);
  deadline.unref();
  const serverArgs = ['--listen', '127.0.0.1:0', '--data', dataDir, '--web', join(ROOT, 'web'), '--log-level', 'error', ...serverExtra];
  const srv = await launch(bin, serverArgs, /listening on https?:\/\/[^\s]*:(\d+)\//);
  let serverGone = null;
  srv.proc.on('exit', (code, signal) => { serverGone = `${code ?? signal}`; });
  const PORT = srv.port;
  const BASE = `http://127.0.0.1:${PORT}`;
  const ORIGIN = BASE;
  const WS_URL = `ws://127.0.0.1:${PORT}/ws`;
  const legitAddr = (k) => (LEGIT_ADDRS === 1 ? '127.0.0.1' : `127.0.1.${1 + (k % LEGIT_ADDRS)}`);

  // ---- samples: { kind, phase, ok, ms, why }; phase -1 (set-up, ramp-up, cool-down) is not kept
  let current = -1;
  let stopping = false;
  const samples = [];
  const legitErrors = []; // per phase: error codes the legitimate clients were sent
  const record = (kind, phase, ok, ms, why) => { if (phase >= 0) samples.push({ kind, phase, ok, ms, why }); };
  const victimFlood = []; // per phase: messages the victim got that were not the load's, while the attack ran
  let attackIndex = -1; // the phase whose attacker is running (ramp-up included), or -1
  let inflight = 0; // HTTP probes and connects not finished yet

  /** A JSON request from a legitimate address on a fresh connection: { status, body } or throws. */
  const httpJson = (method, path, body, addr) => new Promise((resolve, reject) => {
    inflight++;
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path, localAddress: addr, agent: false,
      headers: data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let b = text; try { b = JSON.parse(text); } catch { /* text */ } done(); resolve({ status: res.statusCode, body: b, headers: res.headers }); });
      res.on('error', (e) => { done(); reject(e); });
    });
    let finished = false;
    const done = () => { if (!finished) { finished = true; inflight--; clearTimeout(timer); } };
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })), HTTP_TIMEOUT_MS);
    req.on('error', (e) => { done(); reject(e); });
    req.end(data);
  });

  // ---- relay round trips in flight: key -> { t0, phase, kind, done }
  const pending = new Map();
  const settle = (key, ok, why) => {
    const p = pending.get(key);
    if (!p) return;
    pending.delete(key);
    record(p.kind, p.phase, ok, performance.now() - p.t0, why);
    if (p.done) p.done(ok);
  };
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [k, p] of pending) {
      if (now - p.t0 < RELAY_TIMEOUT_MS) break;
      settle(k, false, 'timeout');
    }
  }, 50);

  /** What a legitimate client does with a message that is not an answer it waits for. */
  const onText = (user, s, conn) => {
    try { onTextUnsafe(user, s, conn); } catch { /* not JSON: ignored */ }
  };
  const onTextUnsafe = (user, s, conn) => {
    if (s.includes('"rt":"')) {
      const m = JSON.parse(s);
      if (m.type === 'offer') { conn.send(`{"type":"answer","to":"${m.from}","id":"e${m.rt}","rt":"${m.rt}","sdp":"${PAYLOAD}"}`); return; }
      if (m.type === 'answer') { settle(m.rt, true); return; }
    }
    if (s.startsWith('{"type":"error"')) {
      const m = JSON.parse(s);
      if (current >= 0) inc(legitErrors[current], m.code);
      if (typeof m.ref === 'string' && (m.ref[0] === 'r' || m.ref[0] === 'e')) settle(m.ref.slice(1), false, m.code);
      return;
    }
    if (user.victim && attackIndex >= 0 && !s.startsWith('{"type":"presence"')) victimFlood[attackIndex]++;
  };

  /** Opens a WebSocket as user and authenticates: resolves the connection at ready; rejects with .why. */
  const openWs = (user) => new Promise((resolve, reject) => {
    inflight++;
    const t0 = performance.now();
    let ready = false;
    let done = false;
    const ws = new WebSocket(WS_URL, { origin: ORIGIN, localAddress: user.addr, perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
    const conn = {
      ws,
      open: false,
      waiters: [],
      onClose: null,
      send: (s) => { if (ws.readyState === WebSocket.OPEN) ws.send(s); },
      close: () => { try { ws.close(); } catch { /* gone */ } setTimeout(() => ws.terminate(), 2000).unref(); },
      waitFor: (pred, ms) => new Promise((res, rej) => {
        const w = { pred, res, rej, timer: setTimeout(() => { conn.waiters.splice(conn.waiters.indexOf(w), 1); rej(new Error('timeout')); }, ms) };
        conn.waiters.push(w);
      }),
    };
    const finish = () => { done = true; inflight--; clearTimeout(timer); };
    const fail = (why) => {
      if (done) return;
      finish();
      try { ws.terminate(); } catch { /* gone */ }
      reject(Object.assign(new Error(why), { why, ms: performance.now() - t0 }));
    };
    const timer = setTimeout(() => fail('timeout'), CONNECT_TIMEOUT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: user.token })));
    ws.on('message', (d) => {
      const s = d.toString();
      if (!ready) {
        if (s.startsWith('{"type":"ready"')) {
          ready = true;
          conn.open = true;
          conn.ms = performance.now() - t0;
          finish();
          resolve(conn);
        } else {
          fail(`error ${(/"code":"([^"]+)"/.exec(s) || [])[1] || s.slice(0, 40)}`);
        }
        return;
      }
      if (conn.waiters.length) {
        let m = null;
        try { m = JSON.parse(s); } catch { /* not JSON */ }
        const w = conn.waiters.find((x) => x.pred(m));
        if (w) {
          conn.waiters.splice(conn.waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.res(m);
          return;
        }
      }
      onText(user, s, conn);
    });
    ws.on('error', (e) => {
      const m = /Unexpected server response: (\d+)/.exec(e.message);
      fail(m ? `HTTP ${m[1]}` : (e.code || e.message.slice(0, 40)));
    });
    ws.on('close', (code) => {
      conn.open = false;
      for (const w of conn.waiters.splice(0)) { clearTimeout(w.timer); w.rej(new Error(`closed ${code}`)); }
      if (!done) fail(`closed ${code}`);
      else if (conn.onClose) conn.onClose(code);
    });
  });

  // ---- users
  const mkUser = (name, k) => {
    const cap = crypto.randomBytes(32);
    return { name, password: `abuse-pw-${crypto.randomBytes(8).toString('hex')}`, addr: legitAddr(k), cap: cap.toString('base64url'), capHash: capHashOf(cap), contacts: [], conn: null };
  };
  const pairs = Array.from({ length: PAIRS }, (_, i) => [mkUser(`pa${i}`, 2 * i), mkUser(`pb${i}`, 2 * i + 1)]);
  const probes = Array.from({ length: PROBES }, (_, i) => mkUser(`probe${i}`, i));
  const echo = mkUser('echo', 0);
  for (const [a, b] of pairs) { a.contacts.push(b); b.contacts.push(a); }
  for (const p of probes) { p.contacts.push(echo); echo.contacts.push(p); }
  const victim = pairs[0][1];
  victim.victim = true;
  const legit = [...pairs.flat(), ...probes, echo];

  const tSetup = performance.now();
  // Sign-ups through the API (Argon2id; the server hashes two at a time), retried when throttled.
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < legit.length) {
      const u = legit[next++];
      for (;;) {
        const r = await httpJson('POST', '/api/signup', { username: u.name, password: u.password }, u.addr);
        if (r.status === 201) { u.token = r.body.token; break; }
        if (r.status !== 429) throw new Error(`sign-up of ${u.name}: ${r.status} ${JSON.stringify(r.body)}`);
        await sleep(1000 * Number(r.headers['retry-after'] || 1));
      }
    }
  }));
  const signupSecs = (performance.now() - tSetup) / 1000;
  // Attack accounts straight into the database (lib.mjs): atk0 reconnects, atk1..40 are the
  // throwaways, atk41..42 ping, atk50..89 look identities up.
  const atk = benchUsers(dataDir, 'atk', 90);

  const subscribeMsg = (u) => JSON.stringify({ type: 'subscribe', users: u.contacts.map((c) => ({ user: c.name, cap: c.cap })) });
  /** Connects a user that stays connected (pair users, echo), reconnecting whenever it is closed. */
  const connectSteady = async (user, first) => {
    for (let tries = 1; ; tries++) {
      if (stopping) return;
      const phase = current;
      try {
        const conn = await openWs(user);
        if (!first) record('connect', phase, true, conn.ms);
        user.conn = conn;
        conn.onClose = () => { user.conn = null; if (!stopping) setTimeout(() => connectSteady(user, false), 500); };
        if (first) {
          conn.send(JSON.stringify({ type: 'presence-settings', capHash: user.capHash, visible: true, id: 'ps' }));
          const m = await conn.waitFor((x) => x && (x.type === 'presence-saved' || x.type === 'error'), 5000);
          if (m.type !== 'presence-saved') throw new Error(`presence-settings of ${user.name}: ${JSON.stringify(m)}`);
        } else {
          // The capability hash is kept at rest; subscriptions live with the connection. Messages
          // on one connection are handled in order, so what is sent after this is a contact's.
          conn.send(subscribeMsg(user));
        }
        return;
      } catch (e) {
        if (first && (tries >= 5 || !e.why)) throw e;
        record('connect', phase, false, e.ms || 0, e.why || e.message);
        await sleep(500);
      }
    }
  };
  // Set-up connects 8 at a time: the server lets one address have only a few connections waiting
  // to authenticate.
  const eachLimited = async (items, fn, limit = 8) => {
    let k = 0;
    await Promise.all(Array.from({ length: limit }, async () => { while (k < items.length) await fn(items[k++]); }));
  };
  // Probe accounts set their capability hash once (it is kept at rest).
  await eachLimited(probes, async (p) => {
    const c = await openWs(p);
    c.send(JSON.stringify({ type: 'presence-settings', capHash: p.capHash, visible: true, id: 'ps' }));
    const m = await c.waitFor((x) => x && (x.type === 'presence-saved' || x.type === 'error'), 5000);
    if (m.type !== 'presence-saved') throw new Error(`presence-settings of ${p.name}: ${JSON.stringify(m)}`);
    c.close();
  });
  const steady = [...pairs.flat(), echo];
  await eachLimited(steady, (u) => connectSteady(u, true));
  // Every capability hash is set: now each subscribes to its contacts (which makes them accepted).
  await Promise.all(steady.map(async (u) => {
    u.conn.send(subscribeMsg(u));
    await u.conn.waitFor((x) => x && x.type === 'presence', 5000);
  }));
  // Every contact must be relayable before the load starts.
  for (const [a, b] of pairs) {
    const key = `check${a.name}`;
    const ok = await new Promise((r) => { pending.set(key, { t0: performance.now(), phase: -1, kind: 'check', done: r }); a.conn.send(`{"type":"offer","to":"${b.name}","id":"r${key}","rt":"${key}","sdp":"${PAYLOAD}"}`); });
    if (!ok) throw new Error(`set-up: ${a.name} cannot relay to ${b.name}`);
  }
  const setupSecs = (performance.now() - tSetup) / 1000;

  // ---- normal load
  const timers = [];
  pairs.forEach(([a, b], i) => {
    let seq = 0;
    const start = setTimeout(() => {
      timers.push(setInterval(() => {
        if (stopping) return;
        const key = `p${i}:${seq++}`;
        const phase = current;
        if (!a.conn || !a.conn.open) { record('relay', phase, false, 0, 'sender disconnected'); return; }
        pending.set(key, { t0: performance.now(), phase, kind: 'relay' });
        a.conn.send(`{"type":"offer","to":"${b.name}","id":"r${key}","rt":"${key}","sdp":"${PAYLOAD}"}`);
      }, RELAY_EVERY_MS));
    }, Math.random() * RELAY_EVERY_MS);
    timers.push(start);
  });
  const probeLoop = async (k) => {
    const user = probes[k];
    let seq = 0;
    while (!stopping) {
      const phase = current;
      let conn;
      try {
        conn = await openWs(user);
        record('connect', phase, true, conn.ms);
      } catch (e) {
        record('connect', phase, false, e.ms || 0, e.why || e.message);
        await sleep(PROBE_PAUSE_MS);
        continue;
      }
      const key = `q${k}:${seq++}`;
      const t0 = performance.now();
      try {
        conn.send(subscribeMsg(user));
        await conn.waitFor((x) => x && x.type === 'presence', RELAY_TIMEOUT_MS);
        await new Promise((r) => {
          pending.set(key, { t0, phase, kind: 'probe-relay', done: r });
          conn.send(`{"type":"offer","to":"echo","id":"r${key}","rt":"${key}","sdp":"${PAYLOAD}"}`);
        });
      } catch (e) {
        record('probe-relay', phase, false, performance.now() - t0, `subscribe: ${e.message}`);
      }
      conn.close();
      await sleep(PROBE_PAUSE_MS);
    }
  };
  const loginLoop = async () => {
    let k = 0;
    while (!stopping) {
      const t0 = performance.now();
      const phase = current;
      const u = probes[k++ % PROBES];
      try {
        const r = await httpJson('POST', '/api/login', { username: u.name, password: u.password }, u.addr);
        if (r.status === 200) u.token = r.body.token;
        record('login', phase, r.status === 200, performance.now() - t0, r.status === 200 ? null : `${r.status} ${r.body?.error?.code || ''}`.trim());
      } catch (e) {
        record('login', phase, false, performance.now() - t0, e.code || e.message);
      }
      await sleep(Math.max(0, LOGIN_EVERY_MS - (performance.now() - t0)));
    }
  };
  const healthLoop = async () => {
    while (!stopping) {
      const t0 = performance.now();
      const phase = current;
      try {
        const r = await httpJson('GET', '/healthz', undefined, legitAddr(0));
        record('healthz', phase, r.status === 200, performance.now() - t0, r.status === 200 ? null : `${r.status}`);
      } catch (e) {
        record('healthz', phase, false, performance.now() - t0, e.code || e.message);
      }
      await sleep(Math.max(0, HEALTHZ_EVERY_MS - (performance.now() - t0)));
    }
  };
  const loops = [...Array.from({ length: PROBE_LOOPS }, (_, k) => probeLoop(k)), loginLoop(), healthLoop()];

  // ---- phases
  const ticks = () => { try { const v = readFileSync(`/proc/${srv.proc.pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(v[11]) + Number(v[12]); } catch { return NaN; } };
  const rssMiB = () => { try { return Number(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]) / 1024; } catch { return NaN; } };
  const readBytes = () => { try { return Number(readFileSync(`/proc/${srv.proc.pid}/io`, 'utf8').match(/rchar:\s+(\d+)/)[1]); } catch { return NaN; } };
  const phaseInfo = [];
  await sleep(2000); // the load settles
  for (let i = 0; i < phaseNames.length; i++) {
    const name = phaseNames[i];
    const info = { name, attacker: null };
    phaseInfo.push(info);
    legitErrors[i] = {};
    victimFlood[i] = 0;
    let child = null;
    if (!name.startsWith('quiet')) {
      // Started under nice(1), so that every thread of it runs at that priority.
      child = fork(SELF, ['--attack'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        ...(NICE && existsSync('/usr/bin/nice') ? { execPath: '/usr/bin/nice', execArgv: ['-n', String(NICE), process.execPath] } : {}) });
      children.add(child);
      attackIndex = i;
      child.send({ attack: name, port: PORT, origin: ORIGIN, users: atk, victim: victim.name, names: legit.map((u) => u.name),
        slotSockets: 1500, identityConcurrency: 32 });
      await new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', (c) => reject(new Error(`attacker ${name} exited ${c}`))); });
      await sleep(RAMP_MS);
    }
    const c0 = ticks();
    const r0 = readBytes();
    const t0 = performance.now();
    current = i;
    await sleep(SECS * 1000);
    current = -1;
    info.secs = (performance.now() - t0) / 1000;
    info.serverCpu = (ticks() - c0) / 100 / info.secs;
    info.readMiBs = (readBytes() - r0) / 1048576 / info.secs;
    info.rss = rssMiB();
    if (child) {
      info.attacker = await new Promise((resolve) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 10000);
        child.once('message', (m) => { clearTimeout(timer); resolve(m); });
        child.once('exit', () => { clearTimeout(timer); resolve(null); });
        child.send({ cmd: 'stop' });
      });
      await new Promise((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); else { child.once('exit', r); setTimeout(r, 3000); } });
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      children.delete(child);
      attackIndex = -1;
    }
    if (serverGone !== null) { console.error(`abuse: parley-server exited (${serverGone}) during ${name}`); break; }
    await sleep(COOL_MS);
  }

  // ---- stop the load; wait for what is still in flight (its outcome counts for its phase)
  stopping = true;
  for (const t of timers) { clearInterval(t); clearTimeout(t); }
  const tEnd = performance.now();
  while ((pending.size || inflight) && performance.now() - tEnd < HTTP_TIMEOUT_MS + 1000) await sleep(50);
  clearInterval(sweeper);
  for (const u of steady) if (u.conn) { u.conn.onClose = null; u.conn.ws.terminate(); }
  await Promise.race([Promise.all(loops), sleep(2000)]);
  const diedDuringRun = serverGone !== null;
  if (!diedDuringRun) await stop(srv.proc);
  const serverExit = srv.proc.exitCode ?? srv.proc.signalCode;
  clearTimeout(deadline);

  // ---- report
  const pct = (s, p) => (s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN);
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const rows = phaseInfo.map((info, i) => {
    const of = (kinds) => samples.filter((s) => s.phase === i && kinds.includes(s.kind));
    const rate = (ss) => (ss.length ? (100 * ss.filter((s) => s.ok).length) / ss.length : NaN);
    const reasons = (ss) => {
      const o = {};
      for (const s of ss) if (!s.ok) inc(o, s.why || '?');
      return Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ') || 'none';
    };
    const login = of(['login']);
    const health = of(['healthz']);
    const connect = of(['connect']);
    const relay = of(['relay', 'probe-relay']);
    const rtts = of(['relay']).filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
    const connMs = connect.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
    return { info, login, health, connect, relay, reasons, loginOk: rate(login), healthOk: rate(health), connectOk: rate(connect), relayOk: rate(relay),
      p50: pct(rtts, 50), p99: pct(rtts, 99), connP50: pct(connMs, 50), connP99: pct(connMs, 99), legitErrors: legitErrors[i], victimFlood: victimFlood[i] };
  });
  const quiet = rows.find((r) => r.info.name === 'quiet');
  const cpus = os.cpus();
  console.log(`Abuse benchmark: parley-server (native build) on 127.0.0.1; ${cpus.length} CPUs (${cpus[0]?.model?.trim() || '?'}), ${os.platform()} ${os.release()}, Node ${process.version}`);
  console.log(`server: ${bin.replace(ROOT, '')} ${serverArgs.join(' ').replace(dataDir, 'TMPDIR').replace(join(ROOT, 'web'), 'web')} (the rest its defaults)`);
  console.log(`load: ${PAIRS} pairs of contacts, one 200-byte round trip every ${RELAY_EVERY_MS} ms each (${(PAIRS * 2 * 1000) / RELAY_EVERY_MS} relayed msgs/s); ` +
    `${PROBE_LOOPS} probe loops (connect+auth, subscribe, relay to a contact, close; ${PROBE_PAUSE_MS} ms apart); a log-in every ${LOGIN_EVERY_MS / 1000} s; /healthz every ${HEALTHZ_EVERY_MS} ms; ` +
    `legitimate users from ${LEGIT_ADDRS === 1 ? '127.0.0.1' : `127.0.1.1-${LEGIT_ADDRS}`}`);
  console.log(`phases: ${SECS} s measured each after ${RAMP_MS / 1000} s of ramp-up, ${COOL_MS / 1000} s between; attackers in child processes at nice ${NICE}; ` +
    `set-up ${f(setupSecs)} s (sign-ups ${f(signupSecs)} s); a round trip fails after ${RELAY_TIMEOUT_MS / 1000} s, a connect or HTTP request after ${CONNECT_TIMEOUT_MS / 1000} s`);
  console.log('');
  const head = ['phase', 'log-in ok %', 'healthz ok %', 'connect ok %', 'relay ok %', 'relay p50', 'relay p99', 'p99 vs quiet', 'target'];
  const table = [head, ...rows.map((r) => {
    const ratio = quiet && r !== quiet ? r.p99 / quiet.p99 : NaN;
    const target = r.info.name.startsWith('quiet') ? '' : (r.connectOk >= 99 && r.relayOk >= 99 && ratio <= 2 ? 'met' : 'NOT met');
    return [r.info.name, f(r.loginOk), f(r.healthOk), f(r.connectOk), f(r.relayOk), `${f(r.p50, 2)} ms`, `${f(r.p99, 2)} ms`, r === quiet ? '1.00x' : `${f(ratio, 2)}x`, target];
  })];
  const widths = head.map((_, c) => Math.max(...table.map((row) => String(row[c]).length)));
  for (const row of table) console.log(row.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join('  ').trimEnd());
  console.log('');
  for (const r of rows) {
    console.log(`${r.info.name}: server CPU ${f(r.info.serverCpu, 2)} cores, read ${f(r.info.readMiBs)} MiB/s, RSS ${f(r.info.rss)} MiB; samples: log-in ${r.login.length}, healthz ${r.health.length}, connect ${r.connect.length} (p50 ${f(r.connP50, 1)} / p99 ${f(r.connP99, 1)} ms), relay ${r.relay.length}`);
    console.log(`  failed: log-in [${r.reasons(r.login)}]; healthz [${r.reasons(r.health)}]; connect [${r.reasons(r.connect)}]; relay [${r.reasons(r.relay)}]`);
    if (Object.keys(r.legitErrors).length) console.log(`  errors sent to legitimate clients: ${JSON.stringify(r.legitErrors)}`);
    if (r.info.name === 'reconnect-flood') console.log(`  the victim (${victim.name}) was sent ${r.victimFlood} of the attackers' messages while the attack ran`);
    const a = r.info.attacker;
    if (a) console.log(`  attacker (${f(a.secs)} s, ${f(a.cpuSecs / a.secs, 2)} cores): ${JSON.stringify(a.stats)}`);
  }
  console.log(`\nparley-server: ${diedDuringRun ? `EXITED DURING THE RUN (${serverExit})` : `stopped with SIGTERM after the run, exit ${serverExit}`}`);
  process.exit(0);
}
