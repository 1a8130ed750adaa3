// Crash safety: kill -9 during a burst of sign-ups and key uploads, restart on the same data
// folder: every acknowledged write is there and SQLite's integrity check passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbIntegrity, startServer } from '../lib/server.mjs';
import { api, newIdentity, newUser, oneTimePrekeys, signedPrekey, uniqueName } from '../lib/api.mjs';

test('kill -9 during writes loses no acknowledged write', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
  try {
    // 40 parallel sign-ups and 4 uploaders from one address: above the default 32 HTTP
    // connections per address (a refused round would count as acknowledged below).
    const s1 = await startServer({ dataDir, args: ['--max-http-per-address', '128'] });
    // Uploaders exist before the burst.
    const uploaders = [];
    for (let i = 0; i < 4; i++) {
      const u = await newUser(s1.url, 'up');
      const id = newIdentity();
      uploaders.push({ ...u, id, acked: 0 });
    }
    const signedUp = [];
    let killed = false;
    const signups = Array.from({ length: 40 }, async () => {
      const username = uniqueName('crash');
      try {
        const r = await api(s1.url, 'POST', '/api/signup', { body: { username, password: 'crash test pw' } });
        if (r.status === 201 && !killed) signedUp.push({ username, token: r.body.token });
      } catch { /* connection cut by the kill */ }
    });
    const uploads = uploaders.map(async (u) => {
      for (let round = 0; round < 50 && !killed; round++) {
        try {
          const r = await api(s1.url, 'PUT', '/api/keys', { token: u.token, body: { identityKey: u.id.publicKey, signedPrekey: signedPrekey(u.id, round), oneTimePrekeys: oneTimePrekeys(round * 4, 4) } });
          if (r.status === 200 && !killed) u.acked = round + 1;
        } catch { return; }
      }
    });
    // Kill once some writes are acknowledged but many are still in flight.
    while (signedUp.length < 5 || uploaders.some((u) => u.acked < 3)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    killed = true;
    s1.proc.kill('SIGKILL');
    await s1.exited;
    await Promise.allSettled([...signups, ...uploads]);
    assert.ok(signedUp.length >= 5);

    const check = await dbIntegrity(dataDir);
    assert.equal(check, 'ok');

    const s2 = await startServer({ dataDir });
    try {
      for (const u of signedUp) {
        // The token is still valid (same key, same account) and the account exists.
        const r = await api(s2.url, 'GET', '/api/keys/me/count', { token: u.token });
        assert.equal(r.status, 200, `account ${u.username} survived`);
      }
      for (const u of uploaders) {
        const r = await api(s2.url, 'GET', '/api/keys/me/count', { token: u.token });
        assert.equal(r.status, 200);
        // Every acknowledged upload is there (one more may have committed unacknowledged).
        assert.ok(r.body.count >= u.acked * 4, `${u.username}: ${r.body.count} >= ${u.acked * 4}`);
        assert.ok(r.body.count <= (u.acked + 1) * 4);
      }
      const after = await dbIntegrity(dataDir);
      assert.equal(after, 'ok');
    } finally {
      await s2.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
