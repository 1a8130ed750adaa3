// GET /api/config and the --stun flag: the STUN servers the pages are told to use; the
// --reserved-names file; the per-address connection limits (--max-per-address, --max-http-per-address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from '../lib/server.mjs';
import { api } from '../lib/api.mjs';

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args, { env: { ...process.env, ...env } });
    let err = '';
    let out = '';
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', (code) => resolve({ code, err, out }));
  });
}

async function config(url) {
  const res = await fetch(`${url}/api/config`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  return res.json();
}

test('without --stun the pages get no ICE servers (host candidates only: nothing outside the network is contacted)', async () => {
  const s = await startServer();
  try {
    assert.deepEqual(await config(s.url), { iceServers: [] });
    const post = await fetch(`${s.url}/api/config`, { method: 'POST' });
    assert.equal(post.status, 405);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--stun servers (repeatable, or PARLEY_STUN) are handed to the pages in RTCPeerConnection form', async () => {
  const s = await startServer({ args: ['--stun', 'stun:stun.example.org:3478', '--stun', 'stuns:[2001:db8::1]:5349', '--stun', 'stun:192.0.2.7'] });
  try {
    assert.deepEqual(await config(s.url), {
      iceServers: [{ urls: ['stun:stun.example.org:3478', 'stuns:[2001:db8::1]:5349', 'stun:192.0.2.7'] }],
    });
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
  const e = await startServer({ env: { PARLEY_STUN: 'stun:stun.example.net' } });
  try {
    assert.deepEqual(await config(e.url), { iceServers: [{ urls: ['stun:stun.example.net'] }] });
  } finally {
    assert.equal((await e.stop()).code, 0);
  }
});

test('a malformed or unsupported --stun value, or more than 4, is refused at start with a clear reason', async () => {
  const bad = [
    '', 'stun:', 'stun:host:', 'stun:host:0', 'stun:host:65536', 'stun:host:80x', 'turn:host:3478',
    'http://host', 'stun:-host', 'stun:.host', 'stun:ho st', 'stun:host/path', 'stun:[]', 'stun:[::1',
    'stun:"quoted"', 'stun:host\\x', `stun:${'a'.repeat(130)}`, 'stun:user@host',
    'stun:[1]', 'stun:[:]', 'stun:[...]', 'stun:a..b', 'stun:a-', 'stun:a.', 'stun:-a.org', 'stun:a.-b.org',
    'stun:999.999.999.999', 'stun:10.0.0', 'stun:host:00080', 'stun:host:080', 'stun:host:123456',
    `stun:${'a'.repeat(64)}.org`,
  ];
  for (const value of bad) {
    const r = await run(['--listen', '127.0.0.1:0', '--stun', value]);
    assert.equal(r.code, 2, `refused: ${JSON.stringify(value)}`);
    assert.match(r.err, /invalid STUN server|empty/, `said why: ${JSON.stringify(value)} -> ${r.err}`);
  }
  // Accepted: names with hyphens inside labels, IPv4 and IPv6 literals, ports 1..65535.
  for (const value of ['stun:a-b.example.org:3478', 'stun:10.0.0.1:3478', 'stuns:[::1]', 'stun:[2001:db8::7]:65535', 'stun:x1.org:1']) {
    const s = await startServer({ args: ['--stun', value] });
    try {
      assert.deepEqual(await config(s.url), { iceServers: [{ urls: [value] }] }, value);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  }
  const five = Array.from({ length: 5 }, (_, i) => ['--stun', `stun:s${i}.example.org`]).flat();
  const r = await run(['--listen', '127.0.0.1:0', ...five]);
  assert.equal(r.code, 2);
  assert.match(r.err, /too many STUN servers \(at most 4\)/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
});

test('--reserved-names FILE (or PARLEY_RESERVED_NAMES) reserves more names, refused with their look-alikes; the defaults stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-reserved-'));
  const signup = (url, username) => api(url, 'POST', '/api/signup', { body: { username, password: 'long enough' } });
  const refused = (r, name) => {
    assert.equal(r.status, 409, `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'username_reserved', name);
  };
  try {
    const file = join(dir, 'reserved.txt');
    writeFileSync(file, "# the operator's own names\n\nAcme\n  helpdesk\t# the help desk\r\nceo\n   \n# the end");
    const s = await startServer({ args: ['--reserved-names', file] });
    try {
      for (const name of ['acme', 'ACME', 'acrne', 'a.c.m.e', 'helpdesk', 'he1pdesk', 'help-desk', 'ceo', 'ce0', 'c.e.o',
        'admin', 'adm1n', 'support', 'system', 'parley']) {
        refused(await signup(s.url, name), name);
      }
      for (const name of ['acmes', 'helpdesks', 'ceos']) {
        assert.equal((await signup(s.url, name)).status, 201, name);
      }
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
    const e = await startServer({ env: { PARLEY_RESERVED_NAMES: file } });
    try {
      refused(await signup(e.url, 'he1pdesk'), 'he1pdesk');
      refused(await signup(e.url, 'adm1n'), 'adm1n');
    } finally {
      assert.equal((await e.stop()).code, 0);
    }
    // Without the file, acme is a name like any other.
    const plain = await startServer();
    try {
      assert.equal((await signup(plain.url, 'acme')).status, 201);
    } finally {
      assert.equal((await plain.stop()).code, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a --reserved-names file with a bad line, or that cannot be read, is refused at start: exit 2, saying where', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-reserved-'));
  try {
    const cases = [
      ['acme\nnot valid\n', /line 2: 'not valid' is not a username/],
      ['# names\nab\n', /line 2: 'ab' is not a username/],
      ['1abc\n', /line 1: '1abc' is not a username/],
      ['-abc\n', /line 1: '-abc' is not a username/],
      [`${'x'.repeat(33)}\n`, /line 1: 'x+' is not a username/],
      ['caf\u00e9\n', /line 1: 'caf.+' is not a username/],
      ['a/b/c\n', /line 1: 'a\/b\/c' is not a username/],
      ['ok\u0000name\n', /line 1: a NUL byte/],
      [`${'a'.repeat(300)}\n`, /line 1: too long/],
      [Array.from({ length: 1025 }, (_, i) => `name${i}`).join('\n'), /more than 1024 names/],
    ];
    for (const [i, [text, why]] of cases.entries()) {
      const file = join(dir, `bad${i}.txt`);
      writeFileSync(file, text);
      const r = await run(['--listen', '127.0.0.1:0', '--data', dir, '--reserved-names', file]);
      assert.equal(r.code, 2, `refused: ${JSON.stringify(text.slice(0, 40))}`);
      assert.match(r.err, /reserved names file/);
      assert.match(r.err, why, r.err);
      assert.ok(r.err.includes(file), r.err);
      const e = await run(['--listen', '127.0.0.1:0', '--data', dir], { PARLEY_RESERVED_NAMES: file });
      assert.equal(e.code, 2);
      assert.match(e.err, /\(from PARLEY_RESERVED_NAMES\)/);
    }
    mkdirSync(join(dir, 'folder'));
    for (const path of [join(dir, 'missing.txt'), join(dir, 'folder')]) {
      const r = await run(['--listen', '127.0.0.1:0', '--data', dir, '--reserved-names', path]);
      assert.equal(r.code, 2, path);
      assert.match(r.err, /cannot read the reserved names file/, r.err);
    }
    // 1024 names are fine.
    const full = join(dir, 'full.txt');
    writeFileSync(full, Array.from({ length: 1024 }, (_, i) => `name${i}`).join('\n'));
    const s = await startServer({ args: ['--reserved-names', full] });
    const r = await api(s.url, 'POST', '/api/signup', { body: { username: 'narne1023', password: 'long enough' } });
    assert.equal(r.body.error.code, 'username_reserved');
    assert.equal((await s.stop()).code, 0);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--reserved-names FILE/);
    assert.match(help.out, /PARLEY_RESERVED_NAMES/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--max-per-address (1..19500) and --max-http-per-address (1..128), as flags or variables: out-of-range values are refused at start, the limits are accepted, --help lists them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-peraddr-'));
  try {
    const bad = [
      ['max-per-address', 19500, ['0', '19501', '-1', '1.5', 'x', '', ' 5']],
      ['max-http-per-address', 128, ['0', '129', '-2', '64k', '+5']],
    ];
    for (const [flag, max, values] of bad) {
      for (const value of values) {
        const r = await run(['--listen', '127.0.0.1:0', '--data', dir, `--${flag}`, value]);
        assert.equal(r.code, 2, `--${flag} ${JSON.stringify(value)} refused`);
        assert.match(r.err, new RegExp(`invalid --${flag} .*expected 1\\.\\.${max}`), r.err);
      }
      const variable = `PARLEY_${flag.toUpperCase().replaceAll('-', '_')}`;
      const r = await run(['--listen', '127.0.0.1:0', '--data', dir], { [variable]: '0' });
      assert.equal(r.code, 2, `${variable}=0 refused`);
      assert.match(r.err, new RegExp(`invalid --${flag} '0'.*from ${variable}`), r.err);
    }
    for (const args of [['--max-per-address', '19500', '--max-http-per-address', '128'], ['--max-per-address', '1', '--max-http-per-address', '1']]) {
      const s = await startServer({ args });
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.equal((await s.stop()).code, 0);
    }
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const word of ['--max-per-address', '--max-http-per-address', 'PARLEY_MAX_PER_ADDRESS', 'PARLEY_MAX_HTTP_PER_ADDRESS']) {
      assert.ok(help.out.includes(word), `--help names ${word}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
