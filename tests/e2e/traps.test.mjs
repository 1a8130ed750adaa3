// Traps found by trying the app (issue 15, item 7): each test failed before its fix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests, startServer } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { linkSecondBrowser } from '../lib/linking.mjs';
import {
  WAIT, connectPair, leave, logIn, openChat, person, send, signUp, transcript, until, waitForApp,
} from '../lib/people.mjs';

const server = serverForTests();
const extra = [];
after(async () => {
  for (const s of extra) await s.stop();
});

async function serve(args) {
  const s = await startServer({ args });
  extra.push(s);
  return s;
}

test('listening on 0.0.0.0 as the README shows: a page opened at the machine\'s address connects', { timeout: 120000 }, async () => {
  const s = await serve(['--listen', '0.0.0.0:0']);
  const a = await person(s, uniqueName('alice'));
  try {
    await signUp(a); // waits for "Connected"
    assert.equal(await a.page.locator('#banner').isVisible(), false);
  } finally {
    await leave(a);
  }
});

test('a page whose origin the server refuses says why instead of reconnecting without a word', { timeout: 120000 }, async () => {
  const s = await serve(['--origin', 'https://elsewhere.example']);
  const a = await person(s, uniqueName('alice'));
  try {
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password', { exact: true }).fill(a.password);
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    await a.page.getByLabel('Type it again').fill(a.password);
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    await a.page.locator('#app-screen').waitFor({ timeout: WAIT });
    const alert = a.page.getByRole('alert').filter({ hasText: 'does not accept pages opened at' });
    await alert.waitFor({ timeout: WAIT });
    assert.equal(await alert.locator('#banner-text').textContent(),
      `The server at ${s.url} does not accept pages opened at ${s.url}, so this page cannot connect. `
      + `Open Parley at the address its server was started with, or ask whoever runs it to add --origin ${s.url}.`);
  } finally {
    await leave(a);
  }
});

test('after an identity reset the words agree with what happens, the contact\'s status says sending is paused, and the change stays in the transcript', { timeout: 180000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    a.acceptDialogs = true;
    await a.page.getByRole('button', { name: 'Reset identity' }).click();
    await until(() => a.dialogs.length > 0, { message: 'the confirmation' });
    const asked = a.dialogs[0].message;
    assert.doesNotMatch(asked, /must be started again/);
    assert.match(asked, /asks each of your contacts to chat again/);
    await a.page.getByText('You have a new identity. Your contacts were asked to chat again').waitFor({ timeout: 30000 });
    // Bob: the warning, and a status line that says the same (never "connected, end-to-end
    // encrypted" above "Sending is paused").
    await b.page.locator('#identity-warning').waitFor({ timeout: 30000 });
    const status = await b.page.locator('#chat-status').textContent();
    assert.equal(status, `${a.name}'s safety number changed: sending is paused until you review it`);
    await b.page.getByRole('button', { name: 'I have checked, send again' }).click();
    await b.page.locator('#identity-warning').waitFor({ state: 'hidden', timeout: WAIT });
    const line = `${a.name}'s safety number changed. You checked it, and sending resumed.`;
    await b.page.locator('#transcript').getByText(line).waitFor({ timeout: WAIT });
    await b.page.reload();
    await logIn(b);
    await b.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: a.name }).click();
    await b.page.locator('#transcript').getByText(line).waitFor({ timeout: WAIT });
    assert.ok((await transcript(b.page)).some((m) => m.text === line));
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('the contact form\'s error clears when typing; at phone width your own username shows', { timeout: 120000 }, async () => {
  const a = await person(server, uniqueName('alice'), { width: 390, height: 844 });
  try {
    await signUp(a);
    await a.page.getByLabel('Contact').fill('x y');
    await a.page.getByRole('button', { name: 'Start chat' }).click();
    const error = a.page.locator('#contact-error');
    await error.waitFor({ timeout: WAIT });
    await a.page.getByLabel('Contact').pressSequentially('z');
    await error.waitFor({ state: 'hidden', timeout: WAIT });
    const who = a.page.locator('#whoami');
    assert.equal(await who.isVisible(), true);
    assert.equal(await who.textContent(), a.name);
    const box = await who.boundingBox();
    assert.ok(box.width > 0 && box.x + box.width <= 390, `in the viewport: ${JSON.stringify(box)}`);
  } finally {
    await leave(a);
  }
});

test('first screen: Enter logs in and a newcomer is pointed to Sign up; sign-up asks the password twice and says none can recover it; log-out clears the username', { timeout: 120000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password', { exact: true }).fill(a.password);
    await a.page.getByLabel('Password', { exact: true }).press('Enter');
    await a.page.locator('#auth-error').filter({ hasText: 'Wrong username or password. New to Parley? Press Sign up to make an account.' })
      .waitFor({ timeout: WAIT });
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    const again = a.page.getByLabel('Type it again');
    await again.waitFor({ timeout: WAIT });
    assert.match(await a.page.locator('#confirm-hint').textContent(), /Nothing can recover a forgotten password/);
    await again.fill(`${a.password}!`);
    await again.press('Enter');
    await a.page.locator('#auth-error').filter({ hasText: 'The two passwords differ.' }).waitFor({ timeout: WAIT });
    assert.equal(a.requests.filter((r) => r.url.endsWith('/api/signup')).length, 0, 'nothing was sent');
    await again.fill(a.password);
    await again.press('Enter'); // Enter in the second box is Sign up
    await waitForApp(a.page);
    await a.page.getByRole('button', { name: 'Log out' }).click();
    await a.page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByLabel('Username').inputValue(), '');
    assert.equal(await a.page.getByLabel('Type it again').isVisible(), false);
  } finally {
    await leave(a);
  }
});

test('the log-in throttle says how long to wait', { timeout: 180000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    await a.page.getByRole('button', { name: 'Log out' }).click();
    const error = a.page.locator('#auth-error');
    // The account's bucket holds 10 log-ins (docs/API.md, "Throttling"); then the server says
    // when to come back.
    for (let i = 0; i < 12; i += 1) {
      await a.page.getByLabel('Username').fill(a.name);
      await a.page.getByLabel('Password', { exact: true }).fill(`wrong password ${i}`);
      await a.page.getByRole('button', { name: 'Log in' }).click();
      await a.page.waitForFunction(() => !document.getElementById('login').disabled && !document.getElementById('auth-error').hidden, null, { timeout: WAIT });
      if (/Too many attempts/.test(await error.textContent())) break;
    }
    assert.match(await error.textContent(), /^Too many attempts\. Try again in (\d+ seconds?|a minute|\d+ minutes)\.$/);
  } finally {
    await leave(a);
  }
});

test('Change password in the page: the chats on this device open with the new password, the old one is refused, and the session goes on meanwhile', { timeout: 240000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(b, 'before the change');
    await a.page.locator('#transcript').getByText('before the change').waitFor({ timeout: WAIT });
    const open = async () => {
      await a.page.getByRole('button', { name: 'Change password' }).click();
      return a.page.getByRole('dialog', { name: 'Change password' });
    };
    let dialog = await open();
    await dialog.getByLabel('Current password').fill('not my password');
    await dialog.getByLabel('New password', { exact: true }).fill('a brand new secret');
    await dialog.getByLabel('New password again').fill('a brand new secret');
    await dialog.getByRole('button', { name: 'Save new password' }).click();
    await dialog.getByText('The current password is wrong. Nothing was changed.').waitFor({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    dialog = await open();
    await dialog.getByLabel('Current password').fill(a.password);
    await dialog.getByLabel('New password', { exact: true }).fill('a brand new secret');
    await dialog.getByLabel('New password again').fill('a brand new secret');
    await dialog.getByRole('button', { name: 'Save new password' }).click();
    await a.page.getByText('Your password was changed. Use the new one from now on.').waitFor({ timeout: 60000 });
    assert.equal(await a.page.locator('#account-dialog').count(), 0);
    // Still in, connected again with the new token; messages still arrive.
    await a.page.waitForFunction(() => document.getElementById('connection').dataset.state === 'online', null, { timeout: WAIT });
    await send(b, 'after the change');
    await a.page.locator('#transcript').getByText('after the change').waitFor({ timeout: 30000 });
    assert.equal(await a.page.locator('#auth-screen').isVisible(), false);

    await a.page.getByRole('button', { name: 'Log out' }).click();
    await logIn(a, { expectApp: false });
    await a.page.locator('#auth-error').filter({ hasText: 'Wrong username or password.' }).waitFor({ timeout: WAIT });
    a.password = 'a brand new secret';
    await logIn(a);
    await a.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: b.name }).click();
    await a.page.locator('#transcript').getByText('before the change').waitFor({ timeout: WAIT });
    await a.page.locator('#transcript').getByText('after the change').waitFor({ timeout: WAIT });
    await send(a, 'with the new password');
    await b.page.locator('#transcript').getByText('with the new password').waitFor({ timeout: 30000 });
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('Delete account in the page: the password asked again, then the account gone on the server, this browser\'s vault erased, the first screen shown and the name never given out again', { timeout: 240000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  const a2 = await person(server, a.name);
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await linkSecondBrowser(a, a2); // her other device is logged out when she deletes the account
    const databases = () => a.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    assert.ok((await databases()).includes(`parley-v1-${a.name}`));
    const open = async () => {
      await a.page.getByRole('button', { name: 'Delete account' }).click();
      return a.page.getByRole('dialog', { name: 'Delete account' });
    };
    let dialog = await open();
    await dialog.getByText('This cannot be undone.', { exact: false }).waitFor({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await dialog.getByText('Type your password.').waitFor({ timeout: WAIT });
    await dialog.getByLabel('Your password').fill('not my password');
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await dialog.getByText('The password is wrong. Nothing was deleted.').waitFor({ timeout: WAIT });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await a.page.locator('#app-screen').isVisible(), true);

    dialog = await open();
    await dialog.getByLabel('Your password').fill(a.password);
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await a.page.locator('#auth-screen').waitFor({ timeout: 60000 });
    await a.page.getByText('Your account was deleted, and this browser erased what it kept of it.').waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByLabel('Username').inputValue(), '');
    await until(async () => !(await databases()).includes(`parley-v1-${a.name}`), { message: 'the vault erased' });

    await logIn(a, { expectApp: false });
    await a.page.locator('#auth-error').filter({ hasText: 'Wrong username or password.' }).waitFor({ timeout: WAIT });
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password', { exact: true }).fill('another password');
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    await a.page.getByLabel('Type it again').fill('another password');
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    await a.page.locator('#auth-error').filter({ hasText: 'That username is taken. Choose another one.' }).waitFor({ timeout: WAIT });
    // Her other device is logged out and told why; Bob's page goes on.
    await a2.page.getByText('Your account was deleted on another of your devices.').waitFor({ timeout: WAIT });
    await a2.page.locator('#auth-screen').waitFor({ timeout: WAIT });
    assert.equal(await b.page.locator('#app-screen').isVisible(), true);
  } finally {
    await Promise.all([leave(a), leave(b), leave(a2)]);
  }
});

test('Change password with another device: that device logs in with the new password, is asked once for the previous one to open its chats, and not again', { timeout: 300000 }, async () => {
  const a = await person(server, uniqueName('alice'));
  const a2 = await person(server, a.name);
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(b, 'kept on both browsers');
    await a.page.locator('#transcript').getByText('kept on both browsers').waitFor({ timeout: WAIT });
    await linkSecondBrowser(a, a2);
    await a.page.getByRole('button', { name: 'Change password' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Change password' });
    await dialog.getByLabel('Current password').fill(a.password);
    await dialog.getByLabel('New password', { exact: true }).fill('a brand new secret');
    await dialog.getByLabel('New password again').fill('a brand new secret');
    await dialog.getByRole('button', { name: 'Save new password' }).click();
    await a.page.getByText('Your password was changed. Use the new one from now on.').waitFor({ timeout: 60000 });

    // The other browser is logged out; with the new password it asks for the previous one.
    await a2.page.locator('#auth-screen').waitFor({ timeout: 60000 });
    const previous = a2.password;
    a2.password = 'a brand new secret';
    await logIn(a2, { expectApp: false });
    const ask = a2.page.getByRole('dialog', { name: 'Your password was changed' });
    await ask.waitFor({ timeout: 60000 });
    await ask.getByLabel('Previous password').fill('not the old one');
    await ask.getByRole('button', { name: 'Open my chats' }).click();
    await ask.getByText('That is not the password these chats were sealed with either. Try again.').waitFor({ timeout: 60000 });
    await ask.getByLabel('Previous password').fill(previous);
    await ask.getByRole('button', { name: 'Open my chats' }).click();
    await waitForApp(a2.page);
    await openChat(a2, b.name);
    await a2.page.locator('#transcript').getByText('kept on both browsers').waitFor({ timeout: WAIT });

    // Sealed under the new password now: a reload opens with it alone.
    await a2.page.reload();
    await logIn(a2);
    assert.equal(await a2.page.getByRole('dialog', { name: 'Your password was changed' }).count(), 0);
    await openChat(a2, b.name);
    await a2.page.locator('#transcript').getByText('kept on both browsers').waitFor({ timeout: WAIT });
  } finally {
    await Promise.all([leave(a), leave(a2), leave(b)]);
  }
});
