// Two parley-server instances behind a load balancer (a small TCP proxy here), on one PostgreSQL
// and one Redis (the instance bus, docs/SCALING.md): alice's page reaches instance A, bob's
// instance B. Their chat starts and connects across the instances; then, while alice mails bob
// (he has left), A is killed (-9) and the proxy sends alice on to B, as a load balancer whose
// health check failed does: her page reconnects by itself and carries on, and every message she
// wrote reaches bob when he comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { freePort, startPostgres } from '../lib/pg.mjs';
import { startRedis } from '../lib/redis.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, leave, logIn, openChat, person, send, signUp, startChat, texts, transcript,
  until, waitConnected, waitForCount, waitForMessage,
} from '../lib/people.mjs';

let pg;
let redis;
const dirs = [];
const proxies = [];

before(async () => {
  pg = await startPostgres();
  redis = await startRedis();
});

after(() => {
  for (const p of proxies) p.close();
  if (redis) redis.close();
  if (pg) pg.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A TCP proxy on port to target.port (changeable): what a load balancer does for one address. */
function proxy(port, target) {
  const sockets = new Set();
  const srv = net.createServer((client) => {
    const up = net.connect(target.port, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    const end = () => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up); };
    client.on('error', end);
    up.on('error', end);
    client.on('close', end);
    up.on('close', end);
    client.pipe(up);
    up.pipe(client);
  });
  const ready = new Promise((res) => srv.listen(port, '127.0.0.1', res));
  const p = { url: `http://127.0.0.1:${port}`, target, ready, close() { for (const s of sockets) s.destroy(); srv.close(); } };
  proxies.push(p);
  return p;
}

test('a chat across two instances; the instance of one side killed while she mails: her page reconnects through the proxy to the other instance and nothing she stored is lost', { timeout: 300000 }, async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const origins = ['--origin', `http://127.0.0.1:${portA}`, '--origin', `http://127.0.0.1:${portB}`];
  const url = pg.database('instances_e2e');
  const dirA = tempDir('parley-inst-a-');
  const dirB = tempDir('parley-inst-b-');
  const args = ['--database', url, '--bus', redis.url, ...origins];
  const a = await startServer({ dataDir: dirA, args });
  copyFileSync(join(dirA, 'jwt.key'), join(dirB, 'jwt.key'));
  const b = await startServer({ dataDir: dirB, args });
  const toAlice = { port: a.port };
  const pa = proxy(portA, toAlice);
  const pb = proxy(portB, { port: b.port });
  await Promise.all([pa.ready, pb.ready]);
  const profileB = tempDir('parley-profile-');
  const aName = uniqueName('alice');
  const bName = uniqueName('bob');
  let alice = await person(pa, aName);
  let bob = await person(pb, bName, { profileDir: profileB });
  let aliveA = true;
  try {
    await signUp(alice);
    await signUp(bob);
    // The request, the answer and the direct link's set-up all cross the bus.
    await startChat(alice, bName);
    await accept(bob, aName);
    await Promise.all([waitConnected(alice.page), waitConnected(bob.page)]);
    await send(alice, 'hello across instances');
    await waitForMessage(bob.page, 'hello across instances');
    await send(bob, 'hi from instance B');
    await waitForMessage(alice.page, 'hi from instance B');
    await leave(bob);

    // Bob is away: alice's messages are mailed through A. A dies after the first few are stored.
    const before = ['one', 'two', 'three'];
    for (const t of before) await send(alice, t);
    await until(() => alice.page.evaluate((n) => [...document.querySelectorAll('#transcript li.mine .delivery')]
      .filter((d) => d.dataset.state === 'sent').length >= n, before.length), { timeout: 60000, message: 'the first envelopes stored' });
    let reconnects = 0;
    alice.page.on('websocket', () => { reconnects += 1; });
    aliveA = false;
    a.proc.kill('SIGKILL');
    await a.exited;
    toAlice.port = b.port; // the load balancer's health check takes A out
    const after = ['four, after A died', 'five', 'six'];
    for (const t of after) await send(alice, t);
    await until(() => reconnects >= 1, { timeout: 60000, message: "alice's page to open a new connection" });
    await alice.page.locator('#connection[data-state="online"]').waitFor({ timeout: 60000 });
    await alice.page.waitForFunction(() => [...document.querySelectorAll('#transcript li.mine .delivery')]
      .every((d) => d.dataset.state === 'sent' || d.dataset.state === 'delivered'), null, { timeout: 60000 });

    // Bob comes back (to B): everything alice wrote is there, once, in order.
    bob = await person(pb, bName, { profileDir: profileB });
    await logIn(bob);
    await openChat(bob, aName);
    const all = ['hello across instances', 'hi from instance B', ...before, ...after];
    await waitForCount(bob.page, all.length, 60000);
    assert.deepEqual(texts(await transcript(bob.page)).map((m) => m.text), all);
    assert.deepEqual(bob.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(alice), leave(bob)]);
    if (aliveA) await a.stop();
    const { code } = await b.stop();
    assert.equal(code, 0, b.logs().slice(-2000));
  }
});
