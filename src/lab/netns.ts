// Network-namespace labs: hosts (namespaces) on a switch (a bridge inside its
// own namespace), built with iproute2 and torn down completely — namespaces
// removed, started processes killed by PID — also after a failure. Lab
// namespaces have no route out of the machine: their only link is the bridge.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export interface HostSpec {
  /** IPv4 address with prefix, e.g. 10.99.0.11/24. */
  ip: string;
  /** Fixed MAC so captures and neighbour tables are readable. */
  mac?: string;
  /** Extra sysctls, e.g. { 'net.ipv4.ip_forward': '1' }. */
  sysctls?: Record<string, string>;
}

export interface Host {
  ns: string;
  ip: string;
  mac: string | undefined;
  /** The host's interface on the switch (always eth0). */
  iface: string;
  /** Switch-side port name, for link faults. */
  port: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside a namespace (no shell); returns stdout, throws with stderr on failure. */
export function nsExec(ns: string, cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`in ${ns}: ${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

export function netnsExists(ns: string): boolean {
  return existsSync(`/run/netns/${ns}`);
}

/** True when this process can build labs (root and iproute2 with netns). */
export function canBuildLabs(): { ok: boolean; why?: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'network namespaces need root' };
  try {
    ip('netns', 'list');
  } catch (e) {
    return { ok: false, why: `ip netns does not work here: ${(e as Error).message}` };
  }
  return { ok: true };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces left by labs of processes that no longer exist (names carry the creator's PID). */
export function removeStaleLabs(prefix = 'hl'): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = new RegExp(`^${prefix}(\\d+)-\\d+`).exec(n);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        ip('netns', 'del', n);
        removed.push(n);
      } catch {
        /* already gone */
      }
    }
  }
  return removed;
}

let labCount = 0;

export class Lab {
  /** Namespace names are `<prefix><pid>-<name>` so stale labs can be found and removed. */
  readonly tag: string;
  readonly switchNs: string;
  readonly hosts = new Map<string, Host>();
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ChildProcess>();
  private closed = false;

  constructor(prefix = 'hl') {
    this.tag = `${prefix}${process.pid}-${labCount++}`;
    this.switchNs = `${this.tag}sw`;
    this.addNs(this.switchNs);
    ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    // Bridge netfilter is on by default in new namespaces; it would send bridged frames through iptables.
    for (const k of ['iptables', 'ip6tables', 'arptables']) this.sysctl(this.switchNs, `net.bridge.bridge-nf-call-${k}`, '0', true);
    ip('-n', this.switchNs, 'link', 'set', 'br0', 'up');
  }

  private addNs(ns: string): void {
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  sysctl(ns: string, key: string, value: string, optional = false): void {
    try {
      nsExec(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
    } catch (e) {
      if (!optional) throw e;
    }
  }

  /** A host on the switch: namespace, veth eth0 (the peer is a bridge port), address, MAC. */
  addHost(name: string, spec: HostSpec): Host {
    const ns = `${this.tag}${name}`;
    const port = `p-${name}`.slice(0, 15);
    this.addNs(ns);
    // The veth is created straight between the namespaces: nothing appears in the root namespace.
    ip('-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up');
    if (spec.mac) ip('-n', ns, 'link', 'set', 'eth0', 'address', spec.mac);
    // IPv6 DAD would leave link-local addresses tentative for a second or two.
    this.sysctl(ns, 'net.ipv6.conf.all.accept_dad', '0', true);
    this.sysctl(ns, 'net.ipv6.conf.eth0.accept_dad', '0', true);
    for (const [k, v] of Object.entries(spec.sysctls ?? {})) this.sysctl(ns, k, v);
    ip('-n', ns, 'addr', 'add', spec.ip, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const host: Host = { ns, ip: spec.ip.split('/')[0]!, mac: spec.mac, iface: 'eth0', port };
    this.hosts.set(name, host);
    return host;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  exec(name: string, cmd: string, args: string[], input?: string): string {
    return nsExec(this.host(name).ns, cmd, args, input);
  }

  /** Host side link down/up (the host sees its eth0 lose carrier: a node failure). */
  setLink(name: string, up: boolean): void {
    ip('-n', this.host(name).ns, 'link', 'set', 'eth0', up ? 'up' : 'down');
  }

  /** Starts a long-running process in a host; it is killed (by PID) when the lab closes. */
  spawn(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    // `ip netns exec` execs the command, so the child's PID is the daemon's own.
    const child = spawn('ip', ['netns', 'exec', this.host(name).ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    this.procs.add(child);
    child.on('exit', () => this.procs.delete(child));
    return child;
  }

  /** Stops a process started with spawn: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((res) => child.once('exit', () => res()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await done;
    clearTimeout(t);
  }

  /** Kills every process still running, then removes every namespace. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.procs].map((p) => this.stop(p, 1000)));
    for (const ns of this.namespaces.reverse()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
  }
}
