// One WebRTC link to one contact: an RTCPeerConnection with one ordered, reliable data channel,
// set up through signaling. Every signal carries the link's id, so signals of an older link are
// ignored; when both sides start a link at once, the one started by the alphabetically smaller
// username wins. The data channel carries only Parley ciphertext.
import { randomId } from './encoding.js';

const ICE_TIMEOUT_MS = 20000;
const DISCONNECTED_GRACE_MS = 4000; // ICE may recover from "disconnected" by itself
const GLARE_WINDOW_MS = 5000; // our unanswered offer older than this yields to theirs

export class PeerLink extends EventTarget {
  constructor(me, peer, signaling) {
    super();
    this.me = me;
    this.peer = peer;
    this.signaling = signaling;
    this.pc = null;
    this.dc = null;
    this.link = null;
    this.initiator = false;
    this.pendingIce = [];
    this.timer = null;
    this.open = false;
  }

  /** Starts a new link as the offering side. */
  async start() {
    this.reset();
    this.link = randomId();
    this.initiator = true;
    this.startedAt = Date.now();
    this.createPc();
    this.attach(this.pc.createDataChannel('parley', { ordered: true }));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.signal({ type: 'offer', sdp: this.pc.localDescription.sdp });
  }

  signal(msg) {
    this.signaling.send({ ...msg, to: this.peer, link: this.link });
  }

  createPc() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (ev.candidate && pc === this.pc) this.signal({ type: 'ice', candidate: ev.candidate.toJSON() });
    };
    pc.ondatachannel = (ev) => {
      if (pc === this.pc) this.attach(ev.channel);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.fail('connection lost');
      if (pc.connectionState === 'disconnected') {
        setTimeout(() => {
          if (pc === this.pc && pc.connectionState === 'disconnected') this.fail('connection lost');
        }, DISCONNECTED_GRACE_MS);
      }
    };
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (pc === this.pc && !this.open) this.fail('could not connect');
    }, ICE_TIMEOUT_MS);
  }

  attach(dc) {
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onopen = () => {
      if (dc !== this.dc) return;
      this.open = true;
      clearTimeout(this.timer);
      this.dispatchEvent(new Event('open'));
    };
    dc.onclose = () => {
      if (dc === this.dc) this.fail('closed');
    };
    dc.onmessage = (ev) => {
      if (dc === this.dc && ev.data instanceof ArrayBuffer) {
        this.dispatchEvent(new CustomEvent('data', { detail: new Uint8Array(ev.data) }));
      }
    };
  }

  /** Handles a relayed signal for this contact. */
  async onSignal(msg) {
    if (typeof msg.link !== 'string' || msg.link.length > 64) return;
    if (msg.type === 'offer' && typeof msg.sdp === 'string') {
      if (this.link && msg.link !== this.link && this.initiator && !this.open && this.me < this.peer &&
          Date.now() - this.startedAt < GLARE_WINDOW_MS) {
        return; // both started at once: ours wins, they will answer it
      }
      this.reset();
      this.link = msg.link;
      this.initiator = false;
      this.createPc();
      await this.pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      await this.flushIce();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.signal({ type: 'answer', sdp: this.pc.localDescription.sdp });
      return;
    }
    if (msg.link !== this.link || !this.pc) return;
    if (msg.type === 'answer' && typeof msg.sdp === 'string' && this.initiator &&
        this.pc.signalingState === 'have-local-offer') {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      await this.flushIce();
    } else if (msg.type === 'ice' && msg.candidate && typeof msg.candidate === 'object') {
      if (this.pc.remoteDescription) {
        await this.pc.addIceCandidate(msg.candidate).catch(() => {});
      } else if (this.pendingIce.length < 64) {
        this.pendingIce.push(msg.candidate);
      }
    } else if (msg.type === 'bye') {
      this.fail('peer left');
    }
  }

  async flushIce() {
    const list = this.pendingIce;
    this.pendingIce = [];
    for (const c of list) await this.pc.addIceCandidate(c).catch(() => {});
  }

  /** Sends ciphertext; false when the channel is not open. */
  send(bytes) {
    if (!this.open || !this.dc || this.dc.readyState !== 'open') return false;
    this.dc.send(bytes);
    return true;
  }

  fail(reason) {
    const wasOpen = this.open;
    this.reset();
    this.dispatchEvent(new CustomEvent('close', { detail: { reason, wasOpen } }));
  }

  reset() {
    clearTimeout(this.timer);
    this.open = false;
    this.pendingIce = [];
    const { pc, dc } = this;
    this.pc = null;
    this.dc = null;
    this.link = null;
    if (dc) dc.close();
    if (pc) pc.close();
  }

  /** Closes the link and tells the peer. */
  close() {
    if (this.link) this.signal({ type: 'bye' });
    this.reset();
  }
}
