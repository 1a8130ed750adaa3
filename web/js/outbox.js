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
import { sealedName } from './devices.js';

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

  /**
   * Adds a message to the transcript and sends it now, or as soon as a route is open. extra:
   * fields of the everyday payloads (docs/PROTOCOL.md 12.15: reply; exp comes from the chat's
   * timer, everyday.js).
   */
  send(name, text, extra = null) {
    return this.serial(async () => {
      if (typeof text !== 'string' || text.length === 0) return;
      if (text.length > MAX_TEXT) throw new UserError('That message is too long (at most 16,384 characters).');
      this.checkSendable(name);
      const entry = { id: randomId(), from: 'me', text, ts: Date.now(), state: 'queued', ...this.messageExtras(name, extra) };
      await this.enqueue(name, entry);
    });
  },

  checkSendable(name) {
    const c = this.contacts[name];
    if (!c || c.status === 'declined') throw new UserError('This chat is not open. Start it again to reconnect.');
    if (c.held) throw new UserError(`${name}'s safety number changed. Review it before sending.`);
  },

  /** An own transcript entry (a message, or an everyday action, everyday.js) out to the peer: in the queue. */
  async enqueue(name, entry) {
    const c = this.contacts[name];
    this.fanMark(name, entry); // their other devices and ours get it too (fanout.js)
    this.fanOutSoon(name); // after this, in the queue
    const history = this.history(name);
    history.push(entry);
    // renew: the session was made with their former keys; the message waits, unencrypted (in
    // the sealed transcript), for the new one, which this asks for (after this, in the queue).
    const session = c.renew ? null : await this.session(name);
    if (c.renew) this.renewSoon(name);
    if (session && this.links.get(name)?.open) {
      // Stored together with its ratchet state, then sent, after anything older that has not
      // gone on this link yet (a flush queued by the link's opening may not have run).
      await this.deliver(name);
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
  },

  // Sends what a contact is owed (after a link opened, a ready, an accept): in the queue.
  flush(name) {
    return this.serial(() => this.deliver(name));
  },

  // What is owed to a contact, by the route open now: the accept and our capability first, then
  // every own message not yet acknowledged, in transcript order.
  async deliver(name) {
    const c = this.contacts[name];
    if (!c || this.stopped || this.primaryDevice(name) === 0) return; // none: fanout.js carries it
    const link = this.links.get(name);
    // Repairing (12.12): our new session is not theirs until they take its hello (relayed); what
    // we send waits for their accept, so that no message of it reaches them first.
    if (link?.open && c.repair && c.status === 'pending') return;
    if (link?.open) {
      await this.sendControls(name);
      const pending = this.history(name).filter((m) => m.from === 'me' && !m.copied && (m.state === 'queued' || m.state === 'sent'));
      if (pending.length) await this.transmit(name, pending);
      return;
    }
    if (c.status === 'active') this.connect(name);
    // A link to an online peer is on its way: give it a moment before using the mailbox.
    if (this.primaryOnline(name) && link?.pc && !this.mailGraceOver(name)) return;
    await this.mailOut(name);
  },

  // True once the grace for a link has passed; the first call starts it (with a flush at its
  // end). A link that opens ends it (mailGraceEnd), so the next loss starts a new one.
  mailGraceOver(name) {
    this.mailGrace = this.mailGrace || new Map();
    const since = this.mailGrace.get(name);
    if (since) return Date.now() - since >= MAIL_GRACE_MS;
    this.mailGrace.set(name, Date.now());
    setTimeout(() => {
      if (!this.stopped && !this.links.get(name)?.open) this.flush(name).catch((e) => this.report(e));
    }, MAIL_GRACE_MS);
    return false;
  },

  mailGraceEnd(name) {
    this.mailGrace?.delete(name);
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
    const queued = this.mailQueue(name);
    if (c.status === 'pending') {
      if (!c.hello) return;
      if (c.helloMailed !== c.hello) {
        if (!queued.some((w) => w.hello === c.hello)) this.mailWire(name, fromB64u(c.hello), { hello: c.hello });
        return; // the messages follow once the hello is stored
      }
    } else if (c.status !== 'active') {
      return;
    }
    const session = await this.session(name);
    if (!session) return;
    for (const payload of this.owedControls(name)) {
      if (queued.some((w) => w.control?.t === payload.t)) continue;
      const wire = session.encrypt(JSON.stringify(payload));
      await this.persist(name, session);
      this.mailWire(name, wire, { control: payload });
    }
    const history = this.history(name);
    const inQueue = new Set(queued.filter((w) => w.entry).map((w) => w.entry));
    this.tooLarge = this.tooLarge || new WeakSet();
    const todo = history.filter((m) => m.from === 'me' && !m.copied && (m.state === 'queued' || m.state === 'sent') &&
      !m.mailed && !inQueue.has(m) && !this.tooLarge.has(m));
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

  // The puts made for a contact and not yet stored, in order (the first may be on its way).
  mailQueue(name) {
    this.mailQueues = this.mailQueues || new Map();
    let q = this.mailQueues.get(name);
    if (!q) {
      q = [];
      this.mailQueues.set(name, q);
    }
    return q;
  },

  // Seals a ratchet message to the contact and queues the put (mail-put) behind the others for
  // them. What to do once it is stored is kept with it: the hello marked mailed, an entry
  // "sent", a control handed. identityKey: theirs, when they are neither a contact nor a waiting
  // request (a request being declined).
  mailWire(name, wire, what, identityKey = null) {
    const key = identityKey || this.contacts[name]?.identityKey || this.requests.get(name)?.identityKey;
    if (!key) return;
    const device = this.contacts[name]?.device ?? this.requests.get(name)?.device ?? 1;
    if (!this.queueSealed(name, name, device, fromB64u(key), wire, what) && what?.entry) {
      // Larger than the mailbox takes (64 KiB): it waits for a link.
      this.tooLarge = this.tooLarge || new WeakSet();
      this.tooLarge.add(what.entry);
    }
  },

  /**
   * Seals wire to identityKey (bytes) under our sealed name and queues its put for name's device
   * behind the others of queue (a contact's name, or a device's address, fanout.js). False when
   * it is larger than the mailbox takes.
   */
  queueSealed(queue, name, device, identityKey, wire, what) {
    let envelope;
    try {
      envelope = this.account.sealTo(identityKey, sealedName(this.me, this.device), wire);
    } catch (e) {
      if (e instanceof core.ParleyError && e.codeName === 'TOO_LARGE') return false;
      throw e;
    }
    this.mailSeq = (this.mailSeq || 0) + 1;
    const id = `m${this.mailSeq}`;
    this.mailQueue(queue).push({ id, name, ...(what || {}), put: { type: 'mail-put', to: name, device, env: toB64u(envelope), id } });
    this.pumpMail();
    return true;
  },

  /**
   * Sends, for each contact, the first put of its queue, and the next only once the server has
   * stored that one: what goes by mail is stored in the order it was written, whatever is refused
   * or lost on the way (a put is sent again, the same bytes, after a refusal or MAIL_ANSWER_MS
   * without an answer; a copy stored twice is a repeat the receiver drops). At most MAIL_RATE
   * puts a second in all.
   */
  pumpMail() {
    if (!this.mailQueues || this.stopped) return;
    const now = Date.now();
    const b = this.mailBucket || { tokens: MAIL_BURST, at: now };
    b.tokens = Math.min(MAIL_BURST, b.tokens + ((now - b.at) / 1000) * MAIL_RATE);
    b.at = now;
    this.mailBucket = b;
    let wake = Infinity;
    for (const [name, q] of this.mailQueues) {
      const head = q[0];
      if (!head) {
        this.mailQueues.delete(name);
        continue;
      }
      if (head.answered) continue; // stored: its effects are being recorded
      const due = head.sentAt ? head.sentAt + MAIL_ANSWER_MS : (head.retryAt || 0);
      if (due > now) {
        wake = Math.min(wake, due);
        continue;
      }
      if (b.tokens < 1) {
        wake = Math.min(wake, now + Math.ceil(1000 / MAIL_RATE));
        continue;
      }
      if (!this.signaling.send(head.put)) return; // not connected: the next ready goes on
      b.tokens -= 1;
      head.sentAt = now;
      head.retryAt = 0;
      wake = Math.min(wake, now + MAIL_ANSWER_MS);
    }
    clearTimeout(this.mailPumpTimer);
    this.mailPumpTimer = Number.isFinite(wake) ? setTimeout(() => this.pumpMail(), Math.max(1, wake - now)) : null;
  },

  // The server's answer to a mail-put: stored (the next one for that contact goes), or refused
  // (the same put again later).
  onMailAnswer(msg) {
    const q = [...(this.mailQueues?.values() || [])].find((x) => x[0]?.id === msg.ref && x[0].sentAt);
    if (!q) return;
    const head = q[0];
    if (msg.type === 'mail-stored') {
      head.answered = true;
      this.serial(async () => {
        try {
          await this.mailStored(head);
        } finally {
          if (q[0] === head) q.shift();
          this.pumpMail();
        }
      }).catch((e) => this.report(e));
      return;
    }
    head.sentAt = 0;
    if (msg.code === 'mailbox_full') {
      this.dispatchEvent(new CustomEvent('notice', {
        detail: { name: head.name, text: 'has too many messages waiting on the server; yours stay on this device and go when they have read theirs.' },
      }));
    }
    if (msg.code === 'too_many_requests' && !head.held) {
      // Until they accept, the server takes only a few envelopes from us for them (chat
      // requests): the rest wait here, and go once their capability says they have accepted.
      head.held = true;
      this.dispatchEvent(new CustomEvent('notice', {
        detail: { name: head.name, text: 'has not accepted your chat request yet; your messages stay on this device and go once they do.' },
      }));
    }
    if (msg.code === 'invalid_recipient') {
      q.length = 0; // cannot be mailed (the name is ours): the link takes them
    } else if (msg.code === 'too_many_requests') {
      head.retryAt = Date.now() + Math.max(MAIL_FULL_RETRY_MS, Math.min(3600, Number(msg.retryAfter) || 0) * 1000);
    } else {
      head.retryAt = Date.now() + (msg.code === 'mailbox_full' ? MAIL_FULL_RETRY_MS : MAIL_RETRY_MS);
    }
    this.pumpMail();
  },

  async mailStored(w) {
    if (w.fan) {
      await this.fanStored(w.fan);
      return;
    }
    const c = this.contacts[w.name];
    if (w.hello) {
      if (c && c.hello === w.hello) {
        c.helloMailed = w.hello;
        await this.saveContacts();
        this.flush(w.name).catch((e) => this.report(e)); // the messages typed meanwhile follow it
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

  // The connection went: a put on its way may or may not be stored, so it goes again after the
  // next ready (the same bytes: the receiver drops a repeat).
  mailConnectionLost() {
    for (const q of this.mailQueues?.values() || []) {
      if (q[0] && !q[0].answered) q[0].sentAt = 0;
    }
    clearTimeout(this.mailPumpTimer);
    this.mailPumpTimer = null;
  },
};
