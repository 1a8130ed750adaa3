//# allFunctionsCalledOnLoad
// Relays and the page's addresses (docs/PROTOCOL.md 12.14): the ICE servers the server names
// (GET /api/config), with a TURN credential that lives an hour or so and is renewed before it
// ends, and "Hide my IP address", which makes every link relay-only so that no address of this
// device's leaves the page.
import { request } from './api.js';
import { hasRelay, setIceServers, setRelayOnly } from './peer.js';

const CONFIG_TIMEOUT_MS = 5000;
const RETRY_MS = 30000; // a renewal that failed is tried again this much later
// A credential is renewed when a fifth of its life is left, at least a minute before it ends,
// and never in the first half of its life (a short one is not asked for again and again).
const RENEW_AHEAD = 0.2;
const RENEW_AHEAD_MIN_MS = 60000;
const SETTINGS = 'network'; // vault record: {"hideIp": bool}

/**
 * The server's ICE servers for this page, kept current: `load()` asks once (at log-in; without
 * an answer the links use host candidates only), and while a relay credential is held it is asked
 * again ahead of its expiry. `onRenewed` runs after each renewal that changed the servers.
 */
export class IceConfig {
  constructor(onRenewed = () => {}) {
    this.onRenewed = onRenewed;
    this.timer = null;
    this.stopped = false;
  }

  /** Asks for the servers and keeps them; true when they changed. */
  async load() {
    let answer = null;
    try {
      answer = await request('GET', '/api/config', undefined, { timeoutMs: CONFIG_TIMEOUT_MS });
    } catch {
      answer = null; // offline or refused: host candidates (or the servers we had)
    }
    if (this.stopped) return false;
    const before = this.current;
    if (answer) {
      setIceServers(answer.iceServers);
      this.current = JSON.stringify(answer.iceServers ?? null);
    }
    this.schedule(answer);
    return this.current !== before;
  }

  // The next renewal: ahead of the credential's end, or soon after a failed renewal of one.
  schedule(answer) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    let wait = null;
    const expires = Number(answer?.turnExpiresAt) * 1000;
    if (Number.isFinite(expires) && expires > 0) {
      const life = Math.max(0, expires - Date.now());
      const ahead = Math.min(Math.max(RENEW_AHEAD_MIN_MS, life * RENEW_AHEAD), life / 2);
      wait = Math.max(1000, life - ahead);
    } else if (!answer && hasRelay()) {
      wait = RETRY_MS;
    }
    if (wait === null) return;
    this.timer = setTimeout(async () => {
      if (await this.load() && !this.stopped) this.onRenewed();
    }, wait);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
  }
}

export const relayMethods = {
  // "Hide my IP address", from the vault, applied before any link or spare is made.
  async loadNetworkSettings() {
    const stored = await this.vault.getJson(SETTINGS, null);
    this.hideIp = stored?.hideIp === true;
    setRelayOnly(this.hideIp);
  },

  /** "Hide my IP address": stored, then every link made again under the new rule. */
  setHideIp(on) {
    return this.serial(async () => {
      this.hideIp = !!on;
      await this.vault.putJson(SETTINGS, { hideIp: this.hideIp });
      setRelayOnly(this.hideIp);
      // Links up now may run over this device's own address (or, switched off, over a relay
      // for nothing): each is replaced under the new rule.
      for (const name of [...this.links.keys()]) this.replaceLink(name);
      this.changed(null);
    });
  },

  // The relay credentials were renewed: a link that runs over a relay keeps a credential the
  // relay stops taking once it expires, so it is made again with the new one (what it carried
  // and was not acknowledged goes again on the new link, 12.7).
  async relayRenewed() {
    for (const [name, link] of [...this.links]) {
      if (await link.relayed() && this.links.get(name) === link) this.replaceLink(name);
    }
  },

  // Closes a contact's link (telling them) and starts a new one if the chat is active.
  replaceLink(name) {
    const l = this.links.get(name);
    if (!l || (!l.open && !l.pc)) return;
    this.dropLink(name, true);
    if (this.contacts[name]?.status === 'active') this.connect(name, true);
  },

  /** Whether links can connect at all now: not when only a relay may be used and none is known. */
  relayMissing() {
    return !!this.hideIp && !hasRelay();
  },
};
