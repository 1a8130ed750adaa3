// The crypto core the page uses (web/core, made by the build), loaded in Node once per test
// process: for tests that make or open what the pages make (envelopes, bundles, device lists).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

let loaded = null;

export function nodeCore() {
  loaded = loaded || import(`${ROOT}/web/core/parley.js`).then(async (core) => {
    await core.init({ wasmBinary: readFileSync(join(ROOT, 'web/core/parley-core.wasm')) });
    return core;
  });
  return loaded;
}
