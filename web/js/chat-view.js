//# allFunctionsCalledOnLoad
// The messenger's screen: the connection's state and the messenger's events, the open chat (its
// status, identity warning, transcript and message box), notices about contacts, and the safety
// number dialog. app.js wires the controls to these.
import * as core from '../core/parley.js';
import { UserError } from './errors.js';
import { drawQr } from './qr.js';
import { $, setHidden, setText } from './dom.js';
import { renderTranscript, transcriptOpening } from './transcript-view.js';
import { renderFiles, wireFiles } from './files-view.js';
import { chatOpening, renderEveryday, sendComposed } from './everyday-view.js';
import { renderContacts, renderRequests } from './contacts-view.js';
import { renderContactActions } from './block-view.js';
import { revokedByPasswordChange } from './account-view.js';
import { deletingHere } from './account-delete.js';
import { banner, bannerActionNow, busy, plain, showText, state } from './shell.js';

// ---- messenger UI --------------------------------------------------------------------------

const CONNECTION_TEXT = {
  online: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function wireMessenger(m, s, sessionEnded) {
  s.addEventListener('state', (ev) => {
    const { state: st } = ev.detail;
    $('connection').dataset.state = st;
    $('connection').textContent = CONNECTION_TEXT[st] || st;
  });
  s.addEventListener('origin-refused', (ev) => banner(ev.detail)); // origin-check.js
  s.addEventListener('auth-failed', () => {
    if (!revokedByPasswordChange(s)) sessionEnded('You were logged out. Please log in again.'); // account-view.js
  });
  s.addEventListener('account-deleted', () => deletingHere() || sessionEnded('Your account was deleted on another of your devices.')); // account-delete.js
  s.addEventListener('device-removed', () => sessionEnded('This browser was removed from your account on another of your devices, so it can no longer send or receive your messages.'));
  s.addEventListener('replaced', () => {
    banner('Parley was opened for your account somewhere else, so this page is offline.', {
      label: 'Reconnect here',
      run: () => {
        banner('');
        if (s === state.signaling) s.start();
      },
    });
  });
  m.addEventListener('change', (ev) => {
    if (ev.detail.name && m.requests.has(ev.detail.name)) renderRequests(state.messenger, state.chat, { busy, openChat }); // messages that came with it
    renderContacts(state.messenger, state.chat, openChat);
    if (!ev.detail.name || ev.detail.name === state.chat) renderChat();
    if (!ev.detail.name) $('show-presence').checked = m.showPresence; // changed on another device too
  });
  m.addEventListener('request', () => renderRequests(state.messenger, state.chat, { busy, openChat }));
  m.addEventListener('notice', (ev) => {
    const { name, text } = ev.detail;
    notice(name, `${name} ${text}`);
  });
  // A word about mail that could not be read goes beside what the banner says already (e.g. that
  // this browser made new keys), replacing only its own earlier word.
  let lastAlert = '';
  m.addEventListener('alert', (ev) => {
    const shown = $('banner').hidden ? '' : $('banner-text').textContent;
    const base = (lastAlert && shown.endsWith(lastAlert) ? shown.slice(0, shown.length - lastAlert.length) : shown).trim();
    lastAlert = ev.detail;
    banner(base ? `${base} ${ev.detail}` : ev.detail, base ? bannerActionNow() : null);
  });
  m.addEventListener('problem', (ev) => {
    console.warn('Parley:', ev.detail);
  });
  wireFiles(m, (files) => renderTranscript(m, state.chat, files)); // files in the transcript (files-view.js)
}

// Under "Hide my IP address": what it costs when this server offers no relay.
export function renderNetworkHint() {
  showText('hide-ip-hint', state.messenger?.relayMissing()
    ? 'This server offers no relay, so chats cannot connect directly now: messages go through the server\'s mailbox.'
    : '');
}

export function contactError(text) {
  showText('contact-error', text);
}

// A notice about a contact (declined, not online, ...): in their chat when it is open, else
// under the contact form. It stays until the next one, or until that chat connects.
const notices = { chat: null, list: null }; // {name, text} shown in each place
const NOTICE_ELEMENT = { chat: 'chat-notice', list: 'contact-notice' };

function setNotice(where, n) {
  notices[where] = n;
  showText(NOTICE_ELEMENT[where], n?.text);
}

export function notice(name, text) {
  setNotice(state.chat === name ? 'chat' : 'list', { name, text });
}

export function clearNotice(where) {
  setNotice(where, null);
}

export function renderAll() {
  renderRequests(state.messenger, state.chat, { busy, openChat });
  renderContacts(state.messenger, state.chat, openChat);
  renderChat();
}

export function openChat(name) {
  state.chat = name;
  chatOpening(state.messenger, name); // the "New messages" divider (everyday-view.js)
  transcriptOpening(); // its latest messages, or from the divider (transcript-view.js)
  state.messenger.openChat(name);
  if (notices.list?.name === name) {
    // It is about this chat: shown there now.
    const { text } = notices.list;
    clearNotice('list');
    notice(name, text);
  }
  $('app-screen').classList.add('chat-open');
  renderContacts(state.messenger, state.chat, openChat);
  renderChat();
  // Focused with the next frame, which lays the opened chat out anyway (focusing now would
  // force that layout in the middle of this task).
  requestAnimationFrame(() => {
    if (state.chat === name) $('message').focus({ preventScroll: true });
  });
}

export function closeChat() {
  const was = state.chat;
  state.chat = null;
  state.messenger.activeChat = null;
  $('app-screen').classList.remove('chat-open');
  renderContacts(state.messenger, state.chat, openChat);
  renderChat();
  // Keyboard focus goes back to the conversation just left (the Back button is gone).
  const item = [...$('contacts').querySelectorAll('button.contact')].find((b) => b.dataset.name === was);
  (item || $('contact')).focus();
}

export function renderChat() {
  const m = state.messenger;
  const name = state.chat;
  setHidden($('chat'), !name);
  setHidden($('empty'), !!name);
  if (!m || !name) return;
  const c = m.contacts[name];
  setText($('chat-name'), name);
  const status = !c ? '' : c.status === 'blocked' ? `You blocked ${name}: nothing of theirs reaches you, and they see you offline.`
    : c.held ? (c.pqWarning ? `sending is paused until you check ${name}'s safety number` : `${name}'s safety number changed: sending is paused until you review it`)
    : c.code && m.linkState(name) !== 'connected' // a code contact (invite-chat.js)
    ? (m.linkState(name) === 'connecting' ? 'connecting…' : 'not connected: this contact has no account; to chat again, send a new invite (Create invite)')
    : c.repair ? `setting up a new secure session with ${name}…`
    : c.status === 'pending' ? `waiting for ${name} to accept`
    : c.status === 'declined' ? 'not connected: start the chat again to reconnect'
      : {
        connected: 'connected, end-to-end encrypted',
        connecting: 'connecting…',
        online: 'online, connecting…',
        offline: `${name} is offline; messages wait for them on the server`,
        hidden: `${name} does not show when they are online; messages wait for them on the server`,
        unreachable: `cannot connect directly to ${name}; messages go through the server`,
      }[m.linkState(name)];
  setText($('chat-status'), status);
  const callable = c?.status === 'active' && !c.held; // calls (calls-entry.js)
  $('call').disabled = !callable;
  $('video-call').disabled = !callable;
  setText($('verify'), c?.verified ? 'Verified ✓' : 'Verify');
  const verifyLabel = c?.verified ? 'Verify (verified)' : 'Verify';
  if ($('verify').getAttribute('aria-label') !== verifyLabel) $('verify').setAttribute('aria-label', verifyLabel);
  const warn = !!c?.identityWarning;
  setHidden($('identity-warning'), !warn);
  if (warn) {
    $('identity-warning-text').textContent = c.pqWarning
      ? `${name}'s keys on the server no longer offer post-quantum protection, as they did before. Sending is paused until you check their safety number: this can mean ${name} went back to an older version of Parley, or that someone is trying to weaken your chat.`
      : c.held
      ? `${name}'s safety number has changed. Sending is paused until you review it: this can mean ${name} reinstalled Parley, or that someone is trying to listen in.`
      : `${name}'s safety number has changed. This can mean ${name} reinstalled Parley, or that someone is trying to listen in.`;
  }
  if (notices.chat && (notices.chat.name !== name || m.linkState(name) === 'connected')) clearNotice('chat');
  renderTranscript(m, name, renderFiles(m, name)); // the file items among the messages
  renderContactActions(m, name);
  const sendable = c && c.status !== 'declined' && c.status !== 'blocked' && !c.held;
  $('send').disabled = !sendable;
  $('message').disabled = !sendable;
  $('attach').disabled = !sendable || c.status !== 'active';
  renderEveryday(m, name, sendable); // timer, typing, read (everyday-view.js)
}

// The box is emptied at once, so that what is typed while the message is being encrypted and
// stored stays there; when it is refused (too long, the chat closed, a safety number to review)
// the text comes back, ahead of anything typed since. (A later failure, in storage, leaves the
// message in the transcript, so it is not put back to be sent twice.) One send at a time: a held
// Enter cannot send the same text twice (one send per chat at a time).
const sending = new Set();

export async function sendMessage() {
  const box = $('message');
  const text = box.value;
  const name = state.chat;
  if (!text.trim() || !name || sending.has(name)) return;
  sending.add(name);
  box.value = '';
  box.style.height = ''; // back to one row, without measuring
  try {
    await sendComposed(state.messenger, name, text); // a reply or an edit too (everyday-view.js)
  } catch (e) {
    if (e instanceof UserError && state.chat === name) {
      box.value = box.value ? `${text}\n${box.value}` : text;
      autoGrow();
    }
    banner(plain(e));
  } finally {
    sending.delete(name);
  }
}

export function autoGrow() {
  const t = $('message');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight, 160)}px`;
}

// ---- safety numbers --------------------------------------------------------------------------

export function openVerify() {
  const name = state.chat;
  const ids = state.messenger.identities(name);
  if (!ids) return;
  const digits = core.safetyNumber(ids.mine, ids.theirs);
  $('verify-name').textContent = name;
  $('safety-number').textContent = digits.match(/.{5}/g).join(' ');
  drawQr($('safety-qr'), core.safetyQr(ids.mine, ids.theirs));
  const c = state.messenger.contacts[name];
  $('verify-state').textContent = c.verified ? `You have verified ${name}.` : `${name} is not verified yet.`;
  $('mark-verified').textContent = c.verified ? 'Mark as not verified' : 'Mark as verified';
  $('verify-dialog').showModal();
}
