//# allFunctionsCalledOnLoad
// The messenger: contacts, chat requests, sessions, the encrypted transcript and its delivery
// over WebRTC. Everything sent to a peer is a Double Ratchet message from the core; what the
// server relays is signaling and, for a chat request, the X3DH initial message (ciphertext).
//
// Inside the ratchet, the plaintext is JSON:
//   {t: "hello"}                              first message of a chat request
//   {t: "msg", id, ts, text}                  a chat message (id: 128-bit random hex)
//   {t: "ack", ids: [...]}                    delivery receipt
// Messages stay "sent" until acknowledged and are sent again (same id) after a reconnect; the
// receiver keeps ids, so nothing is lost or shown twice.
import * as core from '../core/parley.js';
import { ApiError, plainMessage, request } from './api.js';
import { RANDOM_ID_RE, fromB64u, fromUtf8, randomId, toB64u } from './encoding.js';
import { bundleFromJson, publish, replenish } from './keys.js';
import { HOLD_MS, PeerLink, coolDown, warmUp } from './peer.js';

const MAX_TEXT = 16384;
const CHUNK = 100; // history is stored in sealed chunks of 100 messages
const MAX_ACK_IDS = 256;
const MAX_OFFER_SDP = 60000; // characters of a request's (or early) offer SDP
const TRANSMIT_BATCH = 32; // messages encrypted and stored in one transaction before they leave
// How far a peer's timestamp may be from our clock (strictly less) and still be shown: 366 days.
// Wide on purpose: messages sent long ago may arrive late (queued while we were away); the check
// only keeps nonsense out (a bad date would break rendering).
const MAX_PEER_TIME_SKEW_MS = 366 * 24 * 3600 * 1000;

// A peer's timestamp, kept only when it is a sane date, otherwise the time of receipt.
function peerTime(ts) {
  const n = Number(ts);
  return Number.isFinite(n) && Math.abs(n - Date.now()) < MAX_PEER_TIME_SKEW_MS ? n : Date.now();
}
const OFFER_MAX_AGE_MS = HOLD_MS - 30000; // an offer that came with a request, while its sender keeps it
const MAX_HELD_ANSWERS = 4; // answers made ahead for requests not yet accepted
const OFFER_REPLACE_MS = 5000; // a waiting request's offer is replaced by a newer one at most this often
const MAX_EARLY_OFFERS = 16; // offers kept for chat requests still on their way
const EARLY_OFFER_MS = 30000; // how long such an offer waits for its request
const REPLENISH_DELAY_MS = 3000;
// After each `ready`, the contacts' identity keys are compared with the directory's (a change
// made while this page was away sends no identity-changed notice): at most this many contacts
// per run (active first, then pending, then the rest, most recent first), a few requests at a
// time, each contact once. GET /api/identity is not throttled by the server; a reconnect within
// the gap of the last run's start waits for the gap to pass (one run per gap at most).
const IDENTITY_CHECK_MAX = 64;
const IDENTITY_CHECK_PARALLEL = 4;
const IDENTITY_CHECK_GAP_MS = 10000;
const REQUEST_RETRY_MS = 2000; // a chat request the server could not relay (busy, rate limited) goes again
// get-bundle's refusals, with the status GET /api/keys/{username} gives them; any other answer
// (an older server, say) means asking over HTTP instead.
const BUNDLE_REFUSALS = Object.freeze({ unknown_user: 404, no_keys: 404, invalid_username: 400, rate_limited: 429, internal: 500 });
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;

export class Messenger extends EventTarget {
  constructor({ username, account, vault, signaling }) {
    super();
    this.me = username;
    this.account = account;
    this.vault = vault;
    this.signaling = signaling;
    this.contacts = {};
    this.histories = new Map();
    this.sessions = new Map();
    this.links = new Map();
    this.presence = new Map();
    this.requests = new Map(); // incoming requests waiting for Accept / Decline
    this.retry = new Map();
    this.earlyOffers = new Map(); // sender -> {offer, timer}: an offer sent ahead of their chat request
    this.undelivered = new Set(); // pending requests the server could not deliver (peer offline)
    this.retrying = new Set(); // pending requests to send again after recipient_busy / rate_limited
    this.requestWrites = new Map(); // sender -> the write of their shown request, until answered
    this.acceptChecks = new Set(); // contacts whose chat-accept waits 3 s for a link
    this.sentOn = new WeakMap(); // message entry -> the link it went out on
    this.busy = Promise.resolve(); // serialises state changes
  }

  async load() {
    this.contacts = await this.vault.getJson('contacts', {});
    // Requests waiting for the person are stored with the session they made (their one-time
    // prekey is spent), so that a reload does not lose them.
    this.requests = new Map(Object.entries(await this.vault.getJson('requests', {})));
    for (const name of Object.keys(this.contacts)) {
      this.histories.set(name, await this.loadHistory(name));
    }
    this.signaling.addEventListener('message', (ev) => this.onSignal(ev.detail));
    warmUp(); // WebRTC readied now, not when the first chat starts
    this.signaling.addEventListener('state', (ev) => {
      if (ev.detail.state === 'online' && !this.stopped) {
        this.subscribe();
        this.resendRequests();
        // Neither holds up a chat: both run after the connection is ready, over HTTP.
        this.checkIdentitiesSoon();
        this.replenishSoon();
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

  subscribe() {
    this.signaling.subscribe(Object.keys(this.contacts));
  }

  history(name) {
    return this.histories.get(name) || [];
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

  async loadHistory(name) {
    const chunks = await this.vault.getJson(`history-chunks:${name}`, 0);
    const out = [];
    for (let i = 0; i < chunks; i += 1) out.push(...await this.vault.getJson(`history:${name}:${i}`, []));
    return out;
  }

  // The records holding the given message indexes (default: the last message).
  historyRecords(name, indexes) {
    const h = this.history(name);
    if (h.length === 0) return [];
    const touched = new Set((indexes || [h.length - 1]).map((i) => Math.floor(i / CHUNK)));
    const out = [...touched].map((k) => {
      const rec = `history:${name}:${k}`;
      return [rec, this.vault.sealJson(rec, h.slice(k * CHUNK, (k + 1) * CHUNK))];
    });
    const countRec = `history-chunks:${name}`;
    out.push([countRec, this.vault.sealJson(countRec, Math.ceil(h.length / CHUNK))]);
    return out;
  }

  async saveHistory(name, indexes) {
    const records = this.historyRecords(name, indexes);
    if (records.length) await this.vault.putMany(records);
  }

  // One transaction for a session and the history chunks it changed: a message's ratchet state
  // and its transcript entry are stored together, before any ciphertext leaves.
  async persist(name, session, indexes, withContacts = false) {
    const records = [];
    if (session) records.push(this.vault.sessionRecord(name, session));
    if (indexes) records.push(...this.historyRecords(name, indexes));
    if (withContacts) records.push(...this.contactsRecords());
    if (records.length) await this.vault.putMany(records);
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

  // ---- starting a chat -----------------------------------------------------------------------

  /** "Start chat": fetch the bundle, run X3DH, ask the contact. */
  startChat(rawName, { renewOnly = false } = {}) {
    return this.serial(async () => {
      const name = rawName.trim().toLowerCase();
      if (name === this.me) throw new UserError('That is you. Type the username of someone else.');
      const existing = this.contacts[name];
      if (renewOnly && !existing?.renew) return name; // a new session was made meanwhile
      // A contact whose identity changed (renew, 12.8) has a session made with their former keys
      // that their new ones cannot read: a new one is made below, as for a new contact.
      if (existing && existing.status === 'active' && !existing.renew && await this.session(name)) {
        this.connect(name);
        return name;
      }
      if (this.requests.has(name)) {
        // They have asked us already: starting the chat accepts their request (a second
        // session, crossing theirs, would leave the two sides with different ones).
        await this.answerNow(name, true);
        return name;
      }
      const fetching = this.fetchBundle(name);
      // The WebRTC offer is made while the bundle is on its way and sent ahead of the request
      // (and with it), so that they can prepare their answer meanwhile. It names no address.
      const link = this.link(name);
      link.heldOffer().then((offer) => {
        if (offer && this.links.get(name) === link && link.holding && link.link === offer.link) {
          this.signaling.send({ type: 'chat-offer', to: name, offer });
        }
      }).catch((e) => this.report(e));
      let bundle;
      try {
        bundle = await fetching;
      } catch (e) {
        if (this.contacts[name]?.status !== 'pending' && this.links.get(name)?.holding) this.dropLink(name);
        if (e instanceof ApiError && e.code === 'invalid_username') {
          throw new UserError(`"${name}" is not a valid username.`);
        }
        if (e instanceof ApiError && (e.code === 'unknown_user' || e.status === 404)) {
          throw new UserError(e.code === 'no_keys'
            ? `${name} has not finished setting up Parley yet.`
            : `There is no one called "${name}" on this server.`);
        }
        throw e;
      }
      const session = core.Session.outbound(this.account, bundleFromJson(bundle));
      const hello = session.encrypt(JSON.stringify({ t: 'hello' }));
      this.useSession(name, session);
      // Compared with the key we knew before it is replaced: a new key raises the warning and
      // holds sending (the verified mark goes with it).
      const keyChanged = !!existing?.identityKey && existing.identityKey !== bundle.identityKey;
      this.contacts[name] = {
        ...(existing || {}),
        name,
        status: 'pending',
        identityKey: bundle.identityKey,
        identityCounter: bundle.identityCounter,
        verified: !!existing?.verified,
        unread: existing?.unread || 0,
        hello: toB64u(hello),
        since: Date.now(),
      };
      delete this.contacts[name].renew; // this is the new session
      if (keyChanged) this.raiseIdentityWarning(name);
      if (!this.histories.has(name)) this.histories.set(name, []);
      const stale = this.dropWires(name);
      // The hello leaves while the session that made it is being stored (with the contact): it is
      // the session's first message, so no message key can be used twice whatever happens to the
      // write. A page that dies before the write lands has no trace of the chat (and will make a
      // new session); the request it sent is then one the contact may accept and never hear from.
      const storing = this.persist(name, session, stale.length ? stale : null, true);
      this.subscribe();
      await this.sendRequest(name);
      try {
        await storing;
      } catch (e) {
        await this.undoStart(name, existing);
        throw e;
      }
      this.changed(name);
      return name;
    });
  }

  // A contact's prekey bundle (one of their one-time prekeys spent): asked over the signaling
  // connection, which is open already, else (not connected, or no answer within 5 s) over HTTP.
  async fetchBundle(name) {
    const answer = await this.signaling.request({ type: 'get-bundle', user: name });
    if (answer?.type === 'bundle' && answer.bundle && typeof answer.bundle === 'object') return answer.bundle;
    const status = answer?.type === 'error' && Object.hasOwn(BUNDLE_REFUSALS, answer.code) ? BUNDLE_REFUSALS[answer.code] : 0;
    if (status) throw new ApiError(status, answer.code, plainMessage(answer.code, String(answer.message || '')));
    return request('GET', `/api/keys/${encodeURIComponent(name)}`);
  }

  // Start chat whose session could not be stored: the contact, session and transcript go back
  // to what is stored (the request that left is one they may accept and never hear from).
  async undoStart(name, existing) {
    this.dropLink(name);
    this.dropSession(name);
    if (existing) this.contacts[name] = existing;
    else delete this.contacts[name];
    this.seenIds?.delete(name);
    try {
      this.histories.set(name, await this.loadHistory(name));
    } catch {
      // what is in memory stays; the next load reads the vault again
    }
    this.changed(name);
  }

  /** Sends (again) the request of a pending contact, with a WebRTC offer ready for them. */
  async sendRequest(name) {
    if (this.stopped) return;
    const c = this.contacts[name];
    if (!c || c.status !== 'pending' || !c.hello || c.renew) return; // renew: a dead hello
    this.undelivered.delete(name);
    const offer = await this.link(name).heldOffer().catch((e) => {
      this.report(e);
      return null;
    });
    if (this.contacts[name] !== c || c.status !== 'pending' || !c.hello) return;
    const msg = { type: 'chat-request', to: name, id: `req:${name}`, hello: c.hello };
    if (offer) msg.offer = offer;
    this.signaling.send(msg);
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

  resendRequests() {
    for (const c of Object.values(this.contacts)) {
      if (c.status === 'pending' && !c.renew) this.sendRequest(c.name).catch((e) => this.report(e));
      else if (c.renew && !c.held) this.renewSoon(c.name);
    }
  }

  /** Accept or decline an incoming request. */
  answerRequest(name, accept) {
    return this.serial(() => this.answerNow(name, accept));
  }

  /** Accepts or declines a waiting request (inside the queue). */
  async answerNow(name, accept) {
    const req = this.requests.get(name);
    if (!req) return;
    const writing = this.requestWrites.get(name);
    this.requestWrites.delete(name);
    this.requests.delete(name);
    this.requestsChanged(name);
    if (!accept) {
      this.signaling.send({ type: 'chat-decline', to: name });
      if (!this.contacts[name] || this.contacts[name].status !== 'active') {
        this.dropLink(name);
        this.dropSession(name);
        await this.vault.deleteSession(name);
        delete this.contacts[name];
      }
      await this.saveContacts(true); // the request is gone, from the vault too
      this.changed(name);
      return;
    }
    const prev = this.contacts[name];
    this.activate(name, req);
    // The link first: the answer to the offer that came with the request (made already, or
    // now), else an offer of ours. None of it waits for anything to be stored.
    this.connectAccepted(name, req.offer);
    this.subscribe();
    this.changed(name);
    // The request was shown while its session and spent prekey were being stored (takeRequest):
    // that write must have landed before the contact is stored as active and they are told.
    if (writing) {
      try {
        await writing;
      } catch {
        this.undoAccept(name, prev); // the failure was reported when the write failed
        return;
      }
    }
    this.acceptStored(name, true); // the contact and the request's removal, stored together
  }

  // An accepted request whose session could not be stored: the link is closed (they are told
  // with bye), the session and contact go back to what they were, and the person is told.
  undoAccept(name, prev) {
    this.dropLink(name, true);
    this.dropSession(name);
    if (prev) this.contacts[name] = prev;
    else delete this.contacts[name];
    this.dispatchEvent(new CustomEvent('notice', {
      detail: { name, text: 'asked to chat, but this device could not save the chat, so it was not accepted. Free some storage and ask them to start the chat again.' },
    }));
    this.changed(name);
  }

  // The waiting requests changed (one came, or went): the list is drawn again.
  requestsChanged(name) {
    this.dispatchEvent(new CustomEvent('request', { detail: { name } }));
  }

  // Tells them once the contact is stored, without holding up the queue meanwhile (IndexedDB
  // commits transactions in the order they were made, so what is stored later lands after it).
  acceptStored(name, withRequests = false) {
    this.saveContacts(withRequests).then(() => this.signaling.send({ type: 'chat-accept', to: name }), (e) => this.report(e));
  }

  // After accepting (or when both asked at once): answer their offer, or offer ourselves.
  connectAccepted(name, offer) {
    const l = this.link(name);
    if (l.holdsAnswerTo(offer)) {
      l.release();
    } else if (l.active) {
      // A link is up or on its way already: leave it.
    } else if (offer && Date.now() - offer.at < OFFER_MAX_AGE_MS) {
      l.answer(offer).catch((e) => this.report(e));
    } else {
      // No usable offer (or one too old): the one who accepts offers at once.
      l.start().catch((e) => this.report(e));
      this.changed(name);
    }
  }

  // The contact becomes active in memory; the caller stores the contacts.
  activate(name, req) {
    const prev = this.contacts[name];
    this.contacts[name] = {
      ...(prev || {}),
      name,
      status: 'active',
      identityKey: req.identityKey,
      verified: prev && prev.identityKey === req.identityKey ? prev.verified : false,
      unread: prev?.unread || 0,
      since: prev?.since || Date.now(),
    };
    delete this.contacts[name].hello;
    delete this.contacts[name].renew; // their request made the new session
    if (!this.histories.has(name)) this.histories.set(name, []);
  }

  // ---- signaling -------------------------------------------------------------------------------

  onSignal(msg) {
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'presence') {
      const was = this.presence.get(msg.user);
      this.presence.set(msg.user, msg.state);
      const l = this.links.get(msg.user);
      if (msg.state === 'offline' && l && (l.open || l.pc)) {
        l.reset(); // the peer's page is gone: do not wait for ICE to notice
      }
      if (msg.state === 'online' && was !== 'online') {
        // An offer of ours made while they were known to be away cannot succeed; one made before
        // we knew (right after they accepted), or a link they started, is fine.
        if (was === 'offline' && l && !l.open && l.initiator && l.pc) l.reset();
        this.connectSoon(msg.user);
      }
      // A pending request goes again when they come back (not when the subscription merely
      // reports them online: it was delivered then).
      if (msg.state === 'online' && this.contacts[msg.user]?.status === 'pending' &&
          (was === 'offline' || this.undelivered.has(msg.user))) {
        this.sendRequest(msg.user).catch((e) => this.report(e));
      }
      this.changed(msg.user);
      return;
    }
    if (msg.type === 'identity-changed') {
      this.serial(() => this.identityChanged(msg.user));
      return;
    }
    if (msg.type === 'error') {
      // Only refusals of our chat requests (ref "req:NAME") are acted on.
      const name = typeof msg.ref === 'string' && msg.ref.startsWith('req:') ? msg.ref.slice(4) : null;
      if (name && msg.code === 'recipient_offline') {
        this.undelivered.add(name);
        this.dispatchEvent(new CustomEvent('notice', {
          detail: { name, text: 'is not online right now; the request goes out when they come online.' },
        }));
      } else if (name && (msg.code === 'recipient_busy' || msg.code === 'rate_limited')) {
        // Not relayed this time (their connection is backed up, or ours sent too much at once):
        // the request goes again after a pause while it is still waiting, one retry at a time.
        if (!this.retrying.has(name)) {
          this.retrying.add(name);
          setTimeout(() => {
            this.retrying.delete(name);
            if (!this.stopped) this.sendRequest(name).catch((e) => this.report(e));
          }, REQUEST_RETRY_MS);
        }
      }
      return;
    }
    const from = typeof msg.from === 'string' ? msg.from : null;
    if (!from) return;
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
            this.saveContacts().catch((e) => this.report(e)); // in order with later writes
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
        this.serial(async () => {
          const c = this.contacts[from];
          if (!c || c.status !== 'pending') return;
          this.dropLink(from);
          c.status = 'declined';
          delete c.hello;
          await this.saveContacts();
          this.dispatchEvent(new CustomEvent('notice', { detail: { name: from, text: 'declined your chat request.' } }));
          this.changed(from);
        });
        break;
      case 'offer':
      case 'answer':
      case 'ice':
      case 'bye': {
        // "pending": we asked them; their offer may overtake the chat-accept being processed.
        const st = this.contacts[from]?.status;
        if (st === 'active' || st === 'pending') {
          this.link(from).onSignal(msg).catch((e) => this.report(e));
        }
        break;
      }
      default:
        break;
    }
  }

  async onRequest(from, msg) {
    let hello;
    try {
      hello = fromB64u(msg.hello);
      if (core.messageType(hello) !== core.MESSAGE_PREKEY) return;
    } catch {
      return;
    }
    // An offer sent ahead of this request is taken (its timer goes); if the request is not
    // kept after all, the answer made to that offer goes too.
    const early = this.earlyOffers.get(from);
    if (early) {
      clearTimeout(early.timer);
      this.earlyOffers.delete(from);
    }
    try {
      await this.takeRequest(from, msg, hello, requestOffer(msg.offer) || early?.offer || null);
    } finally {
      if (early) this.dropUnwantedAnswer(from, early.offer);
    }
  }

  async takeRequest(from, msg, hello, offer) {
    const waiting = this.requests.get(from);
    if (waiting && waiting.hello === msg.hello) {
      // The same request again (they came back online, or reconnected): keep its newest offer.
      if (offer && offer.link !== waiting.offer?.link &&
          !(Date.now() - (waiting.offer?.at || 0) < OFFER_REPLACE_MS)) {
        waiting.offer = offer;
        this.answerAhead(from, offer);
        await this.vault.putMany([this.requestsRecord()]);
      }
      return;
    }
    const identity = core.messageSenderIdentity(hello);
    const existing = this.contacts[from];
    // A repeat of the request we already answered arrives through the existing session. (Only
    // contacts and waiting requests have one stored: a stranger's request reads nothing.)
    const current = existing || this.requests.has(from) ? await this.session(from) : null;
    if (current) {
      let repeat = false;
      try {
        current.decrypt(hello);
        await this.setSession(from, current);
        repeat = existing?.status === 'active';
      } catch (e) {
        if (!(e instanceof core.ParleyError)) throw e;
        repeat = e.codeName === 'DUPLICATE' && existing?.status === 'active';
      }
      if (repeat) {
        this.signaling.send({ type: 'chat-accept', to: from });
        const l = this.links.get(from);
        if (!l || (!l.open && !l.pc)) this.connectAccepted(from, offer);
        return;
      }
    }
    let result;
    try {
      result = core.Session.inbound(this.account, hello);
    } catch (e) {
      if (e instanceof core.ParleyError) return; // not for us, replayed or forged: ignore
      throw e;
    }
    let inner;
    try {
      inner = JSON.parse(fromUtf8(result.plaintext));
    } catch {
      inner = null;
    }
    const spent = this.vault.accountRecord(this.account); // its one-time prekey is spent
    if (!inner || inner.t !== 'hello') {
      result.session.free();
      await this.vault.putMany([spent]);
      this.replenishSoon();
      return;
    }
    const identityKey = toB64u(identity);
    // (Not when ours was made with their former keys (renew): theirs is the one that can work.)
    if (existing?.status === 'pending' && existing.hello && !existing.renew && this.me < from && this.sessions.has(from)) {
      // Both asked at once: both keep the session (and the offer) of the alphabetically smaller
      // username, ours. Theirs is dropped; ours goes again in case it was missed.
      result.session.free();
      await this.vault.putMany([spent]);
      this.replenishSoon();
      if (existing.identityKey && existing.identityKey !== identityKey) {
        this.contacts[from].identityKey = identityKey;
        await this.identityChanged(from, true);
      }
      await this.sendRequest(from);
      return;
    }
    const known = existing?.status === 'active' || existing?.status === 'pending';
    this.useSession(from, result.session);
    const stale = this.dropWires(from);
    // A request for the person is stored with its session: after a reload it is still there,
    // and the same request sent again is recognised as a repeat.
    if (!known) this.requests.set(from, { identityKey, at: Date.now(), hello: msg.hello, offer });
    const storing = this.vault.putMany([spent, this.vault.sessionRecord(from, result.session),
      ...(stale.length ? this.historyRecords(from, stale) : []),
      ...(known ? [] : this.contactsRecords(true))]);
    // The answer is made while the keys are stored and the person decides; it stays here until
    // they accept.
    if (!known && offer) this.answerAhead(from, offer);
    const keyChanged = !!existing?.identityKey && existing.identityKey !== identityKey;
    if (!known && !keyChanged) {
      // A new request is shown while it is being stored, and the queue goes on meanwhile: what
      // an Accept or a Decline stores lands after it (IndexedDB commits transactions over one
      // store in the order they were made), and nothing either sends needs it on disk first.
      this.requestWrites.set(from, storing);
      storing.then(() => this.replenishSoon(), (e) => this.report(e));
      this.requestsChanged(from);
      this.changed(from);
      return;
    }
    await storing;
    this.replenishSoon();
    if (keyChanged) {
      this.contacts[from].identityKey = identityKey;
      await this.identityChanged(from, true);
    }
    if (known) {
      // A known contact (or both asked at once, and theirs is the session kept): no question
      // to ask.
      this.activate(from, { identityKey });
      this.connectAccepted(from, offer);
      this.subscribe();
      this.acceptStored(from);
      this.changed(from);
      return;
    }
    this.requestsChanged(from);
    this.changed(from);
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

  // Prepares the answer to a request's offer before the person accepts (a few at a time). A link
  // is made only when an answer is: strangers' offers beyond the limit leave nothing behind.
  answerAhead(name, offer) {
    const l = this.links.get(name);
    if (l && (l.holdsAnswerTo(offer) || l.active)) return;
    const ahead = [...this.links.values()].filter((x) => x.holding && !x.initiator).length;
    if (ahead >= MAX_HELD_ANSWERS) return;
    this.link(name).answer(offer, { hold: true }).catch((e) => this.report(e));
  }

  // An offer sent just ahead of a chat request (while its sender runs X3DH): the answer is
  // prepared at once and kept here with its one timer; if no request follows, it is dropped.
  // While one is kept for a sender, further early offers from them are ignored.
  onEarlyOffer(from, msg) {
    if (this.earlyOffers.has(from)) return;
    const offer = requestOffer(msg.offer);
    const st = this.contacts[from]?.status;
    if (!offer || st === 'active' || st === 'pending' || this.requests.has(from)) return;
    const timer = setTimeout(() => this.dropEarlyOffer(from), EARLY_OFFER_MS);
    this.earlyOffers.set(from, { offer, timer });
    while (this.earlyOffers.size > MAX_EARLY_OFFERS) this.dropEarlyOffer(this.earlyOffers.keys().next().value);
    this.answerAhead(from, offer);
  }

  // An early offer timed out or was pushed out: its timer goes, and so does the answer made to
  // it unless a request came.
  dropEarlyOffer(from) {
    const entry = this.earlyOffers.get(from);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.earlyOffers.delete(from);
    this.dropUnwantedAnswer(from, entry.offer);
  }

  // The answer made ahead to an offer goes unless a request or a chat with its sender is kept.
  dropUnwantedAnswer(from, offer) {
    const st = this.contacts[from]?.status;
    if (!this.requests.has(from) && st !== 'active' && st !== 'pending' && this.links.get(from)?.holdsAnswerTo(offer)) {
      this.dropLink(from);
    }
  }

  /**
   * A contact's identity key changed: warn, and hold sending until the person has looked. Unless
   * known (the caller stored the new key), the identity is fetched (or taken as `fetched`, an
   * answer of GET /api/identity) and compared with the contact's.
   */
  async identityChanged(name, known = false, fetched = null) {
    const c = this.contacts[name];
    if (!c) return;
    if (!known) {
      const b = fetched || await this.fetchIdentity(name);
      if (b) {
        if (b.identityKey === c.identityKey) return;
        c.identityKey = b.identityKey;
        if (Number.isSafeInteger(b.identityCounter)) c.identityCounter = b.identityCounter;
      } // else: keep the flag below; the key will be seen with the next request
      // Their new keys cannot read the session made with the former ones (nor the hello of a
      // request of ours made with it): once the person has looked, a new one is made (renew).
      if (c.status === 'active' || c.status === 'pending') {
        c.renew = true;
        this.dropLink(name);
      }
    }
    this.raiseIdentityWarning(name);
    await this.saveContacts();
    this.changed(name);
  }

  // Soon after a `ready`: the identity check, at most once per IDENTITY_CHECK_GAP_MS (a reconnect
  // sooner runs it when the gap has passed; a later ready replaces a run still waiting).
  checkIdentitiesSoon() {
    if (this.stopped) return;
    clearTimeout(this.identityTimer);
    const wait = Math.max(0, (this.identityCheckAt || 0) + IDENTITY_CHECK_GAP_MS - Date.now());
    this.identityTimer = setTimeout(() => {
      this.identityTimer = null;
      this.checkIdentities().catch((e) => this.report(e));
    }, wait);
  }

  // Compares the contacts' identity keys with the directory's: a key that changed while this
  // page was away (no identity-changed notice reached it) raises the warning and holds sending,
  // as the notice would. A newer run (the next ready) ends this one.
  async checkIdentities() {
    if (this.stopped || this.signaling.state !== 'online') return;
    this.identityCheckAt = Date.now();
    const run = (this.identityRun || 0) + 1;
    this.identityRun = run;
    const rank = { active: 0, pending: 1 };
    const last = (c) => {
      const h = this.history(c.name);
      return h.length ? h[h.length - 1].ts : (c.since || 0);
    };
    // One entry per contact (the contacts are keyed by name): each is checked once per run.
    const queue = Object.values(this.contacts)
      .filter((c) => typeof c.identityKey === 'string')
      .sort((x, y) => (rank[x.status] ?? 2) - (rank[y.status] ?? 2) || last(y) - last(x))
      .slice(0, IDENTITY_CHECK_MAX)
      .map((c) => c.name);
    const worker = async () => {
      while (queue.length && this.identityRun === run && !this.stopped) await this.checkIdentity(queue.shift());
    };
    await Promise.all(Array.from({ length: IDENTITY_CHECK_PARALLEL }, worker));
  }

  // One contact of the identity check. Any failure (offline, an account gone: 404, a server
  // error, an answer that is no key) leaves the contact as it is, silently: the next ready checks
  // again, and an identity-changed notice or the next bundle still catches a change.
  async checkIdentity(name) {
    const known = this.contacts[name]?.identityKey;
    if (!known) return;
    const current = await this.fetchIdentity(name);
    if (!current || this.stopped || current.identityKey === known) return;
    // The warning's path, in the queue, unless something replaced the key meanwhile (a request,
    // a Start chat or a notice did, and warned if it had to).
    this.serial(async () => {
      if (this.contacts[name]?.identityKey === known) await this.identityChanged(name, false, current);
    }).catch(() => {}); // reported by serial
  }

  // The directory's answer for a contact's identity (GET /api/identity), or null when there is
  // none to trust: a failed request (offline, 404 for an account gone, a server error) or an
  // answer whose key is not 32 bytes.
  async fetchIdentity(name) {
    try {
      const b = await request('GET', `/api/identity/${encodeURIComponent(name)}`);
      return typeof b?.identityKey === 'string' && fromB64u(b.identityKey).length === 32 ? b : null;
    } catch {
      return null;
    }
  }

  // The identity key changed (the caller stores the contacts): sending stops until the person
  // has looked at the warning, and a verified mark is lost.
  raiseIdentityWarning(name) {
    const c = this.contacts[name];
    c.identityWarning = true;
    c.held = true;
    c.verified = false;
  }

  /**
   * The person looked at the warning: sending resumes. A contact whose session died with their
   * former keys (renew) is asked again with a new session (as Start chat does); the messages
   * waiting for them go on it once they accept.
   */
  async acknowledgeIdentity(name) {
    const renew = await this.serial(async () => {
      const c = this.contacts[name];
      if (!c) return false;
      c.identityWarning = false;
      c.held = false;
      await this.saveContacts();
      this.changed(name);
      if (!c.renew) this.flush(name);
      return !!c.renew;
    });
    if (renew) await this.renew(name);
  }

  // A new session with a contact marked renew (Start chat's way), unless something made one
  // meanwhile (their request was taken, or Start chat ran).
  renew(name) {
    return this.startChat(name, { renewOnly: true });
  }

  renewSoon(name) {
    this.renew(name).catch((e) => this.report(e));
  }

  setVerified(name, verified) {
    return this.serial(async () => {
      const c = this.contacts[name];
      if (!c) return;
      c.verified = verified;
      if (verified) {
        c.identityWarning = false;
        c.held = false;
      }
      await this.saveContacts();
      this.changed(name);
      if (verified && c.renew) this.renewSoon(name); // after this, in the queue
      else if (verified) this.flush(name);
    });
  }

  // ---- links -------------------------------------------------------------------------------------

  link(name) {
    let l = this.links.get(name);
    if (!l) {
      l = new PeerLink(this.me, name, this.signaling);
      l.addEventListener('open', () => {
        this.retry.delete(name);
        this.changed(name);
        this.flush(name); // in creation order: kept ciphertexts and unacknowledged messages alike
      });
      l.addEventListener('close', () => {
        this.changed(name);
        this.scheduleReconnect(name);
      });
      l.addEventListener('data', (ev) => this.serial(() => this.onData(name, ev.detail)));
      this.links.set(name, l);
    }
    return l;
  }

  linkState(name) {
    const l = this.links.get(name);
    if (l?.open) return 'connected';
    if (l?.pc) return 'connecting';
    return this.presence.get(name) === 'online' ? 'online' : 'offline';
  }

  /** Opens a link to an active, online contact (the alphabetically smaller side offers first). */
  connect(name, force = false) {
    if (this.stopped) return;
    const c = this.contacts[name];
    if (!c || c.status !== 'active' || c.renew) return; // renew: the session is dead (12.8)
    // Offline: presence "online" will call again. (A forced start follows a message from the
    // peer, which proves they are connected even before their presence arrives.)
    if (!force && this.presence.get(name) !== 'online') return;
    const l = this.link(name);
    if (l.open || l.pc) return;
    if (force || this.me < name) {
      l.start().catch((e) => this.report(e));
    } else {
      // The other side offers; if it has not after a moment, offer ourselves.
      setTimeout(() => {
        const again = this.links.get(name);
        if (!this.stopped && again && !again.open && !again.pc && this.presence.get(name) === 'online') {
          again.start().catch((e) => this.report(e));
        }
      }, 3000);
    }
    this.changed(name);
  }

  connectSoon(name) {
    if (this.contacts[name]?.status === 'active') this.connect(name);
  }

  scheduleReconnect(name) {
    const attempt = (this.retry.get(name) || 0) + 1;
    this.retry.set(name, attempt);
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (attempt - 1));
    setTimeout(() => {
      if (!this.stopped && this.presence.get(name) === 'online' && !this.links.get(name)?.open) this.connect(name);
    }, delay);
  }

  // ---- messages ---------------------------------------------------------------------------------

  canSend(name) {
    const c = this.contacts[name];
    return !!c && (c.status === 'active' || c.status === 'pending') && !c.held;
  }

  /** Adds a message to the transcript and sends it now or when the link opens. */
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
      // Not connected yet: encrypt it now, so that it can leave the instant the link opens. The
      // ratchet state that made it is stored with it before the ciphertext is kept for sending.
      // The ciphertext itself is kept in the entry (sealed with the transcript), so that a reload
      // sends this very message and not a new one: re-encrypting would leave a gap of skipped
      // keys on the receiver.
      if (session) {
        entry.wire = toB64u(session.encrypt(this.wireText(entry)));
        await this.persist(name, session, [history.lastIndexOf(entry)]);
      } else {
        await this.saveHistory(name);
      }
      this.changed(name);
      await this.transmit(name, [entry]);
    });
  }

  wireText(entry) {
    return JSON.stringify({ t: 'msg', id: entry.id, ts: entry.ts, text: entry.text });
  }

  // The ciphertext made for a message ahead of time (entry.wire, stored with the transcript),
  // if any: it has not been handed to a channel yet. Removed once it has (sent), and when the
  // session that made it is replaced (dropWires).
  sealedWire(entry) {
    return typeof entry.wire === 'string' ? fromB64u(entry.wire) : null;
  }

  // A new session replaces the one that made the kept ciphertexts: they can no longer be read.
  // Returns the transcript indexes changed (the caller stores them with the new session).
  dropWires(name) {
    const touched = [];
    this.history(name).forEach((m, i) => {
      if (m.wire !== undefined) {
        delete m.wire;
        touched.push(i);
      }
    });
    return touched;
  }

  // Sends every queued or unacknowledged message of a contact (after a link opened), in
  // transcript order: a message kept encrypted since it was typed goes as that ciphertext, the
  // others are encrypted anew; an older unacknowledged message never goes after a newer one.
  flush(name) {
    return this.serial(async () => {
      const pending = this.history(name).filter((m) => m.from === 'me' && (m.state === 'queued' || m.state === 'sent'));
      if (pending.length) await this.transmit(name, pending);
    });
  }

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
  }

  async onData(name, bytes) {
    const session = await this.session(name);
    if (!session) return;
    let inner;
    try {
      inner = JSON.parse(fromUtf8(session.decrypt(bytes)));
    } catch (e) {
      if (e instanceof core.ParleyError || e instanceof SyntaxError) {
        // Refused (state unchanged), or a well-formed message with a bad body: keep its state.
        if (e instanceof SyntaxError) await this.setSession(name, session);
        return;
      }
      throw e;
    }
    const history = this.history(name);
    if (inner?.t === 'msg' && typeof inner.id === 'string' && RANDOM_ID_RE.test(inner.id) &&
        typeof inner.text === 'string') {
      let indexes = null;
      let contactsChanged = false;
      if (!this.seen(name, inner.id)) {
        history.push({ id: inner.id, from: 'them', text: inner.text.slice(0, MAX_TEXT), ts: peerTime(inner.ts), state: 'received' });
        indexes = [history.length - 1];
        const c = this.contacts[name];
        if (this.activeChat !== name && c) {
          c.unread = (c.unread || 0) + 1;
          contactsChanged = true;
        }
      }
      if (indexes) this.changed(name); // shown at once; the receipt waits until it is stored
      const ack = session.encrypt(JSON.stringify({ t: 'ack', ids: [inner.id] }));
      await this.persist(name, session, indexes, contactsChanged);
      this.links.get(name)?.send(ack);
    } else if (inner?.t === 'ack' && Array.isArray(inner.ids) && inner.ids.length <= MAX_ACK_IDS) {
      const touched = [];
      // Receipts are for recent messages: search from the end.
      for (let i = history.length - 1; i >= 0 && touched.length < inner.ids.length; i -= 1) {
        const m = history[i];
        if (m.from === 'me' && m.state !== 'delivered' && inner.ids.includes(m.id)) {
          m.state = 'delivered';
          touched.push(i);
        }
      }
      if (touched.length) this.changed(name);
      await this.persist(name, session, touched.length ? touched : null);
    } else {
      await this.setSession(name, session);
    }
  }

  // Whether a message id from the peer is already in the transcript (ids are kept in a set).
  seen(name, id) {
    let set = this.seenIds?.get(name);
    if (!set) {
      this.seenIds = this.seenIds || new Map();
      set = new Set(this.history(name).filter((m) => m.from === 'them').map((m) => m.id));
      this.seenIds.set(name, set);
    }
    if (set.has(id)) return true;
    set.add(id);
    return false;
  }

  openChat(name) {
    this.activeChat = name;
    const c = this.contacts[name];
    if (c && c.unread) {
      c.unread = 0;
      this.serial(() => this.saveContacts());
    }
    if (c?.status === 'active') this.connect(name);
  }

  /** This account's identity and a contact's, for the safety number. */
  identities(name) {
    const c = this.contacts[name];
    return c ? { mine: this.account.identityKey(), theirs: fromB64u(c.identityKey) } : null;
  }

  /** A brand-new identity: every contact will see the change, and chats are asked for again. */
  async resetIdentity() {
    const former = Object.values(this.contacts).filter((c) => c.status === 'active').map((c) => c.name);
    await this.serial(async () => {
      // No prekey upkeep meanwhile: a run on its way ends first (it uses the former account), and
      // none starts until the new account is published and stored.
      this.resettingIdentity = true;
      try {
        await this.replenishing?.catch(() => {});
        await this.replaceIdentity();
      } finally {
        this.resettingIdentity = false;
      }
    });
    for (const name of former) {
      await this.startChat(name).catch((e) => this.report(e));
    }
  }

  // The reset itself (in the queue): links, sessions and requests go, a new account is made and
  // published, and every contact is declined.
  async replaceIdentity() {
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const [name, s] of this.sessions) {
      s.free();
      await this.vault.deleteSession(name);
    }
    this.sessions.clear();
    this.requests.clear(); // made for the former identity's keys
    this.requestWrites.clear();
    this.requestsChanged(null);
    const fresh = core.Account.create();
    fresh.generatePrekeys(100);
    this.account.free();
    this.account = fresh;
    await publish(fresh, this.vault, { resetIdentity: true });
    for (const c of Object.values(this.contacts)) {
      c.status = 'declined';
      c.verified = false;
      delete c.renew; // our new identity starts every chat afresh anyway
      delete c.hello;
    }
    await this.saveContacts(true); // the requests are gone too
    this.changed(null);
  }

  shutdown() {
    this.stopped = true; // no prekey upkeep or identity check starts after this
    coolDown();
    clearTimeout(this.replenishTimer);
    this.replenishTimer = null;
    clearTimeout(this.identityTimer);
    this.identityTimer = null;
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const s of this.sessions.values()) s.free();
    this.sessions.clear();
  }
}

// The WebRTC offer a chat request carries: {link, sdp} as sent, and when it came.
function requestOffer(o) {
  if (!o || typeof o !== 'object' || typeof o.link !== 'string' || typeof o.sdp !== 'string') return null;
  if (!RANDOM_ID_RE.test(o.link) || o.sdp.length > MAX_OFFER_SDP) return null;
  return { link: o.link, sdp: o.sdp, at: Date.now() };
}

/** An error whose message is meant for the person. */
export class UserError extends Error {}

