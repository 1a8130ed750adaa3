//# allFunctionsCalledOnLoad
// Data channels to a contact's other devices (docs/PROTOCOL.md 14.6): besides the chat's primary
// pair, a page opens a link to each other listed device of a contact that is connected, while
// that chat is open or own messages are owed to that device, and takes a link such a device
// offers. A link is keyed by the device's address (NAME/DEVICE) and carries that device's session
// (fanout.js): copies of own messages go over it instead of the mailbox, and what comes over it
// is read as mail from that device is. One RTCPeerConnection per device, made only when used.
import { fromB64u } from './encoding.js';
import { deviceId } from './devices.js';
import { address, splitAddress } from './fanout.js';
import { PeerLink } from './peer.js';

const DEVICE_RECONNECT_MS = 5000; // a device link that closed is tried again after this, while wanted
const DEVICE_LINK_WAIT_MS = 3000; // the device that does not offer first waits this long for the other

export const deviceLinkMethods = {
  // Which other devices of a contact are connected now (presence "devices"), besides the primary.
  onlineDevices(name) {
    const devices = this.presenceDevices.get(name);
    if (this.presence.get(name) !== 'online' || !devices) return [];
    const primary = this.primaryDevice(name);
    const listed = this.listedDevices(name);
    return devices.filter((d) => d !== primary && listed.includes(d));
  },

  // Whether a link to a contact's device is worth having now: its chat is open, or copies of own
  // messages are owed to it.
  deviceLinkWanted(addr) {
    const { name } = splitAddress(addr);
    if (this.stopped || this.contacts[name]?.status !== 'active' || this.contacts[name]?.held) return false;
    if (this.activeChat === name) return true;
    return this.history(name).some((e) => e.from === 'me' && e.fan?.[addr] === 'queued');
  },

  // Presence of a contact changed: links to devices that left are reset; devices that are
  // connected get one when wanted.
  devicePresence(name) {
    const online = new Set(this.onlineDevices(name).map((d) => address(name, d)));
    for (const [key, l] of this.links) {
      if (key.startsWith(`${name}/`) && !online.has(key) && (l.open || l.pc)) {
        l.reset(); // that page is gone: do not wait for ICE to notice
        this.deviceLinkClosed(key, l);
      }
    }
    for (const addr of online) this.connectDevice(addr);
  },

  /** Opens a link to a contact's device when wanted (the smaller address offers first). */
  connectDevice(addr, force = false) {
    if (!force && !this.deviceLinkWanted(addr)) return;
    const { name, device } = splitAddress(addr);
    if (!this.onlineDevices(name).includes(device)) return;
    const l = this.deviceLink(addr);
    if (l.open || l.pc) return;
    if (force || l.tiebreak) {
      l.start().catch((e) => this.report(e));
    } else {
      setTimeout(() => {
        const again = this.links.get(addr);
        if (!this.stopped && again && !again.open && !again.pc && this.onlineDevices(name).includes(device)) {
          again.start().catch((e) => this.report(e));
        }
      }, DEVICE_LINK_WAIT_MS);
    }
  },

  /** Links to every connected device of a contact (their chat was opened). */
  connectDevices(name) {
    for (const d of this.onlineDevices(name)) this.connectDevice(address(name, d));
  },

  deviceLink(addr) {
    let l = this.links.get(addr);
    if (l) return l;
    const { name, device } = splitAddress(addr);
    l = new PeerLink(this.me, name, this.signaling);
    l.toDevice = device;
    // Glare: both devices offered at once; the smaller address's offer wins.
    l.tiebreak = address(this.me, this.device) < addr;
    l.addEventListener('open', () => {
      this.changed(name);
      this.fanOutSoon(name); // what is owed to that device goes over the link now
    });
    l.addEventListener('close', () => {
      this.deviceLinkClosed(addr, l);
      setTimeout(() => {
        if (!this.stopped && !this.links.get(addr)?.open) this.connectDevice(addr);
      }, DEVICE_RECONNECT_MS);
    });
    l.addEventListener('data', (ev) => this.serial(() => this.onDeviceData(addr, ev.detail)));
    this.links.set(addr, l);
    return l;
  },

  // A link signal (offer, answer, ice, bye) from a contact's device that is not the primary one:
  // taken when the device is in their list.
  onDeviceSignal(from, msg) {
    const device = deviceId(msg.fromDevice, 0);
    if (!device || from === this.me || this.contacts[from]?.status !== 'active') return;
    if (!this.listedDevices(from).includes(device)) return;
    this.deviceLink(address(from, device)).onSignal(msg).catch((e) => this.report(e));
  },

  // A link to a device closed: copies that went over it and were not acknowledged go again (by
  // mail, or over the next link: fanOut counts a copy sent over a link that is gone as owed).
  deviceLinkClosed(addr, link) {
    if (this.links.get(addr) === link) this.links.delete(addr);
    this.fanOutSoon(splitAddress(addr).name);
  },

  // A ratchet message over a device's link: read as mail from that device is (fanout.js), stored,
  // and acknowledged over the link.
  async onDeviceData(addr, bytes) {
    const { name } = splitAddress(addr);
    const identity = this.contacts[name]?.identityKey;
    if (!identity) return;
    const result = await this.openFromDevice(addr, bytes, fromB64u(identity));
    if (!result || result === 'unreadable') return;
    const { effect } = result;
    const records = [];
    const session = this.sessions.get(addr);
    if (result.spent) records.push(this.vault.accountRecord(this.account));
    let ack = null;
    if (effect.receipt && session) ack = session.encrypt(JSON.stringify({ t: 'ack', ids: [effect.receipt] }));
    if (session) records.push(this.vault.sessionRecord(addr, session));
    if (effect.indexes) records.push(...this.historyRecords(name, effect.indexes));
    if (effect.contactsChanged) records.push(...this.contactsRecords());
    if (records.length) await this.vault.putMany(records);
    if (result.spent) this.replenishSoon();
    if (ack && !this.links.get(addr)?.send(ack)) this.mailTo(addr, ack, null);
    this.afterPayload(name, effect);
  },
};
