// A lab client: opens COUNT TCP connections to HOST:PORT (CONCURRENCY at a time, from
// source ports SPORT, SPORT+1, … when given), sends a line, reads the backend's answer
// ("<name> <client address>") and prints one JSON object: connections per backend name,
// failures with reasons, and per-connection backend when --each is given.
// Run: node probe.js --to 10.99.0.100:80 --count 100 [--concurrency 20] [--sport 40000] [--each]
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const args = process.argv.slice(2);
const opt = (k: string): string | undefined => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const [host, portText] = (opt('--to') ?? '').split(/:(?=\d+$)/);
const port = Number(portText);
const count = Number(opt('--count') ?? '1');
const concurrency = Number(opt('--concurrency') ?? '20');
const sport = opt('--sport') !== undefined ? Number(opt('--sport')) : undefined;
const timeoutMs = Number(opt('--timeout') ?? '3000');
const each = args.includes('--each');
// --http: a GET; the answer's body starts with the server's name. --tls: over TLS (no verification: lab certificates).
const http = args.includes('--http');
const tls = args.includes('--tls');
const connect = (o: { host: string; port: number; localPort?: number }): Socket =>
  tls ? tlsConnect({ ...o, rejectUnauthorized: false }) : tcpConnect(o);

const byServer: Record<string, number> = {};
/** The client addresses the backends saw (the director's, under full NAT). */
const peers: Record<string, number> = {};
const failures: Record<string, number> = {};
const per: (string | null)[] = new Array(count).fill(null);

function one(i: number): Promise<void> {
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const s = connect({ host: host!, port, ...(sport !== undefined ? { localPort: sport + i } : {}) });
    const finish = (err?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      if (err) failures[err] = (failures[err] ?? 0) + 1;
      else {
        const [name0, seen] = data.split('\n')[0]!.split(' ');
        const name = name0!.trim();
        byServer[name] = (byServer[name] ?? 0) + 1;
        const peer = (seen ?? '').replace(/^::ffff:/, '').replace(/:\d+$/, '');
        peers[peer] = (peers[peer] ?? 0) + 1;
        per[i] = name;
      }
      resolve();
    };
    const t = setTimeout(() => finish('timeout'), timeoutMs);
    s.setEncoding('utf8');
    s.on(tls ? 'secureConnect' : 'connect', () => s.write(http ? `GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n` : 'hello\n'));
    s.on('data', (d: string) => (data += d));
    s.on('end', () => {
      if (http) {
        const body = data.split('\r\n\r\n')[1];
        if (!/^HTTP\/1\.[01] 200/.test(data) || !body) return finish(`bad answer: ${data.split('\r\n')[0] ?? ''}`);
        data = body;
      }
      finish(data.includes('\n') ? undefined : 'closed without answer');
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

// --bulk BYTES [--rate MBPS]: one slow download (the client reads at most MBPS MB/s), then
// {server, received, expected, ms, error?} — long-lived connections across a failover.
if (args.includes('--bulk')) {
  const expected = Number(opt('--bulk'));
  const rate = Number(opt('--rate') ?? '10') * 1e6;
  const t0 = performance.now();
  const result = await new Promise<Record<string, unknown>>((resolve) => {
    const s = connect({ host: host!, port });
    let head = '';
    let received = 0;
    s.on('connect', () => s.write(`BULK ${expected}\n`));
    s.on('data', (d: Buffer) => {
      if (!head.includes('\n')) {
        const text = d.toString('latin1');
        const i = text.indexOf('\n');
        if (i < 0) return void (head += text);
        head += text.slice(0, i + 1);
        received += d.length - (i + 1);
      } else received += d.length;
      // Throttle: pause until the average rate is back under the limit.
      const ahead = received / rate - (performance.now() - t0) / 1000;
      if (ahead > 0) {
        s.pause();
        setTimeout(() => s.resume(), ahead * 1000);
      }
    });
    s.on('end', () => resolve({ server: head.split(' ')[0], received, expected }));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ server: head.split(' ')[0], received, expected, error: e.code ?? e.message }));
  });
  process.stdout.write(JSON.stringify({ ...result, ms: Math.round(performance.now() - t0) }) + '\n');
  process.exit(0);
}

// --hold: open COUNT connections that stay open, report where they landed, and close
// them (FIN) on SIGTERM — a client with long-lived connections, for drain tests.
if (args.includes('--hold')) {
  const socks = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Promise<{ name: string; s: ReturnType<typeof connect> }>((resolve) => {
        const s = connect({ host: host!, port });
        let data = '';
        s.setEncoding('utf8');
        s.on('connect', () => s.write('HOLD\n'));
        s.on('error', (e: NodeJS.ErrnoException) => resolve({ name: `error:${e.code ?? e.message}`, s }));
        s.on('data', (d: string) => {
          data += d;
          if (data.includes('\n')) resolve({ name: data.split(' ')[0]!, s });
        });
        void i;
      }),
    ),
  );
  process.stdout.write(JSON.stringify({ held: socks.map((x) => x.name) }) + '\n');
  process.on('SIGTERM', () => {
    for (const x of socks) x.s.end();
    setTimeout(() => process.exit(0), 200);
  });
  await new Promise(() => {});
}

let next = 0;
async function worker(): Promise<void> {
  while (next < count) await one(next++);
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(JSON.stringify({ byServer, failures, peers, ...(each ? { per } : {}) }) + '\n');
