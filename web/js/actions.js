//# allFunctionsCalledOnLoad
// Message actions inside the Double Ratchet (docs/PROTOCOL.md 12.15): reply (a chat message's
// `reply`), edit, delete for everyone and reactions, and the reader for every everyday payload a
// contact or another device of ours sends. An own action is a transcript entry with `kind`, sent,
// resent and acknowledged exactly as a message is (outbox.js) and copied to the other devices
// (fanout.js); it is applied here at once, and by the receiver on arrival. Edits and deletes are
// only for messages of that chat by their author (the sender is checked); one reaction per
// person per message; no edit history is kept. Anything of these kinds that cannot be read or
// done is said in the transcript, never dropped without a word.
import { RANDOM_ID_RE, randomId } from './encoding.js';
import { UserError } from './errors.js';
import { EMOJI, EVERYDAY_KINDS, MAX_TEXT, PayloadError, TIMERS, readEveryday, timerLine } from './everyday-wire.js';

function addIndex(effect, i) {
  effect.indexes = [...(effect.indexes || []), i];
}

// The message (no action, no line) with that id and author in a transcript: its index, or -1.
function findMessage(history, id, from = null) {
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const m = history[i];
    if (m.id === id && !m.kind && m.from !== 'system' && (!from || m.from === from)) return i;
  }
  return -1;
}

/** A message deleted for everyone: its text and everything about it goes, a tombstone stays. */
export function tombstone(m) {
  m.text = '';
  m.deleted = true;
  for (const k of ['reply', 'reactions', 'edited', 'editTs', 'wire', 'fan', 'fanWire', 'fanLinks']) delete m[k];
}

export const actionMethods = {
  isEveryday(inner) {
    return !!inner && EVERYDAY_KINDS.has(inner.t);
  },

  isEverydayOwn(inner) {
    return !!inner && EVERYDAY_KINDS.has(inner.t);
  },

  /** The fields an own new message gets: a reply that names a message of this chat; the chat's timer. */
  messageExtras(name, extra) {
    const out = {};
    if (extra?.reply && RANDOM_ID_RE.test(extra.reply) && findMessage(this.history(name), extra.reply) >= 0) out.reply = extra.reply;
    Object.assign(out, this.timerExtras(name)); // disappearing.js
    return out;
  },

  // A copy of an own message from another device of ours ({"t":"sent"}): its reply and timer.
  copyExtras(entry, inner) {
    if (typeof inner.reply === 'string' && RANDOM_ID_RE.test(inner.reply)) entry.reply = inner.reply;
    if (TIMERS.includes(inner.exp) && inner.exp > 0) {
      entry.exp = inner.exp;
      entry.expiresAt = entry.ts + inner.exp * 1000; // the sender's timer starts when it is sent
    }
  },

  // A line in the transcript for an everyday payload that could not be read or done.
  refusedLine(name, effect, why) {
    addIndex(effect, this.noticeLine(name, `A message from ${name} could not be shown: ${why}`));
  },

  /** An everyday payload from a contact (inbox.js applyPayload): applied to effect. */
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
      if (id && active) effect.receipt = id; // not sent again and again
      return;
    }
    if (p.id && active) effect.receipt = p.id;
    switch (p.t) {
      case 'msg': {
        if (this.seen(name, p.id)) return;
        const e = { id: p.id, from: 'them', text: p.text.slice(0, MAX_TEXT), ts: peerTime(p.ts), state: 'received' };
        if (p.reply) e.reply = p.reply;
        if (p.exp) e.exp = p.exp; // runs from when it is read here (disappearing.js)
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
        if (!c) return;
        if ((c.timer || 0) !== p.secs) {
          if (p.secs) c.timer = p.secs;
          else delete c.timer;
          effect.contactsChanged = true;
        }
        if (!this.seen(name, p.id)) {
          history.push({ id: p.id, from: 'them', kind: 'timer', secs: p.secs, text: timerLine(name, p.secs), ts: peerTime(p.ts), state: 'received' });
          addIndex(effect, history.length - 1);
        }
        return;
      case 'read':
        this.takeRead(name, p.ids, effect); // receipts.js
        return;
      case 'typing':
        this.theirTyping(name, p.on); // receipts.js; never stored
        return;
      default:
        this.applyAction(name, p, 'them', effect);
    }
  },

  /**
   * An edit, delete or reaction by `who` ('them', or 'me' from another device of ours) to a
   * message of this chat. Edits and deletes only of the author's own messages.
   */
  applyAction(name, p, who, effect) {
    const history = this.history(name);
    const label = who === 'them' ? name : 'You';
    if (p.t === 'react') {
      const i = findMessage(history, p.of);
      if (i < 0 || history[i].deleted) return; // gone here (it expired, or was deleted)
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
        // Deleted before it came here (or before its copy did): it will never be shown.
        history.push({ id: p.of, from: 'them', text: '', deleted: true, ts: Date.now(), state: 'received' });
        addIndex(effect, history.length - 1);
      }
      return;
    }
    const m = history[i];
    if (m.deleted) return;
    if (p.t === 'edit') {
      if (m.editTs >= p.ts) return; // an older edit that came late
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

  // Own edit entries of a deleted message: their text goes, and they are not sent any more.
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

  /** An everyday payload from another device of ours (fanout.js applyOwn), with `peer`. */
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
    if (p.t === 'timer') {
      if ((c.timer || 0) !== p.secs) {
        if (p.secs) c.timer = p.secs;
        else delete c.timer;
        effect.contactsChanged = true;
      }
      if (!this.ownSeen(name, p.id)) {
        history.push({ id: p.id, from: 'me', kind: 'timer', secs: p.secs, text: timerLine('You', p.secs), ts: p.ts, state: 'sent', copied: true });
        addIndex(effect, history.length - 1);
      }
    } else {
      this.applyAction(name, p, 'me', effect);
    }
    return effect;
  },

  // ---- own actions --------------------------------------------------------------------------------

  // An own action: applied here (the entries it changed stored), then sent as a message is.
  action(name, fields, apply) {
    return this.serial(async () => {
      this.checkSendable(name);
      const touched = apply();
      if (touched === null) return;
      if (touched.length) await this.saveHistory(name, touched);
      await this.enqueue(name, { id: randomId(), from: 'me', text: '', ts: Date.now(), state: 'queued', ...fields });
    });
  },

  /** Edit: an own message gets new text, shown "edited" on both sides. */
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

  /** Delete for everyone: an own message becomes "This message was deleted" here and there. */
  deleteForEveryone(name, id) {
    return this.action(name, { kind: 'delete', of: id }, () => {
      const h = this.history(name);
      const i = findMessage(h, id, 'me');
      if (i < 0) throw new UserError('That message can no longer be deleted.');
      if (h[i].deleted) return null;
      // Not yet sent: it never goes (the delete tells them its id).
      const unsent = h[i].state !== 'delivered';
      tombstone(h[i]);
      if (unsent) h[i].state = 'delivered';
      return [i, ...this.forgetEdits(name, id)];
    });
  },

  /** A reaction (one per person per message): the same emoji again takes it back. */
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
