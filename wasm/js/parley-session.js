//# allFunctionsCalledOnLoad
// The binding's Session (parley.js re-exports it): a Double Ratchet session, and reading a
// message's type and sender before any session opens it.
import {
  ParleyError,
  KEY_BYTES,
  KEM_PREKEY_BYTES,
  MESSAGE_RATCHET,
  MESSAGE_PREKEY,
  MESSAGE_PREKEY_PQ,
  ready,
  check,
  withArena,
  bytes,
  utf8,
  transform,
  sized,
  construct,
  Handle,
} from './parley-runtime.js';

/** An end-to-end session with one peer: X3DH, then the Double Ratchet. */
export class Session extends Handle {
  /** Starts a session from the peer's bundle (with zero or one one-time prekey). */
  static outbound(account, bundle) {
    bytes('bundle', bundle);
    return construct(Session, '_parley_session_free',
      (m, a, out) => m._parley_session_new_outbound(out, account.ptr, a.input(bundle), bundle.length));
  }

  /**
   * Starts a protocol version 2 (PQXDH) session from the peer's bundle and one signed KEM prekey
   * record of the same identity (KEM_PREKEY_BYTES, as the directory hands it out). Throws
   * ParleyError: BAD_SIGNATURE (either signature), MALFORMED (lengths, a bad ML-KEM key).
   */
  static outboundPq(account, bundle, kemPrekey) {
    bytes('bundle', bundle);
    bytes('kemPrekey', kemPrekey);
    return construct(Session, '_parley_session_free',
      (m, a, out) => m._parley_session_new_outbound_pq(out, account.ptr, a.input(bundle),
        bundle.length, a.input(kemPrekey), kemPrekey.length));
  }

  /**
   * Answers a prekey message (MESSAGE_PREKEY or MESSAGE_PREKEY_PQ): { session, plaintext }. The
   * account loses the one-time prekeys the message used, so seal the account again afterwards.
   */
  static inbound(account, message) {
    bytes('message', message);
    return withArena((m, a) => {
      const out = a.alloc(4);
      const size = plaintextSize(m, a, message);
      const pt = a.alloc(size);
      const len = a.alloc(4);
      check(m, m._parley_session_new_inbound(out, account.ptr, a.input(message), message.length,
        pt, size, len));
      return { session: new Session(a.u32(out), '_parley_session_free'), plaintext: a.read(pt, a.u32(len)) };
    });
  }

  static unseal(key, sealed) {
    bytes('key', key, KEY_BYTES);
    bytes('sealed', sealed);
    return construct(Session, '_parley_session_free',
      (m, a, out) => m._parley_session_unseal(out, a.input(key), a.input(sealed), sealed.length));
  }

  /** The protocol version: 1 (X3DH) or 2 (PQXDH). */
  get version() {
    return ready()._parley_session_version(this.ptr) >>> 0;
  }

  /** The peer's Ed25519 identity key. */
  peerIdentity() {
    return withArena((m, a) => {
      const out = a.alloc(KEY_BYTES);
      check(m, m._parley_session_peer_identity(this.ptr, out));
      return a.read(out, KEY_BYTES);
    });
  }

  /** Encrypts a Uint8Array or a string (as UTF-8). */
  encrypt(plaintext) {
    const pt = utf8(plaintext);
    const ptr = this.ptr;
    const cap = ready()._parley_session_encrypted_size(ptr, pt.length) >>> 0;
    return transform([pt], cap,
      (m, [p], out, len) => m._parley_session_encrypt(ptr, p, pt.length, out, cap, len));
  }

  /** Decrypts a message; a rejected message leaves the session unchanged. */
  decrypt(message) {
    bytes('message', message);
    const ptr = this.ptr;
    // A plaintext is always shorter than its message.
    return transform([message], message.length,
      (m, [msg], out, len) => m._parley_session_decrypt(ptr, msg, message.length, out, message.length, len));
  }

  seal(key) {
    bytes('key', key, KEY_BYTES);
    return withArena((m, a) => {
      const k = a.input(key);
      return sized(m, a, m._parley_session_sealed_size(this.ptr) >>> 0,
        (out, cap, len) => m._parley_session_seal(this.ptr, k, out, cap, len));
    });
  }
}

function plaintextSize(m, a, message) {
  const msg = a.input(message);
  const out = a.alloc(4);
  check(m, m._parley_message_plaintext_size(msg, message.length, out));
  return a.u32(out);
}

/** MESSAGE_RATCHET, MESSAGE_PREKEY or MESSAGE_PREKEY_PQ; throws ParleyError for anything else. */
export function messageType(message) {
  bytes('message', message);
  return withArena((m, a) => {
    const rc = m._parley_message_type(a.input(message), message.length);
    if (rc < 0) check(m, rc);
    return rc;
  });
}

/** The sender identity key a prekey message names (authenticated only once it decrypts). */
export function messageSenderIdentity(message) {
  bytes('message', message);
  return withArena((m, a) => {
    const out = a.alloc(KEY_BYTES);
    check(m, m._parley_message_sender_identity(a.input(message), message.length, out));
    return a.read(out, KEY_BYTES);
  });
}
