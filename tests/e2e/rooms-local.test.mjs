// Rooms of local profiles with no server at all (docs/PROTOCOL.md 17.7, 20.8): three browsers
// make local profiles on a serverless site (tests/lib/local.mjs). bob and carol, and alice and
// bob, connect by invitation codes; alice creates a room with bob (picked) and carol by her key
// code, whom alice does not know yet: carol is listed as "unknown (key code …)" and gets nothing.
// Then alice and carol connect by codes: carol is named and gets the room. Each sends a message
// over the direct links only and the three transcripts hold the same three. No request reaches
// any API and no WebSocket is opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../lib/people.mjs';
import { connectByCodes, localPerson } from '../lib/local.mjs';
import { members, openRoomOf } from '../lib/rooms.mjs';

const LONG = 120000;

async function myKeyCode(p) {
  await p.page.getByRole('button', { name: 'Show my key code' }).click();
  await p.page.getByRole('group', { name: 'My key code' }).getByRole('button', { name: 'Copy' }).waitFor({ timeout: LONG });
  return (await p.page.locator('#room-mykey-code').textContent()).trim();
}

function roomTexts(p) {
  return p.page.evaluate(() => [...document.querySelectorAll('#room-transcript > li.msg:not(.notice)')]
    .map((li) => `${li.querySelector('.sender').textContent}: ${li.querySelector('.text').textContent}`));
}

test('local profiles: a room by key code over links only, a member named once connected', { timeout: 600000 }, async (t) => {
  const a = await localPerson(t, 'room-alice');
  const b = await localPerson(t, 'room-bob');
  const c = await localPerson(t, 'room-carol');
  const people = [a, b, c];
  await connectByCodes(b, c);
  await connectByCodes(a, b);
  const carolCode = await myKeyCode(c);
  assert.match(carolCode, /^PK1-([A-Z2-7]{5}-){10}[A-Z2-7]{5}$/);
  const unknownCarol = `unknown (key code ${carolCode.slice(0, 15)}…)`;

  // alice: bob picked, carol by her key code.
  await a.page.getByRole('button', { name: 'New room' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'New room' });
  await dialog.getByLabel('Room name').fill('No server');
  const pick = dialog.getByRole('group', { name: 'Members' });
  assert.equal(await pick.getByRole('checkbox').count(), 1, 'one contact to pick');
  await pick.getByRole('checkbox').check();
  await dialog.getByRole('textbox', { name: 'Key code' }).fill(carolCode);
  await dialog.getByRole('button', { name: 'Add key' }).click();
  await dialog.getByRole('list', { name: 'Members by key code' }).getByText(unknownCarol).waitFor({ timeout: LONG });
  await dialog.getByRole('button', { name: 'Create room' }).click();
  await a.page.locator('#room').waitFor({ state: 'visible', timeout: LONG });
  await until(async () => (await members(a)).some((x) => x.startsWith(unknownCarol)), { timeout: LONG, message: 'alice lists carol by key code' });

  // bob gets the room over the link; he knows carol (his code contact) by name.
  await openRoomOf(b, 'No server', LONG);
  await until(async () => (await members(b)).length === 3, { timeout: LONG, message: 'bob: three members' });
  assert.equal((await members(b)).some((x) => x.startsWith('unknown')), false, 'bob names carol');
  assert.equal(await c.page.getByRole('list', { name: 'Rooms' }).getByRole('button').count(), 0, 'carol has no room yet');

  // alice and carol connect: carol is named on alice's page and gets the room.
  await connectByCodes(a, c);
  await until(async () => !(await members(a)).some((x) => x.startsWith('unknown')), { timeout: LONG, message: 'alice names carol' });
  await openRoomOf(c, 'No server', LONG);
  await until(async () => (await members(c)).length === 3, { timeout: LONG, message: 'carol: three members' });
  // A local profile is named in rooms by its code name, as its code contacts know it.
  assert.ok((await members(c)).some((x) => /^~[A-Za-z0-9_-]{8} \(you\)/.test(x)), 'carol is her code name');
  await openRoomOf(a, 'No server', LONG); // the new chat with carol took the room's place

  // One message each, over the links only.
  const names = new Map();
  const transcripts = [];
  for (const p of people) {
    const text = `${p.name} to the room`;
    names.set(p, text);
    const box = p.page.getByRole('textbox', { name: 'Room message' });
    await box.fill(text);
    await box.press('Enter');
  }
  for (const p of people) {
    await until(async () => (await roomTexts(p)).length === 3, { timeout: LONG, message: `${p.name}: three messages` });
    // With their senders: "You" on one's own page is one's code name on the others'.
    const self = (await members(p)).find((x) => x.includes('(you)')).split(' ')[0];
    const got = (await roomTexts(p)).map((x) => x.replace(/^You: /, `${self}: `)).sort();
    transcripts.push(got);
    assert.deepEqual(got.map((x) => x.replace(/^[^:]*: /, '')).sort(), [...names.values()].sort(), `${p.name}: the same three`);
  }
  assert.deepEqual(transcripts[1], transcripts[0], 'the same senders on every page');
  assert.deepEqual(transcripts[2], transcripts[0], 'the same senders on every page');
  for (const p of people) {
    await p.page.waitForFunction(() => [...document.querySelectorAll('#room-transcript .delivery')]
      .every((x) => x.textContent === 'delivered to 2 of 2'), null, { timeout: LONG });
  }
  // Nothing went to any server: no API request, no WebSocket.
  for (const p of people) {
    assert.deepEqual(p.requests.filter((r) => r.url.includes('/api/') || r.url.startsWith('ws')), []);
    assert.deepEqual(p.frames, []);
  }
});
