// Presence only for contacts (docs/API.md "Presence"): a user's state reaches a watcher that
// presents the capability whose SHA-256 the user registered, while the user shows its presence;
// everyone else sees "unknown" (no capability) or "offline" (a capability that is not the user's
// current one: a contact dropped or blocked sees the user away), before and after any change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests, startServer } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';
import { login, presenceCap, showPresence } from '../lib/ws.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const server = serverForTests();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const presenceOf = (user) => (m) => m.type === 'presence' && m.user === user;
const errorOf = (code) => (m) => m.type === 'error' && m.code === code;

test('a stranger learns nothing; a contact with the capability sees online and offline', async () => {
  const alice = await newUser(server.url, 'alice');
  const bob = await newUser(server.url, 'bob');
  const mallory = await newUser(server.url, 'mallory');
  const { cap, capHash } = presenceCap();
  const wrong = presenceCap();

  const a0 = await login(server, alice.token);
  await showPresence(a0, capHash);
  const b = await login(server, bob.token);
  const m = await login(server, mallory.token);
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap }] });
  m.send({ type: 'subscribe', users: [alice.username, { user: bob.username, cap }] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
  assert.equal((await m.next(presenceOf(alice.username))).state, 'unknown');
  // Bob has no capability of his own yet: Alice's is not his.
  assert.equal((await m.next(presenceOf(bob.username))).state, 'offline');
  // A wrong capability shows the user away, whatever the user does.
  const m2 = await login(server, (await newUser(server.url, 'eve')).token);
  m2.send({ type: 'subscribe', users: [{ user: alice.username, cap: wrong.cap }] });
  assert.equal((await m2.next(presenceOf(alice.username))).state, 'offline');

  a0.close();
  assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
  const a1 = await login(server, alice.token);
  assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
  a1.close();
  assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
  await sleep(300);
  // The stranger was told nothing of the three changes.
  assert.equal(m.messages.filter(presenceOf(alice.username)).length, 0);
  assert.equal(m2.messages.filter(presenceOf(alice.username)).length, 0);
  for (const c of [b, m, m2]) c.close();
});

test('"Show when I\'m online" off: contacts see unknown, at once and after reconnects', async () => {
  const alice = await newUser(server.url, 'alice');
  const bob = await newUser(server.url, 'bob');
  const { cap, capHash } = presenceCap();
  const a = await login(server, alice.token);
  await showPresence(a, capHash, true);
  const b = await login(server, bob.token);
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap }] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
  await showPresence(a, capHash, false);
  assert.equal((await b.next(presenceOf(alice.username))).state, 'unknown');
  a.close();
  await sleep(300);
  assert.equal(b.messages.filter(presenceOf(alice.username)).length, 0, 'going offline while hidden is not shown');
  const a2 = await login(server, alice.token);
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap }] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'unknown');
  await showPresence(a2, capHash, true);
  assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
  a2.close();
  b.close();
});

test('a new capability hash shuts out holders of the old one: they see the user offline, and no change', async () => {
  const alice = await newUser(server.url, 'alice');
  const bob = await newUser(server.url, 'bob');
  const carol = await newUser(server.url, 'carol');
  const first = presenceCap();
  const second = presenceCap();
  const a = await login(server, alice.token);
  await showPresence(a, first.capHash);
  const b = await login(server, bob.token);
  const c = await login(server, carol.token);
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap: first.cap }] });
  c.send({ type: 'subscribe', users: [{ user: alice.username, cap: second.cap }] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
  assert.equal((await c.next(presenceOf(alice.username))).state, 'offline');
  await showPresence(a, second.capHash);
  // Bob's capability is the old one (Alice blocked or removed him): she is away to him.
  assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
  assert.equal((await c.next(presenceOf(alice.username))).state, 'online');
  // Nothing more reaches Bob: not her going away, nor coming back, nor hiding her presence.
  a.close();
  assert.equal((await c.next(presenceOf(alice.username))).state, 'offline');
  const a2 = await login(server, alice.token);
  assert.equal((await c.next(presenceOf(alice.username))).state, 'online');
  await showPresence(a2, second.capHash, false);
  assert.equal((await c.next(presenceOf(alice.username))).state, 'unknown');
  await showPresence(a2, second.capHash, true);
  assert.equal((await c.next(presenceOf(alice.username))).state, 'online');
  await sleep(300);
  assert.equal(b.messages.filter(presenceOf(alice.username)).length, 0, 'Bob was told nothing of the changes');
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap: first.cap }] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
  // No capability at all: nobody sees her; holders of one see her away.
  a2.send({ type: 'presence-settings', capHash: null, visible: true, id: 'none' });
  assert.equal((await a2.next((x) => x.ref === 'none')).type, 'presence-saved');
  assert.equal((await c.next(presenceOf(alice.username))).state, 'offline');
  for (const x of [a2, b, c]) x.close();
});

test('presence settings are kept across a server restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-presence-'));
  const s = await startServer({ dataDir });
  try {
    const alice = await newUser(s.url, 'alice');
    const bob = await newUser(s.url, 'bob');
    const { cap, capHash } = presenceCap();
    const a = await login(s, alice.token);
    await showPresence(a, capHash);
    a.close();
    assert.equal((await s.stop()).code, 0);
    const s2 = await startServer({ dataDir });
    try {
      const b = await login(s2, bob.token);
      b.send({ type: 'subscribe', users: [{ user: alice.username, cap }] });
      assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
      const a2 = await login(s2, alice.token);
      assert.equal((await b.next(presenceOf(alice.username))).state, 'online');
      a2.close();
      b.close();
    } finally {
      await s2.stop();
    }
  } finally {
    await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('identity-changed still reaches every watcher; bad presence-settings are refused', async () => {
  const alice = await newUser(server.url, 'alice');
  const a = await login(server, alice.token);
  const { capHash } = presenceCap();
  const bad = [
    { capHash },
    { visible: true },
    { capHash: 5, visible: true },
    { capHash: capHash.slice(1), visible: true },
    { capHash: `${capHash}A`, visible: true },
    { capHash: Buffer.from(capHash, 'base64url').toString('base64'), visible: true },
    { capHash, visible: 'yes' },
    { capHash, visible: 1 },
  ];
  for (const [i, body] of bad.entries()) {
    a.send({ type: 'presence-settings', ...body, id: i });
    const m = await a.next((x) => x.ref === i);
    assert.equal(m.code, 'invalid_message', JSON.stringify(body));
  }
  // None of them changed anything: still shown to nobody.
  const bob = await newUser(server.url, 'bob');
  const b = await login(server, bob.token);
  b.send({ type: 'subscribe', users: [{ user: alice.username, cap: presenceCap().cap }, alice.username] });
  assert.equal((await b.next(presenceOf(alice.username))).state, 'offline');
  assert.equal((await b.next(presenceOf(alice.username))).state, 'unknown');
  b.send({ type: 'presence-saved' });
  await b.next(errorOf('invalid_type'));
  a.close();
  b.close();
});
