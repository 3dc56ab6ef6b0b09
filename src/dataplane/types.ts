// The contract between the reconcile engine and the data-plane drivers.
//
// Desired state is `DesiredService[]` (health/server-state.ts desiredTable): the model's
// VirtualServer plus the destinations health says should carry traffic, with weights.
// There is no second representation of a service: drivers read the model objects.
import type { DesiredDest, DesiredService } from '../health/server-state.js';
import type { Family, Protocol, VirtualServer } from '../model/types.js';

export type { DesiredDest, DesiredService };

export type DataplaneKind = 'nftables' | 'ipvs' | 'userspace';

/** One change a reconcile made (or would make), in the operator's words. */
export interface Change {
  op: 'add' | 'update' | 'delete';
  /** What changed: `service tcp:[10.0.0.1]:80`, `dest tcp:[10.0.0.1]:80 -> [10.0.0.21]:80`, `table ip haldir`. */
  object: string;
  /** Why or how, e.g. `weight 1 -> 0`, `rules differ from desired (drift)`. */
  detail?: string;
  /** The change repairs something altered behind haldir's back (actual ≠ what haldir last wrote). */
  drift?: boolean;
}

export interface ReconcileOptions {
  /** Compute and return the changes without applying them. */
  dryRun?: boolean;
  /** Re-read the whole kernel state instead of trusting the last one written (drift check). */
  full?: boolean;
}

export interface ReconcileReport {
  changes: Change[];
  /** Whether the changes were applied (false on dry run or when there were none). */
  applied: boolean;
  /** Wall time of the reconcile in milliseconds. */
  ms: number;
  /** Driver-specific note, e.g. the nft transaction size. */
  note?: string;
  /** Parts that could not be programmed (the rest was): a destination whose MAC is unknown, a port in use. */
  errors?: string[];
}

/** A refusal: what the data plane cannot do for a service, with the reason and what to do. */
export interface Unsupported {
  vs: VirtualServer;
  message: string;
}

export interface DestStats {
  key: string;
  address: string;
  family: Family;
  port?: number;
  weight: number;
  forwarding: string;
  /** Connections in progress (conntrack / proxy sockets); undefined when the data plane cannot know. */
  activeConns?: number;
  /** Connections closing or closed but still tracked (ipvsadm's InActConn). */
  inactConns?: number;
  /** Connections (NAT/userspace) or first packets (stateless DR) sent to this destination. */
  conns?: number;
  packets?: number;
  bytes?: number;
  /** Bytes client → server and server → client, where the data plane sees both. */
  inBytes?: number;
  outBytes?: number;
  /** Weight 0 while its connections finish before removal. */
  draining?: boolean;
}

export interface ServiceStats {
  vsKey: string;
  protocol: Protocol;
  /** `10.0.0.1:80`, `[fd00::1]:80` or `FWM 5`. */
  address: string;
  scheduler: string;
  /** Scheduler flags shown like ipvsadm (`sh-port`, `mh-fallback`), empty when none. */
  flags: string[];
  persistent?: number;
  conns?: number;
  packets?: number;
  bytes?: number;
  dests: DestStats[];
}

/**
 * A data-plane driver. `reconcile` makes the data plane equal to `desired` and owns only
 * its own objects; it is idempotent (a second call with the same input changes nothing).
 */
export interface Dataplane {
  readonly kind: DataplaneKind;
  /** Services this data plane cannot program as configured, with the reason. */
  unsupported(services: readonly VirtualServer[]): Unsupported[];
  reconcile(desired: readonly DesiredService[], opts?: ReconcileOptions): Promise<ReconcileReport>;
  /** The table as the data plane has it now, with counters. */
  stats(): Promise<ServiceStats[]>;
  /** Active connections per destination key, per service key (for draining). */
  activeConnections(): Promise<Map<string, Map<string, number>>>;
  /** Stops the driver; with `flush` its objects are removed from the data plane first. */
  close(opts?: { flush?: boolean }): Promise<void>;
}
