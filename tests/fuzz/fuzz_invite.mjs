// A mutation fuzzer for invitation codes (docs/PROTOCOL.md 17), whose strict readers are
// JavaScript (web/js/invite.js), run under Node for a bounded time. Inputs are the vectors' invite
// and reply (docs/vectors/invite-v2.json) with bytes flipped, inserted, deleted and truncated,
// their text mutated, and random ones. A failure is a reader that throws anything but an
// InviteError, or accepts a code whose bytes differ from a valid one (every byte is signed, so a
// changed code must be refused).
//   node tests/fuzz/fuzz_invite.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
await nodeCore();
const inv = await import('../../web/js/invite.js');
const { toB64u } = await import('../../web/js/encoding.js');
const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/invite-v2.json`, 'utf8'));

const { rnd, mutate, mutateText } = fuzzer(0x2545f491);
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

await runFuzzer('fuzz_invite', seconds, failures, one, 100);
