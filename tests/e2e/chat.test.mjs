// Two (or three) people with their own browsers chat through the real server: sign-up and log-in,
// chat requests, messages over WebRTC with delivery receipts, persistence across reloads, safety
// numbers and identity changes, a peer going away and coming back, error messages, one active tab.
// Nothing secret may reach the server: request bodies, WebSocket frames, the database and the log
// are searched for every message text and the raw passwords.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverForTests, startServer } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  confirmSignUp, PASSWORD, WAIT, accept, connectPair, decline, leave, logIn, mirrored, openChat, person,
  requestGroup, send, shots, signUp, startChat, texts, transcript, until, waitAllDelivered, waitConnected, waitForApp,
  waitForCount, waitForMessage, watch,
} from '../lib/people.mjs';

const server = serverForTests();

/** Problems other than the ones listed (exact strings). */
function unexpected(problems, allowed = []) {
  return problems.filter((p) => !allowed.includes(p));
}

/** The two lines Chromium and openPage record for one expected HTTP error. */
function expectedHttpError(status, url, reason) {
  return [
    `HTTP ${status} for ${url}`,
    `console error: Failed to load resource: the server responded with a status of ${status} (${reason})`,
  ];
}

const FOUR_KIB = Array.from({ length: 64 }, (_, i) => `block ${String(i).padStart(2, '0')} `.padEnd(63, '.') + '|')
  .join('').slice(0, 4096);

// Who sends what, in order. Each message is received before the next one is sent, so both
// transcripts have one order.
function script(tag) {
  return [
    ['a', `Hello Bob, this is ${tag} 👋`],
    ['b', 'Hi Alice! Ünïcödé: café, naïve, Ελληνικά, Русский, 日本語, 中文, 한국어, עברית, العربية'],
    ['a', 'Emoji: 🎉🔐🙂 family 👩‍👩‍👧‍👦 flag 🏳️‍🌈 🇫🇷 skin 👍🏽'],
    ['b', '<img src=x onerror=alert(1)>'],
    ['a', '<script>alert("xss")</script> &amp; &lt;b&gt;bold&lt;/b&gt; <b>not bold</b>'],
    ['b', FOUR_KIB],
    ['a', 'line one\nline two\n    indented line three', 'keyboard'],
    ['b', '  leading and trailing spaces  '],
    ['a', 'Sent with the Send button', 'click'],
    ['b', 'Zero\u200bwidth, RTL \u202eoverride\u202c, combining e\u0301'],
    ['a', '"quotes" \'single\' `back` \\backslash\\ {"json": true}'],
    ['b', 'Math: ∑ ∫ √2 ≈ 1.414, ℝ, ∞'],
    ['a', 'Burst one'],
    ['a', 'Burst two'],
    ['a', 'Burst three'],
    ['b', 'Got three'],
    ['b', 'and one more from me'],
    ['a', '😀'.repeat(200)],
    ['b', 'Astral plane: 𝕳𝖊𝖑𝖑𝖔 𐍈 🀄'],
    ['a', 'javascript:alert(1) https://example.com/?q=<x>&y=1'],
    ['b', `${tag} bye for now`],
    ['a', `${tag} bye!`],
  ];
}

/** Plays a script between a and b: each run of one sender is received before the other speaks. */
async function play(a, b, steps) {
  for (let i = 0; i < steps.length; i += 1) {
    const [who, text, via] = steps[i];
    const [from, to] = who === 'a' ? [a, b] : [b, a];
    await send(from, text, { via });
    const next = steps[i + 1];
    if (!next || next[0] !== who) await waitForMessage(to.page, text);
  }
}

/** Counts the list items inside the "Transcript" log in Chromium's accessibility tree. */
async function logItemsInAxTree(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    const log = nodes.find((n) => n.role?.value === 'log' && n.name?.value === 'Transcript');
    assert.ok(log, 'a log named Transcript is in the accessibility tree');
    let items = 0;
    const walk = (n) => {
      if (n.role?.value === 'listitem') items += 1;
      for (const id of n.childIds || []) if (byId.has(id)) walk(byId.get(id));
    };
    walk(log);
    return items;
  } finally {
    await cdp.detach();
  }
}

/** Waits until the transcript shows its end (a frame may pass before it scrolls there). */
async function atBottom(page, who) {
  const end = () => {
    const log = document.getElementById('transcript');
    return log.scrollHeight - log.scrollTop - log.clientHeight <= 1;
  };
  await page.waitForFunction(end, null, { timeout: 3000 }).catch(() => {
    assert.fail(`${who}: the transcript is not scrolled to its last message`);
  });
}

function expectedFor(steps, a, b) {
  // As a sees it, and as b sees it.
  return {
    a: steps.map(([who, text]) => ({ text, sender: who === 'a' ? 'You' : b.name })),
    b: steps.map(([who, text]) => ({ text, sender: who === 'b' ? 'You' : a.name })),
  };
}

test('two people sign up, start a chat and exchange messages both ways, delivered and identical', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await a.page.getByRole('button', { name: 'Sign up' }).waitFor({ timeout: WAIT });
    await shots(a.page, 'sign-up');
    await Promise.all([signUp(a), signUp(b)]);
    await startChat(a, b.name);
    assert.match(await a.page.locator('#chat-status').textContent(), new RegExp(`waiting for ${b.name} to accept|connect`));
    await b.page.getByRole('group', { name: `Request from ${a.name}` }).waitFor({ timeout: WAIT });
    await shots(b.page, 'chat-request');
    await accept(b, a.name);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);

    const steps = script('t1');
    assert.ok(steps.filter((s) => s[0] === 'a').length >= 10 && steps.filter((s) => s[0] === 'b').length >= 10);
    await play(a, b, steps);
    await waitForCount(a.page, steps.length);
    await waitForCount(b.page, steps.length);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);

    const ta = await transcript(a.page);
    const tb = await transcript(b.page);
    const want = expectedFor(steps, a, b);
    assert.deepEqual(texts(ta), want.a, "alice's transcript");
    assert.deepEqual(texts(tb), want.b, "bob's transcript");
    assert.deepEqual(texts(tb), mirrored(ta, a.name, b.name), 'transcripts mirror each other');
    for (const [who, t] of [['alice', ta], ['bob', tb]]) {
      const own = t.filter((m) => m.sender === 'You');
      assert.ok(own.length >= 10);
      assert.deepEqual(own.map((m) => m.state), own.map(() => 'delivered'), `${who}'s own messages all delivered`);
      assert.deepEqual(t.filter((m) => m.sender !== 'You').map((m) => m.state), t.filter((m) => m.sender !== 'You').map(() => null));
    }
    // HTML-looking text is shown literally, never parsed.
    for (const p of [a, b]) {
      assert.equal(await p.page.locator('#transcript img, #transcript script, #transcript b').count(), 0);
      assert.equal(await p.page.locator('#contacts img, #contacts script, #contacts b').count(), 0, 'nor in the list preview');
      assert.deepEqual(p.dialogs, [], 'no dialog fired');
    }

    // In the browser's own accessibility tree (not Playwright's reading of the roles), the log
    // holds one list item per message.
    assert.equal(await logItemsInAxTree(a.page), steps.length, "alice's log: one list item per message for assistive technology");

    // The transcripts followed the conversation to its last message, and keep it in view when the
    // window changes size.
    await Promise.all([atBottom(a.page, 'alice'), atBottom(b.page, 'bob')]);
    await shots(a.page, 'chat');
    await a.page.emulateMedia({ colorScheme: 'dark' });
    await shots(a.page, 'chat-dark');
    await a.page.emulateMedia({ colorScheme: 'light' });
    // On a phone the list and the chat are two screens: go back to the list.
    await a.page.setViewportSize({ width: 390, height: 844 });
    await atBottom(a.page, 'alice, phone width');
    await a.page.getByRole('button', { name: 'Back to conversations' }).click();
    const item = a.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: new RegExp(b.name) });
    await item.waitFor({ timeout: WAIT });
    assert.equal(await item.evaluate((e) => e === document.activeElement), true, 'focus is on the conversation just left');
    await shots(a.page, 'chat-list');

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('nothing secret reaches the server: requests, WebSocket frames, database and log', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-secrets-'));
  const own = await startServer({ dataDir });
  const passwords = { a: 'alice-Secret-pass-7731', b: 'bob-Secret-pass-4419' };
  const a = await person(own, uniqueName('alice'), { password: passwords.a });
  const b = await person(own, uniqueName('bob'), { password: passwords.b });
  try {
    await Promise.all([signUp(a), signUp(b)]);
    // Log out and in again, so that a login request is captured too.
    await a.page.getByRole('button', { name: 'Log out' }).click();
    await logIn(a);
    await connectPair(a, b);
    const tag = `zq${Date.now().toString(36)}`;
    const steps = [
      ['a', `${tag} first secret message`],
      ['b', `${tag} the eagle lands at midnight`],
      ['a', `${tag} Ünïcödé sécret 🔐`],
      ['b', `${tag} ${FOUR_KIB.slice(0, 2000)}`],
      ['a', `${tag} last one`],
    ];
    await play(a, b, steps);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);

    const secrets = [...steps.map((s) => s[1]), `${tag} the eagle`, passwords.a, passwords.b];
    const login = a.requests.filter((r) => r.url.endsWith('/api/login'));
    const signup = [...a.requests, ...b.requests].filter((r) => r.url.endsWith('/api/signup'));
    assert.equal(login.length, 1, 'one login request');
    assert.equal(signup.length, 2, 'two sign-up requests');
    for (const r of [...login, ...signup]) {
      const body = JSON.parse(r.body);
      assert.ok(typeof body.password === 'string' && body.password.length >= 8);
      assert.notEqual(body.password, passwords.a);
      assert.notEqual(body.password, passwords.b);
    }
    const frames = [...a.frames, ...b.frames];
    assert.ok(frames.some((f) => f.dir === 'sent' && f.payload.includes('"chat-request"')), 'frames were captured');
    assert.ok(frames.some((f) => f.dir === 'received' && f.payload.includes('"offer"')), 'signaling was captured');
    const leaks = [];
    for (const s of secrets) {
      for (const r of [...a.requests, ...b.requests]) {
        if (r.body.includes(s) || r.url.includes(encodeURIComponent(s))) leaks.push(`request ${r.method} ${r.url}: ${s.slice(0, 40)}`);
      }
      for (const f of frames) if (f.payload.includes(s)) leaks.push(`frame ${f.dir}: ${s.slice(0, 40)}`);
    }
    assert.deepEqual(leaks, [], 'no secret in any request body or WebSocket frame');

    const dbFiles = ['parley.db', 'parley.db-wal', 'parley.db-shm'];
    const scan = (when) => {
      const found = [];
      for (const f of dbFiles) {
        const path = join(dataDir, f);
        if (!existsSync(path)) continue;
        const bytes = readFileSync(path);
        for (const s of secrets) {
          if (bytes.indexOf(Buffer.from(s, 'utf8')) >= 0) found.push(`${when} ${f}: ${s.slice(0, 40)}`);
        }
      }
      return found;
    };
    const whileRunning = scan('running');
    assert.equal(a.problems.length + b.problems.length, 0, [...a.problems, ...b.problems].join('\n'));
    await Promise.all([leave(a), leave(b)]);
    await own.stop();
    assert.ok(existsSync(join(dataDir, 'parley.db')), 'the database exists');
    // Positive control: the scan does see what the server is meant to store.
    assert.ok(dbFiles.some((f) => existsSync(join(dataDir, f)) && readFileSync(join(dataDir, f)).includes(Buffer.from(a.name))),
      'the usernames are found in the database files');
    assert.deepEqual([...whileRunning, ...scan('stopped')], [], 'no secret in the database files');
    const log = own.logs();
    assert.ok(log.includes(`authenticated ${a.name}`), 'the server log was captured');
    assert.deepEqual(secrets.filter((s) => log.includes(s)).map((s) => s.slice(0, 40)), [], 'no secret in the server log');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    await own.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('both pages reload mid-conversation, log in again, find their history and carry on', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    const first = [
      ['a', 'before reload 1 ✈'],
      ['b', 'before reload 2 🚀'],
      ['a', 'before reload 3'],
      ['b', 'before reload 4'],
    ];
    await play(a, b, first);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    const beforeA = await transcript(a.page);
    const beforeB = await transcript(b.page);

    await Promise.all([a.page.reload(), b.page.reload()]);
    await Promise.all([logIn(a), logIn(b)]);
    await Promise.all([openChat(a, b.name), openChat(b, a.name)]);
    await waitForCount(a.page, first.length);
    await waitForCount(b.page, first.length);
    assert.deepEqual(await transcript(a.page), beforeA, 'alice finds her history');
    assert.deepEqual(await transcript(b.page), beforeB, 'bob finds his history');

    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    const second = [
      ['a', 'after reload 5'],
      ['b', 'after reload 6 ✅'],
      ['a', 'after reload 7'],
    ];
    await play(a, b, second);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    const want = expectedFor([...first, ...second], a, b);
    assert.deepEqual(texts(await transcript(a.page)), want.a);
    assert.deepEqual(texts(await transcript(b.page)), want.b);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('both see the same safety number; a verified contact who resets is flagged and sending is held', async (t) => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await play(a, b, [['a', 'shall we verify?'], ['b', 'yes']]);

    const safety = async (p) => {
      await p.page.getByRole('button', { name: 'Verify', exact: true }).click();
      const dialog = p.page.getByRole('dialog');
      await dialog.waitFor({ timeout: WAIT });
      const number = (await dialog.getByLabel('Safety number').textContent()).trim();
      return { dialog, number };
    };
    const sa = await safety(a);
    const sb = await safety(b);
    assert.match(sa.number, /^\d{5}( \d{5}){11}$/, 'twelve groups of five digits');
    assert.equal(sa.number, sb.number, 'both sides show the same safety number');
    await shots(a.page, 'verify-dialog');
    await sa.dialog.getByRole('button', { name: 'Mark as verified' }).click();
    await sa.dialog.waitFor({ state: 'hidden', timeout: WAIT });
    await a.page.getByRole('button', { name: 'Verify (verified)' }).waitFor({ timeout: WAIT });
    await sb.dialog.getByRole('button', { name: 'Close' }).click();
    await sb.dialog.waitFor({ state: 'hidden', timeout: WAIT });

    b.acceptDialogs = true;
    const t0 = Date.now();
    await b.page.getByRole('button', { name: 'Reset identity' }).click();
    await until(() => b.dialogs.length === 1, { message: 'the confirm dialog' });
    assert.equal(b.dialogs[0].type, 'confirm');

    // Alice, without reloading, is warned and her sending is held.
    const warning = a.page.locator('#identity-warning');
    await warning.waitFor({ state: 'visible', timeout: 15000 });
    t.diagnostic(`alice was warned ${Date.now() - t0} ms after bob reset his identity`);
    assert.equal(await a.page.getByRole('alert').filter({ has: a.page.locator('#identity-warning-text') }).count(), 1);
    assert.match(await warning.textContent(), new RegExp(`${b.name}'s safety number has changed`));
    assert.match(await warning.textContent(), /paused/);
    await warning.getByRole('button', { name: 'Review safety number' }).waitFor();
    await warning.getByRole('button', { name: 'I have checked, send again' }).waitFor();
    assert.equal(await a.page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true, 'Send is disabled while held');
    await shots(a.page, 'identity-warning');

    // Reviewing shows a new safety number.
    await warning.getByRole('button', { name: 'Review safety number' }).click();
    const dialog = a.page.getByRole('dialog');
    await dialog.waitFor({ timeout: WAIT });
    const after = (await dialog.getByLabel('Safety number').textContent()).trim();
    assert.match(after, /^\d{5}( \d{5}){11}$/);
    assert.notEqual(after, sa.number, 'the safety number changed');
    await dialog.getByRole('button', { name: 'Close' }).click();

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a peer closes the browser: the other sees it, messages wait, then arrive once, after they return', async (t) => {
  const profile = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const a = await person(server, uniqueName('alice'));
  let b = await person(server, uniqueName('bob'), { profileDir: profile });
  const bName = b.name;
  const bProblems = [];
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    const first = [['a', 'are you there?'], ['b', 'yes, for now']];
    await play(a, b, first);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    await leave(b); // the whole browser goes away
    bProblems.push(...b.problems);
    const t0 = Date.now();
    // Typed at once, before alice can know: it may go into the dying link, but must not be lost.
    const void1 = 'typed just as you left';
    await send(a, void1);
    assert.notEqual((await transcript(a.page)).at(-1).state, 'delivered');
    await a.page.waitForFunction((name) => document.getElementById('chat-status').textContent === `${name} is offline; messages wait for them on the server`,
      bName, { timeout: 20000 }).catch(async (e) => {
      const seen = await a.page.evaluate(() => ({
        status: document.getElementById('chat-status').textContent,
        presence: document.querySelector('#contacts .presence')?.dataset.state,
      }));
      throw new Error(`${e.message}; alice still sees ${JSON.stringify(seen)}`);
    });
    const presence = a.page.getByRole('list', { name: 'Conversations' }).locator('.presence');
    assert.equal(await presence.getAttribute('data-state'), 'offline');
    const noticed = Date.now() - t0;
    t.diagnostic(`alice saw bob offline after ${noticed} ms`);

    const waiting = [['a', void1], ['a', 'while you were away 1'], ['a', 'while you were away 2 🕰'], ['a', 'while you were away 3']];
    for (const [, text] of waiting.slice(1)) await send(a, text);
    // They wait for bob on the server, sealed: "sent" once it has stored them.
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].slice(-4)
      .every((e) => e.dataset.state === 'sent'), null, { timeout: WAIT });
    let ta = await transcript(a.page);
    assert.deepEqual(ta.slice(-3).map((m) => m.state), ['sent', 'sent', 'sent'], 'messages wait for the peer on the server');
    assert.equal(await a.page.locator('#transcript li').last().locator('.delivery').textContent(), 'sent');
    await shots(a.page, 'peer-offline');

    const t1 = Date.now();
    b = await person(server, bName, { profileDir: profile });
    await logIn(b);
    t.diagnostic(`bob back and logged in after ${Date.now() - t1} ms`);
    // Bob has not opened the chat: the messages count as unread.
    const contact = b.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: a.name });
    await b.page.waitForFunction(() => document.querySelector('#contacts .unread')?.textContent === '4', null, { timeout: 30000 });
    await shots(b.page, 'chat-list-unread');
    assert.equal(await b.page.title(), '(4) Parley', 'the tab title counts the unread messages');
    await contact.click();
    await waitForCount(b.page, first.length + waiting.length);
    await waitAllDelivered(a.page, 30000);
    const redelivered = Date.now() - t1;
    t.diagnostic(`alice's waiting messages delivered ${redelivered} ms after bob came back`);
    await waitConnected(b.page);
    await play(a, b, [['b', "I'm back"], ['a', 'welcome back']]);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);

    const want = expectedFor([...first, ...waiting, ['b', "I'm back"], ['a', 'welcome back']], a, b);
    ta = await transcript(a.page);
    const tb = await transcript(b.page);
    assert.deepEqual(texts(ta), want.a, "alice's transcript: nothing lost or duplicated");
    assert.deepEqual(texts(tb), want.b, "bob's transcript: nothing lost or duplicated");
    assert.equal(await b.page.locator('#contacts .unread').count(), 0, 'unread count cleared');
    assert.equal(await b.page.title(), 'Parley');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual([...bProblems, ...b.problems], [], 'bob: no console errors');
    // Timing last, so that everything above is checked even when the app is slow.
    const slow = [];
    if (noticed > 15000) slow.push(`alice saw bob offline only after ${noticed} ms (expected within ~15 s)`);
    if (redelivered > 10000) {
      slow.push(`the waiting messages arrived only ${redelivered} ms after bob was back (expected within 10 s: browser start, log-in and reconnect take ~3 s)`);
    }
    assert.deepEqual(slow, [], 'timely');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a peer message whose content is JSON but not an object is dropped cleanly, and the chat carries on after a reload', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await play(a, b, [['a', 'first'], ['b', 'ok']]);
    // Alice's page encrypts other content for messages with a marker (the core module is the
    // page's own instance): null, a number, a string and a list instead of a message object.
    await a.page.evaluate(async () => {
      const core = await import('/core/parley.js');
      const encrypt = core.Session.prototype.encrypt;
      const bodies = { null: 'null', number: '42', string: '"text"', list: '[]' };
      core.Session.prototype.encrypt = function patched(plaintext) {
        const m = typeof plaintext === 'string' && plaintext.match(/"BAD-BODY (\w+)"/);
        return encrypt.call(this, m ? bodies[m[1]] : plaintext);
      };
    });
    for (const body of ['null', 'number', 'string', 'list']) await send(a, `BAD-BODY ${body}`);
    await send(a, 'a good one');
    await waitForMessage(b.page, 'a good one');
    assert.deepEqual(texts(await transcript(b.page)).map((m) => m.text), ['first', 'ok', 'a good one'], 'bad bodies are not shown');
    assert.deepEqual(b.warnings.filter((w) => w.startsWith('Parley:')), [], 'bob: no problem reported');

    // Bob's stored session kept up with the messages he dropped: after a reload the chat goes on.
    await b.page.reload();
    await logIn(b);
    await openChat(b, a.name);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await send(a, 'after the reload');
    await waitForMessage(b.page, 'after the reload');
    await send(b, 'still here');
    await waitForMessage(a.page, 'still here');
    assert.deepEqual(b.warnings.filter((w) => w.startsWith('Parley:')), [], 'bob: no problem reported');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

/** Records, in every page of the context (reloads too), the bytes each data channel sends. */
/** From now on, the page keeps (in sessionStorage) every ciphertext its sessions make. */
async function recordEncryptions(page) {
  await page.evaluate(async () => {
    const core = await import('/core/parley.js');
    const encrypt = core.Session.prototype.encrypt;
    core.Session.prototype.encrypt = function recorded(plaintext) {
      const out = encrypt.call(this, plaintext);
      const made = JSON.parse(sessionStorage.getItem('parleyMade') || '[]');
      made.push([...out].map((x) => x.toString(16).padStart(2, '0')).join(''));
      sessionStorage.setItem('parleyMade', JSON.stringify(made));
      return out;
    };
  });
}

async function waitOffline(page, name) {
  await page.waitForFunction((n) => document.getElementById('chat-status').textContent === `${n} is offline; messages wait for them on the server`,
    name, { timeout: WAIT });
}

/** From now on (and after reloads), the page keeps in sessionStorage every ratchet message it
 * seals for the mailbox. */
async function recordSeals(context) {
  await context.addInitScript(() => {
    import('/core/parley.js').then((core) => {
      const sealTo = core.Account.prototype.sealTo;
      core.Account.prototype.sealTo = function recorded(key, name, message) {
        const sealed = JSON.parse(sessionStorage.getItem('parleySealed') || '[]');
        sealed.push([...message].map((x) => x.toString(16).padStart(2, '0')).join(''));
        sessionStorage.setItem('parleySealed', JSON.stringify(sealed));
        return sealTo.call(this, key, name, message);
      };
    });
  });
}

test('messages typed while the server cannot take them leave as that very ciphertext after the sender reloads', async () => {
  const profile = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const a = await person(server, uniqueName('alice'));
  let b = await person(server, uniqueName('bob'), { profileDir: profile });
  const bName = b.name;
  try {
    await recordSeals(a.context);
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await play(a, b, [['a', 'see you later'], ['b', 'bye']]);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    await leave(b);
    await waitOffline(a.page, bName);

    // The mailbox is out of reach for now: what alice types is encrypted and kept on her device.
    await a.page.evaluate(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function held(data) {
        if (typeof data === 'string' && data.includes('"type":"mail-put"')) return undefined;
        return send.call(this, data);
      };
    });
    await recordEncryptions(a.page);
    const away = ['kept 1', 'kept 2 🧳', 'kept 3'];
    for (const text of away) await send(a, text);
    assert.deepEqual((await transcript(a.page)).slice(-3).map((m) => m.state), ['queued', 'queued', 'queued']);
    assert.deepEqual(await a.page.locator('#transcript .delivery').evaluateAll((els) => els.slice(-3).map((e) => e.textContent)),
      ['sending', 'sending', 'sending']);
    const made = await a.page.evaluate(() => JSON.parse(sessionStorage.getItem('parleyMade') || '[]'));
    assert.equal(made.length, 3, 'one ciphertext per message typed while bob is away');

    // After a reload they go to bob's mailbox as those very ciphertexts (no new encryption: a
    // new one would leave bob a gap of skipped keys).
    await a.page.reload();
    await logIn(a);
    await openChat(a, bName);
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].slice(-3)
      .every((e) => e.dataset.state === 'sent'), null, { timeout: WAIT });
    const sealed = await a.page.evaluate(() => JSON.parse(sessionStorage.getItem('parleySealed') || '[]'));
    assert.deepEqual(made.filter((w) => !sealed.includes(w)), [], 'the ciphertexts made before the reload are the ones mailed');

    b = await person(server, bName, { profileDir: profile });
    await logIn(b);
    await openChat(b, a.name);
    for (const text of away) await waitForMessage(b.page, text);
    await waitAllDelivered(a.page);
    assert.deepEqual(texts(await transcript(b.page)).map((m) => m.text), ['see you later', 'bye', ...away], 'each once, in order');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    rmSync(profile, { recursive: true, force: true });
  }
});

test('after a reconnect, an older unacknowledged message goes before messages typed while offline', async () => {
  const profile = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const a = await person(server, uniqueName('alice'));
  let b = await person(server, uniqueName('bob'), { profileDir: profile });
  const bName = b.name;
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await play(a, b, [['a', 'hello'], ['b', 'hi']]);
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    // Alice's next message is handed to the channel but lost on the way (never acknowledged).
    await a.page.evaluate(() => {
      const send = RTCDataChannel.prototype.send;
      window.parleyDrop = true;
      RTCDataChannel.prototype.send = function maybe(data) {
        if (!window.parleyDrop) send.call(this, data);
      };
    });
    await send(a, 'older, lost on the way');
    assert.equal((await transcript(a.page)).at(-1).state, 'sent');
    await leave(b);
    await waitOffline(a.page, bName);
    await a.page.evaluate(() => { window.parleyDrop = false; });
    await send(a, 'typed offline 1');
    await send(a, 'typed offline 2');

    b = await person(server, bName, { profileDir: profile });
    await logIn(b);
    await openChat(b, a.name);
    await waitForCount(b.page, 5);
    await waitAllDelivered(a.page);
    assert.deepEqual(texts(await transcript(b.page)).map((m) => m.text),
      ['hello', 'hi', 'older, lost on the way', 'typed offline 1', 'typed offline 2'], 'in the order they were written');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a link signal whose link id is not 32 lowercase hex characters is ignored', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await play(a, b, [['a', 'one'], ['b', 'two']]);
    // From now on Alice's page names its links otherwise: "X" + the id (a string of 33 characters).
    await a.context.addInitScript(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function renamed(data) {
        if (typeof data === 'string' && data.includes('"link"')) {
          const m = JSON.parse(data);
          if (typeof m.link === 'string') m.link = `X${m.link}`;
          if (m.offer && typeof m.offer.link === 'string') m.offer.link = `X${m.offer.link}`;
          return send.call(this, JSON.stringify(m));
        }
        return send.call(this, data);
      };
    });
    const from = b.frames.length;
    await a.page.reload();
    await logIn(a);
    await openChat(a, b.name);
    await until(() => b.frames.slice(from).some((f) => f.dir === 'received' && /"type":"offer".*"link":"X/.test(f.payload)),
      { message: "alice's renamed offer reaching bob" });
    await new Promise((r) => setTimeout(r, 1000));
    const bad = b.frames.slice(from).filter((f) => f.dir === 'sent').map((f) => JSON.parse(f.payload))
      .filter((m) => typeof m.link === 'string' && !/^[0-9a-f]{32}$/.test(m.link));
    assert.deepEqual(bad, [], 'bob answers no link with such an id');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a wrong password says so, and the right one still works', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    await a.page.getByRole('button', { name: 'Log out' }).click();
    await logIn(a, { password: 'not the password', expectApp: false });
    const error = a.page.locator('#auth-error');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await a.page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).count(), 1);
    // Enter means Log in: a newcomer who typed a name and a password is pointed to Sign up.
    assert.equal((await error.textContent()).trim(), 'Wrong username or password. New to Parley? Press Sign up to make an account.');
    await shots(a.page, 'wrong-password');
    assert.equal(await a.page.locator('#app-screen').isVisible(), false);
    await logIn(a);
    assert.deepEqual(unexpected(a.problems, expectedHttpError(401, `${server.url}/api/login`, 'Unauthorized')), []);
  } finally {
    await leave(a);
  }
});

test('a password over 4096 bytes is refused in the form, in plain words, before anything is sent', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    const before = a.requests.length;
    // 1366 three-byte characters: 4098 bytes, though only 1366 characters.
    await a.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password').fill('€'.repeat(1366));
    await a.page.getByRole('button', { name: 'Sign up' }).click();
    const error = a.page.locator('#auth-error');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    assert.match(await error.textContent(), /^That password is too long: at most 4,096 bytes/);
    assert.equal(a.requests.slice(before).filter((r) => r.url.includes('/api/')).length, 0, 'nothing sent');
    // 4096 bytes exactly is fine.
    await a.page.getByLabel('Password').fill('€'.repeat(1365) + 'a');
    await confirmSignUp(a.page, '€'.repeat(1365) + 'a');
    await waitForApp(a.page);
    assert.deepEqual(a.problems, []);
  } finally {
    await leave(a);
  }
});

test('an unknown contact says there is no one by that name', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    const ghost = uniqueName('nobody');
    await startChat(a, ghost, { expectOpen: false });
    const error = a.page.locator('#contact-error');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal((await error.textContent()).trim(), `There is no one called "${ghost}" on this server.`);
    await shots(a.page, 'unknown-contact');
    assert.equal(await a.page.getByRole('list', { name: 'Conversations' }).getByRole('button').count(), 0);
    assert.deepEqual(unexpected(a.problems, expectedHttpError(404, `${server.url}/api/keys/${ghost}`, 'Not Found')), []);
  } finally {
    await leave(a);
  }
});

test('a declined chat request tells the one who asked', async () => {
  const a = await person(server, uniqueName('alice'));
  const c = await person(server, uniqueName('carol'));
  try {
    await Promise.all([signUp(a), signUp(c)]);
    await startChat(a, c.name);
    await decline(c, a.name);
    // Alice has the chat open: she is told there (it would be under the contact form otherwise).
    const notice = a.page.locator('#chat-notice');
    await notice.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal((await notice.textContent()).trim(), `${c.name} declined your chat request.`);
    assert.equal(await a.page.locator('#contact-error').isVisible(), false, 'not shown as an error');
    await shots(a.page, 'declined');
    assert.equal(await c.page.getByRole('list', { name: 'Conversations' }).getByRole('button').count(), 0, 'carol has no chat');
    assert.deepEqual(a.problems, []);
    assert.deepEqual(c.problems, []);
  } finally {
    await Promise.all([leave(a), leave(c)]);
  }
});

test('starting a chat again with someone whose identity changed warns, holds sending and drops the verified mark', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    // Bob leaves her request unanswered (a declined one could not be made again for 24 hours).
    await startChat(a, b.name);
    await requestGroup(b, a.name).waitFor({ timeout: WAIT });
    await a.page.getByRole('button', { name: 'Verify', exact: true }).click();
    const dialog = a.page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Mark as verified' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: WAIT });
    await a.page.getByRole('button', { name: 'Verify (verified)' }).waitFor({ timeout: WAIT });

    // Alice is away (no identity-changed notice can reach her) while Bob makes a new identity.
    await a.page.getByRole('button', { name: 'Log out' }).click();
    b.acceptDialogs = true;
    await b.page.getByRole('button', { name: 'Reset identity' }).click();
    await b.page.locator('#banner').filter({ hasText: 'You have a new identity' }).waitFor({ timeout: WAIT });

    // Alice comes back and starts the chat again: the bundle names another key.
    await logIn(a);
    await startChat(a, b.name);
    const warning = a.page.locator('#identity-warning');
    await warning.waitFor({ state: 'visible', timeout: WAIT });
    assert.match(await warning.textContent(), new RegExp(`${b.name}'s safety number has changed`));
    assert.match(await warning.textContent(), /paused/);
    assert.equal(await a.page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true, 'Send is disabled while held');
    assert.equal(await a.page.getByRole('button', { name: 'Verify', exact: true }).count(), 1, 'the verified mark is gone');

    // Once she has looked, sending resumes and the chat works.
    await warning.getByRole('button', { name: 'I have checked, send again' }).click();
    await warning.waitFor({ state: 'hidden', timeout: WAIT });
    await accept(b, a.name);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await send(a, 'checked, hello again');
    await waitForMessage(b.page, 'checked, hello again');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a second tab of the same account says Parley is open in another tab, and can take over', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    const tab2 = await a.context.newPage();
    const problems2 = [];
    watch(tab2, problems2, []);
    await tab2.goto(`${server.url}/`);
    await tab2.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });
    const useHere = tab2.getByRole('button', { name: 'Use Parley in this tab' });
    assert.equal(await useHere.isVisible(), true);
    assert.equal(await tab2.getByLabel('Password').isVisible(), false);
    assert.equal(await a.page.locator('#app-screen').isVisible(), true, 'the first tab keeps working');
    await shots(tab2, 'second-tab');

    await useHere.click();
    await a.page.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });
    await tab2.getByLabel('Password').waitFor({ timeout: WAIT });
    await tab2.getByLabel('Username').fill(a.name);
    await tab2.getByLabel('Password').fill(PASSWORD);
    await tab2.getByRole('button', { name: 'Log in' }).click();
    await waitForApp(tab2);
    assert.deepEqual(a.problems, []);
    assert.deepEqual(problems2, []);
  } finally {
    await leave(a);
  }
});

test('a tab that loses the lock while logging in stays out of the app, and takes the lock back when the other tab closes', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    await a.page.getByRole('button', { name: 'Log out' }).click();
    await a.page.getByLabel('Password').waitFor({ timeout: WAIT });
    const sockets = [];
    a.page.on('websocket', (ws) => sockets.push(ws.url()));

    // Alice's log-in is held at the server's answer while a second tab takes over.
    let release;
    const held = new Promise((r) => { release = r; });
    let intercepted;
    const reached = new Promise((r) => { intercepted = r; });
    await a.page.route('**/api/login', async (route) => {
      intercepted();
      await held;
      await route.continue();
    });
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Log in' }).click();
    await reached;

    const tab2 = await a.context.newPage();
    const problems2 = [];
    watch(tab2, problems2, []);
    await tab2.goto(`${server.url}/`);
    await tab2.getByRole('button', { name: 'Use Parley in this tab' }).click();
    await a.page.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });

    // The log-in answer arrives now; the first tab must drop it (its buttons come back once the
    // attempt has ended).
    release();
    await a.page.waitForFunction(() => !document.getElementById('login').disabled, null, { timeout: WAIT });
    assert.equal(await a.page.locator('#app-screen').isVisible(), false, 'the first tab did not enter the app');
    assert.equal(await a.page.getByRole('heading', { name: 'Parley is open in another tab' }).isVisible(), true);
    assert.equal(await a.page.locator('#auth-error').isVisible(), false, 'and shows no error for it');
    assert.deepEqual(sockets, [], 'the first tab opened no signaling connection');

    // The second tab logs in and works; when it closes, the first tab may be used again.
    await tab2.getByLabel('Username').fill(a.name);
    await tab2.getByLabel('Password').fill(PASSWORD);
    await tab2.getByRole('button', { name: 'Log in' }).click();
    await waitForApp(tab2);
    await tab2.close();
    await a.page.getByLabel('Password').waitFor({ timeout: WAIT });
    await a.page.unroute('**/api/login');
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Log in' }).click();
    await waitForApp(a.page);

    // A third tab takes over from the tab that got the lock back by waiting: it stops too.
    const tab3 = await a.context.newPage();
    const problems3 = [];
    watch(tab3, problems3, []);
    await tab3.goto(`${server.url}/`);
    await tab3.getByRole('button', { name: 'Use Parley in this tab' }).click();
    await a.page.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });
    assert.equal(await a.page.locator('#app-screen').isVisible(), false);
    await tab3.getByLabel('Password').waitFor({ timeout: WAIT });
    assert.deepEqual(a.problems, []);
    assert.deepEqual(problems2, []);
    assert.deepEqual(problems3, []);
  } finally {
    await leave(a);
  }
});

test('the message box keeps what is typed while a message goes out, and a repeated Enter sends it once', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    // Enter, then the next words typed in the same moment (before the send has been stored).
    await a.page.evaluate(() => {
      const box = document.getElementById('message');
      box.focus();
      box.value = 'first words';
      const enter = () => box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
      enter();
      enter(); // a held or doubled Enter
      box.value += 'typed on';
      box.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await waitForMessage(b.page, 'first words');
    await waitAllDelivered(a.page);
    assert.equal(await a.page.getByRole('textbox', { name: 'Message' }).inputValue(), 'typed on', 'what was typed after Enter stays in the box');
    await send(a, 'and then a second message');
    await waitForMessage(b.page, 'and then a second message');
    const seen = (await transcript(b.page)).map((m) => m.text);
    assert.deepEqual(seen.filter((t) => t.startsWith('first words')), ['first words'], 'sent once');
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});
