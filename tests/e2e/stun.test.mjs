// A server started with --stun hands its STUN server to the pages, which use it while gathering
// (a real STUN Binding exchange with a responder in this test), and chats still connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { WAIT, connectPair, leave, person, send, signUp, waitConnected, waitForMessage } from '../lib/people.mjs';

const MAGIC = 0x2112a442;

// A minimal STUN server (RFC 5389): answers each Binding request with its XOR-MAPPED-ADDRESS,
// the address it came from with the port moved by one, so that the reflexive candidate differs
// from the host candidate and the browser keeps it.
const stun = createSocket('udp4');
const requests = [];
stun.on('message', (msg, from) => {
  if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001 || msg.readUInt32BE(4) !== MAGIC) return;
  requests.push(from);
  const res = Buffer.alloc(32);
  res.writeUInt16BE(0x0101, 0); // Binding success response
  res.writeUInt16BE(12, 2);
  res.writeUInt32BE(MAGIC, 4);
  msg.copy(res, 8, 8, 20); // transaction id
  res.writeUInt16BE(0x0020, 20); // XOR-MAPPED-ADDRESS
  res.writeUInt16BE(8, 22);
  res.writeUInt8(0x01, 25); // IPv4
  const port = from.port === 65535 ? 1024 : from.port + 1;
  res.writeUInt16BE(port ^ (MAGIC >>> 16), 26);
  const ip = from.address.split('.').reduce((n, o) => (n * 256) + Number(o), 0);
  res.writeUInt32BE((ip ^ MAGIC) >>> 0, 28);
  stun.send(res, from.port, from.address);
});
await new Promise((resolve) => stun.bind(0, '127.0.0.1', resolve));
const stunPort = stun.address().port;

const server = serverForTests({ args: ['--stun', `stun:127.0.0.1:${stunPort}`] });

test.after(() => stun.close());

test('the pages gather through the configured STUN server, say so in their candidates, and the chat connects', async () => {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    await Promise.all([signUp(a), signUp(b)]);
    await connectPair(a, b);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await send(a, 'found through STUN');
    await waitForMessage(b.page, 'found through STUN');
    assert.ok(requests.length > 0, 'the STUN server was asked');
    // A reflexive candidate (from the STUN answer) went out with the link's signals.
    const srflx = a.frames.filter((f) => f.dir === 'sent' && /typ srflx/.test(f.payload));
    assert.ok(srflx.length > 0, 'a server-reflexive candidate was signaled');
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
});

test('the page takes STUN URLs, and TURN URLs only with a credential, from the server\'s setup: nothing else, at most 8', async () => {
  const a = await person(server, uniqueName('alice'));
  try {
    // Every RTCPeerConnection the page makes records the ICE servers it was given.
    await a.page.addInitScript(() => {
      const Original = window.RTCPeerConnection;
      window.iceConfigs = [];
      window.RTCPeerConnection = class extends Original {
        constructor(config, ...rest) {
          window.iceConfigs.push(JSON.parse(JSON.stringify(config?.iceServers ?? null)));
          super(config, ...rest);
        }
      };
    });
    const many = Array.from({ length: 20 }, (_, i) => `stun:s${i}.example.org`);
    await a.page.route('**/api/config', (route) => route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({
        iceServers: [
          { urls: 'turn:relay.example.org:3478', username: 'u', credential: 'secret' },
          { urls: ['turn:nocredential.example.org'] },
          { urls: ['turns:relay.example.org:5349?transport=udp', 'turn:relay.example.org?transport=sctp'], username: 'u', credential: 'c' },
          { urls: ['turn:relay.example.org'], username: 'u', credential: 42 },
          { urls: ['stun:ok.example.org:3478', 'https://example.org/', 'stun:bad host', 42] },
          { urls: many },
        ],
      }),
    }));
    await a.page.reload();
    await signUp(a);
    await a.page.waitForFunction(() => window.iceConfigs.length > 0, null, { timeout: WAIT });
    const configs = await a.page.evaluate(() => window.iceConfigs);
    const want = [
      { urls: ['turn:relay.example.org:3478'], username: 'u', credential: 'secret' },
      { urls: ['stun:ok.example.org:3478'] },
      { urls: many.slice(0, 6) },
    ];
    for (const c of configs) assert.deepEqual(c, want);
  } finally {
    await leave(a);
  }
});
