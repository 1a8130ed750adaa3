//# allFunctionsCalledOnLoad
// The call panel (loaded on first use, calls-entry.js): an incoming call with "Answer" and
// "Decline"; a call with its state, "Call verification" ("Verified" or "Not verified", with a way
// to verify), one tile per remote video ("Video from NAME"), a local preview, and "Mute",
// "Camera", "Share screen" and "Hang up". A room's group call (calls-group.js): one tile per person
// (a group named after them, with their video or their initial and the state of their leg), one
// sound per person, "Mute", "Camera" and "Hang up".
import { Calls, duration } from './calls.js';
import { $, el, setText } from './dom.js';
import { banner, plain } from './shell.js';
import { openChat, openVerify } from './chat-view.js';

let calls = null; // the Calls of the messenger logged in
let ticker = null;
const tiles = new Map(); // remote track id -> video element
const sounds = new Map(); // group call: name -> audio element
let preview = null;
let audioOut = null;

function callsFor(state, messenger = state.messenger) {
  if (!messenger) return null;
  if (!calls || calls.m !== messenger) {
    calls = new Calls(messenger);
    calls.addEventListener('change', render);
    calls.addEventListener('warning', (ev) => banner(ev.detail));
    messenger.addEventListener('change', (ev) => {
      const c = calls?.call;
      if ((c && (!ev.detail.name || ev.detail.name === c.name)) || calls?.group) render();
    });
    window.addEventListener('pagehide', () => calls?.shutdown());
  }
  return calls;
}

// Starts a call to `to` (a name, or a room's hex): a refusal is said in the banner.
async function begin(state, to, fn) {
  const c = callsFor(state);
  if (!c || !to) return;
  try {
    await fn(c);
  } catch (e) {
    banner(plain(e));
  }
}

export const startCall = (state, name, video) => begin(state, name, (c) => c.start(name, video));

/** Calls everyone in the room hex (video: with cameras). */
export const startGroupCall = (state, hex, video) => begin(state, hex, (c) => c.startGroup(hex, video));

export function onPayload(state, messenger, name, payload) {
  callsFor(state, messenger)?.onPayload(name, payload);
}

export function shutdown() {
  calls?.shutdown();
  calls = null;
  render();
}

function button(text, onClick, { pressed = null, className = 'secondary', label = null } = {}) {
  const b = el('button', { type: 'button', className, textContent: text });
  if (pressed !== null) b.setAttribute('aria-pressed', String(pressed));
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function videoElement(stream, label, muted) {
  const v = el('video', { autoplay: true, playsInline: true, muted });
  v.setAttribute('aria-label', label);
  v.srcObject = stream;
  v.play().catch(() => {});
  return v;
}

function clearMedia() {
  for (const v of tiles.values()) v.srcObject = null;
  tiles.clear();
  if (preview) preview.srcObject = null;
  preview = null;
  if (audioOut) audioOut.srcObject = null;
  audioOut = null;
  for (const a of sounds.values()) a.srcObject = null;
  sounds.clear();
}

// The remote tracks of the call now: video tracks (one tile each) and audio tracks.
function remoteTracks(call) {
  const video = [];
  const audio = [];
  for (const t of call.transceivers) {
    if (t.stopped || !t.currentDirection || !/sendrecv|recvonly/.test(t.currentDirection)) continue;
    (t.receiver.track.kind === 'video' ? video : audio).push(t.receiver.track);
  }
  return { video, audio };
}

// The video element of a remote track, kept while the track lasts (drawn again, it would flicker).
function trackTile(track, label, keep) {
  keep.add(track.id);
  let v = tiles.get(track.id);
  if (!v) {
    v = videoElement(new MediaStream([track]), label, true);
    tiles.set(track.id, v);
  }
  return v;
}

function dropTiles(keep) {
  for (const [id, v] of tiles) {
    if (!keep.has(id)) {
      v.srcObject = null;
      tiles.delete(id);
    }
  }
}

// The preview of our camera (or screen), kept while it is the same.
function localPreview(call) {
  const camera = call.stream?.getVideoTracks()[0] || null;
  const local = call.screen || (camera ? call.stream : null);
  if (local && (!preview || preview.srcObject !== local)) {
    if (preview) preview.srcObject = null;
    preview = videoElement(local, call.screen ? 'Your screen' : 'Your camera', true);
  } else if (!local && preview) {
    preview.srcObject = null;
    preview = null;
  }
  return camera;
}

function controlsOf(call, { screen }) {
  const camera = call.stream?.getVideoTracks()[0] || null;
  const controls = el('div', { className: 'actions call-controls' });
  controls.append(button('Mute', () => calls.setMuted(!call.muted), { pressed: call.muted }));
  if (camera) controls.append(button('Camera', () => calls.setCamera(call.cameraOff), { pressed: !call.cameraOff }));
  if (screen && navigator.mediaDevices?.getDisplayMedia && call.state === 'active') {
    controls.append(button('Share screen', () => calls.shareScreen(!call.screen).catch((e) => banner(`The screen could not be shared: ${plain(e)}`)), { pressed: !!call.screen }));
  }
  controls.append(button('Hang up', () => calls.hangUp(), { className: 'danger' }));
  return controls;
}

function show(panel, children, controls) {
  const focused = panel.contains(document.activeElement) ? document.activeElement.textContent : null;
  panel.replaceChildren(...children);
  if (focused) [...controls.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
}

const roomName = (hex) => calls.roomName(hex);

// A group call ringing here: drawn once per ringing call and then changed in place (new legs
// keep ringing in while the person reaches for Answer: a button drawn anew under the pointer
// would lose the click).
let ringView = null;
function renderRinging(panel, r) {
  const kind = r.media === 'video' ? 'group video call' : 'group call';
  const others = r.invites.size > 1 ? ` · ${r.invites.size} people in the call` : '';
  const text = r.answering ? `Joining the ${kind}…` : `${r.from} is calling ${roomName(r.room)} (${kind})${others}…`;
  if (ringView?.r !== r || ringView.answering !== r.answering || !panel.contains(ringView.group)) {
    const group = el('div', { className: 'call-incoming', role: 'group', 'aria-label': `Incoming ${kind} in ${roomName(r.room)}` },
      el('p', { className: 'call-title', role: 'alert' }));
    if (!r.answering) {
      group.append(el('div', { className: 'actions' },
        button('Answer', () => calls.answer().catch((e) => banner(plain(e))), { className: '' }),
        button('Decline', () => calls.decline())));
    }
    ringView = { r, answering: r.answering, group };
    clearMedia();
    panel.replaceChildren(group);
  }
  setText(ringView.group.firstChild, text);
}

// A leg's state in words, for its tile.
function legState(leg) {
  if (leg.state === 'ringing') return 'ringing';
  if (leg.state !== 'active') return 'connecting';
  if (!leg.bound) return 'checking identity';
  return calls.verification(leg) ? 'verified' : 'identity checked';
}

// The group call: one tile per person (ours last), one sound per person. The panel's parts stay
// the same elements while the call lasts, changed in place: legs change it often, and a button
// drawn anew under the pointer would lose the click (or the focus).
let groupView = null;
function renderGroup(panel, g) {
  const camera = !!g.stream?.getVideoTracks()[0];
  if (groupView?.g !== g || groupView.camera !== camera || !panel.contains(groupView.controls)) {
    groupView = {
      g, camera, status: el('p', { className: 'call-title', role: 'status' }), note: el('p', { className: 'notice' }),
      grid: el('div', { className: 'call-tiles' }), sounds: el('div', { className: 'call-sounds' }), controls: controlsOf(g, { screen: false }),
    };
    panel.replaceChildren(groupView.status, groupView.note, groupView.grid, groupView.sounds, groupView.controls);
  }
  const v = groupView;
  const setStatus = () => setText(v.status, g.activeAt ? `Group call in ${roomName(g.room)} · ${calls.joined(g) + 1} people · ${duration(Date.now() - g.activeAt)}`
    : g.outgoing ? `Calling ${roomName(g.room)}…` : `Joining the call in ${roomName(g.room)}…`);
  setStatus();
  if (g.activeAt) ticker = setInterval(setStatus, 1000);
  setText(v.note, g.note || '');
  v.note.hidden = !g.note;
  const tiles = [];
  const keep = new Set();
  const heard = [];
  for (const leg of [...g.legs.values()].sort((x, y) => x.name.localeCompare(y.name))) {
    const { video, audio } = remoteTracks(leg);
    const face = video.length ? trackTile(video[0], `Video from ${leg.name}`, keep)
      : el('div', { className: 'call-avatar', textContent: leg.name.replace(/^~/, '').slice(0, 1).toUpperCase() });
    tiles.push(el('figure', { className: 'call-tile', role: 'group', 'aria-label': leg.name }, face,
      el('figcaption', { textContent: `${leg.name} · ${legState(leg)}` })));
    const ids = audio.map((t) => t.id).join(',');
    let a = sounds.get(leg.name);
    if (!a || a.dataset.tracks !== ids) {
      if (a) a.srcObject = null;
      a = el('audio', { autoplay: true, dataset: { tracks: ids } });
      a.setAttribute('aria-label', `Sound from ${leg.name}`);
      a.srcObject = audio.length ? new MediaStream(audio) : null;
      a.play().catch(() => {});
      sounds.set(leg.name, a);
    }
    heard.push(a);
  }
  dropTiles(keep);
  for (const [name, a] of sounds) {
    if (!heard.includes(a)) {
      a.srcObject = null;
      sounds.delete(name);
    }
  }
  localPreview(g);
  tiles.push(el('figure', { className: 'call-tile', role: 'group', 'aria-label': 'You' },
    preview || el('div', { className: 'call-avatar', textContent: '·' }),
    el('figcaption', { textContent: g.muted ? 'You · muted' : 'You' })));
  v.grid.replaceChildren(...tiles);
  if ([...v.sounds.children].some((x, i) => x !== heard[i]) || v.sounds.children.length !== heard.length) v.sounds.replaceChildren(...heard);
  for (const b of v.controls.querySelectorAll('button[aria-pressed]')) {
    b.setAttribute('aria-pressed', String(b.textContent === 'Mute' ? g.muted : !g.cameraOff));
  }
}

function render() {
  const panel = $('call-panel');
  if (!panel) return;
  const call = calls?.call || null;
  const incoming = calls?.incoming || null;
  clearInterval(ticker);
  ticker = null;
  if (calls?.group) {
    panel.hidden = false;
    renderGroup(panel, calls.group);
    return;
  }
  if (!call && !incoming && calls?.ringing) {
    panel.hidden = false;
    renderRinging(panel, calls.ringing);
    return;
  }
  if (!call && !incoming) {
    clearMedia();
    panel.replaceChildren();
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  if (!call) {
    const kind = incoming.media === 'video' ? 'video call' : 'call';
    const group = el('div', { className: 'call-incoming', role: 'group', 'aria-label': `Incoming ${kind} from ${incoming.name}` },
      el('p', { className: 'call-title', role: 'alert', textContent: `${incoming.name} is calling you (${kind})…` }),
      el('div', { className: 'actions' },
        button('Answer', () => calls.answer().catch((e) => banner(plain(e))), { className: '' }),
        button('Decline', () => calls.decline())));
    clearMedia();
    panel.replaceChildren(group);
    return;
  }
  const { name } = call;
  const verified = calls.verification(call);
  const status = el('p', { className: 'call-title', role: 'status' });
  const setStatus = () => {
    status.textContent = call.state === 'active' ? `In call with ${name} · ${duration(Date.now() - call.activeAt)}`
      : call.state === 'ringing' ? `Calling ${name}…` : `Connecting to ${name}…`;
  };
  setStatus();
  if (call.state === 'active') ticker = setInterval(setStatus, 1000);
  const check = el('p', { className: `call-verification ${verified ? 'ok' : 'no'}`, textContent: verified ? 'Verified' : 'Not verified' });
  check.setAttribute('aria-label', 'Call verification');
  check.setAttribute('role', 'status');
  const checkRow = el('div', { className: 'call-check' }, check);
  if (!verified) {
    checkRow.append(button(`Verify ${name}`, () => {
      openChat(name);
      openVerify();
    }, { className: 'link' }));
  }
  const grid = el('div', { className: 'call-tiles' });
  const { video, audio } = remoteTracks(call);
  const keep = new Set();
  for (const track of video) grid.append(trackTile(track, `Video from ${name}`, keep));
  dropTiles(keep);
  const audioIds = audio.map((t) => t.id).join(',');
  if (!audioOut || audioOut.dataset.tracks !== audioIds) {
    if (audioOut) audioOut.srcObject = null;
    audioOut = el('audio', { autoplay: true, dataset: { tracks: audioIds } });
    audioOut.setAttribute('aria-label', `Sound from ${name}`);
    audioOut.srcObject = audio.length ? new MediaStream(audio) : null;
    audioOut.play().catch(() => {});
  }
  localPreview(call);
  if (preview) grid.append(preview);
  const controls = controlsOf(call, { screen: true });
  const children = [status, checkRow];
  if (call.note) children.push(el('p', { className: 'notice', textContent: call.note }));
  children.push(grid, audioOut, controls);
  show(panel, children, controls);
}
