// How a chat gets connected: the request carries a ready WebRTC offer, the one asked prepares the
// answer before deciding, and nothing that names an address leaves either page before Accept.
// Also the two harder starts: a request to someone offline, and two people asking each other at
// the same moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverForTests } from '../lib/server.mjs';
import { uniqueName } from '../lib/api.mjs';
import {
  WAIT, accept, leave, logIn, person, requestGroup, send, signUp, startChat, texts, transcript,
  until, waitAllDelivered, waitConnected, waitForMessage,
} from '../lib/people.mjs';

const server = serverForTests();

/**
 * Alice and Bob, each in their own browser, signed up (after prepare(a, b), when given); body(a, b)
 * runs with them, and their browsers are closed whatever it does.
 */
async function twoPeople(body, { prepare } = {}) {
  const a = await person(server, uniqueName('alice'));
  const b = await person(server, uniqueName('bob'));
  try {
    if (prepare) await prepare(a, b);
    await Promise.all([signUp(a), signUp(b)]);
    await body(a, b);
  } finally {
    await Promise.all([leave(a), leave(b)]);
  }
}

/** The JSON messages a person's page sent (or received) over the signaling WebSocket. */
function sent(p, dir = 'sent') {
  return p.frames.filter((f) => f.dir === dir).map((f) => {
    try {
      return JSON.parse(f.payload);
    } catch {
      return {};
    }
  });
}

const received = (p) => sent(p, 'received');

/**
 * Lines of an SDP that could name an address: candidates, connection lines other than the
 * 0.0.0.0 placeholder, and any IPv4 address outside the origin line (whose 127.0.0.1 is fixed).
 */
function addresses(sdp) {
  return sdp.split(/\r?\n/).filter((l) => !l.startsWith('o=')).filter((l) => l.startsWith('a=candidate') ||
    (l.startsWith('c=') && l !== 'c=IN IP4 0.0.0.0') || /\b\d{1,3}(?:\.\d{1,3}){3}\b/.test(l.replace('0.0.0.0', '')));
}

/** The candidates an SDP names, each as its first six fields (foundation … port), as 12.4 compares them. */
function sdpCandidateKeys(sdp) {
  return sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'))
    .map((l) => l.replace(/^a=/, '').split(' ').slice(0, 6).join(' '));
}

test('before Accept no address leaves either page; Accept connects at once and the waiting message arrives', async () => {
  await twoPeople(async (a, b) => {
    await startChat(a, b.name);
    await send(a, 'sent before you accepted');
    await requestGroup(b, a.name).waitFor({ state: 'visible', timeout: WAIT });
    // Give any early candidate or answer time to leak, if the app let one.
    await new Promise((r) => setTimeout(r, 1500));

    const fromA = sent(a);
    const request = fromA.find((m) => m.type === 'chat-request' && m.to === b.name);
    assert.ok(request, 'the request went out');
    assert.equal(typeof request.offer?.sdp, 'string', 'the request carries a WebRTC offer');
    for (const m of fromA.filter((x) => x.offer)) {
      assert.deepEqual(addresses(m.offer.sdp), [], `the offer in ${m.type} names no address`);
    }
    assert.deepEqual(fromA.filter((m) => ['ice', 'answer', 'offer'].includes(m.type)).map((m) => m.type), [],
      'alice sent no candidate before bob accepted');
    assert.deepEqual(sent(b).filter((m) => ['ice', 'answer', 'offer'].includes(m.type)).map((m) => m.type), [],
      'bob sent nothing about a link before accepting');

    await accept(b, a.name);
    await waitForMessage(b.page, 'sent before you accepted');
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    const fromB = sent(b);
    assert.ok(fromB.some((m) => m.type === 'answer'), 'bob answered the offer that came with the request');
    assert.ok(!fromB.some((m) => m.type === 'offer'), 'bob did not need an offer of his own');
    await send(b, 'accepted, hello');
    await waitForMessage(a.page, 'accepted, hello');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    assert.deepEqual(texts(await transcript(b.page)), [
      { text: 'sent before you accepted', sender: a.name },
      { text: 'accepted, hello', sender: 'You' },
    ]);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  });
});

test('on Accept the held answer goes as the local description, naming the candidates gathered meanwhile, and they are not sent again', async (t) => {
  await twoPeople(async (a, b) => {
    await startChat(a, b.name);
    await send(a, 'waiting for your accept');
    await requestGroup(b, a.name).waitFor({ state: 'visible', timeout: WAIT });
    // Bob's answer is made ahead; let its candidates be gathered while he has not decided.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(sent(b).filter((m) => ['ice', 'answer', 'offer'].includes(m.type)).map((m) => m.type), [],
      'bob sent nothing about a link before accepting');

    await accept(b, a.name);
    await waitForMessage(b.page, 'waiting for your accept');
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await send(b, 'accepted, with my candidates');
    await waitForMessage(a.page, 'accepted, with my candidates');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);

    // Alice's page asked for Bob's bundle over its WebSocket, not over HTTP.
    assert.ok(sent(a).some((m) => m.type === 'get-bundle' && m.user === b.name), 'get-bundle went over the WebSocket');
    assert.ok(!a.requests.some((r) => r.method === 'GET' && new URL(r.url).pathname === `/api/keys/${b.name}`),
      'no HTTP bundle request');

    // Alice's offer, in chat-offer and chat-request alike, is the offer as created: no candidate.
    const offers = sent(a).filter((m) => (m.type === 'chat-offer' || m.type === 'chat-request') && m.to === b.name);
    assert.ok(offers.some((m) => m.type === 'chat-request'), 'the request went out');
    for (const m of offers) {
      assert.equal(typeof m.offer?.sdp, 'string', `${m.type} carries a WebRTC offer`);
      assert.deepEqual(sdpCandidateKeys(m.offer.sdp), [], `the offer in ${m.type} names no candidate`);
    }

    // Bob's released answer names the candidates gathered while it waited ...
    const fromB = sent(b);
    const answers = fromB.filter((m) => m.type === 'answer');
    assert.equal(answers.length, 1, 'bob sent one answer');
    const [answer] = answers;
    assert.equal(answer.to, a.name);
    assert.equal(typeof answer.sdp, 'string');
    const named = sdpCandidateKeys(answer.sdp);
    assert.ok(named.length > 0, `the released answer names the candidates gathered before Accept:\n${answer.sdp}`);
    // ... and no ice signal of his repeats one of them.
    const ice = fromB.filter((m) => m.type === 'ice');
    const repeated = ice.map((m) => m.candidate?.candidate).filter((c) => named.includes(
      String(c).replace(/^a=/, '').split(' ').slice(0, 6).join(' ')));
    assert.deepEqual(repeated, [], 'no ice signal names a candidate the answer named');
    t.diagnostic(`answer named ${named.length} candidate(s): ${named.join(' | ')}; ${ice.length} ice signal(s) followed`);

    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  });
});

test('a request to someone offline waits for them on the server; they see it when they log in, and the chat connects', async () => {
  await twoPeople(async (a, b) => {
    await b.page.getByRole('button', { name: 'Log out' }).click();
    await b.page.getByRole('button', { name: 'Log in' }).waitFor({ state: 'visible', timeout: WAIT });
    await startChat(a, b.name);
    const notice = a.page.locator('#chat-notice'); // in the chat Alice has open
    await a.page.waitForFunction((name) => document.getElementById('chat-notice').textContent
      === `${name} is not online right now; your request waits for them on the server.`, b.name, { timeout: WAIT });
    assert.equal(await notice.isVisible(), true);
    await send(a, 'for when you are back');

    await logIn(b);
    await accept(b, a.name);
    await waitForMessage(b.page, 'for when you are back');
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await notice.waitFor({ state: 'hidden', timeout: WAIT }); // gone once the chat is connected
    await send(b, 'back now');
    await waitForMessage(a.page, 'back now');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    // Relayed once (refused: bob was away) and mailed once; nothing told Alice when Bob came
    // back (a stranger does not see his presence), and nothing needed to.
    assert.equal(sent(a).filter((m) => m.type === 'chat-request').length, 1, 'relayed once');
    assert.equal(sent(a).filter((m) => m.type === 'mail-put').length >= 2, true, 'the request and the message mailed');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  });
});

test('a chat request is still there after the one asked reloads, and accepting it connects', async () => {
  await twoPeople(async (a, b) => {
    await startChat(a, b.name);
    await requestGroup(b, a.name).waitFor({ state: 'visible', timeout: WAIT });
    await b.page.reload();
    await logIn(b);
    await requestGroup(b, a.name).waitFor({ state: 'visible', timeout: WAIT });
    // Kept in Bob's vault; the mailed copy that comes after the reload is the same request, shown
    // once.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await b.page.getByRole('group', { name: /^Request from / }).count(), 1);
    await accept(b, a.name);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await send(b, 'accepted after a reload');
    await waitForMessage(a.page, 'accepted after a reload');
    await send(a, 'great');
    await waitForMessage(b.page, 'great');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  });
});

test('two people ask each other at the same moment: one conversation, connected, messages both ways', async (t) => {
  await twoPeople(async (a, b) => {
    await Promise.all([startChat(a, b.name), startChat(b, a.name)]);
    // Whoever's request arrived before their own went out sees it; accepting it changes nothing.
    const settled = Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    let done = false;
    settled.then(() => { done = true; }, () => { done = true; });
    while (!done) {
      for (const [p, other] of [[a, b], [b, a]]) {
        const group = requestGroup(p, other.name);
        if (await group.isVisible()) await group.getByRole('button', { name: 'Accept' }).click().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await settled;
    const asked = [a, b].map((p) => sent(p).filter((m) => m.type === 'chat-request').length);
    t.diagnostic(`requests sent: ${asked.join(' and ')} (both: they crossed; one: the other start accepted it)`);
    await send(a, 'we asked at once');
    await waitForMessage(b.page, 'we asked at once');
    await send(b, 'so we did');
    await waitForMessage(a.page, 'so we did');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    for (const p of [a, b]) {
      assert.equal(await p.page.getByRole('list', { name: 'Conversations' }).getByRole('button').count(), 1, `${p.name}: one conversation`);
    }
    assert.deepEqual(texts(await transcript(a.page)), [
      { text: 'we asked at once', sender: 'You' },
      { text: 'so we did', sender: b.name },
    ]);
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  });
});

test('when the one asked cannot store the request, Accept tells them in plain words and undoes it; Start chat again connects', async (t) => {
  await twoPeople(async (a, b) => {
    // From now on every IndexedDB put on Bob's page throws, as when the disk is full.
    const refusing = await b.page.evaluateHandle(() => {
      const kept = { put: IDBObjectStore.prototype.put, refused: 0 };
      IDBObjectStore.prototype.put = function put() {
        kept.refused += 1;
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      };
      return kept;
    });
    await startChat(a, b.name);
    await send(a, 'sent before the accept that failed');
    // The request is shown although its session could not be stored (the write was only made).
    await accept(b, a.name);

    // Bob is told, in plain words, and Alice is not his contact.
    await b.page.waitForFunction(() => document.getElementById('contact-notice').textContent
      .includes('could not save the chat'), null, { timeout: WAIT });
    const notice = b.page.locator('#contact-notice');
    assert.equal(await notice.isVisible(), true, 'the notice is shown');
    const said = await notice.textContent();
    assert.ok(said.startsWith(`${a.name} asked to chat, but this device could not save the chat`), said);
    const refused = await b.page.evaluate((kept) => {
      IDBObjectStore.prototype.put = kept.put;
      return kept.refused;
    }, refusing);
    assert.ok(refused > 0, 'bob\'s page tried to store the request and was refused');
    const bobsList = b.page.getByRole('list', { name: 'Conversations' });
    assert.equal(await bobsList.getByRole('button').filter({ hasText: a.name }).count(), 0,
      'alice is not in bob\'s contact list');
    assert.equal(await requestGroup(b, a.name).count(), 0, 'the request is gone');
    assert.ok(!sent(b).some((m) => m.type === 'chat-accept'), 'bob did not tell alice he accepted');
    assert.ok(sent(b).some((m) => m.type === 'answer'), 'the link was released on Accept');
    assert.ok(sent(b).some((m) => m.type === 'bye' && m.to === a.name), 'and then closed with bye');

    // Alice hears the bye; her link goes and she is still waiting, not connected.
    await until(() => received(a).some((m) => m.type === 'bye' && m.from === b.name), { message: 'alice gets bye' });
    await a.page.waitForFunction(() => document.querySelector('#contacts .presence')?.dataset.state !== 'connected'
      && !document.getElementById('chat-status').textContent.startsWith('connected'), null, { timeout: WAIT });
    // Long enough for a link that was not really closed to come up (they connect in well under 1 s here).
    await new Promise((r) => setTimeout(r, 1500));
    const alicesView = await a.page.evaluate(() => ({
      status: document.getElementById('chat-status').textContent,
      link: document.querySelector('#contacts .presence')?.dataset.state,
    }));
    t.diagnostic(`alice after the failed accept: status "${alicesView.status}", link ${alicesView.link}`);
    assert.equal(alicesView.status, `waiting for ${b.name} to accept`);
    assert.notEqual(alicesView.link, 'connected');
    assert.ok(!received(a).some((m) => m.type === 'chat-accept'), 'alice was not told bob accepted');
    const requestsBefore = sent(a).filter((m) => m.type === 'chat-request').length;
    assert.equal(requestsBefore, 1, 'nothing sent alice\'s request again by itself');

    // Alice starts the chat again: a new request, which Bob can store now.
    await startChat(a, b.name);
    await accept(b, a.name);
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    await waitForMessage(b.page, 'sent before the accept that failed');
    await send(b, 'stored this time');
    await waitForMessage(a.page, 'stored this time');
    await send(a, 'and connected');
    await waitForMessage(b.page, 'and connected');
    await Promise.all([waitAllDelivered(a.page), waitAllDelivered(b.page)]);
    assert.deepEqual(texts(await transcript(b.page)), [
      { text: 'sent before the accept that failed', sender: a.name },
      { text: 'stored this time', sender: 'You' },
      { text: 'and connected', sender: a.name },
    ]);
    assert.equal(await bobsList.getByRole('button').filter({ hasText: a.name }).count(), 1, 'alice is bob\'s contact now');
    const hellos = sent(a).filter((m) => m.type === 'chat-request').map((m) => m.hello);
    t.diagnostic(`${b.name}'s page refused ${refused} put(s); alice sent ${hellos.length} requests, ` +
      `${new Set(hellos).size} distinct hello(s)`);

    for (const p of [a, b]) {
      assert.deepEqual(p.problems.filter((x) => x.startsWith('page error')), [], `${p.name}: no uncaught exception`);
      assert.deepEqual(p.problems, [], `${p.name}: no console errors`);
    }
  });
});

test('when get-bundle gets no answer over the WebSocket, Start chat fetches the bundle over HTTP and the chat connects', async () => {
  // Alice's WebSocket goes through a relay in the test that drops her get-bundle messages (as a
  // server without get-bundle, or a lost answer, would leave them unanswered). It is routed
  // before sign-up, so that the WebSocket her page opens goes through it.
  let dropped = 0;
  const prepare = (a) => a.page.routeWebSocket(/\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((m) => {
      if (typeof m === 'string' && JSON.parse(m).type === 'get-bundle') {
        dropped += 1;
        return;
      }
      upstream.send(m);
    });
  });
  await twoPeople(async (a, b) => {
    await startChat(a, b.name); // after the 5 s wait for an answer
    await send(a, 'the bundle came over HTTP');
    await accept(b, a.name);
    await waitForMessage(b.page, 'the bundle came over HTTP');
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    assert.equal(dropped, 1, 'one get-bundle was sent (and dropped)');
    const bundleGets = a.requests.filter((r) => r.method === 'GET' && new URL(r.url).pathname === `/api/keys/${b.name}`);
    assert.equal(bundleGets.length, 1, 'then one HTTP bundle request');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  }, { prepare });
});

test('a chat request the server could not relay (recipient_busy) goes again by itself, and the chat connects', async () => {
  // Alice's WebSocket goes through a relay in the test that answers her first chat-request as the
  // server does when Bob's connection has too much waiting, instead of passing it on.
  // Its mail-puts are dropped too, so that only the relayed request can reach Bob: the retry is
  // what is tested.
  let requests = 0;
  const prepare = (a) => a.page.routeWebSocket(/\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((m) => {
      const msg = typeof m === 'string' ? JSON.parse(m) : null;
      if (msg?.type === 'mail-put') return;
      if (msg?.type === 'chat-request') {
        requests += 1;
        if (requests === 1) {
          ws.send(JSON.stringify({ type: 'error', code: 'recipient_busy', message: 'recipient is busy', ref: msg.id }));
          return;
        }
      }
      upstream.send(m);
    });
  });
  await twoPeople(async (a, b) => {
    await startChat(a, b.name);
    await send(a, 'asked twice, delivered once');
    await accept(b, a.name);
    await waitForMessage(b.page, 'asked twice, delivered once');
    await Promise.all([waitConnected(a.page), waitConnected(b.page)]);
    assert.equal(requests, 2, 'the refused request went once more');
    assert.deepEqual(a.problems, [], 'alice: no console errors');
    assert.deepEqual(b.problems, [], 'bob: no console errors');
  }, { prepare });
});
