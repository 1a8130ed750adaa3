// Synthetic pictures of QR codes for the decoder's tests (tests/web/qr-scan.test.mjs) and the fake
// camera of tests/e2e/invite-scan.test.mjs: the symbol drawn by the app's encoder
// (web/vendor/qrcode.mjs, as web/js/qr.js draws it) and rendered in grey, rotated, tilted in
// perspective, blurred, noisy or damaged, and written as a .y4m video for Chromium's fake camera.
import { writeFileSync } from 'node:fs';
import qrcode from '../../web/vendor/qrcode.mjs';

/** A seeded random generator (mulberry32): numbers in [0, 1). */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The modules of `text` as the app draws it (UTF-8 bytes, Byte mode, level `level`, smallest version). */
export function encode(text, level = 'M', version = 0) {
  const qr = qrcode(version, level);
  qr.addData(String.fromCharCode(...new TextEncoder().encode(text)), 'Byte');
  qr.make();
  const size = qr.getModuleCount();
  const dark = new Uint8Array(size * size);
  for (let r = 0; r < size; r += 1) for (let c = 0; c < size; c += 1) dark[r * size + c] = qr.isDark(r, c) ? 1 : 0;
  return { size, dark, version: (size - 17) / 4 };
}

/** Flips the modules of a `side` x `side` square at (row, col): damage the reader must repair. */
export function damage(sym, row, col, side) {
  for (let r = row; r < Math.min(sym.size, row + side); r += 1) {
    for (let c = col; c < Math.min(sym.size, col + side); c += 1) sym.dark[r * sym.size + c] ^= 1;
  }
}

/** Solves the perspective transform taking the four points `src` to `dst`: a function of (x, y). */
function homography(src, dst) {
  const A = [];
  for (let i = 0; i < 4; i += 1) {
    const [x, y] = src[i];
    const [u, v] = dst[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u], [0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c += 1) {
    let p = c;
    for (let r = c + 1; r < 8; r += 1) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < 8; r += 1) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k < 9; k += 1) A[r][k] -= f * A[c][k];
    }
  }
  const h = A.map((row, i) => row[8] / row[i]);
  return (x, y) => {
    const d = h[6] * x + h[7] * y + 1;
    return [(h[0] * x + h[1] * y + h[2]) / d, (h[3] * x + h[4] * y + h[5]) / d];
  };
}

/**
 * A grey picture {width, height, data} (one byte a pixel) of the symbol: `scale` pixels a module,
 * a quiet zone of `margin` modules, turned by `angle` degrees, its top edge narrowed by `tilt`
 * (0.1: 10% shorter than the bottom: a phone held at a slant), blurred over `blur` pixels each side,
 * with noise of +-`noise` grey levels, on a light background of `width` x `height` (default: the
 * symbol's own). Dark modules are `ink`, light ones `paper`.
 */
export function render(sym, {
  scale = 4, margin = 4, angle = 0, tilt = 0, blur = 0, noise = 0, seed = 1, width, height, ink = 30, paper = 225,
} = {}) {
  const span = (sym.size + 2 * margin) * scale;
  const w = width || Math.ceil(span * 1.3);
  const h = height || Math.ceil(span * 1.3);
  const cx = w / 2;
  const cy = h / 2;
  const half = (sym.size / 2) * scale;
  const t = (angle * Math.PI) / 180;
  const turn = ([x, y]) => [cx + x * Math.cos(t) - y * Math.sin(t), cy + x * Math.sin(t) + y * Math.cos(t)];
  const corners = [[-half * (1 - tilt), -half], [half * (1 - tilt), -half], [-half, half], [half, half]].map(turn);
  const toModule = homography(corners, [[0, 0], [sym.size, 0], [0, sym.size], [sym.size, sym.size]]);
  const img = new Float32Array(w * h);
  const sub = [0.25, 0.75];
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      let d = 0;
      for (const sy of sub) {
        for (const sx of sub) {
          const [mx, my] = toModule(x + sx, y + sy);
          const c = Math.floor(mx);
          const r = Math.floor(my);
          if (r >= 0 && c >= 0 && r < sym.size && c < sym.size && sym.dark[r * sym.size + c]) d += 0.25;
        }
      }
      img[y * w + x] = paper + (ink - paper) * d;
    }
  }
  let out = img;
  if (blur > 0) out = boxBlur(boxBlur(out, w, h, blur, 1, 0), w, h, blur, 0, 1);
  const rand = random(seed);
  const data = new Uint8Array(w * h);
  for (let i = 0; i < data.length; i += 1) {
    const v = out[i] + (noise ? (rand() + rand() - 1) * noise : 0);
    data[i] = Math.max(0, Math.min(255, Math.round(v)));
  }
  return { width: w, height: h, data };
}

function boxBlur(src, w, h, r, dx, dy) {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      let s = 0;
      let n = 0;
      for (let k = -r; k <= r; k += 1) {
        const xx = x + k * dx;
        const yy = y + k * dy;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        s += src[yy * w + xx];
        n += 1;
      }
      out[y * w + x] = s / n;
    }
  }
  return out;
}

/** The same picture as RGBA (an ImageData's layout). */
export function rgba(image) {
  const data = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < image.data.length; i += 1) {
    data.set([image.data[i], image.data[i], image.data[i], 255], i * 4);
  }
  return { width: image.width, height: image.height, data };
}

/**
 * Writes `frames` frames of the grey `image` as a YUV4MPEG2 video (I420: the picture in Y, U and V
 * at 128), which Chromium's --use-file-for-fake-video-capture plays as the camera. Width and height
 * must be even.
 */
export function writeY4m(path, image, frames = 5) {
  const { width: w, height: h } = image;
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`);
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const parts = [header];
  for (let i = 0; i < frames; i += 1) parts.push(Buffer.from('FRAME\n'), Buffer.from(image.data), chroma);
  writeFileSync(path, Buffer.concat(parts));
}
