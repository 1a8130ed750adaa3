// TURN relays (--turn, --turn-secret-file, --turn-ttl; docs/API.md "TURN relays"): GET /api/config
// hands a logged-in page the relays with a credential of coturn's use-auth-secret scheme, computed
// here again independently; without a valid token there is none; the username part is opaque and
// differs between accounts; issuing is throttled per account; bad flags stop the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from '../lib/server.mjs';
import { newUser } from '../lib/api.mjs';

const SECRET = 'a-secret-shared-with-coturn-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'parley-turn-'));
const secretFile = join(dir, 'turn-secret');
writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TURN_ARGS = ['--turn', 'turn:relay.example.org:3478?transport=udp', '--turn', 'turns:relay.example.org:5349?transport=tcp',
  '--turn-secret-file', secretFile, '--stun', 'stun:relay.example.org:3478'];

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args, { env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, err }));
  });
}

async function config(url, token, expect = 200) {
  const res = await fetch(`${url}/api/config`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  assert.equal(res.status, expect);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return res.json();
}

test('a logged-in page gets the relays with a credential coturn accepts; the username part names nobody', async () => {
  const s = await startServer({ args: TURN_ARGS });
  try {
    const alice = await newUser(s.url, 'alice');
    const bob = await newUser(s.url, 'bob');
    const before = Math.floor(Date.now() / 1000);
    const a = await config(s.url, alice.token);
    const b = await config(s.url, bob.token);
    for (const [who, c] of [[alice, a], [bob, b]]) {
      assert.deepEqual(c.iceServers[0], { urls: ['stun:relay.example.org:3478'] });
      const turn = c.iceServers[1];
      assert.deepEqual(turn.urls, ['turn:relay.example.org:3478?transport=udp', 'turns:relay.example.org:5349?transport=tcp']);
      const m = /^(\d+):([A-Za-z0-9_-]{22})$/.exec(turn.username);
      assert.ok(m, `username ${turn.username}`);
      const expiry = Number(m[1]);
      assert.equal(c.turnExpiresAt, expiry);
      assert.ok(expiry >= before + 3600 && expiry <= Math.ceil(Date.now() / 1000) + 3600, 'default lifetime: one hour');
      // coturn's check, done here with node:crypto: base64(HMAC-SHA1(secret, username)).
      assert.equal(turn.credential, createHmac('sha1', SECRET).update(turn.username).digest('base64'));
      assert.ok(!turn.username.toLowerCase().includes(who.username.toLowerCase()));
      assert.ok(!JSON.stringify(c).includes(who.username));
      assert.ok(!JSON.stringify(c).includes(SECRET));
    }
    const opaque = (c) => c.iceServers[1].username.split(':')[1];
    assert.notEqual(opaque(a), opaque(b), 'two accounts get different opaque parts');
    assert.equal(opaque(await config(s.url, alice.token)), opaque(a), 'one account keeps its own');
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('without a token, or with a bad one, the answer has the STUN servers and no relay credential', async () => {
  const s = await startServer({ args: TURN_ARGS });
  try {
    for (const token of [undefined, 'not-a-token', 'eyJhbGciOiJub25lIn0.e30.']) {
      const c = await config(s.url, token);
      assert.deepEqual(c, { iceServers: [{ urls: ['stun:relay.example.org:3478'] }] });
    }
    const alice = await newUser(s.url, 'alice');
    const res = await fetch(`${s.url}/api/config`, { headers: { Authorization: `Basic ${alice.token}` } });
    assert.deepEqual(await res.json(), { iceServers: [{ urls: ['stun:relay.example.org:3478'] }] });
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--turn-ttl sets the lifetime; issuing is throttled per account (20, then one a minute)', async () => {
  const s = await startServer({ args: [...TURN_ARGS, '--turn-ttl', '120'] });
  try {
    const alice = await newUser(s.url, 'alice');
    const bob = await newUser(s.url, 'bob');
    const c = await config(s.url, alice.token);
    const now = Date.now() / 1000;
    assert.ok(c.turnExpiresAt > now + 110 && c.turnExpiresAt <= now + 121);
    for (let i = 1; i < 20; i += 1) await config(s.url, alice.token);
    const res = await fetch(`${s.url}/api/config`, { headers: { Authorization: `Bearer ${alice.token}` } });
    assert.equal(res.status, 429);
    assert.equal((await res.json()).error.code, 'rate_limited');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    // Bob's allowance is his own, and a page without a token is never throttled.
    assert.ok((await config(s.url, bob.token)).iceServers[1].credential);
    await config(s.url);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('the environment variables work like the flags', async () => {
  const s = await startServer({ env: { PARLEY_TURN: 'turn:192.0.2.9', PARLEY_TURN_SECRET_FILE: secretFile, PARLEY_TURN_TTL: '600' } });
  try {
    const alice = await newUser(s.url, 'alice');
    const c = await config(s.url, alice.token);
    assert.deepEqual(c.iceServers.map((x) => x.urls), [['turn:192.0.2.9']]);
    assert.ok(c.turnExpiresAt <= Date.now() / 1000 + 601);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('bad TURN flags stop the start with a clear reason', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-turn-data-'));
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n');
  const spaced = join(dir, 'spaced');
  writeFileSync(spaced, 'two words\n');
  const cases = [
    [['--turn', 'turn:relay.example.org'], /--turn and --turn-secret-file go together/],
    [['--turn-secret-file', secretFile], /--turn and --turn-secret-file go together/],
    [['--turn', 'stun:relay.example.org', '--turn-secret-file', secretFile], /invalid TURN server/],
    [['--turn', 'turns:relay.example.org?transport=udp', '--turn-secret-file', secretFile], /invalid TURN server/],
    [['--turn', 'turn:relay.example.org?transport=sctp', '--turn-secret-file', secretFile], /invalid TURN server/],
    [['--turn', 'turn:relay.example.org:0', '--turn-secret-file', secretFile], /invalid TURN server/],
    [['--turn', 'turn:relay.example.org', '--turn-secret-file', join(dir, 'missing')], /cannot open the TURN secret file/],
    [['--turn', 'turn:relay.example.org', '--turn-secret-file', empty], /must hold one line/],
    [['--turn', 'turn:relay.example.org', '--turn-secret-file', spaced], /must hold one line/],
    [['--turn', 'turn:relay.example.org', '--turn-secret-file', secretFile, '--turn-ttl', '59'], /--turn-ttl must be 60\.\.86400/],
    [['--turn', 'turn:relay.example.org', '--turn-secret-file', secretFile, '--turn-ttl', '86401'], /turn-ttl/],
    [[...Array.from({ length: 5 }, (_, i) => ['--turn', `turn:r${i}.example.org`]).flat(), '--turn-secret-file', secretFile], /too many TURN servers/],
  ];
  try {
    for (const [args, reason] of cases) {
      const r = await run(['--listen', '127.0.0.1:0', '--data', data, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} started`);
      assert.match(r.err, reason, args.join(' '));
      assert.ok(!r.err.includes(SECRET));
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
