// Writes the WebAssembly export list from the public header: every function declared with
// PARLEY_API, plus the allocator the JavaScript binding needs. Usage: gen-exports.mjs HEADER OUT
import { readFileSync, writeFileSync } from 'node:fs';

const [header, out] = process.argv.slice(2);
if (!header || !out) {
  console.error('usage: gen-exports.mjs HEADER OUT');
  process.exit(2);
}
const text = readFileSync(header, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const names = new Set();
for (const m of text.matchAll(/^PARLEY_API\b[^;{]*?\b(parley_\w+)\s*\(/gm)) {
  names.add(`_${m[1]}`);
}
if (names.size === 0) {
  console.error(`gen-exports: no PARLEY_API functions found in ${header}`);
  process.exit(1);
}
const list = [...names, '_malloc', '_free'];
const json = `${JSON.stringify(list)}\n`;
let old = '';
try { old = readFileSync(out, 'utf8'); } catch { /* first run */ }
if (old !== json) writeFileSync(out, json);
