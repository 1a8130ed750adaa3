//# allFunctionsCalledOnLoad
// The outbox: own messages from the transcript to the peer, in order, by one of two routes
// (docs/PROTOCOL.md 12.7, 12.11):
//   - the data channel, when a link to them is open;
//   - the server's mailbox otherwise: the ratchet message sealed to their identity key
//     (docs/PROTOCOL.md 13) and stored by the server until their page fetches it, so it reaches
//     them whether or not they are online, and the sender may close the page once it is "sent".
// Every ciphertext's ratchet state is stored before it leaves. A message is "queued" (sending:
// on this device) until the channel took it or the server said it is stored, then "sent", then
// "delivered" on the peer's receipt. A message that went by mail goes again on the next link
// unless acknowledged; the receiver drops repeats by id, so nothing shows twice.
import * as core from '../core/parley.js';
import { fromB64u, randomId, toB64u } from './encoding.js';
import { UserError } from './errors.js';
import { MAX_TEXT } from './transcript.js';

const TRANSMIT_BATCH = 32; // messages encrypted and stored in one transaction before they leave
// While the peer is online and a link to them is on its way, the mailbox waits this long for it.
const MAIL_GRACE_MS = 4000;
// After a refusal the mailbox is tried again: soon for a busy server, later for a full mailbox.
const MAIL_RETRY_MS = 3000;
const MAIL_FULL_RETRY_MS = 60000;
// The server takes 50 messages a second on a connection (burst 100); mail-puts keep within 40
// (burst 60), leaving room for everything else. An unanswered put is given up after 30 s.
const MAIL_RATE = 40;
const MAIL_BURST = 60;
const MAIL_ANSWER_MS = 30000;

export const outboxMethods = {
  canSend(name) {
    const c = this.contacts[name];
    return !!c && (c.status === 'active' || c.status === 'pending') && !c.held;
  },

  /** Adds a message to the transcript and sends it now, or as soon as a route is open. */
  send(name, text) {
    return this.serial(async () => {
      if (typeof text !== 'string' || text.length === 0) return;
      if (text.length > MAX_TEXT) throw new UserError('That message is too long (at most 16,384 characters).');
      const c = this.contacts[name];
      if (!c || c.status === 'declined') throw new UserError('This chat is not open. Start it again to reconnect.');
      if (c.held) throw new UserError(`${name}'s safety number changed. Review it before sending.`);
      const entry = { id: randomId(), from: 'me', text, ts: Date.now(), state: 'queued' };
      const history = this.history(name);
      history.push(entry);
      // renew: the session was made with their former keys; the message waits, unencrypted (in
      // the sealed transcript), for the new one, which this asks for (after this, in the queue).
      const session = c.renew ? null : await this.session(name);
      if (c.renew) this.renewSoon(name);
      if (session && this.links.get(name)?.open) {
        // Stored together with its ratchet state, then sent.
        await this.transmit(name, [entry]);
        if (entry.state !== 'queued') return;
      }
      // No link: encrypt it now, so that it leaves as this very ciphertext, by mail now or on the
      // link when it opens, after a reload too (re-encrypting would leave the receiver a gap of
      // skipped keys). The ratchet state that made it is stored with it.
      if (session) {
        entry.wire = toB64u(session.encrypt(this.wireText(entry)));
        await this.persist(name, session, [history.lastIndexOf(entry)]);
      } else {
        await this.saveHistory(name);
      }
      this.changed(name);
      await this.deliver(name);
    });
  },

  // Sends what a contact is owed (after a link opened, a ready, an accept): in the queue.
  flush(name) {
    return this.serial(() => this.deliver(name));
  },

  // What is owed to a contact, by the route open now: the accept and our capability first, then
  // every own message not yet acknowledged, in transcript order.
  async deliver(name) {
    const c = this.contacts[name];
    if (!c || this.stopped) return;
    const link = this.links.get(name);
    if (link?.open) {
      await this.sendControls(name);
      const pending = this.history(name).filter((m) => m.from === 'me' && (m.state === 'queued' || m.state === 'sent'));
      if (pending.length) await this.transmit(name, pending);
      return;
    }
    if (c.status === 'active') this.connect(name);
    // A link to an online peer is on its way: give it a moment before using the mailbox.
    if (this.presence.get(name) === 'online' && link?.pc && !this.mailGraceOver(name)) return;
    await this.mailOut(name);
  },

  // True once the grace for a link has passed; the first call starts it (and a flush after it).
  mailGraceOver(name) {
    this.mailGrace = this.mailGrace || new Map();
    const since = this.mailGrace.get(name);
    if (since && Date.now() - since >= MAIL_GRACE_MS) return true;
    if (!since) {
      this.mailGrace.set(name, Date.now());
      setTimeout(() => {
        if (!this.stopped && !this.links.get(name)?.open) this.flush(name).catch((e) => this.report(e));
        this.mailGrace?.delete(name);
      }, MAIL_GRACE_MS);
    }
    return false;
  },

  // The accept and our capability, when owed, over the open link.
  async sendControls(name) {
    for (const payload of this.owedControls(name)) {
      const session = await this.session(name);
      if (!session) return;
      const wire = session.encrypt(JSON.stringify(payload));
      await this.persist(name, session);
      if (!this.links.get(name)?.send(wire)) return;
      await this.controlHanded(name, payload);
    }
  },

  // {"t":"accept"} while owed (the person accepted and the requester has not heard), else
  // {"t":"cap"} when they lack our current capability.
  owedControls(name) {
    const c = this.contacts[name];
    if (!c || c.status !== 'active' || c.renew || c.held) return [];
    if (c.acceptOwed) return [{ t: 'accept', cap: this.presenceCap }];
    return this.owesCap(name) ? [{ t: 'cap', cap: this.presenceCap }] : [];
  },

  async controlHanded(name, payload) {
    const c = this.contacts[name];
    if (!c) return;
    if (payload.t === 'accept') delete c.acceptOwed;
    if (payload.cap) c.capSent = payload.cap;
    await this.saveContacts();
  },

  /**
   * A payload that is not a transcript entry (a receipt, a decline): encrypted, its state stored,
   * then sent over the open link, or else by mail. Not kept if neither route is open: a receipt
   * lost is sent again when the message is.
   */
  async sendControl(name, payload, identityKey = null) {
    const session = await this.session(name);
    if (!session) return;
    const wire = session.encrypt(JSON.stringify(payload));
    await this.persist(name, session);
    if (this.links.get(name)?.send(wire)) return;
    this.mailWire(name, wire, null, identityKey);
  },

  // Over the open link: in batches, each stored before it leaves.
  async transmit(name, entries) {
    const link = this.links.get(name);
    const session = await this.session(name);
    if (!link?.open || !session || this.contacts[name]?.held) {
      if (!link?.open) this.connect(name);
      return;
    }
    const history = this.history(name);
    const todo = entries.filter((e) => this.sentOn.get(e) !== link.link); // not on this link yet
    for (let k = 0; k < todo.length; k += TRANSMIT_BATCH) {
      const batch = todo.slice(k, k + TRANSMIT_BATCH);
      const wires = [];
      const touched = [];
      let encrypted = false;
      for (const entry of batch) {
        let wire = this.sealedWire(entry);
        if (!wire) {
          wire = session.encrypt(this.wireText(entry));
          encrypted = true;
        }
        wires.push(wire);
        // "sent" is set first; if the link drops, unacknowledged messages are sent again anyway.
        if (entry.state === 'queued') {
          entry.state = 'sent';
          touched.push(history.lastIndexOf(entry));
        }
      }
      // A ratchet state that made a ciphertext is stored before it leaves: a reload must never
      // reuse a message key. Ciphertexts kept since they were typed are stored already; those
      // leave first and their new state is stored after.
      if (encrypted) await this.persist(name, session, touched.length ? touched : null);
      let i = 0;
      const handed = [];
      while (i < batch.length && link.send(wires[i])) {
        this.sentOn.set(batch[i], link.link);
        if (batch[i].wire !== undefined) {
          delete batch[i].wire; // this ciphertext went out; a later resend encrypts anew
          handed.push(history.lastIndexOf(batch[i]));
        }
        i += 1;
      }
      const stored = encrypted ? handed : [...new Set([...touched, ...handed])];
      if (stored.length) await this.saveHistory(name, stored);
      if (touched.length) this.changed(name);
      if (i < batch.length) return; // the link went down: the rest goes with the next one
    }
  },

  // ---- the mailbox route -------------------------------------------------------------------------

  // Mails what is owed: for a pending contact the request's hello first (nothing of theirs can
  // be read before it), then the accept or our capability, then every own message that has not
  // gone by mail and is not acknowledged. Each message's ciphertext is kept in its entry (stored
  // with the state that made it) until the server says it is stored, so a retry sends the same.
  async mailOut(name) {
    const c = this.contacts[name];
    if (!c || c.held || c.renew || this.signaling.state !== 'online') return;
    this.mailInFlight = this.mailInFlight || new Map();
    if (c.status === 'pending') {
      if (!c.hello) return;
      if (c.helloMailed !== c.hello) {
        if (![...this.mailInFlight.values()].some((w) => w.name === name && w.hello === c.hello)) {
          this.mailWire(name, fromB64u(c.hello), { hello: c.hello });
        }
        return; // the messages follow once the hello is stored
      }
    } else if (c.status !== 'active') {
      return;
    }
    const session = await this.session(name);
    if (!session) return;
    for (const payload of this.owedControls(name)) {
      if ([...this.mailInFlight.values()].some((w) => w.name === name && w.control?.t === payload.t)) continue;
      const wire = session.encrypt(JSON.stringify(payload));
      await this.persist(name, session);
      this.mailWire(name, wire, { control: payload });
    }
    const history = this.history(name);
    const inFlight = new Set([...this.mailInFlight.values()].filter((w) => w.name === name && w.entry).map((w) => w.entry));
    const todo = history.filter((m) => m.from === 'me' && (m.state === 'queued' || m.state === 'sent') && !m.mailed && !inFlight.has(m));
    if (!todo.length) return;
    const touched = [];
    for (const entry of todo) {
      if (!this.sealedWire(entry)) {
        entry.wire = toB64u(session.encrypt(this.wireText(entry)));
        touched.push(history.lastIndexOf(entry));
      }
    }
    if (touched.length) await this.persist(name, session, touched);
    for (const entry of todo) this.mailWire(name, this.sealedWire(entry), { entry });
  },

  // Seals a ratchet message to the contact and hands it to the server (mail-put). What to do
  // once it is stored is kept with its id: the hello marked mailed, an entry "sent", a control
  // handed. Without a connection nothing leaves (the next ready mails again).
  // identityKey: theirs, when they are neither a contact nor a waiting request (a request being
  // declined).
  mailWire(name, wire, what, identityKey = null) {
    const key = identityKey || this.contacts[name]?.identityKey || this.requests.get(name)?.identityKey;
    if (!key) return;
    let envelope;
    try {
      envelope = this.account.sealTo(fromB64u(key), this.me, wire);
    } catch (e) {
      if (e instanceof core.ParleyError && e.codeName === 'TOO_LARGE') {
        // Larger than the mailbox takes (64 KiB): it waits for a link.
        if (what?.entry) what.entry.mailed = true;
        return;
      }
      throw e;
    }
    this.mailSeq = (this.mailSeq || 0) + 1;
    const id = `m${this.mailSeq}`;
    this.mailInFlight = this.mailInFlight || new Map();
    this.mailInFlight.set(id, { name, ...(what || {}), put: { type: 'mail-put', to: name, env: toB64u(envelope), id } });
    this.pumpMail();
  },

  // Sends the puts waiting in the order made, within MAIL_RATE; the rest a little later. A put
  // left unanswered for MAIL_ANSWER_MS is given up (the next flush sends it again).
  pumpMail() {
    if (!this.mailInFlight || this.stopped) return;
    const now = Date.now();
    const b = this.mailBucket || { tokens: MAIL_BURST, at: now };
    b.tokens = Math.min(MAIL_BURST, b.tokens + ((now - b.at) / 1000) * MAIL_RATE);
    b.at = now;
    this.mailBucket = b;
    let waiting = false;
    let stale = false;
    for (const [id, w] of this.mailInFlight) {
      if (w.sentAt) {
        if (now - w.sentAt > MAIL_ANSWER_MS) {
          this.mailInFlight.delete(id);
          stale = true;
        }
        continue;
      }
      if (b.tokens < 1) {
        waiting = true;
        break;
      }
      if (!this.signaling.send(w.put)) {
        this.mailInFlight.delete(id); // not connected: the next ready mails again
        continue;
      }
      b.tokens -= 1;
      w.sentAt = now;
    }
    if (stale) this.deliverAll();
    clearTimeout(this.mailPumpTimer);
    this.mailPumpTimer = null;
    if (waiting) {
      this.mailPumpTimer = setTimeout(() => this.pumpMail(), Math.ceil(1000 / MAIL_RATE));
    } else if (this.mailInFlight.size) {
      this.mailPumpTimer = setTimeout(() => this.pumpMail(), MAIL_ANSWER_MS);
    }
  },

  // The server's answer to a mail-put: stored, or refused (tried again later).
  onMailAnswer(msg) {
    const w = this.mailInFlight?.get(msg.ref);
    if (!w) return;
    this.mailInFlight.delete(msg.ref);
    if (msg.type === 'mail-stored') {
      this.serial(() => this.mailStored(w));
      return;
    }
    const code = msg.code;
    if (code === 'mailbox_full') {
      this.dispatchEvent(new CustomEvent('notice', {
        detail: { name: w.name, text: 'has too many messages waiting on the server; yours stay on this device and go when they have read theirs.' },
      }));
    }
    if (code === 'unknown_recipient' || code === 'invalid_recipient') return;
    this.mailRetrySoon(w.name, code === 'mailbox_full' ? MAIL_FULL_RETRY_MS : MAIL_RETRY_MS);
  },

  async mailStored(w) {
    const c = this.contacts[w.name];
    if (w.hello) {
      if (c && c.hello === w.hello) {
        c.helloMailed = w.hello;
        await this.saveContacts();
        await this.deliver(w.name); // the messages typed meanwhile follow it
      }
      return;
    }
    if (w.control) {
      await this.controlHanded(w.name, w.control);
      return;
    }
    const e = w.entry;
    if (!e) return;
    const history = this.history(w.name);
    const i = history.lastIndexOf(e);
    if (i < 0) return;
    e.mailed = true;
    delete e.wire; // this ciphertext left; a resend on a link encrypts anew
    if (e.state === 'queued') e.state = 'sent';
    await this.saveHistory(w.name, [i]);
    this.changed(w.name);
  },

  mailRetrySoon(name, ms) {
    this.mailRetry = this.mailRetry || new Map();
    if (this.mailRetry.has(name)) return;
    this.mailRetry.set(name, setTimeout(() => {
      this.mailRetry.delete(name);
      if (!this.stopped) this.flush(name).catch((e) => this.report(e));
    }, ms));
  },

  // The connection went: what was in flight may or may not be stored, so it goes again (the same
  // ciphertexts: the receiver drops repeats).
  mailConnectionLost() {
    this.mailInFlight?.clear();
    clearTimeout(this.mailPumpTimer);
    this.mailPumpTimer = null;
  },
};
