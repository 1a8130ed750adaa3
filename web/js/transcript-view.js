//# allFunctionsCalledOnLoad
// The open chat's transcript: one list item per message, kept in step with the messenger's
// history, and following the conversation unless the person scrolled up.
import { $ } from './dom.js';
import { dayKey, dayLabel, matches, messageItem, patchItem, reading, sameSignature, shown, signature } from './everyday-view.js';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function shortWhen(ts) {
  return new Date(ts).toDateString() === new Date().toDateString() ? timeFmt.format(ts) : dayFmt.format(ts);
}

// A chat draws its latest messages only, SHOWN_LATEST at first; "Show earlier messages" above them
// draws as many again each time. Every item drawn costs each new message its share of the
// browser's paint and hit tests, so a long chat stays as quick as a short one. The "New messages"
// divider is drawn with what follows it (up to MAX_DRAWN messages); a search draws every match.
export const SHOWN_LATEST = 200;
const MAX_DRAWN = 1000;
const keyOf = (msg) => `${msg.from}:${msg.id}`;

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
  name: null, items: new Map(), stick: true, scrollQueued: false, autoTop: 0, gen: 0, limit: SHOWN_LATEST, firstKey: null, earlier: null,
};

// The item that draws earlier messages (made once).
function earlierItem() {
  if (!rendered.earlier) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link';
    button.textContent = 'Show earlier messages';
    button.addEventListener('click', () => {
      const log = $('transcript');
      const fromEnd = log.scrollHeight - log.scrollTop; // the items read stay where they were
      const was = rendered.items.get(rendered.firstKey)?.li;
      rendered.limit += SHOWN_LATEST;
      reading.rerender?.();
      log.scrollTop = log.scrollHeight - fromEnd;
      // All drawn, the button is gone: the focus goes to the message just above those read.
      if (!rendered.earlier.isConnected) was?.previousElementSibling?.querySelector('button')?.focus({ preventScroll: true });
    });
    rendered.earlier = document.createElement('li');
    rendered.earlier.className = 'earlier';
    rendered.earlier.append(button);
  }
  return rendered.earlier;
}

// The index of the first message drawn, in `list` (the messages shown, oldest first).
function firstDrawn(list) {
  if (reading.query) return 0;
  let start = Math.max(0, list.length - rendered.limit);
  const at = (key) => {
    if (!key) return -1;
    const cut = key.indexOf(':');
    const from = key.slice(0, cut);
    const id = key.slice(cut + 1);
    return list.findIndex((x) => x.id === id && x.from === from);
  };
  // Reading further up: the window does not slide under the person as new messages come.
  const kept = rendered.stick ? -1 : at(rendered.firstKey);
  if (kept >= 0 && kept < start) start = kept;
  const divider = at(reading.dividerBefore);
  if (divider >= 0 && divider < start && list.length - divider <= MAX_DRAWN) start = divider;
  rendered.limit = Math.max(rendered.limit, list.length - start);
  return start;
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
    rendered.limit = SHOWN_LATEST;
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
  rendered.firstKey = start < list.length ? keyOf(list[start]) : null;
  // Files older than the first message drawn are not drawn either.
  const fileList = reading.query ? [] : (start > 0 ? files.filter((x) => x.ts > list[start - 1].ts) : files);
  let f = 0;
  if (start > 0) want.push(earlierItem());
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
      item.li.replaceWith(li);
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
    rendered.stick = log.scrollTop >= rendered.autoTop - 1 || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    // Scrolled up: only coming back to the end follows again (not passing the old end on the
    // way down while newer messages are below it).
    if (!rendered.stick) rendered.autoTop = Infinity;
  }, { passive: true });
  new ResizeObserver(() => {
    if (rendered.stick) follow($('transcript'));
  }).observe($('transcript'));
}
