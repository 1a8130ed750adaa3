// A sweep of bad inputs across the API: each gets the right status and a JSON error, the server
// stays up, earlier data is intact and SQLite's integrity check passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { dbIntegrity, startServer } from '../lib/server.mjs';
import { rawRequest } from '../lib/http.mjs';
import { api, b64u, newIdentity, newUser, oneTimePrekeys, signedPrekey, kemRecord } from '../lib/api.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  if (server) await server.stop();
});


test('40+ bad inputs: right status, JSON error, server up, data intact, integrity ok', async () => {
  const base = server.url;
  const alice = await newUser(base, 'alice');
  const id = newIdentity();
  const spk = signedPrekey(id, 3);
  assert.equal((await api(base, 'PUT', '/api/keys', { token: alice.token, body: { identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: oneTimePrekeys(0, 30) } })).status, 200);
  const t = alice.token;
  const json = { 'Content-Type': 'application/json' };
  const kem1 = await kemRecord(id, 1);
  const kemShort = Buffer.from(kem1, 'base64url').subarray(0, 1635).toString('base64url');
  const kemLong = Buffer.concat([Buffer.from(kem1, 'base64url'), Buffer.alloc(1)]).toString('base64url');
  const kemForeign = await kemRecord(newIdentity(), 1);
  const kemZeroSig = Buffer.concat([Buffer.from(kem1, 'base64url').subarray(0, 1572), Buffer.alloc(64)]).toString('base64url');
  const longName = 'a'.repeat(5000);
  const deep = '['.repeat(5000) + ']'.repeat(5000);

  // [description, method, path, options, status, code]
  const cases = [
    ['signup: empty body', 'POST', '/api/signup', { raw: '', headers: json }, 400, 'invalid_json'],
    ['signup: truncated JSON', 'POST', '/api/signup', { raw: '{"username":"abc"', headers: json }, 400, 'invalid_json'],
    ['signup: JSON array', 'POST', '/api/signup', { raw: '[]', headers: json }, 400, 'invalid_json'],
    ['signup: JSON string', 'POST', '/api/signup', { raw: '"x"', headers: json }, 400, 'invalid_json'],
    ['signup: body not UTF-8', 'POST', '/api/signup', { raw: Buffer.from('{"username":"ab\xff","password":"long enough"}', 'latin1'), headers: json }, 400, 'invalid_json'],
    ['signup: deep nesting', 'POST', '/api/signup', { raw: deep.slice(0, 4000), headers: json }, 400, 'invalid_json'],
    ['signup: no content type', 'POST', '/api/signup', { raw: '{}' }, 415, 'unsupported_media_type'],
    ['signup: form content type', 'POST', '/api/signup', { raw: 'username=a', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
    ['signup: json-like content type', 'POST', '/api/signup', { raw: '{}', headers: { 'Content-Type': 'application/jsonx' } }, 415, 'unsupported_media_type'],
    ['signup: body too large', 'POST', '/api/signup', { raw: JSON.stringify({ username: 'abc', password: 'x'.repeat(10000) }), headers: json }, 413, 'too_large'],
    ['signup: username null', 'POST', '/api/signup', { body: { username: null, password: 'long enough' } }, 400, 'missing_field'],
    ['signup: username array', 'POST', '/api/signup', { body: { username: ['abc'], password: 'long enough' } }, 400, 'missing_field'],
    ['signup: password number', 'POST', '/api/signup', { body: { username: 'abcdef', password: 12345678 } }, 400, 'missing_field'],
    ['signup: huge username', 'POST', '/api/signup', { body: { username: longName.slice(0, 3000), password: 'long enough' } }, 400, 'invalid_username'],
    ['signup: NUL in username', 'POST', '/api/signup', { body: { username: 'abc\u0000def', password: 'long enough' } }, 400, 'invalid_json'],
    ['signup: NUL in password', 'POST', '/api/signup', { body: { username: 'nulpassword', password: 'long\u0000enough' } }, 400, 'invalid_json'],
    ['signup: newline in username', 'POST', '/api/signup', { body: { username: 'abc\ndef', password: 'long enough' } }, 400, 'invalid_username'],
    ['signup: SQL in username', 'POST', '/api/signup', { body: { username: "a'; DROP TABLE users;--", password: 'long enough' } }, 400, 'invalid_username'],
    ['signup: existing user', 'POST', '/api/signup', { body: { username: alice.username, password: 'long enough' } }, 409, 'username_taken'],
    ['signup: GET', 'GET', '/api/signup', {}, 405, 'method_not_allowed'],
    ['login: wrong types', 'POST', '/api/login', { body: { username: 1, password: 2 } }, 400, 'missing_field'],
    ['login: SQL injection', 'POST', '/api/login', { body: { username: alice.username, password: "' OR '1'='1" } }, 401, 'invalid_credentials'],
    ['login: PUT', 'PUT', '/api/login', { body: {} }, 405, 'method_not_allowed'],
    ['logout: no token', 'POST', '/api/logout', {}, 401, 'missing_token'],
    ['logout: empty bearer', 'POST', '/api/logout', { headers: { Authorization: 'Bearer ' } }, 401, 'missing_token'],
    ['refresh: token with spaces', 'POST', '/api/token/refresh', { headers: { Authorization: `Bearer ${t.replace('.', ' . ')}` } }, 401, 'invalid_token'],
    ['refresh: oversized token', 'POST', '/api/token/refresh', { headers: { Authorization: `Bearer ${'A'.repeat(3000)}` } }, 401, 'invalid_token'],
    ['refresh: two dots only', 'POST', '/api/token/refresh', { headers: { Authorization: 'Bearer ..' } }, 401, 'invalid_token'],
    ['password: missing new', 'POST', '/api/password', { token: t, body: { oldPassword: alice.password } }, 400, 'missing_field'],
    ['password: not JSON', 'POST', '/api/password', { token: t, raw: 'nope', headers: json }, 400, 'invalid_json'],
    ['keys: empty object', 'PUT', '/api/keys', { token: t, body: {} }, 400, 'invalid_identity_key'],
    ['keys: identity key base64 with padding', 'PUT', '/api/keys', { token: t, body: { identityKey: `${id.publicKey}=`, signedPrekey: spk } }, 400, 'invalid_identity_key'],
    ['keys: identity key too long', 'PUT', '/api/keys', { token: t, body: { identityKey: b64u(Buffer.alloc(64)), signedPrekey: spk } }, 400, 'invalid_identity_key'],
    ['keys: identity key number', 'PUT', '/api/keys', { token: t, body: { identityKey: 7, signedPrekey: spk } }, 400, 'invalid_identity_key'],
    ['keys: signed prekey array', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: [spk] } }, 400, 'invalid_signed_prekey'],
    ['keys: signed prekey id NaN-like', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: { ...spk, id: 1e20 } } }, 400, 'invalid_signed_prekey'],
    ['keys: signature zeros', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: { ...spk, signature: b64u(Buffer.alloc(64)) } } }, 400, 'bad_signature'],
    ['keys: another identity (no reset)', 'PUT', '/api/keys', { token: t, body: (() => { const o = newIdentity(); return { identityKey: o.publicKey, signedPrekey: signedPrekey(o, 1) }; })() }, 409, 'identity_conflict'],
    ['keys: one-time prekeys string', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: 'many' } }, 400, 'invalid_one_time_prekeys'],
    ['keys: one-time prekey null', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: [null] } }, 400, 'invalid_one_time_prekeys'],
    ['keys: 101 one-time prekeys', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: oneTimePrekeys(1000, 101) } }, 400, 'too_many_prekeys'],
    ['keys: stored duplicate id', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: spk, oneTimePrekeys: oneTimePrekeys(5, 1) } }, 409, 'duplicate_prekey_id'],
    ['keys: resetIdentity string', 'PUT', '/api/keys', { token: t, body: { identityKey: id.publicKey, signedPrekey: spk, resetIdentity: 'true' } }, 400, 'invalid_field'],
    ['keys: body too large', 'PUT', '/api/keys', { token: t, raw: JSON.stringify({ pad: 'x'.repeat(40000) }), headers: json }, 413, 'too_large'],
    ['keys: no token', 'PUT', '/api/keys', { body: {} }, 401, 'missing_token'],
    ['kem: empty object', 'PUT', '/api/keys/me/kem', { token: t, body: {} }, 400, 'invalid_kem_prekey'],
    ['kem: record one byte short', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kemShort } }, 400, 'invalid_kem_prekey'],
    ['kem: record one byte long', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kemLong } }, 400, 'invalid_kem_prekey'],
    ['kem: record number', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: 7 } }, 400, 'invalid_kem_prekey'],
    ['kem: one-time object', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kem1, oneTime: {} } }, 400, 'invalid_kem_prekey'],
    ['kem: signed by another identity', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kemForeign } }, 400, 'bad_signature'],
    ['kem: signature zeros', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kemZeroSig } }, 400, 'bad_signature'],
    ['kem: 26 one-time', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kem1, oneTime: Array(26).fill(kem1) } }, 400, 'too_many_prekeys'],
    ['kem: repeated id', 'PUT', '/api/keys/me/kem', { token: t, body: { lastResort: kem1, oneTime: [kem1] } }, 400, 'duplicate_prekey_id'],
    ['kem: body too large', 'PUT', '/api/keys/me/kem', { token: t, raw: JSON.stringify({ pad: 'x'.repeat(100000) }), headers: json }, 413, 'too_large'],
    ['kem: no token', 'PUT', '/api/keys/me/kem', { body: {} }, 401, 'missing_token'],
    ['kem: GET', 'GET', '/api/keys/me/kem', { token: t }, 405, 'method_not_allowed'],
    ['keys: GET collection', 'GET', '/api/keys', { token: t }, 405, 'method_not_allowed'],
    ['keys: bundle of a percent-encoded name', 'GET', '/api/keys/A%20B', { token: t }, 400, 'invalid_username'],
    ['keys: bundle of empty name', 'GET', '/api/keys/', { token: t }, 400, 'invalid_username'],
    ['keys: bundle of unknown user', 'GET', '/api/keys/zz-nobody', { token: t }, 404, 'unknown_user'],
    ['keys: bundle of a user without keys', 'GET', `/api/keys/${(await newUser(base, 'nokeys')).username}`, { token: t }, 404, 'no_keys'],
    ['keys: POST count', 'POST', '/api/keys/me/count', { token: t, body: {} }, 405, 'method_not_allowed'],
    ['api: unknown endpoint', 'GET', '/api/nothing', {}, 404, 'not_found'],
    ['api: prefix lookalike', 'POST', '/api/signupx', { body: {} }, 404, 'not_found'],
  ];
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  for (const [what, method, path, opts, status, code] of cases) {
    const r = await api(base, method, path, opts);
    assert.equal(r.status, status, `${what}: status (${JSON.stringify(r.body).slice(0, 200)})`);
    assert.equal(typeof r.body, 'object', `${what}: JSON body`);
    assert.equal(r.body.error.code, code, `${what}: code`);
    assert.equal(typeof r.body.error.message, 'string', `${what}: message`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${what}: security headers`);
  }

  // Raw protocol abuse.
  const raws = [
    ['chunked body too large', 'POST /api/signup HTTP/1.1', { headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, body: `2000\r\n${'x'.repeat(0x2000)}\r\n0\r\n\r\n` }, 413],
    ['Content-Length above the cap', 'POST /api/signup HTTP/1.1', { headers: { 'Content-Type': 'application/json' }, body: `{"username":"${'a'.repeat(20000)}"}` }, 413],
    ['percent-encoded path', 'GET /api/keys/%61lice HTTP/1.1', { headers: { Authorization: `Bearer ${t}` } }, 400],
    // Requests Civetweb cannot parse reach the error handler without a method (this crashed the
    // server once): headers over max_request_size, and a request line that is not HTTP.
    ['headers over 8 KiB', 'GET /healthz HTTP/1.1', { headers: { 'X-Pad': 'x'.repeat(9000) } }, 413],
    ['not an HTTP request line', 'HELLO', {}, 400],
  ];
  for (const [what, line, opts, status] of raws) {
    const r = await rawRequest(server.port, line, opts);
    assert.equal(r.status, status, what);
    assert.ok(JSON.parse(r.body).error.code, `${what}: JSON error`);
  }

  // A Content-Length far beyond the cap, body never sent: answered at once, without waiting.
  const early = await new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    let data = '';
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('no early answer')); });
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const m = data.match(/Content-Length: (\d+)\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/);
      if (m && Buffer.byteLength(m[2]) >= Number(m[1])) { sock.destroy(); resolve(data); }
    });
    sock.write('POST /api/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{');
  });
  assert.match(early, /^HTTP\/1\.1 413/);
  assert.match(early, /"too_large"/);

  // The server is up and earlier data is intact.
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const login = await api(base, 'POST', '/api/login', { body: { username: alice.username, password: alice.password } });
  assert.equal(login.status, 200);
  const count = await api(base, 'GET', '/api/keys/me/count', { token: login.body.token });
  assert.equal(count.body.count, 30);
  const bundle = await api(base, 'GET', `/api/keys/${alice.username}`, { token: login.body.token });
  assert.equal(bundle.body.identityKey, id.publicKey);
  assert.equal(bundle.body.signedPrekey.signature, spk.signature);
  assert.equal(await dbIntegrity(server.dataDir), 'ok');
});

test('same origin only: no CORS headers, preflights refused', async () => {
  const pre = await rawRequest(server.port, 'OPTIONS /api/login HTTP/1.1', { headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
  assert.equal(pre.status, 405);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  assert.equal(JSON.parse(pre.body).error.code, 'method_not_allowed');
  for (const path of ['/index.html', '/healthz', '/api/nothing']) {
    const r = await fetch(`${server.url}${path}`, { headers: { Origin: 'http://evil.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), null, path);
    await r.arrayBuffer();
  }
});

test('JSON with anything after the value, or a key named twice at any depth, is refused (API and WebSocket)', async () => {
  const base = server.url;
  const json = { 'Content-Type': 'application/json' };
  const u = await newUser(base, 'twice');
  const id = newIdentity();
  const spk = signedPrekey(id, 3);
  const other = newIdentity();
  const body = JSON.stringify({ username: 'trailing', password: 'long enough' });
  const cases = [
    ['value then garbage', 'POST', '/api/signup', `${body}garbage`],
    ['two objects', 'POST', '/api/signup', `${body}{"username":"second","password":"long enough"}`],
    ['value then a number', 'POST', '/api/signup', `${body} 1`],
    ['username twice', 'POST', '/api/signup', '{"username":"firstname","username":"othername","password":"long enough"}'],
    ['password twice', 'POST', '/api/login', `{"username":"${u.username}","password":"${u.password}","password":"wrong one"}`],
    // Nested: which identity key or signature counts must not depend on the parser.
    ['nested key twice', 'PUT', '/api/keys', `{"identityKey":"${id.publicKey}","signedPrekey":{"id":3,"publicKey":"${spk.publicKey}","signature":"${spk.signature}","publicKey":"${signedPrekey(other, 3).publicKey}"}}`],
    ['key twice in an array member', 'PUT', '/api/keys', `{"identityKey":"${id.publicKey}","signedPrekey":${JSON.stringify(spk)},"oneTimePrekeys":[{"id":1,"publicKey":"${oneTimePrekeys(1, 1)[0].publicKey}","id":2}]}`],
    ['257 keys', 'POST', '/api/signup', `{${Array.from({ length: 257 }, (_, i) => `"k${i}":0`).join(',')}}`],
  ];
  for (const [what, method, path, raw] of cases) {
    const r = await api(base, method, path, { raw, headers: json, token: method === 'PUT' ? u.token : undefined });
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_json', what);
  }
  // Nothing of them was stored: no account "trailing" or "firstname", no keys for u.
  assert.equal((await api(base, 'POST', '/api/login', { body: { username: 'trailing', password: 'long enough' } })).status, 401);
  assert.equal((await api(base, 'GET', `/api/keys/${u.username}`, { token: u.token })).body.error.code, 'no_keys');
  // Trailing whitespace is fine.
  assert.equal((await api(base, 'POST', '/api/login', { raw: `${JSON.stringify({ username: u.username, password: u.password })} \r\n\t`, headers: json })).status, 200);

  // The WebSocket: a message with something after it is not JSON, and is not relayed.
  const { login, makeContacts } = await import('../lib/ws.mjs');
  const peer = await newUser(base, 'peer');
  const a = await login(server, u.token);
  const b = await login(server, peer.token);
  await makeContacts(a, b); // else nothing but chat requests would be relayed anyway
  a.send(`{"type":"note","to":"${peer.username}","id":1}{"type":"note","to":"${peer.username}"}`);
  assert.equal((await a.next((m) => m.type === 'error')).code, 'invalid_json');
  a.send(`{"type":"note","to":"${peer.username}","id":2} x`);
  assert.equal((await a.next((m) => m.type === 'error')).code, 'invalid_json');
  a.send({ type: 'ping', id: 'after' });
  await a.next((m) => m.type === 'pong');
  // A well-formed note is relayed: only the two with trailing data were not.
  a.send({ type: 'note', to: peer.username, id: 3 });
  assert.equal((await b.next((m) => m.type === 'note')).id, 3);
  assert.equal(b.messages.filter((m) => m.type === 'note').length, 0);
  a.close();
  b.close();
});
