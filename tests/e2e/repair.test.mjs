// Nothing lost silently (docs/PROTOCOL.md 12.12): a message the receiving page cannot decrypt shows
// a line in its transcript, the two pages make a new session by themselves, and every message that
// was not acknowledged arrives again under it: none lost, none shown twice. The receiving session
// is made undecryptable by rolling it back (a test hook puts back a snapshot of its sealed state,
// as a restored backup would): it then lacks the ratchet keys the sender's later messages need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, logIn, openChat, person, rollBackSession, send, shots, signUp, transcript,
  waitAllDelivered, waitConnected, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();
const LINE = (name) => `A message from ${name} could not be decrypted. This device is setting up a new secure session with them; they will send it again.`;

// A person whose page offers the test hooks (repair.js): the switch is read at log-in.
async function hooked(name) {
  const p = await person(server, name);
  await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  return p;
}

/** Each text of the open chat's transcript and how often it shows. */
async function counts(page) {
  const out = new Map();
  for (const m of await transcript(page)) out.set(m.text, (out.get(m.text) || 0) + 1);
  return out;
}

/** Alice and Bob in a chat whose session on Bob's side has been rolled back (rollBack). */
async function rolledBackPair() {
  const a = await hooked(uniqueName('alice'));
  const b = await hooked(uniqueName('bob'));
  await signUp(a);
  await signUp(b);
  await connectPair(a, b);
  await openChat(b, a.name);
  await rollBackSession(b, a); // Bob's (people.mjs)
  return [a, b];
}

/** What both pages show, for a test that failed. */
async function shown(t, a, b) {
  for (const p of [a, b]) {
    t.diagnostic(`${p.name} shows ${JSON.stringify(await transcript(p.page))}; status ${await p.page.locator('#chat-status').textContent()}`);
    t.diagnostic(`${p.name} problems ${JSON.stringify(p.problems)} warnings ${JSON.stringify(p.warnings.slice(-10))}`);
  }
}

const BEFORE = ['before the rollback', 'reply before the rollback', 'before the rollback, again', 'reply before the rollback, again'];

function expectEachOnce(seen, list, who) {
  for (const text of list) assert.equal(seen.get(text), 1, `${who} shows "${text}" ${seen.get(text) || 0} times`);
}

test('a message that does not decrypt on the link: the line shows, the session repairs, nothing is lost or doubled', async (t) => {
  const [a, b] = await rolledBackPair();
  try {

    const after = ['after the rollback 1', 'after the rollback 2 🔐', 'after the rollback 3'];
    for (const text of after) await send(a, text);
    await b.page.getByText(LINE(a.name)).waitFor({ state: 'visible', timeout: WAIT });
    for (const text of after) await waitForMessage(b.page, text, 30000);
    await waitAllDelivered(a.page, 30000);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);

    // The repaired session carries both ways.
    await send(b, 'bob after the repair');
    await waitForMessage(a.page, 'bob after the repair');
    await send(a, 'alice after the repair');
    await waitForMessage(b.page, 'alice after the repair');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    await shots(b.page, 'repair-link');

    const seenB = await counts(b.page);
    expectEachOnce(seenB, [...BEFORE, ...after, 'bob after the repair', 'alice after the repair'], 'bob');
    assert.equal(seenB.get(LINE(a.name)), 1, 'one line for the one failure');
    const seenA = await counts(a.page);
    expectEachOnce(seenA, [...BEFORE, ...after, 'bob after the repair', 'alice after the repair'], 'alice');
    assert.equal([...seenA.keys()].filter((t) => t.includes('could not be decrypted')).length, 0, 'alice had nothing to repair');
    // Neither side was asked anything, and nobody's safety number changed.
    for (const p of [a, b]) {
      assert.equal(await p.page.getByRole('group', { name: /^Request from/ }).count(), 0);
      assert.equal(await p.page.locator('#identity-warning').isVisible(), false);
    }
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
  } catch (e) {
    await shown(t, a, b).catch(() => {}); // what the pages show, if they still can
    throw e;
  } finally {
    await leave(a);
    await leave(b);
  }
});

test('a mailed message that does not decrypt: the line shows at log-in, the repair goes by the server, every message arrives once', async (t) => {
  const [a, b] = await rolledBackPair();
  try {

    // Bob's page goes (the rolled-back session is what his vault holds); Alice writes by mail.
    await b.page.reload();
    await a.page.waitForFunction(() => !document.getElementById('chat-status').textContent.startsWith('connected'),
      null, { timeout: WAIT });
    const mailed = ['mailed after the rollback 1', 'mailed after the rollback 2'];
    for (const text of mailed) await send(a, text);
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')]
      .filter((d) => d.dataset.state === 'sent').length >= 2, null, { timeout: WAIT });

    await logIn(b);
    await openChat(b, a.name);
    try {
      await b.page.getByText(LINE(a.name)).waitFor({ state: 'visible', timeout: 30000 });
    } catch (e) {
      // What bob's page shows and was sent, to tell a slow machine from a wrong turn.
      await shown(t, a, b).catch(() => {});
      t.diagnostic(`bob received ${JSON.stringify(b.frames.filter((f) => f.dir === 'received').map((f) => f.payload.slice(0, 60)).slice(-30))}`);
      throw e;
    }
    for (const text of mailed) await waitForMessage(b.page, text, 30000);
    await waitAllDelivered(a.page, 30000);
    await send(b, 'bob after the mailed repair');
    await waitForMessage(a.page, 'bob after the mailed repair');
    await waitAllDelivered(b.page);

    const seenB = await counts(b.page);
    expectEachOnce(seenB, [...BEFORE, ...mailed, 'bob after the mailed repair'], 'bob');
    assert.equal(seenB.get(LINE(a.name)), 1);
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
  } finally {
    await leave(a);
    await leave(b);
  }
});
