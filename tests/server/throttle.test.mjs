// Throttling of sign-up, login and password attempts: per account and per client address,
// answered with 429 and Retry-After, and never a permanent lockout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { api, newUser } from '../lib/api.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  if (server) await server.stop();
});

test('wrong passwords for one account are throttled, then allowed again after Retry-After', async () => {
  const u = await newUser(server.url);
  let throttled;
  for (let i = 0; i < 12 && !throttled; i++) {
    const r = await api(server.url, 'POST', '/api/login', { body: { username: u.username, password: 'wrong password' } });
    if (r.status === 429) throttled = r;
    else assert.equal(r.status, 401);
  }
  assert.ok(throttled, 'the 11th attempt is throttled');
  assert.equal(throttled.body.error.code, 'rate_limited');
  const wait = Number(throttled.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 10, `Retry-After ${wait}`);
  // Even the right password waits: the bucket is per account, whoever asks.
  const right = await api(server.url, 'POST', '/api/login', { body: { username: u.username, password: u.password } });
  assert.equal(right.status, 429);
  // Another account is not affected.
  const other = await newUser(server.url);
  assert.equal((await api(server.url, 'POST', '/api/login', { body: { username: other.username, password: other.password } })).status, 200);
  // Not a lockout: after Retry-After the right password works.
  await new Promise((r) => setTimeout(r, (Number(right.headers.get('retry-after')) + 0.5) * 1000));
  assert.equal((await api(server.url, 'POST', '/api/login', { body: { username: u.username, password: u.password } })).status, 200);
});

test('one client address is throttled across accounts', async () => {
  let throttled;
  for (let i = 0; i < 200 && !throttled; i++) {
    // Invalid usernames are refused cheaply, after the address check.
    const r = await api(server.url, 'POST', '/api/signup', { body: { username: 'X', password: 'long enough' } });
    if (r.status === 429) throttled = r;
    else assert.equal(r.status, 400);
  }
  assert.ok(throttled, 'the address is throttled');
  assert.equal(throttled.body.error.code, 'rate_limited');
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  // Other endpoints (health, static files) are not throttled.
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  // One token a second comes back.
  await new Promise((r) => setTimeout(r, (Number(throttled.headers.get('retry-after')) + 0.2) * 1000));
  const r = await api(server.url, 'POST', '/api/signup', { body: { username: 'X', password: 'long enough' } });
  assert.equal(r.status, 400);
});
