//# allFunctionsCalledOnLoad
// Files in the open chat (files.js): "Attach file", dropping files on the chat and pasting a
// picture; one transcript item per file with its name, size, a progress bar named after the file
// (percent, speed, time left), Cancel, Save and Delete; pictures as thumbnails from blob: URLs; and
// the space received files take in this browser. Names and everything else from the peer go in
// with textContent; a saved file is a download under a safe name, never opened here.
import { $, el, setHidden } from './dom.js';
import { formatBytes, safeName } from './files-wire.js';
import { banner, plain, state } from './shell.js';
import { placed } from './transcript-view.js';

const items = new Map(); // file id -> {li, ...parts}

const STATE_TEXT = {
  hashing: 'Preparing…',
  cancelled: 'Cancelled',
  damaged: 'File damaged in transit',
};

function duration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function statusText(m, r, st) {
  if (STATE_TEXT[r.state]) return r.state === 'hashing' ? `Preparing… ${Math.floor((st.hashed / Math.max(1, r.size)) * 100)}%` : STATE_TEXT[r.state];
  if (r.state === 'done') return r.dir === 'in' ? 'Received, checked' : 'Sent';
  if ((r.state === 'offered' || r.state === 'sending' || r.state === 'receiving') && !m.files.online(r.peer)) {
    return r.dir === 'out' ? `Will send when ${r.peer} is online` : `Waiting for ${r.peer} to be online`;
  }
  const parts = [`${st.percent}%`];
  if (st.speed > 0) parts.push(`${formatBytes(Math.round(st.speed))}/s`);
  if (st.left !== null) parts.push(`${duration(st.left)} left`);
  return parts.join(' · ');
}

// A file's name as shown: without control and format characters (a right-to-left override would
// show "invoice\u202Efdp.exe" as "invoiceexe.pdf"; Save uses safeName, which drops them too).
const shownName = (name) => name.replace(/[\p{Cc}\p{Cf}]/gu, '') || 'file';

function makeItem(m, r) {
  const name = el('p', { className: 'file-name', textContent: shownName(r.name) });
  const size = el('span', { className: 'file-size muted', textContent: formatBytes(r.size) });
  const bar = el('progress', { max: 100, value: 0, 'aria-label': shownName(r.name) });
  const status = el('span', { className: 'file-status', role: 'status' });
  const cancel = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
  const save = el('button', { type: 'button', textContent: 'Save', hidden: true });
  const del = el('button', { type: 'button', className: 'secondary', textContent: 'Delete', hidden: true });
  cancel.addEventListener('click', () => m.files.cancel(r.id).catch((e) => banner(plain(e))));
  save.addEventListener('click', () => saveFile(m, r.id).catch((e) => banner(plain(e))));
  del.addEventListener('click', () => m.files.remove(r.id).catch((e) => banner(plain(e))));
  const thumb = el('div', { className: 'file-thumb', hidden: true });
  const li = el('li', { className: `msg file ${r.dir === 'out' ? 'mine' : 'theirs'}`, dataset: { file: r.id } },
    thumb, name, size, bar, status, el('div', { className: 'actions' }, cancel, save, del),
    el('span', { className: 'meta' }, el('time', { dateTime: new Date(r.ts).toISOString(), textContent: new Date(r.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) })));
  return { li, bar, status, cancel, save, del, thumb, pictureAsked: false };
}

/**
 * Brings the open chat's file items up to date and returns them, oldest first, as [{ts, li}]: the
 * transcript (transcript-view.js) places them among the messages; this module never moves them.
 */
export function renderFiles(m, name) {
  if (!m?.files) return [];
  const list = name ? [...m.files.list(name)].sort((x, y) => x.ts - y.ts) : [];
  const entries = [];
  const ids = new Set(list.map((r) => r.id));
  for (const [id, item] of items) {
    if (!ids.has(id)) {
      item.li.remove();
      if (!m.files.records[id]) {
        if (item.url) URL.revokeObjectURL(item.url);
        items.delete(id);
      }
    }
  }
  for (const r of list) {
    let item = items.get(r.id);
    if (!item) {
      item = makeItem(m, r);
      items.set(r.id, item);
    }
    entries.push({ ts: r.ts, li: item.li });
    const st = m.files.stats(r);
    const active = r.state === 'hashing' || r.state === 'offered' || r.state === 'sending' || r.state === 'receiving';
    item.bar.value = st.percent;
    const text = statusText(m, r, st);
    if (item.status.textContent !== text) item.status.textContent = text;
    item.bar.setAttribute('aria-valuetext', text);
    item.li.dataset.state = r.state;
    item.cancel.hidden = !active;
    item.save.hidden = !(r.dir === 'in' && r.state === 'done');
    item.del.hidden = active;
    item.bar.hidden = !active && r.state !== 'done';
    if (!item.pictureAsked && (r.state === 'done' || r.dir === 'out')) {
      item.pictureAsked = true;
      showPicture(m, r, item).catch(() => { item.thumb.hidden = true; });
    }
  }
  renderUsage(m);
  return entries;
}

function renderUsage(m) {
  const used = m.files.usage();
  const box = $('files-usage');
  if (!box) return;
  setHidden(box, used === 0);
  box.textContent = used ? `Received files use ${formatBytes(used)} in this browser.` : '';
}

// A picture's thumbnail, from a blob: URL (the sender's own File, or the received file decrypted
// and checked again); a picture that does not decode leaves the file item as it is.
async function showPicture(m, r, item) {
  const type = await m.files.picture(r);
  if (!type) return;
  let blob;
  if (r.dir === 'out') {
    blob = await m.files.fileOf(r);
    if (!blob) return;
    blob = blob.slice(0, blob.size, type);
  } else {
    let parts = new Blob([], { type });
    await m.files.readBack(r, (bytes) => { parts = new Blob([parts, bytes], { type }); });
    blob = parts;
  }
  item.url = URL.createObjectURL(blob);
  const img = el('img', { src: item.url, alt: shownName(r.name), decoding: 'async' });
  img.addEventListener('error', () => { item.thumb.hidden = true; });
  const open = el('button', { type: 'button', className: 'thumb', 'aria-label': `Open picture ${shownName(r.name)}` }, img);
  open.addEventListener('click', () => openPicture(shownName(r.name), item.url));
  item.thumb.replaceChildren(open);
  img.addEventListener('load', () => { item.thumb.hidden = false; }, { once: true });
}

function openPicture(name, url) {
  let dialog = $('picture-dialog');
  if (!dialog) {
    dialog = el('dialog', { id: 'picture-dialog', className: 'picture-dialog', 'aria-label': 'Picture' });
    const close = el('button', { type: 'button', className: 'secondary', textContent: 'Close' });
    close.addEventListener('click', () => dialog.close());
    dialog.append(el('img', { alt: '' }), close);
    document.body.append(dialog);
  }
  const img = dialog.querySelector('img');
  img.src = url;
  img.alt = name;
  dialog.showModal();
}

// Save: the file is decrypted chunk by chunk, every chunk and the hash checked again, into a file
// of the origin's private file system (written as a stream, so the page never holds it whole),
// then downloaded under a safe name as application/octet-stream (never shown as a page). Where
// that file system is missing, the plaintext goes into a Blob built part by part (the browser
// keeps large blobs on disk).
async function saveFile(m, id) {
  const r = m.files.records[id];
  if (!r || r.state !== 'done') return;
  let file;
  let cleanup = () => {};
  const dirApi = navigator.storage?.getDirectory;
  if (dirApi) {
    const dir = await navigator.storage.getDirectory();
    const entry = `save-${r.id}`;
    const handle = await dir.getFileHandle(entry, { create: true });
    const w = await handle.createWritable();
    try {
      await m.files.readBack(r, (bytes) => w.write(bytes));
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      await dir.removeEntry(entry).catch(() => {});
      throw e;
    }
    file = await handle.getFile();
    cleanup = () => dir.removeEntry(entry).catch(() => {});
  } else {
    let blob = new Blob([]);
    await m.files.readBack(r, (bytes) => { blob = new Blob([blob, bytes]); });
    file = blob;
  }
  const url = URL.createObjectURL(new Blob([file], { type: 'application/octet-stream' }));
  const a = el('a', { href: url, download: safeName(r.name), hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    cleanup();
  }, 60000);
}

/**
 * Wires the controls: Attach file, drop, paste; re-renders on transfer changes. place(entries):
 * the transcript places the items, called when a file item is new in the open chat.
 */
export function wireFiles(m, place) {
  m.files.addEventListener('change', (ev) => {
    const peer = ev.detail?.peer;
    if (state.messenger === m && state.chat && (!peer || peer === state.chat || !m.files.records[ev.detail.id])) {
      const entries = renderFiles(m, state.chat);
      if (entries.some((e) => !placed(e.li))) place(entries);
    }
  });
  // Leftovers of saves cut short (a closed page) go.
  navigator.storage?.getDirectory?.().then(async (dir) => {
    for await (const [entry] of dir.entries()) if (entry.startsWith('save-')) await dir.removeEntry(entry).catch(() => {});
  }).catch(() => {});
}

let controlsWired = false;

/** Wires the page's file controls once (they act on the current messenger and chat). */
export function wireFileControls() {
  if (controlsWired) return;
  controlsWired = true;
  const input = $('attach-input');
  const send = (files) => {
    const m = state.messenger;
    if (!m || !state.chat || !files.length) return;
    m.files.send(state.chat, files).catch((e) => banner(plain(e)));
  };
  $('attach').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    send([...input.files]);
    input.value = '';
  });
  const chat = $('chat');
  chat.addEventListener('dragover', (ev) => {
    if ([...(ev.dataTransfer?.types || [])].includes('Files')) ev.preventDefault();
  });
  chat.addEventListener('drop', (ev) => {
    if (!ev.dataTransfer?.files?.length) return;
    ev.preventDefault();
    send([...ev.dataTransfer.files]);
  });
  $('message').addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length) return;
    ev.preventDefault();
    send(files);
  });
}
