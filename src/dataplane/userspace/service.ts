// One running virtual service of the userspace proxy: its destinations with their
// counters, the scheduler over them, and the listener (tcp.ts or udp.ts). The
// destination list is changed in place; flows already open keep the destination
// object they started with, so a weight change or a removal never cuts them.
import type { Family, Forwarding, VirtualServer } from '../../model/types.js';
import type { DesiredDest } from '../types.js';
import { createScheduler, type Flow, type Scheduler } from './select.js';

export type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface DestRuntime {
  readonly key: string;
  address: string;
  family: Family;
  port: number;
  weight: number;
  forwarding: Forwarding;
  sorry: boolean;
  /** Connections (TCP) or sessions (UDP) in progress. */
  active: number;
  /** Connections or sessions sent here. */
  conns: number;
  /** Bytes client → destination and destination → client. */
  inBytes: number;
  outBytes: number;
  /** Connects that failed or timed out (TCP), sessions ended by an error (UDP). */
  connectFailures: number;
  /** No longer in the desired table: kept only while its flows finish. */
  removed: boolean;
  lastFailureLog: number;
  failuresSinceLog: number;
}

export interface ServiceTotals {
  conns: number;
  inBytes: number;
  outBytes: number;
  connectFailures: number;
  /** New flows refused because no destination could take them (none, or all weight 0). */
  noDestination: number;
}

/** What a listener needs from its service. */
export interface ProxyHost {
  readonly vsKey: string;
  readonly log: Log;
  /** Picks a destination for a new flow and counts it as open; undefined when none may take it. */
  open(flow: Flow): DestRuntime | undefined;
  /** The flow on `d` ended. */
  close(d: DestRuntime): void;
  bytesIn(d: DestRuntime, n: number): void;
  bytesOut(d: DestRuntime, n: number): void;
  failed(d: DestRuntime, err: unknown): void;
}

/** A service's socket: a TCP server or a UDP socket with its sessions. */
export interface Listener {
  listen(): Promise<void>;
  /** Stops listening; with `flush` open flows are cut too (UDP sessions always end: their replies leave through the listener). */
  close(flush: boolean): void;
  /** Listening, and not stopped behind our back. */
  readonly alive: boolean;
  /** Why it stopped, when it was not asked to. */
  readonly deathReason: string | undefined;
  /** Bytes the proxy holds in its own buffers for this service's flows (back-pressure shows here). */
  buffered(): number;
  /** Connections or sessions still open. */
  flows(): number;
}

export function newDest(d: DesiredDest, vsPort: number): DestRuntime {
  return {
    key: d.key,
    address: d.address,
    family: d.family,
    port: d.port ?? vsPort,
    weight: d.weight,
    forwarding: d.forwarding,
    sorry: Boolean(d.sorry),
    active: 0,
    conns: 0,
    inBytes: 0,
    outBytes: 0,
    connectFailures: 0,
    removed: false,
    lastFailureLog: 0,
    failuresSinceLog: 0,
  };
}

/** At most one connect-failure log line per destination per interval. */
const FAILURE_LOG_MS = 10_000;

export class ServiceRuntime implements ProxyHost {
  /** Current destinations in list order (existing ones keep their place, new ones go last). */
  dests: DestRuntime[] = [];
  /** Removed destinations whose flows have not finished, by key. */
  readonly retired = new Map<string, DestRuntime>();
  readonly totals: ServiceTotals = { conns: 0, inBytes: 0, outBytes: 0, connectFailures: 0, noDestination: 0 };
  scheduler: Scheduler<DestRuntime>;
  listener: Listener | undefined;

  constructor(
    readonly vsKey: string,
    public vs: VirtualServer,
    readonly protocol: 'tcp' | 'udp',
    /** The address the listener binds. */
    public host: string,
    readonly port: number,
    readonly log: Log,
  ) {
    this.scheduler = createScheduler<DestRuntime>(vs, vsKey);
  }

  /** Installs `vs`'s scheduler afresh (scheduler or flags changed). */
  setScheduler(vs: VirtualServer): void {
    this.vs = vs;
    this.scheduler = createScheduler<DestRuntime>(vs, this.vsKey);
    this.scheduler.update(this.dests);
  }

  /** Call after changing `dests` or a weight. */
  destsChanged(): void {
    this.scheduler.update(this.dests);
  }

  open(flow: Flow): DestRuntime | undefined {
    const d = this.scheduler.pick(flow);
    if (!d) {
      this.totals.noDestination++;
      return undefined;
    }
    d.active++;
    d.conns++;
    this.totals.conns++;
    return d;
  }

  close(d: DestRuntime): void {
    d.active = Math.max(0, d.active - 1);
    if (d.removed && d.active === 0 && this.retired.get(d.key) === d) this.retired.delete(d.key);
  }

  bytesIn(d: DestRuntime, n: number): void {
    d.inBytes += n;
    this.totals.inBytes += n;
  }

  bytesOut(d: DestRuntime, n: number): void {
    d.outBytes += n;
    this.totals.outBytes += n;
  }

  failed(d: DestRuntime, err: unknown): void {
    d.connectFailures++;
    this.totals.connectFailures++;
    d.failuresSinceLog++;
    const now = Date.now();
    if (now - d.lastFailureLog < FAILURE_LOG_MS) return;
    const text = err instanceof Error ? err.message : String(err);
    this.log(`userspace: ${this.vsKey} -> ${d.key}: ${text}`, { vsKey: this.vsKey, dest: d.key, failures: d.failuresSinceLog });
    d.lastFailureLog = now;
    d.failuresSinceLog = 0;
  }
}
