// A private coturn (Debian's package, installed by scripts/deps.sh --test) for the tests, started by
// scripts/coturn.sh on the given addresses and a free port with the secret it generates (coturn's
// use-auth-secret scheme, the one parley-server issues credentials for), stopped afterwards. Also a minimal TURN client
// (RFC 5766 Allocate with RFC 5389 long-term credentials) to ask coturn directly whether it takes
// a credential.
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

export const REALM = 'parley.test';

/** A port free for UDP and TCP on host. */
async function freePort(host) {
  for (let i = 0; i < 50; i += 1) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (!ok) continue;
    const udp = await new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
    });
    if (udp) return port;
  }
  throw new Error('no free port for coturn');
}

/**
 * Starts coturn through the project's own scripts/coturn.sh (its configuration, with private and
 * loopback peers allowed: the test networks are private), listening on `listen` (IPv4 addresses of
 * this machine) at one free port, relaying from `relayIp`. Returns { port, secret, secretFile,
 * urls(host), logs(), stop() }.
 */
export async function startCoturn({ listen, relayIp = listen[0] }) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-coturn-'));
  const port = await freePort(listen[0]);
  const minPort = 40000 + Math.floor(Math.random() * 200) * 100;
  const args = [join(ROOT, 'scripts/coturn.sh'), '--dir', join(dir, 'turn'),
    ...listen.flatMap((ip) => ['--listen-ip', ip]), '--relay-ip', relayIp, '--port', String(port),
    '--min-port', String(minPort), '--max-port', String(minPort + 99), '--realm', REALM,
    '--allow-private-peers'];
  const proc = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  // Ready once it answers a Binding request on its port.
  const end = Date.now() + 10000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`coturn exited with ${proc.exitCode}: ${log}`);
    if (await binding(listen[0], port).catch(() => false)) break;
    if (Date.now() > end) {
      proc.kill();
      throw new Error(`coturn did not answer on ${listen[0]}:${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const secretFile = join(dir, 'turn', 'turn-secret');
  return {
    port,
    secret: readFileSync(secretFile, 'utf8').trim(),
    secretFile,
    urls: (host = listen[0]) => [`turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`],
    logs: () => log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- a minimal STUN/TURN client ------------------------------------------------------------

const MAGIC = 0x2112a442;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, REQUESTED_TRANSPORT: 0x0019, XOR_RELAYED_ADDRESS: 0x0016 };

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const b = Buffer.alloc(4 + value.length + pad);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function message(type, attrs, key = null) {
  const id = randomBytes(12);
  let body = Buffer.concat(attrs);
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(MAGIC, 4);
    id.copy(h, 8);
    return h;
  };
  if (key) {
    // MESSAGE-INTEGRITY covers the message with its length already counting the attribute.
    const mac = createHmac('sha1', key).update(Buffer.concat([header(body.length + 24), body])).digest();
    body = Buffer.concat([body, attr(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  return Buffer.concat([header(body.length), body]);
}

function parse(buf) {
  const out = { type: buf.readUInt16BE(0), attrs: new Map() };
  let p = 20;
  const end = 20 + buf.readUInt16BE(2);
  while (p + 4 <= end) {
    const t = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    out.attrs.set(t, buf.subarray(p + 4, p + 4 + len));
    p += 4 + len + ((4 - (len % 4)) % 4);
  }
  const err = out.attrs.get(ATTR.ERROR_CODE);
  if (err) out.error = err[2] * 100 + err[3];
  return out;
}

// One UDP socket: coturn keeps a nonce per client address and port.
function client(host, port) {
  const s = createSocket('udp4');
  return {
    ask(msg) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          s.removeAllListeners('message');
          reject(new Error('no answer'));
        }, 2000);
        s.once('message', (m) => {
          clearTimeout(timer);
          resolve(parse(m));
        });
        s.send(msg, port, host);
      });
    },
    close: () => s.close(),
  };
}

async function binding(host, port) {
  const c = client(host, port);
  try {
    return (await c.ask(message(0x0001, []))).type === 0x0101;
  } finally {
    c.close();
  }
}

/**
 * An Allocate with these credentials: 'allocated' (success), or the error code coturn answers
 * with (401 for a credential it refuses, ...).
 */
export async function allocate(host, port, username, credential) {
  const c = client(host, port);
  try {
    const transport = attr(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
    const first = await c.ask(message(0x0003, [transport]));
    if (first.error !== 401) throw new Error(`unexpected first answer ${first.type} ${first.error}`);
    const realm = first.attrs.get(ATTR.REALM);
    const nonce = first.attrs.get(ATTR.NONCE);
    const key = createHash('md5').update(`${username}:${realm.toString()}:${credential}`).digest();
    const res = await c.ask(message(0x0003, [
      attr(ATTR.USERNAME, Buffer.from(username)), attr(ATTR.REALM, realm), attr(ATTR.NONCE, nonce), transport,
    ], key));
    if (res.type === 0x0103 && res.attrs.has(ATTR.XOR_RELAYED_ADDRESS)) return 'allocated';
    return res.error ?? `type ${res.type}`;
  } finally {
    c.close();
  }
}

/** coturn's credential for a username (what parley-server computes). */
export function credentialFor(secret, username) {
  return createHmac('sha1', secret).update(username).digest('base64');
}
