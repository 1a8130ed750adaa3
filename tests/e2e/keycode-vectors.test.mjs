// Key codes (docs/PROTOCOL.md 20.8) without a browser: docs/vectors/keycode-v1.json is derived
// here from the section (SHA-256 from node:crypto and base32 by BigInt, not the page's code) for
// the identity keys of the core's room vectors (docs/vectors/rooms-v1.json) and a few made ones,
// and must equal the checked-in file byte for byte; then the page's module (web/js/keycode.js)
// must make every valid code, read every accepted spelling as its key and refuse every invalid
// code with the error the file names.
// `node tests/e2e/keycode-vectors.test.mjs --write` rewrites the file (deterministic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = join(ROOT, 'docs/vectors/keycode-v1.json');
const CORE = JSON.parse(readFileSync(join(ROOT, 'docs/vectors/rooms-v1.json'), 'utf8'));
const kc = await import(join(ROOT, 'web/js/keycode.js'));

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// The section's construction, written again: key || SHA-256("parley-key-code-v1" || key)[0..2],
// as one 272-bit number shifted left by 3, in 55 base32 digits, 11 groups of 5.
function code(keyHex, version = 1, checkHex = null) {
  const key = Buffer.from(keyHex, 'hex');
  const check = checkHex ? Buffer.from(checkHex, 'hex')
    : createHash('sha256').update(Buffer.concat([Buffer.from('parley-key-code-v1'), key])).digest().subarray(0, 2);
  let n = BigInt(`0x${Buffer.concat([key, check]).toString('hex')}`) << 3n;
  let digits = '';
  for (let i = 0; i < 55; i += 1) {
    digits = ALPHABET[Number(n & 31n)] + digits;
    n >>= 5n;
  }
  return `PK${version}-${digits.match(/.{5}/g).join('-')}`;
}

export function derive() {
  const keys = [
    ...['alice', 'bob', 'carol'].map((who) => ({ label: `${who} (docs/vectors/rooms-v1.json)`, key: CORE.people[who].identityKey })),
    { label: 'all zero', key: '00'.repeat(32) },
    { label: 'all ones', key: 'ff'.repeat(32) },
    { label: 'counting', key: Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex') },
  ];
  const valid = keys.map((k) => ({ ...k, code: code(k.key) }));
  const c = valid[0].code;
  const key = valid[0].key;
  const accepted = [
    { why: 'lower case', text: c.toLowerCase(), key },
    { why: 'mixed case', text: c.slice(0, 30) + c.slice(30).toLowerCase(), key },
    { why: 'spaces, tabs and line breaks around and inside', text: ` \t${c.slice(0, 34)}\r\n  ${c.slice(34)}\n`, key },
  ];
  const swap = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const flipped = Buffer.from(key, 'hex');
  flipped[31] ^= 1;
  const wrongCheck = code(key, 1, createHash('sha256').update(Buffer.from(key, 'hex')).digest().subarray(0, 2).toString('hex'));
  const last = c.length - 1;
  const invalid = [
    { why: 'empty', text: '', error: 'FORMAT' },
    { why: 'only the prefix', text: 'PK1-', error: 'LENGTH' },
    { why: 'no prefix', text: c.slice(4), error: 'FORMAT' },
    { why: 'another prefix', text: `KP1-${c.slice(4)}`, error: 'FORMAT' },
    { why: 'prefix without its hyphen', text: `PK1${c.slice(4)}`, error: 'FORMAT' },
    { why: 'version 2', text: code(key, 2), error: 'VERSION' },
    { why: 'version 0', text: code(key, 0), error: 'VERSION' },
    { why: 'version 01', text: `PK01-${c.slice(4)}`, error: 'VERSION' },
    { why: 'a character changed in the key', text: swap(c, 10), error: 'CHECKSUM' },
    { why: 'a character changed in the checksum', text: swap(c, last - 2), error: 'CHECKSUM' },
    { why: 'two characters swapped', text: c.slice(0, 5) + c[6] + c[5] + c.slice(7), error: 'CHECKSUM' },
    { why: 'the checksum of another key', text: code(flipped.toString('hex'), 1, createHash('sha256').update(Buffer.concat([Buffer.from('parley-key-code-v1'), Buffer.from(key, 'hex')])).digest().subarray(0, 2).toString('hex')), error: 'CHECKSUM' },
    { why: 'a checksum without the domain label', text: wrongCheck, error: 'CHECKSUM' },
    { why: 'last group cut short', text: c.slice(0, -1), error: 'LENGTH' },
    { why: 'last group missing', text: c.slice(0, -6), error: 'LENGTH' },
    { why: 'a character more', text: `${c}A`, error: 'LENGTH' },
    { why: 'a group more', text: `${c}-AAAAA`, error: 'LENGTH' },
    { why: 'trailing hyphen', text: `${c}-`, error: 'LENGTH' },
    { why: 'trailing text', text: `${c} thanks`, error: 'LENGTH' },
    { why: 'the same code twice', text: `${c}${c}`, error: 'LENGTH' },
    { why: 'no hyphens between groups', text: `PK1-${c.slice(4).replaceAll('-', '')}`, error: 'LENGTH' },
    { why: 'groups of another size', text: `PK1-${c.slice(4).replaceAll('-', '').match(/.{1,11}/g).join('-')}`, error: 'LENGTH' },
    { why: 'a group moved by one', text: `PK1-${c.slice(4, 8)}-${c.slice(8, 9)}${c.slice(10)}`, error: 'FORMAT' },
    { why: 'the digit 0', text: `${c.slice(0, 5)}0${c.slice(6)}`, error: 'CHARACTER' },
    { why: 'the digit 1', text: `${c.slice(0, 5)}1${c.slice(6)}`, error: 'CHARACTER' },
    { why: 'padding sign', text: `${c.slice(0, last)}=`, error: 'CHARACTER' },
    { why: 'a non-ASCII letter', text: `${c.slice(0, 5)}É${c.slice(6)}`, error: 'CHARACTER' },
    { why: 'a no-break space for a character', text: `${c.slice(0, 5)}\u00a0${c.slice(6)}`, error: 'CHARACTER' },
    { why: 'last character with its low bits set', text: `${c.slice(0, last)}${ALPHABET[ALPHABET.indexOf(c[last]) | 1]}`, error: 'PADDING' },
    { why: 'too long to read', text: `${c}${' '.repeat(kc.KEY_CODE_MAX_INPUT)}`, error: 'LENGTH' },
  ];
  return {
    about: 'Key codes (docs/PROTOCOL.md 20.8): valid ones are the codes of their keys (hex); accepted ones are other spellings read as the key; '
      + 'invalid ones are refused with the error named. Written by tests/e2e/keycode-vectors.test.mjs --write.',
    version: 1,
    valid,
    accepted,
    invalid,
  };
}

const text = `${JSON.stringify(derive(), null, 2)}\n`;
if (process.argv.includes('--write')) {
  writeFileSync(FILE, text);
  process.exit(0);
}
const V = JSON.parse(readFileSync(FILE, 'utf8'));
const hexOf = (b) => Buffer.from(b).toString('hex');

test('the file is what section 20.8 makes, byte for byte', () => {
  assert.equal(readFileSync(FILE, 'utf8'), text);
});

test('every valid key has its code, and the code reads as the key', async () => {
  assert.ok(V.valid.length >= 6);
  for (const { key, code: c } of V.valid) {
    assert.equal(await kc.keyCode(new Uint8Array(Buffer.from(key, 'hex'))), c);
    assert.equal(hexOf(await kc.readKeyCode(c)), key);
    assert.equal(kc.shortKeyCode(new Uint8Array(Buffer.from(key, 'hex'))), `${c.slice(0, 15)}…`);
  }
  for (const { text: t, key, why } of V.accepted) assert.equal(hexOf(await kc.readKeyCode(t)), key, why);
});

test('every invalid code is refused with its error', async () => {
  assert.ok(V.invalid.length >= 25);
  for (const { text: t, error, why } of V.invalid) {
    await assert.rejects(kc.readKeyCode(t), (e) => e instanceof kc.KeyCodeError && e.code === error, why);
  }
  for (const v of [null, 1, {}, ['PK1-']]) await assert.rejects(kc.readKeyCode(v), kc.KeyCodeError);
});

test("the document's rules are the module's", () => {
  const doc = readFileSync(join(ROOT, 'docs/PROTOCOL.md'), 'utf8');
  const start = doc.indexOf('### 20.8');
  assert.ok(start > 0, 'section 20.8');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  for (const s of ['"parley-key-code-v1"', '55 characters', '11 groups of 5', `${kc.KEY_CODE_MAX_INPUT} characters`,
    'This key code is damaged or incomplete.', V.valid[0].code]) {
    assert.ok(section.includes(s), `${s} documented`);
  }
});
