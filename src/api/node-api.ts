// The API's side of `haldir run`: what the daemon hands it (the VRRP thread, health,
// the director and data plane, reload) and what it offers (the HTTP server, metrics,
// the event stream, operator actions, keepalived dumps). run.ts creates it before the
// parts start, so it sees every transition, and feeds it through a few hooks.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../daemon/log.js';
import { LagMonitor, type LagStats } from '../daemon/lag.js';
import type { DirectorLoop } from '../daemon/director.js';
import type { Dataplane, ReconcileReport, ServiceStats } from '../dataplane/types.js';
import type { HealthEngine } from '../health/engine.js';
import type { RunCheck } from '../health/types.js';
import type { NodeModel } from '../model/types.js';
import type { FromWorker, ToWorker } from '../vrrp/worker.js';
import type { InstanceStatus } from '../vrrp/runtime.js';
import { readClientToken, readTokens, type Token } from './auth.js';
import { EventBus, eventOfFifoLine, type NewEvent } from './events.js';
import { keepalivedCheckData, keepalivedData, keepalivedJson, keepalivedStats, writeDump } from './keepalived.js';
import { ApiMetrics, renderMetrics } from './metrics.js';
import { matchServers, Overrides, parseTarget, parseWeight, TargetError, unknownService, type Match } from './overrides.js';
import { askPeers, parsePeer, peersFromCluster, type Peer } from './peers.js';
import { ApiError, ApiInUseError, ApiServer, callerText, DEFAULT_SOCKET, parseListen, type ApiHandlers, type Caller } from './server.js';
import type { ActionResult, ClusterView, NodeStatus } from './types.js';
import { buildStatus } from './view.js';

export const VERSION: string = (() => {
  try {
    const p = new URL(import.meta.url.includes('/dist/') ? '../../../package.json' : '../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

export interface ApiOptions {
  /** Unix socket path (default /run/haldir/haldir.sock); 'none' for no socket. */
  apiSocket?: string;
  /** TCP `ADDR:PORT`; needs tokenFile. */
  apiListen?: string;
  apiTokenFile?: string;
  dashboard?: boolean;
  /** `NAME=HOST:PORT`, repeatable. */
  peerApi?: string[];
}

export class ApiUsageError extends Error {}

/** Checks the API options before anything starts: bad ones are usage errors (exit 2). */
export function checkApiOptions(o: ApiOptions): { tcp?: { host: string; port: number }; peers: Peer[] } {
  let tcp;
  try {
    if (o.apiListen !== undefined) tcp = parseListen(o.apiListen);
    if (tcp && !o.apiTokenFile) throw new Error('--api-listen needs --api-token-file: the API on TCP is refused without a bearer token');
    if (o.apiTokenFile && !tcp && !o.peerApi?.length) throw new Error('--api-token-file is for --api-listen (or --peer-api); give --api-listen ADDR:PORT too');
    const token = o.apiTokenFile ? readClientTokenSafe(o.apiTokenFile) : undefined;
    const peers = (o.peerApi ?? []).map((p) => parsePeer(p, token));
    return { ...(tcp ? { tcp } : {}), peers };
  } catch (e) {
    throw new ApiUsageError((e as Error).message);
  }
}

function readClientTokenSafe(file: string): string | undefined {
  try {
    return readClientToken(file);
  } catch {
    return undefined; // reported when the tokens are read for listening
  }
}

export interface NodeApiDeps {
  log: Logger;
  model(): NodeModel;
  /** The config files: a cluster file gives the default peers. */
  files: string[];
  health(): HealthEngine | undefined;
  director(): DirectorLoop | undefined;
  dataplane(): Dataplane | undefined;
  /** Reloads as SIGHUP does (and reports it with reloaded()); true when the new configuration was applied. */
  reload(by: string): boolean;
}

interface Pending {
  resolve: (v: { status: InstanceStatus[]; lag?: LagStats } | undefined) => void;
  done: boolean;
}

export class NodeApi implements ApiHandlers {
  readonly events = new EventBus();
  readonly overrides = new Overrides();
  readonly metrics = new ApiMetrics();
  private readonly lag = new LagMonitor();
  private lagWindow: LagStats | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date();
  private worker: Worker | undefined;
  private readonly pending: Pending[] = [];
  private readonly resigns = new Map<number, (r: Extract<FromWorker, { type: 'resigned' }>['result']) => void>();
  private nextId = 1;
  private readonly seen = new Map<string, { state?: string; lastTransition?: string; releaseMaster: number }>();
  private server: ApiServer | undefined;
  private peers: Peer[] = [];
  private ownUrl: string | undefined;
  private dp = { driftRepairs: 0, lastSyncMs: undefined as number | undefined };
  private dpStatsCache: { at: number; v: Promise<ServiceStats[] | undefined> } | undefined;

  constructor(private readonly d: NodeApiDeps) {
    this.lag.start();
    this.lagTimer = setInterval(() => (this.lagWindow = this.lag.stats(true)), 10_000);
    this.lagTimer.unref();
    this.events.subscribe((e) => this.metrics.events.inc({ type: e.type }));
  }

  info(): { node: string; version: string } {
    return { node: this.d.model().node, version: VERSION };
  }

  // ---------------------------------------------------------------- hooks from run.ts

  attachWorker(w: Worker): void {
    this.worker = w;
  }

  /**
   * A message from the VRRP thread. True when it answered the API (a status reply the
   * API asked for, a resign result): run.ts then does nothing else with it.
   */
  onWorker(m: FromWorker): boolean {
    if (m.type === 'status') {
      const p = this.pending.shift();
      if (!p) return false;
      if (!p.done) {
        p.done = true;
        const st = m.status as { status: InstanceStatus[]; vrrpThreadLagMs?: LagStats };
        p.resolve({ status: st.status, ...(st.vrrpThreadLagMs ? { lag: st.vrrpThreadLagMs } : {}) });
      }
      return true;
    }
    if (m.type === 'resigned') {
      this.resigns.get(m.id)?.(m.result);
      this.resigns.delete(m.id);
      return true;
    }
    if (m.type === 'state') {
      const s = this.seen.get(m.instance) ?? { releaseMaster: 0 };
      const from = s.state;
      if (from === 'MASTER' && m.state !== 'MASTER') s.releaseMaster++;
      s.state = m.state;
      s.lastTransition = new Date().toISOString();
      this.seen.set(m.instance, s);
      this.metrics.transitions.inc({ instance: m.instance, to: m.state });
      this.events.emit({
        type: 'vrrp',
        instance: m.instance,
        ...(from ? { from } : {}),
        to: m.state,
        ...(m.reason ? { reason: m.reason } : {}),
        message: `${m.instance}: ${from ?? 'INIT'} -> ${m.state}${m.reason ? ` (${m.reason})` : ''}`,
      });
    }
    return false;
  }

  /** Health's notify lines (rs up/down, quorum). */
  onFifo(line: string): void {
    const e = eventOfFifoLine(line);
    if (e) this.events.emit(e);
  }

  onReconcile(r: ReconcileReport, full: boolean): void {
    this.metrics.syncDuration.observe({ mode: full ? 'full' : 'cached' }, r.ms / 1000);
    this.dp.lastSyncMs = Math.round(r.ms * 1000) / 1000;
    const drift = r.changes.filter((c) => c.drift);
    if (drift.length) {
      this.dp.driftRepairs += drift.length;
      this.events.emit({ type: 'drift', changes: drift.slice(0, 20).map((c) => `${c.op} ${c.object}${c.detail ? ` (${c.detail})` : ''}`), message: `data plane drift repaired: ${drift.length} change(s)` });
    }
    for (const e of r.errors ?? []) this.events.emit({ type: 'dataplane', reason: e, message: `data plane: not programmed: ${e}` });
  }

  /** A reload ran (SIGHUP or the API). */
  reloaded(applied: boolean, by: string): void {
    this.metrics.reloads.inc({ result: applied ? 'applied' : 'refused' });
    this.events.emit({ type: 'reload', result: applied ? 'applied' : 'refused', by, message: `reload ${applied ? 'applied' : 'refused (the running configuration stays)'} (${by})` });
  }

  /** Times every health check attempt (haldir_check_duration_seconds). */
  timeChecks(run: RunCheck): RunCheck {
    return async (c, t, o) => {
      const r = await run(c, t, o);
      this.metrics.checkDuration.observe({ check: c.type, result: r.ok ? 'ok' : 'fail' }, r.latencyMs / 1000);
      return r;
    };
  }

  /** The director applies the operator overrides from now on. */
  attachDirector(d: DirectorLoop): void {
    d.setOverrides((t) => this.overrides.apply(t));
  }

  // ---------------------------------------------------------------- serving

  /** Starts the listeners; a socket already in use is logged, and haldir runs on without it. */
  async start(o: ApiOptions): Promise<void> {
    const { tcp, peers } = checkApiOptions(o);
    this.peers = peers;
    let tokens: Token[] | undefined;
    if (o.apiTokenFile && tcp) tokens = readTokens(o.apiTokenFile, (m) => this.d.log.warn(`API: ${m}`));
    if (!peers.length && tcp && this.d.files.length === 1 && /\.ya?ml$/i.test(this.d.files[0]!)) {
      try {
        const token = o.apiTokenFile ? readClientToken(o.apiTokenFile) : undefined;
        this.peers = peersFromCluster(this.d.files[0]!, tcp.port, token);
      } catch (e) {
        this.d.log.warn('API: no peers from the cluster file', { error: (e as Error).message });
      }
    }
    if (tcp) this.ownUrl = `http://${tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host}:${tcp.port}`;
    const socket = o.apiSocket === 'none' ? undefined : (o.apiSocket ?? DEFAULT_SOCKET);
    const srv = new ApiServer(this, (m) => this.d.log.error(m));
    this.server = srv;
    if (socket) {
      try {
        await srv.listen({ socket, dashboard: o.dashboard === true });
      } catch (e) {
        if (!(e instanceof ApiInUseError) && !/EACCES|EPERM|EADDRINUSE|ENOENT/.test((e as Error).message)) throw e;
        this.d.log.error('API not started on the unix socket: haldir runs on without it', { error: (e as Error).message });
      }
    }
    if (tcp) {
      try {
        await srv.listen({ tcp, tokens: tokens!, dashboard: o.dashboard === true });
      } catch (e) {
        this.d.log.error('API not started on TCP: haldir runs on without it', { address: o.apiListen, error: (e as Error).message });
      }
    }
    if (srv.endpoints.length) {
      this.d.log.info('API listening', {
        on: srv.endpoints.join(','),
        ...(o.dashboard ? { dashboard: '/dashboard/' } : {}),
        ...(this.peers.length ? { peers: this.peers.map((p) => p.name).join(',') } : {}),
      });
    }
  }

  async close(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lag.stop();
    for (const p of this.pending.splice(0)) if (!p.done) p.resolve(undefined);
    await this.server?.close();
  }

  // ---------------------------------------------------------------- reading

  private vrrpStatus(): Promise<{ status: InstanceStatus[]; lag?: LagStats } | undefined> {
    const w = this.worker;
    if (!w || this.d.model().vrrpInstances.length === 0) return Promise.resolve({ status: [] });
    return new Promise((resolve) => {
      const p: Pending = { resolve, done: false };
      this.pending.push(p);
      w.postMessage({ type: 'status' } satisfies ToWorker);
      // A thread that does not answer (stuck, gone): answer without VRRP; its late reply is dropped.
      setTimeout(() => {
        if (p.done) return;
        p.done = true;
        resolve(undefined);
      }, 2000).unref();
    });
  }

  /** The data plane's counters, at most once a second (nft listings are not free). */
  private dpStats(): Promise<ServiceStats[] | undefined> {
    const dp = this.d.dataplane();
    if (!dp) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.dpStatsCache && now - this.dpStatsCache.at < 1000) return this.dpStatsCache.v;
    const v = dp.stats().catch(() => undefined);
    this.dpStatsCache = { at: now, v };
    return v;
  }

  async status(): Promise<NodeStatus> {
    const [v, dpStats] = await Promise.all([this.vrrpStatus(), this.dpStats()]);
    const model = this.d.model();
    const health = this.d.health();
    const director = this.d.director();
    const dp = this.d.dataplane();
    return buildStatus({
      node: model.node,
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      now: new Date(),
      model,
      vrrp: v?.status ?? [],
      vrrpSeen: this.seen,
      checks: health?.status() ?? [],
      ...(health ? { table: health.table() } : {}),
      overrides: this.overrides,
      ...(dpStats ? { dpStats } : {}),
      ...(dp && director
        ? {
            dataplane: {
              kind: dp.kind,
              reconciles: director.counts.ok,
              failures: director.counts.failed,
              changes: director.counts.changes,
              driftRepairs: this.dp.driftRepairs,
              ...(director.lastError ? { lastError: director.lastError } : {}),
              ...(this.dp.lastSyncMs !== undefined ? { lastSyncMs: this.dp.lastSyncMs } : {}),
            },
          }
        : {}),
      lag: this.lagWindow ?? this.lag.stats(),
      ...(v?.lag ? { vrrpLag: v.lag } : {}),
    });
  }

  async metricsText(): Promise<string> {
    return renderMetrics(await this.status(), this.metrics);
  }

  /**
   * This node and its peers. A peer gets 800 ms: one that is down (its link, its host)
   * must not hold up the view of the others — the dashboard polls every second.
   */
  async cluster(): Promise<ClusterView> {
    const node = this.d.model().node;
    const isSelf = (p: Peer): boolean => p.endpoint.url === this.ownUrl || p.name === node;
    // Named as the peer list names this node, so every node of the view is named alike.
    const self = this.peers.find(isSelf)?.name ?? node;
    const [local, others] = await Promise.all([this.status(), askPeers(this.peers.filter((p) => !isSelf(p)), 800)]);
    const mine = { name: self, api: 'local', ok: true, status: local };
    return { node: self, nodes: [mine, ...others].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })) };
  }

  async keepalived(kind: 'data' | 'check-data' | 'stats' | 'json'): Promise<string | unknown[]> {
    const s = await this.status();
    const m = this.d.model();
    if (kind === 'stats') return keepalivedStats(s);
    if (kind === 'json') return keepalivedJson(m, s);
    if (kind === 'check-data') return keepalivedCheckData(m, s);
    return keepalivedData(m, s);
  }

  /** SIGUSR1: keepalived.data (VRRP) and keepalived_check.data (checkers), as keepalived's two processes write them. */
  async dumpData(): Promise<void> {
    const s = await this.status();
    const m = this.d.model();
    try {
      const files = [...(m.vrrpInstances.length ? [writeDump('keepalived.data', keepalivedData(m, s))] : []), ...(m.virtualServers.length ? [writeDump('keepalived_check.data', keepalivedCheckData(m, s))] : [])];
      this.d.log.info(`Printing data for process(${process.pid}) on signal`, { files: files.join(',') });
    } catch (e) {
      this.d.log.error('cannot write the keepalived data dump', { error: (e as Error).message });
    }
  }

  /** SIGRTMIN+2 (keepalived's SIGJSON, handled through the addon: src/daemon/rt-signal.ts): keepalived.json. */
  async dumpJson(): Promise<void> {
    const s = await this.status();
    try {
      const f = writeDump('keepalived.json', JSON.stringify(keepalivedJson(this.d.model(), s)));
      this.d.log.info(`Printing json data for process(${process.pid}) on signal`, { file: f });
    } catch (e) {
      this.d.log.error('cannot write the keepalived JSON dump', { error: (e as Error).message });
    }
  }

  /** SIGUSR2: keepalived.stats. */
  async dumpStats(): Promise<void> {
    const s = await this.status();
    if (!s.vrrp.length) return;
    try {
      const f = writeDump('keepalived.stats', keepalivedStats(s));
      this.d.log.info(`Printing VRRP stats for process(${process.pid}) on signal`, { file: f });
    } catch (e) {
      this.d.log.error('cannot write the keepalived stats dump', { error: (e as Error).message });
    }
  }

  // ---------------------------------------------------------------- actions

  private async resolve(body: Record<string, unknown>): Promise<{ target: string; matches: Match[]; scope?: string }> {
    const server = body.server;
    if (typeof server !== 'string') throw new ApiError(400, 'give the real server as "server": "HOST:PORT" (e.g. "lb3:80")');
    const service = body.service;
    if (service !== undefined && typeof service !== 'string') throw new ApiError(400, '"service" must be a string such as "192.168.2.100:80"');
    let t;
    try {
      t = parseTarget(server);
    } catch (e) {
      throw new ApiError(400, (e as Error).message);
    }
    const model = this.d.model();
    if (service !== undefined) {
      const u = unknownService(model, service);
      if (u) throw new ApiError(404, u);
    }
    const addresses = await this.addressesOf(t.host);
    const matches = matchServers(model, addresses, t.port, service);
    if (!matches.length) {
      const known = [...new Set(model.virtualServers.flatMap((vs) => vs.realServers.map((r) => (r.port !== undefined ? `${r.address}:${r.port}` : r.address))))];
      throw new ApiError(404, `no real server ${server}${isIP(t.host) ? '' : ` (${t.host} = ${addresses.join(', ') || 'unresolved'})`}${service ? ` in ${service}` : ''}`, `real servers: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}`);
    }
    return { target: server, matches, ...(service !== undefined ? { scope: service } : {}) };
  }

  /** A host as typed: an address; a peer's or the cluster file's node name; else the resolver (/etc/hosts, DNS). */
  private async addressesOf(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    const peer = this.peers.find((p) => p.name === host);
    const m = peer?.endpoint.url ? /^http:\/\/\[?([^\]]+?)\]?:\d+$/.exec(peer.endpoint.url) : null;
    if (m && isIP(m[1]!)) return [m[1]!];
    try {
      return (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return [];
    }
  }

  private act(action: string, by: Caller, fields: Omit<NewEvent, 'type' | 'by'> & { type: NewEvent['type'] }, applied: string[]): ActionResult {
    const who = callerText(by);
    this.metrics.actions.inc({ action });
    this.d.log.info(`API: ${fields.message}`, { action, by: who, applied: applied.join('; ') });
    this.events.emit({ ...fields, by: who });
    return { ok: true, action, applied, message: fields.message };
  }

  private kick(): void {
    this.d.director()?.kick('cached');
  }

  private needBalancing(): void {
    if (!this.d.director()) throw new ApiError(409, 'this node balances nothing (no virtual_server, or --vrrp-only)');
  }

  async drain(body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    this.needBalancing();
    const r = await this.resolve(body);
    this.overrides.setDrain(r.matches, r.scope, true, callerText(by), new Date());
    this.kick();
    return this.act('drain', by, { type: 'drain', server: r.target, ...(r.scope ? { service: r.scope } : {}), weight: 0, message: `drain ${r.target}: weight 0 until undrain (${r.matches.length} real server(s))` }, r.matches.map((m) => m.name));
  }

  async undrain(body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    this.needBalancing();
    const r = await this.resolve(body);
    this.overrides.setDrain(r.matches, r.scope, false, callerText(by), new Date());
    this.kick();
    return this.act('undrain', by, { type: 'undrain', server: r.target, ...(r.scope ? { service: r.scope } : {}), message: `undrain ${r.target}: back to its weight (${r.matches.length} real server(s))` }, r.matches.map((m) => m.name));
  }

  async weight(body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    this.needBalancing();
    if (!('weight' in body)) throw new ApiError(400, 'give "weight": an integer, or null for the configured weight');
    let w: number | undefined;
    try {
      w = body.weight === null ? undefined : parseWeight(body.weight);
    } catch (e) {
      throw new ApiError(400, (e as TargetError).message);
    }
    const r = await this.resolve(body);
    this.overrides.setWeight(r.matches, r.scope, w, callerText(by), new Date());
    this.kick();
    return this.act(
      'weight',
      by,
      { type: 'weight', server: r.target, ...(r.scope ? { service: r.scope } : {}), weight: w ?? null, message: `weight ${r.target}: ${w === undefined ? 'back to the configured weight' : w} (${r.matches.length} real server(s))` },
      r.matches.map((m) => m.name),
    );
  }

  private instancesOf(body: Record<string, unknown>): string[] | undefined {
    const i = body.instances ?? (typeof body.instance === 'string' ? [body.instance] : undefined);
    if (i === undefined) return undefined;
    if (!Array.isArray(i) || !i.every((x) => typeof x === 'string')) throw new ApiError(400, '"instances" must be a list of VRRP instance names');
    const known = this.d.model().vrrpInstances.map((x) => x.name);
    const bad = i.filter((x) => !known.includes(x));
    if (bad.length) throw new ApiError(404, `no VRRP instance ${bad.join(', ')}`, `instances here: ${known.join(', ') || 'none'}`);
    return i;
  }

  private askWorker(type: 'resign' | 'resume', instances: string[] | undefined): Promise<Extract<FromWorker, { type: 'resigned' }>['result']> {
    const w = this.worker;
    if (!w) throw new ApiError(409, 'this node runs no VRRP instance');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.resigns.delete(id);
        reject(new ApiError(503, 'the VRRP thread did not answer within 2 s'));
      }, 2000);
      this.resigns.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      w.postMessage({ type, id, ...(instances ? { instances } : {}) } satisfies ToWorker);
    });
  }

  async failover(body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    const instances = this.instancesOf(body);
    const v = await this.vrrpStatus();
    const masters = (v?.status ?? []).filter((s) => s.state === 'MASTER' && (!instances || instances.includes(s.name)));
    if (!masters.length) {
      const m = (v?.status ?? []).map((s) => `${s.name} ${s.state}${s.masterAddress && s.state !== 'MASTER' ? ` (master ${s.masterAddress})` : ''}`);
      throw new ApiError(409, `this node is MASTER of no${instances ? ' such' : ''} instance: ${m.join(', ') || 'no VRRP instance'}`, 'run haldir failover on the master');
    }
    const r = await this.askWorker('resign', instances ?? masters.map((s) => s.name));
    const moved = r.filter((x) => x.before === 'MASTER' && x.after !== 'MASTER');
    const names = moved.map((x) => x.instance);
    return this.act('failover', by, { type: 'failover', ...(names.length === 1 ? { instance: names[0]! } : {}), message: `planned failover: ${names.join(', ') || 'nothing'} resigned (priority-0 advert; a BACKUP here until resume)` }, names);
  }

  async resume(body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    const instances = this.instancesOf(body);
    const r = await this.askWorker('resume', instances);
    const names = r.map((x) => x.instance);
    return this.act('resume', by, { type: 'resume', message: `resume: ${names.join(', ') || 'nothing'} preempting again` }, names);
  }

  async reload(_body: Record<string, unknown>, by: Caller): Promise<ActionResult> {
    const who = callerText(by);
    this.d.log.info('API: reload', { by: who });
    const ok = this.d.reload(`API ${who}`);
    this.metrics.actions.inc({ action: 'reload' });
    if (!ok) throw new ApiError(422, 'reload refused: the new configuration has errors or cannot be programmed; the running configuration stays', "the daemon's log names file:line; haldir validate FILE shows them too");
    return { ok: true, action: 'reload', applied: [this.d.model().node], message: 'configuration reloaded' };
  }
}
