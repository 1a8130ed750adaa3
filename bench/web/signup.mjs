// A person signed up in a new page of `browser` at `url` and online, for the benches
// (bench.mjs, roundtrip.mjs). openPage: tests/lib/browser.mjs's, of the checkout being measured.
// Sign-up asks for the password twice; a build from before that asks once (an older checkout run
// to compare) is signed up too.
export async function benchSignUp(openPage, browser, url, name) {
  const p = await openPage(browser, url);
  await p.page.getByLabel('Username').fill(name);
  await p.page.getByLabel('Password').fill(`password of ${name}`);
  await p.page.getByRole('button', { name: 'Sign up' }).click();
  const again = p.page.getByLabel('Type it again');
  const contact = p.page.getByLabel('Contact', { exact: true });
  await Promise.race([again.waitFor(), contact.waitFor()]);
  if (await again.isVisible()) {
    await again.fill(`password of ${name}`);
    await p.page.getByRole('button', { name: 'Sign up' }).click();
  }
  await contact.waitFor();
  await p.page.locator('#connection[data-state="online"]').waitFor();
  return p;
}
