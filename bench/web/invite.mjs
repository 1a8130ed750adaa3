// Invitation codes (docs/PROTOCOL.md 17): the size of invite and reply codes, and how long each
// takes to show (ICE gathering complete, the X3DH start, the signature). The static bundle with
// config.json {"server": false} on python3 -m http.server, no parley-server; two headless
// Chromium instances with local profiles; BENCH_INVITES invites (default 50), each answered.
// Prints figures; asserts nothing.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';

const N = Number(process.env.BENCH_INVITES || 50);
const WAIT = 60000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);

const dist = mkdtempSync(join(tmpdir(), 'parley-bench-invite-'));
execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--out', dist], { stdio: 'pipe' });
writeFileSync(join(dist, 'config.json'), '{"server": false}\n');
const http = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dist], { stdio: ['ignore', 'pipe', 'ignore'] });
const port = await new Promise((resolve) => {
  let out = '';
  http.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/port (\d+)/);
    if (m) resolve(Number(m[1]));
  });
});
const url = `http://127.0.0.1:${port}/`;

async function profile(browser) {
  const { page } = await openPage(browser, url);
  await page.getByRole('button', { name: 'Use without an account' }).click();
  await page.getByLabel('Passphrase', { exact: true }).fill('bench passphrase');
  await page.getByLabel('Confirm passphrase').fill('bench passphrase');
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('button', { name: 'Create invite' }).waitFor({ timeout: WAIT });
  return page;
}

const ba = await launchBrowser();
const bb = await launchBrowser();
const sizes = { invite: [], reply: [] };
const times = { invite: [], reply: [] };
try {
  const a = await profile(ba);
  const b = await profile(bb);
  for (let i = 0; i < N; i += 1) {
    let t = performance.now();
    await a.getByRole('button', { name: 'Create invite' }).click();
    await a.waitForFunction(() => document.getElementById('invite-code').value.length > 0, null, { timeout: WAIT });
    times.invite.push(performance.now() - t);
    const invite = await a.getByRole('textbox', { name: 'Invite code' }).inputValue();
    await a.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await b.getByRole('button', { name: 'Paste invite' }).click();
    await b.getByRole('textbox', { name: 'Invite code' }).fill(invite);
    t = performance.now();
    await b.getByRole('button', { name: 'Make reply' }).click();
    await b.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0
      || !document.getElementById('invite-error').hidden, null, { timeout: WAIT });
    times.reply.push(performance.now() - t);
    const reply = await b.getByRole('textbox', { name: 'Reply code' }).inputValue();
    await b.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    sizes.invite.push(invite.length);
    sizes.reply.push(reply.length);
  }
  const candidates = await a.evaluate(async () => {
    const pc = new RTCPeerConnection();
    pc.createDataChannel('x');
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { const t = setInterval(() => { if (pc.iceGatheringState === 'complete') { clearInterval(t); r(); } }, 50); });
    const n = pc.localDescription.sdp.split('\n').filter((l) => l.startsWith('a=candidate:') && / udp /i.test(l)).length;
    pc.close();
    return n;
  });
  console.log(`invitation codes over ${N} invites (host candidates only, ${candidates} UDP candidate(s) per side here):`);
  console.log(`  invite: median ${median(sizes.invite)} characters, max ${max(sizes.invite)} (limit 1000)`);
  console.log(`  reply:  median ${median(sizes.reply)} characters, max ${max(sizes.reply)} (limit 1000)`);
  console.log(`  time to show: invite median ${median(times.invite).toFixed(0)} ms (max ${max(times.invite).toFixed(0)}), reply median ${median(times.reply).toFixed(0)} ms (max ${max(times.reply).toFixed(0)})`);
} finally {
  await ba.close();
  await bb.close();
  http.kill('SIGTERM');
  rmSync(dist, { recursive: true, force: true });
}
