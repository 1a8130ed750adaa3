// HTTP helpers for tests. rawRequest: a raw HTTP/1.1 client over a TCP socket that sends the
// request line exactly as written (no path normalisation, unlike fetch) and returns
// { status, headers, body }; rawExchange: sends bytes exactly as given on one connection and
// returns every response that came back and whether the server closed the connection;
// httpsPostJson: a JSON POST over HTTPS with a given trusted certificate.
import https from 'node:https';
import net from 'node:net';

export function rawRequest(port, requestLine, { headers = {}, body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const lines = [requestLine, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    // A body is sent with its length, unless the caller frames it with Transfer-Encoding (a
    // request with both is refused: RFC 9112 6.3).
    if (body && !Object.keys(headers).some((k) => k.toLowerCase() === 'transfer-encoding')) {
      lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    }
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error('timeout')); });
    sock.on('connect', () => sock.write(`${lines.join('\r\n')}\r\n\r\n${body}`));
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', reject);
    sock.on('close', () => {
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split >= 0 ? text.slice(0, split) : text;
      const [status, ...hdrs] = head.split('\r\n');
      const headersOut = {};
      for (const h of hdrs) {
        const i = h.indexOf(':');
        if (i > 0) headersOut[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      resolve({
        status: Number((status.match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0),
        headers: headersOut,
        body: split >= 0 ? text.slice(split + 4) : '',
      });
    });
  });
}

/**
 * Splits what a server sent on one connection into responses { status, headers, body }: each body
 * is as long as its Content-Length, or its chunks when chunked, or the rest without either.
 * (Not for answers to HEAD, which announce a length they do not send.)
 */
export function parseResponses(buf) {
  const out = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) break;
    const [status, ...lines] = buf.toString('latin1', at, end).split('\r\n');
    const headers = {};
    for (const h of lines) {
      const i = h.indexOf(':');
      if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    let bodyStart = end + 4;
    let body;
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = buf.subarray(bodyStart, bodyStart + Math.max(0, n));
      at = bodyStart + Math.max(0, n);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      for (;;) {
        const eol = buf.indexOf('\r\n', bodyStart, 'latin1');
        if (eol < 0) { at = buf.length; break; }
        const size = parseInt(buf.toString('latin1', bodyStart, eol), 16);
        if (!(size > 0)) { at = eol + 4; break; }
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        bodyStart = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = buf.subarray(bodyStart);
      at = buf.length;
    }
    out.push({ status: Number((status.match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0), headers, body: body.toString('latin1') });
  }
  return out;
}

/**
 * Sends data (a string, sent byte for byte as latin1, or a Buffer) on one connection and collects
 * what comes back until the server closes the connection or waitMs pass. Resolves
 * { responses, closed, raw }: responses as parseResponses splits them, closed whether the server
 * closed the connection within waitMs.
 */
export function rawExchange(port, data, { waitMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parseResponses(buf), closed, raw: buf.toString('latin1') });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.on('connect', () => sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data));
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    // A reset after the answer (the server closed with bytes of ours unread) is a close too.
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

/** POSTs obj as JSON over HTTPS trusting ca (a PEM certificate); resolves { status, body }. */
export function httpsPostJson(url, ca, obj) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(obj);
    const req = https.request(url, { method: 'POST', ca, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
