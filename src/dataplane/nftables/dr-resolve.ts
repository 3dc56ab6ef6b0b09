// DR destinations → L2 paths, from the kernel: a real server that is one of this host's
// own addresses is served by the local stack (the seed's directors are also real
// servers); any other must be on-link, and its MAC comes from the neighbour table,
// resolved by the kernel when missing (netlink/neigh.ts).
import { Rtnetlink } from '../../netlink/rtnetlink.js';
import { resolveMac } from '../../netlink/neigh.js';
import { canonicalIp } from '../../vrrp/addr.js';
import type { DrResolver } from './index.js';
import type { DrPath } from './render.js';

export function kernelDrResolver(opts: { timeoutMs?: number } = {}): DrResolver {
  return {
    async resolve(dests) {
      const out = new Map<string, DrPath | Error>();
      const rtnl = Rtnetlink.open();
      try {
        const local = new Set(rtnl.dumpAddresses().map((a) => canonicalIp(a.address, a.family === 'inet' ? 4 : 6) ?? a.address));
        const links = new Map(rtnl.dumpLinks().map((l) => [l.ifindex, l]));
        await Promise.all(
          dests.map(async ({ address, family }) => {
            if (local.has(canonicalIp(address, family) ?? address)) {
              out.set(address, { kind: 'local' });
              return;
            }
            try {
              const r = await resolveMac(rtnl, address, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
              const link = links.get(r.ifindex);
              if (!link || !link.mac) throw new Error(`interface ${r.ifindex} towards ${address} has no MAC address: DR needs an Ethernet interface`);
              out.set(address, { kind: 'mac', ifname: link.name, ownMac: link.mac, mac: r.mac });
            } catch (e) {
              out.set(address, e as Error);
            }
          }),
        );
      } finally {
        rtnl.close();
      }
      return out;
    },
  };
}
