//# allFunctionsCalledOnLoad
// Disappearing messages (docs/PROTOCOL.md 12.15): a per-chat timer either person sets (a `timer`
// payload, shown to both as a line), carried by every message sent after the change (`exp`). As
// in Signal, the sender's copy starts its timer when sent, the receiver's when it is read
// (receipts.js markRead). Every second the page's clock is checked: a message whose time is up
// goes from memory, from the screen and from the vault, whose transcript records are written
// again without it (with the actions that named it), so its text is in no stored record.
import { randomId } from './encoding.js';
import { TIMERS, timerLine } from './everyday-wire.js';
import { historyChunks } from './transcript.js';

const SWEEP_MS = 1000;

export const disappearingMethods = {
  /** The chat's timer in seconds (0: off). */
  timerOf(name) {
    return this.contacts[name]?.timer || 0;
  },

  // A new own message's `exp` and when it goes (now + the timer).
  timerExtras(name) {
    const secs = this.timerOf(name);
    return secs ? { exp: secs, expiresAt: Date.now() + secs * 1000 } : {};
  },

  /** Sets the chat's timer (either person may): a line for both, messages after it carry it. */
  setTimer(name, secs) {
    if (!TIMERS.includes(secs)) return Promise.resolve();
    return this.serial(async () => {
      this.checkSendable(name);
      const c = this.contacts[name];
      if ((c.timer || 0) === secs) return;
      if (secs) c.timer = secs;
      else delete c.timer;
      await this.saveContacts();
      await this.enqueue(name, { id: randomId(), from: 'me', kind: 'timer', secs, text: timerLine('You', secs), ts: Date.now(), state: 'queued' });
    });
  },

  /** Starts the checks of the page's clock (at log-in). */
  startExpiry() {
    if (this.expiryTimer) return;
    this.expiryTimer = setInterval(() => {
      if (this.stopped) {
        clearInterval(this.expiryTimer);
        return;
      }
      if (this.anyDue(Date.now()) && !this.sweeping) {
        this.sweeping = true;
        this.serial(() => this.expireDue()).catch((e) => this.report(e)).finally(() => {
          this.sweeping = false;
        });
      }
    }, SWEEP_MS);
  },

  anyDue(now) {
    for (const h of this.histories.values()) {
      for (const m of h) if (m.expiresAt && m.expiresAt <= now) return true;
    }
    return false;
  },

  // Removes every message whose time is up, and the own actions that named one, in every chat:
  // the transcript's records are written again without them.
  async expireDue() {
    const now = Date.now();
    for (const [name, h] of this.histories) {
      const gone = new Set(h.filter((m) => m.expiresAt && m.expiresAt <= now).map((m) => m.id));
      if (!gone.size) continue;
      const keep = h.filter((m) => !(m.expiresAt && m.expiresAt <= now) && !(m.of && gone.has(m.of)));
      h.length = 0;
      h.push(...keep);
      await this.rewriteHistory(name);
      this.changed(name);
    }
  },

  /** Writes a transcript's records again from memory: every chunk, the count, and no chunk past it. */
  async rewriteHistory(name) {
    const chunks = historyChunks(this.history(name));
    const before = await this.vault.getJson(`history-chunks:${name}`, 0);
    const records = chunks.map((c, k) => [`history:${name}:${k}`, this.vault.sealJson(`history:${name}:${k}`, c)]);
    records.push([`history-chunks:${name}`, this.vault.sealJson(`history-chunks:${name}`, chunks.length)]);
    await this.vault.putMany(records);
    for (let k = chunks.length; k < before; k += 1) await this.vault.delete(`history:${name}:${k}`);
  },
};
