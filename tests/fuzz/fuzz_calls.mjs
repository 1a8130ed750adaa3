// A mutation fuzzer for the web app's call formats (docs/PROTOCOL.md 12.17), whose strict readers
// are JavaScript (web/js/calls-binding.js, web/js/calls-frames.js), run under Node for a bounded
// time: call payloads, the fingerprints read from session descriptions and stats, the signed
// binding statement and sealed media frames. Inputs are the vectors (docs/vectors/calls-v1.json)
// with bytes flipped, inserted, deleted and truncated, fields replaced, and random ones. A failure
// is a reader that throws, accepts a payload that does not write back to itself, a statement
// check that accepts a changed field, or a sealed frame that opens after a change.
//   node tests/fuzz/fuzz_calls.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { nodeCore } from '../lib/core.mjs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
await nodeCore();
const B = await import('../../web/js/calls-binding.js');
const F = await import('../../web/js/calls-frames.js');
const V = JSON.parse(readFileSync(new URL('../../docs/vectors/calls-v1.json', import.meta.url), 'utf8'));
const hex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

const { rnd, mutate, mutateText, randomBytes } = fuzzer(0x2545f491);

const payloads = [...Object.values(V.payloads), V.group.invite, V.group.inviteWithoutKey, V.group.inviteLive, V.group.declineFull];
const FIELDS = ['t', 'v', 'call', 'k', 'media', 'reason', 'desc', 'cand', 'n', 'at', 'fp', 'peerFp', 'sig', 'room', 'group', 'key', 'live', 'x'];
const VALUES = [null, 0, 1, 2, -1, 1.5, 2 ** 53, '', 'call', 'x'.repeat(70000), {}, [], true, 'offer', V.callId, V.payloads.bind.sig, V.payloads.nonce.n, V.group.invite.room, 'full'];

const statement = {
  callId: V.callId, at: V.issuedAt, nonce: hex(V.nonce), ownFp: hex(V.aliceFingerprint),
  peerFp: hex(V.bobFingerprint), sig: hex(V.signature),
};
const signer = hex(V.alice.identityKey);
const verifier = hex(V.bob.identityKey);

const frame = hex(V.frame.sealed);
const frameKey = await F.frameKey(hex(V.frame.key));

const failures = [];
const fail = (what, input, e) => {
  if (failures.length < 5) failures.push(`${what}: ${e} on ${JSON.stringify(String(input)).slice(0, 200)}`);
};

// Rebuilds the JSON object a parsed payload came from (the writer's own form).
function writeBack(r) {
  const { k, call, ...rest } = r;
  return B.callPayload(k, call, rest);
}

const cases = [
  () => {
    const base = payloads[rnd(payloads.length)];
    let msg;
    const text = mutateText(JSON.stringify(base));
    try {
      msg = JSON.parse(text);
    } catch {
      msg = { ...base, [FIELDS[rnd(FIELDS.length)]]: VALUES[rnd(VALUES.length)] };
    }
    try {
      const r = B.parseCallPayload(msg);
      if (r) {
        const again = writeBack(r);
        if (JSON.stringify(B.parseCallPayload(JSON.parse(JSON.stringify(again)))) !== JSON.stringify(r)) fail('a payload read does not read back the same', JSON.stringify(msg), 'accepted');
        for (const key of Object.keys(msg)) {
          if (!(key in again)) fail('a payload read with a field the writer does not know', JSON.stringify(msg), key);
        }
      }
    } catch (e) {
      fail('parseCallPayload threw', JSON.stringify(msg), e);
    }
  },
  () => {
    const sdp = `v=0\r\na=fingerprint:sha-256 ${[...hex(V.aliceFingerprint)].map((x) => x.toString(16).padStart(2, '0')).join(':')}\r\n`;
    const s = rnd(8) === 0 ? String.fromCharCode(...randomBytes(rnd(120))) : mutateText(sdp);
    try {
      const fp = B.sdpFingerprint(s);
      if (fp && (fp.length !== 32)) fail('sdpFingerprint gave a bad length', s, fp.length);
      const line = s.split(/\r?\n/).find((l) => l.startsWith('a=fingerprint:'));
      if (fp && line && B.fpFromHex(line.trim().split(' ')[1])?.join() !== fp.join()) fail('sdpFingerprint disagrees with its line', s, 'accepted');
    } catch (e) {
      fail('sdpFingerprint threw', s, e);
    }
  },
  () => {
    // One field of the statement changed: the check must fail.
    const names = ['callId', 'at', 'nonce', 'ownFp', 'peerFp', 'sig'];
    const name = names[rnd(names.length)];
    const changed = { ...statement };
    if (name === 'callId') changed.callId = mutateText(V.callId);
    else if (name === 'at') changed.at = [V.issuedAt + 1 + rnd(1000), V.issuedAt - 1, -1, 2 ** 53, 0.5, NaN][rnd(6)];
    else changed[name] = mutate(statement[name]);
    let ok;
    try {
      ok = B.checkStatement(signer, verifier, changed);
    } catch (e) {
      fail('checkStatement threw', name, e);
      return;
    }
    const same = name === 'callId' ? changed.callId === V.callId : name === 'at' ? changed.at === V.issuedAt
      : changed[name].length === statement[name].length && changed[name].every((x, i) => x === statement[name][i]);
    if (ok && !same) fail('checkStatement accepted a changed field', name, 'accepted');
  },
  async () => {
    const s = rnd(8) === 0 ? randomBytes(rnd(80)) : mutate(frame);
    try {
      const opened = await F.openFrame(frameKey, s);
      const same = s.length === frame.length && s.every((x, i) => x === frame[i]);
      if (opened && !same) fail('openFrame opened a changed frame', Buffer.from(s).toString('hex'), 'accepted');
    } catch (e) {
      fail('openFrame threw', Buffer.from(s).toString('hex'), e);
    }
  },
];

// The valid inputs are accepted.
for (const p of payloads) if (!B.parseCallPayload(p)) throw new Error('a vector payload was refused');
if (!B.checkStatement(signer, verifier, statement)) throw new Error('the vector statement was refused');
if (!await F.openFrame(frameKey, frame)) throw new Error('the vector frame was refused');

await runFuzzer('fuzz_calls', seconds, failures, (i) => cases[i % cases.length]());
