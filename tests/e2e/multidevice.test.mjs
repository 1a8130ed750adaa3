// Several devices per person (docs/PROTOCOL.md 14.6): alice uses two browsers under one identity
// (the second linked from the first, 14.5);
// every message reaches every device of both people, bob sees no warning, and a device removed
// from the account receives nothing sent afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, logIn, openChat, person, rollBackSession, send, signUp, transcript, until, waitConnected,
  waitForMessage,
} from '../lib/people.mjs';
import { linkSecondBrowser, removeOtherDevice } from '../lib/linking.mjs';

const server = serverForTests();

// alice's two browsers (the second not linked yet) and bob's, each offering the test hooks.
async function threeBrowsers() {
  const aliceName = uniqueName('alice');
  const a1 = await person(server, aliceName);
  const a2 = await person(server, aliceName);
  const bob = await person(server, uniqueName('bob'));
  for (const p of [a1, a2, bob]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  return { aliceName, a1, a2, bob };
}

// alice's first browser and bob sign up and start a chat, connected.
async function chatting(a1, bob) {
  await signUp(a1);
  await signUp(bob);
  await connectPair(a1, bob);
}

const texts = async (page) => (await transcript(page)).map((m) => `${m.sender}:${m.text}`);

async function safetyNumber(p, other) {
  await openChat(p, other);
  await p.page.getByRole('button', { name: 'Verify' }).click();
  const digits = await p.page.locator('#safety-number').textContent();
  await p.page.getByRole('button', { name: 'Close' }).click();
  return digits.replace(/\s+/g, '');
}

test('alice on two browsers: the same safety number for bob, no warning for bob, and every message on every device', async () => {
  const { aliceName, a1, a2, bob } = await threeBrowsers();
  try {
    await chatting(a1, bob);
    await send(a1, 'before linking');
    await waitForMessage(bob.page, 'before linking');

    const second = await linkSecondBrowser(a1, a2);
    await openChat(a2, bob.name);
    await waitForMessage(a2.page, 'before linking'); // the history came with the link
    assert.equal(await safetyNumber(a2, bob.name), await safetyNumber(a1, bob.name));

    // bob sends 10: both of alice's browsers show them, once each.
    await openChat(a1, bob.name);
    await openChat(a2, bob.name);
    // The second browser has a data channel of its own with bob's device (devicelinks.js).
    await waitConnected(a2.page, 40000);
    const framesBefore = bob.frames.length;
    for (let i = 1; i <= 10; i += 1) await send(bob, `bob ${i}`);
    for (const p of [a1, a2]) {
      await waitForMessage(p.page, 'bob 10', 40000);
      await until(async () => (await texts(p.page)).filter((t) => t.startsWith(`${bob.name}:bob `)).length === 10,
        { message: 'ten from bob', timeout: 40000 });
    }
    const mailedToSecond = bob.frames.slice(framesBefore).filter((f) => f.dir === 'sent' &&
      f.payload.includes('"type":"mail-put"') && f.payload.includes(`"device":${second}`));
    assert.equal(mailedToSecond.length, 0, 'bob\'s messages reached the second browser over its link, not the mailbox');
    // alice sends from each: bob sees all, and alice's other browser shows what it sent.
    await send(a1, 'from the first browser');
    await send(a2, 'from the second browser');
    for (const t of ['from the first browser', 'from the second browser']) await waitForMessage(bob.page, t, 40000);
    await waitForMessage(a2.page, 'from the first browser', 40000);
    await waitForMessage(a1.page, 'from the second browser', 40000);
    const mine = (await texts(a2.page)).filter((t) => t === 'You:from the first browser');
    assert.equal(mine.length, 1, 'a copy shows once');
    // bob saw no identity warning and no undecryptable line.
    assert.equal(await bob.page.locator('#identity-warning').isVisible(), false);
    assert.ok(!(await texts(bob.page)).some((t) => /could not be decrypted/.test(t)));
    const bobTexts = (await texts(bob.page)).filter((t) => t.startsWith(`${aliceName}:`));
    assert.equal(new Set(bobTexts).size, bobTexts.length, 'nothing shows twice at bob');
    assert.deepEqual(bob.problems, []);
  } finally {
    await Promise.all([leave(a1), leave(a2), leave(bob)]);
  }
});

test('a device left out of the list receives nothing sent afterwards', { timeout: 180000 }, async () => {
  const { aliceName, a1, a2, bob } = await threeBrowsers();
  try {
    await chatting(a1, bob);
    const second = await linkSecondBrowser(a1, a2);
    await send(bob, 'to both');
    await openChat(a2, bob.name);
    await waitForMessage(a2.page, 'to both', 40000);
    await removeOtherDevice(a1);
    await a2.page.getByText('This browser was removed from your account').waitFor({ timeout: WAIT });
    await send(bob, 'after removal');
    await waitForMessage(a1.page, 'after removal', 40000);
    // bob's page dropped the device: no copy for it is stored on the server.
    await until(() => bob.page.evaluate(([n, d]) => !globalThis.parleyTestHooks.listed(n).includes(d),
      [aliceName, second]), { message: 'bob no longer lists the removed device' });
    assert.ok(!(await texts(a2.page)).includes(`${bob.name}:after removal`));
    // Its next log-in is refused.
    await a2.page.reload();
    await logIn(a2, { expectApp: false });
    await a2.page.getByRole('alert').filter({ hasText: /removed from your account/ }).waitFor({ timeout: WAIT });
  } finally {
    await Promise.all([leave(a1), leave(a2), leave(bob)]);
  }
});

test('a device the server adds on its own (straight into its database) is refused by bob\'s page and gets nothing', { timeout: 180000 }, async () => {
  const alice = await person(server, uniqueName('alice'));
  const bob = await person(server, uniqueName('bob'));
  try {
    for (const p of [alice, bob]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
    await signUp(alice);
    await signUp(bob);
    await connectPair(alice, bob);
    const real = await until(() => bob.page.evaluate((n) => globalThis.parleyTestHooks.listed(n), alice.name),
      { message: 'bob knows alice\'s list' });
    // The server's operator lists a device 99 of their own, with keys, under a list they signed
    // with a key of their own (they cannot sign with alice's identity).
    const core = await nodeCore();
    const forger = core.Account.create();
    const forged = forger.signDevices(core.encodeDeviceList(50, [...real.map((id) => ({ id, label: '' })), { id: 2147483000, label: 'Phone' }]
      .sort((x, y) => x.id - y.id)));
    forger.free();
    const db = join(server.dataDir, 'parley.db');
    const user = `(SELECT id FROM users WHERE username = '${alice.name}')`;
    execFileSync('sqlite3', [db, `PRAGMA busy_timeout=5000; BEGIN;
      INSERT INTO devices (user_id, device_id, created_at, last_seen, listed, removed, token_gen)
        VALUES (${user}, 2147483000, 0, 0, 1, 0, 0);
      INSERT INTO signed_prekeys (user_id, device_id, spk_id, spk_public, spk_signature)
        SELECT user_id, 2147483000, spk_id, spk_public, spk_signature FROM signed_prekeys WHERE user_id = ${user} LIMIT 1;
      UPDATE users SET device_list = X'${Buffer.from(forged).toString('hex')}', device_list_gen = 50 WHERE id = ${user};
      COMMIT;`]);
    // bob's page reads alice's list again at its next log-in: refused, and said.
    await bob.page.reload();
    await logIn(bob);
    await bob.page.getByText(`The server gave a list of ${alice.name}'s devices that ${alice.name}'s identity did not sign`)
      .first().waitFor({ timeout: WAIT });
    await openChat(bob, alice.name);
    await send(bob, 'only for alice\'s real devices');
    await waitForMessage(alice.page, 'only for alice\'s real devices', 40000);
    assert.deepEqual(await bob.page.evaluate((n) => globalThis.parleyTestHooks.listed(n), alice.name), real);
    const forgedMail = execFileSync('sqlite3', ['-readonly', db,
      `SELECT count(*) FROM mailbox WHERE recipient_id = ${user} AND recipient_device = 2147483000`]).toString().trim();
    assert.equal(forgedMail, '0', 'nothing was sealed for the device the server added');
    const fetched = bob.frames.filter((f) => f.dir === 'sent' && /"get-bundle"/.test(f.payload) && /2147483000/.test(f.payload));
    assert.equal(fetched.length, 0, 'bob never asked for its keys');
  } finally {
    await Promise.all([leave(alice), leave(bob)]);
  }
});

test('a message a second device cannot decrypt: the line shows, a new session is made with that device, and nothing is lost or doubled', { timeout: 180000 }, async () => {
  const { aliceName, a1, a2, bob } = await threeBrowsers();
  const hook = (p, fn, arg) => p.page.evaluate(([f, x]) => globalThis.parleyTestHooks[f](x), [fn, arg]);
  try {
    await chatting(a1, bob);
    await linkSecondBrowser(a1, a2);
    await openChat(a2, bob.name);
    await openChat(bob, aliceName);
    const bobDevice = (await hook(bob, 'ownDevices'))[0];
    const key = `${bob.name}/${bobDevice}`; // alice's second browser reaches bob's device by its address
    await send(bob, 'warm-up');
    await waitForMessage(a2.page, 'warm-up', 40000);
    await send(a2, 'warm-up back');
    await waitForMessage(bob.page, 'warm-up back', 40000);
    // Roll a2's session with bob's device back past two messages each way (people.mjs).
    await rollBackSession(a2, bob, { key, timeout: 40000 });
    const after = ['after the rollback 1', 'after the rollback 2', 'after the rollback 3'];
    for (const t of after) await send(bob, t);
    // The rolled-back session fails where a message made with the state it lost is read: at a2
    // (bob's next messages) or at bob (a2's receipts, made with message keys used before).
    const line = (p, who) => p.page.getByText(`A message from ${who} could not be decrypted`).first();
    await Promise.race([line(a2, bob.name).waitFor({ timeout: 40000 }), line(bob, aliceName).waitFor({ timeout: 40000 })]);
    for (const t of after) await waitForMessage(a2.page, t, 40000);
    await send(bob, 'after the repair');
    await waitForMessage(a2.page, 'after the repair', 40000);
    const seen = new Map();
    for (const m of await transcript(a2.page)) seen.set(m.text, (seen.get(m.text) || 0) + 1);
    for (const t of [...after, 'before the rollback', 'before the rollback, again', 'after the repair']) assert.equal(seen.get(t), 1, `"${t}" shows ${seen.get(t) || 0} times`);
    // And the other way: a2's messages reach bob once each under the new session.
    await send(a2, 'alice after the repair');
    await waitForMessage(bob.page, 'alice after the repair', 40000);
    const atBob = new Map();
    for (const m of await transcript(bob.page)) atBob.set(m.text, (atBob.get(m.text) || 0) + 1);
    for (const t of ['warm-up back', 'reply before the rollback', 'reply before the rollback, again', 'alice after the repair']) assert.equal(atBob.get(t), 1, `"${t}" shows ${atBob.get(t) || 0} times at bob`);
    // The first browser got every one of them on its own session, untouched.
    for (const t of after) await waitForMessage(a1.page, t, 40000);
  } finally {
    await Promise.all([leave(a1), leave(a2), leave(bob)]);
  }
});
