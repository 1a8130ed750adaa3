// The cost of several devices (docs/PROTOCOL.md 14.6): one person sends messages to another,
// first one device each, then from a person with 2 devices to a person with 3. Headless Chromium
// against the real server (native build) on loopback. Prints figures; asserts nothing.
//
// For each setup: the sender types BENCH_MESSAGES messages (default 50) one after the other in
// the chat with the primary peer; timed on the test's clock from the first Enter to the moment
// every device of the recipient (and the sender's other device) shows the last one. Counted from
// the sender page's WebSocket frames: the mail-puts it made per message and their bytes (copies
// go over a data channel to each device of the contact whose chat is open, devicelinks.js;
// copies to the sender's own other devices go through the mailbox).
import { ROOT, startServer } from '../../tests/lib/server.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';
import { connectPair, leave, openChat, person, send, signUp, waitForMessage } from '../../tests/lib/people.mjs';
import { linkSecondBrowser } from '../../tests/lib/linking.mjs';

const N = Number(process.env.BENCH_MESSAGES || 50);
const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });

async function people(senderDevices, recipientDevices) {
  const aName = uniqueName('alice');
  const bName = uniqueName('bob');
  const a = [];
  const b = [];
  for (let i = 0; i < senderDevices; i += 1) a.push(await person(server, aName));
  for (let i = 0; i < recipientDevices; i += 1) b.push(await person(server, bName));
  for (const p of [...a, ...b]) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await signUp(a[0]);
  await signUp(b[0]);
  await connectPair(a[0], b[0]);
  for (let i = 1; i < a.length; i += 1) await linkSecondBrowser(a[0], a[i]);
  for (let i = 1; i < b.length; i += 1) await linkSecondBrowser(b[0], b[i]);
  // Everyone knows everyone's list (the senders learn of new devices with devices-changed).
  await new Promise((r) => setTimeout(r, 2000));
  for (const p of a) await openChat(p, bName);
  for (const p of b) await openChat(p, aName);
  // A first message each way sets up every session (X3DH per pair of devices), outside the timing.
  await send(a[0], 'warm-up');
  await send(b[0], 'warm-up back');
  for (const p of [...a.slice(1), ...b]) await waitForMessage(p.page, 'warm-up', 60000);
  for (const p of a) await waitForMessage(p.page, 'warm-up back', 60000);
  return { a, b };
}

async function run(senderDevices, recipientDevices) {
  const { a, b } = await people(senderDevices, recipientDevices);
  try {
    const sender = a[0];
    const framesBefore = sender.frames.length;
    const t0 = performance.now();
    for (let i = 1; i <= N; i += 1) await send(sender, `message ${i}`);
    const typed = performance.now() - t0;
    for (const p of [...b, ...a.slice(1)]) await waitForMessage(p.page, `message ${N}`, 120000);
    const total = performance.now() - t0;
    const puts = sender.frames.slice(framesBefore).filter((f) => f.dir === 'sent' && f.payload.includes('"type":"mail-put"'));
    const bytes = puts.reduce((n, f) => n + f.payload.length, 0);
    return {
      setup: `${senderDevices} -> ${recipientDevices}`,
      messages: N,
      typedMsPerMessage: +(typed / N).toFixed(1),
      allDevicesMs: Math.round(total),
      msPerMessageAllDevices: +(total / N).toFixed(1),
      mailPutsPerMessage: +(puts.length / N).toFixed(2),
      mailBytesPerMessage: Math.round(bytes / N),
    };
  } finally {
    await Promise.all([...a, ...b].map(leave));
  }
}

const results = [];
try {
  results.push(await run(1, 1));
  results.push(await run(2, 3));
} finally {
  await server.stop();
}
console.table(results);
console.log(JSON.stringify(results));
