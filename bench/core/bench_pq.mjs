// Benchmark of the post-quantum parts in wasm under Node, in one run: ML-KEM-1024 key generation,
// encapsulation and decapsulation per second in the core's module (mlkem-native's portable C,
// called through its exports with buffers allocated once) beside @noble/post-quantum (pure JS);
// then session starts through the JS binding, PQXDH against X3DH, as initiator and as responder;
// then the gzip size of the page's core bundle (web/core), and its growth over a baseline bundle
// when PARLEY_BASELINE_CORE names one (a web/core folder built without ML-KEM). Median of 5
// interleaved rounds. Prints figures and ratios; asserts nothing.
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ml_kem1024 as noble } from '@noble/post-quantum/ml-kem.js';

const root = new URL('../..', import.meta.url).pathname;
const core = await import(`${root}web/core/parley.js`);
const m = await core.init({ wasmBinary: readFileSync(`${root}web/core/parley-core.wasm`) });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function rate(count, fn) {
  fn(Math.min(count, 5)); // warm-up
  const t0 = performance.now();
  fn(count);
  return count / ((performance.now() - t0) / 1000);
}
function rounds(named, count) {
  const got = Object.fromEntries(Object.keys(named).map((k) => [k, []]));
  for (let r = 0; r < 5; r += 1) for (const [k, fn] of Object.entries(named)) got[k].push(rate(count, fn));
  return Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v)]));
}
const fmt = (x) => x.toFixed(0).padStart(8);

// ---- ML-KEM-1024: the core's exports with fixed buffers, and @noble/post-quantum ----
const seed = new Uint8Array(64).fill(7);
const coins = new Uint8Array(32).fill(9);
const buf = m._malloc(64 + 32 + 1568 + 3168 + 1568 + 32);
const [pSeed, pCoins, pPk, pSk, pCt, pSs] = [buf, buf + 64, buf + 96, buf + 96 + 1568, buf + 96 + 1568 + 3168, buf + 96 + 1568 + 3168 + 1568];
m.HEAPU8.set(seed, pSeed);
m.HEAPU8.set(coins, pCoins);
const must = (rc) => { if (rc !== 0) throw new Error(`core: ${rc}`); };
must(m._parley_mlkem_keypair(pPk, pSk, pSeed, 64));
must(m._parley_mlkem_encaps(pCt, pSs, pPk, 1568, pCoins));
const keys = noble.keygen(seed);
const enc = noble.encapsulate(keys.publicKey, coins);
if (Buffer.compare(Buffer.from(keys.publicKey), Buffer.from(m.HEAPU8.subarray(pPk, pPk + 1568))) !== 0 ||
    Buffer.compare(Buffer.from(enc.cipherText), Buffer.from(m.HEAPU8.subarray(pCt, pCt + 1568))) !== 0) {
  throw new Error('the core and @noble/post-quantum disagree');
}
const kem = rounds({
  coreKeygen: (n) => { for (let i = 0; i < n; i += 1) must(m._parley_mlkem_keypair(pPk, pSk, pSeed, 64)); },
  nobleKeygen: (n) => { for (let i = 0; i < n; i += 1) noble.keygen(seed); },
  coreEncaps: (n) => { for (let i = 0; i < n; i += 1) must(m._parley_mlkem_encaps(pCt, pSs, pPk, 1568, pCoins)); },
  nobleEncaps: (n) => { for (let i = 0; i < n; i += 1) noble.encapsulate(keys.publicKey, coins); },
  coreDecaps: (n) => { for (let i = 0; i < n; i += 1) must(m._parley_mlkem_decaps(pSs, pCt, 1568, pSk, 3168)); },
  nobleDecaps: (n) => { for (let i = 0; i < n; i += 1) noble.decapsulate(enc.cipherText, keys.secretKey); },
}, 300);
m.HEAPU8.fill(0, buf, buf + 64 + 32 + 1568 + 3168 + 1568 + 32);
m._free(buf);
console.log('ML-KEM-1024 in wasm/Node, operations per second (median of 5):');
console.log('                 core (mlkem-native)  @noble/post-quantum   ratio');
for (const op of ['Keygen', 'Encaps', 'Decaps']) {
  const c = kem[`core${op}`];
  const n = kem[`noble${op}`];
  console.log(`  ${op.toLowerCase().padEnd(10)} ${fmt(c)}            ${fmt(n)}           ${(c / n).toFixed(1)}x`);
}

// ---- Session starts through the binding: PQXDH against X3DH ----
const alice = core.Account.create();
const bob = core.Account.create();
const bundle = bob.bundle(); // no one-time prekey: answers can repeat
const kemPrekey = core.parseKemUpload(bob.kemUpload()).lastResort.record;
const firstV1 = core.Session.outbound(alice, bundle).encrypt('hi');
const firstV2 = core.Session.outboundPq(alice, bundle, kemPrekey).encrypt('hi');
const starts = rounds({
  x3dhInitiator: (n) => { for (let i = 0; i < n; i += 1) core.Session.outbound(alice, bundle).free(); },
  pqxdhInitiator: (n) => { for (let i = 0; i < n; i += 1) core.Session.outboundPq(alice, bundle, kemPrekey).free(); },
  x3dhResponder: (n) => { for (let i = 0; i < n; i += 1) core.Session.inbound(bob, firstV1).session.free(); },
  pqxdhResponder: (n) => { for (let i = 0; i < n; i += 1) core.Session.inbound(bob, firstV2).session.free(); },
}, 200);
console.log('Session starts through the binding, per second (median of 5):');
console.log('                 X3DH (v1)   PQXDH (v2)   PQXDH cost');
for (const side of ['Initiator', 'Responder']) {
  const x = starts[`x3dh${side}`];
  const p = starts[`pqxdh${side}`];
  console.log(`  ${side.toLowerCase().padEnd(10)} ${fmt(x)}     ${fmt(p)}     ${((1 / p - 1 / x) * 1e6).toFixed(0)} µs more per start`);
}
console.log(`  initial message: ${firstV1.length} bytes (v1), ${firstV2.length} bytes (v2)`);
alice.free();
bob.free();

// ---- The page's core bundle, gzipped ----
// wasm, glue, and the binding (parley.js and, since it was split by job, its modules), gzipped.
const gz = (dir, f) => (existsSync(`${dir}/${f}`) ? gzipSync(readFileSync(`${dir}/${f}`), { level: 9 }).length : 0);
const bundleSize = (dir) => [gz(dir, 'parley-core.wasm'), gz(dir, 'parley-core.js'),
  ['parley.js', 'parley-runtime.js', 'parley-account.js', 'parley-session.js', 'parley-util.js'].reduce((n, f) => n + gz(dir, f), 0)];
const now = bundleSize(`${root}web/core`);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
console.log(`Core bundle, gzip -9: wasm ${now[0]} + glue ${now[1]} + binding ${now[2]} = ${sum(now)} bytes`);
const base = process.env.PARLEY_BASELINE_CORE;
if (base && existsSync(`${base}/parley-core.wasm`)) {
  const was = bundleSize(base);
  console.log(`  baseline ${base}: ${sum(was)} bytes; growth ${sum(now) - sum(was)} bytes ` +
    `(wasm ${now[0] - was[0]}, glue ${now[1] - was[1]}, binding ${now[2] - was[2]})`);
}
