// A local profile attached to an account later (docs/PROTOCOL.md 17.7): "Create account with this
// identity" signs up with the local profile's identity keys, so the directory holds the same
// identity key (the same safety number) as the profile's invitation codes carry. On a page served
// by parley-server, the local profile is offered beside the log-in.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { api, newUser, uniqueName } from '../lib/api.mjs';
import { WAIT, leave, person, signUp } from '../lib/people.mjs';

const PASS = 'a long local passphrase';
const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

test('"Create account with this identity" signs up with the local profile\'s identity key', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const p = await person(server, uniqueName('loc'));
  cleanups.push(() => leave(p));
  const { page } = p;
  // Both ways in: the log-in form and the local profile.
  await page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Use without an account' }).click();
  await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await page.getByLabel('Confirm passphrase').fill(PASS);
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('button', { name: 'Create invite' }).click();
  await page.waitForFunction(() => document.getElementById('invite-code').value.length > 0, null, { timeout: WAIT });
  const code = await page.getByRole('textbox', { name: 'Invite code' }).inputValue();
  const profileKey = Buffer.from(code, 'base64url').subarray(22, 54).toString('base64url'); // 17.2: after version, kind, expiry, id
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  // A local profile shows nothing that needs an account.
  assert.equal(await page.getByRole('button', { name: 'Start chat' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Devices' }).count(), 0);

  await page.getByRole('button', { name: 'Create account with this identity' }).click();
  await page.getByRole('alert').filter({ hasText: 'keeps the identity of your local profile' }).waitFor({ timeout: WAIT });
  await signUp(p);

  const other = await newUser(server.url, 'dir');
  const r = await api(server.url, 'POST', '/api/identities', { token: other.token, body: { users: [p.name] } });
  assert.equal(r.status, 200);
  assert.equal(r.body.identities[0].identityKey, profileKey);
  assert.deepEqual(p.problems, []);
});
