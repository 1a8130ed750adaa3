//# allFunctionsCalledOnLoad
// The local vault: everything this browser keeps, in IndexedDB, sealed under keys derived from
// the vault key, which is derived from the password and never leaves the page. Record names are
// HMACs of their meaning, so not even the list of contacts is readable without the password.
//
// Format 2 (docs/PROTOCOL.md section 12.8): three jobs, three keys derived with HKDF from the vault
// key (record names; JSON records; the core's sealed state), and every record bound to its name
// (the name is the associated data of a JSON record; the core's sealed state is sealed under a
// key derived for that one record name), so records cannot be swapped between names.
import * as core from '../core/parley.js';
import { fromUtf8, toB64u, utf8 } from './encoding.js';

export const FORMAT = 2;
const FORMAT_KEY = 'format'; // stored in the clear (a number), beside the HMAC-named records
// This browser's device id for the account (docs/PROTOCOL.md 14.4), in the clear like the format
// mark: it is needed before the password unlocks anything (log-in names it), and the server knows it.
const DEVICE_KEY = 'device';
// The call certificate (calls-entry.js, 12.17), kept in the clear beside the records: the browser
// never lets its private key out to be sealed.
export const CALL_CERT_KEY = 'call-certificate';
const EMPTY = new Uint8Array(0);
const subkey = (vaultKey, label) => core.hkdf(vaultKey, EMPTY, utf8(label), 32);

/** A vault this version cannot read; the message is meant for the person. */
export class VaultError extends Error {}

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

// A new (empty) vault is marked with the current format; any other mark, or records without a
// mark (format 1), cannot be read by this version.
async function checkFormat(db) {
  const found = await tx(db, 'readwrite', async (s) => {
    const mark = await reqP(s.get(FORMAT_KEY));
    if (mark !== undefined) return mark;
    if (await reqP(s.count()) > 0) return 1;
    await reqP(s.put(FORMAT, FORMAT_KEY));
    return FORMAT;
  });
  if (found === FORMAT) return;
  if (typeof found === 'number' && found < FORMAT) {
    throw new VaultError('This browser holds data for this account in an older storage format that '
      + 'this version of Parley cannot read. To use the account in this browser, clear this '
      + 'site\'s data in the browser settings: the messages kept here are lost, and your contacts '
      + 'will see that your safety number changed.');
  }
  throw new VaultError('This browser holds data for this account in a storage format this version '
    + 'of Parley does not know (made by a newer version). Reload the page to get the current version.');
}

export class Vault {
  constructor(db, key, username) {
    this.db = db;
    this.key = key;
    this.username = username;
    this.nameKey = subkey(key, 'parley-vault-v2 record names');
    this.recordKey = subkey(key, 'parley-vault-v2 records');
  }

  /**
   * Opens (creating if needed) the vault of a user with the vault key. A vault in another format
   * (an older one has records but no format mark) is refused with a VaultError, and the vault key
   * is wiped.
   */
  static async open(username, vaultKey) {
    if (navigator.storage?.persist) {
      navigator.storage.persist().catch(() => {});
    }
    const db = await openDb(`parley-v1-${username}`);
    try {
      await checkFormat(db);
    } catch (e) {
      db.close();
      vaultKey.fill(0); // refused: the key is not kept
      throw e;
    }
    return new Vault(db, vaultKey, username);
  }

  /**
   * The device id this browser uses for the account, read without the vault key: the stored one,
   * 1 for a vault made before devices (records but no device mark), or null for no vault at all.
   */
  static async deviceOf(username) {
    if (!await Vault.exists(username)) return null;
    const db = await openDb(`parley-v1-${username}`);
    try {
      return await tx(db, 'readonly', async (s) => {
        const id = await reqP(s.get(DEVICE_KEY));
        if (Number.isSafeInteger(id) && id >= 1 && id <= 0x7fffffff) return id;
        // Records beside the format mark (sealed, HMAC-named): a vault made before devices.
        const marks = (await reqP(s.get(FORMAT_KEY))) === undefined ? 0 : 1;
        return await reqP(s.count()) > marks ? 1 : null;
      });
    } finally {
      db.close();
    }
  }

  /** Keeps the device id (in the clear) once the account is opened with it. */
  async setDevice(id) {
    await tx(this.db, 'readwrite', (s) => reqP(s.put(id, DEVICE_KEY)));
  }

  /** Deletes a user's vault from this browser (after its account was deleted); close it first. */
  static erase(username) {
    return new Promise((resolve, reject) => {
      const req = indexedDB.deleteDatabase(`parley-v1-${username}`);
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
    });
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
    return toB64u(core.hmac(this.nameKey, utf8(`parley-record-v2:${name}`)));
  }

  // The key the core's sealed state of one record is sealed under: bound to the record's name.
  stateKey(name) {
    return subkey(this.key, `parley-vault-v2 state:${name}`);
  }

  sealState(name, obj) {
    const k = this.stateKey(name);
    try {
      return obj.seal(k);
    } finally {
      k.fill(0);
    }
  }

  unsealState(name, Kind, raw) {
    const k = this.stateKey(name);
    try {
      return Kind.unseal(k, raw);
    } finally {
      k.fill(0);
    }
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
    const plain = core.aeadOpen(this.recordKey, raw.subarray(0, 12), utf8(`parley-record-v2:${name}`), raw.subarray(12));
    return JSON.parse(fromUtf8(plain));
  }

  // The sealed bytes of a JSON value for a record.
  sealJson(name, value) {
    const nonce = core.randomBytes(12);
    const sealed = core.aeadSeal(this.recordKey, nonce, utf8(`parley-record-v2:${name}`), utf8(JSON.stringify(value)));
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

  /** The account (sealed by the core itself, under the key of the record "account"). */
  async loadAccount() {
    const raw = await this.getRaw('account');
    return raw ? this.unsealState('account', core.Account, raw) : null;
  }

  /**
   * Whether the store holds sealed records (beside the marks kept in the clear). Records whose
   * names this key does not give, and no account among them, mean the vault was sealed under
   * another password (changed on another device, 12.1).
   */
  async holdsRecords() {
    return tx(this.db, 'readonly', async (s) => {
      const keys = await reqP(s.getAllKeys());
      return keys.some((k) => k !== FORMAT_KEY && k !== DEVICE_KEY && k !== CALL_CERT_KEY);
    });
  }

  async saveAccount(account) {
    await this.putMany([this.accountRecord(account)]);
  }

  accountRecord(account) {
    return ['account', this.sealState('account', account)];
  }

  async loadSession(peer) {
    const name = `session:${peer}`;
    const raw = await this.getRaw(name);
    return raw ? this.unsealState(name, core.Session, raw) : null;
  }

  async saveSession(peer, session) {
    await this.putMany([this.sessionRecord(peer, session)]);
  }

  sessionRecord(peer, session) {
    const name = `session:${peer}`;
    return [name, this.sealState(name, session)];
  }

  async deleteSession(peer) {
    await this.delete(`session:${peer}`);
  }

  /**
   * Change password (web/js/account-view.js): every record re-sealed under newKey, in two steps.
   * prepareRekey(names, kinds) reads every record of the store and seals it again in memory;
   * names must name them all (the store holds HMACs of names: a record none of them gives cannot
   * be opened, and the whole change is refused, with nothing changed). kinds(name) is the core's
   * class of a state record (Account, Session) or null for JSON. The returned commit() replaces
   * them all in one transaction and takes newKey (owned from then on); cancel() wipes it.
   */
  async prepareRekey(names, kinds, newKey) {
    const byId = new Map(names.map((n) => [this.id(n), n]));
    const next = new Vault(this.db, newKey, this.username);
    const old = await tx(this.db, 'readonly', (s) => new Promise((resolve, reject) => {
      const out = [];
      const req = s.openCursor();
      req.onsuccess = () => {
        const c = req.result;
        if (!c) {
          resolve(out);
          return;
        }
        if (c.key !== FORMAT_KEY && c.key !== DEVICE_KEY && c.key !== CALL_CERT_KEY) out.push([c.key, c.value]);
        c.continue();
      };
      req.onerror = () => reject(req.error);
    }));
    const writes = [];
    for (const [id, value] of old) {
      const name = byId.get(id);
      if (name === undefined) {
        next.nameKey.fill(0);
        next.recordKey.fill(0);
        throw new VaultError('This device keeps data that this version of Parley cannot re-seal under a new password, so the password was not changed.');
      }
      const raw = value instanceof Uint8Array ? value : new Uint8Array(value);
      const Kind = kinds(name);
      if (Kind) {
        const obj = this.unsealState(name, Kind, raw);
        try {
          writes.push([next.id(name), next.sealState(name, obj)]);
        } finally {
          obj.free();
        }
      } else {
        const plain = core.aeadOpen(this.recordKey, raw.subarray(0, 12), utf8(`parley-record-v2:${name}`), raw.subarray(12));
        const nonce = core.randomBytes(12);
        const sealed = core.aeadSeal(next.recordKey, nonce, utf8(`parley-record-v2:${name}`), plain);
        plain.fill(0);
        const out = new Uint8Array(12 + sealed.length);
        out.set(nonce);
        out.set(sealed, 12);
        writes.push([next.id(name), out]);
      }
    }
    const cancel = () => {
      next.nameKey.fill(0);
      next.recordKey.fill(0);
      newKey.fill(0);
    };
    const commit = async () => {
      await tx(this.db, 'readwrite', (s) => Promise.all([
        ...old.map(([id]) => reqP(s.delete(id))),
        ...writes.map(([id, bytes]) => reqP(s.put(bytes, id))),
      ]));
      this.key.fill(0);
      this.nameKey.fill(0);
      this.recordKey.fill(0);
      this.key = newKey;
      this.nameKey = next.nameKey;
      this.recordKey = next.recordKey;
    };
    return { commit, cancel, count: writes.length };
  }

  close() {
    this.db.close();
    // The vault key and its subkeys live only while logged in.
    this.key.fill(0);
    this.nameKey.fill(0);
    this.recordKey.fill(0);
  }
}

