//# allFunctionsCalledOnLoad
// A message's actions (Reply, React, and on one's own messages Edit and Delete for everyone): one
// toolbar, moved into the message pointed at, focused or tapped, instead of buttons under every
// message. A drawn transcript holds hundreds of messages, and their buttons cost every frame its
// hit tests and paint while messages come in. From the keyboard, the messages are one tab stop
// (the links and "Show more" of a message are stops of their own): Up and Down (Home, End) go
// from message to message, and Tab from a message to its actions. A focused message shows its
// full date (style.css).
import { el } from './dom.js';

const itemMessage = new WeakMap(); // a drawn item -> the message it shows, when it has actions
const reachable = new WeakSet(); // the items the arrow keys go to: messages and notices
let bar = null;
let wiring = null; // { handlers, pickerOpen(m) }

/** Item `li` is reached by the arrow keys (a notice: a line of the transcript's own). */
export function markReachable(li) {
  if (reachable.has(li)) return; // patched in place: a tab stop it is (the one focused last) stays one
  li.tabIndex = -1;
  reachable.add(li);
}

/** The item `li` shows message `m`, which has actions (everyday-view.js messageItem, patchItem). */
export function markActionable(li, m) {
  markReachable(li);
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
    // Not read out each time it moves: the transcript is a live region (role log).
    bar = el('span', { className: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions', 'aria-live': 'off' },
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
 * the focus that was in it (`focused`, taken before the swap) stays: on the same action when the
 * actions came along, else on the new item (a message just deleted has no actions).
 */
export function carryActions(was, now, focused) {
  if (bar && bar.parentElement === was) showActions(now);
  if (!focused || !was.contains(focused)) return;
  if (bar?.contains(focused) && bar.parentElement === now) {
    focused.focus({ preventScroll: true });
    return;
  }
  now.focus({ preventScroll: true }); // every item drawn is reachable (tabindex -1 at least)
}

// The message or notice next to `li` above it (step -1) or below it (+1), passing over files and
// separators; null past either end. From outside any item: the latest.
function neighbour(log, li, step) {
  const all = [...log.children];
  const at = li ? all.indexOf(li) : -1;
  if (at < 0) return all.findLast((x) => reachable.has(x)) || null;
  for (let i = at + step; i >= 0 && i < all.length; i += step) if (reachable.has(all[i])) return all[i];
  return null;
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
    // Not away from a keyboard's focus in the actions (moving them would drop it).
    if (li && bar?.parentElement !== li && !bar?.querySelector(':focus-visible')) showActions(li);
  });
  let current = null; // the item focused last: a tab stop (tabindex 0), so Shift+Tab from its actions comes back to it
  log.addEventListener('focusin', (ev) => {
    const li = itemOf(ev.target);
    if (li && reachable.has(li) && current !== li) {
      if (current) current.tabIndex = -1;
      li.tabIndex = 0;
      current = li;
    }
    if (li && bar?.parentElement !== li) showActions(li);
  });
  log.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(ev.key)) return;
    let next;
    if (ev.key === 'Home') next = [...log.children].find((x) => reachable.has(x));
    else if (ev.key === 'End') next = neighbour(log, null, 1);
    else next = neighbour(log, itemOf(ev.target), ev.key === 'ArrowUp' ? -1 : 1);
    if (!next) return;
    ev.preventDefault();
    next.focus();
  });
}
