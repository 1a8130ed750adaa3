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
//
// The binding is five modules by job, re-exported here (the one module callers import):
// parley-runtime.js (errors, sizes, init and the memory discipline), parley-account.js,
// parley-session.js, parley-util.js (stateless functions and primitives), parley-files.js (file
// chunks) and parley-rooms.js (room descriptors and challenges).
export {
  ErrorCode, ParleyError, init,
  AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, KEY_BYTES, SIGNATURE_BYTES, CHALLENGE_NONCE_BYTES,
  PASSWORD_SALT_BYTES, MESSAGE_RATCHET, MESSAGE_PREKEY, MESSAGE_PREKEY_PQ, KEM_PREKEY_BYTES,
  KEM_UPLOAD_VERSION, MAX_KEM_PREKEYS, SEALED_MIN, SEALED_MAX, SEALED_NAME_MAX, DEVICES_VERSION,
  MAX_DEVICES, DEVICE_ID_MAX, DEVICE_LABEL_MAX, DEVICES_MAX_BYTES, IDENTITY_TRANSFER_BYTES,
} from './parley-runtime.js';
export { Account, parseKemUpload } from './parley-account.js';
export { Session, messageType, messageSenderIdentity } from './parley-session.js';
export * from './parley-util.js';
export * from './parley-files.js';
export * from './parley-rooms.js';
