// Loaded first, as a plain script: when a part of the app cannot be loaded or does not match the
// hash it was built with (Subresource Integrity, scripts/bundle.mjs), the browser refuses it and
// the app does not start; this says so in plain words instead of leaving a blank page.
(function guard() {
  const failed = [];
  function say() {
    const box = document.getElementById('integrity-error');
    if (!box) return;
    box.textContent = `Parley did not start: ${failed.join(', ')} could not be loaded or does not match `
      + 'the version of the app this page was built with, so none of it was run. Reload the page; '
      + 'if this keeps happening, tell whoever runs this site.';
    box.hidden = false;
    for (const id of ['auth-screen', 'locked-screen', 'link-screen', 'app-screen']) {
      const el = document.getElementById(id);
      if (el) el.hidden = true;
    }
  }
  document.addEventListener('error', (ev) => {
    const el = ev.target;
    if (!(el instanceof HTMLScriptElement || el instanceof HTMLLinkElement)) return;
    // Tagged parts (the bundle), and the entry module however it is served (its graph failing
    // to load, a part answered with an error, leaves nothing else to say so).
    if (!el.integrity && !(el instanceof HTMLScriptElement && el.type === 'module')) return;
    // The entry module fails with any module of its graph: name it only when it is the one.
    if (el instanceof HTMLScriptElement && el.type === 'module' && failed.length) return;
    failed.push(el.getAttribute('src') || el.getAttribute('href'));
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', say, { once: true });
    else say();
  }, true);
  // js/build.js reports a wasm core that does not match the same way.
  document.addEventListener('parley-integrity', (ev) => {
    failed.push(String(ev.detail));
    say();
  });
}());
