//# allFunctionsCalledOnLoad
// The controls of contacts.js (names via textContent only).
import { $, el, setHidden, setText } from './dom.js';
import { banner, busy, plain, state } from './shell.js';
import { resetTranscript } from './transcript-view.js';

// eslint-disable-next-line no-alert
const ask = (text) => window.confirm(text);

export function wireContactActions(closeChat) {
  $('block').addEventListener('click', () => {
    const m = state.messenger;
    const name = state.chat;
    if (!m || !name) return;
    if (m.isBlocked(name)) {
      busy($('block'), () => m.unblock(name));
      return;
    }
    if (!ask(`Block ${name}? Their requests and messages will be dropped unseen, and they will see you as offline. They are not told.`)) return;
    busy($('block'), () => m.block(name));
  });
  $('remove-contact').addEventListener('click', () => {
    const m = state.messenger;
    const name = state.chat;
    if (!m || !name) return;
    if (!ask(`Remove ${name} from your contacts? The chat and its messages are deleted from this device, ${name} is told the chat ended, and they no longer see when you are online.`)) return;
    busy($('remove-contact'), async () => {
      await m.removeContact(name);
      if (state.chat === name) closeChat();
    });
  });
  $('delete-chat').addEventListener('click', () => {
    const m = state.messenger;
    const name = state.chat;
    if (!m || !name) return;
    if (!ask(`Delete the chat with ${name}? Its messages are removed from this device; ${name} stays in your contacts.`)) return;
    busy($('delete-chat'), async () => {
      await m.deleteChat(name);
      resetTranscript(); // drawn again from the empty history
      m.changed(name);
    });
  });
}

export function renderContactActions(m, name) {
  const blocked = !!m && !!name && m.isBlocked(name);
  setText($('block'), blocked ? 'Unblock' : 'Block');
  setHidden($('block'), !!(m && name && m.contacts[name]?.code)); // a code contact has no account to block
  setHidden($('remove-contact'), blocked);
}

export function blockRequestButton(m, name, others) {
  const b = el('button', { type: 'button', className: 'secondary', textContent: 'Block' });
  b.addEventListener('click', () => {
    if (!ask(`Block ${name}? This request and anything they send later are dropped unseen, and they are not told.`)) return;
    busy([b, ...others], () => m.block(name));
  });
  return b;
}

// Blocked people not in the conversation list.
export function renderBlocked(m) {
  const list = $('blocked-list');
  list.replaceChildren();
  const names = m ? [...m.blocked.keys()].filter((n) => !m.contacts[n]).sort() : [];
  $('blocked-people').hidden = names.length === 0;
  for (const name of names) {
    const b = el('button', { type: 'button', className: 'secondary', textContent: 'Unblock', 'aria-label': `Unblock ${name}` });
    b.addEventListener('click', () => busy(b, () => state.messenger?.unblock(name), (e) => banner(plain(e)))); // the current one
    list.append(el('li', {}, el('span', { textContent: name }), b));
  }
}
