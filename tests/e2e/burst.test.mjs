// A burst over a link while the receiving page is busy (docs/PROTOCOL.md 12.6): the messages that
// waited are taken together (decrypted in order, stored in one transaction, one receipt for all),
// and none is lost: bob's page shows every one in order, alice sees each delivered, and bob's
// transcript as his vault holds it (read back from IndexedDB by the page) has them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, person, send, signUp, texts, transcript, until, waitAllDelivered, waitForCount,
} from '../lib/people.mjs';

const server = serverForTests();
const N = 12;

const hook = (p, fn, arg) => p.page.evaluate(fn, arg);

test('a burst that waits for a busy page is taken in one batch: all shown in order, all delivered, all stored', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    for (const p of [a, b]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(a, 'before the burst');
    await waitForCount(b.page, 1);
    await waitAllDelivered(a.page);

    // bob's page is busy while alice sends N messages over the link.
    const seen = (await hook(b, () => globalThis.parleyTestHooks.linkBatches())).length;
    await hook(b, () => globalThis.parleyTestHooks.holdQueue());
    const burst = Array.from({ length: N }, (_, i) => `burst ${i + 1}`);
    for (const text of burst) await send(a, text);
    await until(async () => (await hook(b, (n) => globalThis.parleyTestHooks.linkWaiting(n), a.name)) >= N,
      { timeout: WAIT, message: 'the burst waits on bob\'s page' });
    assert.equal((await transcript(b.page)).length, 1, 'nothing of the burst is taken while the page is busy');

    await hook(b, () => globalThis.parleyTestHooks.releaseQueue());
    await waitForCount(b.page, N + 1);
    await waitAllDelivered(a.page);
    const batches = (await hook(b, () => globalThis.parleyTestHooks.linkBatches())).slice(seen);
    assert.ok(batches.some((n) => n >= N), `the waiting messages are taken as one batch (batches: ${batches})`);

    const want = ['before the burst', ...burst];
    assert.deepEqual(texts(await transcript(b.page)).map((m) => m.text), want, 'bob shows the burst in order');
    const own = (await transcript(a.page)).filter((m) => m.sender === 'You');
    assert.deepEqual(own.map((m) => m.state), want.map(() => 'delivered'), 'alice sees every one delivered');
    const stored = await hook(b, (n) => globalThis.parleyTestHooks.storedHistory(n), a.name);
    assert.deepEqual(stored.filter((m) => m.from === 'them').map((m) => m.text), want, 'bob\'s vault holds every one');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});
