// A modal dialog that asks for passwords (account-view.js: Change password; account-delete.js:
// Delete account): its fields, a paragraph, an error line, a progress line, the action's button
// and Cancel. The dialog exists only while open; errors are said in plain words inside it.
import { $, el } from './dom.js';
import { plain } from './shell.js';

export const closeDialog = (id) => $(id)?.remove();

/**
 * Opens the dialog `id` (closing an earlier one). fields: [[id, label, autocomplete]]; text: the
 * paragraph, before the fields (intro) or after them (hint); check(values): a problem in words or
 * null, values by field id; run(values): the work, after the progress line is painted (Argon2id
 * takes a while), its failure said in the dialog; done(result): after a run that succeeded, outside
 * the dialog (which run may have closed); onClose(): the person closed it (Cancel, Escape).
 */
export function passwordDialog({ id, heading, fields, intro, hint, submit, progressText, check, run, done, onClose }) {
  closeDialog(id);
  const error = el('p', { className: 'error', role: 'alert', hidden: true });
  const progress = el('p', { className: 'muted', role: 'status', 'aria-live': 'polite' });
  const go = el('button', { type: 'submit', textContent: submit });
  const cancel = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
  const inputs = fields.flatMap(([fid, label, autocomplete]) => [
    el('label', { htmlFor: fid, textContent: label }),
    el('input', { id: fid, type: 'password', autocomplete }),
  ]);
  const form = el('form', { noValidate: true },
    ...(intro ? [el('p', { textContent: intro })] : []),
    ...inputs,
    ...(hint ? [el('p', { className: 'muted hint', textContent: hint })] : []),
    error, progress,
    el('div', { className: 'actions' }, go, cancel));
  const dialog = el('dialog', { id, 'aria-labelledby': `${id}-heading` },
    el('h2', { id: `${id}-heading`, textContent: heading }), form);
  const say = (text) => {
    error.textContent = text || '';
    error.hidden = !text;
  };
  const close = () => {
    closeDialog(id);
    onClose?.(); // Cancel or Escape
  };
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', close);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say('');
    const values = Object.fromEntries(fields.map(([fid]) => [fid, $(fid).value]));
    const problem = check(values);
    if (problem) {
      say(problem);
      return;
    }
    for (const b of [go, cancel]) b.disabled = true;
    progress.textContent = progressText;
    await new Promise((r) => setTimeout(r, 0)); // paint before Argon2id
    let ok = false;
    let result;
    try {
      result = await run(values);
      ok = true;
    } catch (e) {
      say(plain(e));
    } finally {
      progress.textContent = '';
      for (const b of [go, cancel]) b.disabled = false;
    }
    if (ok && done) await done(result);
  });
  document.body.append(dialog);
  dialog.showModal();
  $(fields[0][0]).focus();
  return dialog;
}
