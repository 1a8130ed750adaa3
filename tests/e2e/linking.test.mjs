// Linking a device (docs/PROTOCOL.md 14.5): a new browser of an existing account offers "Link
// this device" and shows a code; a logged-in device takes it in Devices, both show the same
// number, and the new browser gets the identity, the contacts and the history; the Devices screen
// removes a device; "Start over on this device" still makes a new identity; bad codes are refused
// in plain words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCore } from '../lib/core.mjs';
import { serverForTests } from '../lib/server.mjs';
import { newUser, uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, logIn, openChat, person, send, shots, signUp, texts, transcript, until, waitAllDelivered, waitForApp, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();
const REMOVED = 'This browser was removed from your account on another of your devices, so it can no longer send or receive your messages.';

async function safetyNumber(page) {
  await page.getByRole('button', { name: /^Verify/ }).click();
  const digits = await page.locator('#safety-number').textContent();
  await page.getByRole('button', { name: 'Close' }).click();
  return digits;
}

/** The new browser logs in and shows its code; returns the code text. */
async function showCode(p) {
  await logIn(p, { expectApp: false });
  await p.page.getByRole('button', { name: 'Link this device' }).click();
  const code = p.page.getByLabel('Link code', { exact: true });
  await code.waitFor({ state: 'visible', timeout: WAIT });
  await p.page.getByText('Waiting for your other device').waitFor({ timeout: WAIT });
  return code.textContent();
}

/** On a logged-in device: Devices, "Link a new device", the code typed, Continue. */
async function enterCode(p, code) {
  await p.page.getByRole('button', { name: 'Devices', exact: true }).click();
  await p.page.getByRole('button', { name: 'Link a new device' }).click();
  await p.page.getByLabel('Code shown on the new device').fill(code);
  await p.page.getByRole('button', { name: 'Continue' }).click();
}

async function directory(name) {
  const viewer = await newUser(server.url, 'viewer');
  const res = await fetch(`${server.url}/api/keys/${name}`, { headers: { Authorization: `Bearer ${viewer.token}` } });
  assert.equal(res.status, 200);
  return res.json();
}

test('a new browser is linked from a logged-in one: same identity, the contacts and the history; then removed from the Devices screen', async () => {
  const name = uniqueName('alice');
  const a = await person(server, name);
  const bob = await person(server, uniqueName('bob'));
  const b = await person(server, name);
  try {
    await signUp(a);
    await signUp(bob);
    await connectPair(a, bob);
    await send(a, 'hello bob');
    await send(bob, 'hi alice, "quotes" & <tags>');
    await send(a, 'line one\nline two');
    await waitAllDelivered(a.page);
    const history = texts(await transcript(a.page));
    const safety = await safetyNumber(a.page);

    const code = await showCode(b);
    await enterCode(a, code);
    const onA = a.page.getByRole('dialog').getByLabel('Link check number');
    await onA.waitFor({ state: 'visible', timeout: WAIT });
    const onB = b.page.getByRole('main').getByLabel('Link check number');
    await onB.waitFor({ state: 'visible', timeout: WAIT });
    await shots(a.page, 'linking-old-device-confirm');
    await shots(b.page, 'linking-new-device-code');
    assert.match(await onA.textContent(), /^\d{4} \d{4} \d{4}$/);
    assert.equal(await onA.textContent(), await onB.textContent(), 'both screens show the same number');
    const started = Date.now();
    await a.page.getByRole('button', { name: 'Confirm' }).click();

    await waitForApp(b.page);
    await a.page.getByText(/is linked: 1 contact and 3 messages copied/).waitFor({ timeout: WAIT });
    await openChat(b, bob.name);
    await until(async () => (await transcript(b.page)).length === history.length, { message: 'the history on the new device' });
    assert.deepEqual(texts(await transcript(b.page)), history);
    assert.equal(await safetyNumber(b.page), safety, 'the new device has the same identity');
    console.log(`# linked in ${Date.now() - started} ms`);

    // The directory lists both devices, each with its own keys, under a list of generation 2.
    const dir = await until(async () => {
      const d = await directory(name);
      return d.bundles?.length === 2 ? d : null;
    }, { message: 'both devices in the directory' });
    const core = await nodeCore();
    const opened = core.openDevices(Buffer.from(dir.identityKey, 'base64url'), Buffer.from(dir.devices, 'base64url'));
    assert.equal(opened.generation, 2);
    assert.equal(opened.devices.length, 2);
    // Bob sees no change of identity.
    await openChat(bob, name);
    assert.equal(await bob.page.locator('#identity-warning').isVisible(), false);

    // The new device writes to Bob (the old one gets a copy), and Bob's answer reaches both.
    await send(b, 'written on the new device');
    await waitForMessage(bob.page, 'written on the new device', 30000);
    await waitForMessage(a.page, 'written on the new device', 30000); // the copy for our other device
    await send(bob, 'answer to both of your devices');
    await waitForMessage(b.page, 'answer to both of your devices', 30000);
    await waitForMessage(a.page, 'answer to both of your devices', 30000);
    await a.page.getByRole('button', { name: 'Close' }).click();
    await send(a, 'and the old device still writes');
    await waitForMessage(bob.page, 'and the old device still writes', 30000);
    await waitForMessage(b.page, 'and the old device still writes', 30000); // its copy

    // The Devices screen lists both; A removes B, which is told and can no longer send.
    await a.page.getByRole('button', { name: 'Devices', exact: true }).click();
    const list = a.page.getByRole('list', { name: 'Your devices' });
    await until(async () => (await list.getByRole('listitem').count()) === 2, { message: 'two devices listed' });
    await shots(a.page, 'linking-devices');
    assert.deepEqual([a.problems, b.problems, bob.problems], [[], [], []], 'no console errors nor failed requests');
    await list.getByText('(this device)').waitFor({ timeout: WAIT });
    a.acceptDialogs = true;
    await list.getByRole('button', { name: 'Remove device' }).click();
    await a.page.getByText(/was removed from your account/).waitFor({ timeout: WAIT });
    await b.page.getByText(REMOVED).waitFor({ timeout: WAIT });
    assert.equal(await b.page.locator('#app-screen').isVisible(), false, 'no Send offered');
    await until(async () => (await list.getByRole('listitem').count()) === 1, { message: 'one device listed' });
    // Its next log-in is refused in the same words.
    await logIn(b, { expectApp: false });
    await b.page.getByRole('alert').filter({ hasText: REMOVED }).waitFor({ timeout: WAIT });
    assert.equal(await b.page.locator('#app-screen').isVisible(), false);
  } finally {
    await leave(a);
    await leave(b);
    await leave(bob);
  }
});

test('a link cancelled on the new device is reported on the old one; "Start over on this device" makes a new identity after its warning', async () => {
  const name = uniqueName('alice');
  const a = await person(server, name);
  const b = await person(server, name);
  try {
    await signUp(a);
    // A link cancelled on the new device while the old one waits for the person's confirm: the
    // old device says so.
    const code = await showCode(b);
    await enterCode(a, code);
    await a.page.getByRole('button', { name: 'Confirm' }).waitFor({ timeout: WAIT });
    await b.page.getByRole('button', { name: 'Cancel' }).click();
    await a.page.getByRole('dialog').getByRole('alert').filter({ hasText: 'Linking was cancelled on the new device.' }).waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByRole('button', { name: 'Confirm' }).isVisible(), false);
    await b.page.getByRole('alert').filter({ hasText: 'Linking was cancelled' }).waitFor({ timeout: WAIT });
    await a.page.getByRole('button', { name: 'Close' }).click();
    // Dismissed: nothing happens.
    await b.page.getByRole('button', { name: 'Start over on this device' }).click();
    assert.match(b.dialogs.at(-1).message, /Make a new identity\?.*safety number changed/);
    assert.equal(await b.page.locator('#link-screen').isVisible(), true);
    b.acceptDialogs = true;
    await b.page.getByRole('button', { name: 'Start over on this device' }).click();
    await waitForApp(b.page);
    await b.page.getByText('This browser had no keys for your account').waitFor({ timeout: WAIT });
    await a.page.getByText(REMOVED).waitFor({ timeout: WAIT });
  } finally {
    await leave(a);
    await leave(b);
  }
});

test('a garbled code, a code of another version, and a code no device answers are refused in plain words', async () => {
  const name = uniqueName('alice');
  const a = await person(server, name);
  const b = await person(server, name);
  try {
    await signUp(a);
    const error = a.page.getByRole('dialog').getByRole('alert');
    await enterCode(a, 'not a code at all');
    await error.filter({ hasText: 'That is not a link code' }).waitFor({ timeout: WAIT });
    const code = await showCode(b);
    const bytes = Buffer.from(code, 'base64url');
    await a.page.getByLabel('Code shown on the new device').fill(code.slice(0, -3));
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await error.filter({ hasText: 'That is not a link code' }).waitFor({ timeout: WAIT });
    const other = Buffer.from(bytes);
    other[0] = 2;
    await a.page.getByLabel('Code shown on the new device').fill(other.toString('base64url'));
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await error.filter({ hasText: 'another version of Parley' }).waitFor({ timeout: WAIT });
    // A device id nobody is connected as.
    const away = Buffer.from(bytes);
    away.writeUInt32BE((bytes.readUInt32BE(1) % 0x7ffffffe) + 1, 1);
    await a.page.getByLabel('Code shown on the new device').fill(away.toString('base64url'));
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await error.filter({ hasText: 'The new device is not connected' }).waitFor({ timeout: WAIT });
    // The right device but another key (a code copied wrong): it answers under other keys, and
    // nothing it says can be opened, so the wait ends after 15 s.
    const wrongKey = Buffer.from(bytes);
    wrongKey[10] ^= 0x55;
    await a.page.getByLabel('Code shown on the new device').fill(wrongKey.toString('base64url'));
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await error.filter({ hasText: 'No new device answered this code' }).waitFor({ timeout: 25000 });
    assert.equal(await a.page.getByRole('button', { name: 'Confirm' }).isVisible(), false);
  } finally {
    await leave(a);
    await leave(b);
  }
});
