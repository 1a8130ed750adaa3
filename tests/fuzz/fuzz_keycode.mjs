// A mutation fuzzer for key codes (docs/PROTOCOL.md 20.8), whose strict reader is JavaScript
// (web/js/keycode.js readKeyCode), run under Node for a bounded time. Inputs: the codes and
// spellings of docs/vectors/keycode-v1.json with characters flipped, inserted, deleted, replaced
// (often by code characters, hyphens, spaces and lower case) and truncated, and groups moved. A
// failure is a reader that throws anything but a KeyCodeError, returns anything but 32 bytes, or
// accepts a text that is not, once ASCII whitespace is removed and letters upper-cased, exactly
// the code it makes for the key it returned (so the one canonical spelling per key, checked here
// from the section's rules, not from the reader's code).
//   node tests/fuzz/fuzz_keycode.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
const root = new URL('../..', import.meta.url);
const kc = await import(new URL('web/js/keycode.js', root));
const V = JSON.parse(readFileSync(new URL('docs/vectors/keycode-v1.json', root), 'utf8'));
const seeds = [...V.valid.map((v) => v.code), ...V.accepted.map((v) => v.text), ...V.invalid.map((v) => v.text)];

const { rnd, pick, mutateText } = fuzzer(0x6b657931);
const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz--  \t\n01890PK=É\u00a0ß';

const failures = [];
function fail(what, input, e) {
  failures.push(`${what}: ${JSON.stringify(String(input).slice(0, 200))} -> ${e?.stack || e}`);
}

function moveGroups(code) {
  const parts = code.split('-');
  const i = rnd(parts.length);
  const j = rnd(parts.length);
  [parts[i], parts[j]] = [parts[j], parts[i]];
  if (rnd(2)) parts.splice(rnd(parts.length), 0, pick(parts));
  return parts.join(pick(['-', '', '--', ' -']));
}

async function run(text) {
  let key;
  try {
    key = await kc.readKeyCode(text);
  } catch (e) {
    if (!(e instanceof kc.KeyCodeError) || typeof e.code !== 'string') fail('threw something else', text, e);
    return;
  }
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    fail('returned something else', text, key);
    return;
  }
  const canonical = await kc.keyCode(key);
  const spelled = text.replace(/[ \t\r\n\f]/g, '').toUpperCase();
  if (spelled !== canonical) fail(`accepted a spelling other than ${canonical}`, text, '');
}

const cases = [
  () => run(mutateText(pick(seeds), CHARS)),
  () => run(mutateText(pick(seeds))),
  () => run(moveGroups(pick(seeds))),
  () => run(pick(seeds).slice(0, rnd(80)) + mutateText(pick(seeds).slice(rnd(70)), CHARS)),
];

// The vectors first: valid ones read, invalid ones refused.
for (const v of V.valid) await kc.readKeyCode(v.code);
for (const v of V.invalid) {
  let accepted = false;
  try {
    await kc.readKeyCode(v.text);
    accepted = true;
  } catch (e) {
    if (!(e instanceof kc.KeyCodeError)) throw e;
  }
  if (accepted) throw new Error(`an invalid vector was accepted: ${v.why}`);
}

await runFuzzer('fuzz_keycode', seconds, failures, (i) => cases[i % cases.length]());
