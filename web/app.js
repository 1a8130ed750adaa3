//# allFunctionsCalledOnLoad
// The page: start-up (one active tab), sign up and log in, the session's life (token refresh,
// log-out, the kept sign-in, the vault opened offline) and the controls' wiring. The shell
// (state, screens, banner, plain words) is shell.js; the messenger's screen chat-view.js; the
// core's self-test selfcheck.js; the transcript's rendering transcript-view.js.
// Untrusted text (usernames, messages) is only ever put into the page with textContent.
import * as core from './core/parley.js';
import { ApiError, request, setToken } from './js/api.js';
import { USERNAME_RE } from './js/encoding.js';
import { publish } from './js/keys.js';
import { Messenger, UserError } from './js/messenger.js';
import { IceConfig } from './js/relay.js';
import { Signaling } from './js/signaling.js';
import { Vault } from './js/vault.js';
import { listKnown, newDeviceId, syncDeviceList } from './js/devices.js';
import { cancelLinking, closeDevices, offerLink, wireDevices } from './js/devices-view.js';
import { $ } from './js/dom.js';
import { selfTest } from './js/selfcheck.js';
import { followTranscript, resetTranscript } from './js/transcript-view.js';
import { resetContacts } from './js/contacts-view.js';
import { FileStore } from './js/filestore.js';
import {
  banner, busy, dropBannerAction, plain, runBannerAction, setGenerationSource, show, showText, state, transient,
} from './js/shell.js';
import {
  autoGrow, clearNotice, closeChat, contactError, openChat, openVerify, renderAll, renderNetworkHint,
  renderChat, sendMessage, wireMessenger,
} from './js/chat-view.js';
import { installEveryday, wireEveryday } from './js/everyday-view.js'; // docs/PROTOCOL.md 12.15
import { installRooms, wireRooms } from './js/rooms-view.js'; // rooms (docs/PROTOCOL.md 20.7)
import { KeptRefused, forgetKept, keepOrForget, keepSupported, keptUser, keptVaultKey, signInKept } from './js/keep.js';
import { ConfigError, hasServer, loadConfig, serverOrigin } from './js/config.js';
import { resetProfileCard, wireProfile } from './js/profile-view.js';
import { wireInvites } from './js/invite-view.js';
import { loadCore } from './js/build.js';
import { watchUpdates } from './js/updates.js';
import { endCalls, loadCertificate, wireCallButtons, wireRoomCallButtons, watchCalls } from './js/calls-entry.js'; // calls
import { useCertificate } from './js/peer.js';
import { wireFileControls } from './js/files-view.js';
import { deriveKeys, passwordProblem } from './js/password.js';
import { wireContactActions } from './js/block-view.js';
import { startNotify, stopNotify, wireNotify } from './js/notify.js';
import { askPreviousPassword, resealVault, resetAccount, wireAccount } from './js/account-view.js';

// ---- one active tab ------------------------------------------------------------------------

// Bumped whenever this tab stops using an account (log-out, another tab taking over). A log-in
// still in progress checks it after each step it waits for, and drops what it has opened
// instead of entering the app in a tab that no longer holds the lock.
let generation = 0;
setGenerationSource(() => generation);

class Superseded extends Error {}

function stillCurrent(gen) {
  if (gen !== generation) throw new Superseded('this log-in was overtaken');
}

// Asks for the lock with `options`; `granted(true)` runs when this tab has it (held for the life
// of the page), `granted(false)` when `ifAvailable` found it taken. However it was got, losing
// it to another tab ends in lockLost(); a request cancelled through its signal does not.
function requestTabLock(options, granted) {
  navigator.locks.request('parley-active-tab', options, (lock) => {
    granted(!!lock);
    return lock ? new Promise(() => {}) : undefined;
  }).catch(() => {
    if (!options.signal?.aborted) lockLost();
  });
}

function holdTabLock(steal = false) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => requestTabLock(steal ? { steal: true } : { ifAvailable: true }, resolve));
}

// Another tab took the lock over: stop using the keys here, and take the lock back by ourselves
// once that tab is closed.
function lockLost() {
  stop();
  show('locked-screen');
  waitForTabLock();
}

// On the "open in another tab" screen: queued for the lock, which comes when the other tab is
// closed (or when this tab steals it with "Use Parley in this tab", which cancels the wait).
let lockWait = null;

function waitForTabLock() {
  if (!navigator.locks || lockWait) return;
  const abort = new AbortController();
  lockWait = abort;
  requestTabLock({ signal: abort.signal }, () => {
    lockWait = null;
    if (!$('locked-screen').hidden) toAuth();
  });
}

// ---- sign up and log in ------------------------------------------------------------------

// From the password: a vault key that stays here and a login secret the server hashes again
// (password.js).

// Shows text in the element (textContent only), or hides it when there is none.

function authError(text) {
  showText('auth-error', text);
}

function setBusy(busy, text = '') {
  for (const id of ['login', 'signup', 'username', 'password', 'confirm', 'keep']) $(id).disabled = busy;
  $('auth-progress').textContent = text;
}

// ---- "Create account with this identity" (a local profile, profile.js) ----------------------------

// The local profile's identity, copied, waiting for Sign up (Log in, or Cancel, drops it).
let pendingIdentity = null;

function dropPendingIdentity() {
  pendingIdentity?.free();
  pendingIdentity = null;
}

function alive(handle) {
  try {
    return handle.ptr !== 0;
  } catch {
    return false; // freed
  }
}

function attachIdentity() {
  const account = state.messenger?.account;
  if (!account) return;
  const k = core.randomBytes(32);
  const sealed = account.seal(k);
  const copy = core.Account.unseal(k, sealed);
  k.fill(0);
  sealed.fill(0);
  leave(); // the local profile closes; it keeps its identity and its chats by code
  pendingIdentity = copy;
  banner('Choose a username and a password, then press Sign up: the new account keeps the identity of your local profile (the same safety number). Chats made by codes stay in the local profile.', {
    label: 'Cancel',
    run: () => {
      dropPendingIdentity();
      banner('');
    },
  });
}

async function submitAuth(mode) {
  authError('');
  const identity = mode === 'signup' ? pendingIdentity : null; // "Create account with this identity"
  pendingIdentity = null;
  if (mode !== 'signup') dropPendingIdentity();
  if (!identity) banner(''); // what was said about the last session
  try {
    await signUpOrLogIn(mode, identity);
  } finally {
    // Not taken (the name was taken, the server did not answer): Sign up may be pressed again.
    if (identity && state.messenger?.account !== identity) {
      if (alive(identity) && !pendingIdentity) pendingIdentity = identity;
      else identity.free();
    }
  }
}

async function signUpOrLogIn(mode, identity) {
  const username = $('username').value.trim().toLowerCase();
  const password = $('password').value;
  if (!USERNAME_RE.test(username)) {
    authError('A username is 3 to 32 characters: letters, digits, dots, - and _, starting with a letter.');
    $('username').focus();
    return;
  }
  if (passwordProblem(password)) {
    authError(passwordProblem(password));
    $('password').focus();
    return;
  }
  if (mode === 'signup') {
    // Asked twice: nothing can recover a forgotten password (the hint under the second box).
    if ($('confirm-row').hidden) {
      $('confirm-row').hidden = false;
      $('auth-progress').textContent = 'Type the password again to confirm it, then press Sign up.';
      $('confirm').focus();
      return;
    }
    if ($('confirm').value !== password) {
      authError('The two passwords differ. Type the same password in both boxes.');
      $('confirm').focus();
      return;
    }
  }
  const gen = generation;
  setBusy(true, mode === 'signup' ? 'Creating your keys…' : 'Unlocking…');
  await new Promise((r) => setTimeout(r, 0)); // let the status paint before Argon2id runs
  try {
    stillCurrent(gen); // the tab may have lost the lock meanwhile
    const { vaultKey, loginSecret } = deriveKeys(username, password);
    const toKeep = $('keep').checked && keepSupported() ? vaultKey.slice() : null; // the vault owns vaultKey
    try {
      let res;
      try {
        // The device id this browser uses for the account (a new one for a browser that has none).
        const device = (await Vault.deviceOf(username)) ?? newDeviceId();
        res = await request('POST', mode === 'signup' ? '/api/signup' : '/api/login', { username, password: loginSecret, device });
        stillCurrent(gen);
      } catch (e) {
        vaultKey.fill(0);
        throw e;
      }
      await enter(username, res, vaultKey, mode === 'signup', gen, false, identity);
      if (identity) banner(''); // what it said about the identity waiting for Sign up
      $('password').value = '';
      resetConfirm();
      await rememberLogin(username, toKeep, loginSecret, gen);
    } finally {
      toKeep?.fill(0);
    }
  } catch (e) {
    // Enter means Log in: someone new who typed a name and a password is told where to go.
    const newcomer = mode === 'login' && e instanceof ApiError && e.code === 'invalid_credentials';
    if (!(e instanceof Superseded)) authError(newcomer ? `${plain(e)} New to Parley? Press Sign up to make an account.` : plain(e));
  } finally {
    setBusy(false);
  }
}

function resetConfirm() {
  $('confirm').value = '';
  $('confirm-row').hidden = true;
}

/** The vault's account; null when it holds none; false when this key does not open it (AUTH). */
async function accountIn(vault) {
  try {
    return await vault.loadAccount();
  } catch (e) {
    if (e instanceof core.ParleyError && e.codeName === 'AUTH') return false;
    throw e;
  }
}

/**
 * The vault opened with a previous password (askPreviousPassword, account-view.js): {vault,
 * account, resealTo}, resealTo the new password's vault key (to seal it all under once the
 * messenger knows every record's name). Cancel leaves with a plain error.
 */
async function openWithPrevious(username, vault, gen) {
  const resealTo = vault.key.slice();
  let opened = null;
  const previous = await askPreviousPassword(async (password) => {
    stillCurrent(gen);
    const { vaultKey } = deriveKeys(username, password);
    const tried = await Vault.open(username, vaultKey);
    let account;
    try {
      account = await accountIn(tried);
    } catch (e) {
      tried.close();
      throw e;
    }
    if (!account) {
      tried.close();
      return 'That is not the password these chats were sealed with either. Try again.';
    }
    opened = { vault: tried, account };
    return null;
  });
  if (previous === null || !opened) {
    resealTo.fill(0);
    throw new UserError('This browser holds keys for this username that this password does not unlock.');
  }
  vault.close(); // the new password's: its key was copied to resealTo
  return { ...opened, resealTo };
}

async function enter(username, auth, vaultKey, fresh, gen, offline = false, identity = null) {
  setToken(auth.token);
  state.token = auth.token;
  state.expiresAt = auth.expiresAt;
  state.username = username;
  let vault = null;
  let account = null;
  let messenger = null;
  let resealTo = null; // the new password's vault key, while the vault is open with the previous one
  // The server's setup (its STUN servers, and relays with a credential of ours), asked for
  // meanwhile and renewed before the credential ends; without an answer, links use host
  // candidates only.
  const ice = new IceConfig(() => state.messenger?.relayRenewed().catch(() => {}));
  const setup = offline ? null : ice.load();
  try {
    vault = await Vault.open(username, vaultKey); // refused: the key is wiped
    stillCurrent(gen);
    const device = Number.isSafeInteger(auth.device) ? auth.device : 1;
    await vault.setDevice(device);
    account = await accountIn(vault);
    // The account does not open with this key, or records none of whose names this key gives:
    // sealed under another password.
    const otherKey = account === false || (!account && await vault.holdsRecords());
    if (account === false) account = null;
    if (otherKey) {
      // The server took this password, the vault did not: it changed on another device. This
      // browser's records open with the previous one, and are sealed again under this one.
      if (offline) throw new UserError('This browser holds keys for this username that this password does not unlock.');
      ({ vault, account, resealTo } = await openWithPrevious(username, vault, gen));
    }
    stillCurrent(gen);
    if (!account && offline) throw new UserError('This browser holds no keys for your account yet, and that needs the server.');
    if (!account && !fresh) {
      // This browser has never held the keys of an account that exists: linked from another of
      // the account's devices (link.js), or, when the person chooses so, a new identity below.
      account = await offerLink({ username, device, vault, getToken: () => state.token, show, plain });
      stillCurrent(gen);
    }
    if (!account) {
      // A new account, or the person started over on this browser.
      account = identity || core.Account.create(); // identity: a local profile's (attachIdentity)
      account.generatePrekeys(100);
      await publish(account, vault, { resetIdentity: !fresh });
      stillCurrent(gen);
      if (!fresh) banner('This browser had no keys for your account, so it made new ones. Your contacts will see that your safety number changed.');
    }
    // This device in the account's signed list before the connection opens: an unlisted device
    // may only talk to its own devices (a list made now for a new account, or for one made before
    // devices; later changes are checked after each ready).
    if (!offline && !await listKnown(vault)) {
      await syncDeviceList(account, vault, device);
      stillCurrent(gen);
    }
    await setup;
    stillCurrent(gen);
    useCertificate(await loadCertificate(vault, account.identityKey())); // calls: one per identity
    stillCurrent(gen);
    const signaling = new Signaling(() => state.token);
    messenger = new Messenger({ username, device, account, vault, signaling });
    await messenger.load();
    stillCurrent(gen);
    if (resealTo) {
      const key = resealTo;
      resealTo = null;
      try {
        await resealVault(messenger, vault, key); // account-view.js
      } catch (e) {
        banner(`${plain(e)} Your chats here stay sealed under your previous password, which this browser will ask for again.`);
      }
      stillCurrent(gen);
    }
    if (!offline) messenger.replenishKeys().catch(() => {}); // one-time prekeys topped up (single-flight)
    state.vault = vault;
    state.signaling = signaling;
    state.messenger = messenger;
    state.ice = ice;
    wireMessenger(messenger, signaling, sessionEnded);
    wireEveryday(messenger, renderChat);
    wireRooms(messenger); // rooms
    watchCalls(state, messenger, (e) => banner(plain(e))); // calls
    await startNotify(messenger, vault); // notify.js
  } catch (e) {
    // Back to log-in (or the locked screen) with nothing kept: no token, no open vault, and the
    // account's keys wiped from memory.
    if (messenger) messenger.shutdown();
    if (account) account.free();
    if (vault) vault.close();
    resealTo?.fill(0);
    if (gen === generation) forgetLogin();
    if (!$('link-screen').hidden) show('auth-screen'); // left the link screen
    throw e;
  }
  $('whoami').textContent = username;
  $('show-presence').checked = state.messenger.showPresence;
  $('hide-ip').checked = state.messenger.hideIp;
  renderNetworkHint();
  show('app-screen');
  renderAll();
  if (offline) return;
  state.signaling.start();
  scheduleRefresh();
}

// The log-in did not lead into the app: the server token and who it was for are not kept.
function forgetLogin() {
  setToken(null);
  Object.assign(state, { token: null, expiresAt: 0, username: null });
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  const ms = Math.max(60_000, (state.expiresAt * 1000 - Date.now()) - 10 * 60_000);
  state.refreshTimer = setTimeout(refreshToken, ms);
}

const REFRESH_RETRY_MS = 30_000;

// A network failure is tried again every 30 s while the token is still valid; a refusal, or a
// token that ran out meanwhile, means logging in again.
async function refreshToken() {
  const gen = generation;
  try {
    const res = await request('POST', '/api/token/refresh');
    if (gen !== generation) return;
    state.token = res.token;
    state.expiresAt = res.expiresAt;
    setToken(res.token);
    scheduleRefresh();
  } catch (e) {
    if (gen !== generation) return;
    if (transient(e) && Date.now() + REFRESH_RETRY_MS < state.expiresAt * 1000) {
      state.refreshTimer = setTimeout(refreshToken, REFRESH_RETRY_MS);
      return;
    }
    sessionEnded('Your session has expired. Please log in again.');
  }
}

// Leaves at once; the server is told in the background (the token would expire anyway). A kept
// sign-in is forgotten: logging out here means the password is needed again.
function logout() {
  const token = state.token;
  keptAt = 0;
  $('keep').checked = false;
  forgetKept().catch(() => {
    banner('You are logged out, but this browser could not forget that it kept you signed in. Clear this site\'s data in the browser settings.');
  });
  leave();
  $('username').value = ''; // logged out: nothing of the last person stays on the log-in form
  if (token) request('POST', '/api/logout', undefined, { token, timeoutMs: 10000 }).catch(() => {});
}

// The account was deleted here (account-delete.js): left as by a log-out, then this browser's
// vault and kept sign-in erased.
async function accountDeleted(username) {
  keptAt = 0;
  $('keep').checked = false;
  const filesTag = state.messenger?.files?.tag; // the files database (files.js, filestore.js)
  leave();
  $('username').value = '';
  try {
    await Promise.all([forgetKept(), Vault.erase(username), filesTag ? FileStore.drop(filesTag) : null]);
    banner('Your account was deleted, and this browser erased what it kept of it.');
  } catch {
    banner('Your account was deleted, but this browser could not erase what it kept of it. Clear this site\'s data in the browser settings.');
  }
}

// Stops using the account in this tab: connections closed, keys wiped from memory, the vault
// closed, the token forgotten; a log-in still in progress gives up (see generation).
function stop() {
  dropPendingIdentity(); // "Create account with this identity" ends with the session that asked
  generation += 1;
  stopNotify();
  resetAccount();
  stopOffline();
  clearTimeout(state.refreshTimer);
  state.ice?.stop();
  endCalls(); // calls
  if (state.messenger) {
    state.messenger.invites?.close(); // a local profile's open invites (invite-chat.js)
    state.messenger.shutdown();
    state.messenger.account.free(); // the identity and prekeys, wiped from memory
  }
  if (state.signaling) state.signaling.stop();
  if (state.vault) state.vault.close();
  Object.assign(state, { username: null, token: null, expiresAt: 0, vault: null, signaling: null, messenger: null, chat: null, ice: null });
  document.title = 'Parley';
  setToken(null);
  $('app-screen').classList.remove('chat-open');
  if ($('verify-dialog').open) $('verify-dialog').close();
  if ($('invite-dialog').open) $('invite-dialog').close();
  resetProfileCard();
  closeDevices();
  cancelLinking();
  // Nothing of this account stays on screen for whoever uses the tab next (the banner's text
  // may still say why the session ended; its action belonged to the session).
  dropBannerAction();
  clearNotice('chat');
  clearNotice('list');
  contactError('');
  $('contact-progress').textContent = '';
  $('contact').value = '';
  $('message').value = '';
  $('message').style.height = '';
  $('requests').replaceChildren();
  resetContacts();
  resetTranscript();
}

function leave() {
  stop();
  resetConfirm();
  show('auth-screen');
  $('chat').hidden = true;
  $('username').focus();
}

// ---- kept sign-in ("Keep me signed in on this device", keep.js) ---------------------------------

let keptAt = 0; // when this page last made or used the kept sign-in (0: none)

// After a log-in with the form: the sign-in is kept when asked for; otherwise any kept one (of
// whoever it was) is forgotten. A log-out meanwhile wins.
async function rememberLogin(username, vaultKey, loginSecret, gen) {
  try {
    await keepOrForget(username, vaultKey, loginSecret);
    keptAt = vaultKey ? Date.now() : 0;
    if (gen !== generation) await forgetKept();
  } catch {
    if (vaultKey && gen === generation) banner('You are logged in, but this browser could not keep you signed in: you will need your password next time.');
  }
}

// Opens the app with the kept sign-in, if there is one (false when not). A sign-in that no longer
// works is forgotten and the log-in form says why; a server out of reach leaves it kept, with
// "Try again".
async function resume() {
  const who = await keptUser();
  if (!who) return false;
  const gen = generation;
  show('auth-screen');
  banner('');
  authError('');
  $('username').value = who;
  $('keep').checked = true;
  setBusy(true, `Signing in as ${who}…`);
  try {
    const { auth, vaultKey } = await signInKept(who, () => stillCurrent(gen), (await Vault.deviceOf(who)) ?? newDeviceId());
    await enter(who, auth, vaultKey, false, gen);
    keptAt = Date.now();
  } catch (e) {
    if (gen !== generation) return true;
    if (unreachable(e) && await openOffline(who, gen)) return true;
    if (transient(e)) {
      banner(`Could not sign you in as ${who}. ${plain(e)}`, { label: 'Try again', run: resume });
    } else {
      if (!(e instanceof KeptRefused)) await forgetKept().catch(() => {});
      $('keep').checked = false;
      authError(`Please log in again: ${plain(e).replace(/^./, (c) => c.toLowerCase())}`);
    }
  } finally {
    if (gen === generation) setBusy(false);
  }
  return true;
}

// ---- server unreachable: the kept sign-in opens the vault without it ------------------------------

// No answer at all, or a gateway's word that the server behind it does not answer.
const unreachable = (e) => e instanceof ApiError && (e.status === 0 || e.status === 502 || e.status === 504);
const OFFLINE_RETRY_MS = 15_000;
let offlineRetry = null;

// The vault opens with the kept vault key alone: chats can be read, messages sent wait in the
// outbox; the server is asked again every OFFLINE_RETRY_MS (and when the browser says it is back
// online), and once it answers the session goes on online, in place. False when this browser has
// no vault for that person yet (the server is needed to begin).
async function openOffline(who, gen) {
  const device = await Vault.deviceOf(who);
  if (!device) return false;
  let vaultKey;
  try {
    vaultKey = await keptVaultKey(who);
  } catch {
    return false;
  }
  stillCurrent(gen);
  try {
    await enter(who, { token: null, expiresAt: 0, device }, vaultKey, false, gen, true);
  } catch (e) {
    if (gen === generation) authError(plain(e));
    return true;
  }
  keptAt = Date.now();
  $('server-note').hidden = false;
  const retry = () => backOnline(who, device, gen);
  offlineRetry = { timer: setInterval(retry, OFFLINE_RETRY_MS), retry, busy: false };
  window.addEventListener('online', retry);
  $('server-retry').onclick = () => busy($('server-retry'), retry);
  return true;
}

async function backOnline(who, device, gen) {
  const r = offlineRetry;
  if (!r || r.busy || gen !== generation) return;
  r.busy = true;
  try {
    const { auth, vaultKey } = await signInKept(who, () => stillCurrent(gen), device);
    vaultKey.fill(0); // the vault is open already
    if (auth.device !== undefined && auth.device !== device) throw new UserError('the server gave this browser another device number; log in again.');
    setToken(auth.token);
    state.token = auth.token;
    state.expiresAt = auth.expiresAt;
    state.ice.load();
    // As enter() does before the connection opens (skipped while offline).
    if (!await listKnown(state.vault)) {
      await syncDeviceList(state.messenger.account, state.vault, device);
      stillCurrent(gen);
    }
    stopOffline();
    state.messenger.replenishKeys().catch(() => {});
    state.signaling.start();
    scheduleRefresh();
  } catch (e) {
    if (gen !== generation || unreachable(e)) return;
    if (e instanceof KeptRefused || e instanceof UserError) {
      leave();
      authError(`Please log in again: ${plain(e).replace(/^./, (c) => c.toLowerCase())}`);
    } else {
      banner(`The server answered but could not sign you in yet. ${plain(e)}`); // busy, throttled: tried again
    }
  } finally {
    r.busy = false;
  }
}

function stopOffline() {
  if (offlineRetry) {
    clearInterval(offlineRetry.timer);
    window.removeEventListener('online', offlineRetry.retry);
    offlineRetry = null;
  }
  $('server-note').hidden = true;
}

// The log-in form, or the app at once with a kept sign-in.
async function toAuth() {
  if (await resume()) return;
  show('auth-screen');
  $('username').focus();
}

// The session ended without the person asking (token expired or revoked). A kept sign-in signs in
// again by itself, unless it did so within the last minute (the server keeps refusing): then the
// person may try again.
function sessionEnded(text) {
  const again = keptAt !== 0 && Date.now() - keptAt > 60_000;
  leave();
  banner(text, keptAt ? { label: 'Try again', run: resume } : null);
  if (again) resume();
}

// ---- start-up ---------------------------------------------------------------------------------

function wire() {
  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitAuth('login');
  });
  $('signup').addEventListener('click', () => submitAuth('signup'));
  $('attach-account').addEventListener('click', attachIdentity);
  $('confirm').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.isComposing) {
      ev.preventDefault(); // Enter in the second box is Sign up, not the form's Log in
      submitAuth('signup');
    }
  });
  $('contact').addEventListener('input', () => contactError('')); // an error is about what was typed
  $('logout').addEventListener('click', logout);
  $('use-here').addEventListener('click', async () => {
    if (lockWait) {
      lockWait.abort();
      lockWait = null;
    }
    if (await holdTabLock(true)) toAuth();
  });
  $('contact-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    contactError('');
    const name = $('contact').value.trim().toLowerCase();
    if (!name) {
      contactError('Type the username of the person you want to chat with.');
      return;
    }
    if (!USERNAME_RE.test(name)) {
      contactError(`"${name}" is not a valid username.`);
      return;
    }
    clearNotice('list');
    $('contact-progress').textContent = `Looking up ${name}…`;
    await busy($('start-chat'), async () => {
      const opened = await state.messenger.startChat(name);
      $('contact').value = '';
      openChat(opened);
    }, (e) => contactError(plain(e)));
    $('contact-progress').textContent = '';
  });
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendMessage();
  });
  $('message').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendMessage();
    }
  });
  $('message').addEventListener('input', autoGrow);
  wireFileControls(); // Attach file, drop, paste (files-view.js)
  $('back').addEventListener('click', closeChat);
  followTranscript();
  installEveryday(renderChat);
  installRooms(); // rooms
  $('verify').addEventListener('click', openVerify);
  wireCallButtons(state, (e) => banner(plain(e))); // calls
  wireRoomCallButtons(state, (e) => banner(plain(e))); // group calls
  $('close-verify').addEventListener('click', () => $('verify-dialog').close());
  $('mark-verified').addEventListener('click', () => busy($('mark-verified'), async () => {
    const c = state.messenger.contacts[state.chat];
    await state.messenger.setVerified(state.chat, !c.verified);
    $('verify-dialog').close();
  }, (e) => {
    $('verify-state').textContent = `Not saved: ${plain(e)}`;
  }));
  $('identity-review').addEventListener('click', openVerify);
  $('reset-identity').addEventListener('click', () => {
    // eslint-disable-next-line no-alert
    if (!window.confirm('Make a new identity? This device asks each of your contacts to chat again with the new identity: each sees that your safety number changed, and the chat goes on once they accept. Messages still on their way to your former identity are lost.')) return;
    banner('Making a new identity…');
    busy($('reset-identity'), async () => {
      await state.messenger.resetIdentity();
      banner('You have a new identity. Your contacts were asked to chat again: each chat goes on once they accept and see your new safety number.');
    });
  });
  wireContactActions(closeChat);
  wireNotify({ busy });
  wireAccount(accountDeleted);
  $('identity-accept').addEventListener('click', () => busy($('identity-accept'), () => state.messenger.acknowledgeIdentity(state.chat)));
  $('show-presence').addEventListener('change', (ev) => {
    const box = ev.target;
    busy(box, () => state.messenger?.setShowPresence(box.checked));
  });
  $('hide-ip').addEventListener('change', (ev) => {
    const box = ev.target;
    busy(box, async () => {
      await state.messenger?.setHideIp(box.checked);
      renderNetworkHint();
    });
  });
  wireDevices(() => (state.messenger ? {
    username: state.username, account: state.messenger.account, vault: state.vault, signaling: state.signaling, messenger: state.messenger,
  } : null), { busy, plain });
  wireProfile({ generation: () => generation, sessionEnded, plain });
  wireInvites();
  $('banner-close').addEventListener('click', () => banner(''));
  $('banner-action').addEventListener('click', runBannerAction);
}

async function start() {
  watchUpdates({
    ready: (reload) => {
      $('update').hidden = false;
      $('update-reload').onclick = () => {
        $('update-reload').disabled = true;
        reload();
      };
    },
    failed: (text) => banner(text),
  });
  try {
    await loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    show('auth-screen');
    authError(e.message);
    setBusy(true);
    return;
  }
  if (!hasServer()) document.body.dataset.server = 'none'; // the local profile is the only way in
  if (!await loadCore()) return; // its bytes differ from the build: guard.js says so
  wire();
  // Closing or leaving the page tells peers at once (a "bye" per link) instead of letting ICE
  // time out on their side.
  window.addEventListener('pagehide', () => {
    if (state.messenger) state.messenger.shutdown();
  });
  $('keep-row').hidden = !keepSupported();
  const ok = await selfTest();
  if (!await holdTabLock()) {
    show('locked-screen');
    waitForTabLock();
    return;
  }
  if (ok && hasServer() && await resume()) return;
  show('auth-screen');
  if (!ok) {
    authError('This browser cannot run Parley’s encryption. Try an up-to-date Chrome, Firefox or Safari.');
    setBusy(true);
  }
}

start();
