// A mutation fuzzer for the vault records "blocks" and "notify", the "remove" payload and the
// own-device Block/Unblock copy
// (docs/PROTOCOL.md 12.8, 12.16), whose strict readers are JavaScript (web/js/contacts.js), run under Node for a bounded
// time. Inputs are the valid vectors as JSON text with bytes flipped, inserted, deleted and
// truncated. A failure is a reader that throws something other than its TypeError, accepts a
// value its writer does not give back alike, or accepts a remove payload that is not exactly one.
//   node tests/fuzz/fuzz_contacts.mjs SECONDS
// Prints one line, and "1 passed, 0 failed" (or "0 passed, 1 failed").
import { readFileSync } from 'node:fs';
import { nodeCore } from '../lib/core.mjs';
import { ROOT } from '../lib/server.mjs';
import { fuzzer, runFuzzer } from './mutate.mjs';

const seconds = Number(process.argv[2] || 10);
await nodeCore();
const { parseBlocks, blocksValue, isRemovePayload, parseOwnBlock, parseOwnPresence } = await import('../../web/js/contacts.js');
const { parseNotify } = await import('../../web/js/notify.js');
const V = JSON.parse(readFileSync(`${ROOT}/docs/vectors/contacts-v1.json`, 'utf8'));

const { rnd, mutateText } = fuzzer(0x2545f491);
// A replaced byte is one of JSON's characters or the records' words.
const mutate = (text) => mutateText(text, '{}[]":,0123456789-.tvblockeddeclinedremove');

const seeds = [...V.valid.map((v) => JSON.stringify(v.value)), ...V.remove.valid.map((p) => JSON.stringify(p)),
  ...V.notify.valid.map((v) => JSON.stringify(v.value)), ...V.ownBlock.valid.map((v) => JSON.stringify(v.payload)), ...V.ownPresence.valid.map((v) => JSON.stringify(v.payload))];
const failures = [];
await runFuzzer('fuzz_contacts', seconds, failures, () => {
  const text = mutate(seeds[rnd(seeds.length)]);
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return; // the vault holds JSON only
  }
  try {
    const got = parseBlocks(value);
    const again = parseBlocks(JSON.parse(JSON.stringify(blocksValue(got.blocked, got.declined))));
    if (JSON.stringify([...again.blocked, ...again.declined]) !== JSON.stringify([...got.blocked, ...got.declined])) {
      failures.push(`blocks read back differently: ${text}`);
    }
  } catch (e) {
    if (!(e instanceof TypeError)) failures.push(`blocks threw ${e}: ${text}`);
  }
  try {
    const n = parseNotify(value);
    if (JSON.stringify(parseNotify({ v: 1, text: n.text, sound: n.sound })) !== JSON.stringify(n)) failures.push(`notify read back differently: ${text}`);
  } catch (e) {
    if (!(e instanceof TypeError)) failures.push(`notify threw ${e}: ${text}`);
  }
  try {
    const o = parseOwnBlock(value);
    if (o && JSON.stringify(parseOwnBlock(o.block ? { t: 'block', name: o.name, at: o.at, cap: o.cap } : { t: 'unblock', name: o.name, at: o.at })) !== JSON.stringify(o)) {
      failures.push(`own block read back differently: ${text}`);
    }
  } catch (e) {
    failures.push(`own block threw ${e}: ${text}`);
  }
  try {
    const o = parseOwnPresence(value);
    if (o && (JSON.stringify(parseOwnPresence({ t: 'presence', ...o })) !== JSON.stringify(o) || Object.keys(value).length !== 4)) {
      failures.push(`own presence read back differently: ${text}`);
    }
  } catch (e) {
    failures.push(`own presence threw ${e}: ${text}`);
  }
  if (isRemovePayload(value) && JSON.stringify(value) !== '{"t":"remove"}') failures.push(`remove accepted: ${text}`);
});
