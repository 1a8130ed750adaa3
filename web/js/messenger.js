//# allFunctionsCalledOnLoad
// The messenger: contacts, sessions and links, and the signaling that drives them. Each job has
// its own module, installed on this class: chat requests (requests.js), the transcript
// (transcript.js), sending (outbox.js), receiving (inbox.js) and identity checks (identity.js).
// Everything sent to a peer is a Double Ratchet message from the core; what the server relays is
// signaling and, for a chat request, the X3DH initial message (ciphertext).
//
// Inside the ratchet, the plaintext is JSON:
//   {t: "hello"}                              first message of a chat request
//   {t: "msg", id, ts, text}                  a chat message (id: 128-bit random hex)
//   {t: "ack", ids: [...]}                    delivery receipt
//   timer, read, typing, edit, delete, react  everyday payloads (12.15, everyday.js)
// Messages stay "sent" until acknowledged and are sent again (same id) after a reconnect; the
// receiver keeps ids, so nothing is lost or shown twice.
import { deviceMethods, deviceId } from './devices.js';
import { FileTransfers } from './files.js'; // files (docs/PROTOCOL.md 18)
import { fanoutMethods } from './fanout.js';
import { deviceLinkMethods } from './devicelinks.js';
import { identityMethods } from './identity.js';
import { inboxMethods } from './inbox.js';
import { replenish } from './keys.js';
import { outboxMethods } from './outbox.js';
import { PeerLink, coolDown, warmUp } from './peer.js';
import { presenceMethods } from './presence.js';
import { relayMethods } from './relay.js';
import { repairMethods } from './repair.js';
import { testHookMethods } from './testhooks.js';
import { requestMethods } from './requests.js';
import { transcriptMethods } from './transcript.js';
import { contactMethods } from './contacts.js';
// Everyday features (docs/PROTOCOL.md 12.15): actions, disappearing messages, receipts and typing.
import { actionMethods, disappearingMethods, receiptMethods } from './everyday.js';
// Rooms (docs/PROTOCOL.md 20.7): installed last, it wraps wireText and fanMark for room entries.
import { roomMethods } from './rooms.js';

export { UserError } from './errors.js';

const REPLENISH_DELAY_MS = 3000;
const REQUEST_RETRY_MS = 2000; // a chat request the server could not relay (busy, rate limited) goes again
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const LINK_LOST_MAIL_MS = 5000; // a closed link's unacknowledged messages wait this long for a new one

export class Messenger extends EventTarget {
  constructor({ username, device = 1, account, vault, signaling }) {
    super();
    this.me = username;
    this.device = device; // this browser's device id for the account (devices.js)
    this.account = account;
    this.vault = vault;
    this.signaling = signaling;
    this.contacts = {};
    this.histories = new Map();
    this.sessions = new Map();
    this.links = new Map();
    this.presence = new Map();
    this.presenceDevices = new Map(); // name -> their connected device ids (null: not said)
    this.requests = new Map(); // incoming requests waiting for Accept / Decline
    this.retry = new Map();
    this.unreachable = new Set(); // contacts whose last link failed before it opened
    this.earlyOffers = new Map(); // sender -> {offer, timer}: an offer sent ahead of their chat request
    this.retrying = new Set(); // pending requests to send again after recipient_busy / rate_limited
    this.requestWrites = new Map(); // sender -> the write of their shown request, until answered
    this.acceptChecks = new Set(); // contacts whose chat-accept waits 3 s for a link
    this.sentOn = new WeakMap(); // message entry -> the link it went out on
    this.busy = Promise.resolve(); // serialises state changes
    this.files = new FileTransfers(this); // files and pictures (files.js)
  }

  async load() {
    await this.loadBlocks(); // contacts.js: before anything of anyone is taken
    this.contacts = await this.vault.getJson('contacts', {});
    await this.loadPresence();
    await this.loadNetworkSettings(); // before any link or spare exists
    await this.loadOwnDevices();
    // Requests waiting for the person are stored with the session they made (their one-time
    // prekey is spent), so that a reload does not lose them.
    this.requests = new Map(Object.entries(await this.vault.getJson('requests', {})));
    await this.files.load();
    // Contacts' transcripts, and what waiting requests brought with them (by mail).
    for (const name of new Set([...Object.keys(this.contacts), ...this.requests.keys()])) {
      this.histories.set(name, await this.loadHistory(name));
    }
    await this.loadEveryday(); // everyday.js
    this.startExpiry();
    this.signaling.addEventListener('message', (ev) => this.onSignal(ev.detail));
    this.installTestHooks();
    await this.loadRooms(); // rooms.js
    warmUp(); // WebRTC readied now, not when the first chat starts
    this.signaling.addEventListener('state', (ev) => {
      if (ev.detail.state !== 'online') this.mailConnectionLost();
      if (ev.detail.state === 'online' && !this.stopped) {
        this.sendPresenceSettings();
        this.subscribe();
        this.resendRequests();
        this.deliverAll();
        this.fanOutAll();
        this.pumpMail(); // puts left unanswered by the last connection go again
        // Neither holds up a chat: they run after the connection is ready, over HTTP.
        this.checkIdentitiesSoon();
        this.replenishSoon();
        this.ensureDeviceList().catch((e) => this.report(e));
      }
    });
  }

  // Runs state changes one at a time (signals, sends and link events arrive concurrently).
  // After shutdown() queued work is skipped: the vault is closed and the keys wiped.
  serial(fn) {
    const run = () => (this.stopped ? undefined : fn());
    const next = this.busy.then(run, run);
    this.busy = next.catch((e) => this.report(e));
    return next;
  }

  report(e) {
    this.dispatchEvent(new CustomEvent('problem', { detail: e }));
  }

  changed(name) {
    this.dispatchEvent(new CustomEvent('change', { detail: { name } }));
  }

  // The contacts record, and with withRequests the waiting requests too (in the same
  // transaction). The requests (each with its offer's SDP) are written only where they change,
  // not with every contacts save (an unread count changes with every message).
  contactsRecords(withRequests = false) {
    const out = [['contacts', this.vault.sealJson('contacts', this.contacts)]];
    if (withRequests) out.push(this.requestsRecord());
    return out;
  }

  requestsRecord() {
    return ['requests', this.vault.sealJson('requests', Object.fromEntries(this.requests))];
  }

  async saveContacts(withRequests = false) {
    await this.vault.putMany(this.contactsRecords(withRequests));
  }

  async session(name) {
    if (!this.sessions.has(name)) {
      const s = await this.vault.loadSession(name);
      if (s) this.sessions.set(name, s);
    }
    return this.sessions.get(name) || null;
  }

  async setSession(name, session) {
    this.useSession(name, session);
    await this.vault.saveSession(name, session);
  }

  // Makes a session the current one in memory (the caller stores it).
  useSession(name, session) {
    const old = this.sessions.get(name);
    if (old && old !== session) old.free();
    this.sessions.set(name, session);
  }

  // Forgets the link to a contact; with bye, tells them (a link that has left the page).
  dropLink(name, bye = false) {
    const l = this.links.get(name);
    if (l && bye) l.close();
    else if (l) l.reset();
    this.links.delete(name);
  }

  // Frees and forgets the session in memory (the vault keeps what it holds).
  dropSession(name) {
    const s = this.sessions.get(name);
    if (s) s.free();
    this.sessions.delete(name);
  }

  // ---- signaling -------------------------------------------------------------------------------

  onSignal(msg) {
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'presence') {
      const was = this.presence.get(msg.user);
      const primaryWas = this.primaryOnline(msg.user);
      this.presence.set(msg.user, msg.state);
      // Which of their devices are connected (several devices, fanout.js): the link goes to the
      // chat's primary device only while that one is.
      this.presenceDevices.set(msg.user, msg.state === 'online' && Array.isArray(msg.devices)
        ? msg.devices.filter((d) => deviceId(d, 0) !== 0) : null);
      const primaryNow = this.primaryOnline(msg.user);
      const l = this.links.get(msg.user);
      if ((msg.state === 'offline' || (primaryWas && !primaryNow)) && l && (l.open || l.pc)) {
        l.reset(); // the peer's page is gone: do not wait for ICE to notice
      }
      this.devicePresence(msg.user);
      if (primaryNow && !primaryWas && was === 'online') this.connectSoon(msg.user); // their device came back
      if (msg.state === 'online' && was !== 'online') {
        // An offer of ours made while they were known to be away cannot succeed; one made before
        // we knew (right after they accepted), or a link they started, is fine.
        if (was === 'offline' && l && !l.open && l.initiator && l.pc) l.reset();
        this.connectSoon(msg.user);
      }
      // A pending request goes again when they come back (seen only when they gave us their
      // capability before: a renewed chat). Otherwise its mailed copy is what reaches them.
      if (msg.state === 'online' && this.contacts[msg.user]?.status === 'pending' && was === 'offline') {
        this.sendRequest(msg.user).catch((e) => this.report(e));
      }
      this.changed(msg.user);
      return;
    }
    if (msg.type === 'identity-changed') {
      this.serial(() => this.identityChanged(msg.user));
      return;
    }
    if (msg.type === 'devices-changed' && msg.from === undefined && typeof msg.user === 'string') {
      this.onDevicesChanged(msg.user);
      return;
    }
    // The mailbox (the server's own messages: no "from").
    if (msg.from === undefined && msg.type === 'mail') {
      this.onMail(msg);
      return;
    }
    if (msg.from === undefined && typeof msg.ref === 'string' && /^m[0-9]+$/.test(msg.ref) &&
        (msg.type === 'mail-stored' || msg.type === 'error')) {
      this.onMailAnswer(msg);
      return;
    }
    if (msg.type === 'prekeys-low' && msg.from === undefined) {
      this.replenishSoon(); // someone fetched our bundle and few one-time prekeys are left
      return;
    }
    if (msg.type === 'error') {
      // Only refusals of our chat requests (ref "req:NAME") are acted on.
      const name = typeof msg.ref === 'string' && msg.ref.startsWith('req:') ? msg.ref.slice(4) : null;
      if (name && msg.code === 'recipient_offline') {
        this.dispatchEvent(new CustomEvent('notice', {
          detail: { name, text: 'is not online right now; your request waits for them on the server.' },
        }));
      } else if (name && (msg.code === 'recipient_busy' || msg.code === 'rate_limited' ||
                          msg.code === 'too_many_requests')) {
        // Not relayed this time (their connection is backed up, ours sent too much at once, or
        // they have had too many chat requests lately): the request goes again after a pause
        // (what the server asks for, when it says) while it is still waiting, one at a time.
        if (!this.retrying.has(name)) {
          this.retrying.add(name);
          const wait = Math.max(REQUEST_RETRY_MS, Math.min(3600, Number(msg.retryAfter) || 0) * 1000);
          setTimeout(() => {
            this.retrying.delete(name);
            if (!this.stopped) this.sendRequest(name).catch((e) => this.report(e));
          }, wait);
        }
      }
      return;
    }
    const from = typeof msg.from === 'string' ? msg.from : null;
    if (!from || this.isBlocked(from)) return; // blocked (contacts.js): dropped unseen
    switch (msg.type) {
      case 'chat-offer':
        this.onEarlyOffer(from, msg);
        break;
      case 'chat-request':
        this.serial(() => this.onRequest(from, msg));
        break;
      case 'chat-accept':
        this.serial(async () => {
          const c = this.contacts[from];
          if (!c || (c.status !== 'pending' && c.status !== 'active')) return;
          if (c.status === 'pending' || c.hello !== undefined) {
            // Stored only when something changed: a repeated chat-accept costs no write.
            c.status = 'active';
            delete c.hello;
            delete c.helloMailed;
            delete c.repair;
            this.saveContacts().catch((e) => this.report(e)); // in order with later writes
            this.syncContact(from);
            this.changed(from);
          }
          // The one who accepted answers our offer (or offers); offer anew only if neither comes
          // (one such check per contact at a time).
          if (this.acceptChecks.has(from)) return;
          this.acceptChecks.add(from);
          setTimeout(() => {
            this.acceptChecks.delete(from);
            if (this.stopped) return;
            const l = this.links.get(from);
            if (l?.active) return;
            if (l) l.reset(); // an offer they did not answer
            this.connect(from, true);
          }, 3000);
        });
        break;
      case 'chat-decline':
        this.serial(() => this.declined(from));
        break;
      case 'offer':
      case 'answer':
      case 'ice':
      case 'bye': {
        // "pending": we asked them; their offer may overtake the chat-accept being processed.
        // Links run between the chat's primary pair of devices only (fanout.js).
        const st = this.contacts[from]?.status;
        if ((st === 'active' || st === 'pending') && deviceId(msg.fromDevice) === this.primaryDevice(from)) {
          this.link(from).onSignal(msg).catch((e) => this.report(e));
        } else if (st === 'active') {
          this.onDeviceSignal(from, msg); // another device of theirs (devicelinks.js)
        }
        break;
      }
      default:
        break;
    }
  }

  // A prekey was spent, or the connection is (again) ready: top the directory up a little later,
  // not while the chat is being set up (it costs an HTTP request, and a key upload when they run
  // low; 20 of 100 are left then).
  replenishSoon() {
    if (this.replenishTimer || this.stopped) return;
    this.replenishTimer = setTimeout(() => {
      this.replenishTimer = null;
      this.replenishKeys().catch((e) => this.report(e));
    }, REPLENISH_DELAY_MS);
  }

  /**
   * Keeps the directory stocked (keys.js replenish), one run at a time: a caller while a run is
   * on its way gets that run's promise, so that two cannot both make and upload a batch. None
   * starts after shutdown or while the identity is being reset (that uploads keys of its own).
   */
  replenishKeys() {
    if (this.stopped || this.resettingIdentity || !this.account) return Promise.resolve();
    if (!this.replenishing) {
      this.replenishing = replenish(this.account, this.vault).finally(() => {
        this.replenishing = null;
      });
    }
    return this.replenishing;
  }

  // ---- links -------------------------------------------------------------------------------------

  // The link to a contact's primary device (device: the one a request came from, before the
  // contact is stored).
  link(name, device = null) {
    let l = this.links.get(name);
    if (!l) {
      l = new PeerLink(this.me, name, this.signaling);
      l.toDevice = device ?? (this.contacts[name] ? this.primaryDevice(name) || null : null);
      l.addEventListener('open', () => {
        this.retry.delete(name);
        this.unreachable.delete(name);
        this.mailGraceEnd(name);
        this.files.linkOpened(name, l); // its files channel (files.js)
        this.changed(name);
        this.flush(name); // in creation order: kept ciphertexts and unacknowledged messages alike
      });
      l.addEventListener('close', (ev) => {
        if (!ev.detail?.wasOpen) this.unreachable.add(name);
        this.files.linkClosed(name);
        this.changed(name);
        this.scheduleReconnect(name);
        // What went into the link and was not acknowledged may be lost: unless a link is open
        // again by then, it goes by mail (outbox.js).
        setTimeout(() => {
          if (!this.stopped && !this.links.get(name)?.open) this.flush(name).catch((e) => this.report(e));
        }, LINK_LOST_MAIL_MS);
      });
      l.addEventListener('data', (ev) => this.onData(name, ev.detail)); // inbox.js: queued, in order
      this.links.set(name, l);
    }
    return l;
  }

  linkState(name) {
    const l = this.links.get(name);
    if (l?.open) return 'connected';
    // No primary pair (fanout.js): a link to any device of theirs is the chat's.
    if (this.primaryDevice(name) === 0 && [...this.links].some(([k, x]) => k.startsWith(`${name}/`) && x.open)) return 'connected';
    const p = this.presence.get(name);
    // Online, but a link to them failed since the last one that opened (no path between the
    // two networks, or a relay that refused us): the mailbox carries the chat meanwhile.
    if (p === 'online' && this.unreachable.has(name)) return 'unreachable';
    if (l?.pc) return 'connecting';
    // "unknown": they do not show their presence to us (hidden, or no capability of theirs yet).
    return p === 'online' ? 'online' : p === 'unknown' ? 'hidden' : 'offline';
  }

  /** Opens a link to an active, online contact (the alphabetically smaller side offers first). */
  connect(name, force = false) {
    if (this.stopped) return;
    const c = this.contacts[name];
    if (!c || c.status !== 'active' || c.renew) return; // renew: the session is dead (12.8)
    if (this.primaryDevice(name) === 0) return; // no primary pair: the mailbox carries the chat
    // Offline: presence "online" will call again. (A forced start follows a message from the
    // peer, which proves they are connected even before their presence arrives.)
    if (!force && !this.primaryOnline(name)) return;
    const l = this.link(name);
    if (l.open || l.pc) return;
    if (force || this.me < name) {
      l.start().catch((e) => this.report(e));
    } else {
      // The other side offers; if it has not after a moment, offer ourselves.
      setTimeout(() => {
        const again = this.links.get(name);
        if (!this.stopped && again && !again.open && !again.pc && this.primaryOnline(name)) {
          again.start().catch((e) => this.report(e));
        }
      }, 3000);
    }
    this.changed(name);
  }

  // Whether the contact's device of the chat's primary pair is connected (presence "online" and,
  // when presence names their devices, among them).
  primaryOnline(name) {
    if (this.presence.get(name) !== 'online') return false;
    const devices = this.presenceDevices.get(name);
    return !devices || devices.includes(this.primaryDevice(name));
  }

  connectSoon(name) {
    if (this.contacts[name]?.status === 'active') this.connect(name);
  }

  scheduleReconnect(name) {
    const attempt = (this.retry.get(name) || 0) + 1;
    this.retry.set(name, attempt);
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (attempt - 1));
    setTimeout(() => {
      if (!this.stopped && this.primaryOnline(name) && !this.links.get(name)?.open) this.connect(name);
    }, delay);
  }

  openChat(name) {
    this.activeChat = name;
    const c = this.contacts[name];
    if (c && c.unread) {
      c.unread = 0;
      this.serial(() => this.saveContacts());
    }
    if (c?.status === 'active') {
      this.connect(name);
      this.connectDevices(name);
    }
  }

  shutdown() {
    this.stopped = true; // no prekey upkeep or identity check starts after this
    coolDown();
    this.mailConnectionLost();
    clearTimeout(this.replenishTimer);
    this.replenishTimer = null;
    clearTimeout(this.identityTimer);
    this.identityTimer = null;
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const s of this.sessions.values()) s.free();
    this.sessions.clear();
    this.files.shutdown();
  }
}

Object.assign(Messenger.prototype, transcriptMethods, requestMethods, identityMethods, outboxMethods,
  inboxMethods, presenceMethods, repairMethods, relayMethods, testHookMethods, deviceMethods, fanoutMethods,
  deviceLinkMethods, contactMethods, actionMethods, disappearingMethods, receiptMethods, roomMethods);
