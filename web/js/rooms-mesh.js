//# allFunctionsCalledOnLoad
// Rooms on direct connections (docs/PROTOCOL.md 20.4, 20.7 "Direct connections"): when the data
// channel link to a contact opens and both hold an active room listing each other, each side asks
// the other to prove its key for that room: a fresh 32-byte nonce per shared room (room-hello),
// answered with a room challenge (20.4) bound to the DTLS fingerprints of this very connection
// (room-proof). Each nonce is accepted once, within 60 s; the check runs again every 5 minutes and
// on every new link. Both payloads travel as ratchet payloads over the link only, never by mail.
//
// Effects: each member's state on this page's connection ("verified", "checking", "verification
// failed", "not connected"); a link whose proof failed or did not come within CHECK_DEADLINE_MS
// (of a hello and of the one sent again then) carries no room message to or from that member (they go by mail), said once in the room's
// transcript; a member a new version removes has its state dropped at once and, when its only
// session with this account is the room's (no chat of its own), its link is closed.
// Installed with roomMethods (rooms.js); no DOM here.
import * as core from '../core/parley.js';
import { equalBytes, fromB64u, toB64u } from './encoding.js';
import { linkFingerprints } from './calls-binding.js';
import { outboxMethods } from './outbox.js';
import { inboxMethods } from './inbox.js';
import { ROOM_NONCE_BYTES, roomCheckPayload } from './rooms-wire.js';

export const CHECK_WINDOW_MS = 60_000; // a proof's issuedAt this far from now at most (20.4)
export const CHECK_DEADLINE_MS = 20_000; // a proof not here this long after its hello: failed
export const CHECK_EVERY_MS = 5 * 60_000; // verified again this often on a link
const MAX_NONCES = 8; // unanswered nonces kept per member and room on a link
const HELLO_AGAIN_MS = 500; // a hello of theirs while ours waits this long asks again
const MAX_HELD = 64; // room messages held back on a link whose check failed
const MAX_EARLY = 16; // hellos for rooms not held yet, kept per link until the room is taken

function meshProblem(text) {
  const e = new Error(text);
  e.room = true;
  return e;
}


export const roomMeshMethods = {
  // Called once per log-in (loadRooms): listens to link and room changes.
  startRoomMesh() {
    if (this.mesh) return;
    this.mesh = new Map(); // name -> {linkId, pc, rooms: Map(hex -> check)}
    this.meshClosed = new Set(); // room-only contacts whose link was closed at a removal
    const look = (ev) => {
      const name = ev.detail?.name;
      if (typeof name === 'string') this.meshLook(name);
    };
    this.addEventListener('change', look);
    this.addEventListener('room', (ev) => {
      if (!ev.detail?.mesh) this.meshRoomChanged(ev.detail?.room);
    });
    this.meshTimer = setInterval(() => this.meshAgain(), CHECK_EVERY_MS);
    // No link to a room-only contact closed at a removal (not ours to open; theirs is refused).
    const connect = this.connect;
    this.connect = (name, force) => (this.meshClosed.has(name) ? undefined : connect.call(this, name, force));
    this.installMeshTestHooks();
  },

  // The screen draws a member's state again (not a change of the room itself).
  meshChanged(hex) {
    this.dispatchEvent(new CustomEvent('room', { detail: { room: hex, mesh: true } }));
  },

  // The rooms held here, active, listing both this account and the contact (its key).
  sharedRooms(name) {
    const c = this.contacts[name];
    if (!c || c.status !== 'active' || !c.identityKey || !this.rooms) return [];
    const key = fromB64u(c.identityKey);
    return [...this.rooms.values()].filter((r) => r.status === 'active' && !r.gone.has(c.identityKey) &&
      core.roomRole(r.d, key) !== null);
  },

  // A contact whose link was closed at a removal: opened again once a room lists it again or
  // something else than rooms is sent in its chat.
  meshReopen(name) {
    if (!this.meshClosed.has(name) || (this.roomOnly(name) && !this.sharedRooms(name).length)) return;
    this.meshClosed.delete(name);
    this.connect(name);
  },

  // A link opened, closed or changed, or the rooms changed: the checks follow.
  meshLook(name) {
    if (!this.mesh || this.stopped) return;
    if (this.meshClosed.has(name)) this.meshReopen(name);
    const l = this.links.get(name);
    const open = !!l?.open && !!l.link && !!l.pc;
    let st = this.mesh.get(name);
    if (st && (!open || st.linkId !== l.link)) {
      this.meshDrop(name);
      st = null;
    }
    if (!open) return;
    if (!st) {
      st = { linkId: l.link, pc: l.pc, rooms: new Map() };
      this.mesh.set(name, st);
    }
    const shared = new Map(this.sharedRooms(name).map((r) => [r.hex, r]));
    for (const [hex, c] of st.rooms) {
      if (!shared.has(hex)) {
        clearTimeout(c.timer);
        st.rooms.delete(hex);
        this.meshChanged(hex);
      }
    }
    for (const [hex, r] of shared) {
      const c = st.rooms.get(hex);
      if (!c) this.meshAsk(name, st, hex);
      else if (c.ver !== r.info.version) this.meshAsk(name, st, hex); // a new version: asked again
      const early = st.early?.get(hex);
      if (early) {
        // Their hello came before this page took the room: answered now.
        st.early.delete(hex);
        if (this.meshAllowed(name, r)) this.meshAnswer(name, st, r, early).catch((e) => this.report(e));
      }
    }
  },

  meshDrop(name) {
    const st = this.mesh.get(name);
    if (!st) return;
    this.mesh.delete(name);
    for (const [hex, c] of st.rooms) {
      clearTimeout(c.timer);
      this.meshChanged(hex);
    }
  },

  // A room changed (a version, a removal, a leave): every link is looked at again, and a member
  // it no longer lists loses its room traffic at once (its link closed when the room was all
  // they shared).
  meshRoomChanged(hex) {
    if (!this.mesh || this.stopped) return;
    for (const name of [...this.mesh.keys()]) this.meshLook(name);
    for (const name of [...this.meshClosed]) this.meshReopen(name);
    const room = this.rooms?.get(hex);
    if (!room) return;
    for (const key of this.meshRemovedKeys(room)) {
      const name = Object.values(this.contacts).find((c) => c.identityKey === key)?.name;
      if (name && this.roomOnly(name) && !this.sharedRooms(name).length && this.links.get(name)) {
        this.meshClosed.add(name);
        this.dropLink(name, true);
        this.meshDrop(name);
        this.changed(name);
      }
    }
  },

  // Keys listed in a kept earlier version of the room and not in the current one (or all the
  // others when this account is out of the room).
  meshRemovedKeys(room) {
    const now = new Set(room.status === 'active' ? room.info.members.map((m) => toB64u(m.key)) : []);
    const me = toB64u(this.myKey());
    const out = new Set();
    for (const d of [room.d, ...room.past]) {
      for (const m of core.openRoom(d).members) {
        const k = toB64u(m.key);
        if (k !== me && !now.has(k)) out.add(k);
      }
    }
    for (const k of room.gone) out.add(k);
    return out;
  },

  // A contact whose transcript holds nothing but room entries and the app's own lines: a session
  // made inside a room (or a chat nobody wrote in).
  roomOnly(name) {
    return this.history(name).every((e) => e.kind === 'room' || e.from === 'system');
  },

  // A fresh nonce for one room on the link, and the deadline for its proof.
  meshAsk(name, st, hex, retry = false) {
    const room = this.rooms.get(hex);
    if (!room) return;
    let c = st.rooms.get(hex);
    if (!c) {
      c = { state: 'checking', nonces: new Map(), ver: room.info.version, askedAt: 0, verifiedAt: 0, said: false, timer: null };
      st.rooms.set(hex, c);
      this.meshChanged(hex);
    }
    c.ver = room.info.version;
    const nonce = core.randomBytes(ROOM_NONCE_BYTES);
    const at = Date.now();
    c.nonces.set(toB64u(nonce), at);
    while (c.nonces.size > MAX_NONCES) c.nonces.delete(c.nonces.keys().next().value);
    c.askedAt = at;
    if (!retry) c.retried = false;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      if (this.mesh.get(name) !== st || st.rooms.get(hex) !== c || c.verifiedAt >= at) return;
      if (!c.retried) {
        // Asked once more first (their page may not have been able to answer: a session being
        // accepted, a version on its way); failed when that one goes unanswered too.
        c.retried = true;
        this.meshAsk(name, st, hex, true);
        return;
      }
      this.meshFailed(name, st, hex, c, 'no proof came in time');
    }, CHECK_DEADLINE_MS);
    this.meshSend(name, st, roomCheckPayload('room-hello', { room: hex, ver: room.info.version, nonce }));
  },

  // Every 5 minutes: a fresh round on every link.
  meshAgain() {
    if (this.stopped) {
      clearInterval(this.meshTimer);
      return;
    }
    for (const [name, st] of this.mesh) for (const hex of st.rooms.keys()) this.meshAsk(name, st, hex);
  },

  // A check payload over the link of st only (never by mail): encrypted, its state stored, sent.
  meshSend(name, st, payload) {
    this.serial(async () => {
      const link = this.links.get(name);
      const c = this.contacts[name];
      // (pending: a session made inside a room, whose accept is on its way; the peer asked on it)
      if (!link?.open || link.link !== st.linkId || (c?.status !== 'active' && c?.status !== 'pending') || c.held || c.renew) return;
      const session = await this.session(name);
      if (!session) return;
      const wire = session.encrypt(JSON.stringify(payload));
      await this.persist(name, session); // the state before the ciphertext leaves
      if (link.link === st.linkId) link.send(wire);
      if (globalThis.parleyTestHooks) (this.meshSent ||= []).push({ name, payload });
    }).catch((e) => this.report(e));
  },

  meshFailed(name, st, hex, c, why) {
    const was = c.state;
    c.state = 'failed';
    c.why = why;
    if (this.rooms.has(hex) && !c.said) {
      c.said = true;
      this.roomNotice(hex, `The direct connection with ${name} could not prove ${name}'s key for this room (${why}); room messages to and from ${name} do not use it and go by mail.`);
    }
    this.report(meshProblem(`The room check with ${name} failed: ${why}.`));
    if (was !== 'failed') {
      this.meshChanged(hex);
      this.flush(name).catch((e) => this.report(e)); // what waits for the link goes by mail
    }
  },

  /** Whether room messages may travel with name over its open link (not while it failed). */
  meshTrusted(name, hex) {
    const c = this.mesh?.get(name)?.rooms.get(hex);
    return !c || c.state !== 'failed';
  },

  /** A member's state on this page's connection, in words: for the "Room members" list. */
  meshState(room, key) {
    const name = Object.values(this.contacts).find((c) => c.identityKey === key && c.status === 'active')?.name;
    const st = name ? this.mesh?.get(name) : null;
    const c = st?.rooms.get(room.hex);
    if (!c) return 'not connected';
    return c.state === 'verified' ? 'verified' : c.state === 'failed' ? 'verification failed' : 'checking';
  },

  // ---- receiving (applyRoom, in the queue) ------------------------------------------------------

  // A room-hello or room-proof from name: only from the link, judged once the fingerprints are read.
  roomCheckIn(name, p) {
    const st = this.mesh?.get(name);
    if (this.meshVia !== name || !st) {
      this.report(meshProblem(`A room check from ${name} that did not come on a direct connection was refused.`));
      return;
    }
    const room = this.rooms.get(p.room);
    if (!room && p.t === 'room-hello') {
      // The room may be on its way (its descriptor travels beside): kept, answered once taken.
      st.early ||= new Map();
      if (st.early.size < MAX_EARLY || st.early.has(p.room)) st.early.set(p.room, p);
      return;
    }
    if (!room || !this.meshAllowed(name, room)) {
      this.report(meshProblem(`A room check from ${name} for a room they are not in here was refused.`));
      return;
    }
    if (p.t === 'room-hello') this.meshAnswer(name, st, room, p).catch((e) => this.report(e));
    else this.meshProof(name, st, room, p).catch((e) => this.report(e));
  },

  // Whether name's key (its session's, authenticated by X3DH) is listed in the active room here.
  meshAllowed(name, room) {
    const key = this.contacts[name]?.identityKey;
    const session = this.sessions.get(name);
    return room.status === 'active' && !!key && !room.gone.has(key) && core.roomRole(room.d, fromB64u(key)) !== null &&
      !!session && equalBytes(session.peerIdentity(), fromB64u(key));
  },

  async meshAnswer(name, st, room, p) {
    if (this.meshMuted) return; // test hook
    if (p.ver < room.info.version) this.meshPush(name, room); // they hold an older version
    const { local, remote } = await linkFingerprints(st.pc, () => this.mesh.get(name) === st);
    if (this.mesh.get(name) !== st) return;
    if (!local || !remote) {
      const c = st.rooms.get(room.hex);
      if (c) this.meshFailed(name, st, room.hex, c, 'the connection\'s certificates could not be read');
      return;
    }
    const ts = Date.now();
    let own = local;
    if (this.meshBadProofs) own = Uint8Array.from(local, (x, i) => (i === 0 ? x ^ 0xff : x)); // test hook
    const sig = core.signRoomChallenge(this.account, room.d, { nonce: p.nonce, issuedAt: ts, ownFingerprint: own, peerFingerprint: remote });
    this.meshSend(name, st, roomCheckPayload('room-proof', { room: room.hex, ver: room.info.version, nonce: p.nonce, ts, sig }));
    // Theirs came while ours is not answered (they took the room since), or was answered for
    // another version (they took ours since): asked again.
    const c = st.rooms.get(room.hex);
    if (c && (c.otherVersion || (c.state !== 'verified' && Date.now() - c.askedAt >= HELLO_AGAIN_MS))) {
      c.otherVersion = false;
      this.meshAsk(name, st, room.hex);
    }
  },

  async meshProof(name, st, room, p) {
    const c = st.rooms.get(room.hex);
    const n = toB64u(p.nonce);
    if (!c || !c.nonces.has(n)) {
      this.report(meshProblem(`A room proof from ${name} answering no question of this connection (replayed, or answered already) was refused.`));
      return;
    }
    c.nonces.delete(n); // one answer per nonce
    const { local, remote } = await linkFingerprints(st.pc, () => this.mesh.get(name) === st);
    if (this.mesh.get(name) !== st || st.rooms.get(room.hex) !== c) return;
    if (!local || !remote) {
      this.meshFailed(name, st, room.hex, c, 'the connection\'s certificates could not be read');
      return;
    }
    try {
      core.checkRoomChallenge(room.d, {
        signerKey: fromB64u(this.contacts[name].identityKey), nonce: p.nonce, issuedAt: p.ts,
        signerFingerprint: remote, ownFingerprint: local, signature: p.sig,
      }, Date.now(), CHECK_WINDOW_MS);
    } catch (e) {
      if (!(e instanceof core.ParleyError)) throw e;
      if (e.codeName === 'BAD_SIGNATURE' && p.ver !== room.info.version) {
        // Not the same version (20.4): the newer one is taken and the check asked again (meshLook
        // on the version's change); an older one of theirs gets ours.
        if (p.ver < room.info.version) this.meshPush(name, room);
        c.otherVersion = true; // asked again at their next hello (made once they hold ours)
        this.report(meshProblem(`A room proof from ${name} names version ${p.ver}, this page holds ${room.info.version}: asked again once both hold the same.`));
        return;
      }
      this.meshFailed(name, st, room.hex, c, e.codeName === 'EXPIRED' ? 'its proof was not fresh' : 'its proof did not verify');
      return;
    }
    const was = c.state;
    c.state = 'verified';
    c.verifiedAt = Date.now();
    c.said = false;
    if (was !== 'verified') {
      this.meshChanged(room.hex);
      if (was === 'failed') this.flush(name).catch((e) => this.report(e));
    }
    // What was held back on this link for the room is judged now (rooms.js rejudgeSoon).
    const back = (st.held || []).filter((x) => x.p.room === room.hex);
    if (back.length) {
      st.held = st.held.filter((x) => x.p.room !== room.hex);
      this.roomWaiting.push(...back);
      this.rejudgeSoon();
    }
  },

  // Our descriptor to a member who named an older version (at most once per version and link).
  meshPush(name, room) {
    const st = this.mesh.get(name);
    if (!st) return;
    st.pushed ||= new Map();
    if (st.pushed.get(room.hex) === room.info.version) return;
    st.pushed.set(room.hex, room.info.version);
    const key = this.contacts[name]?.identityKey;
    this.sendDescriptor(room, [{ name, key }]).catch((e) => this.report(e));
  },

  // Whether a room message from name on the link is held back (applyRoom): on a link whose check
  // failed it waits, unacknowledged, until the link verifies again (then it is judged as any
  // other); when the link ends first, the sender sends it again (by mail, or on the next link).
  meshRefuses(name, p) {
    if (this.meshVia !== name || p.t !== 'room-msg' || this.meshTrusted(name, p.room)) return false;
    const st = this.mesh.get(name);
    st.held ||= [];
    if (st.held.length >= MAX_HELD) st.held.shift(); // unacknowledged: it comes again later
    if (!st.held.some((x) => x.p.id === p.id)) st.held.push({ name, p });
    this.report(meshProblem(`A room message from ${name} came on a direct connection that failed the room check; it waits until the connection is verified again.`));
    return true;
  },

  // ---- installed over inbox.js and outbox.js ---------------------------------------------------

  // Marks what came on the link (room checks are taken from there only).
  async takeData(name, list) {
    this.meshVia = name;
    try {
      return await inboxMethods.takeData.call(this, name, list);
    } finally {
      this.meshVia = null;
    }
  },

  // Room messages do not go on a link whose room check failed: they go by mail.
  async transmit(name, entries) {
    const held = entries.filter((e) => e.kind === 'room' && e.room?.t === 'room-msg' && !this.meshTrusted(name, e.room.room));
    if (!held.length) return outboxMethods.transmit.call(this, name, entries);
    await outboxMethods.transmit.call(this, name, entries.filter((e) => !held.includes(e)));
    await this.mailOut(name);
    return undefined;
  },

  // ---- test hooks (testhooks.js; only with "parley-test-hooks" set) ------------------------------

  installMeshTestHooks() {
    const hooks = globalThis.parleyTestHooks;
    if (!hooks) return;
    // The check payloads this page sent, as they went ({name, payload}).
    hooks.roomChecksSent = () => (this.meshSent || []).map((x) => ({ name: x.name, payload: x.payload }));
    // A crafted ratchet payload to name over the open link only (what a peer could send).
    hooks.sendOnLink = (name, payload) => new Promise((resolve, reject) => {
      this.serial(async () => {
        const link = this.links.get(name);
        const session = await this.session(name);
        if (!link?.open || !session) return false;
        const wire = session.encrypt(JSON.stringify(payload));
        await this.persist(name, session);
        return link.send(wire);
      }).then(resolve, reject);
    });
    // The room payloads this page decrypted ({name, t}), whatever became of them.
    hooks.roomPayloadsIn = () => (this.roomIn || []).map((x) => ({ ...x }));
    // A fresh round of room checks now on every link (as every 5 minutes).
    hooks.roomCheckAgain = () => this.meshAgain();
    // This page's proofs name a wrong fingerprint (as through a machine in the middle).
    hooks.badRoomProofs = (on) => {
      this.meshBadProofs = !!on;
    };
    // This page answers no room-hello (a proof that never comes).
    hooks.muteRoomChecks = (on) => {
      this.meshMuted = !!on;
    };
    hooks.linkOpen = (name) => !!this.links.get(name)?.open;
    // The link to name is lost (as when the network drops): a new one follows.
    hooks.loseLink = (name) => this.links.get(name)?.fail('lost');
    hooks.roomLinkState = (hex, name) => {
      const room = this.rooms.get(hex);
      const key = this.contacts[name]?.identityKey;
      return room && key ? this.meshState(room, key) : null;
    };
  },
};
