// Owns real-server and virtual-service health state, derived purely from the
// checkers' states (schedule.ts): a real server is alive when all its checkers
// are UP (AND), its weight follows MISC_CHECK misc_dynamic; a virtual service
// has quorum with hysteresis and may swap in its sorry server. Produces the
// events to act on (notify_up/down, quorum_up/down, LVS notify FIFO lines),
// the table the data plane programs, and carries state over a reload by
// identity. No I/O, no clock.
//
// keepalived's source (check/ipwrapper.c) is the reference:
// - update_svr_checker_state / set_checker_state: num_failed_checkers, i.e. AND;
// - perform_svr_state: RS notifies, then update_quorum_state;
// - update_quorum_state: quorum gained at sum ≥ quorum + hysteresis, lost at
//   sum = 0 or sum < quorum − hysteresis; the sorry server goes in on loss
//   and out on gain (events: sorry first, then the quorum notify);
// - init_service_vs at start: quorum_up runs when the live weight reaches the
//   threshold; otherwise quorum_down runs and the sorry server goes in, but
//   only when a sorry server is configured;
// - ipvswrapper.c: an inhibit_on_failure server stays with weight 0 when it is
//   failed or when the sorry server is in; sorry_server_inhibit keeps the sorry
//   server with weight 0 when it is not in use;
// - weigh_live_realservers / real_weight: live weights summed, each clamped to
//   0..INT32_MAX; misc_dynamic weight replaces the configured weight
//   (effective = weight + Σ (dynamic − weight)); FILE_CHECK adds value × weight;
// - clear_services on shutdown: with omega, live servers are notified DOWN and
//   quorum_down runs (whatever the quorum state was).
import type { Checker, Family, Forwarding, NodeModel, Protocol, RealServer, VirtualServer } from '../model/types.js';
import { canonicalIp } from '../vrrp/addr.js';
import { initCheck, type CheckState, type InitOptions } from './schedule.js';

/** keepalived IPVS_WEIGHT_LIMIT: real_weight() clamps effective weights to 0..INT32_MAX. */
export const IPVS_WEIGHT_LIMIT = 2147483647;
/** keepalived gives the sorry server weight 1 (alloc_rs iweight); the model has no weight for it. */
export const SORRY_WEIGHT = 1;

export type CheckStates = Record<string, CheckState>;

export interface RsState {
  /** All checkers UP (keepalived rs->alive). */
  alive: boolean;
  /** Effective IPVS weight while alive (configured, or misc_dynamic). */
  weight: number;
  /** A state was reported for it (at start a live server counts as reported; an alpha one does not). */
  announced: boolean;
}

export interface VsState {
  quorumUp: boolean;
  sorryIn: boolean;
  /** By rsKey. */
  servers: Record<string, RsState>;
}

export type ServiceStates = Record<string, VsState>;

export interface HealthSnapshot {
  checks: CheckStates;
  services: ServiceStates;
}

/** Something to act on. `stopping` events come from shutdownEvents (keepalived runs those scripts with a 1 s limit). */
export type HealthEvent =
  | { type: 'rs'; vs: VirtualServer; rs: RealServer; vsKey: string; rsKey: string; up: boolean; stopping?: true }
  | { type: 'quorum'; vs: VirtualServer; vsKey: string; up: boolean; stopping?: true }
  | { type: 'sorry'; vs: VirtualServer; vsKey: string; in: boolean };

// ---------------------------------------------------------------- identity

function canon(address: string, family: Family): string {
  return canonicalIp(address, family) ?? address.toLowerCase();
}

const proto = (p: Protocol): string => p.toLowerCase();

/** A virtual service's identity: protocol, address and port; fwmark and family; or group and protocol (keepalived vs_iseq). */
// Keys are asked for on every health event and data-plane reconcile; model objects are
// immutable once built, so each key is computed once per object.
const vsKeys = new WeakMap<VirtualServer, string>();
const rsKeys = new WeakMap<RealServer, string>();

export function vsKey(vs: VirtualServer): string {
  let k = vsKeys.get(vs);
  if (k === undefined) vsKeys.set(vs, (k = computeVsKey(vs)));
  return k;
}

function computeVsKey(vs: VirtualServer): string {
  const a = vs.address;
  switch (a.kind) {
    case 'ip':
      return `${proto(vs.protocol)}:[${canon(a.address, a.family)}]:${a.port}`;
    case 'fwmark':
      return `fwmark:${a.fwmark}:${a.family ?? vs.ipFamily ?? 4}`;
    case 'group':
      return `group:${a.group}:${proto(vs.protocol)}`;
  }
}

/** A real server's identity within its service: address and port (keepalived rs_iseq). */
export function rsKey(rs: RealServer): string {
  let k = rsKeys.get(rs);
  if (k === undefined) rsKeys.set(rs, (k = `[${canon(rs.address, rs.family)}]:${rs.port ?? 0}`));
  return k;
}

// Settings that say how often or how patiently a checker checks, not what: a change
// to them keeps the checker's state (keepalived compares connect_timeout too).
const TIMING = new Set(['src', 'connectTimeout', 'retry', 'delayBeforeRetry', 'delayLoop', 'warmup', 'alpha', 'logAllFailures', 'rise', 'fall']);

function stable(v: unknown, top: boolean): string {
  if (Array.isArray(v)) return `[${v.map((x) => stable(x, false)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
      .filter((k) => k !== 'src' && !(top && TIMING.has(k)) && (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k], false)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** What a checker checks: its type, target and check settings, without timing (retry, delays, rise/fall, alpha). */
export function checkerIdentity(c: Checker): string {
  return `${c.type} ${stable(c, true)}`;
}

export interface CheckerRef {
  key: string;
  vsKey: string;
  rsKey: string;
  vs: VirtualServer;
  rs: RealServer;
  checker: Checker;
}

// Computed once per model: evaluate() runs on every state change and the keys are costly.
const listed = new WeakMap<NodeModel, CheckerRef[]>();

/** Every checker of the model with its state key (identical checkers on one server are told apart by their order). */
export function listCheckers(model: NodeModel): CheckerRef[] {
  const cached = listed.get(model);
  if (cached) return cached;
  const out: CheckerRef[] = [];
  for (const vs of model.virtualServers) {
    const vk = vsKey(vs);
    for (const rs of vs.realServers) {
      const rk = rsKey(rs);
      const seen = new Map<string, number>();
      for (const checker of rs.checkers) {
        const id = checkerIdentity(checker);
        const n = seen.get(id) ?? 0;
        seen.set(id, n + 1);
        out.push({ key: `${vk}|${rk}|${id}${n ? `#${n}` : ''}`, vsKey: vk, rsKey: rk, vs, rs, checker });
      }
    }
  }
  listed.set(model, out);
  return out;
}

/** Initial states for every checker of the model that has none in `carried` (whose states are kept). */
export function initChecks(model: NodeModel, now: number, random: () => number, carried: CheckStates = {}, opts?: InitOptions): CheckStates {
  const out: CheckStates = {};
  for (const ref of listCheckers(model)) out[ref.key] = carried[ref.key] ?? initCheck(ref.checker, now, random, opts);
  return out;
}

// ---------------------------------------------------------------- evaluation

function realWeight(w: number): number {
  return Math.min(Math.max(Math.round(w), 0), IPVS_WEIGHT_LIMIT);
}

function serverFromChecks(rs: RealServer, states: (CheckState | undefined)[], checkers: Checker[]) {
  let alive = true;
  let confirmedDown = false;
  let weight = rs.weight;
  states.forEach((s, i) => {
    // A checker without state has not been set up yet: it counts as not run, UP unless alpha.
    const up = s ? s.up : !checkers[i]!.alpha;
    if (!up) alive = false;
    if (s && s.hasRun && !s.up) confirmedDown = true;
    if (s && s.up && s.weight !== undefined) weight += s.weight - rs.weight;
    if (s && s.up && s.weightDelta !== undefined) weight += s.weightDelta;
  });
  return { alive, weight: realWeight(weight), confirmedDown };
}

function quorumGained(vs: VirtualServer, sum: number): boolean {
  return sum >= vs.quorum + vs.hysteresis;
}

function quorumLost(vs: VirtualServer, sum: number): boolean {
  return sum === 0 || sum < vs.quorum - vs.hysteresis;
}

/**
 * Real-server and virtual-service states from the checkers' states, and the events
 * since `prev`. Without `prev` (start, or a service new after a reload) keepalived's
 * start rules apply: no RS events, quorum_up when the threshold is met, otherwise
 * quorum_down with the sorry server in when one is configured.
 */
export function evaluate(model: NodeModel, checks: CheckStates, prev: ServiceStates = {}): { services: ServiceStates; events: HealthEvent[] } {
  const services: ServiceStates = {};
  const events: HealthEvent[] = [];
  const keyed = new Map<RealServer, string[]>();
  for (const ref of listCheckers(model)) {
    const ks = keyed.get(ref.rs) ?? [];
    ks.push(ref.key);
    keyed.set(ref.rs, ks);
  }
  for (const vs of model.virtualServers) {
    const vk = vsKey(vs);
    const p = prev[vk];
    const st: VsState = { quorumUp: p?.quorumUp ?? false, sorryIn: p?.sorryIn ?? false, servers: {} };
    const sum = (): number => Object.values(st.servers).reduce((a, r) => a + (r.alive ? r.weight : 0), 0);
    const update = (): void => {
      const s = sum();
      if (!st.quorumUp && quorumGained(vs, s)) {
        st.quorumUp = true;
        if (st.sorryIn) {
          st.sorryIn = false;
          events.push({ type: 'sorry', vs, vsKey: vk, in: false });
        }
        events.push({ type: 'quorum', vs, vsKey: vk, up: true });
      } else if (st.quorumUp && quorumLost(vs, s)) {
        st.quorumUp = false;
        if (vs.sorryServer && !st.sorryIn) {
          st.sorryIn = true;
          events.push({ type: 'sorry', vs, vsKey: vk, in: true });
        }
        events.push({ type: 'quorum', vs, vsKey: vk, up: false });
      }
    };

    const derived = vs.realServers.map((rs) => {
      const ks = keyed.get(rs) ?? [];
      return { rs, rk: rsKey(rs), ...serverFromChecks(rs, ks.map((k) => checks[k]), rs.checkers) };
    });

    if (!p) {
      for (const d of derived) st.servers[d.rk] = { alive: d.alive, weight: d.weight, announced: d.alive };
      if (quorumGained(vs, sum())) {
        st.quorumUp = true;
        events.push({ type: 'quorum', vs, vsKey: vk, up: true });
      } else if (vs.sorryServer) {
        st.sorryIn = true;
        events.push({ type: 'sorry', vs, vsKey: vk, in: true }, { type: 'quorum', vs, vsKey: vk, up: false });
      }
    } else {
      // Servers carried from `prev` first so that the quorum sums see them while others change one at a time.
      for (const d of derived) {
        const old = p.servers[d.rk];
        if (old) st.servers[d.rk] = { ...old };
      }
    }

    for (const d of derived) {
      const old = st.servers[d.rk];
      if (!old) {
        // A server new to a running service: as at start, no event for its initial state.
        st.servers[d.rk] = { alive: d.alive, weight: d.weight, announced: d.alive };
        update();
      } else if (old.alive !== d.alive) {
        st.servers[d.rk] = { alive: d.alive, weight: d.weight, announced: true };
        events.push({ type: 'rs', vs, rs: d.rs, vsKey: vk, rsKey: d.rk, up: d.alive });
        update();
      } else if (old.weight !== d.weight) {
        st.servers[d.rk] = { ...old, weight: d.weight };
        update();
      }
      const now = st.servers[d.rk]!;
      // keepalived update_svr_checker_state: an alpha server whose first check fails is notified DOWN.
      if (!now.alive && !now.announced && d.confirmedDown) {
        now.announced = true;
        events.push({ type: 'rs', vs, rs: d.rs, vsKey: vk, rsKey: d.rk, up: false });
      }
    }
    update();
    // A reload may add or remove the sorry server while quorum is down.
    if (!st.quorumUp && vs.sorryServer && !st.sorryIn) {
      st.sorryIn = true;
      events.push({ type: 'sorry', vs, vsKey: vk, in: true });
    } else if (st.sorryIn && (!vs.sorryServer || st.quorumUp)) {
      st.sorryIn = false;
      events.push({ type: 'sorry', vs, vsKey: vk, in: false });
    }
    services[vk] = st;
  }
  return { services, events };
}

/**
 * Events on shutdown (keepalived clear_services): for services with omega, live real
 * servers go DOWN (unless lvs_flush_on_stop, which skips per-server notifies) and
 * quorum_down runs whatever the quorum state was. Without omega: none.
 */
export function shutdownEvents(model: NodeModel, services: ServiceStates): HealthEvent[] {
  const events: HealthEvent[] = [];
  for (const vs of model.virtualServers) {
    if (!vs.omega) continue;
    const vk = vsKey(vs);
    const st = services[vk];
    if (!model.global.lvs.flushOnStop && st) {
      for (const rs of vs.realServers) {
        const rk = rsKey(rs);
        if (st.servers[rk]?.alive) events.push({ type: 'rs', vs, rs, vsKey: vk, rsKey: rk, up: false, stopping: true });
      }
    }
    events.push({ type: 'quorum', vs, vsKey: vk, up: false, stopping: true });
  }
  return events;
}

// ---------------------------------------------------------------- data plane

export interface DesiredDest {
  address: string;
  family: Family;
  /** Undefined for fwmark services without ports. */
  port?: number;
  weight: number;
  forwarding: Forwarding;
  /** This destination is the sorry server. */
  sorry?: true;
  /** rsKey of the real server (or of the sorry server's address). */
  key: string;
}

export interface DesiredService {
  vsKey: string;
  vs: VirtualServer;
  dests: DesiredDest[];
}

/**
 * What the data plane should program: per virtual service the destinations and their
 * weights. A live server has its effective weight; a failed one is absent, or present
 * with weight 0 under inhibit_on_failure. While the sorry server is in, it carries
 * weight 1 and the real servers are absent (weight 0 with inhibit_on_failure); when it
 * is out it is absent, or weight 0 with sorry_server_inhibit. Services without a state
 * in `services` are left out.
 */
export function desiredTable(model: NodeModel, services: ServiceStates): DesiredService[] {
  const out: DesiredService[] = [];
  for (const vs of model.virtualServers) {
    const vk = vsKey(vs);
    const st = services[vk];
    if (!st) continue;
    const dests = new Map<string, DesiredDest>();
    for (const rs of vs.realServers) {
      const rk = rsKey(rs);
      const r = st.servers[rk];
      let weight: number | undefined;
      if (r?.alive && !st.sorryIn) weight = r.weight;
      else if (rs.inhibitOnFailure) weight = 0;
      if (weight === undefined) continue;
      const d: DesiredDest = { address: rs.address, family: rs.family, weight, forwarding: rs.forwarding ?? vs.forwarding, key: rk };
      if (rs.port !== undefined) d.port = rs.port;
      dests.set(rk, d);
    }
    const ss = vs.sorryServer;
    if (ss && (st.sorryIn || ss.inhibit)) {
      const family: Family = ss.address.includes(':') ? 6 : 4;
      // keepalived check_data.c: a sorry server without a port takes the service's port.
      const port = ss.port ?? (vs.address.kind === 'ip' ? vs.address.port : undefined);
      const key = `[${canon(ss.address, family)}]:${port ?? 0}`;
      // A sorry server that is also a real server (s_svr_duplicates_rs) only takes over while in.
      if (st.sorryIn || !dests.has(key)) {
        const d: DesiredDest = { address: ss.address, family, weight: st.sorryIn ? SORRY_WEIGHT : 0, forwarding: ss.forwarding ?? vs.forwarding, sorry: true, key };
        if (port !== undefined) d.port = port;
        dests.set(key, d);
      }
    }
    out.push({ vsKey: vk, vs, dests: [...dests.values()] });
  }
  return out;
}

// ---------------------------------------------------------------- reload

/**
 * Health state across a configuration reload, by identity (vsKey, rsKey, checker
 * identity): an unchanged checker keeps its state and schedule, a changed or new one
 * starts fresh; a new alpha checker on a real server that stays and was alive starts
 * UP (keepalived migrate_checkers only holds new alpha checkers down on a server that
 * has failed). Services and servers that stay keep their state; `events` are the
 * DOWN notifies for live servers that went away and quorum_down for services that
 * went away with quorum (keepalived clear_diff_services). Then call
 * evaluate(newModel, checks, services) for the rest.
 */
export function carryOver(
  old: HealthSnapshot,
  oldModel: NodeModel,
  newModel: NodeModel,
  now: number,
  random: () => number,
  opts?: InitOptions,
): HealthSnapshot & { events: HealthEvent[] } {
  const events: HealthEvent[] = [];
  const services: ServiceStates = {};
  const newVs = new Map(newModel.virtualServers.map((vs) => [vsKey(vs), vs]));
  for (const ovs of oldModel.virtualServers) {
    const vk = vsKey(ovs);
    const st = old.services[vk];
    if (!st) continue;
    const nvs = newVs.get(vk);
    const keep = new Set(nvs ? nvs.realServers.map(rsKey) : []);
    const servers: Record<string, RsState> = {};
    for (const rs of ovs.realServers) {
      const rk = rsKey(rs);
      const r = st.servers[rk];
      if (!r) continue;
      if (keep.has(rk)) servers[rk] = { ...r };
      else if (r.alive) events.push({ type: 'rs', vs: ovs, rs, vsKey: vk, rsKey: rk, up: false });
    }
    if (nvs) services[vk] = { quorumUp: st.quorumUp, sorryIn: st.sorryIn, servers };
    else if (st.quorumUp) events.push({ type: 'quorum', vs: ovs, vsKey: vk, up: false });
  }

  const checks: CheckStates = {};
  for (const ref of listCheckers(newModel)) {
    const kept = old.checks[ref.key];
    if (kept) {
      checks[ref.key] = kept;
      continue;
    }
    const s = initCheck(ref.checker, now, random, opts);
    if (!s.up && services[ref.vsKey]?.servers[ref.rsKey]?.alive) s.up = true;
    checks[ref.key] = s;
  }
  return { checks, services, events };
}

// ---------------------------------------------------------------- notify FIFO

/**
 * keepalived format_vs: "[192.168.2.100]:tcp:80", "FWM 1", or "[group]:0" for a
 * virtual_server_group (the port of a group service's address is 0 in keepalived).
 */
export function formatVs(vs: VirtualServer): string {
  const a = vs.address;
  switch (a.kind) {
    case 'ip':
      return `[${canon(a.address, a.family)}]:${proto(vs.protocol)}:${a.port}`;
    case 'fwmark':
      return `FWM ${a.fwmark}`;
    case 'group':
      return `[${a.group}]:0`;
  }
}

/** keepalived format_rs: "[192.168.2.11]:tcp:80" with the service's protocol; port 0 when none. */
export function formatRs(rs: RealServer, vs: VirtualServer): string {
  return `[${canon(rs.address, rs.family)}]:${proto(vs.protocol)}:${rs.port ?? 0}`;
}

/**
 * keepalived notify_fifo_vs: "VS [192.168.2.100]:tcp:80 UP\n". keepalived also writes
 * the string's terminating NUL after the newline; readers split on "\n".
 */
export function fifoLineVs(vs: VirtualServer, up: boolean): string {
  return `VS ${formatVs(vs)} ${up ? 'UP' : 'DOWN'}\n`;
}

/** keepalived notify_fifo_rs: "RS [192.168.2.11]:tcp:80 [192.168.2.100]:tcp:80 UP\n". */
export function fifoLineRs(vs: VirtualServer, rs: RealServer, up: boolean): string {
  return `RS ${formatRs(rs, vs)} ${formatVs(vs)} ${up ? 'UP' : 'DOWN'}\n`;
}

/** The FIFO line an event writes, if any (sorry server changes write none in keepalived). */
export function fifoLine(e: HealthEvent): string | undefined {
  if (e.type === 'rs') return fifoLineRs(e.vs, e.rs, e.up);
  if (e.type === 'quorum') return fifoLineVs(e.vs, e.up);
  return undefined;
}
