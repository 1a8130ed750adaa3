// Mesh setup of a room (docs/PROTOCOL.md 20.7 "Direct connections"): the time from alice's
// "Create room" until all 8 members of the room hold it, have a session with one another (the 21
// sessions between members who were not contacts are made inside the room), are linked directly
// and show every other member "verified" (56 checks, each side of the 28 pairs). Eight headless
// pages against the real server on loopback: BENCH_MESH_BROWSERS Chromium processes (default 8:
// one per person; fewer share them as contexts). alice is a contact of the 7 others beforehand.
// BENCH_MESH_RUNS rooms are made one after another with the same people (default 2; the first
// also makes the sessions, later ones find them made). Then group calls in the last room (20.9):
// alice presses Call and the first n-1 others answer (audio, n people from BENCH_CALL_AUDIO,
// default 4,6,8), then Video call with bob, carol and dave answering (4 people: 6 legs); timed
// from the press until every page has every leg up, its identity statement checked and media
// received on it (audio packets; video frames decoded), and the CPU the browsers then use for
// 10 s of the call. Every page runs on this one machine: n browsers encode n-1 streams each.
// Prints figures; asserts nothing.
//   node bench/web/rooms-mesh.mjs
import { execFileSync } from 'node:child_process';
import { startServer, ROOT } from '../../tests/lib/server.mjs';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { uniqueName } from '../../tests/lib/api.mjs';
import { accept, startChat, waitConnected } from '../../tests/lib/people.mjs';

const N = 8;
const BROWSERS = Math.max(1, Math.min(N, Number(process.env.BENCH_MESH_BROWSERS || N)));
const RUNS = Math.max(1, Number(process.env.BENCH_MESH_RUNS || 2));
const WAIT = 300000;
const CALL_WAIT = 120000; // for every leg of a group call
const RING_WAIT = 60000; // a ring shows within seconds; longer is reported
const s = (x) => `${(x / 1000).toFixed(1)} s`;

const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${ROOT}/build/native/server/parley-server` } });
const browsers = [];
for (let i = 0; i < BROWSERS; i += 1) browsers.push(await launchBrowser());

async function signUp(browser, name) {
  const p = await openPage(browser, `${server.url}/`);
  await p.page.evaluate(() => localStorage.setItem('parley-test-hooks', '1'));
  await p.page.reload();
  await p.page.getByLabel('Username').fill(name);
  await p.page.getByLabel('Password').fill(`password of ${name}`);
  await p.page.getByRole('button', { name: 'Sign up' }).click();
  const again = p.page.getByLabel('Type it again');
  const contact = p.page.getByLabel('Contact', { exact: true });
  await Promise.race([again.waitFor({ timeout: WAIT }), contact.waitFor({ timeout: WAIT })]);
  if (await again.isVisible()) {
    await again.fill(`password of ${name}`);
    await p.page.getByRole('button', { name: 'Sign up' }).click();
  }
  await contact.waitFor({ timeout: WAIT });
  await p.page.locator('#connection[data-state="online"]').waitFor({ timeout: WAIT });
  return { ...p, name };
}

// What a page sees of the room: held, its sessions with the others, and how many it verified.
function look(p, hex, names) {
  return p.page.evaluate(([h, all, me]) => {
    const hooks = globalThis.parleyTestHooks;
    const others = all.filter((n) => n !== me);
    const states = others.map((n) => hooks.roomLinkState(h, n));
    return {
      held: states.some((x) => x !== null) || others.length === 0,
      sessions: states.filter((x) => x !== null).length,
      linked: others.filter((n) => hooks.linkOpen(n)).length,
      verified: states.filter((x) => x === 'verified').length,
    };
  }, [hex, names, p.name]);
}

// Per page: how many legs of its group call are up, checked and receiving (video: decoding).
function legsReady(p, video) {
  return p.page.evaluate(async (v) => {
    const g = globalThis.parleyTestHooks?.calls?.group;
    if (!g) return 0;
    let n = 0;
    for (const leg of g.legs.values()) {
      let got = 0;
      if (leg.state === 'active' && leg.bound && leg.negotiator) {
        (await leg.negotiator.pc.getStats()).forEach((x) => {
          if (x.type === 'inbound-rtp' && x.kind === (v ? 'video' : 'audio')) got += v ? x.framesDecoded || 0 : x.packetsReceived || 0;
        });
      }
      if (got > 0) n += 1;
    }
    return n;
  }, video);
}

// The CPU time (user + system) of the browsers' processes, in seconds.
function cpuSeconds() {
  const out = execFileSync('ps', ['-C', 'chromium', '-o', 'times=']).toString();
  return out.split('\n').map(Number).filter((x) => x > 0).reduce((x, y) => x + y, 0);
}

async function groupCall(people, video) {
  const [caller, ...others] = people; // the members not in people ring until it is over
  const t0 = Date.now();
  await caller.page.getByRole('region', { name: 'Room' }).getByRole('button', { name: video ? 'Video call' : 'Call', exact: true }).click();
  const kind = video ? 'group video call' : 'group call';
  const rang = await Promise.all(others.map(async (p) => {
    const ring = p.page.getByRole('group', { name: new RegExp(`^Incoming ${kind} in `) });
    await ring.waitFor({ timeout: RING_WAIT });
    await ring.getByRole('button', { name: 'Answer' }).click();
  }).map((x) => x.then(() => true, () => false)));
  if (!rang.every(Boolean)) {
    // Who was not rung, and what every page holds: a call left over, a ringing, a banner.
    console.log(`  ${video ? 'video' : 'audio'} group call, ${people.length} people: ${others.filter((p, i) => !rang[i]).map((p) => p.name).join(', ')} not rung within ${s(RING_WAIT)}`);
    for (const p of people) console.log(`    ${p.name}: ${await callState(p)}`);
    return;
  }
  let up = null;
  while (Date.now() - t0 < CALL_WAIT) {
    const ready = await Promise.all(people.map((p) => legsReady(p, video)));
    if (ready.every((n) => n === people.length - 1)) {
      up = Date.now() - t0;
      break;
    }
    await new Promise((r) => { setTimeout(r, 100); });
  }
  if (up === null) {
    // Which legs did not come up, as each page holds them.
    for (const p of people) {
      const legs = await p.page.evaluate(() => {
        const g = globalThis.parleyTestHooks?.calls?.group;
        const held = g ? [...g.legs.values()].map((l) => `${l.name.slice(0, 5)}:${l.state}${l.bound ? '+bound' : ''}`).join(' ') : 'no call';
        // Legs that ended: with whom, how, and in which state they were.
        const gone = (globalThis.parleyTestHooks?.calls?.endings || []).filter((x) => x.group)
          .map((x) => `${x.name.slice(0, 5)}:${x.outcome}${x.why ? `(${x.why})` : ''}@${x.state}`).join(' ');
        return `${held}; ended: ${gone || 'none'}`;
      });
      console.log(`    ${p.name} holds ${legs}`);
    }
  }
  const c0 = cpuSeconds();
  await new Promise((r) => { setTimeout(r, 10000); });
  const cpu = (cpuSeconds()) - c0;
  const legs = (people.length * (people.length - 1)) / 2;
  console.log(`  ${video ? 'video' : 'audio'} group call, ${people.length} people (${legs} legs): every leg up, checked and receiving ${up === null ? `not within ${s(CALL_WAIT)}` : s(up)} (from the press, polled every 100 ms); the browsers then use ${(cpu / 10).toFixed(2)} CPU cores`);
  for (const p of people) {
    await p.page.getByRole('region', { name: 'Call' }).getByRole('button', { name: 'Hang up' }).click({ timeout: 2000 }).catch(() => {});
  }
}

// What a page holds of calls, and its banner.
function callState(p) {
  return p.page.evaluate(() => {
    const c = globalThis.parleyTestHooks?.calls;
    const g = c?.group;
    const legs = g ? [...g.legs.values()].map((l) => `${l.name.slice(0, 5)}:${l.state}`).join(' ') : '';
    return [g ? `in a call (${legs})` : '', c?.ringing ? 'ringing' : '', c?.call ? 'in a 1:1 call' : '',
      `banner: ${document.getElementById('banner-text')?.textContent || 'none'}`].filter(Boolean).join('; ');
  });
}

// Waits until no page is in a call or rung for one (the members who were rung only until the
// call ended); says which are not after 60 s.
async function idle(all) {
  const busy = () => Promise.all(all.map((p) => p.page.evaluate(() => {
    const c = globalThis.parleyTestHooks?.calls;
    return c?.group ? `in a call (${c.group.legs.size} legs)` : c?.ringing ? 'ringing' : c?.call ? 'in a 1:1 call' : '';
  })));
  const t0 = Date.now();
  let states = await busy();
  while (states.some(Boolean) && Date.now() - t0 < 60000) {
    await new Promise((r) => { setTimeout(r, 200); });
    states = await busy();
  }
  states.forEach((x, i) => {
    if (x) console.log(`    ${all[i].name} is still ${x}`);
  });
}

async function groupCalls(people) {
  console.log('group calls in the last room (Chromium\'s fake devices, every leg sealed):');
  for (const p of people.slice(1)) {
    await p.page.getByRole('list', { name: 'Rooms' }).getByRole('button').filter({ hasText: `Mesh ${RUNS}` }).first().click();
    await p.page.locator('#room').waitFor({ state: 'visible', timeout: WAIT });
  }
  for (const n of (process.env.BENCH_CALL_AUDIO || '4,6,8').split(',').map(Number)) {
    await groupCall(people.slice(0, Math.min(N, Math.max(2, n))), false);
    await idle(people);
  }
  await groupCall(people.slice(0, 4), true);
  await idle(people);
}

try {
  const people = [];
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
  for (let i = 0; i < N; i += 1) people.push(await signUp(browsers[i % BROWSERS], uniqueName(names[i])));
  const [a, ...rest] = people;
  for (const p of rest) {
    await startChat(a, p.name);
    await accept(p, a.name);
    await Promise.all([waitConnected(a.page, WAIT), waitConnected(p.page, WAIT)]);
  }
  const all = people.map((p) => p.name);
  console.log(`room mesh setup: ${N} members, ${BROWSERS} Chromium process(es), ${RUNS} room(s); alice a contact of the 7 others, none of them of each other`);
  for (let run = 1; run <= RUNS; run += 1) {
    const roomName = `Mesh ${run}`;
    await a.page.getByRole('button', { name: 'New room' }).click();
    await a.page.getByLabel('Room name').fill(roomName);
    const pick = a.page.getByRole('group', { name: 'Members' });
    for (const p of rest) await pick.getByRole('checkbox', { name: p.name }).check();
    const t0 = Date.now();
    await a.page.getByRole('button', { name: 'Create room' }).click();
    await a.page.locator('#room').waitFor({ state: 'visible', timeout: WAIT });
    const hex = await a.page.locator('#room-members').evaluate(() => document.querySelector('#rooms button[aria-current="true"]')?.dataset.room);
    const at = { held: null, sessions: null, linked: null, verified: null };
    while (Date.now() - t0 < WAIT) {
      const seen = await Promise.all(people.map((p) => look(p, hex, all)));
      const now = Date.now() - t0;
      if (at.held === null && seen.every((x) => x.held)) at.held = now;
      if (at.sessions === null && seen.every((x) => x.sessions === N - 1)) at.sessions = now;
      if (at.linked === null && seen.every((x) => x.linked === N - 1)) at.linked = now;
      if (seen.every((x) => x.verified === N - 1)) {
        at.verified = now;
        break;
      }
      await new Promise((r) => { setTimeout(r, 100); });
    }
    if (at.verified === null) {
      // Which checks did not verify, as each page shows them.
      for (const p of people) {
        const states = await p.page.evaluate(([h, list, me]) => list.filter((n) => n !== me)
          .map((n) => `${n}: ${globalThis.parleyTestHooks.roomLinkState(h, n)}`), [hex, all, p.name]);
        console.log(`    ${p.name} sees ${states.join(', ')}`);
      }
    }
    const fmt = (x) => (x === null ? 'not within 300 s' : s(x));
    console.log(`  room ${run}: all hold it ${fmt(at.held)}; every pair has a session ${fmt(at.sessions)}; every pair linked ${fmt(at.linked)}; all ${N * (N - 1)} checks verified ${fmt(at.verified)} (from Create room, polled every 100 ms)`);
    // The room is left by alice's page only on screen: the next run makes a new one.
  }
  await groupCalls(people);
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await server.stop?.();
}
