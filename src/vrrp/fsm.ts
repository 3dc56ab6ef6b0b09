// The VRRP state machine (RFC 5798 §6.4, RFC 3768 §6.4) as a pure reducer,
// timed exactly like keepalived 2.2 (vrrp.c vrrp_state_backup /
// vrrp_state_master_rx, vrrp_scheduler.c vrrp_init_state / try_up_instance,
// vrrp_track.c vrrp_set_effective_priority). No I/O and no clock: every call
// gets `now` in microseconds, timers are absolute deadlines kept in the
// state, and the runtime asks nextDeadline() when to call back. The reducer
// is only fed adverts that receive validation accepted (see index.ts onPacket).
import type { Family, VrrpInstance } from '../model/types.js';
import { masterDownMicros, skewMicros } from '../model/plan.js';
import { compareIp } from './addr.js';

export type VrrpFsmStateName = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

/** RFC 6527 vrrpv3StatisticsNewMasterReason. */
export type MasterReason = 'notMaster' | 'priority' | 'preempted' | 'masterNoResponse';

export const PRIO_OWNER = 255;
export const PRIO_STOP = 0;

/** What the reducer needs of an instance; build it with fsmConfigFromInstance(). */
export interface VrrpFsmConfig {
  version: 2 | 3;
  family: Family;
  /** Configured priority 1–255; 255 = address owner (RFC 5798 §6.1). */
  priority: number;
  /** Our Advertisement_Interval in centiseconds (v2: whole seconds × 100). */
  advertIntCs: number;
  /** keepalived down_timer_adverts (RFC: 3). */
  downTimerAdverts: number;
  nopreempt: boolean;
  /** keepalived preempt_delay, microseconds (0 = none). */
  preemptDelayUs: number;
  /** keepalived lower_prio_no_advert: as master, do not answer a lower-priority advert. */
  lowerPrioNoAdvert: boolean;
  /** keepalived higher_prio_send_advert: as master, send one advert before yielding. */
  higherPrioSendAdvert: boolean;
  /** Our primary address, the source of our adverts: breaks equal-priority ties (RFC 5798 §6.4.3). */
  localAddress?: string;
}

export interface VrrpFsmState {
  readonly cfg: VrrpFsmConfig;
  readonly state: VrrpFsmStateName;
  /** Priority after tracking; the owner's stays 255. */
  readonly effectivePriority: number;
  /** Master_Adver_Interval (RFC 5798 §6.1), centiseconds: v3 backups adopt the master's. */
  readonly masterAdverIntCs: number;
  /** BACKUP: when the Master_Down_Timer fires (µs). */
  readonly masterDownAt?: number;
  /** MASTER: when the next advert is due (µs). */
  readonly nextAdvertAt?: number;
  /** keepalived preempt_time: after this instant lower-priority adverts stop holding us back. */
  readonly preemptAt?: number;
  /** Source and priority of the last advert seen from the master. */
  readonly masterAddr?: string;
  readonly masterPriority?: number;
  /** A tracked object holds the instance down (keepalived FAULT). */
  readonly faulted: boolean;
  /** Reason the next MASTER transition would report, and the last one's (RFC 6527). */
  readonly nextMasterReason: MasterReason;
  readonly masterReason: MasterReason;
  /**
   * haldir planned failover: this router resigned mastership and, as BACKUP, accepts a
   * lower-priority master instead of preempting it back. Cleared by `resume` and on
   * becoming MASTER (the master it handed over to fell silent).
   */
  readonly resigned?: boolean;
}

export type VrrpEvent =
  /**
   * Initialize. `holdsVips`: every VIP of the instance is still on its interface — left by
   * a previous run that died without removing them (a crash, kill -9), which therefore
   * was MASTER until a moment ago.
   */
  | { type: 'startup'; holdsVips?: boolean }
  /** An advert that receive validation accepted; intervalCs: v2 seconds × 100. */
  | { type: 'advert'; priority: number; intervalCs: number; src: string }
  /** A deadline from nextDeadline() has passed; early calls are no-ops. */
  | { type: 'timer'; kind?: 'advert' | 'masterDown' }
  | { type: 'shutdown' }
  | { type: 'fault'; on: boolean }
  /** New tracked priority (base + weights); clamped to 1–254, ignored for the owner. */
  | { type: 'priorityChange'; effective: number }
  /** A vrrp_sync_group member moved: the others follow (keepalived vrrp_sync.c). */
  | { type: 'sync'; state: 'MASTER' | 'BACKUP' }
  /** Operator's planned failover: a MASTER sends priority 0 and steps down to BACKUP; see `resigned`. */
  | { type: 'resign' }
  /** Ends a resignation: preemption applies again. */
  | { type: 'resume' };

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export type VrrpAction =
  /** Send one advertisement now (priority 0 = "I am stopping", RFC 5798 §6.4.3). */
  | { type: 'sendAdvert'; priority: number; intervalCs: number }
  /** Entered MASTER: add the VIPs, send gratuitous ARPs / unsolicited NAs. */
  | { type: 'becomeMaster'; reason: MasterReason }
  /** Entered BACKUP (the VIPs must not be held; idempotent). */
  | { type: 'becomeBackup' }
  /** Entered FAULT (the VIPs must not be held; idempotent). */
  | { type: 'becomeFault' }
  /** Leaving MASTER: remove the VIPs, stop GARP refreshes. Always precedes the new state's action. */
  | { type: 'leaveMaster' }
  /** Run notify scripts / FIFO for the new state. */
  | { type: 'notify'; state: NotifyState }
  /** keepalived notify_master_rx_lower_pri, and garp_lower_prio_* if configured. */
  | { type: 'masterRxLowerPri'; priority: number; src: string }
  /** Effective priority changed (notify_priority_changes). */
  | { type: 'priorityChanged'; priority: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string };

export interface StepResult {
  state: VrrpFsmState;
  actions: VrrpAction[];
}

// ------------------------------------------------------------------ config

/**
 * The reducer's configuration from the model. keepalived (vrrp.c
 * vrrp_complete_instance) clears nopreempt and preempt_delay on an instance
 * whose initial state is MASTER; so do we. `localAddress` is the interface's
 * primary address, used unless unicast_src_ip / mcast_src_ip is configured
 * (keepalived vrrp_saddr_cmp).
 */
export function fsmConfigFromInstance(inst: VrrpInstance, localAddress?: string): VrrpFsmConfig {
  const cfg: VrrpFsmConfig = {
    version: inst.version,
    family: inst.family,
    priority: inst.priority,
    advertIntCs: advertIntCsOf(inst.version, inst.advertInt),
    downTimerAdverts: inst.downTimerAdverts,
    nopreempt: inst.state === 'MASTER' ? false : inst.nopreempt,
    preemptDelayUs: inst.state === 'MASTER' ? 0 : Math.round(inst.preemptDelay * 1_000_000),
    lowerPrioNoAdvert: inst.lowerPrioNoAdvert,
    // Always on in haldir (keepalived's vrrp_higher_prio_send_advert, off there by default):
    // a master that yields to a higher one after a split brain sends one last advert, so the
    // winner hears a lower priority and announces the VIP again. Without it the winner never
    // learns the other side announced the VIP too, and clients stay on the loser's MAC
    // (keepalived issues 166, 542, 2649).
    higherPrioSendAdvert: true,
  };
  const local = inst.unicastSrcIp ?? inst.mcastSrcIp ?? localAddress;
  if (local !== undefined) cfg.localAddress = local;
  return cfg;
}

/** Advertisement interval in centiseconds: v2 whole seconds 1–255, v3 1–4095 cs. */
export function advertIntCsOf(version: 2 | 3, advertIntSec: number): number {
  if (version === 2) return Math.min(255, Math.max(1, Math.round(advertIntSec))) * 100;
  return Math.min(0x0fff, Math.max(1, Math.round(advertIntSec * 100)));
}

export function initFsm(cfg: VrrpFsmConfig): VrrpFsmState {
  return {
    cfg,
    state: 'INIT',
    effectivePriority: cfg.priority,
    masterAdverIntCs: cfg.advertIntCs,
    faulted: false,
    nextMasterReason: 'masterNoResponse',
    masterReason: 'notMaster',
  };
}

// ------------------------------------------------------------------ timing

const isOwner = (s: VrrpFsmState): boolean => s.cfg.priority === PRIO_OWNER;
const usOfCs = (cs: number): number => cs * 10_000;

/** Skew_Time, µs: v2 (256−P)/256 s (RFC 3768 §6.1), v3 (256−P)×Master_Adver_Interval/256 (RFC 5798 §6.1). */
export function skewUs(s: VrrpFsmState): number {
  return skewMicros(s.cfg.version, s.effectivePriority, s.masterAdverIntCs / 100);
}

/** Master_Down_Interval, µs: down_timer_adverts × Master_Adver_Interval + Skew_Time. */
export function masterDownUs(s: VrrpFsmState): number {
  return masterDownMicros(s.cfg.version, s.effectivePriority, s.masterAdverIntCs / 100, s.cfg.downTimerAdverts);
}

/** The next instant step() must be called with a timer event, or undefined when none is armed. */
export function nextDeadline(s: VrrpFsmState): { at: number; kind: 'advert' | 'masterDown' } | undefined {
  if (s.state === 'BACKUP' && s.masterDownAt !== undefined) return { at: s.masterDownAt, kind: 'masterDown' };
  if (s.state === 'MASTER' && s.nextAdvertAt !== undefined) return { at: s.nextAdvertAt, kind: 'advert' };
  return undefined;
}

// ------------------------------------------------------------------ transitions

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function leaveTimers(s: VrrpFsmState): Mutable<VrrpFsmState> {
  const n: Mutable<VrrpFsmState> = { ...s };
  delete n.masterDownAt;
  delete n.nextAdvertAt;
  delete n.preemptAt;
  return n;
}

/** RFC 5798 §6.4.1/§6.4.2 → Master; keepalived vrrp_state_goto_master + master_tx: advert first, then VIPs. */
function toMaster(s: VrrpFsmState, now: number, pre: VrrpAction[] = []): StepResult {
  const n = leaveTimers(s);
  n.state = 'MASTER';
  n.masterAdverIntCs = s.cfg.advertIntCs;
  n.nextAdvertAt = now + usOfCs(s.cfg.advertIntCs);
  n.masterReason = s.nextMasterReason;
  delete n.resigned;
  return {
    state: n,
    actions: [
      ...pre,
      { type: 'sendAdvert', priority: s.effectivePriority, intervalCs: s.cfg.advertIntCs },
      { type: 'becomeMaster', reason: s.nextMasterReason },
      { type: 'notify', state: 'MASTER' },
    ],
  };
}

/** Enter BACKUP with a full Master_Down_Timer (from the current Master_Adver_Interval). */
function toBackup(s: VrrpFsmState, now: number, pre: VrrpAction[] = []): StepResult {
  const n = leaveTimers(s);
  n.state = 'BACKUP';
  n.masterDownAt = now + masterDownUs(n);
  n.nextMasterReason = 'masterNoResponse';
  return { state: n, actions: [...pre, { type: 'becomeBackup' }, { type: 'notify', state: 'BACKUP' }] };
}

/** keepalived down_instance: a master first tells the others it stops (priority 0), then drops the VIPs. */
function toFault(s: VrrpFsmState): StepResult {
  const n = leaveTimers(s);
  n.state = 'FAULT';
  n.masterAdverIntCs = s.cfg.advertIntCs;
  const pre: VrrpAction[] =
    s.state === 'MASTER'
      ? [{ type: 'sendAdvert', priority: PRIO_STOP, intervalCs: s.cfg.advertIntCs }, { type: 'leaveMaster' }]
      : [];
  return { state: n, actions: [...pre, { type: 'becomeFault' }, { type: 'notify', state: 'FAULT' }] };
}

const same = (s: VrrpFsmState): StepResult => ({ state: s, actions: [] });

// ------------------------------------------------------------------ reducer

export function step(s: VrrpFsmState, ev: VrrpEvent, now: number): StepResult {
  if (s.state === 'STOP') return same(s);
  switch (ev.type) {
    case 'startup':
      return onStartup(s, now, ev.holdsVips === true);
    case 'timer':
      return onTimer(s, now);
    case 'advert':
      if (s.state === 'BACKUP') return backupRx(s, ev, now);
      if (s.state === 'MASTER') return masterRx(s, ev, now);
      return same(s); // keepalived ignores packets in INIT and FAULT
    case 'shutdown':
      return onShutdown(s);
    case 'fault':
      return onFault(s, ev.on, now);
    case 'priorityChange':
      return onPriority(s, ev.effective);
    case 'resign':
      return onResign(s, now);
    case 'resume':
      if (!s.resigned) return same(s);
      return { state: leaveResigned(s), actions: [{ type: 'log', level: 'info', message: 'resignation ended: preempting again' }] };
    case 'sync':
      // Sync group members move together: a BACKUP follows a member to MASTER, a MASTER follows one back.
      if (ev.state === 'MASTER' && s.state === 'BACKUP') return toMaster({ ...s, nextMasterReason: 'preempted' }, now);
      if (ev.state === 'BACKUP' && s.state === 'MASTER') return toBackup(s, now, [{ type: 'leaveMaster' }]);
      return same(s);
    default:
      return same(s);
  }
}

/**
 * RFC 5798 §6.4.1 Initialize. keepalived 2.2 (vrrp_init_state): only the
 * address owner goes MASTER at once (its Master_Down_Timer is 1 µs); every
 * other instance — `state MASTER` included — enters BACKUP with a full
 * Master_Down_Interval and takes over only if no better advert arrives.
 */
function onStartup(s: VrrpFsmState, now: number, holdsVips: boolean): StepResult {
  if (s.state !== 'INIT') return same(s);
  if (s.faulted) return toFault(s);
  if (isOwner(s)) return toMaster({ ...s, nextMasterReason: 'preempted' }, now);
  // haldir, not keepalived: a restart after a crash resumes a mastership the node still
  // holds. Waiting Master_Down_Interval as BACKUP (and dropping the VIPs, as keepalived
  // does) lets a peer, whose timer has been running since the crash, take over first: a
  // failover for a restart that took less than a second. Resuming is safe: a higher
  // priority master's next advert makes us yield as usual (§6.4.3). Not with nopreempt or
  // preempt_delay: a node that must not preempt must not resume either.
  if (holdsVips && !s.cfg.nopreempt && s.cfg.preemptDelayUs === 0) {
    return toMaster({ ...s, nextMasterReason: 'preempted' }, now, [
      { type: 'log', level: 'info', message: 'the VIPs are still on the interface (a previous run did not remove them): resuming as MASTER' },
    ]);
  }
  return toBackup(s, now);
}

function onTimer(s: VrrpFsmState, now: number): StepResult {
  if (s.state === 'BACKUP' && s.masterDownAt !== undefined && now >= s.masterDownAt) {
    // RFC 5798 §6.4.2: Master_Down_Timer fired → Master (nopreempt does not stop this).
    return toMaster(s, now);
  }
  if (s.state === 'MASTER' && s.nextAdvertAt !== undefined && now >= s.nextAdvertAt) {
    // RFC 5798 §6.4.3: Adver_Timer fired → send an advert, re-arm.
    return {
      state: { ...s, nextAdvertAt: now + usOfCs(s.cfg.advertIntCs) },
      actions: [{ type: 'sendAdvert', priority: s.effectivePriority, intervalCs: s.cfg.advertIntCs }],
    };
  }
  return same(s);
}

/** RFC 5798 §6.4.2 Backup, with keepalived's preempt / nopreempt / preempt_delay (vrrp_state_backup). */
function backupRx(s: VrrpFsmState, ev: { priority: number; intervalCs: number; src: string }, now: number): StepResult {
  if (ev.priority === PRIO_STOP) {
    // The master is stopping: take over after Skew_Time only.
    return { state: { ...s, masterDownAt: now + skewUs(s), nextMasterReason: 'priority' }, actions: [] };
  }
  const ours = s.effectivePriority;
  const delayRunning = s.cfg.preemptDelayUs > 0 && (s.preemptAt === undefined || s.preemptAt > now);
  if (s.cfg.nopreempt || s.resigned || ev.priority >= ours || delayRunning) {
    // Accept this master: v3 adopts its interval (RFC 5798 §6.4.2), reset the Master_Down_Timer.
    const n: Mutable<VrrpFsmState> = { ...s, masterAddr: ev.src, masterPriority: ev.priority, nextMasterReason: 'masterNoResponse' };
    if (s.cfg.version === 3 && ev.intervalCs > 0) n.masterAdverIntCs = ev.intervalCs;
    n.masterDownAt = now + masterDownUs(n);
    if (s.cfg.preemptDelayUs > 0) {
      if (ev.priority >= ours) delete n.preemptAt;
      else if (n.preemptAt === undefined) n.preemptAt = now + s.cfg.preemptDelayUs;
    }
    return { state: n, actions: [] };
  }
  // Lower priority and we preempt: ignore the advert; the timer keeps running so we take over at master_down.
  return {
    state: { ...s, masterAddr: ev.src, nextMasterReason: 'preempted' },
    actions: [{ type: 'log', level: 'info', message: `received lower priority (${ev.priority}) advert from ${ev.src} - discarding` }],
  };
}

/** RFC 5798 §6.4.3 Master, as keepalived vrrp_state_master_rx. */
function masterRx(s: VrrpFsmState, ev: { priority: number; intervalCs: number; src: string }, now: number): StepResult {
  const ours = s.effectivePriority;
  const cmp = s.cfg.localAddress === undefined ? 0 : compareIp(ev.src, s.cfg.localAddress, s.cfg.family);
  const advert = (): VrrpAction => ({ type: 'sendAdvert', priority: ours, intervalCs: s.cfg.advertIntCs });
  const rearmed = { ...s, nextAdvertAt: now + usOfCs(s.cfg.advertIntCs) };

  if (ev.priority === PRIO_STOP) {
    // Another router is stopping: advertise at once so backups do not take over after skew.
    return { state: rearmed, actions: [advert()] };
  }
  const higher = ev.priority > ours || (ev.priority === ours && cmp > 0);
  if (higher) {
    // Yield: v3 adopts the new master's interval for our Master_Down_Timer.
    const n: Mutable<VrrpFsmState> = { ...s, masterAddr: ev.src, masterPriority: ev.priority };
    if (s.cfg.version === 3 && ev.intervalCs > 0) n.masterAdverIntCs = ev.intervalCs;
    const pre: VrrpAction[] = s.cfg.higherPrioSendAdvert ? [advert()] : [];
    pre.push({ type: 'leaveMaster' });
    return toBackup(n, now, pre);
  }
  if (ev.priority === ours && cmp === 0) {
    return { state: s, actions: [{ type: 'log', level: 'warn', message: `equal priority advert from ${ev.src}, which is our own address` }] };
  }
  // Lower priority (or equal from a lower address): stay MASTER and, like keepalived, advertise at once
  // so the other router falls back without waiting for our next advert.
  const actions: VrrpAction[] = [];
  if (!s.cfg.lowerPrioNoAdvert) actions.push(advert());
  actions.push({ type: 'masterRxLowerPri', priority: ev.priority, src: ev.src });
  return { state: s.cfg.lowerPrioNoAdvert ? s : rearmed, actions };
}

/**
 * Planned failover (haldir; keepalived has none). A MASTER leaves as at Shutdown — a
 * priority-0 advert (RFC 5798 §6.4.3), so the backups take over after Skew_Time, the
 * highest first (§6.4.2) — but stays in the protocol as a resigned BACKUP: it accepts
 * the lower-priority master rather than preempt it back, and still takes over if that
 * master falls silent (Master_Down_Timer). A BACKUP just stops preempting.
 */
function onResign(s: VrrpFsmState, now: number): StepResult {
  if (s.state === 'MASTER') {
    return toBackup({ ...s, resigned: true }, now, [{ type: 'sendAdvert', priority: PRIO_STOP, intervalCs: s.cfg.advertIntCs }, { type: 'leaveMaster' }]);
  }
  if (s.state === 'BACKUP' && !s.resigned) return { state: { ...s, resigned: true }, actions: [] };
  return same(s);
}

function leaveResigned(s: VrrpFsmState): VrrpFsmState {
  const n: Mutable<VrrpFsmState> = { ...s };
  delete n.resigned;
  return n;
}

/** keepalived stop: a master sends priority 0 (RFC 5798 §6.4.3 Shutdown) and removes its VIPs. */
function onShutdown(s: VrrpFsmState): StepResult {
  const n = leaveTimers(s);
  n.state = 'STOP';
  const pre: VrrpAction[] =
    s.state === 'MASTER'
      ? [{ type: 'sendAdvert', priority: PRIO_STOP, intervalCs: s.cfg.advertIntCs }, { type: 'leaveMaster' }]
      : [];
  return { state: n, actions: [...pre, { type: 'notify', state: 'STOP' }] };
}

function onFault(s: VrrpFsmState, on: boolean, now: number): StepResult {
  if (on === s.faulted) return same(s);
  if (on) {
    const flagged = { ...s, faulted: true };
    return s.state === 'BACKUP' || s.state === 'MASTER' ? toFault(flagged) : same(flagged);
  }
  const n: Mutable<VrrpFsmState> = { ...s, faulted: false, masterAdverIntCs: s.cfg.advertIntCs };
  if (s.state !== 'FAULT') return same(n);
  // Leaving FAULT is a fresh Startup (RFC 5798 §6.4.1): the owner goes MASTER, others BACKUP.
  if (isOwner(s)) return toMaster({ ...n, nextMasterReason: 'preempted' }, now);
  return toBackup(n, now);
}

/**
 * keepalived vrrp_set_effective_priority: the owner's priority never moves;
 * others are clamped to 1–254. In BACKUP the pending Master_Down deadline
 * moves by the change of Skew_Time, the only term that depends on priority.
 */
function onPriority(s: VrrpFsmState, effective: number): StepResult {
  if (isOwner(s) || !Number.isFinite(effective)) return same(s);
  const p = Math.min(PRIO_OWNER - 1, Math.max(1, Math.round(effective)));
  if (p === s.effectivePriority) return same(s);
  const n: Mutable<VrrpFsmState> = { ...s, effectivePriority: p };
  if (s.state === 'BACKUP' && s.masterDownAt !== undefined) n.masterDownAt = s.masterDownAt + skewUs(n) - skewUs(s);
  return { state: n, actions: [{ type: 'priorityChanged', priority: p }] };
}
