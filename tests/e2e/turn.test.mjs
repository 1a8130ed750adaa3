// Chats across networks that cannot reach each other, through a real coturn (issue 20): two
// browsers in two network namespaces (this machine does not forward between them), each able to
// reach the server and the relay, which listens on an address of this machine's own. The server
// hands each logged-in page a short-lived credential (--turn, --turn-secret-file); the link runs
// over the relay; "Hide my IP address" sends relay candidates only; credentials coturn refuses
// (expired, or made with another secret) leave the chat to the mailbox without hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { isolatedNetwork, personIn } from '../lib/netns.mjs';
import { allocate, credentialFor, startCoturn } from '../lib/turn.mjs';
import {
  WAIT, accept, connectPair, leave, send, signUp, startChat, waitAllDelivered, waitForMessage,
} from '../lib/people.mjs';

const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// The relay's address: one more address of this machine's loopback interface, reachable from
// both namespaces through their default routes (a local address needs no forwarding).
const RELAY_IP = `10.215.${process.pid % 250}.1`;
ip('addr', 'add', `${RELAY_IP}/32`, 'dev', 'lo');
const coturn = await startCoturn({ listen: [RELAY_IP] });
const turnArgs = (secretFile) => ['--turn', coturn.urls()[0], '--turn', coturn.urls()[1], '--turn-secret-file', secretFile];

test.after(async () => {
  await coturn.stop();
  try {
    ip('addr', 'del', `${RELAY_IP}/32`, 'dev', 'lo');
  } catch {
    // gone already
  }
});

/** Two people in two namespaces that cannot reach each other, on server s. */
async function apart(s, hooks = true) {
  const netA = await isolatedNetwork(s.port);
  const netB = await isolatedNetwork(s.port);
  const a = await personIn(netA, s, uniqueName('alice'));
  const b = await personIn(netB, s, uniqueName('bob'));
  for (const p of [a, b]) {
    if (hooks) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  }
  // Nothing goes from one namespace to the other.
  assert.throws(() => execFileSync('ip', ['netns', 'exec', netA.ns, 'ping', '-c', '1', '-W', '1', netB.address], { stdio: 'ignore' }));
  return {
    a, b,
    async done() {
      await leave(a);
      await leave(b);
      netA.cleanup();
      netB.cleanup();
    },
  };
}

const candidates = (p) => p.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"candidate":{"candidate":"candidate:'))
  .map((f) => JSON.parse(f.payload).candidate.candidate);

test('two networks that cannot reach each other: the chat connects through the relay, and getStats shows a relay candidate', async () => {
  const s = await startServer({ args: turnArgs(coturn.secretFile) });
  const { a, b, done } = await apart(s);
  try {
    await signUp(a);
    await signUp(b);
    await connectPair(a, b);
    await send(a, 'through the relay');
    await waitForMessage(b.page, 'through the relay');
    await send(b, 'and back');
    await waitForMessage(a.page, 'and back');
    await waitAllDelivered(a.page);
    for (const [p, other] of [[a, b], [b, a]]) {
      assert.equal(await p.page.evaluate((n) => globalThis.parleyTestHooks.relayed(n), other.name), true, `${p.name}'s link runs over the relay`);
    }
    assert.ok(candidates(a).some((c) => / typ relay /.test(c)), 'a relay candidate was signaled');
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
  } finally {
    await done();
    await s.stop();
  }
});

test('"Hide my IP address": only relay candidates leave the page, and the chat still connects', async () => {
  const s = await startServer({ args: turnArgs(coturn.secretFile) });
  const { a, b, done } = await apart(s);
  try {
    await signUp(a);
    await signUp(b);
    const hide = a.page.getByRole('switch', { name: 'Hide my IP address' });
    await hide.check();
    await a.page.waitForFunction(() => document.getElementById('hide-ip').checked && !document.getElementById('hide-ip').disabled);
    await connectPair(a, b);
    await send(a, 'my address stays here');
    await waitForMessage(b.page, 'my address stays here');
    const sent = candidates(a);
    assert.ok(sent.length > 0, 'candidates were signaled');
    assert.deepEqual(sent.filter((c) => !/ typ relay /.test(c)), [], 'relay candidates only');
    // Kept across a reload.
    await a.page.reload();
    await a.page.getByLabel('Username').fill(a.name);
    await a.page.getByLabel('Password').fill(a.password);
    await a.page.getByRole('button', { name: 'Log in' }).click();
    await a.page.locator('#app-screen').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await a.page.getByRole('switch', { name: 'Hide my IP address' }).isChecked(), true);
    assert.deepEqual(a.problems, []);
  } finally {
    await done();
    await s.stop();
  }
});

test('coturn refuses an expired credential and one made with another secret; a page holding such a one falls back to the mailbox', async () => {
  // Straight to coturn: the server's credential is taken, the others are not.
  const now = Math.floor(Date.now() / 1000);
  const fresh = `${now + 600}:AAAAAAAAAAAAAAAAAAAAAA`;
  const expired = `${now - 5}:AAAAAAAAAAAAAAAAAAAAAA`;
  assert.equal(await allocate(RELAY_IP, coturn.port, fresh, credentialFor(coturn.secret, fresh)), 'allocated');
  assert.equal(await allocate(RELAY_IP, coturn.port, expired, credentialFor(coturn.secret, expired)), 401);
  assert.equal(await allocate(RELAY_IP, coturn.port, fresh, credentialFor('not the secret', fresh)), 401);

  // A server whose secret is not coturn's: its pages' credentials are refused, the link cannot
  // connect (the two networks have no other path), and messages go by mail, delivered.
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const wrong = join(mkdtempSync(join(tmpdir(), 'parley-wrong-')), 'secret');
  writeFileSync(wrong, 'a-secret-coturn-does-not-know\n');
  const s = await startServer({ args: turnArgs(wrong) });
  const { a, b, done } = await apart(s, false);
  const logged = coturn.logs().length;
  try {
    await signUp(a);
    await signUp(b);
    await startChat(a, b.name);
    await accept(b, a.name);
    await send(a, 'by the mailbox, then');
    await waitForMessage(b.page, 'by the mailbox, then', 40000);
    await waitAllDelivered(a.page, 40000);
    // The link gives up with a clear state instead of hanging on "connecting".
    await a.page.waitForFunction((n) => document.getElementById('chat-status').textContent
      === `cannot connect directly to ${n}; messages go through the server`, b.name, { timeout: 60000 });
    assert.match(coturn.logs().slice(logged), /check_stun_auth|401/, 'coturn refused the pages\' credential');
  } finally {
    await done();
    await s.stop();
  }
});

test('a credential is renewed before it ends, and a link over the relay is made again with the new one', async () => {
  const s = await startServer({ args: [...turnArgs(coturn.secretFile), '--turn-ttl', '60'] });
  const { a, b, done } = await apart(s);
  try {
    await signUp(a);
    await signUp(b);
    await connectPair(a, b);
    const configs = () => a.requests.filter((r) => r.url.endsWith('/api/config')).length;
    const first = configs();
    const offers = () => [a, b].flatMap((p) => p.frames).filter((f) => f.dir === 'sent' && f.payload.startsWith('{"type":"offer"')).length;
    const offersBefore = offers();
    const start = Date.now();
    // Half of a 60 s life: asked for again after about 30 s.
    while (configs() === first && Date.now() - start < 45000) await new Promise((r) => setTimeout(r, 500));
    assert.ok(configs() > first, 'the page asked for a new credential');
    // Past the first credential's end, the chat still runs over the relay.
    await new Promise((r) => setTimeout(r, Math.max(0, start + 65000 - Date.now())));
    await a.page.waitForFunction(() => document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: WAIT });
    await send(a, 'after the first credential ended');
    await waitForMessage(b.page, 'after the first credential ended');
    await waitAllDelivered(a.page);
    assert.equal(await a.page.evaluate((n) => globalThis.parleyTestHooks.relayed(n), b.name), true);
    assert.ok(offers() > offersBefore, 'the relayed link was made again after the renewal');
    assert.deepEqual(a.problems, []);
  } finally {
    await done();
    await s.stop();
  }
});
