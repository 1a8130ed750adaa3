// Post-quantum session starts in the page (docs/PROTOCOL.md 15): a chat starts with PQXDH when the
// peer publishes KEM prekeys (protocol version 2, a KEM ciphertext in the initial message); once
// the peer's one-time KEM prekeys are gone, the last-resort one is used; a version-1 session made
// before the peer had KEM prekeys keeps working; a peer who stops offering them after having done
// so raises the identity warning instead of a silent downgrade.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, openChat, person, rollBackSession, send, signUp, until, waitAllDelivered, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();
const db = () => join(server.dataDir, 'parley.db');
const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', db(), q]).toString().trim();
const userId = (name) => `(SELECT id FROM users WHERE username = '${name}')`;

// The hello of the chat request a page sent to `to` (the first one), as bytes.
function hello(p, to) {
  const frame = p.frames.find((f) => f.dir === 'sent' && f.payload.includes('"type":"chat-request"') &&
    f.payload.includes(`"to":"${to}"`));
  assert.ok(frame, `a chat request to ${to}`);
  return Buffer.from(JSON.parse(frame.payload).hello, 'base64url');
}

// The KEM prekey id an initial message of type 0x03 used (docs/PROTOCOL.md 15.5).
const kemId = (msg) => msg.readUInt32BE(1 + 32 + 32 + 4 + 1 + 4);

async function kemPublished(name) {
  return until(() => Number(sql(`SELECT count(*) FROM kem_prekeys WHERE user_id = ${userId(name)}`)) > 1,
    { message: `${name}'s KEM prekeys in the directory` });
}

test('a new chat starts with PQXDH (version 2, a KEM ciphertext in the request), then with the last-resort KEM prekey once the one-time ones are gone', async () => {
  const alice = await person(server, uniqueName('alice'));
  const bob = await person(server, uniqueName('bob'));
  const carol = await person(server, uniqueName('carol'));
  try {
    for (const p of [alice, bob, carol]) await signUp(p);
    await kemPublished(bob.name);
    await connectPair(alice, bob);
    const first = hello(alice, bob.name);
    assert.equal(first[0], 3, 'the initial message is PQXDH (type 0x03)');
    assert.ok(first.length > 1646, 'it carries the 1,568-byte KEM ciphertext');
    const used = kemId(first);
    assert.equal(sql(`SELECT count(*) FROM kem_prekeys WHERE user_id = ${userId(bob.name)} AND key_id = ${used}`), '0',
      'the one-time KEM prekey it used is gone from the directory');
    await send(alice, 'post-quantum hello');
    await waitForMessage(bob.page, 'post-quantum hello');
    await send(bob, 'and back');
    await waitForMessage(alice.page, 'and back');

    // Bob's one-time KEM prekeys are handed out: carol's start uses the last-resort one.
    sql(`DELETE FROM kem_prekeys WHERE user_id = ${userId(bob.name)} AND last_resort = 0`);
    const lastResort = Number(sql(`SELECT key_id FROM kem_prekeys WHERE user_id = ${userId(bob.name)} AND last_resort = 1`));
    assert.ok(lastResort > 0);
    await connectPair(carol, bob);
    const second = hello(carol, bob.name);
    assert.equal(second[0], 3);
    assert.equal(kemId(second), lastResort, 'the last-resort KEM prekey');
    await send(carol, 'with the last-resort key');
    await waitForMessage(bob.page, 'with the last-resort key');
    assert.deepEqual([alice.problems, bob.problems, carol.problems], [[], [], []]);
  } finally {
    await Promise.all([leave(alice), leave(bob), leave(carol)]);
  }
});

test('a version-1 session made while the peer had no KEM prekeys keeps working after they publish some', async () => {
  const alice = await person(server, uniqueName('alice'));
  const bob = await person(server, uniqueName('bob'));
  try {
    await signUp(bob);
    await kemPublished(bob.name);
    sql(`DELETE FROM kem_prekeys WHERE user_id = ${userId(bob.name)}`); // as a page from before
    await signUp(alice);
    await connectPair(alice, bob);
    assert.equal(hello(alice, bob.name)[0], 2, 'X3DH (type 0x02): no KEM prekey was offered');
    // Bob's page publishes KEM prekeys again (a reload runs its key upkeep).
    await bob.page.reload();
    await bob.page.getByLabel('Username').fill(bob.name);
    await bob.page.getByLabel('Password').fill(bob.password);
    await bob.page.getByRole('button', { name: 'Log in' }).click();
    await bob.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
    await kemPublished(bob.name);
    await openChat(bob, alice.name);
    for (let i = 1; i <= 3; i += 1) {
      await send(alice, `v1 ${i}`);
      await send(bob, `v1 back ${i}`);
    }
    await waitForMessage(bob.page, 'v1 3');
    await waitForMessage(alice.page, 'v1 back 3');
    await Promise.all([waitAllDelivered(alice.page), waitAllDelivered(bob.page)]);
    assert.equal(await alice.page.locator('#identity-warning').isVisible(), false, 'no downgrade warning');
  } finally {
    await Promise.all([leave(alice), leave(bob)]);
  }
});

test('a contact who stops offering KEM prekeys after having done so raises the identity warning instead of a silent downgrade', { timeout: 180000 }, async () => {
  const alice = await person(server, uniqueName('alice'));
  const bob = await person(server, uniqueName('bob'));
  try {
    for (const p of [alice, bob]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
    await signUp(alice);
    await signUp(bob);
    await kemPublished(bob.name);
    await connectPair(alice, bob);
    assert.equal(hello(alice, bob.name)[0], 3);
    await openChat(bob, alice.name);
    // Alice's session is rolled back, so the next of bob's cannot be read and her page makes a
    // new session (repair, docs/PROTOCOL.md 12.12) ...
    await rollBackSession(alice, bob);
    // ... while the directory no longer offers bob's KEM prekeys (a server stripping them).
    sql(`DELETE FROM kem_prekeys WHERE user_id = ${userId(bob.name)}`);
    await send(bob, 'after the downgrade');
    await alice.page.locator('#identity-warning').waitFor({ state: 'visible', timeout: 40000 });
    await alice.page.getByText(/no longer offer post-quantum protection/).first().waitFor({ timeout: WAIT });
    const requests = alice.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"type":"chat-request"'));
    assert.equal(requests.length, 1, 'no version-1 request went without the person looking');
    // Once she has looked, the chat goes on (without post-quantum protection).
    await alice.page.getByRole('button', { name: 'I have checked, send again' }).click();
    await waitForMessage(alice.page, 'after the downgrade', 40000);
    const last = alice.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"type":"chat-request"')).at(-1);
    assert.equal(Buffer.from(JSON.parse(last.payload).hello, 'base64url')[0], 2, 'the new session is version 1, as she agreed');
  } finally {
    await Promise.all([leave(alice), leave(bob)]);
  }
});
