// `haldir status | drain | undrain | weight | failover | events`: the operator's side
// of the daemon's API (src/api), over its unix socket (--socket) or TCP (--api URL
// with --token-file). Tables for people, --json for tools. Exit codes: 0 done, 1 the
// daemon refused or could not be reached (the message says why), 2 usage.
import { ApiClientError, call, follow, type Endpoint } from '../api/client.js';
import { readClientToken, TokenFileError } from '../api/auth.js';
import { askPeers, clusterNodes, PeerError } from '../api/peers.js';
import { DEFAULT_SOCKET } from '../api/server.js';
import type { ActionResult, ApiEvent, ClusterNodeView, ClusterView, NodeStatus, RealServerView } from '../api/types.js';
import { EXIT, UsageError, type IO } from './main.js';

export interface ApiCliOptions {
  socket?: string;
  api?: string;
  tokenFile?: string;
  json?: boolean;
}

export function endpointOf(o: ApiCliOptions): Endpoint {
  if (o.api !== undefined) {
    let u: URL;
    try {
      u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(o.api) ? o.api : `http://${o.api}`);
    } catch {
      throw new UsageError(`--api must be http://HOST:PORT, not "${o.api}"`);
    }
    if (u.protocol !== 'http:') throw new UsageError('--api: haldir serves plain HTTP on TCP (put TLS in front of it if the network needs it)');
    if (!o.tokenFile) throw new UsageError('--api needs --token-file: the API on TCP refuses requests without a bearer token');
    return { url: `http://${u.host}`, token: token(o.tokenFile) };
  }
  if (o.tokenFile) throw new UsageError('--token-file is for --api (the unix socket needs no token)');
  return { socket: o.socket ?? DEFAULT_SOCKET };
}

function token(file: string): string {
  try {
    return readClientToken(file);
  } catch (e) {
    if (e instanceof TokenFileError) throw new UsageError(e.message);
    throw e;
  }
}

function fail(io: IO, cmd: string, e: unknown): number {
  if (e instanceof ApiClientError) {
    io.err(`haldir ${cmd}: ${e.message}\n${e.hint ? `  ${e.hint}\n` : ''}`);
    return EXIT.invalid;
  }
  if (e instanceof UsageError) throw e;
  io.err(`haldir ${cmd}: ${(e as Error).message}\n`);
  return EXIT.invalid;
}

// ---------------------------------------------------------------- formatting

function table(rows: string[][], indent = '  '): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

const ms = (v: number | undefined): string => (v === undefined ? '-' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);

function rsCheck(r: RealServerView): string {
  if (!r.checks.length) return 'no checks';
  return r.checks.map((c) => `${c.type} ${c.up ? 'up' : 'down'}${c.lastReason && c.lastReason !== 'ok' ? `: ${c.lastReason}` : ''}`).join('; ');
}

/** The readable status of one node. */
export function formatStatus(s: NodeStatus): string {
  let out = `node ${s.node} — haldir ${s.version}, pid ${s.pid}, up ${duration(s.uptimeSeconds)}; event loop late p99 ${ms(s.eventLoopLagMs.p99Ms)}${s.vrrpThreadLagMs ? `, VRRP thread ${ms(s.vrrpThreadLagMs.p99Ms)}` : ''}\n`;
  if (s.dataplane) {
    const d = s.dataplane;
    out += `data plane ${d.kind}: ${d.reconciles} reconciles, ${d.failures} failed, ${d.changes} changes, ${d.driftRepairs} drift repairs${d.lastSyncMs !== undefined ? `, last ${ms(d.lastSyncMs)}` : ''}${d.lastError ? `; last error: ${d.lastError}` : ''}\n`;
  }
  if (s.vrrp.length) {
    out += '\nVRRP\n';
    out += table([
      ['INSTANCE', 'STATE', 'PRIO', 'BASE', 'VRID', 'IFACE', 'MASTER', 'LAST ADVERT', 'VIPS'],
      ...s.vrrp.map((i) => [i.name, i.state + (i.resigned ? ' (resigned)' : ''), String(i.effectivePriority), String(i.basePriority), String(i.vrid), i.interface, i.masterAddress ?? '-', i.lastAdvertAgeMs === undefined || i.state === 'MASTER' ? '-' : `${(i.lastAdvertAgeMs / 1000).toFixed(1)} s ago`, i.vips.join(' ')]),
    ]);
  }
  if (s.services.length) {
    out += '\nSERVICES\n';
    for (const v of s.services) {
      out += `  ${v.name}  ${v.scheduler} ${v.forwarding}  ${v.balancing ? 'balancing here' : 'not balancing here (BACKUP)'}\n`;
      out += table(
        [
          ['SERVER', 'STATE', 'WEIGHT', 'ACTIVE', 'CONNS', 'LATENCY', 'CHECK'],
          ...v.realServers.map((r) => [
            r.name,
            r.state + (r.weightOverride !== undefined ? ' (weight set)' : ''),
            String(r.weight),
            r.activeConnections === undefined ? '-' : String(r.activeConnections),
            r.connections === undefined ? '-' : String(r.connections),
            ms(r.checks[0]?.lastLatencyMs),
            rsCheck(r),
          ]),
        ],
        '    ',
      );
    }
  }
  if (s.overrides.length) {
    out += '\nOPERATOR OVERRIDES\n';
    out += table([['SERVER', 'SERVICE', 'DRAIN', 'WEIGHT', 'SINCE', 'BY'], ...s.overrides.map((o) => [o.server, o.service ?? 'all', o.drain ? 'yes' : 'no', o.weight === undefined ? '-' : String(o.weight), o.since, o.by])]);
  }
  return out;
}

/** Who is master of what, per node. */
export function formatCluster(c: { node?: string; nodes: ClusterNodeView[] }): string {
  const rows: string[][] = [['NODE', 'VRRP', 'PRIO', 'MASTER SEEN', 'SERVERS UP', 'BALANCING', 'API']];
  const masters = new Map<string, string[]>();
  for (const n of c.nodes) {
    if (!n.ok || !n.status) {
      rows.push([n.name, `unreachable: ${n.error ?? '?'}`, '', '', '', '', n.api]);
      continue;
    }
    const s = n.status;
    for (const i of s.vrrp) if (i.state === 'MASTER') masters.set(i.name, [...(masters.get(i.name) ?? []), n.name]);
    const rs = s.services.flatMap((v) => v.realServers);
    rows.push([
      n.name,
      s.vrrp.map((i) => `${i.name} ${i.state}${i.resigned ? ' (resigned)' : ''}`).join(', ') || '-',
      s.vrrp.map((i) => String(i.effectivePriority)).join(',') || '-',
      s.vrrp.map((i) => i.masterAddress ?? '-').join(',') || '-',
      rs.length ? `${rs.filter((r) => r.healthy).length}/${rs.length}` : '-',
      `${s.services.filter((v) => v.balancing).length}/${s.services.length}`,
      n.api,
    ]);
  }
  let out = `cluster${c.node ? ` (as seen from ${c.node})` : ''}\n` + table(rows);
  for (const [inst, who] of masters) out += `${inst}: MASTER ${who.join(', ')}${who.length > 1 ? '  — more than one MASTER (split brain?)' : ''}\n`;
  return out;
}

// ---------------------------------------------------------------- commands

export async function statusCommand(o: ApiCliOptions & { cluster?: string | boolean; apiPort?: string }, io: IO): Promise<number> {
  try {
    if (typeof o.cluster === 'string') {
      // The cluster file's nodes, each asked at ADDRESS:PORT over TCP.
      const port = Number(o.apiPort ?? 9440);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--api-port must be a port number, not "${o.apiPort}"`);
      if (!o.tokenFile) throw new UsageError('--cluster FILE asks every node over TCP: give --token-file');
      let nodes;
      try {
        nodes = clusterNodes(o.cluster);
      } catch (e) {
        if (e instanceof PeerError) throw new UsageError(e.message);
        throw e;
      }
      const t = token(o.tokenFile);
      const views = await askPeers(nodes.map((n) => ({ name: n.name, endpoint: { url: `http://${n.address.includes(':') ? `[${n.address}]` : n.address}:${port}`, token: t } })));
      io.out(o.json ? JSON.stringify({ nodes: views }, null, 1) + '\n' : formatCluster({ nodes: views }));
      return views.every((v) => v.ok) ? EXIT.ok : EXIT.invalid;
    }
    const ep = endpointOf(o);
    if (o.cluster) {
      const c = await call<ClusterView>(ep, 'GET', '/api/v1/cluster');
      io.out(o.json ? JSON.stringify(c, null, 1) + '\n' : formatCluster(c));
      return EXIT.ok;
    }
    const s = await call<NodeStatus>(ep, 'GET', '/api/v1/status');
    io.out(o.json ? JSON.stringify(s, null, 1) + '\n' : formatStatus(s));
    return EXIT.ok;
  } catch (e) {
    return fail(io, 'status', e);
  }
}

/** `haldir status --keepalived data|check-data|stats|json`: keepalived's dumps, from the API. */
export async function keepalivedDumpCommand(kind: string, o: ApiCliOptions, io: IO): Promise<number> {
  if (!['data', 'check-data', 'stats', 'json'].includes(kind)) throw new UsageError(`--keepalived must be data, check-data, stats or json, not "${kind}"`);
  try {
    const v = await call<unknown>(endpointOf(o), 'GET', `/api/v1/keepalived/${kind}`);
    io.out(typeof v === 'string' ? v : JSON.stringify(v, null, 1) + '\n');
    return EXIT.ok;
  } catch (e) {
    return fail(io, 'status', e);
  }
}

async function act(cmd: string, path: string, body: Record<string, unknown>, o: ApiCliOptions, io: IO): Promise<number> {
  try {
    const r = await call<ActionResult>(endpointOf(o), 'POST', path, body);
    if (o.json) io.out(JSON.stringify(r, null, 1) + '\n');
    else io.out(`${r.message}\n${r.applied.map((a) => `  ${a}\n`).join('')}`);
    return EXIT.ok;
  } catch (e) {
    return fail(io, cmd, e);
  }
}

export function drainCommand(server: string, undrain: boolean, o: ApiCliOptions & { service?: string }, io: IO): Promise<number> {
  return act(undrain ? 'undrain' : 'drain', undrain ? '/api/v1/undrain' : '/api/v1/drain', { server, ...(o.service ? { service: o.service } : {}) }, o, io);
}

export function weightCommand(server: string, weight: string | undefined, o: ApiCliOptions & { service?: string; reset?: boolean }, io: IO): Promise<number> {
  if (o.reset && weight !== undefined) throw new UsageError('give a weight or --reset, not both');
  if (!o.reset && weight === undefined) throw new UsageError('give the weight (an integer), or --reset for the configured weight');
  let w: number | null = null;
  if (!o.reset) {
    if (!/^\d+$/.test(weight!)) throw new UsageError(`the weight must be a whole number ≥ 0, not "${weight}"`);
    w = Number(weight);
  }
  return act('weight', '/api/v1/weight', { server, weight: w, ...(o.service ? { service: o.service } : {}) }, o, io);
}

export function failoverCommand(o: ApiCliOptions & { instance?: string[]; resume?: boolean }, io: IO): Promise<number> {
  const body = o.instance?.length ? { instances: o.instance } : {};
  return act(o.resume ? 'failover --resume' : 'failover', o.resume ? '/api/v1/resume' : '/api/v1/failover', body, o, io);
}

export function formatEvent(e: ApiEvent): string {
  const t = new Date(e.time);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const clock = `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}.${p(t.getMilliseconds(), 3)}`;
  return `${clock}  ${e.type.padEnd(10)}  ${e.message}${e.by ? `  [by ${e.by}]` : ''}\n`;
}

/** Follows the event stream until Ctrl-C (or --count events); reconnects when the daemon restarts. */
export async function eventsCommand(o: ApiCliOptions & { backlog?: string; count?: string }, io: IO, signal?: AbortSignal): Promise<number> {
  const backlog = o.backlog === undefined ? 10 : Number(o.backlog);
  if (!Number.isInteger(backlog) || backlog < 0 || backlog > 1000) throw new UsageError(`--backlog must be 0–1000, not "${o.backlog}"`);
  const count = o.count === undefined ? Infinity : Number(o.count);
  if (o.count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageError(`--count must be a positive whole number, not "${o.count}"`);
  const ep = endpointOf(o);
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  signal?.addEventListener('abort', stop);
  process.once('SIGINT', stop);
  let seen = 0;
  let lastId: string | undefined;
  let first = true;
  try {
    while (!ac.signal.aborted) {
      try {
        await follow(
          ep,
          `/api/v1/events?backlog=${first ? backlog : 1000}`,
          (data, id) => {
            let e: ApiEvent;
            try {
              e = JSON.parse(data) as ApiEvent;
            } catch {
              return;
            }
            lastId = id;
            io.out(o.json ? JSON.stringify(e) + '\n' : formatEvent(e));
            if (++seen >= count) ac.abort();
          },
          ac.signal,
          first ? undefined : lastId,
        );
      } catch (e) {
        if (first) return fail(io, 'events', e);
      }
      first = false;
      if (ac.signal.aborted) break;
      io.err('haldir events: the stream ended; reconnecting in 1 s\n');
      await new Promise((r) => setTimeout(r, 1000));
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    signal?.removeEventListener('abort', stop);
  }
}
