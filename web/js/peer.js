//# allFunctionsCalledOnLoad
// One WebRTC link to one contact: an RTCPeerConnection with one ordered, reliable data channel,
// set up through signaling. Every signal carries the link's id, so signals of an older link are
// ignored; when both sides start a link at once, the one started by the alphabetically smaller
// username wins. The data channel carries only Parley ciphertext.
//
// A chat request carries a ready offer (prepare()), so the one who accepts can answer at once;
// the answering side may make its answer before the person accepts (answer(offer, {hold})).
// While a link is "held" nothing of it leaves the page but that offer, which names no address:
// ICE candidates (and a held answer) go out only when the peer answers or the person accepts
// (release()).
import { RANDOM_ID_RE, randomId } from './encoding.js';

const ICE_TIMEOUT_MS = 20000;
const DISCONNECTED_GRACE_MS = 4000; // ICE may recover from "disconnected" by itself
const GLARE_WINDOW_MS = 5000; // our unanswered offer older than this yields to theirs
export const HOLD_MS = 5 * 60 * 1000; // a held link (a chat request not yet accepted) lives this long
const MAX_HELD = 64;
const MAX_PENDING_ICE = 64; // candidates kept until the remote description is set

// WebRTC readied ahead, while nobody waits: this page's DTLS certificate (browsers otherwise make
// one per RTCPeerConnection, on the setup's critical path), a spare RTCPeerConnection that
// gathers its local candidates (iceCandidatePoolSize) for the next link that answers, and a
// spare offer (a connection with its data channel, its local offer set and its candidates
// gathered) for the next link that offers. A link takes a spare and new ones are made a little
// later. Spares bind local sockets and send nothing; candidates leave only with a link, under the
// rules above.
const CERT_RENEW_MS = 24 * 3600 * 1000; // a certificate this close to expiring is replaced
const SPARE_MAX_AGE_MS = 10 * 60 * 1000; // spares are replaced this often, used or not
const SPARE_DELAY_MS = 2000; // new spares are made this long after one is taken
let certificate = null; // made after login, forgotten at logout (it would link two accounts)
let spare = null; // { pc, cert, at }: for answering
let spareOffer = null; // { pc, dc, sdp, candidates, cert, at }: for offering
let spareTimer = null;
let warming = null;
let ready = false; // between warmUp() and coolDown()

const freshCertificate = () => !!certificate && certificate.expires - Date.now() > CERT_RENEW_MS;
// A spare is used only when young and made with the current certificate (or with none when
// the browser could not make one).
const fresh = (s) => !!s && Date.now() - s.at < SPARE_MAX_AGE_MS &&
  s.cert === certificate && (!certificate || freshCertificate());

// The ICE servers the server names (GET /api/config): STUN servers, and TURN relays with a
// short-lived credential for a logged-in page; none by default (host candidates only).
let iceServers = [];
// "Hide my IP address": every connection relay-only (iceTransportPolicy "relay"), so that no host
// or server-reflexive candidate is ever gathered, let alone sent.
let relayOnly = false;
const MAX_ICE_URLS = 8;
const MAX_CREDENTIAL = 512; // characters of a TURN username or credential
const HOST = '(?:[A-Za-z0-9][A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]+\\])(?::\\d{1,5})?';
const STUN_URL_RE = new RegExp(`^stuns?:${HOST}$`);
const TURN_URL_RE = new RegExp(`^(?:turn:${HOST}(?:\\?transport=(?:udp|tcp))?|turns:${HOST}(?:\\?transport=tcp)?)$`);

/**
 * Sets the ICE servers for links made from now on, from the server's `iceServers`: STUN URLs, and
 * TURN URLs in an entry with a string username and credential (at most 8 URLs in all); anything
 * else is ignored. Spares made with other servers are dropped.
 */
export function setIceServers(list) {
  const next = [];
  let count = 0;
  for (const entry of Array.isArray(list) ? list : []) {
    if (!entry || typeof entry !== 'object') continue;
    const { username, credential } = entry;
    const turn = typeof username === 'string' && typeof credential === 'string' &&
      username.length <= MAX_CREDENTIAL && credential.length <= MAX_CREDENTIAL;
    const urls = [];
    for (const url of Array.isArray(entry.urls) ? entry.urls : [entry.urls]) {
      if (typeof url !== 'string' || url.length >= 160 || count >= MAX_ICE_URLS) continue;
      if (STUN_URL_RE.test(url) || (turn && TURN_URL_RE.test(url))) {
        urls.push(url);
        count += 1;
      }
    }
    if (!urls.length) continue;
    next.push(urls.some((u) => u.startsWith('turn')) ? { urls, username, credential } : { urls });
  }
  if (JSON.stringify(next) !== JSON.stringify(iceServers)) {
    iceServers = next;
    dropSpares();
  }
}

/** Whether a TURN relay is configured for new links. */
export function hasRelay() {
  return iceServers.some((s) => s.username !== undefined);
}

/** "Hide my IP address": links made from now on gather relay candidates only. */
export function setRelayOnly(on) {
  if (relayOnly === !!on) return;
  relayOnly = !!on;
  dropSpares();
  if (ready) warmUp();
}

function peerConfig(pool = 0) {
  const config = {
    iceServers: iceServers.map((s) => ({ ...s, urls: [...s.urls] })),
    iceTransportPolicy: relayOnly ? 'relay' : 'all',
    iceCandidatePoolSize: pool,
  };
  if (certificate) config.certificates = [certificate];
  return config;
}

function dropSpares() {
  if (spare) spare.pc.close();
  if (spareOffer) spareOffer.pc.close();
  spare = null;
  spareOffer = null;
}

/** Readies WebRTC for this page's links (after login). Safe to call again. */
export function warmUp() {
  ready = true;
  if (typeof RTCPeerConnection === 'undefined') return Promise.resolve();
  warming ||= (async () => {
    if (!freshCertificate()) {
      certificate = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' })
        .catch(() => null); // links then make their own
    }
    if (!ready) return;
    if (!fresh(spare)) {
      if (spare) spare.pc.close();
      spare = { pc: new RTCPeerConnection(peerConfig(1)), cert: certificate, at: Date.now() };
    }
    if (!fresh(spareOffer)) {
      if (spareOffer) spareOffer.pc.close();
      spareOffer = null;
      const cert = certificate;
      const pc = new RTCPeerConnection(peerConfig());
      try {
        const dc = pc.createDataChannel('parley', { ordered: true });
        const candidates = [];
        pc.onicecandidate = (ev) => {
          if (ev.candidate && candidates.length < MAX_HELD) candidates.push(ev.candidate.toJSON());
        };
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        if (ready && !spareOffer && cert === certificate) {
          spareOffer = { pc, dc, sdp: offer.sdp, candidates, cert, at: Date.now() };
        } else {
          pc.close();
        }
      } catch {
        pc.close(); // the next offering link makes its own
      }
    }
    // Replaced in time even when no link takes them (their candidates may have gone stale).
    clearTimeout(spareTimer);
    if (ready) spareTimer = setTimeout(warmUp, SPARE_MAX_AGE_MS);
  })().catch(() => {}).finally(() => { warming = null; });
  return warming;
}

/**
 * Links made from now on use this certificate (calls: one kept per identity with the vault,
 * calls-entry.js, so that its fingerprint stays the same); null lets the page make its own.
 */
export function useCertificate(cert) {
  if (cert === certificate || (cert && cert.expires - Date.now() <= CERT_RENEW_MS)) return;
  certificate = cert;
  dropSpares();
  if (ready) warmUp();
}

/** Closes the spare connections and forgets the certificate (on logout). */
export function coolDown() {
  ready = false;
  clearTimeout(spareTimer);
  dropSpares();
  certificate = null;
}

function replenishSpares() {
  if (!ready) return;
  clearTimeout(spareTimer);
  spareTimer = setTimeout(warmUp, SPARE_DELAY_MS);
}

// The spare connection if it is fresh, else a new one. (An offering link takes it too when no
// spare offer is ready.)
function takePc() {
  let pc = null;
  if (fresh(spare)) ({ pc } = spare);
  else if (spare) spare.pc.close();
  spare = null;
  replenishSpares();
  return pc || new RTCPeerConnection(peerConfig());
}

// The spare offer if it is fresh ({pc, dc, sdp, candidates}), else null.
function takeOffer() {
  const taken = fresh(spareOffer) ? spareOffer : null;
  if (spareOffer && !taken) spareOffer.pc.close();
  spareOffer = null;
  replenishSpares();
  return taken;
}

// A candidate by what identifies it (foundation, component, transport, priority, address,
// port): descriptions and candidate events spell the rest of the line differently.
function candidateKey(line) {
  return typeof line === 'string' ? line.replace(/^a=/, '').split(' ').slice(0, 6).join(' ') : '';
}

function sdpCandidates(sdp) {
  return new Set(sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')).map(candidateKey));
}

export class PeerLink extends EventTarget {
  constructor(me, peer, signaling) {
    super();
    this.me = me;
    this.peer = peer;
    this.toDevice = null; // the peer's device this link is with (set by the messenger)
    this.tiebreak = null; // whether our offer wins a glare (default: the smaller username's)
    this.signaling = signaling;
    this.pc = null;
    this.dc = null;
    this.link = null;
    this.initiator = false;
    this.pendingIce = [];
    this.timer = null;
    this.open = false;
    this.holding = false;
    this.held = [];
    this.preparing = null;
    // Calls (calls.js): once the link is open, a function that takes our new candidates (after
    // an ICE restart) to send inside the ratchet; true when it took one.
    this.candidateRoute = null;
    // How long a "disconnected" connection may take to recover before the link is lost (calls.js
    // lengthens it during a call, whose ICE restart must cross the outage).
    this.disconnectedGraceMs = DISCONNECTED_GRACE_MS;
  }

  /** Starts a new link as the offering side. */
  async start() {
    await this.makeOffer(false, (sdp) => this.signal({ type: 'offer', sdp }));
  }

  /**
   * The offer to send with a chat request ({link, sdp}), made now or already in the making; null
   * when a link that is not held is up or on its way (then the request needs none).
   */
  heldOffer() {
    if (this.active) return Promise.resolve(null);
    if (this.pc && this.initiator && this.preparing) return this.preparing;
    this.preparing = this.prepare();
    return this.preparing;
  }

  prepare() {
    return this.makeOffer(true);
  }

  /**
   * A new link with our offer ({link, sdp}; null if the link was replaced meanwhile): the spare
   * offer when one is ready, else one made now. The SDP is the offer as created, which names no
   * candidate; announce (if given) sends it, then the candidates follow as 'ice' signals (kept
   * while the link is held).
   */
  async makeOffer(hold, announce = null) {
    this.reset();
    const link = randomId();
    this.link = link;
    this.initiator = true;
    this.holding = hold;
    this.startedAt = Date.now();
    const made = takeOffer();
    this.createPc(hold ? HOLD_MS : ICE_TIMEOUT_MS, made?.pc);
    const { pc } = this;
    let sdp;
    let gathered = [];
    if (made) {
      this.attach(made.dc);
      ({ sdp, candidates: gathered } = made);
    } else {
      this.attach(pc.createDataChannel('parley', { ordered: true }));
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (pc !== this.pc) return null;
      ({ sdp } = offer);
    }
    if (announce) announce(sdp);
    for (const candidate of gathered) this.signal({ type: 'ice', candidate });
    return { link, sdp };
  }

  /**
   * Answers an offer that came with a chat request. With hold, the answer and our candidates stay
   * here until release() (the person has not accepted yet).
   */
  async answer(offer, { hold = false } = {}) {
    this.reset();
    this.link = offer.link;
    this.initiator = false;
    this.holding = hold;
    this.createPc(hold ? HOLD_MS : ICE_TIMEOUT_MS);
    const { pc } = this;
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    if (pc !== this.pc) return;
    await this.flushIce();
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (pc === this.pc) this.signal({ type: 'answer', sdp: answer.sdp });
  }

  /** Sends what a held link kept back; from now on it connects like any other. */
  release() {
    if (!this.holding) return;
    this.holding = false;
    let held = this.held;
    this.held = [];
    // A held answer goes as the description as it is now, which names the candidates gathered
    // while it waited: the offering side can start its checks with that one message. Those
    // candidates are not sent again on their own.
    const answer = held.find((msg) => msg.type === 'answer');
    const sdp = this.pc?.localDescription?.type === 'answer' ? this.pc.localDescription.sdp : null;
    if (answer && sdp) {
      const named = sdpCandidates(sdp);
      held = held.filter((msg) => msg.type !== 'ice' || !named.has(candidateKey(msg.candidate.candidate)));
      answer.sdp = sdp;
    }
    for (const msg of held) this.signaling.send(this.addressed(msg));
    this.armTimer(ICE_TIMEOUT_MS);
  }

  /** Whether the link is up or on its way (a held link is neither: it waits for a person). */
  get active() {
    return this.open || (!!this.pc && !this.holding);
  }

  /** Whether this is an answer being held for a request with this offer. */
  holdsAnswerTo(offer) {
    return !!this.pc && this.holding && !this.initiator && this.link === offer?.link;
  }

  signal(msg) {
    if (this.holding) {
      if (this.held.length < MAX_HELD) this.held.push(msg);
      return;
    }
    this.signaling.send(this.addressed(msg));
  }

  // A signal for the peer's device (toDevice: the chat's primary device, when known).
  addressed(msg) {
    return { ...msg, to: this.peer, ...(this.toDevice ? { toDevice: this.toDevice } : {}), link: this.link };
  }

  armTimer(ms) {
    const { pc } = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (pc === this.pc && !this.open) this.fail('could not connect');
    }, ms);
  }

  createPc(timeoutMs = ICE_TIMEOUT_MS, pc = takePc()) {
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || pc !== this.pc) return;
      if (this.open && this.candidateRoute?.(ev.candidate)) return;
      this.signal({ type: 'ice', candidate: ev.candidate.toJSON() });
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
        }, this.disconnectedGraceMs);
      }
    };
    this.armTimer(timeoutMs);
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
    if (typeof msg.link !== 'string' || !RANDOM_ID_RE.test(msg.link)) return;
    if (msg.type === 'offer' && typeof msg.sdp === 'string') {
      // Both started at once: ours wins, they will answer it. (An offer held for our request
      // yields: offering instead of answering it means they will not answer it.)
      if (this.link && msg.link !== this.link && this.initiator && !this.holding && !this.open &&
          (this.tiebreak ?? this.me < this.peer) && Date.now() - this.startedAt < GLARE_WINDOW_MS) {
        return;
      }
      await this.answer({ link: msg.link, sdp: msg.sdp });
      return;
    }
    if (msg.link !== this.link || !this.pc) return;
    if (msg.type === 'answer' && typeof msg.sdp === 'string' && this.initiator &&
        this.pc.signalingState === 'have-local-offer') {
      this.release(); // they accepted: our candidates may go now
      await this.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      await this.flushIce();
    } else if (msg.type === 'ice' && msg.candidate && typeof msg.candidate === 'object') {
      if (this.pc.remoteDescription) {
        await this.pc.addIceCandidate(msg.candidate).catch(() => {});
      } else if (this.pendingIce.length < MAX_PENDING_ICE) {
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

  /** Whether the link's selected candidate pair goes through a TURN relay (either end). */
  async relayed() {
    const { pc } = this;
    if (!pc || !this.open) return false;
    try {
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      if (!pair) return false;
      return [pair.localCandidateId, pair.remoteCandidateId].some((id) => stats.get(id)?.candidateType === 'relay');
    } catch {
      return false;
    }
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
    this.holding = false;
    this.held = [];
    this.preparing = null;
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
    if (this.link && !this.holding) this.signal({ type: 'bye' });
    this.reset();
  }
}
