// A mutation fuzzer for the web app's linking formats (docs/PROTOCOL.md 14.5), whose strict
// readers are JavaScript (web/js/link.js), run under Node for a bounded time: the link code, the
// relayed messages, sealed frames and the transferred stream of contacts and history. Inputs are
// valid ones with bytes flipped, inserted, deleted and truncated, and random ones. A failure is a
// reader that throws something other than an Error, accepts what it must refuse (a code that does
// not encode back to itself, a frame whose bytes changed), or accepts a stream it then refuses
// when given back its own result.
//   node tests/fuzz/fuzz_link.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { randomBytes } from 'node:crypto';
import { nodeCore } from '../lib/core.mjs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
const core = await nodeCore();
const link = await import('../../web/js/link.js');
const { toB64u, utf8 } = await import('../../web/js/encoding.js');

const { rnd, mutate, mutateText } = fuzzer(0x9e3779b9);

// Valid inputs to start from.
const eB = core.x25519Keypair();
const code = link.encodeCode(123456, eB.publicKey);
const key = randomBytes(32);
const box = link.sealFrame(key, link.TO_NEW, 123456, 7, 1, utf8('{"hello":1}'));
const ik = toB64u(randomBytes(32));
const stream = JSON.stringify({
  v: 1,
  contacts: { bob: { name: 'bob', status: 'active', identityKey: ik, verified: false, since: 1 } },
  history: { bob: [
    { id: 'a1b2', from: 'them', text: 'hi', ts: 1, state: 'received' },
    { id: 'c3d4', from: 'me', text: 'hello', ts: 2, state: 'sent', copied: true },
  ] },
  presence: { cap: toB64u(randomBytes(32)), visible: true },
  blocks: { v: 1, blocked: { mallory: 1765000000000 }, declined: { eve: 1765086400000 } },
});
const wires = [
  { type: 'link', v: 1, step: 'start', key: toB64u(eB.publicKey), from: 'alice', fromDevice: 2 },
  { type: 'link', v: 1, step: 'abort' },
  { type: 'link', v: 1, seq: 3, box },
];

const failures = [];
const fail = (what, input, e) => {
  if (failures.length < 5) failures.push(`${what}: ${e} on ${JSON.stringify(String(input)).slice(0, 200)}`);
};
// A refusal is an Error of any kind (JSON.parse's SyntaxError, TextDecoder's TypeError for bytes
// that are not UTF-8, the readers' own); anything else thrown is a failure.
const refused = (e) => e instanceof Error;

const cases = [
  () => {
    const s = rnd(4) === 0 ? toB64u(randomBytes(rnd(60))) : mutateText(code);
    try {
      const r = link.parseCode(s);
      if (link.encodeCode(r.device, r.publicKey) !== s.replace(/\s+/g, '')) fail('parseCode accepted a code that is not its own encoding', s, 'accepted');
    } catch (e) {
      if (!refused(e)) fail('parseCode', s, e);
    }
  },
  () => {
    const s = mutateText(box);
    try {
      link.openFrame(key, link.TO_NEW, 123456, 7, s);
      if (s !== box) fail('openFrame accepted a changed frame', s, 'accepted');
    } catch (e) {
      if (!refused(e)) fail('openFrame', s, e);
    }
  },
  () => {
    const base = wires[rnd(wires.length)];
    let msg;
    try {
      msg = JSON.parse(mutateText(JSON.stringify(base)));
    } catch {
      msg = { ...base, [['v', 'step', 'key', 'seq', 'box', 'extra'][rnd(6)]]: [null, 2, 'x', -1, 1e20, {}, []][rnd(7)] };
    }
    try {
      const r = link.parseWire(msg);
      if (r && r.step === 'start' && (r.key.length !== 32 || toB64u(r.key) !== msg.key)) fail('parseWire accepted a bad key', JSON.stringify(msg), 'accepted');
      if (r && r.seq !== undefined && (!Number.isSafeInteger(r.seq) || typeof r.box !== 'string')) fail('parseWire accepted a bad frame', JSON.stringify(msg), 'accepted');
    } catch (e) {
      fail('parseWire threw', JSON.stringify(msg), e);
    }
  },
  () => {
    const bytes = mutate(utf8(stream));
    try {
      const r = link.parseTransfer(bytes);
      const again = { v: 1, contacts: r.contacts, history: r.history, ...(r.presence ? { presence: r.presence } : {}),
        ...(r.blocks ? { blocks: { v: 1, blocked: Object.fromEntries(r.blocks.blocked), declined: Object.fromEntries(r.blocks.declined) } } : {}) };
      link.parseTransfer(utf8(JSON.stringify(again))); // its own result must read again
    } catch (e) {
      if (!refused(e)) fail('parseTransfer', new TextDecoder().decode(bytes), e);
    }
  },
];

// The valid inputs are accepted.
link.parseCode(code);
link.openFrame(key, link.TO_NEW, 123456, 7, box);
for (const w of wires) if (!link.parseWire(w)) throw new Error('a valid wire message was refused');
link.parseTransfer(utf8(stream));

await runFuzzer('fuzz_link', seconds, failures, (i) => cases[i % cases.length]());
