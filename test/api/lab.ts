// A two-director lab for the API tests: lb1 (priority 100) and lb2 (99) run `haldir run`
// for real (VRRP VI_1 with VIP 10.97.0.100, a userspace-proxied service VIP:80 over
// backends on both nodes at :8080, TCP checks), each with its API on a unix socket in a
// temporary directory and on TCP at its address:9440 with a bearer token; lb1 serves the
// dashboard, lb2 does not. A client namespace reaches the TCP APIs and the VIP.
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../src/lab/netns.js';
import { BACKEND, PROBE } from '../../src/lab/dp-lab.js';
import { HALDIR } from '../../src/lab/vrrp-lab.js';

export const VIP = '10.97.0.100';
export const HTTP_CLIENT = fileURLToPath(new URL('./http-client.js', import.meta.url));
export const TOKEN = 'c0ffee'.repeat(8);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function conf(name: string, prio: number): string {
  const rs = (ip: string) => [`  real_server ${ip} 8080 {`, '    weight 1', '    TCP_CHECK {', '      connect_timeout 1', '    }', '  }'];
  return [
    'global_defs {',
    `  router_id ${name}`,
    '}',
    'vrrp_instance VI_1 {',
    '  state BACKUP',
    '  interface eth0',
    '  virtual_router_id 71',
    `  priority ${prio}`,
    '  advert_int 1',
    '  authentication {',
    '    auth_type PASS',
    '    auth_pass apitest1',
    '  }',
    '  virtual_ipaddress {',
    `    ${VIP}/24 dev eth0`,
    '  }',
    '}',
    `virtual_server ${VIP} 80 {`,
    '  delay_loop 2',
    '  lb_algo wrr',
    '  lb_kind NAT',
    '  protocol TCP',
    ...rs('10.97.0.11'),
    ...rs('10.97.0.12'),
    '}',
    '',
  ].join('\n');
}

export interface ApiNode {
  name: string;
  ip: string;
  sock: string;
  conf: string;
  tmp: string;
  proc?: ChildProcess;
  out: string[];
}

export class ApiLab {
  readonly lab = new Lab('ha');
  readonly dir = mkdtempSync(join(tmpdir(), 'haldir-api-'));
  readonly token: string;
  readonly nodes: ApiNode[] = [];
  private readonly backends = new Map<string, ChildProcess>();

  constructor() {
    chmodSync(this.dir, 0o755);
    this.token = join(this.dir, 'token');
    writeFileSync(this.token, `# the lab's operators\nops ${TOKEN}\n`, { mode: 0o600 });
    try {
      this.lab.addHost('client', { ip: '10.97.0.10/24' });
      for (const [name, prio] of [
        ['lb1', 100],
        ['lb2', 99],
      ] as const) {
        const ip = `10.97.0.${name === 'lb1' ? 11 : 12}`;
        // The userspace proxy binds the VIP before VRRP adds it.
        this.lab.addHost(name, { ip: `${ip}/24`, sysctls: { 'net.ipv4.ip_nonlocal_bind': '1' } });
        const tmp = join(this.dir, name);
        mkdirSync(tmp);
        const c = join(this.dir, `${name}.conf`);
        writeFileSync(c, conf(name, prio));
        this.nodes.push({ name, ip, sock: join(this.dir, `${name}.sock`), conf: c, tmp, out: [] });
      }
    } catch (e) {
      void this.close();
      throw e;
    }
  }

  node(name: string): ApiNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async start(): Promise<void> {
    for (const n of this.nodes) this.startBackend(n.name);
    for (const n of this.nodes) this.startDaemon(n.name);
  }

  /** The real server on a node (:8080, answers with be-NAME). */
  startBackend(name: string): void {
    this.backends.set(name, this.lab.spawn(name, process.execPath, [BACKEND, '--name', `be-${name}`, '--port', '8080']));
  }

  async stopBackend(name: string): Promise<void> {
    const b = this.backends.get(name);
    if (b) await this.lab.stop(b, 1000);
    this.backends.delete(name);
  }

  startDaemon(name: string): void {
    const n = this.node(name);
    const peers = this.nodes.flatMap((p) => ['--peer-api', `${p.name}=${p.ip}:9440`]);
    const args = [HALDIR, 'run', n.conf, '--dataplane', 'userspace', '--api-socket', n.sock, '--api-listen', `${n.ip}:9440`, '--api-token-file', this.token, ...peers, ...(name === 'lb1' ? ['--dashboard'] : [])];
    n.proc = this.lab.spawn(name, process.execPath, args, { env: { ...process.env, TMPDIR: n.tmp } });
    n.out = [];
    n.proc.stdout!.on('data', (b: Buffer) => n.out.push(b.toString()));
    n.proc.stderr!.on('data', (b: Buffer) => n.out.push(b.toString()));
  }

  log(name: string): string {
    return this.node(name).out.join('');
  }

  logs(): string {
    return this.nodes.map((n) => `--- ${n.name}:\n${this.log(n.name).slice(-4000)}`).join('\n');
  }

  async until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<number> {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}\n${this.logs()}`);
      await sleep(50);
    }
    return Date.now() - t0;
  }

  holders(): string[] {
    return this.nodes.filter((n) => this.lab.exec(n.name, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${VIP}/`)).map((n) => n.name);
  }

  /** A request to a node's TCP API from the client namespace. */
  tcp(name: string, method: string, path: string, opts: { token?: string | null; body?: string } = {}): { status: number; headers: Record<string, string>; body: string } {
    const t = opts.token === undefined ? TOKEN : opts.token === null ? '-' : opts.token;
    const out = this.lab.exec('client', process.execPath, [HTTP_CLIENT, method, `http://${this.node(name).ip}:9440${path}`, t, ...(opts.body !== undefined ? [opts.body] : [])]);
    return JSON.parse(out) as { status: number; headers: Record<string, string>; body: string };
  }

  /** Connections from the client to VIP:80: per backend name. */
  probe(count: number): { byServer: Record<string, number>; failures: Record<string, number> } {
    return JSON.parse(this.lab.exec('client', process.execPath, [PROBE, '--to', `${VIP}:80`, '--count', String(count), '--concurrency', '4'])) as { byServer: Record<string, number>; failures: Record<string, number> };
  }

  async close(): Promise<void> {
    for (const n of this.nodes) if (n.proc) await this.lab.stop(n.proc, 5000);
    await this.lab.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a unix socket; for an event stream, the first `streamMs` of it. */
export function unixRequest(sock: string, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; streamMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: sock, path, method, headers: { ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(opts.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let t: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (t) clearTimeout(t);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', done);
      if (/event-stream/.test(res.headers['content-type'] ?? '')) {
        t = setTimeout(() => {
          req.destroy();
          done();
        }, opts.streamMs ?? 300);
      }
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
