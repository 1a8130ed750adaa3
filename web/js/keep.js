//# allFunctionsCalledOnLoad
// "Keep me signed in on this device" (docs/PROTOCOL.md section 12.13): the vault key and the
// login secret, sealed with AES-256-GCM under a key that WebCrypto made non-extractable. IndexedDB
// keeps that CryptoKey as it is, so the page can use it but never read its bytes. One kept
// sign-in per origin; log-out deletes it (the whole database, key included).
import { ApiError, request } from './api.js';
import { USERNAME_RE, fromB64u, toB64u, utf8 } from './encoding.js';
import { UserError } from './errors.js';

const DB = 'parley-keep-v1';
const STORE = 'kept';
const RECORD = 'login'; // the one record's key
const VERSION = 1;
const SEALED_BYTES = 12 + 32 + 16; // nonce, 32 secret bytes, GCM tag

/** A kept sign-in that ended for good (already forgotten); the message is for the person. */
export class KeptRefused extends UserError {}

/** WebCrypto only exists in a secure context (HTTPS, or http://localhost and 127.0.0.1). */
export function keepSupported() {
  return !!(globalThis.isSecureContext && globalThis.crypto?.subtle && globalThis.indexedDB);
}

// Reading never creates the database: an upgrade from nothing is aborted, and no database is
// left behind (the page keeps one database per user otherwise).
function openDb(create) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (create) req.result.createObjectStore(STORE);
      else req.transaction.abort();
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = (ev) => {
      ev.preventDefault();
      if (!create && req.error?.name === 'AbortError') resolve(null);
      else reject(req.error);
    };
    req.onblocked = () => reject(new Error('the local database is busy in another tab'));
  });
}

async function withStore(create, mode, fn) {
  const db = await openDb(create);
  if (!db) return undefined;
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
    });
  } finally {
    db.close();
  }
}

// The associated data names the user and what the ciphertext holds, so neither can be swapped.
const ad = (purpose, username) => utf8(`parley-keep-v1:${purpose}:${username}`);

async function seal(key, purpose, username, secret) {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: ad(purpose, username) }, key, secret));
  const out = new Uint8Array(12 + sealed.length);
  out.set(nonce);
  out.set(sealed, 12);
  return out;
}

async function open(key, purpose, username, box) {
  return new Uint8Array(await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: box.subarray(0, 12), additionalData: ad(purpose, username) }, key, box.subarray(12)));
}

function valid(r) {
  return !!r && r.version === VERSION && typeof r.username === 'string' && USERNAME_RE.test(r.username)
    && r.key instanceof CryptoKey && r.key.algorithm.name === 'AES-GCM'
    && r.vaultKey instanceof Uint8Array && r.vaultKey.length === SEALED_BYTES
    && r.loginSecret instanceof Uint8Array && r.loginSecret.length === SEALED_BYTES;
}

async function readRecord() {
  if (!keepSupported()) return null;
  const r = await withStore(false, 'readonly', (s) => s.get(RECORD));
  return valid(r) ? r : null;
}

/** The username of the sign-in kept in this browser, or null (none, or none this version reads). */
export async function keptUser() {
  try {
    return (await readRecord())?.username ?? null;
  } catch {
    return null;
  }
}

/**
 * After a log-in with the password: with a vault key, the sign-in is kept (a new non-extractable
 * key seals the vault key and the login secret of 12.1, replacing whatever was kept before; the
 * caller still owns and wipes vaultKey); without, any kept sign-in is forgotten.
 */
export async function keepOrForget(username, vaultKey, loginSecret) {
  if (!vaultKey) {
    await forgetKept();
    return;
  }
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const secret = fromB64u(loginSecret);
  try {
    const record = {
      version: VERSION,
      username,
      key,
      vaultKey: await seal(key, 'vault-key', username, vaultKey),
      loginSecret: await seal(key, 'login-secret', username, secret),
    };
    await withStore(true, 'readwrite', (s) => s.put(record, RECORD));
  } finally {
    secret.fill(0);
  }
}

/** Forgets the kept sign-in: the database goes, with the key in it. */
export function forgetKept() {
  if (!globalThis.indexedDB) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

/**
 * The vault key of the kept sign-in, without the server (the vault opens while it is out of
 * reach; app.js logs in with signInKept once it answers). The caller wipes it.
 */
export async function keptVaultKey(username) {
  const r = await readRecord();
  if (!r || r.username !== username) throw new KeptRefused('this browser no longer keeps you signed in.');
  try {
    return await open(r.key, 'vault-key', username, r.vaultKey);
  } catch {
    throw new KeptRefused('what this browser kept to sign you in could not be read.');
  }
}

/**
 * Logs in to the server with the kept login secret. Returns the server's answer and the vault
 * key (the caller's to wipe). A sign-in that can no longer work is forgotten and thrown as
 * KeptRefused; a server out of reach, busy or throttling is thrown as its ApiError, and kept.
 * `check` runs once logged in and may throw (the page has moved on): the vault key is wiped.
 * `device` is this browser's device id for the account (devices.js).
 */
export async function signInKept(username, check, device) {
  const r = await readRecord();
  if (!r || r.username !== username) throw new KeptRefused('this browser no longer keeps you signed in.');
  let vaultKey = null;
  let secret = null;
  try {
    try {
      vaultKey = await open(r.key, 'vault-key', username, r.vaultKey);
      secret = await open(r.key, 'login-secret', username, r.loginSecret);
    } catch {
      throw new KeptRefused('what this browser kept to sign you in could not be read.');
    }
    try {
      const auth = await request('POST', '/api/login', { username, password: toB64u(secret), device });
      check();
      return { auth, vaultKey };
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        throw new KeptRefused('the server no longer takes the sign-in kept in this browser (the password may have been changed).');
      }
      if (e instanceof ApiError && e.code === 'device_removed') {
        throw new KeptRefused('this browser was removed from your account on another of your devices.');
      }
      throw e;
    }
  } catch (e) {
    vaultKey?.fill(0);
    if (e instanceof KeptRefused) await forgetKept().catch(() => {});
    throw e;
  } finally {
    secret?.fill(0);
  }
}
