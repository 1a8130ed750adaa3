// Notifications (issue 15 item 3): permission asked only from "Enable notifications"; with the tab
// hidden, one notification per message and per chat request, naming the sender only unless "Show
// message text in notifications" is on; nothing while the tab is in view; the switch is kept.
// The browser's Notification is the real one, wrapped to record what the page shows; the tab's
// visibility is set by the test (a headless page is always "visible").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, connectPair, leave, logIn, openChat, person, requestGroup, send, signUp, startChat, until,
} from '../lib/people.mjs';

const server = serverForTests();

function recordNotifications() {
  window.parleyTestNotes = [];
  window.parleyTestAsked = 0;
  window.parleyTestHidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.parleyTestHidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.parleyTestHidden });
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) {
      window.parleyTestNotes.push({ title, body: options?.body ?? null });
      super(title, options);
    }
  }
  Recorded.requestPermission = (...args) => {
    window.parleyTestAsked += 1;
    return Real.requestPermission(...args);
  };
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  window.Notification = Recorded;
}

async function setHidden(p, hidden) {
  await p.page.evaluate((h) => {
    window.parleyTestHidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

const notes = (p) => p.page.evaluate(() => window.parleyTestNotes);

async function waitNotes(p, n) {
  await until(async () => (await notes(p)).length >= n, { timeout: WAIT, message: `${n} notifications on ${p.name}'s page` });
  return notes(p);
}

test('notifications: asked from the button only; hidden tab: one per message and request, sender only by default, text when switched on', { timeout: 240000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  const c = await person(server, uniqueName('carol'));
  try {
    await a.context.addInitScript(recordNotifications);
    await a.page.reload();
    await Promise.all([signUp(a), signUp(b), signUp(c)]);
    await a.page.getByText('Notifications', { exact: true }).click(); // the settings' group
    const enable = a.page.getByRole('button', { name: 'Enable notifications' });
    await enable.waitFor({ timeout: WAIT });
    assert.equal(await a.page.evaluate(() => window.parleyTestAsked), 0, 'not asked on load');
    await a.context.grantPermissions(['notifications'], { origin: server.url });
    await enable.click();
    await enable.waitFor({ state: 'hidden', timeout: WAIT });
    assert.equal(await a.page.evaluate(() => window.parleyTestAsked), 1);
    await a.page.getByText('Notifications are on while this tab is in the background.').waitFor({ timeout: WAIT });

    // A request while the tab is hidden.
    await setHidden(a, true);
    await startChat(c, a.name);
    assert.deepEqual(await waitNotes(a, 1), [{ title: 'Parley', body: `${c.name} wants to chat with you` }]);
    await setHidden(a, false);
    await requestGroup(a, c.name).waitFor({ timeout: WAIT });

    // Messages: one each, the sender only.
    await connectPair(b, a);
    await setHidden(a, true);
    await send(b, 'the secret plan');
    await send(b, 'and a second');
    const two = (await waitNotes(a, 3)).slice(1);
    assert.deepEqual(two, [
      { title: 'Parley', body: `New message from ${b.name}` },
      { title: 'Parley', body: `New message from ${b.name}` },
    ]);
    // With the text switched on (kept across a reload).
    await setHidden(a, false);
    await a.page.getByRole('switch', { name: 'Show message text in notifications' }).check();
    // The switch stays busy (disabled) until the sealed setting is written; a reload waits for that.
    await a.page.waitForFunction(() => !document.getElementById('notify-text').hasAttribute('aria-busy'), null, { timeout: WAIT });
    await a.page.reload();
    await logIn(a);
    await a.page.getByText('Notifications', { exact: true }).click();
    assert.equal(await a.page.getByRole('switch', { name: 'Show message text in notifications' }).isChecked(), true);
    await setHidden(a, true);
    await send(b, 'lunch at noon?');
    const shown = await waitNotes(a, 1); // the reload began a new record
    assert.deepEqual(shown, [{ title: 'Parley', body: `${b.name}: lunch at noon?` }]);
    // In view: nothing.
    await setHidden(a, false);
    await openChat(a, b.name);
    await send(b, 'seen in the tab');
    await a.page.locator('#transcript').getByText('seen in the tab').waitFor({ timeout: WAIT });
    assert.equal((await notes(a)).length, 1);
    await accept(a, c.name); // Carol's request still waits: accepting announces nothing either
    assert.equal((await notes(a)).length, 1);
  } finally {
    await Promise.all([leave(a), leave(b), leave(c)]);
  }
});
