// Test data for the API's pure parts: the seed's lb1 (examples/seed/lb1.conf: VI_1 and
// four services over lb1–lb4) with a VRRP status, checker results and data-plane
// counters as the daemon's parts report them.
import type { NodeModel } from '../../src/model/types.js';
import { loadConfig } from '../../src/config/load.js';
import { formatRs, formatVs, rsKey, vsKey } from '../../src/health/server-state.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { zeroStats } from '../../src/vrrp/receive.js';
import type { InstanceStatus } from '../../src/vrrp/runtime.js';
import type { CheckerStatus } from '../../src/health/engine.js';
import type { ServiceStats } from '../../src/dataplane/types.js';
import { Overrides } from '../../src/api/overrides.js';
import { buildStatus, type ViewInputs } from '../../src/api/view.js';
import type { NodeStatus } from '../../src/api/types.js';
import { SEED } from '../helpers/paths.js';

export function seedModel(): NodeModel {
  const cfg = loadConfig([`${SEED}lb1.conf`]);
  const m = [...cfg.models.values()][0];
  if (!m) throw new Error('seed lb1.conf did not load');
  return m;
}

/** lb1 MASTER of VI_1; lb3 (192.168.2.13) down on every port; counters on the data plane. */
export function seedInputs(over: Partial<ViewInputs> = {}): ViewInputs {
  const model = over.model ?? seedModel();
  const vrrp: InstanceStatus[] = [
    {
      name: 'VI_1',
      state: 'MASTER',
      interface: 'eth0',
      vrid: 51,
      basePriority: 100,
      effectivePriority: 100,
      masterAddress: '192.168.2.11',
      lastAdvertAgeMs: 850,
      vips: ['192.168.2.100/24'],
      stats: { ...zeroStats(), vrrpv3StatisticsMasterTransitions: 2, vrrpv3StatisticsRcvdAdvertisements: 120, advertsSent: 300, vrrpv3StatisticsSentPriZeroPackets: 1, vrrpStatsAuthFailures: 3 },
    },
  ];
  const checks: CheckerStatus[] = model.virtualServers.flatMap((vs) =>
    vs.realServers.map((rs) => {
      const down = rs.address === '192.168.2.13';
      return { service: formatVs(vs), server: formatRs(rs, vs), type: rs.checkers[0]?.type ?? 'TCP_CHECK', up: !down, lastReason: down ? 'connection refused' : 'ok', lastLatencyMs: down ? 0.4 : 1.25 };
    }),
  );
  // Health's table: lb3 out.
  const table = allUpTable(model).map((ds) => ({ ...ds, dests: ds.dests.filter((d) => !d.address.endsWith('.13')) }));
  const dpStats: ServiceStats[] = model.virtualServers.map((vs) => ({
    vsKey: vsKey(vs),
    protocol: vs.protocol,
    address: '192.168.2.100',
    scheduler: vs.scheduler,
    flags: [],
    conns: 40,
    dests: vs.realServers
      .filter((rs) => rs.address !== '192.168.2.13')
      .map((rs) => ({ key: rsKey(rs), address: rs.address, family: 4 as const, port: rs.port!, weight: 1, forwarding: 'Route', activeConns: 2, conns: 10, packets: 55, bytes: 4096 })),
  }));
  return {
    node: 'LB1',
    version: '0.1.0',
    pid: 4242,
    startedAt: new Date('2026-11-29T20:00:00.000Z'),
    now: new Date('2026-11-29T20:02:03.000Z'),
    model,
    vrrp,
    vrrpSeen: new Map([['VI_1', { lastTransition: '2026-11-29T20:00:04.250Z', releaseMaster: 1 }]]),
    checks,
    table,
    overrides: new Overrides(),
    dpStats,
    dataplane: { kind: 'nftables', reconciles: 12, failures: 0, changes: 40, driftRepairs: 1, lastSyncMs: 2.5 },
    lag: { p50: 0.1, p99: 2.3456, max: 7 },
    vrrpLag: { p50: 0.05, p99: 0.4, max: 1 },
    ...over,
  };
}

export function seedStatus(over: Partial<ViewInputs> = {}): NodeStatus {
  return buildStatus(seedInputs(over));
}
