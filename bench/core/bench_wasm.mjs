// Benchmark in wasm under Node: Parley's core (the module the page loads, through its JS binding)
// against Olm (@matrix-org/olm, the libolm wasm build) in the same run. 100-byte messages, one
// direction and alternating direction every message; each figure is encrypt + decrypt pairs per
// second (median of 5 interleaved rounds). Also AES-256-GCM MB/s, sealing and opening, at 1 KiB,
// 64 KiB and 64512 bytes (a file chunk). Prints
// figures and ratios; asserts nothing.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../..', import.meta.url).pathname;
const core = await import(`${root}web/core/parley.js`);
await core.init({ wasmBinary: readFileSync(`${root}web/core/parley-core.wasm`) });
const require = createRequire(import.meta.url);
const Olm = require('@matrix-org/olm');
await Olm.init();

const payload = new Uint8Array(100).fill(0x61);
const payloadText = 'a'.repeat(100);

function rate(count, fn) {
  fn(Math.min(count, 200)); // warm-up
  const t0 = performance.now();
  fn(count);
  return count / ((performance.now() - t0) / 1000);
}

function parleyPair() {
  const alice = core.Account.create();
  const bob = core.Account.create();
  bob.generatePrekeys(1);
  const a = core.Session.outbound(alice, bob.bundle());
  const { session: b } = core.Session.inbound(bob, a.encrypt('hi'));
  a.decrypt(b.encrypt('hello')); // both past the prekey phase
  return { a, b };
}

function olmPair() {
  const alice = new Olm.Account();
  const bob = new Olm.Account();
  alice.create();
  bob.create();
  bob.generate_one_time_keys(1);
  const otk = Object.values(JSON.parse(bob.one_time_keys()).curve25519)[0];
  const bobIdentity = JSON.parse(bob.identity_keys()).curve25519;
  const a = new Olm.Session();
  a.create_outbound(alice, bobIdentity, otk);
  const first = a.encrypt('hi');
  const b = new Olm.Session();
  b.create_inbound(bob, first.body);
  bob.remove_one_time_keys(b);
  b.decrypt(first.type, first.body);
  const reply = b.encrypt('hello');
  a.decrypt(reply.type, reply.body);
  return { a, b };
}

function parleyRun(alternating) {
  const { a, b } = parleyPair();
  return (n) => {
    for (let i = 0; i < n; i += 1) {
      const [from, to] = alternating && i % 2 ? [b, a] : [a, b];
      to.decrypt(from.encrypt(payload));
    }
  };
}

function olmRun(alternating) {
  const { a, b } = olmPair();
  return (n) => {
    for (let i = 0; i < n; i += 1) {
      const [from, to] = alternating && i % 2 ? [b, a] : [a, b];
      const m = from.encrypt(payloadText);
      to.decrypt(m.type, m.body);
    }
  };
}

function aeadRate(size, reps, open = false) {
  const key = core.randomBytes(32);
  const nonce = core.randomBytes(12);
  const ad = new Uint8Array(0);
  const data = new Uint8Array(size);
  const sealed = core.aeadSeal(key, nonce, ad, data);
  const step = open ? () => core.aeadOpen(key, nonce, ad, sealed) : () => core.aeadSeal(key, nonce, ad, data);
  step();
  // CPU time of the process, so that other work on a shared machine weighs less on the figure.
  const t0 = process.cpuUsage();
  for (let i = 0; i < reps; i += 1) step();
  const t = process.cpuUsage(t0);
  return (size * reps) / ((t.user + t.system) / 1e6) / 1e6;
}

// Rounds alternate between the two libraries and each figure is the median of its rounds, so a
// burst of load on the machine cannot favour one side.
const ROUNDS = 5;
function compare(parleyCount, olmCount, alternating) {
  const p = parleyRun(alternating);
  const o = olmRun(alternating);
  const ps = [];
  const os = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    ps.push(rate(parleyCount, p));
    os.push(rate(olmCount, o));
  }
  const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
  return [median(ps), median(os)];
}

const fmt = (x) => x.toFixed(0).padStart(8);
const oneWay = compare(30000, 15000, false);
const alternating = compare(2000, 1000, true);
console.log(`wasm    ratchet one-way     parley ${fmt(oneWay[0])} msg/s   olm ${fmt(oneWay[1])} msg/s   ratio ${(oneWay[0] / oneWay[1]).toFixed(2)}x (target 2x)`);
console.log(`wasm    ratchet alternating parley ${fmt(alternating[0])} msg/s   olm ${fmt(alternating[1])} msg/s   ratio ${(alternating[0] / alternating[1]).toFixed(2)}x (target 2.5x)`);
for (const [label, size, reps] of [['1 KiB  ', 1024, 20000], ['64 KiB ', 65536, 400], ['64512 B', 64512, 400]]) {
  const seal = aeadRate(size, reps).toFixed(1);
  const open = aeadRate(size, reps, true).toFixed(1);
  console.log(`wasm    AES-256-GCM ${label} seal ${seal} MB/s   open ${open} MB/s (through the binding)`);
}
