// parley-tool, native and wasm (Node): hex in, hex out, exit 0 success / 1 rejected / 2 usage,
// and `vectors` / `vectors-v2` reproduce docs/vectors/protocol-v1.json / protocol-v2.json byte for
// byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT } from '../lib/server.mjs';

const TOOLS = {
  native: (args) => spawnSync(`${ROOT}/build/native/parley-tool`, args, { encoding: 'utf8' }),
  wasm: (args) => spawnSync(process.execPath, [`${ROOT}/build/wasm/parley-tool.js`, ...args], { encoding: 'utf8' }),
};

// McGrew-Viega test case 16 (AES-256-GCM), RFC 5869 A.1, RFC 4231 4.2, RFC 7748 5.2, RFC 8032 TEST 1.
const K = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308';
const N = 'cafebabefacedbaddecaf888';
const A = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
const P = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
const C = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b';
const ED_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const ED_SIG = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

for (const [name, run] of Object.entries(TOOLS)) {
  const ok = (args, stdout) => {
    const r = run(args);
    assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
    if (stdout !== undefined) assert.equal(r.stdout.trim(), stdout);
    return r;
  };
  const status = (args) => run(args).status;

  test(`${name}: aead-seal and aead-open`, () => {
    ok(['aead-seal', K, N, A, P], C);
    ok(['aead-open', K, N, A, C], P);
    ok(['aead-seal', K, N, '', ''], ok(['aead-seal', K, N, '', '']).stdout.trim());
    const flipped = C.slice(0, -1) + (C.at(-1) === '0' ? '1' : '0');
    assert.equal(status(['aead-open', K, N, A, flipped]), 1, 'forged tag rejected');
    assert.equal(status(['aead-open', K, N, A, 'abcd']), 1, 'shorter than a tag rejected');
    assert.equal(status(['aead-seal', K.slice(2), N, A, P]), 2, 'short key is a usage error');
    assert.equal(status(['aead-seal', K, N, 'zz', P]), 2, 'bad hex is a usage error');
    assert.equal(status(['aead-seal', K, N, A]), 2, 'missing argument');
  });

  test(`${name}: hkdf and hmac`, () => {
    ok(['hkdf', '0b'.repeat(22), '000102030405060708090a0b0c', 'f0f1f2f3f4f5f6f7f8f9', '42'],
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    ok(['hkdf', '0b', '', '', '8160']);
    assert.equal(status(['hkdf', '0b', '', '', '8161']), 1, 'LENGTH too large');
    assert.equal(status(['hkdf', '0b', '', '', 'ten']), 2);
    assert.equal(status(['hkdf', '0b', '', '', '0']), 2);
    ok(['hmac', '0b'.repeat(20), '4869205468657265'],
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  });

  test(`${name}: x25519 and ed25519-verify`, () => {
    ok(['x25519', 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
      'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'],
    'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
    assert.equal(status(['x25519', '11'.repeat(32), '00'.repeat(32)]), 1, 'all-zero secret');
    assert.equal(status(['ed25519-verify', ED_PUB, '', ED_SIG]), 0);
    assert.equal(status(['ed25519-verify', ED_PUB, '00', ED_SIG]), 1);
    assert.equal(status(['ed25519-verify', ED_PUB, '', ED_SIG.slice(2)]), 2);
  });

  test(`${name}: usage errors`, () => {
    assert.equal(status([]), 2);
    assert.equal(status(['frobnicate']), 2);
    assert.match(run(['frobnicate']).stderr, /usage: parley-tool/);
  });

  test(`${name}: vectors reproduces docs/vectors/protocol-v1.json`, () => {
    const r = ok(['vectors']);
    assert.equal(r.stdout, readFileSync(`${ROOT}/docs/vectors/protocol-v1.json`, 'utf8'));
  });

  test(`${name}: vectors-v2 reproduces docs/vectors/protocol-v2.json`, () => {
    const r = ok(['vectors-v2']);
    assert.equal(r.stdout, readFileSync(`${ROOT}/docs/vectors/protocol-v2.json`, 'utf8'));
  });
}
