//# allFunctionsCalledOnLoad
// Presence only for contacts (docs/API.md "Presence only for contacts", docs/PROTOCOL.md 12.10):
// this page makes a capability (32 random bytes, kept in the vault), hands it to each contact
// inside the Double Ratchet ({"t":"cap"}), and tells the server only its hash and whether to show
// presence at all ("Show when I'm online"). A contact subscribes with the capability it was
// given; the server keeps no list of contacts.
import * as core from '../core/parley.js';
import { fromB64u, toB64u, utf8 } from './encoding.js';

const CAP_CONTEXT = 'parley-presence-cap-v1';
const CAP_BYTES = 32;

// A capability as the wire carries it: base64url of exactly 32 bytes, or null.
export function validCap(cap) {
  if (typeof cap !== 'string' || cap.length !== 43) return null;
  try {
    return fromB64u(cap).length === CAP_BYTES ? cap : null;
  } catch {
    return null;
  }
}

export const presenceMethods = {
  // The capability and the switch, from the vault (made on first use).
  async loadPresence() {
    const stored = await this.vault.getJson('presence', null);
    const cap = validCap(stored?.cap);
    this.presenceCap = cap || toB64u(core.randomBytes(CAP_BYTES));
    this.showPresence = stored?.visible !== false;
    if (!cap) await this.vault.putJson('presence', { cap: this.presenceCap, visible: this.showPresence });
  },

  // Tells the server (after each ready) the capability's hash and whether anyone may see us.
  sendPresenceSettings() {
    const capHash = toB64u(core.hmac(utf8(CAP_CONTEXT), fromB64u(this.presenceCap)));
    this.signaling.send({ type: 'presence-settings', capHash, visible: this.showPresence });
  },

  /** "Show when I'm online": stored, then told to the server (now, or at the next ready). */
  setShowPresence(visible) {
    return this.serial(async () => {
      this.showPresence = !!visible;
      await this.vault.putJson('presence', { cap: this.presenceCap, visible: this.showPresence });
      this.sendPresenceSettings();
      this.copyPresenceToOwn?.(); // contacts.js: our other devices take it too
      this.changed(null);
    });
  },

  // Every contact, with the capability they gave us when we have it (without one the server
  // answers "unknown", but still tells us of identity changes).
  subscribe() {
    this.signaling.subscribe(Object.values(this.contacts).map((c) => (validCap(c.cap) ? { user: c.name, cap: c.cap } : c.name)));
  },

  // Whether a contact has yet to be handed our current capability.
  owesCap(name) {
    const c = this.contacts[name];
    return !!c && c.status === 'active' && c.capSent !== this.presenceCap;
  },

  // A capability a contact handed us ({"t":"cap"} or inside an accept): kept with the contact,
  // and the subscription renewed with it. True when it changed (the caller stores the contacts).
  takeCap(name, cap) {
    const c = this.contacts[name];
    const valid = validCap(cap);
    if (!c || !valid || c.cap === valid) return false;
    c.cap = valid;
    this.subscribe();
    // Mail held back while they had not accepted us goes now (the subscription, sent first,
    // tells the server they have).
    const head = this.mailQueues?.get(name)?.[0];
    if (head && !head.sentAt) {
      head.retryAt = 0;
      this.pumpMail();
    }
    return true;
  },
};
