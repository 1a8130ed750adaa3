// Web app benchmark with two headless Chromium instances (one per person) against the real
// server on loopback. Prints figures; asserts nothing.
//   - page load to ready (wasm instantiated and self-tested), median of 10 cold loads
//   - bytes transferred for a cold load (as the browser counts them)
//   - connection setup: "Start chat" -> first message decrypted on the other side (the other
//     side's Accept is clicked as soon as it shows), median of 10, beside a raw RTCDataChannel
//     between the same two browsers (offer -> channel open), median of 10
//   - message round trip (send -> encrypted receipt back), p50/p99 over 1000 messages
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x) => `${x.toFixed(1)} ms`;

const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });
const browserA = await launchBrowser();
const browserB = await launchBrowser();

async function signUp(browser, name) {
  const p = await openPage(browser, `${server.url}/`);
  await p.page.getByLabel('Username').fill(name);
  await p.page.getByLabel('Password').fill(`password of ${name}`);
  await p.page.getByRole('button', { name: 'Sign up' }).click();
  await p.page.getByLabel('Contact', { exact: true }).waitFor();
  await p.page.locator('#connection[data-state="online"]').waitFor();
  return p;
}

// ---- page load -------------------------------------------------------------------------------
const loads = [];
let bytes = 0;
for (let i = 0; i < 10; i += 1) {
  const { context, page } = await openPage(browserA, `${server.url}/`);
  await page.locator('#selftest[data-state="pass"]').waitFor({ state: 'attached' });
  const r = await page.evaluate(() => {
    const ready = performance.getEntriesByName('parley-ready')[0].startTime;
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    return { ready, bytes: nav.transferSize + res.reduce((n, e) => n + e.transferSize, 0), files: res.length + 1 };
  });
  loads.push(r.ready);
  bytes = r.bytes;
  await context.close();
}
console.log(`page load to ready (wasm instantiated, self-test passed): median ${ms(median(loads))} of 10 cold loads`);
console.log(`cold load transfer: ${(bytes / 1024).toFixed(1)} KiB`);

// ---- raw data channel ------------------------------------------------------------------------
const rawA = await openPage(browserA, `${server.url}/`);
const rawB = await openPage(browserB, `${server.url}/`);
const raw = [];
for (let i = 0; i < 10; i += 1) {
  const t0 = Date.now();
  const offer = await rawA.page.evaluate(async () => {
    window.pc = new RTCPeerConnection();
    window.dc = window.pc.createDataChannel('raw');
    window.opened = new Promise((r) => { window.dc.onopen = r; });
    window.pc.onicecandidate = (e) => { if (e.candidate) (window.cands ||= []).push(e.candidate.toJSON()); };
    await window.pc.setLocalDescription(await window.pc.createOffer());
    await new Promise((r) => setTimeout(r, 0));
    return window.pc.localDescription.sdp;
  });
  const answer = await rawB.page.evaluate(async (sdp) => {
    window.pc = new RTCPeerConnection();
    window.opened = new Promise((r) => { window.pc.ondatachannel = (e) => { e.channel.onopen = r; }; });
    window.pc.onicecandidate = (e) => { if (e.candidate) (window.cands ||= []).push(e.candidate.toJSON()); };
    await window.pc.setRemoteDescription({ type: 'offer', sdp });
    await window.pc.setLocalDescription(await window.pc.createAnswer());
    return window.pc.localDescription.sdp;
  }, offer);
  await rawA.page.evaluate((sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  // Trickle the candidates both ways until the channel opens.
  for (let k = 0; k < 50; k += 1) {
    const ca = await rawA.page.evaluate(() => (window.cands || []).splice(0));
    const cb = await rawB.page.evaluate(() => (window.cands || []).splice(0));
    await rawB.page.evaluate((cs) => Promise.all(cs.map((c) => window.pc.addIceCandidate(c))), ca);
    await rawA.page.evaluate((cs) => Promise.all(cs.map((c) => window.pc.addIceCandidate(c))), cb);
    const open = await rawA.page.evaluate(() => window.dc.readyState === 'open');
    if (open) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await rawA.page.evaluate(() => window.opened);
  raw.push(Date.now() - t0);
  await rawA.page.evaluate(() => window.pc.close());
  await rawB.page.evaluate(() => window.pc.close());
}
await rawA.context.close();
await rawB.context.close();
console.log(`raw RTCDataChannel between the two browsers (offer -> open, signaling by the bench): median ${ms(median(raw))}`);

// ---- connection setup ------------------------------------------------------------------------
const setups = [];
for (let i = 0; i < 10; i += 1) {
  const a = await signUp(browserA, `benchalice${i}`);
  const b = await signUp(browserB, `benchbob${i}`);
  const accepted = b.page.getByRole('button', { name: 'Accept' }).click({ timeout: 30000 });
  const t0 = Date.now();
  await a.page.getByLabel('Contact', { exact: true }).fill(`benchbob${i}`);
  await a.page.getByRole('button', { name: 'Start chat' }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('first');
  await a.page.getByRole('button', { name: 'Send' }).click();
  await accepted;
  await b.page.getByRole('log').getByRole('listitem').first().waitFor({ timeout: 30000 });
  setups.push(Date.now() - t0);
  if (i < 9) {
    await a.context.close();
    await b.context.close();
  } else {
    // ---- round trips on the last pair --------------------------------------------------------
    const rtts = await a.page.evaluate(async (count) => {
      const box = document.getElementById('message');
      const form = document.getElementById('composer');
      const log = document.getElementById('transcript');
      const out = [];
      for (let k = 0; k < count; k += 1) {
        const t = performance.now();
        box.value = `round trip ${k}`;
        form.requestSubmit();
        await new Promise((resolve) => {
          const done = () => {
            const last = log.lastElementChild;
            return last && last.querySelector('.text').textContent === `round trip ${k}` &&
              last.querySelector('.delivery')?.dataset.state === 'delivered';
          };
          if (done()) { resolve(); return; }
          const mo = new MutationObserver(() => { if (done()) { mo.disconnect(); resolve(); } });
          mo.observe(log, { childList: true, subtree: true, attributes: true });
        });
        out.push(performance.now() - t);
      }
      return out;
    }, 1000);
    console.log(`message round trip (send -> encrypted receipt), 1000 messages: p50 ${ms(pct(rtts, 0.5))}, p99 ${ms(pct(rtts, 0.99))}`);
  }
}
console.log(`connection setup (Start chat -> first message decrypted by the peer, Accept clicked by the bench): median ${ms(median(setups))} (${(median(setups) / median(raw)).toFixed(1)}x the raw channel)`);

await browserA.close();
await browserB.close();
await server.stop();
