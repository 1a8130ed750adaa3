//# allFunctionsCalledOnLoad
// Change password (docs/PROTOCOL.md 12.1): the vault sealed again under the new key. The form
// exists only while open.
import * as core from '../core/parley.js';
import { request, setToken } from './api.js';
import { $, el } from './dom.js';
import { UserError } from './errors.js';
import { deriveKeys, passwordProblem } from './password.js';
import { keepOrForget, keptUser } from './keep.js';
import { plain, state } from './shell.js';
import { address } from './fanout.js';
import { resetDeleteAccount, wireDeleteAccount } from './account-delete.js';

// Every record of a fixed name (12.8): a record the list misses makes the change refused.
const FIXED_RECORDS = ['account', 'contacts', 'requests', 'meta', 'devices', 'presence', 'network', 'blocks', 'notify',
  'everyday', 'files', 'invites', 'rooms'];
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
  if ((m.ownDevices || []).length > 1) {
    throw new UserError('Your account is used on other devices too. Their chats are sealed under your current password and could not be opened with a new one, so change it on a device you use alone (remove the others from Devices first).');
  }
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

function close() {
  $('account-dialog')?.remove();
}

function open() {
  close();
  const field = (id, label, autocomplete) => [
    el('label', { htmlFor: id, textContent: label }),
    el('input', { id, type: 'password', autocomplete }),
  ];
  const error = el('p', { id: 'account-error', className: 'error', role: 'alert', hidden: true });
  const progress = el('p', { className: 'muted', role: 'status', 'aria-live': 'polite' });
  const save = el('button', { type: 'submit', textContent: 'Save new password' });
  const cancel = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
  const form = el('form', { noValidate: true },
    ...field('old-password', 'Current password', 'current-password'),
    ...field('new-password', 'New password', 'new-password'),
    ...field('new-password-again', 'New password again', 'new-password'),
    el('p', { className: 'muted hint', textContent: 'Nothing can recover a forgotten password: not the server, not anyone. Your other devices will have to log in again.' }),
    error, progress,
    el('div', { className: 'actions' }, save, cancel));
  const dialog = el('dialog', { id: 'account-dialog', 'aria-labelledby': 'account-heading' },
    el('h2', { id: 'account-heading', textContent: 'Change password' }), form);
  const say = (text) => {
    error.textContent = text || '';
    error.hidden = !text;
  };
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', close);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say('');
    const oldPassword = $('old-password').value;
    const newPassword = $('new-password').value;
    const problem = !oldPassword ? 'Type your current password.' : passwordProblem(newPassword)
      || (newPassword !== $('new-password-again').value ? 'The two new passwords differ. Type the same one twice.' : null)
      || (newPassword === oldPassword ? 'The new password is the same as the current one.' : null);
    if (problem) {
      say(problem);
      return;
    }
    for (const b of [save, cancel]) b.disabled = true;
    progress.textContent = 'Changing the password and sealing this device\'s chats again…';
    await new Promise((r) => setTimeout(r, 0)); // paint before Argon2id
    try {
      await changePassword(oldPassword, newPassword);
      close();
      $('account-note').textContent = 'Your password was changed. Use the new one from now on.';
      $('account-note').hidden = false;
    } catch (e) {
      say(plain(e));
    } finally {
      progress.textContent = '';
      for (const b of [save, cancel]) b.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  $('old-password').focus();
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
