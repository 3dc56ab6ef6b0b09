// The running lab's control: `haldir lab up` owns a SeedLab (the seed's four nodes, their
// nginx and `haldir run`) and serves a Unix stream socket (default /run/haldir-lab.sock,
// HALDIR_LAB_SOCKET overrides) speaking newline-delimited JSON, one response line per
// request line:
//   {"op":"hello"}                         → {pid, tag, topology, state, upSince}  (answered at once)
//   {"op":"status"}                        → LabStatus
//   {"op":"fault","kind":K,"args":[…]}     → FaultEvent[]  (kinds: lab/faults.ts)
//   {"op":"heal"}                          → FaultEvent[]
//   {"op":"traffic-target"}                → {ns, vip, ports}  (the client namespace)
//   {"op":"down"}                          → {pid, tag, namespaces}, then the lab closes
// Responses are {"ok":true,"result":…} or {"ok":false,"error":"…","usage":bool} (usage:
// a bad fault name or argument). This file holds the server, the client helpers, the
// status the lab reports, and the removal of what a crashed `lab up` left behind (its
// namespaces and their processes, the socket, and — through `<socket>.json`, which names
// the lab's pid and temp directory — that directory).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type { ServiceStats } from '../dataplane/types.js';
import { Faults, FaultUsageError, parseFault, type FaultEvent } from './faults.js';
import { removeStaleLabs } from './netns.js';
import { SEED_PORTS, SEED_VIP, UPSTREAMS, upstreamOf, type SeedLab } from './seed-lab.js';
import { HALDIR } from './vrrp-lab.js';

export const DEFAULT_SOCKET = '/run/haldir-lab.sock';
/** Namespace prefix of seed labs (lab/seed-lab.ts). */
export const LAB_PREFIX = 'hs';

export function socketPath(): string {
  return process.env.HALDIR_LAB_SOCKET || DEFAULT_SOCKET;
}

export type Request = { op: 'hello' } | { op: 'status' } | { op: 'fault'; kind: string; args: string[] } | { op: 'heal' } | { op: 'traffic-target' } | { op: 'down' };
export type Response = { ok: true; result: unknown } | { ok: false; error: string; usage?: boolean };

export interface Hello {
  pid: number;
  tag: string;
  topology: string;
  state: 'starting' | 'ready' | 'stopping';
  upSince: number;
}

export interface TrafficTarget {
  ns: string;
  vip: string;
  ports: number[];
}

export interface DownReply {
  pid: number;
  tag: string;
  namespaces: string[];
}

export interface NodeStatus {
  name: string;
  ip: string;
  link: 'up' | 'down';
  /** Holds the VIP on eth0. */
  vip: boolean;
  /** Inferred: MASTER when it holds the VIP, BACKUP when its daemon runs without it. */
  vrrp: 'MASTER' | 'BACKUP' | 'stopped';
  daemon: boolean;
  nginx: boolean;
  /** Its `netdev haldir` dr4 map has the seed's services: it balances. */
  balances: boolean;
  /** A real server in the balancing node's table now. */
  inTable: boolean;
  /** Its counters as a real server in that table (summed over the services). */
  packets: number;
  bytes: number;
}

export interface RealServer {
  address: string;
  node: string | undefined;
  ports: number[];
  conns: number;
  packets: number;
  bytes: number;
}

export interface LabStatus {
  topology: string;
  tag: string;
  pid: number;
  upSince: number;
  vip: string;
  ports: number[];
  /** The node that holds the VIP on eth0 with its link up (the one the network reaches). */
  master: string | null;
  /** Every node holding the VIP on eth0. */
  holders: string[];
  /** Two or more reachable nodes hold the VIP. */
  splitBrain: boolean;
  /** The node whose table `realServers` comes from (`haldir dataplane show --json` there). */
  tableFrom: string | null;
  tableError?: string;
  services: ServiceStats[];
  realServers: RealServer[];
  nodes: NodeStatus[];
  /** The client's neighbour entry for the VIP: which node its frames go to. */
  clientArp: { mac: string; node: string | null; state: string } | null;
  /** Faults done since the last heal. */
  faults: FaultEvent[];
  /** The upstream tier: whether each runs, and whose /healthz depends on it. */
  upstreams: { ip: string; running: boolean; nodes: string[] }[];
}

/** No lab answers on the socket. */
export class NoLabError extends Error {}

/** The lab answered with an error; `usage` when the request named an invalid fault. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
  }
}

/** Sends one request and waits for its response line. */
export function request<T>(req: Request, opts: { path?: string; timeoutMs?: number } = {}): Promise<T> {
  const path = opts.path ?? socketPath();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<T>((resolve, reject) => {
    let buf = '';
    let settled = false;
    const s: Socket = connect(path);
    const finish = (err: Error | undefined, v?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      if (err) reject(err);
      else resolve(v as T);
    };
    const t = setTimeout(() => finish(new LabError(`the lab did not answer "${req.op}" within ${timeoutMs / 1000} s`, false)), timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      let r: Response;
      try {
        r = JSON.parse(buf.slice(0, i)) as Response;
      } catch {
        finish(new LabError(`the lab answered something that is not JSON: ${buf.slice(0, 200)}`, false));
        return;
      }
      if (r.ok) finish(undefined, r.result as T);
      else finish(new LabError(r.error, !!r.usage));
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK') finish(new NoLabError(`no lab is running (nothing answers on ${path})`));
      else finish(e);
    });
    s.on('close', () => finish(new NoLabError(`the lab closed the connection on ${path} without an answer`)));
  });
}

/** Whether a lab answers on the socket: `live` (with its hello), `stale` (a file nobody answers on) or `absent`. */
export async function probeSocket(path = socketPath()): Promise<{ state: 'live'; hello: Hello } | { state: 'stale' | 'absent' }> {
  if (!existsSync(path)) return { state: 'absent' };
  try {
    return { state: 'live', hello: await request<Hello>({ op: 'hello' }, { path, timeoutMs: 3000 }) };
  } catch {
    return { state: existsSync(path) ? 'stale' : 'absent' };
  }
}

export type Handler = (req: Request) => Promise<{ result: unknown; after?: () => void }>;

/** The control socket's server: one JSON request per line, answered in order per connection. */
export class ControlServer {
  private readonly server: Server;
  private readonly conns = new Set<Socket>();

  constructor(
    readonly path: string,
    handler: Handler,
  ) {
    this.server = createServer((s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      s.on('error', () => {});
      s.setEncoding('utf8');
      let buf = '';
      let chain = Promise.resolve();
      s.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line.trim()) continue;
          chain = chain.then(async () => {
            let res: Response;
            let after: (() => void) | undefined;
            try {
              const req = JSON.parse(line) as Request;
              const r = await handler(req);
              res = { ok: true, result: r.result };
              after = r.after;
            } catch (e) {
              res = { ok: false, error: (e as Error).message, usage: e instanceof FaultUsageError };
            }
            if (!s.destroyed) s.write(JSON.stringify(res) + '\n');
            after?.();
          });
        }
      });
    });
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
  }

  async close(): Promise<void> {
    for (const s of this.conns) s.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}

const execAsync = (cmd: string, args: string[], timeoutMs = 10_000): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    }),
  );

/** The running lab: the SeedLab, its faults, requests dispatched one at a time. */
export class LabController {
  state: Hello['state'] = 'starting';
  readonly upSince = Date.now();
  readonly faults: Faults;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly S: SeedLab,
    readonly topology: string,
    private readonly onDown: () => void,
    onDaemonStart: (name: string) => void = () => {},
    private readonly onFault: (events: FaultEvent[]) => void = () => {},
  ) {
    this.faults = new Faults(S, onDaemonStart);
  }

  hello(): Hello {
    return { pid: process.pid, tag: this.S.lab.tag, topology: this.topology, state: this.state, upSince: this.upSince };
  }

  namespaces(): string[] {
    return [this.S.lab.switchNs, ...[...this.S.lab.hosts.values()].map((h) => h.ns)];
  }

  /** Requests other than hello and down run one after another (a fault is not interleaved with a status). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Resolves when every queued request has finished. */
  idle(): Promise<void> {
    return this.queue.then(() => {});
  }

  readonly handle: Handler = async (req) => {
    switch (req.op) {
      case 'hello':
        return { result: this.hello() };
      case 'down':
        return { result: { pid: process.pid, tag: this.S.lab.tag, namespaces: this.namespaces() } satisfies DownReply, after: this.onDown };
    }
    if (this.state !== 'ready') throw new Error(`the lab is ${this.state === 'starting' ? 'still starting' : 'shutting down'}`);
    switch (req.op) {
      case 'status':
        return { result: await this.serial(() => this.status()) };
      case 'fault': {
        const f = parseFault(String(req.kind), Array.isArray(req.args) ? req.args.map(String) : []);
        const events = await this.serial(() => this.faults.apply(f));
        this.onFault(events);
        return { result: events };
      }
      case 'heal': {
        const events = await this.serial(() => this.faults.heal());
        this.onFault(events);
        return { result: events };
      }
      case 'traffic-target':
        return { result: { ns: this.S.lab.host('client').ns, vip: SEED_VIP, ports: SEED_PORTS } satisfies TrafficTarget };
      default:
        throw new Error(`unknown request "${(req as { op: string }).op}"`);
    }
  };

  /** The keys the dr4 map of a balancing node holds (one per service). */
  balancedServices(name: string): number {
    try {
      const m = this.S.lab.exec(name, 'nft', ['list', 'map', 'netdev', 'haldir', 'dr4']);
      return SEED_PORTS.filter((p) => new RegExp(`${SEED_VIP.replaceAll('.', '\\.')} \\. tcp \\. ${p}\\b`).test(m)).length;
    } catch {
      return 0;
    }
  }

  async status(): Promise<LabStatus> {
    const S = this.S;
    const nodes: NodeStatus[] = S.nodes.map((n) => {
      const vip = S.lab.exec(n.name, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(` ${SEED_VIP}/`);
      const daemon = this.faults.daemonRunning(n.name);
      return {
        name: n.name,
        ip: n.ip,
        link: this.faults.linkUp(n.name) ? 'up' : 'down',
        vip,
        vrrp: vip ? 'MASTER' : daemon ? 'BACKUP' : 'stopped',
        daemon,
        nginx: this.faults.nginxRunning(n.name),
        balances: this.balancedServices(n.name) > 0,
        inTable: false,
        packets: 0,
        bytes: 0,
      };
    });
    const holders = nodes.filter((n) => n.vip).map((n) => n.name);
    const reachable = nodes.filter((n) => n.vip && n.link === 'up');
    const master = reachable[0]?.name ?? null;
    const from = nodes.find((n) => n.name === master && n.balances) ?? nodes.find((n) => n.balances && n.link === 'up') ?? nodes.find((n) => n.balances);
    let services: ServiceStats[] = [];
    let tableError: string | undefined;
    if (from) {
      try {
        const out = await execAsync('ip', ['netns', 'exec', S.lab.host(from.name).ns, process.execPath, HALDIR, 'dataplane', 'show', '--json']);
        services = (JSON.parse(out) as ServiceStats[]).filter((s) => s.address.startsWith(`${SEED_VIP}:`));
      } catch (e) {
        tableError = (e as Error).message;
      }
    }
    const byAddr = new Map<string, RealServer>();
    for (const s of services) {
      for (const d of s.dests) {
        const rs = byAddr.get(d.address) ?? { address: d.address, node: S.nodes.find((n) => n.ip === d.address)?.name, ports: [], conns: 0, packets: 0, bytes: 0 };
        if (d.port !== undefined && !rs.ports.includes(d.port)) rs.ports.push(d.port);
        rs.conns += d.conns ?? 0;
        rs.packets += d.packets ?? 0;
        rs.bytes += d.bytes ?? 0;
        byAddr.set(d.address, rs);
      }
    }
    const realServers = [...byAddr.values()].sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
    const order = (p: number): number => (SEED_PORTS.includes(p) ? SEED_PORTS.indexOf(p) : SEED_PORTS.length + p);
    for (const rs of realServers) rs.ports.sort((a, b) => order(a) - order(b));
    for (const n of nodes) {
      const rs = byAddr.get(n.ip);
      if (rs) Object.assign(n, { inTable: true, packets: rs.packets, bytes: rs.bytes });
    }
    let clientArp: LabStatus['clientArp'] = null;
    const neigh = /lladdr (\S+)(?: \S+)* (\S+)\s*$/.exec(S.lab.exec('client', 'ip', ['neigh', 'show', SEED_VIP]).trim());
    if (neigh) {
      const mac = neigh[1]!.toLowerCase();
      clientArp = { mac, node: S.nodes.find((n) => S.lab.host(n.name).mac?.toLowerCase() === mac)?.name ?? null, state: neigh[2]! };
    }
    return {
      topology: this.topology,
      tag: S.lab.tag,
      pid: process.pid,
      upSince: this.upSince,
      vip: SEED_VIP,
      ports: SEED_PORTS,
      master,
      holders,
      splitBrain: reachable.length > 1,
      tableFrom: from?.name ?? null,
      ...(tableError !== undefined ? { tableError } : {}),
      services,
      realServers,
      nodes,
      clientArp,
      faults: [...this.faults.active],
      upstreams: UPSTREAMS.map((ip) => ({ ip, running: !this.faults.upstreamStopped(ip), nodes: S.nodes.filter((n) => upstreamOf(n.name) === ip).map((n) => n.name) })),
    };
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what crashed `lab up`s left: for every `hs<pid>-…` namespace whose creator is
 * gone, its processes are SIGKILLed (`ip netns pids`), then the namespaces are deleted.
 */
export function removeCrashedLabs(prefix = LAB_PREFIX): { namespaces: string[]; killed: { ns: string; pid: number }[] } {
  const killed: { ns: string; pid: number }[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return { namespaces: [], killed };
  }
  const re = new RegExp(`^${prefix}(\\d+)-\\d+`);
  for (const ns of names) {
    const m = re.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    let pids: number[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      /* gone meanwhile */
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push({ ns, pid });
      } catch {
        /* already gone */
      }
    }
  }
  return { namespaces: removeStaleLabs(prefix), killed };
}

/** `<socket>.json`: the running lab's pid, tag and temp directory, so a crash leaves nothing unknown behind. */
export function stateFile(path = socketPath()): string {
  return `${path}.json`;
}

export function writeState(S: SeedLab, path = socketPath()): void {
  writeFileSync(stateFile(path), JSON.stringify({ pid: process.pid, tag: S.lab.tag, dir: S.dir }) + '\n', { mode: 0o600 });
}

export function removeState(path = socketPath()): void {
  rmSync(stateFile(path), { force: true });
}

/** Removes the temp directory of a crashed lab named in `<socket>.json` (only a haldir-seed-* directory under the temp dir). */
export function removeCrashedState(path = socketPath()): string[] {
  let st: { pid?: number; dir?: string };
  try {
    st = JSON.parse(readFileSync(stateFile(path), 'utf8')) as typeof st;
  } catch {
    return [];
  }
  if (typeof st.pid === 'number' && pidAlive(st.pid)) return [];
  const removed: string[] = [];
  if (typeof st.dir === 'string' && dirname(resolve(st.dir)) === resolve(tmpdir()) && basename(st.dir).startsWith('haldir-seed-') && existsSync(st.dir)) {
    rmSync(st.dir, { recursive: true, force: true });
    removed.push(st.dir);
  }
  removeState(path);
  removed.push(stateFile(path));
  return removed;
}
