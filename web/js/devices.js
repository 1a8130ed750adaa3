//# allFunctionsCalledOnLoad
// This browser as one of the account's devices (docs/PROTOCOL.md 14.4): its device id, named at
// every log-in; the account's device list, signed by the identity key (14.1) and kept in the
// directory (docs/API.md, "Devices"); and a device removed from the account, which says so and
// stops offering Send.
import * as core from '../core/parley.js';
import { ApiError, request } from './api.js';
import { fromB64u, toB64u, utf8 } from './encoding.js';

const DEVICE_ID_MAX = 0x7fffffff;
const LIST_RECORD = 'devices'; // vault: {"list": B64, "generation": n}, the newest own list known

/** A new device id: 31 random bits, not 0. */
export function newDeviceId() {
  for (;;) {
    const b = core.randomBytes(4);
    const id = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) & DEVICE_ID_MAX;
    if (id !== 0) return id;
  }
}

/** A label people recognise this browser by ("Chromium on Linux"), at most 64 UTF-8 bytes. */
export function deviceLabel() {
  const ua = navigator.userAgentData;
  const brand = ua?.brands?.map((b) => b.brand).find((b) => !/not.?a.?brand/i.test(b) && b !== 'Chromium') ||
    ua?.brands?.map((b) => b.brand).find((b) => b === 'Chromium');
  const s = navigator.userAgent;
  const browser = brand || (/Firefox\//.test(s) ? 'Firefox' : /Edg\//.test(s) ? 'Edge' : /Chrome\//.test(s) ? 'Chrome'
    : /Safari\//.test(s) ? 'Safari' : 'Browser');
  const os = ua?.platform || (/Android/.test(s) ? 'Android' : /iPhone|iPad/.test(s) ? 'iOS' : /Mac OS X/.test(s) ? 'macOS'
    : /Windows/.test(s) ? 'Windows' : /Linux/.test(s) ? 'Linux' : '');
  let label = os ? `${browser} on ${os}` : browser;
  while (utf8(label).length > 64) label = label.slice(0, -1);
  return label;
}

/** The entries of a signed list (ids and labels), opened with an identity key (bytes). */
export function readList(identityKey, signed) {
  const opened = core.openDevices(identityKey, signed);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    generation: opened.generation,
    devices: opened.devices.map((d) => ({ id: d.id, label: decoder.decode(d.label) })),
  };
}

/** A device id as the wire carries it (an integer 1..2^31-1), else the default. */
export function deviceId(v, fallback = 1) {
  return Number.isSafeInteger(v) && v >= 1 && v <= DEVICE_ID_MAX ? v : fallback;
}

/**
 * The device a chat starts with, from a directory answer (docs/API.md, GET /api/keys): the first
 * device of the list signed by their identity that has a bundle, with that bundle's keys in the
 * form bundleFromJson takes; for an account without a list (made before devices), device 1 with
 * the top-level keys. A list their identity did not sign (a directory adding a device of its own)
 * is refused: UserError-like Error with a plain message.
 */
export function chooseBundle(name, answer) {
  if (answer.devices === null || answer.devices === undefined) {
    return { device: 1, keys: answer, list: null };
  }
  let listed;
  try {
    listed = readList(fromB64u(answer.identityKey), fromB64u(answer.devices));
  } catch {
    throw new Error(`The server gave a list of ${name}'s devices that ${name}'s identity did not sign. Nothing was sent.`);
  }
  const ids = new Set(listed.devices.map((d) => d.id));
  const entry = (Array.isArray(answer.bundles) ? answer.bundles : []).find((b) => ids.has(b?.device));
  if (!entry) throw new Error(`${name} has no device with keys on the server yet.`);
  return {
    device: entry.device,
    keys: { ...answer, signedPrekey: entry.signedPrekey, oneTimePrekey: entry.oneTimePrekey ?? null, kemPrekey: entry.kemPrekey ?? null },
    list: { list: answer.devices, generation: listed.generation, ids: listed.devices.map((d) => d.id) },
  };
}

/** The sender name sealed in an envelope (docs/PROTOCOL.md 14.4): "NAME/DEVICE". */
export function sealedName(name, device) {
  return `${name}/${device}`;
}

/** {name, device} of a sealed sender name; a bare NAME (before devices) is device 1. */
export function parseSealedName(sealed) {
  const m = /^([^/]+)(?:\/([1-9][0-9]{0,9}))?$/.exec(sealed);
  if (!m) return null;
  const device = m[2] === undefined ? 1 : deviceId(Number(m[2]), 0);
  return device ? { name: m[1], device } : null;
}

/**
 * Makes sure the directory lists this device under a list signed by our identity: an account whose
 * list is still absent (just made, or made before devices, or a new identity) gets one naming this
 * device, generation 1. The newest own list is kept in the vault. At log-in before the connection
 * opens (an unlisted device may talk only to its own devices), and after each ready.
 */
export async function syncDeviceList(account, vault, device) {
  const dir = await request('GET', '/api/devices');
  if (typeof dir?.list === 'string') {
    const known = await vault.getJson(LIST_RECORD, null);
    const { generation } = readList(account.identityKey(), fromB64u(dir.list));
    if (!known || generation > known.generation) await vault.putJson(LIST_RECORD, { list: dir.list, generation });
    return;
  }
  const signed = toB64u(account.signDevices(core.encodeDeviceList(1, [{ id: device, label: deviceLabel() }])));
  try {
    await request('PUT', '/api/devices', { list: signed });
  } catch (e) {
    // Another device of ours uploaded one meanwhile: the next run reads it.
    if (e instanceof ApiError && e.status === 409) return;
    throw e;
  }
  await vault.putJson(LIST_RECORD, { list: signed, generation: 1 });
}

/** Whether this vault has seen the account's signed list (else log-in makes sure of it first). */
export async function listKnown(vault) {
  return !!await vault.getJson(LIST_RECORD, null);
}

export const deviceMethods = {
  /** The account's list, checked after each ready (syncDeviceList). */
  async ensureDeviceList() {
    if (this.stopped) return;
    await syncDeviceList(this.account, this.vault, this.device);
    if (!this.stopped) await this.loadOwnDevices(); // fanout.js: which devices of ours get copies
  },
};
