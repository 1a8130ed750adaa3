// The mailbox (docs/API.md "Mailbox: messages for people who are offline"; server/src/mailbox.c,
// store_sqlite.c): sealed envelopes kept for a recipient until it acknowledges them. Delivery
// (oldest first, exact bytes, again after a reconnect until acknowledged, at once to a connected
// recipient), the flow-control window, kill -9 right after "mail-stored", the quotas, expiry, what
// is kept at rest (never the sender), bad input, and the flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbIntegrity, dbQuery, serverBinary, serverForTests, startServer, testEngine } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';
import { connect, login, makeContacts } from '../lib/ws.mjs';
import { benchUsers } from '../../bench/server/lib.mjs';

const server = serverForTests();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SIZES = [512, 2048, 8192, 32768, 65536];
const WINDOW_COUNT = 64;
const WINDOW_BYTES = 256 * 1024;
const FRAME_MAX = 96 * 1024;

/** A version 1 envelope of n bytes: 0x01, then random bytes (so that every one is unique). */
function envelope(n = 512, version = 1) {
  const b = crypto.randomBytes(n);
  b[0] = version;
  return b;
}
const b64 = (buf) => buf.toString('base64url');
/** A short digest of an envelope (a Buffer, or its base64url text compared as text). */
const digest = (x) => crypto.createHash('sha256').update(Buffer.isBuffer(x) ? b64(x) : x).digest('hex').slice(0, 16);

/** Runs SQL on a server's database (the sqlite3 CLI, or psql on PostgreSQL). */
const sql = (dataDir, q) => dbQuery(dataDir, q);
const recipientId = (name) => `(SELECT id FROM users WHERE username = '${name}')`;

/** { count, bytes } of the rows waiting for username in the mailbox table. */
function waiting(srv, username) {
  const [count, bytes] = sql(srv.dataDir, `SELECT count(*), coalesce(sum(length(envelope)), 0) FROM mailbox WHERE recipient_id = ${recipientId(username)};`).split('|').map(Number);
  return { count, bytes };
}

/** Every row waiting for username, id and bytes: to check that nothing touched them. */
const snapshot = (srv, username) => sql(srv.dataDir, testEngine() === 'postgres'
  ? `SELECT string_agg(id || ':' || encode(envelope, 'hex'), ',' ORDER BY id) FROM mailbox WHERE recipient_id = ${recipientId(username)};`
  : `SELECT group_concat(id || ':' || hex(envelope), ',') FROM (SELECT id, envelope FROM mailbox WHERE recipient_id = ${recipientId(username)} ORDER BY id);`);

/** mailbox_usage for username: "count|bytes", or "" without a row. */
const usage = (srv, username) => sql(srv.dataDir, `SELECT count || '|' || bytes FROM mailbox_usage WHERE recipient_id = ${recipientId(username)};`);

async function until(check, what, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Stops a server this file started and checks it exited cleanly (no sanitizer report). */
async function stopClean(s) {
  const { code, signal } = await s.stop();
  assert.equal(code, 0, `parley-server exited with ${code ?? signal}:\n${s.logs().slice(-3000)}`);
  assert.doesNotMatch(s.logs(), /Sanitizer|runtime error:/);
}

let pings = 0;

/**
 * Logs in (tests/lib/ws.mjs) and adds what the mailbox tests use: take() waits for a token of a
 * bucket kept under the server's 50 messages/s (burst 100, auth took one), put() sends a paced
 * mail-put, answer(id) waits for its mail-stored or error, mail(n) for n deliveries, ack(ids),
 * alive() a ping answered, unread() the deliveries that arrived but were not taken.
 */
async function open(srv, user) {
  const c = await login(srv, user.token);
  let tokens = 90;
  let last = Date.now();
  c.take = async () => {
    for (;;) {
      const now = Date.now();
      tokens = Math.min(90, tokens + ((now - last) * 45) / 1000);
      last = now;
      if (tokens >= 1) { tokens -= 1; return; }
      await sleep(Math.ceil(((1 - tokens) * 1000) / 45));
    }
  };
  c.put = async (to, env, id, extra = {}) => {
    await c.take();
    c.send({ type: 'mail-put', to, env: Buffer.isBuffer(env) ? b64(env) : env, id, ...extra });
  };
  c.answer = (id, timeout = 15000) => c.next((m) => m.ref === id && (m.type === 'mail-stored' || m.type === 'error'), timeout);
  c.mail = async (n, timeout = 15000) => {
    const got = [];
    while (got.length < n) got.push(await c.next((m) => m.type === 'mail', timeout));
    return got;
  };
  c.ack = async (ids) => {
    await c.take();
    c.send({ type: 'mail-ack', ids });
  };
  c.alive = async () => {
    const id = `alive-${++pings}`;
    await c.take();
    c.send({ type: 'ping', id });
    assert.deepEqual(await c.next((m) => m.type === 'pong' && m.ref === id, 10000), { type: 'pong', ref: id });
  };
  c.unread = () => c.messages.filter((m) => m.type === 'mail');
  return c;
}

/**
 * Makes the sender (an open() client) an accepted contact of each recipient ({ username, token }
 * of someone not connected now), as pages that accepted a chat are: each recipient logs in, both
 * sides show a presence capability and subscribe with the other's (tests/lib/ws.mjs makeContacts),
 * and the recipient goes offline again; the sender's subscription keeps them contacts while its
 * connection lasts. Between people who are not contacts the server takes a few mailed chat
 * requests only (10 per sender and recipient, then one per 6 minutes).
 */
async function contacts(srv, sender, ...recipients) {
  const conns = [];
  for (const r of recipients) conns.push(await login(srv, r.token));
  await sender.take(); // the sender's presence-settings and subscribe count in its rate
  await sender.take();
  await makeContacts(sender, ...conns);
  for (const c of conns) {
    c.close();
    await c.closed();
  }
}

/** Puts every envelope (paced) and checks that each was answered mail-stored with its ref. */
async function putAll(c, to, envs, prefix) {
  for (let i = 0; i < envs.length; i++) await c.put(to, envs[i], `${prefix}${i}`);
  for (let i = 0; i < envs.length; i++) {
    assert.deepEqual(await c.answer(`${prefix}${i}`), { type: 'mail-stored', ref: `${prefix}${i}` });
  }
}

/** Checks deliveries against the envelopes put: same order, exact bytes, ids increasing. */
function assertDelivered(got, envs, what) {
  assert.deepEqual(got.map((m) => digest(m.env)), envs.map(digest), `${what}: the envelopes, in order`);
  for (const m of got) {
    assert.deepEqual(Object.keys(m).sort(), ['env', 'id', 'type'], `${what}: a delivery names no sender`);
    assert.ok(Number.isSafeInteger(m.id) && m.id > 0, `${what}: id ${m.id}`);
  }
  for (let i = 1; i < got.length; i++) assert.ok(got[i].id > got[i - 1].id, `${what}: oldest first`);
}

// ---- Delivery -------------------------------------------------------------------------------

test('an envelope for someone offline is answered mail-stored (with the ref), delivered oldest first with its exact bytes at log-in, and deleted by the ack', async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  await contacts(server, a, bob);
  const envs = [...SIZES, 512, 2048].map((n) => envelope(n));
  const ids = [1, 'two', 3.5, -4, 'x'.repeat(64), 0, 'seven'];
  for (let i = 0; i < envs.length; i++) {
    await a.put(bob.username, envs[i], ids[i]);
    assert.deepEqual(await a.answer(ids[i]), { type: 'mail-stored', ref: ids[i] });
  }
  // Without an id the answer has no ref.
  const noRef = envelope(512);
  await a.take();
  a.send({ type: 'mail-put', to: bob.username, env: b64(noRef) });
  assert.deepEqual(await a.next((m) => m.type === 'mail-stored'), { type: 'mail-stored' });
  envs.push(noRef);
  const total = envs.reduce((s, e) => s + e.length, 0);
  assert.deepEqual(waiting(server, bob.username), { count: envs.length, bytes: total });
  assert.equal(usage(server, bob.username), `${envs.length}|${total}`);

  const b = await open(server, bob);
  const got = await b.mail(envs.length);
  assertDelivered(got, envs, 'at log-in');
  await b.ack(got.map((m) => m.id));
  b.close();
  await b.closed();
  // The acknowledgement deleted them: the rows are gone and a new connection gets nothing.
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  assert.equal(usage(server, bob.username), '0|0');
  const again = await open(server, bob);
  await again.alive();
  await sleep(800);
  assert.deepEqual(again.unread(), []);
  again.close();
  a.close();
});

test('unacknowledged envelopes are delivered again, in order, after a reconnect and to a connection that replaces another (at least once)', async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  await contacts(server, a, bob);
  const envs = Array.from({ length: 6 }, (_, i) => envelope(SIZES[i % 3]));
  await putAll(a, bob.username, envs, 'r');
  const b1 = await open(server, bob);
  const first = await b1.mail(6);
  assertDelivered(first, envs, 'first connection');
  await b1.ack([first[4].id, first[1].id]);
  b1.close();
  await b1.closed();
  const rest = [0, 2, 3, 5];
  const b2 = await open(server, bob);
  const second = await b2.mail(4);
  assertDelivered(second, rest.map((i) => envs[i]), 'after the reconnect');
  assert.deepEqual(second.map((m) => m.id), rest.map((i) => first[i].id), 'the same ids');
  // A newer connection takes over (4409 for the older): it starts again from the oldest.
  const b3 = await open(server, bob);
  assert.equal((await b2.closed()).code, 4409);
  const third = await b3.mail(4);
  assertDelivered(third, rest.map((i) => envs[i]), 'on the replacing connection');
  await sleep(500);
  assert.deepEqual(b3.unread(), [], 'each once on this connection');
  await b3.ack(third.map((m) => m.id));
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  b3.close();
  a.close();
});

test('a connected recipient gets a new envelope at once', async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  const b = await open(server, bob);
  await a.take();
  await a.take();
  await makeContacts(a, b);
  for (const n of [512, 65536, 2048]) {
    const env = envelope(n);
    const t0 = Date.now();
    await a.put(bob.username, env, `live${n}`);
    const [m] = await b.mail(1, 3000);
    assertDelivered([m], [env], 'live');
    assert.deepEqual(await a.answer(`live${n}`), { type: 'mail-stored', ref: `live${n}` });
    assert.ok(Date.now() - t0 < 3000, `delivered in ${Date.now() - t0} ms`);
    await b.ack([m.id]);
  }
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  a.close();
  b.close();
});

test('mail-stored and the errors of the mailbox thread echo every id the server accepts as ref, escapes included', async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  await contacts(server, a, bob); // the unknown recipients below stay strangers: one put each
  // Ids of up to 64 bytes are echoed; escaped in JSON they take up to 6 characters a byte.
  // (Numbers come back as cJSON prints them: exactly when they have at most 15 digits.)
  const ids = ['"'.repeat(64), '\\'.repeat(64), '\u0001'.repeat(64), '\u001f\n'.repeat(32), 'é'.repeat(32), '𝄞'.repeat(16),
    123456789012345, -0.5, 1e300];
  const envs = [];
  for (const id of ids) {
    const env = envelope(512);
    envs.push(env);
    await a.put(bob.username, env, id);
    assert.deepEqual(await a.answer(id), { type: 'mail-stored', ref: id }, `id ${JSON.stringify(id)}`);
    await a.put(`nosuch${crypto.randomBytes(4).toString('hex')}`, envelope(512), id);
    // An unknown recipient is answered like a stored envelope (existence is not told).
    const e = await a.answer(id);
    assert.equal(e.type, 'mail-stored', `id ${JSON.stringify(id)}`);
    assert.deepEqual(e.ref, id);
  }
  const b = await open(server, bob);
  const got = await b.mail(envs.length);
  assertDelivered(got, envs, 'stored with long refs');
  await b.ack(got.map((m) => m.id));
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  a.close();
  b.close();
});

// ---- Flow control ---------------------------------------------------------------------------

test('flow control: of 200 small envelopes waiting the recipient gets 64 before it acknowledges, and the rest as it does', { timeout: 60000 }, async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  await contacts(server, a, bob);
  const envs = Array.from({ length: 200 }, () => envelope(512));
  await putAll(a, bob.username, envs, 'f');
  const b = await open(server, bob);
  const got = await b.mail(WINDOW_COUNT);
  await sleep(1000);
  assert.equal(b.unread().length, 0, 'nothing past 64 before an acknowledgement');
  // Each acknowledged envelope lets one more through, and no more.
  await b.ack(got.slice(0, 10).map((m) => m.id));
  got.push(...await b.mail(10));
  await sleep(800);
  assert.equal(b.unread().length, 0, 'ten acknowledged: ten more');
  let acked = 10;
  while (got.length < envs.length) {
    // Everything received acknowledged: the next window, up to 64.
    assert.equal(b.unread().length, 0, 'no more than the window');
    await b.ack(got.slice(acked).map((m) => m.id));
    acked = got.length;
    got.push(...await b.mail(Math.min(envs.length, acked + WINDOW_COUNT) - got.length));
  }
  assertDelivered(got, envs, '200 through the window');
  await b.ack(got.slice(acked).map((m) => m.id));
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  a.close();
  b.close();
});

test('flow control: at most 256 KiB unacknowledged: four 65536-byte envelopes, and mixed sizes never past it', { timeout: 60000 }, async () => {
  const alice = await newUser(server.url, 'mbs');
  const bob = await newUser(server.url, 'mbr');
  const a = await open(server, alice);
  await contacts(server, a, bob);
  const big = Array.from({ length: 6 }, () => envelope(65536));
  await putAll(a, bob.username, big, 'big');
  const b = await open(server, bob);
  const got = await b.mail(4);
  await sleep(1000);
  assert.equal(b.unread().length, 0, 'four of 64 KiB fill the window');
  await b.ack([got[0].id]);
  got.push(...await b.mail(1));
  await sleep(800);
  assert.equal(b.unread().length, 0, 'one acknowledged: one more');
  await b.ack(got.slice(1).map((m) => m.id));
  got.push(...await b.mail(1));
  assertDelivered(got, big, 'the large ones');
  await b.ack([got[5].id]);
  b.close();
  await b.closed();
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');

  // Three large, one small, one large waiting: 196,608 + 512 bytes go; the fourth large one
  // would pass 256 KiB, also when another envelope arrives meanwhile.
  const mixed = [65536, 65536, 65536, 512, 65536].map((n) => envelope(n));
  await putAll(a, bob.username, mixed, 'mix');
  const c = await open(server, bob);
  const seen = await c.mail(4);
  assertDelivered(seen, mixed.slice(0, 4), 'mixed, first window');
  const nudge = envelope(512);
  await putAll(a, bob.username, [nudge], 'nudge');
  await sleep(1000);
  const inflight = (ms) => ms.reduce((s, m) => s + Buffer.from(m.env, 'base64url').length, 0);
  assert.deepEqual(c.unread().map((m) => Buffer.from(m.env, 'base64url').length), [],
    `nothing more while ${inflight(seen)} bytes are unacknowledged`);
  // The small one acknowledged: exactly the large one fits (262,144 bytes), the new small one not.
  await c.ack([seen[3].id]);
  seen.push(...await c.mail(1));
  await sleep(800);
  assert.equal(c.unread().length, 0, 'the window is full at 256 KiB');
  assert.equal(inflight(seen) - 512, WINDOW_BYTES);
  await c.ack([seen[0].id]);
  seen.push(...await c.mail(1));
  assertDelivered(seen, [...mixed, nudge], 'mixed, all');
  await c.ack(seen.map((m) => m.id));
  await until(() => waiting(server, bob.username).count === 0, 'the rows to be deleted');
  a.close();
  c.close();
});

// ---- Durability -----------------------------------------------------------------------------

test('kill -9 right after "mail-stored": every acknowledged envelope of a burst survives the restart, and the database is intact', { timeout: 120000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-mailcrash-'));
  try {
    const s1 = await startServer({ dataDir });
    const [rcpt, ...senders] = benchUsers(dataDir, 'mailcrash', 17, (q) => dbQuery(dataDir, q));
    const conns = await Promise.all(senders.map((u) => login(s1, u.token)));
    // The senders are the recipient's contacts (a stranger may mail it 10 at most), made while
    // it is connected; then it goes offline, and everything goes to the mailbox.
    const r0 = await login(s1, rcpt.token);
    await makeContacts(r0, ...conns);
    r0.close();
    await r0.closed();
    const PER = 90; // per sender: within the account's burst of 100 (making contacts took two)
    const KILL_AT = 300; // of 1440: the kill comes while most are still in flight
    const sent = new Map(); // ref -> envelope text
    const stored = new Set(); // refs answered mail-stored before the kill
    const errors = [];
    let killed = false;
    for (const c of conns) {
      c.ws.on('message', (data) => {
        if (killed) return;
        const m = JSON.parse(data.toString());
        if (m.type === 'mail-stored') {
          stored.add(m.ref);
          if (stored.size >= KILL_AT) {
            killed = true;
            s1.proc.kill('SIGKILL');
          }
        } else if (m.type === 'error') {
          errors.push(m);
        }
      });
    }
    // As fast as it goes: every sender's puts in one go.
    conns.forEach((c, k) => {
      for (let i = 0; i < PER; i++) {
        const env = b64(envelope(i % 10 === 0 ? 2048 : 512));
        const ref = `${k}-${i}`;
        sent.set(ref, env);
        c.send({ type: 'mail-put', to: rcpt.name, env, id: ref });
      }
    });
    assert.equal((await s1.exited).signal, 'SIGKILL');
    assert.ok(killed, `killed after ${stored.size} answers`);
    assert.deepEqual(errors, [], 'no put was refused before the kill');
    assert.equal(stored.size, KILL_AT);
    for (const c of conns) c.ws.terminate();
    assert.equal(dbIntegrity(dataDir), 'ok');

    const s2 = await startServer({ dataDir });
    try {
      const kept = waiting(s2, rcpt.name).count;
      assert.ok(kept >= stored.size && kept <= sent.size, `${kept} rows after the restart, ${stored.size} acknowledged`);
      t.diagnostic(`${sent.size} sent, ${stored.size} acknowledged before the kill, ${kept} kept`);
      const r = await open(s2, { token: rcpt.token });
      const got = [];
      let acked = 0;
      while (got.length < kept) {
        got.push(...await r.mail(1));
        if (got.length - acked >= 32 || got.length === kept) {
          await r.ack(got.slice(acked).map((m) => m.id));
          acked = got.length;
        }
      }
      await sleep(500);
      assert.deepEqual(r.unread(), [], 'no more than the rows');
      const received = new Set(got.map((m) => m.env));
      assert.equal(received.size, got.length, 'each envelope once');
      const sentTexts = new Set(sent.values());
      assert.deepEqual(got.filter((m) => !sentTexts.has(m.env)).map((m) => m.id), [], 'every delivery is an envelope sent, intact');
      const lost = [...stored].filter((ref) => !received.has(sent.get(ref)));
      assert.deepEqual(lost, [], `acknowledged envelopes lost (${stored.size} acknowledged, ${kept} kept)`);
      await until(() => waiting(s2, rcpt.name).count === 0, 'the rows to be deleted');
      r.close();
    } finally {
      await stopClean(s2);
    }
    assert.equal(dbIntegrity(dataDir), 'ok');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---- Quotas ---------------------------------------------------------------------------------

test('--mail-quota 20: the 21st envelope is refused with mailbox_full, what was stored is delivered intact, and acknowledging makes room', { timeout: 60000 }, async () => {
  const s = await startServer({ args: ['--mail-quota', '20'] });
  try {
    const alice = await newUser(s.url, 'mbs');
    const bob = await newUser(s.url, 'mbr');
    const carol = await newUser(s.url, 'mbc');
    const a = await open(s, alice);
    await contacts(s, a, bob, carol);
    const envs = Array.from({ length: 20 }, (_, i) => envelope(SIZES[i % 4]));
    await putAll(a, bob.username, envs, 'q');
    for (const id of ['q20', 'q21']) {
      await a.put(bob.username, envelope(512), id);
      const e = await a.answer(id);
      assert.equal(e.type, 'error');
      assert.equal(e.code, 'mailbox_full', JSON.stringify(e));
      assert.equal(e.ref, id);
    }
    assert.equal(waiting(s, bob.username).count, 20);
    // The quota is per recipient: another one still gets mail.
    await putAll(a, carol.username, [envelope(512)], 'carol');
    const b = await open(s, bob);
    const got = await b.mail(20);
    assertDelivered(got, envs, 'the 20 stored before the refusals');
    await b.ack(got.slice(0, 5).map((m) => m.id));
    await until(() => usage(s, bob.username).startsWith('15|'), 'five acknowledged');
    const more = Array.from({ length: 5 }, () => envelope(512));
    await putAll(a, bob.username, more, 'again');
    await a.put(bob.username, envelope(512), 'full-again');
    assert.equal((await a.answer('full-again')).code, 'mailbox_full');
    assertDelivered(await b.mail(5), more, 'the ones put after the acknowledgements');
    a.close();
    b.close();
  } finally {
    await stopClean(s);
  }
});

test('--mail-quota-mib 1: sixteen 65536-byte envelopes fit, the 17th is refused with mailbox_full, acknowledging makes room', { timeout: 60000 }, async () => {
  const s = await startServer({ args: ['--mail-quota-mib', '1'] });
  try {
    const alice = await newUser(s.url, 'mbs');
    const bob = await newUser(s.url, 'mbr');
    const a = await open(s, alice);
    await contacts(s, a, bob);
    const envs = Array.from({ length: 16 }, () => envelope(65536));
    await putAll(a, bob.username, envs, 'm');
    for (const [id, n] of [['m16', 65536], ['m17', 512]]) {
      await a.put(bob.username, envelope(n), id);
      const e = await a.answer(id);
      assert.equal(e.code, 'mailbox_full', `${n} bytes more: ${JSON.stringify(e)}`);
      assert.equal(e.ref, id);
    }
    assert.deepEqual(waiting(s, bob.username), { count: 16, bytes: 16 * 65536 });
    const b = await open(s, bob);
    const got = [];
    for (let i = 0; i < 4; i++) {
      const window = await b.mail(4);
      got.push(...window);
      if (i === 0) {
        // Four acknowledged: four more fit, the fifth not.
        await b.ack(window.map((m) => m.id));
        await until(() => usage(s, bob.username) === `12|${12 * 65536}`, 'four acknowledged');
        const more = Array.from({ length: 4 }, () => envelope(65536));
        await putAll(a, bob.username, more, 'room');
        await a.put(bob.username, envelope(65536), 'room4');
        assert.equal((await a.answer('room4')).code, 'mailbox_full');
        envs.push(...more);
      } else {
        await b.ack(window.map((m) => m.id));
      }
    }
    got.push(...await b.mail(4));
    assertDelivered(got, envs, 'sixteen stored before, four after');
    await b.ack(got.slice(16).map((m) => m.id));
    await until(() => waiting(s, bob.username).count === 0, 'the rows to be deleted');
    a.close();
    b.close();
  } finally {
    await stopClean(s);
  }
});

// ---- Expiry ---------------------------------------------------------------------------------

test('--mail-ttl 2: an envelope not fetched in time is swept from the database, never delivered, and the sweep is logged without names', { timeout: 30000 }, async () => {
  const s = await startServer({ args: ['--mail-ttl', '2'] });
  try {
    const alice = await newUser(s.url, 'mbs');
    const bob = await newUser(s.url, 'mbr');
    const a = await open(s, alice);
    await contacts(s, a, bob);
    await putAll(a, bob.username, [envelope(512), envelope(8192)], 'ttl');
    const now = Math.floor(Date.now() / 1000);
    const expires = sql(s.dataDir, `SELECT expires_at FROM mailbox WHERE recipient_id = ${recipientId(bob.username)};`).split('\n').map(Number);
    assert.equal(expires.length, 2, 'stored');
    for (const t of expires) assert.ok(t >= now + 1 && t <= now + 3, `expires at ${t}, now ${now}`);
    await sleep(4000);
    await until(() => waiting(s, bob.username).count === 0, 'the sweep', 3000);
    assert.equal(usage(s, bob.username), '0|0');
    const lines = s.logs().split('\n').filter((l) => /mailbox: \d+ expired envelopes deleted/.test(l));
    assert.ok(lines.length >= 1, 'a sweep line');
    assert.equal(lines.reduce((n, l) => n + Number(l.match(/mailbox: (\d+) expired/)[1]), 0), 2);
    for (const l of lines) {
      assert.ok(!l.includes(alice.username) && !l.includes(bob.username), `no names: ${l}`);
    }
    const b = await open(s, bob);
    await b.alive();
    await sleep(1000);
    assert.deepEqual(b.unread(), [], 'nothing delivered after expiry');
    a.close();
    b.close();
  } finally {
    await stopClean(s);
  }
});

// ---- At rest --------------------------------------------------------------------------------

/** How many times needle occurs in the file (0 when it does not exist). */
function occurrences(file, needle) {
  if (!existsSync(file)) return 0;
  const data = readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(needle); i >= 0; i = data.indexOf(needle, i + 1)) n++;
  return n;
}

test('at rest: the mailbox rows hold recipient, expiry and envelope only; the database, its WAL and the log never name the sender', { timeout: 60000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-mailrest-'));
  try {
    // SQLite's own files are read: on SQLite whichever engine the suite runs on.
    const s = await startServer({ dataDir, args: ['--log-level', 'debug', '--database', 'sqlite'] });
    const db = join(dataDir, 'parley.db');
    const wal = `${db}-wal`;
    let sender;
    let inDb;
    try {
      sender = await newUser(s.url, 'zqxsecretsender');
      const rcpt = await newUser(s.url, 'mbr');
      const name = Buffer.from(sender.username);
      const a = await open(s, sender);
      await contacts(s, a, rcpt);
      // The sender's own account names it (its users row and the username index). Checkpointed,
      // the WAL starts empty: what the puts write must add no occurrence anywhere.
      assert.match(sql(dataDir, 'PRAGMA wal_checkpoint(TRUNCATE);'), /^0\|/);
      inDb = occurrences(db, name);
      assert.ok(inDb >= 1, 'the account row');
      assert.equal(occurrences(wal, name), 0);
      await until(() => s.logs().includes(`ws: authenticated ${sender.username} (`), 'the log line of the log-in');
      const logFrom = s.logs().length;

      const envs = Array.from({ length: 40 }, (_, i) => envelope(SIZES[i % 3])); // 143 KiB: one window
      // A client-supplied "from" and an id naming the sender are not stored either.
      for (let i = 0; i < envs.length; i++) await a.put(rcpt.username, envs[i], `${sender.username}-${i}`, { from: sender.username });
      for (let i = 0; i < envs.length; i++) assert.equal((await a.answer(`${sender.username}-${i}`)).type, 'mail-stored');
      await a.put(`nosuch${crypto.randomBytes(3).toString('hex')}`, envelope(512), 'unknown');
      assert.equal((await a.answer('unknown')).type, 'mail-stored', 'told like any other');
      const b = await open(s, rcpt);
      const got = await b.mail(40);
      assertDelivered(got, envs, 'delivered');
      await b.ack(got.slice(0, 20).map((m) => m.id));
      await until(() => waiting(s, rcpt.username).count === 20, 'half acknowledged');
      b.close();
      await b.closed();

      // The recipient's device (schema version 4: mail is filed per device), never a sender.
      assert.deepEqual(sql(dataDir, "SELECT group_concat(name, ',') FROM pragma_table_info('mailbox');"), 'id,recipient_id,expires_at,envelope,recipient_device');
      assert.deepEqual(sql(dataDir, "SELECT group_concat(name, ',') FROM pragma_table_info('mailbox_usage');"), 'recipient_id,recipient_device,count,bytes');
      // Expiry rounded up to the hour (30 days by default): the row's time says little about when it came.
      const now = Math.floor(Date.now() / 1000);
      for (const t of sql(dataDir, 'SELECT DISTINCT expires_at FROM mailbox;').split('\n').map(Number)) {
        assert.equal(t % 3600, 0, `expires_at ${t} on the hour`);
        assert.ok(t >= now + 30 * 86400 - 5 && t <= now + 30 * 86400 + 3600, `expires_at ${t}`);
      }
      assert.equal(occurrences(wal, name), 0, 'the WAL does not name the sender');
      assert.equal(occurrences(db, name), inDb, 'the database names the sender only in its account');
      const log = s.logs().slice(logFrom);
      assert.equal(log.indexOf(sender.username), -1, `the log while mail went names the sender:\n${log.split('\n').filter((l) => l.includes(sender.username)).join('\n')}`);
      for (const e of envs) assert.equal(log.indexOf(b64(e).slice(0, 24)), -1, 'no envelope in the log');
      a.close();
      await a.closed();
    } finally {
      await stopClean(s);
    }
    // Stopped (WAL checkpointed into the file): still only the account.
    const name = Buffer.from(sender.username);
    assert.equal(occurrences(db, name), inDb);
    assert.equal(occurrences(wal, name), 0);
    for (const line of s.logs().split('\n').filter((l) => l.includes(sender.username))) {
      assert.match(line, new RegExp(`(signup: new account ${sender.username}|ws: (authenticated|close) ${sender.username} \\()`), 'the sender is named only when it signs up, connects and leaves');
      assert.doesNotMatch(line, /127\.0\.0\.1|::1/, 'a username is never logged beside an address');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---- Bad input ------------------------------------------------------------------------------

/** base64url with the standard alphabet's + or / in it. */
function standardAlphabet() {
  for (;;) {
    const s = envelope(512).toString('base64').replace(/=+$/, '');
    if (/[+/]/.test(s)) return s;
  }
}

/** A 512-byte envelope whose last character has non-zero unused bits. */
function nonCanonical() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const s = b64(envelope(512));
  const last = alphabet.indexOf(s.at(-1));
  return s.slice(0, -1) + alphabet[last | 1];
}

test('bad mail-put input: each refused with its code and ref; the server stays up and the mail stored before is untouched', { timeout: 60000 }, async () => {
  const sender = await newUser(server.url, 'mbs');
  const victim = await newUser(server.url, 'mbv');
  const s = await open(server, sender);
  // Contacts: a stranger's puts count against what it may send the victim, bad ones too.
  await contacts(server, s, victim);
  const kept = [envelope(512), envelope(2048), envelope(512)];
  await putAll(s, victim.username, kept, 'keep');
  const before = snapshot(server, victim.username);
  const V = victim.username;
  const ok = b64(envelope(512));
  const put = (fields) => ({ type: 'mail-put', to: V, env: ok, ...fields });
  const cases = [
    ['env missing', { type: 'mail-put', to: V }, 'invalid_envelope'],
    ['env a number', put({ env: 512 }), 'invalid_envelope'],
    ['env null', put({ env: null }), 'invalid_envelope'],
    ['env an array', put({ env: [ok] }), 'invalid_envelope'],
    ['env empty', put({ env: '' }), 'invalid_envelope'],
    ['env not base64url', put({ env: '!'.repeat(683) }), 'invalid_envelope'],
    ['env with padding', put({ env: `${ok}=` }), 'invalid_envelope'],
    ['env in the standard alphabet', put({ env: standardAlphabet() }), 'invalid_envelope'],
    ['env with a line break', put({ env: `${ok.slice(0, 300)}\n${ok.slice(300)}` }), 'invalid_envelope'],
    ['env with non-canonical trailing bits', put({ env: nonCanonical() }), 'invalid_envelope'],
    ['511 bytes', put({ env: b64(envelope(511)) }), 'invalid_envelope'],
    ['513 bytes', put({ env: b64(envelope(513)) }), 'invalid_envelope'],
    ['4096 bytes', put({ env: b64(envelope(4096)) }), 'invalid_envelope'],
    ['65535 bytes', put({ env: b64(envelope(65535)) }), 'invalid_envelope'],
    ['first byte 0x02', put({ env: b64(envelope(512, 2)) }), 'invalid_envelope'],
    ['first byte 0x00', put({ env: b64(envelope(65536, 0)) }), 'invalid_envelope'],
    ['65537 bytes', put({ env: b64(envelope(65537)) }), 'too_large'],
    ['65536 bytes and 4 characters more', put({ env: `${b64(envelope(65536))}AAAA` }), 'too_large'],
    ['to missing', { type: 'mail-put', env: ok }, 'invalid_recipient'],
    ['to a number', put({ to: 7 }), 'invalid_recipient'],
    ['to not a username', put({ to: 'Not A Name!' }), 'invalid_recipient'],
    ['to empty', put({ to: '' }), 'invalid_recipient'],
    ['to 33 characters', put({ to: `a${'b'.repeat(32)}` }), 'invalid_recipient'],
    ['to yourself', put({ to: sender.username }), 'invalid_recipient'],
    ['to yourself in capitals', put({ to: sender.username.toUpperCase() }), 'invalid_recipient'],
    ['a forged delivery (type mail)', { type: 'mail', to: V, id: 1, env: ok }, 'invalid_type'],
    ['a forged mail-stored', { type: 'mail-stored', to: V }, 'invalid_type'],
  ];
  let n = 0;
  for (const [what, msg, code] of cases) {
    const id = `bad${n++}`;
    await s.take();
    s.send({ ...msg, id });
    const answer = await s.next((m) => m.type === 'error' || m.type === 'mail-stored', 10000);
    assert.deepEqual([answer.type, answer.code, answer.ref], ['error', code, id], `${what}: ${JSON.stringify(answer).slice(0, 200)}`);
    await s.alive();
    assert.equal(snapshot(server, V), before, `${what}: the mail stored before is untouched`);
  }
  // An unknown recipient: answered like a stored envelope (the mailbox tells nobody who exists).
  await s.take();
  s.send({ ...put({ to: `nosuch${crypto.randomBytes(4).toString('hex')}` }), id: 'unknown-user' });
  const unknownUser = await s.next((m) => m.ref === 'unknown-user', 10000);
  assert.equal(unknownUser.type, 'mail-stored');

  // "to" twice: a repeated key (no ref: the message is not read further).
  await s.take();
  s.send(`{"type":"mail-put","to":"${V}","env":"${ok}","to":"${sender.username}","id":"twice"}`);
  const twice = await s.next((m) => m.type === 'error');
  assert.equal(twice.code, 'invalid_message');
  await s.alive();
  // A binary frame.
  await s.take();
  s.ws.send(Buffer.from(JSON.stringify(put({ id: 'bin' }))), { binary: true });
  assert.equal((await s.next((m) => m.type === 'error')).code, 'invalid_message');
  await s.alive();
  // A frame of exactly 96 KiB is read (here: too_large); one byte more closes with 1009.
  const frameOf = (size, id) => {
    const base = JSON.stringify(put({ env: '', id })).length;
    return JSON.stringify(put({ env: 'A'.repeat(size - base), id }));
  };
  await s.take();
  s.send(frameOf(FRAME_MAX, 'frame-max'));
  assert.equal((await s.answer('frame-max')).code, 'too_large');
  await s.alive();
  s.send(frameOf(FRAME_MAX + 1, 'frame-over'));
  assert.equal((await s.closed()).code, 1009);
  assert.equal(snapshot(server, V), before, 'after the oversized frame');
  // mail-put before auth: auth_required, closed 4401, nothing stored.
  const early = await connect(server);
  early.send(put({ id: 'early' }));
  const e = await early.next((m) => m.type === 'error');
  assert.deepEqual([e.code, e.ref], ['auth_required', 'early']);
  assert.equal((await early.closed()).code, 4401);
  assert.equal(snapshot(server, V), before, 'after the put before auth');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  // And the owner gets exactly what was stored, intact.
  const v = await open(server, victim);
  const got = await v.mail(3);
  assertDelivered(got, kept, 'the victim\'s mail');
  await sleep(500);
  assert.deepEqual(v.unread(), [], 'nothing else was stored');
  await v.ack(got.map((m) => m.id));
  await until(() => waiting(server, V).count === 0, 'the rows to be deleted');
  v.close();
});

test('bad mail-ack input: each refused with invalid_message and its ref, deleting nothing; acks of other people\'s ids are ignored silently', { timeout: 60000 }, async () => {
  const sender = await newUser(server.url, 'mbs');
  const victim = await newUser(server.url, 'mbv');
  const s = await open(server, sender);
  await contacts(server, s, victim);
  const kept = [envelope(512), envelope(512), envelope(8192)];
  await putAll(s, victim.username, kept, 'keep');
  const before = snapshot(server, victim.username);
  const v = await open(server, victim);
  const ids = (await v.mail(3)).map((m) => m.id);
  const cases = [
    ['ids missing', {}],
    ['ids empty', { ids: [] }],
    ['257 ids', { ids: Array.from({ length: 257 }, (_, i) => ids[0] + 100000 + i) }],
    ['ids not an array', { ids: ids[0] }],
    ['ids an object', { ids: { 0: ids[0] } }],
    ['id 0', { ids: [0] }],
    ['id -1', { ids: [-1] }],
    ['id 1.5', { ids: [1.5] }],
    ['id "7" (a string)', { ids: [String(ids[0])] }],
    ['id null', { ids: [null] }],
    ['id true', { ids: [true] }],
    ['id 2^60', { ids: [2 ** 60] }],
    ['id 2^53 (past exact integers)', { ids: [2 ** 53] }],
    ['a real id beside 0', { ids: [ids[0], 0] }],
    ['a real id beside 1.5', { ids: [ids[1], ids[2], 1.5] }],
  ];
  let n = 0;
  for (const [what, fields] of cases) {
    const id = `badack${n++}`;
    await v.take();
    v.send({ type: 'mail-ack', ...fields, id });
    const answer = await v.next((m) => m.type === 'error', 10000);
    assert.deepEqual([answer.code, answer.ref], ['invalid_message', id], `${what}: ${JSON.stringify(answer)}`);
    await v.alive();
    assert.equal(snapshot(server, victim.username), before, `${what}: nothing deleted`);
  }
  // 256 ids none of which is the victim's: accepted, no answer, nothing deleted.
  await v.ack(Array.from({ length: 256 }, (_, i) => ids[2] + 1000 + i));
  // The sender acknowledges the victim's ids (and ids that do not exist): no answer, ignored.
  await s.ack([...ids, 2 ** 53 - 1, 1]);
  for (const x of [v, s]) await x.alive();
  await sleep(300);
  for (const x of [v, s]) assert.deepEqual(x.messages.filter((m) => m.type === 'error'), [], 'no answer');
  assert.equal(snapshot(server, victim.username), before, 'other people\'s acknowledgements deleted nothing');
  // Delivered to their owner again, intact.
  v.close();
  await v.closed();
  const v2 = await open(server, victim);
  const got = await v2.mail(3);
  assertDelivered(got, kept, 'the victim\'s mail after the bad acks');
  assert.deepEqual(got.map((m) => m.id), ids);
  await v2.ack(ids);
  await until(() => waiting(server, victim.username).count === 0, 'the rows to be deleted');
  v2.close();
  s.close();
});

test('a flood of mail-acks is refused past the rate (told rate_limited once); the connection and the server stay responsive and nobody\'s mail is touched', { timeout: 30000 }, async () => {
  const sender = await newUser(server.url, 'mbs');
  const victim = await newUser(server.url, 'mbv');
  const s = await open(server, sender);
  await contacts(server, s, victim);
  const kept = [envelope(512), envelope(2048)];
  await putAll(s, victim.username, kept, 'keep');
  const before = snapshot(server, victim.username);
  const first = Number(sql(server.dataDir, `SELECT min(id) FROM mailbox WHERE recipient_id = ${recipientId(victim.username)};`));
  const from = Math.max(1, first - 100);
  // 250 acks of 256 ids each at once, the victim's ids among them: the burst of 100 is taken,
  // about 150 are refused (told once in the second, the rest dropped silently), under the 200
  // refusals in a second that would close the connection.
  const flood = s;
  await sleep(1000); // the bucket full again after the puts
  for (let i = 0; i < 250; i++) {
    flood.send({ type: 'mail-ack', ids: Array.from({ length: 256 }, (_, k) => from + k + (i % 4)) });
  }
  await flood.next((m) => m.code === 'rate_limited', 10000);
  await sleep(2500); // one second over the rate is not "3 seconds in a row": the bucket refills
  const limited = flood.messages.filter((m) => m.code === 'rate_limited').length + 1;
  // Once a second (twice if the flood happened to straddle the server's one-second window).
  assert.ok(limited >= 1 && limited <= 2, `${limited} answered rate_limited`);
  assert.deepEqual(flood.messages.filter((m) => m.type === 'error' && m.code !== 'rate_limited'), []);
  await flood.alive();
  assert.equal(snapshot(server, victim.username), before, 'the victim\'s mail is untouched');
  const v = await open(server, victim);
  const got = await v.mail(2);
  assertDelivered(got, kept, 'after the flood');
  await v.ack(got.map((m) => m.id));
  await until(() => waiting(server, victim.username).count === 0, 'the rows to be deleted');
  for (const x of [s, v]) x.close();
});

// ---- Configuration --------------------------------------------------------------------------

function run(args, env = {}) {
  return new Promise((resolve) => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mailflags-'));
    const p = spawn(serverBinary(), ['--data', dir, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000); // an accepted value would start it
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, out, err });
    });
  });
}

test('the mailbox flags: out-of-range values are refused at start (flag and variable), the limits are accepted, --help lists them', { timeout: 60000 }, async () => {
  const bad = [
    ['mail-ttl', ['0', '31536001', '-1', '1.5', '10s', '', ' 5', '99999999999999999999']],
    ['mail-quota', ['0', '100001', '-3', 'x']],
    ['mail-quota-mib', ['0', '4097', '1e3']],
    ['mail-batch', ['0', '4097', '+5']],
  ];
  for (const [flag, values] of bad) {
    for (const value of values) {
      const r = await run(['--listen', '127.0.0.1:0', `--${flag}`, value]);
      assert.equal(r.code, 2, `--${flag} ${JSON.stringify(value)} refused`);
      assert.match(r.err, new RegExp(`invalid --${flag} `), `--${flag} ${JSON.stringify(value)}: ${r.err}`);
    }
    const variable = `PARLEY_${flag.toUpperCase().replaceAll('-', '_')}`;
    const r = await run(['--listen', '127.0.0.1:0'], { [variable]: '0' });
    assert.equal(r.code, 2, `${variable}=0 refused`);
    assert.match(r.err, new RegExp(`invalid --${flag} '0'.*from ${variable}`));
  }
  const missing = await run(['--listen', '127.0.0.1:0', '--mail-ttl']);
  assert.equal(missing.code, 2);
  for (const args of [
    ['--mail-ttl', '31536000', '--mail-quota', '100000', '--mail-quota-mib', '4096', '--mail-batch', '4096'],
    ['--mail-ttl', '1', '--mail-quota', '1', '--mail-quota-mib', '1', '--mail-batch', '1'],
  ]) {
    const s = await startServer({ args });
    await stopClean(s);
  }
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const word of ['--mail-ttl', '--mail-quota ', '--mail-quota-mib', '--mail-batch', 'PARLEY_MAIL_TTL', 'PARLEY_MAIL_QUOTA,', 'PARLEY_MAIL_QUOTA_MIB', 'PARLEY_MAIL_BATCH']) {
    assert.ok(help.out.includes(word), `--help names ${word}`);
  }
});
