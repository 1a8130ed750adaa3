// A WebSocket test client (npm ws) with a message queue: next(pred) waits for a matching message.
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { loginDevice } from './api.mjs';

export function wsUrl(httpUrl) {
  return `${httpUrl.replace(/^http/, 'ws')}/ws`;
}

/**
 * Opens a WebSocket to server (a startServer() result) with the given Origin (default: the
 * server's own). Resolves to a client once open; rejects with the HTTP status on refusal.
 */
export function connect(server, { origin = server.url, headers = {}, ca, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { headers: { ...headers } };
    if (ca) opts.ca = ca;
    if (localAddress) opts.localAddress = localAddress; // another loopback address: another client
    if (origin !== null) opts.origin = origin;
    const ws = new WebSocket(wsUrl(server.url), opts);
    const queue = [];
    const waiters = [];
    let closeInfo = null;
    const closeWaiters = [];
    ws.on('message', (data, isBinary) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { msg = { unparsed: data.toString(), isBinary }; }
      queue.push(msg);
      for (const w of [...waiters]) w.check();
    });
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      for (const w of closeWaiters) w(closeInfo);
      for (const w of [...waiters]) w.check();
    });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const err = new Error(`refused with HTTP ${res.statusCode}`);
        err.status = res.statusCode;
        try { err.body = JSON.parse(body); } catch { err.body = body; }
        reject(err);
      });
    });
    ws.on('error', (e) => { if (ws.readyState !== WebSocket.OPEN) reject(e); });
    const client = {
      ws,
      messages: queue,
      send(obj) { ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); },
      next(pred = () => true, timeout = 5000) {
        return new Promise((res, rej) => {
          const w = {
            check() {
              const i = queue.findIndex(pred);
              if (i >= 0) {
                const [m] = queue.splice(i, 1);
                clearTimeout(timer);
                waiters.splice(waiters.indexOf(w), 1);
                res(m);
              } else if (closeInfo) {
                clearTimeout(timer);
                waiters.splice(waiters.indexOf(w), 1);
                rej(new Error(`closed (${closeInfo.code} ${closeInfo.reason}) while waiting`));
              }
            },
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            rej(new Error(`timeout waiting for a message; have ${JSON.stringify(queue).slice(0, 300)}`));
          }, timeout);
          waiters.push(w);
          w.check();
        });
      },
      closed(timeout = 15000) {
        if (closeInfo) return Promise.resolve(closeInfo);
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error('timeout waiting for close')), timeout);
          closeWaiters.push((info) => { clearTimeout(timer); res(info); });
        });
      },
      close() { ws.close(); },
    };
    ws.on('open', () => resolve(client));
  });
}

/** Connects and authenticates; resolves to the client after {"type":"ready"}. */
export async function login(server, token, opts) {
  const c = await connect(server, opts);
  c.send({ type: 'auth', token });
  const ready = await c.next((m) => m.type === 'ready' || m.type === 'error');
  if (ready.type !== 'ready') throw new Error(`auth failed: ${JSON.stringify(ready)}`);
  c.user = ready.user;
  c.device = ready.device;
  return c;
}

/**
 * A presence capability (docs/API.md "Presence"): { cap, capHash } in base64url. The owner sends
 * capHash in presence-settings; a contact subscribes with cap.
 */
export function presenceCap() {
  const cap = crypto.randomBytes(32);
  return { cap: cap.toString('base64url'), capHash: crypto.createHmac('sha256', 'parley-presence-cap-v1').update(cap).digest('base64url') };
}

/** Sets c's presence settings and waits for presence-saved. */
export async function showPresence(c, capHash, visible = true) {
  const id = `ps${crypto.randomBytes(4).toString('hex')}`;
  c.send({ type: 'presence-settings', capHash, visible, id });
  const m = await c.next((x) => x.ref === id);
  if (m.type !== 'presence-saved') throw new Error(`presence-settings refused: ${JSON.stringify(m)}`);
}

/**
 * Makes the clients (logged in, c.user set) accepted contacts of one another, as pages do
 * (docs/API.md "Limits against abuse"): each shows a fresh presence capability, then subscribes
 * to every other with theirs, and waits for the answers, so that the server knows of it before
 * anything is relayed. A subscribe replaces the previous one: give every contact of a client in
 * one call. A recipient who goes offline afterwards stays a contact for the connections that
 * subscribed meanwhile.
 */
export async function makeContacts(...clients) {
  for (const c of clients) {
    c.presence = presenceCap();
    await showPresence(c, c.presence.capHash);
  }
  for (const c of clients) {
    const others = clients.filter((o) => o !== c);
    c.send({ type: 'subscribe', users: others.map((o) => ({ user: o.user, cap: o.presence.cap })) });
    for (const o of others) await c.next((m) => m.type === 'presence' && m.user === o.user);
  }
}

/**
 * Logs user ({ username, password }) in as another of its devices (default 2) over HTTP and
 * connects that device: where a message to oneself goes (with "toDevice"), since a message to
 * one's own name never comes back to the connection that sent it (docs/API.md "Relaying between
 * devices").
 */
export async function otherDevice(server, user, device = 2, opts) {
  const { token } = await loginDevice(server.url, user, device);
  return login(server, token, opts);
}
