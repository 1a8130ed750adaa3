// Files benchmark (docs/PROTOCOL.md section 18), two headless Chromiums against the real server on
// loopback. Prints figures; asserts nothing.
//   - AES-256-GCM in the same page: the wasm core sealing and opening file chunks (64512 bytes)
//     against WebCrypto's AES-GCM on the same sizes, MB/s
//   - a raw data channel between the same two browsers moving the same bytes with no crypto, swept
//     over chunk size and low-water mark (the best is the reference)
//   - the app's encrypted transfer of a random file (BENCH_FILES_MIB, default 256 MiB) through
//     "Attach file", at two chunk sizes and two windows (bytes sent but not yet stored by the
//     receiver): hashing time, transfer time, MB/s,
//     its share of the best raw figure, and the CPU share of the crypto (seal time at the measured
//     core speed over the transfer time)
// Usage: node bench/web/files.mjs   (PARLEY_SERVER_BIN: default build/native/server/parley-server)
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { connectPair, leave, person, signUp } from '../../tests/lib/people.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_FILES_MIB || 256) * MIB;
const mbps = (bytes, ms) => (bytes / 1e6) / (ms / 1000);
const f1 = (x) => x.toFixed(1);

const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });
const a = await person(server, uniqueName('bfa'));
const b = await person(server, uniqueName('bfb'));
const dir = mkdtempSync(join(tmpdir(), 'parley-bench-files-'));

try {
  await signUp(a);
  await signUp(b);
  await connectPair(a, b);

  // ---- AES-256-GCM: wasm core vs WebCrypto, in the same page --------------------------------
  const aes = await a.page.evaluate(async () => {
    const core = await import('/core/parley.js');
    const len = 64512;
    const rounds = 400; // 25.8 MB
    const pt = crypto.getRandomValues(new Uint8Array(len));
    const key = crypto.getRandomValues(new Uint8Array(32));
    const id = crypto.getRandomValues(new Uint8Array(16));
    const now = () => performance.now();
    let t = now();
    let sealed;
    for (let i = 0; i < rounds; i += 1) sealed = core.fileSealChunk(key, id, i, false, pt);
    const sealMs = now() - t;
    t = now();
    for (let i = 0; i < rounds; i += 1) core.fileCheckChunk(key, id, rounds - 1, false, sealed);
    const openMs = now() - t;
    const ck = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const iv = new Uint8Array(12);
    t = now();
    let wc;
    for (let i = 0; i < rounds; i += 1) {
      new DataView(iv.buffer).setUint32(8, i);
      wc = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: id }, ck, pt);
    }
    const wcSealMs = now() - t;
    t = now();
    for (let i = 0; i < rounds; i += 1) await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: id }, ck, wc);
    const wcOpenMs = now() - t;
    return { bytes: len * rounds, sealMs, openMs, wcSealMs, wcOpenMs };
  });
  const coreSeal = mbps(aes.bytes, aes.sealMs);
  console.log(`AES-256-GCM, 64512-byte chunks, ${f1(aes.bytes / 1e6)} MB: wasm core seal ${f1(coreSeal)} MB/s, `
    + `open ${f1(mbps(aes.bytes, aes.openMs))} MB/s; WebCrypto encrypt ${f1(mbps(aes.bytes, aes.wcSealMs))} MB/s, `
    + `decrypt ${f1(mbps(aes.bytes, aes.wcOpenMs))} MB/s`);

  // ---- raw data channel: same bytes, no crypto -------------------------------------------------
  async function rawRun(chunk, low) {
    await a.page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      const dc = pc.createDataChannel('raw', { ordered: true });
      dc.binaryType = 'arraybuffer';
      globalThis.raw = { pc, dc };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
    });
    const offer = await a.page.evaluate(() => globalThis.raw.pc.localDescription.sdp);
    const answer = await b.page.evaluate(async (sdp) => {
      const pc = new RTCPeerConnection();
      globalThis.rawIn = { pc, bytes: 0, first: 0, last: 0 };
      pc.ondatachannel = (ev) => {
        ev.channel.binaryType = 'arraybuffer';
        ev.channel.onmessage = (m) => {
          const s = globalThis.rawIn;
          if (!s.first) s.first = performance.timeOrigin + performance.now();
          s.bytes += m.data.byteLength;
          s.last = performance.timeOrigin + performance.now();
        };
      };
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
      return pc.localDescription.sdp;
    }, offer);
    const start = await a.page.evaluate(async ({ sdp, total, chunk: c, low: lw }) => {
      const { pc, dc } = globalThis.raw;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      if (dc.readyState !== 'open') await new Promise((r) => { dc.onopen = r; });
      const buf = new Uint8Array(c);
      for (let i = 0; i < c; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(c, i + 65536)));
      const high = Math.max(lw * 4, 1 << 20);
      dc.bufferedAmountLowThreshold = lw;
      const t0 = performance.timeOrigin + performance.now();
      for (let sent = 0; sent < total; sent += c) {
        if (dc.bufferedAmount > high) await new Promise((r) => dc.addEventListener('bufferedamountlow', r, { once: true }));
        dc.send(buf.subarray(0, Math.min(c, total - sent)));
      }
      return t0;
    }, { sdp: answer, total: SIZE, chunk, low });
    await b.page.waitForFunction((t) => globalThis.rawIn.bytes >= t, SIZE, { timeout: 600000, polling: 100 });
    const end = await b.page.evaluate(() => globalThis.rawIn.last);
    await a.page.evaluate(() => globalThis.raw.pc.close());
    await b.page.evaluate(() => globalThis.rawIn.pc.close());
    return mbps(SIZE, end - start);
  }
  let best = { rate: 0 };
  for (const chunk of [16384, 65536, 262144 - 64]) {
    for (const low of [256 * 1024, 1024 * 1024]) {
      const rate = await rawRun(chunk, low);
      console.log(`raw data channel, ${SIZE / MIB} MiB, chunk ${chunk}, low-water ${low / 1024} KiB: ${f1(rate)} MB/s`);
      if (rate > best.rate) best = { rate, chunk, low };
    }
  }
  console.log(`raw data channel best: ${f1(best.rate)} MB/s (chunk ${best.chunk}, low-water ${best.low / 1024} KiB)`);

  // ---- the app's encrypted transfer ------------------------------------------------------------
  const path = join(dir, 'bench.bin');
  writeFileSync(path, randomBytes(SIZE));
  let n = 0;
  for (const [chunk, window] of [[64512, 8 * MIB], [64512, 32 * MIB], [196608, 8 * MIB]]) {
    const name = `bench-${n += 1}.bin`;
    const named = join(dir, name);
    copyFileSync(path, named); // the same bytes under a new name each run
    await a.page.evaluate(async (t) => (await import('/js/files.js')).tuneTransfers(t), { chunk, window });
    const [chooser] = await Promise.all([
      a.page.waitForEvent('filechooser'),
      a.page.getByRole('button', { name: 'Attach file' }).click(),
    ]);
    const t0 = Date.now();
    await chooser.setFiles(named);
    const item = (p) => p.page.locator('#transcript li.file').filter({ hasText: name });
    await a.page.waitForFunction((nm) => [...document.querySelectorAll('#transcript li.file')]
      .some((li) => li.querySelector('.file-name').textContent === nm && li.dataset.state !== 'hashing'), name, { timeout: 600000, polling: 50 });
    const hashed = Date.now();
    await item(b).getByRole('button', { name: 'Save' }).waitFor({ timeout: 900000 });
    const done = Date.now();
    const rate = mbps(SIZE, done - hashed);
    const cryptoMs = (SIZE / 1e6 / coreSeal) * 1000;
    console.log(`encrypted transfer, ${SIZE / MIB} MiB, chunk ${chunk}, window ${window / MIB} MiB: hashing ${f1((hashed - t0) / 1000)} s, transfer `
      + `${f1((done - hashed) / 1000)} s = ${f1(rate)} MB/s (${Math.round((rate / best.rate) * 100)}% of the best raw); `
      + `sealing takes ~${Math.round((cryptoMs / (done - hashed)) * 100)}% of the sender's transfer time`);
    await item(b).getByRole('button', { name: 'Delete' }).click();
    rmSync(named);
  }
} finally {
  await leave(a);
  await leave(b);
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
}
