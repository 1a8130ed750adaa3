// Members by key code (docs/PROTOCOL.md 20.8) through the real server, two browsers: bob shows
// his key code ("Show my key code"); alice creates a room whose only other member is a key no
// contact of hers holds (shown "unknown (key code …)", sent to nobody); a damaged code is refused
// in words; alice adds bob by his pasted key code ("Add key"): he is listed by name, the room
// reaches him, and messages go both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { connectPair, leave, person, shots, signUp, until } from '../lib/people.mjs';
import { members, openRoomOf } from '../lib/rooms.mjs';

const { keyCode } = await import('../../web/js/keycode.js');
const server = serverForTests();
const LONG = 120000;

async function sendToRoom(p, text) {
  const box = p.page.getByRole('textbox', { name: 'Room message' });
  await box.fill(text);
  await box.press('Enter');
}

async function waitRoomText(p, text) {
  await p.page.waitForFunction((t) => [...document.querySelectorAll('#room-transcript .text')].some((e) => e.textContent === t),
    text, { timeout: LONG });
}

test('members by key code: an unknown key, a damaged code refused, a contact added by its code', { timeout: 400000 }, async () => {
  const [a, b] = await Promise.all(['alice', 'bob'].map((n) => person(server, uniqueName(n))));
  try {
    await Promise.all([a, b].map((p) => signUp(p)));
    await connectPair(a, b);

    // bob's key code, as his page shows it.
    await b.page.getByRole('button', { name: 'Show my key code' }).click();
    const shown = b.page.getByRole('group', { name: 'My key code' });
    await shown.getByRole('button', { name: 'Copy' }).waitFor({ timeout: LONG });
    const bobCode = (await b.page.locator('#room-mykey-code').textContent()).trim();
    assert.match(bobCode, /^PK1-([A-Z2-7]{5}-){10}[A-Z2-7]{5}$/);

    // alice: a room with a stranger's key; a damaged code first.
    const stranger = await keyCode(webcrypto.getRandomValues(new Uint8Array(32)));
    await a.page.getByRole('button', { name: 'New room' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'New room' });
    await dialog.getByLabel('Room name').fill('Keyed');
    const damaged = `${stranger.slice(0, 20)}${stranger[20] === 'A' ? 'B' : 'A'}${stranger.slice(21)}`;
    await dialog.getByRole('textbox', { name: 'Key code' }).fill(damaged);
    await dialog.getByRole('button', { name: 'Add key' }).click();
    await dialog.getByText('This key code is damaged or incomplete.').waitFor({ timeout: LONG });
    await dialog.getByRole('textbox', { name: 'Key code' }).fill(stranger.toLowerCase());
    await dialog.getByRole('button', { name: 'Add key' }).click();
    const short = `unknown (key code ${stranger.slice(0, 15)}…)`;
    await dialog.getByRole('list', { name: 'Members by key code' }).getByText(short).waitFor({ timeout: LONG });
    await shots(a.page, 'room-new-keys');
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await a.page.locator('#room').waitFor({ state: 'visible', timeout: LONG });
    await until(async () => (await members(a)).some((t) => t.startsWith(short)), { timeout: LONG, message: 'the stranger listed' });

    // In the open room: a damaged code refused, then bob by his code.
    const keyBox = a.page.getByRole('region', { name: 'Room' }).getByRole('textbox', { name: 'Key code' });
    await keyBox.fill(bobCode.slice(0, -6));
    await a.page.getByRole('button', { name: 'Add key' }).click();
    await a.page.getByRole('alert').filter({ hasText: 'This key code is damaged or incomplete.' }).waitFor({ timeout: LONG });
    assert.equal((await members(a)).length, 2, 'nothing added');
    await keyBox.fill(bobCode);
    await a.page.getByRole('button', { name: 'Add key' }).click();
    await until(async () => (await members(a)).some((t) => t.startsWith(b.name)), { timeout: LONG, message: 'bob listed by name' });
    assert.match(await a.page.locator('#room-status').textContent(), /3 members · version 2/);
    await shots(a.page, 'room-keys');
    await shots(b.page, 'room-mykey');

    // The room reaches bob; the stranger shows as unknown there too.
    await openRoomOf(b, 'Keyed', LONG);
    await until(async () => (await members(b)).length === 3, { timeout: LONG, message: 'bob: three members' });
    assert.ok((await members(b)).some((t) => t.startsWith(short)), 'bob sees the stranger by key code');
    await sendToRoom(b, 'bob by key');
    await waitRoomText(a, 'bob by key');
    await sendToRoom(a, 'alice to the room');
    await waitRoomText(b, 'alice to the room');
  } finally {
    await Promise.all([a, b].map((p) => leave(p)));
  }
});
