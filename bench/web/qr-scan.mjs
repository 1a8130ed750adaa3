#!/usr/bin/env node
// The camera scanner's QR decoder (web/js/qr-scan-decoder.js) on synthetic pictures of invite-sized
// codes (tests/lib/qr-image.mjs: the app's encoder, level M, base64url text of 100..1,000
// characters): for each distortion, how many of N pictures read back exactly, and the median and
// slowest decode time. Run: node bench/web/qr-scan.mjs [N per distortion, default 40]
import { damage, encode, random, render } from '../../tests/lib/qr-image.mjs';
import { decodeQr } from '../../web/js/qr-scan-decoder.js';

const N = Number(process.argv[2]) || 40;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const DISTORTIONS = {
  'straight, 3 px a module': { scale: 3 },
  'straight, 2 px a module': { scale: 2 },
  'turned 0..10 degrees': (r) => ({ angle: r() * 20 - 10 }),
  'turned 10..45 degrees': (r) => ({ angle: 10 + r() * 35 }),
  'tilted 0..10%': (r) => ({ tilt: r() * 0.1 }),
  'tilted 10..15%': (r) => ({ tilt: 0.1 + r() * 0.05 }),
  'blurred (box 3x3)': { blur: 1 },
  'blurred (box 5x5)': { blur: 2 },
  'noise +-60': { noise: 60 },
  'low contrast (90 on 170)': { ink: 90, paper: 170, noise: 10 },
  'turned, tilted, blurred, noisy': (r) => ({ angle: r() * 10 - 5, tilt: r() * 0.06, blur: 1, noise: 30 }),
  'damaged: 3 patches of 3x3 modules': 'damage',
};

const rand = random(2026);
const text = (n) => Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * 64)]).join('');
console.log(`QR decoder, ${N} pictures per distortion, codes of 100..1,000 characters (versions 6..26, level M), 4 px a module unless said`);
for (const [name, spec] of Object.entries(DISTORTIONS)) {
  let ok = 0;
  const times = [];
  for (let i = 0; i < N; i += 1) {
    const t = text(100 + Math.floor(rand() * 901));
    const sym = encode(t);
    let opts = { scale: 4, seed: i };
    if (spec === 'damage') {
      for (let k = 0; k < 3; k += 1) damage(sym, 9 + Math.floor(rand() * (sym.size - 21)), 9 + Math.floor(rand() * (sym.size - 21)), 3);
    } else {
      opts = { ...opts, ...(typeof spec === 'function' ? spec(rand) : spec) };
    }
    const image = render(sym, opts);
    const t0 = performance.now();
    const got = decodeQr(image);
    times.push(performance.now() - t0);
    if (got === t) ok += 1;
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(36)} ${String(ok).padStart(3)}/${N} read  median ${times[N >> 1].toFixed(0).padStart(4)} ms  slowest ${times[N - 1].toFixed(0).padStart(4)} ms`);
}
