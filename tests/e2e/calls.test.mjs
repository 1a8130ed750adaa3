// Voice and video calls between two browsers with fake media (docs/PROTOCOL.md 12.17): media flow
// both ways on the chat's existing RTCPeerConnection, "Call verification" reads "Not verified"
// until both mark each other's safety number verified, decline, hang-up from either side, mute,
// a fingerprint swapped in one page ends the call with a warning, ten calls make at most two new
// RTCPeerConnections, and the server's frames carry no SDP, fingerprint or candidate of a call;
// an ICE restart keeps the call and checks the binding again; a refused camera leaves an
// audio-only or receive-only call; with the pages' clocks driven, an unanswered call is missed
// after 45 s, a statement that does not come within 20 s ends a call as not checked in time, and
// a call with nothing received for 30 s ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { WAIT, connectPair, leave, logIn, person, shots, signUp, transcript, until, waitConnected } from '../lib/people.mjs';
import { trackPcs } from '../lib/local.mjs';

const server = serverForTests();
let a;
let b;
let framesAtStart = null; // [a, b]: how many frames each had seen before the first call


async function setUp(name) {
  const p = await person(server, uniqueName(name));
  await p.context.addInitScript(trackPcs); // window.parleyPcs: every RTCPeerConnection made
  await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await p.page.reload();
  await signUp(p);
  return p;
}

/**
 * The chat's link has its candidates on both sides: a link is connected on its first candidate
 * pair while the others still trickle through the server (the link's signaling, not a call's). So
 * the frames counted before the first call are those after every page gathered all its
 * candidates and each candidate one page sent reached the other.
 */
async function linkSettled() {
  const gathered = (p) => p.page.evaluate(() => window.parleyPcs.every(({ pc }) => pc.signalingState === 'closed'
    || pc.iceGatheringState !== 'gathering'));
  await until(async () => (await gathered(a)) && (await gathered(b)), { timeout: WAIT, message: 'the link gathered its candidates' });
  const candidates = (p, dir) => p.frames.filter((f) => f.dir === dir && /"candidate"/.test(f.payload)).length;
  await until(() => candidates(a, 'sent') === candidates(b, 'received') && candidates(b, 'sent') === candidates(a, 'received'),
    { timeout: WAIT, message: "each page's candidates reached the other" });
  framesAtStart = [a.frames.length, b.frames.length];
}

before(async () => {
  [a, b] = await Promise.all([setUp('alice'), setUp('bob')]);
  await connectPair(a, b);
  await linkSettled();
});

after(async () => {
  await Promise.all([leave(a), leave(b)]);
});

const panel = (p) => p.page.getByRole('region', { name: 'Call' });

/** What the call's connection has received so far: audio packets and video frames decoded. */
function received(p) {
  return p.page.evaluate(async () => {
    const pc = globalThis.parleyTestHooks?.calls?.call?.negotiator?.pc;
    if (!pc) return null;
    let audio = 0;
    let frames = 0;
    let level = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        audio += s.packetsReceived || 0;
        level = Math.max(level, s.audioLevel || 0);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
    });
    return { audio, frames, level };
  });
}

async function mediaGrows(p, { video }) {
  const first = await until(async () => {
    const r = await received(p);
    return r && r.audio > 0 && (!video || r.frames > 0) ? r : null;
  }, { timeout: WAIT, message: `${p.name} receives media` });
  await until(async () => {
    const r = await received(p);
    return r && r.audio > first.audio && (!video || r.frames > first.frames);
  }, { timeout: WAIT, message: `${p.name}'s received media grow` });
}

async function verification(p) {
  return (await p.page.getByLabel('Call verification').textContent()).trim();
}

async function waitVerification(p, text) {
  await until(async () => (await verification(p).catch(() => '')) === text,
    { timeout: WAIT, message: `${p.name}'s call verification reads ${text}` });
}

/** a calls b (video or not); b answers; both see the call up. */
async function call(caller, callee, { video = false } = {}) {
  await caller.page.getByRole('button', { name: video ? 'Video call' : 'Call', exact: true }).click();
  const incoming = callee.page.getByRole('group', { name: new RegExp(`^Incoming (video )?call from ${caller.name}$`) });
  await incoming.waitFor({ timeout: WAIT });
  await incoming.getByRole('button', { name: 'Answer' }).click();
  for (const p of [caller, callee]) {
    await p.page.getByRole('status').filter({ hasText: /^In call with/ }).waitFor({ timeout: WAIT });
  }
}

async function hangUp(p) {
  await panel(p).getByRole('button', { name: 'Hang up' }).click();
}

async function panelGone(p) {
  await p.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: WAIT });
}

async function lines(p) {
  return (await transcript(p.page)).map((m) => m.text);
}

async function lineAppears(p, re) {
  await until(async () => (await lines(p)).some((t) => re.test(t)), { timeout: WAIT, message: `${p.name}'s transcript shows ${re}` });
}

async function markVerified(p) {
  await p.page.getByRole('button', { name: 'Verify', exact: true }).click();
  const dialog = p.page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Mark as verified' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT });
}


test('an audio call: media both ways, Not verified until both verify, then Verified; hang-up', async () => {
  await call(a, b);
  await Promise.all([mediaGrows(a, { video: false }), mediaGrows(b, { video: false })]);
  await waitVerification(a, 'Not verified');
  await waitVerification(b, 'Not verified');
  // The statement checked out (both ways) but the safety numbers are not marked yet.
  await until(() => a.page.evaluate(() => globalThis.parleyTestHooks.calls.call?.bound === true), { message: 'alice checked bob\'s statement' });
  await until(() => b.page.evaluate(() => globalThis.parleyTestHooks.calls.call?.bound === true), { message: 'bob checked alice\'s statement' });
  assert.equal(await verification(a), 'Not verified');
  // The call's own way to verify: the safety number dialog for the contact.
  await panel(a).getByRole('button', { name: `Verify ${b.name}` }).click();
  const dialog = a.page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Mark as verified' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT });
  await waitVerification(a, 'Verified');
  assert.equal(await verification(b), 'Not verified', 'bob has not verified alice yet');
  await markVerified(b);
  await waitVerification(b, 'Verified');
  await hangUp(a);
  await Promise.all([panelGone(a), panelGone(b)]);
  await lineAppears(a, /^Outgoing call, \d+:\d\d$/);
  await lineAppears(b, /^Incoming call, \d+:\d\d$/);
});

test('a video call: a tile per remote video, frames decoded both ways; mute silences; hang-up by the callee', async () => {
  await call(b, a, { video: true });
  await Promise.all([mediaGrows(a, { video: true }), mediaGrows(b, { video: true })]);
  await a.page.getByRole('region', { name: 'Call' }).locator('video[aria-label="Video from ' + b.name + '"]').waitFor({ timeout: WAIT });
  await b.page.locator(`video[aria-label="Video from ${a.name}"]`).waitFor({ timeout: WAIT });
  await a.page.locator('video[aria-label="Your camera"]').waitFor({ timeout: WAIT });
  await waitVerification(a, 'Verified');
  await shots(a.page, 'call-video');
  // Mute: the fake microphone's beeps no longer reach bob.
  await until(async () => (await received(b)).level > 0.01, { message: 'bob hears alice' });
  await panel(a).getByRole('button', { name: 'Mute' }).click();
  assert.equal(await panel(a).getByRole('button', { name: 'Mute' }).getAttribute('aria-pressed'), 'true');
  await until(async () => (await received(b)).level < 0.001, { timeout: WAIT, message: 'bob\'s received audio level falls to silence' });
  // Camera off and on again.
  await panel(a).getByRole('button', { name: 'Camera' }).click();
  assert.equal(await panel(a).getByRole('button', { name: 'Camera' }).getAttribute('aria-pressed'), 'false');
  // The tiles play on through the panel's changes (mute, camera, a message).
  for (const [p, other] of [[a, b], [b, a]]) {
    const tile = p.page.locator(`video[aria-label="Video from ${other.name}"]`);
    const t0 = await tile.evaluate((v) => v.currentTime);
    await until(() => tile.evaluate((v, t) => !v.paused && v.currentTime > t + 0.2, t0), { message: `${p.name}'s tile plays` });
  }
  await hangUp(a);
  await Promise.all([panelGone(a), panelGone(b)]);
  await lineAppears(b, /^Outgoing video call, \d+:\d\d$/);
  await lineAppears(a, /^Incoming video call, \d+:\d\d$/);
});

test('frames are sealed end to end: frames a page sends unsealed (test hook) are dropped by the other side', async () => {
  await call(a, b, { video: true });
  await Promise.all([mediaGrows(a, { video: true }), mediaGrows(b, { video: true })]);
  for (const p of [a, b]) assert.equal(await p.page.evaluate(() => globalThis.parleyTestHooks.calls.sealed()), true, `${p.name} seals`);
  await hangUp(a);
  await Promise.all([panelGone(a), panelGone(b)]);

  // Alice's senders pass frames on as encoded: Bob, who opens them with her key, decodes nothing,
  // while Alice still gets Bob's.
  await a.page.evaluate(() => { globalThis.parleyTestHooks.plainFrames = true; });
  try {
    await call(a, b, { video: true });
    await mediaGrows(a, { video: true });
    await until(async () => (await received(b))?.audio > 50, { message: 'bob receives alice\'s packets' });
    const r = await received(b);
    assert.equal(r.frames, 0, 'no frame of alice\'s decoded');
    assert.ok(r.level < 0.001, `no sound of alice's heard (level ${r.level})`);
    await hangUp(a);
    await Promise.all([panelGone(a), panelGone(b)]);
  } finally {
    await a.page.evaluate(() => { globalThis.parleyTestHooks.plainFrames = false; });
  }
});

test('decline: the caller is told, both transcripts say so', async () => {
  await a.page.getByRole('button', { name: 'Call', exact: true }).click();
  const incoming = b.page.getByRole('group', { name: `Incoming call from ${a.name}` });
  await incoming.waitFor({ timeout: WAIT });
  await incoming.getByRole('button', { name: 'Decline' }).click();
  await Promise.all([panelGone(a), panelGone(b)]);
  await lineAppears(a, new RegExp(`^${b.name} declined the call$`));
  await lineAppears(b, new RegExp(`^You declined a call from ${a.name}$`));
});

test('sharing the screen in an audio call: the peer gets a video tile, and it goes when sharing stops', async () => {
  await call(a, b);
  await panel(a).getByRole('button', { name: 'Share screen' }).click();
  await b.page.locator(`video[aria-label="Video from ${a.name}"]`).waitFor({ timeout: WAIT });
  await mediaGrows(b, { video: true });
  assert.equal(await panel(a).getByRole('button', { name: 'Share screen' }).getAttribute('aria-pressed'), 'true');
  await a.page.locator('video[aria-label="Your screen"]').waitFor({ timeout: WAIT });
  await panel(a).getByRole('button', { name: 'Share screen' }).click();
  await a.page.locator('video[aria-label="Your screen"]').waitFor({ state: 'detached', timeout: WAIT });
  await b.page.locator(`video[aria-label="Video from ${a.name}"]`).waitFor({ state: 'detached', timeout: WAIT });
  await mediaGrows(b, { video: false });
  await hangUp(b);
  await Promise.all([panelGone(a), panelGone(b)]);
});

test('a fingerprint swapped in one page: the call ends at once on both sides, with a warning', async () => {
  await a.page.evaluate(() => { globalThis.parleyTestHooks.swapCallFingerprint = true; });
  try {
    await a.page.getByRole('button', { name: 'Call', exact: true }).click();
    const incoming = b.page.getByRole('group', { name: `Incoming call from ${a.name}` });
    await incoming.waitFor({ timeout: WAIT });
    await incoming.getByRole('button', { name: 'Answer' }).click();
    // From the moment the media are negotiated, the check takes one exchange of messages.
    const up = Date.now();
    await Promise.all([panelGone(a), panelGone(b)]);
    const took = Date.now() - up;
    for (const p of [a, b]) {
      const other = p === a ? b.name : a.name;
      await until(async () => (await p.page.locator('#banner-text').textContent()).includes(`The call with ${other} ended: it may have been intercepted`),
        { message: `${p.name} is warned` });
      await lineAppears(p, new RegExp(`^The call with ${other} ended: it may have been intercepted`));
    }
    assert.ok(took < 10000, `ended ${took} ms after Answer`);
  } finally {
    await a.page.evaluate(() => { globalThis.parleyTestHooks.swapCallFingerprint = false; });
  }
});

test('ten calls in a row make at most two new RTCPeerConnections; the server sees no call SDP', async (t) => {
  const count = (p) => p.page.evaluate(() => window.parleyPcs.length);
  const before = [await count(a), await count(b)];
  for (let i = 0; i < 10; i += 1) {
    const [caller, callee] = i % 2 ? [b, a] : [a, b];
    await call(caller, callee, { video: i % 3 === 0 });
    await mediaGrows(callee, { video: false });
    await hangUp(i % 4 === 0 ? callee : caller);
    await Promise.all([panelGone(a), panelGone(b)]);
  }
  const made = [(await count(a)) - before[0], (await count(b)) - before[1]];
  t.diagnostic(`new RTCPeerConnections during ten calls: alice ${made[0]}, bob ${made[1]}`);
  assert.ok(made[0] <= 2 && made[1] <= 2, `new connections: ${made}`);
  const frames = [...a.frames, ...b.frames].map((f) => f.payload);
  for (const f of frames) {
    assert.ok(!/m=audio|m=video|a=ssrc:|a=msid:/.test(f), `no media SDP through the server: ${f.slice(0, 200)}`);
  }
  // Since the first call, nothing of a call's connection went through the server.
  const later = [...a.frames.slice(framesAtStart[0]), ...b.frames.slice(framesAtStart[1])].map((f) => f.payload);
  for (const f of later) assert.ok(!/a=fingerprint|"candidate"/.test(f), `no fingerprint or candidate: ${f.slice(0, 200)}`);
});

const checks = (p) => p.page.evaluate(() => globalThis.parleyTestHooks.calls.call?.checks ?? -1);

test('an ICE restart keeps the call, sends its candidates inside the ratchet and checks the binding again', async () => {
  await call(a, b);
  await until(async () => (await checks(a)) >= 1 && (await checks(b)) >= 1, { message: 'the first checks' });
  const ufrag = (p) => p.page.evaluate(() => /a=ice-ufrag:(\S+)/.exec(globalThis.parleyTestHooks.calls.call.negotiator.pc.remoteDescription.sdp)[1]);
  const was = [await ufrag(a), await ufrag(b), await checks(a), await checks(b)];
  const frames = [a.frames.length, b.frames.length];
  const iceSent = () => Promise.all([a, b].map((p) => p.page.evaluate(() => globalThis.parleyTestHooks.calls.sent.ice || 0)));
  const iceBefore = await iceSent();
  await a.page.evaluate(() => globalThis.parleyTestHooks.calls.call.negotiator.restartIce());
  await until(async () => (await ufrag(a)) !== was[0] && (await ufrag(b)) !== was[1], { message: 'new ICE credentials on both sides' });
  await until(async () => (await checks(a)) > was[2] && (await checks(b)) > was[3], { message: 'the binding checked again after the restart' });
  await Promise.all([mediaGrows(a, { video: false }), mediaGrows(b, { video: false })]);
  const iceAfter = await iceSent();
  assert.ok(iceAfter[0] > iceBefore[0] && iceAfter[1] > iceBefore[1], `candidates went inside the ratchet: ${iceBefore} -> ${iceAfter}`);
  for (const f of [...a.frames.slice(frames[0]), ...b.frames.slice(frames[1])]) {
    assert.ok(!/candidate|a=fingerprint|sdp/.test(f.payload), `nothing of the restart through the server: ${f.payload.slice(0, 200)}`);
  }
  await hangUp(b);
  await Promise.all([panelGone(a), panelGone(b)]);
});

test('a refused camera: the call goes on audio only; refused camera and microphone: receive only', async () => {
  const refuse = (p, kinds) => p.page.evaluate((k) => {
    const md = navigator.mediaDevices;
    md.realGetUserMedia ||= md.getUserMedia.bind(md);
    md.getUserMedia = (c) => (k.some((x) => c[x])
      ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError')) : md.realGetUserMedia(c));
  }, kinds);
  const restore = (p) => p.page.evaluate(() => {
    const md = navigator.mediaDevices;
    if (md.realGetUserMedia) md.getUserMedia = md.realGetUserMedia;
  });
  try {
    await refuse(b, ['video']);
    await call(a, b, { video: true });
    await panel(b).getByText('The camera could not be used, so the call is audio only.').waitFor({ timeout: WAIT });
    await Promise.all([mediaGrows(a, { video: false }), mediaGrows(b, { video: true })]);
    await b.page.locator(`video[aria-label="Video from ${a.name}"]`).waitFor({ timeout: WAIT });
    assert.equal(await a.page.locator(`video[aria-label="Video from ${b.name}"]`).count(), 0, 'no tile for a camera that is off');
    await hangUp(a);
    await Promise.all([panelGone(a), panelGone(b)]);

    await refuse(b, ['video', 'audio']);
    await call(a, b, { video: true });
    await panel(b).getByText(/you can only listen and watch/).waitFor({ timeout: WAIT });
    await mediaGrows(b, { video: true });
    await hangUp(b);
    await Promise.all([panelGone(a), panelGone(b)]);
  } finally {
    await restore(b);
  }
});

test('the pages\' clocks driven: no answer in 45 s is a missed call in both transcripts; no statement in 20 s and 30 s without media end a call', async () => {
  for (const p of [a, b]) await p.page.clock.install();
  await a.page.getByRole('button', { name: 'Call', exact: true }).click();
  await b.page.getByRole('group', { name: `Incoming call from ${a.name}` }).waitFor({ timeout: WAIT });
  await Promise.all([a.page.clock.fastForward(44000), b.page.clock.fastForward(44000)]);
  assert.equal(await b.page.getByRole('group', { name: `Incoming call from ${a.name}` }).count(), 1, 'still ringing at 44 s');
  await Promise.all([a.page.clock.fastForward(2000), b.page.clock.fastForward(2000)]);
  await Promise.all([panelGone(a), panelGone(b)]);
  await lineAppears(a, new RegExp(`^Missed call: ${b.name} did not answer$`));
  await lineAppears(b, new RegExp(`^Missed call from ${a.name}$`));

  // A check every 60 s: a certificate swapped meanwhile in Bob's view ends the call within 2 s.
  await call(a, b);
  await until(async () => (await checks(a)) >= 1 && (await checks(b)) >= 1, { message: 'the first checks' });
  await b.page.evaluate(() => { globalThis.parleyTestHooks.swapCallFingerprint = true; });
  try {
    await Promise.all([a.page.clock.fastForward(60000), b.page.clock.fastForward(60000)]);
    const at = Date.now();
    await Promise.all([panelGone(a), panelGone(b)]);
    assert.ok(Date.now() - at < 2000, `ended ${Date.now() - at} ms after the check was due`);
  } finally {
    await b.page.evaluate(() => { globalThis.parleyTestHooks.swapCallFingerprint = false; });
  }
  await lineAppears(b, new RegExp(`^The call with ${a.name} ended: it may have been intercepted, \\d+:\\d\\d$`));

  // Bob's statement never comes (test hook): 20 s after Alice's next nonce left, her side ends
  // the call, and both say its security could not be confirmed in time, not that it may have been
  // intercepted.
  await call(a, b);
  await until(async () => (await checks(a)) >= 1 && (await checks(b)) >= 1, { message: 'the first checks' });
  await b.page.evaluate(() => { globalThis.parleyTestHooks.withholdBind = true; });
  const lastEnding = (p) => p.page.evaluate(() => {
    const e = globalThis.parleyTestHooks.calls.endings?.at(-1);
    return e ? [e.outcome, e.why ?? null] : null;
  });
  try {
    const forward = (ms) => Promise.all([a.page.clock.fastForward(ms), b.page.clock.fastForward(ms)]);
    await forward(60000); // the next check: Alice's nonce goes (a step of her page's queue)
    // Bob has it (and withholds his statement): it has left, so Alice's wait has started.
    await until(() => b.page.evaluate(() => (globalThis.parleyTestHooks.withheldBinds || 0) > 0), { message: 'the nonce at bob' });
    await forward(15000);
    assert.ok(await panel(a).isVisible(), 'the call is still up 15 s after the nonce');
    let waited = 15;
    await until(async () => {
      await forward(1000);
      waited += 1;
      return !(await panel(a).isVisible()) && !(await panel(b).isVisible());
    }, { message: 'the call ended for want of a statement' });
    assert.ok(waited <= 25, `ended ${waited} s after the nonce`);
  } finally {
    await b.page.evaluate(() => { globalThis.parleyTestHooks.withholdBind = false; });
  }
  assert.deepEqual(await lastEnding(a), ['unchecked', 'unverified'], 'alice ended it for want of a statement');
  assert.equal((await lastEnding(b))[0], 'peer-unchecked', 'bob was told');
  for (const [p, other] of [[a, b.name], [b, a.name]]) {
    await lineAppears(p, new RegExp(`^The call with ${other} ended: its security could not be confirmed in time, \\d+:\\d\\d$`));
    assert.match(await p.page.locator('#banner-text').textContent(), new RegExp(`could not confirm within 20 seconds that it reached ${other} securely`));
  }

  // Bob stops sending anything: after 30 s without a byte, Alice's side ends the call.
  await call(a, b);
  await mediaGrows(a, { video: false });
  await b.page.evaluate(() => Promise.all([...globalThis.parleyTestHooks.calls.call.transceivers].map((t) => t.sender.replaceTrack(null))));
  await a.page.clock.fastForward(6000); // a poll notes what came so far
  await new Promise((r) => { setTimeout(r, 1500); }); // the last packets in flight arrive
  await a.page.clock.fastForward(6000);
  await new Promise((r) => { setTimeout(r, 500); });
  await a.page.clock.fastForward(31000);
  await Promise.all([panelGone(a), panelGone(b)]);
  await lineAppears(a, new RegExp(`^The call with ${b.name} ended: nothing came through for 30 seconds`));
  await lineAppears(b, new RegExp(`^The call with ${a.name} ended: nothing came through for 30 seconds`));
});

// The DTLS fingerprints a page's links show (a=fingerprint in the link SDP it sent through the server).
const sentFingerprints = (p, from = 0) => new Set(p.frames.slice(from).filter((f) => f.dir === 'sent')
  .flatMap((f) => [...f.payload.matchAll(/a=fingerprint:sha-256 ([0-9A-F:]+)/g)].map((m) => m[1])));

test('the certificate is kept per identity: the same fingerprint after logging in again; closing the page ends the call', async () => {
  const before = sentFingerprints(a);
  const theirs = sentFingerprints(b);
  // Alice logs in again: her new link to Bob is made with the certificate kept in her vault.
  const from = a.frames.length;
  await a.page.reload();
  await logIn(a);
  await a.page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: b.name }).first().click();
  await waitConnected(a.page);
  // Her side of the new link (an offer or an answer) names her certificate.
  await until(() => sentFingerprints(a, from).size > 0, { message: 'a new link after the reload' });
  const after = sentFingerprints(a, from);
  assert.equal(before.size, 1, `alice's links before: ${[...before]}`);
  assert.deepEqual([...after], [...before], 'the same fingerprint after logging in again');
  assert.equal(theirs.size, 1);
  assert.ok(!theirs.has([...before][0]), 'bob has another');

  await call(a, b);
  await mediaGrows(a, { video: false });
  await b.page.close();
  await panelGone(a);
  await lineAppears(a, new RegExp(`^The call with ${b.name} ended: the connection was lost`));
});
