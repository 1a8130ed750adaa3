//# allFunctionsCalledOnLoad
// Where the server is. A page served by parley-server talks to its own origin; a static bundle
// served elsewhere finds its server in config.json beside index.html: {"server": "https://chat.example"}
// (README, "Static bundle and offline use"). No config.json, or none reachable, means the page's
// own origin.
let base = null; // the server's origin when it is not the page's, e.g. "https://chat.example"
// {"server": false}: a bundle with no server at all; the page offers a local profile and chats by
// invitation codes only (profile.js, invite-chat.js).
let none = false;

/** Thrown when config.json is there but does not name a server the page can use. */
export class ConfigError extends Error {}

/** Reads config.json once, before anything talks to the server. */
export async function loadConfig() {
  let res;
  try {
    res = await fetch('config.json', { cache: 'no-cache', credentials: 'omit' });
  } catch {
    return; // no answer (and none kept by the service worker): the page's own origin
  }
  if (!res.ok) return; // none deployed
  let server;
  try {
    const data = await res.json();
    server = data?.server;
  } catch {
    throw new ConfigError('This site\'s config.json is not valid JSON, so Parley does not know which server to use.');
  }
  if (server === false) {
    none = true;
    return;
  }
  if (server === undefined || server === null || server === '') return;
  let url;
  try {
    url = new URL(server);
  } catch {
    url = null;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new ConfigError('This site\'s config.json names a server that is not an address like https://chat.example, so Parley does not know which server to use.');
  }
  base = url.origin === location.origin ? null : url.origin;
}

/** False when config.json says there is no server ({"server": false}). */
export function hasServer() {
  return !none;
}

/** The server's origin (the page's own unless config.json names another). */
export function serverOrigin() {
  return base || location.origin;
}

/** The URL of an API path such as /api/login. */
export function apiUrl(path) {
  return base ? base + path : path;
}

/** The signaling WebSocket's URL. */
export function wsUrl() {
  const origin = new URL(serverOrigin());
  return `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/ws`;
}
