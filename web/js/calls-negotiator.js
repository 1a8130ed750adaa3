//# allFunctionsCalledOnLoad
// A link's RTCPeerConnection negotiated again for a call (docs/PROTOCOL.md 12.17), through call
// messages inside the ratchet: the "perfect negotiation" pattern, the side whose offer wins a
// link's glare (the smaller username) impolite; ICE restarted by itself when the network
// changes; candidates routed into the call while one is on. Used by calls.js.

// The ICE username fragment of a session description (its first), or null.
function iceUfrag(sdp) {
  const m = typeof sdp === 'string' ? /^a=ice-ufrag:(\S+)/m.exec(sdp) : null;
  return m ? m[1] : null;
}

// Renegotiates one RTCPeerConnection (a link's) through call messages.
export class Negotiator {
  constructor(calls, name, link) {
    this.calls = calls;
    this.name = name;
    this.link = link;
    this.pc = link.pc;
    this.polite = !(link.tiebreak ?? calls.m.me < name);
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.restarting = false;
    this.callId = null; // the call the last messages were about
    this.pc.addEventListener('negotiationneeded', () => this.offer());
    this.pc.addEventListener('track', () => calls.changed());
    this.pc.addEventListener('iceconnectionstatechange', () => {
      if (this.iceUp()) {
        this.restarted();
      } else if (this.pc.iceConnectionState === 'disconnected' && calls.onNegotiator(this)) {
        this.restartIce(); // a network change: new addresses, without asking anybody
      }
    });
    link.candidateRoute = (cand) => {
      if (!this.callId || link.pc !== this.pc) return false;
      // The three fields the call's reader takes (calls-binding.js; toJSON() adds usernameFragment).
      calls.send(name, 'ice', this.callId, { cand: { candidate: cand.candidate, sdpMid: cand.sdpMid, sdpMLineIndex: cand.sdpMLineIndex } });
      return true;
    };
  }

  iceUp() {
    return this.pc.iceConnectionState === 'connected' || this.pc.iceConnectionState === 'completed';
  }

  // An ICE restart (ours, or theirs seen as new ICE credentials in an offer) that has completed.
  restarted() {
    if (!this.restarting || !this.iceUp() || this.pc.signalingState !== 'stable') return;
    this.restarting = false;
    this.calls.afterIceRestart(this);
  }

  restartIce() {
    if (this.pc.signalingState === 'closed' || this.restarting) return;
    this.restarting = true;
    this.pc.restartIce();
  }

  async offer() {
    if (!this.callId || this.link.pc !== this.pc || !this.link.open) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const d = this.pc.localDescription;
      if (d?.type === 'offer') await this.calls.send(this.name, 'sdp', this.callId, { desc: { type: d.type, sdp: d.sdp } });
    } catch (e) {
      this.calls.m.report(e);
    } finally {
      this.makingOffer = false;
    }
  }

  async onDescription(callId, desc) {
    const { pc } = this;
    const collision = desc.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (desc.type === 'answer' && pc.signalingState !== 'have-local-offer') return; // a late one
    this.callId = callId;
    const ufrag = iceUfrag(pc.remoteDescription?.sdp);
    if (desc.type === 'offer' && ufrag && iceUfrag(desc.sdp) !== ufrag) this.restarting = true;
    await pc.setRemoteDescription(desc); // an offer of theirs rolls ours back (polite)
    if (desc.type === 'offer') {
      this.calls.adopt(this, callId);
      await pc.setLocalDescription();
      const d = pc.localDescription;
      await this.calls.send(this.name, 'sdp', callId, { desc: { type: d.type, sdp: d.sdp } });
    }
    this.calls.negotiated(this);
    this.restarted();
  }

  async onCandidate(cand) {
    try {
      await this.pc.addIceCandidate(cand);
    } catch (e) {
      if (!this.ignoreOffer) this.calls.m.report(e);
    }
  }
}
