// Messages reach people who are offline (docs/PROTOCOL.md 12.11): a chat started with someone
// who has not been online since signing up, its messages waiting sealed on the server, the
// request seen with them later, the replies going back the same way, and every message delivered.
// Also: 200 messages each way while the direct link goes up and down (reloads, a lost network);
// a recipient whose mailbox is full; envelopes the page cannot read, and a chat request whose
// sealed name does not match its keys; one-time prekeys that never run out; and, after all of it,
// nothing at rest on the server that says who wrote to whom or what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serverForTests, startServer } from '../lib/server.mjs';
import { api, newUser, uniqueName } from '../lib/api.mjs';
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
 * Waits for the log-in form (after a page load). Now and then a page loaded through the network
 * namespace shows no log-in form within 20 s (tests/e2e/storage.test.mjs saw it too): what it
 * shows is told in the log, and the page is loaded once more.
 */
async function loaded(t, p) {
  const login = p.page.getByRole('button', { name: 'Log in' });
  try {
    await login.waitFor({ state: 'visible', timeout: 15000 });
  } catch {
    t.diagnostic(`${p.name}: no log-in form after 15 s; the page shows ${JSON.stringify(await screenState(p.page))}; last requests ${JSON.stringify(p.requests.slice(-12).map((r) => r.url.replace(server.url, '')))}; problems ${JSON.stringify(p.problems)}; loading it again`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync('/tmp/dbg-nologin.json', JSON.stringify({ st: await screenState(p.page), problems: p.problems, req: p.requests.map((r) => r.url) }, null, 1));
    await p.page.reload();
    await login.waitFor({ state: 'visible', timeout: WAIT });
  }
}

/** Whether the open chat's header says it is connected. */
const headerConnected = (page) => page.evaluate(() => document.getElementById('chat-status').textContent.startsWith('connected'));

/** The envelopes waiting in the mailbox: [{recipient, hex}] (sqlite3 reads beside the server). */
function mailboxRows(dataDir) {
  const out = execFileSync('sqlite3', ['-readonly', join(dataDir, 'parley.db'),
    'SELECT u.username, hex(m.envelope) FROM mailbox m JOIN users u ON u.id = m.recipient_id ORDER BY m.id'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((l) => {
    const [recipient, hex] = l.split('|');
    return { recipient, hex };
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
  const network = await isolatedNetwork(server.port);
  let a;
  let b;
  try {
    a = await person(server, uniqueName('alice'));
    b = await personIn(network, server, uniqueName('bob'));
    for (const p of [a, b]) {
      await p.context.addInitScript(() => {
        document.addEventListener('DOMContentLoaded', () => {
          const t = document.getElementById('banner-text');
          new MutationObserver(() => {
            const l = JSON.parse(sessionStorage.getItem('banners') || '[]');
            l.push(`${Date.now()} ${t.textContent}`);
            sessionStorage.setItem('banners', JSON.stringify(l));
          }).observe(t, { childList: true, characterData: true, subtree: true });
        });
        import('/core/parley.js').then(({ Session, Account }) => {
          const push = (k, v) => {
            const l = JSON.parse(sessionStorage.getItem(k) || '[]');
            l.push(v);
            sessionStorage.setItem(k, JSON.stringify(l));
          };
          const hdr = (m) => {
            const o = m[0] === 2 ? 74 : 0;
            const v = new DataView(m.buffer, m.byteOffset + o);
            return `${[...m.subarray(o + 1, o + 4)].map((x) => x.toString(16).padStart(2, '0')).join('')} pn${v.getUint32(33)} n${v.getUint32(37)}`;
          };
          const d = Session.prototype.decrypt;
          Session.prototype.decrypt = function (m) {
            const where = new Error().stack.split('\n').slice(2, 3).join('').replace(/.*at (async )?/, '').replace(/ \(.*/, '');
            try {
              const r = d.call(this, m);
              const t = new TextDecoder().decode(r);
              push('dec', `${Date.now()} ok ${hdr(m)} ${where} ${t.slice(0, 60)}`);
              return r;
            } catch (e) {
              push('dec', `${Date.now()} ${e.codeName} ${hdr(m)} ${where}`);
              throw e;
            }
          };
          const en = Session.prototype.encrypt;
          Session.prototype.encrypt = function (p) {
            const r = en.call(this, p);
            const where = new Error().stack.split('\n').slice(2, 3).join('').replace(/.*at (async )?/, '').replace(/ \(.*/, '');
            push('enc', `${Date.now()} ${hdr(r)} ${where} ${(typeof p === 'string' ? p : new TextDecoder().decode(p)).slice(0, 60)}`);
            return r;
          };
          const o = Account.prototype.openSealed;
          Account.prototype.openSealed = function (env) {
            try {
              return o.call(this, env);
            } catch (e) {
              push('decryptErrors', `${Date.now()} openSealed ${e.codeName}`);
              throw e;
            }
          };
        });
      });
    }
    await Promise.all([loaded(t, a), loaded(t, b)]);
    await Promise.all([signUp(a), signUp(b)]);
    writers.add(a.name);
    writers.add(b.name);
    await a.page.evaluate(async () => {
      const { Messenger } = await import('/js/messenger.js');
      window.mailLog = [];
      const mw = Messenger.prototype.mailWire;
      Messenger.prototype.mailWire = function (name, wire, what) {
        window.mailLog.push({ at: Date.now(), seq: (this.mailSeq || 0) + 1, entry: what?.entry?.text, state: what?.entry?.state, ctl: what?.control?.t, hello: !!what?.hello, none: !what, stack: what ? '' : new Error().stack.split('\n').slice(2, 5).join(' | ') });
        return mw.call(this, name, wire, what);
      };
      const mo = Messenger.prototype.mailOut;
      Messenger.prototype.mailOut = function (name) {
        window.mailLog.push({ at: Date.now(), mailOut: true, inflight: this.mailInFlight?.size, stack: new Error().stack.split('\n').slice(2, 6).join(' | ') });
        return mo.call(this, name);
      };
    });
    await connectPair(a, b);

    const PER = 25;
    const STEPS = 8;
    const words = ['on the link', 'by mail ✉', 'ünïcödé café', 'emoji 👋🏽🎉', '<b>not bold</b>', 'line\nbreak'];
    const line = (who, i) => `${who} ${String(i).padStart(3, '0')}: ${words[i % words.length]}`;
    const fromA = Array.from({ length: PER * STEPS }, (_, i) => line('alice', i));
    const fromB = Array.from({ length: PER * STEPS }, (_, i) => line('bob', i));
    const part = (list, k) => list.slice(k * PER, (k + 1) * PER);
    const timings = [];
    // Both write at once: Alice's part and Bob's (with whatever happens to Bob first).
    const step = async (label, k, bobFirst = async () => {}, aliceFirst = async () => {}) => {
      const t0 = Date.now();
      await Promise.all([
        (async () => { await aliceFirst(); await compose(a, part(fromA, k)); })(),
        (async () => { await bobFirst(); await compose(b, part(fromB, k)); })(),
      ]);
      timings.push(`${label}: ${Date.now() - t0} ms`);
    };
    // Bob's page goes away (Alice's link with it) and he logs in again.
    const comeBack = async () => {
      await b.page.reload();
      await loaded(t, b);
      await logIn(b);
      await openChat(b, a.name);
    };

    await step('both on the link', 0);
    await step('bob reloads', 1, comeBack);
    await step('link back', 2);
    // Bob's network goes: what he writes waits on his device; what Alice writes once her page
    // has seen the link go takes the mailbox.
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
    await Promise.all([waitForCount(a.page, 2 * PER * STEPS, 120000), waitForCount(b.page, 2 * PER * STEPS, 120000)]);
    await Promise.all([waitAllDelivered(a.page, 120000), waitAllDelivered(b.page, 120000)]);
    t.diagnostic(`all there and delivered ${Date.now() - t0} ms after the last was written`);
    await sleep(3000); // anything sent twice has its chance to show up twice

    const { writeFileSync } = await import('node:fs');
    writeFileSync('/tmp/dbg-a.json', JSON.stringify(a.frames));
    writeFileSync('/tmp/dbg-b.json', JSON.stringify(b.frames));
    writeFileSync('/tmp/dbg-banners.json', JSON.stringify({ a: await a.page.evaluate(() => sessionStorage.getItem('banners')), b: await b.page.evaluate(() => sessionStorage.getItem('banners')), ea: await a.page.evaluate(() => sessionStorage.getItem('decryptErrors')), eb: await b.page.evaluate(() => sessionStorage.getItem('decryptErrors')) }));
    writeFileSync('/tmp/dbg-crypto.json', JSON.stringify({ aenc: await a.page.evaluate(() => sessionStorage.getItem('enc')), adec: await a.page.evaluate(() => sessionStorage.getItem('dec')), benc: await b.page.evaluate(() => sessionStorage.getItem('enc')), bdec: await b.page.evaluate(() => sessionStorage.getItem('dec')) }));
    writeFileSync('/tmp/dbg-log.json', JSON.stringify(await a.page.evaluate(() => window.mailLog), null, 1));
    writeFileSync('/tmp/dbg-t.json', JSON.stringify({ a: await transcript(a.page), b: await transcript(b.page), timings }));
    for (const [p, mine, theirs, other] of [[a, fromA, fromB, b.name], [b, fromB, fromA, a.name]]) {
      const list = await transcript(p.page);
      assert.equal(list.length, 2 * PER * STEPS, `${p.name}: ${list.length} messages in the transcript`);
      assert.deepEqual(list.filter((m) => m.sender === 'You').map((m) => m.text), mine, `${p.name}'s own messages: each once, in the order written`);
      assert.deepEqual(list.filter((m) => m.sender === other).map((m) => m.text), theirs, `${p.name}: ${other}'s messages each once, in the order written`);
      assert.deepEqual([...new Set(list.filter((m) => m.sender === 'You').map((m) => m.state))], ['delivered'], `${p.name}: all delivered`);
    }
    // The two routes were both used: some of Alice's went by mail (while Bob was away).
    const puts = a.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"mail-put"')).length;
    t.diagnostic(`alice's mail-puts: ${puts}`);
    assert.ok(puts >= PER, `alice mailed at least the ${PER} written while bob was away (${puts})`);

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(apartFromNetworkLoss(b.problems), [], 'bob: no console errors but requests the lost network failed');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    network.cleanup();
  }
});
