//# allFunctionsCalledOnLoad
// The open chat's transcript: one list item per message, kept in step with the messenger's
// history, and following the conversation unless the person scrolled up.
import { $, el } from './dom.js';

// sending: still on this device; sent: the peer's link took it or the server stored it for them;
// delivered: their receipt came.
const DELIVERY = { queued: 'sending', sent: 'sent', delivered: 'delivered' };
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function shortWhen(ts) {
  return new Date(ts).toDateString() === new Date().toDateString() ? timeFmt.format(ts) : dayFmt.format(ts);
}

// The transcript is updated in place: one list item per message, keyed by message id, so a
// receipt changes one element instead of redrawing the whole conversation.
// Whether the transcript follows new messages is kept from its scroll events, so rendering never
// has to ask for a layout in the middle of a change (the scroll waits for the next frame).
// A scroll event can arrive after a new message was appended but before the queued scroll to it
// has run; measured then, the transcript looks scrolled up. So a scroll only stops the following
// when it went above where the transcript was last taken to (autoTop), that is, when the person
// scrolled up.
const rendered = { name: null, items: new Map(), stick: true, scrollQueued: false, autoTop: 0 };

function follow(log) {
  log.scrollTop = log.scrollHeight;
  rendered.autoTop = log.scrollTop;
}

function messageItem(msg, name) {
  if (msg.from === 'system') {
    // A line of the app's own about this chat (a message that could not be decrypted).
    const li = el('li', { className: 'msg notice' },
      el('p', { className: 'text', textContent: msg.text }),
      el('span', { className: 'meta' },
        el('time', { dateTime: new Date(msg.ts).toISOString(), textContent: timeFmt.format(msg.ts) })));
    return { li, delivery: null, state: msg.state };
  }
  const delivery = msg.from === 'me'
    ? el('span', { className: 'delivery', dataset: { state: msg.state }, textContent: DELIVERY[msg.state] || msg.state })
    : null;
  const meta = el('span', { className: 'meta' },
    el('span', { className: 'sender', textContent: msg.from === 'me' ? 'You' : name }),
    ' · ',
    el('time', { dateTime: new Date(msg.ts).toISOString(), textContent: timeFmt.format(msg.ts) }));
  if (delivery) meta.append(' · ', delivery);
  const li = el('li', { className: `msg ${msg.from === 'me' ? 'mine' : 'theirs'}` },
    el('p', { className: 'text', textContent: msg.text }), meta);
  return { li, delivery, state: msg.state };
}

export function renderTranscript(m, name) {
  const log = $('transcript');
  if (rendered.name !== name) {
    rendered.name = name;
    rendered.items = new Map();
    rendered.stick = true;
    rendered.autoTop = 0;
    log.replaceChildren();
  }
  let added = false;
  for (const msg of m.history(name)) {
    const key = `${msg.from}:${msg.id}`;
    let item = rendered.items.get(key);
    if (!item) {
      item = messageItem(msg, name);
      rendered.items.set(key, item);
      log.append(item.li);
      added = true;
    } else if (item.delivery && item.state !== msg.state) {
      item.state = msg.state;
      item.delivery.dataset.state = msg.state;
      item.delivery.textContent = DELIVERY[msg.state] || msg.state;
    }
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
