// What the browser keeps, and what happens when a peer's network goes away.
//
// 1. At rest: after two people chatted, everything the browser stores for the origin
//    (localStorage, sessionStorage, cookies, every IndexedDB database, store, key and value, the
//    Cache API, the origin private file system) is dumped and searched, in many encodings, for the
//    message texts, the passwords, the login secrets, the server tokens and the contact's
//    username. Every IndexedDB value must be an opaque sealed record (docs/PROTOCOL.md 12.8 and
//    section 6), and navigator.storage.persist() must have been asked for at log-in.
// 2. Network loss: Bob's machine loses its network (his browser runs in its own network namespace
//    whose link is taken down); Alice sees it, types meanwhile, and once Bob is back the chat
//    reconnects by itself and every message arrives exactly once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { isolatedNetwork, personIn } from '../lib/netns.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, connectPair, leave, person, send, signUp, texts, transcript, waitAllDelivered, waitConnected,
  waitForCount, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

// ---- dumping the origin's storage -------------------------------------------------------------

/**
 * Runs in the page: everything the origin stores that a page can read. Binary values (ArrayBuffer,
 * typed arrays, DataView, Blob) are given as hex, latin1 (one character per byte), UTF-8 and
 * UTF-16LE text, so that a plaintext hidden in bytes shows up as text.
 */
async function dumpOrigin() {
  const bytesOf = (u8, ctor) => ({
    type: 'bytes',
    ctor,
    length: u8.length,
    hex: Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join(''),
    latin1: Array.from(u8, (b) => String.fromCharCode(b)).join(''),
    utf8: new TextDecoder('utf-8').decode(u8),
    utf16le: new TextDecoder('utf-16le').decode(u8.subarray(0, u8.length - (u8.length % 2))),
  });
  const enc = async (v) => {
    if (v === null || v === undefined) return v ?? null;
    if (typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number' || typeof v === 'bigint') return { type: typeof v, value: String(v) };
    if (v instanceof ArrayBuffer) return bytesOf(new Uint8Array(v), 'ArrayBuffer');
    if (ArrayBuffer.isView(v)) return bytesOf(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), v.constructor.name);
    if (v instanceof Blob) return { blob: v.type, ...bytesOf(new Uint8Array(await v.arrayBuffer()), v.constructor.name) };
    if (v instanceof Date) return { type: 'Date', value: v.toISOString() };
    if (Array.isArray(v)) return Promise.all(v.map(enc));
    if (v instanceof Map) return { type: 'Map', entries: await Promise.all([...v].map(async ([k, x]) => [await enc(k), await enc(x)])) };
    if (v instanceof Set) return { type: 'Set', values: await Promise.all([...v].map(enc)) };
    if (typeof v === 'object') {
      return { type: 'object', entries: await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await enc(x)])) };
    }
    return { type: typeof v, value: String(v) };
  };
  const web = (s) => Array.from({ length: s.length }, (_, i) => ({ key: s.key(i), value: s.getItem(s.key(i)) }));
  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const out = {
    origin: location.origin,
    localStorage: web(localStorage),
    sessionStorage: web(sessionStorage),
    cookie: document.cookie,
    indexedDB: [],
    caches: [],
    opfs: [],
    serviceWorkers: [],
  };
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open(info.name); // the current version: never an upgrade
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.onblocked = () => reject(new Error(`${info.name} is blocked`));
    });
    const stores = [];
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name, 'readonly').objectStore(name);
      const raw = [];
      await new Promise((resolve, reject) => {
        const cursor = store.openCursor();
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) {
            resolve();
            return;
          }
          raw.push([c.primaryKey, c.value]);
          c.continue();
        };
        cursor.onerror = () => reject(cursor.error);
      });
      const count = await req(db.transaction(name, 'readonly').objectStore(name).count());
      const records = [];
      for (const [key, value] of raw) records.push({ key: await enc(key), value: await enc(value) });
      stores.push({ name, keyPath: store.keyPath, autoIncrement: store.autoIncrement, indexes: [...store.indexNames], count, records });
    }
    db.close();
    out.indexedDB.push({ name: info.name, version: info.version, stores });
  }
  if (globalThis.caches) {
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      const entries = [];
      for (const r of await cache.keys()) {
        const res = await cache.match(r);
        entries.push({ url: r.url, body: await enc(await res.arrayBuffer()) });
      }
      out.caches.push({ name, entries });
    }
  }
  if (navigator.storage?.getDirectory) {
    const walk = async (dir, path) => {
      for await (const [name, handle] of dir.entries()) {
        if (handle.kind === 'file') out.opfs.push({ path: `${path}/${name}`, body: await enc(await handle.getFile()) });
        else await walk(handle, `${path}/${name}`);
      }
    };
    await walk(await navigator.storage.getDirectory(), '');
  }
  if (navigator.serviceWorker) {
    out.serviceWorkers = (await navigator.serviceWorker.getRegistrations()).map((r) => r.scope);
  }
  return out;
}

/** The origin's storage as the page sees it, plus the cookies the browser context holds. */
async function dump(p) {
  const d = await p.page.evaluate(dumpOrigin);
  d.contextCookies = (await p.context.cookies()).map((c) => ({ ...c, expires: String(c.expires) }));
  return d;
}

/** Every string in the dump with where it is: [path, text]. */
function leaves(v, path = '$', out = []) {
  if (typeof v === 'string') out.push([path, v]);
  else if (typeof v === 'number' || typeof v === 'boolean') out.push([path, String(v)]);
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) leaves(x, `${path}.${k}`, out);
  return out;
}

// The base64 (and base64url) characters that depend only on `bytes`, for each of the three ways
// they can sit in a longer buffer.
function base64Forms(bytes) {
  const out = [];
  for (let shift = 0; shift < 3; shift += 1) {
    const s = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const core = s.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6));
    out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** The ways a secret could be written down: as text, escaped, or as bytes seen as text. */
function forms(secret) {
  const u8 = Buffer.from(secret, 'utf8');
  const u16 = Buffer.from(secret, 'utf16le');
  const json = JSON.stringify(secret).slice(1, -1);
  return [...new Set([
    secret,
    json,
    json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    encodeURIComponent(secret),
    u8.toString('latin1'),
    u8.toString('hex'),
    u16.toString('latin1'),
    u16.toString('hex'),
    ...base64Forms(u8),
  ])].filter((f) => f.length >= 6);
}

/** Where each secret ({label: text}) occurs in the dump: [{label, form, path}, ...]. */
function findSecrets(d, secrets) {
  const all = leaves(d);
  const hits = [];
  for (const [label, secret] of Object.entries(secrets)) {
    for (const f of forms(secret)) {
      for (const [path, text] of all) {
        if (text.includes(f)) hits.push({ label, form: f.slice(0, 24), path });
      }
    }
  }
  return hits;
}

const show = (hits) => hits.map((h) => `${h.label} (as "${h.form}…") at ${h.path}`);

/** Pearson's chi-square of the byte histogram against uniform bytes (255 degrees of freedom). */
function chiSquare(bytes) {
  const counts = new Array(256).fill(0);
  for (const b of bytes) counts[b] += 1;
  const expected = bytes.length / 256;
  return counts.reduce((sum, c) => sum + ((c - expected) ** 2) / expected, 0);
}
// Uniformly random bytes give 255 on average (standard deviation 22.6); 400 is over 5 standard
// deviations above (Wilson-Hilferty), while any structured plaintext is far beyond it.
const CHI_SQUARE_MAX = 400;

const bytesOfDump = (v) => Buffer.from(v.hex, 'hex');

/** Wraps navigator.storage.persist() before the app's code runs (every page of the context), and loads the page again. */
async function spyOnPersist(p) {
  await p.context.addInitScript(() => {
    window.persistCalls = [];
    const proto = globalThis.StorageManager?.prototype;
    if (!proto?.persist) return;
    const original = proto.persist;
    proto.persist = function persist(...args) {
      const call = { at: Date.now(), result: null };
      window.persistCalls.push(call);
      const result = original.apply(this, args);
      Promise.resolve(result).then((r) => { call.result = r; }, (e) => { call.result = `error: ${e}`; });
      return result;
    };
  });
  await p.page.reload();
  await p.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
}

/** The server token (from the WebSocket's auth frame) and the login secret (sign-up body). */
function serverSecrets(p) {
  const auth = p.frames.filter((f) => f.dir === 'sent' && f.payload.includes('"auth"'))
    .map((f) => JSON.parse(f.payload).token);
  const signup = p.requests.filter((r) => r.url.endsWith('/api/signup')).map((r) => JSON.parse(r.body).password);
  assert.ok(auth.length >= 1 && typeof auth[0] === 'string' && auth[0].length > 20, `${p.name}: the token was captured`);
  assert.equal(signup.length, 1, `${p.name}: the sign-up request was captured`);
  return { token: auth[auth.length - 1], loginSecret: signup[0] };
}

/** Problems other than network errors of requests that went out while the network was away. */
function unexpected(problems) {
  return problems.filter((p) => !/^request failed: .* net::ERR_|^console error: Failed to load resource: net::ERR_/.test(p));
}

test('nothing readable at rest: every stored value is a sealed record, no message, password, token or contact name; persist() is asked for', async (t) => {
  const tag = `zq${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const passwords = { a: `alice-Vault-pass-${tag}`, b: `bob-Vault-pass-${tag}` };
  const a = await person(server, uniqueName('alice'), { password: passwords.a });
  const b = await person(server, uniqueName('bob'), { password: passwords.b });
  try {
    await Promise.all([spyOnPersist(a), spyOnPersist(b)]);
    for (const p of [a, b]) {
      assert.deepEqual(await p.page.evaluate(() => window.persistCalls), [], `${p.name}: no persist() before log-in`);
    }
    await Promise.all([signUp(a), signUp(b)]);
    for (const p of [a, b]) {
      await p.page.waitForFunction(() => window.persistCalls.length > 0, null, { timeout: WAIT })
        .catch(() => assert.fail(`${p.name}: navigator.storage.persist() was not called at log-in`));
      const calls = await p.page.evaluate(() => window.persistCalls);
      t.diagnostic(`${p.name}: persist() called ${calls.length} time(s), answered ${JSON.stringify(calls.map((c) => c.result))}`);
    }

    await connectPair(a, b);
    const steps = [
      ['a', `${tag} alpha: the eagle lands at midnight`],
      ['b', `${tag} bravo: Ünïcödé sécret 🔐 naïve café`],
      ['a', `${tag} charlie: the safe code is 4417-9023-5581`],
      ['b', `${tag} delta: meet at the old mill, bring the blue folder and the spare keys to the boathouse`],
      ['a', `${tag} echo: 日本語のひみつ and Ελληνικά μυστικά`],
      ['b', `${tag} foxtrot: last one`],
    ];
    for (const [who, text] of steps) {
      const [from, to] = who === 'a' ? [a, b] : [b, a];
      await send(from, text);
      await waitForMessage(to.page, text);
    }
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    // Both sides have stored the last message and its receipt.
    assert.deepEqual(texts(await transcript(a.page)).map((m) => m.text), steps.map((s) => s[1]));

    const server_ = { a: serverSecrets(a), b: serverSecrets(b) };
    const secrets = {
      tag,
      ...Object.fromEntries(steps.map(([, text], i) => [`message ${i + 1}`, text])),
      'a distinctive piece of a message': 'the eagle lands',
      "alice's password": passwords.a,
      "bob's password": passwords.b,
      "alice's login secret": server_.a.loginSecret,
      "bob's login secret": server_.b.loginSecret,
      "alice's server token": server_.a.token,
      "bob's server token": server_.b.token,
    };

    for (const [me, peer] of [[a, b], [b, a]]) {
      const d = await dump(me);
      const dbName = `parley-v1-${me.name}`;

      // What the origin holds besides IndexedDB: nothing secret (listed for the record).
      t.diagnostic(`${me.name}: localStorage ${d.localStorage.length} item(s), sessionStorage ${d.sessionStorage.length}, `
        + `document.cookie ${d.cookie.length} chars, context cookies ${d.contextCookies.length}, caches ${d.caches.length}, `
        + `OPFS files ${d.opfs.length}, service workers ${d.serviceWorkers.length}`);

      // The vault as docs/PROTOCOL.md 12.8 describes it: one database named after its own user,
      // one store, HMAC-named records.
      assert.deepEqual(d.indexedDB.map((db) => db.name), [dbName], `${me.name}: one database, ${dbName}`);
      const [db] = d.indexedDB;
      assert.deepEqual(db.stores.map((s) => s.name), ['records']);
      const [store] = db.stores;
      assert.deepEqual(store.indexes, [], 'no indexes (they would hold keys derived from values)');
      assert.equal(store.records.length, store.count, 'the cursor saw every record');

      // Positive control: the dump holds the vault's records (account, contacts, session, history
      // and its chunk count at least, beside the format mark).
      assert.ok(store.records.length >= 6, `${me.name}: ${store.records.length} records`);
      t.diagnostic(`${me.name}: ${store.records.length} records, ${store.records.reduce((n, r) => n + (r.value.length || 0), 0)} bytes`);

      const format = store.records.filter((r) => r.key === 'format');
      assert.equal(format.length, 1, 'one format mark');
      assert.deepEqual(format[0].value, { type: 'number', value: '2' }, 'format 2 in the clear');
      // The device id (docs/PROTOCOL.md 14.4), the only other value in the clear: a number the
      // server knows too.
      const device = store.records.filter((r) => r.key === 'device');
      assert.equal(device.length, 1, 'one device mark');
      assert.equal(device[0].value?.type, 'number');
      assert.ok(Number(device[0].value.value) >= 1 && Number(device[0].value.value) <= 0x7fffffff);
      // Calls (docs/PROTOCOL.md 12.17): the identity's DTLS certificate, in the clear because the
      // browser never lets its private key out: {v: 1, identity: the public identity key, cert}.
      const certs = store.records.filter((r) => r.key === 'call-certificate');
      assert.equal(certs.length, 1, 'one call certificate');
      const certFields = Object.fromEntries(certs[0].value.entries);
      assert.deepEqual(Object.keys(certFields).sort(), ['cert', 'identity', 'v']);
      assert.deepEqual(certFields.v, { type: 'number', value: '1' });
      assert.match(certFields.identity, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(certFields.cert, { type: 'object', entries: [] }, 'an RTCCertificate (no readable fields)');
      const sealed = store.records.filter((r) => r.key !== 'format' && r.key !== 'device' && r.key !== 'call-certificate');
      const pooled = [];
      let accounts = 0;
      let sessions = 0;
      for (const r of sealed) {
        assert.match(String(r.key), /^[A-Za-z0-9_-]{43}$/, `record key ${JSON.stringify(r.key)} is an HMAC (base64url, 43 characters)`);
        assert.equal(r.value?.type, 'bytes', `record ${r.key} holds bytes`);
        assert.equal(r.value.ctor, 'Uint8Array', `record ${r.key} is a Uint8Array`);
        const bytes = bytesOfDump(r.value);
        // JSON record: nonce (12) || ciphertext (>= 1) || tag (16). State record (section 6):
        // 0x01 || kind || nonce (12) || ciphertext || tag (16), kind A (account) or S (session).
        assert.ok(bytes.length >= 29, `record ${r.key}: ${bytes.length} bytes is too short for a sealed record`);
        if (bytes[0] === 0x01 && bytes[1] === 0x41 && bytes.length > 3000) {
          accounts += 1;
          pooled.push(bytes.subarray(2));
        } else if (bytes[0] === 0x01 && bytes[1] === 0x53 && bytes.length >= 30) {
          sessions += 1;
          pooled.push(bytes.subarray(2));
        } else {
          pooled.push(bytes);
        }
      }
      assert.equal(accounts, 1, `${me.name}: one sealed account (0x01 'A', with its 100 prekeys: over 3000 bytes)`);
      assert.ok(sessions >= 1, `${me.name}: a sealed session (0x01 'S')`);
      // Everything after those two header bytes looks like uniformly random bytes: nonces and
      // AES-GCM ciphertext. Plain keys with their ids and flags, or JSON, would not.
      const all = Buffer.concat(pooled);
      assert.ok(all.length >= 2560, `enough bytes for the test (${all.length})`);
      const chi = chiSquare(all);
      t.diagnostic(`${me.name}: chi-square of ${all.length} stored bytes against uniform: ${chi.toFixed(1)}`);
      assert.ok(chi < CHI_SQUARE_MAX, `${me.name}: the stored bytes are not uniformly random (chi-square ${chi.toFixed(1)})`);
      // Control: the same measure on a plaintext of that size is far off.
      const plain = Buffer.from(JSON.stringify(steps).repeat(Math.ceil(all.length / JSON.stringify(steps).length))).subarray(0, all.length);
      assert.ok(chiSquare(plain) > 10 * CHI_SQUARE_MAX, 'the chi-square measure tells plaintext apart');

      // No secret anywhere, in any encoding.
      const hits = findSecrets(d, secrets);
      assert.deepEqual(show(hits), [], `${me.name}: a secret is stored readable`);
      // The contact's username is nowhere (record names are HMACs); one's own username only in
      // the database's name, which the vault format names after the user (12.8).
      assert.deepEqual(show(findSecrets(d, { "the contact's username": peer.name })), [], `${me.name}: the contact's name is stored readable`);
      const own = findSecrets(d, { 'own username': me.name });
      // Positive control: the search does find a string that is there.
      assert.ok(own.some((h) => h.path === '$.indexedDB[0].name'), 'the search finds the own username in the database name');
      assert.deepEqual(show(own.filter((h) => h.path !== '$.indexedDB[0].name')), [], `${me.name}: own username stored outside the database name`);
    }

    // Positive control of the whole dump and search: plaintext planted in the ways the app could
    // have stored it (a Uint8Array, an ArrayBuffer of UTF-16, a Blob, a string in a nested object,
    // localStorage, sessionStorage, a cookie) is found, then removed.
    const planted = steps[0][1];
    await a.page.evaluate(async (text) => {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open('storage-test-control', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('s');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const u16 = new Uint16Array([...text].flatMap((c) => { const s = []; for (let i = 0; i < c.length; i += 1) s.push(c.charCodeAt(i)); return s; }));
      await new Promise((resolve, reject) => {
        const tx = db.transaction('s', 'readwrite');
        tx.objectStore('s').put(new Uint8Array([1, 2, 3, ...new TextEncoder().encode(text), 4]), 'u8');
        tx.objectStore('s').put(u16.buffer, 'u16');
        tx.objectStore('s').put(new Blob([`x${text}`]), 'blob');
        tx.objectStore('s').put({ deep: [{ text }] }, 'object');
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
      localStorage.setItem('control', text);
      sessionStorage.setItem(`control ${text}`, '1');
      document.cookie = `control=${encodeURIComponent(text)}; path=/`;
    }, planted);
    try {
      const d = await dump(a);
      const hits = findSecrets(d, { planted });
      const where = new Set(hits.map((h) => h.path.replace(/\.(hex|latin1|utf8|utf16le)$/, '')));
      const control = d.indexedDB.findIndex((db) => db.name === 'storage-test-control');
      assert.ok(control >= 0, 'the control database is dumped');
      const recs = d.indexedDB[control].stores[0].records;
      const path = (key) => `$.indexedDB[${control}].stores[0].records[${recs.findIndex((r) => r.key === key)}].value`;
      for (const key of ['u8', 'u16', 'blob']) assert.ok(where.has(path(key)), `planted ${key} found: ${[...where].join(', ')}`);
      assert.ok([...where].some((p) => p.startsWith(path('object'))), 'planted object found');
      assert.ok([...where].some((p) => p.startsWith('$.localStorage')), 'planted localStorage item found');
      assert.ok([...where].some((p) => p.startsWith('$.sessionStorage')), 'planted sessionStorage key found');
      assert.ok([...where].some((p) => p.startsWith('$.cookie')), 'planted cookie found in document.cookie');
      assert.ok([...where].some((p) => p.startsWith('$.contextCookies')), 'planted cookie found in the context cookies');
    } finally {
      await a.page.evaluate(async (text) => {
        localStorage.removeItem('control');
        sessionStorage.removeItem(`control ${text}`);
        document.cookie = 'control=; path=/; max-age=0';
        await new Promise((resolve) => {
          const r = indexedDB.deleteDatabase('storage-test-control');
          r.onsuccess = resolve;
          r.onerror = resolve;
        });
      }, planted);
    }

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

// ---- a network that goes away ---------------------------------------------------------------------

// Why a network namespace: Playwright's context.setOffline(true) (DevTools network emulation) does
// not touch what is already connected in this Chromium. Tried with Bob offline for 40 s: his
// signaling WebSocket stayed open, his WebRTC data channel too, both chat headers kept saying
// "connected" and a message Alice sent meanwhile was delivered; only new HTTP requests failed.
// So Bob's Chromium runs in a network namespace of its own, joined to this machine by a veth pair,
// and losing the network is taking his end of that link down: nothing he sends or is sent gets
// through any more (the WebSocket to the server and the WebRTC packets alike), with no close or
// reset on either side, and his browser sees its interface go away (navigator.onLine false), as
// when a laptop drops off Wi-Fi. Bob opens the same origin as Alice (http://127.0.0.1:PORT): a
// forwarder inside his namespace relays to one on this machine's end of the link, which relays to
// the server. This needs root (CAP_NET_ADMIN), as these tests run.
// tests/lib/netns.mjs builds it (and waits for the namespace's addresses to settle before a
// browser starts there: one started too early had its module loads fail with
// net::ERR_NETWORK_CHANGED, the "no log-in form" this test once saw).

/**
 * Waits for the log-in form. Once in a full CI run (not reproduced in 25 loads through the
 * namespace's relays, nor in 10 runs of this file) a page here never showed it within 20 s; which
 * page, and why, is not known. Such a page is told about in the log, with what it had loaded and
 * what failed, and loaded once more: the page load is not what this test is about. (A failed
 * request would still fail the test at the end, through `problems`.)
 */
async function loaded(t, p) {
  const login = p.page.getByRole('button', { name: 'Log in' });
  try {
    await login.waitFor({ state: 'visible', timeout: 15000 });
  } catch {
    t.diagnostic(`${p.name}: no log-in form after 15 s; loaded ${JSON.stringify(p.requests.map((r) => r.url))}; problems ${JSON.stringify(p.problems)}; loading it again`);
    await p.page.reload();
    await login.waitFor({ state: 'visible', timeout: WAIT });
  }
}

const chatState = (page) => page.evaluate(() => ({
  status: document.getElementById('chat-status').textContent,
  presence: [...document.querySelectorAll('#contacts .presence')].map((e) => e.dataset.state),
  presenceText: [...document.querySelectorAll('#contacts .presence')].map((e) => e.textContent),
  onLine: navigator.onLine,
}));

test('a peer who loses the network: shown, messages typed meanwhile wait encrypted, and after reconnecting all arrive once and in order', { timeout: 420000 }, async (t) => {
  const network = await isolatedNetwork(server.port);
  let a;
  let b;
  try {
    a = await person(server, uniqueName('alice'));
    b = await personIn(network, server, uniqueName('bob'));
    await Promise.all([loaded(t, a), loaded(t, b)]);
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    const before = [
      ['a', 'before 1: are you there?'],
      ['b', 'before 2: yes, on the train'],
      ['a', 'before 3: the tunnel is coming'],
    ];
    for (const [who, text] of before) {
      const [from, to] = who === 'a' ? [a, b] : [b, a];
      await send(from, text);
      await waitForMessage(to.page, text);
    }
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);

    // Bob's network goes away.
    const t0 = Date.now();
    network.down();
    await b.page.waitForFunction(() => !navigator.onLine, null, { timeout: WAIT });

    // Alice sees that the chat is no longer connected, in the header and in the conversation list.
    await a.page.waitForFunction(() => !document.getElementById('chat-status').textContent.startsWith('connected')
      && [...document.querySelectorAll('#contacts .presence')].every((e) => e.dataset.state !== 'connected'),
    null, { timeout: 90000 }).catch(async () => {
      assert.fail(`alice still shows bob connected after his network went away: ${JSON.stringify(await chatState(a.page))}`);
    });
    const shownA = await chatState(a.page);
    t.diagnostic(`alice shows the loss after ${Date.now() - t0} ms: ${JSON.stringify(shownA)}`);
    assert.ok(['connecting…', 'online, connecting…', `${b.name} is offline; messages wait for them on the server`].includes(shownA.status),
      `alice's chat header: ${shownA.status}`);
    assert.equal(shownA.presence.length, 1, 'one conversation in the list');
    assert.ok(['connecting', 'online', 'offline', 'hidden'].includes(shownA.presence[0]), `alice's list: ${shownA.presence[0]}`);
    // Bob's own chat is not connected either (his end of the link failed too).
    await b.page.waitForFunction(() => !document.getElementById('chat-status').textContent.startsWith('connected'),
      null, { timeout: 90000 });
    t.diagnostic(`bob meanwhile: ${JSON.stringify(await chatState(b.page))}, header "${await b.page.locator('#connection').textContent()}"`);

    // Alice types three messages; Bob one. They wait.
    const offline = ['while away 1: I will keep writing', 'while away 2: ✈ nothing is lost', 'while away 3: see you on the other side'];
    for (const text of offline) await send(a, text);
    const bobOffline = 'bob while away: typed in the tunnel';
    await send(b, bobOffline);
    const queued = (await transcript(a.page)).slice(-3);
    assert.deepEqual(queued.map((m) => m.text), offline);
    // Alice's server is reachable: her messages wait for Bob there (sealed), "sent". Bob's
    // cannot leave his device: "sending".
    await a.page.waitForFunction(() => [...document.querySelectorAll('#transcript .delivery')].slice(-3)
      .every((e) => e.dataset.state === 'sent'), null, { timeout: WAIT });
    assert.deepEqual(await a.page.locator('#transcript .delivery').evaluateAll((els) => els.slice(-3).map((e) => e.textContent)),
      ['sent', 'sent', 'sent']);
    assert.equal((await transcript(b.page)).at(-1).state, 'queued', "bob's message waits on his device");
    assert.equal(await b.page.locator('#transcript .delivery').last().textContent(), 'sending');

    // They wait encrypted: nothing of them is readable in Alice's storage.
    const d = await dump(a);
    assert.ok(d.indexedDB[0]?.stores[0]?.records.length >= 6, 'alice\'s vault was dumped');
    assert.deepEqual(show(findSecrets(d, Object.fromEntries(offline.map((text, i) => [`queued ${i + 1}`, text])))), [],
      'a queued message is stored readable');

    // Some time without network, still shown as not connected and nothing delivered.
    await new Promise((r) => setTimeout(r, 5000));
    assert.deepEqual((await transcript(a.page)).slice(-3).map((m) => m.state), ['sent', 'sent', 'sent'], 'none delivered yet');
    assert.ok(!(await chatState(a.page)).status.startsWith('connected'));

    // Bob's network comes back: the chat reconnects by itself.
    const t1 = Date.now();
    network.up();
    await Promise.all([waitConnected(a.page, 120000), waitConnected(b.page, 120000)]);
    t.diagnostic(`reconnected ${Date.now() - t1} ms after the network came back`);
    await waitForMessage(b.page, offline[2], 60000);
    await waitForMessage(a.page, bobOffline, 60000);
    await Promise.all([waitAllDelivered(a.page, 60000), waitAllDelivered(b.page, 60000)]);

    // After reconnecting, both write again.
    const later = [
      ['b', 'after 1: back online, got all three'],
      ['a', 'after 2: great'],
    ];
    for (const [who, text] of later) {
      const [from, to] = who === 'a' ? [a, b] : [b, a];
      await send(from, text);
      await waitForMessage(to.page, text);
    }
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    // Let anything sent twice have its chance to show up.
    await new Promise((r) => setTimeout(r, 3000));

    const total = before.length + offline.length + 1 + later.length;
    await waitForCount(a.page, total);
    await waitForCount(b.page, total);
    const asA = (who) => (who === 'a' ? 'You' : b.name);
    const asB = (who) => (who === 'b' ? 'You' : a.name);
    // Each transcript is in arrival order: what was typed while away comes after what the other
    // typed before.
    const wantA = [
      ...before.map(([w, text]) => ({ text, sender: asA(w) })),
      ...offline.map((text) => ({ text, sender: 'You' })),
      { text: bobOffline, sender: b.name },
      ...later.map(([w, text]) => ({ text, sender: asA(w) })),
    ];
    const wantB = [
      ...before.map(([w, text]) => ({ text, sender: asB(w) })),
      { text: bobOffline, sender: 'You' },
      ...offline.map((text) => ({ text, sender: a.name })),
      ...later.map(([w, text]) => ({ text, sender: asB(w) })),
    ];
    const ta = await transcript(a.page);
    const tb = await transcript(b.page);
    assert.deepEqual(texts(ta), wantA, "alice's transcript: everything once, in order");
    assert.deepEqual(texts(tb), wantB, "bob's transcript: everything once, in order");
    assert.deepEqual(ta.filter((m) => m.sender === 'You').map((m) => m.state), ta.filter((m) => m.sender === 'You').map(() => 'delivered'));
    assert.deepEqual(tb.filter((m) => m.sender === 'You').map((m) => m.state), tb.filter((m) => m.sender === 'You').map(() => 'delivered'));

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(unexpected(b.problems), [], 'bob: no console errors but requests the lost network failed');
  } finally {
    await Promise.all([leave(a), leave(b)]);
    network.cleanup();
  }
});
