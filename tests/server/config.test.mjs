// GET /api/config and the --stun flag: the STUN servers the pages are told to use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serverBinary, startServer } from '../lib/server.mjs';

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args, { env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, err }));
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
