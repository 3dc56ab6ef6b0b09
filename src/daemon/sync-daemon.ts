// keepalived's lvs_sync_daemon on the IPVS data plane: the connection-sync daemon follows
// the VRRP instance it names — MASTER runs the master daemon (it sends the connection
// table), anything else the backup daemon (it receives), so a takeover finds the
// connections already known. keepalived: `lvs_sync_daemon IFACE INSTANCE [id N] …`, the
// sync id defaulting to the instance's VRID. Pure: which daemon to run, which to stop.
import type { NodeModel } from '../model/types.js';
import type { IpvsDaemon } from '../dataplane/ipvs/codec.js';

export interface SyncPlan {
  /** Stopped first (in this order), then `start` started. */
  stop: IpvsDaemon['state'][];
  start?: IpvsDaemon;
}

/** The daemon to run for `instance` in `state`, or undefined when no sync daemon follows that instance. */
export function syncDaemonPlan(model: NodeModel, instance: string, state: string): SyncPlan | undefined {
  const d = model.global.lvs.syncDaemon;
  if (!d) return undefined;
  // Without an instance named, keepalived ties it to the first instance on that interface.
  const inst = model.vrrpInstances.find((i) => (d.instance !== undefined ? i.name === d.instance : i.interface === d.interface));
  if (!inst || inst.name !== instance) return undefined;
  // haldir stopping: no daemon is left behind (keepalived stops them at shutdown too).
  if (state === 'STOP') return { stop: ['master', 'backup'] };
  const master = state === 'MASTER';
  const start: IpvsDaemon = {
    state: master ? 'master' : 'backup',
    ifname: d.interface,
    syncId: d.syncId ?? inst.vrid,
    ...(d.maxLen !== undefined ? { maxLen: d.maxLen } : {}),
    ...(d.port !== undefined ? { port: d.port } : {}),
    ...(d.ttl !== undefined ? { ttl: d.ttl } : {}),
    ...(d.group !== undefined ? { group: d.group } : {}),
  };
  return { stop: [master ? 'backup' : 'master'], start };
}
