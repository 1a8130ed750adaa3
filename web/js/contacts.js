//# allFunctionsCalledOnLoad
// Block, Unblock, Remove contact, Delete chat, and 24 hours before a declined person may ask
// again (docs/PROTOCOL.md 12.16). Installed on the Messenger.
import * as core from '../core/parley.js';
import { USERNAME_RE, toB64u } from './encoding.js';
import { UserError } from './errors.js';
import { validCap } from './presence.js';

export const BLOCKS_RECORD = 'blocks';
export const MAX_BLOCKED = 1024; // people blocked at once
export const MAX_DECLINED = 1024; // declines remembered (the oldest forgotten first)
export const DECLINE_WAIT_MS = 24 * 3600 * 1000; // a declined person may ask again after this
const CAP_BYTES = 32;

const isTime = (v) => Number.isSafeInteger(v) && v >= 0;

/** The strict reader of the vault record "blocks" (12.16); anything else throws. */
export function parseBlocks(value) {
  const fail = (why) => {
    throw new TypeError(`blocks record: ${why}`);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('not an object');
  const keys = Object.keys(value).sort().join(',');
  if (keys !== 'blocked,declined,v') fail('unexpected fields');
  if (value.v !== 1) fail('unknown version');
  const table = (t, max, what) => {
    if (!t || typeof t !== 'object' || Array.isArray(t)) fail(`${what} is not an object`);
    const entries = Object.entries(t);
    if (entries.length > max) fail(`too many ${what}`);
    const out = new Map();
    for (const [name, at] of entries) {
      if (!USERNAME_RE.test(name)) fail(`${what}: not a username`);
      if (!isTime(at)) fail(`${what}: not a time`);
      out.set(name, at);
    }
    return out;
  };
  return { blocked: table(value.blocked, MAX_BLOCKED, 'blocked'), declined: table(value.declined, MAX_DECLINED, 'declined') };
}

export function blocksValue(blocked, declined) {
  return { v: 1, blocked: Object.fromEntries(blocked), declined: Object.fromEntries(declined) };
}

/** Exactly {"t":"remove"} (12.16). */
export function isRemovePayload(inner) {
  return !!inner && typeof inner === 'object' && !Array.isArray(inner) && inner.t === 'remove' && Object.keys(inner).length === 1;
}

/**
 * The strict reader of a Block or Unblock copied to our own other devices (12.16): exactly
 * {"t":"block","name","at","cap"} or {"t":"unblock","name","at"}; {block, name, at, cap} or null.
 */
export function parseOwnBlock(inner) {
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) return null;
  const block = inner.t === 'block';
  if (!block && inner.t !== 'unblock') return null;
  const keys = Object.keys(inner).sort().join(',');
  if (keys !== (block ? 'at,cap,name,t' : 'at,name,t')) return null;
  if (typeof inner.name !== 'string' || !USERNAME_RE.test(inner.name) || !isTime(inner.at)) return null;
  if (block && !validCap(inner.cap)) return null;
  return { block, name: inner.name, at: inner.at, cap: block ? inner.cap : null };
}

/**
 * The strict reader of our presence settings copied to our own other devices (12.16): exactly
 * {"t":"presence","at","cap","visible"}; {at, cap, visible} or null.
 */
export function parseOwnPresence(inner) {
  if (!inner || typeof inner !== 'object' || Array.isArray(inner) || inner.t !== 'presence') return null;
  if (Object.keys(inner).sort().join(',') !== 'at,cap,t,visible') return null;
  if (!isTime(inner.at) || !validCap(inner.cap) || typeof inner.visible !== 'boolean') return null;
  return { at: inner.at, cap: inner.cap, visible: inner.visible };
}

export const contactMethods = {
  // A record that does not read is an error, never an empty list (that would unblock everyone).
  async loadBlocks() {
    const stored = await this.vault.getJson(BLOCKS_RECORD, null);
    let parsed;
    try {
      parsed = stored === null ? { blocked: new Map(), declined: new Map() } : parseBlocks(stored);
    } catch {
      throw new UserError('The list of people you blocked could not be read on this device.');
    }
    this.blocked = parsed.blocked;
    this.declinedUntil = parsed.declined;
    const now = Date.now();
    for (const [name, until] of this.declinedUntil) if (until <= now) this.declinedUntil.delete(name);
  },

  blocksRecord() {
    return [BLOCKS_RECORD, this.vault.sealJson(BLOCKS_RECORD, blocksValue(this.blocked, this.declinedUntil))];
  },

  isBlocked(name) {
    return !!this.blocked?.has(name);
  },

  // Sent (by their clock) between our last Block and Unblock: dropped, and so are its resends.
  sentWhileBlocked(name, ts) {
    const c = this.contacts[name];
    const t = Number(ts);
    return !!c && isTime(c.blockedAt) && Number.isFinite(t) && t >= c.blockedAt && (!isTime(c.unblockedAt) || t < c.unblockedAt);
  },

  refusesRequest(name) {
    if (this.isBlocked(name)) return true;
    const until = this.declinedUntil?.get(name) || 0;
    return until > Date.now() && this.contacts[name]?.status !== 'active';
  },

  // Start chat: not with someone blocked, nor within 24 hours of their decline; ours is forgotten.
  checkAskAgain(name) {
    if (this.isBlocked(name)) throw new UserError(`You blocked ${name}. Unblock them first.`);
    const c = this.contacts[name];
    const wait = c?.status === 'declined' && isTime(c.declinedAt) ? c.declinedAt + DECLINE_WAIT_MS - Date.now() : 0;
    if (wait > 0) {
      const hours = Math.ceil(wait / 3600000);
      throw new UserError(`${name} declined your chat request. You can ask again in ${hours === 1 ? 'an hour' : `${hours} hours`}.`);
    }
    if (this.declinedUntil?.delete(name)) this.vault.putMany([this.blocksRecord()]).catch((e) => this.report(e));
  },

  noteDeclined(name) {
    this.declinedUntil.delete(name);
    this.declinedUntil.set(name, Date.now() + DECLINE_WAIT_MS);
    while (this.declinedUntil.size > MAX_DECLINED) this.declinedUntil.delete(this.declinedUntil.keys().next().value);
  },

  // A new capability, told to the server and owed to every active contact (12.10).
  async replaceCap() {
    this.presenceCap = toB64u(core.randomBytes(CAP_BYTES));
    await this.vault.putJson('presence', { cap: this.presenceCap, visible: this.showPresence });
    this.sendPresenceSettings();
    this.deliverAll();
  },

  // What is kept of someone just blocked goes: a stranger's (not a contact's) session and history,
  // an early offer, the mail queued for them.
  async dropBlocked(name, contact) {
    if (!contact) {
      this.dropSession(name);
      await this.vault.deleteSession(name);
      await this.forgetHistory(name);
    }
    if (this.earlyOffers?.has(name)) this.dropEarlyOffer(name);
    this.mailQueues?.delete(name);
  },

  block(name) {
    return this.serial(async () => {
      if (this.isBlocked(name) || name === this.me) return;
      // A contact made by invitation code has no account (no requests, no presence to refuse):
      // it is removed instead; its name is not a username the blocks record could hold.
      if (this.contacts[name]?.code) throw new UserError(`${name} has no account to block: use Remove contact.`);
      if (this.blocked.size >= MAX_BLOCKED) throw new UserError(`You can block at most ${MAX_BLOCKED} people.`);
      this.blocked.set(name, Date.now());
      const c = this.contacts[name];
      const waiting = this.requests.get(name);
      if (waiting) {
        this.requestWrites.delete(name);
        this.requests.delete(name);
        this.requestsChanged(name);
      }
      if (c && c.status !== 'blocked') {
        c.blockedFrom = c.status;
        c.status = 'blocked';
        c.blockedAt = Date.now();
        delete c.unblockedAt;
        delete c.acceptOwed;
      }
      await this.dropBlocked(name, c);
      await this.vault.putMany([this.blocksRecord(), ...this.contactsRecords(!!waiting)]);
      await this.replaceCap();
      this.capAt = this.blocked.get(name);
      this.copyToOwn({ t: 'block', name, at: this.capAt, cap: this.presenceCap });
      this.dropLink(name, true);
      this.changed(name);
      this.requestsChanged(name);
    });
  },

  // Our capability and "Show when I'm online" just changed here (Remove contact, the switch): the
  // other devices take them, so that none tells the server an older one (12.16).
  copyPresenceToOwn() {
    this.capAt = Math.max(Date.now(), (this.capAt || 0) + 1);
    this.copyToOwn({ t: 'presence', at: this.capAt, cap: this.presenceCap, visible: this.showPresence });
  },

  /**
   * Presence settings copied from another device of ours: taken when newer than ours (equal: the
   * larger capability as text), stored with the batch (ownRecords, inbox.js), then told to the
   * server and owed to every active contact.
   */
  applyOwnPresence(own, effect) {
    if (!(own.at > (this.capAt || 0) || (own.at === this.capAt && own.cap > this.presenceCap))) return effect;
    const capChanged = own.cap !== this.presenceCap;
    this.presenceCap = own.cap;
    this.showPresence = own.visible;
    this.capAt = own.at;
    this.ownRecords = [...(this.ownRecords || []),
      ['presence', this.vault.sealJson('presence', { cap: this.presenceCap, visible: this.showPresence })]];
    effect.contactsChanged = true; // the batch stores ownRecords with the contacts
    this.serial(async () => {
      this.sendPresenceSettings();
      if (capChanged) this.deliverAll();
      this.changed(null);
    }).catch((e) => this.report(e));
    return effect;
  },

  // A Block or Unblock made here, copied to our other devices (12.16).
  copyToOwn(payload) {
    for (const d of this.ownDevices || []) {
      if (d !== this.device) this.sendSoon(`${this.me}/${d}`, payload, 12); // fanout.js address
    }
  },

  /**
   * A Block or Unblock copied from another device of ours (fanout.js applyOwn): applied in memory
   * at once (what follows in the batch is dropped already), its records stored with the batch
   * (ownRecords, inbox.js); then the rest in the queue. The capability with the later time wins.
   */
  applyOwnBlock(own, effect) {
    const { name } = own;
    if (name === this.me) return effect;
    const c = this.contacts[name];
    let withRequests = false;
    let newCap = false;
    if (own.block) {
      if (!this.isBlocked(name) && this.blocked.size < MAX_BLOCKED) {
        this.blocked.set(name, own.at);
        if (this.requests.has(name)) {
          this.requestWrites.delete(name);
          this.requests.delete(name);
          this.requestsChanged(name);
          withRequests = true;
        }
        if (c && c.status !== 'blocked') {
          c.blockedFrom = c.status;
          c.status = 'blocked';
          c.blockedAt = own.at;
          delete c.unblockedAt;
          delete c.acceptOwed;
        }
      }
      // Taken even when NAME is blocked here already (both devices blocked at once).
      if (own.at > (this.capAt || 0) || (own.at === this.capAt && own.cap > this.presenceCap)) {
        this.presenceCap = own.cap;
        this.capAt = own.at;
        newCap = true;
      }
    } else {
      if (!this.blocked.delete(name)) return effect;
      if (c?.status === 'blocked') {
        c.status = c.blockedFrom === 'active' ? 'active' : 'declined';
        c.unblockedAt = own.at;
        delete c.blockedFrom;
      }
    }
    // Added to what the batch holds already (later records of a name replace earlier ones).
    this.ownRecords = [...(this.ownRecords || []), this.blocksRecord(), ...(withRequests ? [this.requestsRecord()] : []),
      ...(newCap ? [['presence', this.vault.sealJson('presence', { cap: this.presenceCap, visible: this.showPresence })]] : [])];
    effect.contactsChanged = true;
    this.serial(async () => {
      if (own.block) {
        await this.dropBlocked(name, c);
        this.dropLink(name, true);
        if (newCap) {
          this.sendPresenceSettings();
          this.deliverAll();
        }
      } else if (c?.status === 'active') {
        this.flush(name).catch((e) => this.report(e));
        this.connect(name);
      }
      this.changed(name);
      this.requestsChanged(name);
    }).catch((e) => this.report(e));
    return effect;
  },

  // The records a copied Block or Unblock left to store with its batch (inbox.js).
  takeOwnRecords() {
    const out = this.ownRecords || [];
    this.ownRecords = null;
    return out;
  },

  unblock(name) {
    return this.serial(async () => {
      if (!this.blocked.delete(name)) return;
      const c = this.contacts[name];
      if (c?.status === 'blocked') {
        c.status = c.blockedFrom === 'active' ? 'active' : 'declined';
        c.unblockedAt = Date.now();
        delete c.blockedFrom;
      }
      await this.vault.putMany([this.blocksRecord(), ...this.contactsRecords()]);
      this.copyToOwn({ t: 'unblock', name, at: c?.unblockedAt || Date.now() });
      if (c?.status === 'active') {
        this.flush(name).catch((e) => this.report(e));
        this.connect(name);
      }
      this.changed(name);
      this.requestsChanged(name); // the list of blocked people is drawn with the requests
    });
  },

  removeContact(name) {
    return this.serial(async () => {
      const c = this.contacts[name];
      if (!c) return;
      const session = c.status === 'active' ? await this.session(name) : null;
      if (session) {
        // By mail: the link closes right after.
        const wire = session.encrypt(JSON.stringify({ t: 'remove' }));
        await this.persist(name, session);
        this.mailWire(name, wire, null, c.identityKey);
      }
      this.dropLink(name, true);
      this.dropSession(name);
      await this.vault.deleteSession(name);
      for (const d of this.listedDevices?.(name) || []) {
        if (d !== this.primaryDevice(name)) await this.forgetDevice(name, d).catch((e) => this.report(e));
      }
      await this.forgetHistory(name);
      delete this.contacts[name];
      if (this.activeChat === name) this.activeChat = null;
      await this.saveContacts();
      await this.replaceCap();
      this.copyPresenceToOwn();
      this.subscribe();
      this.changed(name);
    });
  },

  deleteChat(name) {
    return this.serial(async () => {
      const own = this.history(name).filter((m) => m.from === 'me' && (m.state === 'queued' || (m.state === 'sent' && !m.mailed)));
      if (own.length) throw new UserError('Some of your messages in this chat have not left yet. Wait until they are sent, then delete the chat.');
      await this.forgetHistory(name);
      this.histories.set(name, []);
      const c = this.contacts[name];
      if (c?.unread) {
        c.unread = 0;
        await this.saveContacts();
      }
      this.changed(name);
    });
  },

  async removedBy(name) {
    const c = this.contacts[name];
    if (!c || c.status !== 'active') return;
    this.dropLink(name);
    c.status = 'declined';
    await this.saveContacts();
    this.dispatchEvent(new CustomEvent('notice', { detail: { name, text: 'removed you from their contacts. Start the chat again to ask them.' } }));
    this.changed(name);
  },
};
