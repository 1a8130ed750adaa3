//# allFunctionsCalledOnLoad
// The open chat's transcript: one list item per message, kept in step with the messenger's
// history, and following the conversation unless the person scrolled up.
import { $, el } from './dom.js';
import { carryActions } from './message-actions.js';
import {
  dayKey, dayLabel, keyOf, matches, messageItem, patchItem, reading, sameSignature, shown, signature,
} from './everyday-view.js';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function shortWhen(ts) {
  return new Date(ts).toDateString() === new Date().toDateString() ? timeFmt.format(ts) : dayFmt.format(ts);
}

// A chat draws its latest messages only: SHOWN_LATEST at first, or from the "New messages" divider
// when more are unread (up to MAX_DRAWN); "Show earlier messages (N more)" above them draws
// SHOWN_LATEST more each time. Every item drawn costs each new message its share of the browser's
// paint and hit tests, so a long chat stays as quick as a short one. While the person reads
// further up, new messages do not slide the drawn ones away; back at the end, the chat draws its
// window again. A search draws every match.
export const SHOWN_LATEST = 200;
const MAX_DRAWN = 1000;

// The transcript is updated in place: one list item per message, keyed by message id; an item is
// drawn again only when what it shows changed (a receipt, an edit, a reaction), and items are
// moved or removed to follow the transcript (a message that disappeared, a search).
// Whether the transcript follows new messages is kept from its scroll events, so rendering never
// has to ask for a layout in the middle of a change (the scroll waits for the next frame).
// A scroll event can arrive after a new message was appended but before the queued scroll to it
// has run; measured then, the transcript looks scrolled up. So a scroll only stops the following
// when it went above where the transcript was last taken to (autoTop), that is, when the person
// scrolled up.
const rendered = {
  name: null, items: new Map(), stick: true, scrollQueued: false, autoTop: 0, gen: 0,
  limit: SHOWN_LATEST, opened: true, firstKey: null, drawn: 0, earlier: null,
};

// The item that draws earlier messages (made once); `more` messages are not drawn.
function earlierItem(more) {
  if (!rendered.earlier) {
    const button = el('button', { type: 'button', className: 'link' });
    button.addEventListener('click', () => {
      const log = $('transcript');
      const fromEnd = log.scrollHeight - log.scrollTop; // the items read stay where they were
      const first = rendered.firstKey;
      rendered.limit = rendered.drawn + SHOWN_LATEST;
      reading.rerender?.();
      log.scrollTop = log.scrollHeight - fromEnd;
      // All drawn, the button is gone: the focus goes to the item just above those read (the
      // first of those was drawn again: its day now shows above).
      const above = !rendered.earlier.isConnected && rendered.items.get(first)?.li.previousElementSibling;
      if (above) {
        if (!above.hasAttribute('tabindex')) above.tabIndex = -1; // a file's item
        above.focus({ preventScroll: true });
      }
    });
    rendered.earlier = el('li', { className: 'earlier' }, button);
  }
  const text = `Show earlier messages (${more} more)`;
  const button = rendered.earlier.firstElementChild;
  if (button.textContent !== text) button.textContent = text;
  rendered.earlier.dataset.more = String(more);
  return rendered.earlier;
}

// The index in `list` (the messages shown, oldest first) of the message keyed `key`, or -1.
function indexOf(list, key) {
  if (!key) return -1;
  const cut = key.indexOf(':');
  const from = key.slice(0, cut);
  const id = key.slice(cut + 1);
  for (let i = list.length - 1; i >= 0; i -= 1) if (list[i].id === id && list[i].from === from) return i;
  return -1;
}

// The index of the first message drawn, in `list`.
function firstDrawn(list) {
  if (reading.query) return 0;
  if (rendered.opened) {
    // The chat was just opened: what is unread is drawn from its divider on.
    rendered.opened = false;
    const divider = indexOf(list, reading.dividerBefore);
    rendered.limit = divider >= 0 ? Math.min(MAX_DRAWN, Math.max(SHOWN_LATEST, list.length - divider)) : SHOWN_LATEST;
  }
  let start = Math.max(0, list.length - rendered.limit);
  // Reading further up: the window does not slide under the person as new messages come.
  if (!rendered.stick) {
    const kept = indexOf(list, rendered.firstKey);
    if (kept >= 0 && kept < start) start = kept;
  }
  return start;
}

/** Whether a file's item is in the transcript, or was left out of it at the last drawing. */
export function placed(li) {
  return li.isConnected || !!rendered.leftOut?.has(li);
}

/** A chat is being opened (chat-view.js): it is drawn afresh, from its end (or its divider). */
export function transcriptOpening() {
  rendered.name = null;
}

function follow(log) {
  log.scrollTop = log.scrollHeight;
  rendered.autoTop = log.scrollTop;
}

/**
 * Draws the chat's transcript: its messages, and files ([{ts, li}] oldest first, files-view.js),
 * each file before the first message that is newer. While searching, only matching messages.
 * This is the one place that orders #transcript's items.
 */
export function renderTranscript(m, name, files = []) {
  const log = $('transcript');
  if (rendered.name !== name) {
    rendered.name = name;
    rendered.items = new Map();
    rendered.stick = true;
    rendered.autoTop = 0;
    rendered.opened = true;
    rendered.firstKey = null;
    log.replaceChildren();
  }
  let added = false;
  const history = m.history(name);
  const readReceipts = m.settings?.().readReceipts ?? false;
  // The messages replies quote, by id (made once per drawing, when a reply needs it).
  let byId = null;
  const lookup = (id) => {
    if (!byId) {
      byId = new Map();
      for (const x of history) if (!x.kind && x.from !== 'system') byId.set(x.id, x);
    }
    return byId.get(id);
  };
  const want = [];
  const gen = ++rendered.gen; // items drawn this time carry it; the others go
  let lastDay = null;
  const list = [];
  for (const msg of history) if (shown(msg) && matches(msg, reading.query)) list.push(msg);
  const start = firstDrawn(list);
  if (!reading.query) { // what a search draws says nothing of where the person reads
    rendered.firstKey = start < list.length ? keyOf(list[start]) : null;
    rendered.drawn = list.length - start;
  }
  // Files older than the first message drawn are not drawn either.
  const fileList = reading.query ? [] : (start > 0 ? files.filter((x) => x.ts > list[start - 1].ts) : files);
  // (files is oldest first, so those left out are the first ones.)
  const leftOut = files.length - fileList.length;
  rendered.leftOut = leftOut ? new Set(files.slice(0, leftOut).map((x) => x.li)) : null;
  let f = 0;
  if (start > 0) want.push(earlierItem(start));
  // One options object for the whole drawing, its per-message fields set in turn (messageItem
  // keeps none of it): nothing is built for the many messages that did not change.
  const opts = { name, lookup, readReceipts, handlers: reading.handlers, day: null, divider: false, expanded: false, picker: false };
  const now = Date.now();
  for (let k = start; k < list.length; k += 1) {
    const msg = list[k];
    while (f < fileList.length && fileList[f].ts <= msg.ts) want.push(fileList[f++].li);
    const key = keyOf(msg);
    let item = rendered.items.get(key);
    // A message's time never changes: its day is worked out once per item.
    const day = item && item.ts === msg.ts ? item.day : dayKey(msg.ts);
    opts.day = day !== lastDay ? dayLabel(msg.ts, now) : null;
    opts.divider = reading.dividerBefore === key;
    opts.expanded = reading.expanded.has(key);
    opts.picker = reading.picker === key;
    lastDay = day;
    if (!item) {
      item = { li: messageItem(msg, opts), sig: signature(msg, opts), ts: msg.ts, day };
      rendered.items.set(key, item);
      added = true;
    } else if (!sameSignature(item.sig, msg, opts)) {
      const sig = signature(msg, opts);
      item.ts = msg.ts;
      item.day = day;
      if (patchItem(item.li, item.sig, sig, msg)) {
        item.sig = sig;
        item.gen = gen;
        want.push(item.li);
        continue;
      }
      const li = messageItem(msg, opts);
      const focused = document.activeElement;
      item.li.replaceWith(li);
      carryActions(item.li, li, focused);
      item.li = li;
      item.sig = sig;
    }
    item.gen = gen;
    want.push(item.li);
  }
  while (f < fileList.length) want.push(fileList[f++].li);
  let removed = false;
  for (const [key, item] of rendered.items) {
    if (item.gen !== gen) {
      item.li.remove();
      rendered.items.delete(key);
      removed = true;
    }
  }
  // What else is not wanted (file items and the button out of the window) goes before the items
  // are put in order, so that the walk below moves none of those that stay.
  const wanted = new Set(want);
  for (let node = log.firstElementChild; node;) {
    const next = node.nextElementSibling;
    if (!wanted.has(node)) {
      node.remove();
      removed = true;
    }
    node = next;
  }
  // Items taken away above the end move the scroll position up, as the person's scrolling would:
  // a following transcript goes on following (until the scroll to its end, queued below).
  if (removed && rendered.stick) {
    rendered.autoTop = -Infinity;
    added = true;
  }
  // In order, walking the list once (no indexed access into the live children).
  let node = log.firstElementChild;
  for (const li of want) {
    if (node === li) node = node.nextElementSibling;
    else log.insertBefore(li, node);
  }
  while (node) {
    const next = node.nextElementSibling;
    node.remove();
    node = next;
  }
  if (added && rendered.stick && !rendered.scrollQueued) {
    rendered.scrollQueued = true;
    requestAnimationFrame(() => {
      rendered.scrollQueued = false;
      if (rendered.stick) follow(log);
    });
  }
}

/** Forgets what is drawn (log-out). */
export function resetTranscript() {
  $('transcript').replaceChildren();
  rendered.name = null;
  rendered.items = new Map();
}

/** Keeps whether the transcript follows from its scroll events, and keeps a following one at its
 * end when it changes size (a phone's keyboard opening, the window resized, the box growing). */
export function followTranscript() {
  $('transcript').addEventListener('scroll', () => {
    const log = $('transcript');
    const was = rendered.stick;
    rendered.stick = log.scrollTop >= rendered.autoTop - 1 || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (rendered.stick && !was) rendered.limit = SHOWN_LATEST; // back at the end: the latest again, from the next drawing
    // Scrolled up: only coming back to the end follows again (not passing the old end on the
    // way down while newer messages are below it).
    if (!rendered.stick) rendered.autoTop = Infinity;
  }, { passive: true });
  new ResizeObserver(() => {
    if (rendered.stick) follow($('transcript'));
  }).observe($('transcript'));
}
