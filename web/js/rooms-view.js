//# allFunctionsCalledOnLoad
// Rooms on screen (rooms.js holds them): the "Rooms" list in the sidebar, the New room form, and
// the open room: its members ("Room members", with Add member / Remove member for admins, Leave
// room), its transcript (role="log", one list item per message with its sender, and for own
// messages "delivered to N of M") and its composer; key codes (keycode.js, docs/PROTOCOL.md 20.8):
// "Show my key code", and "Key code" / "Add key" in New room and Add member. Untrusted text only
// via textContent.
import { $, el, setHidden, setText } from './dom.js';
import { plain, state } from './shell.js';
import { fromB64u, toB64u } from './encoding.js';
import { KeyCodeError, keyCode, readKeyCode, shortKeyCode } from './keycode.js';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
let openHex = null;

function m() {
  return state.messenger;
}

function showError(id, text) {
  setText($(id), text || '');
  setHidden($(id), !text);
}

export function renderRooms() {
  const messenger = m();
  if (!messenger?.rooms) return;
  const sig = JSON.stringify([openHex, [...messenger.rooms.values()].map((r) => [r.hex, r.info.name, r.status, r.unread])]);
  if ($('rooms').dataset.sig === sig) {
    renderRoom();
    return;
  }
  $('rooms').dataset.sig = sig;
  const items = [...messenger.rooms.values()].map((r) => {
    const label = r.status === 'active' ? r.info.name : `${r.info.name} (${r.status === 'removed' ? 'removed' : 'left'})`;
    const btn = el('button', { type: 'button', className: 'contact', dataset: { room: r.hex }, 'aria-current': openHex === r.hex ? 'true' : 'false' },
      el('span', { className: 'name', textContent: label }));
    if (r.unread) btn.append(el('span', { className: 'unread badge', textContent: String(r.unread), 'aria-label': `${r.unread} unread` }));
    btn.addEventListener('click', () => openRoomView(r.hex));
    return el('li', {}, btn);
  });
  $('rooms').replaceChildren(...items);
  renderRoom();
}

// The open room's items, kept between drawings: an item is made again only when what it shows
// changed (a receipt), so a busy room does not rebuild its whole transcript at every change.
const drawn = { hex: null, items: new Map() };

function messageItem(entry, delivery) {
  if (entry.from === 'system') {
    return el('li', { className: 'msg notice' }, el('p', { className: 'text', textContent: entry.text }));
  }
  const mine = entry.from === 'me';
  const meta = el('span', { className: 'meta' }, timeFmt.format(entry.ts));
  if (mine) meta.append(' · ', el('span', { className: 'delivery', textContent: delivery }));
  return el('li', { className: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { id: entry.id } },
    el('span', { className: 'sender', textContent: mine ? 'You' : entry.by }),
    el('p', { className: 'text', textContent: entry.text }),
    meta);
}

function renderLog(messenger, room) {
  if (drawn.hex !== room.hex) {
    drawn.hex = room.hex;
    drawn.items = new Map();
  }
  const states = messenger.roomDeliveryStates(room);
  const want = [];
  const keep = new Map();
  for (const e of room.log) {
    const key = `${e.from}:${e.by || ''}:${e.id}`;
    let delivery = '';
    if (e.from === 'me') {
      const { delivered, total } = messenger.roomDelivery(e, states);
      delivery = `delivered to ${delivered} of ${total}`;
    }
    let item = drawn.items.get(key);
    if (!item || item.delivery !== delivery) item = { li: messageItem(e, delivery), delivery };
    keep.set(key, item);
    want.push(item.li);
  }
  drawn.items = keep;
  const list = $('room-transcript');
  const log = list.parentElement;
  const same = want.length === list.children.length && want.every((li, i) => list.children[i] === li);
  if (same) return;
  const following = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  list.replaceChildren(...want);
  if (following) log.scrollTop = log.scrollHeight;
}

function drawMembers(messenger, room, members, admin) {
  $('room-members').replaceChildren(...members.map((mem) => {
    const who = mem.me ? `${messenger.roomSelfName()} (you)` : (mem.name || `unknown (key code ${shortKeyCode(fromB64u(mem.key))})`);
    const li = el('li', {}, el('span', { textContent: `${who}${mem.role === 'admin' ? ', admin' : ''}${room.gone.has(mem.key) ? ', left' : ''}` }));
    // This page's direct connection with the member (rooms-mesh.js), in words.
    if (!mem.me && room.status === 'active') li.append(el('span', { className: 'link-state', textContent: ` · ${messenger.meshState(room, mem.key)}` }));
    if (admin && !mem.me) {
      const b = el('button', { type: 'button', className: 'secondary', textContent: 'Remove member', 'aria-label': `Remove member ${mem.name || shortKeyCode(fromB64u(mem.key))}` });
      b.addEventListener('click', () => act(b, () => messenger.removeMember(room.hex, mem.key)));
      li.append(b);
    }
    return li;
  }));
}

function renderRoom() {
  const messenger = m();
  const room = openHex ? messenger?.rooms.get(openHex) : null;
  if (!room) {
    closeRoomView();
    return;
  }
  const active = room.status === 'active';
  const admin = active && messenger.roomRole(room) === 'admin';
  setText($('room-name'), room.info.name);
  const members = messenger.roomMembers(room);
  setText($('room-status'), `${members.length} members · version ${room.info.version}${admin ? ' · you are an admin' : ''}`);
  const notice = room.status === 'removed' ? `You were removed from ${room.info.name}.`
    : room.status === 'left' ? `You left ${room.info.name}.` : '';
  setText($('room-notice'), notice);
  setHidden($('room-notice'), !notice);
  // Drawn again only when it changed (a drawing would take the focus off a Remove member button).
  const sig = JSON.stringify([room.hex, admin, room.status, [...room.gone], members.map((x) => [x.key, x.name, x.role, x.me ? '' : messenger.meshState(room, x.key)])]);
  if ($('room-members').dataset.sig !== sig) {
    $('room-members').dataset.sig = sig;
    drawMembers(messenger, room, members, admin);
  }
  setHidden($('room-add'), !admin);
  if (admin) {
    const inRoom = new Set(members.map((x) => x.name));
    const choices = Object.values(messenger.contacts).filter((c) => c.status === 'active' && !inRoom.has(c.name)).map((c) => c.name).sort();
    const sel = $('room-add-name');
    const want = choices.join('\n');
    if (sel.dataset.choices !== want) {
      sel.dataset.choices = want;
      sel.replaceChildren(...choices.map((n) => el('option', { value: n, textContent: n })));
    }
  }
  $('room-message').disabled = !active;
  $('room-send').disabled = !active;
  $('room-leave').disabled = !active;
  $('room-call').disabled = !active;
  $('room-video-call').disabled = !active;
  renderLog(messenger, room);
}

async function act(button, fn) {
  button.disabled = true;
  showError('room-error', '');
  try {
    await fn();
  } catch (e) {
    showError('room-error', plain(e));
  } finally {
    button.disabled = false;
    renderRooms();
  }
}

export function openRoomView(hex) {
  openHex = hex;
  if (state.chat) $('back').click(); // the open chat closes (chat-view.js closeChat)
  m().openRoom(hex);
  $('app-screen').classList.add('room-open');
  setHidden($('room'), false);
  renderRooms();
}

export function closeRoomView() {
  openHex = null;
  drawn.hex = null;
  if (m()) m().activeRoom = null;
  $('app-screen').classList.remove('room-open');
  setHidden($('room'), true);
}

// ---- key codes (docs/PROTOCOL.md 20.8) ----------------------------------------------------------

// Members added by key code in the New room form: [{key (bytes), label}].
let formKeys = [];

// A pasted key code, read strictly: the key, or null with the error said in words.
async function pastedKey(input, errorId) {
  showError(errorId, '');
  try {
    const key = await readKeyCode(input.value);
    if (toB64u(key) === toB64u(m().myKey())) {
      showError(errorId, 'That is your own key code.');
      return null;
    }
    return key;
  } catch (e) {
    if (!(e instanceof KeyCodeError)) throw e;
    showError(errorId, input.value.trim() ? e.message : 'Paste or type a key code first.');
    return null;
  }
}

async function addFormKey() {
  const input = $('room-key');
  const key = await pastedKey(input, 'room-form-error');
  if (!key) return;
  const messenger = m();
  const name = messenger.contactWithKey(toB64u(key));
  const box = name ? [...$('room-pick').querySelectorAll('input[type="checkbox"]')].find((b) => b.value === name) : null;
  if (box) {
    box.checked = true;
  } else if (!formKeys.some((k) => toB64u(k.key) === toB64u(key))) {
    formKeys.push({ key, label: name ? `${name} (key code)` : `unknown (key code ${shortKeyCode(key)})` });
  }
  $('room-keys').replaceChildren(...formKeys.map((k) => el('li', { textContent: k.label })));
  setText($('room-form-error'), '');
  input.value = '';
  input.focus();
}

async function showMyKey() {
  const box = $('room-mykey-box');
  const open = box.hidden;
  if (open) setText($('room-mykey-code'), await keyCode(m().myKey()));
  setText($('room-mykey-status'), '');
  setHidden(box, !open);
  $('room-mykey').setAttribute('aria-expanded', String(open));
}

async function copyMyKey() {
  try {
    await navigator.clipboard.writeText($('room-mykey-code').textContent);
    setText($('room-mykey-status'), 'Copied.');
  } catch {
    setText($('room-mykey-status'), 'Copying was not allowed here: select the code and copy it.');
  }
}

function onEnter(input, fn) {
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.isComposing) {
      ev.preventDefault();
      fn();
    }
  });
}

function openNewRoom() {
  const messenger = m();
  const contacts = Object.values(messenger.contacts).filter((c) => c.status === 'active').map((c) => c.name).sort();
  $('room-pick').replaceChildren(el('legend', { textContent: 'Members' }), ...contacts.map((n) => {
    const box = el('input', { type: 'checkbox', value: n });
    return el('label', {}, box, ` ${n}`);
  }));
  if (!contacts.length) $('room-pick').append(el('p', { className: 'muted', textContent: 'Start a chat with someone first: members are picked from your contacts.' }));
  $('room-title').value = '';
  $('room-key').value = '';
  formKeys = [];
  $('room-keys').replaceChildren();
  showError('room-form-error', '');
  $('room-dialog').showModal();
  $('room-title').focus();
}

/** Wires the controls once; wireRooms(messenger) after each log-in. */
export function installRooms() {
  $('room-new').addEventListener('click', openNewRoom);
  $('room-cancel').addEventListener('click', () => $('room-dialog').close());
  $('room-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const picked = [...$('room-pick').querySelectorAll('input:checked')].map((b) => b.value);
    const button = $('room-create');
    button.disabled = true;
    showError('room-form-error', '');
    m().createRoom($('room-title').value, picked, formKeys.map((k) => k.key)).then((hex) => {
      $('room-dialog').close();
      openRoomView(hex);
    }, (e) => showError('room-form-error', plain(e))).finally(() => {
      button.disabled = false;
    });
  });
  $('room-composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('room-message').value;
    if (!text.trim() || !openHex) return;
    const hex = openHex;
    $('room-message').value = '';
    m().sendRoomMessage(hex, text).catch((e) => {
      showError('room-error', plain(e));
      $('room-message').value = text;
    });
  });
  $('room-message').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('room-composer').requestSubmit();
    }
  });
  $('room-add').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('room-add-name').value;
    if (!name || !openHex) return;
    act($('room-add-button'), () => m().addMember(openHex, name));
  });
  // Key codes (20.8): this account's, and members added by theirs.
  $('room-mykey').addEventListener('click', () => showMyKey().catch((e) => showError('room-form-error', plain(e))));
  $('room-mykey-copy').addEventListener('click', copyMyKey);
  const addKey = () => addFormKey().catch((e) => showError('room-form-error', plain(e)));
  $('room-key-add').addEventListener('click', addKey);
  onEnter($('room-key'), addKey);
  const addRoomKey = async () => {
    const hex = openHex;
    const key = await pastedKey($('room-add-key'), 'room-error');
    if (!key || !hex) return;
    await act($('room-add-key-button'), () => m().addMemberKey(hex, key));
    if ($('room-error').hidden) $('room-add-key').value = '';
  };
  $('room-add-key-button').addEventListener('click', () => addRoomKey().catch((e) => showError('room-error', plain(e))));
  onEnter($('room-add-key'), () => $('room-add-key-button').click());
  $('room-back').addEventListener('click', () => {
    const was = openHex;
    closeRoomView();
    renderRooms();
    $('rooms').querySelector(`button[data-room="${was}"]`)?.focus();
  });
  $('room-leave').addEventListener('click', () => {
    if (!openHex) return;
    act($('room-leave'), () => m().leaveRoom(openHex));
  });
  // A chat opened from the sidebar takes the room's place.
  new MutationObserver(() => {
    if (!$('chat').hidden && openHex) {
      closeRoomView();
      renderRooms();
    }
  }).observe($('chat'), { attributes: true, attributeFilter: ['hidden'] });
}

let drawQueued = false;
function drawSoon() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    renderRooms();
  });
}

export function wireRooms(messenger) {
  closeRoomView();
  messenger.addEventListener('room', drawSoon);
  // Receipts of room entries arrive in the pairwise chats: delivery counts are drawn again.
  messenger.addEventListener('change', () => {
    if (openHex) drawSoon();
  });
  renderRooms();
}
