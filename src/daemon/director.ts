// The director's data-plane loop: health's table, filtered by VRRP state, reconciled
// into the data plane. A service whose virtual address belongs to a VRRP instance is
// balanced only while that instance is MASTER — a backup that balanced too would
// forward again what the master forwarded to it (the LVS-DR "directors as real
// servers" ping-pong) — and a service whose address no instance carries is always
// balanced. Reconciles are serialized and coalesced; a periodic full one re-reads the
// kernel and repairs drift.
import { canonicalIp } from '../vrrp/addr.js';
import type { Logger } from './log.js';
import type { NodeModel } from '../model/types.js';
import type { Dataplane, DesiredService, ReconcileReport } from '../dataplane/types.js';

/** VIP (canonical) → the instance that carries it. */
export function vipOwners(model: NodeModel): Map<string, string> {
  const m = new Map<string, string>();
  for (const i of model.vrrpInstances) for (const v of [...i.vips, ...i.excludedVips]) m.set(canonicalIp(v.address, v.family) ?? v.address, i.name);
  return m;
}

/**
 * The services this node balances now: unowned ones, and those of its MASTER instances;
 * without destinations at a `suspect` address (a director that just fell silent).
 */
export function activeTable(table: readonly DesiredService[], owners: Map<string, string>, states: ReadonlyMap<string, string>, suspect: ReadonlySet<string> = new Set()): DesiredService[] {
  const out: DesiredService[] = [];
  for (const ds of table) {
    const a = ds.vs.address;
    if (a.kind === 'ip') {
      const owner = owners.get(canonicalIp(a.address, a.family) ?? a.address);
      if (owner !== undefined && states.get(owner) !== 'MASTER') continue;
    }
    if (suspect.size && ds.dests.some((d) => suspect.has(canonicalIp(d.address, d.family) ?? d.address))) {
      out.push({ ...ds, dests: ds.dests.filter((d) => !suspect.has(canonicalIp(d.address, d.family) ?? d.address)) });
    } else out.push(ds);
  }
  return out;
}

/**
 * How long a director that fell silent stays out of the real servers: it is very likely
 * dead (its adverts stopped), and its own health checks would take up to
 * delay_loop + (retry + 1) × connect_timeout to say so; the checks decide after this.
 */
export const SUSPECT_MS = 15_000;

export interface DirectorOptions {
  dataplane: Dataplane;
  log: Logger;
  /** Full reconcile (kernel read, drift repair) every this many ms; 0 = never. */
  fullEveryMs?: number;
  /**
   * `master` (default): only the services of MASTER instances. `all`: every service on
   * every node (active-active — traffic reaches each node, e.g. by ECMP or a VIP per node);
   * the DR ping-pong is then prevented in the data plane: frames from a real server's MAC
   * are served locally, never balanced again (nftables/render.ts ingressChain).
   */
  balance?: 'master' | 'all';
  /** Each reconcile's report (the API's metrics and drift events). */
  onReconcile?: (r: ReconcileReport, full: boolean) => void;
}

export class DirectorLoop {
  private table: DesiredService[] = [];
  /** Operator overrides (drain, weight; src/api/overrides.ts) applied on top of health's table. */
  private overrides: (t: DesiredService[]) => DesiredService[] = (t) => t;
  /**
   * No reconcile before health's first table: an empty table would remove every service
   * a previous run left in the kernel — the gap a restart after a crash must not have.
   */
  private haveTable = false;
  private owners: Map<string, string>;
  private readonly states = new Map<string, string>();
  private readonly suspect = new Set<string>();
  private running = false;
  private pending: 'cached' | 'full' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Reconciles done and failed (status). */
  readonly counts = { ok: 0, failed: 0, changes: 0 };
  lastError: string | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    model: NodeModel,
    private readonly o: DirectorOptions,
  ) {
    this.owners = this.ownersOf(model);
    if (o.fullEveryMs) this.timer = setInterval(() => this.kick('full'), o.fullEveryMs);
  }

  /** Active-active: no service is tied to a VRRP state. */
  private ownersOf(model: NodeModel): Map<string, string> {
    return this.o.balance === 'all' ? new Map() : vipOwners(model);
  }

  setModel(model: NodeModel): void {
    this.owners = this.ownersOf(model);
    this.kick('cached');
  }

  setTable(table: DesiredService[]): void {
    this.table = table;
    this.haveTable = true;
    this.kick('cached');
  }

  setOverrides(apply: (t: DesiredService[]) => DesiredService[]): void {
    this.overrides = apply;
    this.kick('cached');
  }

  setState(instance: string, state: string, formerMaster?: string): void {
    if (formerMaster) {
      // The master fell silent: a director that is also a real server is dead, not slow.
      const addr = canonicalIp(formerMaster, formerMaster.includes(':') ? 6 : 4) ?? formerMaster;
      this.suspect.add(addr);
      this.o.log.info('former master out of the real servers until its checks decide', { address: addr, forMs: SUSPECT_MS });
      setTimeout(() => {
        this.suspect.delete(addr);
        this.kick('cached');
      }, SUSPECT_MS).unref();
    }
    if (this.states.get(instance) === state && !formerMaster) return;
    this.states.set(instance, state);
    this.kick('cached');
  }

  /** Schedules a reconcile; requests while one runs coalesce into one more. */
  kick(kind: 'cached' | 'full'): void {
    if (this.closed) return;
    this.pending = this.pending === 'full' || kind === 'full' ? 'full' : 'cached';
    if (!this.running && this.haveTable) void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.pending && !this.closed) {
      const full = this.pending === 'full';
      this.pending = undefined;
      const desired = activeTable(this.overrides(this.table), this.owners, this.states, this.suspect);
      try {
        const r = await this.o.dataplane.reconcile(desired, { full });
        this.counts.ok++;
        this.counts.changes += r.changes.length;
        this.o.onReconcile?.(r, full);
        this.lastError = undefined;
        if (r.changes.length) this.o.log.info('data plane updated', { changes: r.changes.length, services: desired.length, ms: r.ms.toFixed(1), ...(r.note ? { note: r.note } : {}) });
        for (const c of r.changes.slice(0, 20)) this.o.log.info(`  ${c.op} ${c.object}`, c.detail ? { detail: c.detail } : {});
        for (const e of r.errors ?? []) this.o.log.error('data plane: not programmed', { reason: e });
      } catch (e) {
        this.counts.failed++;
        this.lastError = (e as Error).message;
        this.o.log.error('data plane reconcile failed; retrying with a full read in 5 s', { error: (e as Error).message });
        setTimeout(() => this.kick('full'), 5000).unref();
      }
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no reconcile runs or is pending. */
  idle(): Promise<void> {
    if (!this.running && (!this.pending || !this.haveTable)) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(opts: { flush: boolean }): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    await this.o.dataplane.close({ flush: opts.flush });
  }
}
