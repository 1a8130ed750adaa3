//# allFunctionsCalledOnLoad
// Repairing a session (docs/PROTOCOL.md 12.12): a message from an active contact that the session
// we hold cannot decrypt is never dropped without a word. The transcript says so ("A message from
// NAME could not be decrypted"), and this side makes a new session with them as Start chat does (a
// fresh X3DH with a bundle of theirs), marked `repair`. Their page takes the new session without
// asking (a known contact's request, 12.2 step 10) and sends again every message of theirs we have
// not acknowledged, encrypted under it: nothing is lost, and the receiver's dedupe by id shows
// nothing twice. Nobody has to do anything.
import * as core from '../core/parley.js';
import { toB64u } from './encoding.js';

// After a repair starts, further failures from that contact are messages of the old session still
// on their way: all of them are unacknowledged, so they come again under the new session.
const REPAIR_QUIET_MS = 120000;
// Ratchet keys of a contact's messages that decrypted, kept to recognise a late copy (a mailed
// copy of a message that came over the link, read after the session moved past the chains it
// remembers, 5.3): at most this many per contact, in memory.
const MAX_SEEN_CHAINS = 512;

// The ratchet key in a message's header (5.1): bytes 1..33 of a ratchet message; in a prekey
// message, after its prefix (74 bytes for X3DH, 4.x; 1646 for PQXDH, 15.5).
function headerKey(bytes) {
  const at = bytes[0] === core.MESSAGE_PREKEY ? 75 : bytes[0] === core.MESSAGE_PREKEY_PQ ? 1647 : 1;
  return bytes.length >= at + 32 ? toB64u(bytes.subarray(at, at + 32)) : null;
}

export const repairMethods = {
  // A message from this contact decrypted: its ratchet key is one of theirs.
  noteChain(name, bytes) {
    const key = headerKey(bytes);
    if (!key) return;
    this.seenChains = this.seenChains || new Map();
    let seen = this.seenChains.get(name);
    if (!seen) {
      seen = new Set();
      this.seenChains.set(name, seen);
    }
    seen.delete(key);
    seen.add(key); // the most recent last
    if (seen.size > MAX_SEEN_CHAINS) seen.delete(seen.values().next().value);
  },

  // Whether a message that did not decrypt belongs to a chain of theirs we read before: a late
  // copy of something that came another way, not a loss.
  lateCopy(name, bytes) {
    const key = headerKey(bytes);
    return !!key && !!this.seenChains?.get(name)?.has(key);
  },

  /**
   * A message from `name` that no session we hold decrypts (mailed: the message, when it came by
   * mail, where a late copy is no loss; the link carries each ciphertext once). Runs in the queue. For an active contact: the line in the transcript, then a new session
   * (repair). Anything else (a pending or declined contact, a stranger) is not a conversation to
   * repair: a request or the person's own Start chat makes the next session.
   */
  async undecryptable(name, mailed = null) {
    const c = this.contacts[name];
    if (!c || c.status !== 'active' || c.renew) return;
    if (mailed && this.lateCopy(name, mailed)) return;
    this.repairs = this.repairs || new Map();
    if (Date.now() - (this.repairs.get(name) || 0) < REPAIR_QUIET_MS) return;
    this.repairs.set(name, Date.now());
    const at = this.noticeLine(name, `A message from ${name} could not be decrypted. This device is setting up a new secure session with them; they will send it again.`);
    // renew: no message is encrypted with the session that failed; the new one is made next
    // (Start chat's way, in the queue after this) and clears it.
    c.renew = true;
    c.repair = true;
    await this.persist(name, null, [at], true);
    this.changed(name);
    this.renewSoon(name);
  },
};
