// The real keepalived 2.2.7 in a throwaway network namespace, for the tests
// that check haldir's model of keepalived against keepalived itself: its
// config test (-t) with the parse messages it logs, the VRRP instances its
// VRRP process dumps (-d), and the real servers its checker process lists
// when it stops (no IPVS needed). The namespace has the interfaces a
// configuration names (veth pairs), so -t does not fail on missing devices;
// processes are stopped by PID and the namespace removed by close().
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canBuildLabs, Lab } from '../../src/lab/netns.js';

export const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;

/** Why the keepalived tests cannot run here, or undefined. */
export function kaSkip(): string | undefined {
  if (!hasKeepalived) return 'keepalived is not installed';
  const lab = canBuildLabs();
  return lab.ok ? undefined : lab.why;
}

/** keepalived's own parse messages (the kinds ka-reading.ts predicts), as "LINE:message". */
export const PARSE_MESSAGE = /^(Unknown keyword|Unexpected '\{'|Missing '\{'|Extra '\}'|Block .* has extra parameters|\*\*\* Configuration line)/;

export interface DumpedInstance {
  name: string;
  version?: number;
  state?: string;
  interface?: string;
  vrid?: number;
  priority?: number;
  /** Seconds (v2) as keepalived prints them. */
  advert?: string;
  auth?: string;
  password?: string;
  vips: string[];
}

/** Strips keepalived's "Mon Nov 30 01:50:51 2026: " log prefix. */
const untime = (l: string) => l.replace(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: /, '');

/** The VRRP topology part of a keepalived -d dump. */
export function parseVrrpDump(out: string): DumpedInstance[] {
  const lines = out.split('\n').map(untime);
  const start = lines.findIndex((l) => l.startsWith('------< VRRP Topology >------'));
  if (start < 0) return [];
  const insts: DumpedInstance[] = [];
  let cur: DumpedInstance | undefined;
  let inVips = false;
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('------<')) break;
    let m = /^ VRRP Instance = (\S+)/.exec(l);
    if (m) {
      insts.push((cur = { name: m[1]!, vips: [] }));
      inVips = false;
      continue;
    }
    if (!cur) continue;
    if (inVips && /^ {5}\S/.test(l)) {
      cur.vips.push(l.trim());
      continue;
    }
    inVips = false;
    if ((m = /^ {3}VRRP Version = (\d)/.exec(l))) cur.version = Number(m[1]);
    else if ((m = /^ {3}Wantstate = (\w+)/.exec(l))) cur.state = m[1]!;
    else if ((m = /^ {3}Interface = (\S+)/.exec(l))) cur.interface = m[1]!;
    else if ((m = /^ {3}Virtual Router ID = (\d+)/.exec(l))) cur.vrid = Number(m[1]);
    else if ((m = /^ {3}Priority = (\d+)/.exec(l))) cur.priority = Number(m[1]);
    else if ((m = /^ {3}Advert interval = (.*)$/.exec(l))) cur.advert = m[1]!;
    else if ((m = /^ {3}Authentication type = (\S+)/.exec(l))) cur.auth = m[1]!;
    else if ((m = /^ {3}Password = (.*)$/.exec(l))) cur.password = m[1]!;
    else if (/^ {3}Virtual IP \(\d+\):/.test(l)) inVips = true;
  }
  return insts;
}

/** "Shutting down service [RS]:tcp:PORT from VS [VIP]:tcp:PORT" lines: real servers per virtual server. */
export function parseShutdown(out: string): Map<string, string[]> {
  const vs = new Map<string, string[]>();
  for (const l of out.split('\n').map(untime)) {
    const m = /Shutting down (?:\(inhibited\) )?service \[(.+?)\]:(\w+):(\d+) from VS \[(.+?)\]:(\w+):(\d+)/.exec(l);
    if (!m) continue;
    const key = `${m[4]}:${m[6]}/${m[5]!.toUpperCase()}`;
    const list = vs.get(key) ?? [];
    list.push(`${m[1]}:${m[3]}`);
    vs.set(key, list);
  }
  return vs;
}

export class KaHost {
  private readonly lab = new Lab('hk');
  readonly dir = mkdtempSync(join(tmpdir(), 'haldir-ka-'));
  private readonly ns: string;
  private n = 0;

  constructor(extraInterfaces: string[] = []) {
    try {
      this.ns = this.lab.addHost('n', { ip: '192.168.2.11/24' }).ns;
      // More interfaces for configurations that name them (eth1, …): veth pairs inside the namespace.
      extraInterfaces.forEach((name, k) => {
        this.lab.exec('n', 'ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `kapeer${k}`]);
        this.lab.exec('n', 'ip', ['link', 'set', name, 'up']);
        this.lab.exec('n', 'ip', ['link', 'set', `kapeer${k}`, 'up']);
        this.lab.exec('n', 'ip', ['addr', 'add', `10.${200 + k}.0.1/24`, 'dev', name]);
      });
    } catch (e) {
      void this.close();
      throw e;
    }
  }

  /** keepalived -t: exit status and every message it printed. */
  configTest(file: string): { status: number | null; out: string; parse: string[] } {
    const p = spawnSync('ip', ['netns', 'exec', this.ns, 'keepalived', '-t', '-f', file], { encoding: 'utf8', timeout: 20000 });
    const out = `${p.stdout}${p.stderr}`;
    const parse = [
      ...new Set(
        out
          .split('\n')
          .map((l) => /^\(.*: Line (\d+)\) (.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => !!m && PARSE_MESSAGE.test(m[2]!))
          .map((m) => `${m[1]}:${m[2]}`),
      ),
    ].sort();
    return { status: p.status, out, parse };
  }

  /**
   * Runs keepalived (VRRP process only, or checker process only) until `done`
   * sees what it needs in its log or `ms` pass, stops it by PID (and a child
   * left behind by its pid file), and returns the log.
   */
  private async runUntil(args: string[], done: (log: string) => boolean, ms: number): Promise<string> {
    const tag = `${this.n++}`;
    const pid = join(this.dir, `ka${tag}.pid`);
    const child = join(this.dir, `ka${tag}.child.pid`);
    const childFlag = args.includes('--vrrp') ? '-r' : '-c';
    const p = spawn('ip', ['netns', 'exec', this.ns, 'keepalived', ...args, '-n', '-l', '-D', '-p', pid, childFlag, child], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const exited = new Promise<void>((res) => p.once('exit', () => res()));
    await new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      const on = (b: Buffer) => {
        log += b.toString();
        if (done(log)) {
          clearTimeout(t);
          res();
        }
      };
      p.stdout.on('data', on);
      p.stderr.on('data', on);
      void exited.then(() => {
        clearTimeout(t);
        res();
      });
    });
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      const k = setTimeout(() => p.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(k);
    }
    // keepalived's child normally goes with its parent; never leave one behind.
    if (existsSync(child)) {
      const n = Number(readFileSync(child, 'utf8').trim());
      if (n > 0) {
        try {
          process.kill(n, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    return log;
  }

  /** The VRRP instances as keepalived's VRRP process dumps them (-d). */
  async vrrpDump(file: string): Promise<{ instances: DumpedInstance[]; log: string }> {
    const log = await this.runUntil(['--vrrp', '-d', '-f', file], (l) => l.includes('------< Interfaces >------'), 8000);
    return { instances: parseVrrpDump(log), log };
  }

  /**
   * The real servers of each virtual server as keepalived's checker process
   * has them: without IPVS it stops at once and lists them; with IPVS it is
   * stopped after its dump and lists them while shutting down.
   */
  async checkerServices(file: string): Promise<{ services: Map<string, string[]>; log: string }> {
    const log = await this.runUntil(['--check', '-d', '-f', file], (l) => /Stopped Keepalived|LVS Topology|exited with permanent error/.test(l), 8000);
    return { services: parseShutdown(log), log };
  }

  async close(): Promise<void> {
    await this.lab.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
