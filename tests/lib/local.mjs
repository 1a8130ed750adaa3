// Local profiles (no account) on a serverless site, for the e2e tests (invite.test.mjs,
// invite-scan.test.mjs, rooms-local.test.mjs, offline.test.mjs): the bundle (scripts/bundle.mjs)
// with config.json {"server": false}, served by python3 -m http.server; a person who makes a local
// profile there, or whose browser's camera plays a video file (Chromium's fake capture device, for
// scanning codes); invitation codes made, pasted and answered through the invite dialog.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, watch } from './browser.mjs';
import { ROOT } from './server.mjs';
import { WAIT, leave, person } from './people.mjs';

export const PASS = 'a long local passphrase';
const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

/** python3 -m http.server serving `dir` on a free port: {url, stop()}. */
export async function staticServer(dir) {
  const proc = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'ignore'], // its request log (stderr) unread would fill the pipe and stall it
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/port (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`http.server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

/** The bundle (scripts/bundle.mjs) in a temporary folder with config.json {"server": false}: {dir, remove()}. */
export function serverlessBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-serverless-dist-'));
  execFileSync('node', [join(ROOT, 'scripts/bundle.mjs'), '--src', join(ROOT, 'web'), '--out', dir], { stdio: 'pipe' });
  writeFileSync(join(dir, 'config.json'), '{"server": false}\n');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// The bundle, built once; each test serves it with its own static server.
let bundle = null;
const sites = new WeakMap(); // test -> {url}
export async function serverlessSite(t) {
  if (!bundle) {
    bundle = serverlessBundle();
    cleanups.push(async () => bundle.remove());
  }
  if (!sites.has(t)) {
    const site = await staticServer(bundle.dir);
    cleanups.push(async () => site.stop());
    sites.set(t, site);
  }
  return sites.get(t);
}

/** Makes a local profile (no account) on `p`'s page and waits for the app. */
export async function makeLocalProfile(p) {
  const { page } = p;
  // No server: the account form is not offered, only the local profile.
  await page.getByRole('button', { name: 'Use without an account' }).click();
  assert.equal(await page.getByRole('button', { name: 'Log in' }).count(), 0);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
  await page.getByLabel('Confirm passphrase').fill(PASS);
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('button', { name: 'Create invite' }).waitFor({ state: 'visible', timeout: 60000 });
  return p;
}

// In the page, before its scripts: every RTCPeerConnection made is kept in window.parleyPcs with
// the states it went through, for the report when a connection by codes does not open.
export function trackPcs() {
  const Native = globalThis.RTCPeerConnection;
  const pcs = [];
  globalThis.parleyPcs = pcs;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const t0 = performance.now();
      const log = [];
      pcs.push({ pc: this, log });
      for (const ev of ['connectionstatechange', 'iceconnectionstatechange', 'icegatheringstatechange', 'signalingstatechange']) {
        this.addEventListener(ev, () => log.push(`${Math.round(performance.now() - t0)} ${ev.replace('statechange', '')}=${
          { connectionstatechange: this.connectionState, iceconnectionstatechange: this.iceConnectionState,
            icegatheringstatechange: this.iceGatheringState, signalingstatechange: this.signalingState }[ev]}`));
      }
      // Once a second until it is connected or closed: the DTLS transport's state and what it
      // moved (getStats "transport"), logged when they change.
      let last = '';
      const timer = setInterval(async () => {
        if (this.connectionState === 'closed' || this.connectionState === 'connected') {
          clearInterval(timer);
          return;
        }
        try {
          const stats = await this.getStats();
          let t = `dtls=${this.sctp?.transport?.state ?? '-'}`;
          stats.forEach((s) => {
            if (s.type === 'transport') t += ` ${s.dtlsState}/${s.iceState ?? ''} sent ${s.bytesSent} got ${s.bytesReceived} pair ${s.selectedCandidatePairId ? 'yes' : 'no'} role ${s.dtlsRole ?? '?'}`;
          });
          if (t !== last) {
            last = t;
            log.push(`${Math.round(performance.now() - t0)} ${t}`);
          }
        } catch {
          clearInterval(timer);
        }
      }, 1000);
    }
  };
}

/** What the page's connections went through, with their candidate pairs (the report of a failure). */
export async function pcReport(p) {
  return p.page.evaluate(async () => Promise.all((globalThis.parleyPcs || []).map(async ({ pc, log }) => {
    const pairs = [];
    const cands = {};
    try {
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'local-candidate' || s.type === 'remote-candidate') cands[s.id] = `${s.candidateType} ${s.address}:${s.port}`;
      });
      stats.forEach((s) => {
        if (s.type === 'candidate-pair') {
          pairs.push(`${cands[s.localCandidateId]} -> ${cands[s.remoteCandidateId]} ${s.state} req ${s.requestsSent}/${s.responsesReceived}`);
        }
      });
    } catch (e) {
      pairs.push(String(e));
    }
    return { state: pc.connectionState, log: log.join(', '), pairs };
  })));
}

// A person with a local profile; their browser is closed when test `t` ends.
export async function localPerson(t, label) {
  const p = await person(await serverlessSite(t), label);
  t.after(() => leave(p));
  await p.context.addInitScript(trackPcs);
  await p.page.reload();
  return makeLocalProfile(p);
}

/**
 * A person at `site` whose camera plays the .y4m file `video` (looped): the same shape as
 * people.mjs's person() (browser, context, page, problems, ...), closed by leave(). With `refuse`,
 * the browser denies the camera as a person pressing "Block" would.
 */
export async function cameraPerson(site, name, video, { refuse = false } = {}) {
  const p = { name, requests: [], frames: [], dialogs: [], problems: [], warnings: [] };
  const browser = await chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    args: refuse
      ? [...CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'), '--deny-permission-prompts']
      : [...CHROMIUM_ARGS, `--use-file-for-fake-video-capture=${video}`],
    headless: true,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(trackPcs);
  if (!refuse) await context.grantPermissions(['camera', 'microphone'], { origin: site.url });
  const page = await context.newPage();
  watch(page, p.problems, p.warnings);
  page.on('request', (req) => p.requests.push({ url: req.url(), method: req.method(), body: req.postData() || '' }));
  await page.goto(`${site.url}/`);
  return Object.assign(p, { browser, context, page });
}

export async function createInvite(p) {
  await p.page.getByRole('button', { name: 'Create invite' }).click();
  const box = p.page.getByRole('textbox', { name: 'Invite code' });
  await p.page.waitForFunction(() => document.getElementById('invite-code').value.length > 0, null, { timeout: WAIT });
  return box.inputValue();
}

export async function pasteInvite(p, code) {
  await p.page.getByRole('button', { name: 'Paste invite' }).click();
  await p.page.getByRole('textbox', { name: 'Invite code' }).fill(code);
  await p.page.getByRole('button', { name: 'Make reply' }).click();
}

/** a and b connected by codes (a invites, b answers, a connects): both see the new chat open. */
export async function connectByCodes(a, b) {
  const invite = await createInvite(a);
  await pasteInvite(b, invite);
  await b.page.waitForFunction(() => document.getElementById('invite-reply-code').value.length > 0, null, { timeout: WAIT });
  await a.page.getByRole('textbox', { name: 'Reply code' }).fill(await b.page.getByRole('textbox', { name: 'Reply code' }).inputValue());
  await a.page.getByRole('button', { name: 'Connect', exact: true }).click();
  await codeChatOpen(a, b);
}

/**
 * Waits until both a and b show the chat made by codes open (dialog closed, "connected"); when
 * it does not open within 60 s, the error says what each page showed and went through.
 */
export async function codeChatOpen(a, b) {
  for (const p of [a, b]) {
    try {
      await p.page.waitForFunction(() => !document.getElementById('invite-dialog').open
        && document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: 60000 });
    } catch (e) {
      // What each page shows, for the report: where the connection stopped.
      const shown = await Promise.all([a, b].map((x) => x.page.evaluate(() => ({
        dialog: document.getElementById('invite-dialog').open,
        status: document.getElementById('chat-status').textContent,
        banner: document.getElementById('banner-text').textContent,
        invite: document.getElementById('invite-dialog').innerText.slice(0, 300),
      })).then(async (o) => ({ ...o, problems: x.problems.slice(-5), pcs: await pcReport(x).catch(String) }), (x2) => String(x2))));
      throw new Error(`${a.name} and ${b.name} did not connect by codes: ${JSON.stringify(shown)}`, { cause: e });
    }
  }
}
