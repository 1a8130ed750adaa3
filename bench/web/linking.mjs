// Linking a device with a long history: how long from the code entered on the old device to the
// history shown on the new one. Two headless Chromium instances against the real server on
// loopback. Prints figures; asserts nothing.
//
// Alice (browser A) and Bob chat; A's stored history with Bob is replaced by BENCH_MESSAGES made-up
// messages (default 10,000) through a test hook (devices-view.js, parleyLinkHooks.fillHistory);
// Alice logs in on browser B, which shows its code; A enters it, and confirms as soon as the check
// number shows. Timed from the Continue press on A to B's open chat with Bob showing the last
// message. Runs BENCH_ROUNDS times (default 2).
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';

const N = Number(process.env.BENCH_MESSAGES || 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const WAIT = 40000;
const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });

async function logIn(page, name, signup, app = true) {
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(`password of ${name}`);
  await page.getByRole('button', { name: signup ? 'Sign up' : 'Log in' }).click();
  if (signup) {
    await page.getByLabel('Type it again').fill(`password of ${name}`); // sign-up asks twice
    await page.getByRole('button', { name: 'Sign up' }).click();
  }
  if (app) await page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
}

const results = [];
const browser = await launchBrowser();
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    const aName = uniqueName('alice');
    const bobName = uniqueName('bob');
    const a = await openPage(browser, `${server.url}/`);
    const bob = await openPage(browser, `${server.url}/`);
    const b = await openPage(browser, `${server.url}/`);
    try {
      await a.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
      await a.page.reload();
      await Promise.all([logIn(a.page, aName, true), logIn(bob.page, bobName, true)]);
      await a.page.getByLabel('Contact').fill(bobName);
      await a.page.getByRole('button', { name: 'Start chat' }).click();
      await bob.page.getByRole('group', { name: `Request from ${aName}` }).getByRole('button', { name: 'Accept' }).click();
      await a.page.waitForFunction(() => document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: WAIT });
      const last = await a.page.evaluate(([name, n]) => globalThis.parleyLinkHooks.fillHistory(name, n), [bobName, N]);

      await logIn(b.page, aName, false, false);
      await b.page.getByRole('button', { name: 'Link this device' }).click();
      await b.page.getByText('Waiting for your other device').waitFor({ timeout: WAIT });
      const code = await b.page.locator('#link-code').textContent();

      await a.page.getByRole('button', { name: 'Devices', exact: true }).click();
      await a.page.getByRole('button', { name: 'Link a new device' }).click();
      await a.page.getByLabel('Code shown on the new device').fill(code);
      const t0 = Date.now();
      await a.page.getByRole('button', { name: 'Continue' }).click();
      await a.page.locator('#link-confirm-fingerprint').waitFor({ state: 'visible', timeout: WAIT });
      const confirmShown = Date.now() - t0;
      await a.page.getByRole('button', { name: 'Confirm' }).click();
      await b.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT }).catch(async (e) => {
        const say = (p, ids) => p.evaluate((l) => l.map((id) => `${id}: ${document.getElementById(id)?.textContent}`).join(' | '), ids);
        console.log(await say(a.page, ['devices-status', 'devices-error']), '\n', await say(b.page, ['link-status', 'link-error', 'auth-error']));
        throw e;
      });
      const inApp = Date.now() - t0;
      await b.page.locator(`#contacts .contact[data-name="${bobName}"]`).click();
      await b.page.waitForFunction((t) => [...document.querySelectorAll('#transcript li .text')].some((e) => e.textContent === t),
        last, { timeout: WAIT, polling: 50 });
      const shown = Date.now() - t0;
      const items = await b.page.evaluate(() => document.querySelectorAll('#transcript li').length);
      const status = await a.page.locator('#devices-status').textContent();
      results.push({ round, messages: N, confirmShownMs: confirmShown, newDeviceInAppMs: inApp, historyShownMs: shown, itemsDrawn: items, oldDevice: status });
      console.log(JSON.stringify(results.at(-1)));
    } finally {
      await a.context.close();
      await bob.context.close();
      await b.context.close();
    }
  }
} finally {
  await browser.close();
  await server.stop();
}
const ms = results.map((r) => r.historyShownMs).sort((x, y) => x - y);
console.log(`linking with ${N} messages of history: code entered to history shown on the new device in ${ms.join(', ')} ms (median ${ms[Math.floor(ms.length / 2)]} ms)`);
