//# allFunctionsCalledOnLoad
// Test hooks (tests/e2e; docs/PROTOCOL.md 12.12), installed only when this origin's
// localStorage key "parley-test-hooks" is "1" at log-in: a session's sealed state kept and later
// put back, as a restored backup would (a session rolled back cannot read what the peer sent after
// the snapshot), and whether a link runs over a TURN relay.
import * as core from '../core/parley.js';
import { request } from './api.js';
import { readList } from './devices.js';
import { fromB64u, toB64u } from './encoding.js';

const TEST_HOOKS_KEY = 'parley-test-hooks';

export const testHookMethods = {
  installTestHooks() {
    let on = false;
    try {
      on = globalThis.localStorage?.getItem(TEST_HOOKS_KEY) === '1';
    } catch {
      on = false;
    }
    if (!on) return;
    const snapshots = new Map();
    globalThis.parleyTestHooks = {
      snapshotSession: (name) => this.serial(async () => {
        const s = await this.session(name);
        if (!s) throw new Error(`no session with ${name}`);
        snapshots.set(name, this.vault.sessionRecord(name, s));
      }),
      restoreSession: (name) => this.serial(async () => {
        const record = snapshots.get(name);
        if (!record) throw new Error(`no snapshot of the session with ${name}`);
        this.dropSession(name);
        await this.vault.putMany([record]);
      }),
      relayed: (name) => this.links.get(name)?.relayed() ?? false,
      transfer: (key) => toB64u(this.account.exportIdentity(fromB64u(key))),
      contactsForLink: () => Object.values(this.contacts).filter((c) => c.status === 'active').map((c) => ({
        name: c.name, status: 'active', identityKey: c.identityKey, identityCounter: c.identityCounter,
        verified: !!c.verified, deviceList: c.deviceList, cap: c.cap, since: c.since, device: 0,
      })),
      listDevice: (id) => this.serial(async () => {
        const known = await this.vault.getJson('devices', null);
        const list = readList(this.account.identityKey(), fromB64u(known.list));
        const devices = [...list.devices, { id, label: 'Linked' }].sort((a, b) => a.id - b.id);
        const signed = toB64u(this.account.signDevices(core.encodeDeviceList(list.generation + 1, devices)));
        await request('PUT', '/api/devices', { list: signed });
        await this.ensureDeviceList();
      }),
      unlistDevice: (id) => this.serial(async () => {
        const known = await this.vault.getJson('devices', null);
        const list = readList(this.account.identityKey(), fromB64u(known.list));
        const devices = list.devices.filter((d) => d.id !== id);
        const signed = toB64u(this.account.signDevices(core.encodeDeviceList(list.generation + 1, devices)));
        await request('PUT', '/api/devices', { list: signed });
        await this.ensureDeviceList();
      }),
      listed: (name) => this.listedDevices(name),
      ownDevices: () => this.ownDevices,
      presence: () => this.vault.getJson('presence', null),
    };
  },
};
