//# allFunctionsCalledOnLoad
// Where files live in this browser (docs/PROTOCOL.md 18.7): one IndexedDB database per user,
// "parley-files-v1-TAG" (TAG kept in the vault record "files-store-tag": the vault's opaque name
// of "files-store" when first made, so the name does not give the username away), beside the vault, made when the first file comes or goes. Store "chunks": a received file's sealed chunks as
// they came (key [file id, index], value the sealed chunk: AES-256-GCM under the file's key, which
// only the vault holds), appended in order, so that a transfer resumes from the number stored.
// Store "outgoing": the File of each file being sent (key file id), kept until the peer has it
// whole or it is cancelled, so that a reload of the sender's page does not lose it.
const VERSION = 1;
const PREFIX = 'parley-files-v1-';

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the write was aborted'));
  });
}

// Every chunk of one file: [id, 0] .. [id, +Infinity].
const fileRange = (id) => IDBKeyRange.bound([id, 0], [id, Infinity]);

export class FileStore {
  constructor(db) {
    this.db = db;
  }

  /** Opens (or makes) the database named after `tag` (an opaque name the vault derives). */
  static async open(tag) {
    const open = indexedDB.open(`${PREFIX}${tag}`, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
      if (!db.objectStoreNames.contains('outgoing')) db.createObjectStore('outgoing');
    };
    return new FileStore(await req(open));
  }

  /**
   * Stores sealed chunks first .. first + list.length - 1 of a file, in one transaction. Relaxed
   * durability (no flush to disk at each commit): what a crash loses was not counted as stored
   * when the page comes back (countChunks), so the transfer resumes from before it.
   */
  async putChunks(id, first, list) {
    const tx = this.db.transaction('chunks', 'readwrite', { durability: 'relaxed' });
    const store = tx.objectStore('chunks');
    list.forEach((bytes, k) => store.put(bytes, [id, first + k]));
    await done(tx);
  }

  async getChunk(id, index) {
    const tx = this.db.transaction('chunks', 'readonly');
    return req(tx.objectStore('chunks').get([id, index]));
  }

  /** The number of chunks stored for a file (they are stored in order, from 0). */
  async countChunks(id) {
    const tx = this.db.transaction('chunks', 'readonly');
    return req(tx.objectStore('chunks').count(fileRange(id)));
  }

  /** Deletes a file's chunks and its kept File. */
  async deleteFile(id) {
    const tx = this.db.transaction(['chunks', 'outgoing'], 'readwrite');
    tx.objectStore('chunks').delete(fileRange(id));
    tx.objectStore('outgoing').delete(id);
    await done(tx);
  }

  async putOutgoing(id, file) {
    const tx = this.db.transaction('outgoing', 'readwrite');
    tx.objectStore('outgoing').put(file, id);
    await done(tx);
  }

  async getOutgoing(id) {
    const tx = this.db.transaction('outgoing', 'readonly');
    return req(tx.objectStore('outgoing').get(id));
  }

  /** File ids with chunks or a kept File (to delete what no record names any more). */
  async ids() {
    const tx = this.db.transaction(['chunks', 'outgoing'], 'readonly');
    const keys = await req(tx.objectStore('chunks').getAllKeys());
    const out = await req(tx.objectStore('outgoing').getAllKeys());
    return new Set([...keys.map((k) => k[0]), ...out]);
  }

  close() {
    this.db.close();
  }

  /** Deletes the database named after `tag`, if there is one. */
  static async drop(tag) {
    const name = `${PREFIX}${tag}`;
    if (indexedDB.databases && !(await indexedDB.databases()).some((d) => d.name === name)) return;
    await req(indexedDB.deleteDatabase(name));
  }
}
