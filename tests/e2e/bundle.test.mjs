// The minified bundle (scripts/bundle.mjs, scripts/minify.mjs) does what its sources do. Built
// with --modules (each module minified alone): the page's own vector and binding tests pass against
// its scripts in place of web/; in Chromium every module links and exports the same names, of the
// same kinds, as its source, and the password derivation gives the same keys from both; the style
// sheet reads as the same rules and the page as the same elements, attributes and text. As shipped
// (the page's modules in one, js/app.js): only what must stay separate is (core/, the worker and
// what it imports, guard.js, sw.js), each of those exports as its source (bundle.mjs itself
// checks that every bundled module's text is in js/app.js), the page is the source's but for its
// entry, and it starts in Chromium (the
// core's self-test passes, a local profile makes an invite code, the test hooks are there, no
// error). And the minifier's and bundler's checks refuse a script that does not parse or a bundle
// that lost text.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import { ROOT } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';

const temps = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// A tree like the repository's, whose web/ is the bundle.
const tree = mkdtempSync(join(tmpdir(), 'parley-bundle-tree-'));
temps.push(tree);
const dist = join(tree, 'web');
execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', join(ROOT, 'web'), '--out', dist, '--modules'], { stdio: 'pipe' });
// The bundle as shipped: the page's modules in one file.
const one = mkdtempSync(join(tmpdir(), 'parley-bundle-one-'));
temps.push(one);
execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', join(ROOT, 'web'), '--out', one], { stdio: 'pipe' });
writeFileSync(join(one, 'config.json'), '{"server": false}\n'); // starts with no server to reach

function files(top, dir = top) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(top, p));
    else out.push(relative(top, p).split(sep).join('/'));
  }
  return out;
}

test("the page's vector and binding tests pass against the bundle's scripts", () => {
  const suites = [
    'e2e/calls-vectors.test.mjs', 'e2e/contacts-vectors.test.mjs', 'e2e/everyday-vectors.test.mjs',
    'e2e/invite-vectors.test.mjs', 'e2e/linking-vectors.test.mjs',
    'wasm/binding.test.mjs', 'wasm/files-vectors.test.mjs', 'wasm/pqxdh.test.mjs',
  ];
  cpSync(join(ROOT, 'tests/lib'), join(tree, 'tests/lib'), { recursive: true });
  for (const s of suites) {
    mkdirSync(join(tree, 'tests', s, '..'), { recursive: true });
    cpSync(join(ROOT, 'tests', s), join(tree, 'tests', s));
  }
  cpSync(join(ROOT, 'docs'), join(tree, 'docs'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  // The minified scripts are the ones these tests load (not web/'s).
  assert.doesNotMatch(readFileSync(join(tree, 'web/js/everyday-wire.js'), 'utf8'), /\n\s+/);
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...suites.map((s) => join(tree, 'tests', s))], {
    cwd: tree, encoding: 'utf8', timeout: 240000,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), // its own run, not a child of this one
  });
  const pass = Number(run.stdout.match(/^# pass (\d+)/m)?.[1]);
  const fail = Number(run.stdout.match(/^# fail (\d+)/m)?.[1]);
  console.log(`${pass} tests of the bundle's scripts passed`);
  assert.equal(run.status, 0, `${run.stdout.split('\n').filter((l) => /^\s*not ok/.test(l)).join('\n')}\n${run.stderr}`);
  assert.equal(fail, 0);
  assert.ok(pass >= 40, `only ${pass} tests ran`);
});

const TYPES = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css',
  '.html': 'text/html', '.json': 'application/json', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json',
};

test('in Chromium, the bundle links, exports and derives as its sources; same rules, same page', async () => {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    // http://bundle.test/web/ is the sources, /dist/ the bundle; / a blank page.
    await page.route('http://bundle.test/**', (route) => {
      const path = new URL(route.request().url()).pathname;
      const [, side, rest] = path.match(/^\/(web|dist|one)\/(.*)$/) || [];
      if (!side) return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' });
      const file = join({ web: join(ROOT, 'web'), dist, one }[side], rest);
      let body;
      try {
        body = readFileSync(file);
      } catch {
        return route.fulfill({ status: 404, body: '' });
      }
      return route.fulfill({ contentType: TYPES[extname(file)] || 'application/octet-stream', body });
    });
    await page.goto('http://bundle.test/');

    // Every module but the entry (which starts the app), the guard and the service worker.
    const modules = files(dist).filter((f) => /\.m?js$/.test(f) && !['app.js', 'guard.js', 'sw.js'].includes(f));
    assert.ok(modules.length >= 60, `${modules.length} modules`);
    const shapes = (side) => page.evaluate(async ({ side, modules }) => {
      const kind = (v) => {
        if (typeof v === 'function') return `function/${v.length}`;
        if (v === null || typeof v !== 'object') return `${typeof v}:${String(v)}`;
        if (v instanceof RegExp) return String(v);
        if (v instanceof Set || v instanceof Map) return `${v.constructor === Set ? 'Set' : 'Map'}:${JSON.stringify([...v])}`;
        try {
          return `${Object.prototype.toString.call(v)}:${JSON.stringify(v)}`;
        } catch {
          return Object.prototype.toString.call(v);
        }
      };
      const out = {};
      for (const m of modules) {
        try {
          const ns = await import(`/${side}/${m}`);
          out[m] = Object.keys(ns).sort().map((k) => `${k} ${kind(ns[k])}`);
        } catch (e) {
          out[m] = `failed: ${e.name}: ${e.message}`;
        }
      }
      return out;
    }, { side, modules });
    const source = await shapes('web');
    const bundled = await shapes('dist');
    for (const m of modules) {
      assert.deepEqual(bundled[m], source[m], m);
      assert.ok(Array.isArray(bundled[m]), `${m}: ${bundled[m]}`);
    }

    // The password derivation (a salt built in a template with a NUL in it): the same keys.
    const derive = (side) => page.evaluate(async (side) => {
      const core = await import(`/${side}/core/parley.js`);
      await core.init();
      const { deriveKeys } = await import(`/${side}/js/password.js`);
      const { toB64u } = await import(`/${side}/js/encoding.js`);
      const k = deriveKeys('alice', 'correct horse battery staple é');
      return [toB64u(k.vaultKey), k.loginSecret];
    }, side);
    const keys = await derive('web');
    assert.equal(keys[1].length, 43);
    assert.deepEqual(await derive('dist'), keys);

    // The style sheet: the same rules as Chromium reads them.
    const rules = (side) => page.evaluate(async (side) => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(await (await fetch(`/${side}/style.css`)).text());
      return [...sheet.cssRules].map((r) => r.cssText);
    }, side);
    const sourceRules = await rules('web');
    assert.ok(sourceRules.length > 100);
    assert.deepEqual(await rules('dist'), sourceRules);

    // The page: the same elements, attributes and text (white space as it renders), but for
    // what the bundle adds (build and wasm hashes, module preloads, integrity).
    const dom = (side) => page.evaluate(async (side) => {
      const doc = new DOMParser().parseFromString(await (await fetch(`/${side}/index.html`)).text(), 'text/html');
      const out = [];
      let text = '';
      const flush = () => {
        const t = text.replace(/\s+/g, ' ');
        if (t !== '') out.push(`text ${t}`);
        text = '';
      };
      const walk = (node) => {
        for (const c of node.childNodes) {
          if (c.nodeType === Node.TEXT_NODE) text += c.data;
          if (c.nodeType !== Node.ELEMENT_NODE) continue;
          if (c.matches('link[rel="modulepreload"], meta[name="parley-build"], meta[name="parley-wasm"]')) continue;
          flush();
          const attrs = [...c.attributes].filter((a) => a.name !== 'integrity').map((a) => `${a.name}=${a.value}`).sort();
          out.push(`<${c.localName} ${attrs.join(' ')}>`);
          walk(c);
          flush();
          out.push(`</${c.localName}>`);
        }
      };
      walk(doc.documentElement);
      return out;
    }, side);
    const sourceDom = await dom('web');
    assert.ok(sourceDom.length > 500);
    assert.deepEqual(await dom('dist'), sourceDom);

    // As shipped: the page's modules in js/app.js; separate only the core's binding and glue, the
    // worker and what it imports, and the QR decoder imported on the first scan (js/qr-scan-*.js);
    // each of those as its source.
    const separate = files(one).filter((f) => /\.m?js$/.test(f) && !['js/app.js', 'guard.js', 'sw.js'].includes(f));
    assert.deepEqual(separate.filter((f) => !f.startsWith('core/')),
      ['js/calls-frames-worker.js', 'js/calls-frames.js', 'js/qr-scan-codewords.js', 'js/qr-scan-decoder.js']);
    assert.deepEqual(separate.filter((f) => f.startsWith('core/')),
      files(join(ROOT, 'web/core')).filter((f) => f.endsWith('.js')).map((f) => `core/${f}`));
    assert.equal(files(one).includes('app.js'), false, 'no app.js beside the bundle');
    const oneShapes = await page.evaluate(async (modules) => {
      const out = {};
      for (const m of modules) {
        for (const side of ['web', 'one']) {
          const ns = await import(`/${side}/${m}`);
          out[`${side} ${m}`] = Object.keys(ns).sort().join(' ');
        }
      }
      return out;
    }, separate);
    for (const m of separate) assert.equal(oneShapes[`one ${m}`], oneShapes[`web ${m}`], m);
    // The page: the source's, but for its entry module.
    const oneDom = (await dom('one')).map((x) => x.replace(/^(<script .*)src=js\/app\.js/, '$1src=app.js'));
    assert.deepEqual(oneDom, sourceDom);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test('as shipped, the page starts from its one module: a local profile and an invite code', async () => {
  const browser = await launchBrowser();
  try {
    // No service worker (Playwright's routes do not serve it); the page itself from the bundle.
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const loaded = [];
    // localhost: a secure context, as the page needs (crypto.subtle), served by the route alone.
    await page.route('http://localhost:9/**', (route) => {
      const rest = new URL(route.request().url()).pathname.slice(1);
      loaded.push(rest);
      let body;
      try {
        body = readFileSync(join(one, rest || 'index.html'));
      } catch {
        return route.fulfill({ status: 404, body: '' });
      }
      return route.fulfill({ contentType: TYPES[extname(rest || 'index.html')] || 'application/octet-stream', body });
    });
    // The test hooks (web/js/testhooks.js), which other tests turn on, are in the bundle too.
    await context.addInitScript(() => localStorage.setItem('parley-test-hooks', '1'));
    await page.goto('http://localhost:9/');
    await page.locator('#selftest[data-state="pass"]').waitFor({ state: 'attached', timeout: 60000 });
    await page.getByRole('button', { name: 'Use without an account' }).click();
    await page.getByLabel('Passphrase', { exact: true }).fill('a passphrase for the bundle');
    await page.getByLabel('Confirm passphrase').fill('a passphrase for the bundle');
    await page.getByRole('button', { name: 'Create profile' }).click();
    await page.getByRole('button', { name: 'Create invite' }).click({ timeout: 60000 });
    const code = page.getByRole('textbox', { name: 'Invite code' });
    await page.waitForFunction(() => document.getElementById('invite-code')?.value.length > 40, null, { timeout: 60000 });
    assert.ok((await code.inputValue()).length > 40);
    const hooks = await page.evaluate(() => Object.keys(globalThis.parleyTestHooks ?? {}));
    for (const h of ['snapshotSession', 'restoreSession', 'storedHistory', 'relayed']) assert.ok(hooks.includes(h), `${h} in ${hooks}`);
    assert.deepEqual(problems, []);
    // The page ran js/app.js and asked for nothing the bundle does not have (a module of web/js/).
    assert.ok(loaded.includes('js/app.js'));
    const have = new Set(files(one));
    assert.deepEqual(loaded.filter((f) => f !== '' && !have.has(f)), []);
  } finally {
    await browser.close();
  }
});

test('the minifier refuses what it cannot read, and keeps what it must', async () => {
  const { checkBundle, minifyCss, minifyHtml, minifyScript } = await import(join(ROOT, 'scripts/minify.mjs'));
  // A bundle keeps every text of its sources (import paths aside) and imports only what may stay apart.
  const sources = [{ name: 'a.js', text: "import { b } from './b.js';\nexport const a = `x${b}y`;\n" },
    { name: 'b.js', text: "import * as core from '../core/parley.js';\nexport const b = 'kept';\n" }];
  const good = "import * as c from '../core/parley.js';\nconst b = 'kept';\nexport const a = `x${b}y`;\n";
  assert.deepEqual(checkBundle(sources, good, 'one.js', ['../core/parley.js']), ['export a', 'import * from ../core/parley.js']);
  assert.throws(() => checkBundle(sources, good.replace("'kept'", "'lost'"), 'one.js', ['../core/parley.js']), /one\.js lost text of b\.js: "kept"/);
  assert.throws(() => checkBundle(sources, `import './b.js';\n${good}`, 'one.js', ['../core/parley.js']), /links to what it should hold: import \.\/b\.js/);
  assert.throws(() => checkBundle(sources, 'const = 1;', 'one.js', []), /one\.js does not parse as a module/);
  await assert.rejects(minifyScript('export const = 1;', 'bad.js'), /bad\.js does not parse as a module/);
  await assert.rejects(minifyScript('with (a) b();', 'classic.js'), /does not parse as a module/);
  assert.equal(await minifyScript('with (a) b();', 'classic.js', { classic: true }), 'with(a)b();\n');
  // Exports and their names stay; a local name is shortened; a compile hint stays first.
  const out = await minifyScript('//# allFunctionsCalledOnLoad\n// note\nconst longLocalName = 2;\nexport function twice(x) { return x * longLocalName; }\n', 'm.js');
  assert.match(out, /^\/\/# allFunctionsCalledOnLoad\n/);
  assert.match(out, /export function twice\(/);
  assert.doesNotMatch(out, /longLocalName|note/);
  // White space that counts in CSS stays (descendant pseudo-class, calc, strings).
  assert.equal(minifyCss('a :hover , b > c {\n  width: calc(100% - 2rem); /* x */\n  content: " ; { ";\n}\n'),
    'a :hover,b>c{width:calc(100% - 2rem);content:" ; { ";}\n');
  assert.throws(() => minifyCss('a { content: "x }'), /unclosed string/);
  assert.equal(minifyHtml('<p>\n    one <!-- c -->\n    <b>two</b>\n</p>\n'), '<p>\none\n<b>two</b>\n</p>\n');
  assert.throws(() => minifyHtml('<pre>\n  kept\n</pre>'), /white space counts/);
  assert.throws(() => minifyHtml('<p title="two\n   lines">x</p>'), /attribute value over two lines/);
});
