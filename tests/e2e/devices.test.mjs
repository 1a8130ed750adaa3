// This browser as one of the account's devices (docs/PROTOCOL.md 14.4): a device id kept with the
// vault and named at every log-in, a device list signed by the identity key in the directory, and a
// browser removed from the account (here by starting over on another browser) that says so in plain
// words, cannot send, and is refused at its next log-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCore } from '../lib/core.mjs';
import { serverForTests } from '../lib/server.mjs';
import { newUser, uniqueName } from '../lib/api.mjs';
import { WAIT, leave, logIn, person, signUp } from '../lib/people.mjs';
import { startOver } from '../lib/linking.mjs';

const server = serverForTests();

const loginDevice = (p) => p.requests.filter((r) => /\/api\/(login|signup)$/.test(r.url)).map((r) => JSON.parse(r.body).device);

async function directoryList(name, token) {
  const res = await fetch(`${server.url}/api/keys/${name}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return res.json();
}

test('sign-up names a device of its own, the directory lists it under a list signed by the identity, and log-ins keep naming it', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    await signUp(a);
    const [device] = loginDevice(a);
    assert.ok(Number.isSafeInteger(device) && device >= 1 && device <= 0x7fffffff, `device ${device}`);
    // The list reaches the directory after the connection is ready.
    const viewer = await newUser(server.url, 'viewer');
    let bundle = null;
    const end = Date.now() + WAIT;
    while (Date.now() < end) {
      bundle = await directoryList(a.name, viewer.token);
      if (bundle.devices) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(bundle.devices, 'a signed list is in the directory');
    const core = await nodeCore();
    const opened = core.openDevices(Buffer.from(bundle.identityKey, 'base64url'), Buffer.from(bundle.devices, 'base64url'));
    assert.equal(opened.generation, 1);
    assert.deepEqual(opened.devices.map((d) => d.id), [device]);
    assert.ok(new TextDecoder().decode(opened.devices[0].label).length > 0, 'a label people recognise');
    assert.deepEqual(bundle.bundles.map((x) => x.device), [device]);
    // A reload and a log-in name the same device.
    await a.page.reload();
    await logIn(a);
    assert.deepEqual(loginDevice(a), [device, device]);
    assert.deepEqual(a.problems, []);
  } finally {
    await leave(a);
  }
});

test('a browser removed from the account (its owner started over elsewhere) is told in plain words, and its next log-in is refused', async () => {
  const name = uniqueName('alice');
  const first = await person(server, name);
  const second = await person(server, name);
  try {
    await signUp(first);
    // The same person logs in on another browser that holds nothing: it starts over there, which
    // removes every other device of the account.
    await startOver(second);
    await second.page.getByText('This browser had no keys for your account').waitFor({ timeout: WAIT });
    const told = 'This browser was removed from your account on another of your devices, so it can no longer send or receive your messages.';
    await first.page.getByText(told).waitFor({ timeout: WAIT });
    assert.equal(await first.page.locator('#app-screen').isVisible(), false, 'no Send offered: back at log-in');
    await logIn(first, { expectApp: false });
    await first.page.getByRole('alert').filter({ hasText: told }).waitFor({ timeout: WAIT });
    assert.equal(await first.page.locator('#app-screen').isVisible(), false);
    assert.notDeepEqual(loginDevice(first)[0], loginDevice(second)[0]);
  } finally {
    await leave(first);
    await leave(second);
  }
});
