//# allFunctionsCalledOnLoad
// The inbox: ratchet messages from a peer (docs/PROTOCOL.md 12.6), from the data channel or from
// the server's mailbox (12.11): chat messages into the transcript, answered with a receipt;
// receipts mark own messages delivered; an accept, a decline or a capability updates the contact.
// Mail comes in batches (up to 64 envelopes the server sends before we acknowledge): each batch
// is decrypted in memory, stored in one transaction, answered with one receipt per sender, and
// only then acknowledged to the server, which deletes it.
import * as core from '../core/parley.js';
import { USERNAME_RE, equalBytes, fromB64u, parseObject, toB64u } from './encoding.js';
import { parseSealedName } from './devices.js';
import { isPrekeyType } from './fanout.js';
import { isFilePayload } from './files-wire.js';
import { isRemovePayload } from './contacts.js';
import { isRoomPayload } from './rooms-wire.js';

const MAX_ACK_IDS = 256;
const MAIL_BATCH = 64; // envelopes handled per transaction
const DATA_BATCH = 64; // link messages of one contact handled per transaction (receipts: one ack)
// How far a peer's timestamp may be from our clock (strictly less) and still be shown: 366 days.
// Wide on purpose: messages sent long ago may arrive late (queued while we were away); the check
// only keeps nonsense out (a bad date would break rendering).
const MAX_PEER_TIME_SKEW_MS = 366 * 24 * 3600 * 1000;

// A peer's timestamp, kept only when it is a sane date, otherwise the time of receipt.
function peerTime(ts) {
  const n = Number(ts);
  return Number.isFinite(n) && Math.abs(n - Date.now()) < MAX_PEER_TIME_SKEW_MS ? n : Date.now();
}


export const inboxMethods = {
  // A ratchet message from the data channel: queued per contact. Those that wait while the
  // queue is busy are taken together (takeData), so a burst (a call's negotiation, a room's
  // messages) costs one write, not one per message.
  onData(name, bytes) {
    this.dataIn ||= new Map();
    let q = this.dataIn.get(name);
    if (!q) {
      q = [];
      this.dataIn.set(name, q);
    }
    q.push(bytes);
    if (q.length > 1) return; // a drain is queued and takes it
    this.serial(async () => {
      while (q.length && !this.stopped) {
        const batch = q.slice(0, DATA_BATCH); // left in q meanwhile: what comes waits for this drain
        try {
          await this.takeData(name, batch);
        } catch (e) {
          this.report(e); // said; the messages after the batch are still taken
        }
        q.splice(0, batch.length);
      }
    }).finally(() => {
      q.length = 0; // stopped: nothing more is taken
    }).catch((e) => this.report(e));
  },

  // Messages of one link, in order: decrypted one by one (each on the session's own checks),
  // then what they changed stored in one transaction with one receipt for all that need one,
  // sent once stored; then their effects. A message that does not open stores what came
  // before it first, then is repaired (repair.js); the rest go on after it.
  async takeData(name, list) {
    if (globalThis.parleyTestHooks) (this.linkBatches ||= []).push(list.length);
    const acc = { session: null, receipts: [], indexes: new Set(), effects: [], contactsChanged: false, rooms: [] };
    const commit = async () => {
      const { session } = acc;
      if (!session) return;
      if (acc.rooms.length) await this.storeRooms(acc.rooms); // rooms.js: before the receipt can leave
      const ack = acc.receipts.length ? session.encrypt(JSON.stringify({ t: 'ack', ids: acc.receipts })) : null;
      await this.persist(name, session, acc.indexes.size ? [...acc.indexes] : null, acc.contactsChanged);
      if (ack) this.links.get(name)?.send(ack);
      const { effects } = acc;
      Object.assign(acc, { session: null, receipts: [], indexes: new Set(), effects: [], contactsChanged: false, rooms: [] });
      for (const effect of effects) this.afterPayload(name, effect);
    };
    for (const bytes of list) {
      const session = await this.session(name);
      if (acc.session && acc.session !== session) await commit(); // replaced meanwhile
      let plaintext = null;
      try {
        if (session) plaintext = session.decrypt(bytes);
      } catch (e) {
        if (!(e instanceof core.ParleyError)) throw e;
        if (e.codeName === 'DUPLICATE') continue; // a repeat: state unchanged
      }
      if (plaintext === null) {
        await commit();
        await this.undecryptable(name); // refused (state unchanged): said, and repaired
        continue;
      }
      acc.session = session;
      this.noteChain(name, bytes);
      const effect = this.applyPayload(name, parseObject(plaintext));
      if (effect.receipt) acc.receipts.push(effect.receipt);
      for (const i of effect.indexes || []) acc.indexes.add(i);
      acc.contactsChanged ||= effect.contactsChanged;
      if (effect.room) acc.rooms.push(effect.room);
      acc.effects.push(effect);
    }
    await commit();
  },

  /**
   * What a decrypted payload changes, in memory (the caller stores the session with it):
   * {indexes, contactsChanged, receipt (a message id to acknowledge), accepted, declined}.
   * Messages of someone whose request waits for the person are kept, unacknowledged: the
   * receipt would tell them the request was read.
   */
  applyPayload(name, inner) {
    const effect = { indexes: null, contactsChanged: false, receipt: null, accepted: false, declined: false };
    if (!inner) return effect;
    const c = this.contacts[name];
    const history = this.history(name);
    if (this.isEveryday(inner)) {
      // A chat message, and the everyday payloads (docs/PROTOCOL.md 12.15), read strictly (everyday.js).
      this.applyEveryday(name, inner, effect, peerTime);
    } else if (isRoomPayload(inner)) {
      this.applyRoom(name, inner, effect); // rooms (rooms.js, docs/PROTOCOL.md 20.7)
    } else if (inner.t === 'ack' && Array.isArray(inner.ids) && inner.ids.length <= MAX_ACK_IDS) {
      const touched = [];
      // Receipts are for recent messages: search from the end.
      for (let i = history.length - 1; i >= 0 && touched.length < inner.ids.length; i -= 1) {
        const m = history[i];
        if (m.from === 'me' && m.state !== 'delivered' && inner.ids.includes(m.id)) {
          m.state = 'delivered';
          touched.push(i);
        }
      }
      if (touched.length) effect.indexes = touched;
    } else if (inner.t === 'accept' && c && (c.status === 'pending' || c.status === 'active')) {
      // They accepted our request (by mail, or on the link before chat-accept came).
      if (c.status === 'pending' || c.hello !== undefined) {
        c.status = 'active';
        delete c.hello;
        delete c.helloMailed;
        delete c.repair;
        effect.accepted = true;
      }
      this.takeCap(name, inner.cap);
      effect.contactsChanged = true;
    } else if (inner.t === 'cap' && c) {
      effect.contactsChanged = this.takeCap(name, inner.cap);
    } else if (inner.t === 'decline' && c && c.status === 'pending') {
      effect.declined = true;
    } else if (inner.t === 'call' && c && c.status === 'active') {
      effect.call = inner; // a call message (calls.js), handled once the session is stored
    } else if (isFilePayload(inner) && c && c.status === 'active') {
      effect.file = inner; // files.js, once the session is stored (docs/PROTOCOL.md 18.4)
    } else if (isRemovePayload(inner) && c && c.status === 'active') {
      effect.removed = true; // they removed us (contacts.js, 12.16)
    }
    return effect;
  },

  // What follows a payload once it is stored: a chat that opened goes on, a declined one ends.
  afterPayload(name, effect) {
    if (effect.indexes || effect.contactsChanged) this.changed(name);
    if (effect.accepted) {
      this.syncContact(name);
      this.subscribe();
      this.connect(name, true);
      this.flush(name).catch((e) => this.report(e));
    }
    if (effect.declined) this.serial(() => this.declined(name));
    if (effect.file) this.files.onPayload(name, effect.file);
    if (effect.removed) this.serial(() => this.removedBy(name));
    if (effect.joined) this.subscribe(); // a contact another device of ours made
    if (effect.call) this.dispatchEvent(new CustomEvent('call', { detail: { name, payload: effect.call } }));
    if (effect.room) this.afterRoom(effect); // rooms.js
    if (effect.accepted) this.rejudgeSoon(); // room messages that waited for this session
  },

  // ---- mail ---------------------------------------------------------------------------------------

  // {"type":"mail","id":N,"env":B64} from the server: handled in batches, in the queue.
  onMail(msg) {
    this.mailIn = this.mailIn || [];
    this.mailIn.push(msg);
    this.drainSoon();
  },

  // One drain in the queue at a time; mail that came while it ran gets the next one.
  drainSoon() {
    if (this.mailDraining || this.stopped) return;
    this.mailDraining = true;
    this.serial(() => this.drainMail()).catch((e) => this.report(e)).finally(() => {
      this.mailDraining = false;
      if (this.mailIn.length) this.drainSoon();
    });
  },

  async drainMail() {
    while (this.mailIn.length && !this.stopped) {
      const batch = this.mailIn.splice(0, MAIL_BATCH);
      await this.takeMail(batch);
    }
  },

  // One batch: opened and decrypted in order; what they change stored in one transaction; then
  // receipts; then the server is told it may delete them.
  async takeMail(batch) {
    const done = [];
    // Per session (its key: a contact's name, or a device's address, fanout.js): its name for
    // the receipts and where they go; per contact: the transcript indexes and effects.
    const sessions = new Map(); // key -> {name, receipts: [], receiptTo}
    const touched = new Map(); // name -> {indexes: Set, effects: []}
    let contactsChanged = false;
    let spent = false;
    let unreadable = 0;
    const rooms = []; // rooms.js: room effects, stored in the batch's transaction
    const commit = async () => {
      if (!sessions.size && !touched.size && !contactsChanged && !spent && !done.length) return;
      const records = [];
      if (spent) records.push(this.vault.accountRecord(this.account));
      for (const key of sessions.keys()) {
        const s = this.sessions.get(key);
        if (s) records.push(this.vault.sessionRecord(key, s));
      }
      for (const [name, t] of touched) {
        if (t.indexes.size) records.push(...this.historyRecords(name, [...t.indexes]));
      }
      if (contactsChanged) records.push(...this.contactsRecords(), ...this.takeOwnRecords()); // contacts.js
      if (rooms.length) records.push(...this.roomRecords(rooms.splice(0)));
      if (records.length) await this.vault.putMany(records);
      if (spent) this.replenishSoon();
      const receipts = [...sessions.values()];
      const work = [...touched];
      sessions.clear();
      touched.clear();
      contactsChanged = false;
      spent = false;
      for (const r of receipts) {
        for (let i = 0; i < r.receipts.length; i += MAX_ACK_IDS) {
          const payload = { t: 'ack', ids: r.receipts.slice(i, i + MAX_ACK_IDS) };
          if (r.receiptTo) await this.sendToDevice(r.receiptTo, payload);
          else await this.sendControl(r.name, payload);
        }
      }
      for (const [name, t] of work) {
        for (const effect of t.effects) this.afterPayload(name, effect);
        if (t.indexes.size) this.changed(name);
      }
      for (let i = 0; i < done.length; i += MAX_ACK_IDS) {
        this.signaling.send({ type: 'mail-ack', ids: done.slice(i, i + MAX_ACK_IDS) });
      }
      done.length = 0;
    };
    for (const m of batch) {
      if (!Number.isSafeInteger(m.id) || m.id < 1) continue; // nothing to acknowledge it by
      const result = await this.openMail(m.env);
      if (result === 'unreadable') {
        unreadable += 1;
      } else if (result?.undecryptable) {
        await commit(); // what came before it is stored first
        await this.undecryptable(result.name, result.message);
      } else if (result?.request) {
        await commit(); // what came before it is stored first
        await this.takeMailRequest(result);
      } else if (result) {
        const { name, effect } = result;
        const key = result.key || name;
        let r = sessions.get(key);
        if (!r) {
          r = { name, receipts: [], receiptTo: result.receiptTo || null };
          sessions.set(key, r);
        }
        if (effect.receipt) r.receipts.push(effect.receipt);
        spent = spent || !!result.spent;
        if (name) {
          let t = touched.get(name);
          if (!t) {
            t = { indexes: new Set(), effects: [] };
            touched.set(name, t);
          }
          for (const i of effect.indexes || []) t.indexes.add(i);
          if (effect.accepted || effect.declined || effect.joined || effect.call || effect.removed || effect.room) t.effects.push(effect);
        }
        if (effect.room) rooms.push(effect.room);
        contactsChanged = contactsChanged || effect.contactsChanged;
      }
      done.push(m.id);
    }
    await commit();
    if (unreadable) {
      // One notice for all of them since log-in (batches come one after the other).
      this.unreadableMail = (this.unreadableMail || 0) + unreadable;
      const n = this.unreadableMail;
      this.dispatchEvent(new CustomEvent('alert', {
        detail: `${n === 1 ? 'A message' : `${n} messages`} waiting for you on the server could not be read (not sealed for this account, or damaged) and ${n === 1 ? 'was' : 'were'} discarded.`,
      }));
    }
  },

  /**
   * Opens one envelope: null for a repeat (nothing to do), 'unreadable', {request} for the
   * first message of a new session (a chat request), or {name, effect} for a payload decrypted
   * with the session we hold (its new state kept in memory for the batch's transaction).
   */
  async openMail(env) {
    let opened;
    try {
      opened = this.account.openSealed(fromB64u(env));
    } catch (e) {
      if (e instanceof core.ParleyError || e instanceof Error) return 'unreadable';
      throw e;
    }
    const sender = parseSealedName(opened.sender);
    const name = sender?.name;
    const message = opened.message;
    if (!sender || !USERNAME_RE.test(name)) return 'unreadable';
    if (this.isBlocked(name)) return null; // blocked (contacts.js): dropped unseen, acknowledged
    if (name === this.me && sender.device === this.device) return 'unreadable';
    // Another device of ours, or one of a contact's that is not the chat's primary (fanout.js).
    const key = this.sessionKeyFor(name, sender.device);
    if (key !== name) return this.openFromDevice(key, message, opened.senderIdentity);
    let type;
    try {
      type = core.messageType(message);
    } catch {
      return 'unreadable';
    }
    const session = await this.session(name);
    const contactKey = this.contacts[name]?.identityKey;
    if (session && equalBytes(session.peerIdentity(), opened.senderIdentity)) {
      let plaintext = null;
      try {
        plaintext = session.decrypt(message);
      } catch (e) {
        if (!(e instanceof core.ParleyError)) throw e;
        if (e.codeName === 'DUPLICATE') return null; // delivered twice (at least once on the wire)
        // A ratchet message of this session that does not open: a late copy of one read before
        // (12.12) is dropped; anything else is said and the session repaired.
        if (!isPrekeyType(type)) return { name, undecryptable: true, message };
      }
      if (plaintext) {
        this.noteChain(name, message);
        return { name, effect: this.applyPayload(name, parseObject(plaintext)) };
      }
    } else if (!session && type === core.MESSAGE_RATCHET && contactKey === toB64u(opened.senderIdentity)) {
      // From a contact whose session this device no longer holds: said, and repaired.
      return { name, undecryptable: true, message };
    }
    // A new session: the first message must name the same identity as the envelope.
    if (isPrekeyType(type) && equalBytes(core.messageSenderIdentity(message), opened.senderIdentity)) {
      return { request: true, name, device: sender.device, message, identityKey: toB64u(opened.senderIdentity) };
    }
    return 'unreadable';
  },

  // A chat request that came by mail. The envelope's name is the sender's own claim: the
  // directory must give that name the same identity key (the server authenticates the sender of
  // a relayed request; nobody authenticates a sealed one).
  async takeMailRequest({ name, device, message, identityKey }) {
    const known = this.contacts[name]?.identityKey === identityKey;
    if (!known) {
      const directory = await this.fetchIdentity(name);
      if (!directory || directory.identityKey !== identityKey) {
        this.dispatchEvent(new CustomEvent('alert', {
          detail: `A chat request signed "${name}" did not match ${name}'s keys on the server and was discarded.`,
        }));
        return;
      }
    }
    await this.takeRequest(name, { hello: toB64u(message) }, message, null, device);
  },
};
