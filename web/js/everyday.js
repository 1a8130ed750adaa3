//# allFunctionsCalledOnLoad
// Everyday features on the messenger (docs/PROTOCOL.md 12.15), three mixins:
// - actions: reply, edit, delete for everyone, reactions, and applying every everyday payload that
//   comes. An own action is a transcript entry with `kind`, sent and acknowledged as a message is
//   (outbox.js, fanout.js). What cannot be read or done gets a line in the transcript.
// - disappearing: a per-chat timer (a `timer` payload and a line) carried by later messages
//   (`exp`); the sender's runs from sending, the receiver's from reading. Due messages are removed
//   and the transcript records written again without them.
// - receipts: read receipts and typing indicators with their switches (vault record `everyday`).
//   Reciprocal: off, this page neither sends nor shows them. Typing goes over the link only.
import { RANDOM_ID_RE, randomId } from './encoding.js';
import { UserError } from './errors.js';
import {
  EMOJI, EVERYDAY_KINDS, MAX_READ_IDS, MAX_TEXT, PayloadError, TIMERS, readEveryday, timerLine,
} from './everyday-wire.js';
import { historyChunks } from './transcript.js';

function addIndex(effect, i) {
  effect.indexes = [...(effect.indexes || []), i];
}

// Index of the message (not an action or a line) with that id (and author), or -1.
function findMessage(history, id, from = null) {
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const m = history[i];
    if (m.id === id && !m.kind && m.from !== 'system' && (!from || m.from === from)) return i;
  }
  return -1;
}

/** Deleted for everyone: a tombstone without text stays; an own one not yet sent never goes. */
export function tombstone(m) {
  m.text = '';
  m.deleted = true;
  if (m.from === 'me') m.state = 'delivered';
  for (const k of ['reply', 'reactions', 'edited', 'editTs', 'wire', 'fan', 'fanWire', 'fanLinks']) delete m[k];
}

export const actionMethods = {
  isEveryday(inner) {
    return !!inner && EVERYDAY_KINDS.has(inner.t);
  },

  // A new own message's reply (a message of this chat) and timer.
  messageExtras(name, extra) {
    const out = {};
    if (extra?.reply && RANDOM_ID_RE.test(extra.reply) && findMessage(this.history(name), extra.reply) >= 0) out.reply = extra.reply;
    Object.assign(out, this.timerExtras(name));
    return out;
  },

  // reply and exp of a {"t":"sent"} copy from another device of ours.
  copyExtras(entry, inner) {
    if (typeof inner.reply === 'string' && RANDOM_ID_RE.test(inner.reply)) entry.reply = inner.reply;
    if (TIMERS.includes(inner.exp) && inner.exp > 0) {
      entry.exp = inner.exp;
      entry.expiresAt = entry.ts + inner.exp * 1000; // the sender's runs from sending
    }
  },

  refusedLine(name, effect, why) {
    addIndex(effect, this.noticeLine(name, `A message from ${name} could not be shown: ${why}`));
  },

  /** An everyday payload from a contact (inbox.js applyPayload), into effect. */
  applyEveryday(name, inner, effect, peerTime) {
    const c = this.contacts[name];
    const history = this.history(name);
    if (!this.histories.has(name)) this.histories.set(name, history);
    const active = c?.status === 'active';
    let p;
    try {
      p = readEveryday(inner);
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      const id = typeof inner.id === 'string' && RANDOM_ID_RE.test(inner.id) ? inner.id : null;
      if (!id || !this.seen(name, id)) this.refusedLine(name, effect, 'this version of Parley does not understand it.');
      if (id && active) effect.receipt = id; // so that it is not sent again
      return;
    }
    if (p.id && active) effect.receipt = p.id;
    // Written while they were blocked (contacts.js): stays dropped; the receipt stops resends.
    if (this.sentWhileBlocked(name, p.ts)) return;
    switch (p.t) {
      case 'msg': {
        if (this.seen(name, p.id)) return;
        const e = { id: p.id, from: 'them', text: p.text.slice(0, MAX_TEXT), ts: peerTime(p.ts), state: 'received' };
        if (p.reply) e.reply = p.reply;
        if (p.exp) e.exp = p.exp; // runs from reading (markRead)
        history.push(e);
        addIndex(effect, history.length - 1);
        this.theirTyping(name, false);
        if (this.activeChat !== name && c) {
          c.unread = (c.unread || 0) + 1;
          effect.contactsChanged = true;
        }
        return;
      }
      case 'timer':
        // A repeat (sent again, or a copy that came twice) never sets the timer again: it could
        // put back an older one after a newer change.
        if (!c || this.seen(name, p.id)) return;
        if ((c.timer || 0) !== p.secs) {
          if (p.secs) c.timer = p.secs;
          else delete c.timer;
          effect.contactsChanged = true;
        }
        history.push({ id: p.id, from: 'them', kind: 'timer', secs: p.secs, text: timerLine(name, p.secs), ts: peerTime(p.ts), state: 'received' });
        addIndex(effect, history.length - 1);
        return;
      case 'read':
        this.takeRead(name, p.ids, effect);
        return;
      case 'typing':
        this.theirTyping(name, p.on); // never stored
        return;
      default:
        this.applyAction(name, p, 'them', effect);
    }
  },

  // An edit, delete or reaction by who ('them', or 'me' from another device of ours); edits and
  // deletes only of who's own messages.
  applyAction(name, p, who, effect) {
    const history = this.history(name);
    const label = who === 'them' ? name : 'You';
    if (p.t === 'react') {
      const i = findMessage(history, p.of);
      if (i < 0 || history[i].deleted) return; // expired or deleted here
      const m = history[i];
      const r = { ...(m.reactions || {}) };
      if (p.emoji) r[who] = p.emoji;
      else delete r[who];
      if (Object.keys(r).length) m.reactions = r;
      else delete m.reactions;
      addIndex(effect, i);
      return;
    }
    const i = findMessage(history, p.of, who);
    if (i < 0) {
      if (findMessage(history, p.of) >= 0) {
        this.refusedLine(name, effect, `${label === 'You' ? 'another device of yours' : name} tried to change a message that is not theirs; nothing was changed.`);
      } else if (p.t === 'delete' && who === 'them' && !this.seen(name, p.of)) {
        // Deleted before it came: it will never be shown.
        history.push({ id: p.of, from: 'them', text: '', deleted: true, ts: Date.now(), state: 'received' });
        addIndex(effect, history.length - 1);
      }
      return;
    }
    const m = history[i];
    if (m.deleted) return;
    if (p.t === 'edit') {
      if (m.editTs >= p.ts) return; // an older edit, late
      m.text = p.text;
      m.edited = true;
      m.editTs = p.ts;
      addIndex(effect, i);
    } else if (p.t === 'delete') {
      tombstone(m);
      addIndex(effect, i);
      for (const j of this.forgetEdits(name, p.of)) addIndex(effect, j);
    }
  },

  // Own edits of a deleted message lose their text and are not sent.
  forgetEdits(name, id) {
    const touched = [];
    this.history(name).forEach((e, j) => {
      if (e.kind === 'edit' && e.of === id) {
        delete e.body;
        if (e.state !== 'delivered') e.state = 'delivered';
        for (const k of ['wire', 'fan', 'fanWire', 'fanLinks']) delete e[k];
        touched.push(j);
      }
    });
    return touched;
  },

  /** From another device of ours (fanout.js applyOwn), with `peer`. */
  applyEverydayOwn(inner, effect) {
    let p;
    try {
      p = readEveryday(inner, { own: true });
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      this.dispatchEvent(new CustomEvent('alert', { detail: 'A message from another of your devices could not be read by this version of Parley.' }));
      return effect;
    }
    const name = p.peer;
    const c = this.contacts[name];
    if (!c) return effect;
    const history = this.history(name);
    if (!this.histories.has(name)) this.histories.set(name, history);
    effect.name = name;
    if (p.t === 'read') {
      this.readOnOwn(name, c, p.ids, effect);
    } else if (p.t === 'timer') {
      if (this.ownSeen(name, p.id)) return effect; // a repeat sets nothing again (as from a contact)
      if ((c.timer || 0) !== p.secs) {
        if (p.secs) c.timer = p.secs;
        else delete c.timer;
        effect.contactsChanged = true;
      }
      history.push({ id: p.id, from: 'me', kind: 'timer', secs: p.secs, text: timerLine('You', p.secs), ts: p.ts, state: 'sent', copied: true });
      addIndex(effect, history.length - 1);
    } else {
      this.applyAction(name, p, 'me', effect);
    }
    return effect;
  },

  // An own action: applied here and stored, then sent as a message is.
  action(name, fields, apply) {
    return this.serial(async () => {
      this.checkSendable(name);
      const touched = apply();
      if (touched === null) return;
      if (touched.length) await this.saveHistory(name, touched);
      await this.enqueue(name, { id: randomId(), from: 'me', text: '', ts: Date.now(), state: 'queued', ...fields });
    });
  },

  editMessage(name, id, text) {
    if (typeof text !== 'string' || !text.length) return Promise.resolve();
    if (text.length > MAX_TEXT) return Promise.reject(new UserError('That message is too long (at most 16,384 characters).'));
    return this.action(name, { kind: 'edit', of: id, body: text }, () => {
      const h = this.history(name);
      const i = findMessage(h, id, 'me');
      if (i < 0 || h[i].deleted) throw new UserError('That message can no longer be edited.');
      if (h[i].text === text) return null;
      h[i].text = text;
      h[i].edited = true;
      h[i].editTs = Date.now();
      return [i];
    });
  },

  deleteForEveryone(name, id) {
    return this.action(name, { kind: 'delete', of: id }, () => {
      const h = this.history(name);
      const i = findMessage(h, id, 'me');
      if (i < 0) throw new UserError('That message can no longer be deleted.');
      if (h[i].deleted) return null;
      tombstone(h[i]); // unsent, it never goes: the delete names its id
      return [i, ...this.forgetEdits(name, id)];
    });
  },

  // One reaction per person per message; the same emoji again takes it back.
  react(name, id, emoji) {
    if (!EMOJI.includes(emoji)) return Promise.resolve();
    let sent = emoji;
    return this.action(name, { kind: 'react', of: id, get emoji() { return sent; } }, () => {
      const h = this.history(name);
      const i = findMessage(h, id);
      if (i < 0 || h[i].deleted) throw new UserError('That message is no longer here.');
      const r = { ...(h[i].reactions || {}) };
      if (r.me === emoji) {
        delete r.me;
        sent = '';
      } else {
        r.me = emoji;
      }
      if (Object.keys(r).length) h[i].reactions = r;
      else delete h[i].reactions;
      return [i];
    });
  },
};

// ---- disappearing messages ----

const SWEEP_MS = 1000;

export const disappearingMethods = {
  timerOf(name) {
    return this.contacts[name]?.timer || 0;
  },

  timerExtras(name) {
    const secs = this.timerOf(name);
    return secs ? { exp: secs, expiresAt: Date.now() + secs * 1000 } : {};
  },

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

  // Due messages go, with the own actions naming them.
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

  // Every chunk and the count, then the chunks past it deleted.
  async rewriteHistory(name) {
    const chunks = historyChunks(this.history(name));
    const before = await this.vault.getJson(`history-chunks:${name}`, 0);
    const records = chunks.map((c, k) => [`history:${name}:${k}`, this.vault.sealJson(`history:${name}:${k}`, c)]);
    records.push([`history-chunks:${name}`, this.vault.sealJson(`history-chunks:${name}`, chunks.length)]);
    await this.vault.putMany(records);
    for (let k = chunks.length; k < before; k += 1) await this.vault.delete(`history:${name}:${k}`);
  },
};

// ---- read receipts and typing ----

const READ_DELAY_MS = 300;
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

  setEverydaySetting(key, on) {
    if (key !== 'readReceipts' && key !== 'typing') return Promise.resolve();
    this.settings()[key] = !!on;
    if (key === 'typing' && !on) {
      for (const name of [...(this.typingFrom?.keys() || [])]) this.theirTyping(name, false);
    }
    for (const name of Object.keys(this.contacts)) this.changed(name);
    return this.serial(() => this.vault.putJson('everyday', { ...this.settings() }));
  },

  // The chat is on screen: their unread messages are read (timers start); receipts for the last 256.
  // At once, then at most once per READ_DELAY_MS: a burst of messages is a few writes and receipts.
  markRead(name) {
    const h = this.history(name);
    this.readSoon = this.readSoon || new Set();
    this.readAt = this.readAt || new Map();
    if (this.readSoon.has(name) || !this.contacts[name] || !h.some((m) => m.from === 'them' && !m.read && !m.kind)) return;
    this.readSoon.add(name);
    const wait = (this.readAt.get(name) || 0) + READ_DELAY_MS - Date.now();
    if (wait > 0) setTimeout(() => this.readNow(name), wait);
    else this.readNow(name);
  },

  readNow(name) {
    this.readSoon.delete(name);
    this.readAt.set(name, Date.now());
    if (this.activeChat !== name) return; // left before: read when it is on screen again
    const h = this.history(name);
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
      // Read here is read on our other devices too (their timers start, their counts go down).
      if (ids.length && !this.contacts[name]?.code) this.copyToOwn({ t: 'read', peer: name, ids: ids.slice(-MAX_READ_IDS) });
      this.changed(name);
    }).catch((e) => this.report(e));
  },

  // Their messages read on another device of ours: read here too, as if read on this screen
  // (disappearing timers start now), no receipt sent (that device sent it); the unread count goes
  // down to what is still unread.
  readOnOwn(name, c, ids, effect) {
    const h = this.history(name);
    const want = new Set(ids);
    const now = Date.now();
    let left = 0;
    h.forEach((m, i) => {
      if (m.from !== 'them' || m.kind || m.read) return;
      if (!want.has(m.id)) {
        left += 1;
        return;
      }
      m.read = true;
      if (m.exp) m.expiresAt = now + m.exp * 1000;
      addIndex(effect, i);
    });
    if (c.unread && c.unread > left) {
      c.unread = left;
      effect.contactsChanged = true;
    }
  },

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
      await this.persist(name, session); // state before ciphertext
      link.send(wire);
    }).catch((e) => this.report(e));
  },

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
