//# allFunctionsCalledOnLoad
// The core's self-test at start-up, shown in "Encryption core on this device": its known-answer
// tests, then a seal/open round trip and an X25519 agreement through the binding.
import * as core from '../core/parley.js';
import { $, el } from './dom.js';
import { toB64u, utf8 } from './encoding.js';

function addCheck(text) {
  $('selftest-details').append(el('li', { textContent: text }));
}

function roundTrips() {
  const key = core.randomBytes(core.AEAD_KEY_BYTES);
  const nonce = core.randomBytes(core.AEAD_NONCE_BYTES);
  const ad = utf8('parley self-test');
  const message = utf8('Hello from Parley 👋');
  const sealed = core.aeadSeal(key, nonce, ad, message);
  const opened = core.aeadOpen(key, nonce, ad, sealed);
  if (toB64u(opened) !== toB64u(message)) throw new Error('AES-256-GCM round trip returned other bytes');
  sealed[0] ^= 1;
  let refused = false;
  try {
    core.aeadOpen(key, nonce, ad, sealed);
  } catch (e) {
    refused = e instanceof core.ParleyError && e.code === core.ErrorCode.AUTH;
  }
  if (!refused) throw new Error('AES-256-GCM accepted a tampered message');
  addCheck('AES-256-GCM seal and open round trip; a tampered message is refused');
  const alice = core.x25519Keypair();
  const bob = core.x25519Keypair();
  if (toB64u(core.x25519(alice.privateKey, bob.publicKey)) !== toB64u(core.x25519(bob.privateKey, alice.publicKey))) {
    throw new Error('X25519 agreement gave two different secrets');
  }
  addCheck('X25519 agreement between two fresh key pairs');
}

/** Runs the self-test and shows it; true when the core works in this browser. */
export async function selfTest() {
  const t0 = performance.now();
  try {
    await core.init();
    $('core-version').textContent = core.version();
    core.selftest();
    addCheck('Known-answer tests of AES-256-GCM and X25519 in the core');
    roundTrips();
    performance.mark('parley-ready'); // the core is instantiated and self-tested
    $('selftest').textContent = `passed (${Math.round(performance.now() - t0)} ms)`;
    $('selftest').dataset.state = 'pass';
    return true;
  } catch (e) {
    if ($('core-version').textContent === 'loading…') $('core-version').textContent = 'unavailable';
    $('selftest').textContent = 'failed: the encryption core does not work in this browser';
    $('selftest').dataset.state = 'fail';
    addCheck(`What went wrong: ${e && e.message ? e.message : String(e)}`);
    return false;
  }
}
