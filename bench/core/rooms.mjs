// Fan-out benchmark of room messages (issue "Rooms", docs/PROTOCOL.md section 20) in wasm under
// Node: the cost of one group message to n members (n = 2, 4, 8, 16) as n pairwise Double Ratchet
// encryptions of the same payload through the JS binding the page uses, on established sessions,
// beside Megolm (@matrix-org/olm's OutboundGroupSession) encrypting one message for the same group
// in the same run. Two cases for the ratchet: "steady", the sender's consecutive messages (each a
// chain step), and "after replies", every member having answered since the last message (each
// session's first message on a new sending chain; the replies' decryption, where the DH step
// happens, is not counted). Figures are microseconds per group message, the median of interleaved
// rounds; the target is a 16-member message under 2 ms. Prints figures; asserts nothing.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../..', import.meta.url).pathname;
const core = await import(`${root}web/core/parley.js`);
await core.init({ wasmBinary: readFileSync(`${root}web/core/parley-core.wasm`) });
const require = createRequire(import.meta.url);
const Olm = require('@matrix-org/olm');
await Olm.init();

const SIZES = [2, 4, 8, 16];
const ROUNDS = 7;
const PER_ROUND = 200; // group messages timed per round and case
// A group text message as the page sends it: a JSON payload (12.6) of about 200 bytes.
const text = JSON.stringify({ t: 'room', v: 1, room: 'a'.repeat(32), id: 'b'.repeat(32), text: 'c'.repeat(100) });
const payload = new TextEncoder().encode(text);

function pair(alice) {
  const bob = core.Account.create();
  bob.generatePrekeys(1);
  const a = core.Session.outbound(alice, bob.bundle());
  const { session: b } = core.Session.inbound(bob, a.encrypt('hi'));
  a.decrypt(b.encrypt('hello')); // both past the prekey phase
  bob.free();
  return { a, b };
}

// The sender and its established sessions with 16 members (the first n are used for n).
const sender = core.Account.create();
const members = Array.from({ length: Math.max(...SIZES) }, () => pair(sender));

function ratchetFanout(n, afterReplies) {
  const group = members.slice(0, n);
  let total = 0;
  for (let k = 0; k < PER_ROUND; k += 1) {
    if (afterReplies) {
      for (const { a, b } of group) a.decrypt(b.encrypt('ok')); // untimed
    }
    const t0 = performance.now();
    const out = group.map(({ a }) => a.encrypt(payload));
    total += performance.now() - t0;
    if (afterReplies) group.forEach(({ b }, i) => b.decrypt(out[i])); // untimed: keeps chains in step
  }
  return (total / PER_ROUND) * 1000;
}

const megolm = new Olm.OutboundGroupSession();
megolm.create();
function megolmMessage() {
  const t0 = performance.now();
  for (let k = 0; k < PER_ROUND; k += 1) megolm.encrypt(text);
  return ((performance.now() - t0) / PER_ROUND) * 1000;
}

// Warm-up, then rounds that interleave every case so a burst of load favours none.
ratchetFanout(16, false);
ratchetFanout(16, true);
megolmMessage();
const results = new Map();
const add = (key, v) => results.set(key, [...(results.get(key) ?? []), v]);
for (let r = 0; r < ROUNDS; r += 1) {
  for (const n of SIZES) {
    add(`steady ${n}`, ratchetFanout(n, false));
    add(`replies ${n}`, ratchetFanout(n, true));
  }
  add('megolm', megolmMessage());
}
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const us = (x) => `${x.toFixed(1).padStart(7)} us`;
const mg = median(results.get('megolm'));
console.log(`wasm    room fan-out, ${payload.length}-byte payload, median of ${ROUNDS} rounds x ${PER_ROUND} messages`);
for (const n of SIZES) {
  const steady = median(results.get(`steady ${n}`));
  const replies = median(results.get(`replies ${n}`));
  console.log(`wasm    room message to ${String(n).padStart(2)}   parley steady ${us(steady)}   after replies ${us(replies)}   `
    + `megolm (one message for the group) ${us(mg)}   steady/megolm ${(steady / mg).toFixed(1)}x`
    + `${n === 16 ? `   (target < 2000 us: ${steady < 2000 && replies < 2000 ? 'met' : 'NOT met'})` : ''}`);
}
megolm.free();
for (const { a, b } of members) {
  a.free();
  b.free();
}
sender.free();
