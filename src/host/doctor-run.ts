// The doctor's shell: works out this host's roles from the configuration (a
// director of its node's services; a real server of every service listing one
// of its addresses), from --vip/--mode and from the `realserver setup` record,
// then observes — facts, nftables/IPVS availability, a VRRP listen-and-probe
// window per VRRP interface, TCP connects to the real servers, event-loop
// lateness over the same window — and hands it all to the pure diagnose().
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { LagMonitor } from '../daemon/lag.js';
import type { NodeModel } from '../model/types.js';
import { diagnose, interfaceRows, type DirectorRole, type DoctorInput, type Finding, type InterfaceRow, type RsRole, type TargetResult, type VrrpObservation } from './doctor.js';
import { ipFamily, localAddresses, type HostFacts } from './facts.js';
import { stateProblem, type RsState } from './realserver.js';
import { gatherFacts } from './system.js';
import { observeVrrp } from './vrrp-probe.js';

export interface DoctorOptions {
  /**
   * The configuration: this node's model when one is chosen (then the host is its
   * director), and every node's (their services name the real servers).
   */
  config?: { model?: NodeModel; all: NodeModel[] };
  /** 'realserver': skip the director checks even when a node is chosen. */
  role?: 'auto' | 'director' | 'realserver';
  vips?: string[];
  mode?: 'dr' | 'tun' | 'nat';
  /** NAT real servers' expected gateway(s). */
  director?: string[];
  stateFile?: string;
  /** VRRP listen window. */
  listenMs: number;
  /** Send probe adverts (default on). */
  probe: boolean;
  probeVrid?: number;
  /** Extra interfaces to listen for VRRP on (no configuration needed). */
  vrrpIfaces?: string[];
  expectConnections: number;
  connectTimeoutMs: number;
  /** The nft binary (default nft from PATH). */
  nft?: string;
}

export interface DoctorResult {
  input: DoctorInput;
  findings: Finding[];
  rows: InterfaceRow[];
  roles: string[];
}

const vsName = (vs: NodeModel['virtualServers'][number]): { name: string; vip?: string; port?: number } => {
  const a = vs.address;
  if (a.kind === 'ip') return { name: `${vs.protocol} ${a.address}:${a.port}`, vip: a.address, port: a.port };
  if (a.kind === 'fwmark') return { name: `fwmark ${a.fwmark}` };
  return { name: `group ${a.group}` };
};

const where = (src: Record<string, { file: string; line: number }> | undefined): string => {
  const l = src?.[''];
  return l ? ` (${l.file}:${l.line})` : '';
};

/** The roles this host plays, from the configuration, the options and the setup record. */
export function rolesOf(facts: HostFacts, o: DoctorOptions): { rs: RsRole[]; director?: DirectorRole; natGateways: string[]; text: string[] } {
  const local = localAddresses(facts);
  const rs: RsRole[] = [];
  const text: string[] = [];
  const natGateways = [...(o.director ?? [])];
  let director: DirectorRole | undefined;
  const m = o.role === 'realserver' ? undefined : o.config?.model;
  const all = o.config?.all ?? [];
  const rsSeen = new Set<string>();
  // Real server of every service (of any node: they usually share them) listing a local address.
  for (const x of m ? [m] : all)
    for (const vs of x.virtualServers) {
      const n = vsName(vs);
      for (const r of vs.realServers) {
        if (!local.has(r.address)) continue;
        const kind = (r.forwarding?.kind ?? vs.forwarding.kind).toLowerCase() as RsRole['mode'];
        if ((!n.vip && kind !== 'nat') || rsSeen.has(`${n.vip}|${kind}`)) continue;
        rsSeen.add(`${n.vip}|${kind}`);
        rs.push({ vip: n.vip ?? '', mode: kind, from: `virtual_server ${n.name}${where(vs.src)}` });
      }
    }
  if (m) {
    if (m.virtualServers.length > 0 || m.vrrpInstances.length > 0) {
      const peersByVrid: Record<number, string[]> = {};
      for (const i of m.vrrpInstances)
        peersByVrid[i.vrid] = all.filter((x) => x !== m && x.vrrpInstances.some((j) => j.vrid === i.vrid && j.interface === i.interface)).map((x) => x.node);
      director = {
        node: m.node,
        services: m.virtualServers.map((vs) => {
          const n = vsName(vs);
          return { name: n.name, ...(n.vip ? { vip: n.vip } : {}), kind: vs.forwarding.kind, realServers: vs.realServers.map((r) => ({ address: r.address, ...(r.port !== undefined ? { port: r.port } : {}) })) };
        }),
        instances: m.vrrpInstances.map((i) => ({
          name: i.name,
          iface: i.interface,
          vrid: i.vrid,
          version: i.version,
          priority: i.priority,
          advertInt: i.advertInt,
          vips: i.vips.map((v) => v.address),
          unicast: i.unicastPeers.length > 0,
        })),
        peersByVrid,
      };
      text.push(`director: node ${m.node}, ${m.virtualServers.length} virtual server(s), ${m.vrrpInstances.length} VRRP instance(s)`);
    }
  }
  // A NAT real server routes replies through a director: the VRRP VIPs of every node are
  // candidates, those that are no service address (the inner VIP) first.
  const serviceVips = new Set(all.flatMap((x) => x.virtualServers.map((vs) => vsName(vs).vip)));
  const vrrpVips = [...new Set(all.flatMap((x) => x.vrrpInstances.flatMap((i) => i.vips.map((v) => v.address))))];
  for (const v of [...vrrpVips.filter((a) => !serviceVips.has(a)), ...vrrpVips.filter((a) => serviceVips.has(a))]) if (!natGateways.includes(v)) natGateways.push(v);
  if (o.config && !m) text.push(`no director checks (${o.role === 'realserver' ? '--role realserver' : 'choose a node with --node for them'})`);
  for (const v of o.vips ?? []) rs.push({ vip: v, mode: o.mode ?? 'dr', from: '--vip' });
  if (o.mode === 'nat' && !(o.vips ?? []).length) rs.push({ vip: '', mode: 'nat', from: '--mode nat' });
  if (o.stateFile && existsSync(o.stateFile)) {
    try {
      const s = JSON.parse(readFileSync(o.stateFile, 'utf8')) as RsState;
      if (!stateProblem(s)) for (const v of s.vips) rs.push({ vip: v.address, mode: s.mode, from: `setup record ${o.stateFile}` });
    } catch {
      /* an unreadable record is realserver check's business */
    }
  }
  const seen = new Set<string>();
  for (const r of rs) {
    const k = `${r.vip} ${r.mode}`;
    if (seen.has(k)) continue;
    seen.add(k);
    text.push(`real server: ${r.mode.toUpperCase()}${r.vip ? ` VIP ${r.vip}` : ''} (${r.from})`);
  }
  return { rs, ...(director ? { director } : {}), natGateways, text };
}

/** Whether nft runs and reaches the kernel; undefined when that cannot be told (not root: listing needs CAP_NET_ADMIN). */
function nftUsable(nft: string): Promise<{ ok: boolean; detail: string } | undefined> {
  return new Promise((resolve) => {
    execFile(nft, ['list', 'tables'], { timeout: 5000, encoding: 'utf8' }, (err, _out, stderr) => {
      if (!err) resolve({ ok: true, detail: `${nft} list tables works` });
      else if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve({ ok: false, detail: `${nft}: not found in PATH (${process.env.PATH ?? ''})` });
      else if (process.getuid?.() !== 0) resolve(undefined);
      else resolve({ ok: false, detail: `${nft} list tables: ${stderr.trim() || err.message}` });
    });
  });
}

function tcpConnect(address: string, port: number, timeoutMs: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (ok: boolean, error?: string) => {
      s.destroy();
      resolve({ ok, ms: performance.now() - t0, ...(error ? { error } : {}) });
    };
    s.setTimeout(timeoutMs, () => done(false, `no answer within ${timeoutMs} ms`));
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(false, e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'EHOSTUNREACH' ? 'host unreachable' : (e.code ?? e.message)));
  });
}

/** The probe VRID: the highest one no instance of the configuration uses. */
export function pickProbeVrid(models: NodeModel[]): number {
  const used = new Set(models.flatMap((m) => m.vrrpInstances.map((i) => i.vrid)));
  for (let v = 255; v >= 1; v--) if (!used.has(v)) return v;
  return 255;
}

/** Lateness worth a warning: a quarter of the fastest advert interval, at most 100 ms (ties between backups are decided by skews of a few ms). */
export function lagThresholdMs(d: DirectorRole | undefined): number {
  const ints = (d?.instances ?? []).map((i) => i.advertInt * 1000);
  return ints.length ? Math.min(100, Math.min(...ints) / 4) : 100;
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorResult> {
  const facts = gatherFacts();
  const roles = rolesOf(facts, o);
  const local = localAddresses(facts);
  const lag = new LagMonitor(10);
  lag.start();
  const t0 = performance.now();

  // VRRP: every interface of a multicast IPv4 instance, plus any asked for.
  const ifaces = new Set<string>(o.vrrpIfaces ?? []);
  for (const i of roles.director?.instances ?? []) if (!i.unicast && i.vips.every((v) => ipFamily(v) === 4) && facts.links.some((l) => l.name === i.iface)) ifaces.add(i.iface);
  const models = o.config?.all ?? [];
  const probeVrid = o.probeVrid ?? pickProbeVrid(models);
  const ourVips = new Set((roles.director?.instances ?? []).flatMap((i) => i.vips));
  const vrrpJobs: Promise<VrrpObservation>[] = [...ifaces].map((iface) => {
    const link = facts.links.find((l) => l.name === iface);
    if (!link) return Promise.resolve({ iface, windowMs: 0, probeVrid, probesSent: 0, adverts: [], listenError: `no interface ${iface}` });
    const src = facts.addresses.find((a) => a.ifname === iface && a.family === 4 && !ourVips.has(a.address))?.address;
    const obs = observeVrrp({ iface, ifindex: link.ifindex, src: src ?? '0.0.0.0', windowMs: o.listenMs, probeVrid, send: o.probe && !!src }, local);
    return src || !o.probe ? obs : obs.then((x) => ({ ...x, sendError: `no IPv4 address on ${iface} to probe from` }));
  });

  // Check targets: each real server (or its checker's connect_ip/port) once, TCP services only.
  const targets: Promise<TargetResult>[] = [];
  const seen = new Set<string>();
  for (const vs of roles.director ? (o.config?.model?.virtualServers ?? []) : []) {
    if (vs.protocol !== 'TCP') continue;
    const n = vsName(vs);
    for (const r of vs.realServers) {
      const c = r.checkers[0];
      const address = c?.connectIp ?? r.address;
      const port = c?.connectPort ?? r.port ?? n.port;
      if (port === undefined || seen.has(`${address}:${port}`)) continue;
      seen.add(`${address}:${port}`);
      targets.push(tcpConnect(address, port, o.connectTimeoutMs).then((x) => ({ service: n.name, address, port, ...x })));
    }
  }
  const nft = roles.director ? nftUsable(o.nft ?? 'nft') : Promise.resolve(undefined);
  const [vrrp, targetResults, nftResult] = await Promise.all([Promise.all(vrrpJobs), Promise.all(targets), nft]);
  // At least a second of lateness sampling, also when nothing else took that long.
  const spent = performance.now() - t0;
  if (spent < 1000) await new Promise((r) => setTimeout(r, 1000 - spent));
  const lagStats = lag.stats();
  lag.stop();

  const input: DoctorInput = {
    facts,
    realServer: roles.rs,
    ...(roles.director ? { director: roles.director } : {}),
    natGateways: roles.natGateways,
    tools: { ...(nftResult ? { nft: nftResult } : {}), ipvs: existsSync('/proc/net/ip_vs') },
    vrrp,
    targets: targetResults,
    lag: { ...lagStats, windowMs: performance.now() - t0 },
    lagThresholdMs: lagThresholdMs(roles.director),
    expectConnections: o.expectConnections,
  };
  return { input, findings: diagnose(input), rows: interfaceRows(facts), roles: roles.text };
}
