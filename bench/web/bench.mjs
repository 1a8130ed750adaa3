// Web app benchmark with two headless Chromium instances (one per person) against the real
// server on loopback. Prints figures; asserts nothing.
//   - page load to ready (wasm instantiated and self-tested), median of 10 cold loads
//   - bytes transferred for a cold load (as the browser counts them)
//   - raw RTCDataChannel between the same two browsers, median of 10, two ways: signaled by the
//     bench through Playwright (each step a round trip to Node), and signaled by in-page code
//     through the same parley-server WebSocket relay the app uses (no Playwright in the loop)
//   - connection setup: "Start chat" -> first message decrypted and shown on the other side,
//     median of 10, timed inside the pages on this machine's clock (performance.timeOrigin +
//     performance.now()): from the click event on A's Start chat to the moment B's transcript
//     shows the message. B's Accept is clicked by an in-page observer the moment it appears and
//     A's message is typed and sent by an in-page observer the moment the chat opens, so neither
//     waits for a Playwright round trip. The same flow driven step by step by Playwright (its
//     click waits for actionability, its waits poll) is printed beside it.
//   - message round trip (send -> encrypted receipt back), p50/p99 over 1000 messages
import { benchSignUp, roundTrips } from './signup.mjs';
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { newUser } from '../../tests/lib/api.mjs';
import { presenceCap } from '../../tests/lib/ws.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x) => `${x.toFixed(1)} ms`;

const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });
const browserA = await launchBrowser();
const browserB = await launchBrowser();

const signUp = (browser, name) => benchSignUp(openPage, browser, `${server.url}/`, name);

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
// (1) Signaled by the bench: every step is a Playwright evaluate (a round trip to Node), with the
// ICE candidates polled every few milliseconds. Timed in Node.
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

// (2) Signaled by in-page code through the parley-server relay (two accounts made over the API,
// each page holding one authenticated WebSocket), candidates trickled as they come. Timed in the
// pages: from A's new RTCPeerConnection to A's channel "open", and to B receiving the first
// message A sends on open.
const relay = async ({ token, peer }) => {
  window.raw = { peer, ws: new WebSocket(`ws://${location.host}/ws`) };
  const { ws } = window.raw;
  window.raw.send = (m) => ws.send(JSON.stringify({ ...m, to: peer }));
  await new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onerror = reject;
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'ready') resolve();
      else if (window.raw.on) window.raw.on(m);
    };
  });
};
const ua = await newUser(server.url, 'rawa');
const ub = await newUser(server.url, 'rawb');
await rawA.page.evaluate(relay, { token: ua.token, peer: ub.username });
await rawB.page.evaluate(relay, { token: ub.token, peer: ua.username });
// The server relays offers only between people who accepted each other (docs/API.md "Limits
// against abuse"): each page shows a presence capability and subscribes to the other's, as the
// messenger does, before the first offer.
const capA = presenceCap();
const capB = presenceCap();
// Both capabilities are saved before either subscribes (a subscription with a capability the
// server does not hold yet answers offline). In-page: send one message, wait for its answer.
const ask = ({ want, send }) => new Promise((resolve, reject) => {
  window.raw.on = (m) => {
    if (m.type === 'error') reject(new Error(JSON.stringify(m)));
    else if (m.type === want && (want !== 'presence' || m.user === window.raw.peer)) resolve();
  };
  const msg = send.type === 'subscribe' ? { type: 'subscribe', users: [{ user: window.raw.peer, cap: send.cap }] } : send;
  window.raw.ws.send(JSON.stringify(msg));
});
await Promise.all([
  rawA.page.evaluate(ask, { want: 'presence-saved', send: { type: 'presence-settings', capHash: capA.capHash, visible: true, id: 'ps' } }),
  rawB.page.evaluate(ask, { want: 'presence-saved', send: { type: 'presence-settings', capHash: capB.capHash, visible: true, id: 'ps' } }),
]);
await Promise.all([
  rawA.page.evaluate(ask, { want: 'presence', send: { type: 'subscribe', cap: capB.cap } }),
  rawB.page.evaluate(ask, { want: 'presence', send: { type: 'subscribe', cap: capA.cap } }),
]);
const rawOpen = [];
const rawFirst = [];
for (let i = 0; i < 10; i += 1) {
  const got = rawB.page.evaluate(() => new Promise((resolve) => {
    let pc;
    window.raw.on = async (m) => {
      if (m.type === 'offer') {
        pc = new RTCPeerConnection();
        window.raw.pc = pc;
        pc.onicecandidate = (e) => { if (e.candidate) window.raw.send({ type: 'ice', candidate: e.candidate.toJSON() }); };
        pc.ondatachannel = (e) => {
          e.channel.onmessage = () => resolve(performance.timeOrigin + performance.now());
        };
        await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        window.raw.send({ type: 'answer', sdp: pc.localDescription.sdp });
      } else if (m.type === 'ice') {
        pc.addIceCandidate(m.candidate);
      }
    };
  }));
  const a = await rawA.page.evaluate(() => new Promise((resolve) => {
    const t0 = performance.timeOrigin + performance.now();
    const pc = new RTCPeerConnection();
    window.raw.pc = pc;
    const dc = pc.createDataChannel('raw');
    dc.onopen = () => {
      const open = performance.timeOrigin + performance.now();
      dc.send('first');
      resolve({ t0, open });
    };
    pc.onicecandidate = (e) => { if (e.candidate) window.raw.send({ type: 'ice', candidate: e.candidate.toJSON() }); };
    window.raw.on = (m) => {
      if (m.type === 'answer') pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      else if (m.type === 'ice') pc.addIceCandidate(m.candidate);
    };
    pc.createOffer().then((o) => pc.setLocalDescription(o)).then(() => window.raw.send({ type: 'offer', sdp: pc.localDescription.sdp }));
  }));
  const b = await got;
  rawOpen.push(a.open - a.t0);
  rawFirst.push(b - a.t0);
  await rawA.page.evaluate(() => window.raw.pc.close());
  await rawB.page.evaluate(() => window.raw.pc.close());
}
await rawA.context.close();
await rawB.context.close();
console.log(`raw RTCDataChannel, signaled by the bench through Playwright (offer -> open, timed in Node): median ${ms(median(raw))}`);
console.log(`raw RTCDataChannel, signaled in-page through the parley-server relay (timed in the pages): offer -> open median ${ms(median(rawOpen))}, -> first message at the other side median ${ms(median(rawFirst))}`);

// ---- connection setup ------------------------------------------------------------------------
// (1) Timed in the pages, Accept and the first message by in-page observers (see the top).
const setups = [];
let last = null;
for (let i = 0; i < 10; i += 1) {
  const a = await signUp(browserA, `benchalice${i}`);
  const b = await signUp(browserB, `benchbob${i}`);
  const shown = b.page.evaluate(() => new Promise((resolve) => {
    const requests = document.getElementById('requests');
    const log = document.getElementById('transcript');
    new MutationObserver((_, mo) => {
      const btn = [...requests.querySelectorAll('button')].find((x) => x.textContent === 'Accept');
      if (btn) {
        mo.disconnect();
        btn.click();
      }
    }).observe(requests, { childList: true, subtree: true });
    new MutationObserver((_, mo) => {
      if (log.querySelector('li .text')) {
        mo.disconnect();
        resolve(performance.timeOrigin + performance.now());
      }
    }).observe(log, { childList: true, subtree: true });
  }));
  await a.page.evaluate(() => {
    const chat = document.getElementById('chat');
    const box = document.getElementById('message');
    new MutationObserver((_, mo) => {
      if (!chat.hidden && !box.disabled) {
        mo.disconnect();
        box.value = 'first';
        document.getElementById('composer').requestSubmit();
      }
    }).observe(chat, { attributes: true, subtree: true });
    window.clicked = new Promise((resolve) => {
      document.getElementById('start-chat').addEventListener('click',
        (ev) => resolve(performance.timeOrigin + ev.timeStamp), { capture: true, once: true });
    });
  });
  await a.page.getByLabel('Contact', { exact: true }).fill(`benchbob${i}`);
  await a.page.getByRole('button', { name: 'Start chat' }).click();
  const t0 = await a.page.evaluate(() => window.clicked);
  setups.push((await shown) - t0);
  if (last) {
    await last.a.context.close();
    await last.b.context.close();
  }
  last = { a, b };
}

// ---- round trips on the last pair ------------------------------------------------------------
{
  const { a } = last;
  await a.page.locator('#transcript .delivery[data-state="delivered"]').waitFor();
  const rtts = await roundTrips(a.page, 1000);
  console.log(`message round trip (send -> encrypted receipt), 1000 messages: p50 ${ms(pct(rtts, 0.5))}, p99 ${ms(pct(rtts, 0.99))}`);
  await last.a.context.close();
  await last.b.context.close();
}

// (2) The same flow driven by Playwright step by step, timed in Node (the bench's former way).
const driven = [];
for (let i = 0; i < 10; i += 1) {
  const a = await signUp(browserA, `drivenalice${i}`);
  const b = await signUp(browserB, `drivenbob${i}`);
  const accepted = b.page.getByRole('button', { name: 'Accept' }).click({ timeout: 30000 });
  const t0 = Date.now();
  await a.page.getByLabel('Contact', { exact: true }).fill(`drivenbob${i}`);
  await a.page.getByRole('button', { name: 'Start chat' }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('first');
  await a.page.getByRole('button', { name: 'Send' }).click();
  await accepted;
  await b.page.getByRole('log').getByRole('listitem').first().waitFor({ timeout: 30000 });
  driven.push(Date.now() - t0);
  await a.context.close();
  await b.context.close();
}

const setup = median(setups);
console.log(`connection setup (click on Start chat -> first message decrypted and shown by the peer, timed in the pages; Accept clicked and the message sent by in-page observers the moment they can be): median ${ms(setup)}, ${(setup / median(rawFirst)).toFixed(1)}x the raw channel signaled in-page to its first message at the other side (${ms(median(rawFirst))}; ${(setup / median(rawOpen)).toFixed(1)}x its offer -> open, ${ms(median(rawOpen))}), ${(setup / median(raw)).toFixed(1)}x the raw channel signaled by the bench (${ms(median(raw))})`);
console.log(`connection setup driven by Playwright (fill, click, click Accept, wait; timed in Node): median ${ms(median(driven))}`);

await browserA.close();
await browserB.close();
await server.stop();
