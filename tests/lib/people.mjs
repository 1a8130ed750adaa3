// Shared steps for end-to-end tests with real people: each person is one browser launch (or one
// persistent Chromium profile, for someone who closes the browser and comes back), with every
// HTTP request body and WebSocket frame of their pages recorded.
import { chromium } from 'playwright-core';
import { launchBrowser, openPage, screenshot, watch, CHROMIUM_ARGS } from './browser.mjs';
export { watch }; // the tests use it for extra tabs

export const WAIT = 20000;
export const PASSWORD = 'correct horse battery staple';

/** Records what a page sends and receives: request bodies and WebSocket frames. */
function record(person, page) {
  page.on('request', (req) => {
    person.requests.push({ url: req.url(), method: req.method(), body: req.postData() || '' });
  });
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => person.frames.push({ dir: 'sent', payload: String(f.payload) }));
    ws.on('framereceived', (f) => person.frames.push({ dir: 'received', payload: String(f.payload) }));
  });
  page.on('dialog', (d) => {
    person.dialogs.push({ type: d.type(), message: d.message() });
    if (person.acceptDialogs) d.accept().catch(() => {});
    else d.dismiss().catch(() => {});
  });
}

/**
 * A person with their own browser. With `profileDir`, Chromium keeps its storage in that folder
 * (launchPersistentContext), so the same person can close the browser and come back to it.
 */
export async function person(server, name, { password = PASSWORD, width = 1280, height = 800, profileDir } = {}) {
  const p = {
    name, password, requests: [], frames: [], dialogs: [], acceptDialogs: false, problems: [], warnings: [],
  };
  if (profileDir) {
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width, height },
    });
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url });
    const page = context.pages()[0] || await context.newPage();
    watch(page, p.problems, p.warnings);
    record(p, page);
    await page.goto(`${server.url}/`);
    Object.assign(p, { browser: null, context, page });
  } else {
    const browser = await launchBrowser();
    const { context, page, problems, warnings } = await openPage(browser, 'about:blank', { width, height });
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url });
    record(p, page);
    await page.goto(`${server.url}/`);
    Object.assign(p, { browser, context, page, problems, warnings });
  }
  return p;
}

/** Closes the person's browser (or persistent context); safe to call twice. */
export async function leave(p) {
  if (!p || p.closed) return;
  p.closed = true;
  try {
    if (p.browser) await p.browser.close();
    else await p.context.close();
  } catch {
    // already gone
  }
}

async function fillCredentials(page, name, password) {
  await page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
}

/** Waits for the messenger screen and an authenticated signaling connection. */
export async function waitForApp(page) {
  await page.locator('#app-screen').waitFor({ state: 'visible', timeout: WAIT });
  await page.waitForFunction(() => document.getElementById('connection').dataset.state === 'online',
    null, { timeout: WAIT });
}

export async function signUp(p) {
  await fillCredentials(p.page, p.name, p.password);
  await confirmSignUp(p.page, p.password);
  await waitForApp(p.page);
}

/** Sign up: the button asks for the password again (its second box), then signs up. */
export async function confirmSignUp(page, password) {
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByLabel('Type it again').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
}

export async function logIn(p, { password = p.password, expectApp = true } = {}) {
  await fillCredentials(p.page, p.name, password);
  await p.page.getByRole('button', { name: 'Log in' }).click();
  if (expectApp) await waitForApp(p.page);
}

/** Types a contact and presses Start chat; waits for the chat to open (pending or active). */
export async function startChat(p, other, { expectOpen = true } = {}) {
  await p.page.getByLabel('Contact').fill(other);
  await p.page.getByRole('button', { name: 'Start chat' }).click();
  if (expectOpen) {
    await p.page.waitForFunction((n) => document.getElementById('chat-name').textContent === n
      && !document.getElementById('chat').hidden, other, { timeout: WAIT });
  }
}

export function requestGroup(p, from) {
  return p.page.getByRole('group', { name: `Request from ${from}` });
}

export async function accept(p, from) {
  const group = requestGroup(p, from);
  await group.waitFor({ state: 'visible', timeout: WAIT });
  await group.getByRole('button', { name: 'Accept' }).click();
  await group.waitFor({ state: 'detached', timeout: WAIT });
}

export async function decline(p, from) {
  const group = requestGroup(p, from);
  await group.waitFor({ state: 'visible', timeout: WAIT });
  await group.getByRole('button', { name: 'Decline' }).click();
  await group.waitFor({ state: 'detached', timeout: WAIT });
}

/** Waits until the open chat says "connected, end-to-end encrypted". */
export async function waitConnected(page, timeout = 30000) {
  await page.waitForFunction(() => document.getElementById('chat-status').textContent.startsWith('connected'),
    null, { timeout });
}

/** Alice asks, Bob accepts; both have the chat open and connected. */
export async function connectPair(a, b) {
  await startChat(a, b.name);
  await accept(b, a.name);
  await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
}

/** Opens the chat with `other` from the contact list. */
export async function openChat(p, other) {
  const list = p.page.getByRole('list', { name: 'Conversations' });
  await list.getByRole('button').filter({ hasText: other }).first().click();
  await p.page.waitForFunction((n) => document.getElementById('chat-name').textContent === n
    && !document.getElementById('chat').hidden, other, { timeout: WAIT });
}

// The number of items of the open chat's transcript: those drawn, and the earlier messages it
// does not draw (transcript-view.js draws the latest ones; its "Show earlier messages" item says
// how many more there are). Evaluated in the page.
// (Functions, not strings: the page's CSP allows no eval.)
const count = () => document.querySelectorAll('#transcript > li:not(.earlier)').length
  + Number(document.querySelector('#transcript > li.earlier')?.dataset.more || 0);
const countAbove = (n) => document.querySelectorAll('#transcript > li:not(.earlier)').length
  + Number(document.querySelector('#transcript > li.earlier')?.dataset.more || 0) > n;

/** The open chat's transcript item whose text holds `text` (a locator). */
export function transcriptItem(p, text) {
  return p.page.getByRole('log').getByRole('listitem').filter({ has: p.page.locator('.text', { hasText: text }) });
}

/** Waits until no message text of the open chat's transcript holds `text` (deleted, expired). */
export async function noText(p, text, timeout = WAIT) {
  await p.page.waitForFunction((t) => ![...document.querySelectorAll('#transcript .text')].some((e) => e.textContent.includes(t)),
    text, { timeout });
}

/**
 * The "Message actions" toolbar of the transcript item whose text holds `text`: the item is
 * pointed at first, as the actions show only on the message pointed at or focused.
 */
export async function messageActions(p, text) {
  const li = transcriptItem(p, text);
  await li.hover();
  return li.getByRole('toolbar', { name: 'Message actions' });
}

/**
 * Types a message and sends it (Enter, or the Send button); waits until it shows in the
 * transcript. Newlines are typed with Shift+Enter when `via` is 'keyboard'.
 */
export async function send(p, text, { via = 'enter' } = {}) {
  const box = p.page.getByRole('textbox', { name: 'Message' });
  const before = await p.page.evaluate(count);
  if (via === 'keyboard') {
    await box.click();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i += 1) {
      if (i) await p.page.keyboard.press('Shift+Enter');
      await p.page.keyboard.insertText(lines[i]);
    }
    await box.press('Enter');
  } else {
    await box.fill(text);
    if (via === 'click') await p.page.getByRole('button', { name: 'Send', exact: true }).click();
    else await box.press('Enter');
  }
  await p.page.waitForFunction(countAbove, before, { timeout: WAIT }).catch(async (e) => {
    // What the page showed instead: the composer, the chat's status, the last items drawn.
    const shown = await p.page.evaluate(() => ({
      composer: document.getElementById('message')?.value,
      disabled: document.getElementById('message')?.disabled,
      status: document.getElementById('chat-status')?.textContent,
      banner: document.getElementById('banner-text')?.textContent,
      last: [...document.querySelectorAll('#transcript > li')].slice(-4).map((li) => li.textContent.slice(0, 80)),
    })).catch(String);
    throw new Error(`${p.name}: "${text.slice(0, 40)}" did not show in the transcript (${before} items before): ${JSON.stringify(shown)}`, { cause: e });
  });
}

/**
 * The open chat's transcript: [{ text, sender, state }] (state only for own messages), all of it
 * (earlier messages not drawn are drawn first, as "Show earlier messages" does).
 */
export function transcript(page) {
  return page.evaluate(() => {
    const earlier = () => document.querySelector('#transcript > li.earlier button');
    for (let b = earlier(); b; b = earlier()) b.click();
    return [...document.querySelectorAll('#transcript > li')].map((li) => ({
      text: li.querySelector('.text')?.textContent ?? null,
      sender: li.querySelector('.sender')?.textContent ?? null,
      state: li.querySelector('.delivery')?.dataset.state ?? null,
    }));
  });
}

/** Waits until the transcript has at least `n` messages and the last one has `text`. */
export async function waitForMessage(page, text, timeout = WAIT) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#transcript > li .text')]
    .some((e) => e.textContent === t), text, { timeout });
}

export async function waitForCount(page, n, timeout = WAIT) {
  await page.waitForFunction(countAbove, n - 1, { timeout });
}

/** Waits until every own message in the open chat is delivered. */
export async function waitAllDelivered(page, timeout = WAIT) {
  await page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')]
    .every((d) => d.dataset.state === 'delivered'), null, { timeout });
}

/**
 * Rolls `holder`'s session with `peer` back, as a restored backup would (test hooks
 * snapshotSession / restoreSession of repair.js; `key` names the session: the peer's name, or
 * NAME/DEVICE): a snapshot, two messages each way (the peer first: "before the rollback", "reply
 * before the rollback", then each again), and once the holder's read receipts have come, the
 * snapshot put back; the holder's session then lacks the ratchet keys of what the peer sends next.
 * - Two round trips, not one: a snapshot taken after the holder read a message but before anything
 *   of its went back (a receipt still waiting) already holds its next ratchet key, and after one
 *   round trip the peer's next message is still one that it reads.
 * - The holder's read receipts first: a read receipt goes up to 300 ms after the message is read
 *   (everyday.js READ_DELAY_MS), and one that left the holder after the rollback would be sealed by
 *   the old session, so that the peer, not the holder, would find a message it cannot decrypt.
 */
export async function rollBackSession(holder, peer, { key = peer.name, timeout = WAIT } = {}) {
  const hook = (fn) => holder.page.evaluate(([f, k]) => globalThis.parleyTestHooks[f](k).then(() => true, () => false), [fn, key]);
  await until(() => hook('snapshotSession'), { timeout, message: `a session of ${holder.name}'s with ${key}` });
  for (const again of ['', ', again']) {
    await send(peer, `before the rollback${again}`);
    await waitForMessage(holder.page, `before the rollback${again}`, timeout);
    await send(holder, `reply before the rollback${again}`);
    await waitForMessage(peer.page, `reply before the rollback${again}`, timeout);
  }
  // The peer's last message shows "read": the holder's receipts (and acknowledgements, sent before
  // them) have all come. (The peer's receipts may still be on their way: one the rolled-back
  // holder cannot read is a failure on the holder's side, where the test expects it.)
  await transcriptItem(peer, /^before the rollback, again$/).locator('.read-state').waitFor({ timeout });
  if (!(await hook('restoreSession'))) throw new Error(`the session of ${holder.name}'s with ${key} was not put back`);
}

/** A's transcript as B should see it: A's "You" becomes A's name, B's name becomes "You". */
export function mirrored(list, me, peer) {
  return list.map((m) => ({ text: m.text, sender: m.sender === 'You' ? me : (m.sender === peer ? 'You' : `?${m.sender}`) }));
}

export function texts(list) {
  return list.map((m) => ({ text: m.text, sender: m.sender }));
}

/** Screenshots at desktop and phone size, restoring the viewport afterwards. */
export async function shots(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(size);
}

/** Polls `fn` until it returns a truthy value (for state outside the page). */
export async function until(fn, { timeout = WAIT, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
