// The service worker of the static bundle (scripts/bundle.mjs fills in BUILD): it keeps the whole
// app (HTML, scripts, style, wasm, icons) so that the page loads without the server. Every file
// is checked against its build hash before it is kept; one that differs fails the install, and
// the version running keeps running. A new version waits until the person presses "Reload"
// (web/js/updates.js posts "skip-waiting"): code never changes under an open vault.
// The API, the WebSocket and anything not in the build go to the network untouched; config.json
// (written by whoever deploys) from the network, or the last copy kept when it cannot be reached.
const BUILD = null; // replaced by scripts/bundle.mjs: { version, files: { path: "sha256-…" } }

const PREFIX = 'parley-app-';
const CACHE = BUILD ? PREFIX + BUILD.version : null;
const CONFIG_CACHE = 'parley-config';
const scope = new URL(self.registration.scope);

function b64(buf) {
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s);
}

class Mismatch extends Error {}

async function precache() {
  if (!BUILD) throw new Error('this service worker was not built (scripts/bundle.mjs)');
  const cache = await caches.open(CACHE);
  try {
    for (const [path, hash] of Object.entries(BUILD.files)) {
      const url = new URL(path, scope).href;
      // Revalidated: a file the page has just loaded comes back as 304 from the HTTP cache.
      const res = await fetch(url, { cache: 'no-cache', credentials: 'omit' });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      const bytes = await res.clone().arrayBuffer();
      const got = `sha256-${b64(await crypto.subtle.digest('SHA-256', bytes))}`;
      if (got !== hash) throw new Mismatch(`${path} does not match its build hash`);
      await cache.put(url, res);
    }
  } catch (e) {
    await caches.delete(CACHE);
    const all = await self.clients.matchAll({ includeUncontrolled: true });
    for (const c of all) c.postMessage({ type: 'update-failed', mismatch: e instanceof Mismatch, reason: String(e.message) });
    throw e;
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

async function fromCache(url) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(url);
  return hit || fetch(url);
}

async function config(request) {
  const cache = await caches.open(CONFIG_CACHE);
  try {
    const res = await fetch(request);
    if (res.ok) await cache.put(request.url, res.clone());
    else if (res.status === 404) await cache.delete(request.url);
    return res;
  } catch (e) {
    const hit = await cache.match(request.url);
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || !BUILD) return;
  const url = new URL(req.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  const path = url.pathname.slice(scope.pathname.length);
  if (req.mode === 'navigate' && (path === '' || path === 'index.html')) {
    event.respondWith(fromCache(new URL('index.html', scope).href));
  } else if (path === 'config.json') {
    event.respondWith(config(req));
  } else if (Object.hasOwn(BUILD.files, path)) {
    event.respondWith(fromCache(new URL(path, scope).href));
  }
});
