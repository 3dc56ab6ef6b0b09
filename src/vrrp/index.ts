// The pure VRRP core's entry points for the runtime: one instance context
// from the model, onPacket (decode → validate → step, composed so that a
// rejected packet can never move the state machine), onTimer, and the
// advertisement to put on the wire for a sendAdvert action. Still no I/O.
import type { VrrpInstance } from '../model/types.js';
import { canonicalIp } from './addr.js';
import { fsmConfigFromInstance, nextDeadline, step, type StepResult, type VrrpAction, type VrrpFsmConfig, type VrrpFsmState } from './fsm.js';
import { encode, type VrrpPacket } from './packet.js';
import { rxContextFromInstance, validateAdvert, type RxMeta, type RxResult, type StatsDelta, type VrrpRxContext } from './receive.js';

export * from './addr.js';
export * from './fsm.js';
export * from './packet.js';
export * from './receive.js';

/** Everything the core needs to know about one configured instance. */
export interface VrrpInstanceCtx {
  fsm: VrrpFsmConfig;
  rx: VrrpRxContext;
}

/**
 * Builds the context of an instance. `localAddress`: the primary address of
 * the instance's interface, the source of our adverts unless unicast_src_ip /
 * mcast_src_ip says otherwise; `mcastGroup`: global vrrp_mcast_group4/6.
 */
export function instanceCtx(inst: VrrpInstance, opts: { localAddress?: string; mcastGroup?: string } = {}): VrrpInstanceCtx {
  return { fsm: fsmConfigFromInstance(inst, opts.localAddress), rx: rxContextFromInstance(inst, opts.mcastGroup) };
}

export interface OnPacketResult extends StepResult {
  /** Counters to bump (receive validation plus what the actions did). */
  stats: StatsDelta;
  /** The validation verdict, for logging (rate-limit it). */
  rx: RxResult;
}

/**
 * One received packet: validated against the instance, and only if accepted
 * fed to the state machine as an advert event. A rejected packet returns the
 * very same state object and no actions. In INIT, FAULT and STOP the packet
 * is not even looked at (keepalived ignores packets in those states).
 */
export function onPacket(s: VrrpFsmState, ctx: VrrpInstanceCtx, raw: Uint8Array, meta: RxMeta, now: number): OnPacketResult {
  if (s.state !== 'BACKUP' && s.state !== 'MASTER') {
    return { state: s, actions: [], stats: {}, rx: { accept: false, reason: 'notListening', counters: {} } };
  }
  const rx = validateAdvert(ctx.rx, raw, meta, s.masterAddr);
  if (!rx.accept || !rx.packet) return { state: s, actions: [], stats: rx.counters, rx };
  const p = rx.packet;
  const intervalCs = p.version === 2 ? p.advertIntSec * 100 : p.maxAdvertIntCs;
  const src = canonicalIp(meta.src, ctx.rx.family) ?? meta.src;
  const r = step(s, { type: 'advert', priority: p.priority, intervalCs, src }, now);
  return { ...r, stats: mergeStats(rx.counters, countActions(r.actions)), rx };
}

/** A timer callback: steps the machine if its deadline has passed (early calls are no-ops). */
export function onTimer(s: VrrpFsmState, now: number): StepResult & { stats: StatsDelta } {
  const d = nextDeadline(s);
  const r = d === undefined || now < d.at ? { state: s, actions: [] } : step(s, { type: 'timer', kind: d.kind }, now);
  return { ...r, stats: countActions(r.actions) };
}

/** The counters a batch of actions implies (RFC 6527 MasterTransitions, SentPriZeroPackets). */
export function countActions(actions: readonly VrrpAction[]): StatsDelta {
  const d: StatsDelta = {};
  const bump = (k: keyof StatsDelta): void => {
    d[k] = (d[k] ?? 0) + 1;
  };
  for (const a of actions) {
    if (a.type === 'becomeMaster') bump('vrrpv3StatisticsMasterTransitions');
    if (a.type === 'sendAdvert') {
      bump('advertsSent');
      if (a.priority === 0) bump('vrrpv3StatisticsSentPriZeroPackets');
    }
  }
  return d;
}

export function mergeStats(a: StatsDelta, b: StatsDelta): StatsDelta {
  const out: StatsDelta = { ...a };
  for (const [k, v] of Object.entries(b) as [keyof StatsDelta, number][]) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The advertisement a sendAdvert action asks for, as a packet (RFC 3768 §5.3 / RFC 5798 §5.2). */
export function advertPacket(ctx: VrrpInstanceCtx, a: { priority: number; intervalCs: number }): VrrpPacket {
  const base = { type: 1, vrid: ctx.rx.vrid, priority: a.priority, addresses: [...ctx.rx.vips] };
  if (ctx.rx.version === 2) {
    return { version: 2, ...base, authType: ctx.rx.authType, advertIntSec: Math.max(1, Math.round(a.intervalCs / 100)), authData: new Uint8Array(ctx.rx.authData) };
  }
  return { version: 3, ...base, family: ctx.rx.family, reserved: 0, maxAdvertIntCs: a.intervalCs };
}

/**
 * The bytes of that advertisement (the IP payload), checksummed for `src` → `dst`.
 * v3_checksum_as_v2 applies to IPv4 only, as in keepalived (for IPv6 the
 * kernel computes the checksum when the socket sets IPV6_CHECKSUM).
 */
export function encodeAdvert(ctx: VrrpInstanceCtx, a: { priority: number; intervalCs: number }, src: string, dst: string): Uint8Array {
  return encode(advertPacket(ctx, a), { src, dst, checksumAsV2: ctx.rx.v3ChecksumAsV2 && ctx.rx.family === 4 });
}
