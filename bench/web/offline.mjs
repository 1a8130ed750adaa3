// Offline use of the static bundle (scripts/bundle.mjs, web/sw.js). Prints figures; asserts
// nothing.
//   - reload to ready with the server reachable, and with the server stopped, in the same run and
//     the same browser profile (both served by the service worker): from page.reload() to the
//     messenger screen with the kept vault open (online: and the signaling connection up; offline:
//     and "Server unreachable" shown), median of BENCH_ROUNDS (default 7); the in-page mark
//     "parley-ready" (core loaded and self-tested) beside it
//   - the bundle's cold-load bytes, gzip -9 of each file as the service worker precaches it: the
//     app shell (HTML, scripts, style sheet, manifest; target at most 150 KB, i.e. 150,000
//     bytes), the wasm core, the icons; and what a cold first visit transfers as the browser counts it (the page's own loads;
//     the service worker's precache fetches the same files once more)
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`; // KiB: 1024 bytes
const bin = process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server`;
process.env.PARLEY_SERVER_BIN = bin;

const dist = mkdtempSync(join(tmpdir(), 'parley-bench-dist-'));
const data = mkdtempSync(join(tmpdir(), 'parley-bench-data-'));
execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--out', dist], { stdio: 'pipe' });
const manifest = JSON.parse(readFileSync(join(dist, 'build-manifest.json'), 'utf8'));

// ---- bytes -------------------------------------------------------------------------------------
const groups = { shell: 0, wasm: 0, icons: 0 };
const raw = { shell: 0, wasm: 0, icons: 0 };
for (const f of Object.keys(manifest.files)) {
  const bytes = readFileSync(join(dist, f));
  const g = f.endsWith('.wasm') ? 'wasm' : (f.startsWith('icons/') || f.endsWith('.svg') ? 'icons' : 'shell');
  groups[g] += gzipSync(bytes, { level: 9 }).length;
  raw[g] += bytes.length;
}

// ---- reloads -----------------------------------------------------------------------------------
let server = await startServer({ web: dist, dataDir: data, env: { PARLEY_SERVER_BIN: bin } });
const browser = await launchBrowser();
const { page } = await openPage(browser, `${server.url}/`);
await page.locator('#selftest[data-state="pass"]').waitFor({ state: 'attached', timeout: 30000 });
const cold = await page.evaluate(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return nav.transferSize + performance.getEntriesByType('resource').reduce((n, e) => n + e.transferSize, 0);
});
const name = uniqueName('bench');
await page.getByLabel('Username').fill(name);
await page.getByLabel('Password').fill(`password of ${name}`);
await page.getByRole('checkbox', { name: 'Keep me signed in on this device' }).check();
await page.getByRole('button', { name: 'Sign up' }).click();
await page.getByLabel('Type it again').fill(`password of ${name}`); // sign-up asks twice
await page.getByRole('button', { name: 'Sign up' }).click();
await page.locator('#connection[data-state="online"]').waitFor({ timeout: 30000 });
await page.evaluate(() => navigator.serviceWorker.ready);

async function reloads(ready) {
  const wall = [];
  const marks = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const t0 = performance.now();
    await page.reload();
    await ready();
    wall.push(performance.now() - t0);
    marks.push(await page.evaluate(() => performance.getEntriesByName('parley-ready')[0]?.startTime ?? NaN));
  }
  return { wall: median(wall), mark: median(marks) };
}

const online = await reloads(() => page.locator('#connection[data-state="online"]').waitFor({ timeout: 30000 }));
const port = server.port;
await server.stop();
const offline = await reloads(async () => {
  await page.locator('#server-note').waitFor({ state: 'visible', timeout: 30000 });
  await page.locator('#app-screen').waitFor({ state: 'visible', timeout: 30000 });
});
await browser.close();
rmSync(dist, { recursive: true, force: true });
rmSync(data, { recursive: true, force: true });

console.log(`bundle ${manifest.version}: ${Object.keys(manifest.files).length} files (server port was ${port})`);
const SHELL_TARGET = 150000; // the "at most 150 KB gzipped": KB as 1000 bytes
console.log(`app shell (HTML, JS, CSS, manifest): ${kb(raw.shell)} raw, ${groups.shell} bytes = ${kb(groups.shell)} gzip `
  + `(target <= 150 KB = ${SHELL_TARGET} bytes: ${groups.shell <= SHELL_TARGET ? 'met' : 'NOT met'})`);
console.log(`wasm core: ${kb(raw.wasm)} raw, ${kb(groups.wasm)} gzip; icons: ${kb(groups.icons)} gzip`);
console.log(`precache total: ${kb(groups.shell + groups.wasm + groups.icons)} gzip`);
console.log(`cold first visit, page loads as the browser counts them: ${kb(cold)}`);
console.log(`reload to ready, server reachable (kept vault open, signaling up): ${online.wall.toFixed(0)} ms (parley-ready at ${online.mark.toFixed(0)} ms), median of ${ROUNDS}`);
console.log(`reload to ready, server stopped (kept vault open, "Server unreachable"): ${offline.wall.toFixed(0)} ms (parley-ready at ${offline.mark.toFixed(0)} ms), median of ${ROUNDS}`);
