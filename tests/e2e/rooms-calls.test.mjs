// Group calls in a room through the real server, five browsers with fake media (docs/PROTOCOL.md
// 20.9): alice makes a room with bob, carol, dave and erin (her contacts; the others meet inside
// the room), every member sees the others verified on its direct connections, then:
// - an audio call: alice calls the room, bob and carol answer, dave and erin decline; each of the
//   three receives audio from both others on the connection with that person, every leg's
//   identity binding checks out and its frames are sealed, one tile per person; dave then presses
//   Call in the room and joins the call under way (four); alice leaves and the others go on; a
//   line in each room transcript; the server's frames carry nothing of the call;
// - a video call with four of five: dave calls, three answer at once (legs that ring both ways are
//   joined into one); every page decodes video from each of the three others, shows three named
//   tiles with their video and its own; erin's ringing stops when the call is full, and her own
//   Video call is refused as full; alice removes carol from the room: carol's call ends at once
//   and the three others go on without her.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import { connectPair, leave, person, shots, signUp, until } from '../lib/people.mjs';
import { createRoom, members, openRoomOf } from '../lib/rooms.mjs';

const server = serverForTests();
const LONG = 120000; // four browsers on two shared cores
let a;
let b;
let c;
let d;
let e;
let people = [];
let all = [];

const panel = (p) => p.page.getByRole('region', { name: 'Call' });

async function memberSays(p, who, state) {
  await until(async () => (await members(p)).some((t) => t.startsWith(who) && t.includes(`· ${state}`)),
    { timeout: LONG, message: `${p.name} sees ${who} ${state}` });
}

// Per leg of this page's group call: {name: {state, bound, audio packets, video frames decoded}}.
function legs(p) {
  return p.page.evaluate(async () => {
    const g = globalThis.parleyTestHooks?.calls?.group;
    if (!g) return null;
    const out = {};
    for (const [name, leg] of g.legs) {
      let audio = 0;
      let frames = 0;
      const pc = leg.negotiator?.pc;
      if (pc) {
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += s.packetsReceived || 0;
          if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        });
      }
      out[name] = { state: leg.state, bound: leg.bound, sealed: !!leg.myKey && !!leg.peerKey, audio, frames };
    }
    return out;
  });
}

// Waits until p's group call has a bound, active leg with each of others receiving media from
// them (and growing), and no leg with anybody else.
async function meshUp(p, others, { video }) {
  const want = others.map((o) => o.name).sort();
  const enough = (l, base = null) => l && Object.keys(l).sort().join() === want.join() &&
    want.every((n) => l[n].state === 'active' && l[n].bound && l[n].audio > (base?.[n]?.audio ?? 0) &&
      (!video || l[n].frames > (base?.[n]?.frames ?? 0)));
  const first = await until(async () => {
    const l = await legs(p);
    return enough(l) ? l : null;
  }, { timeout: LONG, message: `${p.name} receives from ${want.join(', ')} on bound legs` });
  await until(async () => enough(await legs(p), first), { timeout: LONG, message: `${p.name}'s media from ${want.join(', ')} grow` });
  return first;
}

async function incoming(p, caller, roomName, video) {
  const kind = video ? 'group video call' : 'group call';
  const ring = p.page.getByRole('group', { name: `Incoming ${kind} in ${roomName}` });
  await ring.waitFor({ timeout: LONG });
  assert.match(await ring.textContent(), new RegExp(`${caller.name} is calling ${roomName}`));
  return ring;
}

// The names of the tiles in p's call panel.
async function tiles(p) {
  return panel(p).locator('figure.call-tile').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
}

async function roomLine(p, re) {
  await until(async () => (await p.page.locator('#room-transcript li').allTextContents()).some((t) => re.test(t)),
    { timeout: LONG, message: `${p.name}'s room transcript shows ${re}` });
}

async function hangUp(p) {
  await panel(p).getByRole('button', { name: 'Hang up' }).click();
  await p.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG });
}

const ROOM = 'Studio';

before(async () => {
  [a, b, c, d, e] = await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin'].map((n) => person(server, uniqueName(n))));
  all = [a, b, c, d, e];
  people = [a, b, c, d];
  for (const p of all) await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  for (const p of all) await signUp(p); // one at a time: five browsers start on two cores
  for (const p of [b, c, d, e]) await connectPair(a, p);
  await createRoom(a, ROOM, [b.name, c.name, d.name, e.name], LONG);
  for (const p of [b, c, d, e]) await openRoomOf(p, ROOM, LONG);
  // Direct connections between every two members, each checked for the room.
  for (const p of all) for (const o of all) if (o !== p) await memberSays(p, o.name, 'verified');
});

after(async () => {
  await Promise.all(all.map((p) => leave(p)));
});

const roomButton = (p, name) => p.page.getByRole('region', { name: 'Room' }).getByRole('button', { name, exact: true });

test('an audio group call: three on bound legs, a tile per person; a fourth joins by pressing Call; one leaves and the others go on', { timeout: 600000 }, async () => {
  const framesBefore = all.map((p) => p.frames.length);
  await roomButton(a, 'Call').click();
  const rings = await Promise.all([b, c, d, e].map((p) => incoming(p, a, ROOM, false)));
  await rings[2].getByRole('button', { name: 'Decline' }).click();
  await rings[3].getByRole('button', { name: 'Decline' }).click();
  await rings[0].getByRole('button', { name: 'Answer' }).click();
  await rings[1].getByRole('button', { name: 'Answer' }).click();

  // Each of the three receives audio from both others, each pair bound to its identities, its
  // frames sealed with the pair's keys.
  const got = await Promise.all([[a, [b, c]], [b, [a, c]], [c, [a, b]]].map(([p, o]) => meshUp(p, o, { video: false })));
  for (const l of got) for (const leg of Object.values(l)) assert.equal(leg.sealed, true, 'frames sealed on every leg');
  // One tile per person (theirs by name, then "You"), and a sound per person.
  for (const [p, o] of [[a, [b, c]], [b, [a, c]], [c, [a, b]]]) {
    assert.deepEqual(await tiles(p), [...o.map((x) => x.name).sort(), 'You']);
    for (const x of o) assert.equal(await panel(p).getByLabel(`Sound from ${x.name}`).count(), 1);
    await panel(p).getByRole('status').filter({ hasText: /^Group call in Studio · 3 people/ }).waitFor({ timeout: LONG });
  }
  // dave declined: no call on his page, nothing of the call on his connections.
  assert.equal(await d.page.locator('#call-panel').isHidden(), true);
  assert.equal(await d.page.evaluate(() => globalThis.parleyTestHooks.calls?.group ?? null), null);
  await roomLine(d, new RegExp(`You declined a group call from ${a.name}`));

  // dave changes his mind: Call in the room joins the call under way (his own call gives way to
  // the one someone answered), and erin, who declined it, is not rung again.
  await roomButton(d, 'Call').click();
  await Promise.all(people.map((p) => meshUp(p, people.filter((o) => o !== p), { video: false })));
  for (const p of people) {
    await panel(p).getByRole('status').filter({ hasText: /^Group call in Studio · 4 people/ }).waitFor({ timeout: LONG });
  }
  assert.equal(await e.page.locator('#call-panel').isHidden(), true, 'erin is not rung again');

  // alice leaves: the three others go on together.
  await hangUp(a);
  const rest = [b, c, d];
  await until(async () => (await Promise.all(rest.map((p) => legs(p)))).every((l, i) => l &&
    Object.keys(l).sort().join() === rest.filter((_, j) => j !== i).map((o) => o.name).sort().join()),
  { timeout: LONG, message: 'bob, carol and dave are left with each other' });
  await Promise.all(rest.map((p) => meshUp(p, rest.filter((o) => o !== p), { video: false })));
  await hangUp(b);
  await hangUp(c);
  await d.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG }); // his last leg ended
  await roomLine(a, /^Outgoing group call, \d+:\d\d/);
  for (const p of rest) await roomLine(p, /^Incoming group call, \d+:\d\d/);

  // The server relayed nothing of the call: no description, fingerprint or candidate in any
  // frame of the four pages since it began.
  all.forEach((p, i) => {
    const frames = p.frames.slice(framesBefore[i]).map((f) => f.payload).join('\n');
    assert.doesNotMatch(frames, /a=fingerprint|a=ice-ufrag|candidate:|"k":"invite"/, `${p.name}'s server frames`);
  });
});

test('a video group call with four: video from each of the three others, a tile each, every leg bound', { timeout: 600000 }, async () => {
  await roomButton(d, 'Video call').click();
  const rings = await Promise.all([a, b, c, e].map((p) => incoming(p, d, ROOM, true)));
  // All three answer at once: each rings the others it has no leg with, and legs that cross are
  // joined into one.
  await Promise.all(rings.slice(0, 3).map((r) => r.getByRole('button', { name: 'Answer' }).click()));
  await Promise.all(people.map((p) => meshUp(p, people.filter((o) => o !== p), { video: true })));
  for (const p of people) {
    const others = people.filter((o) => o !== p).map((o) => o.name).sort();
    assert.deepEqual(await tiles(p), [...others, 'You']);
    for (const o of others) {
      await until(() => panel(p).getByRole('group', { name: o }).getByLabel(`Video from ${o}`)
        .evaluate((v) => v.videoWidth > 0 && v.readyState >= 2), { timeout: LONG, message: `${p.name} shows ${o}'s video` });
    }
    assert.equal(await panel(p).getByLabel('Your camera').count(), 1);
  }
  await shots(a.page, 'rooms-video-call');
  // Full at four: erin's ringing stops, and her own Video call is refused as full.
  await e.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG });
  await roomLine(e, new RegExp(`^Missed group video call from ${d.name}`));
  await roomButton(e, 'Video call').click();
  await until(async () => /The call in Studio is full: at most 4 people in a group video call/.test(await e.page.locator('#banner-text').textContent()),
    { timeout: LONG, message: 'erin is told the call is full' });
  await e.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG });
  await roomLine(e, /^The group video call was full \(at most 4 people\)/);
  for (const p of people) assert.equal(Object.keys(await legs(p)).includes(e.name), false, `${p.name} has no leg with erin`);

  // alice removes carol: carol's call ends at once, the three others go on without her.
  await a.page.getByRole('button', { name: `Remove member ${c.name}` }).click();
  await c.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG });
  const rest = [a, b, d];
  await Promise.all(rest.map((p) => meshUp(p, rest.filter((o) => o !== p), { video: true })));
  for (const p of [a, b]) await hangUp(p);
  await d.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: LONG }); // his last leg ended
  await roomLine(d, /^Outgoing group video call, \d+:\d\d/);
  for (const p of [a, b, c]) await roomLine(p, /^Incoming group video call, \d+:\d\d/);
});
