// The local vault: everything this browser keeps, in IndexedDB, sealed under the vault key that
// is derived from the password and never leaves the page. Record names are HMACs of their
// meaning, so not even the list of contacts is readable without the password.
import * as core from '../core/parley.js';
import { fromUtf8, randomId, toB64u, utf8 } from './encoding.js';

const STORE = 'records';

function openDb(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('the local database is busy in another tab'));
  });
}

function tx(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const store = t.objectStore(STORE);
    let result;
    Promise.resolve(fn(store)).then((r) => { result = r; }, reject);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
  });
}

const reqP = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

export class Vault {
  constructor(db, key, username) {
    this.db = db;
    this.key = key;
    this.username = username;
  }

  /** Opens (creating if needed) the vault of a user with the vault key. */
  static async open(username, vaultKey) {
    if (navigator.storage?.persist) {
      navigator.storage.persist().catch(() => {});
    }
    const db = await openDb(`parley-v1-${username}`);
    return new Vault(db, vaultKey, username);
  }

  static async exists(username) {
    if (indexedDB.databases) {
      const list = await indexedDB.databases();
      return list.some((d) => d.name === `parley-v1-${username}`);
    }
    return true;
  }

  // The opaque name of a record.
  id(name) {
    return toB64u(core.hmac(this.key, utf8(`parley-record-v1:${name}`)));
  }

  async getRaw(name) {
    const v = await tx(this.db, 'readonly', (s) => reqP(s.get(this.id(name))));
    return v instanceof Uint8Array ? v : (v ? new Uint8Array(v) : null);
  }

  async putRaw(name, bytes) {
    await tx(this.db, 'readwrite', (s) => reqP(s.put(bytes, this.id(name))));
  }

  async delete(name) {
    await tx(this.db, 'readwrite', (s) => reqP(s.delete(this.id(name))));
  }

  /** A JSON value sealed with AES-256-GCM; the record's name is the associated data. */
  async getJson(name, fallback = null) {
    const raw = await this.getRaw(name);
    if (!raw) return fallback;
    const plain = core.aeadOpen(this.key, raw.subarray(0, 12), utf8(name), raw.subarray(12));
    return JSON.parse(fromUtf8(plain));
  }

  // The sealed bytes of a JSON value for a record.
  sealJson(name, value) {
    const nonce = core.randomBytes(12);
    const sealed = core.aeadSeal(this.key, nonce, utf8(name), utf8(JSON.stringify(value)));
    const out = new Uint8Array(12 + sealed.length);
    out.set(nonce);
    out.set(sealed, 12);
    return out;
  }

  async putJson(name, value) {
    await this.putRaw(name, this.sealJson(name, value));
  }

  /** Writes several records in one transaction: all or none. entries: [[name, bytes], ...] */
  async putMany(entries) {
    const ids = entries.map(([name, bytes]) => [this.id(name), bytes]);
    await tx(this.db, 'readwrite', (s) => Promise.all(ids.map(([id, bytes]) => reqP(s.put(bytes, id)))));
  }

  /** The account (sealed by the core itself). */
  async loadAccount() {
    const raw = await this.getRaw('account');
    return raw ? core.Account.unseal(this.key, raw) : null;
  }

  async saveAccount(account) {
    await this.putRaw('account', account.seal(this.key));
  }

  accountRecord(account) {
    return ['account', account.seal(this.key)];
  }

  async loadSession(peer) {
    const raw = await this.getRaw(`session:${peer}`);
    return raw ? core.Session.unseal(this.key, raw) : null;
  }

  async saveSession(peer, session) {
    await this.putRaw(`session:${peer}`, session.seal(this.key));
  }

  sessionRecord(peer, session) {
    return [`session:${peer}`, session.seal(this.key)];
  }

  async deleteSession(peer) {
    await this.delete(`session:${peer}`);
  }

  close() {
    this.db.close();
    this.key.fill(0); // the vault key lives only while logged in
  }
}

export { randomId };
