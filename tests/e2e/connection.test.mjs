// The signaling connection's own health: the page's ping finds a connection that no longer
// answers and replaces it; a connection replaced by another device (4409) stays down until the
// person asks, even when the browser reports the network back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { WAIT, leave, logIn, person, signUp } from '../lib/people.mjs';

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

test('a connection replaced by another device stays offline, even on an online event, until Reconnect here', async () => {
  const a = await person(server, uniqueName('alice'));
  const other = await person(server, a.name); // the same account in another browser
  try {
    await signUp(a);
    let sockets = 0;
    a.page.on('websocket', () => { sockets += 1; });
    await logIn(other);
    const banner = a.page.getByRole('alert').filter({ hasText: 'opened for your account somewhere else' });
    await banner.waitFor({ timeout: WAIT });
    assert.equal(await connectionState(a.page), 'offline');
    // The browser saying the network is back does not take the connection back.
    await a.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await a.page.waitForTimeout(1500);
    assert.equal(sockets, 0, 'no new connection on its own');
    assert.equal(await connectionState(a.page), 'offline');
    // The person does.
    await banner.getByRole('button', { name: 'Reconnect here' }).click();
    await a.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
    assert.equal(sockets, 1);
    await other.page.getByRole('alert').filter({ hasText: 'opened for your account somewhere else' }).waitFor({ timeout: WAIT });
    assert.equal(await banner.isVisible(), false, 'the banner is gone once reconnected');
  } finally {
    await Promise.all([leave(a), leave(other)]);
  }
});
