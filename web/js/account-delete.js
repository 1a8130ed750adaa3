// Delete account (docs/API.md POST /api/account/delete): the password asked again, the server
// asked, then this browser's vault and kept sign-in erased and the first screen shown. The dialog
// exists only while open.
import { request } from './api.js';
import { $ } from './dom.js';
import { UserError } from './errors.js';
import { deriveKeys } from './password.js';
import { state } from './shell.js';
import { closeDialog, passwordDialog } from './password-dialog.js';

let deleting = false; // the request is out: this page's own socket closing 4410 is expected

// Whether an account-deleted close (4410) is this page's own doing (chat-view.js).
export const deletingHere = () => deleting;

const close = () => closeDialog('delete-account-dialog');

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
  passwordDialog({
    id: 'delete-account-dialog',
    heading: 'Delete account',
    intro: 'This cannot be undone. The server deletes your keys and the messages waiting for you; this browser erases your chats, contacts and settings. Your contacts see you offline and can no longer reach you. Your other devices are logged out. Nobody, you included, can use your username again.',
    fields: [['delete-password', 'Your password', 'current-password']],
    submit: 'Delete my account for good',
    progressText: 'Deleting the account…',
    check: (v) => (v['delete-password'] ? null : 'Type your password.'),
    run: (v) => deleteAccount(v['delete-password']),
    done: async (username) => {
      close();
      try {
        await onDeleted(username);
      } finally {
        deleting = false;
      }
    },
  });
}

/** onDeleted(username): app.js leaves the account and erases this browser's data of it. */
export function wireDeleteAccount(onDeleted) {
  $('delete-account').addEventListener('click', () => open(onDeleted));
}

export function resetDeleteAccount() {
  close();
}
