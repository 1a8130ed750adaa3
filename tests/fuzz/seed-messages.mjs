// Writes the messages of docs/vectors/protocol-v1.json and protocol-v2.json (X3DH and PQXDH
// initial messages, ratchet messages), one file each, as a seed corpus for fuzz_message.
// Usage: seed-messages.mjs OUT_DIR
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
const root = new URL('../..', import.meta.url).pathname;
const vectors = JSON.parse(readFileSync(join(root, 'docs/vectors/protocol-v1.json'), 'utf8'));
const v2 = JSON.parse(readFileSync(join(root, 'docs/vectors/protocol-v2.json'), 'utf8'));
mkdirSync(out, { recursive: true });
let n = 0;
for (const e of vectors.conversation) {
  if (e.message) {
    writeFileSync(join(out, `message-${e.index}`), Buffer.from(e.message, 'hex'));
    n += 1;
  }
}
for (const c of [...v2.pqxdh, v2.x3dhNoOneTimePrekey]) {
  writeFileSync(join(out, `${c.name}-initial`), Buffer.from(c.initial.message, 'hex'));
  writeFileSync(join(out, `${c.name}-reply`), Buffer.from(c.reply.message, 'hex'));
  n += 2;
}
writeFileSync(join(out, 'bundle'), Buffer.from(vectors.x3dh.bobBundle, 'hex'));
console.log(`${n + 1} seeds in ${out}`);
