// Draining (keepalived issue 1228): a destination that leaves the desired table is
// not removed at once. It stays with weight 0 — no new connections — until the data
// plane reports none of its connections left, or the drain timeout passes; then it goes.
// Pure: the caller passes the time and the active-connection counts it read.
//
// Where the data plane cannot count connections (stateless DR) the timeout alone
// decides; with DR weight 0 already moves that server's flows, so a DR drain only
// delays the removal. NAT (conntrack keeps each flow's translation) and the userspace
// proxy keep existing connections on a weight-0 destination until they end.
import type { DesiredDest, DesiredService } from './types.js';

export interface DrainEntry {
  vsKey: string;
  dest: DesiredDest;
  since: number;
}

export interface DrainStep {
  /** Desired state with draining destinations added back at weight 0. */
  effective: DesiredService[];
  draining: DrainEntry[];
  /** Destinations whose drain ended now, and why. */
  finished: (DrainEntry & { reason: 'drained' | 'timeout' | 'returned' })[];
}

const id = (vsKey: string, destKey: string): string => `${vsKey} ${destKey}`;

export class Drainer {
  private readonly draining = new Map<string, DrainEntry>();
  /** The destinations programmed last time, per service key. */
  private last = new Map<string, Map<string, DesiredDest>>();

  constructor(readonly timeoutMs: number) {}

  /** What is programmed now (e.g. read from the kernel by a fresh process): the base for the next step. */
  seed(programmed: readonly DesiredService[]): void {
    this.last = new Map(programmed.map((ds) => [ds.vsKey, new Map(ds.dests.map((d) => [d.key, d]))]));
    for (const ds of programmed) this.services.set(ds.vsKey, ds);
  }

  /**
   * `active`: per service key, per destination key, connections still open; a missing
   * count means unknown (only the timeout can end that drain).
   */
  step(desired: readonly DesiredService[], now: number, active?: Map<string, Map<string, number>>): DrainStep {
    const finished: DrainStep['finished'] = [];
    const wanted = new Map(desired.map((ds) => [ds.vsKey, new Map(ds.dests.map((d) => [d.key, d]))]));
    // Destinations that were programmed and are no longer wanted start draining.
    for (const [vk, dests] of this.last) {
      const now_ = wanted.get(vk);
      for (const [dk, d] of dests) {
        if (now_?.has(dk) || this.draining.has(id(vk, dk))) continue;
        this.draining.set(id(vk, dk), { vsKey: vk, dest: d, since: now });
      }
    }
    for (const [k, e] of this.draining) {
      const n = active?.get(e.vsKey)?.get(e.dest.key);
      let reason: 'drained' | 'timeout' | 'returned' | undefined;
      if (wanted.get(e.vsKey)?.has(e.dest.key)) reason = 'returned';
      else if (n === 0) reason = 'drained';
      else if (now - e.since >= this.timeoutMs) reason = 'timeout';
      if (reason) {
        this.draining.delete(k);
        finished.push({ ...e, reason });
      }
    }
    const effective: DesiredService[] = desired.map((ds) => {
      const extra = [...this.draining.values()].filter((e) => e.vsKey === ds.vsKey).map((e) => ({ ...e.dest, weight: 0 }));
      return extra.length ? { ...ds, dests: [...ds.dests, ...extra] } : ds;
    });
    // A whole service removed: it stays (all weight 0) while any destination drains.
    const have = new Set(desired.map((d) => d.vsKey));
    for (const e of this.draining.values()) {
      if (have.has(e.vsKey)) continue;
      const prev = this.services.get(e.vsKey);
      if (!prev) continue;
      have.add(e.vsKey);
      effective.push({ ...prev, dests: [...this.draining.values()].filter((x) => x.vsKey === e.vsKey).map((x) => ({ ...x.dest, weight: 0 })) });
    }
    this.last = new Map(effective.map((ds) => [ds.vsKey, new Map(ds.dests.map((d) => [d.key, d]))]));
    for (const ds of effective) this.services.set(ds.vsKey, ds);
    for (const k of [...this.services.keys()]) if (!this.last.has(k)) this.services.delete(k);
    return { effective, draining: [...this.draining.values()], finished };
  }

  private readonly services = new Map<string, DesiredService>();
}
