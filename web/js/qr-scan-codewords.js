// The QR decoder's second half (qr-scan-decoder.js finds and samples the symbol): from the grid of
// modules to the text. Format and version information, the function patterns, unmasking, the
// codewords in their zigzag order, the blocks de-interleaved, Reed-Solomon correction over GF(256)
// (Berlekamp-Massey, Chien search, Forney) and the data segments (numeric, alphanumeric, byte;
// ECI headers skipped). Written from the concepts of ISO/IEC 18004; nothing here throws on bad
// input: a grid that does not read returns null.

// ---- GF(256), primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 ----------------------------------
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i += 1) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i += 1) EXP[i] = EXP[i - 255];
const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);
const div = (a, b) => (a ? EXP[LOG[a] + 255 - LOG[b]] : 0);

/** Value at x of the polynomial with coefficients `p` (lowest power first). */
function evalLow(p, x) {
  let y = 0;
  for (let i = p.length - 1; i >= 0; i -= 1) y = mul(y, x) ^ p[i];
  return y;
}

/**
 * Corrects one Reed-Solomon block in place: `block` holds its data then `ecLen` EC codewords
 * (the first byte is the highest power). Returns false when the errors are beyond repair.
 */
export function correctBlock(block, ecLen) {
  const n = block.length;
  // Syndromes S_j = r(alpha^j), j = 0 .. ecLen-1 (the generator's roots start at alpha^0).
  const synd = new Uint8Array(ecLen);
  let clean = true;
  for (let j = 0; j < ecLen; j += 1) {
    let s = 0;
    const a = EXP[j];
    for (let i = 0; i < n; i += 1) s = mul(s, a) ^ block[i];
    synd[j] = s;
    if (s) clean = false;
  }
  if (clean) return true;
  // Berlekamp-Massey: the error locator lambda (lowest power first).
  let lambda = [1];
  let prev = [1];
  let len = 0;
  let shift = 1;
  let lastD = 1;
  for (let k = 0; k < ecLen; k += 1) {
    let d = synd[k];
    for (let i = 1; i <= len; i += 1) d ^= mul(lambda[i] || 0, synd[k - i]);
    if (d === 0) {
      shift += 1;
      continue;
    }
    const coef = div(d, lastD);
    const next = lambda.slice();
    for (let i = 0; i < prev.length; i += 1) {
      const at = i + shift;
      while (next.length <= at) next.push(0);
      next[at] ^= mul(coef, prev[i]);
    }
    if (2 * len <= k) {
      prev = lambda;
      len = k + 1 - len;
      lastD = d;
      shift = 1;
    } else {
      shift += 1;
    }
    lambda = next;
  }
  while (lambda.length > 1 && lambda[lambda.length - 1] === 0) lambda.pop();
  if (lambda.length - 1 !== len || 2 * len > ecLen) return false;
  // Chien search: an error at power p (byte n-1-p) where lambda(alpha^-p) = 0.
  const powers = [];
  for (let p = 0; p < n; p += 1) {
    if (evalLow(lambda, EXP[(255 - p) % 255]) === 0) powers.push(p);
  }
  if (powers.length !== len) return false;
  // Forney: omega = S(x) lambda(x) mod x^ecLen; e = X * omega(X^-1) / lambda'(X^-1).
  const omega = new Uint8Array(ecLen);
  for (let i = 0; i < ecLen; i += 1) {
    let s = 0;
    for (let j = 0; j <= i && j < lambda.length; j += 1) s ^= mul(lambda[j], synd[i - j]);
    omega[i] = s;
  }
  const deriv = [];
  for (let i = 1; i < lambda.length; i += 1) deriv.push(i & 1 ? lambda[i] : 0);
  for (const p of powers) {
    const xInv = EXP[(255 - p) % 255];
    const den = evalLow(deriv, xInv);
    if (den === 0) return false;
    block[n - 1 - p] ^= mul(EXP[p], div(evalLow(omega, xInv), den));
  }
  return true;
}

// ---- Symbol structure ----------------------------------------------------------------------------
const LEVELS = ['M', 'L', 'H', 'Q']; // by the two EC bits of the format information
const LEVEL_INDEX = { L: 0, M: 1, Q: 2, H: 3 };
// EC codewords per block and number of blocks, versions 1..40, levels L, M, Q, H (ISO 18004 table 9).
const EC_PER_BLOCK = [
  [7, 10, 13, 17], [10, 16, 22, 28], [15, 26, 18, 22], [20, 18, 26, 16], [26, 24, 18, 22],
  [18, 16, 24, 28], [20, 18, 18, 26], [24, 22, 22, 26], [30, 22, 20, 24], [18, 26, 24, 28],
  [20, 30, 28, 24], [24, 22, 26, 28], [26, 22, 24, 22], [30, 24, 20, 24], [22, 24, 30, 24],
  [24, 28, 24, 30], [28, 28, 28, 28], [30, 26, 28, 28], [28, 26, 26, 26], [28, 26, 30, 28],
  [28, 26, 28, 30], [28, 28, 30, 24], [30, 28, 30, 30], [30, 28, 30, 30], [26, 28, 30, 30],
  [28, 28, 28, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30],
  [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30],
  [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30], [30, 28, 30, 30],
];
const BLOCKS = [
  [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 2, 2], [1, 2, 2, 4], [1, 2, 4, 4],
  [2, 4, 4, 4], [2, 4, 6, 5], [2, 4, 6, 6], [2, 5, 8, 8], [4, 5, 8, 8],
  [4, 5, 8, 11], [4, 8, 10, 11], [4, 9, 12, 16], [4, 9, 16, 16], [6, 10, 12, 18],
  [6, 10, 17, 16], [6, 11, 16, 19], [6, 13, 18, 21], [7, 14, 21, 25], [8, 16, 20, 25],
  [8, 17, 23, 25], [9, 17, 23, 34], [9, 18, 25, 30], [10, 20, 27, 32], [12, 21, 29, 35],
  [12, 23, 34, 37], [12, 25, 34, 40], [13, 26, 35, 42], [14, 28, 38, 45], [15, 29, 40, 48],
  [16, 31, 43, 51], [17, 33, 45, 54], [18, 35, 48, 57], [19, 37, 51, 60], [19, 38, 53, 63],
  [20, 40, 56, 66], [21, 43, 59, 70], [22, 45, 62, 74], [24, 47, 65, 77], [25, 49, 68, 81],
];

/** Module positions (rows and columns alike) of the alignment patterns' centres. */
export function alignmentPositions(version) {
  if (version < 2) return [];
  const size = version * 4 + 17;
  const count = Math.floor(version / 7) + 2;
  const step = version === 32 ? 26 : Math.ceil((version * 4 + 4) / (count * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7, i = 0; i < count - 1; i += 1, pos -= step) out.splice(1, 0, pos);
  return out;
}

/** 1 where a module belongs to a function pattern (no data), for a symbol of `version`. */
function functionMask(version) {
  const size = version * 4 + 17;
  const m = new Uint8Array(size * size);
  const fill = (r0, c0, h, w) => {
    for (let r = Math.max(0, r0); r < Math.min(size, r0 + h); r += 1) {
      for (let c = Math.max(0, c0); c < Math.min(size, c0 + w); c += 1) m[r * size + c] = 1;
    }
  };
  fill(0, 0, 9, 9); // finder, separator and format information
  fill(0, size - 8, 9, 8);
  fill(size - 8, 0, 8, 9);
  fill(6, 0, 1, size); // timing
  fill(0, 6, size, 1);
  const pos = alignmentPositions(version);
  for (const r of pos) {
    for (const c of pos) {
      if ((r === 6 && c === 6) || (r === 6 && c === size - 7) || (r === size - 7 && c === 6)) continue;
      fill(r - 2, c - 2, 5, 5);
    }
  }
  if (version >= 7) {
    fill(0, size - 11, 6, 3);
    fill(size - 11, 0, 3, 6);
  }
  return m;
}

const MASKS = [
  (r, c) => (r + c) % 2 === 0,
  (r) => r % 2 === 0,
  (r, c) => c % 3 === 0,
  (r, c) => (r + c) % 3 === 0,
  (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
  (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
  (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
  (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
];

// BCH codes of the format (15,5; generator 0x537, masked by 0x5412) and version (18,6; 0x1f25)
// information: every valid word, to match a read word by the least Hamming distance.
function bch(value, bits, gen, genBits) {
  let rem = value << (genBits - 1);
  for (let i = bits + genBits - 2; i >= genBits - 1; i -= 1) {
    if (rem & (1 << i)) rem ^= gen << (i - genBits + 1);
  }
  return (value << (genBits - 1)) | rem;
}
const FORMAT_WORDS = Array.from({ length: 32 }, (_, v) => bch(v, 5, 0x537, 11) ^ 0x5412);
const VERSION_WORDS = Array.from({ length: 34 }, (_, i) => bch(i + 7, 6, 0x1f25, 13));

function popcount(x) {
  let n = 0;
  for (let v = x; v; v &= v - 1) n += 1;
  return n;
}

/** The index of the nearest word of `words` to each of `reads`, if within `limit` bits. */
function nearest(words, reads, limit) {
  let best = -1;
  let dist = limit + 1;
  for (const r of reads) {
    for (let i = 0; i < words.length; i += 1) {
      const d = popcount(words[i] ^ r);
      if (d < dist) {
        dist = d;
        best = i;
      }
    }
  }
  return best;
}

/**
 * The version read from a version information block: `read(row, col)` gives a module (1 dark) of
 * a symbol of `size` modules. Returns the version, or 0 when neither copy reads.
 */
export function readVersion(read, size) {
  let a = 0;
  let b = 0;
  for (let i = 17; i >= 0; i -= 1) {
    const row = Math.floor(i / 3);
    const col = size - 11 + (i % 3);
    a = (a << 1) | read(row, col); // top right: bit i at (i/3, size-11+i%3)
    b = (b << 1) | read(col, row); // bottom left, transposed
  }
  const i = nearest(VERSION_WORDS, [a, b], 3);
  return i < 0 ? 0 : i + 7;
}

/** Format information from both copies: {level, mask} or null. */
function readFormat(read, size) {
  let a = 0;
  let b = 0;
  // Copy 1, around the top-left finder; bit 14 first.
  const first = [[8, 0], [8, 1], [8, 2], [8, 3], [8, 4], [8, 5], [8, 7], [8, 8], [7, 8], [5, 8], [4, 8], [3, 8], [2, 8], [1, 8], [0, 8]];
  for (const [r, c] of first) a = (a << 1) | read(r, c);
  // Copy 2: bits 14..8 down the bottom-left column, bits 7..0 along the top-right row.
  for (let i = 0; i < 7; i += 1) b = (b << 1) | read(size - 1 - i, 8);
  for (let i = 0; i < 8; i += 1) b = (b << 1) | read(8, size - 8 + i);
  const v = nearest(FORMAT_WORDS, [a, b], 3);
  if (v < 0) return null;
  return { level: LEVELS[v >> 3], mask: v & 7 };
}

// ---- Data segments -------------------------------------------------------------------------------
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

class Bits {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  left() {
    return this.bytes.length * 8 - this.pos;
  }

  take(n) {
    if (n > this.left()) throw new RangeError('short');
    let v = 0;
    for (let i = 0; i < n; i += 1, this.pos += 1) v = (v << 1) | ((this.bytes[this.pos >> 3] >> (7 - (this.pos & 7))) & 1);
    return v;
  }
}

/** The bytes of the segments of `data` (the corrected data codewords), or null. */
function segments(data, version) {
  const bits = new Bits(data);
  const band = version < 10 ? 0 : version < 27 ? 1 : 2;
  const out = [];
  try {
    while (bits.left() >= 4) {
      const mode = bits.take(4);
      if (mode === 0) break;
      if (mode === 7) { // ECI designator: read and ignored (the bytes are taken as UTF-8)
        const b0 = bits.take(8);
        if (b0 & 0x80) bits.take((b0 & 0x40) ? 16 : 8);
      } else if (mode === 1) {
        let n = bits.take([10, 12, 14][band]);
        while (n >= 3) {
          const v = bits.take(10);
          if (v > 999) return null;
          for (const ch of String(v).padStart(3, '0')) out.push(ch.charCodeAt(0));
          n -= 3;
        }
        if (n > 0) {
          const v = bits.take(n === 2 ? 7 : 4);
          if (v >= (n === 2 ? 100 : 10)) return null;
          for (const ch of String(v).padStart(n, '0')) out.push(ch.charCodeAt(0));
        }
      } else if (mode === 2) {
        let n = bits.take([9, 11, 13][band]);
        while (n >= 2) {
          const v = bits.take(11);
          if (v >= 45 * 45) return null;
          out.push(ALNUM.charCodeAt(Math.floor(v / 45)), ALNUM.charCodeAt(v % 45));
          n -= 2;
        }
        if (n === 1) {
          const v = bits.take(6);
          if (v >= 45) return null;
          out.push(ALNUM.charCodeAt(v));
        }
      } else if (mode === 4) {
        const n = bits.take([8, 16, 16][band]);
        for (let i = 0; i < n; i += 1) out.push(bits.take(8));
      } else {
        return null; // Kanji, structured append, FNC1: not written by our encoder
      }
    }
  } catch {
    return null;
  }
  return Uint8Array.from(out);
}

/**
 * The text of a symbol of `version` whose modules `read(row, col)` gives (1 dark), or null. The
 * version and format information, unmasking, de-interleaving and error correction happen here.
 */
export function decodeGrid(read, version) {
  if (!(version >= 1 && version <= 40)) return null;
  const size = version * 4 + 17;
  const format = readFormat(read, size);
  if (!format) return null;
  const fn = functionMask(version);
  const mask = MASKS[format.mask];
  // The codewords: column pairs from the right, upwards then downwards, skipping column 6.
  const total = Math.floor(fn.reduce((n, f) => n + (1 - f), 0) / 8);
  const raw = new Uint8Array(total);
  let bit = 0;
  for (let right = size - 1, up = true; right >= 1; right -= 2, up = !up) {
    if (right === 6) right = 5;
    for (let k = 0; k < size; k += 1) {
      const row = up ? size - 1 - k : k;
      for (let dc = 0; dc < 2; dc += 1) {
        const col = right - dc;
        if (fn[row * size + col]) continue;
        if (bit < total * 8) {
          const v = read(row, col) ^ (mask(row, col) ? 1 : 0);
          if (v) raw[bit >> 3] |= 0x80 >> (bit & 7);
        }
        bit += 1;
      }
    }
  }
  // De-interleave: data codewords of all blocks in turn (short blocks first), then their EC.
  const li = LEVEL_INDEX[format.level];
  const ecLen = EC_PER_BLOCK[version - 1][li];
  const nBlocks = BLOCKS[version - 1][li];
  const dataTotal = total - ecLen * nBlocks;
  const shortLen = Math.floor(dataTotal / nBlocks);
  const longCount = dataTotal % nBlocks;
  const shortCount = nBlocks - longCount;
  const blocks = [];
  for (let b = 0; b < nBlocks; b += 1) blocks.push(new Uint8Array(shortLen + (b >= shortCount ? 1 : 0) + ecLen));
  let k = 0;
  for (let i = 0; i < shortLen + 1; i += 1) {
    for (let b = 0; b < nBlocks; b += 1) {
      if (i < shortLen || b >= shortCount) blocks[b][i] = raw[k++];
    }
  }
  for (let i = 0; i < ecLen; i += 1) {
    for (let b = 0; b < nBlocks; b += 1) blocks[b][blocks[b].length - ecLen + i] = raw[k++];
  }
  const data = new Uint8Array(dataTotal);
  let at = 0;
  for (const block of blocks) {
    if (!correctBlock(block, ecLen)) return null;
    data.set(block.subarray(0, block.length - ecLen), at);
    at += block.length - ecLen;
  }
  const bytes = segments(data, version);
  if (!bytes) return null;
  return new TextDecoder('utf-8').decode(bytes);
}
