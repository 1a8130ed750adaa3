//# allFunctionsCalledOnLoad
// Calls, the formats (docs/PROTOCOL.md 12.17): the call payloads that travel inside the Double
// Ratchet ({"t":"call",...}), read strictly, and the identity binding statement that ties a
// call's DTLS certificates to the two identity keys. The statement is signed with the identity
// key as a signed challenge (section 9) whose room id is the statement's text:
//   "parley-call-v1." || callId (32 hex) || "." || b64u(signer's fingerprint) || "." ||
//   b64u(peer's fingerprint as the signer sees it) || "." || b64u(peer's identity key)
// with issuedAt the signing time and nonce the 32 fresh bytes the peer asked it with.
import * as core from '../core/parley.js';
import { RANDOM_ID_RE, equalBytes, fromB64u, toB64u } from './encoding.js';

export const CALL_LABEL = 'parley-call-v1';
export const NONCE_BYTES = 32;
export const FP_BYTES = 32; // SHA-256 certificate fingerprints only
export const MAX_SDP = 65536; // characters of a session description
export const MAX_CANDIDATE = 1024; // characters of a candidate line
export const MAX_MID = 32;
export const MEDIA = ['audio', 'video'];
const B64U_32 = /^[A-Za-z0-9_-]{43}$/;
const DECLINE_REASONS = ['declined', 'busy', 'full'];
const END_REASONS = ['hangup', 'mismatch', 'unverified', 'media', 'failed'];

/** The room id text of a statement (ASCII, 179 characters). */
export function statementRoom(callId, ownFp, peerFp, peerIdentity) {
  if (!RANDOM_ID_RE.test(callId)) throw new Error('bad call id');
  for (const [what, b] of [['fingerprint', ownFp], ['fingerprint', peerFp], ['identity key', peerIdentity]]) {
    if (!(b instanceof Uint8Array) || b.length !== 32) throw new Error(`bad ${what}`);
  }
  return `${CALL_LABEL}.${callId}.${toB64u(ownFp)}.${toB64u(peerFp)}.${toB64u(peerIdentity)}`;
}

/** Signs a statement with the account's identity key: 64 bytes. */
export function signStatement(account, { callId, at, nonce, ownFp, peerFp, peerIdentity }) {
  return account.signChallenge(statementRoom(callId, ownFp, peerFp, peerIdentity), at, nonce);
}

/**
 * Whether sig is signerIdentity's statement, sent to verifierIdentity, answering nonce. ownFp is
 * the signer's fingerprint, peerFp the verifier's as the signer saw it.
 */
export function checkStatement(signerIdentity, verifierIdentity, { callId, at, nonce, ownFp, peerFp, sig }) {
  try {
    return core.verifyChallenge(signerIdentity, statementRoom(callId, ownFp, peerFp, verifierIdentity), at, nonce, sig);
  } catch {
    return false;
  }
}

/** A call's length as M:SS, or H:MM:SS from an hour on. */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

// ---- fingerprints ------------------------------------------------------------------------------

/** "AB:CD:…" (32 pairs, either case) to 32 bytes; null for anything else. */
export function fpFromHex(text) {
  if (typeof text !== 'string' || !/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}$/.test(text)) return null;
  return Uint8Array.from(text.split(':'), (h) => parseInt(h, 16));
}

/**
 * The SHA-256 fingerprint a session description names (all its a=fingerprint lines, which must
 * agree); null when there is none, another algorithm, or two that differ.
 */
export function sdpFingerprint(sdp) {
  if (typeof sdp !== 'string') return null;
  let found = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (!line.startsWith('a=fingerprint:')) continue;
    const m = /^a=fingerprint:(\S+) (\S+)$/.exec(line.trim());
    if (!m || m[1].toLowerCase() !== 'sha-256') return null;
    const fp = fpFromHex(m[2]);
    if (!fp) return null;
    if (found && toB64u(found) !== toB64u(fp)) return null;
    found = fp;
  }
  return found;
}

// ---- payloads ----------------------------------------------------------------------------------

const FP_TRIES = 20; // reads of the transport's certificates before giving up (250 ms apart)
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/**
 * The fingerprints of a connection as this side sees them: {local, remote} (32 bytes each), each
 * the one value every source agrees on or nulls when they disagree,
 * are not known after FP_TRIES reads 250 ms apart, or still() turns false (calls, room checks).
 */
export async function linkFingerprints(pc, still = () => true) {
  for (let i = 0; i < FP_TRIES && still(); i += 1) {
    let stats;
    try {
      stats = await pc.getStats();
    } catch {
      return { local: null, remote: null };
    }
    let transport = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.dtlsState === 'connected' && s.remoteCertificateId) transport = s;
    });
    if (transport) {
      const agree = (list) => (list.every((x) => x && equalBytes(x, list[0])) ? list[0] : null);
      // A connection made with the browser's own certificate (code links, invite-rtc.js) has none
      // in its configuration: its description and its statistics must then agree alone.
      const certs = pc.getConfiguration().certificates || [];
      const cert = certs[0]?.getFingerprints().find((f) => f.algorithm === 'sha-256');
      const local = agree([
        ...(certs.length ? [cert ? fpFromHex(cert.value) : null] : []),
        sdpFingerprint(pc.localDescription?.sdp),
        fpFromHex(stats.get(transport.localCertificateId)?.fingerprint),
      ]);
      const remote = agree([
        sdpFingerprint(pc.remoteDescription?.sdp),
        fpFromHex(stats.get(transport.remoteCertificateId)?.fingerprint),
      ]);
      return { local, remote };
    }
    await sleep(250);
  }
  return { local: null, remote: null };
}

const isInt = (n, max) => Number.isSafeInteger(n) && n >= 0 && n <= max;
const onlyKeys = (o, keys) => Object.keys(o).every((k) => keys.includes(k));
const b64u32 = (s) => {
  if (typeof s !== 'string' || !B64U_32.test(s)) return null;
  try {
    return fromB64u(s);
  } catch {
    return null;
  }
};

/**
 * A call payload read strictly: {k, call, ...} with its fields in their types (byte fields as
 * Uint8Array), or null for anything else (an unknown kind or field, a bad size).
 */
export function parseCallPayload(p) {
  if (!p || typeof p !== 'object' || Array.isArray(p) || p.t !== 'call' || p.v !== 1) return null;
  if (typeof p.call !== 'string' || !RANDOM_ID_RE.test(p.call)) return null;
  const base = ['t', 'v', 'call', 'k'];
  const call = p.call;
  switch (p.k) {
    case 'invite': {
      // A group call's leg (20.9) names its room and group call, both or neither, and may carry
      // the inviter's media key and say that someone answered the group call ("live": true).
      if (!onlyKeys(p, [...base, 'media', 'room', 'group', 'key', 'live']) || !MEDIA.includes(p.media)) return null;
      if (p.room === undefined && p.group === undefined && p.key === undefined && p.live === undefined) return { k: 'invite', call, media: p.media };
      if (typeof p.room !== 'string' || !RANDOM_ID_RE.test(p.room) || typeof p.group !== 'string' || !RANDOM_ID_RE.test(p.group)) return null;
      const key = p.key === undefined ? null : b64u32(p.key);
      if ((p.key !== undefined && !key) || (p.live !== undefined && p.live !== true)) return null;
      return { k: 'invite', call, media: p.media, room: p.room, group: p.group, key, live: p.live === true };
    }
    case 'accept':
    case 'cancel':
      if (!onlyKeys(p, base)) return null;
      return { k: p.k, call };
    case 'decline':
      if (!onlyKeys(p, [...base, 'reason']) || !DECLINE_REASONS.includes(p.reason)) return null;
      return { k: 'decline', call, reason: p.reason };
    case 'end':
      if (!onlyKeys(p, [...base, 'reason']) || !END_REASONS.includes(p.reason)) return null;
      return { k: 'end', call, reason: p.reason };
    case 'sdp': {
      const d = p.desc;
      if (!onlyKeys(p, [...base, 'desc']) || !d || typeof d !== 'object' || Array.isArray(d) ||
          !onlyKeys(d, ['type', 'sdp']) || (d.type !== 'offer' && d.type !== 'answer') ||
          typeof d.sdp !== 'string' || d.sdp.length === 0 || d.sdp.length > MAX_SDP) return null;
      return { k: 'sdp', call, desc: { type: d.type, sdp: d.sdp } };
    }
    case 'ice': {
      const c = p.cand;
      if (!onlyKeys(p, [...base, 'cand']) || !c || typeof c !== 'object' || Array.isArray(c) ||
          !onlyKeys(c, ['candidate', 'sdpMid', 'sdpMLineIndex']) ||
          typeof c.candidate !== 'string' || c.candidate.length > MAX_CANDIDATE ||
          (c.candidate !== '' && !c.candidate.startsWith('candidate:')) ||
          !(typeof c.sdpMid === 'string' && c.sdpMid.length <= MAX_MID) ||
          !isInt(c.sdpMLineIndex, 255)) return null;
      return { k: 'ice', call, cand: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } };
    }
    case 'nonce': {
      const n = onlyKeys(p, [...base, 'n']) ? b64u32(p.n) : null;
      return n ? { k: 'nonce', call, nonce: n } : null;
    }
    case 'key': {
      const key = onlyKeys(p, [...base, 'key']) ? b64u32(p.key) : null;
      return key ? { k: 'key', call, key } : null;
    }
    case 'bind': {
      if (!onlyKeys(p, [...base, 'n', 'at', 'fp', 'peerFp', 'sig'])) return null;
      const nonce = b64u32(p.n);
      const ownFp = b64u32(p.fp);
      const peerFp = b64u32(p.peerFp);
      let sig = null;
      try {
        sig = typeof p.sig === 'string' && /^[A-Za-z0-9_-]{86}$/.test(p.sig) ? fromB64u(p.sig) : null;
      } catch {
        sig = null;
      }
      if (!nonce || !ownFp || !peerFp || !sig || !isInt(p.at, 2 ** 53 - 1)) return null;
      return { k: 'bind', call, nonce, at: p.at, ownFp, peerFp, sig };
    }
    default:
      return null;
  }
}

/** The JSON object of a call payload (the inverse of parseCallPayload). */
export function callPayload(k, call, fields = {}) {
  const out = { t: 'call', v: 1, call, k };
  if (k === 'invite') {
    out.media = fields.media;
    if (fields.room) Object.assign(out, { room: fields.room, group: fields.group });
    if (fields.room && fields.key) out.key = toB64u(fields.key);
    if (fields.room && fields.live) out.live = true;
  } else if (k === 'nonce') out.n = toB64u(fields.nonce);
  else if (k === 'key') out.key = toB64u(fields.key);
  else if (k === 'bind') {
    Object.assign(out, { n: toB64u(fields.nonce), at: fields.at, fp: toB64u(fields.ownFp), peerFp: toB64u(fields.peerFp), sig: toB64u(fields.sig) });
  } else Object.assign(out, fields);
  return out;
}

/** What a call that the peer ended with `end` and `reason` is on this side (calls.js ended). */
export function endOutcome(reason) {
  if (reason === 'mismatch') return 'peer-mismatch';
  if (reason === 'unverified') return 'peer-unchecked';
  return reason === 'media' ? 'no-media' : 'done';
}

/**
 * The warning for a call (or a group call's leg) with `name` that ended on its identity binding,
 * on either side: a statement that failed, or none in time; null for any other outcome.
 */
export function bindingWarning(outcome, name) {
  if (outcome === 'intercepted' || outcome === 'peer-mismatch') {
    return `The call with ${name} ended: it may have been intercepted. Someone may be between you and ${name}; compare your safety numbers before calling again.`;
  }
  if (outcome === 'unchecked' || outcome === 'peer-unchecked') {
    return `The call with ${name} ended: Parley could not confirm within 20 seconds that it reached ${name} securely. Call again; if it happens again, compare your safety numbers with ${name}.`;
  }
  return null;
}
