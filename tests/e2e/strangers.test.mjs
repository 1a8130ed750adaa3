// Until someone accepts a chat request, the server takes only a few envelopes from the requester
// for them (docs/API.md "Limits and close codes": a stranger sends chat requests only, 10 per
// sender and recipient). What the requester writes beyond that waits on her device with a plain
// notice, and everything arrives, in order, once he accepts (his capability tells the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, leave, logIn, openChat, person, requestGroup, send, signUp, startChat, texts,
  transcript, waitAllDelivered, waitForCount,
} from '../lib/people.mjs';

const server = serverForTests();

test('a requester writing more than a stranger may mail: the rest waits on her device with a notice, and all arrive in order once he accepts', { timeout: 180000 }, async () => {
  const profileB = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const aName = uniqueName('alice');
  const bName = uniqueName('bob');
  const a = await person(server, aName);
  let b = await person(server, bName, { profileDir: profileB });
  try {
    await signUp(b);
    await leave(b);
    await signUp(a);
    await startChat(a, bName);
    // The request is one envelope; nine more fit in what a stranger may mail him.
    const fromAlice = Array.from({ length: 14 }, (_, i) => `message ${i + 1} while you were away`);
    for (const text of fromAlice) await send(a, text);
    const notice = a.page.locator('#chat-notice');
    await notice.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal((await notice.textContent()).trim(),
      `${bName} has not accepted your chat request yet; your messages stay on this device and go once they do.`);
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')]
      .filter((e) => e.dataset.state === 'sent').length === 9, null, { timeout: WAIT });

    // Bob comes back: the request shows the nine that reached the server; he accepts, and the
    // rest follow (over the direct link, or by mail once Alice's page has his capability).
    b = await person(server, bName, { profileDir: profileB });
    await logIn(b);
    const group = requestGroup(b, aName);
    await group.waitFor({ state: 'visible', timeout: WAIT });
    await b.page.waitForFunction(() => document.querySelectorAll('.request-messages li').length === 9, null, { timeout: WAIT });
    await accept(b, aName);
    await openChat(b, aName);
    await waitForCount(b.page, fromAlice.length, 60000);
    assert.deepEqual(texts(await transcript(b.page)).map((m) => m.text), fromAlice, 'every message, in the order written');
    await openChat(a, bName);
    await waitAllDelivered(a.page, 60000);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    rmSync(profileB, { recursive: true, force: true });
  }
});
