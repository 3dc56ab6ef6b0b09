// A data-plane lab for tests and benchmarks: a client, one or two directors and real
// servers on a bridge, wired for DR (client on the servers' subnet, VIP on the real
// servers' lo with the ARP sysctls) or NAT (client on its own subnet routed through
// the director, real servers routed back through it). Directors are programmed with
// `haldir apply`; traffic comes from lab/probe.ts, answers from lab/backend.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Lab, nsExec } from './netns.js';
import { HALDIR } from './vrrp-lab.js';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
export const BACKEND = here('./backend.js');
export const PROBE = here('./probe.js');

export const DP_VIP = '10.99.0.100';

export interface DpLabOptions {
  mode: 'DR' | 'NAT';
  directors?: number;
  servers?: number;
  /** TCP ports every real server listens on. */
  ports?: number[];
  /** Put the VIP on lb1 (default); false when VRRP daemons manage it. */
  staticVip?: boolean;
}

export interface ProbeResult {
  byServer: Record<string, number>;
  failures: Record<string, number>;
  /** Client addresses as the backends saw them. */
  peers: Record<string, number>;
  per?: (string | null)[];
}

export class DataplaneLab {
  readonly lab = new Lab('hd');
  readonly dir = mkdtempSync(join(tmpdir(), 'haldir-dp-'));
  readonly directors: string[] = [];
  readonly servers: string[] = [];

  constructor(readonly opts: DpLabOptions) {
    const nd = opts.directors ?? 1;
    const ns = opts.servers ?? 3;
    const nat = opts.mode === 'NAT';
    try {
      this.lab.addHost('client', { ip: nat ? '10.98.0.10/24' : '10.99.0.10/24', mac: '02:99:00:00:00:10' });
      if (nat) this.lab.exec('client', 'ip', ['route', 'add', 'default', 'via', '10.98.0.1']);
      for (let i = 1; i <= nd; i++) {
        const name = `lb${i}`;
        this.lab.addHost(name, {
          ip: `10.99.0.${10 + i}/24`,
          mac: `02:99:00:00:00:${10 + i}`,
          sysctls: { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.send_redirects': '0', 'net.ipv4.conf.default.send_redirects': '0', 'net.ipv4.conf.eth0.send_redirects': '0' },
        });
        this.directors.push(name);
      }
      // The first director holds the VIP (and, for NAT, the client subnet's gateway).
      if (opts.staticVip !== false) this.lab.exec('lb1', 'ip', ['addr', 'add', `${DP_VIP}/32`, 'dev', 'eth0']);
      if (nat) this.lab.exec('lb1', 'ip', ['addr', 'add', '10.98.0.1/24', 'dev', 'eth0']);
      for (let i = 1; i <= ns; i++) {
        const name = `be${i}`;
        this.lab.addHost(name, {
          ip: `10.99.0.${20 + i}/24`,
          mac: `02:99:00:00:00:${20 + i}`,
          sysctls: nat
            ? {}
            : { 'net.ipv4.conf.all.arp_ignore': '1', 'net.ipv4.conf.all.arp_announce': '2', 'net.ipv4.conf.eth0.arp_ignore': '1', 'net.ipv4.conf.eth0.arp_announce': '2' },
        });
        if (nat) this.lab.exec(name, 'ip', ['route', 'add', 'default', 'via', '10.99.0.11']);
        else this.lab.exec(name, 'ip', ['addr', 'add', `${DP_VIP}/32`, 'dev', 'lo']);
        this.servers.push(name);
      }
    } catch (e) {
      void this.close();
      throw e;
    }
  }

  readonly backends = new Map<string, ChildProcess>();

  /** Starts the backend on every real server (or the named ones) and waits until each says it is ready. */
  async startBackends(ports = this.opts.ports ?? [80, 8080], which: string[] = this.servers): Promise<void> {
    await Promise.all(
      which.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            const args = [BACKEND, '--name', s];
            for (const p of ports) args.push('--port', String(p));
            const child = this.lab.spawn(s, process.execPath, args);
            this.backends.set(s, child);
            let out = '';
            const t = setTimeout(() => reject(new Error(`backend ${s} did not start: ${out}`)), 10000);
            child.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('ready')) {
                clearTimeout(t);
                resolve();
              }
            });
            child.on('exit', (c) => reject(new Error(`backend ${s} exited with ${c}`)));
          }),
      ),
    );
  }

  /** Stops one real server's backend (by PID). */
  async stopBackend(name: string): Promise<void> {
    const c = this.backends.get(name);
    if (c) await this.lab.stop(c, 1000);
    this.backends.delete(name);
  }

  writeConfig(name: string, text: string): string {
    const f = join(this.dir, name);
    writeFileSync(f, text);
    return f;
  }

  /** `haldir apply` in a director's namespace; returns its exit code and output. */
  apply(director: string, file: string, extra: string[] = []): { code: number; out: string; err: string } {
    try {
      const out = execFileSync('ip', ['netns', 'exec', this.lab.host(director).ns, process.execPath, HALDIR, 'apply', file, '--dataplane', 'nftables', ...extra], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { code: 0, out, err: '' };
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      return { code: x.status, out: x.stdout, err: x.stderr };
    }
  }

  /** Runs the probe client; resolves with what it counted. */
  probe(port: number, count: number, opts: { concurrency?: number; sport?: number; each?: boolean; host?: string; timeoutMs?: number } = {}): ProbeResult {
    const args = [PROBE, '--to', `${opts.host ?? DP_VIP}:${port}`, '--count', String(count), '--concurrency', String(opts.concurrency ?? 20)];
    if (opts.sport !== undefined) args.push('--sport', String(opts.sport));
    if (opts.each) args.push('--each');
    if (opts.timeoutMs !== undefined) args.push('--timeout', String(opts.timeoutMs));
    const out = nsExec(this.lab.host('client').ns, process.execPath, args);
    return JSON.parse(out) as ProbeResult;
  }

  nft(host: string, args: string[]): string {
    return this.lab.exec(host, 'nft', args);
  }

  /** Moves the VIP to another director and points the client at it (what VRRP's GARP does). */
  moveVip(from: string, to: string): void {
    this.lab.exec(from, 'ip', ['addr', 'del', `${DP_VIP}/32`, 'dev', 'eth0']);
    this.lab.exec(to, 'ip', ['addr', 'add', `${DP_VIP}/32`, 'dev', 'eth0']);
    this.lab.exec('client', 'ip', ['neigh', 'replace', DP_VIP, 'lladdr', this.lab.host(to).mac!, 'dev', 'eth0', 'nud', 'reachable']);
  }

  async close(): Promise<void> {
    await this.lab.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
