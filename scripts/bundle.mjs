#!/usr/bin/env node
// Writes the static bundle of the web app: a copy of web/ (or --src DIR) into dist/ (or --out DIR)
// with its build hashes. Every file's SHA-256 goes into build-manifest.json and into the service
// worker (sw.js), whose precache checks each response against it; index.html gets Subresource
// Integrity for every script (the entry module, and a modulepreload link per module of the graph),
// the style sheet and the wasm core. The version is a hash of all files, so any change makes a new
// service worker that waits for the person's "Reload" (web/js/updates.js).
// The page's modules are shipped as one (js/app.js, made by Debian's esbuild: see "The page's
// modules in one file" below); scripts, the style sheet, the page and the web app manifest are
// shipped minified (scripts/minify.mjs): the sources explain themselves at length, and a person
// loading the page should not pay for it. The bundle is checked to keep every text of its
// sources, and each script to link and read as its source does.
// --modules leaves each module its own file, as in web/ (tests/e2e/bundle.test.mjs uses it to
// check the minifier on every module alone).
// --server URL also writes config.json ({"server": URL}): the page then talks to that server; and
// a Content-Security-Policy <meta> allowing it, for static servers that send no CSP header.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve, sep } from 'node:path';
import { checkBundle, importsOf, minifyCss, minifyHtml, minifyScript } from './minify.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const src = resolve(opt('--src', join(root, 'web')));
const out = resolve(opt('--out', join(root, 'dist')));
const server = opt('--server', null);
const oneFile = !args.includes('--modules');

// What the bundle holds: the app, its modules, the core, icons and the manifest; not the test hooks'
// data nor anything a deployment adds (config.json).
const SKIP = new Set(['config.json', 'build-manifest.json']);
function walk(dir) {
  const files = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files.push(...walk(p));
    else if (!SKIP.has(relative(src, p))) files.push(p);
  }
  return files;
}

// Scripts loaded as classic scripts, not ES modules: the integrity guard (index.html) and the
// service worker (js/updates.js registers it without type "module").
const CLASSIC = new Set(['guard.js', 'sw.js']);

const sri = (bytes) => `sha256-${createHash('sha256').update(bytes).digest('base64')}`;

if (!existsSync(join(src, 'core/parley-core.wasm'))) {
  console.error(`bundle: ${src}/core/parley-core.wasm is missing: run scripts/build.sh first`);
  process.exit(1);
}
if (server !== null) {
  const u = new URL(server);
  if (!/^https?:$/.test(u.protocol) || u.pathname !== '/' || u.search || u.hash || u.username) {
    console.error(`bundle: --server must be an origin like https://chat.example, not ${server}`);
    process.exit(1);
  }
}
if (resolve(out) !== resolve(src)) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(src, out, { recursive: true, filter: (p) => !SKIP.has(relative(src, p)) });
}

// ---- The page's modules in one file -------------------------------------------------------------
// The page's entry module and every module it imports (dynamic import() included: esbuild puts
// such a module in the bundle too, still run only when first imported) become one ES module,
// js/app.js: one file to fetch, check and keep instead of sixty, which gzip compresses as a whole.
// It is written in js/, where its modules were, so that the URLs they make from import.meta.url
// (js/build.js: ../core/parley-core.wasm; js/calls-identity.js: ./calls-frames-worker.js) name the same
// files. Separate files stay: core/ (the wasm binding and its Emscripten glue, which finds the
// wasm by its own URL; node's tests import them), workers (started by URL) and the modules they
// import, guard.js and sw.js (classic scripts).
const ENTRY = 'app.js';
const BUNDLE = 'js/app.js';
const EXTERNAL = 'core';
// Modules loaded on demand that stay files of their own, outside js/app.js (esbuild would put them
// in it): the QR decoder (js/qr-scan.js imports it on the first scan), with what it imports.
const LAZY = 'js/qr-scan-';
const HINT = '//# allFunctionsCalledOnLoad';
const posixPath = (p) => p.split(sep).join('/');

function esbuild(argv) {
  const bin = process.env.ESBUILD || 'esbuild';
  const run = spawnSync(bin, argv, { cwd: out, encoding: 'utf8' });
  if (run.error?.code === 'ENOENT') {
    throw new Error(`bundle: ${bin} is missing: scripts/deps.sh installs it (Debian's package esbuild)`);
  }
  if (run.error) throw run.error;
  // A warning (an import that resolves to nothing, a duplicate key, ...) fails the bundle too.
  if (run.status !== 0 || run.stderr.trim()) throw new Error(`bundle: esbuild failed:\n${run.stderr}`);
}

if (oneFile) {
  if (resolve(out) === resolve(src)) throw new Error('bundle: --out must not be the source tree, whose modules it replaces');
  if (existsSync(join(out, BUNDLE))) throw new Error(`bundle: ${src} has a ${BUNDLE}, where the bundle goes`);
  const tmp = mkdtempSync(join(tmpdir(), 'parley-esbuild-'));
  try {
    // Twice: once whole (--tree-shaking=false), checked to keep every text of every module, so
    // that nothing is lost in the joining; then as shipped, without the code nothing uses (an
    // export only the tests import), whose texts may go. The second is checked as any module is
    // (it links only to core/) and minified with the usual checks (scripts/minify.mjs).
    const common = [ENTRY, '--bundle', '--format=esm', '--charset=utf8', `--external:${join(out, EXTERNAL)}/*`,
      `--external:${join(out, LAZY)}*`, '--log-level=warning'];
    esbuild([...common, '--tree-shaking=false', `--outfile=${join(tmp, 'whole.js')}`, `--metafile=${join(tmp, 'meta.json')}`]);
    esbuild([...common, `--outfile=${BUNDLE}`]);
    const inputs = Object.keys(JSON.parse(readFileSync(join(tmp, 'meta.json'), 'utf8')).inputs).map(posixPath);
    const sources = inputs.map((name) => ({ name, text: readFileSync(join(out, name), 'utf8') }));
    if (!inputs.includes(ENTRY) || inputs.some((f) => f.startsWith(`${EXTERNAL}/`) || f.startsWith('..'))) {
      throw new Error(`bundle: esbuild read ${inputs.join(', ')}`);
    }
    // What the bundle may import: the files of core/, as seen from js/ (the whole one was written
    // elsewhere, so its paths differ: only its texts are checked).
    const lazy = walk(join(out, posix.dirname(LAZY))).map((p) => posixPath(relative(out, p))).filter((f) => f.startsWith(LAZY));
    const external = [...walk(join(out, EXTERNAL)).map((p) => posixPath(relative(out, p))), ...lazy]
      .map((f) => posix.relative(posix.dirname(BUNDLE), f))
      .map((f) => (f.startsWith('.') ? f : `./${f}`));
    checkBundle(sources, readFileSync(join(tmp, 'whole.js'), 'utf8'), BUNDLE, null);
    let text = readFileSync(join(out, BUNDLE), 'utf8');
    checkBundle([], text, BUNDLE, external);
    // The entry's compile hint (its modules' functions compiled as they load) holds for the bundle.
    if (sources[inputs.indexOf(ENTRY)].text.startsWith(`${HINT}\n`) && !text.startsWith(HINT)) text = `${HINT}\n${text}`;
    writeFileSync(join(out, BUNDLE), text);
    // The bundled modules go, but for those a separate module still imports (a worker's).
    const bundled = new Set(inputs);
    const scripts = walk(out).map((p) => posixPath(relative(out, p))).filter((f) => /\.m?js$/.test(f));
    const queue = scripts.filter((f) => !bundled.has(f) && !CLASSIC.has(f) && f !== BUNDLE);
    const needed = new Set();
    while (queue.length) {
      const f = queue.pop();
      for (const spec of importsOf(readFileSync(join(out, f), 'utf8'), f)) {
        if (!spec.startsWith('.')) continue;
        const target = posix.normalize(posix.join(posix.dirname(f), spec));
        if (bundled.has(target) && !needed.has(target)) {
          needed.add(target);
          queue.push(target);
        }
      }
    }
    for (const f of inputs) if (!needed.has(f)) rmSync(join(out, f));
    for (const f of inputs) {
      for (let d = posix.dirname(f); d !== '.' && readdirSync(join(out, d)).length === 0; d = posix.dirname(d)) rmdirSync(join(out, d));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
const entryFile = oneFile ? BUNDLE : ENTRY;

// Hashes of everything but sw.js and index.html, which are written from them (sw.js is minified
// once its BUILD is filled in, below).
const files = {};
for (const p of walk(out)) {
  const rel = relative(out, p).split(sep).join('/');
  if (/\.m?js$/.test(rel) && rel !== 'sw.js') {
    writeFileSync(p, await minifyScript(readFileSync(p, 'utf8'), rel, { classic: CLASSIC.has(rel) }));
  } else if (rel.endsWith('.css')) writeFileSync(p, minifyCss(readFileSync(p, 'utf8'), rel));
  else if (rel.endsWith('.html')) writeFileSync(p, minifyHtml(readFileSync(p, 'utf8'), rel));
  else if (rel.endsWith('.webmanifest')) writeFileSync(p, `${JSON.stringify(JSON.parse(readFileSync(p, 'utf8')))}\n`);
  if (rel === 'sw.js' || rel === 'index.html') continue;
  files[rel] = sri(readFileSync(p));
}

// index.html: SRI on the entry module (the bundle, js/app.js, in place of app.js), the guard and
// the style sheet; a modulepreload with its hash for every other module, so that the whole graph
// is checked; the wasm's hash for js/build.js.
let html = readFileSync(join(out, 'index.html'), 'utf8');
const attr = (tag, rel) => {
  if (!files[rel]) throw new Error(`index.html refers to ${rel}, which is not in the bundle`);
  return `${tag} integrity="${files[rel]}"`;
};
const entry = '<script type="module" src="app.js"></script>';
const guard = '<script src="guard.js"></script>';
const style = '<link rel="stylesheet" href="style.css">';
for (const [needle] of [[entry], [guard], [style]]) {
  if (!html.includes(needle)) throw new Error(`index.html no longer has ${needle}`);
}
const modules = Object.keys(files).filter((f) => /\.(m?js)$/.test(f) && f !== entryFile && !CLASSIC.has(f));
const preload = modules.map((f) => `<link rel="modulepreload" href="${f}" integrity="${files[f]}">`).join('\n');
html = html
  .replace(guard, attr('<script src="guard.js"', 'guard.js') + '></script>')
  .replace(style, attr('<link rel="stylesheet" href="style.css"', 'style.css') + '>')
  .replace(entry, `${preload}\n<meta name="parley-wasm" content="${files['core/parley-core.wasm']}">\n`
    + attr(`<script type="module" src="${entryFile}"`, entryFile) + '></script>');
files['index.html'] = sri(html);
// With --server, a Content-Security-Policy for static servers that send none (python3 -m
// http.server): what parley-server sends (server/src/http.c), with that server in connect-src.
if (server !== null) {
  const origin = new URL(server).origin;
  const ws = origin.replace(/^http/, 'ws');
  const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    + `img-src 'self' data: blob:; connect-src 'self' ${origin} ${ws}; media-src 'self' blob:; `
    + "object-src 'none'; base-uri 'none'; form-action 'self'";
  html = html.replace('<meta charset="utf-8">', `<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="${csp}">`);
}
const version = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
html = html.replace('<head>', `<head>\n<meta name="parley-build" content="${version}">`);
files['index.html'] = sri(html);
writeFileSync(join(out, 'index.html'), html);

// sw.js: the same list, with the version, in its one replaced line.
const swPath = join(out, 'sw.js');
const sw = readFileSync(swPath, 'utf8');
const marker = /^const BUILD = null;.*$/m;
if (!marker.test(sw)) throw new Error('sw.js has no "const BUILD = null;" line to fill in');
writeFileSync(swPath, await minifyScript(sw.replace(marker, `const BUILD = ${JSON.stringify({ version, files })};`), 'sw.js', { classic: true }));

const manifest = { version, files: { ...files, 'sw.js': sri(readFileSync(swPath)) } };
writeFileSync(join(out, 'build-manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
if (server !== null) writeFileSync(join(out, 'config.json'), `${JSON.stringify({ server: new URL(server).origin })}\n`);
console.log(`bundle ${version}: ${Object.keys(manifest.files).length} files in ${out}`);
