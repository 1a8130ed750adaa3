//# allFunctionsCalledOnLoad
// JavaScript binding of the Parley crypto core (parley-core.wasm).
//
// - init() loads and instantiates the module once (a memoised promise); everything else is
//   synchronous and needs init() to have resolved.
// - One class per C object (Account, Session), holding only the pointer; free() wipes and frees
//   it in C. A FinalizationRegistry frees objects that were dropped without free().
// - Every call copies its inputs into wasm memory allocated for that call alone, and zeroes and
//   frees all of it in `finally`, so no key or plaintext outlives the call in the module's heap.
// - Failures of the core throw ParleyError, carrying the core's numeric code and its name;
//   wrong argument types throw TypeError before reaching the core.
import createParleyCore from './parley-core.js';

export const ErrorCode = Object.freeze({
  ARGUMENT: -1,
  INIT: -2,
  AUTH: -3,
  WEAK_KEY: -4,
  TOO_LARGE: -5,
  NO_MEMORY: -6,
  BAD_SIGNATURE: -7,
  VERSION: -8,
  MALFORMED: -9,
  DUPLICATE: -10,
  LIMIT: -11,
  UNKNOWN_PREKEY: -12,
  STATE: -13,
  BUFFER: -14,
});

const CODE_NAMES = new Map(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

export class ParleyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
    this.codeName = CODE_NAMES.get(code) || 'UNKNOWN';
  }
}

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const CHALLENGE_NONCE_BYTES = 32;
export const PASSWORD_SALT_BYTES = 16;
export const MESSAGE_RATCHET = 1;
export const MESSAGE_PREKEY = 2;
/** A PQXDH initial message (protocol version 2): Session.inbound() answers it like MESSAGE_PREKEY. */
export const MESSAGE_PREKEY_PQ = 3;
/** A signed KEM prekey record: id(4, big-endian) || ML-KEM-1024 key(1568) || signature(64). */
export const KEM_PREKEY_BYTES = 1636;
export const KEM_UPLOAD_VERSION = 1;
export const MAX_KEM_PREKEYS = 100;
export const SEALED_MIN = 512;
export const SEALED_MAX = 65536;
export const SEALED_NAME_MAX = 64;
export const DEVICES_VERSION = 1;
export const MAX_DEVICES = 8;
export const DEVICE_ID_MAX = 0x7fffffff;
export const DEVICE_LABEL_MAX = 64;
export const DEVICES_MAX_BYTES = 622;
export const IDENTITY_TRANSFER_BYTES = 61;

let modulePromise = null;
let core = null;

/**
 * Loads the core. Memoised: every caller gets the same promise. Pass `{ wasmBinary }` to hand the
 * bytes over directly (Node); otherwise the module is fetched next to this file.
 */
export function init(options = {}) {
  if (!modulePromise) {
    modulePromise = createParleyCore(options).then((m) => {
      const rc = m._parley_init();
      if (rc !== 0) throw new ParleyError(rc, cString(m, m._parley_strerror(rc)));
      core = m;
      return m;
    });
    modulePromise.catch(() => { modulePromise = null; });
  }
  return modulePromise;
}

function ready() {
  if (!core) throw new ParleyError(ErrorCode.INIT, 'the crypto core is not initialised: await init() first');
  return core;
}

function cString(m, ptr) {
  const heap = m.HEAPU8;
  let end = ptr;
  while (heap[end] !== 0) end += 1;
  return new TextDecoder().decode(heap.subarray(ptr, end));
}

function check(m, rc) {
  if (rc !== 0) throw new ParleyError(rc, cString(m, m._parley_strerror(rc)));
  return rc;
}

// A per-call arena: allocations are zero-filled on release and freed together.
class Arena {
  constructor(m) {
    this.m = m;
    this.blocks = [];
  }

  alloc(len) {
    const size = Math.max(len, 1);
    const ptr = this.m._malloc(size);
    if (ptr === 0) throw new ParleyError(ErrorCode.NO_MEMORY, 'out of memory');
    this.blocks.push([ptr, size]);
    return ptr;
  }

  input(bytes) {
    const ptr = this.alloc(bytes.length);
    this.m.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  // Reads from memory as it is now (a call may have grown memory and replaced HEAPU8).
  read(ptr, len) {
    return this.m.HEAPU8.slice(ptr, ptr + len);
  }

  u32(ptr) {
    return new DataView(this.m.HEAPU8.buffer).getUint32(ptr, true);
  }

  release() {
    for (const [ptr, len] of this.blocks) {
      this.m.HEAPU8.fill(0, ptr, ptr + len);
      this.m._free(ptr);
    }
    this.blocks = [];
  }
}

function withArena(fn) {
  const m = ready();
  const arena = new Arena(m);
  try {
    return fn(m, arena);
  } finally {
    arena.release();
  }
}

function bytes(name, value, len) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (len !== undefined && value.length !== len) {
    throw new TypeError(`${name} must be ${len} bytes, got ${value.length}`);
  }
  return value;
}

function utf8(value) {
  return typeof value === 'string' ? new TextEncoder().encode(value) : bytes('value', value);
}

// The per-message path (encrypt, decrypt, AEAD): one heap block holds a 4-byte length slot, the
// inputs and the output; it is zero-filled and freed in `finally`. fn(m, ptrs, outPtr, lenPtr)
// gets the inputs' pointers in order; returns the output's first u32(lenPtr) bytes, or all
// `cap` bytes when fn does not write a length.
function transform(inputs, cap, fn) {
  const m = ready();
  let size = 8 + cap;
  for (const input of inputs) size += input.length;
  const base = m._malloc(size);
  if (base === 0) throw new ParleyError(ErrorCode.NO_MEMORY, 'out of memory');
  try {
    const ptrs = [];
    let at = base + 8;
    for (const input of inputs) {
      m.HEAPU8.set(input, at);
      ptrs.push(at);
      at += input.length;
    }
    m.HEAPU32[base >>> 2] = cap;
    check(m, fn(m, ptrs, at, base));
    return m.HEAPU8.slice(at, at + m.HEAPU32[base >>> 2]);
  } finally {
    m.HEAPU8.fill(0, base, base + size);
    m._free(base);
  }
}

// Calls fn(outPtr, capPtr...) for a variable-size output of `size` bytes; returns the bytes.
function sized(m, a, size, fn) {
  const out = a.alloc(size);
  const lenPtr = a.alloc(4);
  check(m, fn(out, size, lenPtr));
  return a.read(out, a.u32(lenPtr));
}

// Objects dropped without free() are freed (and wiped) by the core when collected.
const finalizer = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ fn, ptr }) => { if (core) core[fn](ptr); })
  : null;

class Handle {
  #ptr;

  #freeFn;

  constructor(ptr, freeFn) {
    this.#ptr = ptr;
    this.#freeFn = freeFn;
    if (finalizer) finalizer.register(this, { fn: freeFn, ptr }, this);
  }

  get ptr() {
    if (this.#ptr === 0) throw new ParleyError(ErrorCode.STATE, `this ${this.constructor.name} was freed`);
    return this.#ptr;
  }

  /** Wipes and frees the C object; the handle is unusable afterwards. */
  free() {
    if (this.#ptr !== 0) {
      if (finalizer) finalizer.unregister(this);
      ready()[this.#freeFn](this.#ptr);
      this.#ptr = 0;
    }
  }
}

// Creates a handle from a C constructor that writes the new pointer to an out-parameter.
function construct(Cls, freeFn, fn) {
  return withArena((m, a) => {
    const out = a.alloc(4);
    check(m, fn(m, a, out));
    return new Cls(a.u32(out), freeFn);
  });
}

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

/**
 * The bytes of an unsigned device list (docs/PROTOCOL.md section 14.1) for Account.signDevices():
 * generation 1..2^32-1; devices 1..MAX_DEVICES entries {id, label}, ids 1..DEVICE_ID_MAX in
 * strictly ascending order, each label a string (written as UTF-8) or a Uint8Array of at most
 * DEVICE_LABEL_MAX bytes. Throws TypeError for wrong types, RangeError for values out of range.
 */
export function encodeDeviceList(generation, devices) {
  if (!Number.isInteger(generation)) throw new TypeError('generation must be an integer');
  if (generation < 1 || generation > 0xffffffff) throw new RangeError('generation must be 1..2^32-1');
  if (!Array.isArray(devices)) throw new TypeError('devices must be an array');
  if (devices.length < 1 || devices.length > MAX_DEVICES) {
    throw new RangeError(`a list holds 1..${MAX_DEVICES} devices, got ${devices.length}`);
  }
  let prev = 0;
  const entries = devices.map((d) => {
    if (d === null || typeof d !== 'object' || !Number.isInteger(d.id)) {
      throw new TypeError('each device must be {id: integer, label}');
    }
    if (d.id <= prev || d.id > DEVICE_ID_MAX) {
      throw new RangeError('device ids must be 1..2^31-1 and strictly ascending');
    }
    prev = d.id;
    if (typeof d.label !== 'string' && !(d.label instanceof Uint8Array)) {
      throw new TypeError('a device label must be a string or a Uint8Array');
    }
    const label = utf8(d.label);
    if (label.length > DEVICE_LABEL_MAX) {
      throw new RangeError(`a device label is at most ${DEVICE_LABEL_MAX} bytes, got ${label.length}`);
    }
    return { id: d.id, label };
  });
  const out = new Uint8Array(6 + entries.reduce((n, e) => n + 5 + e.label.length, 0));
  const view = new DataView(out.buffer);
  out[0] = DEVICES_VERSION;
  view.setUint32(1, generation);
  out[5] = entries.length;
  let at = 6;
  for (const { id, label } of entries) {
    view.setUint32(at, id);
    out[at + 4] = label.length;
    out.set(label, at + 5);
    at += 5 + label.length;
  }
  return out;
}

/**
 * Opens a signed device list of identityKey: {generation, devices: [{id, label}]}, labels as
 * Uint8Array (the core checks only their length). Throws ParleyError: VERSION, MALFORMED, or
 * BAD_SIGNATURE. The caller must still refuse a generation below the largest it accepted for this
 * identity, and the same generation with other bytes (section 14.1).
 */
export function openDevices(identityKey, signed) {
  bytes('identityKey', identityKey, KEY_BYTES);
  bytes('signed', signed);
  return withArena((m, a) => {
    const s = a.input(signed);
    const gen = a.alloc(4);
    const count = a.alloc(4);
    check(m, m._parley_devices_open(a.input(identityKey), s, signed.length, gen, count));
    const id = a.alloc(4);
    const offset = a.alloc(4);
    const len = a.alloc(4);
    const devices = [];
    for (let i = 0; i < a.u32(count); i += 1) {
      check(m, m._parley_devices_entry(s, signed.length, i, id, offset, len));
      const at = a.u32(offset);
      devices.push({ id: a.u32(id), label: signed.slice(at, at + a.u32(len)) });
    }
    return { generation: a.u32(gen), devices };
  });
}

/** The size of the envelope sealTo() makes for these byte lengths; 0 when they cannot fit. */
export function sealedSize(nameLen, messageLen) {
  return ready()._parley_sealed_size(nameLen, messageLen) >>> 0;
}

/** The 60-digit safety number of two identity keys (same in either order). */
export function safetyNumber(a32, b32) {
  bytes('identity key', a32, KEY_BYTES);
  bytes('identity key', b32, KEY_BYTES);
  return withArena((m, a) => {
    const out = a.alloc(61);
    check(m, m._parley_safety_number(out, a.input(a32), a.input(b32)));
    return cString(m, out);
  });
}

/** The 65 QR-code bytes of the same comparison. */
export function safetyQr(a32, b32) {
  bytes('identity key', a32, KEY_BYTES);
  bytes('identity key', b32, KEY_BYTES);
  return withArena((m, a) => {
    const out = a.alloc(65);
    check(m, m._parley_safety_qr(out, a.input(a32), a.input(b32)));
    return a.read(out, 65);
  });
}

/** true when sig signs {roomId, issuedAt, nonce} under identityKey. */
export function verifyChallenge(identityKey, roomId, issuedAtMs, nonce, sig) {
  bytes('identityKey', identityKey, KEY_BYTES);
  bytes('nonce', nonce, CHALLENGE_NONCE_BYTES);
  bytes('signature', sig, SIGNATURE_BYTES);
  const room = utf8(roomId);
  return withArena((m, a) => {
    const rc = m._parley_challenge_verify(a.input(identityKey), a.input(room), room.length,
      issuedAtMs, a.input(nonce), a.input(sig));
    if (rc === ErrorCode.BAD_SIGNATURE) return false;
    check(m, rc);
    return true;
  });
}

/** The 16-byte Argon2id salt for a context (the web app binds origin and username). */
export function passwordSalt(context) {
  const ctx = utf8(context);
  return withArena((m, a) => {
    const out = a.alloc(PASSWORD_SALT_BYTES);
    check(m, m._parley_password_salt(out, a.input(ctx), ctx.length));
    return a.read(out, PASSWORD_SALT_BYTES);
  });
}

/** Argon2id (docs/PROTOCOL.md section 7): length 16..64 bytes from a password. */
export function passwordDerive(password, salt, length = 64) {
  const pw = utf8(password);
  bytes('salt', salt, PASSWORD_SALT_BYTES);
  return withArena((m, a) => {
    const out = a.alloc(length);
    check(m, m._parley_password_derive(out, length, a.input(pw), pw.length, a.input(salt)));
    return a.read(out, length);
  });
}

export function version() {
  const m = ready();
  return cString(m, m._parley_version());
}

export function strerror(code) {
  const m = ready();
  return cString(m, m._parley_strerror(code));
}

/** Runs the core's known-answer self-test; throws ParleyError on a failure. */
export function selftest() {
  const m = ready();
  check(m, m._parley_selftest());
}

/** Bytes in use on the core's heap (for leak checks). */
export function heapUsed() {
  return ready()._parley_heap_used() >>> 0;
}

export function randomBytes(len) {
  return withArena((m, a) => {
    const out = a.alloc(len);
    check(m, m._parley_random(out, len));
    return a.read(out, len);
  });
}

/** AES-256-GCM: returns ciphertext || 16-byte tag. */
export function aeadSeal(key, nonce, ad, plaintext) {
  bytes('key', key, AEAD_KEY_BYTES);
  bytes('nonce', nonce, AEAD_NONCE_BYTES);
  bytes('ad', ad);
  bytes('plaintext', plaintext);
  return transform([key, nonce, ad, plaintext], plaintext.length + AEAD_TAG_BYTES,
    (m, [k, n, d, p], out) => m._parley_aead_seal(out, k, n, d, ad.length, p, plaintext.length));
}

/** AES-256-GCM: verifies and decrypts ciphertext || tag; throws ParleyError (AUTH) if forged. */
export function aeadOpen(key, nonce, ad, sealed) {
  bytes('key', key, AEAD_KEY_BYTES);
  bytes('nonce', nonce, AEAD_NONCE_BYTES);
  bytes('ad', ad);
  bytes('sealed', sealed);
  if (sealed.length < AEAD_TAG_BYTES) throw new ParleyError(ErrorCode.AUTH, 'authentication failed');
  return transform([key, nonce, ad, sealed], sealed.length - AEAD_TAG_BYTES,
    (m, [k, n, d, c], out) => m._parley_aead_open(out, k, n, d, ad.length, c, sealed.length));
}

/** A fresh X25519 key pair: { publicKey, privateKey }. */
export function x25519Keypair() {
  return withArena((m, a) => {
    const pub = a.alloc(KEY_BYTES);
    const priv = a.alloc(KEY_BYTES);
    check(m, m._parley_x25519_keypair(pub, priv));
    return { publicKey: a.read(pub, KEY_BYTES), privateKey: a.read(priv, KEY_BYTES) };
  });
}

/** X25519(privateKey, publicKey); throws ParleyError (WEAK_KEY) for a low-order public key. */
export function x25519(privateKey, publicKey) {
  bytes('privateKey', privateKey, KEY_BYTES);
  bytes('publicKey', publicKey, KEY_BYTES);
  return withArena((m, a) => {
    const out = a.alloc(KEY_BYTES);
    check(m, m._parley_x25519(out, a.input(privateKey), a.input(publicKey)));
    return a.read(out, KEY_BYTES);
  });
}

/** HKDF-SHA256 (RFC 5869). */
export function hkdf(ikm, salt, info, length) {
  bytes('ikm', ikm);
  bytes('salt', salt);
  bytes('info', info);
  return withArena((m, a) => {
    const out = a.alloc(length);
    check(m, m._parley_hkdf_sha256(out, length, a.input(ikm), ikm.length, a.input(salt), salt.length,
      a.input(info), info.length));
    return a.read(out, length);
  });
}

/** HMAC-SHA256. */
export function hmac(key, data) {
  bytes('key', key);
  bytes('data', data);
  return withArena((m, a) => {
    const out = a.alloc(32);
    check(m, m._parley_hmac_sha256(out, a.input(key), key.length, a.input(data), data.length));
    return a.read(out, 32);
  });
}

/** Ed25519 verification: true or false. */
export function ed25519Verify(publicKey, message, signature) {
  bytes('publicKey', publicKey, KEY_BYTES);
  bytes('message', message);
  bytes('signature', signature, SIGNATURE_BYTES);
  return withArena((m, a) => {
    const rc = m._parley_ed25519_verify(a.input(publicKey), a.input(message), message.length,
      a.input(signature));
    if (rc === ErrorCode.BAD_SIGNATURE) return false;
    check(m, rc);
    return true;
  });
}
