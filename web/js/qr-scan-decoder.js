// A QR code reader in plain JavaScript, for browsers without BarcodeDetector (Chromium on Linux):
// decodeQr(image) takes an ImageData (a camera frame; or {width, height, data} with one grey byte
// per pixel) and returns the symbol's text, or null. Loaded only when a person first presses
// "Scan" (qr-scan.js imports it on demand), so the app shell does not carry it.
// Steps: a locally adaptive threshold; the three finder patterns (runs of 1:1:3:1:1 across and
// down); the grid's size from their spacing; a perspective transform from the finders and the
// bottom-right alignment pattern, refined per cell by every alignment pattern found near where it
// should be; each module read at its centre; then qr-scan-codewords.js (format, unmasking,
// Reed-Solomon, segments). Written from the concepts of ISO/IEC 18004. Never throws on any image.
import { alignmentPositions, decodeGrid, readVersion } from './qr-scan-codewords.js';

/** Grey levels (0 black .. 255 white) of an RGBA ImageData, or its data as is when grey. */
function grey(image) {
  const { width, height, data } = image;
  if (data.length === width * height) return data;
  const g = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < g.length; i += 1, j += 4) g[i] = (data[j] * 77 + data[j + 1] * 150 + data[j + 2] * 29) >> 8;
  return g;
}

/**
 * 1 for dark pixels: each pixel against the mean of the 5x5 blocks (of 8x8 pixels) around its own;
 * a block of little contrast takes a threshold below its darkest pixel (seen as light) unless its
 * neighbours say otherwise.
 */
function binarize(g, w, h) {
  const B = 8;
  const bw = Math.ceil(w / B);
  const bh = Math.ceil(h / B);
  const avg = new Float32Array(bw * bh);
  for (let by = 0; by < bh; by += 1) {
    for (let bx = 0; bx < bw; bx += 1) {
      let sum = 0;
      let n = 0;
      let min = 255;
      let max = 0;
      for (let y = by * B; y < Math.min(h, by * B + B); y += 1) {
        for (let x = bx * B; x < Math.min(w, bx * B + B); x += 1) {
          const v = g[y * w + x];
          sum += v;
          n += 1;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      let a = sum / n;
      if (max - min <= 24) {
        a = min / 2;
        if (by > 0 && bx > 0) {
          const around = (avg[(by - 1) * bw + bx] + 2 * avg[by * bw + bx - 1] + avg[(by - 1) * bw + bx - 1]) / 4;
          if (min < around) a = around;
        }
      }
      avg[by * bw + bx] = a;
    }
  }
  const out = new Uint8Array(w * h);
  for (let by = 0; by < bh; by += 1) {
    for (let bx = 0; bx < bw; bx += 1) {
      let sum = 0;
      let n = 0;
      for (let dy = -2; dy <= 2; dy += 1) {
        for (let dx = -2; dx <= 2; dx += 1) {
          const yy = by + dy;
          const xx = bx + dx;
          if (yy < 0 || xx < 0 || yy >= bh || xx >= bw) continue;
          sum += avg[yy * bw + xx];
          n += 1;
        }
      }
      const t = sum / n;
      for (let y = by * B; y < Math.min(h, by * B + B); y += 1) {
        for (let x = bx * B; x < Math.min(w, bx * B + B); x += 1) out[y * w + x] = g[y * w + x] < t ? 1 : 0;
      }
    }
  }
  return out;
}

// ---- Finder patterns ---------------------------------------------------------------------------

/** Whether five run lengths (dark, light, dark, light, dark) look like 1:1:3:1:1. */
function finderRatio(r) {
  const total = r[0] + r[1] + r[2] + r[3] + r[4];
  if (total < 7) return false;
  const m = total / 7;
  const tol = m * 0.7;
  return Math.abs(r[0] - m) < tol && Math.abs(r[1] - m) < tol && Math.abs(r[2] - 3 * m) < 3 * tol
    && Math.abs(r[3] - m) < tol && Math.abs(r[4] - m) < tol;
}

/**
 * Runs through (x, y) along (dx, dy) with the centre run dark: the centre of the 1:1:3:1:1 pattern
 * along that line (as a distance from (x, y)) and its total length, or null.
 */
function crossCheck(bin, w, h, x, y, dx, dy, maxRun) {
  const at = (k) => {
    const xx = Math.round(x + k * dx);
    const yy = Math.round(y + k * dy);
    if (xx < 0 || yy < 0 || xx >= w || yy >= h) return -1;
    return bin[yy * w + xx];
  };
  if (at(0) !== 1) return null;
  const r = [0, 0, 0, 0, 0];
  let k = 0;
  // Backwards: centre dark, light, dark.
  while (at(k) === 1) {
    r[2] += 1;
    k -= 1;
  }
  for (const [idx, want] of [[1, 0], [0, 1]]) {
    while (at(k) === want && r[idx] <= maxRun) {
      r[idx] += 1;
      k -= 1;
    }
    if (r[idx] === 0 || r[idx] > maxRun) return null;
  }
  const start = k + 1;
  k = 1;
  while (at(k) === 1) {
    r[2] += 1;
    k += 1;
  }
  for (const [idx, want] of [[3, 0], [4, 1]]) {
    while (at(k) === want && r[idx] <= maxRun) {
      r[idx] += 1;
      k += 1;
    }
    if (r[idx] === 0 || r[idx] > maxRun) return null;
  }
  if (!finderRatio(r)) return null;
  return { centre: start + r[0] + r[1] + r[2] / 2 - 0.5, total: r[0] + r[1] + r[2] + r[3] + r[4] };
}

/** Candidate finder centres {x, y, size (module), count}, merged across rows. */
function findFinders(bin, w, h) {
  const found = [];
  const add = (x, y, size) => {
    for (const f of found) {
      if (Math.abs(f.x - x) < size * 2 && Math.abs(f.y - y) < size * 2 && Math.abs(f.size - size) < Math.max(1, f.size * 0.5)) {
        f.x = (f.x * f.count + x) / (f.count + 1);
        f.y = (f.y * f.count + y) / (f.count + 1);
        f.size = (f.size * f.count + size) / (f.count + 1);
        f.count += 1;
        return;
      }
    }
    if (found.length < 200) found.push({ x, y, size, count: 1 });
  };
  for (let y = 0; y < h; y += 1) {
    const row = y * w;
    const runs = [0, 0, 0, 0, 0];
    let state = 0; // index of the current run; runs alternate dark (even) and light (odd)
    let x = 0;
    while (x < w && bin[row + x] === 0) x += 1;
    for (; x <= w; x += 1) {
      const v = x < w ? bin[row + x] : 0;
      const dark = state % 2 === 0;
      if ((v === 1) === dark) {
        runs[state] += 1;
        continue;
      }
      if (state < 4) {
        state += 1;
        runs[state] = 1;
        continue;
      }
      // Five runs ended at x - 1 (the last dark one).
      if (finderRatio(runs)) {
        const cx = x - runs[4] - runs[3] - runs[2] / 2 - 0.5;
        const total = runs.reduce((a, b) => a + b, 0);
        const v1 = crossCheck(bin, w, h, cx, y, 0, 1, total);
        if (v1) {
          const cy = y + v1.centre;
          const h1 = crossCheck(bin, w, h, cx, cy, 1, 0, total);
          if (h1) {
            const fx = cx + h1.centre;
            if (crossCheck(bin, w, h, fx, cy, 1, 1, total * 1.5)) add(fx, cy, (v1.total + h1.total) / 14);
          }
        }
      }
      // Slide by two: the last dark and light runs start the next pattern.
      runs[0] = runs[2];
      runs[1] = runs[3];
      runs[2] = runs[4];
      runs[3] = 1;
      runs[4] = 0;
      state = 3;
    }
  }
  return found;
}

const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);

/** Triples of finders likely to be one symbol's, best first: [topLeft, topRight, bottomLeft]. */
function chooseTriples(found) {
  const cands = found.filter((f) => f.count >= 2).sort((a, b) => b.count - a.count).slice(0, 12);
  const most = cands.length ? cands[0].count : 1;
  const out = [];
  for (let i = 0; i < cands.length; i += 1) {
    for (let j = i + 1; j < cands.length; j += 1) {
      for (let k = j + 1; k < cands.length; k += 1) {
        const t = [cands[i], cands[j], cands[k]];
        const sizes = t.map((f) => f.size);
        if (Math.max(...sizes) > 1.6 * Math.min(...sizes)) continue;
        // The top-left finder is the one opposite the longest side.
        const sides = [dist(t[1], t[2]), dist(t[0], t[2]), dist(t[0], t[1])];
        const longest = sides.indexOf(Math.max(...sides));
        const tl = t[longest];
        let [b, c] = t.filter((_, n) => n !== longest);
        const cross = (b.x - tl.x) * (c.y - tl.y) - (b.y - tl.y) * (c.x - tl.x);
        if (cross < 0) [b, c] = [c, b];
        const ab = dist(tl, b);
        const ac = dist(tl, c);
        const m = (tl.size + b.size + c.size) / 3;
        if (Math.min(ab, ac) < m * 10) continue;
        // Near a right angle, legs of similar length.
        const cos = ((b.x - tl.x) * (c.x - tl.x) + (b.y - tl.y) * (c.y - tl.y)) / (ab * ac);
        const ratio = Math.max(ab, ac) / Math.min(ab, ac);
        if (Math.abs(cos) > 0.35 || ratio > 1.5) continue;
        out.push({ finders: [tl, b, c], score: Math.abs(cos) + (ratio - 1) + 1 - Math.min(t[0].count, t[1].count, t[2].count) / most });
      }
    }
  }
  return out.sort((a, b) => a.score - b.score).slice(0, 4).map((o) => o.finders);
}

// ---- Perspective -------------------------------------------------------------------------------

/** The perspective transform taking four points `src` (module coordinates) to `dst` (pixels). */
function homography(src, dst) {
  const A = [];
  for (let i = 0; i < 4; i += 1) {
    const [x, y] = src[i];
    const [u, v] = dst[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c += 1) {
    let p = c;
    for (let r = c + 1; r < 8; r += 1) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    if (Math.abs(A[p][c]) < 1e-12) return null;
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

/** Pixel value (1 dark) at (x, y), 0 outside the image. */
const pixel = (bin, w, h, x, y) => {
  const xx = Math.round(x);
  const yy = Math.round(y);
  return xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : bin[yy * w + xx];
};

/**
 * The centre of the alignment pattern near module (mx, my) under `map`, searched within `radius`
 * modules by matching its 5x5 modules; null when nothing matches well.
 */
function findAlignment(bin, w, h, map, mx, my, radius) {
  const [px, py] = map(mx, my);
  const [ux, uy] = map(mx + 1, my);
  const [vx, vy] = map(mx, my + 1);
  const u = [ux - px, uy - py];
  const v = [vx - px, vy - py];
  const mod = Math.max(1, (Math.hypot(...u) + Math.hypot(...v)) / 2);
  const reach = Math.ceil(radius * mod);
  let best = -1;
  let sx = 0;
  let sy = 0;
  let n = 0;
  const step = mod > 6 ? Math.max(1, Math.floor(mod / 4)) : 1;
  for (let dy = -reach; dy <= reach; dy += step) {
    for (let dx = -reach; dx <= reach; dx += step) {
      const cx = px + dx;
      const cy = py + dy;
      let score = 0;
      for (let j = -2; j <= 2; j += 1) {
        for (let i = -2; i <= 2; i += 1) {
          const want = Math.max(Math.abs(i), Math.abs(j)) === 1 ? 0 : 1;
          if (pixel(bin, w, h, cx + i * u[0] + j * v[0], cy + i * u[1] + j * v[1]) === want) score += 1;
        }
      }
      // Nearer the prediction wins a tie: a score counts less far away.
      const s = score - Math.hypot(dx, dy) / (reach * 4 + 1);
      if (s > best + 1e-9) {
        best = s;
        sx = cx;
        sy = cy;
        n = 1;
      } else if (Math.abs(s - best) < 0.05) {
        sx += cx;
        sy += cy;
        n += 1;
      }
    }
  }
  if (best < 22) return null;
  return [sx / n, sy / n];
}

/** The perspective transform (modules to pixels) through the finders and the bottom-right alignment pattern. */
function transform(bin, w, h, finders, version) {
  const size = version * 4 + 17;
  const [tl, tr, bl] = finders;
  const far = size - 3.5;
  // Affine from the finders first, to predict the bottom-right corner.
  const ax = [(tr.x - tl.x) / (far - 3.5), (bl.x - tl.x) / (far - 3.5)];
  const ay = [(tr.y - tl.y) / (far - 3.5), (bl.y - tl.y) / (far - 3.5)];
  const affine = (x, y) => [tl.x + (x - 3.5) * ax[0] + (y - 3.5) * ax[1], tl.y + (x - 3.5) * ay[0] + (y - 3.5) * ay[1]];
  let corner = [[far, far], affine(far, far)];
  if (alignmentPositions(version).length) {
    const c = size - 6.5;
    const found = findAlignment(bin, w, h, affine, c, c, Math.min(4 + size / 8, 16));
    if (found) corner = [[c, c], found];
  }
  return homography([[3.5, 3.5], [far, 3.5], [3.5, far], corner[0]], [[tl.x, tl.y], [tr.x, tr.y], [bl.x, bl.y], corner[1]]);
}

/**
 * A reader of the symbol's modules for `version` from the three finders: a perspective transform
 * through the finders and the bottom-right alignment pattern, and per cell between alignment
 * patterns when they are found. `local` false keeps the single transform. `maps` keeps each
 * version's single transform for these finders (its alignment search is the costly part).
 */
function sampler(bin, w, h, finders, version, local, maps) {
  const pos = alignmentPositions(version);
  if (!maps.has(version)) maps.set(version, transform(bin, w, h, finders, version));
  const map = maps.get(version);
  if (!map) return null;
  let locate = map;
  if (local && pos.length > 2) {
    // The alignment grid's points, each found near where the transform puts it.
    const n = pos.length;
    const grid = [];
    for (let j = 0; j < n; j += 1) {
      for (let i = 0; i < n; i += 1) {
        const mx = pos[i] + 0.5;
        const my = pos[j] + 0.5;
        const corner3 = (i === 0 && j === 0) || (i === n - 1 && j === 0) || (i === 0 && j === n - 1);
        grid.push((!corner3 && findAlignment(bin, w, h, map, mx, my, 2.5)) || map(mx, my));
      }
    }
    const cells = new Map();
    locate = (x, y) => {
      let i = 0;
      while (i < n - 2 && x >= pos[i + 1] + 0.5) i += 1;
      let j = 0;
      while (j < n - 2 && y >= pos[j + 1] + 0.5) j += 1;
      const key = j * n + i;
      if (!cells.has(key)) {
        const x0 = pos[i] + 0.5;
        const x1 = pos[i + 1] + 0.5;
        const y0 = pos[j] + 0.5;
        const y1 = pos[j + 1] + 0.5;
        cells.set(key, homography([[x0, y0], [x1, y0], [x0, y1], [x1, y1]],
          [grid[j * n + i], grid[j * n + i + 1], grid[(j + 1) * n + i], grid[(j + 1) * n + i + 1]]) || map);
      }
      return cells.get(key)(x, y);
    };
  }
  return (row, col) => {
    const [x, y] = locate(col + 0.5, row + 0.5);
    return pixel(bin, w, h, x, y);
  };
}

/**
 * The version the finders' spacing suggests: each side's length in modules, the modules measured
 * across both its finders along that side (a symbol turned 45 degrees has longer runs across).
 */
function estimateVersion(bin, w, h, finders) {
  const [tl, tr, bl] = finders;
  let modules = 0;
  for (const [a, b] of [[tl, tr], [tl, bl]]) {
    const d = dist(a, b);
    const dx = (b.x - a.x) / d;
    const dy = (b.y - a.y) / d;
    const along = (f) => crossCheck(bin, w, h, f.x, f.y, dx, dy, f.size * 7)?.total / 7 || f.size;
    modules += d / ((along(a) + along(b)) / 2) / 2;
  }
  return Math.round((modules + 7 - 17) / 4);
}

/** The text of the QR code in `image`, or null. */
export function decodeQr(image) {
  try {
    const { width: w, height: h } = image;
    if (!(w > 20 && h > 20) || !image.data || image.data.length < w * h) return null;
    const bin = binarize(grey(image), w, h);
    for (const finders of chooseTriples(findFinders(bin, w, h))) {
      const guess = estimateVersion(bin, w, h, finders);
      const tried = new Set();
      const maps = new Map();
      const versions = [guess, guess + 1, guess - 1, guess + 2, guess - 2];
      for (let k = 0; k < versions.length; k += 1) {
        let version = versions[k];
        if (version < 1 || version > 40 || tried.has(version)) continue;
        tried.add(version);
        if (version >= 7) {
          // The version information, read with the guessed grid, names the true version.
          const read = sampler(bin, w, h, finders, version, false, maps);
          const said = read ? readVersion(read, version * 4 + 17) : 0;
          if (said && said !== version) {
            if (tried.has(said)) continue;
            version = said;
            tried.add(said);
          }
        }
        for (const local of [true, false]) {
          const read = sampler(bin, w, h, finders, version, local, maps);
          const text = read && decodeGrid(read, version);
          if (text !== null && text !== undefined) return text;
          if (alignmentPositions(version).length <= 2) break;
        }
      }
    }
    return null;
  } catch {
    return null;
  }
}
