// The data planes and how one is chosen. See README.md in this folder.
import { existsSync } from 'node:fs';
import { kernelDrResolver } from './nftables/dr-resolve.js';
import { NftablesDataplane, type Logger } from './nftables/index.js';
import { createUserspaceDataplane } from './userspace/index.js';
import { IpvsDataplane } from './ipvs/index.js';
import type { LvsGlobals, VirtualServerGroup } from '../model/types.js';
import type { Dataplane, DataplaneKind } from './types.js';

export type { Dataplane, DataplaneKind } from './types.js';

export function createDataplane(
  kind: DataplaneKind,
  opts: { log?: Logger; table?: string; masquerade?: boolean; groups?: readonly VirtualServerGroup[]; lvs?: LvsGlobals } = {},
): Dataplane {
  switch (kind) {
    case 'nftables':
      return new NftablesDataplane({ ...opts, dr: kernelDrResolver() });
    case 'userspace':
      return createUserspaceDataplane(opts.log ? { log: opts.log } : {});
    case 'ipvs':
      return new IpvsDataplane({ ...(opts.log ? { log: opts.log } : {}), ...(opts.groups ? { groups: opts.groups } : {}), ...(opts.lvs ? { lvs: opts.lvs } : {}) });
  }
}

/** `auto`: IPVS where the kernel has it, else nftables as root, else userspace; with the reason. */
export function chooseDataplane(): { kind: DataplaneKind; why: string } {
  const root = process.getuid?.() === 0;
  const nft = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some((p) => existsSync(p));
  // The kernel has IPVS when /proc/net/ip_vs exists (module loaded or built in). IPVS first:
  // it is what keepalived installations run, and it does what nftables cannot (every
  // scheduler incl. lc/wlc, TUN, persistence, fwmark DR, connection sync between directors).
  if (root && existsSync('/proc/net/ip_vs'))
    return { kind: 'ipvs', why: 'running as root and the kernel has IPVS (/proc/net/ip_vs): every scheduler, TUN, persistence and connection sync, as with keepalived' };
  if (root && nft) return { kind: 'nftables', why: 'running as root and nft is installed' };
  if (!root) return { kind: 'userspace', why: 'not running as root: kernel data planes need CAP_NET_ADMIN' };
  return { kind: 'userspace', why: 'nft is not installed (apt install nftables)' };
}
