// Chats set up by invitation codes, with no server at all (docs/PROTOCOL.md 17): the bundle
// (scripts/bundle.mjs) with config.json {"server": false}, served by python3 -m http.server; two
// browsers make local profiles (no account), one creates an invite, the other pastes it and sends
// back the reply, the first connects; messages go both ways over the data channel and the safety
// numbers match. An expired invite, a reused one and codes with one character changed are refused
// with their plain messages. No request reaches any API, and no WebSocket is opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, send, transcript, waitForMessage } from '../lib/people.mjs';
import {
  PASS, codeChatOpen, connectByCodes, createInvite, localPerson, pasteInvite, pcReport,
} from '../lib/local.mjs';

const errorText = (p) => p.page.getByRole('dialog').getByRole('alert');

async function closeDialog(p) {
  await p.page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
}

async function safety(p) {
  await p.page.getByRole('button', { name: 'Verify' }).click();
  const digits = await p.page.getByLabel('Safety number').textContent();
  await p.page.getByRole('button', { name: 'Close', exact: true }).click();
  return digits.replace(/\s+/g, '');
}

/** One character of the code changed (at `at`, to another base64url character). */
function changed(code, at) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const c = code[at];
  const next = alphabet[(alphabet.indexOf(c) + 17) % 64];
  return code.slice(0, at) + next + code.slice(at + 1);
}

test('two local profiles set up a chat by codes, with no server: messages both ways, same safety number', async (t) => {
  const a = await localPerson(t, 'inviter');
  const b = await localPerson(t, 'invitee');

  const invite = await createInvite(a);
  assert.ok(invite.length <= 1000, `invite of ${invite.length} characters`);
  assert.equal(await a.page.getByRole('img', { name: 'The invite code as a QR code' }).count(), 1);

  // A damaged invite: one character changed (in the keys, in the ICE fields, in the signature).
  await b.page.getByRole('button', { name: 'Paste invite' }).click();
  for (const at of [10, Math.floor(invite.length / 2), invite.length - 5]) {
    await b.page.getByRole('textbox', { name: 'Invite code' }).fill(changed(invite, at));
    await b.page.getByRole('button', { name: 'Make reply' }).click();
    await assertAlert(b, 'This code is damaged or incomplete');
  }
  // Cut short.
  await b.page.getByRole('textbox', { name: 'Invite code' }).fill(invite.slice(0, -20));
  await b.page.getByRole('button', { name: 'Make reply' }).click();
  await assertAlert(b, 'This code is damaged or incomplete');
  await closeDialog(b);

  await pasteInvite(b, invite);
  await b.page.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0, null, { timeout: WAIT });
  const reply = await b.page.getByRole('textbox', { name: 'Reply code' }).inputValue();
  assert.ok(reply.length <= 1000, `reply of ${reply.length} characters`);

  // A damaged reply is refused, and the invite stays open for the right one.
  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(changed(reply, Math.floor(reply.length / 3)));
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();
  await assertAlert(a, 'This code is damaged or incomplete');

  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(reply);
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();

  // Both dialogs close on the open chat.
  await codeChatOpen(a, b);
  // The inviter is the DTLS client (the reply's answer is passive, docs/PROTOCOL.md 17.4).
  const roles = await Promise.all([a, b].map((p) => p.page.evaluate(async () => {
    const pc = globalThis.parleyPcs.find((x) => x.pc.connectionState === 'connected')?.pc;
    let role = pc ? null : 'no connected RTCPeerConnection';
    (await pc?.getStats())?.forEach((s) => { if (s.type === 'transport') role = s.dtlsRole; });
    return role;
  })));
  assert.deepEqual(roles, ['client', 'server']);

  await send(a, 'hello over a code chat');
  await waitForMessage(b.page, 'hello over a code chat');
  await send(b, 'and back again');
  await waitForMessage(a.page, 'and back again');
  await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')]
    .every((d) => d.dataset.state === 'delivered'), null, { timeout: WAIT });
  assert.deepEqual((await transcript(b.page)).map((m) => m.text), ['hello over a code chat', 'and back again']);

  const sa = await safety(a);
  const sb = await safety(b);
  assert.match(sa, /^\d{60}$/);
  assert.equal(sa, sb);

  // The same invite again: refused on the side that answered it...
  await pasteInvite(b, invite);
  await assertAlert(b, 'This invite was already used');
  await closeDialog(b);
  // ... and the same reply again on the inviter's side.
  await createInvite(a);
  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(reply);
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();
  await assertAlert(a, 'This invite was already used');
  await closeDialog(a);

  // The profile opens again after a reload, with its passphrase only, and the chat is kept; the
  // chat says how to reach a code contact again.
  await b.page.reload();
  await b.page.getByRole('button', { name: 'Use without an account' }).click();
  await b.page.getByRole('button', { name: 'Open profile' }).waitFor({ timeout: WAIT });
  assert.equal(await b.page.getByLabel('Confirm passphrase').isVisible(), false);
  await b.page.getByLabel('Passphrase', { exact: true }).fill('not the passphrase');
  await b.page.getByRole('button', { name: 'Open profile' }).click();
  await b.page.getByRole('alert').filter({ hasText: 'This passphrase does not open the local profile' }).waitFor({ timeout: 60000 });
  await b.page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await b.page.getByRole('button', { name: 'Open profile' }).click();
  const contact = b.page.getByRole('list', { name: 'Conversations' }).getByRole('button').first();
  await contact.waitFor({ timeout: 60000 });
  await contact.click();
  await waitForMessage(b.page, 'and back again');
  await b.page.getByText('to chat again, send a new invite').waitFor({ timeout: WAIT });
  assert.equal(await safety(b), sa);

  // Nothing went to any server: no API request, no WebSocket.
  for (const p of [a, b]) {
    assert.deepEqual(p.requests.filter((r) => r.url.includes('/api/') || r.url.startsWith('ws')), []);
    assert.deepEqual(p.frames, []);
    assert.deepEqual(p.problems, []);
  }
});

test('a new invite reconnects the same contact; what was written meanwhile arrives once', async (t) => {
  const a = await localPerson(t, 'again-inviter');
  const b = await localPerson(t, 'again-invitee');
  const connectOnce = () => connectByCodes(a, b);
  await connectOnce();
  await send(a, 'first');
  await waitForMessage(b.page, 'first');
  // B's page goes away: the link closes, and A's chat says how to reach B again.
  await b.page.reload();
  await a.page.getByText('to chat again, send a new invite').waitFor({ timeout: 40000 });
  await send(a, 'written while apart');
  await b.page.getByRole('button', { name: 'Use without an account' }).click();
  await b.page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await b.page.getByRole('button', { name: 'Open profile' }).click();
  await b.page.getByRole('button', { name: 'Create invite' }).waitFor({ timeout: 60000 });
  await connectOnce();
  await waitForMessage(b.page, 'written while apart');
  await send(b, 'got it');
  await waitForMessage(a.page, 'got it');
  // One contact on each side, and each message once.
  for (const p of [a, b]) {
    assert.equal(await p.page.getByRole('list', { name: 'Conversations' }).getByRole('listitem').count(), 1);
    assert.deepEqual((await transcript(p.page)).map((m) => m.text), ['first', 'written while apart', 'got it']);
  }
});

test('an invite older than 10 minutes is refused', async (t) => {
  const a = await localPerson(t, 'old-inviter');
  const b = await localPerson(t, 'late-invitee');
  const invite = await createInvite(a);
  await closeDialog(a);
  // Eleven minutes later on the invitee's clock.
  await b.page.clock.setFixedTime(Date.now() + 11 * 60 * 1000);
  await pasteInvite(b, invite);
  await assertAlert(b, 'This invite has expired');
  assert.equal(await b.page.getByRole('textbox', { name: 'Reply code' }).count(), 0);
});

// The check of the peer's certificate fails closed: a browser that reports no remote certificate
// (here getStats with its certificate entries taken out, on the inviter's page) closes the link.
test('a connection whose certificate the browser does not report is closed', async (t) => {
  const a = await localPerson(t, 'unsure-inviter');
  const b = await localPerson(t, 'unsure-invitee');
  await a.page.evaluate(() => {
    const real = RTCPeerConnection.prototype.getStats;
    RTCPeerConnection.prototype.getStats = async function getStats(...args) {
      const all = await real.apply(this, args);
      const kept = new Map();
      all.forEach((v, k) => { if (v.type !== 'certificate') kept.set(k, v); });
      return kept;
    };
  });
  const invite = await createInvite(a);
  await pasteInvite(b, invite);
  await b.page.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0, null, { timeout: WAIT });
  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(await b.page.getByRole('textbox', { name: 'Reply code' }).inputValue());
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();
  for (const p of [a, b]) {
    await p.page.getByText('to chat again, send a new invite').waitFor({ timeout: 60000 }).catch(async (e) => {
      // Where the connection stopped: each page's connections, their states and candidate pairs.
      const pcs = await Promise.all([a, b].map((x) => pcReport(x).catch(String)));
      throw new Error(`${p.name} never said the link closed: ${JSON.stringify(pcs)}`, { cause: e });
    });
  }
});

async function assertAlert(p, text) {
  const alert = errorText(p);
  await alert.filter({ hasText: text }).waitFor({ state: 'visible', timeout: WAIT });
}
