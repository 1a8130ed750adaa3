//# allFunctionsCalledOnLoad
// The everyday controls on the messenger's screen (docs/PROTOCOL.md 12.15): the chat's
// "Disappearing messages" timer and "Search", the reply or edit being written, the typing
// indicator, the "Read receipts" and "Typing indicators" switches, and what the actions of a
// transcript item do. The controls are made here, so the page's HTML stays as it is.
import { $, el } from './dom.js';
import { TIMERS, timerWords } from './everyday-wire.js';
import { banner, plain, state } from './shell.js';
import { reading } from './transcript-view.js';

// The reply or edit being written: {mode: 'reply'|'edit', name, id}.
let compose = null;

function rerender() {
  if (state.messenger && state.chat) reading.rerender?.();
}

function keyOf(m) {
  return `${m.from}:${m.id}`;
}

function setCompose(next) {
  compose = next;
  const bar = $('compose-context');
  if (!bar) return;
  bar.hidden = !compose;
  if (!compose) return;
  const h = state.messenger.history(compose.name);
  const m = h.find((x) => x.id === compose.id && !x.kind);
  const words = m ? Array.from(m.text).slice(0, 80).join('') : '';
  $('compose-context-text').textContent = compose.mode === 'edit'
    ? 'Editing your message'
    : `Replying to ${m?.from === 'me' ? 'yourself' : compose.name}: ${words}`;
}

const handlers = {
  reply(m) {
    setCompose({ mode: 'reply', name: state.chat, id: m.id });
    $('message').focus();
  },
  edit(m) {
    setCompose({ mode: 'edit', name: state.chat, id: m.id });
    $('message').value = m.text;
    $('message').dispatchEvent(new Event('input'));
    $('message').focus();
  },
  remove(m) {
    const name = state.chat;
    if (compose?.id === m.id) setCompose(null);
    state.messenger.deleteForEveryone(name, m.id).catch((e) => banner(plain(e)));
  },
  react(m, emoji) {
    reading.picker = null;
    state.messenger.react(state.chat, m.id, emoji).catch((e) => banner(plain(e)));
    rerender();
  },
  togglePicker(m) {
    reading.picker = reading.picker === keyOf(m) ? null : keyOf(m);
    rerender();
  },
  toggleFold(m) {
    const k = keyOf(m);
    if (reading.expanded.has(k)) reading.expanded.delete(k);
    else reading.expanded.add(k);
    rerender();
  },
};

/** Sends what the box holds: an edit, a reply, or a new message (chat-view.js sendMessage). */
export async function sendComposed(m, name, text) {
  const c = compose?.name === name ? compose : null;
  m.typingDone(name);
  if (c?.mode === 'edit') await m.editMessage(name, c.id, text);
  else await m.send(name, text, c?.mode === 'reply' ? { reply: c.id } : null);
  if (compose === c) setCompose(null);
}

/** A chat is being opened: the "New messages" divider goes before what was unread. */
export function chatOpening(m, name) {
  if (m.typingSent) m.typingDone(m.typingSent.name);
  reading.expanded = new Set();
  reading.picker = null;
  reading.dividerBefore = null;
  setCompose(null);
  closeSearch();
  const unread = m.contacts[name]?.unread || 0;
  if (!unread) return;
  const theirs = m.history(name).filter((x) => x.from === 'them' && !x.kind);
  const first = theirs[Math.max(0, theirs.length - unread)];
  if (first) reading.dividerBefore = keyOf(first);
}

/** The open chat drawn (chat-view.js renderChat): its timer, who types, and what is read now. */
export function renderEveryday(m, name, sendable) {
  const select = $('disappearing');
  if (!select) return;
  select.value = String(m.timerOf(name));
  select.disabled = !sendable;
  const typing = $('typing');
  const text = m.isTyping(name) ? `${name} is typing…` : '';
  if (typing.textContent !== text) typing.textContent = text;
  typing.hidden = !text;
  if (document.visibilityState === 'visible') m.markRead(name);
}

function closeSearch() {
  const box = $('chat-search');
  if (!box) return;
  box.value = '';
  $('chat-search-row').hidden = true;
  $('search-open').setAttribute('aria-expanded', 'false');
  reading.query = '';
  $('search-count').textContent = '';
}

function searchChanged() {
  reading.query = $('chat-search').value.trim();
  rerender();
  const n = $('transcript').children.length;
  $('search-count').textContent = reading.query ? `${n} ${n === 1 ? 'message' : 'messages'} found` : '';
}

/** Makes the controls and wires them (app.js, once). render: draws the open chat again. */
export function installEveryday(render) {
  reading.handlers = handlers;
  reading.rerender = render;
  const tools = el('div', { className: 'chat-tools' },
    el('label', { className: 'timer-label' }, 'Disappearing messages ',
      el('select', { id: 'disappearing' },
        ...TIMERS.map((s) => el('option', { value: String(s), textContent: s ? timerWords(s) : 'Off' })))),
    el('button', { id: 'search-open', type: 'button', className: 'secondary', textContent: 'Search', 'aria-expanded': 'false' }));
  const searchRow = el('div', { id: 'chat-search-row', className: 'chat-search', hidden: true },
    el('input', { id: 'chat-search', type: 'search', 'aria-label': 'Search', placeholder: 'Search this chat', autocomplete: 'off' }),
    el('span', { id: 'search-count', className: 'muted', role: 'status', 'aria-live': 'polite' }),
    el('button', { id: 'search-close', type: 'button', className: 'secondary', textContent: 'Close search' }));
  document.querySelector('#chat .chat-header').after(tools, searchRow);
  const bar = el('div', { id: 'compose-context', className: 'compose-context', hidden: true },
    el('span', { id: 'compose-context-text' }),
    el('button', { id: 'compose-cancel', type: 'button', className: 'link', textContent: 'Cancel' }));
  const typing = el('p', { id: 'typing', className: 'muted typing', role: 'status', 'aria-live': 'polite', hidden: true });
  $('composer').before(typing, bar);
  const switches = [['read-receipts', 'Read receipts', 'readReceipts'], ['typing-indicators', 'Typing indicators', 'typing']];
  const footer = $('hide-ip-hint');
  for (const [id, label, key] of switches.reverse()) {
    const input = el('input', { id, type: 'checkbox', role: 'switch', checked: true });
    footer.after(el('label', { className: 'switch' }, input, ` ${label}`));
    input.addEventListener('change', () => {
      state.messenger?.setEverydaySetting(key, input.checked).catch((e) => banner(plain(e)));
    });
  }
  $('disappearing').addEventListener('change', (ev) => {
    const name = state.chat;
    const secs = Number(ev.target.value);
    state.messenger?.setTimer(name, secs).catch((e) => {
      banner(plain(e));
      render();
    });
  });
  $('search-open').addEventListener('click', () => {
    const open = $('chat-search-row').hidden;
    if (!open) {
      closeSearch();
      rerender();
      return;
    }
    $('chat-search-row').hidden = false;
    $('search-open').setAttribute('aria-expanded', 'true');
    $('chat-search').focus();
  });
  $('chat-search').addEventListener('input', searchChanged);
  $('chat-search').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      closeSearch();
      rerender();
      $('search-open').focus();
    }
  });
  $('search-close').addEventListener('click', () => {
    closeSearch();
    rerender();
    $('search-open').focus();
  });
  $('compose-cancel').addEventListener('click', () => {
    if (compose?.mode === 'edit') $('message').value = '';
    setCompose(null);
    $('message').focus();
  });
  $('message').addEventListener('input', () => {
    if (state.messenger && state.chat) state.messenger.typingInput(state.chat, $('message').value === '');
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') rerender();
  });
}

/** After log-in: the switches show the stored settings; typing redraws the chat. */
export function wireEveryday(m, render) {
  $('read-receipts').checked = m.settings().readReceipts;
  $('typing-indicators').checked = m.settings().typing;
  m.addEventListener('typing', (ev) => {
    if (ev.detail.name === state.chat) render();
  });
}
