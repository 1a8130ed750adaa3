// Minifies the bundle's scripts, style sheet and page (scripts/bundle.mjs), so that a person
// loading the app does not pay for the sources' comments, indentation and long local names.
//
// Scripts: Debian's terser (node-terser), with its safe defaults only (no "unsafe" compress
// option): comments and whitespace go, local names (and, in an ES module, top-level names it does
// not export) are shortened, dead code is dropped. Exported names, property names and globals are
// never renamed. Class and function names may be shortened: the app never reads them (errors are
// told apart with instanceof, or by a name property they set themselves). A classic script
// (guard.js, sw.js) keeps its top-level names, which are globals. A V8 compile hint on a file's
// first line ("//# allFunctionsCalledOnLoad") is kept.
// Every result is checked with Debian's acorn, or the bundle fails: it parses as the same kind of
// script; a module imports and exports exactly the same names from and to the same files
// (dynamic import() included); every string and template piece of the source is still in the
// result (possibly joined with another), so no text, key label or file name is lost or changed.
// The page's modules joined in one by esbuild (scripts/bundle.mjs) are checked the same way first
// (checkBundle): every text of every module is in the joined file, which imports only core/.
//
// Style sheet: comments, and white space that CSS ignores (around { } ; , and after :), go;
// nothing inside a string or url() is touched. Page: comments and the indentation of lines go
// (white space between elements is kept, as one line break).
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);

/** Debian's package under /usr/share/nodejs (its own dependencies found there too), else npm's. */
function debianPackage(name) {
  try {
    return require(`/usr/share/nodejs/${name}`);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  // Node from elsewhere than Debian does not look in /usr/share/nodejs for the package's own
  // requires: add it to the search path, as NODE_PATH=/usr/share/nodejs would.
  const paths = (process.env.NODE_PATH || '').split(':').filter(Boolean);
  if (!paths.includes('/usr/share/nodejs')) {
    process.env.NODE_PATH = [...paths, '/usr/share/nodejs'].join(':');
    Module._initPaths();
  }
  try {
    return require(`/usr/share/nodejs/${name}`);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    return require(name);
  }
}

const acorn = debianPackage('acorn');
const terser = debianPackage('terser');

// Text the minifier may drop, by file: the Emscripten glue's run-dependency id, passed to a
// function that ignores it.
const DROPPABLE = new Map([['core/parley-core.js', new Set(['wasm-instantiate'])]]);

const ACORN = { ecmaVersion: 'latest', allowHashBang: true };
const HINT = '//# allFunctionsCalledOnLoad';

/** Walks every node of an acorn tree. */
function walk(node, visit) {
  if (!node || typeof node.type !== 'string') return;
  visit(node);
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (Array.isArray(v)) for (const c of v) walk(c, visit);
    else if (v && typeof v.type === 'string') walk(v, visit);
  }
}

/** The names a declaration's pattern binds (const x, const { a, b: c = 1, ...d }, const [e]). */
function bound(p) {
  switch (p?.type) {
    case 'Identifier': return [p.name];
    case 'ObjectPattern': return p.properties.flatMap((q) => bound(q.type === 'RestElement' ? q.argument : q.value));
    case 'ArrayPattern': return p.elements.flatMap(bound);
    case 'AssignmentPattern': return bound(p.left);
    case 'RestElement': return bound(p.argument);
    default: return [];
  }
}

/** What must not change: imports, exports, import.meta, and the text pieces of the script. */
function shape(text, sourceType) {
  const tree = acorn.parse(text, { ...ACORN, sourceType });
  const links = new Set();
  const strings = [];
  const names = []; // property names: a["b"] may become a.b, and {"b": 1} {b: 1}
  const typeofs = new Set(); // "undefined" in typeof x == "undefined", which may become x === void 0
  const paths = new Set(); // the paths of imports and exports, checked as links (a bundle drops them)
  walk(tree, (n) => {
    if (n.source?.type === 'Literal' && /^(Import|Export)/.test(n.type)) paths.add(n.source);
    switch (n.type) {
      case 'ImportDeclaration':
        if (!n.specifiers.length) links.add(`import ${n.source.value}`);
        for (const s of n.specifiers) {
          const what = s.type === 'ImportDefaultSpecifier' ? 'default'
            : s.type === 'ImportNamespaceSpecifier' ? '*' : (s.imported.name ?? s.imported.value);
          links.add(`import ${what} from ${n.source.value}`);
        }
        break;
      case 'ImportExpression':
        links.add(`import() ${n.source.type === 'Literal' ? n.source.value : '(computed)'}`);
        break;
      case 'MetaProperty':
        links.add(`${n.meta.name}.${n.property.name}`);
        break;
      case 'ExportDefaultDeclaration':
        links.add('export default');
        break;
      case 'ExportAllDeclaration':
        links.add(`export * ${n.exported ? `as ${n.exported.name ?? n.exported.value} ` : ''}from ${n.source.value}`);
        break;
      case 'ExportNamedDeclaration': {
        const from = n.source ? ` from ${n.source.value}` : '';
        for (const s of n.specifiers) {
          const local = n.source ? ` (${s.local.name ?? s.local.value})` : '';
          links.add(`export ${s.exported.name ?? s.exported.value}${local}${from}`);
        }
        const d = n.declaration;
        if (d?.id) links.add(`export ${d.id.name}`);
        if (d?.declarations) {
          for (const v of d.declarations) for (const b of bound(v.id)) links.add(`export ${b}`);
        }
        break;
      }
      case 'MemberExpression':
        if (!n.computed && n.property.type === 'Identifier') names.push(n.property.name);
        break;
      case 'Property':
      case 'PropertyDefinition':
      case 'MethodDefinition':
        if (!n.computed && n.key.type === 'Identifier') names.push(n.key.name);
        break;
      case 'BinaryExpression':
        for (const [a, b] of [[n.left, n.right], [n.right, n.left]]) {
          if (a.type === 'UnaryExpression' && a.operator === 'typeof' && b.type === 'Literal') typeofs.add(b);
        }
        break;
      case 'Literal':
        if (typeof n.value === 'string') strings.push({ value: n.value, node: n });
        break;
      case 'TemplateElement':
        if (n.value.cooked) strings.push({ value: n.value.cooked, node: n });
        break;
      default:
    }
  });
  return {
    links: [...links].sort(),
    strings: strings.filter((x) => !typeofs.has(x.node) && !paths.has(x.node)).map((x) => x.value),
    names,
  };
}

/**
 * The minified script. name says which file (for errors); classic: a classic script (its
 * top-level names are globals), else an ES module.
 */
export async function minifyScript(text, name, { classic = false } = {}) {
  const sourceType = classic ? 'script' : 'module';
  let before;
  try {
    before = shape(text, sourceType);
  } catch (e) {
    throw new Error(`minify: ${name} does not parse as a ${sourceType}: ${e.message}`);
  }
  const hint = text.startsWith(`${HINT}\n`) || text.startsWith(`${HINT}\r\n`);
  const result = await terser.minify(text, {
    module: !classic,
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false, preamble: hint ? HINT : undefined },
  });
  const out = `${result.code}\n`;
  let after;
  try {
    after = shape(out, sourceType);
  } catch (e) {
    throw new Error(`minify: ${name} minified does not parse as a ${sourceType}: ${e.message}`);
  }
  if (after.links.join('\n') !== before.links.join('\n')) {
    const lost = before.links.filter((l) => !after.links.includes(l));
    const added = after.links.filter((l) => !before.links.includes(l));
    throw new Error(`minify: ${name} links differently when minified (lost: ${lost.join('; ') || 'none'}; `
      + `added: ${added.join('; ') || 'none'})`);
  }
  const all = [...after.strings, ...after.names].join('\u0000');
  const lost = before.strings.filter((s) => !all.includes(s) && !DROPPABLE.get(name)?.has(s));
  if (lost.length) {
    throw new Error(`minify: ${name} minified lost text: ${lost.slice(0, 5).map((s) => JSON.stringify(s)).join(', ')}`);
  }
  return out;
}

/** The style sheet without comments and ignorable white space. */
export function minifyCss(text, name = 'style sheet') {
  let out = '';
  let i = 0;
  const n = text.length;
  let space = false; // white space seen and not yet written
  const tight = (c) => c === undefined || '{};,:>'.includes(c);
  const calls = []; // the functions whose parentheses are open: var(--x, fallback) keeps its
  // fallback as written, white space included
  const emitSpace = (next) => {
    // Kept only where it may matter: between two words, before ":" (a descendant selector
    // "a :hover"), before "(" or after ")" (media queries, calc()), after the comma of var().
    const keep = !tight(out.at(-1)) || (out.at(-1) === ',' && calls.at(-1) === 'var');
    if (space && out.length && keep && !'{};,>'.includes(next)) out += ' ';
    space = false;
  };
  while (i < n) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`minify: ${name} has an unclosed comment`);
      i = end + 2;
      space = true;
      continue;
    }
    if (/\s/.test(c)) {
      space = true;
      i += 1;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c) {
        if (text[j] === '\\') j += 1;
        if (text[j] === '\n') throw new Error(`minify: ${name} has an unclosed string`);
        j += 1;
      }
      if (j >= n) throw new Error(`minify: ${name} has an unclosed string`);
      emitSpace(c);
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (/^url\(/i.test(text.slice(i, i + 4))) {
      const end = text.indexOf(')', i);
      if (end < 0) throw new Error(`minify: ${name} has an unclosed url(`);
      emitSpace(c);
      out += text.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    emitSpace(c);
    if (c === '(') calls.push(out.match(/[-\w]*$/)[0].toLowerCase());
    if (c === ')') calls.pop();
    out += c;
    i += 1;
  }
  // The same rules, braces and declarations: the count of each structural character is unchanged.
  const count = (s, ch) => s.split(ch).length - 1;
  const bare = text.replace(/\/\*[\s\S]*?\*\//g, '');
  for (const ch of ['{', '}', ';', ':', ',', '(', ')', '"', "'"]) {
    if (count(bare, ch) !== count(out, ch)) throw new Error(`minify: ${name} minified has another number of "${ch}"`);
  }
  return `${out}\n`;
}

/** The page without comments and without the indentation of its lines. */
export function minifyHtml(text, name = 'page') {
  if (/<(pre|script|style|textarea)\b[^>]*>[^<]/i.test(text)) {
    throw new Error(`minify: ${name} has a <pre>, inline script or style, or a textarea with text, whose white space counts`);
  }
  if (/=\s*"[^"]*\n[^"]*"/.test(text) || /=\s*'[^']*\n[^']*'/.test(text)) {
    throw new Error(`minify: ${name} has an attribute value over two lines, whose white space counts`);
  }
  const out = text.replace(/<!--[\s\S]*?-->/g, '').replace(/[ \t]*\n\s*/g, '\n').trim();
  if (out.includes('<!--') || out.includes('-->')) throw new Error(`minify: ${name} has a comment that does not close`);
  return `${out}\n`;
}

/**
 * Checks a bundle of ES modules (scripts/bundle.mjs, made by esbuild) against its sources, before
 * it is minified: it parses as a module; every string and template piece of every source (import
 * and export paths aside: the bundle resolves them) is still in it; and it imports nothing but
 * `allowed` (paths as the bundle writes them; null: not checked). sources: [{ name, text }].
 * Returns the bundle's links (imports, import.meta).
 */
export function checkBundle(sources, bundled, name, allowed) {
  let after;
  try {
    after = shape(bundled, 'module');
  } catch (e) {
    throw new Error(`bundle: ${name} does not parse as a module: ${e.message}`);
  }
  const all = [...after.strings, ...after.names].join('\u0000');
  for (const { name: source, text } of sources) {
    let before;
    try {
      before = shape(text, 'module');
    } catch (e) {
      throw new Error(`bundle: ${source} does not parse as a module: ${e.message}`);
    }
    const lost = before.strings.filter((s) => !all.includes(s));
    if (lost.length) {
      throw new Error(`bundle: ${name} lost text of ${source}: ${lost.slice(0, 5).map((s) => JSON.stringify(s)).join(', ')}`);
    }
  }
  if (allowed === null) return after.links;
  const stray = after.links.filter((l) => l.startsWith('import') && l !== 'import.meta' && !allowed.some((a) => l.endsWith(` ${a}`)));
  if (stray.length) throw new Error(`bundle: ${name} links to what it should hold: ${stray.join('; ')}`);
  return after.links;
}

/** The paths a module imports statically (import and export ... from), as written. */
export function importsOf(text, name) {
  let tree;
  try {
    tree = acorn.parse(text, { ...ACORN, sourceType: 'module' });
  } catch (e) {
    throw new Error(`bundle: ${name} does not parse as a module: ${e.message}`);
  }
  const out = new Set();
  for (const n of tree.body) {
    if (n.source?.type === 'Literal' && /^(Import|Export)/.test(n.type)) out.add(n.source.value);
  }
  return [...out];
}
