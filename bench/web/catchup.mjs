// Catch-up from the mailbox: a recipient with 1,000 envelopes waiting logs in; how long until all
// are opened, decrypted, stored in the vault and shown. Two headless Chromium instances against
// the real server on loopback. Prints figures; asserts nothing.
//
// Alice and Bob chat; Bob leaves; Alice types N messages (they go sealed to Bob's mailbox) and
// leaves; Bob logs in. Timed inside Bob's page on its clock (performance.now()): from the
// signaling connection's `ready` (the server starts sending mail right after it) to the moment
// the conversation list shows N unread messages from Alice (every batch is stored before it is
// shown and before the server is told to delete it), then to N messages drawn in the open chat.
// Runs twice by default (BENCH_ROUNDS) with BENCH_MESSAGES messages (default 1000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { chromium } from 'playwright-core';
import { uniqueName } from '../../tests/lib/api.mjs';

const N = Number(process.env.BENCH_MESSAGES || 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });

// Records, in the page, when the signaling connection says ready and when the first mail comes.
const TIMING = () => {
  const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    set(fn) {
      onmessage.set.call(this, (ev) => {
        if (typeof ev.data === 'string') {
          if (window.benchReady === undefined && ev.data.includes('"type":"ready"')) window.benchReady = performance.now();
          if (window.benchMail === undefined && ev.data.includes('"type":"mail"')) window.benchMail = performance.now();
        }
        return fn.call(this, ev);
      });
    },
    get() { return onmessage.get.call(this); },
  });
};

async function logIn(page, name, signup) {
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(`password of ${name}`);
  await page.getByRole('button', { name: signup ? 'Sign up' : 'Log in' }).click();
  if (signup) {
    await page.getByLabel('Type it again').fill(`password of ${name}`); // sign-up asks twice
    await page.getByRole('button', { name: 'Sign up' }).click();
  }
  await page.locator('#connection[data-state="online"]').waitFor({ timeout: 60000 });
}

async function persistent(dir) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
    headless: true,
  });
  await context.addInitScript(TIMING);
  const page = context.pages()[0] || await context.newPage();
  await page.goto(`${server.url}/`);
  return { context, page };
}

const results = [];
const browserA = await launchBrowser();
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    const profile = mkdtempSync(join(tmpdir(), 'parley-bench-'));
    const aName = uniqueName('alice');
    const bName = uniqueName('bob');
    try {
      const a = await openPage(browserA, `${server.url}/`);
      let b = await persistent(profile);
      await Promise.all([logIn(a.page, aName, true), logIn(b.page, bName, true)]);
      await a.page.getByLabel('Contact').fill(bName);
      await a.page.getByRole('button', { name: 'Start chat' }).click();
      const request = b.page.getByRole('group', { name: `Request from ${aName}` });
      await request.getByRole('button', { name: 'Accept' }).click();
      await a.page.waitForFunction(() => document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: 60000 });
      await b.context.close();
      await a.page.waitForFunction(() => !document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: 60000 });

      // Alice writes N messages, one after the other through the composer, in the page.
      const t0 = Date.now();
      await a.page.evaluate(async (n) => {
        const box = document.getElementById('message');
        const form = document.getElementById('composer');
        const list = document.getElementById('transcript');
        // The transcript draws its latest messages only (transcript-view.js): a message is taken
        // once the last item is it.
        const last = () => list.lastElementChild?.querySelector('.text')?.textContent;
        for (let i = 0; i < n; i += 1) {
          const text = `catch-up message ${i} ${'·'.repeat(i % 40)}`;
          box.value = text;
          const t0 = performance.now();
          // The page takes one send at a time (the box is emptied when it takes it): submit
          // again until it does.
          form.requestSubmit();
          while (box.value !== '') {
            if (performance.now() - t0 > 30000) throw new Error(`message ${i} was not taken`);
            await new Promise((r) => setTimeout(r, 1));
            form.requestSubmit();
          }
          while (last() !== text) {
            if (performance.now() - t0 > 30000) {
              throw new Error(`message ${i} was not taken: "${document.getElementById('chat-status').textContent}", banner "${document.getElementById('banner-text').textContent}", box "${box.value.slice(0, 40)}"`);
            }
            await new Promise((r) => setTimeout(r, 1));
          }
        }
      }, N);
      await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].every((d) => d.dataset.state === 'sent'),
        null, { timeout: 300000, polling: 200 });
      const mailed = Date.now() - t0;
      await a.context.close();

      // Bob comes back.
      b = await persistent(profile);
      await logIn(b.page, bName, false);
      const shown = await b.page.evaluate(async ({ n, peer }) => {
        const unread = () => Number(document.querySelector('#contacts .unread')?.textContent || 0);
        while (unread() < n) await new Promise((r) => setTimeout(r, 2));
        const listed = performance.now();
        document.querySelector(`#contacts .contact[data-name="${peer}"]`).click();
        while (document.querySelectorAll('#transcript li').length < n + 0) await new Promise((r) => setTimeout(r, 2));
        const drawn = performance.now();
        return { ready: window.benchReady, firstMail: window.benchMail, listed, drawn };
      }, { n: N, peer: aName });
      results.push({ mailed, ...shown });
      console.log(`round ${round + 1}: ${N} messages mailed by alice in ${(mailed / 1000).toFixed(1)} s; bob: ready -> first mail ${(shown.firstMail - shown.ready).toFixed(0)} ms, -> all ${N} stored and listed ${(shown.listed - shown.ready).toFixed(0)} ms, -> drawn in the open chat ${(shown.drawn - shown.ready).toFixed(0)} ms`);
      await b.context.close();
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  }
} finally {
  await browserA.close();
  await server.stop();
}
const best = Math.min(...results.map((r) => r.listed - r.ready));
console.log(`catch-up of ${N} envelopes (ready -> all decrypted, stored and listed): best ${best.toFixed(0)} ms of ${results.length} (target: under 1500 ms)`);
