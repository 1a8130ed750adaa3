//# allFunctionsCalledOnLoad
// The page's shell, shared by app.js and the views: what is logged in (state), which screen shows,
// the banner, buttons that run an action, and errors in plain words.
import * as core from '../core/parley.js';
import { ApiError } from './api.js';
import { UserError } from './errors.js';
import { VaultError } from './vault.js';
import { $ } from './dom.js';

// The tab's session generation (app.js: a lost tab lock or a log-out starts a new one), read by
// busy() so that a failure of a session that has ended is not shown.
let currentGeneration = () => 0;

export function setGenerationSource(fn) {
  currentGeneration = fn;
}

export const state = {
  username: null,
  token: null,
  expiresAt: 0,
  vault: null,
  signaling: null,
  messenger: null,
  chat: null,
  refreshTimer: null,
  ice: null, // the ICE servers, kept current (relay.js)
};

export function show(screen) {
  for (const id of ['auth-screen', 'locked-screen', 'link-screen', 'app-screen']) $(id).hidden = id !== screen;
  const inApp = screen === 'app-screen';
  $('logout').hidden = !inApp;
  $('whoami').hidden = !inApp;
  $('connection').hidden = !inApp;
}

// The banner: one message for the whole page, with an optional action, until dismissed or
// replaced.
let bannerAction = null;

export function banner(text, action = null) {
  $('banner-text').textContent = text || '';
  $('banner').hidden = !text;
  bannerAction = text ? action : null;
  $('banner-action').hidden = !bannerAction;
  if (bannerAction) $('banner-action').textContent = bannerAction.label;
}

/**
 * Runs an action behind a button: the button is disabled (and marked busy) until it ends, and a
 * failure is shown in plain words through `fail` (the banner unless told otherwise).
 */
export async function busy(buttons, fn, fail = (e) => banner(plain(e))) {
  const list = Array.isArray(buttons) ? buttons : [buttons];
  const gen = currentGeneration();
  for (const b of list) {
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
  }
  try {
    return await fn();
  } catch (e) {
    if (gen === currentGeneration()) fail(e); // not about a session that has ended meanwhile
    return undefined;
  } finally {
    for (const b of list) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    }
  }
}

// A failure that may pass by itself: no answer, the server failing, busy or throttling.
export const transient = (e) => e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.status === 429);

export function plain(e) {
  if (e instanceof UserError || e instanceof ApiError || e instanceof VaultError) return e.message;
  if (e instanceof core.ParleyError) return 'The encryption core refused this operation.';
  return 'Something went wrong. Please try again.';
}

/** The banner's action, for a word added beside what it says. */
export function bannerActionNow() {
  return bannerAction;
}

/** The banner keeps its text and loses its action (it belonged to a session that ended). */
export function dropBannerAction() {
  bannerAction = null;
  $('banner-action').hidden = true;
}

/** Runs the banner's action (its button). */
export function runBannerAction() {
  bannerAction?.run();
}

export function showText(id, text) {
  $(id).textContent = text || '';
  $(id).hidden = !text;
}
