// An identity change that happened while the other side was away: no identity-changed notice can
// reach a page that is not connected, so after each `ready` the page compares its contacts' keys
// with the directory's (POST /api/identities, the names in the body). A changed key must raise the safety-number
// warning and hold sending, as the live notice does (chat.test.mjs); a failed check must change
// nothing and say nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, connectPair, leave, logIn, openChat, person, send, signUp, texts, transcript, until,
  waitAllDelivered, waitConnected, waitForMessage,
} from '../lib/people.mjs';
import { startOver } from '../lib/linking.mjs';

const server = serverForTests();

/** Alice marks Bob verified in the open chat. */
async function verify(a) {
  await a.page.getByRole('button', { name: 'Verify', exact: true }).click();
  const dialog = a.page.getByRole('dialog');
  await dialog.waitFor({ timeout: WAIT });
  await dialog.getByRole('button', { name: 'Mark as verified' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT });
  await a.page.getByRole('button', { name: 'Verify (verified)' }).waitFor({ timeout: WAIT });
}

async function logOut(p) {
  await p.page.getByRole('button', { name: 'Log out' }).click();
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
}

/** The banner's text, '' while it is hidden. */
async function bannerText(p) {
  const b = p.page.locator('#banner');
  return await b.isVisible() ? (await b.textContent()).trim() : '';
}

/** The identity checks naming `name` a person's page made since `from` (an index in requests):
 * POST /api/identities with the name in the body, never in a URL. */
function identityChecks(p, name, from = 0) {
  const mine = p.requests.slice(from);
  assert.equal(mine.filter((r) => new URL(r.url).pathname.includes(name)).length, 0, 'no URL names a contact');
  return mine.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/identities'
    && JSON.parse(r.body || '{}').users?.includes(name));
}

/** Alice, back, opens the chat with Bob: the warning is up, sending is held, the verified mark is gone. */
async function expectWarned(t, a, bName, t0) {
  await openChat(a, bName);
  const warning = a.page.locator('#identity-warning');
  await warning.waitFor({ state: 'visible', timeout: 15000 });
  t.diagnostic(`alice was warned ${Date.now() - t0} ms after she logged in again`);
  assert.equal(await a.page.getByRole('alert').filter({ has: a.page.locator('#identity-warning-text') }).count(), 1);
  assert.match(await warning.textContent(), new RegExp(`${bName}'s safety number has changed`));
  assert.match(await warning.textContent(), /paused/);
  await warning.getByRole('button', { name: 'Review safety number' }).waitFor();
  await warning.getByRole('button', { name: 'I have checked, send again' }).waitFor();
  assert.equal(await a.page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true, 'Send is disabled while held');
  assert.equal(await a.page.getByRole('button', { name: 'Verify', exact: true }).count(), 1, 'the verified mark is gone');
}

test('a contact who logged in from a new browser while we were away: at log-in the warning shows and sending is held; once checked, a new chat request goes and what waited arrives once', async (t) => {
  const a = await person(server, uniqueName('alice'));
  let b = await person(server, uniqueName('bob'));
  const bName = b.name;
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(a, 'hello before you move');
    await waitForMessage(b.page, 'hello before you move');
    await waitAllDelivered(a.page);
    await verify(a);

    // Bob goes; a message typed to him now waits, encrypted under the session that is about to die.
    assert.deepEqual(b.problems, [], 'bob: no console errors');
    await leave(b);
    await a.page.waitForFunction((name) => document.getElementById('chat-status').textContent === `${name} is offline; messages wait for them on the server`,
      bName, { timeout: WAIT });
    await send(a, 'typed while you were away');
    assert.notEqual((await transcript(a.page)).at(-1).state, 'delivered');

    // Alice is away; Bob's new browser holds no keys, so it makes and uploads new ones (the
    // server bumps his identity counter). Nobody asks Alice to chat again: only the check can tell.
    await logOut(a);
    b = await person(server, bName);
    await startOver(b);
    await b.page.locator('#banner').filter({ hasText: 'made new ones' }).waitFor({ timeout: WAIT });

    const mark = a.requests.length;
    const t0 = Date.now();
    await logIn(a);
    await expectWarned(t, a, bName, t0);
    assert.equal(identityChecks(a, bName, mark).length, 1, 'one identity check for Bob at the ready');

    // It is stored: after a reload the warning is still there, and sending still held.
    await a.page.reload();
    await logIn(a);
    await expectWarned(t, a, bName, Date.now());

    // Alice has checked: the session made with Bob's former keys is dead, so her page asks Bob
    // again with a new one (X3DH with his current bundle). What she types meanwhile waits.
    await a.page.locator('#identity-warning').getByRole('button', { name: 'I have checked, send again' }).click();
    await a.page.locator('#identity-warning').waitFor({ state: 'hidden', timeout: WAIT });
    await a.page.waitForFunction(() => !document.getElementById('send').disabled, null, { timeout: WAIT });
    await send(a, 'after the change');
    await accept(b, a.name);
    await openChat(b, a.name);
    await waitForMessage(b.page, 'after the change', 30000);
    await waitAllDelivered(a.page, 30000);
    // Both waiting messages, once each and in order: the one kept as a dead session's ciphertext
    // went again under the new session.
    await until(async () => (await transcript(b.page)).length >= 2, { message: "both of alice's messages at bob's" });
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would show by now
    assert.deepEqual(texts(await transcript(b.page)), [
      { text: 'typed while you were away', sender: a.name },
      { text: 'after the change', sender: a.name },
    ]);
    await waitConnected(b.page);
    await send(b, 'got both');
    await waitForMessage(a.page, 'got both');
    await waitAllDelivered(b.page);
    // The change she checked stays as a line of the app's own where it happened.
    assert.deepEqual(texts(await transcript(a.page)).map((m) => m.text),
      ['hello before you move', 'typed while you were away', `${bName}'s safety number changed. You checked it, and sending resumed.`, 'after the change', 'got both']);

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a contact who reset their identity and left while we were away: at log-in the warning shows and sending is held', async (t) => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await verify(a);

    await logOut(a);
    b.acceptDialogs = true;
    await b.page.getByRole('button', { name: 'Reset identity' }).click();
    await b.page.locator('#banner').filter({ hasText: 'You have a new identity' }).waitFor({ timeout: WAIT });
    // Bob's new request to Alice found her offline; he leaves before she is back, so it is not sent again.
    await until(() => b.frames.some((f) => f.dir === 'received' && f.payload.includes('recipient_offline')),
      { message: "bob's request refused as offline" });
    assert.deepEqual(b.problems, [], 'bob: no console errors');
    await leave(b);

    const t0 = Date.now();
    await logIn(a);
    await expectWarned(t, a, b.name, t0);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('an identity check that fails changes nothing and says nothing: the chat connects and messages flow', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await logOut(a);
    // Logging out may leave a banner of its own ("You were logged out"); nothing may be added to it.
    const before = await bannerText(a);

    // As for a directory that cannot answer now.
    let refused = 0;
    await a.page.route('**/api/identities', (route) => {
      refused += 1;
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'busy', message: 'try again later' } }),
      });
    });
    await logIn(a);
    await until(() => refused >= 1, { message: 'the identity check' });
    await openChat(a, b.name);
    await waitConnected(a.page);
    await send(a, 'still here');
    await waitForMessage(b.page, 'still here');
    await waitAllDelivered(a.page);
    assert.equal(await a.page.locator('#identity-warning').isVisible(), false, 'no identity warning');
    assert.equal(await bannerText(a), before, 'no banner about the check');
    assert.equal(await a.page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), false);
    assert.equal(refused, 1, 'one check per ready');
    // The refusal itself is the only thing recorded.
    assert.deepEqual(a.problems.filter((p) => !/\/api\/identities|status of 503/.test(p)), [], 'alice: no other console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});
