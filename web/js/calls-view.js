//# allFunctionsCalledOnLoad
// The call panel (loaded on first use, calls-entry.js): an incoming call with "Answer" and
// "Decline"; a call with its state, "Call verification" ("Verified" or "Not verified", with a way
// to verify), one tile per remote video ("Video from NAME"), a local preview, and "Mute",
// "Camera", "Share screen" and "Hang up".
import { Calls, duration } from './calls.js';
import { $, el } from './dom.js';
import { banner, plain } from './shell.js';
import { openChat, openVerify } from './chat-view.js';

let calls = null; // the Calls of the messenger logged in
let ticker = null;
const tiles = new Map(); // remote track id -> video element
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
      if (c && (!ev.detail.name || ev.detail.name === c.name)) render();
    });
    window.addEventListener('pagehide', () => calls?.shutdown());
  }
  return calls;
}

export async function startCall(state, name, video) {
  const c = callsFor(state);
  if (!c || !name) return;
  try {
    await c.start(name, video);
  } catch (e) {
    banner(plain(e));
  }
}

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

function render() {
  const panel = $('call-panel');
  if (!panel) return;
  const call = calls?.call || null;
  const incoming = calls?.incoming || null;
  clearInterval(ticker);
  ticker = null;
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
  for (const track of video) {
    keep.add(track.id);
    let v = tiles.get(track.id);
    if (!v) {
      v = videoElement(new MediaStream([track]), `Video from ${name}`, true);
      tiles.set(track.id, v);
    }
    grid.append(v);
  }
  for (const [id, v] of tiles) {
    if (!keep.has(id)) {
      v.srcObject = null;
      tiles.delete(id);
    }
  }
  const audioIds = audio.map((t) => t.id).join(',');
  if (!audioOut || audioOut.dataset.tracks !== audioIds) {
    if (audioOut) audioOut.srcObject = null;
    audioOut = el('audio', { autoplay: true, dataset: { tracks: audioIds } });
    audioOut.setAttribute('aria-label', `Sound from ${name}`);
    audioOut.srcObject = audio.length ? new MediaStream(audio) : null;
    audioOut.play().catch(() => {});
  }
  const camera = call.stream?.getVideoTracks()[0] || null;
  const local = call.screen || (camera ? call.stream : null);
  if (local && (!preview || preview.srcObject !== local)) {
    if (preview) preview.srcObject = null;
    preview = videoElement(local, call.screen ? 'Your screen' : 'Your camera', true);
  } else if (!local && preview) {
    preview.srcObject = null;
    preview = null;
  }
  if (preview) grid.append(preview);
  const controls = el('div', { className: 'actions call-controls' });
  controls.append(button('Mute', () => calls.setMuted(!call.muted), { pressed: call.muted }));
  if (camera) controls.append(button('Camera', () => calls.setCamera(call.cameraOff), { pressed: !call.cameraOff }));
  if (navigator.mediaDevices?.getDisplayMedia && call.state === 'active') {
    controls.append(button('Share screen', () => calls.shareScreen(!call.screen).catch((e) => banner(`The screen could not be shared: ${plain(e)}`)), { pressed: !!call.screen }));
  }
  controls.append(button('Hang up', () => calls.hangUp(), { className: 'danger' }));
  const children = [status, checkRow];
  if (call.note) children.push(el('p', { className: 'notice', textContent: call.note }));
  children.push(grid, audioOut, controls);
  const focused = panel.contains(document.activeElement) ? document.activeElement.textContent : null;
  panel.replaceChildren(...children);
  if (focused) [...controls.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
}
