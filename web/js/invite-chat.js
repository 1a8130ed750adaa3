//# allFunctionsCalledOnLoad
// Chats set up by invitation codes (docs/PROTOCOL.md 17): the steps behind "Create invite",
// "Paste invite" and "Connect", on the messenger. The contact made is a chat like any other
// (session in the vault, transcript, safety number), marked `code`: it has no server account, so
// no mailbox and no presence; once its link closes, a new invite connects the two again.
//
// The vault's record "invites" keeps, per invite id (hex), the expiry (seconds) of: the invites
// this device made and still waits a reply for (pending), those whose reply it took (used), and
// those it answered (answered). Entries are dropped once expired (a code is refused then anyway),
// and each list is bounded.
import * as core from '../core/parley.js';
import { randomId, toB64u } from './encoding.js';
import {
  INVITE_TTL_MS, InviteError, MESSAGES, checkFresh, decodeInvite, decodeReply, encodeInvite, encodeReply, equalBytes, idText,
} from './invite.js';
import {
  buildSdp, codePc, gathered, iceOf, passiveAnswer, remoteFingerprintMatches,
} from './invite-rtc.js';

const MAX_PENDING = 16; // invites waiting for a reply on this device
const MAX_KEPT = 64; // used and answered ids remembered (each until its expiry)
const CONNECT_TIMEOUT_MS = 30000;
// How long a code chat's connection is waited for, on either side: until the invite ends (a DTLS
// handshake whose retransmissions back off is not given up sooner on one side), at least 30 s.
const connectWait = (expiry, now) => Math.max(CONNECT_TIMEOUT_MS, expiry * 1000 - now);
const RECORD = 'invites';

/** The contact name of a code contact: "~" and 8 characters of its identity key (never a username). */
export function codeName(identityKey) {
  return `~${toB64u(identityKey).slice(0, 8)}`;
}

function prune(map, nowS, max) {
  const out = {};
  const live = Object.entries(map || {}).filter(([id, exp]) => /^[0-9a-f]{32}$/.test(id) && Number.isSafeInteger(exp) && exp > nowS);
  for (const [id, exp] of live.slice(-max)) out[id] = exp;
  return out;
}

async function loadStore(m, now) {
  const s = await m.vault.getJson(RECORD, {});
  const nowS = Math.floor(now / 1000);
  return {
    pending: prune(s.pending, nowS, MAX_PENDING),
    used: prune(s.used, nowS, MAX_KEPT),
    answered: prune(s.answered, nowS, MAX_KEPT),
  };
}

// The one-time prekey just made, alone in a bundle (the core lists every unpublished one).
function bundleWithLast(bundle) {
  const count = (bundle[133] << 8) | bundle[134];
  if (count < 1) throw new Error('no one-time prekey');
  const last = bundle.subarray(135 + (count - 1) * 36, 135 + count * 36);
  const out = new Uint8Array(171);
  out.set(bundle.subarray(0, 133));
  out[134] = 1;
  out.set(last, 135);
  return out;
}

const signer = (account) => (room, issuedAt, nonce) => account.signChallenge(room, issuedAt, nonce);

// A code contact's name is short (48 bits of the key): a contact of that name with another key
// is never taken over by this one (its transcript, its messages still waiting).
function checkLookalike(m, identityKey) {
  const prev = m.contacts[codeName(identityKey)];
  if (prev && prev.identityKey !== toB64u(identityKey)) throw new InviteError('lookalike', MESSAGES.lookalike);
}

// The contact for a code chat with this identity (made or renewed), in memory.
function codeContact(m, identityKey, now) {
  const name = codeName(identityKey);
  const prev = m.contacts[name];
  const key = toB64u(identityKey);
  m.contacts[name] = {
    ...(prev || {}),
    name,
    status: 'active',
    identityKey: key,
    device: 1,
    code: true,
    verified: prev?.identityKey === key ? !!prev.verified : false,
    unread: prev?.unread || 0,
    since: prev?.since || now,
  };
  delete m.contacts[name].renew;
  delete m.contacts[name].hello;
  if (!m.histories.has(name)) m.histories.set(name, []);
  return name;
}

// The link of the messenger for `name`, now run by `pc` (and `dc` on the offering side).
function attach(m, name, pc, { dc = null, timeoutMs, fingerprint }) {
  const l = m.link(name);
  l.reset();
  l.link = randomId();
  l.initiator = !!dc;
  l.holding = false;
  l.createPc(timeoutMs, pc);
  if (dc) l.attach(dc);
  const check = async () => {
    l.removeEventListener('open', check);
    if (l.pc === pc && !await remoteFingerprintMatches(pc, fingerprint)) {
      l.fail('the certificate is not the one the code was signed for');
      m.report(new Error('DTLS fingerprint differs from the signed one'));
    }
  };
  l.addEventListener('open', check);
  return l;
}

/** The invitation flows of one messenger (one per session). */
export class Invites {
  constructor(messenger, clock = () => Date.now()) {
    this.m = messenger;
    this.now = clock;
    this.open = new Map(); // id hex -> {pc, dc, expiry}: invites whose offer is alive on this page
  }

  /** Makes an invite: {code, expiry (ms)}. */
  async create() {
    const { m } = this;
    const pc = codePc();
    try {
      const dc = pc.createDataChannel('parley', { ordered: true });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const ice = iceOf(pc.localDescription.sdp);
      const now = this.now();
      const expiry = Math.floor((now + INVITE_TTL_MS) / 1000);
      const id = core.randomBytes(16);
      const code = await m.serial(async () => {
        const store = await loadStore(m, now);
        m.account.generatePrekeys(1);
        const bundle = bundleWithLast(m.account.bundle());
        m.account.markPublished();
        const text = await encodeInvite({ expiry, id, bundle, ice }, signer(m.account));
        store.pending[idText(id)] = expiry;
        store.pending = prune(store.pending, Math.floor(now / 1000), MAX_PENDING);
        await m.vault.putMany([m.vault.accountRecord(m.account), [RECORD, m.vault.sealJson(RECORD, store)]]);
        return text;
      });
      for (const [k, o] of this.open) { // offers of invites no longer pending are closed
        if (o.expiry * 1000 <= now) {
          o.pc.close();
          this.open.delete(k);
        }
      }
      this.open.set(idText(id), { pc, dc, expiry, fingerprint: ice.fingerprint });
      setTimeout(() => this.expire(idText(id), pc), expiry * 1000 - now);
      return { code, expiry: expiry * 1000 };
    } catch (e) {
      pc.close();
      throw e;
    }
  }

  expire(key, pc) {
    const o = this.open.get(key);
    if (o?.pc === pc) {
      pc.close();
      this.open.delete(key);
    }
  }

  /** Answers an invite code: {code (the reply), name (the contact)}. Throws InviteError. */
  async answer(text) {
    const { m } = this;
    const inv = await decodeInvite(text);
    checkFresh(inv.expiry, this.now());
    if (equalBytes(inv.identityKey, m.account.identityKey())) throw new InviteError('own', MESSAGES.own);
    const key = idText(inv.id);
    {
      const store = await loadStore(m, this.now());
      if (store.answered[key] || store.used[key] || store.pending[key]) throw new InviteError('used', MESSAGES.used);
    }
    const pc = codePc();
    let attached = false;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: buildSdp(inv.ice, 'offer') });
      await pc.setLocalDescription(passiveAnswer(await pc.createAnswer()));
      await gathered(pc);
      const ice = iceOf(pc.localDescription.sdp);
      const now = this.now();
      checkFresh(inv.expiry, now);
      const { code, name } = await m.serial(async () => {
        const store = await loadStore(m, now);
        if (store.answered[key]) throw new InviteError('used', MESSAGES.used);
        checkLookalike(m, inv.identityKey);
        let session;
        try {
          session = core.Session.outbound(m.account, inv.bundle);
        } catch {
          throw new InviteError('damaged', MESSAGES.damaged);
        }
        try {
          const message = session.encrypt(JSON.stringify({ t: 'hello' }));
          const reply = await encodeReply({ expiry: inv.expiry, id: inv.id, message, ice }, signer(m.account));
          const who = codeContact(m, inv.identityKey, now);
          const stale = m.dropWires(who); // kept ciphertexts of an earlier session go again under this one
          m.useSession(who, session);
          session = null;
          store.answered[key] = inv.expiry;
          store.answered = prune(store.answered, Math.floor(now / 1000), MAX_KEPT);
          await m.vault.putMany([
            m.vault.sessionRecord(who, m.sessions.get(who)),
            ...m.contactsRecords(),
            ...(stale.length ? m.historyRecords(who, stale) : []),
            [RECORD, m.vault.sealJson(RECORD, store)],
          ]);
          return { code: reply, name: who };
        } finally {
          session?.free();
        }
      });
      attach(m, name, pc, { timeoutMs: connectWait(inv.expiry, now), fingerprint: inv.ice.fingerprint });
      attached = true;
      m.changed(name);
      return { code, name };
    } finally {
      if (!attached) pc.close();
    }
  }

  /** Takes the reply to one of our invites and connects: the contact's name. Throws InviteError. */
  async connect(text) {
    const { m } = this;
    const rep = await decodeReply(text);
    const key = idText(rep.id);
    const now = this.now();
    let offer = null; // the invite's connection, taken from this.open once the reply is accepted
    const name = await m.serial(async () => {
      const store = await loadStore(m, now);
      if (store.used[key]) throw new InviteError('used', MESSAGES.used);
      const expiry = store.pending[key];
      if (expiry === undefined) {
        // Not pending: unknown here, or pending until it expired (dropped from the store).
        if (rep.expiry * 1000 <= now) throw new InviteError('expired', MESSAGES.expired);
        throw new InviteError('unknown', MESSAGES.unknown);
      }
      if (expiry !== rep.expiry) throw new InviteError('damaged', MESSAGES.damaged);
      checkFresh(rep.expiry, now);
      if (!this.open.has(key)) {
        throw new InviteError('unknown', 'This invite is no longer open on this device (the page was reloaded or closed). Create a new invite.');
      }
      if (equalBytes(rep.identityKey, m.account.identityKey())) throw new InviteError('own', MESSAGES.own);
      checkLookalike(m, rep.identityKey);
      let opened;
      try {
        opened = core.Session.inbound(m.account, rep.message);
      } catch {
        throw new InviteError('damaged', MESSAGES.damaged);
      }
      const { session } = opened;
      if (!equalBytes(session.peerIdentity(), rep.identityKey)) {
        session.free();
        throw new InviteError('damaged', MESSAGES.damaged);
      }
      offer = this.open.get(key);
      this.open.delete(key);
      const who = codeContact(m, rep.identityKey, now);
      const stale = m.dropWires(who);
      m.useSession(who, session);
      delete store.pending[key];
      store.used[key] = rep.expiry;
      store.used = prune(store.used, Math.floor(now / 1000), MAX_KEPT);
      await m.vault.putMany([
        m.vault.accountRecord(m.account), // its one-time prekey is spent
        m.vault.sessionRecord(who, session),
        ...m.contactsRecords(),
        ...(stale.length ? m.historyRecords(who, stale) : []),
        [RECORD, m.vault.sealJson(RECORD, store)],
      ]);
      return who;
    });
    attach(m, name, offer.pc, { dc: offer.dc, timeoutMs: connectWait(rep.expiry, now), fingerprint: rep.ice.fingerprint });
    await offer.pc.setRemoteDescription({ type: 'answer', sdp: buildSdp(rep.ice, 'answer') });
    m.changed(name);
    return name;
  }

  /** Closes the offers still open (log-out). */
  close() {
    for (const o of this.open.values()) o.pc.close();
    this.open.clear();
  }
}

export { InviteError };
