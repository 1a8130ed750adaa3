// The QR decoder of invite scanning (web/js/qr-scan-decoder.js) against the app's own encoder
// (web/vendor/qrcode.mjs, drawn as web/js/qr.js draws invite and reply codes: UTF-8 bytes, Byte
// mode, level M): every version and level once; invite-sized codes (100..1,000 characters)
// rendered turned, tilted, blurred, noisy and damaged within the error correction; pictures with
// no code, and corrupted ones, give null and never throw. Runs with the core's JS tests
// (scripts/test.sh, "core js").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { damage, encode, random, render, rgba } from '../lib/qr-image.mjs';
import { decodeQr } from '../../web/js/qr-scan-decoder.js';
import { correctBlock } from '../../web/js/qr-scan-codewords.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'; // base64url: the codes' text
const codeText = (rand, n) => Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * 64)]).join('');
const LENGTHS = [100, 250, 400, 550, 700, 850, 1000];

test('every version (1..40) and level (L, M, Q, H) of the encoder reads back', () => {
  const rand = random(1);
  for (let v = 1; v <= 40; v += 1) {
    for (const level of ['L', 'M', 'Q', 'H']) {
      const text = codeText(rand, 1 + (v % 9));
      const sym = encode(text, level, v);
      assert.equal(sym.version, v);
      const side = (sym.size + 8) * 2 + 6;
      assert.equal(decodeQr(render(sym, { scale: 2, width: side, height: side })), text, `version ${v} level ${level}`);
    }
  }
});

test('invite-sized codes (100..1,000 characters, level M) read as RGBA ImageData and as grey', () => {
  const rand = random(2);
  for (const n of LENGTHS) {
    const text = codeText(rand, n);
    const image = render(encode(text), { scale: 3 });
    assert.equal(decodeQr(image), text, `${n} characters, grey`);
    assert.equal(decodeQr(rgba(image)), text, `${n} characters, RGBA`);
  }
  // Non-ASCII text survives too (UTF-8 in Byte mode).
  const text = 'Grüße, 你好 — 🙂';
  assert.equal(decodeQr(render(encode(text, 'Q'), { scale: 4 })), text);
});

const DISTORTIONS = {
  'turned 4 degrees': { angle: 4 },
  'turned -7 degrees': { angle: -7 },
  'sideways (93 degrees)': { angle: 93 },
  'upside down': { angle: 180 },
  'tilted (top 7% narrower)': { tilt: 0.07 },
  'tilted and turned': { tilt: 0.05, angle: 3 },
  blurred: { blur: 1 },
  noisy: { noise: 45 },
  'low contrast': { ink: 90, paper: 170, noise: 10 },
  'everything at once': { angle: -3, tilt: 0.04, blur: 1, noise: 30 },
};

for (const [name, opts] of Object.entries(DISTORTIONS)) {
  test(`invite-sized codes read when ${name}`, () => {
    const rand = random(name.length * 7919);
    for (const n of LENGTHS) {
      const text = codeText(rand, n);
      const got = decodeQr(render(encode(text), { scale: 4, seed: n, ...opts }));
      assert.equal(got, text, `${n} characters ${name}`);
    }
  });
}

test('damaged modules within the error correction are repaired; beyond it, null', () => {
  const rand = random(3);
  for (const n of LENGTHS) {
    const text = codeText(rand, n);
    const sym = encode(text);
    // Two 3x3 patches in the data area: at most 18 bits, a handful of codewords over the blocks.
    damage(sym, 10 + Math.floor(rand() * (sym.size - 24)), 10 + Math.floor(rand() * (sym.size - 24)), 3);
    damage(sym, 10 + Math.floor(rand() * (sym.size - 24)), 10 + Math.floor(rand() * (sym.size - 24)), 3);
    assert.equal(decodeQr(render(sym, { scale: 3, angle: 2 })), text, `${n} characters, damaged`);
  }
  // Half the data area inverted: far beyond any block's correction.
  const sym = encode(codeText(rand, 400));
  damage(sym, 9, 9, Math.floor((sym.size - 18) * 0.7));
  assert.equal(decodeQr(render(sym, { scale: 3 })), null);
});

test('Reed-Solomon: up to ecLen/2 byte errors anywhere in a block are corrected', () => {
  const rand = random(4);
  // Real codeword blocks are covered above (damaged symbols); here random error patterns on the
  // all-zero block (a valid codeword of any length) at every EC length our symbols use.
  for (let trial = 0; trial < 200; trial += 1) {
    const ecLen = [10, 16, 22, 28, 30][trial % 5];
    const block = new Uint8Array(60 + ecLen);
    const nErr = Math.floor(rand() * (ecLen / 2 + 1));
    const where = new Set();
    while (where.size < nErr) where.add(Math.floor(rand() * block.length));
    for (const i of where) block[i] = 1 + Math.floor(rand() * 255);
    assert.equal(correctBlock(block, ecLen), true, `${nErr} errors, ${ecLen} EC codewords`);
    assert.ok(block.every((b) => b === 0), `${nErr} errors corrected`);
  }
});

test('pictures without a code give null, without throwing', () => {
  const rand = random(5);
  const cases = [
    { width: 0, height: 0, data: new Uint8Array(0) },
    { width: 10, height: 10, data: new Uint8Array(3) },
    { width: 640, height: 480, data: new Uint8Array(640 * 480).fill(255) },
    { width: 640, height: 480, data: new Uint8Array(640 * 480) },
  ];
  for (let i = 0; i < 12; i += 1) {
    const w = 64 + Math.floor(rand() * 400);
    const h = 64 + Math.floor(rand() * 400);
    const data = new Uint8Array(w * h);
    const cell = 1 + Math.floor(rand() * 12);
    for (let y = 0; y < h; y += 1) {
      for (let x = 0; x < w; x += 1) {
        // Blocky random noise, checkerboards and stripes: finder-like runs appear by chance.
        const k = i % 3;
        data[y * w + x] = k === 0 ? (rand() < 0.5 ? 20 : 230)
          : k === 1 ? ((Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? 20 : 230)
            : (Math.floor(x / cell) % 3 ? 230 : 20);
      }
    }
    cases.push({ width: w, height: h, data });
  }
  for (const image of cases) assert.equal(decodeQr(image), null);
});

test('corrupted pictures of codes never throw: each gives the text or null', () => {
  const rand = random(6);
  let read = 0;
  const N = 60;
  for (let i = 0; i < N; i += 1) {
    const text = codeText(rand, 100 + Math.floor(rand() * 900));
    const sym = encode(text);
    for (let k = 0; k < 1 + Math.floor(rand() * 6); k += 1) {
      damage(sym, Math.floor(rand() * sym.size), Math.floor(rand() * sym.size), 1 + Math.floor(rand() * 8));
    }
    const image = render(sym, { scale: 2 + Math.floor(rand() * 2), angle: rand() * 20 - 10, noise: rand() * 60, seed: i });
    // Scribbles over the picture: random rectangles of black or white.
    for (let k = 0; k < Math.floor(rand() * 5); k += 1) {
      const x0 = Math.floor(rand() * image.width);
      const y0 = Math.floor(rand() * image.height);
      const v = rand() < 0.5 ? 0 : 255;
      for (let y = y0; y < Math.min(image.height, y0 + 30); y += 1) {
        for (let x = x0; x < Math.min(image.width, x0 + 30); x += 1) image.data[y * image.width + x] = v;
      }
    }
    const got = decodeQr(image);
    assert.ok(got === null || got === text, `picture ${i}: ${got === null ? 'null' : 'a wrong text'}`);
    if (got === text) read += 1;
  }
  // Not an assertion on quality: the count is for the person reading the log.
  console.log(`# corrupted pictures read: ${read} of ${N}`);
});
