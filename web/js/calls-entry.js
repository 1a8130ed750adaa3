//# allFunctionsCalledOnLoad
// Calls, what the app shell loads at once (the rest, calls.js and calls-view.js, is imported on
// first use): this identity's persistent DTLS certificate, and the wiring of the chat's and the
// room's "Call" and "Video call" buttons and of call messages that arrive (docs/PROTOCOL.md 12.17).
import { toB64u } from './encoding.js';
import { $ } from './dom.js';
import { CALL_CERT_KEY as CERT_RECORD } from './vault.js';

// The certificate is kept in the vault's database under this name, in the clear beside the format
// and device marks: an RTCCertificate's private key cannot leave the browser, so it cannot be
// sealed; IndexedDB keeps the object itself. It is bound to the identity key it was made for.
const CERT_LIFETIME_MS = 365 * 24 * 3600 * 1000;
const CERT_RENEW_MS = 7 * 24 * 3600 * 1000; // replaced this long before it expires

function request(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction('records', mode);
    const req = fn(t.objectStore('records'));
    let result;
    req.onsuccess = () => { result = req.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
  });
}

/**
 * This identity's RTCCertificate, from the vault's database, or made now (ECDSA P-256, one year)
 * and kept; null when the browser cannot make one (links then use their own).
 */
export async function loadCertificate(vault, identityKey) {
  if (typeof RTCPeerConnection === 'undefined' || !vault?.db) return null;
  const identity = toB64u(identityKey);
  try {
    const kept = await request(vault.db, 'readonly', (s) => s.get(CERT_RECORD));
    if (kept && kept.v === 1 && kept.identity === identity && kept.cert instanceof RTCCertificate &&
        kept.cert.expires - Date.now() > CERT_RENEW_MS) return kept.cert;
    const cert = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256', expires: CERT_LIFETIME_MS });
    await request(vault.db, 'readwrite', (s) => s.put({ v: 1, identity, cert }, CERT_RECORD));
    return cert;
  } catch {
    return null;
  }
}

let view = null;
const loadView = () => {
  view ||= import('./calls-view.js');
  return view;
};

/** The call buttons of the open chat; state: the shell's state (shell.js). */
export function wireCallButtons(state, fail) {
  $('call').addEventListener('click', () => loadView().then((v) => v.startCall(state, state.chat, false)).catch(fail));
  $('video-call').addEventListener('click', () => loadView().then((v) => v.startCall(state, state.chat, true)).catch(fail));
}

/** The open room's "Call" and "Video call" buttons: a group call (calls-group.js). */
export function wireRoomCallButtons(state, fail) {
  const call = (video) => loadView().then((v) => v.startGroupCall(state, state.messenger?.activeRoom, video)).catch(fail);
  $('room-call').addEventListener('click', () => call(false));
  $('room-video-call').addEventListener('click', () => call(true));
}

/** Call messages of a messenger (its "call" events), handled in order once the code is loaded. */
export function watchCalls(state, messenger, fail) {
  messenger.addEventListener('call', (ev) => {
    loadView().then((v) => v.onPayload(state, messenger, ev.detail.name, ev.detail.payload)).catch(fail);
  });
}

/** Ends any call (log-out). */
export function endCalls() {
  if (view) view.then((v) => v.shutdown()).catch(() => {});
}
