//# allFunctionsCalledOnLoad
// The server's JSON API (docs/API.md). Errors become ApiError with the server's code and a
// sentence a person can act on.
import { apiUrl } from './config.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const PLAIN = {
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken. Choose another one.',
  username_confusable: 'That username looks too much like someone else\'s (1 and l, 0 and o, rn and m, dots and dashes count as alike). Choose another one.',
  username_reserved: 'That username is reserved. Choose another one.',
  invalid_username: 'A username is 3 to 32 characters: letters, digits, dots, - and _, starting with a letter.',
  unknown_user: 'There is no one with that username.',
  no_keys: 'That person has not finished setting up Parley yet.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  busy: 'The server is busy. Try again in a moment.',
  token_expired: 'Your session has expired. Please log in again.',
  token_revoked: 'You were logged out. Please log in again.',
  invalid_token: 'Your session is no longer valid. Please log in again.',
  missing_token: 'Please log in again.',
  device_removed: 'This browser was removed from your account on another of your devices, so it can no longer send or receive your messages.',
  too_many_devices: 'Your account has too many devices. Remove one you no longer use from the Devices list on another device, then try again.',
};

export function plainMessage(code, fallback) {
  return PLAIN[code] || fallback || 'Something went wrong. Please try again.';
}

// Retry-After in seconds (1 .. 1 day), or 0 when absent or not a plain number.
function retryAfter(value) {
  const n = /^[0-9]{1,6}$/.test(value || '') ? Number(value) : 0;
  return Math.min(n, 86400);
}

function waitWords(seconds) {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? 'a minute' : `${minutes} minutes`;
}

let token = null;
export function setToken(t) {
  token = t;
}

const TIMEOUT_MS = 20000; // a request with no answer by then fails (a network that drops packets)

/**
 * Calls the API. `opts.token` sends that token instead of the current one (log-out, after the
 * page has already forgotten it); `opts.timeoutMs` bounds the wait for the whole answer.
 */
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const bearer = opts.token !== undefined ? opts.token : token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const signal = AbortSignal.timeout(opts.timeoutMs || TIMEOUT_MS);
  let res;
  let data = null;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal,
    });
    try {
      data = await res.json();
    } catch (e) {
      if (signal.aborted) throw e;
      data = null;
    }
  } catch {
    if (signal.aborted) throw new ApiError(0, 'timeout', 'The server did not answer in time. Check your connection and try again.');
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  if (!res.ok) {
    const code = data?.error?.code || `http_${res.status}`;
    const wait = res.status === 429 ? retryAfter(res.headers.get('Retry-After')) : 0;
    throw new ApiError(res.status, code, wait ? `Too many attempts. Try again in ${waitWords(wait)}.` : plainMessage(code, data?.error?.message));
  }
  return data;
}
