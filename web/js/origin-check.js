//# allFunctionsCalledOnLoad
// Why the WebSocket does not open: a browser hides a refused handshake's answer from the page, so
// after a connection that closed before it opened the page asks the server once (POST
// /api/origin, docs/API.md) whether its origin is taken, and says so in plain words if not.
import { ApiError, request } from './api.js';
import { serverOrigin } from './config.js';

/** A sentence for the person when the server refuses this page's origin, else null. */
export async function originRefusal() {
  try {
    await request('POST', '/api/origin', undefined, { timeoutMs: 10000 });
    return null;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'forbidden_origin') return null; // not known to be that
    const here = location.origin;
    return `The server at ${serverOrigin()} does not accept pages opened at ${here}, so this page cannot connect. `
      + `Open Parley at the address its server was started with, or ask whoever runs it to add --origin ${here}.`;
  }
}
