// The status document (types.ts NodeStatus) from what the daemon's parts report: the
// VRRP thread's instance status, health's checkers and table, the operator
// overrides, the data plane's counters. Pure: the API shell gathers the inputs.
import type { NodeModel } from '../model/types.js';
import type { CheckerStatus } from '../health/engine.js';
import { formatRs, formatVs, rsKey, vsKey, type DesiredService } from '../health/server-state.js';
import type { ServiceStats } from '../dataplane/types.js';
import type { InstanceStatus } from '../vrrp/runtime.js';
import type { LagStats } from '../daemon/lag.js';
import { vipOwners } from '../daemon/director.js';
import { canonicalIp } from '../vrrp/addr.js';
import { applyOverrides, type Override, type Overrides } from './overrides.js';
import type { DataplaneView, LagView, NodeStatus, OverrideView, RealServerView, ServiceView, VrrpInstanceView } from './types.js';

export interface ViewInputs {
  node: string;
  version: string;
  pid: number;
  startedAt: Date;
  now: Date;
  model: NodeModel;
  vrrp: InstanceStatus[];
  /** Per instance: last transition seen (ISO) and transitions out of MASTER. */
  vrrpSeen: ReadonlyMap<string, { lastTransition?: string; releaseMaster: number }>;
  checks: CheckerStatus[];
  /** Health's table, before overrides (undefined when this node balances nothing). */
  table?: DesiredService[];
  overrides: Pick<Overrides, 'lookup' | 'list'>;
  dpStats?: ServiceStats[];
  dataplane?: DataplaneView;
  lag: LagStats;
  vrrpLag?: LagStats;
}

export const lagView = (l: LagStats): LagView => ({ p50Ms: round(l.p50), p99Ms: round(l.p99), maxMs: round(l.max) });

const round = (n: number): number => Math.round(n * 1000) / 1000;

export function buildStatus(i: ViewInputs): NodeStatus {
  const vrrp: VrrpInstanceView[] = i.vrrp.map((s) => {
    const seen = i.vrrpSeen.get(s.name);
    return {
      name: s.name,
      state: s.state,
      interface: s.interface,
      vrid: s.vrid,
      basePriority: s.basePriority,
      effectivePriority: s.effectivePriority,
      ...(s.masterAddress !== undefined ? { masterAddress: s.masterAddress } : {}),
      ...(s.lastAdvertAgeMs !== undefined ? { lastAdvertAgeMs: s.lastAdvertAgeMs } : {}),
      resigned: s.resigned === true,
      vips: s.vips,
      ...(seen?.lastTransition ? { lastTransition: seen.lastTransition } : {}),
      releaseMaster: seen?.releaseMaster ?? 0,
      stats: s.stats,
    };
  });
  const states = new Map(i.vrrp.map((s) => [s.name, s.state]));
  const owners = vipOwners(i.model);
  const effective = i.table ? applyOverrides(i.table, i.overrides) : undefined;
  const desired = new Map((effective ?? []).map((ds) => [ds.vsKey, new Map(ds.dests.map((d) => [d.key, d]))]));
  const stats = new Map((i.dpStats ?? []).map((s) => [s.vsKey, s]));
  const checksBy = new Map<string, CheckerStatus[]>();
  for (const c of i.checks) {
    const k = `${c.service} ${c.server}`;
    checksBy.set(k, [...(checksBy.get(k) ?? []), c]);
  }

  // A node that runs no health checks and no data plane (--vrrp-only) reports no services.
  const services: ServiceView[] = (i.table === undefined ? [] : i.model.virtualServers).map((vs) => {
    const vk = vsKey(vs);
    const a = vs.address;
    let balancing = true;
    if (a.kind === 'ip') {
      const owner = owners.get(canonicalIp(a.address, a.family) ?? a.address);
      if (owner !== undefined && states.get(owner) !== 'MASTER') balancing = false;
    }
    const st = stats.get(vk);
    const dstats = new Map((st?.dests ?? []).map((d) => [d.key, d]));
    const name = formatVs(vs);
    const realServers: RealServerView[] = vs.realServers.map((rs) => {
      const rk = rsKey(rs);
      const checks = (checksBy.get(`${name} ${formatRs(rs, vs)}`) ?? []).map((c) => ({
        type: c.type,
        up: c.up,
        ...(c.lastReason !== undefined ? { lastReason: c.lastReason } : {}),
        ...(c.lastLatencyMs !== undefined ? { lastLatencyMs: round(c.lastLatencyMs) } : {}),
      }));
      const healthy = checks.every((c) => c.up);
      const d = desired.get(vk)?.get(rk);
      const o = i.overrides.lookup(vk, rk);
      const ds = dstats.get(rk);
      const drained = o?.drain === true;
      return {
        key: rk,
        name: formatRs(rs, vs),
        address: canonicalIp(rs.address, rs.family) ?? rs.address,
        ...(rs.port !== undefined ? { port: rs.port } : {}),
        healthy,
        state: !healthy ? 'down' : drained ? 'draining' : 'up',
        configuredWeight: rs.weight,
        weight: d?.weight ?? 0,
        inTable: d !== undefined,
        drained,
        ...(o?.weight !== undefined ? { weightOverride: o.weight } : {}),
        checks,
        ...(ds?.activeConns !== undefined ? { activeConnections: ds.activeConns } : {}),
        ...(ds?.conns !== undefined ? { connections: ds.conns } : {}),
        ...(ds?.packets !== undefined ? { packets: ds.packets } : {}),
        ...(ds?.bytes !== undefined ? { bytes: ds.bytes } : ds?.inBytes !== undefined || ds?.outBytes !== undefined ? { bytes: (ds.inBytes ?? 0) + (ds.outBytes ?? 0) } : {}),
        ...(ds?.inBytes !== undefined ? { inBytes: ds.inBytes } : {}),
        ...(ds?.outBytes !== undefined ? { outBytes: ds.outBytes } : {}),
      };
    });
    return {
      key: vk,
      name,
      protocol: vs.protocol.toLowerCase(),
      address: a.kind === 'ip' ? (canonicalIp(a.address, a.family) ?? a.address) : a.kind === 'fwmark' ? `fwmark ${a.fwmark}` : `group ${a.group}`,
      ...(a.kind === 'ip' ? { port: a.port } : {}),
      scheduler: vs.scheduler,
      forwarding: vs.forwarding.kind,
      balancing,
      realServers,
      ...(st?.conns !== undefined ? { connections: st.conns } : {}),
      ...(st?.bytes !== undefined ? { bytes: st.bytes } : {}),
    };
  });

  return {
    node: i.node,
    version: i.version,
    pid: i.pid,
    startedAt: i.startedAt.toISOString(),
    uptimeSeconds: Math.round((i.now.getTime() - i.startedAt.getTime()) / 1000),
    eventLoopLagMs: lagView(i.lag),
    ...(i.vrrpLag ? { vrrpThreadLagMs: lagView(i.vrrpLag) } : {}),
    ...(i.dataplane ? { dataplane: i.dataplane } : {}),
    vrrp,
    services,
    overrides: i.overrides.list().map((o) => overrideView(o, i.model)),
  };
}

function overrideView(o: Override, model: NodeModel): OverrideView {
  let matches = 0;
  for (const vs of model.virtualServers) {
    if (o.service !== undefined && vsKey(vs) !== o.service) continue;
    matches += vs.realServers.filter((rs) => rsKey(rs) === o.server).length;
  }
  return { server: o.server, ...(o.service !== undefined ? { service: o.service } : {}), drain: o.drain, ...(o.weight !== undefined ? { weight: o.weight } : {}), since: o.since, by: o.by, matches };
}
