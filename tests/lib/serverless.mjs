// Serverless steps for the invite-code tests that need more than tests/e2e/invite.test.mjs's own
// helpers (which it keeps): the bundle served by python3 -m http.server with {"server": false},
// a person with a local profile, and a person whose browser's camera plays a video file
// (Chromium's fake capture device), for scanning codes.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, watch } from './browser.mjs';
import { ROOT } from './server.mjs';
import { leave, person } from './people.mjs';

export const PASS = 'a long local passphrase';

/** python3 -m http.server serving `dir` on a free port: {url, stop()}. */
export async function staticServer(dir) {
  const proc = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'ignore'], // its request log (stderr) unread would fill the pipe and stall it
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
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

/** The bundle (scripts/bundle.mjs) in a temporary folder with config.json {"server": false}: {dir, remove()}. */
export function serverlessBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-serverless-dist-'));
  execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', join(ROOT, 'web'), '--out', dir], { stdio: 'pipe' });
  writeFileSync(join(dir, 'config.json'), '{"server": false}\n');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A person at `site` whose camera plays the .y4m file `video` (looped): the same shape as
 * people.mjs's person() (browser, context, page, problems, ...), closed by leave(). With `refuse`,
 * the browser denies the camera as a person pressing "Block" would.
 */
export async function cameraPerson(site, name, video, { refuse = false } = {}) {
  const p = { name, requests: [], frames: [], dialogs: [], problems: [], warnings: [] };
  const browser = await chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    args: refuse
      ? [...CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'), '--deny-permission-prompts']
      : [...CHROMIUM_ARGS, `--use-file-for-fake-video-capture=${video}`],
    headless: true,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (!refuse) await context.grantPermissions(['camera', 'microphone'], { origin: site.url });
  const page = await context.newPage();
  watch(page, p.problems, p.warnings);
  page.on('request', (req) => p.requests.push({ url: req.url(), method: req.method(), body: req.postData() || '' }));
  await page.goto(`${site.url}/`);
  return Object.assign(p, { browser, context, page });
}

/** Makes a local profile (no account) on `p`'s page and waits for the app. */
export async function makeLocalProfile(p) {
  const { page } = p;
  await page.getByRole('button', { name: 'Use without an account' }).click();
  assert.equal(await page.getByRole('button', { name: 'Log in' }).count(), 0);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await page.getByLabel('Confirm passphrase').fill(PASS);
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('button', { name: 'Create invite' }).waitFor({ state: 'visible', timeout: 60000 });
  return p;
}

/** A person with a local profile at `site`, closed when test `t` ends. */
export async function localPerson(t, site, label) {
  const p = await person(site, label);
  t.after(() => leave(p));
  return makeLocalProfile(p);
}
