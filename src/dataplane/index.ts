// The data planes and how one is chosen. See README.md in this folder.
import { existsSync } from 'node:fs';
import { kernelDrResolver } from './nftables/dr-resolve.js';
import { NftablesDataplane, type Logger } from './nftables/index.js';
import { createUserspaceDataplane } from './userspace/index.js';
import type { Dataplane, DataplaneKind } from './types.js';

export type { Dataplane, DataplaneKind } from './types.js';

export function createDataplane(kind: DataplaneKind, opts: { log?: Logger; table?: string; masquerade?: boolean } = {}): Dataplane {
  switch (kind) {
    case 'nftables':
      return new NftablesDataplane({ ...opts, dr: kernelDrResolver() });
    case 'userspace':
      return createUserspaceDataplane(opts.log ? { log: opts.log } : {});
    case 'ipvs':
      throw new Error('the ipvs data plane is not built yet; use --dataplane nftables or userspace');
  }
}

/** `auto`: IPVS where the kernel has it (not yet built), else nftables as root, else userspace; with the reason. */
export function chooseDataplane(): { kind: DataplaneKind; why: string } {
  const root = process.getuid?.() === 0;
  const nft = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some((p) => existsSync(p));
  // The kernel has IPVS when /proc/net/ip_vs exists (module loaded or built in).
  const ipvs = existsSync('/proc/net/ip_vs') ? '; the kernel has IPVS, but haldir has no IPVS data plane yet (--dataplane ipvs is refused)' : '';
  if (root && nft) return { kind: 'nftables', why: `running as root and nft is installed${ipvs}` };
  if (!root) return { kind: 'userspace', why: 'not running as root: kernel data planes need CAP_NET_ADMIN' };
  return { kind: 'userspace', why: 'nft is not installed (apt install nftables)' };
}
