//# allFunctionsCalledOnLoad
// The binding of rooms (docs/PROTOCOL.md section 20; parley.js re-exports it): signed room
// descriptors, the acceptance rule, "leave" statements and room challenges. Every refusal throws
// ParleyError with the core's code name (NOT_ADMIN, STALE, OTHER_ROOM, EXPIRED, NOT_MEMBER, or a
// format error: VERSION, MALFORMED, TOO_LARGE, LIMIT, BAD_SIGNATURE).
import {
  ErrorCode, KEY_BYTES, SIGNATURE_BYTES, CHALLENGE_NONCE_BYTES, check, withArena, bytes, utf8,
} from './parley-runtime.js';

export const ROOM_FORMAT = 1;
export const ROOM_ID_BYTES = 16;
export const ROOM_MAX_MEMBERS = 16;
export const ROOM_NAME_MAX = 64;
export const ROOM_MEMBER_BYTES = 33;
export const ROOM_MAX_BYTES = 715;
export const ROOM_LEAVE_BYTES = 121;
export const ROOM_VERSION_MAX = Number.MAX_SAFE_INTEGER;
/** The largest freshness window (ms) a room challenge may be checked with. */
export const ROOM_CHALLENGE_MAX_SKEW = 600000;
export const ROOM_FINGERPRINT_BYTES = 32;
const ROLES = Object.freeze({ admin: 1, member: 2 });
const ROLE_NAMES = new Map([[1, 'admin'], [2, 'member']]);

function descriptorBytes(d, name = 'descriptor') {
  bytes(name, d);
  // Longer inputs cannot be a descriptor; the core would say MALFORMED after copying them.
  if (d.length > ROOM_MAX_BYTES) return d.subarray(0, ROOM_MAX_BYTES + 1);
  return d;
}

function wholeMs(name, v) {
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`${name} must be an integer number of ms, 0..2^53-1`);
}

function f64(m, ptr) {
  return new DataView(m.HEAPU8.buffer).getFloat64(ptr, true);
}

/**
 * Signs a room descriptor with account's identity key: {roomId (16 bytes: fresh random for
 * version 1, the room's own after), version (1..2^53-1), name (string or UTF-8 bytes, 1..64
 * bytes), members: [{key (32 bytes), role: 'admin' | 'member'}] (1..16, any order)}. Version 1 must
 * list the signer as an admin (NOT_ADMIN).
 */
export function signRoom(account, { roomId, version, name, members }) {
  bytes('roomId', roomId, ROOM_ID_BYTES);
  if (!Number.isSafeInteger(version) || version < 1) throw new TypeError('version must be an integer 1..2^53-1');
  const nameBytes = utf8(name);
  if (!Array.isArray(members)) throw new TypeError('members must be an array');
  if (members.length > ROOM_MAX_MEMBERS) {
    throw new RangeError(`a room lists at most ${ROOM_MAX_MEMBERS} members, got ${members.length}`);
  }
  const packed = new Uint8Array(members.length * ROOM_MEMBER_BYTES);
  members.forEach((mem, i) => {
    if (mem === null || typeof mem !== 'object') throw new TypeError('each member must be {key, role}');
    bytes('member key', mem.key, KEY_BYTES);
    if (!Object.hasOwn(ROLES, mem.role)) throw new TypeError("a member's role must be 'admin' or 'member'");
    packed.set(mem.key, i * ROOM_MEMBER_BYTES);
    packed[i * ROOM_MEMBER_BYTES + KEY_BYTES] = ROLES[mem.role];
  });
  return withArena((m, a) => {
    const out = a.alloc(ROOM_MAX_BYTES);
    const len = a.alloc(4);
    check(m, m._parley_account_room_sign(account.ptr, a.input(roomId), version, a.input(nameBytes),
      nameBytes.length, a.input(packed), members.length, out, ROOM_MAX_BYTES, len));
    return a.read(out, a.u32(len));
  });
}

/**
 * Opens a descriptor (strict format and its signature): {roomId, version, name (string), members:
 * [{key, role}], signer}. It says nothing about whether to take it: see acceptRoom().
 */
export function openRoom(descriptor) {
  const d = descriptorBytes(descriptor);
  return withArena((m, a) => {
    const p = a.input(d);
    const roomId = a.alloc(ROOM_ID_BYTES);
    const version = a.alloc(8);
    const count = a.alloc(4);
    const signer = a.alloc(KEY_BYTES);
    const nameOffset = a.alloc(4);
    const nameLen = a.alloc(4);
    check(m, m._parley_room_open(p, d.length, roomId, version, count, signer, nameOffset, nameLen));
    const key = a.alloc(KEY_BYTES);
    const role = a.alloc(4);
    const members = [];
    for (let i = 0; i < a.u32(count); i += 1) {
      check(m, m._parley_room_member(p, d.length, i, key, role));
      members.push({ key: a.read(key, KEY_BYTES), role: ROLE_NAMES.get(a.u32(role)) });
    }
    const at = a.u32(nameOffset);
    return {
      roomId: a.read(roomId, ROOM_ID_BYTES),
      version: f64(m, version),
      name: new TextDecoder('utf-8', { fatal: true }).decode(d.subarray(at, at + a.u32(nameLen))),
      members,
      signer: a.read(signer, KEY_BYTES),
    };
  });
}

/** The role of key in a descriptor: 'admin', 'member', or null when it is not listed. */
export function roomRole(descriptor, key) {
  const d = descriptorBytes(descriptor);
  bytes('key', key, KEY_BYTES);
  return withArena((m, a) => {
    const role = a.alloc(4);
    const rc = m._parley_room_role(a.input(d), d.length, a.input(key), role);
    if (rc === ErrorCode.NOT_MEMBER) return null;
    check(m, rc);
    return ROLE_NAMES.get(a.u32(role));
  });
}

/**
 * The acceptance rule (section 20.4): returns openRoom(candidate) when a member holding `current`
 * (null for none) takes `candidate`; throws ParleyError otherwise: STATE (none held and not
 * version 1), NOT_ADMIN, OTHER_ROOM, STALE, or the candidate's format error.
 */
export function acceptRoom(current, candidate) {
  const c = descriptorBytes(candidate, 'candidate');
  const cur = current === null ? null : descriptorBytes(current, 'current');
  withArena((m, a) => check(m, m._parley_room_accept(cur ? a.input(cur) : 0, cur ? cur.length : 0,
    a.input(c), c.length)));
  return openRoom(c);
}

/**
 * First sight of a room at any version (a member added later): the candidate must be signed by
 * senderKey, the contact it came from, senderKey must be an admin in it (NOT_ADMIN), and it must
 * list receiverKey, the identity key of the account taking it (NOT_MEMBER). Returns
 * openRoom(candidate).
 */
export function acceptRoomFirst(candidate, senderKey, receiverKey) {
  const c = descriptorBytes(candidate, 'candidate');
  bytes('senderKey', senderKey, KEY_BYTES);
  bytes('receiverKey', receiverKey, KEY_BYTES);
  withArena((m, a) => check(m, m._parley_room_accept_first(a.input(c), c.length, a.input(senderKey),
    a.input(receiverKey))));
  return openRoom(c);
}

/** "Leave room": account's signed statement that it leaves the room at this descriptor's version. */
export function signRoomLeave(account, descriptor) {
  const d = descriptorBytes(descriptor);
  return withArena((m, a) => {
    const out = a.alloc(ROOM_LEAVE_BYTES);
    check(m, m._parley_account_room_leave(account.ptr, a.input(d), d.length, out));
    return a.read(out, ROOM_LEAVE_BYTES);
  });
}

/**
 * Checks a leave statement against the current descriptor; returns the leaver's identity key.
 * Throws ParleyError: VERSION, MALFORMED, OTHER_ROOM, STALE (made for an earlier version), STATE
 * (for a later one: update first), NOT_MEMBER, BAD_SIGNATURE.
 */
export function verifyRoomLeave(descriptor, leave) {
  const d = descriptorBytes(descriptor);
  bytes('leave', leave);
  const l = leave.length > ROOM_LEAVE_BYTES ? leave.subarray(0, ROOM_LEAVE_BYTES + 1) : leave;
  return withArena((m, a) => {
    const key = a.alloc(KEY_BYTES);
    check(m, m._parley_room_leave_verify(a.input(d), d.length, a.input(l), l.length, key));
    return a.read(key, KEY_BYTES);
  });
}

/**
 * Signs a room challenge (section 20.6) for the room and version of `descriptor`: {nonce (the
 * peer's, 32 bytes), issuedAt (ms), ownFingerprint, peerFingerprint (SHA-256 of the DTLS
 * certificates, 32 bytes each)}. Returns the 64-byte signature.
 */
export function signRoomChallenge(account, descriptor, { nonce, issuedAt, ownFingerprint, peerFingerprint }) {
  const d = descriptorBytes(descriptor);
  bytes('nonce', nonce, CHALLENGE_NONCE_BYTES);
  wholeMs('issuedAt', issuedAt);
  bytes('ownFingerprint', ownFingerprint, ROOM_FINGERPRINT_BYTES);
  bytes('peerFingerprint', peerFingerprint, ROOM_FINGERPRINT_BYTES);
  return withArena((m, a) => {
    const sig = a.alloc(SIGNATURE_BYTES);
    check(m, m._parley_account_room_challenge(account.ptr, a.input(d), d.length, a.input(nonce),
      issuedAt, a.input(ownFingerprint), a.input(peerFingerprint), sig));
    return a.read(sig, SIGNATURE_BYTES);
  });
}

/**
 * Checks a peer's room challenge against this side's current descriptor at time `now` (ms) with
 * a window of maxSkew ms (at most ROOM_CHALLENGE_MAX_SKEW): {signerKey, nonce (the one this side
 * sent), issuedAt, signerFingerprint (the peer's certificate), ownFingerprint (this side's),
 * signature}. Returns nothing; throws ParleyError: NOT_MEMBER, EXPIRED, BAD_SIGNATURE. Refusing
 * a second answer to the same nonce is the caller's job.
 */
export function checkRoomChallenge(descriptor, {
  signerKey, nonce, issuedAt, signerFingerprint, ownFingerprint, signature,
}, now, maxSkew) {
  const d = descriptorBytes(descriptor);
  bytes('signerKey', signerKey, KEY_BYTES);
  bytes('nonce', nonce, CHALLENGE_NONCE_BYTES);
  wholeMs('issuedAt', issuedAt);
  bytes('signerFingerprint', signerFingerprint, ROOM_FINGERPRINT_BYTES);
  bytes('ownFingerprint', ownFingerprint, ROOM_FINGERPRINT_BYTES);
  bytes('signature', signature, SIGNATURE_BYTES);
  wholeMs('now', now);
  wholeMs('maxSkew', maxSkew);
  withArena((m, a) => check(m, m._parley_room_challenge_verify(a.input(d), d.length,
    a.input(signerKey), a.input(nonce), issuedAt, a.input(signerFingerprint), a.input(ownFingerprint),
    now, maxSkew, a.input(signature))));
}
