// The walking skeleton in a real browser: the page loads the wasm core, shows its version and
// passes the self-test (AES-256-GCM and X25519 through page -> binding -> wasm), with no console
// error at phone and desktop widths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { browserForTests, openPage, screenshot } from '../lib/browser.mjs';

const server = serverForTests();
const chromium = browserForTests();

for (const [label, width, height] of [['desktop', 1280, 800], ['phone', 390, 844]]) {
  test(`the page loads the wasm core and passes its self-test (${label})`, async () => {
    const { context, page, problems } = await openPage(chromium.browser, `${server.url}/`, { width, height });
    try {
      const status = page.locator('#selftest');
      await assert.doesNotReject(
        page.waitForFunction(() => document.getElementById('selftest').dataset.state !== 'running',
          null, { timeout: 20000 }),
      );
      assert.equal(await status.getAttribute('data-state'), 'pass', await status.textContent());
      assert.match(await status.textContent(), /^passed \(\d+ ms\)$/);
      assert.match(await page.locator('#core-version').textContent(), /^\d+\.\d+\.\d+$/);
      const checks = await page.locator('#selftest-details li').allTextContents();
      assert.equal(checks.length, 3);
      assert.ok(checks.some((c) => c.includes('AES-256-GCM seal and open')));
      assert.ok(checks.some((c) => c.includes('X25519 agreement')));
      await screenshot(page, `selftest-${label}`);
      assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
    } finally {
      await context.close();
    }
  });
}

test('the wasm module is served as application/wasm and instantiated by streaming', async () => {
  const { context, page, problems, warnings } = await openPage(chromium.browser, 'about:blank');
  try {
    const wasmResponse = page.waitForResponse((r) => r.url().endsWith('/core/parley-core.wasm'));
    await page.goto(`${server.url}/`);
    const res = await wasmResponse;
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'application/wasm');
    await page.waitForFunction(() => document.getElementById('selftest').dataset.state === 'pass');
    assert.deepEqual(problems, []);
    // Emscripten warns and falls back to a slower path when streaming compilation fails.
    assert.deepEqual(warnings.filter((w) => /wasm|streaming/i.test(w)), []);
  } finally {
    await context.close();
  }
});

test('a module of the page answered with an error: the page says in plain words that Parley did not start', async () => {
  const { context, page } = await openPage(chromium.browser, 'about:blank');
  try {
    // As a busy server does (503): one file of the entry module's graph, everything else served.
    await page.route('**/js/dom.js', (route) => route.fulfill({ status: 503, body: 'busy' }));
    await page.goto(`${server.url}/`);
    const box = page.getByRole('alert').filter({ hasText: 'Parley did not start' });
    await box.waitFor({ timeout: 20000 });
    assert.match(await box.textContent(), /^Parley did not start: app\.js could not be loaded/);
    assert.equal(await page.locator('#auth-screen').isVisible(), false, 'no half-started screen');
  } finally {
    await context.close();
  }
});
