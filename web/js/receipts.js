//# allFunctionsCalledOnLoad
// Read receipts and typing indicators (docs/PROTOCOL.md 12.15), each with a switch ("Read
// receipts", "Typing indicators", on by default, kept in the vault record `everyday`).
// Reciprocal as in Signal: a switch that is off means this page neither sends them nor shows
// those that come. A message is read when its chat is on screen in a visible page; that also
// starts a disappearing message's timer on the receiver's side. Typing goes only over an open
// data channel and is never stored.
import { MAX_READ_IDS } from './everyday-wire.js';

const TYPING_RESEND_MS = 3000; // "typing" again while typing goes on
const TYPING_IDLE_MS = 4000; // no key for this long: "stopped"
const TYPING_SHOWN_MS = 6000; // their indicator clears by itself after this

export const receiptMethods = {
  async loadEveryday() {
    const v = await this.vault.getJson('everyday', {});
    this.everyday = {
      readReceipts: typeof v?.readReceipts === 'boolean' ? v.readReceipts : true,
      typing: typeof v?.typing === 'boolean' ? v.typing : true,
    };
  },

  settings() {
    if (!this.everyday) this.everyday = { readReceipts: true, typing: true };
    return this.everyday;
  },

  /** Turns "Read receipts" or "Typing indicators" on or off (stored). */
  setEverydaySetting(key, on) {
    if (key !== 'readReceipts' && key !== 'typing') return Promise.resolve();
    this.settings()[key] = !!on;
    if (key === 'typing' && !on) {
      for (const name of [...(this.typingFrom?.keys() || [])]) this.theirTyping(name, false);
    }
    for (const name of Object.keys(this.contacts)) this.changed(name);
    return this.serial(() => this.vault.putJson('everyday', { ...this.settings() }));
  },

  // ---- read -------------------------------------------------------------------------------------

  /**
   * The chat is on screen: their messages not yet read are read now (a disappearing one's timer
   * starts), stored, and with "Read receipts" on, the last 256 of them are told to them.
   */
  markRead(name) {
    const h = this.history(name);
    if (!this.contacts[name] || !h.some((m) => m.from === 'them' && !m.read && !m.kind)) return;
    this.serial(async () => {
      const now = Date.now();
      const ids = [];
      const touched = [];
      h.forEach((m, i) => {
        if (m.from !== 'them' || m.read || m.kind) return;
        m.read = true;
        if (m.exp) m.expiresAt = now + m.exp * 1000;
        if (!m.deleted) ids.push(m.id);
        touched.push(i);
      });
      if (!touched.length) return;
      await this.saveHistory(name, touched);
      if (this.settings().readReceipts && this.contacts[name]?.status === 'active' && ids.length) {
        await this.sendControl(name, { t: 'read', ids: ids.slice(-MAX_READ_IDS) });
      }
      this.changed(name);
    }).catch((e) => this.report(e));
  },

  // {"t":"read"} from them: own messages shown read, only while our switch is on.
  takeRead(name, ids, effect) {
    if (!this.settings().readReceipts) return;
    const h = this.history(name);
    const want = new Set(ids);
    h.forEach((m, i) => {
      if (m.from === 'me' && !m.kind && !m.read && want.has(m.id)) {
        m.read = true;
        effect.indexes = [...(effect.indexes || []), i];
      }
    });
  },

  // ---- typing -----------------------------------------------------------------------------------

  /** A key in the message box of the open chat: "typing" over the open link, now and then. */
  typingInput(name, empty = false) {
    if (empty) {
      this.typingDone(name);
      return;
    }
    if (!this.settings().typing || !this.links.get(name)?.open) return;
    const now = Date.now();
    if (this.typingSent?.name !== name || now - this.typingSent.at > TYPING_RESEND_MS) {
      if (this.typingSent && this.typingSent.name !== name) this.typingDone(this.typingSent.name);
      this.typingSent = { name, at: now };
      this.sendTyping(name, true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.typingDone(name), TYPING_IDLE_MS);
  },

  /** Typing stopped (sent, emptied, idle, another chat opened). */
  typingDone(name) {
    if (this.typingSent?.name !== name) return;
    this.typingSent = null;
    clearTimeout(this.typingIdle);
    this.sendTyping(name, false);
  },

  sendTyping(name, on) {
    this.serial(async () => {
      const c = this.contacts[name];
      const link = this.links.get(name);
      if (!link?.open || c?.status !== 'active' || c.held || c.renew || c.repair) return;
      const session = await this.session(name);
      if (!session) return;
      const wire = session.encrypt(JSON.stringify({ t: 'typing', on }));
      await this.persist(name, session); // the ratchet state before the ciphertext; nothing else stored
      link.send(wire);
    }).catch((e) => this.report(e));
  },

  /** Whether their indicator is up (only while our switch is on). */
  isTyping(name) {
    return !!this.typingFrom?.has(name);
  },

  theirTyping(name, on) {
    this.typingFrom = this.typingFrom || new Map();
    const had = this.typingFrom.get(name);
    if (had) clearTimeout(had);
    if (on && this.settings().typing) {
      this.typingFrom.set(name, setTimeout(() => this.theirTyping(name, false), TYPING_SHOWN_MS));
    } else {
      this.typingFrom.delete(name);
    }
    if (!!had !== (on && this.settings().typing)) this.dispatchEvent(new CustomEvent('typing', { detail: { name } }));
  },
};
