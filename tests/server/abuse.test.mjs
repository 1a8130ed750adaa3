// The server under attack (docs/API.md "Limits against abuse"): what one address may hold (WebSocket
// slots, unauthenticated connections, HTTP workers), one deadline for a whole HTTP request, the
// message rate of an account across its connections, what strangers may send someone, and
// pings counted like messages. Each test fails without its protection. Clients on other
// loopback addresses (127.0.0.2 and up) stand for other machines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { dbQuery, startServer } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';
import { connect, login, makeContacts, presenceCap, showPresence } from '../lib/ws.mjs';
import { benchUsers } from '../../bench/server/lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens a WebSocket from localAddress: the client, or the HTTP status it was refused with. */
async function tryConnect(srv, localAddress) {
  try {
    return { client: await connect(srv, { localAddress }) };
  } catch (e) {
    return { status: e.status, body: e.body };
  }
}

async function stopClean(s) {
  const { code, signal } = await s.stop();
  assert.equal(code, 0, `parley-server exited with ${code ?? signal}:\n${s.logs().slice(-3000)}`);
  assert.doesNotMatch(s.logs(), /Sanitizer|runtime error:/);
}

/**
 * A raw HTTP exchange from localAddress: writes head, then each of `drip` (one every dripMs),
 * and collects the answer. Resolves { status, text, closedAfterMs } once the server closes.
 */
function slowRequest(srv, { localAddress = '127.0.0.1', head, drip = [], dripMs = 500, timeout = 20000 }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = net.connect({ port: srv.port, host: '127.0.0.1', localAddress });
    let text = '';
    let timer = null;
    const fail = setTimeout(() => { sock.destroy(); reject(new Error(`still open after ${timeout} ms`)); }, timeout);
    sock.on('data', (d) => { text += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(fail);
      clearInterval(timer);
      const m = text.match(/^HTTP\/1\.1 (\d{3})/);
      resolve({ status: m ? Number(m[1]) : 0, text, closedAfterMs: Date.now() - started });
    });
    sock.on('connect', () => {
      sock.write(head);
      let i = 0;
      timer = setInterval(() => {
        if (i < drip.length && !sock.destroyed) sock.write(drip[i++]);
      }, dripMs);
    });
  });
}

test('one address cannot take the WebSocket slots: 16 waiting to authenticate at most, --max-per-address in all; users elsewhere still get in', { timeout: 60000 }, async () => {
  const s = await startServer({ args: ['--max-connections', '100', '--max-per-address', '20'] });
  const held = [];
  try {
    // 30 upgrades from one address that never authenticate: 16 are taken, the rest refused at
    // once with 503 too_many_connections (before: every one, up to the server's limit).
    const tries = [];
    for (let i = 0; i < 30; i++) tries.push(await tryConnect(s, '127.0.0.2'));
    const open = tries.filter((t) => t.client);
    held.push(...open.map((t) => t.client));
    assert.equal(open.length, 16);
    for (const t of tries.filter((x) => !x.client)) {
      assert.equal(t.status, 503);
      assert.equal(t.body?.error?.code, 'too_many_connections');
    }
    // The other slots stay for everyone else: 20 users from 127.0.0.1 log in meanwhile.
    const users = await Promise.all(Array.from({ length: 20 }, () => newUser(s.url, 'slot')));
    const clients = [];
    for (const u of users) clients.push(await login(s, u.token));
    held.push(...clients);
    // Authenticated connections of one address count against --max-per-address (20): from
    // 127.0.0.3, 20 users get in and the 21st is refused; from 127.0.0.1 one more still does.
    const more = await Promise.all(Array.from({ length: 21 }, () => newUser(s.url, 'many')));
    let refused = null;
    for (const u of more) {
      try {
        held.push(await login(s, u.token, { localAddress: '127.0.0.3' }));
      } catch (e) {
        refused = e;
        break;
      }
    }
    assert.equal(refused?.status, 503, 'the 21st connection of 127.0.0.3 is refused');
    assert.equal(held.length, 16 + 20 + 20);
    // The unauthenticated ones are closed at the 5 s deadline (4401), and their address may
    // connect again.
    const closed = await held[0].closed(10000);
    assert.equal(closed.code, 4401);
    const again = await tryConnect(s, '127.0.0.2');
    assert.ok(again.client, `127.0.0.2 connects again after the deadline: ${again.status}`);
    held.push(again.client);
  } finally {
    for (const c of held) c.close();
    await stopClean(s);
  }
});

test('reconnecting as fast as it can, one address is slowed to 20 upgrades a second after a burst of 64; others are not', { timeout: 30000 }, async () => {
  const s = await startServer();
  try {
    let opened = 0;
    let refused = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 2000) {
      const t = await tryConnect(s, '127.0.0.4');
      if (t.client) {
        opened++;
        t.client.close();
      } else {
        assert.equal(t.status, 503);
        assert.equal(t.body?.error?.code, 'too_many_connections');
        refused++;
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(refused > 0, 'some upgrades were refused');
    assert.ok(opened <= 64 + 20 * seconds + 5, `${opened} upgrades in ${seconds} s`);
    const other = await tryConnect(s, '127.0.0.5');
    assert.ok(other.client, 'another address still connects');
    other.client.close();
  } finally {
    await stopClean(s);
  }
});

test('a slow request body is cut at one deadline for headers and body (5 s): 408, the worker freed', { timeout: 60000 }, async () => {
  const s = await startServer();
  try {
    // Content-Length 4096 fed a byte every 500 ms: before, each read restarted the 10 s timer
    // and the request would have lasted 35 minutes.
    const head = ['POST /api/signup HTTP/1.1', `Host: 127.0.0.1:${s.port}`, 'Content-Type: application/json',
      'Content-Length: 4096', '', ''].join('\r\n');
    const body = slowRequest(s, { head, drip: Array.from({ length: 4096 }, () => ' '), dripMs: 500 });
    // Slow headers: one line every 500 ms, never ending.
    const headers = slowRequest(s, { head: `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n`,
      drip: Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: x\r\n`), dripMs: 500 });
    const [b, h] = await Promise.all([body, headers]);
    assert.equal(b.status, 408, b.text.slice(0, 200));
    assert.match(b.text, /"code":"request_timeout"/);
    assert.ok(b.closedAfterMs >= 4500 && b.closedAfterMs < 8000, `body cut after ${b.closedAfterMs} ms`);
    assert.ok(h.closedAfterMs >= 4500 && h.closedAfterMs < 8000, `headers cut after ${h.closedAfterMs} ms`);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  } finally {
    await stopClean(s);
  }
});

test('one address holds at most --max-http-per-address connections; the next is answered 503 at once, others are served', { timeout: 60000 }, async () => {
  const s = await startServer({ args: ['--max-http-per-address', '4'] });
  try {
    const head = ['POST /api/signup HTTP/1.1', `Host: 127.0.0.1:${s.port}`, 'Content-Type: application/json',
      'Content-Length: 100', '', ''].join('\r\n');
    const slow = Array.from({ length: 4 }, () => slowRequest(s, { localAddress: '127.0.0.2', head, drip: Array(100).fill(' '), dripMs: 1000 }));
    await sleep(300);
    const fifth = await slowRequest(s, { localAddress: '127.0.0.2', head: `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, timeout: 3000 });
    assert.equal(fifth.status, 503, fifth.text.slice(0, 200));
    assert.match(fifth.text, /"code":"too_many_requests"/);
    assert.ok(fifth.closedAfterMs < 1500, `refused after ${fifth.closedAfterMs} ms`);
    // Another address is served meanwhile.
    const t0 = Date.now();
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    assert.ok(Date.now() - t0 < 1000);
    for (const r of await Promise.all(slow)) assert.equal(r.status, 408);
    // Once they are gone the address is served again.
    const after = await slowRequest(s, { localAddress: '127.0.0.2', head: `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, timeout: 3000 });
    assert.equal(after.status, 200);
  } finally {
    await stopClean(s);
  }
});

/** Sends n offers from a to b at once and counts, after a pause, how many b received. */
async function burst(a, b, n, tag) {
  for (let i = 0; i < n; i++) a.send({ type: 'offer', to: b.user, tag, i });
  await sleep(600);
  return b.messages.filter((m) => m.type === 'offer' && m.tag === tag).length;
}

test('the message rate is the account\'s: reconnecting does not refill it', { timeout: 30000 }, async () => {
  const s = await startServer();
  try {
    const [ua, ub] = [await newUser(s.url, 'rate'), await newUser(s.url, 'rate')];
    const b = await login(s, ub.token);
    let a = await login(s, ua.token);
    await makeContacts(a, b);
    const first = await burst(a, b, 100, 'one');
    assert.ok(first >= 90, `the burst goes through: ${first}`);
    // A new connection of the same account (before: a full bucket of 100 again).
    a.close();
    a = await login(s, ua.token);
    a.send({ type: 'subscribe', users: [{ user: b.user, cap: b.presence.cap }] });
    const second = await burst(a, b, 100, 'two');
    assert.ok(second < 60, `the second burst right after reconnecting is mostly refused: ${second} relayed`);
    const refusals = a.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    assert.equal(refusals.length, 1, 'told once a second, not once a message');
    a.close();
    b.close();
  } finally {
    await stopClean(s);
  }
});

test('strangers may send chat requests only, a bounded number per sender and in all; contacts are known from presence capabilities', { timeout: 60000 }, async () => {
  const s = await startServer();
  try {
    const users = await Promise.all(Array.from({ length: 4 }, () => newUser(s.url, 'strg')));
    const [victim, stranger, friend, asked] = await Promise.all(users.map((u) => login(s, u.token)));
    const vcap = presenceCap();
    await showPresence(victim, vcap.capHash);
    // Not a contact: anything but a chat request is refused, with its ref.
    stranger.send({ type: 'offer', to: victim.user, id: 'o1', sdp: 'x' });
    const no = await stranger.next((m) => m.ref === 'o1');
    assert.equal(no.code, 'not_accepted');
    // Chat requests: 10 from one stranger, then too_many_requests with retryAfter.
    for (let i = 0; i < 12; i++) stranger.send({ type: 'chat-request', to: victim.user, id: `r${i}`, hello: 'h' });
    const over = await stranger.next((m) => m.ref === 'r10');
    assert.equal(over.code, 'too_many_requests');
    assert.ok(over.retryAfter > 0);
    await sleep(300);
    assert.equal(victim.messages.filter((m) => m.from === stranger.user).length, 10);
    // A contact holding the victim's capability: everything is relayed.
    friend.send({ type: 'subscribe', users: [{ user: victim.user, cap: vcap.cap }] });
    await friend.next((m) => m.type === 'presence' && m.user === victim.user);
    for (let i = 0; i < 30; i++) friend.send({ type: 'offer', to: victim.user, i });
    // Someone the victim accepted (the victim presents their capability): relayed too.
    const acap = presenceCap();
    await showPresence(asked, acap.capHash);
    victim.send({ type: 'subscribe', users: [{ user: asked.user, cap: acap.cap }] });
    await victim.next((m) => m.type === 'presence' && m.user === asked.user);
    for (let i = 0; i < 20; i++) asked.send({ type: 'ice', to: victim.user, i });
    await sleep(500);
    assert.equal(victim.messages.filter((m) => m.from === friend.user && m.type === 'offer').length, 30);
    assert.equal(victim.messages.filter((m) => m.from === asked.user && m.type === 'ice').length, 20);
    // A capability the victim has replaced no longer counts.
    await showPresence(victim, presenceCap().capHash);
    friend.send({ type: 'offer', to: victim.user, id: 'late' });
    assert.equal((await friend.next((m) => m.ref === 'late')).code, 'not_accepted');
    for (const c of [victim, stranger, friend, asked]) c.close();

    // In all, one recipient takes 60 chat requests from strangers; mail counts too.
    const many = benchUsers(s.dataDir, 'flood', 8, (q) => dbQuery(s.dataDir, q));
    const target = await newUser(s.url, 'target');
    const floods = await Promise.all(many.map((u) => login(s, u.token)));
    let stored = 0;
    let refused = 0;
    for (const [k, f] of floods.entries()) {
      for (let i = 0; i < 10; i++) {
        const env = Buffer.concat([Buffer.from([1]), crypto.randomBytes(511)]).toString('base64url');
        f.send({ type: 'mail-put', to: target.username, env, id: `m${k}-${i}` });
        const a = await f.next((m) => m.ref === `m${k}-${i}`);
        if (a.type === 'mail-stored') stored++;
        else if (a.code === 'too_many_requests') refused++;
        else assert.fail(JSON.stringify(a));
      }
    }
    assert.equal(stored, 60);
    assert.equal(refused, 20);
    for (const f of floods) f.close();
  } finally {
    await stopClean(s);
  }
});

test('pings count like messages: a flood of them is not answered and closes the connection (1008), before and after authentication', { timeout: 30000 }, async () => {
  const s = await startServer();
  try {
    const u = await newUser(s.url, 'ping');
    for (const authed of [false, true]) {
      const c = authed ? await login(s, u.token) : await connect(s);
      let pongs = 0;
      c.ws.on('pong', () => { pongs++; });
      for (let i = 0; i < 500; i++) c.ws.ping();
      const closed = await c.closed(5000);
      assert.equal(closed.code, 1008, `closed with ${closed.code} ${closed.reason}`);
      assert.ok(pongs <= 21, `${pongs} pongs for 500 pings`);
    }
    // A ping now and then is answered as always.
    const c = await login(s, u.token);
    const pong = new Promise((r) => c.ws.once('pong', r));
    c.ws.ping();
    await pong;
    c.close();
  } finally {
    await stopClean(s);
  }
});
