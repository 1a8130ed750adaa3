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

// The transcript is updated in place: one list item per message, keyed by message id; an item is
// drawn again only when what it shows changed (a receipt, an edit, a reaction), and items are
// moved or removed to follow the transcript (a message that disappeared, a search).
// Whether the transcript follows new messages is kept from its scroll events, so rendering never
// has to ask for a layout in the middle of a change (the scroll waits for the next frame).
// A scroll event can arrive after a new message was appended but before the queued scroll to it
// has run; measured then, the transcript looks scrolled up. So a scroll only stops the following
// when it went above where the transcript was last taken to (autoTop), that is, when the person
// scrolled up.
const rendered = { name: null, items: new Map(), stick: true, scrollQueued: false, autoTop: 0, gen: 0 };

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
  const fileList = reading.query ? [] : files;
  let f = 0;
  // One options object for the whole drawing, its per-message fields set in turn (messageItem
  // keeps none of it): nothing is built for the many messages that did not change.
  const opts = { name, lookup, readReceipts, handlers: reading.handlers, day: null, divider: false, expanded: false, picker: false };
  const now = Date.now();
  for (const msg of history) {
    if (!shown(msg) || !matches(msg, reading.query)) continue;
    while (f < fileList.length && fileList[f].ts <= msg.ts) want.push(fileList[f++].li);
    const key = `${msg.from}:${msg.id}`;
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
  for (const [key, item] of rendered.items) {
    if (item.gen !== gen) {
      item.li.remove();
      rendered.items.delete(key);
    }
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
