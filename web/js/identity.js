//# allFunctionsCalledOnLoad
// Identity: contacts' keys compared with the directory, the warning when one changes, renewing
// a session made with keys a contact no longer has, verification, and resetting our own.
import * as core from '../core/parley.js';
import { request } from './api.js';
import { fromB64u } from './encoding.js';
import { publish } from './keys.js';
import { syncDeviceList } from './devices.js';
import { address } from './fanout.js';

// After each `ready`, the contacts' identity keys are compared with the directory's (a change
// made while this page was away sends no identity-changed notice): at most this many contacts
// per run (active first, then pending, then the rest, most recent first), in one request
// (POST /api/identities), each contact once. The server allows 128 lookups at once, then 1 a
// second; a reconnect within the gap of the last run's start waits for the gap to pass (one run
// per gap at most).
const IDENTITY_CHECK_MAX = 64;
const IDENTITY_CHECK_GAP_MS = 10000;

export const identityMethods = {
  /**
   * A contact's identity key changed: warn, and hold sending until the person has looked. Unless
   * known (the caller stored the new key), the identity is fetched (or taken as `fetched`, an
   * answer of POST /api/identities) and compared with the contact's.
   */
  async identityChanged(name, known = false, fetched = null) {
    const c = this.contacts[name];
    if (!c) return;
    // Sessions with their other devices and their list are the former identity's (read before
    // anything changes: the list's device ids are kept with it).
    const former = c.deviceList ? this.listedDevices(name).filter((d) => d !== this.primaryDevice(name)) : [];
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
      if (c.device === 0) c.device = 1; // the new session (renew) picks its device
    }
    for (const d of former) await this.forgetDevice(name, d);
    delete c.deviceList;
    this.raiseIdentityWarning(name);
    await this.saveContacts();
    this.changed(name);
  },

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
  },

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
    const names = Object.values(this.contacts)
      .filter((c) => typeof c.identityKey === 'string')
      .sort((x, y) => (rank[x.status] ?? 2) - (rank[y.status] ?? 2) || last(y) - last(x))
      .slice(0, IDENTITY_CHECK_MAX)
      .map((c) => c.name);
    if (!names.length) return;
    // One request for them all: a list of contacts never shows up as a run of URLs.
    const found = await this.fetchIdentities(names);
    if (this.identityRun !== run || this.stopped) return;
    for (const name of names) this.checkIdentity(name, found.get(name) || null);
  },

  // One contact of the identity check, with the directory's answer for them. No answer (offline,
  // an account gone, a server error, an answer that is no key) leaves the contact as it is,
  // silently: the next ready checks again, and an identity-changed notice or the next bundle
  // still catches a change.
  checkIdentity(name, current) {
    const known = this.contacts[name]?.identityKey;
    if (!known) return;
    if (current && !this.stopped && current.identityKey === known && current.devices !== undefined) {
      // The same identity: its signed list of devices, kept when newer (fanout.js).
      this.serial(async () => {
        if (this.contacts[name]?.identityKey === known && await this.takeDeviceList(name, current.devices)) {
          await this.saveContacts();
        }
      }).catch(() => {}); // reported by serial
    }
    if (!current || this.stopped || current.identityKey === known) return;
    // The warning's path, in the queue, unless something replaced the key meanwhile (a request,
    // a Start chat or a notice did, and warned if it had to).
    this.serial(async () => {
      if (this.contacts[name]?.identityKey === known) await this.identityChanged(name, false, current);
    }).catch(() => {}); // reported by serial
  },

  // The directory's answer for a contact's identity, or null when there is none to trust: a
  // failed request (offline, throttled, a server error), no identity for the name, or an answer
  // whose key is not 32 bytes.
  async fetchIdentity(name) {
    return (await this.fetchIdentities([name])).get(name) || null;
  },

  // The directory's identities for names (POST /api/identities, at most 64): a Map of the names
  // that have one whose key is 32 bytes; empty when the request failed.
  async fetchIdentities(names) {
    const out = new Map();
    try {
      const b = await request('POST', '/api/identities', { users: names });
      for (const id of Array.isArray(b?.identities) ? b.identities : []) {
        if (typeof id?.username === 'string' && names.includes(id.username) &&
            typeof id.identityKey === 'string' && fromB64u(id.identityKey).length === 32) {
          out.set(id.username, id);
        }
      }
    } catch {
      // offline, throttled, a server error: nothing to trust this time
    }
    return out;
  },

  // The identity key changed (the caller stores the contacts): sending stops until the person
  // has looked at the warning, and a verified mark is lost.
  raiseIdentityWarning(name) {
    const c = this.contacts[name];
    c.identityWarning = true;
    c.held = true;
    c.verified = false;
  },

  /**
   * The person looked at the warning: sending resumes. A contact whose session died with their
   * former keys (renew) is asked again with a new session (as Start chat does); the messages
   * waiting for them go on it once they accept.
   */
  async acknowledgeIdentity(name) {
    const renew = await this.serial(async () => {
      const c = this.contacts[name];
      if (!c) return false;
      // The change stays in the transcript once the warning is gone.
      if (c.identityWarning) {
        await this.saveHistory(name, [this.noticeLine(name, c.pqWarning
          ? `${name}'s keys no longer offered post-quantum protection. You checked their safety number, and the chat went on without it.`
          : `${name}'s safety number changed. You checked it, and sending resumed.`)]);
      }
      c.identityWarning = false;
      c.held = false;
      if (c.pqWarning) {
        // They no longer offer post-quantum keys and the person has looked: the chat goes on
        // without them (until they offer them again).
        delete c.pq;
        delete c.pqWarning;
      }
      await this.saveContacts();
      this.changed(name);
      if (!c.renew) this.flush(name);
      return !!c.renew;
    });
    if (renew) await this.renew(name);
  },

  // A new session with a contact marked renew (Start chat's way), unless something made one
  // meanwhile (their request was taken, or Start chat ran).
  renew(name) {
    return this.startChat(name, { renewOnly: true });
  },

  renewSoon(name) {
    this.renew(name).catch((e) => this.report(e));
  },

  setVerified(name, verified) {
    return this.serial(async () => {
      const c = this.contacts[name];
      if (!c) return;
      c.verified = verified;
      if (verified && c.identityWarning) await this.saveHistory(name, [this.noticeLine(name, `${name}'s safety number changed. You compared it and marked ${name} as verified.`)]);
      if (verified) {
        c.identityWarning = false;
        c.held = false;
      }
      await this.saveContacts();
      this.changed(name);
      if (verified && c.renew) this.renewSoon(name); // after this, in the queue
      else if (verified) this.flush(name);
    });
  },

  /** This account's identity and a contact's, for the safety number. */
  identities(name) {
    const c = this.contacts[name];
    return c ? { mine: this.account.identityKey(), theirs: fromB64u(c.identityKey) } : null;
  },

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
  },

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
    // Sessions with other devices (fanout.js), loaded or not: all made with the former identity.
    for (const c of Object.values(this.contacts)) {
      for (const d of this.listedDevices(c.name)) await this.vault.deleteSession(address(c.name, d));
    }
    for (const d of this.ownDevices || []) await this.vault.deleteSession(address(this.me, d));
    this.requests.clear(); // made for the former identity's keys
    this.requestWrites.clear();
    this.requestsChanged(null);
    const fresh = core.Account.create();
    fresh.generatePrekeys(100);
    this.account.free();
    this.account = fresh;
    await publish(fresh, this.vault, { resetIdentity: true });
    // The new identity's list (generation 1, this device alone: the reset removed the others).
    await syncDeviceList(fresh, this.vault, this.device);
    await this.loadOwnDevices(); // this device alone now
    for (const c of Object.values(this.contacts)) {
      if (c.status === 'blocked') c.blockedFrom = 'declined'; // still blocked (contacts.js)
      else c.status = 'declined';
      c.verified = false;
      delete c.renew; // our new identity starts every chat afresh anyway
      delete c.hello;
      if (c.device === 0) c.device = 1; // Start chat picks the device of the new session
    }
    await this.saveContacts(true); // the requests are gone too
    this.changed(null);
  },
};
