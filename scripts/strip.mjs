// Removes the comments of a script for the bundle (scripts/bundle.mjs), with Debian's acorn
// (node-acorn) telling exactly where each comment is, so that nothing inside a string, a template
// or a regular expression is touched. A block comment that spans lines becomes a line break (it
// counts as one for automatic semicolon insertion), any other a space; lines left blank and spaces
// ending a line go, outside templates. The result is parsed again and must give the same tokens, or the bundle fails.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let acorn;
try {
  acorn = require('/usr/share/nodejs/acorn');
} catch {
  acorn = require('acorn');
}

const OPTIONS = { ecmaVersion: 'latest', allowHashBang: true };

/** The script's comments and template ranges, read as a module, else as a classic script. */
function scan(text) {
  let lastError;
  for (const sourceType of ['module', 'script']) {
    const comments = [];
    const templates = [];
    const tokens = [];
    try {
      for (const t of acorn.tokenizer(text, { ...OPTIONS, sourceType, onComment: comments })) {
        tokens.push(t.type.label === 'template' ? `tpl:${t.value}` : `${t.type.label}:${t.value ?? ''}`);
        if (t.type.label === 'template') templates.push([t.start, t.end]);
      }
      acorn.parse(text, { ...OPTIONS, sourceType });
      return { comments, templates, tokens };
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

/** text without its comments; name says which file failed. */
export function stripComments(text, name = 'script') {
  let first;
  try {
    first = scan(text);
  } catch (e) {
    throw new Error(`strip: ${name} does not parse: ${e.message}`);
  }
  let out = '';
  let at = 0;
  for (const c of first.comments) {
    out += text.slice(at, c.start);
    out += /[\n\r\u2028\u2029]/.test(text.slice(c.start, c.end)) && c.type === 'Block' ? '\n' : (c.type === 'Block' ? ' ' : '');
    at = c.end;
  }
  out += text.slice(at);
  // Lines left blank or holding only spaces, except inside a template literal (offsets of the
  // stripped text, found again).
  const again = scan(out);
  const inTemplate = (i) => again.templates.some(([s, e]) => i >= s && i < e);
  let result = '';
  let lineStart = 0;
  for (let i = 0; i <= out.length; i++) {
    if (i === out.length || out[i] === '\n') {
      let line = out.slice(lineStart, i);
      if (!inTemplate(i - 1)) line = line.replace(/[ \t]+$/, '');
      if (line !== '' || inTemplate(lineStart)) result += line + (i < out.length ? '\n' : '');
      lineStart = i + 1;
    }
  }
  const checked = scan(result);
  if (checked.tokens.length !== first.tokens.length || checked.tokens.some((t, i) => t !== first.tokens[i])) {
    throw new Error(`strip: ${name} reads differently without its comments`);
  }
  return result;
}
