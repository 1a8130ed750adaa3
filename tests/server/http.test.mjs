// HTTP/1.1 framing and ranges, as a reverse proxy in front of the server needs them (issue 13,
// items 9 and 10): where a request ends is never read two ways (RFC 9112 6.3: headers past the
// 64th, Content-Length twice or with Transfer-Encoding, a length that is not a plain number,
// whitespace where a proxy would read a line differently), and a Range never yields a negative
// length (RFC 9110 14). Each refusal is one JSON answer, then the connection is closed: a request
// hidden in the body is never answered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverForTests } from '../lib/server.mjs';
import { rawExchange, rawRequest } from '../lib/http.mjs';

const TEN = '0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'parley-http-'));
before(() => {
  writeFileSync(join(tmp, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(tmp, 'ten.txt'), TEN);
  writeFileSync(join(tmp, 'empty.txt'), '');
});
const server = serverForTests({ web: tmp });
after(() => rmSync(tmp, { recursive: true, force: true }));

// A request the server must never answer: if it does, it read a body as a request.
const HIDDEN = 'GET /healthz?hidden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

function pad(n) {
  return Array.from({ length: n }, (_, i) => `X-Pad-${i}: ${i}\r\n`).join('');
}

// One answer with status and code, JSON with the security headers, and the connection closed.
function assertRefused(r, status, code, what) {
  assert.equal(r.responses.length, 1, `${what}: one answer, got ${r.responses.map((x) => x.status)}: ${r.raw.slice(0, 400)}`);
  const [res] = r.responses;
  assert.equal(res.status, status, `${what}: status`);
  assert.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`);
  assert.equal(JSON.parse(res.body).error.code, code, `${what}: code`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: security headers`);
  assert.equal(res.headers.connection, 'close', `${what}: Connection: close`);
  assert.ok(r.closed, `${what}: the connection is closed`);
}

test('a header past the 64th is never dropped: 431, and the body is not read as a request', async () => {
  // Civetweb kept the first 64 headers (MG_MAX_HEADERS) and dropped the rest unseen: a
  // Content-Length as the 65th was ignored and the body answered as a second request.
  const smuggle = `GET /healthz HTTP/1.1\r\nHost: x\r\n${pad(63)}Content-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`;
  assertRefused(await rawExchange(server.port, smuggle), 431, 'too_many_headers', 'Content-Length as the 65th header');
  const many = `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${pad(100)}\r\n`;
  assertRefused(await rawExchange(server.port, many), 431, 'too_many_headers', '102 headers');
  // 64 are fine (Host, Connection and 62 more), and so is a Content-Length among them.
  const ok = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${pad(61)}Content-Length: 2\r\n\r\nhi`);
  assert.deepEqual(ok.responses.map((x) => x.status), [200]);
});

test('lines a proxy would read differently are refused with 400: no header is skipped or guessed', async () => {
  const cases = [
    // RFC 9112 5.1: whitespace between a name and its colon (Civetweb dropped it: a proxy may
    // see another header, or refuse it).
    ['space before the colon', `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
    // RFC 9112 5.2: a folded line (obs-fold). Civetweb stopped reading headers there, so the
    // Content-Length after it was dropped.
    ['folded line', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
    // RFC 9112 2.2: whitespace before the first header. Civetweb read it as a header; a
    // proxy skips such a line.
    ['whitespace before the first header', `GET /healthz HTTP/1.1\r\n Content-Length: ${HIDDEN.length}\r\nHost: x\r\n\r\n${HIDDEN}`],
    // A bare CR starting a line: Civetweb stopped there and dropped the rest.
    ['bare CR at a line start', `GET /healthz HTTP/1.1\r\nHost: x\r\n\rX-B: 2\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
    // LF then CRLF: Civetweb took the CR line for the end of the headers and dropped the rest.
    ['LF then CRLF', `GET /healthz HTTP/1.1\r\nHost: x\nX-C: 3\n\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
  ];
  for (const [what, raw] of cases) {
    assertRefused(await rawExchange(server.port, raw), 400, 'bad_request', what);
  }
});

test('a request that cannot be parsed is answered "HTTP/1.1 400", its text never echoed', async () => {
  // Civetweb's status line repeated what followed "HTTP/" in the request when the version could
  // not be read: the request's own header lines came back as the answer's.
  for (const raw of ['GET / HTTP/1.1 junk\r\nSet-Cookie: a=b\r\n\r\n', 'GET / FOO/1.1\r\nHost: x\r\n\r\n',
    'GET / HTTP/1.1\r\n X: 1\r\nSet-Cookie: a=b\r\n\r\n']) {
    const r = await rawExchange(server.port, raw);
    assert.match(r.raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(raw));
    assert.doesNotMatch(r.raw, /Set-Cookie|FOO/i, JSON.stringify(raw));
    assertRefused(r, 400, 'bad_request', JSON.stringify(raw));
  }
});

test('Content-Length twice, with Transfer-Encoding, or not a plain number: 400 and closed', async () => {
  const cases = [
    // Two values: Civetweb used the first (0 here), a proxy may use the last.
    ['two different values', `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
    ['the same value twice', `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${HIDDEN.length}\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`],
    // With Transfer-Encoding (RFC 9112 6.3 item 3): Civetweb read chunks and answered what
    // followed the last one.
    ['with Transfer-Encoding', `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`],
    ['after Transfer-Encoding', `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: ${5 + HIDDEN.length}\r\n\r\n0\r\n\r\n${HIDDEN}`],
  ];
  // Not 1*DIGIT: Civetweb's strtoll took a sign, leading junk it skips and trailing junk.
  for (const value of ['+5', '5abc', '0x5', '5 5', '5.0', '-5', '', '1e1', '99999999999999999999']) {
    cases.push([`Content-Length: "${value}"`, `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}\r\n\r\nhello${HIDDEN}`]);
  }
  for (const [what, raw] of cases) {
    assertRefused(await rawExchange(server.port, raw), 400, 'bad_request', what);
  }
  // A plain number, with leading zeros or a trailing space, is fine.
  for (const value of ['5', '005', '5 ']) {
    const ok = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${value}\r\n\r\nhello`);
    assert.deepEqual(ok.responses.map((x) => x.status), [200], `Content-Length: "${value}"`);
  }
});

test('Transfer-Encoding other than one "chunked", or in HTTP/1.0: 400 and closed; chunked bodies still work', async () => {
  const cases = [
    ['identity', `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n${HIDDEN}`],
    ['twice', `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`],
    ['gzip, chunked', `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${HIDDEN}`],
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    ['in HTTP/1.0', `GET /healthz HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`],
  ];
  for (const [what, raw] of cases) {
    assertRefused(await rawExchange(server.port, raw), 400, 'bad_request', `Transfer-Encoding ${what}`);
  }
  // A chunked API body is read whole (401: the body was parsed and the account is unknown).
  const body = JSON.stringify({ username: 'nobody-here', password: 'long enough' });
  const chunked = `POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const r = await rawExchange(server.port, chunked);
  assert.deepEqual(r.responses.map((x) => x.status), [401]);
  assert.equal(JSON.parse(r.responses[0].body).error.code, 'invalid_credentials');
});

test('keep-alive still carries several requests, each with its own body', async () => {
  const req = (c) => `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n${c ? 'Connection: close\r\n' : ''}\r\nabc`;
  const r = await rawExchange(server.port, req(false) + req(false) + req(true));
  assert.deepEqual(r.responses.map((x) => x.status), [200, 200, 200]);
  assert.ok(r.closed);
});

// GET /ten.txt with a Range header on one connection; the answer with its body.
async function range(value, { method = 'GET', extra = '', path = '/ten.txt' } = {}) {
  const r = await rawExchange(server.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: ${value}\r\n${extra}\r\n`);
  assert.equal(r.responses.length, 1, `${value}: one answer`);
  const [res] = r.responses;
  // Never a negative length, and the length is what is sent.
  assert.match(res.headers['content-length'] ?? '', /^\d+$/, `${value}: Content-Length ${res.headers['content-length']}`);
  assert.equal(Number(res.headers['content-length']), res.body.length, `${value}: Content-Length is the body's`);
  return res;
}

test('a satisfiable range is 206 with its bytes; a suffix range is the end of the file', async () => {
  const cases = [
    ['bytes=0-3', '0123', '0-3'],
    ['bytes=5-', '56789', '5-9'],
    ['bytes=3-100', '3456789', '3-9'],
    ['bytes=9-9', '9', '9-9'],
    ['bytes=-3', '789', '7-9'],
    ['bytes=-10', TEN, '0-9'],
    ['bytes=-100', TEN, '0-9'],
    ['BYTES=2-3', '23', '2-3'],
    ['bytes= 2-3 ', '23', '2-3'],
  ];
  for (const [value, body, span] of cases) {
    const res = await range(value);
    assert.equal(res.status, 206, value);
    assert.equal(res.body, body, value);
    assert.equal(res.headers['content-range'], `bytes ${span}/10`, value);
  }
});

test('a range starting at or past the end is 416 with Content-Range: bytes */SIZE', async () => {
  // Civetweb answered 206 with Content-Length: -99990 for bytes=100000- (and 0 for bytes=10-).
  for (const [value, path, size] of [['bytes=100000-', '/ten.txt', 10], ['bytes=10-', '/ten.txt', 10],
    ['bytes=10-20', '/ten.txt', 10], ['bytes=-0', '/ten.txt', 10], ['bytes=0-', '/empty.txt', 0]]) {
    const res = await range(value, { path });
    assert.equal(res.status, 416, value);
    assert.equal(res.headers['content-range'], `bytes */${size}`, value);
    assert.equal(JSON.parse(res.body).error.code, 'range_not_satisfiable', value);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', value);
  }
});

test('a range the server does not take is ignored: 200 with the whole file', async () => {
  // Reversed (Civetweb: 206 with Content-Length: -3), several ranges (Civetweb sent only the
  // first), garbage after a range, another unit, not a range at all, an If-Range (its validator is
  // not checked), a HEAD (RFC 9110 14.2: ranges are for GET), a suffix of an empty file.
  const cases = [
    ['bytes=5-1'], ['bytes=0-1,5-6'], ['bytes=0-1, 3-4'], ['bytes=1-2x'], ['bytes=abc'], ['bytes=-'],
    ['bytes=--1'], ['bytes=+1-2'], ['bytes=1--2'], ['items=0-1'], ['bytes 0-1'], [''], ['bytes=99999999999999999999-'],
    ['bytes=0-3', { extra: 'If-Range: "x"\r\n' }],
  ];
  for (const [value, opts] of cases) {
    const res = await range(value, opts);
    assert.equal(res.status, 200, `"${value}": ${res.headers['content-length']}`);
    assert.equal(res.body, TEN, value);
    assert.equal(res.headers['content-range'], undefined, value);
  }
  const empty = await range('bytes=-5', { path: '/empty.txt' });
  assert.equal(empty.status, 200);
  assert.equal(empty.body, '');
  const head = await rawRequest(server.port, 'HEAD /ten.txt HTTP/1.1', { headers: { Range: 'bytes=100000-' } });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '10');
  assert.equal(head.body, '');
});
