// A mutation fuzzer for the web app's file formats (docs/PROTOCOL.md 18.4-18.6), whose strict
// readers are JavaScript (web/js/files-wire.js), run under Node for a bounded time: the offer and
// the other file payloads, the frames of the files channel, and the safe names files are saved
// under. Inputs are valid ones with bytes flipped, inserted, deleted and truncated. A failure is a
// reader that throws, accepts what breaks the section's rules (a key that is not 32 bytes, a size
// or chunk out of range, extra keys), or a safe name with a path part, a control or format
// character, an active extension, or one that changes when made safe again. Also the page's chunk
// checker on WebCrypto (web/js/files-crypto.js) against the core's on sealed chunks with bytes
// changed, at their own and at other positions: the two must accept and refuse alike (with the
// same error), and what they accept must be the chunk as sealed.
//   node tests/fuzz/fuzz_files.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
const w = await import('../../web/js/files-wire.js');
const core = await import('../../web/core/parley.js');
await core.init({ wasmBinary: readFileSync(new URL('../../web/core/parley-core.wasm', import.meta.url)) });
const { fileChunks } = await import('../../web/js/files-crypto.js');

const { rnd, mutate, mutateText } = fuzzer(0x2545f491);

const failures = [];
const fail = (what, input, e) => failures.push(`${what}: ${String(input).slice(0, 300)} -> ${e?.stack || e}`);

const offer = {
  t: 'file', id: '0123456789abcdef0123456789abcdef', name: 'holiday photo.jpg', size: 1234567, type: 'image/jpeg',
  chunk: 64512, key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', sha256: '7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_7_4', ts: 1765000000000,
};
const controls = [
  { t: 'file-get', id: offer.id, from: 17 },
  { t: 'file-done', id: offer.id },
  { t: 'file-cancel', id: offer.id, reason: 'damaged' },
];
const names = ['../../evil.html', 'report.pdf', 'C:\\Users\\x\\run.exe', 'a\u202egpj.exe', '.bashrc', 'con.txt',
  'photo.jpg      .exe', 'x'.repeat(300) + '.png', 'naïve café.txt', '\u0000\u0001name', '...', ''];

// Known answers.
const known = [['../../evil.html', 'evil_html.txt'], ['report.pdf', 'report.pdf'], ['C:\\Users\\x\\run.exe', 'run_exe.txt'],
  ['.bashrc', 'bashrc'], ['con.txt', 'file_con.txt'], ['...', 'file'], ['', 'file'], ['a\u202egpj.exe', 'agpj_exe.txt']];
for (const [input, want] of known) {
  if (w.safeName(input) !== want) throw new Error(`safeName(${JSON.stringify(input)}) = ${JSON.stringify(w.safeName(input))}, want ${want}`);
}
if (!w.readOffer(offer)) throw new Error('the valid offer was refused');
for (const c of controls) if (!w.readControl(c)) throw new Error(`a valid ${c.t} was refused`);

// eslint-disable-next-line no-control-regex
const BAD_NAME = /[/\\\p{Cc}\p{Cf}]|^[.\s]|[.\s]$/u;
const ACTIVE = /\.(html?|svg|exe|js|bat|cmd|sh|hta|xml)$/i;

function checkOffer(o, input) {
  let r;
  try {
    r = w.readOffer(o);
  } catch (e) {
    fail('readOffer threw', input, e);
    return;
  }
  if (!r) return;
  if (r.key.length !== 32 || r.sha256.length !== 32) fail('readOffer accepted a bad key or hash', input, 'accepted');
  if (!(r.chunk >= w.CHUNK_MIN && r.chunk <= w.CHUNK_MAX) || !Number.isSafeInteger(r.size) || r.size < 0 || r.size > w.MAX_FILE_BYTES) fail('readOffer accepted a bad size', input, 'accepted');
  if (typeof r.name !== 'string' || r.name.length < 1 || r.name.length > w.MAX_NAME) fail('readOffer accepted a bad name', input, 'accepted');
  if (Object.keys(o).length !== 9) fail('readOffer accepted extra or missing keys', input, 'accepted');
}

const cases = [
  () => {
    const text = mutateText(JSON.stringify(offer));
    let o;
    try {
      o = JSON.parse(text);
    } catch {
      o = { ...offer, [Object.keys(offer)[rnd(9)]]: [null, -1, 2 ** 60, 'x', '', {}, [], 4095, 196609, 1.5][rnd(10)] };
    }
    checkOffer(o, JSON.stringify(o));
  },
  () => {
    const base = controls[rnd(controls.length)];
    let o;
    try {
      o = JSON.parse(mutateText(JSON.stringify(base)));
    } catch {
      o = { ...base, [['t', 'id', 'from', 'reason', 'x'][rnd(5)]]: [null, -1, 2 ** 33, 'cancelled', 'other', {}][rnd(6)] };
    }
    try {
      const r = w.readControl(o);
      if (r && (!/^[0-9a-f]{32}$/.test(r.id) || (r.t === 'file-get' && !(Number.isSafeInteger(r.from) && r.from >= 0 && r.from <= 0xffffffff))
        || (r.t === 'file-cancel' && !w.CANCEL_REASONS.has(r.reason)))) fail('readControl accepted', JSON.stringify(o), 'accepted');
    } catch (e) {
      fail('readControl threw', JSON.stringify(o), e);
    }
  },
  () => {
    const id = Uint8Array.from({ length: 16 }, () => rnd(256));
    const body = rnd(2) ? Uint8Array.from({ length: rnd(64) }, () => rnd(256)) : Uint8Array.of(0, 0, 0, 9);
    const bytes = mutate(w.frame(1 + rnd(2), id, body));
    try {
      const r = w.readFrame(bytes);
      if (r && ((r.kind !== 1 && r.kind !== 2) || !/^[0-9a-f]{32}$/.test(r.id) || (r.kind === 2 && r.body.length !== 4))) fail('readFrame accepted', [...bytes], 'accepted');
    } catch (e) {
      fail('readFrame threw', [...bytes], e);
    }
  },
  () => {
    const input = rnd(4) ? mutateText(names[rnd(names.length)]) : String.fromCodePoint(...Array.from({ length: rnd(40) }, () => rnd(0x3000)));
    try {
      const s = w.safeName(input);
      if (!s || BAD_NAME.test(s) || ACTIVE.test(s) || Array.from(s).length > 125) fail('safeName gave an unsafe name', JSON.stringify(input), JSON.stringify(s));
      else if (w.safeName(s) !== s) fail('safeName is not stable', JSON.stringify(input), JSON.stringify(s));
    } catch (e) {
      fail('safeName threw', JSON.stringify(input), e);
    }
  },
  async () => {
    const [seed, index, last] = sealedSeeds[rnd(sealedSeeds.length)];
    const bytes = rnd(5) ? mutate(seed) : seed;
    const at = rnd(4) ? index : rnd(4);
    const end = rnd(4) ? last : !last;
    let want;
    try {
      want = core.fileCheckChunk(fileKey, fileId, at, end, bytes);
    } catch (e) {
      want = e.codeName;
    }
    let got;
    try {
      got = await webChunks.check(at, end, bytes, () => null);
    } catch (e) {
      got = e.codeName;
    }
    if (got !== want) fail('WebCrypto and the core differ on a chunk', [...bytes], `${got} against ${want}`);
    else if (typeof got === 'number' && (bytes.length !== seed.length || bytes.some((b, k) => b !== seed[k]))) fail('a changed chunk was accepted', [...bytes], got);
  },
];

// Sealed chunks of one file (a full one, the short last one, an empty last one) for the checker case.
const fileKey = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const fileId = Uint8Array.from({ length: 16 }, (_, i) => 255 - i);
const webChunks = fileChunks(fileKey, fileId, { native: true });
const sealedSeeds = [
  [core.fileSealChunk(fileKey, fileId, 0, false, Uint8Array.from({ length: 96 }, (_, i) => i)), 0, false],
  [core.fileSealChunk(fileKey, fileId, 1, true, Uint8Array.of(1, 2, 3)), 1, true],
  [core.fileSealChunk(fileKey, fileId, 2, true, new Uint8Array(0)), 2, true],
];

await runFuzzer('fuzz_files', seconds, failures, (i) => cases[i % cases.length]());
