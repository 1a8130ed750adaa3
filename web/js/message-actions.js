//# allFunctionsCalledOnLoad
// A message's actions (Reply, React, and on one's own messages Edit and Delete for everyone): one
// toolbar, moved into the message pointed at, focused or tapped, instead of buttons under every
// message. A drawn transcript holds hundreds of messages, and their buttons cost every frame its
// hit tests and paint while messages come in. From the keyboard, the transcript is one tab stop:
// Up and Down (Home, End) go from message to message, and Tab from a message to its actions.
import { el } from './dom.js';

const itemMessage = new WeakMap(); // a drawn item -> the message it shows
let bar = null;
let wiring = null; // { handlers, pickerOpen(m) }

/** The item `li` shows message `m`, which has actions (everyday-view.js messageItem, patchItem). */
export function markActionable(li, m) {
  li.tabIndex = -1;
  itemMessage.set(li, m);
}

function button(text, act) {
  return el('button', {
    type: 'button',
    className: 'link',
    textContent: text,
    onclick: () => {
      const m = bar.parentElement && itemMessage.get(bar.parentElement);
      if (m) act(m);
    },
  });
}

function theBar() {
  if (!bar) {
    const h = wiring.handlers;
    bar = el('span', { className: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
      button('Reply', (m) => h.reply(m)),
      button('React', (m) => h.togglePicker(m)),
      button('Edit', (m) => h.edit(m)),
      button('Delete for everyone', (m) => h.remove(m)));
  }
  return bar;
}

/** Shows the actions in item `li` (nothing when it has none). */
export function showActions(li) {
  const m = li && itemMessage.get(li);
  if (!m || !wiring) return;
  const b = theBar();
  const mine = m.from === 'me';
  const [, react, edit, remove] = b.children;
  react.setAttribute('aria-expanded', wiring.pickerOpen(m) ? 'true' : 'false');
  edit.hidden = !mine;
  remove.hidden = !mine;
  const picker = li.querySelector(':scope > .emoji-picker');
  if (b.parentElement && b.parentElement !== li) b.parentElement.classList.remove('acting');
  li.classList.add('acting');
  if (b.parentElement !== li || b.nextElementSibling !== picker) li.insertBefore(b, picker);
}

/**
 * Item `was` was drawn again as `now` (transcript-view.js): the actions it showed go with it, and
 * the focus that was in them (`focused`, taken before the swap) comes back.
 */
export function carryActions(was, now, focused) {
  if (!bar || bar.parentElement !== was) return;
  showActions(now);
  if (focused && bar.contains(focused)) focused.focus({ preventScroll: true });
}

/** Wires the transcript `log` (once): pointer, focus and keys show the actions. */
export function installActions(log, handlers, pickerOpen) {
  wiring = { handlers, pickerOpen };
  log.tabIndex = 0;
  const itemOf = (node) => {
    const li = node instanceof Element ? node.closest('li') : null;
    return li && li.parentElement === log ? li : null;
  };
  log.addEventListener('pointerover', (ev) => {
    const li = itemOf(ev.target);
    if (li && bar?.parentElement !== li) showActions(li);
  });
  log.addEventListener('focusin', (ev) => {
    const li = itemOf(ev.target);
    if (li && bar?.parentElement !== li) showActions(li);
  });
  log.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(ev.key)) return;
    const items = [...log.children].filter((li) => itemMessage.has(li));
    if (!items.length) return;
    const at = items.indexOf(itemOf(ev.target));
    let next;
    if (ev.key === 'Home') next = 0;
    else if (ev.key === 'End') next = items.length - 1;
    else if (at < 0) next = items.length - 1; // from the list itself: the latest message
    else next = Math.min(items.length - 1, Math.max(0, at + (ev.key === 'ArrowUp' ? -1 : 1)));
    ev.preventDefault();
    items[next].focus();
  });
}
