// Scanning an invite code with the camera (docs/PROTOCOL.md 17): the invitee's Chromium has a fake
// camera playing a video of the inviter's QR code (drawn by the app's encoder, as web/js/qr.js
// draws it); "Paste invite", "Scan invite": the camera preview shows, the code is read (by
// BarcodeDetector where the browser has one, else by web/js/qr-scan-decoder.js, loaded on demand),
// the reply code appears as after a paste; the inviter scans the reply the same way (Connect
// follows by itself), and messages go both ways. Serverless, as tests/e2e/invite.test.mjs: the
// bundle on python3 -m http.server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAIT, leave, send, waitForMessage } from '../lib/people.mjs';
import { encode, render, writeY4m } from '../lib/qr-image.mjs';
import { cameraPerson, codeChatOpen, makeLocalProfile, serverlessSite } from '../lib/local.mjs';

const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('the invitee scans the invite and the inviter the reply with the camera; the chat opens and messages go both ways', async (t) => {
  const site = await serverlessSite(t);
  const videos = mkdtempSync(join(tmpdir(), 'parley-camera-'));
  cleanups.push(() => rmSync(videos, { recursive: true, force: true }));

  // The inviter's camera plays a file written only once the reply exists (Chromium opens it when
  // the camera starts).
  const replyVideo = join(videos, 'reply.y4m');
  const a = await cameraPerson(site, 'scan-inviter', replyVideo);
  t.after(() => leave(a));
  await makeLocalProfile(a);
  await a.page.getByRole('button', { name: 'Create invite' }).click();
  await a.page.waitForFunction(() => document.getElementById('invite-code').value.length > 0, null, { timeout: WAIT });
  const invite = await a.page.getByRole('textbox', { name: 'Invite code' }).inputValue();
  // The inviter may scan the reply: the button sits beside "Reply code".
  assert.equal(await a.page.getByRole('dialog').getByRole('button', { name: 'Scan reply' }).isVisible(), true);

  // The camera's picture: the invite's QR code on a light 640x480 frame, slightly turned, noisy.
  const sym = encode(invite, 'M');
  const scale = Math.floor(440 / (sym.size + 8));
  const video = join(videos, 'invite.y4m');
  writeY4m(video, render(sym, { scale, width: 640, height: 480, angle: 2, noise: 12 }), 4);

  const b = await cameraPerson(site, 'scan-invitee', video);
  t.after(() => leave(b));
  await makeLocalProfile(b);
  await b.page.getByRole('button', { name: 'Paste invite' }).click();
  const dialog = b.page.getByRole('dialog');
  // "Scan reply" belongs to the inviter's side; the invitee sees "Scan invite".
  assert.equal(await dialog.getByRole('button', { name: 'Scan reply' }).isVisible(), false);
  await dialog.getByRole('button', { name: 'Scan invite' }).click();
  // The preview shows while scanning, then the reply code appears and the camera is off.
  await b.page.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0, null, { timeout: 60000 });
  assert.equal(await b.page.getByRole('textbox', { name: 'Invite code' }).inputValue(), invite);
  assert.equal(await dialog.getByLabel('Camera preview').isVisible(), false);
  assert.equal(await b.page.evaluate(() => document.getElementById('invite-camera').srcObject), null);
  const reply = await b.page.getByRole('textbox', { name: 'Reply code' }).inputValue();

  // The inviter scans the reply: it goes into "Reply code" and connects, as Connect would.
  const replySym = encode(reply, 'M');
  writeY4m(replyVideo, render(replySym, { scale: Math.floor(440 / (replySym.size + 8)), width: 640, height: 480, angle: -3, tilt: 0.04, noise: 12 }), 4);
  await a.page.getByRole('dialog').getByRole('button', { name: 'Scan reply' }).click();
  await codeChatOpen(a, b);
  // What the camera read went into "Reply code" (the dialog has closed on the chat).
  assert.equal(await a.page.evaluate(() => document.getElementById('invite-reply').value), reply);
  await send(a, 'hello, scanned');
  await waitForMessage(b.page, 'hello, scanned');
  await send(b, 'read you through the camera');
  await waitForMessage(a.page, 'read you through the camera');

  // The decoder is a file of its own beside js/app.js (BarcodeDetector is absent from Chromium on
  // Linux); nothing reached any API.
  assert.ok(b.requests.some((r) => r.url.endsWith('/js/qr-scan-decoder.js')));
  for (const p of [a, b]) {
    assert.deepEqual(p.requests.filter((r) => r.url.includes('/api/') || r.url.startsWith('ws')), []);
    assert.deepEqual(p.problems, []);
  }
});

test('"Stop scanning" turns the camera off; the code can still be pasted', async (t) => {
  const site = await serverlessSite(t);
  const videos = mkdtempSync(join(tmpdir(), 'parley-camera-'));
  cleanups.push(() => rmSync(videos, { recursive: true, force: true }));
  // A camera that shows no code: a blank light picture.
  const video = join(videos, 'blank.y4m');
  writeY4m(video, { width: 320, height: 240, data: new Uint8Array(320 * 240).fill(200) }, 2);
  const b = await cameraPerson(site, 'scan-stop', video);
  t.after(() => leave(b));
  await makeLocalProfile(b);
  await b.page.getByRole('button', { name: 'Paste invite' }).click();
  const dialog = b.page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Scan invite' }).click();
  await dialog.getByLabel('Camera preview').waitFor({ state: 'visible', timeout: WAIT });
  await b.page.waitForFunction(() => document.getElementById('invite-camera').srcObject?.active === true, null, { timeout: WAIT });
  await dialog.getByRole('button', { name: 'Stop scanning' }).click();
  assert.equal(await dialog.getByLabel('Camera preview').isVisible(), false);
  assert.equal(await b.page.evaluate(() => document.getElementById('invite-camera').srcObject), null);
  assert.equal(await b.page.getByRole('textbox', { name: 'Invite code' }).inputValue(), '');
  assert.deepEqual(b.problems, []);
});

test('a camera the browser refuses gets a plain message', async (t) => {
  const site = await serverlessSite(t);
  const b = await cameraPerson(site, 'scan-refused', null, { refuse: true });
  t.after(() => leave(b));
  await makeLocalProfile(b);
  await b.page.getByRole('button', { name: 'Paste invite' }).click();
  const dialog = b.page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Scan invite' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Camera access was refused' }).waitFor({ timeout: WAIT });
  assert.equal(await dialog.getByLabel('Camera preview').isVisible(), false);
  // The paste still works as before: a damaged code gets its own message.
  await b.page.getByRole('textbox', { name: 'Invite code' }).fill('not a code');
  await dialog.getByRole('button', { name: 'Make reply' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'This code is damaged or incomplete' }).waitFor({ timeout: WAIT });
});
