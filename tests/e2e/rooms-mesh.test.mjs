// The room check on direct connections through the real server, four browsers (docs/PROTOCOL.md
// 20.4, 20.7 "Direct connections"): alice makes a room with bob and carol (her contacts; bob and
// carol get a session inside the room), erin is a contact of alice and bob but not a member.
// - Members connected directly show each other "verified" in "Room members".
// - A proof bob sent to alice, sent again on the same connection, is refused.
// - erin learns the room id: her room-hello to bob is refused without an answer, and bob's proof
//   (captured from bob's page) replayed by erin to alice is refused; no room payload ever reaches
//   erin's page and nothing of the room shows there.
// - bob's proofs name a wrong certificate (as through a machine in the middle): alice's next check
//   fails, her room says so once and her room messages still reach bob (by mail); bob's message on
//   that link waits, unshown, until a good proof verifies the link again.
// - the link between alice and bob is lost: the new one is checked again with fresh nonces.
// - carol answers no check: alice sees hers failed after the deadline (20 s, and 20 s more for the
//   hello sent again).
// - alice removes carol: bob, whose only session with carol is the room's, closes the link to her.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { connectPair, leave, person, signUp, until } from '../lib/people.mjs';
import { createRoom, members, openRoomOf } from '../lib/rooms.mjs';

const server = serverForTests();
const LONG = 120000; // four browsers on two shared cores

// Waits until the "Room members" item naming `who` says `state`.
async function memberSays(p, who, state) {
  await until(async () => (await members(p)).some((t) => t.startsWith(who) && t.includes(`· ${state}`)),
    { timeout: LONG, message: `${p.name} sees ${who} ${state}` });
}

const hooks = (p, fn, arg) => p.page.evaluate(fn, arg);

test('room checks on direct connections: verified members, replays and a stranger refused, a failed check, a removal', { timeout: 600000 }, async () => {
  const [a, b, c, e] = await Promise.all(['alice', 'bob', 'carol', 'erin'].map((n) => person(server, uniqueName(n))));
  const people = [a, b, c, e];
  try {
    for (const p of people) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
    await Promise.all(people.map((p) => signUp(p)));
    for (const p of [b, c, e]) await connectPair(a, p);
    await connectPair(b, e);
    const roomName = 'Lighthouse';

    await createRoom(a, roomName, [b.name, c.name], LONG);
    for (const p of [b, c]) await openRoomOf(p, roomName, LONG);
    const hex = await a.page.locator('#rooms button').first().getAttribute('data-room');

    // Every member shows the two others verified on its direct connection with them (bob and
    // carol over the session and link made inside the room).
    for (const [p, others] of [[a, [b, c]], [b, [a, c]], [c, [a, b]]]) {
      for (const o of others) await memberSays(p, o.name, 'verified');
    }

    // bob's proof to alice, sent again on the same connection: refused (its nonce was answered).
    const proofs = await hooks(b, () => globalThis.parleyTestHooks.roomChecksSent());
    const toAlice = proofs.filter((x) => x.name === a.name && x.payload.t === 'room-proof');
    assert.ok(toAlice.length >= 1, 'bob answered alice');
    const replay = toAlice[toAlice.length - 1].payload;
    const refusedBefore = a.warnings.filter((w) => /room proof from .* answering no question/.test(w)).length;
    assert.equal(await hooks(b, ([n, pl]) => globalThis.parleyTestHooks.sendOnLink(n, pl), [a.name, replay]), true);
    await until(() => a.warnings.filter((w) => new RegExp(`room proof from ${b.name} answering no question`).test(w)).length > refusedBefore,
      { timeout: LONG, message: 'alice refused the replayed proof' });
    await memberSays(a, b.name, 'verified');

    // erin, not a member, knows the room id: her hello to bob is refused and not answered.
    const nonce = Buffer.alloc(32, 7).toString('base64url');
    assert.equal(await hooks(e, ([n, pl]) => globalThis.parleyTestHooks.sendOnLink(n, pl),
      [b.name, { v: 1, t: 'room-hello', room: hex, ver: 1, nonce }]), true);
    await until(() => b.warnings.some((w) => new RegExp(`room check from ${e.name} for a room they are not in here was refused`).test(w)),
      { timeout: LONG, message: "bob refused erin's hello" });
    // ... and bob's proof to alice, replayed by erin to alice: refused.
    assert.equal(await hooks(e, ([n, pl]) => globalThis.parleyTestHooks.sendOnLink(n, pl), [a.name, replay]), true);
    await until(() => a.warnings.some((w) => new RegExp(`room check from ${e.name} for a room they are not in here was refused`).test(w)),
      { timeout: LONG, message: "alice refused bob's proof from erin" });
    // A room message after all this reaches the members, and nothing of the room reaches erin.
    const box = a.page.getByRole('textbox', { name: 'Room message' });
    await box.fill('only for members');
    await box.press('Enter');
    for (const p of [b, c]) {
      await p.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .text')].some((x) => x.textContent === 'only for members'),
        null, { timeout: LONG });
    }
    const sentToErin = (await hooks(b, () => globalThis.parleyTestHooks.roomChecksSent())).filter((x) => x.name === e.name);
    assert.deepEqual(sentToErin, [], 'bob sent erin no room check');
    assert.deepEqual((await hooks(a, () => globalThis.parleyTestHooks.roomChecksSent())).filter((x) => x.name === e.name), [],
      'alice sent erin no room check');
    assert.deepEqual(await hooks(e, () => globalThis.parleyTestHooks.roomPayloadsIn()), [], 'no room payload reached erin');
    assert.equal(await e.page.getByRole('list', { name: 'Rooms' }).getByRole('listitem').count(), 0, 'erin holds no room');
    assert.equal(await e.page.evaluate(([n, h]) => document.body.textContent.includes(n) || document.body.innerHTML.includes(h),
      [roomName, hex]), false, "the room's name and id are not on erin's page");
    assert.ok(!e.frames.some((f) => f.payload.includes(hex) || f.payload.includes(roomName) || f.payload.includes('only for members')),
      "the room's id, name and messages are not on erin's wire");

    // bob's proofs name a wrong certificate: alice's next check of bob fails, once said.
    await hooks(b, () => globalThis.parleyTestHooks.badRoomProofs(true));
    await hooks(a, () => globalThis.parleyTestHooks.roomCheckAgain());
    await memberSays(a, b.name, 'verification failed');
    await a.page.getByText(`The direct connection with ${b.name} could not prove`).first().waitFor({ timeout: LONG });
    await box.fill('by mail to bob');
    await box.press('Enter');
    await b.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .text')].some((x) => x.textContent === 'by mail to bob'),
      null, { timeout: LONG });
    await a.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .delivery')].slice(-1)
      .every((x) => x.textContent === 'delivered to 2 of 2'), null, { timeout: LONG });
    assert.equal(await a.page.getByText(`The direct connection with ${b.name} could not prove`).count(), 1, 'said once');
    // bob (whose check of alice holds) writes on that link: alice holds it back, unshown.
    const bbox = b.page.getByRole('textbox', { name: 'Room message' });
    await bbox.fill('from bob on a failed link');
    await bbox.press('Enter');
    await until(() => a.warnings.some((w) => new RegExp(`room message from ${b.name} came on a direct connection that failed`).test(w)),
      { timeout: LONG, message: "alice held bob's message back" });
    assert.equal(await a.page.evaluate(() => document.body.textContent.includes('from bob on a failed link')), false, 'not shown');
    // Proofs right again: the next check verifies bob, and what was held back is shown.
    await hooks(b, () => globalThis.parleyTestHooks.badRoomProofs(false));
    await hooks(a, () => globalThis.parleyTestHooks.roomCheckAgain());
    await memberSays(a, b.name, 'verified');
    await a.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .text')].some((x) => x.textContent === 'from bob on a failed link'),
      null, { timeout: LONG });

    // The link between alice and bob is lost: the new one is checked again, with fresh nonces.
    const helloNonces = async (p, to) => (await hooks(p, () => globalThis.parleyTestHooks.roomChecksSent()))
      .filter((x) => x.name === to && x.payload.t === 'room-hello').map((x) => x.payload.nonce);
    const before = await helloNonces(a, b.name);
    await hooks(a, (n) => globalThis.parleyTestHooks.loseLink(n), b.name);
    await memberSays(a, b.name, 'not connected');
    await memberSays(a, b.name, 'verified');
    await memberSays(b, a.name, 'verified');
    const after = (await helloNonces(a, b.name)).slice(before.length);
    assert.ok(after.length >= 1, 'alice asked bob again on the new link');
    assert.ok(after.every((n) => !before.includes(n)) && new Set(after).size === after.length, 'with fresh nonces');

    // carol answers nothing: after the deadline alice and bob see her check failed.
    await hooks(c, () => globalThis.parleyTestHooks.muteRoomChecks(true));
    await hooks(a, () => globalThis.parleyTestHooks.roomCheckAgain());
    await memberSays(a, c.name, 'verification failed');
    await hooks(c, () => globalThis.parleyTestHooks.muteRoomChecks(false));

    // alice removes carol: bob's only session with carol is the room's, so bob closes that link.
    assert.equal(await hooks(b, (n) => globalThis.parleyTestHooks.linkOpen(n), c.name), true, 'bob and carol were linked');
    await a.page.getByRole('button', { name: `Remove member ${c.name}` }).click();
    await c.page.getByText(`You were removed from ${roomName}.`).first().waitFor({ timeout: LONG });
    await until(async () => !(await hooks(b, (n) => globalThis.parleyTestHooks.linkOpen(n), c.name)),
      { timeout: LONG, message: 'bob closed the link to carol' });
    await until(async () => (await members(b)).length === 2, { timeout: LONG, message: 'bob: two members' });
    // The new version is checked again between alice and bob (a fresh hello naming version 2).
    for (const [p, o] of [[a, b], [b, a]]) {
      await until(async () => (await hooks(p, () => globalThis.parleyTestHooks.roomChecksSent()))
        .some((x) => x.name === o.name && x.payload.t === 'room-proof' && x.payload.ver === 2),
      { timeout: LONG, message: `${p.name} proved its key to ${o.name} at version 2` });
      await memberSays(p, o.name, 'verified');
    }
  } finally {
    await Promise.all(people.map((p) => leave(p)));
  }
});
