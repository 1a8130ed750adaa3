// Calls, the frame encryption worker (calls-frames.js; docs/PROTOCOL.md 12.17, "Frames"): one
// RTCRtpScriptTransform per sender and per receiver of a call. Senders seal every encoded frame
// under the call's own media key, with one counter per key for all of them (an IV is never used
// twice); receivers open frames under the peer's key and drop any frame that does not open.
import { clearBytes, frameKey, openFrame, sealFrame } from './calls-frames.js';

const keys = new Map(); // raw key (hex) -> {key: Promise<CryptoKey>, ctr}
const MAX_KEYS = 16;

function entry(raw) {
  const id = Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join('');
  let e = keys.get(id);
  if (!e) {
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value); // the oldest call's
    e = { key: frameKey(raw), ctr: 0n };
    keys.set(id, e);
  }
  return e;
}

globalThis.onrtctransform = (ev) => {
  const t = ev.transformer;
  const { side, kind, plain } = t.options;
  const e = entry(new Uint8Array(t.options.key));
  const stream = new TransformStream({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data);
      const key = await e.key;
      let out;
      if (side === 'send') {
        if (plain) {
          controller.enqueue(frame); // test hook: sent as encoded, not sealed
          return;
        }
        const ctr = e.ctr;
        e.ctr += 1n;
        out = await sealFrame(key, ctr, clearBytes(kind, frame.type, data.length), data);
      } else {
        out = await openFrame(key, data);
        if (!out) return; // not sealed under the peer's key: dropped
      }
      frame.data = out.buffer;
      controller.enqueue(frame);
    },
  });
  t.readable.pipeThrough(stream).pipeTo(t.writable).catch(() => {});
};
