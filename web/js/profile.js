//# allFunctionsCalledOnLoad
// A local profile (docs/PROTOCOL.md 17.7): Parley with no account. An identity made on this
// device and kept in a vault sealed under a passphrase (Argon2id, as an account's vault under its
// password), used for chats set up by invitation codes (invite-chat.js). Nothing of it goes to
// any server: its signaling connection is never started.
import * as core from '../core/parley.js';
import { utf8 } from './encoding.js';
import { UserError } from './errors.js';
import { Messenger } from './messenger.js';
import { Signaling } from './signaling.js';
import { Vault } from './vault.js';
import { Invites } from './invite-chat.js';

/** The vault's name for the local profile ("~" is never in a username: no account's vault). */
export const LOCAL_NAME = '~local';
const MIN_PASSPHRASE = 8;
const MAX_PASSPHRASE_BYTES = 4096;

/** Whether this browser holds a local profile. */
export async function localExists() {
  return (await Vault.deviceOf(LOCAL_NAME)) !== null;
}

/** The passphrase's vault key (Argon2id, salt bound to this origin and the profile). */
function vaultKeyOf(passphrase) {
  const salt = core.passwordSalt(`parley-local-profile\u0000${location.origin}\u0000${LOCAL_NAME}`);
  return core.passwordDerive(passphrase, salt, 32);
}

/** A plain-words refusal of a passphrase, or null. */
export function passphraseProblem(passphrase, confirm, create) {
  if (passphrase.length < MIN_PASSPHRASE) return 'The passphrase needs at least 8 characters.';
  if (utf8(passphrase).length > MAX_PASSPHRASE_BYTES) return 'That passphrase is too long: at most 4,096 bytes.';
  if (create && passphrase !== confirm) return 'The two passphrases are not the same.';
  return null;
}

/**
 * Opens (create: makes) the local profile: {vault, account, messenger, signaling}, the messenger
 * loaded, with its `invites`. `stillCurrent()` throws when the page moved on meanwhile.
 */
export async function openLocal(passphrase, create, stillCurrent) {
  const exists = await localExists();
  if (create && exists) throw new UserError('This browser holds a local profile already: open it with its passphrase.');
  if (!create && !exists) throw new UserError('This browser holds no local profile.');
  let vault = null;
  let account = null;
  let messenger = null;
  try {
    vault = await Vault.open(LOCAL_NAME, vaultKeyOf(passphrase));
    stillCurrent();
    try {
      account = await vault.loadAccount();
    } catch (e) {
      if (e instanceof core.ParleyError && e.codeName === 'AUTH') {
        throw new UserError('This passphrase does not open the local profile on this device.');
      }
      throw e;
    }
    // Record names are keyed by the vault key too: under another passphrase the account's
    // record is simply not found (the device mark is written only after the account is stored).
    if (!account && !create) throw new UserError('This passphrase does not open the local profile on this device.');
    if (!account) {
      account = core.Account.create();
      await vault.saveAccount(account);
    }
    await vault.setDevice(1);
    stillCurrent();
    const signaling = new Signaling(() => null); // never started: there is no server
    messenger = new Messenger({ username: LOCAL_NAME, device: 1, account, vault, signaling });
    await messenger.load();
    stillCurrent();
    messenger.invites = new Invites(messenger);
    return { vault, account, messenger, signaling };
  } catch (e) {
    if (messenger) messenger.shutdown();
    if (account) account.free();
    if (vault) vault.close();
    throw e;
  }
}
