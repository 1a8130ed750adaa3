//# allFunctionsCalledOnLoad
// The identity binding of a call (docs/PROTOCOL.md 12.17) and the sealing of its frames: each
// side asks the other with a fresh nonce and answers with a statement signed by its identity key
// naming its own DTLS fingerprint and the peer's as it sees it (calls-binding.js); each side
// checks the peer's statement against its local certificate, the remote description and the
// transport's certificate stats, and any mismatch ends the call at once. Frames are sealed with
// a media key each side sends (calls-frames.js, in a worker). Installed on Calls (calls.js).
import * as core from '../core/parley.js';
import { equalBytes, toB64u } from './encoding.js';
import { NONCE_BYTES, checkStatement, linkFingerprints, signStatement } from './calls-binding.js';

const BIND_WAIT_MS = 20000; // a statement must answer our nonce within this
const MAX_NONCES = 4; // nonces of ours waiting for a statement

export const identityMethods = {
  // ---- frame encryption (calls-frames.js) ------------------------------------------------------------

  // Our media key for the call, when this browser can seal frames: a key the peer has means it
  // can open them, so frames are sealed both ways once both sent one.
  canSeal() {
    return typeof RTCRtpScriptTransform !== 'undefined' && typeof Worker !== 'undefined';
  },

  sendKey(call) {
    if (!this.canSeal()) return;
    call.myKey = core.randomBytes(32);
    this.send(call.name, 'key', call.id, { key: call.myKey }).catch((e) => this.m.report(e));
  },

  /** Whether the call's frames are sealed end to end (both sides gave a key). */
  sealed(call = this.call) {
    return !!call?.myKey && !!call.peerKey;
  },

  // A transceiver of the call: its sender seals with our key, its receiver opens with theirs.
  protect(call, t, kind) {
    if (!this.sealed(call)) return;
    this.worker ||= new Worker(new URL('./calls-frames-worker.js', import.meta.url), { type: 'module' });
    const plain = globalThis.parleyTestHooks?.plainFrames === true; // test hook: frames not sealed
    t.sender.transform = new RTCRtpScriptTransform(this.worker, { side: 'send', kind, key: call.myKey, plain });
    t.receiver.transform = new RTCRtpScriptTransform(this.worker, { side: 'recv', kind, key: call.peerKey });
  },

  // ---- the binding -----------------------------------------------------------------------------------

  sendNonce(call) {
    if (!this.live(call)) return;
    const nonce = core.randomBytes(NONCE_BYTES);
    call.nonces.set(toB64u(nonce), Date.now());
    while (call.nonces.size > MAX_NONCES) call.nonces.delete(call.nonces.keys().next().value);
    // The statement's time counts from when the nonce left (not from a wait in our own queue).
    this.send(call.name, 'nonce', call.id, { nonce }).then((sent) => {
      if (!sent || !this.live(call)) return;
      this.timer(call, () => {
        if (this.live(call) && call.nonces.has(toB64u(nonce))) this.unbound(call, 'unverified');
      }, BIND_WAIT_MS);
    }).catch((e) => this.m.report(e));
  },

  /**
   * The fingerprints as this side sees them: {local, remote} (32 bytes each), each the one value
   * that every source agrees on (local: our certificate, local description, transport stats;
   * remote: remote description, transport stats), or null when they disagree or are not known.
   */
  async fingerprints(pc) {
    const { local, remote: seen } = await linkFingerprints(pc, () => !!(this.call || this.group));
    let remote = seen;
    // Test hook (tests/e2e/calls.test.mjs): this page sees another certificate, as it would
    // through a machine in the middle.
    if (remote && globalThis.parleyTestHooks?.swapCallFingerprint) {
      remote = Uint8Array.from(remote);
      remote[0] ^= 0xff;
    }
    return { local, remote };
  },

  identities(name) {
    const ids = this.m.identities(name);
    return ids ? { mine: ids.mine, theirs: ids.theirs } : null;
  },

  // Their nonce: our statement answers it.
  async answerNonce(call, nonce) {
    const hooks = globalThis.parleyTestHooks;
    if (hooks?.withholdBind) { // test hook: a statement that never comes (counted as it is withheld)
      hooks.withheldBinds = (hooks.withheldBinds || 0) + 1;
      return;
    }
    const { local, remote } = await this.fingerprints(call.negotiator.pc);
    const ids = this.identities(call.name);
    if (!this.live(call)) return;
    if (!local || !remote || !ids) {
      this.unbound(call, 'mismatch');
      return;
    }
    const at = Date.now();
    const sig = signStatement(this.m.account, { callId: call.id, at, nonce, ownFp: local, peerFp: remote, peerIdentity: ids.theirs });
    await this.send(call.name, 'bind', call.id, { nonce, at, ownFp: local, peerFp: remote, sig });
  },

  // Their statement: it must answer a nonce of ours, be signed by their identity key, and name
  // the fingerprints this side sees.
  async checkBind(call, p) {
    const key = toB64u(p.nonce);
    if (!call.nonces.has(key)) return; // not ours, or answered already
    call.nonces.delete(key);
    const ids = this.identities(call.name);
    const { local, remote } = await this.fingerprints(call.negotiator.pc);
    if (!this.live(call)) return;
    const ok = !!ids && !!local && !!remote &&
      checkStatement(ids.theirs, ids.mine, { callId: call.id, at: p.at, nonce: p.nonce, ownFp: p.ownFp, peerFp: p.peerFp, sig: p.sig }) &&
      equalBytes(p.ownFp, remote) && equalBytes(p.peerFp, local);
    if (!ok) {
      this.unbound(call, 'mismatch');
      return;
    }
    call.bound = true;
    call.checks += 1;
    this.changed();
  },

  // The binding failed (`mismatch`) or its statement did not come in time (`unverified`): the call
  // ends at once either way, said as what it was ('intercepted' or 'unchecked').
  unbound(call, reason) {
    call.why = reason;
    this.finish(call, reason === 'unverified' ? 'unchecked' : 'intercepted', { tell: 'end', reason });
  },

  /** "Verified" only when the statement checked out and the safety number is marked verified. */
  verification(call = this.call) {
    return !!call?.bound && !!this.m.contacts[call.name]?.verified;
  },
};
