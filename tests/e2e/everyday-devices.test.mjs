// Everyday actions on several devices (docs/PROTOCOL.md 12.15, 14.6): what alice does on one
// browser (a timer, an edit, a delete for everyone, a reaction) reaches her other browser through
// the same copies as her messages, and bob's edit reaches both of hers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, messageActions, noText, openChat, person, send, signUp, transcriptItem as item, waitForMessage,
} from '../lib/people.mjs';
import { linkSecondBrowser } from '../lib/linking.mjs';

const server = serverForTests();
const LONG = 40000;


test("alice's actions on one browser reach her other browser and bob; bob's edit reaches both of hers", async () => {
  const aliceName = uniqueName('alice');
  const a1 = await person(server, aliceName);
  const a2 = await person(server, aliceName);
  const bob = await person(server, uniqueName('bob'));
  try {
    await signUp(a1);
    await signUp(bob);
    await connectPair(a1, bob);
    await linkSecondBrowser(a1, a2);
    await openChat(a2, bob.name);
    await openChat(a1, bob.name);

    await send(a1, 'alice wrote this');
    await send(a1, 'alice will delete this');
    await send(bob, 'bob wrote this');
    for (const p of [a2, bob]) await waitForMessage(p.page, 'alice will delete this', LONG);
    for (const p of [a1, a2]) await waitForMessage(p.page, 'bob wrote this', LONG);

    // A timer set on the first browser: the line and the setting on the second, and at bob's.
    await a1.page.getByLabel('Disappearing messages').selectOption({ label: '1 hour' });
    await waitForMessage(a2.page, 'You set disappearing messages to 1 hour.', LONG);
    await waitForMessage(bob.page, `${aliceName} set disappearing messages to 1 hour.`, LONG);
    assert.equal(await a2.page.getByLabel('Disappearing messages').inputValue(), '3600');

    // Edit, delete and react on the first browser.
    await (await messageActions(a1, 'alice wrote this')).getByRole('button', { name: 'Edit' }).click();
    const box = a1.page.getByRole('textbox', { name: 'Message' });
    await box.fill('alice changed this');
    await box.press('Enter');
    await (await messageActions(a1, 'alice will delete this')).getByRole('button', { name: 'Delete for everyone' }).click();
    await (await messageActions(a1, 'bob wrote this')).getByRole('button', { name: 'React' }).click();
    await item(a1, 'bob wrote this').getByRole('button', { name: '😂' }).click();
    for (const p of [a2, bob]) {
      await waitForMessage(p.page, 'alice changed this', LONG);
      await item(p, 'alice changed this').getByText('edited', { exact: true }).waitFor({ timeout: LONG });
      await noText(p, 'alice will delete this', LONG);
      await waitForMessage(p.page, 'This message was deleted', LONG);
    }
    await item(a2, 'bob wrote this').getByText('😂 You').waitFor({ timeout: LONG });
    await item(bob, 'bob wrote this').getByText(`😂 ${aliceName}`).waitFor({ timeout: LONG });

    // bob edits: both of alice's browsers show it.
    await (await messageActions(bob, 'bob wrote this')).getByRole('button', { name: 'Edit' }).click();
    await bob.page.getByRole('textbox', { name: 'Message' }).fill('bob changed this');
    await bob.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    for (const p of [a1, a2]) {
      await waitForMessage(p.page, 'bob changed this', LONG);
      await item(p, 'bob changed this').getByText('edited', { exact: true }).waitFor({ timeout: WAIT });
    }
    for (const p of [a1, a2, bob]) {
      assert.deepEqual(p.problems.filter((x) => !/Failed to load resource/.test(x)), [], `${p.name}: no console errors`);
    }
  } finally {
    await Promise.all([leave(a1), leave(a2), leave(bob)]);
  }
});

test("what alice reads on one browser is read on her other one: its unread count clears, and the chat opens there with nothing new", async () => {
  const aliceName = uniqueName('alice');
  const a1 = await person(server, aliceName);
  const a2 = await person(server, aliceName);
  const bob = await person(server, uniqueName('bob'));
  try {
    await signUp(a1);
    await signUp(bob);
    await connectPair(a1, bob);
    await linkSecondBrowser(a1, a2);
    // Both of alice's browsers show the list only (phone width: the list and a chat are two screens).
    for (const p of [a1, a2]) {
      await p.page.setViewportSize({ width: 390, height: 844 });
      if (await p.page.getByRole('button', { name: 'Back to conversations' }).isVisible()) {
        await p.page.getByRole('button', { name: 'Back to conversations' }).click();
      }
    }
    await send(bob, 'read me once');
    await send(bob, 'read me twice');
    const badge = (p) => p.page.waitForFunction((n) => document.querySelector(`#contacts button[data-name="${n}"] .unread`)?.textContent === '2',
      bob.name, { timeout: LONG });
    await Promise.all([badge(a1), badge(a2)]);
    // Read on the first browser: the second's count clears without opening the chat there.
    await openChat(a1, bob.name);
    await waitForMessage(a1.page, 'read me twice', LONG);
    await a2.page.waitForFunction((n) => !document.querySelector(`#contacts button[data-name="${n}"] .unread`), bob.name, { timeout: LONG });
    assert.equal(await a2.page.title(), 'Parley', 'the tab title counts nothing unread');
    // bob sees his messages read (from the first browser's receipt).
    await item(bob, 'read me twice').getByText('read', { exact: true }).waitFor({ timeout: LONG });
    // Opening the chat on the second browser finds them read already: no "New messages" divider.
    await openChat(a2, bob.name);
    await waitForMessage(a2.page, 'read me twice', LONG);
    assert.equal(await a2.page.getByRole('separator').filter({ hasText: 'New messages' }).count(), 0);
  } finally {
    await Promise.all([leave(a1), leave(a2), leave(bob)]);
  }
});
