//# allFunctionsCalledOnLoad
// Files and pictures between two people (docs/PROTOCOL.md section 18). Each file gets a random key
// and id; the offer (name, size, type, key, SHA-256) goes inside the Double Ratchet, the chunks,
// sealed by the core under the file's key, over a second data channel of the link ("parley-files",
// negotiated, binary frames). The receiver asks for the chunks from the number it has stored,
// checks each one as it comes, stores it sealed (filestore.js) and tells the sender how many it
// has stored, which bounds what the sender puts in flight; at the end it checks the size and the
// hash. Nothing is decrypted for keeps until the person presses Save.
import * as core from '../core/parley.js';
import { fromB64u, randomId, toB64u } from './encoding.js';
import { UserError } from './errors.js';
import { FileStore } from './filestore.js';
import { fileChunks } from './files-crypto.js';
import {
  FRAME_CHUNK, FRAME_HEAD, FRAME_STORED, MAX_PICTURE, chunkCount, chunkLength, frame, hexToBytes, pictureType,
  readControl, readFrame, readOffer,
} from './files-wire.js';

export const FILES_CHANNEL_ID = 1000; // the negotiated channel's SCTP stream id (18.5)
export const DEFAULT_CHUNK = 64512; // 63 KiB: a frame fits a 64 KiB data-channel message
const TAG_RECORD = 'files-store-tag';
const HASH_READ = 1 << 20; // the sender hashes its file in reads of 1 MiB
const HIGH_WATER = 4 << 20; // bufferedAmount above which the sender waits
const LOW_WATER = 1 << 20; // bufferedamountlow threshold
const READ_BLOCK = 1 << 20; // the sender reads its file in blocks of about this size
const WINDOW_BYTES = 8 << 20; // sent but not yet stored by the receiver
const BATCH_BYTES = 1 << 20; // received chunks stored per transaction
const BATCH_MS = 50;
const MAX_FILES = 1000; // transfers kept per browser (records in the vault)

const tune = { chunk: DEFAULT_CHUNK, high: HIGH_WATER, low: LOW_WATER, window: WINDOW_BYTES };

/** Changes the chunk size and water marks for transfers started from now on (the benchmark). */
export function tuneTransfers(t) {
  Object.assign(tune, t);
}

/**
 * The name of this account's files database (filestore.js, 18.7), kept in the vault record
 * "files-store-tag": made once (the vault's opaque name of "files-store", as before the record
 * existed) and then kept, so that the database keeps its name when the vault is sealed under a
 * new password (12.1), whose names all change.
 */
async function storeTag(vault) {
  const kept = await vault.getJson(TAG_RECORD, null);
  if (typeof kept === 'string' && /^[A-Za-z0-9_-]{43}$/.test(kept)) return kept;
  const tag = vault.id('files-store');
  await vault.putJson(TAG_RECORD, tag);
  return tag;
}

export class FileTransfers extends EventTarget {
  constructor(m) {
    super();
    this.m = m;
    this.records = {}; // id -> the stored record (18.7)
    this.live = new Map(); // id -> what exists only in memory: file, hash, progress, timers
    this.channels = new Map(); // contact -> the files data channel of their open link
    this.storeOpen = null;
  }

  async load() {
    this.records = await this.m.vault.getJson('files', {});
    this.tag = await storeTag(this.m.vault);
    if (!Object.keys(this.records).length) {
      // The last file was deleted: its (empty) database goes, without waiting for it.
      FileStore.drop(this.tag).catch(() => {});
      return;
    }
    const store = await this.files();
    // What no record names any more (a deletion cut short) is deleted now.
    for (const id of await store.ids()) {
      if (!this.records[id]) await store.deleteFile(id);
    }
    for (const r of Object.values(this.records)) {
      if (r.dir === 'in' && r.state === 'receiving') {
        r.stored = await store.countChunks(r.id);
      } else if (r.dir === 'out' && r.state === 'hashing') {
        this.prepare(r).catch((e) => this.m.report(e)); // a reload cut its hashing short
      }
    }
  }

  shutdown() {
    for (const l of this.live.values()) l.hash?.free();
    this.live.clear();
    this.channels.clear();
    this.storeOpen?.then((st) => st.close()).catch(() => {});
    this.storeOpen = null;
  }

  // The file database (filestore.js), opened when first needed: a browser that never had a file
  // has none.
  files() {
    this.storeOpen ||= FileStore.open(this.tag);
    return this.storeOpen;
  }

  list(name) {
    return Object.values(this.records).filter((r) => r.peer === name).sort((a, b) => a.ts - b.ts);
  }

  liveOf(id) {
    let l = this.live.get(id);
    if (!l) {
      l = { hash: null, done: 0, samples: [], file: null, pumping: false, acked: 0, next: 0, batch: [], batchBytes: 0 };
      this.live.set(id, l);
    }
    return l;
  }

  changed(id) {
    this.dispatchEvent(new CustomEvent('change', { detail: { id, peer: this.records[id]?.peer } }));
  }

  async save() {
    await this.m.vault.putJson('files', this.records);
  }

  /** Bytes of received files stored in this browser (sealed chunks). */
  usage() {
    let n = 0;
    for (const r of Object.values(this.records)) {
      if (r.dir === 'in' && r.state !== 'cancelled' && r.state !== 'damaged') n += r.storedBytes || 0;
    }
    return n;
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** Offers files to a contact: hashed, kept across a reload, sent when a link is open. */
  async send(name, files) {
    const c = this.m.contacts[name];
    if (!c || c.status !== 'active') throw new UserError(`You can send files once ${name} has accepted the chat.`);
    for (const file of files) {
      if (Object.keys(this.records).length >= MAX_FILES) throw new UserError('Too many files are kept in this browser: delete some first.');
      const id = randomId();
      const r = {
        id, peer: name, dir: 'out', name: file.name || 'file', size: file.size, type: file.type || '',
        chunk: tune.chunk, key: toB64u(core.randomBytes(32)), sha256: null, ts: Date.now(), state: 'hashing',
      };
      this.records[id] = r;
      this.liveOf(id).file = file;
      this.changed(id);
      // The File is kept (18.7) so that a reload does not lose it, then hashed.
      await (await this.files()).putOutgoing(id, file);
      await this.save();
      await this.prepare(r);
    }
  }

  // Hashes a kept file and offers it.
  async prepare(r) {
    const file = await this.fileOf(r);
    if (!file) {
      await this.stop(r, 'cancelled');
      return;
    }
    const digest = await this.hashFile(r.id, file);
    if (r.state !== 'hashing') return; // cancelled meanwhile
    r.sha256 = toB64u(digest);
    r.state = 'offered';
    await this.save();
    this.changed(r.id);
    this.offer(r);
  }

  async hashFile(id, file) {
    const hash = core.FileHash.create();
    try {
      for (let at = 0; at < file.size; at += HASH_READ) {
        hash.update(new Uint8Array(await file.slice(at, Math.min(file.size, at + HASH_READ)).arrayBuffer()));
        const l = this.liveOf(id);
        l.hashed = Math.min(file.size, at + HASH_READ);
        this.changed(id);
      }
      return hash.digest();
    } finally {
      hash.free();
    }
  }

  offer(r) {
    const { id, name, size, type, chunk, key, sha256, ts } = r;
    this.sendPayload(r.peer, { t: 'file', id, name, size, type, chunk, key, sha256, ts });
  }

  // A ratchet payload over the open link (stored session first, 12.7); false without a link (or
  // when it failed: the messenger reports that).
  sendPayload(name, payload) {
    return this.m.serial(async () => {
      const l = this.m.links.get(name);
      if (!l?.open) return false;
      const session = await this.m.session(name);
      if (!session) return false;
      const bytes = session.encrypt(JSON.stringify(payload));
      await this.m.persist(name, session, null);
      return l.send(bytes);
    }).catch(() => false);
  }

  async fileOf(r) {
    const l = this.liveOf(r.id);
    if (!l.file) l.file = await (await this.files()).getOutgoing(r.id);
    return l.file;
  }

  // Sends chunks from `from` while the link's files channel is open, within the window.
  // A request for chunks already on their way over the same channel changes nothing (the channel
  // is ordered and reliable); one on a new channel, or from further back, starts from there.
  async pump(r, from) {
    const l = this.liveOf(r.id);
    const dc = this.channels.get(r.peer);
    if (!dc) return;
    if (l.pumping && l.dc === dc && from >= l.acked && from <= l.next) return;
    l.dc = dc;
    l.next = from;
    // The receiver asks from the first chunk it lacks: it holds all before. (After this page was
    // reloaded, acked starts at 0: kept there, a request from beyond the window would wait for
    // a "stored" that never comes, as nothing is in flight.)
    l.acked = from;
    if (l.pumping) return;
    l.pumping = true;
    try {
      const file = await this.fileOf(r);
      if (!file) {
        await this.cancel(r.id, 'cancelled');
        return;
      }
      // Never beyond the negotiated sctp.maxMessageSize (18.5).
      const max = this.m.links.get(r.peer)?.pc?.sctp?.maxMessageSize;
      if (max && FRAME_HEAD + r.chunk + core.FILE_OVERHEAD > max) {
        await this.cancel(r.id, 'cancelled');
        this.m.dispatchEvent(new CustomEvent('notice', {
          detail: { name: r.peer, text: `cannot receive "${r.name}" over this connection (it takes messages of at most ${max} bytes).` },
        }));
        return;
      }
      const key = fromKey(r.key);
      const idBytes = hexToBytes(r.id);
      const head = frame(FRAME_CHUNK, idBytes, new Uint8Array(0)); // kind || id: the core seals after it
      const n = chunkCount(r.size, r.chunk);
      if (r.state === 'offered') {
        r.state = 'sending';
        this.changed(r.id);
      }
      while (l.next < n && r.state === 'sending') {
        const { dc } = l;
        if (this.channels.get(r.peer) !== dc || dc.readyState !== 'open') return;
        if (dc.bufferedAmount > tune.high || (l.next - l.acked) * r.chunk > tune.window) {
          await this.drain(dc, l);
          continue;
        }
        const i = l.next;
        const start = i * r.chunk;
        const pt = await this.readChunk(l, file, r, i, start);
        if (r.state !== 'sending' || l.next !== i || l.dc !== dc) continue; // cancelled, or asked again meanwhile
        l.chunks ||= fileChunks(key, idBytes);
        const out = await l.chunks.seal(i, i === n - 1, pt, head); // a whole frame
        if (r.state !== 'sending' || l.next !== i || l.dc !== dc) continue;
        globalThis.parleyTestHooks?.fileChunkOut?.(r.id, i, out.length);
        if (dc.readyState !== 'open') return;
        dc.send(out);
        l.next = i + 1;
      }
    } finally {
      l.pumping = false;
      if (r.state !== 'sending' || l.next >= chunkCount(r.size, r.chunk)) {
        l.block = null; // the blocks read ahead go with the transfer
        l.ahead = null;
      }
    }
  }

  // Chunk i's plaintext, from blocks of READ_BLOCK bytes read ahead one at a time: reading the
  // file chunk by chunk costs a round trip to the browser's file store per chunk.
  async readChunk(l, file, r, i, start) {
    const len = chunkLength(r.size, r.chunk, i);
    const per = Math.max(1, Math.floor(READ_BLOCK / r.chunk));
    const first = i - (i % per);
    const read = (k) => {
      const from = k * r.chunk;
      const bytes = file.slice(from, Math.min(r.size, from + per * r.chunk)).arrayBuffer();
      bytes.catch(() => {}); // a read ahead that is never used may fail unseen
      return { first: k, bytes };
    };
    if (!l.block || l.block.first !== first) l.block = l.ahead?.first === first ? l.ahead : read(first);
    const buf = await l.block.bytes;
    if (!l.ahead || l.ahead.first <= first) l.ahead = first + per < chunkCount(r.size, r.chunk) ? read(first + per) : null;
    const off = start - first * r.chunk;
    return new Uint8Array(buf, off, len);
  }

  // Waits until the channel's buffer falls below the low-water mark or the receiver stores more.
  drain(dc, l) {
    return new Promise((resolve) => {
      const finish = () => {
        dc.removeEventListener('bufferedamountlow', finish);
        dc.removeEventListener('close', finish);
        l.wake = null;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(finish, 1000);
      dc.bufferedAmountLowThreshold = tune.low;
      dc.addEventListener('bufferedamountlow', finish);
      dc.addEventListener('close', finish);
      l.wake = finish;
    });
  }

  // ---- the link ----------------------------------------------------------------------------------

  /** A link to a contact opened: its files channel, then offers and requests that wait. */
  linkOpened(name, link) {
    let dc;
    try {
      dc = link.pc.createDataChannel('parley-files', { negotiated: true, id: FILES_CHANNEL_ID, ordered: true });
    } catch (e) {
      this.m.report(e);
      return;
    }
    dc.binaryType = 'arraybuffer';
    dc.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) this.onFrame(name, new Uint8Array(ev.data));
    };
    const ready = () => {
      if (this.channels.get(name) !== dc) return;
      for (const r of this.list(name)) {
        if (r.dir === 'out' && (r.state === 'offered' || r.state === 'sending')) {
          if (r.state === 'sending') r.state = 'offered';
          this.offer(r);
        } else if (r.dir === 'in' && r.state === 'receiving') {
          this.request(r);
        } else if ((r.state === 'cancelled' || r.state === 'damaged') && r.owed) {
          this.tellCancel(r);
        }
      }
    };
    dc.onopen = ready;
    dc.onclose = () => {
      if (this.channels.get(name) === dc) this.channels.delete(name);
      this.changed(null);
    };
    this.channels.set(name, dc);
    if (dc.readyState === 'open') ready();
    this.changed(null);
  }

  linkClosed(name) {
    this.channels.delete(name);
    for (const r of this.list(name)) {
      const l = this.live.get(r.id);
      if (l) l.wake?.();
      if (r.dir === 'in' && l?.batch.length) this.flushBatch(r).catch((e) => this.m.report(e));
    }
    this.changed(null);
  }

  online(name) {
    return this.channels.get(name)?.readyState === 'open';
  }

  // ---- payloads ----------------------------------------------------------------------------------

  /** A file payload from a contact (inbox.js, after the session that read it is stored). */
  onPayload(name, inner) {
    if (inner.t === 'file') {
      const offer = readOffer(inner);
      if (!offer) {
        this.m.dispatchEvent(new CustomEvent('notice', { detail: { name, text: 'sent a file this version of Parley cannot read.' } }));
        return;
      }
      this.onOffer(name, offer).catch((e) => this.m.report(e));
      return;
    }
    const msg = readControl(inner);
    const r = msg && this.records[msg.id];
    if (!r || r.peer !== name) return;
    if (msg.t === 'file-get' && r.dir === 'out') {
      if (r.state === 'offered' || r.state === 'sending') {
        this.pump(r, Math.min(msg.from, chunkCount(r.size, r.chunk))).catch((e) => this.m.report(e));
      } else if (r.state === 'cancelled') {
        this.sendPayload(name, { t: 'file-cancel', id: r.id, reason: 'cancelled' });
      }
    } else if (msg.t === 'file-done' && r.dir === 'out' && r.state !== 'done') {
      r.state = 'done';
      this.liveOf(r.id).acked = chunkCount(r.size, r.chunk);
      this.liveOf(r.id).chunks = null;
      this.forgetFile(r).catch((e) => this.m.report(e));
    } else if (msg.t === 'file-cancel' && r.state !== 'done' && r.state !== 'cancelled' && r.state !== 'damaged') {
      r.owed = false;
      this.stop(r, msg.reason === 'damaged' ? 'damaged' : 'cancelled').catch((e) => this.m.report(e));
    }
  }

  async onOffer(name, o) {
    const known = this.records[o.id];
    if (known) {
      if (known.peer !== name || known.dir !== 'in') return;
      if (known.state === 'receiving') this.request(known);
      else if (known.state === 'done') this.sendPayload(name, { t: 'file-done', id: o.id });
      else this.tellCancel(known);
      return;
    }
    if (Object.keys(this.records).length >= MAX_FILES) {
      this.sendPayload(name, { t: 'file-cancel', id: o.id, reason: 'cancelled' });
      return;
    }
    this.records[o.id] = {
      id: o.id, peer: name, dir: 'in', name: o.name, size: o.size, type: o.type, chunk: o.chunk,
      key: toB64u(o.key), sha256: toB64u(o.sha256), ts: Date.now(), state: 'receiving', stored: 0, storedBytes: 0,
    };
    await this.save();
    this.changed(o.id);
    this.request(this.records[o.id]);
  }

  // Asks for the chunks from the next one this page lacks (a resumed transfer starts at the number
  // stored). The running hash comes first: after a reload it is rebuilt from the chunks stored.
  request(r) {
    const l = this.liveOf(r.id);
    if (!l.hash) {
      if (r.stored > 0) {
        this.rebuildHash(r).catch((e) => this.m.report(e));
        return;
      }
      l.hash = core.FileHash.create();
    }
    l.expect ??= r.stored;
    l.askedAt = performance.now();
    this.sendPayload(r.peer, { t: 'file-get', id: r.id, from: l.expect });
  }

  tellCancel(r) {
    r.owed = true;
    this.sendPayload(r.peer, { t: 'file-cancel', id: r.id, reason: r.state === 'damaged' ? 'damaged' : 'cancelled' })
      .then((sent) => {
        if (sent && r.owed) {
          r.owed = false;
          return this.save();
        }
        return undefined;
      }).catch((e) => this.m.report(e));
  }

  // ---- receiving ---------------------------------------------------------------------------------

  onFrame(name, bytes) {
    const f = readFrame(bytes);
    const r = f && this.records[f.id];
    if (!r || r.peer !== name) return;
    if (f.kind === FRAME_STORED && r.dir === 'out') {
      const stored = new DataView(f.body.buffer, f.body.byteOffset, 4).getUint32(0);
      const l = this.liveOf(r.id);
      if (stored > l.acked && stored <= chunkCount(r.size, r.chunk)) {
        l.acked = stored;
        this.progress(r, stored * r.chunk);
        l.wake?.();
      }
    } else if (f.kind === FRAME_CHUNK && r.dir === 'in' && r.state === 'receiving') {
      this.onChunk(r, f.body);
    }
  }

  onChunk(r, sealedIn) {
    const l = this.liveOf(r.id);
    if (!l.hash || l.expect === undefined) return; // asked again once the hash is rebuilt
    const n = chunkCount(r.size, r.chunk);
    const index = l.expect;
    if (index >= n) return;
    // A chunk that names an index already taken is a repeat of a request (dropped); one past the
    // next is a gap (the chunks between were lost with a link): asked again, at most every 2 s.
    // Only the chunk at the expected index is opened; failing there is damage.
    const named = sealedIn.length >= 6 ? new DataView(sealedIn.buffer, sealedIn.byteOffset + 2, 4).getUint32(0) : index;
    if (named < index) return;
    if (named > index) {
      if (performance.now() - (l.askedAt || 0) > 2000) this.request(r);
      return;
    }
    let sealed = sealedIn;
    const hook = globalThis.parleyTestHooks?.fileChunkIn;
    if (hook) {
      sealed = hook(r.id, index, sealed.slice());
      if (!sealed) return; // withheld
    }
    // Checked in order of arrival, off this thread where WebCrypto is (files-crypto.js); the next
    // index is expected at once.
    l.expect = index + 1;
    const { hash } = l;
    l.checked = (l.checked || Promise.resolve()).then(() => this.checkChunk(r, l, hash, index, n, sealed))
      .catch((e) => this.m.report(e));
  }

  // Chunk `index` checked and absorbed into the transfer's hash (while it is still that
  // transfer's), then kept for the next write.
  async checkChunk(r, l, hash, index, n, sealed) {
    if (l.hash !== hash || r.state !== 'receiving') return; // stopped, or started again meanwhile
    let len = -1;
    try {
      l.chunks ||= fileChunks(fromKey(r.key), hexToBytes(r.id));
      len = await l.chunks.check(index, index === n - 1, sealed, () => (l.hash === hash ? hash : null));
    } catch (e) {
      // Not checked is not stored: the transfer ends as damaged (and a fault of this browser is
      // reported as well).
      if (!(e instanceof core.ParleyError)) this.m.report(e);
    }
    if (l.hash !== hash || r.state !== 'receiving') return;
    if (len !== chunkLength(r.size, r.chunk, index)) {
      // The hash may have absorbed a chunk of the wrong length: the transfer is over anyway.
      this.damaged(r);
      return;
    }
    l.batch.push(sealed.slice());
    l.batchBytes += sealed.length;
    this.progress(r, index * r.chunk + len);
    if (index === n - 1 || l.batchBytes >= BATCH_BYTES) {
      this.flushBatch(r).catch((e) => this.m.report(e));
    } else if (!l.batchTimer) {
      l.batchTimer = setTimeout(() => this.flushBatch(r).catch((e) => this.m.report(e)), BATCH_MS);
    }
  }

  // Stores the chunks received since the last write, tells the sender, and finishes the file.
  async flushBatch(r) {
    const l = this.liveOf(r.id);
    clearTimeout(l.batchTimer);
    l.batchTimer = null;
    l.flushing = (l.flushing || Promise.resolve()).then(async () => {
      if (!l.batch.length || r.state !== 'receiving') return;
      const list = l.batch;
      const bytes = l.batchBytes;
      l.batch = [];
      l.batchBytes = 0;
      try {
        await (await this.files()).putChunks(r.id, r.stored, list);
      } catch (e) {
        // Storage full (or refused): the transfer ends, said in plain words.
        if (r.state === 'receiving') {
          await this.stop(r, 'cancelled');
          this.tellCancel(r);
          this.m.dispatchEvent(new CustomEvent('notice', {
            detail: { name: r.peer, text: `sent "${r.name}", which does not fit in this browser's storage (${e?.name || 'refused'}).` },
          }));
        }
        return;
      }
      if (r.state !== 'receiving') {
        await (await this.files()).deleteFile(r.id);
        return;
      }
      r.stored += list.length;
      r.storedBytes = (r.storedBytes || 0) + bytes;
      const dc = this.channels.get(r.peer);
      const count = new Uint8Array(4);
      new DataView(count.buffer).setUint32(0, r.stored);
      if (dc?.readyState === 'open') dc.send(frame(FRAME_STORED, hexToBytes(r.id), count));
      if (r.stored === chunkCount(r.size, r.chunk)) await this.finish(r);
      else this.changedSoon(r);
    });
    return l.flushing;
  }

  // Every chunk stored and checked: the size follows from the chunks' lengths; the hash now.
  async finish(r) {
    const l = this.liveOf(r.id);
    const ok = !!l.hash && l.hash.matches(fromKey(r.sha256));
    l.hash?.free();
    l.hash = null;
    l.chunks = null;
    if (!ok) {
      this.damaged(r);
      return;
    }
    r.state = 'done';
    await this.save();
    this.progress(r, r.size);
    this.changed(r.id);
    this.sendPayload(r.peer, { t: 'file-done', id: r.id });
    this.m.dispatchEvent(new CustomEvent('change', { detail: { name: r.peer } }));
  }

  // After a reload the running hash is rebuilt from the chunks stored, each checked again.
  async rebuildHash(r) {
    const l = this.liveOf(r.id);
    if (l.rebuilding) return;
    l.rebuilding = true;
    const hash = core.FileHash.create();
    const n = chunkCount(r.size, r.chunk);
    try {
      for (let i = 0; i < r.stored; i += 1) {
        const sealed = await (await this.files()).getChunk(r.id, i);
        core.fileCheckChunk(fromKey(r.key), hexToBytes(r.id), i, i === n - 1, sealed, hash);
      }
      l.hash = hash;
      l.expect = r.stored;
    } catch (e) {
      hash.free();
      if (e instanceof core.ParleyError || e instanceof TypeError) this.damaged(r);
      else throw e;
      return;
    } finally {
      l.rebuilding = false;
    }
    this.request(r); // from what is stored
  }

  damaged(r) {
    r.owed = true;
    this.stop(r, 'damaged').then(() => this.tellCancel(r)).catch((e) => this.m.report(e));
  }

  progress(r, bytes) {
    const l = this.liveOf(r.id);
    const now = performance.now();
    l.done = Math.min(r.size, bytes);
    l.samples.push([now, l.done]);
    while (l.samples.length > 2 && now - l.samples[0][0] > 3000) l.samples.shift();
    if (!l.shown || now - l.shown > 200 || l.done === r.size) {
      l.shown = now;
      this.changed(r.id);
    }
  }

  // Redraws a transfer's item within 200 ms, once however often it is asked meanwhile (the stored
  // bytes after each batch); progress() redraws at most every 200 ms too.
  changedSoon(r) {
    const l = this.liveOf(r.id);
    if (l.changeTimer) return;
    l.changeTimer = setTimeout(() => {
      l.changeTimer = null;
      l.shown = performance.now();
      this.changed(r.id);
    }, 200);
  }

  /** {done, percent, speed (bytes/s), left (s or null)} of a transfer. */
  stats(r) {
    const l = this.live.get(r.id);
    const done = r.state === 'done' ? r.size : (l?.done ?? (r.dir === 'in' ? Math.min(r.size, (r.stored || 0) * r.chunk) : 0));
    const percent = r.size === 0 ? (r.state === 'done' ? 100 : 0) : Math.floor((done / r.size) * 100);
    let speed = 0;
    if (l && l.samples.length >= 2 && r.state !== 'done') {
      const [t0, b0] = l.samples[0];
      const [t1, b1] = l.samples[l.samples.length - 1];
      if (t1 > t0) speed = ((b1 - b0) / (t1 - t0)) * 1000;
    }
    const left = speed > 0 ? Math.ceil((r.size - done) / speed) : null;
    return { done, percent, speed, left, hashed: l?.hashed ?? 0 };
  }

  // ---- cancel, delete, finish --------------------------------------------------------------------

  /** Cancel by the person, on either side: both stop, and what was stored is deleted. */
  async cancel(id, reason = 'cancelled') {
    const r = this.records[id];
    if (!r || r.state === 'done' || r.state === 'cancelled' || r.state === 'damaged') return;
    r.owed = true; // stored with the new state: told at the next link if not now
    await this.stop(r, reason);
    this.tellCancel(r);
  }

  async stop(r, state) {
    r.state = state;
    const l = this.live.get(r.id);
    if (l) {
      l.chunks = null; // the file's key goes with the transfer
      clearTimeout(l.batchTimer);
      l.batch = [];
      l.hash?.free();
      l.hash = null;
      l.expect = undefined;
      l.wake?.();
    }
    r.storedBytes = 0;
    r.stored = 0;
    await (await this.files()).deleteFile(r.id);
    await this.save();
    this.changed(r.id);
  }

  // The receiver has the file whole: the sender's kept copy goes.
  async forgetFile(r) {
    await (await this.files()).deleteFile(r.id);
    await this.save();
    this.changed(r.id);
  }

  /** Deletes a finished, cancelled or damaged file's item and everything stored of it. */
  async remove(id) {
    const r = this.records[id];
    if (!r) return;
    if (r.state === 'receiving' || r.state === 'sending' || r.state === 'offered' || r.state === 'hashing') await this.cancel(id);
    delete this.records[id];
    const l = this.live.get(id);
    if (l?.url) URL.revokeObjectURL(l.url);
    this.live.delete(id);
    await (await this.files()).deleteFile(id);
    await this.save();
    this.changed(id);
  }

  // ---- reading a received file back --------------------------------------------------------------

  /**
   * Decrypts a received file chunk by chunk, in order, checking every chunk and the hash again;
   * each plaintext chunk goes to write(bytes) (awaited). Throws when anything fails to check.
   */
  async readBack(r, write) {
    const n = chunkCount(r.size, r.chunk);
    const hash = core.FileHash.create();
    try {
      for (let i = 0; i < n; i += 1) {
        const sealed = await (await this.files()).getChunk(r.id, i);
        if (!sealed) throw new UserError('File damaged in transit');
        await write(core.fileOpenChunk(fromKey(r.key), hexToBytes(r.id), i, i === n - 1, sealed, hash));
      }
      if (!hash.matches(fromKey(r.sha256))) throw new UserError('File damaged in transit');
    } finally {
      hash.free();
    }
  }

  /** The picture type of a finished file (from its first bytes), or null. */
  async picture(r) {
    if (r.size > MAX_PICTURE || r.size === 0) return null;
    if (r.dir === 'out') {
      const file = await this.fileOf(r);
      if (!file) return null;
      return pictureType(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
    }
    if (r.state !== 'done') return null;
    const sealed = await (await this.files()).getChunk(r.id, 0);
    if (!sealed) return null;
    const n = chunkCount(r.size, r.chunk);
    return pictureType(core.fileOpenChunk(fromKey(r.key), hexToBytes(r.id), 0, n === 1, sealed).subarray(0, 16));
  }
}

const fromKey = (b64) => fromB64u(b64);
