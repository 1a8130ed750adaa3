//# allFunctionsCalledOnLoad
// From the password: a vault key and a login secret (docs/PROTOCOL.md 12.1).
import * as core from '../core/parley.js';
import { toB64u, utf8 } from './encoding.js';
import { serverOrigin } from './config.js';

export const MAX_PASSWORD_BYTES = 4096; // the core's limit for a password (UTF-8)
export const MIN_PASSWORD_CHARS = 8;

export function deriveKeys(username, password) {
  const salt = core.passwordSalt(`${serverOrigin()}\u0000${username}`);
  const out = core.passwordDerive(password, salt, 64);
  const keys = { vaultKey: out.slice(0, 32), loginSecret: toB64u(out.subarray(32)) };
  out.fill(0);
  return keys;
}

export function passwordProblem(password) {
  if (password.length < MIN_PASSWORD_CHARS) return 'The password needs at least 8 characters.';
  if (utf8(password).length > MAX_PASSWORD_BYTES) {
    return 'That password is too long: at most 4,096 bytes (about 4,000 plain letters and digits; accented letters and emoji take more).';
  }
  return null;
}
