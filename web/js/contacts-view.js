//# allFunctionsCalledOnLoad
// The conversation list: chat requests waiting for Accept or Decline, the contacts (most recent
// first) with their presence, last message and unread count, and the counts on the Back button
// and in the page title. Untrusted text goes in through textContent only.
import { $, el, setHidden } from './dom.js';
import { shortWhen } from './transcript-view.js';
import { blockRequestButton, renderBlocked } from './block-view.js';
import { lastShown } from './everyday-view.js';

/** Draws the waiting requests; ui: {busy, openChat} of the app. */
export function renderRequests(m, chat, ui) {
  const box = $('requests');
  box.replaceChildren();
  if (!m) return;
  renderBack(m, chat);
  for (const name of m.requests.keys()) {
    const accept = el('button', { type: 'button', textContent: 'Accept' });
    const decline = el('button', { type: 'button', className: 'secondary', textContent: 'Decline' });
    accept.addEventListener('click', () => ui.busy([accept, decline], async () => {
      await m.answerRequest(name, true); // the list is drawn again on its 'request' event
      if (m.contacts[name]) ui.openChat(name); // not when the accept had to be undone
    }));
    decline.addEventListener('click', () => ui.busy([accept, decline], () => m.answerRequest(name, false)));
    const who = el('strong', { textContent: name });
    // What they wrote while the request waited (it came with the request, by mail): shown as
    // text only, unacknowledged until Accept.
    const waiting = m.history(name).filter((x) => x.from === 'them');
    const said = waiting.length
      ? el('ol', { className: 'request-messages', 'aria-label': `Messages from ${name}` },
        ...waiting.slice(-20).map((x) => el('li', { textContent: x.text })))
      : '';
    box.append(el('div', { className: 'request', role: 'group', 'aria-label': `Request from ${name}` },
      el('p', {}, who, ' wants to chat with you.'), said,
      el('div', { className: 'actions' }, accept, decline, blockRequestButton(m, name, [accept, decline]))));
  }
  renderBlocked(m);
}

const STATUS_TEXT = {
  connected: 'connected',
  connecting: 'connecting…',
  online: 'online',
  offline: 'offline',
  hidden: 'presence hidden',
  unreachable: 'online, no direct link',
  blocked: 'blocked',
};

/** Draws the contact list; a click opens the chat (openChat). The list is kept in step in place:
 * a row is drawn again only when what it shows changed, and rows are moved to follow the order
 * (this runs at every message; a row that keeps its button keeps keyboard focus too). */
const rows = new Map(); // name -> { li, sig }

export function renderContacts(m, chat, openChat) {
  const list = $('contacts');
  if (!m) {
    resetContacts();
    return;
  }
  const contacts = Object.values(m.contacts)
    .map((c) => ({ c, h: m.history(c.name) }))
    .sort((a, b) => lastActivity(b) - lastActivity(a));
  const want = [];
  const today = new Date().toDateString(); // a row's time becomes a date after midnight
  for (const { c, h } of contacts) {
    const link = c.status === 'blocked' ? 'blocked' : m.linkState(c.name);
    const last = lastShown(h); // not an action; a deleted message's words
    const sig = [link, c.unread || 0, chat === c.name, last?.ts, last?.from, last?.text, today];
    let row = rows.get(c.name);
    if (!row || !sameRow(row.sig, sig)) {
      const li = contactRow(c, link, last, chat, openChat);
      if (row) row.li.replaceWith(li);
      row = { li, sig };
      rows.set(c.name, row);
    }
    want.push(row.li);
  }
  const names = new Set(Object.keys(m.contacts));
  for (const [name, row] of rows) {
    if (!names.has(name)) {
      row.li.remove();
      rows.delete(name);
    }
  }
  want.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.children.length > want.length) list.lastElementChild.remove();
  setHidden($('empty'), !!chat);
  renderBack(m, chat);
}

/** Forgets what is drawn (log-out). */
export function resetContacts() {
  $('contacts').replaceChildren();
  rows.clear();
}

function sameRow(a, b) {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function contactRow(c, link, last, chat, openChat) {
  const presence = el('span', { className: 'presence', dataset: { state: link }, textContent: STATUS_TEXT[link] });
  const unread = c.unread ? el('span', { className: 'unread', textContent: String(c.unread), 'aria-label': `${c.unread} unread` }) : '';
  const when = last ? el('time', { className: 'when', dateTime: new Date(last.ts).toISOString(), textContent: shortWhen(last.ts) }) : '';
  // The last message, cut to one line (textContent only, like the transcript).
  const preview = last ? el('span', { className: 'preview', textContent: `${last.from === 'me' ? 'You: ' : ''}${Array.from(last.text.slice(0, 240)).slice(0, 120).join('').replace(/\s+/g, ' ')}` }) : '';
  const btn = el('button', { type: 'button', className: 'contact', dataset: { name: c.name }, 'aria-current': chat === c.name ? 'true' : 'false' },
    el('span', { className: 'name', textContent: c.name }), when,
    el('span', { className: 'line' }, presence, preview), unread);
  btn.addEventListener('click', () => openChat(c.name));
  return el('li', {}, btn);
}

// On a phone the list is hidden while a chat is open: the Back button counts what waits there
// (chat requests, and unread messages of other chats). The page title counts them all, for a tab
// in the background.
export function renderBack(m, chat) {
  let waiting = m ? m.requests.size : 0;
  let all = waiting;
  if (m) {
    for (const c of Object.values(m.contacts)) {
      all += c.unread || 0;
      if (c.name !== chat) waiting += c.unread || 0;
    }
  }
  // Touched only when a count changed: this runs with every render.
  const title = all ? `(${all}) Parley` : 'Parley';
  if (document.title !== title) document.title = title;
  const back = $('back');
  if (back.dataset.waiting === String(waiting)) return;
  back.dataset.waiting = String(waiting);
  back.replaceChildren('←');
  if (waiting) back.append(el('span', { className: 'count', textContent: String(waiting) }));
  back.setAttribute('aria-label', waiting ? `Back to conversations (${waiting} new)` : 'Back to conversations');
}

function lastActivity({ c, h }) {
  return h.length ? h[h.length - 1].ts : (c.since || 0);
}
