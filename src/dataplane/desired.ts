// Desired data-plane state without health results: every real server up at its
// configured weight (`haldir apply`, and a daemon's first reconcile before any check ran
// is *not* this: the daemon uses health's desiredTable).
import { desiredTable, rsKey, vsKey, type ServiceStates } from '../health/server-state.js';
import type { NodeModel } from '../model/types.js';
import type { DesiredService } from './types.js';

export function allUpTable(model: NodeModel): DesiredService[] {
  const services: ServiceStates = {};
  for (const vs of model.virtualServers) {
    const servers: ServiceStates[string]['servers'] = {};
    for (const rs of vs.realServers) servers[rsKey(rs)] = { alive: true, weight: rs.weight, announced: true };
    services[vsKey(vs)] = { quorumUp: true, sorryIn: false, servers };
  }
  return desiredTable(model, services);
}
