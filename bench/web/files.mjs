// Files benchmark (docs/PROTOCOL.md section 18), two headless Chromiums against the real server on
// loopback. Prints figures; asserts nothing.
//   - AES-256-GCM in the same page: the wasm core sealing and opening file chunks (64512 bytes)
//     against WebCrypto's AES-GCM on the same sizes, MB/s; the core's SHA-256 of a file, MB/s
//   - a raw data channel between the same two browsers moving the same bytes with no crypto, swept
//     over chunk size and low-water mark (the best is the reference)
//   - the parts of the encrypted path alone (reading the file, sealing, opening, SHA-256, storing),
//     CPU per MB: their sum is what any transfer adds to the raw channel's CPU
//   - rounds of the raw channel (best setting) and the app's encrypted transfer of a random file
//     (BENCH_FILES_MIB, default 256 MiB) through "Attach file", back to back: MB/s, the encrypted
//     share of the raw figure, and the CPU each browser spent per MB moved: its page's main thread
//     (CDP Performance.getMetrics TaskDuration, of it ScriptDuration), its page's dedicated workers
//     and network threads (the renderer process, CDP SystemInfo.getProcessInfo) and the whole
//     browser (all its processes)
// Usage: node bench/web/files.mjs   (PARLEY_SERVER_BIN: default build/native/server/parley-server)
//   BENCH_FILES_MIB=256     size of the file (MiB)
//   BENCH_ROUNDS=3          raw/encrypted rounds, back to back (default 3)
//   BENCH_SWEEP=0           skip the raw sweep (use chunk 65536, low-water 1 MiB)
//   BENCH_CONFIGS=64512:8,196608:8   the encrypted settings, chunk:window MiB, comma separated
//                           (the default: the app's chunk, 64512, and the core's largest); the
//                           parts are measured in the first one's chunks
//   BENCH_WEB=DIR           serve the page from DIR instead of web/ (e.g. a copy of an older page)
//   BENCH_PARTS_MIB=64      how much of the file the parts of the encrypted path are measured on
//   BENCH_PROFILE=DIR       write CDP CPU profiles of both pages during the last encrypted transfer
//                           to DIR and print where their main threads spent the time
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { connectPair, leave, person, signUp } from '../../tests/lib/people.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_FILES_MIB || 256) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const SWEEP = process.env.BENCH_SWEEP !== '0';
const CONFIGS = (process.env.BENCH_CONFIGS || '64512:8,196608:8').split(',')
  .map((s) => s.split(':').map(Number)).map(([chunk, w]) => ({ chunk, window: w * MIB }));
const PROFILE = process.env.BENCH_PROFILE || '';
const PARTS_MIB = Number(process.env.BENCH_PARTS_MIB || 64);
const mbps = (bytes, ms) => (bytes / 1e6) / (ms / 1000);
const f1 = (x) => x.toFixed(1);
const MB = SIZE / 1e6;

const server = await startServer({
  web: process.env.BENCH_WEB || join(ROOT, 'web'),
  env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` },
});
const a = await person(server, uniqueName('bfa'));
const b = await person(server, uniqueName('bfb'));
const dir = mkdtempSync(join(tmpdir(), 'parley-bench-files-'));

// ---- CPU: what a browser spent, from CDP -------------------------------------------------------
async function probe(p) {
  const page = await p.page.context().newCDPSession(p.page);
  await page.send('Performance.enable');
  const browser = await p.browser.newBrowserCDPSession();
  return { page, browser };
}
async function cpu(pr) {
  const { metrics } = await pr.page.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  const { processInfo } = await pr.browser.send('SystemInfo.getProcessInfo');
  const sum = (list) => list.reduce((s, x) => s + x.cpuTime, 0);
  return {
    task: m.TaskDuration * 1000,
    script: m.ScriptDuration * 1000,
    renderer: sum(processInfo.filter((x) => x.type === 'renderer')) * 1000,
    all: sum(processInfo) * 1000,
  };
}
const snap = async () => ({ a: await cpu(pa), b: await cpu(pb) });
function perMB(t0, t1, who) {
  const d = (k) => (t1[who][k] - t0[who][k]) / MB;
  return `main thread ${f1(d('task'))} (script ${f1(d('script'))}), renderer ${f1(d('renderer'))}, browser ${f1(d('all'))}`;
}
function cpuLine(t0, t1) {
  return `    CPU ms per MB: sender ${perMB(t0, t1, 'a')}; receiver ${perMB(t0, t1, 'b')}`;
}
// CPU ms per MB of both browsers together (all their processes).
const cpuBoth = (t0, t1) => (t1.a.all - t0.a.all + t1.b.all - t0.b.all) / MB;

// Self time by function of a CDP CPU profile, the largest first.
function topSelf(profile, n = 18) {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const node = byId.get(profile.samples[i]);
    const cf = node.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.replace(/^.*\/\/[^/]+/, '')}:${cf.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) || 0) + (dt[i + 1] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((s, v) => s + v, 0);
  return [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, n)
    .map(([k, v]) => `      ${f1(v).padStart(8)} ms ${f1((v / total) * 100).padStart(5)}%  ${k}`).join('\n');
}

let pa;
let pb;
try {
  await signUp(a);
  await signUp(b);
  await connectPair(a, b);
  pa = await probe(a);
  pb = await probe(b);

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
    const hash = core.FileHash.create();
    t = now();
    for (let i = 0; i < rounds; i += 1) hash.update(pt);
    const shaMs = now() - t;
    hash.free();
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
    return { bytes: len * rounds, sealMs, openMs, shaMs, wcSealMs, wcOpenMs };
  });
  const coreSeal = mbps(aes.bytes, aes.sealMs);
  console.log(`AES-256-GCM, 64512-byte chunks, ${f1(aes.bytes / 1e6)} MB: wasm core seal ${f1(coreSeal)} MB/s, `
    + `open ${f1(mbps(aes.bytes, aes.openMs))} MB/s; WebCrypto encrypt ${f1(mbps(aes.bytes, aes.wcSealMs))} MB/s, `
    + `decrypt ${f1(mbps(aes.bytes, aes.wcOpenMs))} MB/s; wasm core SHA-256 ${f1(mbps(aes.bytes, aes.shaMs))} MB/s`);

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
    const t0 = await snap();
    const start = await a.page.evaluate(async ({ sdp, total, chunk: c, low: lw }) => {
      const { pc, dc } = globalThis.raw;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      if (dc.readyState !== 'open') await new Promise((r) => { dc.onopen = r; });
      const buf = new Uint8Array(c);
      for (let i = 0; i < c; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(c, i + 65536)));
      const high = Math.max(lw * 4, 1 << 20);
      dc.bufferedAmountLowThreshold = lw;
      const t = performance.timeOrigin + performance.now();
      for (let sent = 0; sent < total; sent += c) {
        if (dc.bufferedAmount > high) await new Promise((r) => dc.addEventListener('bufferedamountlow', r, { once: true }));
        dc.send(buf.subarray(0, Math.min(c, total - sent)));
      }
      return t;
    }, { sdp: answer, total: SIZE, chunk, low });
    await b.page.waitForFunction((t) => globalThis.rawIn.bytes >= t, SIZE, { timeout: 600000, polling: 100 });
    const t1 = await snap();
    const end = await b.page.evaluate(() => globalThis.rawIn.last);
    await a.page.evaluate(() => globalThis.raw.pc.close());
    await b.page.evaluate(() => globalThis.rawIn.pc.close());
    return { rate: mbps(SIZE, end - start), cpu: cpuLine(t0, t1), both: cpuBoth(t0, t1) };
  }
  let best = { rate: 0, chunk: 65536, low: MIB };
  if (SWEEP) {
    best.rate = 0;
    for (const chunk of [16384, 65536, 262144 - 64]) {
      for (const low of [256 * 1024, 1024 * 1024]) {
        const { rate } = await rawRun(chunk, low);
        console.log(`raw data channel, ${SIZE / MIB} MiB, chunk ${chunk}, low-water ${low / 1024} KiB: ${f1(rate)} MB/s`);
        if (rate > best.rate) best = { rate, chunk, low };
      }
    }
    console.log(`raw data channel best: ${f1(best.rate)} MB/s (chunk ${best.chunk}, low-water ${best.low / 1024} KiB)`);
  }

  // ---- rounds: the raw channel and the app's encrypted transfer, back to back ------------------
  const path = join(dir, 'bench.bin');
  writeFileSync(path, randomBytes(SIZE));

  // ---- the encrypted path's parts, one at a time in one page ---------------------------------
  // The work an encrypted transfer adds to moving the bytes, each part alone over the first
  // PARTS_MIB of the file in the app's chunks and blocks, as CPU of the whole browser per MB:
  // reading the file (File.slice, 1 MiB blocks), sealing and opening (WebCrypto AES-256-GCM),
  // the running SHA-256 (the core's FileHash) and storing the sealed chunks (the app's FileStore,
  // 1 MiB a transaction). Their sum is what no chunking takes away; beside each transfer's CPU
  // over the raw channel's, it tells the parts from the rest (frames, promises, flow control).
  // (Each figure also holds its part's few milliseconds of setup: a key, a chunk of random bytes.)
  const partsBytes = Math.min(SIZE, PARTS_MIB * MIB);
  await a.page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'bench-parts';
    input.hidden = true;
    document.body.append(input);
  });
  await a.page.setInputFiles('#bench-parts', path);
  const parts = {};
  for (const part of ['read', 'seal', 'open', 'sha256', 'store']) {
    const c0 = await cpu(pa);
    await a.page.evaluate(async ({ part, total, chunk }) => {
      const core = await import('/core/parley.js');
      const { FileStore } = await import('/js/filestore.js');
      const file = document.getElementById('bench-parts').files[0];
      const n = Math.ceil(total / chunk);
      const plain = new Uint8Array(chunk);
      for (let at = 0; at < chunk; at += 65536) crypto.getRandomValues(plain.subarray(at, at + 65536));
      const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
      const iv = (i) => { const v = new Uint8Array(12); new DataView(v.buffer).setUint32(8, i); return v; };
      const ad = new Uint8Array(22);
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(0), additionalData: ad }, key, plain));
      if (part === 'read') {
        for (let at = 0; at < total; at += 1 << 20) await file.slice(at, Math.min(total, at + (1 << 20))).arrayBuffer();
      } else if (part === 'seal') {
        for (let i = 0; i < n; i += 1) await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(i), additionalData: ad }, key, plain);
      } else if (part === 'open') {
        for (let i = 0; i < n; i += 1) new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(0), additionalData: ad }, key, sealed)).fill(0);
      } else if (part === 'sha256') {
        const hash = core.FileHash.create();
        for (let i = 0; i < n; i += 1) hash.update(plain);
        hash.free();
      } else {
        const tag = `bench-${Math.random().toString(36).slice(2)}`;
        const store = await FileStore.open(tag);
        const per = Math.max(1, Math.floor((1 << 20) / chunk));
        for (let i = 0; i < n; i += per) {
          await store.putChunks('bench', i, Array.from({ length: Math.min(per, n - i) }, () => sealed.slice()));
        }
        await store.deleteFile('bench');
        store.close();
        await FileStore.drop(tag);
      }
    }, { part, total: partsBytes, chunk: CONFIGS[0].chunk });
    parts[part] = ((await cpu(pa)).all - c0.all) / (partsBytes / 1e6);
  }
  const partsSum = Object.values(parts).reduce((x, y) => x + y, 0);
  console.log(`the encrypted path's parts alone, ${partsBytes / MIB} MiB in chunks of ${CONFIGS[0].chunk}, CPU ms per MB of the browser: `
    + `${Object.entries(parts).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}; together ${f1(partsSum)}`);
  let n = 0;
  for (let round = 1; round <= ROUNDS; round += 1) {
    const raw = await rawRun(best.chunk, best.low);
    console.log(`round ${round}: raw data channel, chunk ${best.chunk}, low-water ${best.low / 1024} KiB: ${f1(raw.rate)} MB/s`);
    console.log(raw.cpu);
    // Each round takes the settings in the other order: a transfer runs while the storage of the
    // one before may still be at work (its file was just deleted), which should not always fall
    // on the same setting.
    for (const { chunk, window } of (round % 2 ? CONFIGS : [...CONFIGS].reverse())) {
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
      const c0 = await snap();
      const profiling = PROFILE && round === ROUNDS && chunk === CONFIGS[0].chunk && window === CONFIGS[0].window;
      if (profiling) {
        for (const pr of [pa, pb]) {
          await pr.page.send('Profiler.enable');
          await pr.page.send('Profiler.setSamplingInterval', { interval: 500 });
          await pr.page.send('Profiler.start');
        }
      }
      await item(b).getByRole('button', { name: 'Save' }).waitFor({ timeout: 900000 });
      const done = Date.now();
      const c1 = await snap();
      const rate = mbps(SIZE, done - hashed);
      console.log(`round ${round}: encrypted transfer, chunk ${chunk}, window ${window / MIB} MiB: hashing ${f1((hashed - t0) / 1000)} s, transfer `
        + `${f1((done - hashed) / 1000)} s = ${f1(rate)} MB/s (${Math.round((rate / raw.rate) * 100)}% of this round's raw)`);
      console.log(cpuLine(c0, c1));
      // Where the two browsers share too few cores (as here), MB/s follows CPU per MB: the raw
      // channel's CPU over the encrypted transfer's is the share that load would not blur.
      const both = cpuBoth(c0, c1);
      console.log(`    both browsers: ${f1(both)} CPU ms per MB against ${f1(raw.both)} for the raw channel: `
        + `+${f1(both - raw.both)} ms per MB (the parts alone, in chunks of ${CONFIGS[0].chunk}: ${f1(partsSum)}), CPU share ${Math.round((raw.both / both) * 100)}% of the raw channel's`);
      if (profiling) {
        mkdirSync(PROFILE, { recursive: true });
        for (const [who, pr] of [['sender', pa], ['receiver', pb]]) {
          const { profile } = await pr.page.send('Profiler.stop');
          writeFileSync(join(PROFILE, `${who}.cpuprofile`), JSON.stringify(profile));
          console.log(`    ${who}'s main thread, self time:\n${topSelf(profile)}`);
        }
      }
      await item(b).getByRole('button', { name: 'Delete' }).click();
      await item(a).getByRole('button', { name: 'Delete' }).click().catch(() => {});
      rmSync(named);
    }
  }
} finally {
  await leave(a);
  await leave(b);
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
}
