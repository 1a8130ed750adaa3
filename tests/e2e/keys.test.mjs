// Prekey upkeep in the page (docs/PROTOCOL.md section 12.7): an upload that reached the server
// while the page never learnt of it must not block every later upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { WAIT, leave, logIn, person, signUp, until } from '../lib/people.mjs';

const server = serverForTests();

/**
 * Hands out `count` of the user's one-time prekeys, lowest ids first, as bundle fetches would:
 * straight in the database, because the server lets nobody take more than 3 at a time, nor 50
 * from one user within the hour (docs/API.md), and this test needs 181 gone.
 */
function drain(name, count) {
  execFileSync('sqlite3', [join(server.dataDir, 'parley.db'),
    `PRAGMA busy_timeout=5000; DELETE FROM one_time_prekeys WHERE user_id = (SELECT id FROM users WHERE username = '${name}') ` +
    `AND key_id IN (SELECT key_id FROM one_time_prekeys WHERE user_id = (SELECT id FROM users WHERE username = '${name}') ORDER BY key_id LIMIT ${count});`]);
}

/** The directory's count of the page's own one-time prekeys, asked with the page's token. */
function ownCount(page) {
  return page.evaluate(async () => (await import('/js/api.js')).request('GET', '/api/keys/me/count'));
}

test('keys uploaded by a page that died before noting it are taken as published, and uploads go on', async () => {
  const a = await person(server, 'keysalice');
  try {
    await signUp(a);
    drain(a.name, 81); // 19 left: low
    assert.equal((await ownCount(a.page)).low, true);

    // The next upload reaches the server, but the page never hears back (as if it had died).
    let lost = 0;
    await a.page.route('**/api/keys', async (route) => {
      if (route.request().method() !== 'PUT') return route.fallback();
      const res = await route.fetch();
      assert.equal(res.status(), 200);
      lost += 1;
      return route.abort('connectionreset');
    });
    await a.page.reload();
    await logIn(a); // the log-in tops the directory up
    await until(() => lost === 1, { message: 'the lost upload' });
    await a.page.unroute('**/api/keys');
    assert.equal((await ownCount(a.page)).count, 119);

    // The older keys are handed out; 19 of the lost upload's are left, and it is low again.
    drain(a.name, 100);
    assert.deepEqual(await ownCount(a.page).then((c) => [c.count, c.low]), [19, true]);
    await a.page.reload();
    await logIn(a);
    const after = await until(async () => {
      const c = await ownCount(a.page);
      return c.low ? null : c;
    }, { timeout: WAIT, message: 'the directory topped up again' });
    assert.ok(after.count >= 100, `the directory holds ${after.count} keys`);

    // And the next log-in finds nothing more to upload.
    const puts = () => a.requests.filter((r) => r.method === 'PUT' && r.url.endsWith('/api/keys')).length;
    const before = puts();
    await a.page.reload();
    await logIn(a);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(puts(), before, 'no upload when the directory is stocked');
  } finally {
    await leave(a);
  }
});
