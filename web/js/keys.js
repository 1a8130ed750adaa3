//# allFunctionsCalledOnLoad
// Converts between the core's binary bundle (docs/PROTOCOL.md section 3) and the directory's
// JSON (docs/API.md), and keeps this account's prekeys published.
import * as core from '../core/parley.js';
import { concat, fromB64u, toB64u, u32be } from './encoding.js';
import { ApiError, request } from './api.js';

const PREKEY_BATCH = 100;
// Post-quantum KEM prekeys (docs/PROTOCOL.md 15; docs/API.md PUT /api/keys/me/kem): at most 100
// one-time ones held, uploaded 20 to a request (a record is 1,636 bytes).
const KEM_MAX = 100;
const KEM_BATCH = 80;
const KEM_UPLOAD_PART = 20;
const SPK_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** The directory's JSON upload for a core bundle. */
export function bundleToJson(bundle, resetIdentity = false) {
  const view = new DataView(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  if (bundle[0] !== 1 || bundle.length < 135) throw new Error('unexpected bundle format');
  const count = view.getUint16(133);
  const oneTimePrekeys = [];
  for (let i = 0; i < count; i += 1) {
    const off = 135 + 36 * i;
    oneTimePrekeys.push({ id: view.getUint32(off), publicKey: toB64u(bundle.subarray(off + 4, off + 36)) });
  }
  return {
    identityKey: toB64u(bundle.subarray(1, 33)),
    signedPrekey: {
      id: view.getUint32(33),
      publicKey: toB64u(bundle.subarray(37, 69)),
      signature: toB64u(bundle.subarray(69, 133)),
    },
    oneTimePrekeys,
    resetIdentity,
  };
}

/**
 * A new session with a device from its part of a directory answer: PQXDH (protocol version 2)
 * when the part carries a KEM prekey, else X3DH.
 */
export function outboundSession(account, keys) {
  const bundle = bundleFromJson(keys);
  if (typeof keys.kemPrekey === 'string') return core.Session.outboundPq(account, bundle, fromB64u(keys.kemPrekey));
  return core.Session.outbound(account, bundle);
}

// An account sealed before KEM prekeys gets its last-resort one; one without one-time KEM
// prekeys gets a batch (the caller stores the account).
function kemReady(account) {
  if (!account.kemPrekeyId) account.rotateKemPrekey();
  if (account.kemPrekeyCount === 0) account.generateKemPrekeys(KEM_MAX);
}

// Uploads the last-resort KEM prekey and the unpublished one-time ones (20 to a request); a part
// the directory holds already (409 duplicate_prekey_id: a page that died before noting it) is
// taken as published.
async function publishKem(account, vault) {
  const up = core.parseKemUpload(account.kemUpload());
  const lastResort = toB64u(up.lastResort.record);
  const oneTime = up.oneTime.map((k) => toB64u(k.record));
  for (let i = 0; i === 0 || i < oneTime.length; i += KEM_UPLOAD_PART) {
    try {
      await request('PUT', '/api/keys/me/kem', { lastResort, oneTime: oneTime.slice(i, i + KEM_UPLOAD_PART) });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409 && e.code === 'duplicate_prekey_id')) throw e;
    }
  }
  account.markKemPublished();
  await vault.saveAccount(account);
}

/** The core bundle (zero or one one-time prekey) for a directory answer. */
export function bundleFromJson(j) {
  const ik = fromB64u(j.identityKey);
  const spk = fromB64u(j.signedPrekey.publicKey);
  const sig = fromB64u(j.signedPrekey.signature);
  if (ik.length !== 32 || spk.length !== 32 || sig.length !== 64) throw new Error('malformed bundle');
  const parts = [new Uint8Array([1]), ik, u32be(j.signedPrekey.id), spk, sig];
  if (j.oneTimePrekey) {
    const opk = fromB64u(j.oneTimePrekey.publicKey);
    if (opk.length !== 32) throw new Error('malformed bundle');
    parts.push(new Uint8Array([0, 1]), u32be(j.oneTimePrekey.id), opk);
  } else {
    parts.push(new Uint8Array([0, 0]));
  }
  return concat(...parts);
}

/**
 * Uploads the signed prekey and every unpublished one-time prekey (in uploads of at most 100).
 *
 * Unless the identity is being reset, the account is stored before the upload: a page that dies
 * after the upload but before marking the keys published then still holds them, and the
 * directory never holds keys under our ids that we do not. The next upload of those keys is
 * answered 409 duplicate_prekey_id (the server stores an upload whole or not at all): that part
 * is on the server already, so it is taken as published and the rest goes on.
 */
export async function publish(account, vault, { resetIdentity = false } = {}) {
  kemReady(account);
  if (!resetIdentity) await vault.saveAccount(account);
  const body = bundleToJson(account.bundle(), resetIdentity);
  const keys = body.oneTimePrekeys;
  let res = null;
  for (let start = 0; start < keys.length; start += PREKEY_BATCH) {
    const part = { ...body, oneTimePrekeys: keys.slice(start, start + PREKEY_BATCH), resetIdentity: resetIdentity && !res };
    try {
      res = await request('PUT', '/api/keys', part);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409 && e.code === 'duplicate_prekey_id') || resetIdentity) throw e;
    }
  }
  // The signed prekey (and a reset identity) goes even when no one-time prekey is left to send.
  if (!res) res = await request('PUT', '/api/keys', { ...body, oneTimePrekeys: [] });
  account.markPublished();
  await vault.saveAccount(account);
  await publishKem(account, vault);
  return res;
}

/**
 * Keeps the directory stocked: rotates the signed prekey weekly and uploads a new batch of
 * one-time prekeys when the server says they run low.
 */
export async function replenish(account, vault) {
  const meta = await vault.getJson('meta', {});
  let dirty = false;
  if (!meta.spkRotatedAt) {
    meta.spkRotatedAt = Date.now(); // the signed prekey the account was made with
    await vault.putJson('meta', meta);
  } else if (Date.now() - meta.spkRotatedAt > SPK_MAX_AGE_MS) {
    account.rotateSignedPrekey();
    meta.spkRotatedAt = Date.now();
    dirty = true;
  }
  const { low, kemLow } = await request('GET', '/api/keys/me/count');
  if (!account.kemPrekeyId) dirty = true; // an account from before KEM prekeys: publish() makes them
  if (kemLow) {
    const over = account.kemPrekeyCount + KEM_BATCH - KEM_MAX;
    if (over > 0) account.forgetKemPrekeys(over);
    account.generateKemPrekeys(KEM_BATCH);
    dirty = true;
  }
  if (low) {
    // Keys handed out but never used stay in the account; the oldest make room for a new batch.
    const over = account.prekeyCount + PREKEY_BATCH - 200;
    if (over > 0) account.forgetPrekeys(over);
    account.generatePrekeys(PREKEY_BATCH);
    dirty = true;
  }
  if (dirty) {
    await publish(account, vault);
    await vault.putJson('meta', meta);
  }
}
