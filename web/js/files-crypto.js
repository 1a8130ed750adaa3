//# allFunctionsCalledOnLoad
// Sealing and checking file chunks (docs/PROTOCOL.md 18.1) for a transfer: the same bytes as the
// core's fileSealChunk / fileCheckChunk, made by the browser's AES-256-GCM (WebCrypto) where the
// page has it (a secure context: HTTPS, or localhost), and by the core elsewhere (a server on a
// LAN address over plain HTTP). WebCrypto runs the cipher off the page's thread (in Chromium,
// BoringSSL with the CPU's AES instructions where it has them): about ten times the core's
// constant-time bitsliced AES in wasm (bench/web/files.mjs), which otherwise sets the pace of a
// transfer. The header is read as strictly as the core reads it,
// and the AEAD is opened with the nonce and associated data of the expected position; only a
// chunk whose tag verified is absorbed into the running SHA-256 (the core's FileHash), and its
// plaintext is wiped once absorbed.
import * as core from '../core/parley.js';

const VERSION = core.FILE_VERSION;
const HEADER = core.FILE_HEADER_BYTES; // version || flags || u32(index)
const TAG = core.FILE_OVERHEAD - core.FILE_HEADER_BYTES;

/** Whether this page seals file chunks with WebCrypto (else with the core). */
export function webCryptoChunks() {
  return !!globalThis.crypto?.subtle && globalThis.isSecureContext === true;
}

function nonceOf(index, last) {
  const n = new Uint8Array(12);
  n[7] = last ? 1 : 0;
  new DataView(n.buffer).setUint32(8, index);
  return n;
}

function adOf(id, index, last) {
  const ad = new Uint8Array(22);
  ad[0] = VERSION;
  ad.set(id, 1);
  new DataView(ad.buffer).setUint32(17, index);
  ad[21] = last ? 1 : 0;
  return ad;
}

/** An error of the core's kinds for a chunk refused here (files.js treats them alike). */
function refused(code, text) {
  return new core.ParleyError(code, text);
}

/**
 * The chunk sealer and checker of one file (`key` 32 bytes, `id` 16 bytes):
 *   seal(index, last, plaintext, head) -> Promise<head || sealed chunk>
 *   check(index, last, sealed, hashOf) -> Promise<plaintext length>, absorbing the plaintext
 *     into hashOf() (a core FileHash, asked for once the chunk has opened; null absorbs nothing);
 *     rejects with a ParleyError when the chunk is refused
 * Calls of check() on one file must be made in order of index (the hash absorbs in that order).
 */
// The arguments as the core's binding checks them (parley-files.js): a TypeError otherwise.
function checkKey(key, id) {
  if (!(key instanceof Uint8Array) || key.length !== core.FILE_KEY_BYTES) throw new TypeError('key must be 32 bytes');
  if (!(id instanceof Uint8Array) || id.length !== core.FILE_ID_BYTES) throw new TypeError('id must be 16 bytes');
}
function checkPosition(index, last) {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new TypeError('index must be an integer from 0 to 2^32 - 1');
  if (typeof last !== 'boolean') throw new TypeError('last must be a boolean');
}

export function fileChunks(key, id, { native = webCryptoChunks() } = {}) {
  checkKey(key, id);
  if (!native) {
    return {
      native: false,
      seal: async (index, last, plaintext, head) => core.fileSealChunk(key, id, index, last, plaintext, head),
      check: async (index, last, sealed, hashOf) => core.fileCheckChunk(key, id, index, last, sealed, hashOf()),
    };
  }
  const cryptoKey = crypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return {
    native: true,
    async seal(index, last, plaintext, head) {
      checkPosition(index, last);
      if (plaintext.length > core.FILE_CHUNK_MAX) throw refused(core.ErrorCode.TOO_LARGE, 'chunk too large');
      const ct = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonceOf(index, last), additionalData: adOf(id, index, last), tagLength: 128 },
        await cryptoKey, plaintext,
      ));
      const out = new Uint8Array(head.length + HEADER + ct.length);
      out.set(head);
      out[head.length] = VERSION;
      out[head.length + 1] = last ? 1 : 0;
      new DataView(out.buffer).setUint32(head.length + 2, index);
      out.set(ct, head.length + HEADER);
      return out;
    },
    async check(index, last, sealed, hashOf) {
      checkPosition(index, last);
      if (sealed.length < 1) throw refused(core.ErrorCode.MALFORMED, 'empty chunk');
      if (sealed[0] !== VERSION) throw refused(core.ErrorCode.VERSION, 'unknown chunk version');
      if (sealed.length < HEADER + TAG) throw refused(core.ErrorCode.MALFORMED, 'chunk too short');
      const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.length);
      if (sealed[1] !== (last ? 1 : 0) || view.getUint32(2) !== index) throw refused(core.ErrorCode.MALFORMED, 'chunk out of place');
      if (sealed.length - HEADER - TAG > core.FILE_CHUNK_MAX) throw refused(core.ErrorCode.TOO_LARGE, 'chunk too large');
      const k = await cryptoKey; // a key the browser refused is its failure, not the chunk's
      let plain;
      try {
        plain = new Uint8Array(await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: nonceOf(index, last), additionalData: adOf(id, index, last), tagLength: 128 },
          k, sealed.subarray(HEADER),
        ));
      } catch (e) {
        if (e?.name !== 'OperationError') throw e;
        throw refused(core.ErrorCode.AUTH, 'chunk does not authenticate');
      }
      try {
        hashOf()?.update(plain);
        return plain.length;
      } finally {
        plain.fill(0);
      }
    },
  };
}
