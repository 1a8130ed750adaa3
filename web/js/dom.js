// Building the page: untrusted text goes in with textContent only (el's props), never as HTML.

export const $ = (id) => document.getElementById(id);
export const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
};

/** Sets an element's text only when it changed: the same words written again would still replace
 * its text node and make the page lay it out again (the chat's header is drawn at every message). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Shows or hides an element, touching it only when that changes (as setText). */
export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}
