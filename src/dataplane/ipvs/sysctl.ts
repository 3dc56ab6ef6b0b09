// The net.ipv4.vs.* sysctls a configuration implies (pure), and reading/writing them
// under /proc/sys (the thin part). They are per network namespace and exist once the
// ip_vs module is loaded. haldir only raises them to 1 where the configuration needs
// it and never lowers one an operator set. See README.md ("IPVS sysctls") for why each.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LvsGlobals } from '../../model/types.js';
import type { Change, DesiredService } from '../types.js';

export type IpvsSysctl = 'conntrack' | 'expire_nodest_conn' | 'expire_quiescent_template' | 'sloppy_tcp' | 'sloppy_sctp';

export interface SysctlWant {
  name: IpvsSysctl;
  value: number;
  why: string;
}

/** Which IPVS sysctls the desired table (and the global lvs settings) need set to 1, and why. */
export function impliedSysctls(desired: readonly DesiredService[], lvs?: Pick<LvsGlobals, 'syncDaemon'>): SysctlWant[] {
  if (desired.length === 0) return [];
  let nat = false;
  let persistent = false;
  let hashTcp = false;
  let hashSctp = false;
  for (const ds of desired) {
    const vs = ds.vs;
    if (vs.persistenceTimeout) persistent = true;
    if (ds.dests.some((d) => d.forwarding.kind === 'NAT') || (ds.dests.length === 0 && vs.forwarding.kind === 'NAT')) nat = true;
    if (vs.scheduler === 'mh' || vs.scheduler === 'sh') {
      if (vs.protocol === 'SCTP') hashSctp = true;
      else if (vs.protocol === 'TCP' || vs.address.kind === 'fwmark') hashTcp = true;
    }
  }
  const out: SysctlWant[] = [
    { name: 'expire_nodest_conn', value: 1, why: 'a removed real server\'s connections end at their next packet instead of hanging until they time out' },
  ];
  if (nat) out.push({ name: 'conntrack', value: 1, why: 'NAT services: the director\'s netfilter (stateful firewall, SNAT) sees IPVS connections as the tracked flows they are' });
  if (persistent) out.push({ name: 'expire_quiescent_template', value: 1, why: 'persistence: clients of a real server at weight 0 (failed, inhibited, draining) are sent elsewhere instead of back to it' });
  if (!lvs?.syncDaemon) {
    if (hashTcp) out.push({ name: 'sloppy_tcp', value: 1, why: 'sh/mh without a sync daemon: after a takeover a connection\'s next packet (not a SYN) is scheduled to the same server by hashing' });
    if (hashSctp) out.push({ name: 'sloppy_sctp', value: 1, why: 'sh/mh SCTP without a sync daemon: connections survive a takeover as for TCP' });
  }
  return out;
}

export const SYSCTL_DIR = '/proc/sys/net/ipv4/vs';

/**
 * Raises the wanted sysctls that are below their value; returns the changes (`dryRun`:
 * what it would change). A sysctl the kernel lacks (an old kernel) is reported, not fatal.
 */
export function applySysctls(wants: readonly SysctlWant[], o: { dir?: string; dryRun?: boolean } = {}): { changes: Change[]; errors: string[] } {
  const dir = o.dir ?? SYSCTL_DIR;
  const changes: Change[] = [];
  const errors: string[] = [];
  for (const w of wants) {
    const file = join(dir, w.name);
    let cur: number;
    try {
      cur = Number(readFileSync(file, 'utf8').trim());
    } catch (e) {
      errors.push(`sysctl net.ipv4.vs.${w.name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${w.why}; this kernel may not have it)`);
      continue;
    }
    if (cur >= w.value) continue;
    if (!o.dryRun) {
      try {
        writeFileSync(file, `${w.value}\n`);
      } catch (e) {
        errors.push(`sysctl net.ipv4.vs.${w.name}=${w.value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        continue;
      }
    }
    changes.push({ op: 'update', object: `sysctl net.ipv4.vs.${w.name}`, detail: `${cur} -> ${w.value}: ${w.why}` });
  }
  return { changes, errors };
}
