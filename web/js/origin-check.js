//# allFunctionsCalledOnLoad
// A WebSocket refused before it opened: is this page's origin refused? (POST /api/origin)
import { ApiError, request } from './api.js';
import { serverOrigin } from './config.js';

export async function originRefusal() {
  try {
    await request('POST', '/api/origin', undefined, { timeoutMs: 10000 });
    return null;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'forbidden_origin') return null;
    const here = location.origin;
    return `The server at ${serverOrigin()} does not accept pages opened at ${here}, so this page cannot connect. `
      + `Open Parley at the address its server was started with, or ask whoever runs it to add --origin ${here}.`;
  }
}
