// Desired vs actual IPVS table → the generic netlink commands that make the kernel equal
// to desired, and the changes in the operator's words. Pure.
//
// IPVS has no transactions: each command is atomic on its own (one service or one
// destination), so the order keeps traffic flowing while it runs: new services (each
// with its destinations), service edits, new destinations (capacity first), weight and
// forwarding edits, then removals of destinations, then of services (a deleted service takes its destinations
// with it, so those are not deleted one by one). A service that only changes its
// scheduler or flags is edited in place (IPVS_CMD_SET_SERVICE), never re-created:
// connections and counters survive.
import type { Change } from '../types.js';
import { FWD, protoName, SVC_F_USER, TUN_TYPE, type IpvsDest, type IpvsService } from './codec.js';
import { FWD_NAME, type IpvsEntry, type IpvsTable } from './objects.js';

export type IpvsOp =
  | { cmd: 'add-service' | 'edit-service'; key: string; svc: IpvsService }
  | { cmd: 'del-service'; key: string; svc: IpvsService }
  | { cmd: 'add-dest' | 'edit-dest' | 'del-dest'; key: string; svc: IpvsService; dest: IpvsDest };

export interface IpvsDiff {
  ops: IpvsOp[];
  changes: Change[];
  /** Services in the kernel that are not haldir's (left alone), by key. */
  foreign: string[];
}

export interface DiffOptions {
  /** What haldir last wrote: a difference where it equals desired was made behind haldir's back (drift). */
  expected?: IpvsTable | undefined;
  /** Whether a service in the kernel that haldir does not want is haldir's to delete. */
  owned?: (key: string) => boolean;
}

function sameService(a: IpvsService, b: IpvsService): boolean {
  return a.scheduler === b.scheduler && (a.flags & SVC_F_USER) === (b.flags & SVC_F_USER) && a.timeout === b.timeout && a.netmask >>> 0 === b.netmask >>> 0 && (a.pe ?? '') === (b.pe ?? '');
}

function sameDest(a: IpvsDest, b: IpvsDest): boolean {
  if (a.fwd !== b.fwd || a.weight !== b.weight || a.uThreshold !== b.uThreshold || a.lThreshold !== b.lThreshold) return false;
  if (a.fwd !== FWD.TUNNEL) return true; // tunnel settings mean nothing for NAT/DR
  if (a.tunType !== b.tunType) return false;
  if (a.tunType === TUN_TYPE.gue && a.tunPort !== b.tunPort) return false;
  return a.tunType === TUN_TYPE.ipip || a.tunFlags === b.tunFlags;
}

const TUN_NAME = ['ipip', 'gue', 'gre'];

/** A destination's settings as ipvsadm would name them: `Route 1`, `Tunnel gue:6080 1`. */
function destText(d: IpvsDest): string {
  const fwd = FWD_NAME[d.fwd] ?? `fwd ${d.fwd}`;
  const tun = d.fwd === FWD.TUNNEL && d.tunType !== TUN_TYPE.ipip ? ` ${TUN_NAME[d.tunType] ?? d.tunType}${d.tunType === TUN_TYPE.gue ? `:${d.tunPort}` : ''}` : '';
  const thr = d.uThreshold || d.lThreshold ? ` thresholds ${d.uThreshold}/${d.lThreshold}` : '';
  return `${fwd}${tun} weight ${d.weight}${thr}`;
}

function destChange(a: IpvsDest, d: IpvsDest): string {
  if (sameDest({ ...a, weight: d.weight }, d)) return `weight ${a.weight} -> ${d.weight}`;
  return `${destText(a)} -> ${destText(d)}`;
}

function serviceText(s: IpvsService): string {
  const parts = [s.scheduler];
  if (s.flags & SVC_F_USER) parts.push(`flags 0x${(s.flags & SVC_F_USER).toString(16)}`);
  if (s.timeout) parts.push(`persistent ${s.timeout}`);
  if (s.pe) parts.push(`pe ${s.pe}`);
  return parts.join(' ');
}

export const serviceObject = (key: string): string => `service ${key}`;
export const destObject = (key: string, dk: string): string => `dest ${key} -> ${dk}`;

/** The commands and changes that turn `actual` into `desired`. */
export function diffIpvs(desired: ReadonlyMap<string, IpvsEntry>, actual: IpvsTable, o: DiffOptions = {}): IpvsDiff {
  const addSvc: IpvsOp[] = [];
  const editSvc: IpvsOp[] = [];
  const addDest: IpvsOp[] = [];
  const editDest: IpvsOp[] = [];
  const delDest: IpvsOp[] = [];
  const delSvc: IpvsOp[] = [];
  const changes: Change[] = [];
  const foreign: string[] = [];
  const exp = o.expected;

  for (const [key, d] of desired) {
    const a = actual.get(key);
    const e = exp?.get(key);
    if (!a) {
      addSvc.push({ cmd: 'add-service', key, svc: d.svc });
      for (const dest of d.dests.values()) addSvc.push({ cmd: 'add-dest', key, svc: d.svc, dest });
      // haldir wrote it (the record says so) and it is gone: removed behind haldir's back.
      const drift = !!e;
      changes.push({ op: 'add', object: serviceObject(key), detail: drift ? 'service missing (removed behind haldir\'s back)' : `${serviceText(d.svc)}, ${d.dests.size} destination(s)`, ...(drift ? { drift } : {}) });
      for (const [dk, dest] of d.dests) changes.push({ op: 'add', object: destObject(key, dk), detail: destText(dest), ...(drift ? { drift } : {}) });
      continue;
    }
    if (!sameService(a.svc, d.svc)) {
      editSvc.push({ cmd: 'edit-service', key, svc: d.svc });
      const drift = !!e && sameService(e.svc, d.svc);
      changes.push({ op: 'update', object: serviceObject(key), detail: drift ? `${serviceText(a.svc)} (changed behind haldir's back) -> ${serviceText(d.svc)}` : `${serviceText(a.svc)} -> ${serviceText(d.svc)}`, ...(drift ? { drift } : {}) });
    }
    for (const [dk, dest] of d.dests) {
      const ad = a.dests.get(dk);
      const ed = e?.dests.get(dk);
      if (!ad) {
        addDest.push({ cmd: 'add-dest', key, svc: d.svc, dest });
        const drift = !!ed && sameDest(ed, dest);
        changes.push({ op: 'add', object: destObject(key, dk), detail: drift ? 'destination missing (removed behind haldir\'s back)' : destText(dest), ...(drift ? { drift } : {}) });
      } else if (!sameDest(ad, dest)) {
        editDest.push({ cmd: 'edit-dest', key, svc: d.svc, dest });
        const drift = !!ed && sameDest(ed, dest);
        changes.push({ op: 'update', object: destObject(key, dk), detail: destChange(ad, dest), ...(drift ? { drift } : {}) });
      }
    }
    for (const [dk, ad] of a.dests) {
      if (d.dests.has(dk)) continue;
      delDest.push({ cmd: 'del-dest', key, svc: d.svc, dest: ad });
      // Added behind haldir's back: haldir wrote this service and this destination was not in it.
      const drift = !!e && !e.dests.has(dk);
      changes.push({ op: 'delete', object: destObject(key, dk), detail: drift ? `${destText(ad)} (added behind haldir's back)` : `was ${destText(ad)}`, ...(drift ? { drift } : {}) });
    }
  }
  for (const [key, a] of actual) {
    if (desired.has(key)) continue;
    if (!(o.owned?.(key) ?? true)) {
      foreign.push(key);
      continue;
    }
    delSvc.push({ cmd: 'del-service', key, svc: a.svc });
    changes.push({ op: 'delete', object: serviceObject(key), detail: `was ${serviceText(a.svc)}, ${a.dests.size} destination(s)` });
  }
  return { ops: [...addSvc, ...editSvc, ...addDest, ...editDest, ...delDest, ...delSvc], changes, foreign };
}

/** The service part of a key for messages: `TCP 10.0.0.1:80`-like text of a kernel service. */
export function describeService(s: IpvsService): string {
  return s.fwmark ? `FWM ${s.fwmark}${s.af === 6 ? ' IPv6' : ''}` : `${protoName(s.protocol).toUpperCase()} ${s.af === 6 ? `[${s.address}]` : s.address}:${s.port}`;
}
