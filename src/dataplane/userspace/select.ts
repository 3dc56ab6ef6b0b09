// Destination selection for the userspace proxy: the IPVS schedulers that make
// sense for a proxy that sees every connection (rr, wrr, lc, wlc, sh, mh).
// A scheduler is given the service's current destinations with `update` (after
// every change of the set or of a weight) and picks one per new connection or
// UDP session. Destinations with weight 0 never get new flows (draining); the
// proxy has no overload state, so sh-fallback/mh-fallback change nothing.
import type { VirtualServer } from '../../model/types.js';
import { parseIpv4, parseIpv6 } from '../../vrrp/addr.js';
import { flowSeed, gcd, jhash, maglevSize, maglevTable, pickIndex, shTable } from '../sched.js';

/** What a scheduler reads from a destination (the proxy's live destination object). */
export interface Candidate {
  readonly key: string;
  readonly weight: number;
  /** Connections (TCP) or sessions (UDP) in progress. */
  readonly active: number;
}

/** The client end of a new flow. */
export interface Flow {
  address: string;
  port: number;
}

export interface Scheduler<T extends Candidate> {
  readonly name: string;
  /** The destinations in list order; called again whenever the set or a weight changes. */
  update(dests: readonly T[]): void;
  /** The destination for a new flow, or undefined when none may take one. */
  pick(flow: Flow): T | undefined;
}

export const USERSPACE_SCHEDULERS: readonly string[] = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'];

export function isUserspaceScheduler(name: string): boolean {
  return USERSPACE_SCHEDULERS.includes(name);
}

/** Whether sh/mh hash the client's port too (sh-port/mh-port, alias flag-2). */
export function hashesPort(vs: VirtualServer): boolean {
  const f = vs.schedFlags;
  if (vs.scheduler === 'sh') return Boolean(f.flag2 || f.shPort);
  if (vs.scheduler === 'mh') return Boolean(f.flag2 || f.mhPort);
  return false;
}

/** Scheduler flags as ipvsadm names them for this scheduler. */
export function flagNames(vs: VirtualServer): string[] {
  const f = vs.schedFlags;
  const out: string[] = [];
  const s = vs.scheduler;
  if (s === 'sh' || s === 'mh') {
    if (f.flag1 || (s === 'sh' ? f.shFallback : f.mhFallback)) out.push(`${s}-fallback`);
    if (hashesPort(vs)) out.push(`${s}-port`);
  } else {
    if (f.flag1 || f.shFallback || f.mhFallback) out.push('flag-1');
    if (f.flag2 || f.shPort || f.mhPort) out.push('flag-2');
  }
  if (f.flag3) out.push('flag-3');
  return out;
}

/** The client address as bytes (a v4-mapped v6 address as its 4 v4 bytes), then the port when asked. */
function flowBytes(flow: Flow, withPort: boolean): Uint8Array {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(flow.address);
  const addr = (mapped ? parseIpv4(mapped[1]!) : flow.address.includes(':') ? parseIpv6(flow.address) : parseIpv4(flow.address)) ??
    new TextEncoder().encode(flow.address);
  if (!withPort) return addr;
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out[addr.length] = (flow.port >> 8) & 0xff;
  out[addr.length + 1] = flow.port & 0xff;
  return out;
}

/** The flow hash sh and mh index their tables with: jhash of the client's bytes, seeded per service. */
export function flowHash(seed: number, flow: Flow, withPort: boolean): number {
  return jhash(flowBytes(flow, withPort), seed);
}

/** A scheduler for `vs` (whose scheduler must be one of USERSPACE_SCHEDULERS). */
export function createScheduler<T extends Candidate>(vs: VirtualServer, vsKey: string): Scheduler<T> {
  switch (vs.scheduler) {
    case 'rr':
      return roundRobin<T>();
    case 'wrr':
      return weightedRoundRobin<T>();
    case 'lc':
      return leastConnections<T>('lc', false);
    case 'wlc':
      return leastConnections<T>('wlc', true);
    case 'sh':
      return sourceHash<T>(flowSeed(vsKey), hashesPort(vs));
    case 'mh':
      // The table size follows the configured server count, not the live one: a new size would remap every client.
      return maglevHash<T>(flowSeed(vsKey), hashesPort(vs), vs.realServers.length + (vs.sorryServer ? 1 : 0));
    default:
      throw new Error(`scheduler ${vs.scheduler} is not available in the userspace data plane (it has ${USERSPACE_SCHEDULERS.join(', ')})`);
  }
}

/** IPVS rr: the next destination after the last one picked, skipping weight 0. */
function roundRobin<T extends Candidate>(): Scheduler<T> {
  let dests: readonly T[] = [];
  let last: string | undefined;
  return {
    name: 'rr',
    update(d) {
      dests = d;
    },
    pick() {
      const n = dests.length;
      const at = last === undefined ? -1 : dests.findIndex((d) => d.key === last);
      for (let i = 1; i <= n; i++) {
        const d = dests[(at + i + n) % n]!;
        if (d.weight > 0) {
          last = d.key;
          return d;
        }
      }
      return undefined;
    },
  };
}

/**
 * IPVS wrr (ip_vs_wrr_schedule), computed pick by pick so that it stays exact for
 * any weights (sched.ts wrrSequence scales long cycles down): passes over the list with a current weight that
 * starts at the largest weight and drops by the weights' gcd each pass; a pass
 * picks every destination whose weight is at least the current weight. Weights
 * 3:1 give A A A B. A change of the set or of a weight restarts the cycle.
 */
function weightedRoundRobin<T extends Candidate>(): Scheduler<T> {
  let dests: readonly T[] = [];
  let i = -1;
  let cw = 0;
  let mw = 0;
  let di = 1;
  return {
    name: 'wrr',
    update(d) {
      dests = d;
      mw = 0;
      let g = 0;
      for (const x of d) {
        if (x.weight > 0) {
          mw = Math.max(mw, x.weight);
          g = gcd(g, x.weight);
        }
      }
      di = g || 1;
      i = -1;
      cw = mw;
    },
    pick() {
      if (mw === 0) return undefined;
      // Each pass finds at least the heaviest destination, so this ends within n + 1 steps.
      for (;;) {
        i++;
        if (i >= dests.length) {
          i = -1;
          cw -= di;
          if (cw <= 0) cw = mw;
          continue;
        }
        const d = dests[i]!;
        if (d.weight > 0 && d.weight >= cw) return d;
      }
    },
  };
}

/** lc: fewest active flows; wlc: fewest active flows per unit of weight. Ties go to the first in the list. */
function leastConnections<T extends Candidate>(name: string, weighted: boolean): Scheduler<T> {
  let dests: readonly T[] = [];
  return {
    name,
    update(d) {
      dests = d;
    },
    pick() {
      let best: T | undefined;
      for (const d of dests) {
        if (d.weight <= 0) continue;
        if (!best) best = d;
        else if (weighted ? d.active * best.weight < best.active * d.weight : d.active < best.active) best = d;
      }
      return best;
    },
  };
}

/**
 * IPVS sh: a 256-bucket table filled in list order, each destination taking `weight`
 * consecutive buckets; weight-0 destinations are left out of it (sched.ts shTable),
 * so their clients move to the others rather than being turned away.
 */
function sourceHash<T extends Candidate>(seed: number, withPort: boolean): Scheduler<T> {
  let dests: readonly T[] = [];
  let table: ArrayLike<number> = [];
  return {
    name: 'sh',
    update(d) {
      dests = d;
      table = shTable(d.map((x) => x.weight));
    },
    pick(flow) {
      const i = pickIndex(table, flowHash(seed, flow, withPort));
      return i >= 0 ? dests[i] : undefined;
    },
  };
}

/** IPVS mh: Maglev consistent hashing; weight-0 destinations get no slots. */
function maglevHash<T extends Candidate>(seed: number, withPort: boolean, configured: number): Scheduler<T> {
  let dests: readonly T[] = [];
  let table: ArrayLike<number> = [];
  return {
    name: 'mh',
    update(d) {
      dests = d;
      table = maglevTable(
        d.map((x) => ({ key: x.key, weight: x.weight })),
        maglevSize(Math.max(configured, d.length, 1)),
      );
    },
    pick(flow) {
      const i = pickIndex(table, flowHash(seed, flow, withPort));
      return i >= 0 ? dests[i] : undefined;
    },
  };
}
