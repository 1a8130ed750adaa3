// Concurrency under churn: many clients connecting, replacing each other, subscribing, relaying
// and closing at the same time (the sanitizer build catches races that corrupt memory). The
// server must stay up, answer, and log no sanitizer report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';
import { connect, login, presenceCap, showPresence } from '../lib/ws.mjs';

test('connect/replace/subscribe/relay/close churn keeps the server healthy', async () => {
  // Hundreds of reconnects a second from one address (all of it is 127.0.0.1): more than one
  // address may make by default (20 a second after a burst); a larger --max-per-address allows
  // a quarter of it a second.
  const s = await startServer({ args: ['--max-per-address', '2000'] });
  try {
    const users = [];
    for (let i = 0; i < 12; i++) users.push(await newUser(s.url, 'churn'));
    const names = users.map((u) => u.username);
    // Everyone is everyone's contact (else only chat requests are relayed): each shows a
    // presence capability once (it is kept), and every connection subscribes with them.
    const caps = [];
    for (const u of users) {
      const c = await login(s, u.token);
      caps.push(presenceCap());
      await showPresence(c, caps.at(-1).capHash);
      c.close();
      await c.closed();
    }
    const subscriptions = names.map((user, i) => ({ user, cap: caps[i].cap }));
    let delivered = 0;
    let notes = 0;
    const refusals = [];
    const worker = async (u, k) => {
      for (let round = 0; round < 6; round++) {
        const c = await login(s, u.token);
        c.ws.on('message', (data) => {
          delivered += 1;
          const m = JSON.parse(data.toString());
          if (m.type === 'note') notes += 1;
          if (m.code === 'not_accepted') refusals.push(m);
        });
        c.send({ type: 'subscribe', users: subscriptions });
        for (let j = 0; j < 20; j++) {
          c.send({ type: 'note', to: names[(k + j) % names.length], j });
        }
        // A second connection of the same user half of the time (replaces this one).
        if (round % 2 === 0) {
          const twin = await login(s, u.token);
          twin.send({ type: 'note', to: names[(k + 1) % names.length] });
          await new Promise((r) => setTimeout(r, 20));
          twin.close();
        }
        await new Promise((r) => setTimeout(r, 10 + ((k * 7 + round) % 30)));
        c.close();
        // Some connections never authenticate and go away early.
        if (round % 3 === 1) {
          const anon = await connect(s);
          anon.ws.terminate();
        }
      }
    };
    await Promise.all(users.map((u, k) => worker(u, k)));
    assert.ok(delivered > 100, `delivered ${delivered}`);
    assert.ok(notes > 200, `relayed ${notes} notes`);
    assert.deepEqual(refusals, [], 'contacts are never refused');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const last = await login(s, users[0].token);
    last.send({ type: 'ping' });
    await last.next((m) => m.type === 'pong');
    last.close();
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0, 'clean exit (no sanitizer report)');
    assert.doesNotMatch(s.logs(), /AddressSanitizer|UndefinedBehaviorSanitizer|runtime error/);
  }
});
