// A call through a network blip (docs/PROTOCOL.md 12.17): Bob's browser runs in a network
// namespace of its own (tests/lib/netns.mjs; needs root), whose link is taken down in the middle
// of a call until his connection goes "disconnected" and 8 s more, then brought back. The call goes on without
// anyone asking: the ICE restart it triggers completes, the binding is checked again with new
// nonces, and media flow both ways again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { WAIT, connectPair, leave, person, signUp, until } from '../lib/people.mjs';
import { isolatedNetwork, personIn } from '../lib/netns.mjs';

const server = serverForTests();

const hooks = async (p) => {
  await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await p.page.reload();
};

const callState = (p) => p.page.evaluate(async () => {
  const call = globalThis.parleyTestHooks?.calls?.call;
  const pc = call?.negotiator?.pc;
  if (!pc) return null;
  let audio = 0;
  (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += s.packetsReceived || 0; });
  const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.remoteDescription?.sdp || '')?.[1] || null;
  return { ice: pc.iceConnectionState, checks: call.checks, active: call.state === 'active', audio, ufrag };
});

test('a network blip in a call: ICE restarts by itself, the binding is checked again, media flow again', { timeout: 240000 }, async () => {
  const network = await isolatedNetwork(server.port);
  let a;
  let b;
  try {
    a = await person(server, uniqueName('alice'));
    b = await personIn(network, server, uniqueName('bob'));
    await Promise.all([hooks(a), hooks(b)]);
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await a.page.getByRole('button', { name: 'Call', exact: true }).click();
    const incoming = b.page.getByRole('group', { name: `Incoming call from ${a.name}` });
    await incoming.getByRole('button', { name: 'Answer' }).click();
    await until(async () => (await callState(a))?.checks >= 1 && (await callState(b))?.checks >= 1, { message: 'the call up and checked' });
    const before = [await callState(a), await callState(b)];

    network.down();
    try {
      await until(async () => {
        const s = [await callState(a), await callState(b)];
        return s.some((x) => x?.ice === 'disconnected');
      }, { timeout: 30000, interval: 50, message: 'the connection seen disconnected' });
      // Longer than a chat's link waits for a connection to recover by itself (4 s).
      await new Promise((r) => { setTimeout(r, 8000); });
    } finally {
      network.up();
    }

    await until(async () => {
      const s = [await callState(a), await callState(b)];
      return s.every((x, i) => x && x.active && x.ufrag !== before[i].ufrag && x.checks > before[i].checks && x.audio > before[i].audio + 50);
    }, { timeout: 50000, message: 'the call goes on: ICE restarted (new credentials), checked again, audio flowing both ways' });
    for (const p of [a, b]) assert.equal(await p.page.locator('#call-panel').isVisible(), true, `${p.name} is still in the call`);
    await a.page.getByRole('region', { name: 'Call' }).getByRole('button', { name: 'Hang up' }).click();
    await Promise.all([a, b].map((p) => p.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: WAIT })));
  } finally {
    await Promise.all([leave(a), leave(b)]);
    network.cleanup();
  }
});
