// Steps the benches share (bench.mjs, roundtrip.mjs): a person signed up, and timed round trips.
//
// benchSignUp: a person signed up in a new page of `browser` at `url` and online. openPage: tests/lib/browser.mjs's, of the checkout being measured.
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

/**
 * Message round trips on `page`, whose chat is open: each message sent with the composer and timed
 * until its item shows "delivered". Returns the `count` times in ms.
 */
export function roundTrips(page, count) {
  return page.evaluate(async (n) => {
    const box = document.getElementById('message');
    const form = document.getElementById('composer');
    const log = document.getElementById('transcript');
    const out = [];
    for (let k = 0; k < n; k += 1) {
      const t = performance.now();
      box.value = `round trip ${k}`;
      form.requestSubmit();
      await new Promise((resolve) => {
        const done = () => {
          const lastItem = log.lastElementChild;
          return lastItem && lastItem.querySelector('.text')?.textContent === `round trip ${k}` &&
            lastItem.querySelector('.delivery')?.dataset.state === 'delivered';
        };
        if (done()) { resolve(); return; }
        const mo = new MutationObserver(() => { if (done()) { mo.disconnect(); resolve(); } });
        mo.observe(log, { childList: true, subtree: true, attributes: true });
      });
      out.push(performance.now() - t);
    }
    return out;
  }, count);
}
