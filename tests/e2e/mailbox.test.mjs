// Messages reach people who are offline (docs/PROTOCOL.md 12.11): a chat started with someone
// who has not been online since signing up, its messages waiting sealed on the server, the
// request seen with them later, the replies going back the same way, and every message delivered.
// Also: 200 messages each way while the direct link goes up and down (reloads, a lost network);
// a recipient whose mailbox is full; envelopes the page cannot read, and a chat request whose
// sealed name does not match its keys; one-time prekeys that never run out (the allowances that
// keep them from being drained, the owner's page topping up); and, after all of it, nothing at
// rest on the server that says who wrote to whom or what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCore } from '../lib/core.mjs';
import { serverForTests, startServer } from '../lib/server.mjs';
import {
  api, newIdentity, newUser, oneTimePrekeys, signedPrekey, uniqueName,
} from '../lib/api.mjs';
import { login as wsLogin } from '../lib/ws.mjs';
import { apartFromNetworkLoss, isolatedNetwork, personIn } from '../lib/netns.mjs';
import {
  WAIT, accept, connectPair, leave, logIn, openChat, person, requestGroup, send, shots, signUp,
  startChat, texts, transcript, until, waitAllDelivered, waitConnected, waitForCount, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

// What the tests here sent, for the last one's look at what the server keeps: every message text,
// and the name of everyone who left mail for someone.
const written = new Set();
const writers = new Set();
const waiting = []; // mailbox rows seen while they waited: [{recipient, expiresAt, hex}]

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The core's bundle (docs/PROTOCOL.md section 3) for a directory answer, as web/js/keys.js makes it. */
function coreBundle(j) {
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const b64 = (x) => Buffer.from(x, 'base64url');
  const parts = [Buffer.from([1]), b64(j.identityKey), u32(j.signedPrekey.id), b64(j.signedPrekey.publicKey), b64(j.signedPrekey.signature)];
  if (j.oneTimePrekey) parts.push(Buffer.from([0, 1]), u32(j.oneTimePrekey.id), b64(j.oneTimePrekey.publicKey));
  else parts.push(Buffer.from([0, 0]));
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * Sends each text in turn through the open chat's composer, in the page: the text goes into the
 * Message box and the form is submitted (what Enter and the Send button do), and the next one
 * waits until this one is shown. Much faster than typing hundreds of messages through Playwright,
 * with the same code path. (The page takes one send per chat at a time: a submit it turns away
 * leaves the text in the box, and is made again.)
 */
async function compose(p, list) {
  for (const text of list) written.add(text);
  await p.page.evaluate(async (texts) => {
    const box = document.getElementById('message');
    const form = document.getElementById('composer');
    const tick = () => new Promise((r) => setTimeout(r, 2));
    const shown = (t) => [...document.querySelectorAll('#transcript > li.mine .text')].some((e) => e.textContent === t);
    for (const text of texts) {
      const end = Date.now() + 20000;
      for (;;) {
        box.value = text;
        form.requestSubmit();
        if (box.value === '') break;
        box.value = '';
        if (Date.now() > end) throw new Error(`the composer never took "${text}"`);
        await tick();
      }
      while (!shown(text)) {
        if (Date.now() > end) throw new Error(`"${text}" never showed in the transcript`);
        await tick();
      }
    }
  }, list);
}

/** The screen a page shows, for a diagnostic when it is not the expected one. */
function screenState(page) {
  return page.evaluate(() => ({
    screens: ['auth-screen', 'locked-screen', 'app-screen'].filter((id) => document.getElementById(id)?.hidden === false),
    selftest: document.getElementById('selftest')?.textContent,
    core: document.getElementById('core-version')?.textContent,
    ready: document.readyState,
    text: document.body?.innerText.replace(/\s+/g, ' ').slice(0, 300),
  })).catch((e) => `not readable: ${e.message}`);
}

/**
 * Waits for the log-in form after a page load. A page that shows none within 15 s is told about in
 * the log (what it shows, what it loaded, what failed) and loaded once more: page loads are not
 * what these tests are about. (A browser started in a new network namespace before its IPv6
 * addresses settled saw its module scripts fail with net::ERR_NETWORK_CHANGED and never started;
 * tests/lib/netns.mjs now waits for that, and this stays as a safety net.)
 */
async function loaded(t, p) {
  const login = p.page.getByRole('button', { name: 'Log in' });
  try {
    await login.waitFor({ state: 'visible', timeout: 15000 });
  } catch {
    t.diagnostic(`${p.name}: no log-in form after 15 s; the page shows ${JSON.stringify(await screenState(p.page))}; last requests ${JSON.stringify(p.requests.slice(-12).map((r) => r.url.replace(server.url, '')))}; problems ${JSON.stringify(p.problems)}; loading it again`);
    await p.page.reload();
    await login.waitFor({ state: 'visible', timeout: WAIT });
  }
}

/**
 * Keeps every text the page's banner shows, across reloads (in sessionStorage), from the next
 * page load on: banners() returns them. (A banner is replaced by the next one, and cleared at
 * log-in.)
 */
async function recordBanners(p) {
  await p.context.addInitScript(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const text = document.getElementById('banner-text');
      if (!text) return;
      new MutationObserver(() => {
        if (!text.textContent) return;
        const seen = JSON.parse(sessionStorage.getItem('test-banners') || '[]');
        seen.push(text.textContent);
        sessionStorage.setItem('test-banners', JSON.stringify(seen));
      }).observe(text, { childList: true, characterData: true, subtree: true });
    });
  });
  await p.page.reload();
  p.banners = () => p.page.evaluate(() => JSON.parse(sessionStorage.getItem('test-banners') || '[]'));
}

/** Whether the open chat's header says it is connected. */
const headerConnected = (page) => page.evaluate(() => document.getElementById('chat-status').textContent.startsWith('connected'));


/** Someone with an account and no page, who leaves mail through their own WebSocket client. */
async function mailer(srv, prefix) {
  const user = await newUser(srv.url, prefix);
  const ws = await wsLogin(srv, user.token);
  let n = 0;
  return {
    ...user,
    ws,
    /** Leaves an envelope (bytes) for `to`'s device; resolves to the server's answer. */
    async put(to, env, device) {
      n += 1;
      const id = `put${n}`;
      ws.send({ type: 'mail-put', to, device, env: Buffer.from(env).toString('base64url'), id });
      return ws.next((m) => m.ref === id, 10000);
    },
  };
}

/** The envelopes waiting in the mailbox: [{recipient, expiresAt, hex}] (sqlite3 reads beside the server). */
function mailboxRows(dataDir) {
  const out = execFileSync('sqlite3', ['-readonly', join(dataDir, 'parley.db'),
    'SELECT u.username, m.expires_at, hex(m.envelope) FROM mailbox m JOIN users u ON u.id = m.recipient_id ORDER BY m.id'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((l) => {
    const [recipient, expiresAt, hex] = l.split('|');
    return { recipient, expiresAt: Number(expiresAt), hex };
  });
}


test('a chat started with someone who has never been online: request, messages and replies all arrive by mail, delivered', async () => {
  const profileA = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const profileB = mkdtempSync(join(tmpdir(), 'parley-profile-'));
  const aName = uniqueName('alice');
  const bName = uniqueName('bob');
  let a = await person(server, aName, { profileDir: profileA });
  let b = await person(server, bName, { profileDir: profileB });
  try {
    // Bob signs up and leaves at once: he has not been online since.
    await signUp(b);
    await leave(b);
    await signUp(a);
    await startChat(a, bName);
    const fromAlice = ['are you there, bob?', 'I wrote while you were away 🕰', 'third', 'fourth: <b>not bold</b>', 'fifth and last'];
    for (const text of fromAlice) await send(a, text);
    // Stored for him on the server: "sent", and Alice may close her laptop now.
    await a.page.waitForFunction((n) => [...document.querySelectorAll('#transcript .delivery')].length === n
      && [...document.querySelectorAll('#transcript .delivery')].every((e) => e.dataset.state === 'sent'),
    fromAlice.length, { timeout: WAIT });
    await shots(a.page, 'mailbox-sent');
    await leave(a);
    writers.add(aName);
    for (const text of fromAlice) written.add(text);
    waiting.push(...mailboxRows(server.dataDir)); // for the last test: what the server keeps

    // Bob comes back in his own browser: the request is there with Alice's messages.
    b = await person(server, bName, { profileDir: profileB });
    await logIn(b);
    const group = requestGroup(b, aName);
    await group.waitFor({ state: 'visible', timeout: WAIT });
    const said = group.getByRole('list', { name: `Messages from ${aName}` }).getByRole('listitem');
    await b.page.waitForFunction((n) => document.querySelectorAll('.request-messages li').length === n, fromAlice.length, { timeout: WAIT });
    assert.deepEqual(await said.allTextContents(), fromAlice, 'the request shows what came with it, in order');
    await shots(b.page, 'mailbox-request');
    await accept(b, aName);
    await openChat(b, aName);
    await waitForCount(b.page, fromAlice.length);
    const fromBob = ['yes! just saw this', 'sorry, I was away', 'talk soon'];
    for (const text of fromBob) await send(b, text);
    writers.add(bName);
    for (const text of fromBob) written.add(text);
    await b.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].every((e) => e.dataset.state === 'sent'),
      null, { timeout: WAIT });
    await leave(b);

    // Alice comes back: the chat is accepted, the replies are there, her messages delivered.
    a = await person(server, aName, { profileDir: profileA });
    await logIn(a);
    await openChat(a, bName);
    await waitForCount(a.page, fromAlice.length + fromBob.length);
    await waitAllDelivered(a.page, 30000);

    // Bob once more: Alice's receipts for his replies waited for him.
    b = await person(server, bName, { profileDir: profileB });
    await logIn(b);
    await openChat(b, aName);
    await waitAllDelivered(b.page, 30000);

    const want = [...fromAlice.map((text) => ({ text, sender: 'alice' })), ...fromBob.map((text) => ({ text, sender: 'bob' }))];
    const ta = texts(await transcript(a.page));
    const tb = texts(await transcript(b.page));
    // Each side's view in the same terms: "You" is its own name.
    const named = (list, me) => list.map((m) => ({ text: m.text, sender: m.sender === 'You' ? me : m.sender }));
    const wantNamed = want.map((m) => ({ text: m.text, sender: m.sender === 'alice' ? aName : bName }));
    assert.deepEqual(named(ta, aName), wantNamed, "alice's transcript");
    assert.deepEqual(named(tb, bName), wantNamed, "bob's transcript");
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');

    // At rest on the server: no mailbox row left, and no sender name or text in the database or
    // its log.
    const db = ['parley.db', 'parley.db-wal'].map((f) => {
      try {
        return readFileSync(join(server.dataDir, f));
      } catch {
        return Buffer.alloc(0);
      }
    });
    for (const text of [...fromAlice, ...fromBob]) {
      for (const file of db) assert.equal(file.indexOf(Buffer.from(text)), -1, `"${text}" at rest`);
      assert.equal(server.logs().includes(text), false, `"${text}" in the log`);
    }
  } finally {
    await Promise.all([leave(a), leave(b)]);
    rmSync(profileA, { recursive: true, force: true });
    rmSync(profileB, { recursive: true, force: true });
  }
});

test('200 messages each way while the direct link goes up and down (two reloads, a lost network): each side has every message once, in the order sent, all delivered', { timeout: 300000 }, async (t) => {
  // What this guards against, each seen once: a late mailed copy of a message that came over
  // the link counted as unreadable; a message typed just after a link opened going ahead of older
  // unacknowledged ones; a put refused by the rate limit (no ref) never mailed again while later
  // ones were stored; every envelope put twice.
  const network = await isolatedNetwork(server.port);
  let a;
  let b;
  try {
    a = await person(server, uniqueName('alice'));
    b = await personIn(network, server, uniqueName('bob'));
    await Promise.all([recordBanners(a), recordBanners(b)]);
    await Promise.all([loaded(t, a), loaded(t, b)]);
    await Promise.all([signUp(a), signUp(b)]);
    writers.add(a.name);
    writers.add(b.name);
    await connectPair(a, b);

    const PER = 25;
    const STEPS = 8;
    const words = ['on the link', 'by mail ✉', 'ünïcödé café', 'emoji 👋🏽🎉', '<b>not bold</b>', 'line\nbreak'];
    const line = (who, i) => `${who} ${String(i).padStart(3, '0')}: ${words[i % words.length]}`;
    const fromA = Array.from({ length: PER * STEPS }, (_, i) => line('alice', i));
    const fromB = Array.from({ length: PER * STEPS }, (_, i) => line('bob', i));
    const part = (list, k) => list.slice(k * PER, (k + 1) * PER);
    const timings = [];
    // Both write at once: Alice her part, Bob his (after whatever happens to him first).
    const step = async (label, k, bobFirst = async () => {}, aliceFirst = async () => {}) => {
      const t0 = Date.now();
      await Promise.all([
        (async () => { await aliceFirst(); await compose(a, part(fromA, k)); })(),
        (async () => { await bobFirst(); await compose(b, part(fromB, k)); })(),
      ]);
      timings.push(`${label} ${Date.now() - t0} ms`);
    };
    // Bob's page goes away (the link with it) and he logs in again, while Alice writes.
    const comeBack = async () => {
      await b.page.reload();
      await loaded(t, b);
      await logIn(b);
      await openChat(b, a.name);
    };

    await step('both on the link', 0);
    await step('bob reloads', 1, comeBack);
    await step('link back', 2);
    // Bob's network goes: what he writes waits on his device; Alice writes once her page has seen
    // the link go.
    network.down();
    await step('bob without network', 3, async () => {}, async () => {
      await a.page.waitForFunction(() => !document.getElementById('chat-status').textContent.startsWith('connected'),
        null, { timeout: 90000 });
    });
    assert.equal(await headerConnected(a.page), false, 'the link is still down');
    network.up();
    await step('network back', 4);
    await step('bob reloads again', 5, comeBack);
    await step('link back again', 6);
    await step('the last ones', 7);
    t.diagnostic(timings.join('; '));

    const t0 = Date.now();
    const total = 2 * PER * STEPS;
    await Promise.all([waitForCount(a.page, total, 120000), waitForCount(b.page, total, 120000)]);
    await Promise.all([waitAllDelivered(a.page, 120000), waitAllDelivered(b.page, 120000)]);
    t.diagnostic(`all there and delivered ${Date.now() - t0} ms after the last was written`);
    await sleep(3000); // anything sent twice has its chance to show up twice

    for (const [p, mine, theirs, other] of [[a, fromA, fromB, b.name], [b, fromB, fromA, a.name]]) {
      const list = await transcript(p.page);
      assert.equal(list.length, total, `${p.name}: ${list.length} messages in the transcript`);
      assert.deepEqual(list.filter((m) => m.sender === 'You').map((m) => m.text), mine, `${p.name}'s own messages: each once, in the order written`);
      assert.deepEqual(list.filter((m) => m.sender === other).map((m) => m.text), theirs, `${p.name}: ${other}'s messages each once, in the order written`);
      assert.deepEqual([...new Set(list.filter((m) => m.sender === 'You').map((m) => m.state))], ['delivered'], `${p.name}: all delivered`);
      // Nothing either wrote was taken for damaged mail.
      assert.deepEqual((await p.banners()).filter((x) => /could not be read/.test(x)), [], `${p.name}: no mail of the other's refused`);
    }
    // Both routes were used: Alice mailed at least what she wrote while Bob was away.
    const puts = a.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"type":"mail-put"')).length;
    t.diagnostic(`alice's mail-puts: ${puts}`);
    assert.ok(puts >= PER, `alice mailed what she wrote while bob was away (${puts} mail-puts)`);

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(apartFromNetworkLoss(b.problems), [], 'bob: no console errors but requests the lost network failed');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    network.cleanup();
  }
});

test('a recipient whose mailbox is full: the sender is told, 5 wait on the server and the rest on her device, and all arrive in order once he is back', { timeout: 180000 }, async (t) => {
  // A server of its own, whose mailbox keeps 5 envelopes per recipient.
  const full = await startServer({ args: ['--mail-quota', '5'] });
  let a;
  let b;
  try {
    a = await person(full, uniqueName('alice'));
    b = await person(full, uniqueName('bob'));
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await send(a, 'hello before you go');
    await waitForMessage(b.page, 'hello before you go');
    await waitAllDelivered(a.page);

    // Bob goes away (his page back at the log-in form); Alice sees it.
    await b.page.reload();
    await b.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
    await a.page.waitForFunction((n) => document.getElementById('chat-status').textContent === `${n} is offline; messages wait for them on the server`,
      b.name, { timeout: WAIT });
    assert.deepEqual(mailboxRows(full.dataDir).filter((r) => r.recipient === b.name), [], 'nothing waits for bob yet');

    const seven = Array.from({ length: 7 }, (_, i) => `while you are away, number ${i + 1} of 7`);
    for (const text of seven) await send(a, text);
    // Alice is told, in words, in the chat.
    const notice = a.page.getByRole('status').filter({ hasText: 'too many messages waiting' });
    await notice.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await notice.textContent(),
      `${b.name} has too many messages waiting on the server; yours stay on this device and go when they have read theirs.`);
    // The first five wait on the server ("sent"), the last two on her device ("sending").
    // Each message is put once: a message put twice would take one of the five places.
    const states = () => a.page.locator('#transcript li.mine .delivery').evaluateAll((els) => els.slice(-7).map((e) => e.textContent));
    await until(async () => JSON.stringify(await states()) === JSON.stringify(['sent', 'sent', 'sent', 'sent', 'sent', 'sending', 'sending']),
      { timeout: WAIT, message: 'five sent and two sending' }).catch(async (e) => {
      throw new Error(`${e.message}: alice shows ${JSON.stringify(await states())}; ${mailboxRows(full.dataDir).length} envelopes wait for bob`);
    });
    const rows = mailboxRows(full.dataDir);
    assert.equal(rows.filter((r) => r.recipient === b.name).length, 5, 'five envelopes wait for bob');
    // At rest: the envelopes name neither Alice nor anything she wrote.
    const hex = (x) => Buffer.from(x).toString('hex').toUpperCase();
    for (const r of rows) {
      for (const x of [a.name, ...seven]) assert.equal(r.hex.includes(hex(x)), false, `"${x}" in an envelope at rest`);
    }

    // Bob comes back and reads: the five from the mailbox, the other two after them (over the
    // link his coming back opens, or by mail once there is room), each once, in order.
    await logIn(b);
    await openChat(b, a.name);
    await waitForCount(b.page, 1 + seven.length, 90000);
    await waitAllDelivered(a.page, 90000);
    await sleep(2000); // a repeat has its chance to show
    assert.deepEqual(texts(await transcript(b.page)), [
      { text: 'hello before you go', sender: a.name },
      ...seven.map((text) => ({ text, sender: a.name })),
    ], "bob's transcript: every message once, in order");
    assert.deepEqual(await a.page.locator('#transcript li.mine .delivery').allTextContents(), Array(8).fill('delivered'));
    // Once the chat is connected, the notice has gone.
    await waitConnected(a.page);
    assert.equal(await notice.count(), 0, 'the notice has gone');
    await until(() => mailboxRows(full.dataDir).length === 0, { message: "bob's mailbox emptied" });
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    const { code, signal } = await full.stop();
    assert.equal(code, 0, `the quota server exited with ${code ?? signal}:\n${full.logs().slice(-2000)}`);
    assert.doesNotMatch(full.logs(), /Sanitizer|runtime error:/);
  }
});

test('envelopes bob cannot read (random bytes of a valid size, sealed for another account, a message no session reads): discarded with one notice saying how many, acknowledged, and chats go on', async (t) => {
  const core = await nodeCore();
  let a;
  let b;
  const mallory = await mailer(server, 'mallory');
  try {
    b = await person(server, uniqueName('bob'));
    await recordBanners(b);
    await signUp(b);
    await b.page.reload(); // Bob is away
    await b.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });

    const junk = (size) => {
      const env = crypto.getRandomValues(new Uint8Array(size));
      env[0] = 0x01; // version 1, as the server checks
      return env;
    };
    const bobKeys = (await api(server.url, 'GET', `/api/keys/${b.name}`, { token: mallory.token })).body;
    const bobKey = bobKeys.identityKey;
    const bobDevice = bobKeys.bundles[0].device; // his browser, the one device he has
    const someone = core.Account.create();
    const other = core.Account.create();
    const envelopes = [
      junk(512), junk(512), junk(2048), junk(8192),
      // Well made, but for another account.
      someone.sealTo(other.identityKey(), mallory.username, crypto.getRandomValues(new Uint8Array(80))),
      // Well made and for Bob, but the message inside is no message of any session he has.
      someone.sealTo(Buffer.from(bobKey, 'base64url'), mallory.username, Uint8Array.from([0x01, ...crypto.getRandomValues(new Uint8Array(90))])),
    ];
    someone.free();
    other.free();
    for (const env of envelopes) {
      assert.equal((await mallory.put(b.name, env, bobDevice)).type, 'mail-stored');
    }
    writers.add(mallory.username);
    const rows = mailboxRows(server.dataDir).filter((r) => r.recipient === b.name);
    assert.equal(rows.length, envelopes.length, 'they wait for bob');
    waiting.push(...rows);

    await logIn(b);
    const banner = b.page.getByRole('alert').filter({ hasText: 'could not be read' });
    await banner.waitFor({ state: 'visible', timeout: WAIT });
    // In plain words, how many were discarded: one notice counting all of them (they come one
    // by one, each in its own batch).
    const counted = `${envelopes.length} messages waiting for you on the server could not be read (not sealed for this account, or damaged) and were discarded.`;
    await b.page.waitForFunction((text) => document.getElementById('banner-text').textContent === text, counted, { timeout: WAIT })
      .catch(async () => assert.fail(`bob was shown ${JSON.stringify((await b.banners()).filter((x) => /could not be read/.test(x)))}; the last should say "${counted}"`));
    await until(() => mailboxRows(server.dataDir).filter((r) => r.recipient === b.name).length === 0,
      { message: 'the discarded envelopes acknowledged (deleted from the server)' });
    assert.equal(await requestGroup(b, mallory.username).count(), 0, 'no request from the sender');
    assert.equal(await b.page.getByRole('list', { name: 'Conversations' }).getByRole('listitem').count(), 0, 'no conversation');

    // Chats work as before.
    a = await person(server, uniqueName('alice'));
    await signUp(a);
    await connectPair(a, b);
    for (const [from, to, text] of [[a, b, 'after the junk: hello'], [b, a, 'after the junk: hi, all fine']]) {
      written.add(text);
      await send(from, text);
      await waitForMessage(to.page, text);
    }
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    mallory.ws.close();
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a chat request sealed under the name "alice" with keys that are not hers: discarded with a notice, no request shown', async () => {
  const core = await nodeCore();
  let b;
  const mallory = await mailer(server, 'mallory');
  // The real Alice: an account with keys in the directory (no page needed).
  const alice = await withKeys(server, 'alice');
  const forger = core.Account.create();
  try {
    b = await person(server, uniqueName('bob'));
    await recordBanners(b);
    await signUp(b);
    await b.page.reload(); // Bob is away
    await b.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });

    // Mallory makes a real chat request to Bob (X3DH with Bob's bundle, a hello as the page
    // makes it) with a key of her own, and seals it under Alice's name.
    const bundle = await api(server.url, 'GET', `/api/keys/${b.name}`, { token: mallory.token });
    assert.equal(bundle.status, 200);
    const session = core.Session.outbound(forger, coreBundle(bundle.body));
    const hello = session.encrypt(JSON.stringify({ t: 'hello', cap: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url') }));
    session.free();
    assert.equal(core.messageType(hello), core.MESSAGE_PREKEY);
    const bobKey = Buffer.from(bundle.body.identityKey, 'base64url');
    assert.equal((await mallory.put(b.name, forger.sealTo(bobKey, alice.username, hello), bundle.body.bundles[0].device)).type, 'mail-stored');
    writers.add(mallory.username);
    waiting.push(...mailboxRows(server.dataDir).filter((r) => r.recipient === b.name));

    await logIn(b);
    const banner = b.page.getByRole('alert').filter({ hasText: 'did not match' });
    await banner.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await b.page.locator('#banner-text').textContent(),
      `A chat request signed "${alice.username}" did not match ${alice.username}'s keys on the server and was discarded.`);
    await until(() => mailboxRows(server.dataDir).filter((r) => r.recipient === b.name).length === 0,
      { message: 'the forged request acknowledged (deleted from the server)' });
    await sleep(1000);
    assert.equal(await requestGroup(b, alice.username).count(), 0, 'no request from alice');
    assert.equal(await b.page.getByRole('region', { name: 'Chat requests' }).getByRole('group').count(), 0, 'no request at all');
    assert.equal(await b.page.getByRole('list', { name: 'Conversations' }).getByRole('listitem').count(), 0, 'no conversation');
    // After a reload it has not come back from anywhere.
    await b.page.reload();
    await logIn(b);
    await sleep(1500);
    assert.equal(await requestGroup(b, alice.username).count(), 0, 'no request from alice after a reload');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    forger.free();
    mallory.ws.close();
    await leave(b);
  }
});

/** The directory's count of the page's own one-time prekeys, asked with the page's token. */
function ownCount(page) {
  return page.evaluate(async () => (await import('/js/api.js')).request('GET', '/api/keys/me/count'));
}

/**
 * Fetches `target`'s bundle over HTTP from fresh accounts, `each` times per account, until a fresh
 * account's first bundle comes without a one-time prekey. Returns how many came with one.
 */
async function drain(srv, target, each = 3) {
  let taken = 0;
  for (let k = 0; k < 60; k += 1) {
    const fetcher = await newUser(srv.url, 'drain');
    for (let i = 0; i < each; i += 1) {
      const r = await api(srv.url, 'GET', `/api/keys/${target}`, { token: fetcher.token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      if (!r.body.oneTimePrekey) {
        if (i === 0) return taken;
        break;
      }
      taken += 1;
    }
  }
  throw new Error(`still handing out one-time prekeys after ${taken}`);
}

/** An account with keys in the directory and no page: { username, token, ... }. */
async function withKeys(srv, prefix, prekeys = 5) {
  const user = await newUser(srv.url, prefix);
  const ik = newIdentity();
  const r = await api(srv.url, 'PUT', '/api/keys', {
    token: user.token,
    body: { identityKey: ik.publicKey, signedPrekey: signedPrekey(ik), oneTimePrekeys: oneTimePrekeys(1, prekeys) },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return user;
}

test("one account gets at most 3 of someone's one-time prekeys, and fetching past that does not spend what the others may take", async () => {
  // Fetches past the pair's allowance must not spend the target's: one account fetching 20
  // times would otherwise leave everybody else 30 of Alice's 50 for the hour.
  const srv = await startServer();
  try {
    const target = await withKeys(srv, 'carol', 100);
    const greedy = await newUser(srv.url, 'greedy');
    const got = [];
    for (let i = 0; i < 20; i += 1) {
      const r = await api(srv.url, 'GET', `/api/keys/${target.username}`, { token: greedy.token });
      assert.equal(r.status, 200);
      got.push(r.body.oneTimePrekey ? 1 : 0);
    }
    assert.deepEqual(got, [1, 1, 1, ...Array(17).fill(0)], 'three, then bundles without one');
    const others = await drain(srv, target.username);
    assert.equal(3 + others, 50, `all accounts together took ${3 + others} at once (the greedy one 3, the others ${others})`);
  } finally {
    const { code } = await srv.stop();
    assert.equal(code, 0);
  }
});

test("one-time prekeys never run out: drained, bundles come without one and a new chat still works; the owner's page is told and tops up", { timeout: 180000 }, async (t) => {
  // A server of its own, started again on the same port and data (the allowances are kept in
  // memory: a restart is how this test takes more than one allowance's worth).
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-prekeys-'));
  let srv = await startServer({ dataDir });
  const { port } = srv;
  let a;
  let d;
  const stopped = async () => {
    const { code, signal } = await srv.stop();
    assert.equal(code, 0, `parley-server exited with ${code ?? signal}:\n${srv.logs().slice(-2000)}`);
    assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error:/);
  };
  try {
    a = await person(srv, uniqueName('alice'));
    await signUp(a);
    assert.deepEqual(await ownCount(a.page), { count: 100, low: false, kemCount: 100, kemLow: false });

    // Many accounts fetch her bundle: each gets at most 3 one-time prekeys, all together 50, and
    // then bundles come without one.
    const first = await drain(srv, a.name);
    t.diagnostic(`first drain: ${first} one-time prekeys handed out`);
    assert.ok(first >= 50 && first <= 51, `${first} handed out at once`);
    assert.equal((await ownCount(a.page)).count, 100 - first);
    const lowFrames = () => a.frames.filter((f) => f.dir === 'received' && f.payload.includes('"prekeys-low"')).length;
    assert.equal(lowFrames(), 0, 'not low yet: her page is not told');

    // The server restarts (same port, same data): her page reconnects by itself.
    await stopped();
    srv = await startServer({ dataDir, args: ['--listen', `127.0.0.1:${port}`] });
    assert.equal(srv.port, port);
    await a.page.waitForFunction(() => document.getElementById('connection').dataset.state === 'online', null, { timeout: 30000 });

    // Drained again while she is online: when fewer than 20 are left her page is told, and tops up.
    const second = await drain(srv, a.name);
    t.diagnostic(`second drain: ${second} one-time prekeys handed out`);
    assert.ok(second >= 50 && second <= 51, `${second} handed out at once`);
    assert.ok(lowFrames() >= 1, 'her page was told prekeys-low');
    const topped = await until(async () => {
      const c = await ownCount(a.page);
      return c.count >= 100 && !c.low ? c : null;
    }, { timeout: WAIT, message: 'her page topping up' });
    t.diagnostic(`after the top-up: ${JSON.stringify(topped)}`);

    // A newcomer's bundle has no one-time prekey (the allowance is spent); the chat works anyway.
    d = await person(srv, uniqueName('dave'));
    await signUp(d);
    await startChat(d, a.name);
    const bundles = d.frames.filter((f) => f.dir === 'received' && f.payload.includes('"type":"bundle"')).map((f) => JSON.parse(f.payload).bundle);
    assert.equal(bundles.length, 1, 'dave fetched one bundle');
    assert.equal(bundles[0].oneTimePrekey, null, 'it came without a one-time prekey');
    await accept(a, d.name);
    await openChat(a, d.name);
    await Promise.all([waitConnected(a.page), waitConnected(d.page)]);
    for (const [from, to, text] of [[d, a, 'hi alice, your prekeys ran out'], [a, d, 'hi dave, it still works'], [d, a, 'good']]) {
      await send(from, text);
      await waitForMessage(to.page, text);
    }
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(d.page)]);
    assert.deepEqual(texts(await transcript(a.page)), [
      { text: 'hi alice, your prekeys ran out', sender: d.name },
      { text: 'hi dave, it still works', sender: 'You' },
      { text: 'good', sender: d.name },
    ]);
    // Alice's page saw the server go away for a moment while it restarted, and nothing else.
    assert.deepEqual(a.problems.filter((x) => !/net::ERR_(CONNECTION_REFUSED|SOCKET_NOT_CONNECTED|CONNECTION_RESET|EMPTY_RESPONSE)/.test(x)), [],
      'alice: no console errors but the restart\'s');
    assert.deepEqual(d.problems, [], 'dave: no console errors');
  } finally {
    await Promise.all([leave(a), leave(d)]);
    await stopped();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('at rest on the server, after all of the above: mailbox rows name nobody and hold no text, the database keeps no sender, and no log line names two people', () => {
  const hex = (x) => Buffer.from(x).toString('hex').toUpperCase();
  const rows = [...waiting, ...mailboxRows(server.dataDir)];
  assert.ok(waiting.length >= 10, `rows were looked at while they waited (${waiting.length})`);
  assert.ok(writers.size >= 4, `writers: ${[...writers].join(', ')}`);
  // A row is a recipient (and its device), an expiry rounded up to the hour and an envelope: no
  // sender column, and nothing in the envelope's bytes names the sender or says what it holds.
  const columns = execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'parley.db'), 'SELECT name FROM pragma_table_info(\'mailbox\') ORDER BY cid'], { encoding: 'utf8' })
    .split('\n').filter(Boolean);
  assert.deepEqual(columns, ['id', 'recipient_id', 'expires_at', 'envelope', 'recipient_device']);
  for (const r of rows) {
    assert.equal(r.expiresAt % 3600, 0, `an expiry to the second: ${r.expiresAt}`);
    for (const name of writers) assert.equal(r.hex.includes(hex(name)), false, `${name} in an envelope for ${r.recipient}`);
    for (const text of written) {
      if (Buffer.byteLength(text) >= 8) assert.equal(r.hex.includes(hex(text)), false, `"${text}" in an envelope`);
    }
  }
  // No message text anywhere in the database files.
  const db = ['parley.db', 'parley.db-wal'].map((f) => {
    try {
      return readFileSync(join(server.dataDir, f));
    } catch {
      return Buffer.alloc(0);
    }
  });
  assert.ok(written.size >= 400, `${written.size} texts written`);
  for (const text of written) {
    for (const file of db) assert.equal(file.indexOf(Buffer.from(text)), -1, `"${text}" at rest`);
  }
  // The log: no message text, and no line naming two accounts (who wrote to whom).
  const names = execFileSync('sqlite3', ['-readonly', join(server.dataDir, 'parley.db'), 'SELECT username FROM users'], { encoding: 'utf8' })
    .split('\n').filter(Boolean);
  assert.ok(names.length >= 6, `${names.length} accounts`);
  const log = server.logs();
  for (const text of written) assert.equal(log.includes(text), false, `"${text}" in the log`);
  const pairs = log.split('\n').map((line) => [line, names.filter((n) => line.includes(n))]).filter(([, n]) => n.length > 1);
  assert.deepEqual(pairs.map(([line]) => line), [], 'log lines naming two accounts');
});
