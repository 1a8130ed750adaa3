// Calls benchmark (docs/PROTOCOL.md 12.17) with two headless Chromium instances (one per person,
// fake camera and microphone) against the real server on loopback. Prints figures; asserts
// nothing.
//   - call setup: the callee's Answer click to the first remote video frame decoded, on each side
//     (the later of the two is the call's), median of 10 video calls on the chat's link; timed
//     inside the pages on this machine's clock (performance.timeOrigin + performance.now()),
//     frames seen by polling getStats() every 5 ms. Beside it, in the same run, a raw
//     RTCPeerConnection pair in one page with the same fake media, signaled in-page: from the
//     start (both getUserMedia calls, as the app's two sides make) to the first frame decoded on
//     each side, median of 10.
//   - CPU per side of a 30 s video call (each browser's whole process tree, user + system time
//     from /proc) against a raw RTCPeerConnection pair between the same two browsers, with the
//     same fake media, for 30 s. The machine is shared: run it when it is quiet.
//   PARLEY_SERVER_BIN=... node bench/web/calls.mjs [seconds of the CPU runs, default 30]
import { readFileSync, readdirSync } from 'node:fs';
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';
import { connectPair, leave, person, signUp } from '../../tests/lib/people.mjs';

const seconds = Number(process.argv[2] || 30);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1)} ms`;
const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });

// ---- processes ---------------------------------------------------------------------------------
function procs() {
  const out = new Map(); // pid -> {ppid, ticks}
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
const children = (pid) => [...procs()].filter(([, p]) => p.ppid === pid).map(([k]) => k);
// CPU seconds so far of a process and all its descendants (clock ticks of 1/100 s).
function treeCpu(root) {
  const all = procs();
  let ticks = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    ticks += all.get(pid)?.ticks || 0;
    for (const [k, p] of all) if (p.ppid === pid) todo.push(k);
  }
  return ticks / 100;
}

async function personWithRoot(name) {
  const before = new Set(children(process.pid));
  const p = await person(server, uniqueName(name));
  const root = children(process.pid).find((pid) => !before.has(pid));
  await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await p.page.reload();
  await signUp(p);
  return { p, root };
}

const A = await personWithRoot('alice');
const B = await personWithRoot('bob');
const a = A.p;
const b = B.p;
await connectPair(a, b);

// ---- call setup --------------------------------------------------------------------------------
// In each page: the time of the Answer click, and of the first video frame decoded by the call.
const WATCH = () => {
  const now = () => performance.timeOrigin + performance.now();
  window.benchCall = { answer: 0, frame: 0 };
  if (!window.benchClick) {
    window.benchClick = true;
    document.addEventListener('click', (ev) => {
      if (ev.target?.textContent === 'Answer') window.benchCall.answer = now();
    }, true);
  }
  const poll = setInterval(async () => {
    const pc = globalThis.parleyTestHooks?.calls?.call?.negotiator?.pc;
    if (!pc) return;
    let frames = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0; });
    if (frames > 0 && !window.benchCall.frame) {
      window.benchCall.frame = now();
      clearInterval(poll);
    }
  }, 5);
};

const setups = [];
const callerSide = [];
const calleeSide = [];
for (let i = 0; i < 10; i += 1) {
  await Promise.all([a.page.evaluate(WATCH), b.page.evaluate(WATCH)]);
  await a.page.getByRole('button', { name: 'Video call', exact: true }).click();
  const incoming = b.page.getByRole('group', { name: `Incoming video call from ${a.name}` });
  await incoming.getByRole('button', { name: 'Answer' }).click();
  await Promise.all([a, b].map((p) => p.page.waitForFunction(() => window.benchCall.frame > 0, null, { timeout: 30000 })));
  const ta = await a.page.evaluate(() => window.benchCall);
  const tb = await b.page.evaluate(() => window.benchCall);
  callerSide.push(ta.frame - tb.answer);
  calleeSide.push(tb.frame - tb.answer);
  setups.push(Math.max(ta.frame, tb.frame) - tb.answer);
  await b.page.getByRole('region', { name: 'Call' }).getByRole('button', { name: 'Hang up' }).click();
  await Promise.all([a, b].map((p) => p.page.locator('#call-panel').waitFor({ state: 'hidden' })));
}

const rawSetups = await a.page.evaluate(async () => {
  const now = () => performance.timeOrigin + performance.now();
  const firstFrame = (pc) => new Promise((resolve) => {
    const poll = setInterval(async () => {
      let frames = 0;
      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0; });
      if (frames > 0) {
        clearInterval(poll);
        resolve(now());
      }
    }, 5);
  });
  const out = [];
  for (let i = 0; i < 10; i += 1) {
    const t0 = now();
    const [s1, s2] = await Promise.all([1, 2].map(() => navigator.mediaDevices.getUserMedia({ audio: true, video: true })));
    const pc1 = new RTCPeerConnection();
    const pc2 = new RTCPeerConnection();
    pc1.onicecandidate = (e) => { if (e.candidate) pc2.addIceCandidate(e.candidate); };
    pc2.onicecandidate = (e) => { if (e.candidate) pc1.addIceCandidate(e.candidate); };
    for (const t of s1.getTracks()) pc1.addTrack(t, s1);
    await pc1.setLocalDescription();
    await pc2.setRemoteDescription(pc1.localDescription);
    for (const t of s2.getTracks()) pc2.addTrack(t, s2);
    await pc2.setLocalDescription();
    await pc1.setRemoteDescription(pc2.localDescription);
    const [f1, f2] = await Promise.all([firstFrame(pc1), firstFrame(pc2)]);
    out.push(Math.max(f1, f2) - t0);
    pc1.close();
    pc2.close();
    for (const t of [...s1.getTracks(), ...s2.getTracks()]) t.stop();
  }
  return out;
});

console.log(`call setup, Answer to first remote video frame decoded (both sides): median ${ms(median(setups))} of 10`
  + ` (caller's side ${ms(median(callerSide))}, callee's ${ms(median(calleeSide))}; all: ${setups.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`raw RTCPeerConnection pair in one page, same fake media, signaled in-page, getUserMedia to first frame on both sides: median ${ms(median(rawSetups))} of 10`
  + ` (all: ${rawSetups.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`ratio app / raw: ${(median(setups) / median(rawSetups)).toFixed(2)}x (target at most 1.5x)`);

// ---- CPU over a call ---------------------------------------------------------------------------
async function cpuOver(run) {
  const before = [treeCpu(A.root), treeCpu(B.root)];
  await run();
  return [treeCpu(A.root) - before[0], treeCpu(B.root) - before[1]];
}

const idle = await cpuOver(() => new Promise((r) => { setTimeout(r, seconds * 1000); }));

await a.page.getByRole('button', { name: 'Video call', exact: true }).click();
await b.page.getByRole('group', { name: `Incoming video call from ${a.name}` }).getByRole('button', { name: 'Answer' }).click();
await b.page.getByRole('status').filter({ hasText: /^In call with/ }).waitFor();
const app = await cpuOver(() => new Promise((r) => { setTimeout(r, seconds * 1000); }));
await a.page.getByRole('region', { name: 'Call' }).getByRole('button', { name: 'Hang up' }).click();
await Promise.all([a, b].map((p) => p.page.locator('#call-panel').waitFor({ state: 'hidden' })));

// The raw pair between the same two pages, signaled through Node (setup is not measured here).
const start = (p) => p.page.evaluate(async () => {
  window.rawStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  window.rawPc = new RTCPeerConnection();
  window.rawCands = [];
  window.rawPc.onicecandidate = (e) => { if (e.candidate) window.rawCands.push(e.candidate.toJSON()); };
  // Rendered like the app's tiles: the remote video in an element.
  window.rawPc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    const v = document.createElement('video');
    v.muted = true;
    v.autoplay = true;
    v.srcObject = new MediaStream([e.track]);
    document.body.append(v);
  };
  for (const t of window.rawStream.getTracks()) window.rawPc.addTrack(t, window.rawStream);
});
await start(a);
await start(b);
const offer = await a.page.evaluate(async () => { await window.rawPc.setLocalDescription(); return window.rawPc.localDescription.toJSON(); });
const answer = await b.page.evaluate(async (o) => {
  await window.rawPc.setRemoteDescription(o);
  await window.rawPc.setLocalDescription();
  return window.rawPc.localDescription.toJSON();
}, offer);
await a.page.evaluate((d) => window.rawPc.setRemoteDescription(d), answer);
await new Promise((r) => { setTimeout(r, 500); });
const candsA = await a.page.evaluate(() => window.rawCands);
const candsB = await b.page.evaluate(() => window.rawCands);
await b.page.evaluate((cs) => Promise.all(cs.map((c) => window.rawPc.addIceCandidate(c))), candsA);
await a.page.evaluate((cs) => Promise.all(cs.map((c) => window.rawPc.addIceCandidate(c))), candsB);
await b.page.waitForFunction(() => window.rawPc.connectionState === 'connected', null, { timeout: 30000 });
const raw = await cpuOver(() => new Promise((r) => { setTimeout(r, seconds * 1000); }));
for (const p of [a, b]) await p.page.evaluate(() => { window.rawPc.close(); for (const t of window.rawStream.getTracks()) t.stop(); });

const pct = (x) => `${((x / seconds) * 100).toFixed(1)}% of a core`;
console.log(`CPU over ${seconds} s, whole browser per side (caller / callee): idle ${pct(idle[0])} / ${pct(idle[1])}; `
  + `app video call ${pct(app[0])} / ${pct(app[1])}; raw pair ${pct(raw[0])} / ${pct(raw[1])}`);

await Promise.all([leave(a), leave(b)]);
await server.stop();
