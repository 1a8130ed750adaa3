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
