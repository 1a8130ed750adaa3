//# allFunctionsCalledOnLoad
// Chat requests (docs/PROTOCOL.md 12.2, 12.3): Start chat (X3DH with a fetched bundle), the
// request and its offer, taking a request (repeats, crossing requests), Accept and Decline, and
// answers made ahead for offers that come before the person decides.
import * as core from '../core/parley.js';
import { ApiError, plainMessage, request } from './api.js';
import { RANDOM_ID_RE, equalBytes, fromB64u, parseObject, toB64u } from './encoding.js';
import { outboundSession } from './keys.js';
import { chooseBundle, deviceId } from './devices.js';
import { address, isPrekeyType } from './fanout.js';
import { HOLD_MS } from './peer.js';
import { UserError } from './errors.js';
import { validCap } from './presence.js';

const OFFER_MAX_AGE_MS = HOLD_MS - 30000; // an offer that came with a request, while its sender keeps it
const MAX_HELD_ANSWERS = 4; // answers made ahead for requests not yet accepted
const OFFER_REPLACE_MS = 5000; // a waiting request's offer is replaced by a newer one at most this often
const MAX_EARLY_OFFERS = 16; // offers kept for chat requests still on their way
const EARLY_OFFER_MS = 30000; // how long such an offer waits for its request
const MAX_OFFER_SDP = 60000; // characters of a request's (or early) offer SDP
// get-bundle's refusals, with the status GET /api/keys/{username} gives them; any other answer
// (an older server, say) means asking over HTTP instead.
const BUNDLE_REFUSALS = Object.freeze({ unknown_user: 404, no_keys: 404, unknown_device: 404, invalid_username: 400, rate_limited: 429, internal: 500 });

export const requestMethods = {
  // ---- starting a chat -----------------------------------------------------------------------

  /** "Start chat": fetch the bundle, run X3DH, ask the contact. */
  startChat(rawName, { renewOnly = false } = {}) {
    return this.serial(async () => {
      const name = rawName.trim().toLowerCase();
      if (name === this.me) throw new UserError('That is you. Type the username of someone else.');
      this.checkAskAgain(name); // blocked, or declined us less than 24 hours ago (contacts.js)
      const existing = this.contacts[name];
      if (renewOnly && !existing?.renew) return name; // a new session was made meanwhile
      // A contact whose identity changed (renew, 12.8) has a session made with their former keys
      // that their new ones cannot read: a new one is made below, as for a new contact.
      if (existing && existing.status === 'active' && !existing.renew &&
          (this.primaryDevice(name) === 0 || await this.session(name))) {
        this.connect(name);
        return name;
      }
      if (this.requests.has(name)) {
        // They have asked us already: starting the chat accepts their request (a second
        // session, crossing theirs, would leave the two sides with different ones).
        await this.answerNow(name, true);
        return name;
      }
      // A session made again (repair, renew) stays with the chat's device while their list names
      // it, so that the pair does not move to another device of theirs.
      const keep = existing?.renew ? deviceId(existing.device, 0) : 0;
      const fetching = keep ? this.fetchBundle(name, keep).catch(() => this.fetchBundle(name)) : this.fetchBundle(name);
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
      let chosen;
      try {
        chosen = chooseBundle(name, bundle);
        // A list older than the one kept for the same identity (or none where one is kept) would
        // bring back a device they removed: refused, as 14.1 says.
        const kept = existing?.identityKey === bundle.identityKey ? existing.deviceList : null;
        if (kept && (!chosen.list || chosen.list.generation < kept.generation ||
            (chosen.list.generation === kept.generation && chosen.list.list !== kept.list))) {
          throw new Error(`The server gave an older list of ${name}'s devices than this device knows. Nothing was sent.`);
        }
      } catch (e) {
        if (this.contacts[name]?.status !== 'pending' && this.links.get(name)?.holding) this.dropLink(name);
        throw new UserError(e.message);
      }
      if (existing?.pq && existing.identityKey === bundle.identityKey && typeof chosen.keys.kemPrekey !== 'string') {
        // They offered post-quantum keys before and offer none now: not downgraded silently
        // (docs/PROTOCOL.md 15.8). Until the person has looked, nothing is sent.
        if (this.contacts[name]?.status !== 'pending' && this.links.get(name)?.holding) this.dropLink(name);
        if (!existing.held) {
          this.raiseIdentityWarning(name);
          existing.pqWarning = true;
          await this.saveContacts();
          this.changed(name);
        }
        throw new UserError(`${name}'s keys on the server no longer offer post-quantum protection, as they did before. Nothing was sent. Check their safety number; once you have, the chat goes on without it.`);
      }
      if (this.links.get(name)) this.links.get(name).toDevice = chosen.device;
      const session = outboundSession(this.account, chosen.keys);
      // Our presence capability rides in the hello: they see when we are online once they accept.
      const hello = session.encrypt(JSON.stringify({ t: 'hello', cap: this.presenceCap }));
      this.useSession(name, session);
      // Compared with the key we knew before it is replaced: a new key raises the warning and
      // holds sending (the verified mark goes with it).
      const keyChanged = !!existing?.identityKey && existing.identityKey !== bundle.identityKey;
      if (keyChanged && existing.deviceList) {
        // Sessions with their other devices were the former identity's.
        for (const d of this.listedDevices(name)) if (d !== this.primaryDevice(name)) await this.forgetDevice(name, d);
      }
      this.contacts[name] = {
        ...(existing || {}),
        name,
        status: 'pending',
        identityKey: bundle.identityKey,
        identityCounter: bundle.identityCounter,
        device: chosen.device, // their device this chat's session is with (14.4)
        ...(session.version === 2 ? { pq: true } : {}), // they offer KEM prekeys (15)
        ...(chosen.list ? { deviceList: chosen.list } : {}),
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
      delete this.contacts[name].helloMailed; // a new hello: not in their mailbox yet
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
      // The request also waits in their mailbox, for when they are away (or come back later):
      // only once it is stored here, like every ciphertext after the hello.
      await this.deliver(name);
      return name;
    });
  },

  // A contact's prekey bundle (one of their one-time prekeys spent): asked over the signaling
  // connection, which is open already, else (not connected, or no answer within 5 s) over HTTP.
  async fetchBundle(name, device = null) {
    const answer = await this.signaling.request({ type: 'get-bundle', user: name, ...(device ? { device } : {}) });
    if (answer?.type === 'bundle' && answer.bundle && typeof answer.bundle === 'object') return answer.bundle;
    const status = answer?.type === 'error' && Object.hasOwn(BUNDLE_REFUSALS, answer.code) ? BUNDLE_REFUSALS[answer.code] : 0;
    if (status) throw new ApiError(status, answer.code, plainMessage(answer.code, String(answer.message || '')));
    return request('GET', `/api/keys/${encodeURIComponent(name)}${device ? `?device=${device}` : ''}`);
  },

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
  },

  /** Sends (again) the request of a pending contact, with a WebRTC offer ready for them. */
  async sendRequest(name) {
    if (this.stopped) return;
    const c = this.contacts[name];
    if (!c || c.status !== 'pending' || !c.hello || c.renew) return; // renew: a dead hello
    const offer = await this.link(name).heldOffer().catch((e) => {
      this.report(e);
      return null;
    });
    if (this.contacts[name] !== c || c.status !== 'pending' || !c.hello) return;
    const msg = { type: 'chat-request', to: name, id: `req:${name}`, hello: c.hello };
    if (this.primaryDevice(name)) msg.toDevice = this.primaryDevice(name);
    if (offer) msg.offer = offer;
    this.signaling.send(msg);
  },

  resendRequests() {
    for (const c of Object.values(this.contacts)) {
      if (c.status === 'pending' && !c.renew) this.sendRequest(c.name).catch((e) => this.report(e));
      else if (c.renew && !c.held) this.renewSoon(c.name);
    }
  },

  // After a ready: what each contact is owed goes (the hello and messages by mail when no link
  // opens, an accept or our capability not handed yet).
  deliverAll() {
    for (const c of Object.values(this.contacts)) {
      if (c.status === 'active' || c.status === 'pending') this.flush(c.name).catch((e) => this.report(e));
    }
  },

  /** Accept or decline an incoming request. */
  answerRequest(name, accept) {
    return this.serial(() => this.answerNow(name, accept));
  },

  /** Accepts or declines a waiting request (inside the queue). */
  async answerNow(name, accept) {
    const req = this.requests.get(name);
    if (!req) return;
    const writing = this.requestWrites.get(name);
    this.requestWrites.delete(name);
    this.requests.delete(name);
    this.requestsChanged(name);
    if (!accept) {
      this.noteDeclined(name); // not asked again for 24 hours (contacts.js), stored below
      this.signaling.send({ type: 'chat-decline', to: name, toDevice: deviceId(req.device) });
      if (!this.contacts[name] || this.contacts[name].status !== 'active') {
        // Told inside the session too, by mail when they are away, before it is dropped.
        if (writing) await writing.catch(() => {});
        await this.sendControl(name, { t: 'decline' }, req.identityKey).catch((e) => this.report(e));
        this.dropLink(name);
        this.dropSession(name);
        await this.vault.deleteSession(name);
        if (!this.contacts[name]) await this.forgetHistory(name);
        delete this.contacts[name];
      }
      await this.vault.putMany([...this.contactsRecords(true), this.blocksRecord()]); // the request is gone, from the vault too
      this.changed(name);
      return;
    }
    const prev = this.contacts[name];
    this.activate(name, req);
    // Our subscription with their capability goes first: it is what tells the server we have
    // accepted them, so that it relays what follows between us (docs/API.md, limits).
    this.subscribe();
    // Then the link: the answer to the offer that came with the request (made already, or
    // now), else an offer of ours. None of it waits for anything to be stored.
    this.connectAccepted(name, req.offer);
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
  },

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
  },

  // The waiting requests changed (one came, or went): the list is drawn again.
  requestsChanged(name) {
    this.dispatchEvent(new CustomEvent('request', { detail: { name } }));
  },

  // Tells them once the contact is stored, without holding up the queue meanwhile (IndexedDB
  // commits transactions in the order they were made, so what is stored later lands after it).
  // The accept also goes inside the session ({"t":"accept"}, with our capability), over the
  // link or by mail (they may be away), and receipts for what they sent while they waited.
  acceptStored(name, withRequests = false) {
    const c = this.contacts[name];
    if (c) c.acceptOwed = true;
    this.saveContacts(withRequests).then(() => {
      this.signaling.send({ type: 'chat-accept', to: name, toDevice: this.primaryDevice(name) || 1 });
      this.syncContact(name);
      this.serial(() => this.refreshDevices(name)).catch((e) => this.report(e)); // their other devices
      this.serial(() => this.acknowledgeWaiting(name)).catch((e) => this.report(e));
      this.flush(name).catch((e) => this.report(e));
    }, (e) => this.report(e));
  },

  // Receipts for the messages they sent while their request waited (none went then).
  async acknowledgeWaiting(name) {
    const ids = this.history(name).filter((m) => m.from === 'them').map((m) => m.id).slice(-1024);
    for (let i = 0; i < ids.length; i += 256) await this.sendControl(name, { t: 'ack', ids: ids.slice(i, i + 256) });
  },

  // They declined our request (chat-decline, or {"t":"decline"} by mail).
  async declined(name) {
    const c = this.contacts[name];
    if (!c || c.status !== 'pending') return;
    this.dropLink(name);
    c.status = 'declined';
    c.declinedAt = Date.now(); // asked again only after 24 hours (contacts.js)
    delete c.hello;
    delete c.helloMailed;
    await this.saveContacts();
    this.dispatchEvent(new CustomEvent('notice', { detail: { name, text: 'declined your chat request.' } }));
    this.changed(name);
  },

  // After accepting (or when both asked at once): answer their offer, or offer ourselves.
  connectAccepted(name, offer) {
    const l = this.link(name);
    if (!l.toDevice) l.toDevice = this.primaryDevice(name) || null;
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
  },

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
    if (req.cap) this.contacts[name].cap = req.cap; // the capability their hello carried
    if (req.pq) this.contacts[name].pq = true; // their session started with PQXDH (15)
    this.contacts[name].device = deviceId(req.device); // the device their request came from (14.4)
    delete this.contacts[name].hello;
    delete this.contacts[name].helloMailed;
    delete this.contacts[name].renew; // their request made the new session
    delete this.contacts[name].repair;
    if (!this.histories.has(name)) this.histories.set(name, []);
  },

  async onRequest(from, msg) {
    let hello;
    try {
      hello = fromB64u(msg.hello);
      if (!isPrekeyType(core.messageType(hello))) return;
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
      await this.takeRequest(from, msg, hello, requestOffer(msg.offer) || early?.offer || null, deviceId(msg.fromDevice));
    } finally {
      if (early) this.dropUnwantedAnswer(from, early.offer);
    }
  },

  async takeRequest(from, msg, hello, offer, device = 1) {
    if (this.refusesRequest(from)) return; // blocked, or declined within 24 hours (contacts.js)
    const waiting = this.requests.get(from);
    if (waiting && waiting.hello === msg.hello) {
      // The same request again (they came back online, or reconnected): keep its newest offer.
      if (offer && offer.link !== waiting.offer?.link &&
          !(Date.now() - (waiting.offer?.at || 0) < OFFER_REPLACE_MS)) {
        waiting.offer = offer;
        this.answerAhead(from, offer, device);
        await this.vault.putMany([this.requestsRecord()]);
      }
      return;
    }
    const identity = core.messageSenderIdentity(hello);
    const existing = this.contacts[from];
    if (existing?.status === 'active' && this.primaryDevice(from) !== 0 && device !== this.primaryDevice(from)) {
      // Another device of a contact (one linked since, or one that does not know the chat yet):
      // a session of its own beside the chat's primary one, taken without asking (fanout.js).
      await this.takeDeviceRequest(from, device, hello);
      return;
    }
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
        this.signaling.send({ type: 'chat-accept', to: from, toDevice: device });
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
    const inner = parseObject(result.plaintext);
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
    if (result.session.version === 2 && existing) existing.pq = true; // (a new contact: in activate)
    this.useSession(from, result.session);
    const stale = this.dropWires(from);
    // A request for the person is stored with its session: after a reload it is still there,
    // and the same request sent again is recognised as a repeat.
    const cap = validCap(inner.cap);
    if (!known) {
      this.requests.set(from, { identityKey, device, at: Date.now(), hello: msg.hello, offer, ...(cap ? { cap } : {}),
        ...(result.session.version === 2 ? { pq: true } : {}) });
    }
    const storing = this.vault.putMany([spent, this.vault.sessionRecord(from, result.session),
      ...(stale.length ? this.historyRecords(from, stale) : []),
      ...(known ? [] : this.contactsRecords(true))]);
    // The answer is made while the keys are stored and the person decides; it stays here until
    // they accept.
    if (!known && offer) this.answerAhead(from, offer, device);
    const keyChanged = !!existing?.identityKey && existing.identityKey !== identityKey;
    if (!known && !keyChanged) {
      // A new request is shown while it is being stored, and the queue goes on meanwhile: what
      // an Accept or a Decline stores lands after it (IndexedDB commits transactions over one
      // store in the order they were made), and nothing either sends needs it on disk first.
      this.requestWrites.set(from, storing);
      storing.then(() => this.replenishSoon(), (e) => this.report(e));
      // Rooms (rooms.js): a session started by a key listed in a room held here is taken without
      // asking (the one narrow exception to asking the person).
      if (this.roomAutoAccept(identityKey)) {
        await this.answerNow(from, true);
        this.rejudgeSoon();
        return;
      }
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
      this.activate(from, { identityKey, cap, device, pq: result.session.version === 2 });
      this.connectAccepted(from, offer);
      this.subscribe();
      this.acceptStored(from);
      this.changed(from);
      return;
    }
    this.requestsChanged(from);
    this.changed(from);
  },

  // A chat request from a listed device of an active contact that is not the chat's primary one:
  // its session is kept under the device's address, and the device is told the chat is accepted.
  async takeDeviceRequest(from, device, hello) {
    const addr = address(from, device);
    const c = this.contacts[from];
    const have = await this.session(addr);
    if (have) {
      try {
        have.decrypt(hello);
      } catch (e) {
        if (!(e instanceof core.ParleyError)) throw e;
        if (e.codeName !== 'DUPLICATE') return;
      }
      this.signaling.send({ type: 'chat-accept', to: from, toDevice: device });
      return;
    }
    if (!equalBytes(core.messageSenderIdentity(hello), fromB64u(c.identityKey))) return; // a new identity: its own path
    if (!this.listedDevices(from).includes(device)) await this.refreshDevices(from);
    if (!this.listedDevices(from).includes(device)) return;
    let result;
    try {
      result = core.Session.inbound(this.account, hello);
    } catch (e) {
      if (e instanceof core.ParleyError) return;
      throw e;
    }
    this.useSession(addr, result.session);
    await this.vault.putMany([this.vault.accountRecord(this.account), this.vault.sessionRecord(addr, result.session)]);
    this.replenishSoon();
    this.signaling.send({ type: 'chat-accept', to: from, toDevice: device });
  },

  // Prepares the answer to a request's offer before the person accepts (a few at a time). A link
  // is made only when an answer is: strangers' offers beyond the limit leave nothing behind.
  answerAhead(name, offer, device = null) {
    const l = this.links.get(name);
    if (l && (l.holdsAnswerTo(offer) || l.active)) return;
    const ahead = [...this.links.values()].filter((x) => x.holding && !x.initiator).length;
    if (ahead >= MAX_HELD_ANSWERS) return;
    this.link(name, device).answer(offer, { hold: true }).catch((e) => this.report(e));
  },

  // An offer sent just ahead of a chat request (while its sender runs X3DH): the answer is
  // prepared at once and kept here with its one timer; if no request follows, it is dropped.
  // While one is kept for a sender, further early offers from them are ignored.
  onEarlyOffer(from, msg) {
    if (this.earlyOffers.has(from) || this.refusesRequest(from)) return;
    const offer = requestOffer(msg.offer);
    const st = this.contacts[from]?.status;
    if (!offer || st === 'active' || st === 'pending' || this.requests.has(from)) return;
    const timer = setTimeout(() => this.dropEarlyOffer(from), EARLY_OFFER_MS);
    this.earlyOffers.set(from, { offer, timer });
    while (this.earlyOffers.size > MAX_EARLY_OFFERS) this.dropEarlyOffer(this.earlyOffers.keys().next().value);
    this.answerAhead(from, offer, deviceId(msg.fromDevice));
  },

  // An early offer timed out or was pushed out: its timer goes, and so does the answer made to
  // it unless a request came.
  dropEarlyOffer(from) {
    const entry = this.earlyOffers.get(from);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.earlyOffers.delete(from);
    this.dropUnwantedAnswer(from, entry.offer);
  },

  // The answer made ahead to an offer goes unless a request or a chat with its sender is kept.
  dropUnwantedAnswer(from, offer) {
    const st = this.contacts[from]?.status;
    if (!this.requests.has(from) && st !== 'active' && st !== 'pending' && this.links.get(from)?.holdsAnswerTo(offer)) {
      this.dropLink(from);
    }
  },
};

// The WebRTC offer a chat request carries: {link, sdp} as sent, and when it came.
export function requestOffer(o) {
  if (!o || typeof o !== 'object' || typeof o.link !== 'string' || typeof o.sdp !== 'string') return null;
  if (!RANDOM_ID_RE.test(o.link) || o.sdp.length > MAX_OFFER_SDP) return null;
  return { link: o.link, sdp: o.sdp, at: Date.now() };
}
