//# allFunctionsCalledOnLoad
// Reading the transcript: one message's list item (its text with safe links, folded when long,
// the message it replies to, "edited", reactions, read state, and its actions), date separators,
// the "New messages" divider and search within a chat. Untrusted text only ever goes into text
// nodes; a link is an <a> made only for an http or https URL, with its text as text.
import { el } from './dom.js';
import { EMOJI, timerWords } from './everyday-wire.js';

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
  return new Date(ts).toDateString();
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
  // The full date on hover (title) and on keyboard focus (tabindex; style.css shows it).
  return el('time', { dateTime: new Date(ts).toISOString(), textContent: timeFmt.format(ts), title: fullDate(ts), tabIndex: 0 });
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
  const { name } = opts;
  const before = [];
  if (opts.day) before.push(el('p', { className: 'day-separator', role: 'separator', textContent: opts.day }));
  if (opts.divider) before.push(el('p', { className: 'new-divider', role: 'separator', textContent: 'New messages' }));
  if (m.from === 'system' || m.kind === 'timer') {
    return el('li', { className: 'msg notice' }, ...before,
      el('p', { className: 'text', textContent: m.text }),
      el('span', { className: 'meta' }, timeEl(m.ts)));
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
      onclick: () => opts.handlers.toggleFold(m) }));
  }
  li.append(meta);
  const reactions = !m.deleted && reactionsEl(m, name);
  if (reactions) li.append(reactions);
  if (!m.deleted) {
    const h = opts.handlers;
    const actions = el('span', { className: 'msg-actions' },
      el('button', { type: 'button', className: 'link', textContent: 'Reply', onclick: () => h.reply(m) }),
      el('button', { type: 'button', className: 'link', textContent: 'React', 'aria-expanded': opts.picker ? 'true' : 'false', onclick: () => h.togglePicker(m) }));
    if (mine) {
      actions.append(
        el('button', { type: 'button', className: 'link', textContent: 'Edit', onclick: () => h.edit(m) }),
        el('button', { type: 'button', className: 'link', textContent: 'Delete for everyone', onclick: () => h.remove(m) }));
    }
    li.append(actions);
    if (opts.picker) {
      li.append(el('span', { className: 'emoji-picker', role: 'group', 'aria-label': 'Choose a reaction' },
        ...EMOJI.map((e) => el('button', { type: 'button', className: 'emoji', textContent: e,
          'aria-pressed': m.reactions?.me === e ? 'true' : 'false', onclick: () => h.react(m, e) }))));
    }
  }
  return li;
}

/** What a drawn item depends on: redrawn when this changes. */
export function signature(m, opts) {
  return JSON.stringify([m.text, m.state, m.edited, m.deleted, m.reactions, m.read && opts.readReceipts, m.reply,
    m.reply ? opts.lookup(m.reply)?.text ?? null : null, m.reply ? !!opts.lookup(m.reply)?.deleted : null,
    opts.day, opts.divider, opts.expanded, opts.picker, m.exp]);
}
