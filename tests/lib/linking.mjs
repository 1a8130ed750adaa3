// Linking a browser to an account in tests, through the real screens (docs/PROTOCOL.md 14.5): the
// new browser logs in and shows its code ("Link this device"); the logged-in one takes it in
// Devices ("Link a new device"), both show the same check number, and the old one confirms.
import { WAIT, logIn, waitForApp } from './people.mjs';

/** Links `second` (a fresh browser of the same person) to `first`; returns its device id. */
export async function linkSecondBrowser(first, second) {
  const answered = second.page.waitForResponse((r) => /\/api\/login$/.test(r.url()), { timeout: WAIT });
  await logIn(second, { expectApp: false });
  const { device } = await (await answered).json();
  await second.page.getByRole('button', { name: 'Link this device' }).click();
  const code = second.page.getByLabel('Link code', { exact: true });
  await code.waitFor({ state: 'visible', timeout: WAIT });
  await second.page.getByText('Waiting for your other device').waitFor({ timeout: WAIT });
  await first.page.getByRole('button', { name: 'Devices', exact: true }).click();
  await first.page.getByRole('button', { name: 'Link a new device' }).click();
  await first.page.getByLabel('Code shown on the new device').fill(await code.textContent());
  await first.page.getByRole('button', { name: 'Continue' }).click();
  const onFirst = first.page.getByRole('dialog').getByLabel('Link check number');
  await onFirst.waitFor({ state: 'visible', timeout: WAIT });
  const onSecond = second.page.getByRole('main').getByLabel('Link check number');
  await onSecond.waitFor({ state: 'visible', timeout: WAIT });
  if (await onFirst.textContent() !== await onSecond.textContent()) throw new Error('the two check numbers differ');
  await first.page.getByRole('button', { name: 'Confirm' }).click();
  await waitForApp(second.page);
  await first.page.getByText(/is linked:/).waitFor({ timeout: WAIT });
  await first.page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  return device;
}

/** On `owner`'s page, Devices: removes the device that is not this one (two listed). */
export async function removeOtherDevice(owner) {
  await owner.page.getByRole('button', { name: 'Devices', exact: true }).click();
  const list = owner.page.getByRole('list', { name: 'Your devices' });
  await list.getByText('(this device)').waitFor({ timeout: WAIT });
  const before = owner.acceptDialogs;
  owner.acceptDialogs = true;
  await list.getByRole('button', { name: 'Remove device' }).click();
  await owner.page.getByText(/was removed from your account/).waitFor({ timeout: WAIT });
  owner.acceptDialogs = before;
  await owner.page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
}

/** A browser that holds nothing for the account logs in and starts over there (a new identity). */
export async function startOver(p) {
  await logIn(p, { expectApp: false });
  const before = p.acceptDialogs;
  p.acceptDialogs = true;
  await p.page.getByRole('button', { name: 'Start over on this device' }).click();
  await waitForApp(p.page);
  p.acceptDialogs = before;
}
