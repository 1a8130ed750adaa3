// TLS: --self-signed generates a certificate into the data folder on first run and reuses it;
// --tls-cert/--tls-key serve a given pair; HTTPS and WSS work with that certificate trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, startServer } from '../lib/server.mjs';
import { httpsPostJson } from '../lib/http.mjs';
import { login } from '../lib/ws.mjs';

function get(url, ca, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, ...opts }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

function run(args) {
  return new Promise((resolve) => {
    const p = spawn(serverBinary(), args);
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, err }));
  });
}

test('--self-signed: HTTPS and WSS with the generated certificate, reused after a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
  try {
    const s1 = await startServer({ dataDir, args: ['--self-signed'] });
    let cert;
    try {
      assert.match(s1.url, /^https:/);
      cert = readFileSync(join(dataDir, 'tls-cert.pem'));
      assert.equal(statSync(join(dataDir, 'tls-key.pem')).mode & 0o777, 0o600);
      const r = await get(`${s1.url}/healthz`, cert);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).status, 'ok');
      // The certificate names localhost too.
      assert.equal((await get(`https://localhost:${s1.port}/healthz`, cert)).status, 200);
      // Untrusted by default.
      await assert.rejects(get(`${s1.url}/healthz`, undefined), /self[- ]signed|unable to verify/i);
      // TLS 1.1 and older are refused.
      await assert.rejects(get(`${s1.url}/healthz`, cert, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
      // TLS 1.2 offers forward-secret AEAD suites only: CBC with SHA-1 or SHA-256, static RSA
      // key exchange and plain AES-GCM without ECDHE are refused; ECDHE with AES-GCM works.
      for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'AES128-GCM-SHA256', 'AES256-SHA', 'DHE-RSA-AES128-GCM-SHA256']) {
        await assert.rejects(get(`${s1.url}/healthz`, cert, { maxVersion: 'TLSv1.2', ciphers: cipher }), undefined, cipher);
      }
      for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
        assert.equal((await get(`${s1.url}/healthz`, cert, { maxVersion: 'TLSv1.2', ciphers: cipher })).status, 200, cipher);
      }
      // HTTPS answers tell browsers to stay on HTTPS, static files and API alike.
      assert.equal(r.headers['strict-transport-security'], 'max-age=31536000');
      assert.equal((await get(`${s1.url}/`, cert)).headers['strict-transport-security'], 'max-age=31536000');
      assert.equal((await get(`${s1.url}/api/nothing`, cert)).headers['strict-transport-security'], 'max-age=31536000');
      // An account and a WSS session.
      const signup = await httpsPostJson(`${s1.url}/api/signup`, cert, { username: 'tlsuser', password: 'tls password' });
      assert.equal(signup.status, 201);
      const c = await login(s1, signup.body.token, { ca: cert });
      assert.equal(c.user, 'tlsuser');
      c.close();
    } finally {
      await s1.stop();
    }
    const s2 = await startServer({ dataDir, args: ['--self-signed'] });
    try {
      assert.deepEqual(readFileSync(join(dataDir, 'tls-cert.pem')), cert, 'the same certificate');
      assert.equal((await get(`${s2.url}/healthz`, cert)).status, 200);
    } finally {
      await s2.stop();
    }
    // The same pair given explicitly.
    const s3 = await startServer({ args: ['--tls-cert', join(dataDir, 'tls-cert.pem'), '--tls-key', join(dataDir, 'tls-key.pem')] });
    try {
      assert.equal((await get(`${s3.url}/healthz`, cert)).status, 200);
    } finally {
      await s3.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('TLS misconfiguration is refused with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tlsbad-'));
  try {
    const half = await run(['--listen', '127.0.0.1:0', '--data', dir, '--tls-cert', '/nonexistent.pem']);
    assert.equal(half.code, 2);
    assert.match(half.err, /--tls-cert and --tls-key go together/);
    writeFileSync(join(dir, 'bad.pem'), 'not a certificate');
    const bad = await run(['--listen', '127.0.0.1:0', '--data', join(dir, 'd'), '--tls-cert', join(dir, 'bad.pem'), '--tls-key', join(dir, 'bad.pem')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /TLS certificate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
