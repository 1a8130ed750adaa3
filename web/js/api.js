//# allFunctionsCalledOnLoad
// The server's JSON API (docs/API.md). Errors become ApiError with the server's code and a
// sentence a person can act on.
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
  invalid_username: 'A username is 3 to 32 characters: letters, digits, dots, - and _, starting with a letter.',
  unknown_user: 'There is no one with that username.',
  no_keys: 'That person has not finished setting up Parley yet.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  busy: 'The server is busy. Try again in a moment.',
  token_expired: 'Your session has expired. Please log in again.',
  token_revoked: 'You were logged out. Please log in again.',
  invalid_token: 'Your session is no longer valid. Please log in again.',
  missing_token: 'Please log in again.',
};

export function plainMessage(code, fallback) {
  return PLAIN[code] || fallback || 'Something went wrong. Please try again.';
}

let token = null;
export function setToken(t) {
  token = t;
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const code = data?.error?.code || `http_${res.status}`;
    throw new ApiError(res.status, code, plainMessage(code, data?.error?.message));
  }
  return data;
}
