//# allFunctionsCalledOnLoad
// The account's devices on screen: the new browser's "Link this device" screen (shown at log-in
// when this browser holds no keys for an account that exists), and the Devices dialog of the app
// (the list, "Link a new device", "Remove device"). The channel itself is link.js.
// Untrusted text (labels) goes in with textContent only.
import * as core from '../core/parley.js';
import { request } from './api.js';
import { deviceLabel, readList } from './devices.js';
import { $, el } from './dom.js';
import { fromB64u, randomId, toB64u, utf8 } from './encoding.js';
import { UserError } from './errors.js';
import { NewDeviceLink, OldDeviceLink, installLinked } from './link.js';
import { historyChunks } from './transcript.js';
import { drawQr } from './qr.js';
import { Signaling } from './signaling.js';

export const START_OVER_WARNING = 'Make a new identity? Every contact will be told that your safety number changed, and chats must be started again. Your other devices will be removed from your account.';

function showText(id, text) {
  $(id).textContent = text || '';
  $(id).hidden = !text;
}

const grouped = (digits) => digits.match(/.{1,4}/g).join(' ');

// ---- the new browser ------------------------------------------------------------------------

let linking = null; // {cancel()} of the screen shown now

/** Leaves the link screen wherever it is (log-out, another tab took over). */
export function cancelLinking() {
  linking?.cancel();
  linking = null;
}

/**
 * The screen of a browser logging in to an account whose keys it does not hold: resolves with the
 * linked account (stored in the vault with the contacts and history from the other device), or
 * null when the person chose to start over here (after the warning). Rejects when they leave.
 */
export function offerLink({ username, device, vault, getToken, show, plain }) {
  return new Promise((resolve, reject) => {
    let signaling = null;
    let link = null;
    const ended = new AbortController();
    const on = (id, fn) => $(id).addEventListener('click', fn, { signal: ended.signal });
    const finish = () => {
      ended.abort();
      link?.close();
      link = null;
      signaling?.stop();
      signaling = null;
      linking = null;
    };
    const choose = (error = '') => {
      link?.close();
      link = null;
      signaling?.stop();
      signaling = null;
      $('link-choice').hidden = false;
      $('link-wait').hidden = true;
      showText('link-error', error);
    };
    linking = { cancel: () => { finish(); reject(new UserError('Linking was stopped.')); } };
    $('link-user').textContent = username;
    choose();
    show('link-screen');
    $('link-start').focus();
    on('start-over', () => {
      // eslint-disable-next-line no-alert
      if (!window.confirm(START_OVER_WARNING)) return;
      finish();
      resolve(null);
    });
    on('link-leave', () => {
      finish();
      request('POST', '/api/logout', undefined, { timeoutMs: 10000 }).catch(() => {}); // the token is not kept
      reject(new UserError('You are logged out. Nothing was changed on this browser.'));
    });
    // The other device is told (it stops waiting), and the keys of this attempt are wiped.
    on('link-cancel', () => (link ? link.fail(new UserError('Linking was cancelled. Press "Link this device" to try again.')) : choose()));
    on('link-start', async () => {
      choose();
      $('link-choice').hidden = true;
      $('link-wait').hidden = false;
      $('link-fingerprint-row').hidden = true;
      showText('link-status', 'Connecting…');
      signaling = new Signaling(getToken);
      const mine = signaling;
      link = new NewDeviceLink({
        username,
        device,
        signaling,
        label: deviceLabel(),
        onFingerprint: (digits) => {
          $('link-fingerprint').textContent = grouped(digits);
          $('link-fingerprint-row').hidden = false;
          showText('link-status', 'Check that your other device shows the same number, and confirm there.');
        },
        onProgress: (text) => showText('link-status', text),
      });
      $('link-code').textContent = link.code;
      drawQr($('link-qr'), utf8(link.code));
      signaling.addEventListener('state', (ev) => {
        if (ev.detail.state === 'online' && signaling === mine) {
          showText('link-status', 'Waiting for your other device: open Devices there and press "Link a new device".');
        }
      });
      signaling.addEventListener('device-removed', () => link?.fail(new UserError('This browser was removed from your account.')));
      signaling.addEventListener('auth-failed', () => link?.fail(new UserError('You were logged out. Please log in again.')));
      signaling.start();
      const current = link;
      try {
        const { account, data, list, generation } = await current.run();
        try {
          await installLinked(vault, account, data, list, generation);
        } catch (e) {
          account.free();
          current.fail(e); // the old device is told
          throw e;
        }
        current.acknowledge();
        finish();
        resolve(account);
      } catch (e) {
        if (link === current) choose(plain(e));
      }
    });
  });
}

// ---- the Devices dialog ------------------------------------------------------------------------

function lastActive(d) {
  if (d.connected) return 'online now';
  const hours = Math.floor((Date.now() / 1000 - d.lastSeen) / 3600);
  if (!Number.isFinite(hours) || hours < 1) return 'active within the last hour';
  if (hours < 48) return `last active about ${hours} hour${hours === 1 ? '' : 's'} ago`;
  return `last active about ${Math.floor(hours / 24)} days ago`;
}

/**
 * Wires the Devices dialog. `ctx()` gives {username, account, vault, signaling, messenger} of the
 * session (null when logged out); `busy` and `plain` are the app's.
 */
export function wireDevices(ctx, { busy, plain }) {
  let link = null;
  const error = (text) => showText('devices-error', text);
  const status = (text) => showText('devices-status', text);
  const resetLink = () => {
    link?.cancel();
    link = null;
    $('link-form').hidden = true;
    $('link-confirm').hidden = true;
    $('link-new').hidden = false;
    $('link-code-input').value = '';
  };

  async function render() {
    const c = ctx();
    if (!c) return;
    const dir = await request('GET', '/api/devices');
    const labels = new Map();
    let listed = null;
    if (typeof dir?.list === 'string') {
      listed = readList(c.account.identityKey(), fromB64u(dir.list));
      for (const d of listed.devices) labels.set(d.id, d.label);
    }
    const rows = Array.isArray(dir?.devices) ? dir.devices : [];
    $('device-list').replaceChildren(...rows.map((d) => {
      const labelId = `device-label-${d.device}`;
      const li = el('li', { className: 'device' },
        el('span', { className: 'device-label', id: labelId, textContent: labels.get(d.device) || (d.listed ? `Device ${d.device}` : 'A browser that logged in') }),
        el('span', { className: 'muted', textContent: d.current ? ' (this device) ' : ' ' }),
        el('span', { className: 'muted device-seen', textContent: d.listed ? lastActive(d) : 'not linked yet' }));
      if (!d.current && d.listed && listed) {
        const b = el('button', { type: 'button', className: 'secondary', textContent: 'Remove device', 'aria-describedby': labelId });
        b.addEventListener('click', () => remove(d.device, labels.get(d.device) || `Device ${d.device}`, b));
        li.append(b);
      }
      return li;
    }));
  }

  function remove(id, label, button) {
    // eslint-disable-next-line no-alert
    if (!window.confirm(`Remove "${label}" from your account? That browser will no longer send or receive your messages, and cannot be added again.`)) return;
    error('');
    busy(button, async () => {
      const c = ctx();
      const dir = await request('GET', '/api/devices');
      const current = readList(c.account.identityKey(), fromB64u(dir.list));
      const entries = current.devices.filter((d) => d.id !== id);
      const signed = toB64u(c.account.signDevices(core.encodeDeviceList(current.generation + 1, entries)));
      await request('PUT', '/api/devices', { list: signed });
      await c.vault.putJson('devices', { list: signed, generation: current.generation + 1 });
      c.messenger.ensureDeviceList().catch(() => {}); // its sessions with that device go
      status(`"${label}" was removed from your account.`);
      await render();
    }, (e) => error(plain(e)));
  }

  installLinkHooks(ctx);
  // While the dialog is open, the list is read again every 15 s (who is online, a new browser).
  let refresh = null;
  $('devices-open').addEventListener('click', () => {
    error('');
    status('');
    resetLink();
    $('devices-dialog').showModal();
    render().catch((e) => error(plain(e)));
    clearInterval(refresh);
    refresh = setInterval(() => render().catch(() => {}), 15_000);
  });
  $('close-devices').addEventListener('click', () => $('devices-dialog').close());
  $('devices-dialog').addEventListener('close', () => {
    clearInterval(refresh);
    refresh = null;
    resetLink();
  });
  $('link-new').addEventListener('click', () => {
    error('');
    status('');
    $('link-new').hidden = true;
    $('link-form').hidden = false;
    $('link-code-input').focus();
  });
  $('link-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    error('');
    const c = ctx();
    busy($('link-go'), async () => {
      link?.cancel();
      link = new OldDeviceLink({
        username: c.username,
        signaling: c.signaling,
        account: c.account,
        vault: c.vault,
        code: $('link-code-input').value,
        onAbort: (e) => {
          resetLink();
          error(plain(e));
        },
      });
      status('Contacting the new device…');
      const { fingerprint, label } = await link.start();
      status('');
      $('link-confirm-label').textContent = label || 'the new device';
      $('link-confirm-fingerprint').textContent = grouped(fingerprint);
      $('link-form').hidden = true;
      $('link-confirm').hidden = false;
      $('link-confirm-button').focus();
    }, (e) => {
      link?.cancel();
      link = null;
      error(plain(e));
    });
  });
  $('link-abort').addEventListener('click', () => {
    resetLink();
    status('Linking was cancelled.');
  });
  $('link-confirm-button').addEventListener('click', () => {
    const current = link;
    if (!current) return;
    busy([$('link-confirm-button'), $('link-abort')], async () => {
      const { contacts, messages, label } = await current.transfer(status);
      ctx()?.messenger.ensureDeviceList().catch(() => {}); // copies of what we send go to it now
      link = null;
      resetLink();
      status(`${label || 'The new device'} is linked: ${contacts} contact${contacts === 1 ? '' : 's'} and ${messages} message${messages === 1 ? '' : 's'} copied.`);
      await render();
    }, (e) => {
      current.cancel();
      if (link === current) resetLink();
      error(plain(e));
    });
  });
}

/** Closes the dialog (log-out): a link in progress is abandoned. */
export function closeDevices() {
  if ($('devices-dialog').open) $('devices-dialog').close();
}

// A test hook (bench/web/linking.mjs), installed only when this origin's localStorage key
// "parley-test-hooks" is "1" when the page starts: `fillHistory(name, n)` writes n made-up messages
// as the stored history with a contact (what the vault holds; the open page's memory is not
// changed), so that linking can be timed with a long history without sending it.
function installLinkHooks(ctx) {
  let on = false;
  try {
    on = globalThis.localStorage?.getItem('parley-test-hooks') === '1';
  } catch {
    on = false;
  }
  if (!on) return;
  globalThis.parleyLinkHooks = {
    async fillHistory(name, n) {
      const { vault } = ctx();
      const now = Date.now() - n * 1000;
      const entries = Array.from({ length: n }, (_, i) => (i % 2
        ? { id: randomId(), from: 'them', text: `history message ${i} from them`, ts: now + i * 1000, state: 'received' }
        : { id: randomId(), from: 'me', text: `history message ${i}, sent a while ago`, ts: now + i * 1000, state: 'delivered' }));
      const chunks = historyChunks(entries);
      const records = chunks.map((chunk, k) => [`history:${name}:${k}`, vault.sealJson(`history:${name}:${k}`, chunk)]);
      records.push([`history-chunks:${name}`, vault.sealJson(`history-chunks:${name}`, chunks.length)]);
      await vault.putMany(records);
      return entries.at(-1).text;
    },
  };
}
