// Start-up of the page: load the wasm core and prove it works here, in this browser.
import * as core from './core/parley.js';

const versionEl = document.getElementById('core-version');
const statusEl = document.getElementById('selftest');
const detailsEl = document.getElementById('selftest-details');

function addCheck(text) {
  const li = document.createElement('li');
  li.textContent = text;
  detailsEl.append(li);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

// A round trip through page -> binding -> wasm: AES-256-GCM seal/open and an X25519 agreement.
function roundTrips() {
  const key = core.randomBytes(core.AEAD_KEY_BYTES);
  const nonce = core.randomBytes(core.AEAD_NONCE_BYTES);
  const ad = new TextEncoder().encode('parley self-test');
  const message = new TextEncoder().encode('Hello from Parley 👋');
  const sealed = core.aeadSeal(key, nonce, ad, message);
  const opened = core.aeadOpen(key, nonce, ad, sealed);
  if (!equalBytes(opened, message)) throw new Error('AES-256-GCM round trip returned other bytes');
  sealed[0] ^= 1;
  let refused = false;
  try {
    core.aeadOpen(key, nonce, ad, sealed);
  } catch (e) {
    refused = e instanceof core.ParleyError && e.code === -3;
  }
  if (!refused) throw new Error('AES-256-GCM accepted a tampered message');
  addCheck('AES-256-GCM seal and open round trip; a tampered message is refused');

  const alice = core.x25519Keypair();
  const bob = core.x25519Keypair();
  const s1 = core.x25519(alice.privateKey, bob.publicKey);
  const s2 = core.x25519(bob.privateKey, alice.publicKey);
  if (!equalBytes(s1, s2)) throw new Error('X25519 agreement gave two different secrets');
  addCheck('X25519 agreement between two fresh key pairs');
}

async function start() {
  const t0 = performance.now();
  try {
    await core.init();
    versionEl.textContent = core.version();
    core.selftest();
    addCheck('Known-answer tests of AES-256-GCM and X25519 in the core');
    roundTrips();
    const ms = Math.round(performance.now() - t0);
    statusEl.textContent = `passed (${ms} ms)`;
    statusEl.dataset.state = 'pass';
  } catch (e) {
    if (versionEl.textContent === 'loading…') versionEl.textContent = 'unavailable';
    statusEl.textContent = 'failed: the encryption core does not work in this browser';
    statusEl.dataset.state = 'fail';
    addCheck(`What went wrong: ${e && e.message ? e.message : String(e)}`);
    // Keep the technical detail for whoever debugs it.
    console.warn('Parley self-test failed', e);
  }
}

start();
