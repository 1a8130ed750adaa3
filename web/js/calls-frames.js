//# allFunctionsCalledOnLoad
// Calls, end-to-end frame encryption (docs/PROTOCOL.md 12.17, "Frames"): every encoded audio and
// video frame is sealed with AES-256-GCM under the sender's media key for the call (drawn per call
// and sent inside the Double Ratchet), so that the media stay secret even from whoever could break
// or sit inside the DTLS-SRTP connection. Leaves the first bytes of a frame in the clear (the
// codec's own header, which the browser's packetizer reads) and authenticates them:
//   frame' = clear (n) || AES-256-GCM(K, iv = u32(0) || u64(ctr), ad = LABEL || u8(n) || clear, rest)
//            || u64(ctr) || u8(n)
// ctr: one counter per key, never repeated (the worker keeps one per key for all its senders).
export const FRAME_LABEL = 'parley-frame-v1';
export const TRAILER = 9; // u64 counter and the clear length
export const TAG = 16;
export const MAX_CLEAR = 10;

const label = new TextEncoder().encode(FRAME_LABEL);

/** How many bytes of a frame stay in the clear: VP8's header (10 for a key frame, else 3), 1 for Opus. */
export function clearBytes(kind, type, length) {
  const n = kind === 'video' ? (type === 'key' ? 10 : 3) : 1;
  return Math.min(n, length);
}

function iv(ctr) {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, ctr);
  return out;
}

function ad(clear) {
  const out = new Uint8Array(label.length + 1 + clear.length);
  out.set(label);
  out[label.length] = clear.length;
  out.set(clear, label.length + 1);
  return out;
}

/** An AES-256-GCM CryptoKey from 32 raw bytes. */
export function frameKey(raw) {
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** Seals one frame's bytes (Uint8Array) with counter ctr (a BigInt below 2^64). */
export async function sealFrame(key, ctr, n, data) {
  if (!(n >= 0 && n <= MAX_CLEAR && n <= data.length) || ctr < 0n || ctr >= 2n ** 64n) throw new Error('bad frame');
  const clear = data.subarray(0, n);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(ctr), additionalData: ad(clear) }, key, data.subarray(n)));
  const out = new Uint8Array(n + sealed.length + TRAILER);
  out.set(clear);
  out.set(sealed, n);
  const view = new DataView(out.buffer);
  view.setBigUint64(n + sealed.length, ctr);
  out[out.length - 1] = n;
  return out;
}

/** Opens a sealed frame: its bytes, or null for anything that is not one sealed under key. */
export async function openFrame(key, data) {
  if (!(data instanceof Uint8Array) || data.length < TAG + TRAILER) return null;
  const n = data[data.length - 1];
  if (n > MAX_CLEAR || data.length < n + TAG + TRAILER) return null;
  const ctr = new DataView(data.buffer, data.byteOffset, data.length).getBigUint64(data.length - TRAILER);
  const clear = data.subarray(0, n);
  try {
    const body = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(ctr), additionalData: ad(clear) }, key,
      data.subarray(n, data.length - TRAILER)));
    const out = new Uint8Array(n + body.length);
    out.set(clear);
    out.set(body, n);
    return out;
  } catch {
    return null;
  }
}
