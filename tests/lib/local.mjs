// Local profiles (no account) on a serverless site, for the e2e tests (tests/e2e/invite.test.mjs,
// rooms-local.test.mjs): the bundle (scripts/bundle.mjs) with config.json {"server": false}, served
// by python3 -m http.server; a person who makes a local profile there; invitation codes made,
// pasted and answered through the invite dialog.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.mjs';
import { WAIT, leave, person } from './people.mjs';

export const PASS = 'a long local passphrase';
const temps = [];
const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** python3 -m http.server serving `dir` on a free port; resolves to its URL. */
async function staticServer(dir) {
  const proc = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'ignore'], // its request log (stderr) unread would fill the pipe and stall it
  });
  cleanups.push(async () => {
    proc.kill('SIGTERM');
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/port (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`http.server exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}`;
}

// The bundle, built once; each test serves it with its own static server.
let dist = null;
const sites = new WeakMap(); // test -> {url}
export async function serverlessSite(t) {
  if (!dist) {
    dist = mkdtempSync(join(tmpdir(), 'parley-invite-dist-'));
    temps.push(dist);
    execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', join(ROOT, 'web'), '--out', dist], { stdio: 'pipe' });
    writeFileSync(join(dist, 'config.json'), '{"server": false}\n');
  }
  if (!sites.has(t)) sites.set(t, { url: await staticServer(dist) });
  return sites.get(t);
}

// A person with a local profile; their browser is closed when test `t` ends.
export async function localPerson(t, label) {
  const p = await person(await serverlessSite(t), label);
  t.after(() => leave(p));
  const { page } = p;
  // No server: the account form is not offered, only the local profile.
  await page.getByRole('button', { name: 'Use without an account' }).click();
  assert.equal(await page.getByRole('button', { name: 'Log in' }).count(), 0);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await page.getByLabel('Confirm passphrase').fill(PASS);
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('button', { name: 'Create invite' }).waitFor({ state: 'visible', timeout: 60000 });
  return p;
}

export async function createInvite(p) {
  await p.page.getByRole('button', { name: 'Create invite' }).click();
  const box = p.page.getByRole('textbox', { name: 'Invite code' });
  await p.page.waitForFunction(() => document.getElementById('invite-code').value.length > 0, null, { timeout: WAIT });
  return box.inputValue();
}

export async function pasteInvite(p, code) {
  await p.page.getByRole('button', { name: 'Paste invite' }).click();
  await p.page.getByRole('textbox', { name: 'Invite code' }).fill(code);
  await p.page.getByRole('button', { name: 'Make reply' }).click();
}

/** a and b connected by codes (a invites, b answers, a connects): both see the new chat open. */
export async function connectByCodes(a, b) {
  const invite = await createInvite(a);
  await pasteInvite(b, invite);
  await b.page.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0, null, { timeout: WAIT });
  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(await b.page.getByRole('textbox', { name: 'Reply code' }).inputValue());
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();
  for (const p of [a, b]) {
    await p.page.waitForFunction(() => !document.getElementById('invite-dialog').open
      && document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: 40000 });
  }
}
