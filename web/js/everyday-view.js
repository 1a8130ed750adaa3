//# allFunctionsCalledOnLoad
// The everyday features on screen (docs/PROTOCOL.md 12.15). Reading the transcript: one message's
// list item (text with safe links, folded when long, its quote, "edited", reactions, read state;
// its actions are message-actions.js's), date separators, the "New messages" divider and search; untrusted text goes only
// into text nodes, and a link is an <a> only for an http(s) URL. The controls, made here so that
// the page's HTML stays as it is: "Disappearing messages", "Search", the reply or edit being
// written, the typing indicator, and the "Read receipts" and "Typing indicators" switches.
import { $, el, setHidden } from './dom.js';
import { EMOJI, TIMERS, timerWords } from './everyday-wire.js';
import { installActions, markActionable, markReachable } from './message-actions.js';
import { banner, plain, state } from './shell.js';

// What the reader chose: folds opened, the emoji choice open, the "New messages" divider, the
// search, what the item actions do, and how to draw the chat again (transcript-view.js).
export const reading = { expanded: new Set(), picker: null, dividerBefore: null, query: '', handlers: null, rerender: null };

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const DELIVERY = { queued: 'sending', sent: 'sent', delivered: 'delivered' };
const FOLD_CHARS = 1000; // longer texts (or more lines) are folded behind "Show more"
const FOLD_LINES = 15;
const QUOTE_CHARS = 120;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** Text as text nodes, with every http(s) URL in it an <a> (rel noopener noreferrer, new tab). */
export function linkify(text) {
  const out = [];
  let at = 0;
  for (const match of text.matchAll(URL_RE)) {
    const raw = match[0].replace(TRAILING, '');
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) continue;
    if (match.index > at) out.push(document.createTextNode(text.slice(at, match.index)));
    const a = document.createElement('a');
    a.href = url.href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.textContent = raw;
    out.push(a);
    at = match.index + raw.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

export function dayKey(ts) {
  const d = new Date(ts); // a number per local day: no string made for each message drawn
  return (d.getFullYear() * 16 + d.getMonth()) * 32 + d.getDate();
}

/** "Today", "Yesterday", or the full date. */
export function dayLabel(ts, now = Date.now()) {
  const d = dayKey(ts);
  if (d === dayKey(now)) return 'Today';
  if (d === dayKey(now - 86400000)) return 'Yesterday';
  return dayFmt.format(ts);
}

export function fullDate(ts) {
  return fullFmt.format(ts);
}

/** Whether a message's text is long enough to be folded. */
export function foldable(text) {
  return text.length > FOLD_CHARS || text.split('\n').length > FOLD_LINES;
}

/** Whether a transcript entry matches a search (case-insensitive, its text). */
export function matches(m, query) {
  if (!query) return true;
  return !m.deleted && typeof m.text === 'string' && m.text.toLocaleLowerCase().includes(query.toLocaleLowerCase());
}

/** Whether an entry is drawn: messages, lines, timer changes; not the other own actions. */
export function shown(m) {
  return !m.kind || m.kind === 'timer';
}

/** The last entry a conversation list shows, with a deleted one's words. */
export function lastShown(history) {
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const m = history[i];
    if (shown(m)) return m.deleted ? { ...m, text: 'This message was deleted' } : m;
  }
  return undefined;
}

function timeEl(ts) {
  // The full date on hover (title), and when the message is focused (style.css shows it): the
  // time is no tab stop of its own (message-actions.js).
  return el('time', { dateTime: new Date(ts).toISOString(), textContent: timeFmt.format(ts), title: fullDate(ts) });
}

function quote(lookup, id, name) {
  const t = lookup(id);
  const who = t ? (t.from === 'me' ? 'You' : name) : '';
  const words = !t ? 'Original message not found' : t.deleted ? 'This message was deleted'
    : Array.from(t.text).slice(0, QUOTE_CHARS).join('') + (t.text.length > QUOTE_CHARS ? '…' : '');
  return el('blockquote', { className: 'quote' },
    el('span', { className: 'quote-who', textContent: who ? `Reply to ${who}` : 'Reply' }),
    el('span', { className: 'quote-text', textContent: words }));
}

function reactionsEl(m, name) {
  const r = m.reactions || {};
  const parts = [];
  if (r.me) parts.push(`${r.me} You`);
  if (r.them) parts.push(`${r.them} ${name}`);
  if (!parts.length) return null;
  return el('span', { className: 'reactions', textContent: parts.join('  '), 'aria-label': `Reactions: ${parts.join(', ')}` });
}

/**
 * The list item of one entry. opts: {name, lookup (id -> the message quoted), day (a date separator's label, or null),
 * divider (the "New messages" divider before it), expanded, picker (the emoji choice open),
 * readReceipts, handlers: {reply, edit, remove, react, toggleFold, togglePicker}}.
 */
export function messageItem(m, opts) {
  const { name, handlers } = opts; // opts is the caller's to reuse: nothing below keeps it
  const before = [];
  if (opts.day) before.push(el('p', { className: 'day-separator', role: 'separator', textContent: opts.day }));
  if (opts.divider) before.push(el('p', { className: 'new-divider', role: 'separator', textContent: 'New messages' }));
  if (m.from === 'system' || m.kind === 'timer') {
    const notice = el('li', { className: 'msg notice' }, ...before,
      el('p', { className: 'text', textContent: m.text }),
      el('span', { className: 'meta' }, timeEl(m.ts)));
    markReachable(notice); // no actions, but reached by the arrow keys (its full date on focus)
    return notice;
  }
  const mine = m.from === 'me';
  const text = m.deleted
    ? el('p', { className: 'text deleted', textContent: 'This message was deleted' })
    : el('p', { className: 'text' }, ...linkify(m.text));
  const folded = !m.deleted && foldable(m.text) && !opts.expanded;
  if (folded) text.classList.add('folded');
  const meta = el('span', { className: 'meta' },
    el('span', { className: 'sender', textContent: mine ? 'You' : name }), ' · ', timeEl(m.ts));
  if (m.edited && !m.deleted) meta.append(' · ', el('span', { className: 'edited', textContent: 'edited' }));
  if (m.exp && !m.deleted) meta.append(' · ', el('span', { className: 'exp', textContent: `⏱ ${timerWords(m.exp)}`, title: `Disappears ${timerWords(m.exp)} after it is ${mine ? 'sent' : 'read'}` }));
  if (mine && !m.deleted) {
    meta.append(' · ', el('span', { className: 'delivery', dataset: { state: m.state }, textContent: DELIVERY[m.state] || m.state }));
    if (opts.readReceipts && m.read) meta.append(' · ', el('span', { className: 'read-state', textContent: 'read' }));
  }
  const li = el('li', { className: `msg ${mine ? 'mine' : 'theirs'}${m.deleted ? ' deleted' : ''}` }, ...before);
  if (m.reply && !m.deleted) li.append(quote(opts.lookup, m.reply, name));
  li.append(text);
  if (!m.deleted && foldable(m.text)) {
    li.append(el('button', { type: 'button', className: 'link fold', textContent: folded ? 'Show more' : 'Show less',
      onclick: () => handlers.toggleFold(m) }));
  }
  li.append(meta);
  const reactions = !m.deleted && reactionsEl(m, name);
  if (reactions) li.append(reactions);
  if (m.deleted) markReachable(li);
  else {
    const h = handlers;
    markActionable(li, m); // its actions are shown when it is pointed at or focused (message-actions.js)
    if (opts.picker) {
      li.append(el('span', { className: 'emoji-picker', role: 'group', 'aria-label': 'Choose a reaction' },
        ...EMOJI.map((e) => el('button', { type: 'button', className: 'emoji', textContent: e,
          'aria-pressed': m.reactions?.me === e ? 'true' : 'false', onclick: () => h.react(m, e) }))));
    }
  }
  return li;
}

/** What a drawn item depends on: redrawn when this changes. Positions are named by SIG. */
export const SIG = {
  text: 0, state: 1, edited: 2, deleted: 3, reactions: 4, read: 5, reply: 6, quotedText: 7,
  quotedDeleted: 8, day: 9, divider: 10, expanded: 11, picker: 12, exp: 13,
};
const SIG_LENGTH = 14;

// The value at each position, for message m drawn with opts. "read" counts only where it is
// shown (an own message, not deleted, with read receipts on): a contact's message read here
// changes nothing drawn.
function sigValue(i, m, opts, quoted) {
  switch (i) {
    case SIG.text: return m.text;
    case SIG.state: return m.state;
    case SIG.edited: return m.edited;
    case SIG.deleted: return m.deleted;
    case SIG.reactions: return m.reactions ? JSON.stringify(m.reactions) : null;
    case SIG.read: return !!(m.read && opts.readReceipts && m.from === 'me' && !m.deleted);
    case SIG.reply: return m.reply;
    case SIG.quotedText: return quoted?.text ?? null;
    case SIG.quotedDeleted: return !!quoted?.deleted;
    case SIG.day: return opts.day;
    case SIG.divider: return opts.divider;
    case SIG.expanded: return opts.expanded;
    case SIG.picker: return opts.picker;
    default: return m.exp;
  }
}

export function signature(m, opts) {
  const quoted = m.reply ? opts.lookup(m.reply) : null;
  const sig = new Array(SIG_LENGTH);
  for (let i = 0; i < SIG_LENGTH; i += 1) sig[i] = sigValue(i, m, opts, quoted);
  return sig;
}

/** Whether m drawn with opts has the signature sig, compared position by position with nothing
 * built (a transcript of a thousand messages is walked at every drawing, and nearly every item is
 * unchanged). */
export function sameSignature(sig, m, opts) {
  if (sig.length !== SIG_LENGTH) return false;
  const quoted = m.reply ? opts.lookup(m.reply) : null;
  for (let i = 0; i < SIG_LENGTH; i += 1) if (sig[i] !== sigValue(i, m, opts, quoted)) return false;
  return true;
}

/** Brings a drawn item up to date in place when only its delivery state or its "read" changed
 * (the common case, at every receipt: the item keeps its nodes, no new list item is made); false
 * when it must be drawn again. */
export function patchItem(li, was, now, m) {
  if (was.length !== now.length) return false;
  for (let i = 0; i < now.length; i += 1) if (i !== SIG.state && i !== SIG.read && was[i] !== now[i]) return false;
  const span = li.querySelector(':scope > .meta > .delivery');
  if (!span) return false;
  markActionable(li, m);
  if (was[SIG.state] !== now[SIG.state]) {
    span.dataset.state = m.state;
    span.textContent = DELIVERY[m.state] || m.state;
  }
  if (was[SIG.read] !== now[SIG.read]) {
    const read = span.parentElement.querySelector(':scope > .read-state');
    if (now[SIG.read] && !read) span.parentElement.append(' · ', el('span', { className: 'read-state', textContent: 'read' }));
    if (!now[SIG.read] && read) {
      read.previousSibling.remove(); // its ' · '
      read.remove();
    }
  }
  return true;
}

// ---- controls ----

let compose = null;

function rerender() {
  if (state.messenger && state.chat) reading.rerender?.();
}

/** A message's key in the drawn transcript (transcript-view.js too). */
export function keyOf(m) {
  return `${m.from}:${m.id}`;
}

function setCompose(next) {
  compose = next;
  const bar = $('compose-context');
  if (!bar) return;
  setHidden(bar, !compose);
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
  setHidden(typing, !text);
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
  installActions($('transcript'), handlers, (m) => reading.picker === keyOf(m));
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
