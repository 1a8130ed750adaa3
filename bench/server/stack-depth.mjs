// How deep do parley-server's worker threads use their stacks? Starts the server (binary from
// PARLEY_SERVER_BIN, else the native build), drives the deepest paths we know of (JSON nested to
// cJSON's limit of 1000 levels in a relayed WebSocket message, in the auth message and in API
// bodies, a sign-up with its Argon2id hash, TLS-less HTTP and static files), then reads
// /proc/PID/smaps: a thread stack is an anonymous mapping of the thread stack size, and the
// pages it has touched (Rss) never go away, so the largest Rss among them is the deepest use.
// (The WebSocket messages themselves run on the event loops' threads, whose stacks are glibc's
// default 8 MiB: only the auth and upgrade paths of this list reach a worker thread.)
// Run: node bench/server/stack-depth.mjs [stackKiB]   (stackKiB: the build's stack size, to
// recognise the mappings; default 256, Civetweb's USE_STACK_SIZE in scripts/deps.sh)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { api, newUser } from '../../tests/lib/api.mjs';
import { login, makeContacts } from '../../tests/lib/ws.mjs';

const STACK_KIB = Number(process.argv[2] || 256);
process.env.PARLEY_SERVER_BIN ||= join(ROOT, 'build/native/server/parley-server');

const nested = (depth, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);
const nestedObj = (depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function stackUse(pid) {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const out = [];
  let size = 0;
  let isStack = false;
  for (const line of smaps) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      // Anonymous mapping: no path after the inode column.
      const f = line.trim().split(/\s+/);
      isStack = f.length === 5 && f[1].startsWith('rw');
    } else if (line.startsWith('Size:')) {
      size = Number(line.match(/(\d+)/)[1]);
    } else if (line.startsWith('Rss:') && isStack && size >= STACK_KIB && size <= STACK_KIB + 8) {
      out.push(Number(line.match(/(\d+)/)[1]));
    }
  }
  return out;
}

function openWs(s) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/ws`, { origin: s.url });
    const msgs = [];
    ws.on('message', (d) => msgs.push(d.toString()));
    ws.on('open', () => resolve({ ws, msgs }));
    ws.on('error', reject);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const s = await startServer({ args: ['--log-level', 'error', '--max-connections', '8']});
try {
  const before = stackUse(s.proc.pid);
  const a = await newUser(s.url);
  const b = await newUser(s.url);
  await api(s.url, 'POST', '/api/login', { body: { username: a.username, password: a.password } });
  for (const d of [999, 1000, 1001, 5000]) {
    await api(s.url, 'POST', '/api/signup', { raw: nested(d), headers: { 'Content-Type': 'application/json' } });
    await api(s.url, 'PUT', '/api/keys', { raw: nestedObj(d), token: a.token, headers: { 'Content-Type': 'application/json' } });
  }
  await fetch(`${s.url}/`, { headers: { 'Accept-Encoding': 'gzip' } });
  // Nested auth message on its own connection.
  const bad = await openWs(s);
  bad.ws.send(`{"type":"auth","token":${nested(998, '"x"')}}`);
  await sleep(200);
  bad.ws.close();
  const ca = await login(s, a.token);
  const cb = await login(s, b.token);
  // Contacts (only chat requests reach someone who is not): the offers take the relay path.
  await makeContacts(ca, cb);
  for (const d of [997, 998, 999, 1000]) {
    ca.ws.send(`{"type":"offer","to":"${b.username}","sdp":${nested(d)}}`);
    ca.ws.send(`{"type":"offer","to":"${b.username}","x":${nestedObj(d)}}`);
  }
  ca.ws.send(`{"type":"subscribe","users":${nested(998, `"${b.username}"`)}}`);
  await sleep(500);
  const relayed = cb.messages.filter((m) => m.type === 'offer').length;
  ca.ws.close();
  cb.ws.close();
  await sleep(300);
  const after = stackUse(s.proc.pid);
  const max = Math.max(...after);
  console.log(`thread stacks of ${STACK_KIB} KiB: ${after.length} found; touched at start max ` +
    `${Math.max(...before)} KiB; after the deep paths max ${max} KiB ` +
    `(${relayed} nested offers relayed); the largest five: ${after.sort((x, y) => y - x).slice(0, 5).join(', ')} KiB`);
} finally {
  await s.stop();
}
