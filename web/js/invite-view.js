//# allFunctionsCalledOnLoad
// The invitation dialog (invite-chat.js): "Create invite" shows an invite code (text and QR code)
// and takes the reply under "Reply code" with "Connect"; "Paste invite" takes an invite code and
// shows the reply code to send back. When the link opens the dialog closes on the new chat.
// Where a camera can be used, "Scan invite" and "Scan reply" read the code from its QR code
// (qr-scan.js) and go on as a paste would.
import { $ } from './dom.js';
import { utf8 } from './encoding.js';
import { drawQr } from './qr.js';
import { busy, plain, showText, state } from './shell.js';
import { openChat } from './chat-view.js';
import { Scanner, canScan } from './qr-scan.js';

let waiting = null; // {name, l, onOpen}: the link the dialog waits for
let scanner = null; // the camera scanner, made on the first scan

function stopWaiting() {
  if (waiting) waiting.l.removeEventListener('open', waiting.onOpen);
  waiting = null;
}

function stopScanning() {
  scanner?.stop();
  $('invite-scanner').hidden = true;
}

function reset(mode) {
  stopWaiting();
  stopScanning();
  $('invite-make').hidden = mode !== 'make';
  $('invite-paste').hidden = mode !== 'paste';
  for (const id of ['invite-code', 'invite-reply', 'invite-paste-code', 'invite-reply-code']) $(id).value = '';
  $('invite-reply-box').hidden = true;
  $('invite-reply-form').hidden = true;
  $('invite-scan').hidden = !canScan();
  $('invite-reply-scan').hidden = !canScan();
  $('invite-status').textContent = '';
  showText('invite-error', '');
}

// Closes the dialog on the chat once the link to `name` opens.
function whenOpen(name) {
  stopWaiting();
  const l = state.messenger?.links.get(name);
  if (!l) return;
  const onOpen = () => {
    stopWaiting();
    if ($('invite-dialog').open) $('invite-dialog').close();
    if (state.messenger?.contacts[name]) openChat(name);
  };
  if (l.open) {
    onOpen();
    return;
  }
  waiting = { name, l, onOpen };
  l.addEventListener('open', onOpen);
}

const fail = (e) => showText('invite-error', plain(e));

async function create() {
  reset('make');
  $('invite-dialog').showModal();
  $('invite-status').textContent = 'Making the invite…';
  await busy($('invite-create'), async () => {
    const { code, expiry } = await state.messenger.invites.create();
    $('invite-code').value = code;
    drawQr($('invite-qr'), utf8(code));
    const until = new Date(expiry).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    $('invite-status').textContent = `Send this invite to the person you want to chat with. It works once, until ${until}.`;
    $('invite-reply-form').hidden = false;
  }, (e) => {
    $('invite-status').textContent = '';
    fail(e);
  });
}

async function connect() {
  showText('invite-error', '');
  await busy($('invite-connect'), async () => {
    const name = await state.messenger.invites.connect($('invite-reply').value);
    $('invite-status').textContent = 'Connecting…';
    whenOpen(name);
  }, fail);
}

function paste() {
  reset('paste');
  $('invite-dialog').showModal();
  $('invite-paste-code').focus();
}

async function answer() {
  showText('invite-error', '');
  $('invite-status').textContent = 'Making the reply…';
  await busy($('invite-answer'), async () => {
    const { code, name } = await state.messenger.invites.answer($('invite-paste-code').value);
    $('invite-reply-code').value = code;
    drawQr($('invite-reply-qr'), utf8(code));
    $('invite-reply-box').hidden = false;
    $('invite-status').textContent = 'Send this reply code back. The chat opens when they press Connect.';
    whenOpen(name);
  }, (e) => {
    $('invite-status').textContent = '';
    fail(e);
  });
}

// Opens the camera; the code read goes into `box` and `then()` runs as after a paste.
async function scan(box, then) {
  showText('invite-error', '');
  scanner ??= new Scanner($('invite-camera'));
  $('invite-scanner').hidden = false;
  $('invite-status').textContent = 'Hold the QR code in front of the camera.';
  try {
    await scanner.start((text) => {
      $('invite-scanner').hidden = true;
      $(box).value = text;
      $('invite-status').textContent = '';
      then();
    });
  } catch (e) {
    stopScanning();
    $('invite-status').textContent = '';
    showText('invite-error', e.message);
  }
}

async function copy(id) {
  try {
    await navigator.clipboard.writeText($(id).value);
    $('invite-status').textContent = 'Copied.';
  } catch {
    $(id).select(); // the person copies it themselves
  }
}

export function wireInvites() {
  $('invite-create').addEventListener('click', create);
  $('invite-paste-open').addEventListener('click', paste);
  $('invite-connect').addEventListener('click', connect);
  $('invite-answer').addEventListener('click', answer);
  $('invite-copy').addEventListener('click', () => copy('invite-code'));
  $('invite-reply-copy').addEventListener('click', () => copy('invite-reply-code'));
  $('invite-close').addEventListener('click', () => $('invite-dialog').close());
  $('invite-scan').addEventListener('click', () => scan('invite-paste-code', answer));
  $('invite-reply-scan').addEventListener('click', () => scan('invite-reply', connect));
  $('invite-scan-stop').addEventListener('click', () => {
    stopScanning();
    $('invite-status').textContent = '';
  });
  $('invite-dialog').addEventListener('close', () => {
    stopWaiting();
    stopScanning();
  });
}
