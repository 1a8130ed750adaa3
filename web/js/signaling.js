//# allFunctionsCalledOnLoad
// The signaling WebSocket (docs/API.md, "WebSocket signaling"): authenticates with the token as
// the first message, reconnects with exponential backoff and jitter, and reports its state.
import { wsUrl } from './config.js';
import { originRefusal } from './origin-check.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 5000; // a request the server answers itself (get-bundle, ping)
const MAX_REQUESTS = 16; // such requests waiting at once
// While online, a ping goes out this often; a connection that leaves it unanswered for
// REQUEST_TIMEOUT_MS is taken for dead (a network lost without a word: TCP alone would take
// minutes to notice) and replaced.
const HEARTBEAT_MS = 25000;

export class Signaling extends EventTarget {
  constructor(getToken) {
    super();
    this.getToken = getToken;
    this.ws = null;
    this.state = 'offline';
    this.attempt = 0;
    this.stopped = true;
    this.timer = null;
    this.subscriptions = [];
    this.requests = new Map(); // id -> {resolve, timer}: requests waiting for the server's answer
    this.requestSeq = 0;
    this.heartbeat = null;
    // The network coming back: connect now instead of at the end of the backoff.
    this.replaced = false; // closed with 4409: only the person reconnects it (start())
    this.closed = false; // stopped for good (log-out): never started again
    this.onOnline = () => {
      if (this.stopped || this.replaced || this.state === 'online' || this.state === 'connecting') return;
      this.attempt = 0;
      clearTimeout(this.timer);
      this.connect();
    };
  }

  setState(state, detail = '') {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, detail } }));
  }

  start() {
    if (this.closed) return;
    this.stopped = false;
    this.replaced = false;
    this.attempt = 0;
    clearTimeout(this.timer);
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.closed = true;
    window.removeEventListener('online', this.onOnline);
    this.settleRequests();
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000, 'logging out');
    this.ws = null;
    this.setState('offline');
  }

  connect() {
    if (this.stopped) return;
    const url = wsUrl();
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.setState('connecting');
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: 'auth', token: this.getToken() }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      // The server's answer to a request of ours carries its id as ref and no "from" (relayed
      // messages always have one).
      if (msg && msg.from === undefined && typeof msg.ref === 'string' && this.requests.has(msg.ref)) {
        this.settle(msg.ref, msg);
        return;
      }
      if (msg.type === 'ready') {
        this.attempt = 0;
        this.originChecked = false; // a later streak of refusals is asked about again
        this.setState('online');
        this.beat(ws);
        if (this.subscriptions.length) this.send({ type: 'subscribe', users: this.subscriptions });
      }
      this.dispatchEvent(new CustomEvent('message', { detail: msg }));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.forget();
      if (ev.code === 4401) {
        this.setState('offline', 'auth');
        this.dispatchEvent(new CustomEvent('auth-failed'));
        return;
      }
      if (ev.code === 4403) {
        // This device was removed from the account (docs/API.md, "Devices"): for good.
        this.setState('offline', 'removed');
        this.dispatchEvent(new CustomEvent('device-removed'));
        return;
      }
      if (ev.code === 4410) {
        // The account was deleted (docs/API.md POST /api/account/delete): for good.
        this.setState('offline', 'deleted');
        this.dispatchEvent(new CustomEvent('account-deleted'));
        return;
      }
      if (ev.code === 4409) {
        this.replaced = true;
        this.setState('offline', 'replaced');
        this.dispatchEvent(new CustomEvent('replaced'));
        return;
      }
      if (!opened) this.checkOrigin(); // refused before it opened: perhaps this page's origin
      this.retry();
    };
  }

  // Asked once per log-in (origin-check.js); a refusal is an 'origin-refused' event with the
  // sentence to show. The retries go on (the server may be restarted with the origin).
  checkOrigin() {
    if (this.originChecked) return;
    this.originChecked = true;
    originRefusal().then((text) => {
      if (text && !this.stopped) this.dispatchEvent(new CustomEvent('origin-refused', { detail: text }));
    });
  }

  beat(ws) {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(async () => {
      if (this.ws !== ws || this.requests.size >= MAX_REQUESTS) return;
      const answer = await this.request({ type: 'ping' });
      if (answer === null && this.ws === ws) {
        // Unanswered: drop it without waiting for the closing handshake, and connect again.
        this.forget();
        ws.onclose = null;
        ws.close(4000, 'no answer');
        this.retry();
      }
    }, HEARTBEAT_MS);
  }

  // The current connection is gone: its heartbeat stops and its requests settle with null.
  forget() {
    this.ws = null;
    clearInterval(this.heartbeat);
    this.settleRequests();
  }

  retry() {
    if (this.stopped) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * base / 2;
    this.attempt += 1;
    this.setState('reconnecting', `${Math.round(delay / 1000)}`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Sends a message; false when not connected. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== 'online') return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Sends a request the server answers itself (docs/API.md: get-bundle) and resolves with that
   * answer (its type says what it is: an error is an answer too), or with null when not
   * connected, or when no answer came within 5 s or before the connection closed.
   */
  request(msg) {
    if (this.requests.size >= MAX_REQUESTS) return Promise.resolve(null);
    this.requestSeq += 1;
    const id = `q${this.requestSeq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, null), REQUEST_TIMEOUT_MS);
      this.requests.set(id, { resolve, timer });
      if (!this.send({ ...msg, id })) this.settle(id, null);
    });
  }

  settle(id, answer) {
    const waiting = this.requests.get(id);
    if (!waiting) return;
    this.requests.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve(answer);
  }

  settleRequests() {
    for (const id of [...this.requests.keys()]) this.settle(id, null);
  }

  subscribe(users) {
    this.subscriptions = [...new Set(users)].slice(0, 256);
    this.send({ type: 'subscribe', users: this.subscriptions });
  }
}
