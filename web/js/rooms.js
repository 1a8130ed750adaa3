//# allFunctionsCalledOnLoad
// Rooms on the messenger (docs/PROTOCOL.md 20, the web app's part 20.7): groups whose members are
// identity keys, held only on members' devices. The core signs, opens and judges descriptors and
// leave statements; this module keeps the rooms (vault records `rooms` and `room-log:ID`), sends
// every room payload to each member as an own entry of the pairwise chat with them (kind "room":
// never shown there; sent, kept and acknowledged as a message is, by link or mailbox: outbox.js),
// and takes what members send (inbox.js applyPayload -> applyRoom).
// Rules kept here:
// - a descriptor is taken only by the core's rule (acceptRoomFirst from an admin contact for a room
//   not held, which must list this account; acceptRoom after); anything else is reported
//   ('problem') and ignored;
// - a room message is shown only when its sender is listed in the held descriptor and in the
//   version it names; one naming a newer version than held waits (in memory, unacknowledged)
//   for that version; the rest is reported and dropped;
// - a chat request is taken without asking only when its identity key is listed in a room held
//   here (roomAutoAccept), and members who are not contacts are asked by the one whose username
//   sorts first once the room is held (or by whoever sends first).
import * as core from '../core/parley.js';
import { UserError } from './errors.js';
import { fromB64u, randomId, toB64u, equalBytes } from './encoding.js';
import { fanoutMethods } from './fanout.js';
import { transcriptMethods } from './transcript.js';
import {
  MAX_LOG, MAX_PAST, MAX_ROOMS, MAX_ROOM_TEXT, ROOMS_RECORD_VERSION, ROOM_CHECK_KINDS, RoomPayloadError, readRoomLog,
  readRoomPayload, readRoomsRecord, roomHex, roomWirePayload,
} from './rooms-wire.js';
// The room check on direct connections (20.4, 20.7): its own module, installed with these.
import { roomMeshMethods } from './rooms-mesh.js';

// MAX_PAST: earlier versions kept per room, to judge messages that name them; MAX_LOG: messages
// kept per room transcript (the oldest go first); MAX_ROOMS: rooms held on a device.
const MAX_WAITING = 64; // messages waiting for a version or a session, per page

function roomProblem(text) {
  const e = new Error(text);
  e.room = true;
  return e;
}

// The names a room record keeps: those of the keys its descriptor lists (at most 16).
function listedNames(room) {
  const listed = new Set(room.info.members.map((m) => toB64u(m.key)));
  return Object.fromEntries(Object.entries(room.names).filter(([k]) => listed.has(k)));
}

export const roomMethods = {
  ...roomMeshMethods,

  // ---- storage ---------------------------------------------------------------------------------

  async loadRooms() {
    this.rooms = new Map();
    this.roomWaiting = [];
    this.installRoomTestHooks();
    this.startRoomMesh(); // rooms-mesh.js
    this.addEventListener('change', () => this.roomKeysResolve()); // members by key code (20.8)
    const rec = await this.vault.getJson('rooms', null);
    if (rec === null) return;
    let rooms;
    try {
      rooms = readRoomsRecord(rec);
    } catch (e) {
      // Not written by this version: kept as it is (never written over), and said.
      this.roomsUnreadable = true;
      this.dispatchEvent(new CustomEvent('alert', { detail: 'The rooms stored on this device could not be read by this version of Parley; they are kept, unchanged.' }));
      this.report(e);
      return;
    }
    for (const [hex, r] of rooms) {
      try {
        const info = core.openRoom(r.d);
        if (roomHex(info.roomId) !== hex) throw roomProblem('its descriptor names another room');
        const log = readRoomLog(await this.vault.getJson(`room-log:${hex}`, []));
        this.rooms.set(hex, { hex, d: r.d, info, past: r.past, names: r.names, status: r.status, gone: new Set(r.gone), unread: r.unread, log });
      } catch (e) {
        this.roomsUnreadable = true;
        this.report(roomProblem(`A stored room could not be read: ${e.codeName || e.message}`));
      }
    }
  },

  // Test hooks (testhooks.js; only with "parley-test-hooks" set): a next version signed with this
  // account whatever its role, sent to the room's members as a descriptor is: what a member that
  // is not an admin could forge, for the tests that every other member ignores it.
  installRoomTestHooks() {
    if (!globalThis.parleyTestHooks) return;
    globalThis.parleyTestHooks.forgeRoomVersion = async (hex, dropName) => {
      const room = this.rooms.get(hex);
      const drop = this.roomMembers(room).find((x) => x.name === dropName)?.key;
      const members = room.info.members.filter((x) => toB64u(x.key) !== drop).map((x) => ({ key: x.key, role: x.role }));
      const d = core.signRoom(this.account, { roomId: room.info.roomId, version: room.info.version + 1, name: room.info.name, members });
      const forged = { ...room, d, info: core.openRoom(d) };
      await this.sendDescriptor(forged, this.roomRecipients(room));
      return room.info.version + 1;
    };
    // A room message sent to the members listed here whatever this page's standing (a removed
    // member's page would not send one).
    globalThis.parleyTestHooks.forgeRoomMessage = async (hex, text, ver) => {
      const room = this.rooms.get(hex);
      await this.roomSendTo(this.roomRecipients(room), { id: randomId(), ts: Date.now(), payload: { t: 'room-msg', room: hex, ver, text } });
    };
  },

  roomRecordNames() {
    return ['rooms', ...[...(this.rooms?.keys() || [])].map((h) => `room-log:${h}`)];
  },

  roomsRecord() {
    const rooms = {};
    for (const [hex, r] of this.rooms) {
      rooms[hex] = {
        d: toB64u(r.d), past: r.past.map((p) => toB64u(p)), names: listedNames(r), status: r.status,
        gone: [...r.gone], unread: r.unread,
      };
    }
    return ['rooms', this.vault.sealJson('rooms', { v: ROOMS_RECORD_VERSION, rooms })];
  },

  async saveRoom(hex, withLog = true) {
    if (this.roomsUnreadable) throw new UserError('The rooms stored on this device could not be read, so this device does not change them.');
    await this.vault.putMany(this.roomRecords(withLog ? [{ hex }] : []));
  },

  // The `rooms` record and the transcripts of the rooms the effects name (inbox.js stores them
  // with the sessions that carried them); the effects are marked stored.
  roomRecords(effects) {
    if (this.roomsUnreadable) return [];
    const records = [this.roomsRecord()];
    for (const hex of new Set(effects.map((e) => e.hex))) {
      const r = this.rooms.get(hex);
      if (!r) continue;
      if (r.log.length > MAX_LOG) r.log.splice(0, r.log.length - MAX_LOG);
      records.push([`room-log:${hex}`, this.vault.sealJson(`room-log:${hex}`, r.log)]);
    }
    for (const e of effects) e.stored = true;
    return records;
  },

  async storeRooms(effects) {
    const records = this.roomRecords(effects);
    if (records.length) await this.vault.putMany(records);
  },

  roomChanged(hex) {
    this.dispatchEvent(new CustomEvent('room', { detail: { room: hex } }));
  },

  /** A line of this page's own in a room's transcript (a call, a failed check), stored and drawn. */
  roomNotice(hex, text) {
    const room = this.rooms.get(hex);
    if (!room) return;
    room.log.push({ id: randomId(), from: 'system', ts: Date.now(), text });
    this.serial(() => this.saveRoom(hex)).catch((e) => this.report(e));
    this.dispatchEvent(new CustomEvent('room', { detail: { room: hex, mesh: true } }));
  },

  // ---- who is who ------------------------------------------------------------------------------

  myKey() {
    return this.account.identityKey();
  },

  // The username for a member key: the contact holding that key, else the name the descriptor's
  // sender gave (a hint, checked against the directory before any session is made with it).
  memberName(room, keyB64) {
    if (keyB64 === toB64u(this.myKey())) return this.roomSelfName();
    return this.contactWithKey(keyB64) || room.names[keyB64] || null;
  },

  // This account's name in rooms: its username, or for a local profile (no account, 17.7) the
  // code name its code contacts know it by ("~" and its key's first 8 base64url characters, 20.7).
  roomSelfName() {
    return this.me.startsWith('~') ? `~${toB64u(this.myKey()).slice(0, 8)}` : this.me;
  },

  // Members other than this account, with their names: [{key (b64u), name, role}].
  roomMembers(room, info = room.info) {
    return info.members.map((m) => {
      const key = toB64u(m.key);
      return { key, name: this.memberName(room, key), role: m.role, me: key === toB64u(this.myKey()) };
    });
  },

  roomRole(room) {
    return core.roomRole(room.d, this.myKey());
  },

  /** A chat request whose identity key is listed in a room held here is taken without asking. */
  roomAutoAccept(identityKeyB64) {
    if (!this.rooms) return false;
    const key = fromB64u(identityKeyB64);
    for (const r of this.rooms.values()) {
      if (r.status === 'active' && core.roomRole(r.d, key) !== null) return true;
    }
    return false;
  },

  // ---- sending ---------------------------------------------------------------------------------

  // Makes sure a pairwise session with a member exists (a contact with that key, or a chat
  // request sent to the name once the directory gives it that key). Outside the queue.
  roomPair(name, keyB64) {
    this.roomPairing = this.roomPairing || new Map();
    const had = this.roomPairing.get(name);
    if (had) return had;
    const p = this.roomPairNow(name, keyB64).finally(() => this.roomPairing.delete(name));
    this.roomPairing.set(name, p);
    return p;
  },

  async roomPairNow(name, keyB64) {
    const c = this.contacts[name];
    if (c && c.identityKey === keyB64 && (c.status === 'active' || c.status === 'pending')) return true;
    if (c && c.identityKey && c.identityKey !== keyB64) return false; // another key: never this room's
    // A code name (a contact by invitation code, 17) has no account to look up, and a local
    // profile has no server: no session until a contact holds the key (roomKeysResolve).
    if (name.startsWith('~') || this.me.startsWith('~')) return false;
    const found = await this.fetchIdentity(name);
    if (!found || found.identityKey !== keyB64) {
      this.report(roomProblem(`The server's key for ${name} is not the one the room lists; nothing was sent to ${name}.`));
      return false;
    }
    await this.startChat(name);
    const now = this.contacts[name];
    return !!now && now.identityKey === keyB64;
  },

  // One room payload to members (names with keys): an own pairwise entry each. Outside the queue.
  async roomSendTo(targets, room) {
    await Promise.all(targets.map(async ({ name, key }) => {
      if (!name || name === this.me || key === toB64u(this.myKey())) return;
      try {
        if (!await this.roomPair(name, key)) return;
        await this.serial(async () => {
          const c = this.contacts[name];
          if (!c || c.identityKey !== key || c.held) return;
          await this.enqueue(name, { id: room.id, from: 'me', kind: 'room', room: room.payload, text: '', ts: room.ts, state: 'queued' });
        });
      } catch (e) {
        this.report(e);
      }
    }));
  },

  // The descriptor, with the names this page knows for its members, to targets.
  sendDescriptor(room, targets) {
    const names = {};
    for (const m of this.roomMembers(room)) if (m.name) names[m.key] = m.name;
    return this.roomSendTo(targets, { id: randomId(), ts: Date.now(), payload: { t: 'room', d: toB64u(room.d), names } });
  },

  // Whom a room message goes to: listed members but this account and those who left.
  roomRecipients(room) {
    return this.roomMembers(room).filter((m) => !m.me && !room.gone.has(m.key) && m.name);
  },

  /** The contact holding an identity key (b64u), active or pending, or null. */
  contactWithKey(keyB64) {
    for (const c of Object.values(this.contacts)) {
      if (c.identityKey === keyB64 && (c.status === 'active' || c.status === 'pending')) return c.name;
    }
    return null;
  },

  /**
   * Members listed by key code (20.8) whom no contact held: once a contact holds the key, its
   * name is kept in the room record and, where this account is an admin, the room is sent to it.
   */
  roomKeysResolve() {
    if (!this.rooms || this.roomsUnreadable) return;
    for (const room of this.rooms.values()) {
      if (room.status !== 'active') continue;
      const found = [];
      for (const m of room.info.members) {
        const key = toB64u(m.key);
        if (room.names[key] || equalBytes(m.key, this.myKey())) continue;
        const name = this.contactWithKey(key);
        if (name) {
          room.names[key] = name;
          found.push({ key, name });
        }
      }
      if (!found.length) continue;
      this.serial(() => this.saveRoom(room.hex, false)).then(() => {
        this.roomChanged(room.hex);
        if (this.roomRole(room) === 'admin') return this.sendDescriptor(room, found);
        return undefined;
      }).catch((e) => this.report(e));
    }
  },

  /** "Create room": version 1, this account admin, the picked contacts and keys (key codes) members. */
  async createRoom(name, usernames, keys = []) {
    const text = typeof name === 'string' ? name.trim() : '';
    if (!text) throw new UserError('Give the room a name.');
    if (new TextEncoder().encode(text).length > core.ROOM_NAME_MAX) throw new UserError('That room name is too long (at most 64 bytes).');
    const picked = [...new Set(usernames)];
    const byKey = [...new Set(keys.map((k) => toB64u(k)))].filter((k) => k !== toB64u(this.myKey()));
    const unknown = [];
    for (const k of byKey) {
      const who = this.contactWithKey(k);
      if (who && this.contacts[who].status === 'active') {
        if (!picked.includes(who)) picked.push(who);
      } else {
        unknown.push(k); // named once a contact holds it (roomKeysResolve)
      }
    }
    if (!picked.length && !unknown.length) throw new UserError('Pick at least one member.');
    if (picked.length + unknown.length + 1 > core.ROOM_MAX_MEMBERS) throw new UserError(`A room has at most ${core.ROOM_MAX_MEMBERS} members, you included.`);
    if (this.rooms.size >= MAX_ROOMS) throw new UserError(`This device holds at most ${MAX_ROOMS} rooms.`);
    const members = [{ key: this.myKey(), role: 'admin' }];
    const names = { [toB64u(this.myKey())]: this.roomSelfName() };
    for (const u of picked) {
      const c = this.contacts[u];
      if (!c || c.status !== 'active' || !c.identityKey) throw new UserError(`${u} is not a contact you can add.`);
      members.push({ key: fromB64u(c.identityKey), role: 'member' });
      names[c.identityKey] = u;
    }
    for (const k of unknown) members.push({ key: fromB64u(k), role: 'member' }); // no name: no session yet
    const d = core.signRoom(this.account, { roomId: core.randomBytes(core.ROOM_ID_BYTES), version: 1, name: text, members });
    const info = core.openRoom(d);
    const hex = roomHex(info.roomId);
    const room = { hex, d, info, past: [], names, status: 'active', gone: new Set(), unread: 0, log: [] };
    await this.serial(async () => {
      this.rooms.set(hex, room);
      room.log.push({ id: randomId(), from: 'system', ts: Date.now(), text: `You created the room ${text}.` });
      await this.saveRoom(hex);
    });
    this.roomChanged(hex);
    await this.sendDescriptor(room, this.roomRecipients(room));
    return hex;
  },

  // An admin's next version: members changed by change(list) -> list.
  async nextVersion(hex, change, lineText) {
    const room = this.rooms.get(hex);
    if (!room || room.status !== 'active') throw new UserError('This room is read-only here.');
    if (this.roomRole(room) !== 'admin') throw new UserError('Only an admin of the room can change its members.');
    let before;
    await this.serial(async () => {
      // Signed in the queue: a version taken meanwhile is the one this follows.
      before = this.roomMembers(room);
      const members = change(room.info.members.map((m) => ({ key: m.key, role: m.role })));
      const d = core.signRoom(this.account, { roomId: room.info.roomId, version: room.info.version + 1, name: room.info.name, members });
      this.takeVersion(room, core.acceptRoom(room.d, d), d);
      room.log.push({ id: randomId(), from: 'system', ts: Date.now(), text: lineText });
      await this.saveRoom(hex);
    });
    this.roomChanged(hex);
    // The union of old and new members: a removed one learns it from this version.
    const targets = new Map();
    for (const m of [...before, ...this.roomMembers(room)]) if (!m.me && m.name) targets.set(m.key, m);
    await this.sendDescriptor(room, [...targets.values()]);
  },

  /** "Add member" (admins): a contact, as a member. */
  addMember(hex, username) {
    const c = this.contacts[username];
    if (!c || c.status !== 'active' || !c.identityKey) return Promise.reject(new UserError(`${username} is not a contact you can add.`));
    const room = this.rooms.get(hex);
    if (room) room.names[c.identityKey] = username;
    const key = fromB64u(c.identityKey);
    return this.nextVersion(hex, (list) => {
      if (list.some((m) => equalBytes(m.key, key))) throw new UserError(`${username} is in the room already.`);
      if (list.length >= core.ROOM_MAX_MEMBERS) throw new UserError(`A room has at most ${core.ROOM_MAX_MEMBERS} members.`);
      return [...list, { key, role: 'member' }];
    }, `You added ${username}.`);
  },

  /** "Add key" (admins): a member by key code (20.8); a contact holding the key is added by name. */
  addMemberKey(hex, key) {
    const keyB64 = toB64u(key);
    if (keyB64 === toB64u(this.myKey())) return Promise.reject(new UserError('That is your own key code.'));
    const name = this.contactWithKey(keyB64);
    if (name && this.contacts[name].status === 'active') return this.addMember(hex, name);
    return this.nextVersion(hex, (list) => {
      if (list.some((m) => equalBytes(m.key, key))) throw new UserError('That key is in the room already.');
      if (list.length >= core.ROOM_MAX_MEMBERS) throw new UserError(`A room has at most ${core.ROOM_MAX_MEMBERS} members.`);
      return [...list, { key, role: 'member' }];
    }, 'You added a member by key code; it is sent to them once one of your contacts holds that key.');
  },

  /** "Remove member" (admins). */
  removeMember(hex, keyB64) {
    const room = this.rooms.get(hex);
    const name = room ? this.memberName(room, keyB64) || 'a member' : '';
    return this.nextVersion(hex, (list) => list.filter((m) => toB64u(m.key) !== keyB64), `You removed ${name}.`);
  },

  /**
   * "Leave room": a member signs the leave statement; an admin signs a version without itself
   * (the first remaining member becomes admin when it was the only one). Read-only here after.
   */
  async leaveRoom(hex) {
    const room = this.rooms.get(hex);
    if (!room || room.status !== 'active') return;
    const targets = this.roomRecipients(room);
    const me = toB64u(this.myKey());
    if (this.roomRole(room) === 'admin') {
      const rest = room.info.members.filter((m) => toB64u(m.key) !== me).map((m) => ({ key: m.key, role: m.role }));
      if (rest.length) {
        if (!rest.some((m) => m.role === 'admin')) rest[0].role = 'admin';
        const d = core.signRoom(this.account, { roomId: room.info.roomId, version: room.info.version + 1, name: room.info.name, members: rest });
        await this.serial(async () => {
          this.takeVersion(room, core.acceptRoom(room.d, d), d);
          await this.saveRoom(hex, false);
        });
        await this.sendDescriptor(room, targets);
      }
    } else {
      await this.sendLeave(hex);
    }
    await this.serial(async () => {
      room.status = 'left';
      room.log.push({ id: randomId(), from: 'system', ts: Date.now(), text: `You left ${room.info.name}.` });
      await this.saveRoom(hex);
    });
    this.roomChanged(hex);
  },

  // The leave statement for the version held, to the members it lists.
  sendLeave(hex) {
    const room = this.rooms.get(hex);
    const leave = core.signRoomLeave(this.account, room.d);
    return this.roomSendTo(this.roomRecipients(room), { id: randomId(), ts: Date.now(), payload: { t: 'room-leave', room: hex, leave: toB64u(leave) } });
  },

  /** A message to the room: one pairwise entry per member, each carrying room, version and id. */
  async sendRoomMessage(hex, text) {
    if (typeof text !== 'string' || !text.length) return;
    if (text.length > MAX_ROOM_TEXT) throw new UserError('That message is too long (at most 16,384 characters).');
    const room = this.rooms.get(hex);
    if (!room || room.status !== 'active') throw new UserError('This room is read-only here.');
    const targets = this.roomRecipients(room);
    const entry = { id: randomId(), from: 'me', ts: Date.now(), text, ver: room.info.version, to: targets.map((t) => t.name) };
    await this.serial(async () => {
      room.log.push(entry);
      await this.saveRoom(hex);
    });
    this.roomChanged(hex);
    await this.roomSendTo(targets, { id: entry.id, ts: entry.ts, payload: { t: 'room-msg', room: hex, ver: entry.ver, text } });
    this.roomChanged(hex);
  },

  /**
   * "delivered to N of M" of an own room message: the members' receipts in the pairwise chats.
   * states: roomDeliveryStates(room), made once for many messages.
   */
  roomDelivery(entry, states = null) {
    const to = entry.to || [];
    let delivered = 0;
    for (const name of to) {
      const st = states ? states.get(name)?.get(entry.id) : this.roomEntryState(name, entry.id);
      if (st === 'delivered') delivered += 1;
    }
    return { delivered, total: to.length };
  },

  roomEntryState(name, id) {
    const h = this.history(name);
    for (let i = h.length - 1; i >= 0; i -= 1) if (h[i].id === id && h[i].kind === 'room') return h[i].state;
    return null;
  },

  // name -> (entry id -> state) of the room entries in the pairwise chats of the room's members
  // and of whoever an own message went to.
  roomDeliveryStates(room) {
    const names = new Set(this.roomMembers(room).map((m) => m.name).filter(Boolean));
    for (const e of room.log) if (e.from === 'me') for (const n of e.to || []) names.add(n);
    const out = new Map();
    for (const name of names) {
      const m = new Map();
      for (const e of this.history(name)) if (e.kind === 'room') m.set(e.id, e.state);
      out.set(name, m);
    }
    return out;
  },

  // ---- receiving -------------------------------------------------------------------------------

  /** A room payload from a contact (inbox.js applyPayload), into effect. */
  applyRoom(name, inner, effect) {
    if (globalThis.parleyTestHooks) (this.roomIn ||= []).push({ name, t: String(inner.t) }); // roomPayloadsIn
    let p;
    try {
      p = readRoomPayload(inner);
    } catch (e) {
      if (!(e instanceof RoomPayloadError)) throw e;
      this.report(roomProblem(`A room payload from ${name} was refused: ${e.message}.`));
      // Acknowledged so that it is not sent again (not while their request waits: 12.6).
      const active = this.contacts[name]?.status === 'active';
      if (active && typeof inner.id === 'string' && /^[0-9a-f]{32}$/.test(inner.id)) effect.receipt = inner.id;
      return;
    }
    if (ROOM_CHECK_KINDS.has(p.t)) {
      this.roomCheckIn(name, p); // rooms-mesh.js: from the link only, never acknowledged
      return;
    }
    if (this.meshRefuses(name, p)) return; // on a link whose room check failed (rooms-mesh.js)
    const c = this.contacts[name];
    if (!c || (c.status !== 'active' && c.status !== 'pending') || !c.identityKey) {
      this.roomWait(name, p); // a session whose request waits: judged once a room takes it
      return;
    }
    const judged = this.judgeRoom(name, p);
    if (judged !== 'wait') effect.receipt = p.id;
    if (judged && judged !== 'wait') effect.room = judged;
  },

  roomWait(name, p) {
    if (this.roomWaiting.length >= MAX_WAITING) {
      this.roomWaiting.shift();
      this.report(roomProblem('A room message waiting for a newer room version was dropped (too many waiting).'));
    }
    if (!this.roomWaiting.some((w) => w.name === name && w.p.id === p.id)) this.roomWaiting.push({ name, p });
  },

  // In memory; returns null (refused or nothing to do), 'wait', or {hex, after: [...]} for afterRoom.
  judgeRoom(name, p) {
    const sender = fromB64u(this.contacts[name].identityKey);
    if (p.t === 'room') return this.takeDescriptor(name, sender, p);
    const room = this.rooms.get(p.room);
    if (!room) {
      this.roomWait(name, p); // the descriptor may be on its way
      return 'wait';
    }
    if (p.t === 'room-leave') return this.takeLeave(name, sender, room, p);
    if (room.status !== 'active') return null; // removed or left: nothing more is shown
    if (p.ver > room.info.version) {
      this.roomWait(name, p);
      return 'wait';
    }
    const listedThen = p.ver === room.info.version ? room.d
      : room.past.find((d) => core.openRoom(d).version === p.ver);
    if (core.roomRole(room.d, sender) === null || !listedThen || core.roomRole(listedThen, sender) === null) {
      this.report(roomProblem(`A message for the room ${room.info.name} from ${name}, who is not a member (version ${p.ver}), was dropped.`));
      return null;
    }
    if (room.log.some((m) => m.id === p.id && m.by === name)) return null; // a repeat
    room.log.push({ id: p.id, from: 'them', by: name, ts: p.ts, text: p.text, ver: p.ver });
    room.unread += this.activeRoom === room.hex ? 0 : 1;
    return { hex: room.hex };
  },

  // A descriptor: the core's acceptance rule (a first one must list this account: NOT_MEMBER).
  takeDescriptor(name, sender, p) {
    let info;
    let hex;
    try {
      hex = roomHex(core.openRoom(p.d).roomId);
    } catch (e) {
      this.report(roomProblem(`A room descriptor from ${name} was refused: ${e.codeName || e.message}.`));
      return null;
    }
    const room = this.rooms.get(hex);
    try {
      if (room) {
        info = core.acceptRoom(room.d, p.d);
      } else {
        info = core.acceptRoomFirst(p.d, sender, this.myKey()); // NOT_MEMBER: it does not list this account
        if (this.rooms.size >= MAX_ROOMS) throw roomProblem('this device holds too many rooms');
      }
    } catch (e) {
      this.report(roomProblem(`A room descriptor from ${name} was ignored: ${e.codeName || e.message}.`));
      return null;
    }
    const names = {};
    const listed = new Set(info.members.map((m) => toB64u(m.key)));
    for (const [k, v] of Object.entries(p.names)) if (listed.has(k)) names[k] = v;
    let r = room;
    const lines = [];
    if (!r) {
      r = { hex, d: p.d, info, past: [], names, status: 'active', gone: new Set(), unread: 0, log: [] };
      this.rooms.set(hex, r);
      lines.push(`${name} added you to the room ${info.name}.`);
    } else {
      const before = this.roomMembers(r);
      r.names = { ...r.names, ...names };
      this.takeVersion(r, info, p.d);
      const now = new Set(info.members.map((m) => toB64u(m.key)));
      for (const m of before) if (!now.has(m.key) && !m.me && m.name) lines.push(`${name} removed ${m.name}.`);
      const had = new Set(before.map((m) => m.key));
      for (const m of this.roomMembers(r)) if (!had.has(m.key) && !m.me) lines.push(`${name} added ${m.name || 'a member'}.`);
    }
    const listedMe = core.roomRole(r.d, this.myKey()) !== null;
    let leaveAgain = false;
    if (!listedMe && r.status === 'active') {
      r.status = 'removed';
      lines.push(`You were removed from ${info.name}.`);
    } else if (listedMe && r.status === 'removed') {
      r.status = 'active';
      lines.push(`${name} added you to the room ${info.name} again.`);
    } else if (listedMe && r.status === 'left') {
      leaveAgain = true; // a version made before our leave was taken: said again for it (20.3)
    }
    for (const text of lines) r.log.push({ id: randomId(), from: 'system', ts: Date.now(), text });
    return { hex, descriptor: true, leaveAgain };
  },

  // A version taken: the former one is kept (a few) to judge late messages that name it.
  takeVersion(room, info, d) {
    room.past.push(room.d);
    if (room.past.length > MAX_PAST) room.past.shift();
    room.d = d;
    room.info = info;
    const listed = new Set(info.members.map((m) => toB64u(m.key)));
    for (const k of [...room.gone]) if (!listed.has(k)) room.gone.delete(k);
    room.names = listedNames(room); // the record stays bounded (20.7)
  },

  takeLeave(name, sender, room, p) {
    let leaver;
    try {
      leaver = core.verifyRoomLeave(room.d, p.leave);
    } catch (e) {
      this.report(roomProblem(`A "leave" for the room ${room.info.name} from ${name} was ignored: ${e.codeName || e.message}.`));
      return null;
    }
    if (!equalBytes(leaver, sender)) {
      this.report(roomProblem(`A "leave" for the room ${room.info.name} from ${name} was signed by someone else and ignored.`));
      return null;
    }
    const key = toB64u(leaver);
    if (room.gone.has(key)) return null;
    room.gone.add(key);
    room.log.push({ id: randomId(), from: 'system', ts: Date.now(), text: `${name} left the room.` });
    // One admin makes it final: the one whose key sorts first among the admins still listed.
    const admins = room.info.members.filter((m) => m.role === 'admin' && !equalBytes(m.key, leaver));
    const first = admins.map((m) => toB64u(m.key)).sort()[0];
    return { hex: room.hex, finalize: first === toB64u(this.myKey()) ? key : null };
  },

  /** After the payload's session is stored (inbox.js afterPayload): stored, drawn, followed up. */
  afterRoom(effect) {
    const { hex } = effect.room;
    const stored = effect.room.stored ? Promise.resolve() : this.serial(() => this.saveRoom(hex));
    stored.then(() => {
      this.roomChanged(hex);
      if (effect.room.descriptor) this.roomFollowUp(hex);
      if (effect.room.leaveAgain) this.sendLeave(hex).catch((e) => this.report(e));
      if (effect.room.finalize) {
        const key = effect.room.finalize;
        const room = this.rooms.get(hex);
        const name = room ? this.memberName(room, key) : null;
        this.nextVersion(hex, (list) => list.filter((m) => toB64u(m.key) !== key), `${name || 'A member'} left; you signed the room without them.`)
          .catch((e) => this.report(e));
      }
    }, (e) => this.report(e));
  },

  // A room (version) taken: waiting requests of members are accepted, sessions with members who
  // are not contacts are asked for (by the side whose name sorts first), and waiting messages are
  // judged again.
  roomFollowUp(hex) {
    const room = this.rooms.get(hex);
    if (!room || room.status !== 'active') return;
    for (const m of this.roomMembers(room)) {
      if (m.me || !m.name) continue;
      const req = this.requests.get(m.name);
      if (req && req.identityKey === m.key) {
        this.serial(() => this.answerNow(m.name, true)).catch((e) => this.report(e));
      } else if (!this.contacts[m.name] && !req && this.me < m.name) {
        this.roomPair(m.name, m.key).catch((e) => this.report(e));
      }
    }
    this.rejudgeSoon();
  },

  rejudgeSoon() {
    if (!this.roomWaiting.length) return;
    this.serial(async () => {
      const waiting = this.roomWaiting.splice(0);
      const touched = new Set();
      for (const { name, p } of waiting) {
        const c = this.contacts[name];
        if (!c || (c.status !== 'active' && c.status !== 'pending')) {
          this.roomWaiting.push({ name, p });
          continue;
        }
        const judged = this.judgeRoom(name, p);
        if (judged === 'wait') continue; // (put back by judgeRoom)
        await this.sendControl(name, { t: 'ack', ids: [p.id] });
        if (judged) {
          touched.add(judged.hex);
          if (judged.descriptor || judged.finalize) this.afterRoom({ room: judged });
        }
      }
      for (const hex of touched) {
        await this.saveRoom(hex);
        this.roomChanged(hex);
      }
    }).catch((e) => this.report(e));
  },

  // A contact became active (an accept, an auto-accepted request): what waited for it goes on.
  roomContactActive() {
    this.rejudgeSoon();
  },

  // ---- the pairwise entries of rooms (installed over transcript.js and fanout.js) ---------------

  wireText(entry) {
    if (entry.kind === 'room') return JSON.stringify(roomWirePayload(entry));
    return transcriptMethods.wireText.call(this, entry);
  },

  // Room entries go to the chat's primary device only (a room lists one identity per person).
  fanMark(name, entry) {
    if (entry.kind === 'room') return;
    fanoutMethods.fanMark.call(this, name, entry);
  },

  openRoom(hex) {
    this.activeRoom = hex;
    const r = this.rooms.get(hex);
    if (r && r.unread) {
      r.unread = 0;
      this.serial(() => this.saveRoom(hex, false)).catch((e) => this.report(e));
    }
  },
};
