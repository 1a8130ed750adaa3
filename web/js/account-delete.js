// Delete account (docs/API.md POST /api/account/delete): the password asked again, the server
// asked, then this browser's vault and kept sign-in erased and the first screen shown. The dialog
// exists only while open.
import { request } from './api.js';
import { $, el } from './dom.js';
import { UserError } from './errors.js';
import { deriveKeys } from './password.js';
import { plain, state } from './shell.js';

let deleting = false; // the request is out: this page's own socket closing 4410 is expected

// Whether an account-deleted close (4410) is this page's own doing (chat-view.js).
export const deletingHere = () => deleting;

function close() {
  $('delete-account-dialog')?.remove();
}

async function deleteAccount(password) {
  const username = state.username;
  if (!state.messenger || !username) throw new UserError('Log in first.');
  const keys = deriveKeys(username, password);
  keys.vaultKey.fill(0);
  deleting = true;
  try {
    await request('POST', '/api/account/delete', { password: keys.loginSecret });
  } catch (e) {
    deleting = false;
    if (e.code === 'wrong_password') throw new UserError('The password is wrong. Nothing was deleted.');
    throw e;
  }
  return username;
}

function open(onDeleted) {
  close();
  const error = el('p', { className: 'error', role: 'alert', hidden: true });
  const progress = el('p', { className: 'muted', role: 'status', 'aria-live': 'polite' });
  const go = el('button', { type: 'submit', textContent: 'Delete my account for good' });
  const cancel = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
  const form = el('form', { noValidate: true },
    el('p', { textContent: 'This cannot be undone. The server deletes your keys and the messages waiting for you; this browser erases your chats, contacts and settings. Your contacts see you offline and can no longer reach you. Your other devices are logged out. Nobody, you included, can use your username again.' }),
    el('label', { htmlFor: 'delete-password', textContent: 'Your password' }),
    el('input', { id: 'delete-password', type: 'password', autocomplete: 'current-password' }),
    error, progress,
    el('div', { className: 'actions' }, go, cancel));
  const dialog = el('dialog', { id: 'delete-account-dialog', 'aria-labelledby': 'delete-account-heading' },
    el('h2', { id: 'delete-account-heading', textContent: 'Delete account' }), form);
  const say = (text) => {
    error.textContent = text || '';
    error.hidden = !text;
  };
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', close);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say('');
    const password = $('delete-password').value;
    if (!password) {
      say('Type your password.');
      return;
    }
    for (const b of [go, cancel]) b.disabled = true;
    progress.textContent = 'Deleting the account…';
    await new Promise((r) => setTimeout(r, 0)); // paint before Argon2id
    let username = null;
    try {
      username = await deleteAccount(password);
    } catch (e) {
      say(plain(e));
    } finally {
      progress.textContent = '';
      for (const b of [go, cancel]) b.disabled = false;
    }
    if (username) {
      close();
      try {
        await onDeleted(username);
      } finally {
        deleting = false;
      }
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  $('delete-password').focus();
}

/** onDeleted(username): app.js leaves the account and erases this browser's data of it. */
export function wireDeleteAccount(onDeleted) {
  $('delete-account').addEventListener('click', () => open(onDeleted));
}

export function resetDeleteAccount() {
  close();
}
