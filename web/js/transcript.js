//# allFunctionsCalledOnLoad
// The transcript: each contact's messages, stored in sealed chunks of 100 (docs/PROTOCOL.md
// 12.8), written in the same transaction as the ratchet state that made or read them.
import { fromB64u, randomId } from './encoding.js';
import { wirePayload } from './everyday-wire.js';

export const MAX_TEXT = 16384; // UTF-16 code units of a message's text
const CHUNK = 100; // history is stored in sealed chunks of 100 messages

export const transcriptMethods = {
  // Forgets a transcript, in memory and in the vault (the messages of a declined request).
  async forgetHistory(name) {
    const chunks = await this.vault.getJson(`history-chunks:${name}`, 0);
    for (let i = 0; i < chunks; i += 1) await this.vault.delete(`history:${name}:${i}`);
    await this.vault.delete(`history-chunks:${name}`);
    this.histories.delete(name);
    this.seenIds?.delete(name);
  },

  history(name) {
    return this.histories.get(name) || [];
  },

  // A line of the app's own in a transcript (12.8, state "notice"); its index (the caller stores it).
  noticeLine(name, text) {
    const history = this.history(name);
    if (!this.histories.has(name)) this.histories.set(name, history);
    history.push({ id: randomId(), from: 'system', text, ts: Date.now(), state: 'notice' });
    return history.length - 1;
  },

  async loadHistory(name) {
    const chunks = await this.vault.getJson(`history-chunks:${name}`, 0);
    const out = [];
    for (let i = 0; i < chunks; i += 1) out.push(...await this.vault.getJson(`history:${name}:${i}`, []));
    return out;
  },

  // The records holding the given message indexes (default: the last message).
  historyRecords(name, indexes) {
    const h = this.history(name);
    if (h.length === 0) return [];
    const touched = new Set((indexes || [h.length - 1]).map((i) => Math.floor(i / CHUNK)));
    const out = [...touched].map((k) => {
      const rec = `history:${name}:${k}`;
      return [rec, this.vault.sealJson(rec, h.slice(k * CHUNK, (k + 1) * CHUNK))];
    });
    const countRec = `history-chunks:${name}`;
    out.push([countRec, this.vault.sealJson(countRec, Math.ceil(h.length / CHUNK))]);
    return out;
  },

  async saveHistory(name, indexes) {
    const records = this.historyRecords(name, indexes);
    if (records.length) await this.vault.putMany(records);
  },

  // One transaction for a session and the history chunks it changed: a message's ratchet state
  // and its transcript entry are stored together, before any ciphertext leaves.
  async persist(name, session, indexes, withContacts = false) {
    const records = [];
    if (session) records.push(this.vault.sessionRecord(name, session));
    if (indexes) records.push(...this.historyRecords(name, indexes));
    if (withContacts) records.push(...this.contactsRecords());
    if (records.length) await this.vault.putMany(records);
  },

  // The payload of an own entry: a message, or an everyday action (docs/PROTOCOL.md 12.15).
  wireText(entry) {
    return JSON.stringify(wirePayload(entry));
  },

  // The ciphertext made for a message ahead of time (entry.wire, stored with the transcript),
  // if any: it has not been handed to a channel yet. Removed once it has (sent), and when the
  // session that made it is replaced (dropWires).
  sealedWire(entry) {
    return typeof entry.wire === 'string' ? fromB64u(entry.wire) : null;
  },

  // A new session replaces the one that made the kept ciphertexts: they can no longer be read.
  // Returns the transcript indexes changed (the caller stores them with the new session).
  dropWires(name) {
    const touched = [];
    this.history(name).forEach((m, i) => {
      this.sentOn.delete(m); // what went on the link under the old session goes again
      if (m.wire !== undefined || (m.mailed && m.state !== 'delivered')) {
        delete m.wire;
        delete m.mailed; // the copy in their mailbox was sealed for the old session: mail again
        touched.push(i);
      }
    });
    // Puts of the old session not yet stored are forgotten too (an answer to one is ignored).
    const q = this.mailQueues?.get(name);
    if (q) q.length = 0;
    return touched;
  },

  // Whether a message id from the peer is already in the transcript (ids are kept in a set).
  seen(name, id) {
    let set = this.seenIds?.get(name);
    if (!set) {
      this.seenIds = this.seenIds || new Map();
      set = new Set(this.history(name).filter((m) => m.from === 'them').map((m) => m.id));
      this.seenIds.set(name, set);
    }
    if (set.has(id)) return true;
    set.add(id);
    return false;
  },
};

/** A transcript cut into the chunks it is stored in (records `history:NAME:K`, K from 0). */
export function historyChunks(entries) {
  const out = [];
  for (let i = 0; i < entries.length; i += CHUNK) out.push(entries.slice(i, i + CHUNK));
  return out;
}
