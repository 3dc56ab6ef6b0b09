// `haldir demo` where network namespaces are not available (no root): one node on
// loopback — three HTTP backends, `haldir run` with the userspace data plane and
// HTTP_GET checks in front of them, traffic through it, one backend stopped and
// restarted — printed with timestamps, then everything stopped.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, type IO } from './main.js';

const HALDIR = fileURLToPath(new URL('../../../bin/haldir.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function backend(name: string, port = 0): Promise<Server> {
  const s = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end(req.url === '/healthz' ? 'ok\n' : `${name}\n`);
  });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function get(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, path: '/', timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(undefined));
    r.end();
  });
}

export async function localDemo(io: IO, why: string): Promise<number> {
  const t0 = Date.now();
  const say = (s: string): void => io.out(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);
  say(`single-node demo on loopback with the userspace data plane (${why})`);
  const dir = mkdtempSync(join(tmpdir(), 'haldir-demo-'));
  const servers = new Map<string, Server>();
  const ports = new Map<string, number>();
  let daemon: ReturnType<typeof spawn> | undefined;
  try {
    for (const n of ['be1', 'be2', 'be3']) {
      const s = await backend(n);
      servers.set(n, s);
      ports.set(n, (s.address() as AddressInfo).port);
    }
    const vs = await backend('probe');
    const vport = (vs.address() as AddressInfo).port;
    await new Promise((r) => vs.close(r));
    const conf = join(dir, 'haldir.conf');
    writeFileSync(
      conf,
      [
        `virtual_server 127.0.0.1 ${vport} {`,
        '  delay_loop 1',
        '  lb_algo rr',
        '  lb_kind NAT',
        '  protocol TCP',
        ...[...ports].map(([, p]) => `  real_server 127.0.0.1 ${p} {\n    weight 1\n    HTTP_GET {\n      url { path /healthz status_code 200 }\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }\n  }`),
        '}',
        '',
      ].join('\n'),
    );
    say(`backends be1–be3 on 127.0.0.1:${[...ports.values()].join(', ')}; virtual service 127.0.0.1:${vport} (rr, HTTP_GET /healthz every 1 s)`);
    daemon = spawn(process.execPath, [HALDIR, 'run', conf, '--dataplane', 'userspace'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    daemon.stdout!.on('data', (b: Buffer) => {
      log += b.toString();
    });
    for (let i = 0; i < 100 && (await get(vport)) === undefined; i++) await sleep(50);
    say('haldir run is up: every request below goes through its proxy');
    const round = async (label: string): Promise<void> => {
      const by: Record<string, number> = {};
      let fail = 0;
      for (let i = 0; i < 30; i++) {
        const who = await get(vport);
        if (who) by[who] = (by[who] ?? 0) + 1;
        else fail++;
      }
      say(`   ${label}: ${Object.entries(by).map(([k, v]) => `${k}:${v}`).sort().join(' ')}  failed:${fail}`);
    };
    await round('30 requests');
    say('== be2 stops');
    await new Promise((r) => servers.get('be2')!.close(r));
    servers.get('be2')!.closeAllConnections();
    const stopAt = Date.now();
    while (!/real server \[127\.0\.0\.1\]:tcp:\d+ DOWN/.test(log) && Date.now() - stopAt < 10000) await sleep(50);
    say(`haldir took be2 out after ${((Date.now() - stopAt) / 1000).toFixed(1)} s (its check failed twice, 1 s apart)`);
    await round('30 requests');
    say('== be2 starts again');
    servers.set('be2', await backend('be2', ports.get('be2')));
    const upAt = Date.now();
    while (!/real server \[127\.0\.0\.1\]:tcp:\d+ UP/.test(log) && Date.now() - upAt < 10000) await sleep(50);
    say(`be2 is back after ${((Date.now() - upAt) / 1000).toFixed(1)} s`);
    await round('30 requests');
    say('the full demo (four nodes, VRRP failover, DR) needs root and network namespaces: sudo npm run demo');
    return EXIT.ok;
  } catch (e) {
    io.err(`haldir demo: ${(e as Error).message}\n`);
    return EXIT.invalid;
  } finally {
    if (daemon && daemon.exitCode === null) {
      const d = daemon;
      d.kill('SIGTERM');
      await new Promise((r) => d.once('exit', r));
    }
    for (const s of servers.values()) {
      s.close();
      s.closeAllConnections();
    }
    rmSync(dir, { recursive: true, force: true });
    say('stopped everything');
  }
}
