//# allFunctionsCalledOnLoad
// The local profile's card on the first screen ("Use without an account", profile.js): made with a
// passphrase and its confirmation, or opened with the passphrase; then the messenger's screen with
// code chats (invite-view.js) and none of what needs an account.
import { $ } from './dom.js';
import { LOCAL_NAME, localExists, openLocal, passphraseProblem } from './profile.js';
import { show, showText, state } from './shell.js';
import { renderAll, wireMessenger } from './chat-view.js';
import { wireRooms } from './rooms-view.js'; // rooms with code contacts (docs/PROTOCOL.md 20.8)

let creating = false;

async function reveal() {
  creating = !await localExists();
  $('local-form').hidden = false;
  $('local-start').hidden = true;
  $('local-confirm-row').hidden = !creating;
  $('local-go').textContent = creating ? 'Create profile' : 'Open profile';
  $('local-pass').focus();
}

/**
 * Wires the card. app: {generation() (the tab's session generation), sessionEnded(text),
 * plain(e)}.
 */
export function wireProfile(app) {
  $('local-start').addEventListener('click', () => reveal().catch((e) => showText('local-error', app.plain(e))));
  $('local-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showText('local-error', '');
    const pass = $('local-pass').value;
    const problem = passphraseProblem(pass, $('local-pass2').value, creating);
    if (problem) {
      showText('local-error', problem);
      $('local-pass').focus();
      return;
    }
    const gen = app.generation();
    const stillCurrent = () => {
      if (gen !== app.generation()) throw new Error('superseded');
    };
    $('local-go').disabled = true;
    $('local-progress').textContent = creating ? 'Creating your keys…' : 'Unlocking…';
    await new Promise((r) => setTimeout(r, 0)); // the status paints before Argon2id runs
    try {
      const opened = await openLocal(pass, creating, stillCurrent);
      Object.assign(state, { username: LOCAL_NAME, vault: opened.vault, signaling: opened.signaling, messenger: opened.messenger });
      $('local-pass').value = '';
      $('local-pass2').value = '';
      wireMessenger(opened.messenger, opened.signaling, app.sessionEnded);
      wireRooms(opened.messenger); // rooms
      document.body.dataset.profile = 'local';
      $('whoami').textContent = 'Local profile';
      show('app-screen');
      $('connection').hidden = true; // no server to be connected to
      renderAll();
    } catch (e) {
      if (gen === app.generation()) showText('local-error', app.plain(e));
    } finally {
      $('local-go').disabled = false;
      $('local-progress').textContent = '';
    }
  });
}

/** Back to the first screen's state (log-out). */
export function resetProfileCard() {
  delete document.body.dataset.profile;
  $('local-form').hidden = true;
  $('local-start').hidden = false;
  $('local-pass').value = '';
  $('local-pass2').value = '';
  showText('local-error', '');
}
