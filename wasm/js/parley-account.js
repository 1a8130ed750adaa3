//# allFunctionsCalledOnLoad
// The binding's Account (parley.js re-exports it): a person's keys on this device, and
// parseKemUpload() for the KEM prekey upload it writes.
import {
  ErrorCode,
  ParleyError,
  KEY_BYTES,
  SIGNATURE_BYTES,
  CHALLENGE_NONCE_BYTES,
  KEM_PREKEY_BYTES,
  KEM_UPLOAD_VERSION,
  MAX_KEM_PREKEYS,
  IDENTITY_TRANSFER_BYTES,
  SEALED_NAME_MAX,
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

/** A person's keys: identity, signed prekey, one-time prekeys. */
export class Account extends Handle {
  /** A new identity with a signed prekey and no one-time prekeys. */
  static create() {
    return construct(Account, '_parley_account_free', (m, a, out) => m._parley_account_new(out));
  }

  /**
   * A new device of an existing identity (docs/PROTOCOL.md section 14.2): the identity seed from a
   * transfer that exportIdentity(key) made on another device, a fresh signed prekey (id 1) and no
   * one-time prekeys. Throws ParleyError: MALFORMED, VERSION, or AUTH (a wrong key or damaged
   * bytes).
   */
  static linked(key, transfer) {
    bytes('key', key, KEY_BYTES);
    bytes('transfer', transfer);
    return construct(Account, '_parley_account_free',
      (m, a, out) => m._parley_account_new_linked(out, a.input(key), a.input(transfer), transfer.length));
  }

  /** Restores an account sealed with seal(key). */
  static unseal(key, sealed) {
    bytes('key', key, KEY_BYTES);
    bytes('sealed', sealed);
    return construct(Account, '_parley_account_free',
      (m, a, out) => m._parley_account_unseal(out, a.input(key), a.input(sealed), sealed.length));
  }

  /** The Ed25519 identity public key (32 bytes). */
  identityKey() {
    return withArena((m, a) => {
      const out = a.alloc(KEY_BYTES);
      check(m, m._parley_account_identity_key(this.ptr, out));
      return a.read(out, KEY_BYTES);
    });
  }

  generatePrekeys(count) {
    const m = ready();
    check(m, m._parley_account_generate_prekeys(this.ptr, count));
  }

  /** Erases the count oldest published one-time prekeys; returns how many were erased. */
  forgetPrekeys(count) {
    return ready()._parley_account_forget_prekeys(this.ptr, count) >>> 0;
  }

  get prekeyCount() {
    return ready()._parley_account_prekey_count(this.ptr) >>> 0;
  }

  get unpublishedCount() {
    return ready()._parley_account_unpublished_count(this.ptr) >>> 0;
  }

  get signedPrekeyId() {
    return ready()._parley_account_signed_prekey_id(this.ptr) >>> 0;
  }

  rotateSignedPrekey() {
    const m = ready();
    check(m, m._parley_account_rotate_signed_prekey(this.ptr));
  }

  /** The public bundle (docs/PROTOCOL.md section 3) with every unpublished one-time prekey. */
  bundle() {
    return withArena((m, a) => sized(m, a, m._parley_account_bundle_size(this.ptr) >>> 0,
      (out, cap, len) => m._parley_account_bundle(this.ptr, out, cap, len)));
  }

  markPublished() {
    const m = ready();
    check(m, m._parley_account_mark_published(this.ptr));
  }

  /**
   * Creates count (1..100) one-time KEM prekeys (ML-KEM-1024) signed with the identity key; throws
   * ParleyError LIMIT when the account would hold more than MAX_KEM_PREKEYS.
   */
  generateKemPrekeys(count) {
    const m = ready();
    check(m, m._parley_account_generate_kem_prekeys(this.ptr, count));
  }

  /** Replaces the last-resort KEM prekey (the previous one still answers messages in flight). */
  rotateKemPrekey() {
    const m = ready();
    check(m, m._parley_account_rotate_kem_prekey(this.ptr));
  }

  /** The id of the last-resort KEM prekey; 0 for an account restored from before version 2. */
  get kemPrekeyId() {
    return ready()._parley_account_kem_prekey_id(this.ptr) >>> 0;
  }

  get kemPrekeyCount() {
    return ready()._parley_account_kem_prekey_count(this.ptr) >>> 0;
  }

  get kemUnpublishedCount() {
    return ready()._parley_account_kem_unpublished_count(this.ptr) >>> 0;
  }

  /**
   * The KEM prekeys to upload (docs/PROTOCOL.md section 15.3): version || identity key ||
   * last-resort record || count(2) || unpublished one-time records. parseKemUpload() splits it.
   * Throws ParleyError STATE when the account has no last-resort KEM prekey (rotateKemPrekey()).
   */
  kemUpload() {
    return withArena((m, a) => sized(m, a, m._parley_account_kem_upload_size(this.ptr) >>> 0,
      (out, cap, len) => m._parley_account_kem_upload(this.ptr, out, cap, len)));
  }

  markKemPublished() {
    const m = ready();
    check(m, m._parley_account_mark_kem_published(this.ptr));
  }

  /** Erases the count oldest published one-time KEM prekeys; returns how many were erased. */
  forgetKemPrekeys(count) {
    return ready()._parley_account_forget_kem_prekeys(this.ptr, count) >>> 0;
  }

  /** Signs {roomId, issuedAt, nonce} for a key-based room. */
  signChallenge(roomId, issuedAtMs, nonce) {
    const room = utf8(roomId);
    bytes('nonce', nonce, CHALLENGE_NONCE_BYTES);
    return withArena((m, a) => {
      const sig = a.alloc(SIGNATURE_BYTES);
      check(m, m._parley_account_sign_challenge(this.ptr, a.input(room), room.length, issuedAtMs,
        a.input(nonce), sig));
      return a.read(sig, SIGNATURE_BYTES);
    });
  }

  /**
   * Signs a device list (docs/PROTOCOL.md section 14.1; encodeDeviceList() writes one) with the
   * identity key: returns list || signature. Throws ParleyError (VERSION, MALFORMED) for a list the
   * reader would refuse.
   */
  signDevices(list) {
    bytes('list', list);
    return withArena((m, a) => {
      const l = a.input(list);
      return sized(m, a, list.length + SIGNATURE_BYTES,
        (out, cap, len) => m._parley_account_sign_devices(this.ptr, l, list.length, out, cap, len));
    });
  }

  /**
   * The identity seed sealed under key (32 bytes from the provisioning channel) for a new device:
   * IDENTITY_TRANSFER_BYTES bytes that Account.linked(key, transfer) opens (section 14.2). Whoever
   * holds both the key and these bytes holds the identity.
   */
  exportIdentity(key) {
    bytes('key', key, KEY_BYTES);
    return withArena((m, a) => {
      const out = a.alloc(IDENTITY_TRANSFER_BYTES);
      check(m, m._parley_account_export_identity(this.ptr, a.input(key), out));
      return a.read(out, IDENTITY_TRANSFER_BYTES);
    });
  }

  /** Sealed state under a 32-byte key (AES-256-GCM). */
  seal(key) {
    bytes('key', key, KEY_BYTES);
    return withArena((m, a) => {
      const k = a.input(key);
      return sized(m, a, m._parley_account_sealed_size(this.ptr) >>> 0,
        (out, cap, len) => m._parley_account_seal(this.ptr, k, out, cap, len));
    });
  }

  /**
   * A sealed sender envelope (docs/PROTOCOL.md section 13): senderName (this account's username,
   * 1..64 bytes of UTF-8) and message (e.g. a ratchet message) sealed to the owner of
   * recipientIdentityKey, as 512, 2048, 8192, 32768 or 65536 bytes (sealedSize()).
   */
  sealTo(recipientIdentityKey, senderName, message) {
    bytes('recipientIdentityKey', recipientIdentityKey, KEY_BYTES);
    if (typeof senderName !== 'string') throw new TypeError('senderName must be a string');
    bytes('message', message);
    const name = new TextEncoder().encode(senderName);
    const ptr = this.ptr;
    // 0 when the name or the message does not fit: the core then says which (ARGUMENT, TOO_LARGE).
    const cap = ready()._parley_sealed_size(name.length, message.length) >>> 0;
    return transform([recipientIdentityKey, name, message], cap,
      (m, [k, n, p], out, len) => m._parley_sealed_seal(ptr, k, n, name.length, p, message.length,
        out, cap, len));
  }

  /**
   * Opens an envelope sealed to this account: { senderIdentity, sender, message }. The envelope
   * proves only that the holder of senderIdentity sealed it: check that it is the key `sender`
   * has (the contact's, or the directory's) before believing the name (section 13.5).
   */
  openSealed(envelope) {
    bytes('envelope', envelope);
    return withArena((m, a) => {
      const ik = a.alloc(KEY_BYTES);
      const name = a.alloc(SEALED_NAME_MAX);
      const nameLen = a.alloc(4);
      // A message is always shorter than its envelope.
      const msg = a.alloc(envelope.length);
      const msgLen = a.alloc(4);
      check(m, m._parley_sealed_open(this.ptr, a.input(envelope), envelope.length, ik, name,
        SEALED_NAME_MAX, nameLen, msg, envelope.length, msgLen));
      let sender;
      try {
        sender = new TextDecoder('utf-8', { fatal: true }).decode(a.read(name, a.u32(nameLen)));
      } catch {
        throw new ParleyError(ErrorCode.MALFORMED, 'the sender name is not UTF-8');
      }
      return { senderIdentity: a.read(ik, KEY_BYTES), sender, message: a.read(msg, a.u32(msgLen)) };
    });
  }
}

/**
 * Splits an upload from Account.kemUpload(): { identityKey, lastResort, oneTime: [...] }, each
 * KEM prekey as { id, record } (record: KEM_PREKEY_BYTES, what Session.outboundPq() takes). Checks
 * the layout only (the signatures are checked by whoever starts a session with a record). Throws
 * ParleyError VERSION or MALFORMED.
 */
export function parseKemUpload(upload) {
  bytes('upload', upload);
  if (upload.length < 1) throw new ParleyError(ErrorCode.MALFORMED, 'empty KEM prekey upload');
  if (upload[0] !== KEM_UPLOAD_VERSION) throw new ParleyError(ErrorCode.VERSION, 'unknown KEM prekey upload version');
  const head = 1 + KEY_BYTES + KEM_PREKEY_BYTES + 2;
  if (upload.length < head) throw new ParleyError(ErrorCode.MALFORMED, 'truncated KEM prekey upload');
  const count = (upload[head - 2] << 8) | upload[head - 1];
  if (count > MAX_KEM_PREKEYS || upload.length !== head + count * KEM_PREKEY_BYTES) {
    throw new ParleyError(ErrorCode.MALFORMED, 'KEM prekey upload of the wrong length');
  }
  const entry = (at) => {
    const record = upload.slice(at, at + KEM_PREKEY_BYTES);
    return { id: new DataView(record.buffer).getUint32(0), record };
  };
  const oneTime = [];
  for (let i = 0; i < count; i += 1) oneTime.push(entry(head + i * KEM_PREKEY_BYTES));
  return { identityKey: upload.slice(1, 1 + KEY_BYTES), lastResort: entry(1 + KEY_BYTES), oneTime };
}
