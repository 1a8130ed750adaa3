//# allFunctionsCalledOnLoad
// Desktop notifications while the tab is hidden (docs/PROTOCOL.md 12.8, record "notify").
import { $ } from './dom.js';
import { state } from './shell.js';
import { openChat } from './chat-view.js';

export const NOTIFY_RECORD = 'notify';
const PREVIEW_CHARS = 140;

export function parseNotify(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('notify record: not an object');
  if (Object.keys(value).sort().join(',') !== 'sound,text,v') throw new TypeError('notify record: unexpected fields');
  if (value.v !== 1) throw new TypeError('notify record: unknown version');
  if (typeof value.text !== 'boolean' || typeof value.sound !== 'boolean') throw new TypeError('notify record: not a switch');
  return { text: value.text, sound: value.sound };
}

const supported = () => typeof window.Notification === 'function';

let settings = { text: false, sound: false };
let watching = null; // {m, seen: Map(name -> Set of ids), asked: Set of names, off()}

export async function startNotify(m, vault) {
  stopNotify();
  let stored = null;
  try {
    stored = await vault.getJson(NOTIFY_RECORD, null);
    settings = stored === null ? { text: false, sound: false } : parseNotify(stored);
  } catch {
    settings = { text: false, sound: false };
  }
  const seen = new Map();
  for (const name of new Set([...Object.keys(m.contacts), ...m.requests.keys()])) {
    seen.set(name, new Set(m.history(name).map((x) => x.id)));
  }
  const asked = new Set(m.requests.keys());
  const onChange = (ev) => announceMessages(ev.detail?.name);
  const onRequest = () => announceRequests();
  m.addEventListener('change', onChange);
  m.addEventListener('request', onRequest);
  watching = {
    m, vault, seen, asked,
    off: () => {
      m.removeEventListener('change', onChange);
      m.removeEventListener('request', onRequest);
    },
  };
  render();
}

export function stopNotify() {
  if (watching) watching.off();
  watching = null;
}

function hidden() {
  return document.visibilityState === 'hidden';
}

function announceMessages(name) {
  if (!watching) return;
  const { m, seen } = watching;
  const names = name ? [name] : Object.keys(m.contacts);
  for (const n of names) {
    const known = seen.get(n) || new Set();
    seen.set(n, known);
    for (const x of m.history(n)) {
      if (known.has(x.id)) continue;
      known.add(x.id);
      if (x.from !== 'them') continue;
      if (!m.requests.has(n) && hidden()) show(n, settings.text ? `${n}: ${preview(x.text)}` : `New message from ${n}`, n);
    }
  }
}

function announceRequests() {
  if (!watching) return;
  const { m, asked } = watching;
  for (const n of m.requests.keys()) {
    if (asked.has(n)) continue;
    asked.add(n);
    if (hidden()) show(n, `${n} wants to chat with you`, null);
  }
  for (const n of [...asked]) if (!m.requests.has(n)) asked.delete(n);
}

function preview(text) {
  const one = Array.from(text.slice(0, PREVIEW_CHARS * 2)).slice(0, PREVIEW_CHARS).join('').replace(/\s+/g, ' ');
  return one.length < text.length ? `${one}…` : one;
}

function show(tag, body, chat) {
  if (!supported() || Notification.permission !== 'granted') return;
  try {
    const n = new Notification('Parley', { body, tag: `parley:${tag}:${Date.now()}` });
    n.onclick = () => {
      window.focus();
      if (chat && state.messenger?.contacts[chat]) openChat(chat);
      n.close();
    };
  } catch {
    return; // only from a service worker in this browser
  }
  if (settings.sound) beep();
}

function beep() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
    osc.onended = () => ctx.close().catch(() => {});
  } catch {
    // no sound
  }
}

function render() {
  const can = supported();
  const permission = can ? Notification.permission : 'unsupported';
  $('notify-enable').hidden = permission === 'granted' || permission === 'unsupported';
  const words = {
    granted: 'Notifications are on while this tab is in the background.',
    denied: 'This browser blocks notifications from Parley: allow them in the site settings, then press Enable notifications.',
    unsupported: 'This browser cannot show notifications.',
  }[permission] || '';
  $('notify-state').textContent = words;
  $('notify-state').hidden = !words;
  $('notify-text').checked = settings.text;
  $('notify-sound').checked = settings.sound;
}

async function save() {
  if (!watching) return;
  await watching.vault.putJson(NOTIFY_RECORD, { v: 1, text: settings.text, sound: settings.sound });
}

export function wireNotify({ busy }) {
  $('notify-enable').addEventListener('click', () => busy($('notify-enable'), async () => {
    if (!supported()) return;
    await Notification.requestPermission();
    render();
  }));
  $('notify-text').addEventListener('change', (ev) => {
    settings.text = ev.target.checked;
    busy(ev.target, save);
  });
  $('notify-sound').addEventListener('change', (ev) => {
    settings.sound = ev.target.checked;
    busy(ev.target, save);
    if (settings.sound) beep();
  });
}
