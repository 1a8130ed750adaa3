// Rooms in the web app through the real server, four browsers (docs/PROTOCOL.md 20.7): alice
// creates a room with bob, carol and dave (her contacts; they are not each other's); each sends 5
// messages and the four transcripts hold the same 20 with the right senders (the sessions between
// members who were not contacts are made inside the room, without anyone pressing Accept). A
// descriptor change signed by bob, who is not an admin, is ignored by everyone. alice removes
// dave: dave's page says so and nothing sent after reaches it; a message he sends anyway is
// dropped by everyone. carol is logged out while 3 messages are sent and gets them when she logs
// in. alice adds dave again; bob leaves (alice signs the room without him); carol changes her
// password and finds the room again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { connectPair, leave, logIn, person, shots, signUp, until } from '../lib/people.mjs';
import { members, openRoomOf } from '../lib/rooms.mjs';

const server = serverForTests();
const LONG = 180000; // four browsers on two shared cores

/** The open room's messages as [{sender, text}], "You" named. */
function roomMessages(p) {
  return p.page.evaluate((me) => [...document.querySelectorAll('#room-transcript > li.msg:not(.notice)')].map((li) => {
    const sender = li.querySelector('.sender').textContent;
    return { sender: sender === 'You' ? me : sender, text: li.querySelector('.text').textContent };
  }), p.name);
}

function sorted(list) {
  return list.map((m) => `${m.sender}: ${m.text}`).sort();
}

async function sendToRoom(p, text) {
  const box = p.page.getByRole('textbox', { name: 'Room message' });
  await box.fill(text);
  await box.press('Enter');
  await p.page.waitForFunction((t) => [...document.querySelectorAll('#room-transcript .text')].some((e) => e.textContent === t),
    text, { timeout: LONG });
}

async function waitRoomText(p, text) {
  await p.page.waitForFunction((t) => [...document.querySelectorAll('#room-transcript .text')].some((e) => e.textContent === t),
    text, { timeout: LONG });
}

test('a room of four: messages to all, a forged change ignored, a removal, and mail for a member away', { timeout: 900000 }, async () => {
  const [a, b, c, d] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((n) => person(server, uniqueName(n))));
  const people = [a, b, c, d];
  try {
    for (const p of people) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
    await Promise.all(people.map((p) => signUp(p)));
    for (const p of [b, c, d]) await connectPair(a, p);
    const roomName = 'Harbour crew';

    // alice creates the room.
    await a.page.getByRole('button', { name: 'New room' }).click();
    await a.page.getByLabel('Room name').fill(roomName);
    const pick = a.page.getByRole('group', { name: 'Members' });
    for (const p of [b, c, d]) await pick.getByRole('checkbox', { name: p.name }).check();
    await shots(a.page, 'room-new');
    await a.page.getByRole('button', { name: 'Create room' }).click();
    await a.page.locator('#room').waitFor({ state: 'visible', timeout: LONG });
    for (const p of [b, c, d]) await openRoomOf(p, roomName, LONG);
    for (const p of people) {
      await until(async () => (await members(p)).length === 4, { timeout: LONG, message: `${p.name}: four members` });
    }
    // Nobody was asked to accept a chat with another member.
    for (const p of [b, c, d]) assert.equal(await p.page.getByRole('button', { name: 'Accept' }).count(), 0, `${p.name} asked nothing`);

    // Each sends 5 messages.
    const expected = [];
    for (let i = 1; i <= 5; i += 1) {
      for (const p of people) {
        const text = `${p.name.slice(0, 5)} says ${i}`;
        expected.push({ sender: p.name, text });
        await sendToRoom(p, text);
      }
    }
    for (const p of people) {
      await until(async () => (await roomMessages(p)).length >= 20, { timeout: LONG, message: `${p.name}: 20 messages` });
      assert.deepEqual(sorted(await roomMessages(p)), sorted(expected), `${p.name}: the same 20 messages with their senders`);
    }
    // Every own message is delivered to the three others.
    for (const p of people) {
      await p.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .delivery')]
        .every((x) => x.textContent === 'delivered to 3 of 3'), null, { timeout: LONG });
    }

    await shots(a.page, 'room');
    await shots(c.page, 'room-member');

    // bob, a member, signs a version without dave and sends it to everyone: ignored.
    const hex = await a.page.locator('#rooms button').first().getAttribute('data-room');
    const forgedVersion = await b.page.evaluate(([h, n]) => globalThis.parleyTestHooks.forgeRoomVersion(h, n), [hex, d.name]);
    assert.equal(forgedVersion, 2);
    for (const p of [a, c, d]) {
      await until(() => p.warnings.some((w) => /descriptor from .* was ignored: NOT_ADMIN/.test(w)),
        { timeout: LONG, message: `${p.name} refused bob's version` });
      assert.equal((await members(p)).length, 4, `${p.name}: still four members`);
      assert.match(await p.page.locator('#room-status').textContent(), /version 1\b/);
    }

    // alice removes dave.
    await a.page.getByRole('button', { name: `Remove member ${d.name}` }).click();
    await d.page.getByText(`You were removed from ${roomName}.`).first().waitFor({ timeout: LONG });
    for (const p of [a, b, c]) {
      await until(async () => (await members(p)).length === 3, { timeout: LONG, message: `${p.name}: three members` });
    }
    assert.ok(await d.page.getByRole('textbox', { name: 'Room message' }).isDisabled(), "the room is read-only on dave's page");

    // carol is away while 3 messages are sent.
    await c.page.getByRole('button', { name: 'Log out' }).click();
    await c.page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: LONG });
    const late = [[a, 'after dave: one'], [b, 'after dave: two'], [a, 'after dave: three']];
    for (const [p, text] of late) await sendToRoom(p, text);
    await waitRoomText(b, 'after dave: one');
    await waitRoomText(b, 'after dave: three');
    await waitRoomText(a, 'after dave: two');
    await logIn(c);
    await openRoomOf(c, roomName, LONG);
    for (const [, text] of late) await waitRoomText(c, text);
    const cm = await roomMessages(c);
    assert.deepEqual(cm.filter((m) => m.text.startsWith('after dave')).map((m) => `${m.sender}: ${m.text}`).sort(),
      late.map(([p, text]) => `${p.name}: ${text}`).sort(), 'carol has them with their senders');
    // alice's and bob's own messages are delivered to both others (carol by mail).
    for (const [p, n] of [[a, 2], [b, 1]]) {
      await p.page.waitForFunction((k) => [...document.querySelectorAll('#room-transcript .delivery')].slice(-k)
        .every((x) => x.textContent === 'delivered to 2 of 2'), n, { timeout: LONG });
    }
    // None of it ever reached dave's page.
    const dm = await roomMessages(d);
    assert.equal(dm.filter((m) => m.text.startsWith('after dave')).length, 0, 'dave got nothing after his removal');
    assert.equal(await d.page.evaluate(() => document.body.textContent.includes('after dave')), false);
    assert.equal(dm.length, 20);

    // dave, removed, sends a message to the others anyway (naming the version he was listed in):
    // dropped by everyone, never shown.
    await d.page.evaluate(([h]) => globalThis.parleyTestHooks.forgeRoomMessage(h, 'dave again after removal', 1), [hex]);
    for (const p of [a, b, c]) {
      await until(() => p.warnings.some((w) => /from .*, who is not a member \(version 1\), was dropped/.test(w)),
        { timeout: LONG, message: `${p.name} dropped dave's message` });
      assert.equal(await p.page.evaluate(() => document.body.textContent.includes('dave again after removal')), false);
    }

    // alice adds dave again (Add member): his room is writable again and his message reaches all.
    await a.page.getByLabel('New member').selectOption(d.name);
    await a.page.getByRole('button', { name: 'Add member' }).click();
    await d.page.getByText(`added you to the room ${roomName} again`).first().waitFor({ timeout: LONG });
    await until(async () => !(await d.page.getByRole('textbox', { name: 'Room message' }).isDisabled()), { timeout: LONG, message: 'dave can write again' });
    await sendToRoom(d, 'dave is back');
    for (const p of [a, b, c]) await waitRoomText(p, 'dave is back');
    assert.equal(await d.page.evaluate(() => document.body.textContent.includes('after dave')), false, 'nothing from while he was out');

    // bob leaves: alice (the admin) signs the room without him; carol and dave see three members.
    await b.page.getByRole('button', { name: 'Leave room' }).click();
    await b.page.getByText(`You left ${roomName}.`).first().waitFor({ timeout: LONG });
    for (const p of [a, c, d]) {
      await until(async () => (await members(p)).length === 3 && !(await members(p)).some((x) => x.includes(b.name)),
        { timeout: LONG, message: `${p.name}: bob is gone` });
    }
    await sendToRoom(c, 'after bob left');
    for (const p of [a, d]) await waitRoomText(p, 'after bob left');
    assert.equal(await b.page.evaluate(() => document.body.textContent.includes('after bob left')), false, 'bob got nothing after leaving');

    // carol changes her password: the room records are sealed again with the rest, and the room
    // and its transcript open with the new password.
    await c.page.getByRole('button', { name: 'Change password' }).click();
    const dialog = c.page.getByRole('dialog', { name: 'Change password' });
    await dialog.getByLabel('Current password').fill(c.password);
    await dialog.getByLabel('New password', { exact: true }).fill('carol has a new secret');
    await dialog.getByLabel('New password again').fill('carol has a new secret');
    await dialog.getByRole('button', { name: 'Save new password' }).click();
    await c.page.getByText('Your password was changed. Use the new one from now on.').waitFor({ timeout: LONG });
    await c.page.getByRole('button', { name: 'Log out' }).click();
    c.password = 'carol has a new secret';
    await logIn(c);
    await openRoomOf(c, roomName, LONG);
    for (const text of ['after dave: two', 'dave is back', 'after bob left']) await waitRoomText(c, text);
    assert.equal((await members(c)).length, 3);
  } finally {
    await Promise.all(people.map((p) => leave(p)));
  }
});
