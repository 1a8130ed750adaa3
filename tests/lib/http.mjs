// HTTP helpers for tests. rawRequest: a raw HTTP/1.1 client over a TCP socket that sends the
// request line exactly as written (no path normalisation, unlike fetch) and returns
// { status, headers, body }; httpsPostJson: a JSON POST over HTTPS with a given trusted certificate.
import https from 'node:https';
import net from 'node:net';

export function rawRequest(port, requestLine, { headers = {}, body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const lines = [requestLine, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
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
