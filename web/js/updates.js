//# allFunctionsCalledOnLoad
// The service worker of a bundle (web/sw.js): registered once the page runs, so that the next
// visit loads without the server. A new deployment installs beside the running version and waits;
// the page shows "A new version is ready" with "Reload", and only that button lets it take over
// (no code changes under an open vault). A page served from the source tree has no build and
// registers nothing.
import { buildVersion } from './build.js';

const CHECK_MS = 30 * 60_000; // how often an open page asks whether a new version was deployed

/**
 * Starts watching. `ready(reload)`: a new version waits, `reload()` switches to it.
 * `failed(text)`: a new version could not be installed (its files do not match its hashes).
 */
export function watchUpdates({ ready, failed }) {
  if (!buildVersion() || !('serviceWorker' in navigator)) return;
  const sw = navigator.serviceWorker;
  let asked = false;
  sw.addEventListener('controllerchange', () => {
    if (asked) location.reload();
  });
  sw.addEventListener('message', (ev) => {
    if (ev.data?.type === 'update-failed' && sw.controller) {
      failed(ev.data.mismatch
        ? 'A new version of Parley was deployed, but its files do not match their build hashes, so it was not installed. This version keeps running.'
        : 'A new version of Parley was deployed, but it could not be downloaded completely. This version keeps running.');
    }
  });
  sw.register('sw.js', { updateViaCache: 'none' }).then((reg) => {
    const offer = () => {
      // The first install has nothing to replace: it serves the next visit.
      if (!reg.waiting || !sw.controller) return;
      const waiting = reg.waiting;
      ready(() => {
        asked = true;
        waiting.postMessage('skip-waiting');
      });
    };
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      w?.addEventListener('statechange', () => {
        if (w.state === 'installed') offer();
      });
    });
    offer();
    setInterval(() => reg.update().catch(() => {}), CHECK_MS);
    window.addEventListener('online', () => reg.update().catch(() => {}));
  }).catch(() => {
    // No service worker (a private window, a browser that refuses it): the page works online.
  });
}
