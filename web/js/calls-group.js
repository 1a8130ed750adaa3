//# allFunctionsCalledOnLoad
// Group calls in a room (docs/PROTOCOL.md 20.9): a full mesh of ordinary calls (12.17), one leg
// per other participant, each on the link this page already has with that member, negotiated,
// sealed and bound to both identity keys exactly as a call between two people (calls.js runs
// the legs). What is the group's: one id, the room, the media (audio up to 8 people, video up to
// 4), the devices (asked once, shared by every leg), the ringing and one line in the room's
// transcript. Nothing of it goes through the server: invites travel on the links only.
//
// Joining: whoever calls rings every member it can reach; whoever answers accepts every leg that
// rang it and rings the members it has no leg with (those in the call join that leg at once,
// those still ringing see one ringing call). Two who ring each other at once keep the leg of the
// side with the smaller identity key. Installed on Calls (calls.js).
import * as core from '../core/parley.js';
import { randomId, toB64u } from './encoding.js';
import { bindingWarning, duration, endOutcome } from './calls-binding.js';
import { CallError } from './errors.js';

export const GROUP_MAX = { audio: 8, video: 4 }; // people in a group call, this page included
export const GROUP_RING_MS = 45000; // as a call between two (calls.js RING_MS)
// A camera's picture in a group call: a mesh sends it once per participant.
const GROUP_CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } };
const MAX_DECLINED = 32; // group calls remembered as declined here

/** Stops every track of a stream (none: nothing). */
export const stopTracks = (stream) => {
  for (const t of stream?.getTracks() || []) t.stop();
};

// What a person is told when a group call has no room for them.
const fullText = (media) => `at most ${GROUP_MAX[media]} people in a group ${media === 'video' ? 'video ' : ''}call`;

export const groupMethods = {
  // The room held here, active, listing name's key (its session's), on a link the room check
  // did not fail; else null.
  groupPeer(name, hex) {
    const room = this.m.rooms?.get(hex);
    if (!room || room.status !== 'active' || !this.m.meshAllowed?.(name, room)) return null;
    if (this.m.meshTrusted && !this.m.meshTrusted(name, hex)) return null;
    return room;
  },

  newGroup(hex, id, media, fields) {
    return {
      room: hex, id, media, legs: new Map(), stream: null, note: '', muted: false, cameraOff: false,
      activeAt: 0, state: 'starting', outgoing: false, from: null, ending: false, joining: 0, outcome: null, ...fields,
    };
  },

  /** The legs of the group call that are answered (not ringing any more). */
  joined(g) {
    let n = 0;
    for (const leg of g.legs.values()) if (leg.state !== 'ringing') n += 1;
    return n;
  },

  /** The name of a room held here, as a call's texts say it. */
  roomName(hex) {
    return this.m.rooms?.get(hex)?.info.name || 'the room';
  },

  // ---- the person's actions ------------------------------------------------------------------------

  /** Calls everyone in a room held here (video: with cameras). */
  async startGroup(hex, video) {
    if (this.busy()) throw new CallError('You are already in a call.');
    const room = this.m.rooms?.get(hex);
    if (!room || room.status !== 'active') throw new CallError('You can only call a room you are in.');
    if (!this.m.roomRecipients(room).length) throw new CallError('Nobody else is in this room yet.');
    const g = this.newGroup(hex, randomId(), video ? 'video' : 'audio', { outgoing: true });
    this.group = g;
    this.changed();
    const media = await this.media(video, GROUP_CAMERA);
    if (this.group !== g) {
      stopTracks(media.stream); // hung up meanwhile
      return;
    }
    Object.assign(g, media);
    g.state = 'ringing';
    this.changed();
    const reached = await this.gathering(g, () => this.inviteAll(g));
    if (!reached && this.group === null && g.outcome === 'failed') {
      throw new CallError('Nobody in the room can be reached right now, so the call could not start.');
    }
  },

  // Legs are being taken or rung (fn): the call does not end for want of legs meanwhile, but
  // when fn is done with none left (failed when none was rung).
  async gathering(g, fn) {
    g.joining += 1;
    let out;
    try {
      out = await fn();
    } finally {
      g.joining -= 1;
    }
    if (this.group === g && !g.joining && !g.legs.size) {
      this.endGroup(g, g.activeAt ? 'done' : g.outgoing ? (out ? 'unanswered' : 'failed') : 'lost');
    }
    return out;
  },

  // Rings every member with no leg yet (their links opened if need be, all at once): how many rang.
  async inviteAll(g) {
    const room = this.m.rooms?.get(g.room);
    if (!room) return 0;
    const names = this.m.roomRecipients(room).map((x) => x.name).filter((n) => !g.legs.has(n));
    const rang = await Promise.all(names.map((n) => this.inviteMember(g, n).catch(() => false)));
    return rang.filter(Boolean).length;
  },

  async inviteMember(g, name) {
    await this.openLink(name); // a CallError when they cannot be reached: not rung
    await this.m.session(name);
    if (this.group !== g || g.legs.has(name) || !this.groupPeer(name, g.room)) return false;
    if (this.joined(g) + 1 >= GROUP_MAX[g.media]) return false; // full meanwhile
    const leg = this.newCall(name, { id: randomId(), group: g, outgoing: true, media: g.media, state: 'ringing', stream: g.stream });
    if (this.canSeal()) leg.myKey = core.randomBytes(32);
    g.legs.set(name, leg);
    this.watchLink(leg);
    this.timer(leg, () => this.finish(leg, 'missed', { tell: 'cancel' }), GROUP_RING_MS);
    this.changed();
    const live = this.joined(g) > 0;
    if (!await this.send(name, 'invite', leg.id, { media: g.media, room: g.room, group: g.id, key: leg.myKey, live })) {
      this.finish(leg, 'lost');
      return false;
    }
    return true;
  },

  /** Answers the group call ringing here: every leg that rang is taken, the others are rung. */
  async answerGroup() {
    const r = this.ringing;
    if (!r || r.answering || this.call || this.group) return;
    const cap = GROUP_MAX[r.media];
    if (r.invites.size + 1 > cap) {
      this.stopRinging(r, 'full', 'full');
      throw new CallError(`This call is full: ${fullText(r.media)}.`);
    }
    r.answering = true;
    this.changed();
    const media = await this.media(r.media === 'video', GROUP_CAMERA);
    if (this.ringing !== r || !r.invites.size) {
      stopTracks(media.stream); // everyone who rang hung up meanwhile
      if (this.ringing === r) this.stopRinging(r, 'missed');
      return;
    }
    this.stopRinging(r, null);
    const g = this.newGroup(r.room, r.id, r.media, { from: r.from, state: 'connecting', ...media });
    this.group = g;
    await this.gathering(g, async () => {
      for (const [name, inv] of r.invites) {
        if (this.joined(g) + 1 >= cap) {
          inv.key?.fill(0);
          this.send(name, 'decline', inv.id, { reason: 'full' }).catch((e) => this.m.report(e));
        } else if (this.groupPeer(name, g.room)) this.joinLeg(g, name, inv);
      }
      this.changed();
      if (this.joined(g) + 1 < cap) await this.inviteAll(g);
      else this.fullNow(g);
    });
  },

  /** Declines the group call ringing here, and the legs of it that ring later. */
  declineGroup() {
    const r = this.ringing;
    if (!r || r.answering) return;
    this.declined.add(r.id);
    while (this.declined.size > MAX_DECLINED) this.declined.delete(this.declined.values().next().value);
    this.stopRinging(r, 'declined', 'declined-here');
  },

  // The ringing stops: each leg that rang is told reason (none: not told), one line (outcome).
  // The media keys that came with the invites are wiped unless the call is being answered
  // (its legs take them).
  stopRinging(r, reason, outcome = null) {
    if (this.ringing !== r) return;
    this.ringing = null;
    clearTimeout(r.timer);
    for (const [name, inv] of r.invites) {
      if (reason) this.send(name, 'decline', inv.id, { reason }).catch((e) => this.m.report(e));
      if (!r.answering) inv.key?.fill(0);
    }
    if (outcome) this.groupLine(r, outcome);
    this.changed();
  },

  // Ends the group call here: every leg told (ringing ones called off), the devices stopped.
  endGroup(g, outcome) {
    if (this.group !== g) return;
    g.ending = true;
    for (const leg of [...g.legs.values()]) {
      this.finish(leg, 'done', { tell: leg.outgoing && leg.state === 'ringing' ? 'cancel' : 'end' });
    }
    this.group = null;
    g.outcome = outcome;
    stopTracks(g.stream);
    this.groupLine(g, outcome);
    this.changed();
  },

  /** Ends any group call and its ringing (log-out, page closing). */
  shutdownGroup() {
    if (this.group) this.endGroup(this.group, 'done');
    if (this.ringing) this.stopRinging(this.ringing, null, 'missed');
  },

  // ---- what members send -------------------------------------------------------------------------

  // A leg's invite: joined at once when this page is in that group call, else rung (or declined:
  // busy, declined before, or full).
  async groupInvite(name, p) {
    const room = this.groupPeer(name, p.room);
    if (!room) {
      this.m.report(new Error(`A group call from ${name} for a room they are not in here was refused.`));
      return;
    }
    const g = this.group;
    if (g && g.id === p.group && g.room === p.room) {
      const had = g.legs.get(name);
      if (had) {
        if (!had.outgoing || had.state !== 'ringing') return; // a leg with them is up already
        // Both rang each other: the leg of the smaller identity key stays (they join ours).
        if (toB64u(this.m.myKey()) < this.m.contacts[name]?.identityKey) return;
        this.dropLeg(had);
      }
      if (this.joined(g) + 1 >= GROUP_MAX[g.media]) {
        await this.send(name, 'decline', p.call, { reason: 'full' });
        return;
      }
      this.joinLeg(g, name, { id: p.call, key: p.key });
      this.fullNow(g);
      return;
    }
    if (g && g.room === p.room) {
      await this.otherGroup(g, name, p);
      return;
    }
    const r0 = this.ringing;
    if (r0 && r0.room === p.room && r0.id !== p.group && !r0.answering && this.wins(p, r0)) {
      this.stopRinging(r0, 'busy'); // another call of the room rings instead (rule below)
    }
    if (this.call || this.incoming || g || (this.ringing && this.ringing.id !== p.group)) {
      await this.send(name, 'decline', p.call, { reason: 'busy' });
      return;
    }
    if (this.declined.has(p.group)) {
      await this.send(name, 'decline', p.call, { reason: 'declined' });
      return;
    }
    let r = this.ringing;
    if (!r) {
      r = { id: p.group, room: p.room, media: p.media, from: name, invites: new Map(), answering: false, timer: null, live: false };
      r.timer = setTimeout(() => {
        if (this.ringing === r && !r.answering) this.stopRinging(r, null, 'missed');
      }, GROUP_RING_MS);
      this.ringing = r;
    }
    r.invites.set(name, { id: p.call, key: p.key });
    r.live ||= p.live;
    this.changed();
  },

  // Two calls of one room meet (two who pressed Call at once, or one who calls while the room
  // is in a call): the one someone answered wins, else the smaller id; every member decides
  // alike. x: this page's group (live when someone answered it) or its ringing.
  wins(p, x) {
    const live = x.legs ? this.joined(x) > 0 : x.live;
    return p.live !== live ? p.live : p.group < x.id;
  },

  // An invite for another call of the room this page is in a call of: theirs is joined when it
  // wins (ours is given up without a word); else they are rung into ours (or told it is full),
  // then their leg declined.
  async otherGroup(g, name, p) {
    if (this.wins(p, g)) {
      const { stream, note } = g;
      g.stream = null; // the devices go on in the call joined
      this.endGroup(g, null);
      const joined = this.newGroup(p.room, p.group, p.media, { from: name, state: 'connecting', stream, note });
      this.group = joined;
      await this.gathering(joined, async () => {
        this.joinLeg(joined, name, { id: p.call, key: p.key });
        this.changed();
        await this.inviteAll(joined);
      });
      return;
    }
    const full = this.joined(g) + 1 >= GROUP_MAX[g.media];
    if (!full) await this.inviteMember(g, name).catch(() => false);
    await this.send(name, 'decline', p.call, { reason: full ? 'full' : 'busy' });
  },

  // A payload of a leg (or of a leg ringing here): true when handled here, false for what every
  // call handles alike (calls.js: the negotiation, the binding).
  groupPayload(name, p, leg) {
    if (!leg) {
      const r = this.ringing;
      if (p.k === 'cancel') {
        r.invites.get(name).key?.fill(0);
        r.invites.delete(name);
        if (!r.invites.size && !r.answering) this.stopRinging(r, null, 'missed');
        this.changed();
      } else if (p.k === 'key') {
        const inv = r.invites.get(name);
        inv.key ||= p.key;
      }
      return p.k === 'cancel' || p.k === 'key' || p.k === 'decline' || p.k === 'end';
    }
    switch (p.k) {
      case 'accept':
        if (leg.outgoing && leg.state === 'ringing') {
          this.accepted(leg);
          this.fullNow(leg.group);
        }
        return true;
      case 'decline':
        // Full: the call has as many people as it can take without this page.
        if (p.reason === 'full') {
          const g = leg.group;
          this.warn(`The call in ${this.roomName(g.room)} is full: ${fullText(g.media)}.`);
          this.endGroup(g, 'full');
        } else {
          this.finish(leg, 'declined');
        }
        return true;
      case 'cancel':
      case 'end':
        leg.why = p.reason; // what they said (a test hook shows it)
        this.finish(leg, endOutcome(p.reason));
        return true;
      case 'key':
        leg.peerKey ||= p.key;
        return true;
      default:
        return false;
    }
  },

  // Takes a leg that rang (as Answer does for a call): its key in answer to theirs, one
  // transceiver per kind with our track (receive only without one), accept, and the offer.
  joinLeg(g, name, inv) {
    if (this.group !== g) return;
    const leg = this.newCall(name, { id: inv.id, group: g, outgoing: false, media: g.media, state: 'connecting', stream: g.stream, peerKey: inv.key || null });
    g.legs.set(name, leg);
    if (leg.peerKey && this.canSeal()) {
      leg.myKey = core.randomBytes(32);
      this.send(name, 'key', leg.id, { key: leg.myKey }).catch((e) => this.m.report(e));
    }
    const n = this.connecting(leg);
    if (!n) return;
    for (const kind of g.media === 'video' ? ['audio', 'video'] : ['audio']) {
      const track = (kind === 'audio' ? g.stream?.getAudioTracks() : g.stream?.getVideoTracks())?.[0] || null;
      const t = n.pc.addTransceiver(track || kind, { direction: track ? 'sendrecv' : 'recvonly', streams: track ? [g.stream] : [] });
      leg.transceivers.add(t);
      this.protect(leg, t, kind);
    }
    this.send(name, 'accept', leg.id).then((ok) => {
      if (!ok) this.finish(leg, 'lost');
    }).catch((e) => this.m.report(e));
    this.watchLink(leg);
    this.changed();
  },

  // A leg of ours that rang, dropped without a word (theirs is taken instead).
  dropLeg(leg) {
    for (const t of leg.timers) clearTimeout(t);
    leg.timers.clear();
    leg.unwatch?.();
    leg.group.legs.delete(leg.name);
  },

  // As many answered as the call takes: the legs still ringing are called off.
  fullNow(g) {
    if (this.joined(g) + 1 < GROUP_MAX[g.media]) return;
    for (const leg of [...g.legs.values()]) {
      if (leg.outgoing && leg.state === 'ringing') this.finish(leg, 'missed', { tell: 'cancel' });
    }
  },

  // A leg ended (calls.js ended): said when it was not a plain hang-up; the group call ends with
  // its last leg.
  legEnded(leg, outcome) {
    const g = leg.group;
    const warning = bindingWarning(outcome, leg.name);
    if (warning) {
      this.warn(warning);
    } else if ((outcome === 'lost' || outcome === 'no-media') && leg.activeAt && !g.ending) {
      this.warn(`${leg.name} left the call: ${outcome === 'lost' ? 'the connection was lost' : 'nothing came through for 30 seconds'}.`);
    }
    if (this.group === g && !g.ending && !g.joining && !g.legs.size) {
      this.endGroup(g, g.activeAt ? 'done' : g.outgoing ? 'unanswered' : 'lost');
    }
    this.changed();
  },

  // A room changed (a version, a removal, a leave): legs with members it no longer lists end,
  // and the whole call when this page is out of the room.
  groupRoomChanged(hex) {
    const g = this.group;
    if (g?.room === hex) {
      const room = this.m.rooms?.get(hex);
      if (!room || room.status !== 'active') this.endGroup(g, 'done');
      else for (const leg of [...g.legs.values()]) if (!this.groupPeer(leg.name, hex)) this.finish(leg, 'done', { tell: 'end' });
    }
    const r = this.ringing;
    if (r?.room === hex) {
      for (const name of [...r.invites.keys()]) if (!this.groupPeer(name, hex)) r.invites.delete(name);
      if (!r.invites.size && !r.answering) this.stopRinging(r, null, 'missed');
    }
  },

  // One line in the room's transcript for the whole group call (not one per leg).
  groupLine(x, outcome) {
    if (!this.m.rooms?.has(x.room) || this.m.stopped) return;
    const kind = x.media === 'video' ? 'group video call' : 'group call';
    const took = x.activeAt ? `, ${duration(Date.now() - x.activeAt)}` : '';
    const text = {
      done: `${x.outgoing ? 'Outgoing' : 'Incoming'} ${kind}${took}`,
      cancelled: 'Group call cancelled',
      unanswered: `Nobody answered the ${kind}`,
      lost: `The ${kind} ended: the connections were lost${took}`,
      missed: `Missed ${kind} from ${x.from}`,
      'declined-here': `You declined a ${kind} from ${x.from}`,
      full: `The ${kind} was full (at most ${GROUP_MAX[x.media]} people)`,
    }[outcome];
    if (text) this.m.roomNotice(x.room, text);
  },
};
