// parley-server as a self-hoster runs it: static files, security headers, path traversal,
// errors, configuration and shutdown. Drives the real binary over real HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serverBinary, startServer } from '../lib/server.mjs';
import { rawRequest } from '../lib/http.mjs';

const SECRET = 'TOP-SECRET-OUTSIDE-WEB-ROOT';
let tmp;
let web;
let server;

before(async () => {
  // A web root inside a temporary folder, with a secret file next to it that must never be served.
  tmp = mkdtempSync(join(tmpdir(), 'parley-static-'));
  web = join(tmp, 'web');
  cpSync(join(ROOT, 'web'), web, { recursive: true });
  mkdirSync(join(web, 'empty-dir'));
  writeFileSync(join(tmp, 'secret.txt'), SECRET);
  writeFileSync(join(web, '.hidden'), SECRET);
  server = await startServer({ web, dataDir: join(tmp, 'data') });
});

after(async () => {
  if (server) await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function checkSecurityHeaders(h, where) {
  const csp = h.get('content-security-policy') || '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/, `${where}: CSP allows wasm`);
  assert.doesNotMatch(csp, /unsafe-inline/, `${where}: CSP has no unsafe-inline`);
  assert.doesNotMatch(csp, /'unsafe-eval'/, `${where}: CSP has no unsafe-eval`);
  assert.match(csp, /frame-ancestors 'none'/, `${where}: frame-ancestors`);
  assert.match(csp, /object-src 'none'/, `${where}: object-src`);
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${where}: nosniff`);
  assert.equal(h.get('referrer-policy'), 'no-referrer', `${where}: referrer policy`);
  assert.equal(h.get('cross-origin-opener-policy'), 'same-origin', `${where}: COOP`);
}

test('GET /healthz answers 200 JSON with security headers', async () => {
  const r = await fetch(`${server.url}/healthz`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const body = await r.json();
  assert.equal(body.status, 'ok');
  assert.match(body.version, /^\d+\.\d+\.\d+$/);
  checkSecurityHeaders(r.headers, '/healthz');
});

test('a keep-alive connection announces its timeout and stays usable within it', async () => {
  // Responses say "Keep-Alive: timeout=1" and the server keeps an idle connection 2 s: a client
  // that honours the header never reuses a connection the server is closing at that moment
  // (with Civetweb's default 500 ms and no header, Node's fetch failed about 1 in 100 times
  // when it reused a connection right at 500 ms).
  const { connect } = await import('node:net');
  const sock = connect(server.port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => { got += d.toString('latin1'); });
  const closed = new Promise((r) => sock.on('close', r));
  const answers = (n) => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if ((got.match(/HTTP\/1\.1 200/g) || []).length >= n) { clearInterval(tick); resolve(); }
      if (Date.now() - t0 > 5000) { clearInterval(tick); reject(new Error(`no answer ${n}: ${got.slice(0, 300)}`)); }
    }, 10);
  });
  const req = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: keep-alive\r\n\r\n`;
  sock.write(req);
  await answers(1);
  assert.match(got, /\r\nKeep-Alive: timeout=1\r\n/i);
  await new Promise((r) => setTimeout(r, 1200)); // past Civetweb's default of 500 ms
  sock.write(req);
  await answers(2);
  await closed; // and then the server closes it (after 2 s idle)
});

test('idle connections that send nothing do not starve HTTP', async () => {
  // Each accepted connection holds a worker thread until its request is read; 20 idle ones took
  // every worker of a 16-thread pool and /healthz waited for them (up to the request timeout).
  const { connect } = await import('node:net');
  const idle = await Promise.all(Array.from({ length: 20 }, () => new Promise((resolve, reject) => {
    const sock = connect(server.port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  })));
  try {
    await new Promise((r) => setTimeout(r, 200)); // the server has accepted them
    const t0 = Date.now();
    const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.ok(Date.now() - t0 < 2000, `answered after ${Date.now() - t0} ms`);
  } finally {
    for (const sock of idle) sock.destroy();
  }
});

test('the page and its assets are served with the right MIME types and headers', async () => {
  const cases = [
    ['/', /^text\/html/],
    ['/index.html', /^text\/html/],
    ['/app.js', /^text\/javascript/],
    ['/style.css', /^text\/css/],
    ['/icon.svg', /^image\/svg\+xml/],
    ['/core/parley.js', /^text\/javascript/],
    ['/core/parley-core.js', /^text\/javascript/],
    ['/core/parley-core.wasm', /^application\/wasm$/],
  ];
  for (const [path, type] of cases) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type'), type, path);
    checkSecurityHeaders(r.headers, path);
    await r.arrayBuffer();
  }
  const wasm = new Uint8Array(await (await fetch(`${server.url}/core/parley-core.wasm`)).arrayBuffer());
  assert.deepEqual([...wasm.slice(0, 4)], [0x00, 0x61, 0x73, 0x6d], 'wasm magic number');
});

test('static files are gzipped for clients that accept it, byte-identical once decoded', async () => {
  const { readFileSync } = await import('node:fs');
  for (const path of ['/core/parley-core.wasm', '/app.js', '/style.css']) {
    const r = await fetch(`${server.url}${path}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-encoding'), 'gzip', `${path} is compressed`);
    checkSecurityHeaders(r.headers, path);
    const body = new Uint8Array(await r.arrayBuffer()); // fetch decodes gzip
    assert.deepEqual(body, new Uint8Array(readFileSync(join(web, path))), `${path} decodes to the file`);
  }
  const wasm = await fetch(`${server.url}/core/parley-core.wasm`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  await wasm.arrayBuffer();
  // Without Accept-Encoding: the plain file with its length.
  const plainRes = await rawRequest(server.port, 'GET /style.css HTTP/1.1');
  assert.equal(plainRes.status, 200);
  assert.equal(plainRes.headers['content-encoding'], undefined);
  assert.equal(Number(plainRes.headers['content-length']), readFileSync(join(web, 'style.css')).length);
});

test('HEAD answers headers only', async () => {
  const r = await rawRequest(server.port, 'HEAD /index.html HTTP/1.1');
  assert.equal(r.status, 200);
  assert.equal(r.body, '');
  assert.match(r.headers['content-type'], /^text\/html/);
});

test('folders are never listed', async () => {
  for (const path of ['/core/', '/empty-dir/', '/core']) {
    const r = await fetch(`${server.url}${path}`, { redirect: 'manual' });
    const text = await r.text();
    assert.ok([301, 302, 403, 404].includes(r.status), `${path}: status ${r.status}`);
    assert.doesNotMatch(text, /parley-core\.wasm|Index of/i, `${path}: no listing`);
    checkSecurityHeaders(r.headers, path);
  }
});

test('path traversal never escapes the web root', async () => {
  const attempts = [
    '/../secret.txt',
    '/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/..%2fsecret.txt',
    '/..%2Fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/..%5csecret.txt',
    '/core/../../secret.txt',
    '/core/%2e%2e/%2e%2e/secret.txt',
    '//../secret.txt',
    '/./../secret.txt',
    '/%252e%252e/secret.txt',
    '/.%2e/secret.txt',
    '/.hidden',
    '/%2ehidden',
    '/index.html%00.txt',
    '/..;/secret.txt',
  ];
  for (const path of attempts) {
    const r = await rawRequest(server.port, `GET ${path} HTTP/1.1`);
    assert.ok(r.status >= 400 && r.status < 500, `${path}: status ${r.status}`);
    assert.ok(!r.body.includes(SECRET), `${path}: leaked the secret`);
  }
  // The server is still serving afterwards.
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
});

test('errors are JSON with a code and a message', async () => {
  const missing = await fetch(`${server.url}/no-such-file.js`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type'), /^application\/json/);
  assert.equal((await missing.json()).error.code, 'not_found');
  checkSecurityHeaders(missing.headers, '404');

  const post = await fetch(`${server.url}/index.html`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal((await post.json()).error.code, 'method_not_allowed');

  const api = await fetch(`${server.url}/api/nothing-here`);
  assert.equal(api.status, 404);
  assert.equal((await api.json()).error.code, 'not_found');

  const hz = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
  assert.equal(hz.status, 405);
  await hz.arrayBuffer();

  const bad = await rawRequest(server.port, 'GET /../x HTTP/1.1');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error.code, 'invalid_path');
});

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args, { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('--help documents every flag; bad flags exit 2 with a reason', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--listen', '--data', '--web', '--log-level', 'PARLEY_LISTEN', 'PARLEY_DATA', 'PARLEY_WEB']) {
    assert.ok(help.out.includes(flag), `--help mentions ${flag}`);
  }
  const bogus = await run(['--bogus']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /unknown option --bogus/);
  const badListen = await run(['--listen', 'example.com:80']);
  assert.equal(badListen.code, 2);
  assert.match(badListen.err, /invalid listen address/);
  const badEnv = await run([], { PARLEY_LISTEN: '1.2.3.4:99999' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.err, /PARLEY_LISTEN/);
});

test('a missing web root is refused with a clear message', async () => {
  const r = await run(['--listen', '127.0.0.1:0', '--data', join(tmp, 'data2'), '--web', join(tmp, 'nope')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /web folder .* does not exist/);
});

test('a port already in use is refused with a clear message', async () => {
  const r = await run(['--listen', `127.0.0.1:${server.port}`, '--data', join(tmp, 'data3'), '--web', web]);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot start on 127\.0\.0\.1:\d+/);
});

test('IPv6 loopback works', async () => {
  const s = await startServer({ web, args: ['--listen', '[::1]:0'] });
  try {
    const r = await fetch(`http://[::1]:${s.port}/healthz`);
    assert.equal(r.status, 200);
    await r.json();
  } finally {
    await s.stop();
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} shuts the server down cleanly`, async () => {
    const s = await startServer({ web });
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const t0 = Date.now();
    const { code } = await s.stop(signal);
    assert.equal(code, 0, `exit code after ${signal}`);
    assert.ok(Date.now() - t0 < 10000, 'stopped within 10 s');
    assert.match(s.logs(), /shutting down/);
    assert.match(s.logs(), /stopped/);
  });
}
