// The seed's cluster in network namespaces: four nodes lb1–lb4 (192.168.2.11–14) that
// are directors and real servers at once, each running `haldir run` with the seed's own
// keepalived.conf (examples/seed/lbN.conf: VIP 192.168.2.100, VRRP priorities 100/99/
// 98/97, services 80/443/8443/6443, rr, DR) and nginx on 80, 443 (TLS), 8443 and 6443;
// a client at 192.168.2.10; and the seed's upstream tier 192.168.3.31–33. Each node's
// /healthz is proxied to its upstream (lb1→.31, lb2→.32, lb3→.33, lb4→.31) and answers
// 200 only while that upstream answers, 503 otherwise: the seed's two-level check, so a
// node whose upstream is gone leaves the rotation. Every node carries the VIP on lo with
// arp_ignore/arp_announce, as DR real servers must; the master also has it on eth0 via
// VRRP. Only the master balances, so a node that receives a frame the master forwarded
// serves it locally and never forwards it again. Each daemon serves its API (src/api) on
// its own unix socket (SeedLab.apiSocket) and at NODE_IP:9440 with the lab's token, knows
// the others as peers, and serves the dashboard.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, nsExec } from './netns.js';
import { HALDIR } from './vrrp-lab.js';

export const SEED_VIP = '192.168.2.100';
export const SEED_PORTS = [80, 443, 8443, 6443];
const SEED_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../examples/seed/' : '../../examples/seed/', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.js', import.meta.url));
export const UPSTREAMS = ['192.168.3.31', '192.168.3.32', '192.168.3.33'];
/** The upstream a node's /healthz depends on. */
export const upstreamOf = (node: string): string => UPSTREAMS[(Number(node.slice(2)) - 1) % UPSTREAMS.length]!;

export interface SeedNode {
  name: string;
  ip: string;
  daemon?: ChildProcess;
  nginx?: ChildProcess;
  log: string[];
}

export class SeedLab {
  readonly lab = new Lab('hs');
  readonly dir = mkdtempSync(join(tmpdir(), 'haldir-seed-'));
  readonly nodes: SeedNode[] = [];
  private readonly upstreams = new Map<string, ChildProcess>();
  /** The daemons' TCP API token (file: apiTokenFile, mode 0600). */
  readonly apiToken = randomBytes(24).toString('hex');
  readonly apiTokenFile = join(this.dir, 'api-token');

  constructor(progress: (s: string) => void = () => {}) {
    chmodSync(this.dir, 0o755);
    writeFileSync(this.apiTokenFile, `lab ${this.apiToken}\n`, { mode: 0o600 });
    try {
      this.lab.addHost('client', { ip: '192.168.2.10/24', mac: '02:92:00:00:00:10' });
      // One self-signed certificate for every node's :443.
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=seed.lab', '-keyout', join(this.dir, 'key.pem'), '-out', join(this.dir, 'cert.pem')], { stdio: 'ignore' });
      for (let i = 1; i <= 4; i++) {
        const name = `lb${i}`;
        const ip = `192.168.2.${10 + i}`;
        progress(`node ${name} (${ip}): namespace, VIP on lo, ARP sysctls`);
        this.lab.addHost(name, {
          ip: `${ip}/24`,
          mac: `02:92:00:00:00:${10 + i}`,
          sysctls: { 'net.ipv4.conf.all.arp_ignore': '1', 'net.ipv4.conf.all.arp_announce': '2', 'net.ipv4.conf.eth0.arp_ignore': '1', 'net.ipv4.conf.eth0.arp_announce': '2' },
        });
        this.lab.exec(name, 'ip', ['addr', 'add', `${SEED_VIP}/32`, 'dev', 'lo']);
        // The upstream tier's subnet, on the same segment.
        this.lab.exec(name, 'ip', ['addr', 'add', `192.168.3.${10 + i}/24`, 'dev', 'eth0']);
        this.nodes.push({ name, ip, log: [] });
      }
      UPSTREAMS.forEach((ip, k) => {
        progress(`upstream up${k + 1} (${ip})`);
        this.lab.addHost(`up${k + 1}`, { ip: `${ip}/24`, mac: `02:93:00:00:00:${31 + k}` });
      });
    } catch (e) {
      void this.close();
      throw e;
    }
  }

  node(name: string): SeedNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no seed node ${name}`);
    return n;
  }

  /** An upstream's HTTP server (by address, 192.168.3.31–33). */
  async startUpstream(ip: string): Promise<void> {
    const k = UPSTREAMS.indexOf(ip);
    if (k < 0) throw new Error(`no upstream ${ip} (there are ${UPSTREAMS.join(', ')})`);
    const child = this.lab.spawn(`up${k + 1}`, process.execPath, [UPSTREAM, '--name', `up${k + 1}`, '--port', '8080']);
    this.upstreams.set(ip, child);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`upstream ${ip} did not start`)), 10000);
      child.stdout!.on('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async stopUpstream(ip: string): Promise<void> {
    const c = this.upstreams.get(ip);
    if (c) await this.lab.stop(c, 1000);
    this.upstreams.delete(ip);
  }

  /** nginx on a node: every port answers with the node's name; /healthz is 200 only while its upstream answers. */
  async startNginx(name: string): Promise<void> {
    const n = this.node(name);
    const d = join(this.dir, name);
    mkdirSync(join(d, 'logs'), { recursive: true });
    chmodSync(d, 0o755);
    const loc =
      `  location = /healthz { proxy_pass http://${upstreamOf(name)}:8080/healthz; proxy_connect_timeout 500ms; proxy_read_timeout 1s; error_page 502 504 = @down; }\n` +
      `  location @down { return 503 "upstream ${upstreamOf(name)} unreachable\\n"; }\n` +
      `  location / { return 200 "${name} $remote_addr\\n"; }\n`;
    const plain = [80, 8443, 6443].map((p) => `  listen ${p} reuseport;`).join('\n');
    writeFileSync(
      join(d, 'nginx.conf'),
      `worker_processes 1;\nerror_log ${d}/logs/error.log;\npid ${d}/nginx.pid;\nevents {}\nhttp {\n access_log off;\n client_body_temp_path ${d}; proxy_temp_path ${d}; fastcgi_temp_path ${d}; uwsgi_temp_path ${d}; scgi_temp_path ${d};\n server {\n${plain}\n  listen 443 ssl;\n  ssl_certificate ${this.dir}/cert.pem;\n  ssl_certificate_key ${this.dir}/key.pem;\n${loc} }\n}\n`,
    );
    n.nginx = this.lab.spawn(name, 'nginx', ['-c', join(d, 'nginx.conf'), '-p', d, '-g', 'daemon off;']);
    await this.waitPort(name, 80);
  }

  async stopNginx(name: string): Promise<void> {
    const n = this.node(name);
    if (n.nginx) await this.lab.stop(n.nginx, 2000);
    delete n.nginx;
  }

  private async waitPort(name: string, port: number): Promise<void> {
    const ip = this.node(name).ip;
    for (let i = 0; i < 100; i++) {
      try {
        nsExec(this.lab.host(name).ns, process.execPath, ['-e', `require('net').connect(${port},'${ip}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`]);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`nginx on ${name}:${port} did not start`);
  }

  /** `haldir run examples/seed/lbN.conf --dataplane nftables` in the node's namespace. */
  startDaemon(name: string): void {
    const n = this.node(name);
    mkdirSync(join(this.dir, name), { recursive: true });
    const api = ['--api-socket', this.apiSocket(name), '--api-listen', `${n.ip}:9440`, '--api-token-file', this.apiTokenFile, '--dashboard', ...this.nodes.flatMap((p) => ['--peer-api', `${p.name}=${p.ip}:9440`])];
    const p = this.lab.spawn(name, process.execPath, [HALDIR, 'run', join(SEED_DIR, `${name}.conf`), '--dataplane', 'nftables', ...api]);
    p.stdout!.on('data', (b: Buffer) => n.log.push(b.toString()));
    p.stderr!.on('data', (b: Buffer) => n.log.push(b.toString()));
    n.daemon = p;
  }

  /**
   * The peer an operator assembles by hand: keepalived (VRRP only, `keepalived --vrrp`) on
   * the node's configuration as `haldir export keepalived` writes it (one keyword per line,
   * so keepalived reads what the seed meant), and the node's services programmed once into
   * nftables with `haldir apply` — every real server, no health checks (keepalived's checker
   * needs IPVS, which this kernel lacks). Frames from another node's MAC are served locally
   * (haldir's DR ingress), so static tables on all four nodes do not ping-pong.
   */
  startPeer(name: string): void {
    const n = this.node(name);
    const conf = join(this.dir, `${name}.keepalived.conf`);
    execFileSync(process.execPath, [HALDIR, 'export', 'keepalived', join(SEED_DIR, `${name}.conf`), '-o', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    nsExec(this.lab.host(name).ns, process.execPath, [HALDIR, 'apply', join(SEED_DIR, `${name}.conf`), '--dataplane', 'nftables']);
    const p = this.lab.spawn(name, 'keepalived', ['--vrrp', '-n', '-l', '-D', '-f', conf, '-p', join(this.dir, `${name}.pid`), '-r', join(this.dir, `${name}.vrrp.pid`)]);
    p.stdout!.on('data', (b: Buffer) => n.log.push(b.toString()));
    p.stderr!.on('data', (b: Buffer) => n.log.push(b.toString()));
    n.daemon = p;
  }

  /** A node's API socket (the file system is shared: each node has its own). */
  apiSocket(name: string): string {
    return join(this.dir, name, 'haldir.sock');
  }

  async stopDaemon(name: string): Promise<void> {
    const n = this.node(name);
    if (n.daemon) await this.lab.stop(n.daemon, 5000);
    delete n.daemon;
  }

  log(name: string): string {
    return this.node(name).log.join('');
  }

  /** Which node holds the VIP on eth0 (the VRRP master), if any. */
  holders(): string[] {
    return this.nodes.filter((n) => this.lab.exec(n.name, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${SEED_VIP}/`)).map((n) => n.name);
  }

  /** HTTP GETs from the client to VIP:port (TLS on 443); counts per answering node. */
  probe(port: number, count: number, opts: { concurrency?: number; timeoutMs?: number } = {}): { byServer: Record<string, number>; failures: Record<string, number> } {
    const args = [PROBE, '--to', `${SEED_VIP}:${port}`, '--count', String(count), '--concurrency', String(opts.concurrency ?? 10), '--http'];
    if (port === 443) args.push('--tls');
    if (opts.timeoutMs !== undefined) args.push('--timeout', String(opts.timeoutMs));
    return JSON.parse(nsExec(this.lab.host('client').ns, process.execPath, args)) as { byServer: Record<string, number>; failures: Record<string, number> };
  }

  async close(): Promise<void> {
    await this.lab.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
