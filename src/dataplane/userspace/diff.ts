// What a reconcile of the userspace proxy has to do: the running services against
// the desired ones, as operations per service, each with its changes in the
// operator's words. Pure: nothing here touches a socket.
import type { VirtualServer } from '../../model/types.js';
import type { Change, DesiredDest, DesiredService } from '../types.js';
import { hostPort } from './errors.js';
import { flagNames } from './select.js';
import type { ServiceRuntime } from './service.js';

export type ServiceOp =
  /** Close the listener; open flows finish. */
  | { kind: 'delete'; svc: ServiceRuntime; changes: Change[] }
  /** Open a listener and install the destinations. */
  | { kind: 'add'; desired: DesiredService; host: string; changes: Change[] }
  /** Listen again (bind address changed, or the listener stopped), then update in place. */
  | { kind: 'restart'; svc: ServiceRuntime; desired: DesiredService; host: string; reschedule: boolean; changes: Change[] }
  /** Destinations, weights or scheduler changed: in place, the listener stays. */
  | { kind: 'update'; svc: ServiceRuntime; desired: DesiredService; reschedule: boolean; changes: Change[] };

const flagText = (vs: VirtualServer): string => flagNames(vs).join(',') || 'none';

export function listenText(svc: { protocol: string; host: string; port: number }): string {
  return `${svc.protocol} ${hostPort(svc.host, svc.port)}`;
}

/** The desired destinations, first of each key. */
export function uniqueDests(dests: readonly DesiredDest[]): DesiredDest[] {
  const seen = new Set<string>();
  return dests.filter((d) => !seen.has(d.key) && Boolean(seen.add(d.key)));
}

/** Changes that turn the destinations of `svc` (none when it is new) into `desired`. */
export function destChanges(vk: string, svc: ServiceRuntime | undefined, desired: readonly DesiredDest[]): Change[] {
  const out: Change[] = [];
  const obj = (key: string): string => `dest ${vk} -> ${key}`;
  const want = new Map(uniqueDests(desired).map((d) => [d.key, d]));
  const have = new Map((svc?.dests ?? []).map((d) => [d.key, d]));
  for (const d of svc?.dests ?? []) {
    if (want.has(d.key)) continue;
    const c: Change = { op: 'delete', object: obj(d.key) };
    if (d.active) c.detail = `${d.active} open connection${d.active === 1 ? '' : 's'} continue`;
    out.push(c);
  }
  for (const w of want.values()) {
    const h = have.get(w.key);
    if (!h) {
      out.push({ op: 'add', object: obj(w.key), detail: `weight ${w.weight}${w.sorry ? ', sorry server' : ''}` });
      continue;
    }
    const parts: string[] = [];
    if (h.weight !== w.weight) parts.push(`weight ${h.weight} -> ${w.weight}`);
    if (h.forwarding.kind !== w.forwarding.kind) parts.push(`forwarding ${h.forwarding.kind} -> ${w.forwarding.kind}`);
    if (h.sorry !== Boolean(w.sorry)) parts.push(w.sorry ? 'now the sorry server' : 'no longer the sorry server');
    if (parts.length) out.push({ op: 'update', object: obj(w.key), detail: parts.join(', ') });
  }
  return out;
}

/**
 * Operations that make `running` equal to `desired` (already stripped of what the
 * userspace plane cannot program): deletes first, so that their ports are free for
 * the adds. Services with nothing to change get no operation.
 */
export function planReconcile(
  running: ReadonlyMap<string, ServiceRuntime>,
  desired: readonly DesiredService[],
  bindHost: (vs: VirtualServer) => string,
): ServiceOp[] {
  const want = new Map(desired.map((d) => [d.vsKey, d]));
  const ops: ServiceOp[] = [];
  for (const [vk, svc] of running) {
    if (want.has(vk)) continue;
    const n = svc.listener?.flows() ?? 0;
    ops.push({
      kind: 'delete',
      svc,
      changes: [{ op: 'delete', object: `service ${vk}`, detail: n ? `listener closed, ${n} open connection${n === 1 ? '' : 's'} continue` : 'listener closed' }],
    });
  }
  for (const ds of want.values()) {
    const vk = ds.vsKey;
    const host = bindHost(ds.vs);
    const svc = running.get(vk);
    if (!svc) {
      const a = ds.vs.address;
      const port = a.kind === 'ip' ? a.port : 0;
      const n = uniqueDests(ds.dests).length;
      ops.push({
        kind: 'add',
        desired: ds,
        host,
        changes: [
          {
            op: 'add',
            object: `service ${vk}`,
            detail: `listen ${listenText({ protocol: ds.vs.protocol.toLowerCase(), host, port })}, scheduler ${ds.vs.scheduler}, ${n} dest${n === 1 ? '' : 's'}`,
          },
          ...destChanges(vk, undefined, ds.dests),
        ],
      });
      continue;
    }
    const parts: string[] = [];
    if (svc.vs.scheduler !== ds.vs.scheduler) parts.push(`scheduler ${svc.vs.scheduler} -> ${ds.vs.scheduler}`);
    else if (flagText(svc.vs) !== flagText(ds.vs)) parts.push(`flags ${flagText(svc.vs)} -> ${flagText(ds.vs)}`);
    const dead = !svc.listener?.alive;
    const moved = svc.host !== host;
    const changes: Change[] = [];
    if (dead || moved) {
      const why = moved
        ? `listen ${listenText(svc)} -> ${listenText({ ...svc, host })}`
        : `listener had stopped (${svc.listener?.deathReason ?? 'not listening'}): listen ${listenText(svc)} again`;
      const c: Change = { op: 'update', object: `service ${vk}`, detail: [why, ...parts].join(', ') };
      if (dead && !moved) c.drift = true;
      changes.push(c);
    } else if (parts.length) {
      changes.push({ op: 'update', object: `service ${vk}`, detail: parts.join(', ') });
    }
    changes.push(...destChanges(vk, svc, ds.dests));
    const reschedule = parts.length > 0;
    if (dead || moved) ops.push({ kind: 'restart', svc, desired: ds, host, reschedule, changes });
    else if (changes.length) ops.push({ kind: 'update', svc, desired: ds, reschedule, changes });
  }
  return ops;
}
