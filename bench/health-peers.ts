// Real servers and the peer for the health-check benchmark: one nginx
// answering on 100 ports, so that 10,000 real servers are 100 loopback
// addresses (127.0.1.1–127.0.1.100) × 100 ports; and HAProxy checking the same
// 10,000 servers (`check inter 1s`) as the peer whose CPU is measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BASE_PORT = 21000;
export const STATUS_PORT = BASE_PORT - 2;

/** Connections nginx has accepted so far (stub_status). */
export async function nginxAccepts(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const c = net.connect(STATUS_PORT, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
    let body = '';
    c.on('data', (d) => (body += d.toString()));
    c.on('end', () => {
      const m = /\n\s*(\d+)\s+\d+\s+\d+/.exec(body);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`unexpected stub_status: ${body.slice(0, 200)}`));
    });
    c.on('error', reject);
  });
}

export interface ServerSet {
  addresses: string[];
  ports: number[];
}

export function serverSet(n: number): ServerSet {
  const side = Math.ceil(Math.sqrt(n));
  return {
    addresses: Array.from({ length: side }, (_, i) => `127.0.1.${i + 1}`),
    ports: Array.from({ length: side }, (_, i) => BASE_PORT + i),
  };
}

/** Every (address, port) of the set, n of them. */
export function targets(set: ServerSet, n: number): { address: string; port: number }[] {
  const out: { address: string; port: number }[] = [];
  for (const address of set.addresses) for (const port of set.ports) if (out.length < n) out.push({ address, port });
  return out;
}

export function startNginx(dir: string, set: ServerSet): ChildProcess {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'logs', 'error.log')} warn;`,
      'events { worker_connections 8192; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;`,
      '  server {',
      // A wildcard listen per port accepts every 127.x address: 100 sockets serve 10,000 servers.
      ...set.ports.map((p) => `    listen ${p} reuseport;`),
      '    location / { return 200 "ok\\n"; }',
      '  }',
      // nginx's own count of accepted connections: what each checker really achieved.
      `  server { listen 127.0.0.1:${STATUS_PORT}; location / { stub_status; } }`,
      '}',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  return spawn('nginx', ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function haproxyConfig(dir: string, servers: { address: string; port: number }[], http: boolean): string {
  const conf = join(dir, `haproxy-${http ? 'http' : 'tcp'}.cfg`);
  writeFileSync(
    conf,
    [
      'global',
      '  maxconn 4000',
      '  log stdout format raw local0 emerg',
      'defaults',
      `  mode ${http ? 'http' : 'tcp'}`,
      '  timeout connect 2s',
      '  timeout check 2s',
      '  timeout client 5s',
      '  timeout server 5s',
      // HAProxy will not start without a listener; nothing connects to it.
      'frontend f',
      `  bind 127.0.0.1:${BASE_PORT - 1}`,
      '  default_backend pool',
      'backend pool',
      ...(http ? ['  option httpchk GET /healthz'] : []),
      ...servers.map((s, i) => `  server s${i} ${s.address}:${s.port} check inter 1s`),
      '',
    ].join('\n'),
  );
  return conf;
}

/** user + system CPU seconds of a process so far (/proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // Fields 14 and 15 (utime, stime) are 12 and 13 after the ") " split; clock ticks of 1/100 s.
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function rssMB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
