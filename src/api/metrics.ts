// Prometheus metrics at /metrics, in the text exposition format 0.0.4 (written here:
// a few dozen lines, no client library). Names follow Prometheus conventions: base
// units (seconds, bytes), `_total` for counters, state sets as one 0/1 series per
// state. Gauges and the counters the daemon's parts already keep (RFC 6527, data
// plane) come from the status document at scrape time; histograms and the counters
// only the API sees (transitions, events, reloads, actions) are observed as they
// happen. The list with units is in src/api/README.md.
import { readdirSync } from 'node:fs';
import type { NodeStatus } from './types.js';

type Labels = Record<string, string>;

function escLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(l: Labels): string {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${escLabel(v)}"`).join(',')}}` : '';
}

/** Collects families and renders them; a family is written once, with all its samples together. */
export class Exposition {
  private readonly out: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: 'gauge' | 'counter' | 'histogram' | 'untyped', help: string, samples: [Labels, number][]): void {
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
    this.out.push(`# HELP ${name} ${escHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.out.push(`${name}${labelText(l)} ${num(v)}`);
  }

  histogram(h: Histogram): void {
    if (this.seen.has(h.name)) throw new Error(`metric family ${h.name} written twice`);
    this.seen.add(h.name);
    this.out.push(`# HELP ${h.name} ${escHelp(h.help)}`, `# TYPE ${h.name} histogram`);
    for (const s of h.series()) {
      let cum = 0;
      s.counts.forEach((c, i) => {
        cum += c;
        this.out.push(`${h.name}_bucket${labelText({ ...s.labels, le: num(h.buckets[i]!) })} ${cum}`);
      });
      this.out.push(`${h.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      this.out.push(`${h.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      this.out.push(`${h.name}_count${labelText(s.labels)} ${s.count}`);
    }
  }

  text(): string {
    return this.out.join('\n') + '\n';
  }
}

export class Histogram {
  private readonly m = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const k = JSON.stringify(labels);
    let s = this.m.get(k);
    if (!s) this.m.set(k, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  series(): { labels: Labels; counts: number[]; sum: number; count: number }[] {
    return [...this.m.values()];
  }
}

/** A counter with labels, incremented as things happen. */
export class Counter {
  private readonly m = new Map<string, [Labels, number]>();

  inc(labels: Labels, by = 1): void {
    const k = JSON.stringify(labels);
    const e = this.m.get(k);
    if (e) e[1] += by;
    else this.m.set(k, [labels, by]);
  }

  samples(): [Labels, number][] {
    return [...this.m.values()];
  }
}

/** What the API observes itself, between scrapes. */
export class ApiMetrics {
  readonly checkDuration = new Histogram('haldir_check_duration_seconds', 'Duration of health check attempts, by checker type and outcome.', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly syncDuration = new Histogram('haldir_dataplane_sync_duration_seconds', 'Duration of data-plane reconciles: cached (from the last state written) or full (kernel re-read, drift repair).', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly transitions = new Counter();
  readonly events = new Counter();
  readonly reloads = new Counter();
  readonly actions = new Counter();
}

const STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'STOP'];

/** How many file descriptors this process has open (Linux /proc). */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** The whole exposition: the status document's values and the observed histograms and counters. */
export function renderMetrics(s: NodeStatus, m: ApiMetrics): string {
  const x = new Exposition();
  x.family('haldir_build_info', 'gauge', 'Always 1; the version and node as labels.', [[{ version: s.version, node: s.node }, 1]]);
  x.family('haldir_start_time_seconds', 'gauge', 'When this haldir started, seconds since the Unix epoch.', [[{}, Date.parse(s.startedAt) / 1000]]);

  const v = s.vrrp;
  const inst = (i: { name: string }): Labels => ({ instance: i.name });
  x.family('haldir_vrrp_state', 'gauge', 'VRRP instance state: 1 for the state it is in, 0 for the others.', v.flatMap((i) => STATES.map((st): [Labels, number] => [{ ...inst(i), state: st }, i.state === st ? 1 : 0])));
  x.family('haldir_vrrp_priority', 'gauge', 'Effective VRRP priority (after tracking).', v.map((i) => [inst(i), i.effectivePriority]));
  x.family('haldir_vrrp_base_priority', 'gauge', 'Configured VRRP priority.', v.map((i) => [inst(i), i.basePriority]));
  x.family('haldir_vrrp_resigned', 'gauge', '1 while the instance is resigned by a planned failover.', v.map((i) => [inst(i), i.resigned ? 1 : 0]));
  x.family('haldir_vrrp_last_advert_age_seconds', 'gauge', 'Seconds since the instance last accepted an advertisement.', v.filter((i) => i.lastAdvertAgeMs !== undefined).map((i) => [inst(i), i.lastAdvertAgeMs! / 1000]));
  x.family('haldir_vrrp_transitions_total', 'counter', 'VRRP state transitions seen by this process, by the state entered.', m.transitions.samples());
  const rx: [string, keyof NodeStatus['vrrp'][number]['stats']][] = [
    ['valid', 'vrrpv3StatisticsRcvdAdvertisements'],
    ['length_error', 'vrrpv3StatisticsPacketLengthErrors'],
    ['ttl_error', 'vrrpv3StatisticsIpTtlErrors'],
    ['version_error', 'vrrpv3RouterVersionErrors'],
    ['checksum_error', 'vrrpv3RouterChecksumErrors'],
    ['interval_error', 'vrrpv3StatisticsAdvIntervalErrors'],
    ['invalid_type', 'vrrpv3StatisticsRcvdInvalidTypePackets'],
    ['address_list_error', 'vrrpv3StatisticsAddressListErrors'],
    ['auth_failure', 'vrrpStatsAuthFailures'],
    ['auth_type_invalid', 'vrrpStatsInvalidAuthType'],
    ['auth_type_mismatch', 'vrrpStatsAuthTypeMismatch'],
    ['unknown_source', 'unknownUnicastSource'],
  ];
  x.family(
    'haldir_vrrp_adverts_received_total',
    'counter',
    'VRRP packets received for the instance by outcome: valid (RFC 6527 RcvdAdvertisements) and each error counter (an advert can count as valid and address_list_error).',
    v.flatMap((i) => rx.map(([result, k]): [Labels, number] => [{ ...inst(i), result }, i.stats[k]])),
  );
  x.family('haldir_vrrp_adverts_sent_total', 'counter', 'VRRP advertisements sent.', v.map((i) => [inst(i), i.stats.advertsSent]));
  x.family(
    'haldir_vrrp_priority_zero_adverts_total',
    'counter',
    'Priority-0 advertisements (a master stepping down), received and sent.',
    v.flatMap((i): [Labels, number][] => [
      [{ ...inst(i), direction: 'received' }, i.stats.vrrpv3StatisticsRcvdPriZeroPackets],
      [{ ...inst(i), direction: 'sent' }, i.stats.vrrpv3StatisticsSentPriZeroPackets],
    ]),
  );

  const rs = s.services.flatMap((svc) => svc.realServers.map((r) => ({ svc, r, l: { service: svc.name, server: r.name } })));
  x.family('haldir_service_balancing', 'gauge', '1 while this node balances the virtual service.', s.services.map((svc) => [{ service: svc.name }, svc.balancing ? 1 : 0]));
  x.family('haldir_realserver_up', 'gauge', '1 when every health checker of the real server is up.', rs.map(({ r, l }) => [l, r.healthy ? 1 : 0]));
  x.family('haldir_realserver_weight', 'gauge', 'Weight the data plane is asked for (0: no new connections).', rs.map(({ r, l }) => [l, r.weight]));
  x.family('haldir_realserver_drained', 'gauge', '1 while an operator drains the real server.', rs.map(({ r, l }) => [l, r.drained ? 1 : 0]));
  x.family('haldir_realserver_active_connections', 'gauge', 'Connections in progress to the real server (where the data plane counts them).', rs.filter(({ r }) => r.activeConnections !== undefined).map(({ r, l }) => [l, r.activeConnections!]));
  x.family('haldir_realserver_connections_total', 'counter', 'Connections (or first packets, stateless DR) sent to the real server.', rs.filter(({ r }) => r.connections !== undefined).map(({ r, l }) => [l, r.connections!]));
  x.family('haldir_realserver_packets_total', 'counter', 'Packets sent to the real server.', rs.filter(({ r }) => r.packets !== undefined).map(({ r, l }) => [l, r.packets!]));
  x.family('haldir_realserver_bytes_total', 'counter', 'Bytes to and from the real server as the data plane sees them.', rs.filter(({ r }) => r.bytes !== undefined).map(({ r, l }) => [l, r.bytes!]));
  x.family(
    'haldir_realserver_check_latency_seconds',
    'gauge',
    'Duration of the last attempt of each checker of the real server.',
    rs.flatMap(({ r, l }) => r.checks.filter((c) => c.lastLatencyMs !== undefined).map((c): [Labels, number] => [{ ...l, check: c.type }, c.lastLatencyMs! / 1000])),
  );
  x.histogram(m.checkDuration);

  const dp = s.dataplane;
  x.family('haldir_dataplane_info', 'gauge', 'Always 1; the data plane in use as a label.', dp ? [[{ kind: dp.kind }, 1]] : []);
  x.family('haldir_dataplane_reconciles_total', 'counter', 'Data-plane reconciles by result.', dp ? [[{ result: 'ok' }, dp.reconciles], [{ result: 'failed' }, dp.failures]] : []);
  x.family('haldir_dataplane_changes_total', 'counter', 'Objects the data plane added, updated or deleted.', dp ? [[{}, dp.changes]] : []);
  x.family('haldir_dataplane_drift_repairs_total', 'counter', 'Changes that repaired state altered behind haldir (drift).', dp ? [[{}, dp.driftRepairs]] : []);
  x.histogram(m.syncDuration);

  const lag = (thread: string, l: NodeStatus['eventLoopLagMs'] | undefined): [Labels, number][] =>
    l ? [[{ thread, stat: 'p50' }, l.p50Ms / 1000], [{ thread, stat: 'p99' }, l.p99Ms / 1000], [{ thread, stat: 'max' }, l.maxMs / 1000]] : [];
  x.family('haldir_eventloop_lag_seconds', 'gauge', 'How late timers fire, per thread (main; vrrp), since the previous scrape: median, 99th percentile, max.', [...lag('main', s.eventLoopLagMs), ...lag('vrrp', s.vrrpThreadLagMs)]);

  x.family('haldir_events_total', 'counter', 'Events published on the event stream, by type.', m.events.samples());
  x.family('haldir_config_reloads_total', 'counter', 'Configuration reloads by result (applied, refused).', m.reloads.samples());
  x.family('haldir_api_actions_total', 'counter', 'Operator actions through the API, by action.', m.actions.samples());

  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  x.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, mem.rss]]);
  x.family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  x.family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', [[{}, Math.round(performance.timeOrigin) / 1000]]);
  const fds = openFds();
  x.family('process_open_fds', 'gauge', 'Number of open file descriptors.', fds !== undefined ? [[{}, fds]] : []);
  return x.text();
}
