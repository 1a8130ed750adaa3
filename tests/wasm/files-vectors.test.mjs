// docs/vectors/files-v1.json (docs/PROTOCOL.md section 18) checked twice: independently with
// Node's own AES-256-GCM and SHA-256 (nonce, associated data and header rebuilt from the spec), and
// through the wasm binding the page uses (seal, open, verify-only open with the running hash, and
// every reject case with its named error).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { ROOT } from '../lib/server.mjs';

const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/files-v1.json`, 'utf8'));
const core = await import(`${ROOT}/web/core/parley.js`);
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));

before(async () => {
  await core.init({ wasmBinary: readFileSync(`${ROOT}/web/core/parley-core.wasm`) });
});

function spec(id, index, last) {
  const flags = last ? 1 : 0;
  const nonce = Buffer.alloc(12);
  nonce[7] = flags;
  nonce.writeUInt32BE(index, 8);
  const ad = Buffer.alloc(22);
  ad[0] = 1;
  Buffer.from(id).copy(ad, 1);
  ad.writeUInt32BE(index, 17);
  ad[21] = flags;
  const header = Buffer.from([1, flags, 0, 0, 0, 0]);
  header.writeUInt32BE(index, 2);
  return { nonce, ad, header };
}

test('files-v1: every field follows from section 18 (Node crypto, independent of the core)', () => {
  assert.equal(V.version, 1);
  for (const f of V.files) {
    const key = unhex(f.key);
    const id = unhex(f.id);
    const whole = [];
    const count = Math.max(1, Math.ceil(f.size / f.chunk));
    assert.equal(f.chunks.length, count, f.name);
    f.chunks.forEach((c, i) => {
      const pt = unhex(c.plaintext);
      assert.equal(c.index, i);
      assert.equal(c.last, i === count - 1);
      assert.equal(pt.length, c.last ? f.size - i * f.chunk : f.chunk);
      const { nonce, ad, header } = spec(id, c.index, c.last);
      assert.equal(c.nonce, hex(nonce));
      assert.equal(c.ad, hex(ad));
      const enc = createCipheriv('aes-256-gcm', key, nonce).setAAD(ad);
      const body = Buffer.concat([enc.update(pt), enc.final()]);
      const sealed = Buffer.concat([header, body, enc.getAuthTag()]);
      assert.equal(c.sealed, hex(sealed));
      const dec = createDecipheriv('aes-256-gcm', key, nonce).setAAD(ad);
      dec.setAuthTag(sealed.subarray(sealed.length - 16));
      assert.equal(hex(Buffer.concat([dec.update(sealed.subarray(6, sealed.length - 16)), dec.final()])), c.plaintext);
      whole.push(pt);
    });
    assert.equal(createHash('sha256').update(Buffer.concat(whole)).digest('hex'), f.sha256);
  }
});

test('files-v1: the core seals and opens every chunk, and its running hash matches', () => {
  let chunks = 0;
  for (const f of V.files) {
    const key = unhex(f.key);
    const id = unhex(f.id);
    const hash = core.FileHash.create();
    const checked = core.FileHash.create();
    for (const c of f.chunks) {
      assert.equal(hex(core.fileSealChunk(key, id, c.index, c.last, unhex(c.plaintext))), c.sealed);
      assert.equal(hex(core.fileOpenChunk(key, id, c.index, c.last, unhex(c.sealed), hash)), c.plaintext);
      assert.equal(core.fileCheckChunk(key, id, c.index, c.last, unhex(c.sealed), checked), c.plaintext.length / 2);
      chunks += 1;
    }
    assert.equal(hex(hash.digest()), f.sha256);
    assert.equal(checked.matches(unhex(f.sha256)), true);
    const wrong = unhex(f.sha256);
    wrong[0] ^= 1;
    assert.equal(checked.matches(wrong), false);
    hash.free();
    checked.free();
  }
  assert.ok(chunks >= 6);
});

test('files-v1: every reject fails with its named error', () => {
  assert.ok(V.rejects.length >= 10);
  for (const r of V.rejects) {
    const f = V.files[r.file];
    const hash = core.FileHash.create();
    const before0 = hex(hash.digest());
    assert.throws(() => core.fileOpenChunk(unhex(f.key), unhex(f.id), r.index, r.last, unhex(r.sealed), hash),
      (e) => e instanceof core.ParleyError && e.codeName === r.error, r.why);
    assert.equal(hex(hash.digest()), before0, r.why);
    hash.free();
  }
});

test('file chunks: the binding checks its arguments and does not leak', () => {
  const key = new Uint8Array(32);
  const id = new Uint8Array(16);
  assert.throws(() => core.fileSealChunk(key, id, -1, false, new Uint8Array(1)), TypeError);
  assert.throws(() => core.fileSealChunk(key, id, 0, 1, new Uint8Array(1)), TypeError);
  assert.throws(() => core.fileSealChunk(key.subarray(1), id, 0, false, new Uint8Array(1)), TypeError);
  assert.throws(() => core.fileSealChunk(key, id, 0, false, new Uint8Array(core.FILE_CHUNK_MAX + 1)),
    (e) => e.codeName === 'TOO_LARGE');
  const pt = new Uint8Array(core.FILE_CHUNK_MAX).fill(7);
  const sealed = core.fileSealChunk(key, id, 0xffffffff, true, pt);
  assert.equal(sealed.length, pt.length + core.FILE_OVERHEAD);
  const used = core.heapUsed();
  for (let i = 0; i < 200; i += 1) {
    core.fileCheckChunk(key, id, 0xffffffff, true, sealed);
    core.fileOpenChunk(key, id, 0xffffffff, true, sealed);
  }
  assert.equal(core.heapUsed(), used);
});

// web/js/files-crypto.js: the page's chunk sealer on WebCrypto (Node's, here) and on the core give
// the vectors' bytes, and refuse every reject with the core's error, leaving the hash as it was.
const { fileChunks } = await import(`${ROOT}/web/js/files-crypto.js`);

for (const native of [true, false]) {
  const how = native ? 'WebCrypto' : 'the core';
  test(`files-v1: the page's chunk sealer on ${how} seals, checks and hashes every chunk`, async () => {
    for (const f of V.files) {
      const chunks = fileChunks(unhex(f.key), unhex(f.id), { native });
      assert.equal(chunks.native, native);
      const hash = core.FileHash.create();
      const head = unhex('01aa');
      for (const c of f.chunks) {
        const framed = await chunks.seal(c.index, c.last, unhex(c.plaintext), head);
        assert.equal(hex(framed), `01aa${c.sealed}`);
        assert.equal(await chunks.check(c.index, c.last, unhex(c.sealed), () => hash), c.plaintext.length / 2);
      }
      assert.equal(hex(hash.digest()), f.sha256);
      hash.free();
    }
  });

  test(`files-v1: the page's chunk sealer on ${how} refuses every reject with the core's error`, async () => {
    for (const r of V.rejects) {
      const f = V.files[r.file];
      const chunks = fileChunks(unhex(f.key), unhex(f.id), { native });
      const hash = core.FileHash.create();
      const before0 = hex(hash.digest());
      await assert.rejects(chunks.check(r.index, r.last, unhex(r.sealed), () => hash),
        (e) => e instanceof core.ParleyError && e.codeName === r.error, `${how}: ${r.why}`);
      assert.equal(hex(hash.digest()), before0, r.why);
      hash.free();
    }
    const chunks = fileChunks(new Uint8Array(32), new Uint8Array(16), { native });
    await assert.rejects(chunks.seal(0, true, new Uint8Array(core.FILE_CHUNK_MAX + 1), new Uint8Array(0)),
      (e) => e.codeName === 'TOO_LARGE');
    // Its arguments are checked as the core's binding checks them.
    assert.throws(() => fileChunks(new Uint8Array(16), new Uint8Array(16), { native }), TypeError);
    assert.throws(() => fileChunks(new Uint8Array(32), new Uint8Array(15), { native }), TypeError);
    const sealed = unhex(V.files[0].chunks[0].sealed);
    for (const [index, last] of [[-1, false], [2 ** 32, false], [1.5, false], [0, 1]]) {
      await assert.rejects(chunks.seal(index, last, new Uint8Array(1), new Uint8Array(0)), TypeError);
      await assert.rejects(chunks.check(index, last, sealed, () => null), TypeError);
    }
  });
}
