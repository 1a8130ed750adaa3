//# allFunctionsCalledOnLoad
// The core's wasm, checked against its build hash when the page is a bundle (scripts/bundle.mjs
// writes <meta name="parley-wasm" content="sha256-…">): the browser fetches it with that
// integrity and refuses other bytes. A page served from the source tree has no hash and loads
// the core as it is.
import * as core from '../core/parley.js';

/** Loads the core (memoised by core.init); false when its bytes do not match the build. */
export async function loadCore() {
  const hash = document.querySelector('meta[name="parley-wasm"]')?.content;
  if (!hash) {
    await core.init();
    return true;
  }
  let bytes;
  try {
    const res = await fetch(new URL('../core/parley-core.wasm', import.meta.url), { integrity: hash, credentials: 'omit' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch {
    document.dispatchEvent(new CustomEvent('parley-integrity', { detail: 'core/parley-core.wasm' }));
    return false;
  }
  await core.init({ wasmBinary: bytes });
  return true;
}

/** The build's version (a hash of the bundle), or null for a page served from the source tree. */
export function buildVersion() {
  return document.querySelector('meta[name="parley-build"]')?.content || null;
}
