// Through a TURN relay (a real coturn, started by scripts/coturn.sh) beside direct, in one run.
// Prints figures; asserts nothing. Needs root (one more loopback address for the relay).
//   - data channel throughput: 32 MiB in 64 KiB messages, flow-controlled on bufferedAmount, MB/s
//   - data channel round trip: 1000 pings of 32 bytes, p50/p99
//   - data channel setup: createOffer to both channels open, median of 5
//     (the first three on two RTCPeerConnections in one page: direct uses host candidates, relayed
//     uses iceTransportPolicy "relay" on both, with a credential parley-server issued)
//   - chat setup through the app: Accept clicked to both pages "connected", median of 5, direct
//     and with "Hide my IP address" on both sides (every link over the relay)
//   node bench/web/turn.mjs
import { execFileSync } from 'node:child_process';
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { newUser } from '../../tests/lib/api.mjs';
import { startCoturn } from '../../tests/lib/turn.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const RELAY_IP = `10.215.${process.pid % 250}.2`;
const ip = (...args) => execFileSync('ip', args, { stdio: 'ignore' });
ip('addr', 'add', `${RELAY_IP}/32`, 'dev', 'lo');
const coturn = await startCoturn({ listen: [RELAY_IP] });
const server = await startServer({
  args: ['--turn', coturn.urls()[0], '--turn-secret-file', coturn.secretFile],
  env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` },
});
const browser = await launchBrowser();

try {
  // ---- raw data channels: direct beside relayed -----------------------------------------------
  const user = await newUser(server.url, 'bench');
  const config = await (await fetch(`${server.url}/api/config`, { headers: { Authorization: `Bearer ${user.token}` } })).json();
  const { page } = await openPage(browser, `${server.url}/`);
  const rows = [];
  for (const [label, relay] of [['direct', false], ['relayed (TURN)', true]]) {
    const r = await page.evaluate(async ({ iceServers, relay: onlyRelay }) => {
      const cfg = onlyRelay ? { iceServers, iceTransportPolicy: 'relay' } : {};
      const connect = async () => {
        const t0 = performance.now();
        const a = new RTCPeerConnection(cfg);
        const b = new RTCPeerConnection(cfg);
        a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
        b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
        const da = a.createDataChannel('bench', { ordered: true });
        const gotB = new Promise((res) => { b.ondatachannel = (e) => res(e.channel); });
        await a.setLocalDescription(await a.createOffer());
        await b.setRemoteDescription(a.localDescription);
        await b.setLocalDescription(await b.createAnswer());
        await a.setRemoteDescription(b.localDescription);
        const db = await gotB;
        await Promise.all([da, db].map((c) => (c.readyState === 'open' ? null : new Promise((res) => { c.onopen = res; }))));
        const stats = await a.getStats();
        let type = '?';
        stats.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId) {
            const pair = stats.get(s.selectedCandidatePairId);
            type = `${stats.get(pair.localCandidateId).candidateType}/${stats.get(pair.remoteCandidateId).candidateType}`;
          }
        });
        da.binaryType = 'arraybuffer';
        db.binaryType = 'arraybuffer';
        return { a, b, da, db, setup: performance.now() - t0, type };
      };
      // Each setup on new connections; the earlier ones are left open until the end (closing a
      // relayed RTCPeerConnection while the next one allocates has crashed this Chromium).
      const setups = [];
      const links = [];
      // Five: coturn.sh lets one credential hold 12 allocations (two per setup here).
      for (let i = 0; i < 5; i += 1) {
        links.push(await connect());
        setups.push(links[i].setup);
      }
      const link = links[links.length - 1];
      const { da, db } = link;
      // Throughput: 32 MiB in 64 KiB messages, at most 4 MiB buffered.
      const chunk = new Uint8Array(65536);
      const total = 512;
      let got = 0;
      const done = new Promise((res) => {
        db.onmessage = (e) => {
          got += 1;
          if (got === total) res();
        };
      });
      da.bufferedAmountLowThreshold = 1 << 20;
      const t0 = performance.now();
      for (let i = 0; i < total; i += 1) {
        if (da.bufferedAmount > 4 << 20) await new Promise((res) => { da.onbufferedamountlow = res; });
        da.send(chunk);
      }
      await done;
      const mbps = (total * 65536) / 1e6 / ((performance.now() - t0) / 1000);
      // Round trips: 1000 pings of 32 bytes, one at a time.
      db.onmessage = (e) => db.send(e.data);
      const rtts = [];
      const ping = new Uint8Array(32);
      for (let i = 0; i < 1000; i += 1) {
        const t = performance.now();
        await new Promise((res) => {
          da.onmessage = res;
          da.send(ping);
        });
        rtts.push(performance.now() - t);
      }
      return { setups, mbps, rtts, type: link.type };
    }, { iceServers: config.iceServers, relay });
    rows.push({ label, ...r });
  }
  for (const r of rows) {
    console.log(`${r.label.padEnd(16)} pair ${r.type.padEnd(11)} throughput ${r.mbps.toFixed(1)} MB/s, round trip p50 ${pct(r.rtts, 0.5).toFixed(2)} ms p99 ${pct(r.rtts, 0.99).toFixed(2)} ms, channel setup median ${median(r.setups).toFixed(1)} ms of 5`);
  }
  console.log(`relayed / direct: throughput ${(rows[1].mbps / rows[0].mbps).toFixed(2)}x, round trip p50 ${(pct(rows[1].rtts, 0.5) / pct(rows[0].rtts, 0.5)).toFixed(2)}x, setup ${(median(rows[1].setups) / median(rows[0].setups)).toFixed(2)}x`);

  // ---- chat setup through the app ----------------------------------------------------------------
  const person = async (name, hide) => {
    const p = await openPage(browser, `${server.url}/`);
    await p.page.getByLabel('Username').fill(name);
    await p.page.getByLabel('Password').fill(`password of ${name}`);
    await p.page.getByRole('button', { name: 'Sign up' }).click();
    await p.page.getByLabel('Type it again').fill(`password of ${name}`); // sign-up asks twice
    await p.page.getByRole('button', { name: 'Sign up' }).click();
    await p.page.locator('#connection[data-state="online"]').waitFor();
    if (hide) {
      await p.page.getByRole('switch', { name: 'Hide my IP address' }).check();
      await p.page.waitForFunction(() => !document.getElementById('hide-ip').disabled);
    }
    return p;
  };
  for (const [label, hide] of [['direct', false], ['relayed (TURN)', true]]) {
    const times = [];
    for (let i = 0; i < 5; i += 1) {
      const tag = `${Date.now() % 100000}${i}${hide ? 'r' : 'd'}`;
      const a = await person(`ta${tag}`, hide);
      const b = await person(`tb${tag}`, hide);
      await a.page.getByLabel('Contact', { exact: true }).fill(`tb${tag}`);
      await a.page.getByRole('button', { name: 'Start chat' }).click();
      const group = b.page.getByRole('group', { name: `Request from ta${tag}` });
      await group.waitFor();
      const t0 = Date.now();
      await group.getByRole('button', { name: 'Accept' }).click();
      await Promise.all([a, b].map((p) => p.page.waitForFunction(() => document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: 60000 })));
      times.push(Date.now() - t0);
      await a.context.close();
      await b.context.close();
    }
    console.log(`chat setup ${label.padEnd(16)} Accept to both connected: median ${median(times)} ms of 5 (${times.join(', ')})`);
  }
} finally {
  await browser.close();
  await server.stop();
  await coturn.stop();
  ip('addr', 'del', `${RELAY_IP}/32`, 'dev', 'lo');
}
