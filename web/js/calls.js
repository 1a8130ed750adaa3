//# allFunctionsCalledOnLoad
// Voice and video calls (docs/PROTOCOL.md 12.17), one at a time, on the link a chat already has
// (peer.js): the call's media are added to that RTCPeerConnection and negotiated again, so no new
// connection is made per call. Every call message (the invite, the session descriptions and
// candidates, the identity binding) is a ratchet payload {"t":"call",...} sent over the link's
// data channel: the server sees none of it. Renegotiation follows the "perfect negotiation"
// pattern (calls-negotiator.js).
//
// The binding (calls-identity.js, calls-binding.js): each side asks the other with a fresh nonce, and answers with
// a statement signed by its identity key naming its own DTLS fingerprint and the peer's as it
// sees it. Each side checks the peer's statement against its local certificate, the remote
// description and the transport's certificate stats; any mismatch ends the call at once. The
// check is repeated every 60 s and after an ICE restart.
import { randomId } from './encoding.js';
import { CallError } from './errors.js';
import { bindingWarning, callPayload, duration, endOutcome, parseCallPayload } from './calls-binding.js';
import { groupMethods, stopTracks } from './calls-group.js';
import { identityMethods } from './calls-identity.js';
import { Negotiator } from './calls-negotiator.js';

export const RING_MS = 45000; // an unanswered call rings this long
export const RECHECK_MS = 60000; // the binding is checked again this often
const NO_MEDIA_MS = 30000; // a call with nothing received for this long ends
const MEDIA_POLL_MS = 5000;
const CONNECT_WAIT_MS = 15000; // for a link to open when a call starts without one
const CALL_DISCONNECTED_GRACE_MS = 30000; // a call's link waits this long for an ICE restart

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

export { CallError, duration };

export class Calls extends EventTarget {
  constructor(messenger) {
    super();
    this.m = messenger;
    this.call = null; // the call with one contact (one at a time)
    this.incoming = null; // a call ringing here, not answered yet
    this.group = null; // or the group call of a room, its legs one call each (calls-group.js)
    this.ringing = null; // a group call ringing here
    this.declined = new Set(); // group calls declined here (their later legs are declined too)
    this.negotiators = new WeakMap(); // RTCPeerConnection -> Negotiator
    this.queues = new Map(); // name -> the call messages from them being handled, in order
    this.outgoing = new Map(); // name -> call payloads waiting to be encrypted and sent together
    this.sent = {}; // call messages sent, by kind
    // A room that changes ends the legs of members it no longer lists (calls-group.js).
    messenger.addEventListener('room', (ev) => {
      if (!ev.detail?.mesh) this.groupRoomChanged(ev.detail?.room);
    });
    if (globalThis.parleyTestHooks) globalThis.parleyTestHooks.calls = this;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Whether call is one this page is in: the call, or a leg of the group call. */
  live(call) {
    return !!call && (this.call === call || this.group?.legs.get(call.name) === call);
  }

  // The call (or group leg) whose media are on the negotiator n.
  onNegotiator(n) {
    if (this.call?.negotiator === n) return this.call;
    for (const leg of this.group?.legs.values() || []) if (leg.negotiator === n) return leg;
    return null;
  }

  busy() {
    return !!(this.call || this.incoming || this.group || this.ringing);
  }

  warn(text) {
    this.dispatchEvent(new CustomEvent('warning', { detail: text }));
  }

  // ---- sending -----------------------------------------------------------------------------------

  /**
   * A call payload over the open link, encrypted (its ratchet state stored first): true once
   * handed to the channel, false when there is no open link. Payloads to one contact that wait
   * for the messenger's queue meanwhile go together: encrypted in order, the state stored once,
   * then sent (a negotiation's bursts do not each wait for a write of their own).
   */
  send(name, k, callId, fields = {}) {
    const payload = callPayload(k, callId, fields);
    this.sent[k] = (this.sent[k] || 0) + 1;
    return new Promise((resolve, reject) => {
      let batch = this.outgoing.get(name);
      if (!batch) {
        batch = [];
        this.outgoing.set(name, batch);
        this.m.serial(async () => {
          this.outgoing.delete(name); // what is sent from now on goes in the next batch
          const link = this.m.links.get(name);
          const session = await this.m.session(name);
          if (!link?.open || !session) return [];
          const wires = batch.map((x) => session.encrypt(JSON.stringify(x.payload)));
          await this.m.persist(name, session); // the state after all of them, before any leaves
          return wires.map((w) => link.send(w));
        }).then((sent) => batch.forEach((x, i) => x.resolve(!!sent?.[i])), (e) => batch.forEach((x) => x.reject(e)));
      }
      batch.push({ payload, resolve, reject });
    });
  }

  negotiator(name) {
    const link = this.m.links.get(name);
    if (!link?.open || !link.pc) return null;
    let n = this.negotiators.get(link.pc);
    if (!n) {
      n = new Negotiator(this, name, link);
      this.negotiators.set(link.pc, n);
    }
    return n;
  }

  // The open link to a contact, opened if need be.
  async openLink(name) {
    const c = this.m.contacts[name];
    if (!c || c.status !== 'active') throw new CallError(`You can call ${name} once they have accepted your chat.`);
    if (c.held) throw new CallError(`${name}'s safety number changed. Review it before calling.`);
    if (this.m.links.get(name)?.open) return;
    this.m.connect(name, true);
    const until = Date.now() + CONNECT_WAIT_MS;
    while (!this.m.links.get(name)?.open) {
      if (Date.now() > until || this.m.stopped) throw new CallError(`${name} cannot be reached right now, so the call could not start.`);
      await sleep(200);
    }
  }

  // Microphone (and camera): what the browser gives; a refusal is said, and the call goes on
  // with less (audio only, or receiving only).
  async media(video, camera = true) {
    const tries = video ? [{ audio: true, video: camera }, { audio: true }, { video: camera }] : [{ audio: true }];
    for (const constraints of tries) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        const note = video && !constraints.video ? 'The camera could not be used, so the call is audio only.'
          : video && !constraints.audio ? 'The microphone could not be used, so the other side will not hear you.' : '';
        return { stream, note };
      } catch {
        // the next, smaller request
      }
    }
    return { stream: null, note: 'The microphone and camera could not be used (refused or missing), so you can only listen and watch.' };
  }

  newCall(name, fields) {
    return {
      name, negotiator: null, stream: null, note: '', transceivers: new Set(), timers: new Set(),
      nonces: new Map(), bound: false, checks: 0, muted: false, cameraOff: false, screen: null, activeAt: 0,
      received: -1, receivedAt: 0, myKey: null, peerKey: null, ...fields,
    };
  }

  timer(call, fn, ms, repeat = false) {
    const t = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
    call.timers.add(t);
    return t;
  }

  // ---- the person's actions ------------------------------------------------------------------------

  /** Calls a contact (video: with the camera). */
  async start(name, video) {
    if (this.busy()) throw new CallError('You are already in a call.');
    const call = this.newCall(name, { id: randomId(), outgoing: true, media: video ? 'video' : 'audio', state: 'starting' });
    this.call = call;
    this.changed();
    try {
      await this.openLink(name);
      const media = await this.media(video);
      if (this.call !== call) {
        stopTracks(media.stream); // hung up meanwhile
        return;
      }
      Object.assign(call, media);
      call.state = 'ringing';
      if (!await this.send(name, 'invite', call.id, { media: call.media })) throw new CallError(`${name} cannot be reached right now, so the call could not start.`);
      this.sendKey(call);
      this.timer(call, () => this.finish(call, 'missed', { tell: 'cancel' }), RING_MS);
      this.watchLink(call);
      this.changed();
    } catch (e) {
      if (this.call === call) this.finish(call, 'failed');
      throw e;
    }
  }

  /** Answers the call ringing here. */
  async answer() {
    if (this.ringing && !this.incoming) return this.answerGroup();
    const call = this.incoming;
    if (!call || this.call) return;
    this.incoming = null;
    this.call = call;
    const n = this.connecting(call);
    if (!n) return;
    // The one who answers offers the call's media at once (the caller has its devices already):
    // the transceivers now, our tracks as soon as the browser gives them (no new negotiation).
    const added = (call.media === 'video' ? ['audio', 'video'] : ['audio'])
      .map((kind) => n.pc.addTransceiver(kind, { direction: 'sendrecv' }));
    for (const t of added) {
      call.transceivers.add(t);
      this.protect(call, t, t.receiver.track.kind);
    }
    const accepted = this.send(call.name, 'accept', call.id); // before the offer (negotiationneeded)
    this.watchLink(call);
    this.changed();
    const media = await this.media(call.media === 'video');
    if (this.call !== call) {
      stopTracks(media.stream);
      return;
    }
    Object.assign(call, media);
    for (const t of added) {
      const kind = t.receiver.track.kind;
      const track = (kind === 'audio' ? call.stream?.getAudioTracks() : call.stream?.getVideoTracks())?.[0] || null;
      if (track) await t.sender.replaceTrack(track);
      else t.direction = 'recvonly';
    }
    if (!await accepted && this.call === call) this.finish(call, 'lost');
    this.changed();
  }

  /** Declines the call ringing here. */
  decline() {
    if (this.ringing && !this.incoming) {
      this.declineGroup();
      return;
    }
    const call = this.incoming;
    if (!call) return;
    this.incoming = null;
    this.send(call.name, 'decline', call.id, { reason: 'declined' }).catch((e) => this.m.report(e));
    this.ended(call, 'declined-here');
  }

  /** Ends the call (or stops calling). */
  hangUp() {
    if (this.group) {
      this.endGroup(this.group, this.group.activeAt ? 'done' : 'cancelled');
      return;
    }
    const call = this.call;
    if (!call) return;
    this.finish(call, call.activeAt ? 'done' : 'cancelled', { tell: call.state === 'ringing' ? 'cancel' : 'end' });
  }

  setMuted(on) {
    const call = this.call || this.group;
    if (!call) return;
    call.muted = !!on;
    for (const t of call.stream?.getAudioTracks() || []) t.enabled = !call.muted;
    this.changed();
  }

  setCamera(on) {
    const call = this.call || this.group;
    if (!call) return;
    call.cameraOff = !on;
    for (const t of call.stream?.getVideoTracks() || []) t.enabled = !call.cameraOff;
    this.changed();
  }

  /** Shares the screen in place of the camera (a video transceiver is added for an audio call). */
  async shareScreen(on) {
    const call = this.call;
    if (!call?.negotiator) return;
    if (!on) {
      this.stopScreen(call);
      return;
    }
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    if (this.call !== call) {
      for (const t of screen.getTracks()) t.stop();
      return;
    }
    const [track] = screen.getVideoTracks();
    call.screen = screen;
    track.addEventListener('ended', () => this.stopScreen(call));
    const t = this.videoTransceiver(call);
    if (t) {
      await t.sender.replaceTrack(track);
    } else {
      const added = call.negotiator.pc.addTransceiver(track, { direction: 'sendrecv', streams: [screen] });
      call.transceivers.add(added);
      this.protect(call, added, 'video');
    }
    this.changed();
  }

  stopScreen(call) {
    if (!call.screen) return;
    for (const t of call.screen.getTracks()) t.stop();
    call.screen = null;
    const t = this.videoTransceiver(call);
    const camera = call.stream?.getVideoTracks()[0] || null;
    if (t && call.negotiator?.pc.signalingState !== 'closed') {
      if (camera) {
        t.sender.replaceTrack(camera).catch(() => {});
      } else {
        t.stop(); // an audio call's screen: its video goes (negotiated away)
        call.transceivers.delete(t);
      }
    }
    this.changed();
  }

  videoTransceiver(call) {
    return [...call.transceivers].find((t) => !t.stopped && t.receiver.track.kind === 'video') || null;
  }

  // ---- what the peer sends ---------------------------------------------------------------------------

  /** A call payload from a contact (inbox.js): handled in order with the others from them. */
  onPayload(name, raw) {
    const p = parseCallPayload(raw);
    if (!p) {
      this.m.report(new Error(`a call message from ${name} that this version cannot read was ignored`));
      return Promise.resolve();
    }
    // In order per contact; contacts apart (the legs of a group call each wait for their own
    // connection's negotiation, not for the others').
    const q = (this.queues.get(name) || Promise.resolve()).then(() => this.handle(name, p)).catch((e) => this.m.report(e));
    this.queues.set(name, q);
    q.then(() => {
      if (this.queues.get(name) === q) this.queues.delete(name);
    });
    return q;
  }

  async handle(name, p) {
    if (p.k === 'invite' && p.group) {
      await this.groupInvite(name, p);
      return;
    }
    const leg = this.group?.legs.get(name)?.id === p.call ? this.group.legs.get(name) : null;
    if ((leg || this.ringing?.invites.get(name)?.id === p.call) && this.groupPayload(name, p, leg)) return;
    const call = this.call?.name === name && this.call.id === p.call ? this.call
      : this.incoming?.name === name && this.incoming.id === p.call ? this.incoming : leg;
    switch (p.k) {
      case 'invite':
        if (this.busy()) {
          await this.send(name, 'decline', p.call, { reason: 'busy' });
          return;
        }
        this.incoming = this.newCall(name, { id: p.call, outgoing: false, media: p.media, state: 'incoming' });
        this.timer(this.incoming, () => {
          const c = this.incoming;
          if (c?.id === p.call) {
            this.incoming = null;
            this.ended(c, 'missed');
          }
        }, RING_MS);
        this.changed();
        return;
      case 'cancel':
        if (call && call === this.incoming) {
          this.incoming = null;
          this.ended(call, 'missed');
        } else if (call) {
          this.finish(call, 'cancelled');
        }
        return;
      case 'decline':
        if (call && call.outgoing && !call.activeAt) this.finish(call, p.reason === 'busy' ? 'busy' : 'declined');
        return;
      case 'accept':
        if (call && call.outgoing && call.state === 'ringing') this.accepted(call);
        return;
      case 'end':
        if (call) {
          this.finish(call, endOutcome(p.reason));
        }
        return;
      case 'sdp': {
        const n = this.negotiator(name);
        if (n) await n.onDescription(p.call, p.desc);
        return;
      }
      case 'ice': {
        const n = this.negotiator(name);
        if (n) await n.onCandidate(p.cand);
        return;
      }
      case 'key':
        if (call && !call.peerKey) {
          call.peerKey = p.key;
          // Ours in answer, while it rings (off the path from Answer to media): sealed both ways,
          // or not at all.
          if (call === this.incoming && !call.myKey) this.sendKey(call);
        }
        return;
      case 'nonce':
        if (this.live(call) && call.negotiator) await this.answerNonce(call, p.nonce);
        return;
      case 'bind':
        if (this.live(call) && call.negotiator) await this.checkBind(call, p);
        return;
      default:
    }
  }

  // They answered: their offer of the call's media follows (adopt() gives it our tracks).
  accepted(call) {
    if (this.connecting(call)) this.changed();
  }

  // Answered either way: the call connects on the link's negotiator, its ringing timers stopped;
  // null (the call ended as lost) when there is no link to negotiate on.
  connecting(call) {
    for (const t of call.timers) clearTimeout(t);
    call.timers.clear();
    call.state = 'connecting';
    const n = this.negotiator(call.name);
    if (!n) {
      this.finish(call, 'lost', { tell: 'end' });
      return null;
    }
    call.negotiator = n;
    n.callId = call.id;
    return n;
  }

  // An offer came: in the call it names, each new transceiver takes our track of its kind (one
  // transceiver per track; without a track it only receives); outside a call they stay silent.
  adopt(n, callId) {
    const current = this.onNegotiator(n);
    const call = current?.id === callId ? current : null;
    const sending = new Set([...call?.transceivers || []].map((t) => t.sender.track).filter(Boolean));
    for (const t of n.pc.getTransceivers()) {
      if (t.stopped || t.currentDirection === 'stopped' || !t.mid || call?.transceivers.has(t)) continue;
      if (call && t.currentDirection === null) {
        const kind = t.receiver.track.kind;
        const track = (kind === 'audio' ? call.stream?.getAudioTracks() : call.stream?.getVideoTracks())
          ?.find((x) => !sending.has(x)) || null;
        if (track) {
          sending.add(track);
          t.sender.replaceTrack(track).catch(() => {});
          t.sender.setStreams(call.stream);
        }
        t.direction = track ? 'sendrecv' : 'recvonly';
        call.transceivers.add(t);
        this.protect(call, t, kind);
      } else if (!current?.transceivers.has(t)) {
        t.direction = 'inactive';
      }
    }
  }

  // A negotiation finished: a call whose media are now negotiated begins (and its check).
  negotiated(n) {
    const call = this.onNegotiator(n);
    if (!call || n.pc.signalingState !== 'stable' || call.activeAt) {
      this.changed();
      return;
    }
    if (![...call.transceivers].some((t) => t.currentDirection && t.currentDirection !== 'stopped')) return;
    call.state = 'active';
    call.activeAt = Date.now();
    if (call.group && !call.group.activeAt) {
      call.group.state = 'active';
      call.group.activeAt = call.activeAt;
    }
    this.sendNonce(call);
    this.timer(call, () => this.sendNonce(call), RECHECK_MS, true);
    this.timer(call, () => this.checkMedia(call), MEDIA_POLL_MS, true);
    this.changed();
  }

  afterIceRestart(n) {
    const call = this.onNegotiator(n);
    if (call?.activeAt) this.sendNonce(call);
  }

  // The call ends with its link; meanwhile the link waits longer for a lost connection to come
  // back (the ICE restart crosses the outage).
  watchLink(call) {
    const link = this.m.links.get(call.name);
    if (!link) return;
    const onClose = () => {
      if (this.live(call)) this.finish(call, 'lost');
    };
    link.addEventListener('close', onClose, { once: true });
    const grace = link.disconnectedGraceMs;
    link.disconnectedGraceMs = Math.max(grace, CALL_DISCONNECTED_GRACE_MS);
    call.unwatch = () => {
      link.removeEventListener('close', onClose);
      link.disconnectedGraceMs = grace;
    };
  }

  // Nothing received for 30 s (bytes of every inbound stream): the call ends.
  async checkMedia(call) {
    const pc = call.negotiator?.pc;
    if (!pc || !this.live(call)) return;
    let bytes = 0;
    try {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') bytes += s.bytesReceived || 0;
      });
    } catch {
      return;
    }
    if (bytes !== call.received) {
      call.received = bytes;
      call.receivedAt = Date.now();
    } else if (Date.now() - call.receivedAt >= NO_MEDIA_MS) {
      this.finish(call, 'no-media', { tell: 'end', reason: 'media' });
    }
  }

  // ---- the end ---------------------------------------------------------------------------------------

  // Ends the call here: timers, our tracks, the call's transceivers (negotiated away), a line in
  // the transcript; tell: what the peer is sent first.
  finish(call, outcome, { tell = null, reason = 'hangup' } = {}) {
    if (!this.live(call)) return;
    if (call.group) call.group.legs.delete(call.name);
    else this.call = null;
    if (tell) this.send(call.name, tell, call.id, tell === 'end' ? { reason } : {}).catch((e) => this.m.report(e));
    const pc = call.negotiator?.pc;
    for (const t of call.transceivers) {
      if (pc && pc.signalingState !== 'closed' && !t.stopped) {
        try {
          t.stop();
        } catch {
          // the connection went meanwhile
        }
      }
    }
    this.ended(call, outcome);
  }

  ended(call, outcome) {
    for (const t of call.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    call.timers.clear();
    call.unwatch?.();
    call.myKey?.fill(0); // the media keys: the frame worker holds its own copies while it runs
    call.peerKey?.fill(0);
    if (globalThis.parleyTestHooks) (this.endings ||= []).push({ name: call.name, outcome, why: call.why, state: call.state, group: !!call.group });
    if (call.group) {
      this.legEnded(call, outcome); // the group's devices stay (calls-group.js)
      return;
    }
    stopTracks(call.stream);
    stopTracks(call.screen);
    const { name } = call;
    const kind = call.media === 'video' ? 'video call' : 'call';
    const took = call.activeAt ? `, ${duration(Date.now() - call.activeAt)}` : '';
    const lines = {
      missed: call.outgoing ? `Missed call: ${name} did not answer` : `Missed call from ${name}`,
      declined: `${name} declined the ${kind}`,
      'declined-here': `You declined a ${kind} from ${name}`,
      busy: `${name} is in another call`,
      cancelled: call.outgoing ? `Call cancelled` : `Missed call from ${name}`,
      intercepted: `The ${kind} with ${name} ended: it may have been intercepted`,
      'peer-mismatch': `The ${kind} with ${name} ended: it may have been intercepted`,
      unchecked: `The ${kind} with ${name} ended: its security could not be confirmed in time`,
      'peer-unchecked': `The ${kind} with ${name} ended: its security could not be confirmed in time`,
      'no-media': `The ${kind} with ${name} ended: nothing came through for 30 seconds`,
      lost: `The ${kind} with ${name} ended: the connection was lost`,
      failed: '',
      done: `${call.outgoing ? 'Outgoing' : 'Incoming'} ${kind}${took}`,
    };
    if (call.activeAt && outcome !== 'done' && lines[outcome]) lines[outcome] += took;
    const text = lines[outcome] ?? '';
    const warning = bindingWarning(outcome, name);
    if (warning) {
      this.warn(warning);
    } else if (outcome === 'no-media' || outcome === 'lost') {
      this.warn(`${text}.`);
    }
    if (text && !this.m.stopped) {
      this.m.serial(async () => {
        const i = this.m.noticeLine(name, text);
        await this.m.saveHistory(name, [i]);
        this.m.changed(name);
      }).catch((e) => this.m.report(e));
    }
    this.changed();
  }

  /** Ends everything (log-out, page closing). */
  shutdown() {
    if (this.call) this.finish(this.call, 'done', { tell: 'end' });
    this.shutdownGroup();
    if (this.incoming) {
      const c = this.incoming;
      this.incoming = null;
      this.ended(c, 'missed');
    }
  }
}

Object.assign(Calls.prototype, groupMethods, identityMethods);
