// The vault (docs/PROTOCOL.md section 12.8) in a real browser, through the page's own modules:
// records are bound to their names, the vault key's jobs use separate derived keys, and a vault
// in another format is refused with a plain message. The last test goes through the log-in form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { browserForTests, openPage } from '../lib/browser.mjs';
import { PASSWORD, WAIT, leave, logIn, person, signUp } from '../lib/people.mjs';

const server = serverForTests();
const chromium = browserForTests();

async function page() {
  const opened = await openPage(chromium.browser, `${server.url}/`);
  await opened.page.waitForFunction(() => document.getElementById('selftest').dataset.state === 'pass',
    null, { timeout: WAIT });
  return opened;
}

test('vault records cannot be swapped between names, and the vault key itself seals nothing', async () => {
  const { context, page: p, problems } = await page();
  try {
    const result = await p.evaluate(async () => {
      const core = await import('/core/parley.js');
      const { Vault } = await import('/js/vault.js');
      const key = core.randomBytes(32);
      const vault = await Vault.open('vaultswap', key.slice());
      const make = () => {
        const a = core.Account.create();
        a.generatePrekeys(1);
        return a;
      };
      const [me, bob, carol] = [make(), make(), make()];
      await vault.saveAccount(me);
      await vault.saveSession('bob', core.Session.outbound(me, bob.bundle()));
      await vault.saveSession('carol', core.Session.outbound(me, carol.bundle()));
      const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      const out = {
        bobOpens: hex((await vault.loadSession('bob')).peerIdentity()) === hex(bob.identityKey()),
        accountOpens: hex((await vault.loadAccount()).identityKey()) === hex(me.identityKey()),
      };
      const refused = async (fn) => {
        try {
          await fn();
          return false;
        } catch (e) {
          return e instanceof core.ParleyError;
        }
      };
      const rawBob = await vault.getRaw('session:bob');
      const rawCarol = await vault.getRaw('session:carol');
      // The record names' HMAC and the sealing keys are not the vault key.
      out.nameNotUnderVaultKey = vault.id('contacts') !== (() => {
        const d = new TextEncoder().encode('parley-record-v1:contacts');
        return btoa(String.fromCharCode(...core.hmac(key, d))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      })();
      out.sessionNotUnderVaultKey = await refused(() => core.Session.unseal(key, rawBob));
      await vault.putJson('contacts', { x: 1 });
      const rawContacts = await vault.getRaw('contacts');
      out.jsonNotUnderVaultKey = await refused(() => core.aeadOpen(key, rawContacts.subarray(0, 12),
        new TextEncoder().encode('contacts'), rawContacts.subarray(12)));
      // Swapped: each session record under the other peer's name.
      await vault.putRaw('session:bob', rawCarol);
      await vault.putRaw('session:carol', rawBob);
      out.swappedBobRefused = await refused(() => vault.loadSession('bob'));
      out.swappedCarolRefused = await refused(() => vault.loadSession('carol'));
      await vault.putRaw('account', rawBob);
      out.sessionAsAccountRefused = await refused(() => vault.loadAccount());
      // A JSON record moved under another name.
      await vault.putRaw('meta', rawContacts);
      out.jsonMovedRefused = await refused(() => vault.getJson('meta'));
      vault.close();
      return out;
    });
    assert.deepEqual(result, {
      bobOpens: true,
      accountOpens: true,
      nameNotUnderVaultKey: true,
      sessionNotUnderVaultKey: true,
      jsonNotUnderVaultKey: true,
      swappedBobRefused: true,
      swappedCarolRefused: true,
      sessionAsAccountRefused: true,
      jsonMovedRefused: true,
    });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a vault of an older or unknown format is refused with a plain message and left as it was', async () => {
  const { context, page: p, problems } = await page();
  try {
    const result = await p.evaluate(async () => {
      const core = await import('/core/parley.js');
      const { Vault, VaultError, FORMAT } = await import('/js/vault.js');
      const raw = (name, fn) => new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore('records');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const t = db.transaction('records', 'readwrite');
          const r = fn(t.objectStore('records'));
          t.oncomplete = () => {
            db.close();
            resolve(r && r.result);
          };
        };
      });
      const attempt = async (user) => {
        try {
          (await Vault.open(user, core.randomBytes(32))).close();
          return 'opened';
        } catch (e) {
          return e instanceof VaultError ? e.message : `other: ${e}`;
        }
      };
      await raw('parley-v1-vaultold', (s) => s.put(new Uint8Array([1, 2, 3]), 'AAAA'));
      await raw('parley-v1-vaultnew', (s) => s.put(FORMAT + 1, 'format'));
      const out = {
        format: FORMAT,
        fresh: await attempt('vaultfresh'),
        freshAgain: await attempt('vaultfresh'),
        old: await attempt('vaultold'),
        newer: await attempt('vaultnew'),
      };
      out.oldMark = await raw('parley-v1-vaultold', (s) => s.get('format')) ?? null;
      out.freshMark = await raw('parley-v1-vaultfresh', (s) => s.get('format'));
      return out;
    });
    assert.equal(result.format, 2);
    assert.equal(result.fresh, 'opened');
    assert.equal(result.freshAgain, 'opened');
    assert.equal(result.freshMark, 2, 'a new vault is marked with its format');
    assert.match(result.old, /older storage format/);
    assert.equal(result.oldMark, null, 'an old vault is left as it was');
    assert.match(result.newer, /does not know/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('logging in where an old-format vault is kept says so in plain words', async () => {
  const a = await person(server, 'vaultlogin');
  try {
    await signUp(a);
    await a.page.getByRole('button', { name: 'Log out' }).click();
    // The vault as the previous version left it: records, but no format mark.
    await a.page.evaluate(() => new Promise((resolve, reject) => {
      const req = indexedDB.open('parley-v1-vaultlogin', 1);
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const t = req.result.transaction('records', 'readwrite');
        t.objectStore('records').delete('format');
        t.oncomplete = () => {
          req.result.close();
          resolve();
        };
      };
    }));
    await logIn(a, { password: PASSWORD, expectApp: false });
    const error = a.page.locator('#auth-error');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    assert.match(await error.textContent(), /older storage format that this version of Parley cannot read/);
    assert.equal(await a.page.locator('#app-screen').isVisible(), false);
  } finally {
    await leave(a);
  }
});
