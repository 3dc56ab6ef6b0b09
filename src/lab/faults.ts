// Fault injection in the seed lab (`haldir lab fault`): parsing and checking the fault
// names and their arguments, and doing them to a running SeedLab — a node's link down,
// a whole node killed (daemon SIGKILL, VIP gone, nginx stopped, link down), a daemon
// stopped gracefully, nginx stopped, an upstream of the seed's upstream tier stopped
// (the nodes whose /healthz depends on it fail their HTTP check), two nodes partitioned on the switch (an nft bridge table dropping the frames
// between their ports) — and `heal`, which undoes whatever is broken now. Every action
// returns what it did, with a timestamp.
import type { ChildProcess } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { nsExec } from './netns.js';
import { SEED_VIP, UPSTREAMS, upstreamOf, type SeedLab } from './seed-lab.js';

export const SEED_NODES = ['lb1', 'lb2', 'lb3', 'lb4'];

/** Fault kinds and their arguments, as `haldir lab fault` takes them. */
export const FAULT_KINDS: Record<string, string> = {
  'link-down': '<lbN>',
  kill: '<lbN>',
  'stop-daemon': '<lbN>',
  'stop-nginx': '<lbN>',
  'stop-upstream': '<IP>',
  partition: '<lbA> <lbB>',
  heal: '',
};

/** The switch's nft table that carries partitions. */
export const PARTITION_TABLE = 'haldir_lab';

export type Fault =
  | { kind: 'link-down' | 'kill' | 'stop-daemon' | 'stop-nginx'; node: string }
  | { kind: 'stop-upstream'; ip: string }
  | { kind: 'partition'; a: string; b: string }
  | { kind: 'heal' };

/** A fault name or argument that is not one of the valid ones (the CLI exits 2). */
export class FaultUsageError extends Error {}

export interface FaultEvent {
  at: number;
  text: string;
}

export function faultUsage(): string {
  const kinds = Object.entries(FAULT_KINDS)
    .map(([k, a]) => `${k}${a ? ` ${a}` : ''}`)
    .join(', ');
  return `valid faults: ${kinds} (nodes: ${SEED_NODES.join(', ')}; upstreams: ${UPSTREAMS.join(', ')})`;
}

function nodeArg(kind: string, v: string | undefined): string {
  if (v === undefined) throw new FaultUsageError(`${kind} needs a node: ${SEED_NODES.join(', ')}`);
  if (!SEED_NODES.includes(v)) throw new FaultUsageError(`unknown node "${v}": the nodes are ${SEED_NODES.join(', ')}`);
  return v;
}

/** Checks a fault's kind and arguments; throws FaultUsageError listing the valid ones. */
export function parseFault(kind: string, args: readonly string[]): Fault {
  const want = FAULT_KINDS[kind];
  if (want === undefined) throw new FaultUsageError(`unknown fault "${kind}"; ${faultUsage()}`);
  const need = want ? want.split(' ').length : 0;
  if (args.length > need) throw new FaultUsageError(`${kind} takes ${need ? want : 'no arguments'}, not "${args.join(' ')}"`);
  switch (kind) {
    case 'link-down':
    case 'kill':
    case 'stop-daemon':
    case 'stop-nginx':
      return { kind, node: nodeArg(kind, args[0]) };
    case 'stop-upstream': {
      const ip = args[0];
      if (ip === undefined || !isIPv4(ip) || !UPSTREAMS.includes(ip)) throw new FaultUsageError(`stop-upstream needs an upstream's address: ${UPSTREAMS.join(', ')}${ip !== undefined ? `, not "${ip}"` : ''}`);
      return { kind, ip };
    }
    case 'partition': {
      const a = nodeArg(kind, args[0]);
      const b = nodeArg(kind, args[1]);
      if (a === b) throw new FaultUsageError(`partition needs two different nodes, not ${a} twice`);
      return { kind, a, b };
    }
    default:
      return { kind: 'heal' };
  }
}

const running = (p: ChildProcess | undefined): p is ChildProcess => p !== undefined && p.exitCode === null && p.signalCode === null;

export class Faults {
  /** Faults in effect: what was done since the last heal. */
  readonly active: FaultEvent[] = [];
  private readonly stoppedUpstreams = new Set<string>();

  /** `onDaemonStart` is called after heal restarts a node's daemon (to follow its log). */
  constructor(
    private readonly S: SeedLab,
    private readonly onDaemonStart: (name: string) => void = () => {},
  ) {}

  /** Upstreams stopped by a fault (the others run: lab up starts them all). */
  upstreamStopped(ip: string): boolean {
    return this.stoppedUpstreams.has(ip);
  }

  daemonRunning(name: string): boolean {
    return running(this.S.nodes.find((n) => n.name === name)?.daemon);
  }

  nginxRunning(name: string): boolean {
    return running(this.S.nodes.find((n) => n.name === name)?.nginx);
  }

  linkUp(name: string): boolean {
    const flags = /<([^>]*)>/.exec(this.S.lab.exec(name, 'ip', ['-o', 'link', 'show', 'dev', 'eth0']))?.[1] ?? '';
    return flags.split(',').includes('UP');
  }

  /** Whether the switch carries a partition table now. */
  partitioned(): boolean {
    try {
      nsExec(this.S.lab.switchNs, 'nft', ['list', 'table', 'bridge', PARTITION_TABLE]);
      return true;
    } catch {
      return false;
    }
  }

  async apply(f: Fault): Promise<FaultEvent[]> {
    if (f.kind === 'heal') return this.heal();
    const done: FaultEvent[] = [];
    const did = (text: string): void => {
      done.push({ at: Date.now(), text });
    };
    switch (f.kind) {
      case 'link-down':
        if (!this.linkUp(f.node)) did(`${f.node}: link already down (nothing to do)`);
        else {
          this.S.lab.setLink(f.node, false);
          did(`${f.node}: link down (eth0 lost its carrier: the node is cut off from the switch)`);
        }
        break;
      case 'kill':
        await this.kill(f.node, did);
        break;
      case 'stop-daemon':
        if (!this.daemonRunning(f.node)) did(`${f.node}: haldir is not running (nothing to do)`);
        else {
          const pid = this.S.nodes.find((n) => n.name === f.node)!.daemon!.pid;
          await this.S.stopDaemon(f.node);
          did(`${f.node}: haldir (pid ${pid}) stopped with SIGTERM (graceful: a priority-0 advert hands the VIP over)`);
        }
        break;
      case 'stop-nginx':
        if (!this.nginxRunning(f.node)) did(`${f.node}: nginx is not running (nothing to do)`);
        else {
          await this.S.stopNginx(f.node);
          did(`${f.node}: nginx stopped (its real server fails the health checks now)`);
        }
        break;
      case 'stop-upstream':
        if (this.stoppedUpstreams.has(f.ip)) did(`upstream ${f.ip} is already stopped (nothing to do)`);
        else {
          await this.S.stopUpstream(f.ip);
          this.stoppedUpstreams.add(f.ip);
          const deps = this.S.nodes.filter((n) => upstreamOf(n.name) === f.ip).map((n) => n.name);
          did(`upstream ${f.ip} stopped: /healthz of ${deps.join(' and ')} answers 503 now (their HTTP check on :80 fails)`);
        }
        break;
      case 'partition': {
        const pa = this.S.lab.host(f.a).port;
        const pb = this.S.lab.host(f.b).port;
        const script = [
          `add table bridge ${PARTITION_TABLE}`,
          `add chain bridge ${PARTITION_TABLE} forward { type filter hook forward priority 0; policy accept; }`,
          `add rule bridge ${PARTITION_TABLE} forward iifname "${pa}" oifname "${pb}" counter drop`,
          `add rule bridge ${PARTITION_TABLE} forward iifname "${pb}" oifname "${pa}" counter drop`,
          '',
        ].join('\n');
        nsExec(this.S.lab.switchNs, 'nft', ['-f', '-'], script);
        // The bridge family must really be there: the rules are what the partition is.
        const listed = nsExec(this.S.lab.switchNs, 'nft', ['list', 'chain', 'bridge', PARTITION_TABLE, 'forward']);
        if (!listed.includes(`iifname "${pa}" oifname "${pb}"`)) throw new Error(`partition: the switch's bridge table does not show the rule:\n${listed}`);
        did(`partition ${f.a} | ${f.b}: the switch drops every frame between ports ${pa} and ${pb}, both ways (VRRP adverts included); both still reach the others`);
        break;
      }
    }
    this.active.push(...done.filter((e) => !e.text.endsWith('(nothing to do)')));
    return done;
  }

  /** The whole node gone: daemon SIGKILLed (no handover), VIP removed from eth0, nginx stopped, link down. */
  private async kill(name: string, did: (text: string) => void): Promise<void> {
    const n = this.S.nodes.find((x) => x.name === name)!;
    const parts: string[] = [];
    const d = n.daemon;
    if (running(d)) {
      const exited = new Promise<void>((res) => d.once('exit', () => res()));
      d.kill('SIGKILL');
      await exited;
      parts.push(`haldir (pid ${d.pid}) SIGKILLed`);
    }
    await this.S.stopDaemon(name);
    try {
      this.S.lab.exec(name, 'ip', ['addr', 'del', `${SEED_VIP}/24`, 'dev', 'eth0']);
      parts.push(`VIP ${SEED_VIP} removed from eth0`);
    } catch {
      /* it did not hold it */
    }
    if (this.nginxRunning(name)) {
      await this.S.stopNginx(name);
      parts.push('nginx stopped');
    }
    if (this.linkUp(name)) {
      this.S.lab.setLink(name, false);
      parts.push('link down');
    }
    did(`${name}: killed — ${parts.length ? parts.join(', ') : 'nothing was running'}`);
  }

  /** Undoes every fault as the lab is now: links up, stopped nginx and daemons started, partition removed, upstreams started. */
  async heal(): Promise<FaultEvent[]> {
    const done: FaultEvent[] = [];
    const did = (text: string): void => {
      done.push({ at: Date.now(), text });
    };
    if (this.partitioned()) {
      nsExec(this.S.lab.switchNs, 'nft', ['delete', 'table', 'bridge', PARTITION_TABLE]);
      did('partition removed: the switch forwards between every port again');
    }
    for (const n of this.S.nodes) {
      if (!this.linkUp(n.name)) {
        this.S.lab.setLink(n.name, true);
        did(`${n.name}: link up`);
      }
    }
    for (const ip of [...this.stoppedUpstreams]) {
      await this.S.startUpstream(ip);
      this.stoppedUpstreams.delete(ip);
      did(`upstream ${ip} started`);
    }
    for (const n of this.S.nodes) {
      if (!this.nginxRunning(n.name)) {
        await this.S.startNginx(n.name);
        did(`${n.name}: nginx started`);
      }
    }
    for (const n of this.S.nodes) {
      if (!this.daemonRunning(n.name)) {
        this.S.startDaemon(n.name);
        this.onDaemonStart(n.name);
        did(`${n.name}: haldir run started (pid ${n.daemon?.pid})`);
      }
    }
    if (!done.length) did('nothing to heal: every link is up, every daemon, nginx and upstream runs, no partition');
    this.active.length = 0;
    return done;
  }
}
