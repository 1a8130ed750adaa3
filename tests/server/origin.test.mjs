// The WebSocket's page origins when the server is given no --origin (README: --listen 0.0.0.0):
// a page is taken when its Origin is the scheme and the request's own Host on the listen port
// (same origin, under whatever address or name the server was reached by); any other is refused,
// and POST /api/origin tells a page whether it is taken, with a reason it can show.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { connect } from '../lib/ws.mjs';
import http from 'node:http';

const open = await startServer({ args: ['--listen', '0.0.0.0:0'] });
const listed = await startServer({ args: ['--listen', '0.0.0.0:0', '--origin', 'https://chat.example.org'] });
after(async () => {
  await open.stop();
  await listed.stop();
});

/** POST /api/origin as a page of `origin` reaching the server as `host`. */
function check(server, origin, host) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: '/api/origin', method: 'POST', headers: { Origin: origin, Host: host } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('listening on 0.0.0.0: a page served under any address or name of the server is taken; a foreign one is refused', async () => {
  const port = open.port;
  for (const host of [`127.0.0.1:${port}`, `parley.lan:${port}`, `192.168.1.5:${port}`]) {
    const c = await connect(open, { origin: `http://${host}`, headers: { Host: host } });
    c.close();
    assert.deepEqual((await check(open, `http://${host}`, host)), { status: 200, body: { ok: true } });
  }
  const refused = [
    ['http://evil.example', `parley.lan:${port}`], // another page
    [`http://parley.lan:${port + 1}`, `parley.lan:${port + 1}`], // a Host on another port
    [`https://parley.lan:${port}`, `parley.lan:${port}`], // another scheme
    [`http://Parley.lan:${port}`, `Parley.lan:${port}`], // not an origin in its serialised form
  ];
  for (const [origin, host] of refused) {
    await assert.rejects(connect(open, { origin, headers: { Host: host } }), (e) => {
      assert.equal(e.status, 403, origin);
      assert.equal(e.body.error.code, 'forbidden_origin');
      return true;
    });
    const r = await check(open, origin, host);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'forbidden_origin');
  }
  // The reason names the page's origin and the option that would admit it.
  const r = await check(open, 'http://evil.example', `parley.lan:${port}`);
  assert.match(r.body.error.message, /^pages from http:\/\/evil\.example may not open the WebSocket; start the server with --origin http:\/\/evil\.example$/);
  // Only POST.
  assert.equal((await fetch(`${open.url}/api/origin`)).status, 405);
});

test('with --origin, the list alone decides: the page\'s own Host is not enough', async () => {
  const host = `parley.lan:${listed.port}`;
  await assert.rejects(connect(listed, { origin: `http://${host}`, headers: { Host: host } }), (e) => e.status === 403);
  assert.equal((await check(listed, `http://${host}`, host)).status, 403);
  const c = await connect(listed, { origin: 'https://chat.example.org' });
  c.close();
  assert.equal((await check(listed, 'https://chat.example.org', host)).status, 200);
});
