// The static bundle (scripts/bundle.mjs) and offline use (web/sw.js): after one visit the app and
// a kept vault open without the server, and say "Server unreachable"; a new deployment waits for
// the person's "Reload"; a script or wasm whose bytes differ from the build's hash is refused in
// plain words and not run; the bundle served by any static server talks to parley-server on
// another origin (--origin, CORS); Chromium finds the bundle installable (web app manifest).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServer } from '../lib/server.mjs';
import { staticServer } from '../lib/local.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  confirmSignUp, WAIT, connectPair, leave, openChat, person, send, signUp, transcript, waitForApp, waitForMessage,
} from '../lib/people.mjs';

const KEEP = 'Keep me signed in on this device';
const temps = [];
const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Builds the bundle of `src` into `out` (scripts/bundle.mjs); returns its build manifest. */
function bundle(src, out, extra = []) {
  execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', src, '--out', out, ...extra], { stdio: 'pipe' });
  return JSON.parse(readFileSync(join(out, 'build-manifest.json'), 'utf8'));
}

/** A copy of web/ to change, as a deployment's source. */
function webCopy() {
  const dir = tempDir('parley-web-src-');
  cpSync(join(ROOT, 'web'), dir, { recursive: true });
  return dir;
}

async function serve(web, { args = [], dataDir } = {}) {
  const server = await startServer({ web, args, dataDir });
  cleanups.push(() => server.stop());
  return server;
}

async function signUpKept(p) {
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
  await p.page.getByLabel('Username').fill(p.name);
  await p.page.getByLabel('Password').fill(p.password);
  await p.page.getByRole('checkbox', { name: KEEP }).check();
  await confirmSignUp(p.page, p.password);
  await waitForApp(p.page);
}

/** Waits until the page's service worker is active, and returns the build it serves. */
function swActive(page) {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return reg.active.scriptURL;
  });
}

/**
 * Asks the page's service worker registration for an update until `shown` is visible. An update
 * check the browser started by itself after the last navigation may still be under way with the
 * files from before the new build, and update() then joins it rather than fetching anew.
 */
async function updateUntil(page, shown, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()).catch(() => {}));
    try {
      await shown.waitFor({ state: 'visible', timeout: 5000 });
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
  }
}

const buildOf = (page) => page.evaluate(() => document.querySelector('meta[name="parley-build"]')?.content ?? null);
const controlled = (page) => page.evaluate(() => !!navigator.serviceWorker.controller);

test('after one visit, the app and a kept vault open with the server unreachable; history is readable', async () => {
  const dist = tempDir('parley-dist-');
  bundle(join(ROOT, 'web'), dist);
  const data = tempDir('parley-data-');
  let server = await serve(dist, { dataDir: data });
  const a = await person(server, uniqueName('off'));
  const b = await person(server, uniqueName('peer'));
  cleanups.push(() => leave(a), () => leave(b));
  await signUpKept(a);
  await signUp(b);
  await connectPair(a, b);
  await send(a, 'written while online');
  await waitForMessage(b.page, 'written while online');
  await send(b, 'an answer kept in the vault');
  await waitForMessage(a.page, 'an answer kept in the vault');
  await swActive(a.page);

  const port = server.port;
  await server.stop();

  await a.page.reload();
  const note = a.page.getByRole('status').filter({ hasText: 'Server unreachable' });
  await note.waitFor({ state: 'visible', timeout: WAIT });
  await a.page.locator('#app-screen').waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await controlled(a.page), true, 'the page came from the service worker');
  assert.equal(await a.page.locator('#whoami').textContent(), a.name);
  await openChat(a, b.name);
  const texts = (await transcript(a.page)).map((m) => m.text);
  assert.deepEqual(texts, ['written while online', 'an answer kept in the vault']);
  assert.equal(await a.page.locator('#connection').textContent(), 'Offline');
  // Sending waits: the message is kept here, not delivered.
  await send(a, 'written while the server was away');
  const mine = (await transcript(a.page)).at(-1);
  assert.equal(mine.text, 'written while the server was away');
  assert.notEqual(mine.state, 'delivered');
  assert.deepEqual(a.problems.filter((x) => x.startsWith('page error')), [], 'no script failed offline');

  // Back online: the kept sign-in logs in by itself (or with "Try again"), the note goes, and
  // what waited is delivered.
  server = await serve(dist, { dataDir: data, args: ['--listen', `127.0.0.1:${port}`] });
  await note.getByRole('button', { name: 'Try again' }).click();
  await a.page.waitForFunction(() => document.getElementById('connection').dataset.state === 'online', null, { timeout: WAIT });
  assert.equal(await note.isVisible(), false, 'the note went with the server back');
  await waitForMessage(b.page, 'written while the server was away', 60000);
});

test('a new deployment waits for "Reload": nothing changes under an open vault until then', async () => {
  const src = webCopy();
  const dist = tempDir('parley-dist-');
  const v1 = bundle(src, dist).version;
  const server = await serve(dist);
  const a = await person(server, uniqueName('upd'));
  cleanups.push(() => leave(a));
  await swActive(a.page);
  await a.page.reload(); // from now on the page is the service worker's
  assert.equal(await controlled(a.page), true);
  // Installable: Chromium reads the manifest without error and names no reason against it but
  // the test's own private-window profile.
  const cdp = await a.context.newCDPSession(a.page);
  const manifest = await cdp.send('Page.getAppManifest');
  assert.deepEqual(manifest.errors, []);
  assert.match(manifest.url, /\/manifest\.webmanifest$/);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito'), []);
  await signUp(a);
  const tagline = a.page.locator('.tagline');
  const before = await tagline.textContent();

  // Deploy: a changed page, its bundle rebuilt in the folder the server serves.
  const html = readFileSync(join(src, 'index.html'), 'utf8');
  writeFileSync(join(src, 'index.html'), html.replace(before, 'private conversations, version two'));
  const v2 = bundle(src, dist).version;
  assert.notEqual(v2, v1);
  const ready = a.page.getByRole('status').filter({ hasText: 'A new version is ready' });
  await updateUntil(a.page, ready, 3 * WAIT); // the new version's every file fetched and checked first
  assert.equal(await tagline.textContent(), before, 'the running page is unchanged');
  assert.equal(await buildOf(a.page), v1);
  assert.equal(await a.page.locator('#app-screen').isVisible(), true, 'the vault is still open');
  // A reload by the browser alone still gets the version that runs (the new one waits).
  assert.equal(await a.page.evaluate(async () => (await (await fetch('index.html')).text()).includes('version two')), false);

  await ready.getByRole('button', { name: 'Reload' }).click();
  await a.page.waitForFunction(() => document.querySelector('.tagline')?.textContent === 'private conversations, version two',
    null, { timeout: WAIT });
  assert.equal(await buildOf(a.page), v2);
  assert.equal(await controlled(a.page), true);
});

test('a script or the wasm whose bytes differ from the build hash is refused, in plain words', async () => {
  // The page's modules in one (js/app.js, the entry module), a module it imports (core/, each
  // preloaded with its hash), the wasm.
  for (const file of ['js/app.js', 'core/parley.js', 'core/parley-core.wasm']) {
    const dist = tempDir('parley-dist-');
    bundle(join(ROOT, 'web'), dist);
    if (file.endsWith('.js')) appendFileSync(join(dist, file), '\n// changed after the build\n');
    else {
      const bytes = readFileSync(join(dist, file));
      bytes[bytes.length - 1] ^= 1;
      writeFileSync(join(dist, file), bytes);
    }
    const server = await serve(dist);
    const a = await person(server, uniqueName('sri'));
    cleanups.push(() => leave(a));
    const alert = a.page.getByRole('alert').filter({ hasText: 'Parley did not start' });
    await alert.waitFor({ state: 'visible', timeout: WAIT });
    const text = await alert.textContent();
    assert.match(text, new RegExp(`${file.replace('.', '\\.')} could not be loaded or does not match`));
    assert.equal(await a.page.locator('#auth-screen').isVisible(), false, 'no log-in form');
    assert.equal(await a.page.locator('#core-version').textContent(), 'loading…', 'the app did not run');
    await leave(a);
    await server.stop();
  }
});

test('a deployment whose files differ from their hashes is not installed; the running version stays', async () => {
  const src = webCopy();
  const dist = tempDir('parley-dist-');
  const v1 = bundle(src, dist).version;
  const server = await serve(dist);
  const a = await person(server, uniqueName('bad'));
  cleanups.push(() => leave(a));
  await swActive(a.page);
  await a.page.reload();
  await a.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
  appendFileSync(join(src, 'style.css'), '\n.v2 { color: inherit; }\n'); // a change the minified bundle keeps
  bundle(src, dist);
  appendFileSync(join(dist, 'js/app.js'), '\n// changed after the build\n');
  await updateUntil(a.page, a.page.getByRole('alert').filter({ hasText: 'do not match their build hashes' }), WAIT);
  assert.equal(await a.page.locator('#update').isVisible(), false, 'no new version offered');
  await a.page.reload();
  assert.equal(await buildOf(a.page), v1, 'the version that ran is the one served');
  await a.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
});

test('the bundle on a static server talks to parley-server on another origin (--origin, CORS)', async () => {
  // python3 -m http.server serves the bundle under /app/ (config.json and a CSP written by
  // bundle.mjs --server); parley-server lists the site's origin.
  const root = tempDir('parley-site-');
  const served = await staticServer(root);
  cleanups.push(async () => served.stop());
  const site = served.url;
  const server = await serve(join(ROOT, 'web'), { args: ['--origin', site] });
  bundle(join(ROOT, 'web'), join(root, 'app'), ['--server', server.url]);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'app/config.json'), 'utf8')), { server: server.url });

  // The API answers the listed origin's preflight, and no other.
  const preflight = (origin) => fetch(`${server.url}/api/login`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  const ok = await preflight(site);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), site);
  assert.match(ok.headers.get('access-control-allow-headers'), /Authorization/);
  const other = await preflight('http://elsewhere.example');
  assert.equal(other.status, 405);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  // Answers, errors included, name the listed origin only.
  for (const [origin, allowed] of [[site, site], ['http://elsewhere.example', null]]) {
    const r = await fetch(`${server.url}/api/nothing`, { headers: { Origin: origin } });
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('access-control-allow-origin'), allowed, origin);
    assert.equal(r.headers.get('vary'), 'Origin');
    await r.arrayBuffer();
  }
  // Its own pages find no config.json in its web folder: it answers {} (the page's own origin).
  const own = await fetch(`${server.url}/config.json`);
  assert.equal(own.status, 200);
  assert.deepEqual(await own.json(), {});

  const a = await person({ url: `${site}/app` }, uniqueName('site'));
  const b = await person({ url: `${site}/app` }, uniqueName('site'));
  cleanups.push(() => leave(a), () => leave(b));
  await signUp(a);
  await signUp(b);
  await connectPair(a, b);
  await send(a, 'from a page served elsewhere');
  await waitForMessage(b.page, 'from a page served elsewhere');
  await send(b, 'and back');
  await waitForMessage(a.page, 'and back');
  assert.ok(a.requests.some((r) => r.url === `${server.url}/api/signup`), 'the API is the server\'s, not the site\'s');
  assert.ok(!a.requests.some((r) => r.url.startsWith(`${site}/api/`)));
  assert.deepEqual(a.problems.filter((x) => !x.includes('/favicon.ico')), [], 'no errors on the page');
  assert.equal(await a.page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content.includes("connect-src 'self' http://")), true);
});
