// The userspace data plane: a TCP and UDP proxy inside haldir, for hosts where it
// has neither root nor CAP_NET_ADMIN. This folder owns the proxy and its driver:
//   index.ts   — the `Dataplane` driver: unsupported(), reconcile(), stats(), close()
//   diff.ts    — running services against desired ones, as changes
//   service.ts — one running service: destinations, counters, scheduler, listener
//   tcp.ts     — TCP listener and connection pairs (back-pressure, half-close)
//   udp.ts     — UDP socket with per-client sessions
//   select.ts  — schedulers (rr, wrr, lc, wlc, sh, mh; sh/mh tables from ../sched.ts)
//   errors.ts  — listen failures in the operator's words
//
// Semantics, where they differ from a kernel data plane:
// - Every service is a proxy: the destination sees connections from this host
//   (like NAT with the source rewritten), not from the client. DR and TUN services
//   are proxied too and each reconcile's note says so; with `strictForwarding`
//   unsupported() refuses them instead.
// - Only address services (not fwmark or virtual_server_group) of TCP and UDP;
//   schedulers rr, wrr, lc, wlc, sh, mh. Persistence (persistence_timeout) is not
//   implemented: each connection is scheduled on its own.
// - Weight 0 takes no new flows; a removed destination keeps its open flows (shown
//   as draining until they end); a removed service closes its listener and its open
//   TCP connections finish (UDP sessions end with the listener that carries their
//   replies).
// - reconcile applies everything it can; when listeners fail to open it then
//   throws one UserspaceReconcileError listing every failure (address, port, errno,
//   likely fix), with the report of what was applied. A service that failed is not
//   running, so the next reconcile tries it again.
import type { VirtualServer } from '../../model/types.js';
import type { Change, Dataplane, DesiredService, DestStats, ReconcileOptions, ReconcileReport, ServiceStats, Unsupported } from '../types.js';
import { planReconcile, uniqueDests, type ServiceOp } from './diff.js';
import { hostPort, listenFailure, UserspaceReconcileError, type ListenFailure } from './errors.js';
import { flagNames, isUserspaceScheduler, USERSPACE_SCHEDULERS } from './select.js';
import { newDest, ServiceRuntime, type DestRuntime, type Listener, type Log } from './service.js';
import { tcpListener } from './tcp.js';
import { udpListener } from './udp.js';

export { UserspaceReconcileError, type ListenFailure } from './errors.js';
export { USERSPACE_SCHEDULERS } from './select.js';

export interface UserspaceOptions {
  log?: Log;
  /** A UDP session ends after this long without a datagram either way (default 60 000 ms). */
  udpIdleMs?: number;
  /** A destination that has not accepted a TCP connection by then fails it (default 5 000 ms). */
  connectTimeoutMs?: number;
  /** The address to listen on for `vs` (default its virtual address), e.g. '0.0.0.0' while the VIP is elsewhere. */
  bindAddress?: (vs: VirtualServer) => string;
  /** Refuse DR and TUN services instead of proxying them. */
  strictForwarding?: boolean;
}

export interface UserspaceDestStats extends DestStats {
  /** TCP connects that failed or timed out, UDP sessions ended by an error. */
  connectFailures: number;
}

export interface UserspaceServiceStats extends ServiceStats {
  dests: UserspaceDestStats[];
  inBytes: number;
  outBytes: number;
  connectFailures: number;
  /** New flows turned away because no destination could take them. */
  noDestination: number;
  /** What the listener is bound to. */
  listen: string;
}

export interface UserspaceDataplane extends Dataplane {
  readonly kind: 'userspace';
  stats(): Promise<UserspaceServiceStats[]>;
  /** Bytes held in the proxy's own buffers across all flows (bounded by back-pressure). */
  bufferedBytes(): number;
}

export const DEFAULT_UDP_IDLE_MS = 60_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

const KERNEL_FORWARDING = 'DR/TUN need a kernel data plane; the userspace proxy would change the semantics (replies come back through the proxy)';

function usesKernelForwarding(vs: VirtualServer): boolean {
  return vs.forwarding.kind !== 'NAT' || vs.realServers.some((rs) => rs.forwarding !== undefined && rs.forwarding.kind !== 'NAT');
}

/** Why the userspace plane cannot program `vs` (empty: it can). */
export function userspaceRefusals(vs: VirtualServer, strictForwarding = false): string[] {
  const out: string[] = [];
  if (vs.address.kind === 'fwmark') out.push('the userspace data plane binds addresses; fwmark services need the nftables or ipvs data plane');
  else if (vs.address.kind === 'group')
    out.push('the userspace data plane binds addresses; virtual_server_group services need the nftables or ipvs data plane');
  if (vs.protocol !== 'TCP' && vs.protocol !== 'UDP') out.push(`the userspace data plane proxies TCP and UDP only; ${vs.protocol} needs the ipvs data plane`);
  if (!isUserspaceScheduler(vs.scheduler))
    out.push(`scheduler ${vs.scheduler} is not available in the userspace data plane (it has ${USERSPACE_SCHEDULERS.join(', ')}); choose one of those or a kernel data plane`);
  if (strictForwarding && usesKernelForwarding(vs)) out.push(KERNEL_FORWARDING);
  return out;
}

function vsPort(vs: VirtualServer): number {
  return vs.address.kind === 'ip' ? vs.address.port : 0;
}

function vsText(vs: VirtualServer): string {
  const a = vs.address;
  switch (a.kind) {
    case 'ip':
      return hostPort(a.address, a.port);
    case 'fwmark':
      return `FWM ${a.fwmark}`;
    case 'group':
      return `group ${a.group}`;
  }
}

/** Installs `desired`'s destinations in `svc` in place (see service.ts). */
function applyDests(svc: ServiceRuntime, desired: DesiredService): void {
  const want = new Map(uniqueDests(desired.dests).map((d) => [d.key, d]));
  const port = vsPort(desired.vs);
  const next: DestRuntime[] = [];
  for (const d of svc.dests) {
    const w = want.get(d.key);
    if (!w) {
      d.removed = true;
      d.weight = 0;
      if (d.active > 0) svc.retired.set(d.key, d);
      continue;
    }
    want.delete(d.key);
    d.address = w.address;
    d.weight = w.weight;
    d.forwarding = w.forwarding;
    d.sorry = Boolean(w.sorry);
    next.push(d);
  }
  for (const w of want.values()) {
    // A destination that comes back while its old flows still run carries on counting.
    const old = svc.retired.get(w.key);
    if (old && old.port === (w.port ?? port)) {
      svc.retired.delete(w.key);
      old.removed = false;
      old.weight = w.weight;
      old.forwarding = w.forwarding;
      old.sorry = Boolean(w.sorry);
      old.address = w.address;
      next.push(old);
    } else {
      next.push(newDest(w, port));
    }
  }
  svc.dests = next;
  svc.destsChanged();
}

export function createUserspaceDataplane(opts: UserspaceOptions = {}): UserspaceDataplane {
  const log: Log = opts.log ?? (() => {});
  const udpIdleMs = opts.udpIdleMs ?? DEFAULT_UDP_IDLE_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const strict = opts.strictForwarding ?? false;
  const bindHost = (vs: VirtualServer): string => opts.bindAddress?.(vs) ?? (vs.address.kind === 'ip' ? vs.address.address : '');
  /** Listening services by vsKey. */
  const running = new Map<string, ServiceRuntime>();
  /** Listeners of removed services whose flows have not finished (cut by close({ flush })). */
  const finishing = new Set<Listener>();
  /** Services whose listener is opening. */
  const pending = new Set<ServiceRuntime>();
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => {});
    return p;
  };

  const pruneFinishing = (): void => {
    for (const l of finishing) if (l.flows() === 0) finishing.delete(l);
  };

  const retire = (l: Listener | undefined, flush: boolean): void => {
    if (!l) return;
    l.close(flush);
    if (!flush && l.flows() > 0) finishing.add(l);
  };

  /** Another of our listeners on the same protocol and port whose address overlaps `host`. */
  const clash = (svc: ServiceRuntime): ServiceRuntime | undefined => {
    const wild = (h: string): boolean => h === '0.0.0.0' || h === '::';
    for (const o of running.values()) {
      if (o === svc || o.protocol !== svc.protocol || o.port !== svc.port || !(o.listener?.alive || pending.has(o))) continue;
      if (o.host === svc.host || wild(o.host) || wild(svc.host)) return o;
    }
    return undefined;
  };

  /** Opens `svc`'s listener; on failure the service is left out of `running`. */
  const listen = async (svc: ServiceRuntime): Promise<ListenFailure | undefined> => {
    const other = clash(svc);
    if (other) {
      const f = listenFailure(svc.vsKey, svc.protocol, svc.host, svc.port, Object.assign(new Error('in use'), { code: 'EADDRINUSE' }));
      f.message = `${svc.protocol} ${hostPort(svc.host, svc.port)} is already the listener of ${other.vsKey} (EADDRINUSE): give the services distinct addresses`;
      running.delete(svc.vsKey);
      return f;
    }
    const l =
      svc.protocol === 'tcp'
        ? tcpListener(svc.host, svc.port, svc, { connectTimeoutMs })
        : udpListener(svc.host, svc.port, svc, { idleMs: udpIdleMs });
    svc.listener = l;
    running.set(svc.vsKey, svc);
    pending.add(svc);
    try {
      await l.listen();
      return undefined;
    } catch (err) {
      l.close(true);
      if (running.get(svc.vsKey) === svc) running.delete(svc.vsKey);
      const f = listenFailure(svc.vsKey, svc.protocol, svc.host, svc.port, err);
      log(`userspace: ${svc.vsKey}: ${f.message}`, { vsKey: svc.vsKey, code: f.code });
      return f;
    } finally {
      pending.delete(svc);
    }
  };

  const apply = async (op: ServiceOp): Promise<ListenFailure | undefined> => {
    switch (op.kind) {
      case 'delete':
        running.delete(op.svc.vsKey);
        retire(op.svc.listener, false);
        return undefined;
      case 'update':
        if (op.reschedule) op.svc.setScheduler(op.desired.vs);
        op.svc.vs = op.desired.vs;
        applyDests(op.svc, op.desired);
        return undefined;
      case 'restart': {
        const svc = op.svc;
        retire(svc.listener, false);
        svc.listener = undefined;
        svc.host = op.host;
        if (op.reschedule) svc.setScheduler(op.desired.vs);
        svc.vs = op.desired.vs;
        applyDests(svc, op.desired);
        return listen(svc);
      }
      case 'add': {
        const vs = op.desired.vs;
        const svc = new ServiceRuntime(op.desired.vsKey, vs, vs.protocol === 'UDP' ? 'udp' : 'tcp', op.host, vsPort(vs), log);
        applyDests(svc, op.desired);
        return listen(svc);
      }
    }
  };

  const reconcile = async (desired: readonly DesiredService[], ropts: ReconcileOptions = {}): Promise<ReconcileReport> => {
    if (closed) throw new Error('userspace data plane is closed');
    const t0 = performance.now();
    const notes: string[] = [];
    const supported: DesiredService[] = [];
    const proxied: string[] = [];
    for (const ds of desired) {
      const why = userspaceRefusals(ds.vs, strict);
      if (why.length) {
        notes.push(`not programmed: ${ds.vsKey}: ${why.join('; ')}`);
        continue;
      }
      supported.push(ds);
      if (ds.vs.forwarding.kind !== 'NAT' || ds.dests.some((d) => d.forwarding.kind !== 'NAT')) proxied.push(ds.vsKey);
    }
    if (proxied.length) notes.push(`proxied (${KERNEL_FORWARDING}): ${proxied.join(', ')}`);
    pruneFinishing();
    const ops = planReconcile(running, supported, bindHost);
    const note = (): string | undefined => (notes.length ? notes.join('; ') : undefined);
    const report = (changes: Change[], applied: boolean): ReconcileReport => {
      const r: ReconcileReport = { changes, applied, ms: performance.now() - t0 };
      const n = note();
      if (n !== undefined) r.note = n;
      return r;
    };
    if (ropts.dryRun) return report(ops.flatMap((o) => o.changes), false);

    // Deletes and in-place updates first (they free ports and cannot fail), then the listens together.
    const sync = ops.filter((o) => o.kind === 'delete' || o.kind === 'update');
    const listens = ops.filter((o) => o.kind === 'add' || o.kind === 'restart');
    for (const op of sync) await apply(op);
    const results = await Promise.all(listens.map((op) => apply(op)));
    const failures = results.filter((f): f is ListenFailure => f !== undefined);
    const failed = new Set(failures.map((f) => f.vsKey));
    const changes = [...sync, ...listens].filter((o) => o.kind === 'delete' || !failed.has(o.desired.vsKey)).flatMap((o) => o.changes);
    // Services without changes take the new model objects too (stats read them).
    for (const ds of supported) {
      const svc = running.get(ds.vsKey);
      if (svc) svc.vs = ds.vs;
    }
    const r = report(changes, changes.length > 0);
    if (failures.length) throw new UserspaceReconcileError(failures, r, supported.length);
    return r;
  };

  const destStats = (d: DestRuntime): UserspaceDestStats => ({
    key: d.key,
    address: d.address,
    family: d.family,
    port: d.port,
    weight: d.weight,
    forwarding: d.forwarding.kind,
    activeConns: d.active,
    conns: d.conns,
    bytes: d.inBytes + d.outBytes,
    inBytes: d.inBytes,
    outBytes: d.outBytes,
    draining: d.removed || (d.weight === 0 && d.active > 0),
    connectFailures: d.connectFailures,
  });

  return {
    kind: 'userspace',
    unsupported(services) {
      const out: Unsupported[] = [];
      for (const vs of services) for (const message of userspaceRefusals(vs, strict)) out.push({ vs, message });
      return out;
    },
    reconcile(desired, ropts) {
      return serial(() => reconcile(desired, ropts));
    },
    async stats() {
      return [...running.values()].map((svc) => ({
        vsKey: svc.vsKey,
        protocol: svc.vs.protocol,
        address: vsText(svc.vs),
        scheduler: svc.vs.scheduler,
        flags: flagNames(svc.vs),
        conns: svc.totals.conns,
        bytes: svc.totals.inBytes + svc.totals.outBytes,
        inBytes: svc.totals.inBytes,
        outBytes: svc.totals.outBytes,
        connectFailures: svc.totals.connectFailures,
        noDestination: svc.totals.noDestination,
        listen: `${svc.protocol} ${hostPort(svc.host, svc.port)}`,
        dests: [...svc.dests, ...svc.retired.values()].map(destStats),
      }));
    },
    async activeConnections() {
      const out = new Map<string, Map<string, number>>();
      for (const svc of running.values()) {
        const m = new Map<string, number>();
        for (const d of svc.dests) m.set(d.key, d.active);
        for (const d of svc.retired.values()) m.set(d.key, d.active);
        out.set(svc.vsKey, m);
      }
      return out;
    },
    bufferedBytes() {
      let n = 0;
      for (const svc of running.values()) n += svc.listener?.buffered() ?? 0;
      for (const l of finishing) n += l.buffered();
      return n;
    },
    close(copts = {}) {
      return serial(async () => {
        closed = true;
        const flush = Boolean(copts.flush);
        for (const svc of running.values()) svc.listener?.close(flush);
        running.clear();
        for (const l of finishing) l.close(flush);
        finishing.clear();
      });
    },
  };
}
