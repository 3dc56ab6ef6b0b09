// A VRRP lab for tests and benchmarks: directors (haldir or real keepalived,
// the same configuration for both) and a client on a bridge in network
// namespaces, daemons started and stopped by PID, and a sampler of who holds
// the VIP to catch dual masters.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from './netns.js';

/** bin/haldir.js, from dist/src/lab (compiled) or src/lab. */
export const HALDIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../bin/haldir.js' : '../../bin/haldir.js', import.meta.url));
export const VIP = '10.99.0.100';

export interface Director {
  name: string;
  kind: 'haldir' | 'keepalived';
  priority: number;
  ip: string;
  mac: string;
  proc?: ChildProcess;
  /** haldir: state transitions with the wall-clock time of the log line. */
  transitions: { at: number; from: string; to: string }[];
  /** When it took the VIP and announced it (wall-clock ms). */
  announced: number[];
  output: string[];
}

export interface VrrpVariant {
  version: 2 | 3;
  advertInt: number;
  auth?: string;
  unicast?: boolean;
  /** IPv6 VIP (fd00:99::100/64, VRRPv3 over ff02::12) instead of IPv4. */
  ipv6?: boolean;
}

export const VIP6 = 'fd00:99::100';

export class VrrpLab {
  readonly lab = new Lab('hv');
  readonly dir = mkdtempSync(join(tmpdir(), 'haldir-vrrp-'));
  readonly directors: Director[] = [];
  private samples: { at: number; holders: string[] }[] = [];
  private sampler: NodeJS.Timeout | undefined;

  constructor(
    kinds: ('haldir' | 'keepalived')[],
    readonly variant: VrrpVariant,
  ) {
    this.lab.addHost('client', { ip: '10.99.0.10/24', mac: '02:99:00:00:00:10' });
    kinds.forEach((kind, i) => {
      const n = i + 1;
      const d: Director = { name: `lb${n}`, kind, priority: 101 - n, ip: `10.99.0.${10 + n}`, mac: `02:99:00:00:00:${10 + n}`, transitions: [], announced: [], output: [] };
      this.lab.addHost(d.name, { ip: `${d.ip}/24`, mac: d.mac });
      this.directors.push(d);
    });
  }

  director(name: string): Director {
    return this.directors.find((d) => d.name === name)!;
  }

  private haldirConfig(d: Director): string {
    const v = this.variant;
    const others = this.directors.filter((o) => o !== d).map((o) => o.ip);
    return [
      'global_defs {',
      `    router_id ${d.name}`,
      '}',
      'vrrp_instance VI_1 {',
      '    state BACKUP',
      '    interface eth0',
      '    virtual_router_id 99',
      `    priority ${d.priority}`,
      `    advert_int ${v.advertInt}`,
      ...(v.version === 3 ? ['    version 3'] : []),
      ...(v.auth ? ['    authentication {', '        auth_type PASS', `        auth_pass ${v.auth}`, '    }'] : []),
      ...(v.unicast ? [`    unicast_src_ip ${d.ip}`, '    unicast_peer {', ...others.map((o) => `        ${o}`), '    }'] : []),
      '    virtual_ipaddress {',
      v.ipv6 ? `        ${VIP6}/64 dev eth0` : `        ${VIP}/24 dev eth0`,
      '    }',
      '}',
      '',
    ].join('\n');
  }

  /** Starts every director (haldir via `haldir run --vrrp-only`, keepalived via `keepalived --vrrp`). */
  start(only?: string[]): void {
    for (const d of this.directors) {
      if (only && !only.includes(d.name)) continue;
      this.startOne(d);
    }
  }

  startOne(d: Director): void {
    const conf = join(this.dir, `${d.name}.conf`);
    writeFileSync(conf, this.haldirConfig(d));
    const p =
      d.kind === 'haldir'
        ? this.lab.spawn(d.name, process.execPath, [HALDIR, 'run', conf, '--vrrp-only'])
        : this.lab.spawn(d.name, 'keepalived', [
            '--vrrp',
            '-n',
            '-l',
            '-D',
            '-f',
            conf,
            '-p',
            join(this.dir, `${d.name}.pid`),
            '-r',
            join(this.dir, `${d.name}.vrrp.pid`),
          ]);
    const onData = (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        d.output.push(line);
        const m = /^(\S+) info VI_1: (\w+) -> (\w+)/.exec(line);
        if (m) d.transitions.push({ at: Date.parse(m[1]!), from: m[2]!, to: m[3]! });
        // The moment the VIP is taken: haldir logs it; keepalived logs its gratuitous ARPs.
        const h = /^(\S+) info VI_1: holding /.exec(line);
        if (h) d.announced.push(Date.parse(h[1]!));
        if (/\(VI_1\) Sending\/queueing gratuitous ARPs/.test(line)) d.announced.push(Date.now());
        // keepalived -l: "(VI_1) Entering MASTER STATE"; its lines carry no time of their own.
        const k = /\(VI_1\) Entering (\w+) STATE/.exec(line);
        if (k) d.transitions.push({ at: Date.now(), from: '?', to: k[1]! });
      }
    };
    p.stdout?.on('data', onData);
    p.stderr?.on('data', onData);
    d.proc = p;
  }

  async stopOne(d: Director, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!d.proc) return;
    if (signal === 'SIGTERM') await this.lab.stop(d.proc, 5000);
    else d.proc.kill(signal);
    delete d.proc;
  }

  /** Which directors hold the VIP right now. */
  holders(): string[] {
    return this.directors
      .filter((d) => {
        try {
          const fam = this.variant.ipv6 ? '-6' : '-4';
          return this.lab.exec(d.name, 'ip', [fam, '-o', 'addr', 'show', 'dev', 'eth0']).includes(` ${this.variant.ipv6 ? VIP6 : VIP}/`);
        } catch {
          return false;
        }
      })
      .map((d) => d.name);
  }

  /** Samples holders every `ms` (for dual-master accounting). */
  watch(ms = 50): void {
    this.sampler = setInterval(() => this.samples.push({ at: Date.now(), holders: this.holders() }), ms);
  }

  /** The longest run of consecutive samples with two or more holders, in ms. */
  longestDualMaster(): number {
    let longest = 0;
    let start: number | undefined;
    for (const s of this.samples) {
      if (s.holders.length >= 2) {
        start ??= s.at;
        longest = Math.max(longest, s.at - start);
      } else start = undefined;
    }
    return longest;
  }

  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (cond()) return Date.now() - t0;
      await sleep(20);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; holders: ${this.holders().join(',') || 'none'}\n${this.dump()}`);
  }

  /** Waits until exactly `name` holds the VIP. */
  async waitHolder(name: string, timeoutMs = 15000): Promise<number> {
    return this.waitFor(() => {
      const h = this.holders();
      return h.length === 1 && h[0] === name;
    }, timeoutMs, `${name} to be the only VIP holder`);
  }

  neighMac(): string | undefined {
    const out = this.lab.exec('client', 'ip', ['neigh', 'show', VIP]);
    return /lladdr (\S+)/.exec(out)?.[1];
  }

  /** When `name` logged its transition to `to` at or after `since` (waits for the log line to arrive). */
  async transitionAt(name: string, to: string, since: number): Promise<number> {
    const d = this.director(name);
    const find = () => d.transitions.find((t) => t.to === to && t.at >= since);
    await this.waitFor(() => find() !== undefined, 3000, `${name} to log ${to}`);
    return find()!.at;
  }

  dump(): string {
    return this.directors.map((d) => `--- ${d.name} (${d.kind})\n${d.output.slice(-15).join('\n')}`).join('\n');
  }

  async close(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    await this.lab.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
