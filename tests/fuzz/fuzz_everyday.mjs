// A mutation fuzzer for the everyday payloads (docs/PROTOCOL.md 12.15), whose strict reader is
// JavaScript (web/js/everyday-wire.js readEveryday), run under Node for a bounded time. Inputs:
// the vectors of docs/vectors/everyday-v1.json as JSON text with bytes flipped, inserted, deleted
// and truncated; and as objects with a field removed, added, or given another value (strings,
// numbers, arrays, objects, prototype names). A failure is a reader that throws anything but a
// PayloadError, or accepts something that breaks the document's rules: a field that is not its
// kind's, an id, text, timer, emoji or ids list out of range, or a result that does not read
// again as itself.
//   node tests/fuzz/fuzz_everyday.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
const root = new URL('../..', import.meta.url);
const wire = await import(new URL('web/js/everyday-wire.js', root));
const V = JSON.parse(readFileSync(new URL('docs/vectors/everyday-v1.json', root), 'utf8'));
const seeds = [...V.valid, ...V.invalid].map((v) => ({ payload: v.payload, own: v.own }));
// The long ones are kept for the structured cases; bytes are mutated on the short ones.
const shortSeeds = seeds.filter((s) => JSON.stringify(s.payload).length < 2000);

const { rnd, pick } = fuzzer(0x2545f491);

function mutateText(text) {
  const out = [...text];
  const edits = 1 + rnd(4);
  for (let i = 0; i < edits; i += 1) {
    const op = rnd(5);
    const at = out.length ? rnd(out.length) : 0;
    if (op === 0 && out.length) out[at] = String.fromCharCode(out[at].charCodeAt(0) ^ (1 << rnd(7)));
    else if (op === 1) out.splice(at, 0, pick(['"', ',', '{', '}', '[', ']', ':', '0', '1', '-', 'e', ' ', '\\', 'a', 'f']));
    else if (op === 2 && out.length) out.splice(at, 1);
    else if (op === 3) out.length = rnd(out.length + 1);
    else if (out.length) out[at] = String.fromCharCode(32 + rnd(95));
  }
  return out.join('');
}

const KEYS = ['t', 'id', 'ts', 'text', 'reply', 'exp', 'secs', 'ids', 'on', 'of', 'emoji', 'peer', 'extra', '__proto__', 'constructor', 'toString'];
const KINDS = [...wire.EVERYDAY_KINDS, 'sent', 'ack', 'hello', '__proto__', 'constructor', 'hasOwnProperty', '', 'MSG'];
const ID = '0123456789abcdef0123456789abcdef';
function value() {
  return pick([
    () => ID, () => ID.toUpperCase(), () => ID.slice(1), () => `${ID}0`, () => '', () => 'x', () => 'alice', () => 'A',
    () => 'x'.repeat(16384), () => 'x'.repeat(16385), () => 0, () => -1, () => 1.5, () => 30, () => 31, () => 2419200,
    () => Number.MAX_SAFE_INTEGER, () => 2 ** 53, () => NaN, () => true, () => false, () => null, () => [], () => [ID],
    () => Array(257).fill(ID), () => ({}), () => '👍', () => '👍👍', () => '❤', () => '❤️', () => pick(KINDS),
  ])();
}

function mutateObject(obj) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return value();
  const out = { ...obj };
  const edits = 1 + rnd(3);
  for (let i = 0; i < edits; i += 1) {
    const op = rnd(4);
    const keys = Object.keys(out);
    if (op === 0 && keys.length) delete out[pick(keys)];
    else if (op === 1) Object.defineProperty(out, pick(KEYS), { value: value(), enumerable: true, configurable: true, writable: true });
    else if (op === 2 && keys.length) out[pick(keys)] = value();
    else out.t = pick(KINDS);
  }
  return out;
}

const failures = [];
function fail(what, input, e) {
  failures.push(`${what}: ${String(input).slice(0, 300)} -> ${e?.stack || e}`);
}

const ALLOWED = {
  msg: ['t', 'id', 'ts', 'text', 'reply', 'exp'],
  timer: ['t', 'id', 'ts', 'secs'],
  read: ['t', 'ids'],
  typing: ['t', 'on'],
  edit: ['t', 'id', 'ts', 'of', 'text'],
  delete: ['t', 'id', 'ts', 'of'],
  react: ['t', 'id', 'ts', 'of', 'emoji'],
};
const isId = (v) => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);

// What an accepted payload must be, by the document alone (not by the reader's code).
function check(r, own) {
  const allowed = ALLOWED[r.t];
  if (!allowed) return 'kind';
  if (own && !['timer', 'read', 'edit', 'delete', 'react'].includes(r.t)) return 'own kind';
  for (const k of Object.keys(r)) if (!allowed.includes(k) && !(own && k === 'peer')) return `field ${k}`;
  if (own && !(typeof r.peer === 'string' && /^[a-z][a-z0-9_.-]{2,31}$/.test(r.peer))) return 'peer';
  if ('id' in r && !isId(r.id)) return 'id';
  if ('of' in r && !isId(r.of)) return 'of';
  if ('reply' in r && !isId(r.reply)) return 'reply';
  if ('ts' in r && !(Number.isSafeInteger(r.ts) && r.ts >= 0)) return 'ts';
  if ('text' in r && !(typeof r.text === 'string' && r.text.length >= 1 && r.text.length <= 16384)) return 'text';
  if ('exp' in r && ![30, 300, 3600, 86400, 604800, 2419200].includes(r.exp)) return 'exp';
  if ('secs' in r && ![0, 30, 300, 3600, 86400, 604800, 2419200].includes(r.secs)) return 'secs';
  if ('ids' in r && !(Array.isArray(r.ids) && r.ids.length >= 1 && r.ids.length <= 256 && r.ids.every(isId))) return 'ids';
  if ('on' in r && typeof r.on !== 'boolean') return 'on';
  if ('emoji' in r && !['', '👍', '❤️', '😂', '😮', '😢', '🙏'].includes(r.emoji)) return 'emoji';
  for (const k of allowed) if (k !== 'reply' && k !== 'exp' && !(k in r)) return `missing ${k}`;
  return null;
}

function run(obj, own, shown) {
  let r;
  try {
    r = wire.readEveryday(obj, { own });
  } catch (e) {
    if (!(e instanceof wire.PayloadError)) fail('threw', shown, e);
    return;
  }
  const bad = check(r, own);
  if (bad) {
    fail(`accepted a bad ${bad}`, shown, 'accepted');
    return;
  }
  let again;
  try {
    again = wire.readEveryday(JSON.parse(JSON.stringify(r)), { own });
  } catch (e) {
    fail('its own result was refused', shown, e);
    return;
  }
  if (!isDeepStrictEqual(again, r)) fail('its own result read differently', shown, JSON.stringify(again));
}

const cases = [
  () => {
    const s = pick(shortSeeds);
    const text = mutateText(JSON.stringify(s.payload));
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {
      return;
    }
    run(obj, rnd(2) === 0 ? s.own : !s.own, text);
  },
  () => {
    const s = pick(seeds);
    const obj = mutateObject(s.payload);
    run(obj, rnd(4) === 0 ? !s.own : s.own, JSON.stringify(obj)?.slice(0, 300));
  },
];

// The vectors first: valid ones read as themselves, invalid ones refused.
for (const v of V.valid) if (!isDeepStrictEqual(wire.readEveryday(v.payload, { own: v.own }), v.payload)) throw new Error('a valid vector was read differently');
for (const v of V.invalid) {
  let accepted = false;
  try {
    wire.readEveryday(v.payload, { own: v.own });
    accepted = true;
  } catch (e) {
    if (!(e instanceof wire.PayloadError)) throw e;
  }
  if (accepted) throw new Error(`an invalid vector was accepted: ${v.why}`);
}

await runFuzzer('fuzz_everyday', seconds, failures, (i) => cases[i % cases.length]());
