//# allFunctionsCalledOnLoad
// The binding's stateless functions (parley.js re-exports them): device lists, safety numbers,
// challenges, password derivation, and the primitives the web app uses directly (random bytes,
// AEAD, X25519, HKDF, HMAC, Ed25519 verification).
import {
  ErrorCode,
  ParleyError,
  KEY_BYTES,
  SIGNATURE_BYTES,
  CHALLENGE_NONCE_BYTES,
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  PASSWORD_SALT_BYTES,
  DEVICES_VERSION,
  MAX_DEVICES,
  DEVICE_ID_MAX,
  DEVICE_LABEL_MAX,
  ready,
  cString,
  check,
  withArena,
  bytes,
  utf8,
  transform,
} from './parley-runtime.js';

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
