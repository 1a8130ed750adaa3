//# allFunctionsCalledOnLoad
// Change password (docs/PROTOCOL.md 12.1): the vault sealed again under the new key. The form
// exists only while open.
import * as core from '../core/parley.js';
import { request, setToken } from './api.js';
import { $ } from './dom.js';
import { UserError } from './errors.js';
import { deriveKeys, passwordProblem } from './password.js';
import { keepOrForget, keptUser } from './keep.js';
import { state } from './shell.js';
import { closeDialog, passwordDialog } from './password-dialog.js';
import { address } from './fanout.js';
import { resetDeleteAccount, wireDeleteAccount } from './account-delete.js';

// Every record of a fixed name (12.8): a record the list misses makes the change refused.
const FIXED_RECORDS = ['account', 'contacts', 'requests', 'meta', 'devices', 'presence', 'network', 'blocks', 'notify',
  'everyday', 'files', 'files-store-tag', 'invites', 'rooms'];
const CHANGED_GRACE_MS = 60000; // a WebSocket closed as revoked this soon after the change reconnects

let changing = null; // {signaling: a connection to start again once the new token is here}
let changedAt = 0;

// The server closes the account's WebSockets (4401) on a change: this page's reconnects.
export function revokedByPasswordChange(signaling) {
  if (changing) {
    changing.signaling = signaling; // started once the new token is in
    return true;
  }
  if (Date.now() - changedAt < CHANGED_GRACE_MS) {
    signaling.start();
    return true;
  }
  return false;
}

// Every record name the vault may hold.
async function recordNames(m, vault) {
  const peers = new Set([...Object.keys(m.contacts), ...m.requests.keys(), ...m.histories.keys()]);
  for (const name of Object.keys(m.contacts)) for (const d of m.listedDevices(name)) peers.add(address(name, d));
  for (const d of m.ownDevices || []) peers.add(address(m.me, d));
  const names = [...FIXED_RECORDS, ...m.roomRecordNames().filter((n) => n !== 'rooms')]; // rooms.js
  for (const p of peers) {
    names.push(`session:${p}`, `history-chunks:${p}`);
    const chunks = await vault.getJson(`history-chunks:${p}`, 0);
    for (let k = 0; k < chunks; k += 1) names.push(`history:${p}:${k}`);
  }
  return names;
}

const kindOf = (name) => (name === 'account' ? core.Account : name.startsWith('session:') ? core.Session : null);

async function changePassword(oldPassword, newPassword) {
  const m = state.messenger;
  const vault = state.vault;
  const username = state.username;
  if (!m || !vault) throw new UserError('Log in first.');
  const before = deriveKeys(username, oldPassword);
  const after = deriveKeys(username, newPassword);
  before.vaultKey.fill(0);
  const owned = after.vaultKey.slice(); // the vault's from the commit on
  let handed = false;
  try {
    await m.serial(async () => {
      const rekey = await vault.prepareRekey(await recordNames(m, vault), kindOf, owned);
      changing = { signaling: null };
      let res;
      try {
        res = await request('POST', '/api/password', { oldPassword: before.loginSecret, newPassword: after.loginSecret });
      } catch (e) {
        rekey.cancel();
        if (e.code === 'wrong_password') throw new UserError('The current password is wrong. Nothing was changed.');
        throw e;
      }
      setToken(res.token);
      state.token = res.token;
      state.expiresAt = res.expiresAt;
      await rekey.commit();
      handed = true;
    });
    changedAt = Date.now();
    if (await keptUser() === username) await keepOrForget(username, after.vaultKey, after.loginSecret);
  } finally {
    const waiting = changing?.signaling;
    changing = null;
    after.vaultKey.fill(0);
    if (!handed) owned.fill(0);
    if (waiting && waiting === state.signaling) waiting.start();
  }
}

/**
 * Seals this browser's vault again under newKey (owned from here on; wiped on failure) after a
 * password changed on another device: the records were opened with the previous password's key.
 */
export async function resealVault(m, vault, newKey) {
  let rekey = null;
  try {
    await m.serial(async () => {
      rekey = await vault.prepareRekey(await recordNames(m, vault), kindOf, newKey);
      await rekey.commit();
    });
  } catch (e) {
    if (!rekey) newKey.fill(0); // prepareRekey refused: the key is not kept
    throw e;
  }
}

/**
 * Asks for the previous password (a password changed on another device of the account, so this
 * browser's vault does not open with the new one). Resolves with it, or null on Cancel. check(pw)
 * resolves with a problem in words (the dialog stays) or null (it closes).
 */
export function askPreviousPassword(check) {
  return new Promise((resolve) => {
    let done = false;
    passwordDialog({
      id: 'previous-password-dialog',
      heading: 'Your password was changed',
      intro: 'Your password was changed on another of your devices. The chats kept in this browser are still sealed under your previous password: type it once, and they are sealed under the new one.',
      fields: [['previous-password', 'Previous password', 'current-password']],
      submit: 'Open my chats',
      progressText: 'Opening your chats…',
      check: (v) => (v['previous-password'] ? null : 'Type your previous password.'),
      run: async (v) => {
        const problem = await check(v['previous-password']);
        if (problem) throw new UserError(problem);
        done = true;
        closeDialog('previous-password-dialog');
        resolve(v['previous-password']);
      },
      onClose: () => {
        if (!done) resolve(null);
      },
    });
  });
}

const close = () => closeDialog('account-dialog');

function open() {
  passwordDialog({
    id: 'account-dialog',
    heading: 'Change password',
    fields: [['old-password', 'Current password', 'current-password'], ['new-password', 'New password', 'new-password'],
      ['new-password-again', 'New password again', 'new-password']],
    hint: 'Nothing can recover a forgotten password: not the server, not anyone. Your other devices will have to log in again, and will ask once for your previous password to open the chats they keep.',
    submit: 'Save new password',
    progressText: 'Changing the password and sealing this device\'s chats again…',
    check: (v) => (!v['old-password'] ? 'Type your current password.' : passwordProblem(v['new-password'])
      || (v['new-password'] !== v['new-password-again'] ? 'The two new passwords differ. Type the same one twice.' : null)
      || (v['new-password'] === v['old-password'] ? 'The new password is the same as the current one.' : null)),
    run: async (v) => {
      await changePassword(v['old-password'], v['new-password']);
      close();
      $('account-note').textContent = 'Your password was changed. Use the new one from now on.';
      $('account-note').hidden = false;
    },
  });
}

export function wireAccount(onDeleted) {
  $('change-password').addEventListener('click', () => {
    $('account-note').hidden = true;
    open();
  });
  wireDeleteAccount(onDeleted);
}

export function resetAccount() {
  close();
  resetDeleteAccount();
  $('account-note').hidden = true;
  changedAt = 0;
}
