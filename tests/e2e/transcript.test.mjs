// A long chat draws its latest 200 messages (web/js/transcript-view.js): "Show earlier messages"
// above them draws more, keeping in place what the person was reading; while the person reads
// further up, new messages do not slide the drawn messages away under them; a search still finds
// messages that are not drawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { WAIT, connectPair, leave, person, signUp } from '../lib/people.mjs';

const server = serverForTests();
const SHOWN = 200;
const N = 230;

// Messages written through the composer, one after the other, without waiting for delivery.
function write(p, texts) {
  return p.page.evaluate(async (list) => {
    const box = document.getElementById('message');
    const form = document.getElementById('composer');
    const log = document.getElementById('transcript');
    for (const text of list) {
      box.value = text;
      form.requestSubmit();
      const t0 = performance.now();
      while (log.lastElementChild?.querySelector('.text')?.textContent !== text) {
        if (performance.now() - t0 > 20000) throw new Error(`"${text}" was not taken`);
        await new Promise((r) => { setTimeout(r, 5); });
      }
    }
  }, texts);
}

const drawn = (p) => p.page.evaluate(() => [...document.querySelectorAll('#transcript > li.msg:not(.notice) .text')].map((e) => e.textContent));
const more = (p) => p.page.evaluate(() => Number(document.querySelector('#transcript > li.earlier')?.dataset.more || 0));
const lastIs = (p, text) => p.page.waitForFunction((t) => document.querySelector('#transcript > li:last-child .text')?.textContent === t,
  text, { timeout: WAIT });

test('a long chat draws its latest messages; earlier ones on request, in place; reading up is not disturbed', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    const texts = Array.from({ length: N }, (_, i) => `long ${i}`);
    await write(a, texts);
    await lastIs(b, `long ${N - 1}`);

    // Both draw the latest 200, with the button above them saying how many more there are.
    for (const p of [a, b]) {
      assert.deepEqual(await drawn(p), texts.slice(N - SHOWN), `${p.name} draws the latest ${SHOWN}`);
      assert.equal(await p.page.getByRole('button', { name: `Show earlier messages (${N - SHOWN} more)` }).count(), 1);
      assert.equal(await more(p), N - SHOWN);
    }

    // Bob reads up to the top: new messages now add to what is drawn, nothing is taken away.
    await b.page.evaluate(() => {
      const log = document.getElementById('transcript');
      window.scrolledUp = new Promise((resolve) => { log.addEventListener('scroll', resolve, { once: true }); });
      log.scrollTop = 0;
    });
    await b.page.evaluate(() => window.scrolledUp);
    await write(a, ['newer 1', 'newer 2']);
    await lastIs(b, 'newer 2');
    assert.deepEqual(await drawn(b), [...texts.slice(N - SHOWN), 'newer 1', 'newer 2']);

    // Earlier messages: drawn above, and what was at the top stays where it was on the screen (its
    // day separator goes to the new first message).
    const topOf = (text) => b.page.evaluate((t) => {
      const el = [...document.querySelectorAll('#transcript > li.msg .text')].find((x) => x.textContent === t);
      return el.getBoundingClientRect().top - document.getElementById('transcript').getBoundingClientRect().top;
    }, text);
    const before = await topOf(texts[N - SHOWN]);
    await b.page.getByRole('button', { name: 'Show earlier messages' }).click();
    assert.deepEqual(await drawn(b), [...texts, 'newer 1', 'newer 2']);
    const after = await topOf(texts[N - SHOWN]);
    assert.ok(Math.abs(after - before) <= 2, `the message read stays in place (${before} px from the top, then ${after})`);
    assert.equal(await b.page.getByRole('button', { name: 'Show earlier messages' }).count(), 0);
    // The focus is on the message just above those read.
    assert.equal(await b.page.evaluate(() => document.activeElement.querySelector('.text')?.textContent), texts[N - SHOWN - 1]);

    // Bob opens the chat again: its latest messages only.
    await b.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: a.name }).first().click();
    await b.page.waitForFunction(() => document.querySelectorAll('#transcript > li.msg').length === 200, null, { timeout: WAIT });
    assert.deepEqual(await drawn(b), [...texts, 'newer 1', 'newer 2'].slice(-SHOWN));

    // A search finds a message alice no longer draws.
    assert.ok(!(await drawn(a)).includes('long 3'));
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.getByRole('searchbox', { name: 'Search' }).fill('long 3');
    await a.page.getByRole('status').filter({ hasText: 'messages found' }).waitFor({ timeout: WAIT });
    const found = await drawn(a);
    assert.ok(found.includes('long 3') && found.every((t) => t.includes('long 3')), `found ${found.length}`);
  } finally {
    await leave(a);
    await leave(b);
  }
});
