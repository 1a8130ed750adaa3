//# allFunctionsCalledOnLoad
// The WebRTC side of invitation codes (docs/PROTOCOL.md 17.5): a connection whose ICE gathering is
// complete before its code is shown (no trickle: nothing else travels between the two), the few
// fields a code keeps read out of the local description, and the peer's description rebuilt from
// its code, so the DTLS fingerprint the connection checks is the one its author signed.
import { equalBytes } from './encoding.js';

const GATHER_TIMEOUT_MS = 15000; // gathering that has not completed by then goes with what it has

/** A connection for a code chat: host candidates and the ICE servers given (none without a server). */
export function codePc(iceServers = []) {
  return new RTCPeerConnection({ iceServers, iceCandidatePoolSize: 0 });
}

/** Resolves once the connection's ICE gathering is complete (or after GATHER_TIMEOUT_MS). */
export function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** {ufrag, pwd, fingerprint (32 bytes), candidates [{type, address, port}]} of an SDP (UDP, component 1). */
export function iceOf(sdp) {
  const lines = sdp.split(/\r?\n/);
  const value = (prefix) => lines.find((l) => l.startsWith(prefix))?.slice(prefix.length).trim();
  const ufrag = value('a=ice-ufrag:');
  const pwd = value('a=ice-pwd:');
  const fp = lines.map((l) => /^a=fingerprint:sha-256 ((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$/i.exec(l.trim())).find(Boolean);
  if (!ufrag || !pwd || !fp) throw new Error('the connection has no ICE credentials or no SHA-256 fingerprint');
  const fingerprint = Uint8Array.from(fp[1].split(':').map((x) => parseInt(x, 16)));
  const candidates = [];
  for (const l of lines) {
    const m = /^a=candidate:\S+ (\d+) (\S+) \d+ (\S+) (\d+) typ (\S+)/.exec(l.trim());
    if (!m || m[1] !== '1' || m[2].toLowerCase() !== 'udp') continue;
    candidates.push({ address: m[3], port: Number(m[4]), type: m[5] });
  }
  return { ufrag, pwd, fingerprint, candidates };
}

const TYPE_PREF = { host: 126, prflx: 110, srflx: 100, relay: 0 };
const colons = (b) => [...b].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');

/**
 * The answer this side gives an invite, made passive (a=setup:passive): the inviter, who gets the
 * reply last, is the DTLS client. An active answerer's ICE checks reach the inviter before it has
 * the reply, and its ClientHello with them: the inviter's browser then begins the handshake
 * before it knows the fingerprint (an early ClientHello), the path on which a handshake was seen
 * to finish on the answerer's side only, leaving a code chat that never opened. A passive
 * answerer sends nothing of DTLS until the inviter, holding the reply, starts.
 */
export function passiveAnswer(answer) {
  const sdp = answer.sdp.replace(/^a=setup:(?:active|actpass)(?=\r?$)/gm, 'a=setup:passive');
  if (!/^a=setup:passive(?=\r?$)/m.test(sdp)) throw new Error('the answer names no DTLS role');
  return { type: 'answer', sdp };
}

/**
 * The peer's description from the fields of its code: an offer (setup actpass) or an answer
 * (setup passive, 17.4), one data channel section, the candidates inline and ended.
 */
export function buildSdp(ice, type) {
  const cands = ice.candidates.map((c, i) => {
    const priority = (TYPE_PREF[c.type] * 2 ** 24) + ((65535 - i) * 2 ** 8) + 255;
    const rel = c.type === 'host' ? '' : ' raddr 0.0.0.0 rport 0';
    return `a=candidate:${i + 1} 1 udp ${priority} ${c.address} ${c.port} typ ${c.type}${rel}`;
  });
  return [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    ...cands,
    'a=end-of-candidates',
    `a=ice-ufrag:${ice.ufrag}`,
    `a=ice-pwd:${ice.pwd}`,
    `a=fingerprint:sha-256 ${colons(ice.fingerprint)}`,
    `a=setup:${type === 'offer' ? 'actpass' : 'passive'}`,
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    '',
  ].join('\r\n');
}

const STATS_TRIES = 20; // reads of the transport's certificates, 250 ms apart, before refusing

/**
 * After the link opened: whether the connection is bound to the signed fingerprint. Both must
 * hold: the remote description the connection was given names it (DTLS refuses any other
 * certificate), and the certificate the peer showed (getStats' remote certificate) has it. Fails
 * closed: a browser that never reports the peer's certificate within about 5 s gets false.
 */
export async function remoteFingerprintMatches(pc, fingerprint) {
  let named;
  try {
    named = iceOf(pc.remoteDescription?.sdp ?? '').fingerprint;
  } catch {
    return false;
  }
  if (!equalBytes(named, fingerprint)) return false;
  for (let i = 0; i < STATS_TRIES; i += 1) {
    let seen = null;
    try {
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'transport' && s.remoteCertificateId) {
          const cert = stats.get(s.remoteCertificateId);
          if (cert?.fingerprintAlgorithm === 'sha-256' && typeof cert.fingerprint === 'string') seen = cert.fingerprint;
        }
      });
    } catch {
      if (pc.connectionState === 'closed') return false;
    }
    if (seen !== null) {
      if (!/^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(seen)) return false;
      return equalBytes(Uint8Array.from(seen.split(':').map((x) => parseInt(x, 16))), fingerprint);
    }
    if (pc.connectionState === 'closed') return false;
    await new Promise((r) => { setTimeout(r, 250); });
  }
  return false;
}
