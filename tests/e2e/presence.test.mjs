// Presence only for contacts (docs/API.md "Presence only for contacts", docs/PROTOCOL.md 12.10):
// a stranger who subscribes to Alice learns nothing ("unknown", or "offline" with a capability
// that is not hers, and no change ever), her contact
// Bob sees her come and go, and "Show when I'm online" switched off hides her from Bob too (his
// page says "presence hidden", never "offline"), is kept across her reload, and does not stop
// messages: they go by mail when there is no link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { newUser, uniqueName } from '../lib/api.mjs';
import { login as wsLogin, presenceCap } from '../lib/ws.mjs';
import {
  WAIT, connectPair, leave, logIn, openChat, person, send, signUp, texts, transcript, until,
  waitAllDelivered, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

const SWITCH = "Show when I'm online";

/** What `p`'s conversation list says of `name`: "online", "offline", "presence hidden", … */
function presenceOf(p, name) {
  return p.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: name })
    .locator('.presence').textContent();
}

/** Waits until `p`'s list shows `name` with one of `states`. */
async function waitPresence(p, name, states, timeout = WAIT) {
  const want = [].concat(states);
  let last = null;
  await until(async () => {
    last = await presenceOf(p, name);
    return want.includes(last);
  }, { timeout, message: `${p.name}'s list to show ${name} ${want.join(' or ')}` }).catch(() => {
    assert.fail(`${p.name}'s list shows ${name} "${last}", not ${want.map((x) => `"${x}"`).join(' or ')} (the server told the page: ${presenceFrames(p, name).join(', ')})`);
  });
  return last;
}

/** The presence messages the server sent to `p`'s page about `name`, in order. */
function presenceFrames(p, name) {
  return p.frames.filter((f) => f.dir === 'received').map((f) => {
    try {
      return JSON.parse(f.payload);
    } catch {
      return {};
    }
  }).filter((m) => m.type === 'presence' && m.user === name).map((m) => m.state);
}

/** Alice's page goes away (back at the log-in form). */
async function away(p) {
  await p.page.reload();
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
}

test('presence: a stranger sees "unknown" and nothing more; a contact sees online and offline; switched off, he sees "presence hidden" (kept across her reload) and messages still arrive', { timeout: 180000 }, async (t) => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  // Carol has an account and asked nothing of Alice; she watches through her own WebSocket.
  const carolAccount = await newUser(server.url, 'carol');
  const carol = await wsLogin(server, carolAccount.token);
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(a, 'hi bob');
    await waitForMessage(b.page, 'hi bob');
    await waitAllDelivered(a.page);

    // Carol subscribes to Alice by name ("unknown"), then with a capability of her own making
    // ("offline", for good: what a contact Alice shut out sees too).
    carol.send({ type: 'subscribe', users: [a.name] });
    assert.deepEqual(await carol.next((m) => m.type === 'presence'), { type: 'presence', user: a.name, state: 'unknown' });
    carol.send({ type: 'subscribe', users: [{ user: a.name, cap: presenceCap().cap }] });
    assert.deepEqual(await carol.next((m) => m.type === 'presence'), { type: 'presence', user: a.name, state: 'offline' });

    // Bob sees Alice go and come back.
    assert.equal(await presenceOf(b, a.name), 'connected');
    await away(a);
    await waitPresence(b, a.name, 'offline');
    await b.page.getByText(`${a.name} is offline; messages wait for them on the server`).waitFor({ timeout: WAIT });
    await logIn(a);
    await waitPresence(b, a.name, ['online', 'connected']);
    await waitPresence(b, a.name, 'connected', 30000);

    // Alice switches "Show when I'm online" off.
    const sw = a.page.getByRole('switch', { name: SWITCH });
    assert.equal(await sw.isChecked(), true, 'on by default');
    await sw.uncheck();
    assert.equal(await sw.isChecked(), false);
    await until(() => presenceFrames(b, a.name).at(-1) === 'unknown', { message: "bob's page told alice's presence is unknown" });
    // Their link stays up ("connected" says they are talking directly). She leaves: Bob's page
    // says her presence is hidden, and keeps saying so: not "offline".
    await away(a);
    await waitPresence(b, a.name, 'presence hidden');
    await b.page.getByText(`${a.name} does not show when they are online; messages wait for them on the server`).waitFor({ timeout: WAIT });
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await presenceOf(b, a.name), 'presence hidden', 'still hidden, not offline');
    assert.equal(presenceFrames(b, a.name).at(-1), 'unknown', 'the server told bob nothing more');

    // Bob writes while she is away and hidden: it waits for her in the mailbox.
    await send(b, 'are you there? you are hidden');
    await b.page.waitForFunction(() => document.querySelector('#transcript li.mine:last-child .delivery')?.textContent === 'sent',
      null, { timeout: WAIT });

    // Alice comes back: the switch is still off, and Bob's message is there.
    await logIn(a);
    assert.equal(await a.page.getByRole('switch', { name: SWITCH }).isChecked(), false, 'still off after a reload');
    await openChat(a, b.name);
    await waitForMessage(a.page, 'are you there? you are hidden');
    assert.notEqual(await presenceOf(b, a.name), 'offline');
    assert.notEqual(await presenceOf(b, a.name), 'online');

    // Bob goes away; Alice, still hidden, writes: it waits in his mailbox and reaches him.
    await away(b);
    await waitPresence(a, b.name, 'offline');
    await send(a, 'yes, hidden but here');
    await a.page.waitForFunction(() => document.querySelector('#transcript li.mine:last-child .delivery')?.textContent === 'sent',
      null, { timeout: WAIT });
    await logIn(b);
    await openChat(b, a.name);
    await waitForMessage(b.page, 'yes, hidden but here');
    await Promise.all([waitAllDelivered(a.page, 30000), waitAllDelivered(b.page, 30000)]);
    assert.deepEqual(texts(await transcript(b.page)), [
      { text: 'hi bob', sender: a.name },
      { text: 'are you there? you are hidden', sender: 'You' },
      { text: 'yes, hidden but here', sender: a.name },
    ]);
    // Bob has come back after she hid: his new page is never told she is online or offline.
    assert.ok(['presence hidden', 'connected', 'connecting…'].includes(await presenceOf(b, a.name)), await presenceOf(b, a.name));

    // She leaves once more, hidden: "presence hidden", not "offline".
    await away(a);
    await waitPresence(b, a.name, 'presence hidden');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await presenceOf(b, a.name), 'presence hidden');

    // Switched on again, Bob sees her come and go again.
    await logIn(a);
    await a.page.getByRole('switch', { name: SWITCH }).check();
    await until(() => presenceFrames(b, a.name).at(-1) === 'online', { message: "bob's page told alice is online" });
    await waitPresence(b, a.name, ['online', 'connected']);
    await away(a);
    await waitPresence(b, a.name, 'offline');
    await logIn(a);
    assert.equal(await a.page.getByRole('switch', { name: SWITCH }).isChecked(), true, 'on again after a reload');

    // Carol, meanwhile, heard nothing at all of Alice's comings and goings.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(carol.messages.filter((m) => m.type === 'presence'), [], 'the stranger was told nothing more');
    // Bob's page was told online and offline only while she showed it.
    t.diagnostic(`bob's page was told of alice: ${presenceFrames(b, a.name).join(', ')}`);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    carol.close();
    await Promise.all([leave(a), leave(b)]);
  }
});
