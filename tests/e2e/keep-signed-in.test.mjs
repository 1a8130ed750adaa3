// "Keep me signed in on this device" (docs/PROTOCOL.md section 12.13): a reload opens the vault
// without the password, from a record whose key WebCrypto will not export; log-out, or a log-in
// without the box, forgets it; a server that refuses the kept login secret sends the person back
// to the log-in form with a plain message, and a server out of reach keeps it for "Try again".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { api, uniqueName } from '../lib/api.mjs';
import {
  confirmSignUp, WAIT, connectPair, leave, logIn, openChat, person, send, signUp, transcript, until, waitAllDelivered,
  waitForApp,
} from '../lib/people.mjs';

const server = serverForTests();
const KEEP = 'Keep me signed in on this device';

const keepBox = (p) => p.page.getByRole('checkbox', { name: KEEP });

/** Signs up with "Keep me signed in on this device" ticked. */
async function signUpKept(p) {
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await keepBox(p).isChecked(), false, 'the box is not ticked by default');
  await p.page.getByLabel('Username').fill(p.name);
  await p.page.getByLabel('Password').fill(p.password);
  await keepBox(p).check();
  await confirmSignUp(p.page, p.password);
  await waitForApp(p.page);
  await until(() => kept(p), { message: 'the sign-in to be kept' });
}

/**
 * What this browser keeps to sign in, as the page's script sees it (null when nothing: the
 * database is not there). Looking never creates the database.
 */
function kept(p) {
  return p.page.evaluate(async () => {
    if (!(await indexedDB.databases()).some((d) => d.name === 'parley-keep-v1')) return null;
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('parley-keep-v1');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const record = await new Promise((resolve, reject) => {
      const r = db.transaction('kept', 'readonly').objectStore('kept').get('login');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
    if (!record) return { record: false };
    const exported = [];
    for (const format of ['raw', 'jwk']) {
      try {
        await crypto.subtle.exportKey(format, record.key);
        exported.push(format);
      } catch {
        // refused, as it must be
      }
    }
    return {
      record: true,
      fields: Object.keys(record).sort(),
      version: record.version,
      username: record.username,
      isCryptoKey: record.key instanceof CryptoKey,
      extractable: record.key.extractable,
      algorithm: { name: record.key.algorithm.name, length: record.key.algorithm.length },
      usages: [...record.key.usages].sort(),
      exported,
      sizes: [record.vaultKey.length, record.loginSecret.length],
    };
  });
}

/**
 * The vault key and login secret of 12.1 for the person's password, and what the kept record's
 * ciphertexts open to with the kept key and the associated data of 12.13 (hex; the page's script
 * can use the key, which is what the README says).
 */
function keptAgainstDerived(p) {
  return p.page.evaluate(async ({ name, password }) => {
    const core = await import('/core/parley.js');
    const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    const out = core.passwordDerive(password, core.passwordSalt(`${location.origin}\u0000${name}`), 64);
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('parley-keep-v1');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const record = await new Promise((resolve) => {
      const r = db.transaction('kept', 'readonly').objectStore('kept').get('login');
      r.onsuccess = () => resolve(r.result);
    });
    db.close();
    const open = async (box, ad) => {
      try {
        return hex(new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.subarray(0, 12),
          additionalData: new TextEncoder().encode(ad) }, record.key, box.subarray(12))));
      } catch {
        return 'refused';
      }
    };
    return {
      vaultKey: hex(out.subarray(0, 32)),
      loginSecret: hex(out.subarray(32)),
      keptVaultKey: await open(record.vaultKey, `parley-keep-v1:vault-key:${name}`),
      keptLoginSecret: await open(record.loginSecret, `parley-keep-v1:login-secret:${name}`),
      swapped: await open(record.vaultKey, `parley-keep-v1:login-secret:${name}`),
      otherUser: await open(record.vaultKey, 'parley-keep-v1:vault-key:someone'),
      inClear: [record.vaultKey, record.loginSecret].some((b) => hex(b).includes(hex(out.subarray(0, 16)))
        || hex(b).includes(hex(out.subarray(32, 48)))),
    };
  }, { name: p.name, password: p.password });
}

/** Log-in requests the person's page made since index `from`. */
const logins = (p, from) => p.requests.slice(from)
  .filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/login');

async function logOut(p) {
  await p.page.getByRole('button', { name: 'Log out' }).click();
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
}

/** After a reload: the log-in form is shown and stays (no kept sign-in to open the app with). */
async function expectLogInForm(p) {
  await p.page.waitForFunction(() => document.getElementById('selftest').dataset.state === 'pass'
    && !document.getElementById('auth-screen').hidden, null, { timeout: WAIT });
  await p.page.waitForTimeout(500);
  assert.equal(await p.page.getByRole('button', { name: 'Log in' }).isEnabled(), true);
  assert.equal(await p.page.locator('#app-screen').isVisible(), false, 'the app is not opened');
  assert.equal(await keepBox(p).isChecked(), false);
}

test('Keep me signed in: a reload opens the vault without the password; after log-out it asks again', async () => {
  const a = await person(server, uniqueName('keepa'));
  const b = await person(server, uniqueName('keepb'));
  try {
    await Promise.all([signUpKept(a), signUp(b)]);
    await connectPair(a, b);
    await send(a, 'written before the reload');
    await waitAllDelivered(a.page);

    // Only the username is in the clear; the key is a CryptoKey that cannot be exported.
    const k = await kept(a);
    assert.deepEqual(k, {
      record: true,
      fields: ['key', 'loginSecret', 'username', 'vaultKey', 'version'],
      version: 1,
      username: a.name,
      isCryptoKey: true,
      extractable: false,
      algorithm: { name: 'AES-GCM', length: 256 },
      usages: ['decrypt', 'encrypt'],
      exported: [],
      sizes: [60, 60],
    });
    const d = await keptAgainstDerived(a);
    assert.equal(d.keptVaultKey, d.vaultKey, 'the kept vault key is the one of 12.1');
    assert.equal(d.keptLoginSecret, d.loginSecret, 'the kept login secret is the one of 12.1');
    assert.equal(d.swapped, 'refused', 'the purpose is bound by the associated data');
    assert.equal(d.otherUser, 'refused', 'the username is bound by the associated data');
    assert.equal(d.inClear, false);

    // The reload: straight into the app, nothing typed, the chat and its history there.
    const before = a.requests.length;
    await a.page.reload();
    await waitForApp(a.page);
    assert.equal(await a.page.getByLabel('Password').inputValue(), '', 'no password was typed');
    const again = logins(a, before);
    assert.equal(again.length, 1, 'one log-in with the kept login secret');
    // The kept login secret, and the device id this browser logged in with at sign-up.
    const device = JSON.parse(a.requests.find((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/signup').body).device;
    assert.ok(Number.isSafeInteger(device));
    assert.deepEqual(JSON.parse(again[0].body), { username: a.name, password: Buffer.from(d.loginSecret, 'hex').toString('base64url'), device });
    assert.equal(await a.page.locator('#whoami').textContent(), a.name);
    await openChat(a, b.name);
    assert.deepEqual((await transcript(a.page)).map((m) => m.text), ['written before the reload']);
    await send(a, 'written after the reload');

    // A second tab waits for the first, then takes over without the password.
    const tab = await a.context.newPage();
    await tab.goto(`${server.url}/`);
    await tab.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });
    await tab.getByRole('button', { name: 'Use Parley in this tab' }).click();
    await waitForApp(tab);
    await a.page.getByRole('heading', { name: 'Parley is open in another tab' }).waitFor({ timeout: WAIT });
    await tab.close();
    await waitForApp(a.page); // the lock came back: the kept sign-in again

    // Log-out forgets it: the reload asks for the password.
    await logOut(a);
    await until(async () => await kept(a) === null, { message: 'the kept sign-in to be forgotten' });
    await a.page.reload();
    await expectLogInForm(a);
    assert.equal(await kept(a), null);
    await logIn(a);
    assert.equal(await kept(a), null, 'a log-in without the box keeps nothing');
    assert.deepEqual(a.problems.filter((x) => x.startsWith('page error')), []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('a server out of reach keeps the sign-in for "Try again"; a log-in without the box forgets it', async () => {
  const a = await person(server, uniqueName('keepnet'));
  try {
    await signUpKept(a);
    const route = '**/api/login';
    await a.page.route(route, (r) => r.abort('connectionrefused'));
    await a.page.reload();
    // Out of reach: the vault opens without the server (tests/e2e/offline.test.mjs), and says so.
    const note = a.page.getByRole('status').filter({ hasText: 'Server unreachable' });
    await note.waitFor({ timeout: WAIT });
    await a.page.locator('#app-screen').waitFor({ state: 'visible', timeout: WAIT });
    assert.equal((await kept(a))?.record, true, 'kept while the server cannot be reached');
    await a.page.unroute(route);
    await note.getByRole('button', { name: 'Try again' }).click();
    await waitForApp(a.page);
    await note.waitFor({ state: 'hidden', timeout: WAIT });
    const banner = a.page.getByRole('alert').filter({ hasText: 'Could not sign you in' });

    // The server busy: still kept. Logging in with the password, the box cleared, forgets it.
    await a.page.route(route, (r) => r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"busy","message":"busy"}}' }));
    await a.page.reload();
    await banner.waitFor({ timeout: WAIT });
    assert.match(await banner.textContent(), /The server is busy/);
    assert.equal((await kept(a))?.record, true);
    assert.equal(await keepBox(a).isChecked(), true, 'the box shows what is kept');
    await a.page.unroute(route);
    await keepBox(a).uncheck();
    await logIn(a);
    assert.equal(await kept(a), null, 'a log-in without the box forgets what was kept');
    await a.page.reload();
    await expectLogInForm(a);
  } finally {
    await leave(a);
  }
});

test('a kept sign-in the server no longer takes (password changed elsewhere) is forgotten, with a plain message', async () => {
  const a = await person(server, uniqueName('keeppw'));
  try {
    await signUpKept(a);
    const { loginSecret } = await keptAgainstDerived(a);
    const oldSecret = Buffer.from(loginSecret, 'hex').toString('base64url');
    // Somewhere else, the password is changed: the old login secret no longer logs in.
    const login = await api(server.url, 'POST', '/api/login', { body: { username: a.name, password: oldSecret } });
    assert.equal(login.status, 200);
    const changed = await api(server.url, 'POST', '/api/password', {
      token: login.body.token, body: { oldPassword: oldSecret, newPassword: 'a new secret from elsewhere' },
    });
    assert.equal(changed.status, 200);
    // The open page is logged out by the server; it had signed in a moment ago, so it does not
    // try again by itself.
    await a.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
    await a.page.reload();
    const error = a.page.locator('#auth-error');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await error.textContent(),
      'Please log in again: the server no longer takes the sign-in kept in this browser (the password may have been changed).');
    assert.equal(await a.page.locator('#app-screen').isVisible(), false);
    assert.equal(await kept(a), null, 'the refused sign-in is forgotten');
    assert.equal(await a.page.getByLabel('Username').inputValue(), a.name);
    assert.equal(await keepBox(a).isChecked(), false);
    await a.page.reload();
    await expectLogInForm(a);
  } finally {
    await leave(a);
  }
});
