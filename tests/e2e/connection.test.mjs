// The signaling connection's own health: the page's ping finds a connection that no longer
// answers and replaces it; a connection replaced by another connection of this device (4409) stays down until the
// person asks, even when the browser reports the network back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { login as wsLogin } from '../lib/ws.mjs';
import { WAIT, leave, person, signUp, until } from '../lib/people.mjs';

const server = serverForTests();

const connectionState = (page) => page.locator('#connection').getAttribute('data-state');

test('a signaling connection that stops answering the page\'s pings is replaced by a new one', async () => {
  // Alice's WebSocket goes through a route in the test that, once `mute` is set, passes nothing
  // of her first connection on in either direction, as a network that silently lost the
  // connection would.
  let mute = false;
  let pings = 0;
  let sockets = 0;
  const a = await person(server, uniqueName('alice'));
  try {
    await a.page.routeWebSocket(/\/ws$/, (ws) => {
      sockets += 1;
      const first = sockets === 1; // only the first connection goes silent
      const upstream = ws.connectToServer();
      ws.onMessage((m) => {
        if (first && typeof m === 'string' && JSON.parse(m).type === 'ping') pings += 1;
        if (!(first && mute)) upstream.send(m);
      });
      upstream.onMessage((m) => {
        if (!(first && mute)) ws.send(m);
      });
    });
    await signUp(a);
    assert.equal(sockets, 1);
    mute = true;
    // The page pings every 25 s and gives an answer 5 s: within about 30 s it has connected again.
    const deadline = Date.now() + 45000;
    while (sockets < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.equal(sockets, 2, 'a new connection was opened after the unanswered ping');
    assert.ok(pings >= 1, 'the page pinged');
    await a.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
    assert.deepEqual(a.problems, []);
  } finally {
    await leave(a);
  }
});

test('a connection replaced by another connection of this device stays offline, even on an online event, until Reconnect here', async () => {
  const a = await person(server, uniqueName('alice'));
  let other = null;
  try {
    await signUp(a);
    let sockets = 0;
    a.page.on('websocket', () => { sockets += 1; });
    // Another connection with this device's token (a copied profile, a tab that bypassed the lock).
    const auth = a.frames.find((f) => f.dir === 'sent' && f.payload.startsWith('{"type":"auth"'));
    other = await wsLogin(server, JSON.parse(auth.payload).token);
    const banner = a.page.getByRole('alert').filter({ hasText: 'opened for your account somewhere else' });
    await banner.waitFor({ timeout: WAIT });
    assert.equal(await connectionState(a.page), 'offline');
    // The browser saying the network is back does not take the connection back.
    await a.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await a.page.waitForTimeout(1500);
    assert.equal(sockets, 0, 'no new connection on its own');
    assert.equal(await connectionState(a.page), 'offline');
    // The person does, and the other connection is the one replaced now.
    await banner.getByRole('button', { name: 'Reconnect here' }).click();
    await a.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
    assert.equal(sockets, 1);
    assert.equal((await other.closed()).code, 4409);
    assert.equal(await banner.isVisible(), false, 'the banner is gone once reconnected');
  } finally {
    other?.close();
    await leave(a);
  }
});

test('a token refresh that meets a network error is tried again 30 s later, and the session goes on', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    // The page's clock is driven by the test; the server still checks tokens on its own clock.
    await a.page.clock.install();
    await a.page.reload();
    // The sign-up answer says the token ends in 11 minutes, so the page refreshes it after one.
    await a.page.route('**/api/signup', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      body.expiresAt = Math.floor(Date.now() / 1000) + 11 * 60;
      await route.fulfill({ response: res, json: body });
    });
    let refreshes = 0;
    const statuses = [];
    a.page.on('response', (r) => {
      if (r.url().endsWith('/api/token/refresh')) statuses.push(r.status());
    });
    await a.page.route('**/api/token/refresh', async (route) => {
      refreshes += 1;
      if (refreshes === 1) await route.abort('internetdisconnected');
      else await route.continue();
    });
    await signUp(a);
    await a.page.clock.fastForward(61_000);
    await until(() => refreshes === 1, { message: 'the first refresh' });
    await a.page.waitForTimeout(500);
    assert.equal(await a.page.locator('#app-screen').isVisible(), true, 'still in the app after the failed refresh');
    await a.page.clock.fastForward(31_000);
    await until(() => refreshes === 2, { message: 'the refresh tried again' });
    await until(() => statuses.includes(200), { message: 'the second refresh answered' });
    await a.page.waitForTimeout(500);
    assert.equal(await a.page.locator('#app-screen').isVisible(), true, 'still in the app');
    assert.equal(await a.page.getByRole('alert').filter({ hasText: 'session has expired' }).count(), 0, 'no expiry banner');
  } finally {
    await leave(a);
  }
});
