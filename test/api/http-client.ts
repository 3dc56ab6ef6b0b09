// One HTTP request, printed as JSON ({status, headers, body}): the API tests run it
// inside a lab namespace to reach a daemon's TCP API there.
// Run: node http-client.js METHOD URL [TOKEN|-] [BODY]
import { request } from 'node:http';

const [method = 'GET', url = '', token = '-', body] = process.argv.slice(2);
const u = new URL(url);
const req = request(
  { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: { ...(token !== '-' ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) }, timeout: 5000 },
  (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) + '\n');
    });
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => {
  process.stdout.write(JSON.stringify({ status: 0, headers: {}, body: e.message }) + '\n');
});
if (body !== undefined) req.write(body);
req.end();
