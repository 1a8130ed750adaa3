// A mutation fuzzer for invitation codes (docs/PROTOCOL.md 17), whose strict readers are
// JavaScript (web/js/invite.js), run under Node for a bounded time. Inputs are the vectors' invite
// and reply (docs/vectors/invite-v1.json) with bytes flipped, inserted, deleted and truncated,
// their text mutated, and random ones. A failure is a reader that throws anything but an
// InviteError, or accepts a code whose bytes differ from a valid one (every byte is signed, so a
// changed code must be refused).
//   node tests/fuzz/fuzz_invite.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';

const seconds = Number(process.argv[2] || 10);
await nodeCore();
const inv = await import('../../web/js/invite.js');
const { toB64u } = await import('../../web/js/encoding.js');
const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/invite-v1.json`, 'utf8'));

let seed = 0x2545f491;
const rnd = (n) => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
};

function mutate(bytes) {
  const out = [...bytes];
  const edits = 1 + rnd(4);
  for (let i = 0; i < edits; i += 1) {
    const op = rnd(5);
    const at = out.length ? rnd(out.length) : 0;
    if (op === 0 && out.length) out[at] ^= 1 << rnd(8);
    else if (op === 1) out.splice(at, 0, rnd(256));
    else if (op === 2 && out.length) out.splice(at, 1);
    else if (op === 3) out.length = rnd(out.length + 1);
    else if (out.length) out[at] = rnd(256);
  }
  return Uint8Array.from(out);
}

const mutateText = (s) => new TextDecoder().decode(mutate(new TextEncoder().encode(s)));
const valid = [
  { read: inv.decodeInvite, bytes: Buffer.from(V.invite.bytes, 'hex'), code: V.invite.code },
  { read: inv.decodeReply, bytes: Buffer.from(V.reply.bytes, 'hex'), code: V.reply.code },
];
for (const v of valid) await v.read(v.code); // the valid inputs are accepted

const failures = [];
const fail = (what, input, e) => {
  if (failures.length < 5) failures.push(`${what}: ${e} on ${JSON.stringify(String(input)).slice(0, 200)}`);
};

async function one(i) {
  const v = valid[i % 2];
  const kind = rnd(3);
  const text = kind === 0 ? toB64u(mutate(v.bytes)) : kind === 1 ? mutateText(v.code) : toB64u(randomBytes(rnd(800)));
  try {
    await v.read(text);
    if (text.replace(/\s+/g, '') !== v.code) fail('a changed code was accepted', text, 'accepted');
  } catch (e) {
    if (!(e instanceof inv.InviteError)) fail('threw something other than an InviteError', text, e);
  }
}

let runs = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end && failures.length === 0) {
  for (let i = 0; i < 100; i += 1) await one(runs + i);
  runs += 100;
}
if (failures.length) {
  console.log(`FAIL fuzz_invite (JavaScript): after ${runs} inputs`);
  for (const f of failures) console.log(`  ${f}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(`ok   fuzz_invite (JavaScript): ${runs} inputs in ${seconds}s, no failure`);
console.log('1 passed, 0 failed');
