// The mutation engine and driver the JavaScript fuzzers (tests/fuzz/fuzz_*.mjs) share: a seeded
// xorshift generator, byte and text mutators (bytes flipped, inserted, deleted, truncated and
// replaced), the timed run loop and its report. Each fuzzer keeps its own targets, seeds and checks.

// A fuzzer's random source and mutators, from a 32-bit seed (the same seed gives the same inputs).
export function fuzzer(seed = 0x2545f491) {
  let s = seed;
  const rnd = (n) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
  const pick = (xs) => xs[rnd(xs.length)];
  // One to four edits of BYTES; a replaced byte is random, or one of ALPHABET's characters.
  function mutate(bytes, alphabet) {
    const out = [...bytes];
    const edits = 1 + rnd(4);
    for (let i = 0; i < edits; i += 1) {
      const op = rnd(5);
      const at = out.length ? rnd(out.length) : 0;
      if (op === 0 && out.length) out[at] ^= 1 << rnd(8);
      else if (op === 1) out.splice(at, 0, rnd(256));
      else if (op === 2 && out.length) out.splice(at, 1);
      else if (op === 3) out.length = rnd(out.length + 1);
      else if (out.length) out[at] = alphabet ? alphabet.charCodeAt(rnd(alphabet.length)) : rnd(256);
    }
    return Uint8Array.from(out);
  }
  // The same edits on the UTF-8 bytes of a string, decoded back (bad UTF-8 becomes U+FFFD).
  const mutateText = (text, alphabet) => new TextDecoder().decode(mutate(new TextEncoder().encode(text), alphabet));
  const randomBytes = (n) => Uint8Array.from({ length: n }, () => rnd(256));
  return { rnd, pick, mutate, mutateText, randomBytes };
}

// Runs STEP(i) in batches of BATCH for SECONDS or until FAILURES is not empty (awaiting a step
// that returns a promise), then prints the one-line result, up to five failures and the count
// line, and exits 1 on a failure. NAME is the fuzzer's, e.g. "fuzz_link".
export async function runFuzzer(name, seconds, failures, step, batch = 200) {
  let runs = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && failures.length === 0) {
    for (let i = 0; i < batch; i += 1) {
      const r = step(runs + i);
      if (r) await r;
    }
    runs += batch;
  }
  if (failures.length) {
    console.log(`FAIL ${name} (JavaScript): after ${runs} inputs`);
    for (const f of failures.slice(0, 5)) console.log(`  ${f}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.log(`ok   ${name} (JavaScript): ${runs} inputs in ${seconds}s, no failure`);
  console.log('1 passed, 0 failed');
}
