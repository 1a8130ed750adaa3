// The message round trip of bench.mjs, with where the time goes: per message, each page's CPU
// (CDP Performance.getMetrics: task, script, layout and style time, layouts), the storage writes and
// channel sends it makes, the DOM mutations of the sending page, and optionally (PROFILE=1) the
// functions with the most self time or (TRACE=1) the trace events. Prints figures; asserts nothing.
// Compares checkouts: node bench/web/roundtrip.mjs [ROOT of a checkout, default this one] [N, 300]
// (an older checkout is run with its own server: PARLEY_SERVER_BIN=ROOT/build/native/server/parley-server).
import { benchSignUp, roundTrips } from './signup.mjs';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] || fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const N = Number(process.argv[3] || 300);
const { startServer } = await import(`${root}/tests/lib/server.mjs`);
const { launchBrowser, openPage } = await import(`${root}/tests/lib/browser.mjs`);

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const server = await startServer({ env: { PARLEY_SERVER_BIN: process.env.PARLEY_SERVER_BIN || `${root}/build/native/server/parley-server` } });
const bA = await launchBrowser();
const bB = await launchBrowser();

const signUp = (browser, name) => benchSignUp(openPage, browser, `${server.url}/`, name);

const a = await signUp(bA, 'probealice');
const b = await signUp(bB, 'probebob');
await a.page.getByLabel('Contact', { exact: true }).fill('probebob');
await a.page.getByRole('button', { name: 'Start chat' }).click();
await b.page.getByRole('button', { name: 'Accept' }).click({ timeout: 30000 });
await a.page.getByLabel('Message', { exact: true }).fill('first');
await a.page.getByRole('button', { name: 'Send' }).click();
await a.page.locator('#transcript .delivery[data-state="delivered"]').waitFor({ timeout: 30000 });
await b.page.getByRole('log').getByRole('listitem').first().waitFor({ timeout: 30000 });
if (process.env.READ === 'off') {
  for (const p of [a, b]) await p.page.evaluate(() => { const x = document.getElementById('read-receipts'); if (x && x.checked) x.click(); });
}
// Bob looks at the chat (as in the bench: the last pair has the chat open on both).
await new Promise((r) => setTimeout(r, 1500));

const cdpA = await a.page.context().newCDPSession(a.page);
const cdpB = await b.page.context().newCDPSession(b.page);
for (const c of [cdpA, cdpB]) await c.send('Performance.enable');
const metrics = async (c) => Object.fromEntries((await c.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
{
  const i0 = await metrics(cdpA); const j0 = await metrics(cdpB);
  await new Promise((r) => setTimeout(r, 3000));
  const i1 = await metrics(cdpA); const j1 = await metrics(cdpB);
  const w = (m0, m1) => ['TaskDuration', 'ScriptDuration', 'LayoutCount', 'RecalcStyleCount'].map((k) => `${k} ${(k.endsWith('Count') ? (m1[k] - m0[k]) : (m1[k] - m0[k]) * 1000).toFixed(1)}`).join(' ');
  console.log(`  idle 3 s A: ${w(i0, i1)}  B: ${w(j0, j1)}`);
}
const profile = process.env.PROFILE === '1';
if (profile) for (const c of [cdpA, cdpB]) { await c.send('Profiler.enable'); await c.send('Profiler.setSamplingInterval', { interval: 200 }); await c.send('Profiler.start'); }
const trace = process.env.TRACE === '1';
const events = [];
if (trace) {
  cdpA.on('Tracing.dataCollected', (d) => events.push(...d.value));
  await cdpA.send('Tracing.start', { categories: 'devtools.timeline,disabled-by-default-devtools.timeline.stack,v8,blink,toplevel', transferMode: 'ReportEvents' });
}
const countIdb = () => {
  window.idbCount = {};
  for (const op of ['put', 'get', 'delete', 'getAll', 'add', 'openCursor', 'getAllKeys', 'count']) {
    const orig = IDBObjectStore.prototype[op];
    if (!orig) continue;
    IDBObjectStore.prototype[op] = function (...args) {
      const k = `${op} ${this.name} ${op === 'put' ? String(args[1] ?? (args[0] && args[0].name) ?? '').slice(0, 24) : typeof args[0] === 'string' ? args[0].slice(0, 24) : ''}`;
      window.idbCount[k] = (window.idbCount[k] || 0) + 1;
      if (op === 'put') {
        const v = args[0];
        const size = (x) => (x instanceof Uint8Array || x instanceof ArrayBuffer ? x.byteLength
          : typeof x === 'string' ? x.length : x && typeof x === 'object' ? Object.values(x).reduce((t, y) => t + size(y), 0) : 0);
        window.idbCount['put bytes'] = (window.idbCount['put bytes'] || 0) + size(v);
      }
      return orig.apply(this, args);
    };
  }
  const ws = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) { window.idbCount['ws send'] = (window.idbCount['ws send'] || 0) + 1; return ws.call(this, d); };
  const dcs = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (d) { window.idbCount['dc send'] = (window.idbCount['dc send'] || 0) + 1; return dcs.call(this, d); };
};
await a.page.evaluate(countIdb);
await a.page.evaluate(() => {
  window.mut = {};
  window.batches = 0;
  new MutationObserver((recs) => {
    window.batches += 1;
    for (const r of recs) {
      let t = r.target;
      if (t.nodeType !== 1) t = t.parentElement;
      const path = [];
      for (let e = t; e && path.length < 3; e = e.parentElement) path.push(e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}${e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''}`);
      const k = `${r.type}${r.attributeName ? ':' + r.attributeName : ''} ${path.join('<')}${r.type === 'childList' ? ` +${r.addedNodes.length}(${[...r.addedNodes].map((n) => n.className || n.nodeName).join(',').slice(0, 40)}) -${r.removedNodes.length}` : ''}`;
      window.mut[k] = (window.mut[k] || 0) + 1;
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
});
await b.page.evaluate(countIdb);
const mA0 = await metrics(cdpA);
const mB0 = await metrics(cdpB);
const rtts = await roundTrips(a.page, N);
const mA1 = await metrics(cdpA);
const mB1 = await metrics(cdpB);
if (trace) {
  const done = new Promise((r) => cdpA.once('Tracing.tracingComplete', r));
  await cdpA.send('Tracing.end');
  await done;
  const counts = new Map();
  for (const e of events) {
    if (e.name !== 'Layout' && e.name !== 'UpdateLayoutTree') continue;
    const st = e.args?.beginData?.stackTrace;
    const key = `${e.name} ${st ? st.slice(0, 3).map((f) => `${f.functionName}@${f.url.split('/').pop()}:${f.lineNumber}`).join(' < ') : '(no js: frame)'}`;
    const c = counts.get(key) || { n: 0, ms: 0 };
    c.n += 1; c.ms += (e.dur || 0) / 1000;
    counts.set(key, c);
  }
  const byName = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue;
    const c = byName.get(e.name) || { n: 0, ms: 0 };
    c.n += 1; c.ms += e.dur / 1000;
    byName.set(e.name, c);
  }
  for (const [k, c] of [...byName.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, Number(process.env.TRACE_TOP || 22))) console.log(`  ev ${(c.n / N).toFixed(2)}/msg ${(c.ms / N).toFixed(2)} ms/msg ${k}`);
  for (const [k, c] of [...counts.entries()].sort((x, y) => y[1].n - x[1].n).slice(0, 15)) console.log(`  ${(c.n / N).toFixed(2)}/msg ${(c.ms / N).toFixed(2)} ms/msg ${k}`);
}
{
  const { mut, batches } = await a.page.evaluate(() => ({ mut: window.mut, batches: window.batches }));
  console.log(`  A mutation batches per msg ${(batches / N).toFixed(2)}`);
  for (const [k, v] of Object.entries(mut).sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`    ${(v / N).toFixed(2)} ${k}`);
}
for (const [nm, p] of [['A', a], ['B', b]]) {
  const c = await p.page.evaluate(() => window.idbCount);
  console.log(`  ${nm} calls per msg: ${Object.entries(c).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}=${(v / N).toFixed(2)}`).join(', ')}`);
}
for (const [nm, p] of [['A', a], ['B', b]]) {
  const d = await p.page.evaluate(() => {
    const log = document.getElementById('transcript');
    const inLog = log.getElementsByTagName('*').length;
    return { all: document.getElementsByTagName('*').length, items: log.children.length, inLog, buttons: log.getElementsByTagName('button').length };
  });
  console.log(`  ${nm} DOM: ${d.all} elements, transcript ${d.items} items of ${(d.inLog / Math.max(1, d.items)).toFixed(1)} elements (${(d.buttons / Math.max(1, d.items)).toFixed(1)} buttons)`);
}
const per = (m0, m1, k) => ((m1[k] - m0[k]) * 1000 / N).toFixed(2);
const keys = ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration'];
console.log(`${root}: RTT p50 ${pct(rtts, 0.5).toFixed(1)} p99 ${pct(rtts, 0.99).toFixed(1)} ms over ${N}`);
console.log(`  A per msg ms: ${keys.map((k) => `${k} ${per(mA0, mA1, k)}`).join(' ')} LayoutCount ${((mA1.LayoutCount - mA0.LayoutCount) / N).toFixed(2)}`);
console.log(`  B per msg ms: ${keys.map((k) => `${k} ${per(mB0, mB1, k)}`).join(' ')} LayoutCount ${((mB1.LayoutCount - mB0.LayoutCount) / N).toFixed(2)}`);
if (profile) {
  for (const [name, c] of [['A', cdpA], ['B', cdpB]]) {
    const { profile: p } = await c.send('Profiler.stop');
    const self = new Map();
    const dt = p.timeDeltas;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i += 1) {
      const n = byId.get(p.samples[i]);
      const f = n.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) || 0) + (dt[i + 1] || 0));
    }
    const top = [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, 25);
    console.log(`  ${name} top self time (ms per msg):`);
    for (const [k, v] of top) console.log(`    ${(v / 1000 / N).toFixed(3)} ${k}`);
  }
}
await bA.close();
await bB.close();
await server.stop();
