// A lab client load loop: one request after another on each port (HTTP GET; TLS on
// 443), each with a deadline, and one JSON line per second: successes, failures, which
// node answered, and the median and worst latency. Runs until SIGTERM.
// Run: node traffic.js --host 192.168.2.100 --ports 80,443,8443,6443 [--timeout 500]
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const args = process.argv.slice(2);
const opt = (k: string, d: string): string => {
  const i = args.indexOf(k);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
};
const host = opt('--host', '192.168.2.100');
const ports = opt('--ports', '80').split(',').map(Number);
const timeoutMs = Number(opt('--timeout', '500'));

interface Second {
  ok: number;
  fail: number;
  byNode: Record<string, number>;
  errors: Record<string, number>;
  lat: number[];
  /** Longest time in this second since a port's last success (the client-visible gap). */
  maxGapMs: number;
}
let cur: Second = { ok: 0, fail: 0, byNode: {}, errors: {}, lat: [], maxGapMs: 0 };
const lastOk = new Map<number, number>();

function request(port: number): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let data = '';
    let done = false;
    const s: Socket = port === 443 ? tlsConnect({ host, port, rejectUnauthorized: false }) : tcpConnect({ host, port });
    const finish = (err?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      if (err) {
        cur.fail++;
        cur.errors[`${port} ${err}`] = (cur.errors[`${port} ${err}`] ?? 0) + 1;
        cur.maxGapMs = Math.max(cur.maxGapMs, performance.now() - (lastOk.get(port) ?? performance.now()));
      } else {
        const prev = lastOk.get(port);
        if (prev !== undefined) cur.maxGapMs = Math.max(cur.maxGapMs, performance.now() - prev);
        lastOk.set(port, performance.now());
        cur.ok++;
        const node = (data.split('\r\n\r\n')[1] ?? '').split(' ')[0] ?? '?';
        cur.byNode[node] = (cur.byNode[node] ?? 0) + 1;
        cur.lat.push(performance.now() - t0);
      }
      resolve();
    };
    const t = setTimeout(() => finish('timeout'), timeoutMs);
    s.setEncoding('utf8');
    s.on(port === 443 ? 'secureConnect' : 'connect', () => s.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    s.on('data', (d: string) => (data += d));
    s.on('end', () => finish(/^HTTP\/1\.[01] 200/.test(data) ? undefined : 'bad answer'));
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

let stop = false;
process.on('SIGTERM', () => (stop = true));
const loop = async (port: number): Promise<void> => {
  while (!stop) {
    const t = performance.now();
    await request(port);
    const rest = 20 - (performance.now() - t);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
};
const tick = setInterval(() => {
  const s = cur;
  cur = { ok: 0, fail: 0, byNode: {}, errors: {}, lat: [], maxGapMs: 0 };
  s.lat.sort((a, b) => a - b);
  const p50 = s.lat[Math.floor(s.lat.length / 2)] ?? 0;
  const max = s.lat[s.lat.length - 1] ?? 0;
  process.stdout.write(JSON.stringify({ at: Date.now(), ok: s.ok, fail: s.fail, byNode: s.byNode, errors: s.errors, p50: +p50.toFixed(1), max: +max.toFixed(1), maxGapMs: Math.round(s.maxGapMs) }) + '\n');
}, 1000);
await Promise.all(ports.map(loop));
clearInterval(tick);
