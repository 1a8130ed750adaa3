//# allFunctionsCalledOnLoad
// Several devices per person (docs/PROTOCOL.md 14.6). A chat between two people is carried by
// one session per pair of devices. One pair is the chat's primary pair: the devices that made the
// chat with a request and its accept, between which the data channel runs (messenger.js,
// outbox.js, inbox.js; the contact's `device`). Every other device, a contact's other listed
// devices and this account's own other devices, is reached here, through the mailbox:
//   - a contact's device gets each own message ({"t":"msg"}) in a session of its own, started
//     with X3DH on that device's bundle when there is none (a known contact's device: the
//     receiving device takes it without asking, once its identity's signed list names it);
//   - an own device gets a copy of each own message ({"t":"sent","peer":NAME,…}) and of each
//     contact that became active ({"t":"contact",…}), so that every device of a person shows
//     the whole conversation.
// Which devices exist is what the identity's signed list says (14.1), kept per contact with the
// largest generation accepted; a list that does not open under their identity key is refused and
// said. A device that leaves the list is forgotten: its session goes, and nothing more is sent
// to it.
import * as core from '../core/parley.js';
import { RANDOM_ID_RE, USERNAME_RE, equalBytes, fromB64u, parseObject, toB64u } from './encoding.js';
import { deviceId, readList } from './devices.js';
import { outboundSession } from './keys.js';
import { MAX_TEXT } from './transcript.js';
import { validCap } from './presence.js';
import { parseOwnBlock, parseOwnPresence } from './contacts.js';
import { wirePayload } from './everyday-wire.js';

const REPAIR_QUIET_MS = 120000; // one new session per device at most this often (repair.js too)
const FAN_RETRY_MS = 5000;
const FAN_RETRY_MAX_MS = 300000;
const SYNC_TRIES = 12; // a contact told to a device of ours that has no keys yet: tried this often, 5 s apart
const RESEND_OWN_MAX = 100; // copies sent again per chat to an own device that renewed its session
const FAN_LINK_GRACE_MS = 4000; // a link to a connected device on its way: the mailbox waits this long // a device whose session could not be started is tried again after this
const MAX_EXTRA_DEVICES = 16; // devices reached besides the primary one, per person (8 listed each side)

/** An address: one device of a person, "NAME/DEVICE". */
export function address(name, device) {
  return `${name}/${device}`;
}

/** {name, device} of an address. */
export function splitAddress(addr) {
  const i = addr.lastIndexOf('/');
  return { name: addr.slice(0, i), device: Number(addr.slice(i + 1)) };
}

export const fanoutMethods = {
  // ---- which devices ---------------------------------------------------------------------------

  /**
   * The contact's device of the chat's primary pair: `device` as stored (a contact from before
   * devices: 1); 0 when there is none (a chat this device learned from another of ours, or whose
   * primary device left their list): then every device of theirs is reached here.
   */
  primaryDevice(name) {
    const d = this.contacts[name]?.device;
    return d === 0 ? 0 : deviceId(d, 1);
  },

  /** The key of the session with a device: the name alone for the primary pair, else the address. */
  sessionKeyFor(name, device) {
    if (name === this.me) return address(name, device);
    const c = this.contacts[name];
    // (A pending chat too: one being repaired or renewed keeps its other devices' sessions.)
    if (!c || !c.identityKey || c.status === 'declined' || device === this.primaryDevice(name)) return name;
    return address(name, device);
  },

  // Whether own messages to a contact go to their other devices and ours: an active chat, or one
  // being repaired (its primary session is being made again).
  fanEligible(name) {
    const c = this.contacts[name];
    // A code contact (invite-chat.js) lives on this device only: no devices of theirs, no copies to ours.
    return !!c && !c.code && (c.status === 'active' || (c.status === 'pending' && !!c.repair));
  },

  /** A contact's listed device ids (their signed list, opened once and kept in memory). */
  listedDevices(name) {
    if (name === this.me) return this.ownDevices || [this.device];
    const c = this.contacts[name];
    // No list known yet (one comes with the identity check after each ready, or a
    // devices-changed): the chat's own device alone; an account without a list: device 1.
    if (!c?.deviceList?.list) return [this.primaryDevice(name) || 1];
    if (Array.isArray(c.deviceList.ids) && c.deviceList.ids.every((d) => deviceId(d, 0) !== 0)) return c.deviceList.ids;
    this.deviceCache = this.deviceCache || new Map();
    const cached = this.deviceCache.get(name);
    if (cached && cached.list === c.deviceList.list) return cached.ids;
    let ids;
    try {
      ids = readList(fromB64u(c.identityKey), fromB64u(c.deviceList.list)).devices.map((d) => d.id);
    } catch {
      ids = [this.primaryDevice(name) || 1]; // a kept list that no longer opens (a new identity)
    }
    this.deviceCache.set(name, { list: c.deviceList.list, ids });
    return ids;
  },

  /** The addresses an own message to `name` goes to here: their other devices, then ours. */
  fanTargets(name) {
    if (!this.fanEligible(name)) return [];
    const primary = this.primaryDevice(name);
    const theirs = this.listedDevices(name).filter((d) => d !== primary).map((d) => address(name, d));
    const ours = (this.ownDevices || []).filter((d) => d !== this.device).map((d) => address(this.me, d));
    return [...theirs, ...ours].slice(0, MAX_EXTRA_DEVICES);
  },

  // ---- device lists ----------------------------------------------------------------------------

  // This account's listed devices, from the vault's newest own list (devices.js).
  async loadOwnDevices() {
    const known = await this.vault.getJson('devices', null);
    let ids = [this.device];
    if (known?.list) {
      try {
        ids = readList(this.account.identityKey(), fromB64u(known.list)).devices.map((d) => d.id);
      } catch {
        // a list of a former identity: this device alone until the next sync
      }
    }
    const before = this.ownDevices;
    this.ownDevices = ids;
    if (!before) return;
    // In the queue (a session being used there is not freed under it); not awaited, so that a
    // caller inside the queue does not wait for itself.
    for (const d of before.filter((x) => !ids.includes(x))) {
      this.serial(() => this.forgetDevice(this.me, d)).catch((e) => this.report(e));
    }
    // A device of ours that is new here learns of every active chat (linking copied those of its
    // time; any made since would otherwise stay unknown there).
    const added = ids.filter((x) => !before.includes(x) && x !== this.device);
    if (added.length) {
      for (const c of Object.values(this.contacts)) {
        if (c.status === 'active') this.syncContact(c.name, added);
      }
    }
  },

  /**
   * A contact's signed list as the directory gave it (B64, or null for an account without one):
   * kept when it opens under their identity key with a larger generation than the one kept; one
   * that does not open is refused and said, and the kept one stays. Devices that left it are
   * forgotten. True when something changed (the caller stores the contacts).
   */
  async takeDeviceList(name, list) {
    const c = this.contacts[name];
    if (!c || typeof list !== 'string') return false;
    let opened;
    try {
      opened = readList(fromB64u(c.identityKey), fromB64u(list));
    } catch {
      if (this.refusedLists?.get(name) !== list) {
        this.refusedLists = this.refusedLists || new Map();
        this.refusedLists.set(name, list);
        this.dispatchEvent(new CustomEvent('alert', {
          detail: `The server gave a list of ${name}'s devices that ${name}'s identity did not sign. It was refused: nothing is sent to devices it names.`,
        }));
      }
      return false;
    }
    if (c.deviceList && opened.generation <= c.deviceList.generation) return false;
    const before = this.listedDevices(name);
    const ids = opened.devices.map((d) => d.id);
    c.deviceList = { list, generation: opened.generation, ids };
    for (const d of before.filter((x) => !ids.includes(x))) await this.forgetDevice(name, d);
    if (!ids.includes(this.primaryDevice(name)) && this.primaryDevice(name) !== 0) {
      // The chat's primary device left their list: their other devices carry it from now on.
      c.device = 0;
      this.dropLink(name);
      this.dropSession(name);
      await this.vault.deleteSession(name);
    }
    this.changed(name);
    return true;
  },

  // A device that left a list: its session goes, and own messages still owed to it are not sent.
  async forgetDevice(name, device) {
    const addr = address(name, device);
    this.dropSession(addr);
    await this.vault.deleteSession(addr);
    const q = this.mailQueues?.get(addr);
    if (q) q.length = 0;
  },

  /** The directory's list of a contact, fetched again (a devices-changed, an unknown device). */
  async refreshDevices(name) {
    const found = await this.fetchIdentity(name);
    if (!found || found.identityKey !== this.contacts[name]?.identityKey) return;
    if (await this.takeDeviceList(name, found.devices)) await this.saveContacts();
  },

  // {"type":"devices-changed","user":NAME}: our own list (another device of ours changed it), or
  // a contact's.
  onDevicesChanged(user) {
    if (user === this.me) {
      this.ensureDeviceList().catch((e) => this.report(e));
    } else if (this.contacts[user]) {
      this.serial(() => this.refreshDevices(user)).catch((e) => this.report(e));
    }
  },

  // ---- sending ---------------------------------------------------------------------------------

  /** Marks a new own message for every other device it goes to (the caller stores the entry). */
  fanMark(name, entry) {
    const targets = this.fanTargets(name);
    if (targets.length) entry.fan = Object.fromEntries(targets.map((a) => [a, 'queued']));
  },

  // What an own message is, for a device: theirs read it as a message, ours as a copy.
  fanPayload(name, addr, entry) {
    if (splitAddress(addr).name === this.me) {
      if (entry.kind) return JSON.stringify(wirePayload(entry, name)); // an everyday action (12.15)
      return JSON.stringify({ t: 'sent', peer: name, id: entry.id, ts: entry.ts, text: entry.text,
        ...(entry.reply ? { reply: entry.reply } : {}), ...(entry.exp ? { exp: entry.exp } : {}) });
    }
    return this.wireText(entry);
  },

  fanOutSoon(name) {
    this.serial(() => this.fanOut(name)).catch((e) => this.report(e));
  },

  /**
   * Sends own messages to the other devices they are owed to, by mail: each ciphertext is stored
   * with its session's state (and kept in the entry until the server has stored it, so a retry
   * sends the same bytes). Devices no longer listed are dropped from the entries. In the queue.
   */
  async fanOut(name) {
    const c = this.contacts[name];
    if (!this.fanEligible(name) || c.held || this.stopped || this.signaling.state !== 'online') return;
    const history = this.history(name);
    const listed = new Set(this.fanTargets(name));
    const queued = new Set();
    for (const [addr, q] of this.mailQueues || []) {
      for (const w of q) if (w.fan) queued.add(`${addr} ${w.fan.entry.id}`);
    }
    const owed = new Map(); // addr -> indexes
    const dropped = [];
    history.forEach((e, i) => {
      if (e.from !== 'me' || !e.fan) return;
      for (const [addr, st] of Object.entries(e.fan)) {
        if (!listed.has(addr)) {
          delete e.fan[addr];
          if (e.fanWire) delete e.fanWire[addr];
          dropped.push(i);
        } else if ((st === 'queued' || (st === 'sent' && e.fanLinks?.[addr] && e.fanLinks[addr] !== this.links.get(addr)?.link)) &&
                   !queued.has(`${addr} ${e.id}`)) {
          // (A copy handed to a link that is gone may not have arrived: it goes again.)
          if (!owed.has(addr)) owed.set(addr, []);
          owed.get(addr).push(i);
        }
      }
    });
    if (dropped.length) await this.saveHistory(name, dropped);
    for (const [addr, indexes] of owed) {
      const session = await this.deviceSession(addr);
      if (!session || this.stopped) {
        this.fanRetry(name); // no keys for that device yet (being linked), or offline: later
        continue;
      }
      const touched = [];
      for (const i of indexes) {
        const e = history[i];
        if (!e.fanWire?.[addr]) {
          e.fanWire = e.fanWire || {};
          e.fanWire[addr] = toB64u(session.encrypt(this.fanPayload(name, addr, e)));
          touched.push(i);
        }
      }
      if (touched.length) {
        await this.vault.putMany([this.vault.sessionRecord(addr, session), ...this.historyRecords(name, touched)]);
      }
      await this.fanSend(name, addr, indexes.map((i) => history[i]));
    }
  },

  // Copies with their ciphertext made: over the device's open link (devicelinks.js), else by mail
  // (after a moment when a link to that connected device is on its way).
  async fanSend(name, addr, entries) {
    const link = this.links.get(addr);
    if (link?.open) {
      const history = this.history(name);
      const handed = [];
      for (const e of entries) {
        if (!link.send(fromB64u(e.fanWire[addr]))) break;
        e.fan[addr] = 'sent';
        e.fanLinks = { ...(e.fanLinks || {}), [addr]: link.link }; // sent again if this link goes before a receipt
        delete e.fanWire[addr];
        if (!Object.keys(e.fanWire).length) delete e.fanWire;
        handed.push(history.lastIndexOf(e));
      }
      if (handed.length) {
        await this.saveHistory(name, handed);
        if (handed.length === entries.length) return;
        entries = entries.slice(handed.length);
      }
    } else if (splitAddress(addr).name !== this.me) {
      this.connectDevice(addr);
      const l = this.links.get(addr);
      this.linkWaits = this.linkWaits || new Map();
      if (l?.pc && !l.open) {
        const since = this.linkWaits.get(addr) || Date.now();
        this.linkWaits.set(addr, since);
        if (Date.now() - since < FAN_LINK_GRACE_MS) {
          this.fanRetry(name);
          return;
        }
      }
      this.linkWaits.delete(addr);
    }
    for (const e of entries) {
      if (e.fanWire?.[addr]) this.mailTo(addr, fromB64u(e.fanWire[addr]), { fan: { entry: e, addr, name } });
    }
  },

  // One retry per contact at a time, FAN_RETRY_MS later.
  // (Doubling while it keeps failing, up to FAN_RETRY_MAX_MS: a device that stays unreachable
  // is not asked for a bundle every few seconds.)
  fanRetry(name) {
    this.fanRetries = this.fanRetries || new Map();
    const r = this.fanRetries.get(name) || { timer: null, wait: FAN_RETRY_MS };
    if (r.timer) return;
    r.timer = setTimeout(() => {
      r.timer = null;
      r.wait = Math.min(FAN_RETRY_MAX_MS, r.wait * 2);
      if (!this.stopped) this.fanOutSoon(name);
    }, r.wait);
    this.fanRetries.set(name, r);
  },

  /** After a ready: what each active contact's other devices are owed. */
  fanOutAll() {
    for (const c of Object.values(this.contacts)) {
      if (this.fanEligible(c.name)) this.fanOutSoon(c.name);
    }
  },

  /**
   * The session with a device other than a chat's primary one, loaded or started (X3DH with that
   * device's bundle, checked against the identity we know and its signed list). null when it
   * cannot be had now (offline, no keys, a bundle that does not check out); the messages wait.
   */
  async deviceSession(addr) {
    const have = await this.session(addr);
    if (have) return have;
    const { name, device } = splitAddress(addr);
    const identityKey = name === this.me ? toB64u(this.account.identityKey()) : this.contacts[name]?.identityKey;
    if (!identityKey) return null;
    let answer;
    try {
      answer = await this.fetchBundle(name, device);
    } catch {
      return null; // no keys yet (a device being linked), offline, throttled: next time
    }
    if (answer?.identityKey !== identityKey || typeof answer.devices !== 'string') return null;
    let ids;
    try {
      ids = readList(fromB64u(identityKey), fromB64u(answer.devices)).devices.map((d) => d.id);
    } catch {
      return null;
    }
    const part = Array.isArray(answer.bundles) ? answer.bundles.find((b) => b?.device === device) : null;
    if (!ids.includes(device) || !part) return null;
    const keys = { ...answer, signedPrekey: part.signedPrekey, oneTimePrekey: part.oneTimePrekey ?? null, kemPrekey: part.kemPrekey ?? null };
    // A contact who offered post-quantum keys before and offers none now is not downgraded
    // silently: no session is made with that device (15; Start chat says so).
    if (name !== this.me && this.contacts[name]?.pq && typeof keys.kemPrekey !== 'string') return null;
    let session;
    try {
      session = outboundSession(this.account, keys);
    } catch {
      return null;
    }
    this.useSession(addr, session);
    this.unanswered = this.unanswered || new Set();
    this.unanswered.add(addr); // until a message of that device decrypts with it (crossing starts)
    return session; // stored with the first message it makes
  },

  /** A payload that is no transcript entry (a receipt, a contact), to a device by mail. */
  async sendToDevice(addr, payload) {
    const session = await this.deviceSession(addr);
    if (!session) return false;
    const wire = session.encrypt(JSON.stringify(payload));
    await this.vault.saveSession(addr, session);
    if (!this.links.get(addr)?.send(wire)) this.mailTo(addr, wire, null);
    return true;
  },

  // Seals a ratchet message to a device and queues its put behind the others for that device.
  mailTo(addr, wire, what) {
    const { name, device } = splitAddress(addr);
    const key = name === this.me ? this.account.identityKey() : fromB64u(this.contacts[name]?.identityKey || '');
    if (key.length === 32) this.queueSealed(addr, name, device, key, wire, what);
  },

  // A copy of an own message stored in a device's mailbox.
  async fanStored({ entry, addr, name }) {
    const history = this.history(name);
    const i = history.lastIndexOf(entry);
    if (i < 0 || !entry.fan || !(addr in entry.fan)) return;
    entry.fan[addr] = 'sent';
    if (entry.fanLinks) delete entry.fanLinks[addr]; // stored by the server: not sent again
    if (entry.fanWire) {
      delete entry.fanWire[addr];
      if (!Object.keys(entry.fanWire).length) delete entry.fanWire;
    }
    // Without a primary device, "sent" is what the other devices say.
    if (entry.state === 'queued' && this.primaryDevice(name) === 0) entry.state = 'sent';
    await this.saveHistory(name, [i]);
    this.changed(name);
  },

  // A contact that became active here: our other devices learn of it.
  syncContact(name, devices = null) {
    const c = this.contacts[name];
    if (!c || c.status !== 'active') return;
    const payload = {
      t: 'contact',
      name,
      identityKey: c.identityKey,
      ...(Number.isSafeInteger(c.identityCounter) ? { identityCounter: c.identityCounter } : {}),
      ...(c.deviceList ? { deviceList: c.deviceList.list } : {}),
      ...(validCap(c.cap) ? { cap: c.cap } : {}),
    };
    for (const d of devices || this.ownDevices || []) {
      if (d !== this.device) this.sendSoon(address(this.me, d), payload, SYNC_TRIES);
    }
  },

  // A payload to a device, in the queue; tried again 5 s later while the device has no keys yet.
  sendSoon(addr, payload, tries) {
    this.serial(async () => {
      if (await this.sendToDevice(addr, payload) || tries <= 1) return;
      setTimeout(() => {
        if (!this.stopped && this.listedDevices(splitAddress(addr).name).includes(splitAddress(addr).device)) {
          this.sendSoon(addr, payload, tries - 1);
        }
      }, FAN_RETRY_MS);
    }).catch((e) => this.report(e));
  },

  // ---- receiving -------------------------------------------------------------------------------

  /**
   * A mailed ratchet message from a device other than a chat's primary one (an own device, or a
   * listed device of an active contact): decrypted with its session, or a new session taken when
   * it is the first message of one (the device must be listed under the identity that signed
   * it). {key, name, effect} or 'unreadable' / null (a repeat).
   */
  async openFromDevice(addr, message, senderIdentity) {
    const { name, device } = splitAddress(addr);
    const own = name === this.me;
    const expected = own ? toB64u(this.account.identityKey()) : this.contacts[name]?.identityKey;
    if (!expected || !equalBytes(senderIdentity, fromB64u(expected))) return 'unreadable';
    let type;
    try {
      type = core.messageType(message);
    } catch {
      return 'unreadable';
    }
    let plaintext = null;
    let spent = false;
    const session = await this.session(addr);
    if (session) {
      try {
        plaintext = session.decrypt(message);
        this.unanswered?.delete(addr); // that device has our session: no crossing any more
      } catch (e) {
        if (!(e instanceof core.ParleyError)) throw e;
        if (e.codeName === 'DUPLICATE') return null;
      }
    }
    let replaced = false;
    if (plaintext === null && isPrekeyType(type) &&
        equalBytes(core.messageSenderIdentity(message), fromB64u(expected))) {
      // Both devices started a session with each other at once: the smaller address's session
      // is kept by both. Ours wins: theirs is dropped (they take ours when it comes, and send
      // again under it what they sent under theirs).
      if (session && this.unanswered?.has(addr) && address(this.me, this.device) < addr) return null;
      if (!this.listedDevices(name).includes(device)) {
        if (own) await this.ensureDeviceList().catch(() => {});
        else await this.refreshDevices(name);
      }
      if (!this.listedDevices(name).includes(device)) return 'unreadable';
      let result;
      try {
        result = core.Session.inbound(this.account, message);
      } catch {
        result = null;
      }
      if (result) {
        this.useSession(addr, result.session);
        this.unanswered?.delete(addr);
        plaintext = result.plaintext;
        spent = true;
        replaced = !!session;
      }
    }
    if (plaintext === null) {
      // A ratchet message no session here reads (a session lost, or rolled back): said, and
      // repaired with a new session (deviceUnreadable).
      if (type === core.MESSAGE_RATCHET && this.listedDevices(name).includes(device)) await this.deviceUnreadable(addr);
      return 'unreadable';
    }
    const inner = parseObject(plaintext);
    let effect;
    if (!own && inner?.t === 'ack' && this.primaryDevice(name) !== 0) {
      // A receipt from a device that is not the chat's primary one is for its copies only: the
      // primary device may not have the message yet.
      effect = { indexes: null, contactsChanged: false, receipt: null, accepted: false, declined: false };
    } else {
      effect = own ? this.applyOwn(inner) : this.applyPayload(name, inner);
    }
    if (inner?.t === 'ack' && Array.isArray(inner.ids) && !own) this.fanDelivered(name, addr, inner.ids, effect);
    // A new session replaced the one we held (a renew, or their start crossing ours and winning):
    // what we sent under the old one goes again under it.
    if (inner?.t === 'renew' || replaced) this.resendTo(addr);
    return { key: addr, name: own ? effect.name : name, effect, spent, receiptTo: own ? null : addr };
  },

  /**
   * A message from a device that the session we hold with it cannot read: the session goes, the
   * transcript says so (never dropped without a word), and a new session is started at once with
   * {"t":"renew"}, on which that device sends again what we have not acknowledged. At most once
   * per device in REPAIR_QUIET_MS (what follows is the old session's, still on its way).
   */
  async deviceUnreadable(addr) {
    const { name } = splitAddress(addr);
    this.deviceRepairs = this.deviceRepairs || new Map();
    if (Date.now() - (this.deviceRepairs.get(addr) || 0) < REPAIR_QUIET_MS) return; // the old session's, late
    this.deviceRepairs.set(addr, Date.now());
    this.dropSession(addr);
    await this.vault.deleteSession(addr);
    this.unanswered?.delete(addr);
    if (name !== this.me) this.undecryptableLine(name);
    // The renew first, then what they have not acknowledged, all under the new session.
    this.sendSoon(addr, { t: 'renew' }, SYNC_TRIES);
    this.resendTo(addr);
  },

  // A device acknowledged own messages: they are delivered there (not sent again on a renew).
  fanDelivered(name, addr, ids, effect) {
    const history = this.history(name);
    const touched = [];
    for (let i = history.length - 1; i >= 0 && touched.length < ids.length; i -= 1) {
      const e = history[i];
      if (e.from === 'me' && e.fan?.[addr] === 'sent' && ids.includes(e.id)) {
        e.fan[addr] = 'delivered';
        touched.push(i);
      }
    }
    if (touched.length) effect.indexes = [...(effect.indexes || []), ...touched];
  },

  // A device started a new session with us ({"t":"renew"}: ours could not be read there): every
  // own message it has not acknowledged goes to it again, under the new session.
  resendTo(addr) {
    const { name } = splitAddress(addr);
    const q = this.mailQueues?.get(addr);
    if (q) q.length = 0; // puts of the old session not yet stored: their answers are ignored
    const names = name === this.me ? Object.keys(this.contacts) : [name];
    for (const n of names) {
      const history = this.history(n);
      const touched = [];
      // (Own devices do not acknowledge copies: to one of them, the most recent ones only.)
      const from = name === this.me ? Math.max(0, history.length - RESEND_OWN_MAX) : 0;
      history.forEach((e, i) => {
        if (i < from || e.from !== 'me' || !e.fan || !(addr in e.fan) || e.fan[addr] === 'delivered') return;
        e.fan[addr] = 'queued';
        if (e.fanWire) delete e.fanWire[addr];
        touched.push(i);
      });
      if (touched.length) {
        this.saveHistory(n, touched).catch((e) => this.report(e));
        this.fanOutSoon(n);
      }
    }
  },

  // A line in the transcript for a message of theirs that no session here opens.
  undecryptableLine(name) {
    this.noticeLine(name, `A message from ${name} could not be decrypted. This device set up a new secure session with that device of theirs.`);
    this.saveHistory(name).catch((e) => this.report(e));
    this.changed(name);
  },

  /**
   * A payload from another device of ours: a copy of a message we sent ({"t":"sent"}), or a contact
   * that became active there ({"t":"contact"}). Returns an effect as applyPayload does, with the
   * contact's name whose transcript changed.
   */
  applyOwn(inner) {
    const effect = { name: null, indexes: null, contactsChanged: false, receipt: null, accepted: false, declined: false };
    if (!inner) return effect;
    const own = parseOwnBlock(inner); // a Block or Unblock made on another device of ours (12.16)
    if (own) return this.applyOwnBlock(own, effect);
    const presence = parseOwnPresence(inner); // our presence settings changed there (12.16)
    if (presence) return this.applyOwnPresence(presence, effect);
    if (this.isEveryday(inner)) return this.applyEverydayOwn(inner, effect); // 12.15 (everyday.js)
    if (inner.t === 'sent' && typeof inner.peer === 'string' && this.contacts[inner.peer] &&
        typeof inner.id === 'string' && RANDOM_ID_RE.test(inner.id) && typeof inner.text === 'string') {
      const name = inner.peer;
      const history = this.history(name);
      if (!this.histories.has(name)) this.histories.set(name, history);
      effect.name = name;
      if (!this.ownSeen(name, inner.id)) {
        const ts = Number(inner.ts);
        history.push({ id: inner.id, from: 'me', text: inner.text.slice(0, MAX_TEXT),
          ts: Number.isFinite(ts) ? ts : Date.now(), state: 'sent', copied: true });
        this.copyExtras(history[history.length - 1], inner); // reply, exp (12.15)
        effect.indexes = [history.length - 1];
      }
    } else if (inner.t === 'contact' && typeof inner.name === 'string' && USERNAME_RE.test(inner.name) &&
               inner.name !== this.me && typeof inner.identityKey === 'string') {
      let key;
      try {
        key = fromB64u(inner.identityKey);
      } catch {
        return effect;
      }
      const c = this.contacts[inner.name];
      if (key.length !== 32 || c?.status === 'active') return effect;
      this.contacts[inner.name] = {
        ...(c || {}),
        name: inner.name,
        status: 'active',
        identityKey: inner.identityKey,
        ...(Number.isSafeInteger(inner.identityCounter) ? { identityCounter: inner.identityCounter } : {}),
        device: 0, // every device of theirs is reached through the mailbox from here
        verified: c?.identityKey === inner.identityKey ? !!c.verified : false,
        unread: c?.unread || 0,
        since: c?.since || Date.now(),
      };
      const cap = validCap(inner.cap);
      if (cap) this.contacts[inner.name].cap = cap;
      if (typeof inner.deviceList === 'string') {
        try {
          const opened = readList(key, fromB64u(inner.deviceList));
          this.contacts[inner.name].deviceList = {
            list: inner.deviceList, generation: opened.generation, ids: opened.devices.map((d) => d.id),
          };
        } catch {
          // a list their identity did not sign: fetched from the directory when needed
        }
      }
      if (!this.histories.has(inner.name)) this.histories.set(inner.name, []);
      effect.name = inner.name;
      effect.contactsChanged = true;
      effect.joined = true;
    }
    return effect;
  },

  // Whether an own message id is in a contact's transcript already (copies come once per device).
  ownSeen(name, id) {
    this.ownIds = this.ownIds || new Map();
    let set = this.ownIds.get(name);
    if (!set) {
      set = new Set(this.history(name).filter((m) => m.from === 'me').map((m) => m.id));
      this.ownIds.set(name, set);
    }
    if (set.has(id)) return true;
    set.add(id);
    return false;
  },
};

/** Whether a message type starts a session: X3DH (2) or PQXDH (3, docs/PROTOCOL.md 15.5). */
export function isPrekeyType(type) {
  return type === core.MESSAGE_PREKEY || type === core.MESSAGE_PREKEY_PQ;
}

