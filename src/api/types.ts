// The documents the daemon's API serves (src/api/openapi.json describes the same
// shapes; test/api checks that they agree). Plain JSON: the CLI, the dashboard and
// peers read them.
import type { InstanceStatus } from '../vrrp/runtime.js';
import type { Override } from './overrides.js';

export interface LagView {
  /** Milliseconds a timer fired late: median, 99th percentile, worst (since the last window). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** An instance as the API shows it: the runtime's status (vrrp/runtime.ts) plus what this node saw. */
export interface VrrpInstanceView extends Omit<InstanceStatus, 'resigned'> {
  /** Resigned by a planned failover (a BACKUP that does not preempt until resumed). */
  resigned: boolean;
  /** When this node saw the instance's last state change (ISO 8601). */
  lastTransition?: string;
  /** Transitions out of MASTER (keepalived release_master). */
  releaseMaster: number;
}

export interface CheckView {
  type: string;
  up: boolean;
  lastReason?: string;
  lastLatencyMs?: number;
}

export type RealServerState = 'up' | 'down' | 'draining';

export interface RealServerView {
  /** `[address]:port`, the key actions and the data plane use. */
  key: string;
  /** keepalived's form, `[192.168.2.13]:tcp:80`. */
  name: string;
  address: string;
  port?: number;
  /** Every checker up (a server without checkers is up). */
  healthy: boolean;
  state: RealServerState;
  configuredWeight: number;
  /** The weight the data plane is asked for now (health, then operator overrides); 0 when not carrying traffic. */
  weight: number;
  /** In the table the data plane is asked to program (a down server usually is not). */
  inTable: boolean;
  /** Drained by an operator (weight 0 until undrain). */
  drained: boolean;
  /** An operator's weight, replacing the configured one while healthy. */
  weightOverride?: number;
  checks: CheckView[];
  /** Data-plane counters, where the data plane has them. */
  activeConnections?: number;
  connections?: number;
  packets?: number;
  bytes?: number;
  inBytes?: number;
  outBytes?: number;
}

export interface ServiceView {
  /** `tcp:[192.168.2.100]:80`, `fwmark:5:4` or `group:NAME:tcp`. */
  key: string;
  /** keepalived's form, `[192.168.2.100]:tcp:80`. */
  name: string;
  protocol: string;
  address: string;
  port?: number;
  scheduler: string;
  forwarding: string;
  /** This node balances the service now (its VIP's instance is MASTER here, or it has none). */
  balancing: boolean;
  realServers: RealServerView[];
  connections?: number;
  bytes?: number;
}

/** An operator override as the API shows it (overrides.ts), with its reach in the running configuration. */
export interface OverrideView extends Override {
  /** How many real servers of the running configuration it applies to. */
  matches: number;
}

export interface DataplaneView {
  kind: string;
  reconciles: number;
  failures: number;
  changes: number;
  driftRepairs: number;
  lastError?: string;
  lastSyncMs?: number;
}

export interface NodeStatus {
  node: string;
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  eventLoopLagMs: LagView;
  vrrpThreadLagMs?: LagView;
  dataplane?: DataplaneView;
  vrrp: VrrpInstanceView[];
  services: ServiceView[];
  overrides: OverrideView[];
}

export interface ClusterNodeView {
  name: string;
  /** Where it was asked (`local` for this node). */
  api: string;
  ok: boolean;
  error?: string;
  status?: NodeStatus;
}

export interface ClusterView {
  /** The node that answered. */
  node: string;
  nodes: ClusterNodeView[];
}

export type EventType = 'vrrp' | 'realserver' | 'service' | 'drain' | 'undrain' | 'weight' | 'failover' | 'resume' | 'reload' | 'drift' | 'dataplane';

export interface ApiEvent {
  /** Increasing within one daemon run (SSE `id:`). */
  id: number;
  /** ISO 8601 wall-clock time. */
  time: string;
  type: EventType;
  /** One line for people. */
  message: string;
  instance?: string;
  from?: string;
  to?: string;
  reason?: string;
  service?: string;
  server?: string;
  up?: boolean;
  weight?: number | null;
  /** Who asked (actions): the transport and the token's name or the peer address. */
  by?: string;
  result?: string;
  changes?: string[];
}

export interface ActionResult {
  ok: true;
  action: string;
  /** Real servers or instances the action applied to. */
  applied: string[];
  message: string;
}

export interface ErrorBody {
  error: string;
  /** What to do about it, when there is something. */
  hint?: string;
}
