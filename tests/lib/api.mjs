// Small helpers for the JSON API of parley-server.
import crypto from 'node:crypto';

/** POST/PUT/GET JSON; returns { status, headers, body } with body parsed when it is JSON. */
export async function api(base, method, path, { body, token, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (raw !== undefined) {
    payload = raw;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!('Content-Type' in h)) h['Content-Type'] = 'application/json';
  }
  const r = await fetch(`${base}${path}`, { method, headers: h, body: payload });
  const text = await r.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* keep text */ }
  return { status: r.status, headers: r.headers, body: parsed };
}

let counter = 0;
/** A fresh valid username. */
export function uniqueName(prefix = 'u') {
  counter += 1;
  return `${prefix}${process.pid % 10000}x${counter}${crypto.randomBytes(2).toString('hex')}`;
}

/** Signs up a new user; returns { username, password, token }. */
export async function newUser(base, prefix = 'u') {
  const username = uniqueName(prefix);
  const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
  const r = await api(base, 'POST', '/api/signup', { body: { username, password } });
  if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { username, password, token: r.body.token };
}

export const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** An Ed25519 identity: { publicKey (raw b64url), privateKey (KeyObject) }. */
export function newIdentity() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  return { publicKey: publicKey.export({ format: 'jwk' }).x, privateKey };
}

/** A random 32-byte X25519 public key in base64url (validity is the client's business). */
export function x25519Public() {
  const { publicKey } = crypto.generateKeyPairSync('x25519');
  return publicKey.export({ format: 'jwk' }).x;
}

/** The signed prekey for identity: id, publicKey and the Ed25519 signature. */
export function signedPrekey(identity, id = 1, publicKey = x25519Public()) {
  const idBytes = Buffer.alloc(4);
  idBytes.writeUInt32BE(id);
  const msg = Buffer.concat([Buffer.from('parley-spk-v1'), idBytes, Buffer.from(publicKey, 'base64url')]);
  const signature = b64u(crypto.sign(null, msg, identity.privateKey));
  return { id, publicKey, signature };
}

/** n one-time prekeys with ids from..from+n-1. */
export function oneTimePrekeys(from, n) {
  return Array.from({ length: n }, (_, i) => ({ id: from + i, publicKey: x25519Public() }));
}

/**
 * A device list signed by identity (docs/PROTOCOL.md 14.1), in base64url: generation and
 * devices (ids, or { id, label }), with node:crypto's Ed25519, independently of the core:
 *   list = u8(0x01) || u32(generation) || u8(count) || count x (u32(id) || u8(label_len) || label)
 *   signed = list || Ed25519-Sign("parley-devices-v1" || IK || list)
 * raw: the list's bytes instead (version, count and entries as given, for malformed lists).
 */
export function deviceList(identity, generation, devices, { version = 1, raw = false } = {}) {
  const parts = [Buffer.from([version]), Buffer.alloc(4), Buffer.from([devices.length])];
  parts[1].writeUInt32BE(generation);
  for (const d of devices) {
    const { id, label = '' } = typeof d === 'number' ? { id: d } : d;
    const head = Buffer.alloc(5);
    head.writeUInt32BE(id);
    head[4] = Buffer.byteLength(label);
    parts.push(head, Buffer.from(label));
  }
  const list = Buffer.concat(parts);
  if (raw) return list;
  const msg = Buffer.concat([Buffer.from('parley-devices-v1'), Buffer.from(identity.publicKey, 'base64url'), list]);
  return b64u(Buffer.concat([list, crypto.sign(null, msg, identity.privateKey)]));
}

/** Logs username in as device (undefined: none named); returns the answer's body (token, ...). */
export async function loginDevice(base, user, device) {
  const body = { username: user.username, password: user.password };
  if (device !== undefined) body.device = device;
  const r = await api(base, 'POST', '/api/login', { body });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * A signed KEM prekey record (docs/PROTOCOL.md 15.2) for identity, in base64url, made with
 * @noble/post-quantum and node:crypto independently of the core:
 *   record = u32(id) || ML-KEM-1024 encapsulation key (1568) || Ed25519-Sign("parley-kem-prekey-v1" || u32(id) || key)
 * key: the encapsulation key's bytes to use instead of a fresh one (for malformed keys).
 */
export async function kemRecord(identity, id, { key } = {}) {
  const { ml_kem1024: mlkem } = await import('@noble/post-quantum/ml-kem.js');
  const ek = key || mlkem.keygen().publicKey;
  const idBytes = Buffer.alloc(4);
  idBytes.writeUInt32BE(id);
  const sig = crypto.sign(null, Buffer.concat([Buffer.from('parley-kem-prekey-v1'), idBytes, Buffer.from(ek)]), identity.privateKey);
  return b64u(Buffer.concat([idBytes, Buffer.from(ek), sig]));
}
