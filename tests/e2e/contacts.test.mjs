// Contacts and blocking (docs/PROTOCOL.md 12.16): a blocked person's requests and messages never
// appear and they see you offline, until Unblock; a declined person cannot ask again for 24
// hours; Delete chat removes the transcript from storage; Remove contact ends the chat on both
// sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { linkSecondBrowser } from '../lib/linking.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, connectPair, decline, leave, logIn, openChat, person, requestGroup, send, signUp, startChat,
  transcript, until, waitAllDelivered, waitConnected, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

/** What `p`'s conversation list says of `name`: "online", "offline", "blocked", … */
function presenceOf(p, name) {
  return p.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: name })
    .locator('.presence').textContent();
}

function framesOf(p, dir, pred) {
  return p.frames.filter((f) => f.dir === dir).map((f) => {
    try {
      return JSON.parse(f.payload);
    } catch {
      return {};
    }
  }).filter(pred);
}

/** Waits until `p`'s page has taken and acknowledged (mail-ack) `n` more mail than `before`. */
async function mailTaken(p, before, n = 1) {
  await until(() => {
    const mail = framesOf(p, 'received', (m) => m.type === 'mail').slice(before);
    const acked = new Set(framesOf(p, 'sent', (m) => m.type === 'mail-ack').flatMap((m) => m.ids));
    return mail.length >= n && mail.every((m) => acked.has(m.id));
  }, { timeout: WAIT, message: `${p.name}'s page to take and acknowledge its mail` });
}

test('Block: the blocked contact\'s messages never appear and he sees her offline; a blocked stranger\'s requests never appear; Unblock lets them back', { timeout: 240000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  const c = await person(server, uniqueName('carol'));
  try {
    await Promise.all([signUp(a), signUp(b), signUp(c)]);
    await connectPair(a, b);
    await send(b, 'before the block');
    await waitForMessage(a.page, 'before the block');
    assert.equal(await presenceOf(b, a.name), 'connected');

    a.acceptDialogs = true;
    const mailBefore = framesOf(a, 'received', (m) => m.type === 'mail').length;
    await a.page.getByRole('button', { name: 'Block', exact: true }).click();
    await a.page.getByText(`You blocked ${b.name}`).waitFor({ timeout: WAIT });
    assert.equal(await presenceOf(a, b.name), 'blocked');
    assert.equal(await a.page.getByRole('textbox', { name: 'Message' }).isDisabled(), true);
    // Bob sees Alice away, as if she had gone: the server says so, and keeps saying nothing else.
    await until(async () => (await presenceOf(b, a.name)) === 'offline', { timeout: WAIT, message: 'Bob to see Alice offline' });
    const told = framesOf(b, 'received', (m) => m.type === 'presence' && m.user === a.name).map((m) => m.state);
    assert.equal(told[told.length - 1], 'offline');
    // What he writes goes to her mailbox, and her page drops it unseen.
    await send(b, 'after the block');
    await mailTaken(a, mailBefore);
    assert.ok(!(await transcript(a.page)).some((m) => m.text === 'after the block'));
    assert.equal(await a.page.locator('#contacts .unread').count(), 0);
    // Her reload changes nothing: still blocked, still nothing of his.
    await a.page.reload();
    await logIn(a);
    await openChat(a, b.name);
    await a.page.getByText(`You blocked ${b.name}`).waitFor({ timeout: WAIT });
    assert.ok(!(await transcript(a.page)).some((m) => m.text === 'after the block'));
    assert.equal(await presenceOf(b, a.name), 'offline');

    // Carol, a stranger, asks; Alice blocks the request. Carol asking again (her page resends the
    // request after a reload, and mails it) shows nothing.
    await startChat(c, a.name);
    await requestGroup(a, c.name).waitFor({ timeout: WAIT });
    await requestGroup(a, c.name).getByRole('button', { name: 'Block' }).click();
    await requestGroup(a, c.name).waitFor({ state: 'detached', timeout: WAIT });
    await a.page.getByText('Blocked people').click();
    await a.page.getByRole('list', { name: 'Blocked people' }).getByText(c.name).waitFor({ timeout: WAIT });
    const requestsBefore = framesOf(a, 'received', (m) => m.type === 'chat-request' && m.from === c.name).length;
    await c.page.reload();
    await logIn(c);
    await until(() => framesOf(a, 'received', (m) => m.type === 'chat-request' && m.from === c.name).length > requestsBefore,
      { timeout: WAIT, message: 'Carol\'s request to reach Alice\'s page again' });
    await a.page.evaluate(() => new Promise((r) => setTimeout(r, 500))); // the page had its turn
    assert.equal(await requestGroup(a, c.name).count(), 0);

    // Unblock: Bob is a contact again and sees her presence once handed her new capability.
    await a.page.getByRole('button', { name: 'Unblock', exact: true }).click();
    await a.page.getByRole('button', { name: 'Block', exact: true }).waitFor({ timeout: WAIT });
    await until(async () => (await presenceOf(b, a.name)) !== 'offline', { timeout: 30000, message: 'Bob to see Alice again' });
    await send(b, 'after the unblock');
    await waitForMessage(a.page, 'after the unblock', 30000);
    assert.ok(!(await transcript(a.page)).some((m) => m.text === 'after the block'), 'what came while blocked stays dropped');
  } finally {
    await Promise.all([leave(a), leave(b), leave(c)]);
  }
});

test('Decline: the requester cannot ask again for 24 hours; Delete chat empties the transcript for good; Remove contact ends the chat on both sides', { timeout: 240000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const d = await person(server, uniqueName('dave'));
  const e = await person(server, uniqueName('erin'));
  try {
    await Promise.all([signUp(a), signUp(d), signUp(e)]);
    await startChat(d, a.name);
    await decline(a, d.name);
    await d.page.getByText(/declined your chat request/).first().waitFor({ timeout: WAIT });
    await d.page.getByLabel('Contact').fill(a.name);
    await d.page.getByRole('button', { name: 'Start chat' }).click();
    await d.page.getByRole('alert').filter({ hasText: `${a.name} declined your chat request. You can ask again in 24 hours.` })
      .waitFor({ timeout: WAIT });

    await connectPair(a, e);
    await send(e, 'one');
    await send(a, 'two');
    await waitForMessage(a.page, 'one');
    await waitForMessage(e.page, 'two');
    await waitAllDelivered(a.page);
    a.acceptDialogs = true;
    await a.page.getByRole('button', { name: 'Delete chat' }).click();
    await until(async () => (await transcript(a.page)).length === 0, { message: 'the transcript to empty' });
    await a.page.reload();
    await logIn(a);
    await openChat(a, e.name);
    await waitConnected(a.page);
    assert.deepEqual(await transcript(a.page), []);

    await a.page.getByRole('button', { name: 'Remove contact' }).click();
    await a.page.locator('#chat').waitFor({ state: 'hidden', timeout: WAIT });
    assert.equal(await a.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: e.name }).count(), 0);
    await e.page.getByText(/removed you from their contacts/).waitFor({ timeout: WAIT });
    await e.page.getByText('not connected: start the chat again to reconnect').waitFor({ timeout: WAIT });
    // She may ask again, as anyone may.
    await startChat(e, a.name);
    await accept(a, e.name);
    await waitConnected(e.page);
  } finally {
    await Promise.all([leave(a), leave(d), leave(e)]);
  }
});

test('Decline: a request from the declined person is dropped unseen for 24 hours, even from a browser that does not know of the decline', { timeout: 180000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const d = await person(server, uniqueName('dave'));
  let d2 = null;
  try {
    await Promise.all([signUp(a), signUp(d)]);
    await startChat(d, a.name);
    await decline(a, d.name);
    // Dave, in another browser (nothing there says Alice declined), starts over and asks again.
    d2 = await person(server, d.name);
    d2.acceptDialogs = true;
    await logIn(d2, { expectApp: false });
    await d2.page.getByRole('button', { name: 'Start over on this device' }).click();
    await d2.page.locator('#app-screen').waitFor({ timeout: WAIT });
    const before = framesOf(a, 'received', (m) => m.type === 'chat-request' && m.from === d.name).length;
    const mailBefore = framesOf(a, 'received', (m) => m.type === 'mail').length;
    await startChat(d2, a.name);
    await until(() => framesOf(a, 'received', (m) => m.type === 'chat-request' && m.from === d.name).length > before,
      { timeout: WAIT, message: 'Dave\'s new request to reach Alice\'s page' });
    // Its mailed copy too: taken and acknowledged, and nothing shown.
    await mailTaken(a, mailBefore);
    assert.equal(await requestGroup(a, d.name).count(), 0);
  } finally {
    await Promise.all([leave(a), leave(d), leave(d2)]);
  }
});

test('Block on one device holds on the account\'s others: a linked device gets the blocks, an Unblock or Block there reaches the first, and a reconnect does not undo it', { timeout: 300000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  const a2 = await person(server, a.name);
  const capHashes = (p) => framesOf(p, 'sent', (m) => m.type === 'presence-settings').map((m) => m.capHash);
  const blockedList = (p) => p.page.getByRole('list', { name: 'Blocked people' });
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    a.acceptDialogs = true;
    a2.acceptDialogs = true;
    await a.page.getByRole('button', { name: 'Block', exact: true }).click();
    await a.page.getByText(`You blocked ${b.name}`).waitFor({ timeout: WAIT });
    await until(async () => (await presenceOf(b, a.name)) === 'offline', { timeout: WAIT, message: 'Bob to see Alice offline' });

    // Linking brings the blocks along: the new browser lists Bob as blocked and shows the
    // account's capability, so Bob still sees her offline.
    await linkSecondBrowser(a, a2);
    await a2.page.getByText('Blocked people').click();
    await blockedList(a2).getByText(b.name).waitFor({ timeout: WAIT });
    await until(() => capHashes(a2).length > 0, { message: 'the new browser to tell its presence settings' });
    assert.equal(capHashes(a2).at(-1), capHashes(a).at(-1));
    assert.equal(await presenceOf(b, a.name), 'offline');

    // Unblock on the new browser reaches the first one.
    await blockedList(a2).getByRole('button', { name: `Unblock ${b.name}` }).click();
    await blockedList(a2).getByText(b.name).waitFor({ state: 'detached', timeout: WAIT });
    await openChat(a, b.name);
    await a.page.getByRole('button', { name: 'Block', exact: true }).waitFor({ timeout: 30000 });
    await until(async () => (await presenceOf(b, a.name)) !== 'offline', { timeout: 30000, message: 'Bob to see Alice again' });

    // Block again on the first: the second follows, takes the new capability, and its reconnect
    // (a reload) tells the server that one, not the old: Bob keeps seeing her offline.
    const before = capHashes(a).length;
    await a.page.getByRole('button', { name: 'Block', exact: true }).click();
    await a.page.getByText(`You blocked ${b.name}`).waitFor({ timeout: WAIT });
    await until(() => capHashes(a).length > before, { message: 'the new capability told' });
    const blockedCap = capHashes(a).at(-1);
    await blockedList(a2).getByText(b.name).waitFor({ timeout: 30000 });
    await until(() => capHashes(a2).at(-1) === blockedCap, { timeout: 30000, message: 'the second browser to take the new capability' });
    await a2.page.reload();
    await logIn(a2);
    await until(() => framesOf(a2, 'received', (m) => m.type === 'ready').length > 1, { message: 'the second browser to reconnect' });
    await a2.page.evaluate(() => new Promise((r) => setTimeout(r, 1000))); // its settings went out after ready
    assert.equal(capHashes(a2).at(-1), blockedCap);
    await until(async () => (await presenceOf(b, a.name)) === 'offline', { timeout: WAIT, message: 'Bob to see Alice offline' });
    await a2.page.getByText('Blocked people').click();
    await blockedList(a2).getByText(b.name).waitFor({ timeout: WAIT });
  } finally {
    await Promise.all([leave(a), leave(b), leave(a2)]);
  }
});

test("\"Show when I'm online\" and Remove contact on one device hold on the account's others: they take the setting and the new capability, and tell the server no older one when they reconnect", { timeout: 300000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  const a2 = await person(server, a.name);
  const settings = (p) => framesOf(p, 'sent', (m) => m.type === 'presence-settings');
  const sw = (p) => p.page.getByRole('switch', { name: "Show when I'm online" });
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await linkSecondBrowser(a, a2);
    await until(() => settings(a2).length > 0, { message: 'the new browser to tell its presence settings' });
    assert.equal(await sw(a2).isChecked(), true);

    // Switched off on the first browser: the second shows it off and tells the server so.
    await sw(a).uncheck();
    await until(async () => !(await sw(a2).isChecked()), { timeout: WAIT, message: "the second browser's switch to go off" });
    await until(() => settings(a2).at(-1)?.visible === false, { message: 'the second browser to tell the server visible: false' });

    // Remove contact on the first browser: a new capability, taken by the second.
    const before = settings(a).at(-1).capHash;
    a.acceptDialogs = true;
    await openChat(a, b.name);
    await a.page.getByRole('button', { name: 'Remove contact' }).click();
    await a.page.locator('#chat').waitFor({ state: 'hidden', timeout: WAIT });
    await until(() => settings(a).at(-1).capHash !== before, { message: 'the first browser to tell its new capability' });
    const now = settings(a).at(-1).capHash;
    await until(() => settings(a2).at(-1)?.capHash === now, { timeout: WAIT, message: 'the second browser to take the new capability' });

    // The second browser reconnects (a reload): it tells the server the newer settings only.
    const told = settings(a2).length;
    await a2.page.reload();
    await logIn(a2);
    await until(() => settings(a2).length > told, { message: 'the reloaded browser to tell its presence settings' });
    for (const m of settings(a2).slice(told)) {
      assert.equal(m.capHash, now, 'no older capability told after the reload');
      assert.equal(m.visible, false, 'still hidden after the reload');
    }
    assert.equal(await sw(a2).isChecked(), false);
  } finally {
    await Promise.all([leave(a), leave(b), leave(a2)]);
  }
});
