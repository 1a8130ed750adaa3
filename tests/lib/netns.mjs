// A browser whose network can be taken away: it runs in a network namespace of its own, joined to
// this machine by a veth pair, and losing the network is taking its end of that link down (as in
// tests/e2e/storage.test.mjs, which explains why: Playwright's context.setOffline does not cut an
// open WebSocket or WebRTC data channel in this Chromium). The page opens the same origin as
// everyone else (http://127.0.0.1:PORT): a forwarder inside the namespace relays to one on this
// machine's end of the link, which relays to the server. Needs root (CAP_NET_ADMIN) and iproute2.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { person } from './people.mjs';

const NS_FORWARDER = `const net = require('node:net');
const [listenHost, listenPort, toHost, toPort] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(toPort), toHost);
  const end = () => { c.destroy(); u.destroy(); };
  c.pipe(u); u.pipe(c);
  for (const s of [c, u]) { s.on('error', end); s.on('close', end); }
}).listen(Number(listenPort), listenHost, () => console.log('ready'));`;

function forward(c, port, host) {
  const u = net.connect(port, host);
  const end = () => {
    c.destroy();
    u.destroy();
  };
  c.pipe(u);
  u.pipe(c);
  for (const s of [c, u]) {
    s.on('error', end);
    s.on('close', end);
  }
}

let made = 0;

/**
 * Waits until no IPv6 address on either end of the link is still in duplicate address detection
 * (about 2 s after a link comes up). A Chromium started before that sees the address change and
 * fails the page's requests on their way with net::ERR_NETWORK_CHANGED: a first page load whose
 * module scripts fail so never starts (no log-in form), which is what the network-loss test in
 * storage.test.mjs saw now and then. That holds for the browsers on this machine too (the
 * link's own end is one of this machine's interfaces), so the link has no IPv6 at all (see
 * noIpv6) and this is what is left of the wait.
 */
async function settled(ip, ns, hostIf) {
  const end = Date.now() + 10000;
  const busy = () => ip('-n', ns, '-6', 'addr', 'show', 'tentative').trim() || ip('-6', 'addr', 'show', 'dev', hostIf, 'tentative').trim();
  while (busy() && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Turns IPv6 off on an interface before it comes up (in namespace ns, or on this machine): no
// link-local address is made, so none changes state under a running browser. Where IPv6 is not
// built in, there is nothing to turn off.
function noIpv6(ns, ifName) {
  const path = `/proc/sys/net/ipv6/conf/${ifName}/disable_ipv6`;
  try {
    if (ns) execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', `echo 1 > ${path}`], { stdio: 'ignore' });
    else writeFileSync(path, '1');
  } catch {
    // no IPv6 here
  }
}

/**
 * A network namespace for one browser, reaching `port` on 127.0.0.1 as this machine does.
 * Returns { chromium (a launcher script for PARLEY_CHROMIUM), ns (its name), address (the
 * namespace's IPv4 address), hostAddress (this machine's end of the link), down(), up(),
 * cleanup() }.
 */
export async function isolatedNetwork(port) {
  const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  made += 1;
  const id = `${process.pid % 100000}${made}`;
  const ns = `parley-mb-${id}`;
  const [hostIf, nsIf] = [`pm${id}h`, `pm${id}n`];
  const used = ip('-4', '-o', 'addr');
  let sub = null;
  for (let i = 0; i < 250 && !sub; i += 1) {
    const s = `10.214.${(Number(id) + i) % 250}`;
    if (!used.includes(`${s}.`)) sub = s;
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-netns-'));
  const state = { forwarders: [], proc: null, cleaned: false };
  const cleanup = () => {
    if (state.cleaned) return;
    state.cleaned = true;
    if (state.proc && state.proc.exitCode === null) state.proc.kill();
    for (const f of state.forwarders) f.close();
    try {
      ip('netns', 'del', ns); // takes the veth pair with it
    } catch {
      // not made
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    noIpv6(null, hostIf);
    noIpv6(ns, nsIf);
    ip('addr', 'add', `${sub}.1/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${sub}.2/30`, 'dev', nsIf);
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', `${sub}.1`);
    await settled(ip, ns, hostIf);
  } catch (e) {
    cleanup();
    throw new Error(`this test needs a network namespace (root, CAP_NET_ADMIN, iproute2): ${e.stderr || e.message}`);
  }
  try {
    const host = net.createServer((c) => forward(c, port, '127.0.0.1'));
    state.forwarders.push(host);
    await new Promise((resolve, reject) => {
      host.once('error', reject);
      host.listen(port, `${sub}.1`, resolve);
    });
    state.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', NS_FORWARDER, '127.0.0.1', String(port), `${sub}.1`, String(port)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      state.proc.stdout.once('data', resolve);
      state.proc.once('exit', (code) => reject(new Error(`the namespace's forwarder exited with ${code}`)));
    });
    const chromium = join(dir, 'chromium-in-netns.sh');
    writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.PARLEY_CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
    chmodSync(chromium, 0o755);
    return {
      chromium,
      ns,
      address: `${sub}.2`,
      hostAddress: `${sub}.1`,
      cleanup,
      down() {
        ip('-n', ns, 'link', 'set', nsIf, 'down');
      },
      up() {
        ip('-n', ns, 'link', 'set', nsIf, 'up');
        ip('-n', ns, 'route', 'replace', 'default', 'via', `${sub}.1`); // went with the link
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** A person (people.mjs person()) whose browser runs in the isolated network. */
export async function personIn(network, server, name, options) {
  const before = process.env.PARLEY_CHROMIUM;
  process.env.PARLEY_CHROMIUM = network.chromium;
  try {
    return await person(server, name, options);
  } finally {
    if (before === undefined) delete process.env.PARLEY_CHROMIUM;
    else process.env.PARLEY_CHROMIUM = before;
  }
}

/** The problems a page recorded, apart from the failed requests and loads a lost network causes. */
export function apartFromNetworkLoss(problems) {
  return problems.filter((p) => !/^request failed: .* net::ERR_|^console error: Failed to load resource: net::ERR_/.test(p));
}
