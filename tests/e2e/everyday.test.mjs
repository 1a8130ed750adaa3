// Everyday features between two people through the real server (docs/PROTOCOL.md 12.15):
// disappearing messages (the pages' clocks driven by the test) gone from both screens and from
// the vault; read receipts off on one side hide read state on both; typing shows and clears;
// reply, edit, delete for everyone and a reaction arrive on the other side, and a deleted text is
// in neither vault. The vault is read through the page's own reader (test hook storedHistory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, messageActions, noText, openChat, person, send, signUp, transcript, transcriptItem as item, until,
  waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

async function pair() {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  for (const p of [a, b]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await Promise.all([signUp(a), signUp(b)]);
  await connectPair(a, b);
  return [a, b];
}

/** The transcript of the chat with `peer` as the vault holds it (unsealed by the page). */
function stored(p, peer) {
  return p.page.evaluate((n) => globalThis.parleyTestHooks.storedHistory(n), peer);
}


function unexpected(problems) {
  return problems.filter((x) => !/Failed to load resource/.test(x));
}

test('disappearing messages at 30 s: gone from both screens and both vaults after the timer; earlier ones stay', async () => {
  const [a, b] = await pair();
  try {
    await send(a, 'kept: sent before the timer');
    await waitForMessage(b.page, 'kept: sent before the timer');
    // Both pages' clocks are the test's from here (they still run on their own).
    await Promise.all([a.page.clock.install(), b.page.clock.install()]);
    await a.page.getByLabel('Disappearing messages').selectOption({ label: '30 seconds' });
    await waitForMessage(a.page, 'You set disappearing messages to 30 seconds.');
    await waitForMessage(b.page, `${a.name} set disappearing messages to 30 seconds.`);
    assert.equal(await b.page.getByLabel('Disappearing messages').inputValue(), '30', "bob's chat has the timer too");

    await send(a, 'vanishing from alice');
    await waitForMessage(b.page, 'vanishing from alice');
    await send(b, 'vanishing from bob');
    await waitForMessage(a.page, 'vanishing from bob');
    for (const [p, peer] of [[a, b], [b, a]]) {
      const h = await stored(p, peer.name);
      assert.ok(h.some((m) => m.text === 'vanishing from alice' && m.exp === 30), `${p.name}: stored with its timer`);
    }
    // Read on both sides (chats open): the receivers' timers run too.
    await until(async () => (await stored(b, a.name)).some((m) => m.text === 'vanishing from alice' && m.expiresAt), { message: 'bob read it' });
    await until(async () => (await stored(a, b.name)).some((m) => m.text === 'vanishing from bob' && m.expiresAt), { message: 'alice read it' });
    // Still there before the time is up.
    await a.page.clock.fastForward(10000);
    await b.page.clock.fastForward(10000);
    assert.equal(await item(a, 'vanishing from alice').count(), 1, 'not gone after 10 s');

    await a.page.clock.fastForward(22000);
    await b.page.clock.fastForward(22000);
    for (const p of [a, b]) {
      await noText(p, 'vanishing from');
      await waitForMessage(p.page, 'kept: sent before the timer');
    }
    for (const [p, peer] of [[a, b], [b, a]]) {
      await until(async () => !(await stored(p, peer.name)).some((m) => (m.text || '').includes('vanishing')), { message: `${p.name}: gone from the vault` });
      const h = await stored(p, peer.name);
      assert.ok(h.some((m) => m.text === 'kept: sent before the timer'), `${p.name}: the earlier message stays in the vault`);
      assert.ok(!JSON.stringify(h).includes('vanishing'), `${p.name}: no trace of the text`);
    }
    // Turned off again: a new message stays.
    await b.page.getByLabel('Disappearing messages').selectOption({ label: 'Off' });
    await waitForMessage(a.page, `${b.name} turned off disappearing messages.`);
    assert.deepEqual(unexpected(a.problems), []);
    assert.deepEqual(unexpected(b.problems), []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('read receipts off on one side: neither sees read state; typing shows while typing and clears', async () => {
  const [a, b] = await pair();
  try {
    // Both on: alice sees "read".
    await send(a, 'first, read receipts on');
    await waitForMessage(b.page, 'first, read receipts on');
    await item(a, 'first, read receipts on').locator('.read-state').waitFor({ timeout: WAIT });

    // Bob turns them off: he sends none and shows none.
    await b.page.getByRole('switch', { name: 'Read receipts' }).uncheck();
    await send(a, 'second, bob has them off');
    await waitForMessage(b.page, 'second, bob has them off');
    await send(b, 'bob answers');
    await waitForMessage(a.page, 'bob answers');
    await until(async () => (await stored(b, a.name)).some((m) => m.text === 'second, bob has them off' && m.read), { message: 'bob read it' });
    // A message after both, so that a receipt (had one been sent) would have come first.
    await send(b, 'bob again');
    await waitForMessage(a.page, 'bob again');
    await item(a, 'second, bob has them off').locator('.delivery[data-state="delivered"]').waitFor({ timeout: WAIT });
    assert.equal(await item(a, 'second, bob has them off').locator('.read-state').count(), 0, 'alice sees no read state');
    await until(async () => (await stored(a, b.name)).some((m) => m.text === 'bob answers' && m.read), { message: 'alice read bob' });
    await send(a, 'alice after reading');
    await waitForMessage(b.page, 'alice after reading');
    assert.equal(await b.page.locator('#transcript .read-state').count(), 0, 'bob sees no read state');

    // Typing: shown while alice types, cleared when she sends.
    const box = a.page.getByRole('textbox', { name: 'Message' });
    await box.click();
    await a.page.keyboard.type('typing something');
    const indicator = b.page.getByText(`${a.name} is typing…`);
    await indicator.waitFor({ timeout: WAIT });
    await box.press('Enter');
    await waitForMessage(b.page, 'typing something');
    await indicator.waitFor({ state: 'hidden', timeout: WAIT });
    // Typing is never stored.
    assert.ok(!(await stored(b, a.name)).some((m) => /typing/.test(m.kind || '')));
    // Typing indicators off on bob's side: he sees none.
    await b.page.getByRole('switch', { name: 'Typing indicators' }).uncheck();
    await box.click();
    await a.page.keyboard.type('more typing');
    await a.page.waitForTimeout(1500);
    assert.equal(await indicator.count(), 0, 'bob shows no typing with the switch off');
    assert.deepEqual(unexpected(a.problems), []);
    assert.deepEqual(unexpected(b.problems), []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('reply, edit, delete for everyone and a reaction arrive on the other side; deleted text is in neither vault', async () => {
  const [a, b] = await pair();
  try {
    await send(a, 'original words');
    await waitForMessage(b.page, 'original words');
    await send(a, 'secret to be deleted https://example.com/x?y=1 and javascript:alert(1)');
    await waitForMessage(b.page, 'secret to be deleted https://example.com/x?y=1 and javascript:alert(1)');

    // Links: only http(s), rel noopener noreferrer; the text stays text.
    const links = item(b, 'secret to be deleted').locator('a');
    assert.equal(await links.count(), 1);
    assert.equal(await links.getAttribute('href'), 'https://example.com/x?y=1');
    assert.equal(await links.getAttribute('rel'), 'noopener noreferrer');

    // Reply (bob quotes alice).
    await (await messageActions(b, 'original words')).getByRole('button', { name: 'Reply' }).click();
    await b.page.getByRole('textbox', { name: 'Message' }).fill('a reply from bob');
    await b.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await waitForMessage(a.page, 'a reply from bob');
    assert.match(await item(a, 'a reply from bob').locator('.quote').textContent(), /Reply to You.*original words/);

    // Reaction (bob reacts to alice's message).
    await (await messageActions(b, 'original words')).getByRole('button', { name: 'React' }).click();
    await item(b, 'original words').getByRole('button', { name: '👍' }).click();
    await item(a, 'original words').getByText(`👍 ${b.name}`).waitFor({ timeout: WAIT });

    // Edit (alice).
    await (await messageActions(a, 'original words')).getByRole('button', { name: 'Edit' }).click();
    const box = a.page.getByRole('textbox', { name: 'Message' });
    await box.fill('edited words');
    await box.press('Enter');
    await waitForMessage(b.page, 'edited words');
    await item(b, 'edited words').getByText('edited', { exact: true }).waitFor({ timeout: WAIT });
    await noText(b, 'original words');
    // The reply's quote follows the edit, and the reaction stays.
    await item(b, 'edited words').getByText(`👍 You`).waitFor({ timeout: WAIT });

    // Delete for everyone (alice).
    await (await messageActions(a, 'secret to be deleted')).getByRole('button', { name: 'Delete for everyone' }).click();
    for (const p of [a, b]) {
      await noText(p, 'secret to be deleted');
      await waitForMessage(p.page, 'This message was deleted');
    }
    for (const [p, peer] of [[a, b], [b, a]]) {
      await until(async () => !JSON.stringify(await stored(p, peer.name)).includes('secret to be deleted'), { message: `${p.name}: deleted text gone from the vault` });
      const h = await stored(p, peer.name);
      assert.ok(h.some((m) => m.deleted === true && m.text === ''), `${p.name}: a tombstone`);
      assert.ok(!JSON.stringify(h).includes('original words'), `${p.name}: no edit history`);
    }
    // The other side cannot edit or delete it: the buttons are only on one's own messages.
    const theirs = await messageActions(b, 'edited words');
    assert.equal(await theirs.getByRole('button', { name: 'Reply' }).count(), 1);
    assert.equal(await theirs.getByRole('button', { name: 'Edit' }).count(), 0);
    assert.equal(await theirs.getByRole('button', { name: 'Delete for everyone' }).count(), 0);
    // One toolbar for the whole transcript, shown on the message pointed at.
    assert.equal(await b.page.getByRole('toolbar', { name: 'Message actions' }).count(), 1);
    // From the keyboard: the messages are one tab stop; Up and Down go from message to message
    // (the latest first), and Tab from a message to its actions.
    await b.page.locator('#transcript').focus();
    await b.page.keyboard.press('ArrowUp');
    const latest = await b.page.evaluate(() => {
      const items = [...document.querySelectorAll('#transcript > li[tabindex]')];
      return items.indexOf(document.activeElement) === items.length - 1 && document.activeElement.querySelector('.text').textContent;
    });
    assert.equal(latest, 'a reply from bob');
    const focusedIn = () => b.page.evaluate(() => [
      document.activeElement.tagName === 'LI' ? 'the item' : document.activeElement.textContent,
      document.activeElement.closest('li')?.querySelector('.text')?.textContent]);
    await b.page.keyboard.press('ArrowUp'); // the deleted message: reached, with no actions
    assert.deepEqual(await focusedIn(), ['the item', 'This message was deleted']);
    await b.page.keyboard.press('ArrowUp');
    assert.deepEqual(await focusedIn(), ['the item', 'edited words']);
    // A focused message shows its full date beside its time.
    assert.match(await item(b, 'edited words').locator('time').evaluate((t) => getComputedStyle(t, '::after').content), /20\d\d/);
    await b.page.keyboard.press('Tab');
    assert.deepEqual(await focusedIn(), ['Reply', 'edited words']);
    await b.page.keyboard.press('Shift+Tab');
    assert.deepEqual(await focusedIn(), ['the item', 'edited words']);
    await b.page.keyboard.press('Tab');
    await b.page.keyboard.press('Enter');
    await b.page.getByText(/^Replying to /).waitFor({ timeout: WAIT });
    await b.page.getByRole('button', { name: 'Cancel' }).click();

    // Reading aids: a date separator on the day's first message, the full date on each time
    // (hover: title; keyboard: the focused message shows it, above), a long message folded
    // behind "Show more".
    assert.equal(await b.page.locator('#transcript > li').first().getByRole('separator').first().textContent(), 'Today');
    const time = item(b, 'edited words').locator('time');
    assert.match(await time.getAttribute('title'), /20\d\d/);
    const long = `${'a long message line\n'.repeat(40)}the end`;
    await send(a, long);
    await waitForMessage(b.page, long);
    const longItem = item(b, 'the end');
    assert.equal(await longItem.locator('.text.folded').count(), 1, 'folded');
    await longItem.getByRole('button', { name: 'Show more' }).click();
    await longItem.getByRole('button', { name: 'Show less' }).waitFor({ timeout: WAIT });
    assert.equal(await longItem.locator('.text.folded').count(), 0, 'unfolded');

    // "New messages": bob leaves the chat (phone width: the list and the chat are two screens),
    // alice writes twice, and bob finds the divider before the first of them.
    await b.page.setViewportSize({ width: 390, height: 844 });
    await b.page.getByRole('button', { name: 'Back to conversations' }).click();
    await send(a, 'unread one');
    await send(a, 'unread two');
    await b.page.waitForFunction((n) => document.querySelector(`#contacts button[data-name="${n}"] .unread`)?.textContent === '2', a.name, { timeout: WAIT });
    await openChat(b, a.name);
    await waitForMessage(b.page, 'unread two');
    assert.equal(await item(b, 'unread one').getByRole('separator').filter({ hasText: 'New messages' }).count(), 1);
    assert.equal(await b.page.getByRole('separator').filter({ hasText: 'New messages' }).count(), 1, 'one divider');
    await b.page.setViewportSize({ width: 1280, height: 800 });

    // Search within the chat.
    await b.page.getByRole('button', { name: 'Search' }).click();
    await b.page.getByRole('searchbox', { name: 'Search' }).fill('REPLY');
    await until(async () => (await transcript(b.page)).length === 1, { message: 'one match' });
    assert.equal((await transcript(b.page))[0].text, 'a reply from bob');
    await b.page.getByRole('button', { name: 'Close search' }).click();
    await until(async () => (await transcript(b.page)).length > 1, { message: 'all back' });
    assert.deepEqual(unexpected(a.problems), []);
    assert.deepEqual(unexpected(b.problems), []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('an everyday payload that cannot be read or done is said in the transcript, never dropped', async () => {
  const [a, b] = await pair();
  try {
    await send(b, 'bob owns this');
    await waitForMessage(a.page, 'bob owns this');
    const bobId = (await stored(a, b.name)).find((m) => m.text === 'bob owns this').id;
    // Alice's page turns marked messages into payloads her app would never make: a message with
    // a field 12.15 does not list, and an edit of bob's message.
    await a.page.evaluate(async (target) => {
      const core = await import('/core/parley.js');
      const encrypt = core.Session.prototype.encrypt;
      core.Session.prototype.encrypt = function patched(plaintext) {
        const p = typeof plaintext === 'string' && plaintext.startsWith('{') ? JSON.parse(plaintext) : null;
        if (p?.t === 'msg' && p.text === 'BAD FIELD') return encrypt.call(this, JSON.stringify({ ...p, color: 'red' }));
        if (p?.t === 'msg' && p.text === 'FORGED EDIT') {
          return encrypt.call(this, JSON.stringify({ t: 'edit', id: p.id, ts: p.ts, of: target, text: 'not yours' }));
        }
        return encrypt.call(this, plaintext);
      };
    }, bobId);
    await send(a, 'BAD FIELD');
    await send(a, 'FORGED EDIT');
    await send(a, 'a good one');
    await waitForMessage(b.page, 'a good one');
    await waitForMessage(b.page, `A message from ${a.name} could not be shown: this version of Parley does not understand it.`);
    await waitForMessage(b.page, `A message from ${a.name} could not be shown: ${a.name} tried to change a message that is not theirs; nothing was changed.`);
    await waitForMessage(b.page, 'bob owns this');
    assert.equal(await b.page.getByText('not yours').count(), 0);
    // Both were acknowledged (not sent again and again): alice's three are delivered.
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].every((d) => d.dataset.state === 'delivered'), null, { timeout: WAIT });
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});
