// haldir's nftables tables, as the kernel has them → ServiceStats (for `dataplane show`).
// Everything needed is in the kernel: chain names carry the service and destination
// (render.ts vsChainName/rsChainName; nft's JSON omits chain comments), rule comments
// the scheduler and weights, counters the traffic. So `show` needs no
// running daemon and shows what is programmed, not what haldir believes.
import type { Family, Protocol } from '../../model/types.js';
import type { DestStats, ServiceStats } from '../types.js';
import type { NftState } from './objects.js';
import type { Counter } from './parse.js';

// vs/tcp/10.0.0.1/80, vs/fwm/5/4, then /<dest address>/<port> for a destination.
const VS_NAME = /^vs\/(tcp|udp|sctp)\/([0-9a-f._]+)\/(\d+)$/;
const FWM_NAME = /^vs\/fwm\/(\d+)\/([46])$/;
const RS_NAME = /^(vs\/.+)\/([0-9a-f._]+)\/(\d+)$/;
const unname = (a: string): string => a.replace(/_/g, ':');

const note = (tag: string | undefined): string[] => (tag ?? '').split(' ').slice(1);

/** `elemCounters`: `family set` → element key → counter (the NAT table's @rs_stats). */
export function statsFromKernel(state: NftState, counters: Map<string, Counter>, elemCounters: Map<string, Map<string, Counter>> = new Map()): ServiceStats[] {
  const out: ServiceStats[] = [];
  for (const t of state.values()) {
    const dr = t.family === 'netdev';
    const byVs = new Map<string, ServiceStats>();
    for (const c of t.chains.values()) {
      const words = note(c.tags[0]);
      const sched = words[0] ?? '?';
      const flags = words.filter((w) => /^(sh-port|sh-fallback|mh-port|mh-fallback)$/.test(w));
      if (words.includes('+port') && sched === 'mh') flags.push('mh-port');
      const cnt = counters.get(`${t.family} ${c.name}`);
      let m = VS_NAME.exec(c.name);
      let s: ServiceStats;
      if (m) {
        const a = unname(m[2]!);
        const addr = a.includes(':') ? `[${a}]` : a;
        s = { vsKey: `${m[1]}:[${a}]:${m[3]}`, protocol: m[1]!.toUpperCase() as Protocol, address: `${addr}:${m[3]}`, scheduler: sched, flags, dests: [] };
      } else if ((m = FWM_NAME.exec(c.name))) {
        s = { vsKey: `fwmark:${m[1]}:${m[2]}`, protocol: 'TCP', address: `FWM ${m[1]}`, scheduler: sched, flags, dests: [] };
      } else continue;
      if (cnt) {
        if (dr) {
          s.packets = cnt.packets;
          s.bytes = cnt.bytes;
        } else s.conns = cnt.packets; // a nat chain sees each connection's first packet only
      }
      byVs.set(c.name, s);
      out.push(s);
    }
    if (!dr) {
      // NAT: destinations and weights from @dests / @fwm_dests, connections from @rs_stats.
      const fam: Family = t.family === 'ip6' ? 6 : 4;
      const conns = elemCounters.get(`${t.family} rs_stats`);
      const add = (s: ServiceStats | undefined, vip: string | undefined, addr: string, port: string, weight: string): void => {
        if (!s) return;
        const d: DestStats = { key: `[${addr}]:${port}`, address: addr, family: fam, port: Number(port), weight: Number(weight), forwarding: 'Masq' };
        if (vip !== undefined) d.conns = conns?.get(`${vip} . ${addr} . ${port}`)?.packets ?? 0;
        s.dests.push(d);
      };
      const byKey = new Map([...byVs.values()].map((s) => [s.vsKey, s]));
      for (const [k, w] of t.maps.get('dests')?.elements ?? []) {
        const [vip, proto, vport, addr, port] = k.split(' . ');
        add(byKey.get(`${proto}:[${vip}]:${vport}`), vip, addr!, port!, w);
      }
      for (const [k, w] of t.maps.get('fwm_dests')?.elements ?? []) {
        const [mark, addr, port] = k.split(' . ');
        add(byKey.get(`fwmark:${mark}:${fam}`), undefined, addr!, port!, w);
      }
      continue;
    }
    for (const c of t.chains.values()) {
      const m = RS_NAME.exec(c.name);
      const s = m ? byVs.get(m[1]!) : undefined;
      if (!s || !m) continue;
      const words = note(c.tags[0]);
      const w = words.find((x) => x.startsWith('w='));
      const address = unname(m[2]!);
      const d: DestStats = {
        key: `[${address}]:${m[3]}`,
        address,
        family: (address.includes(':') ? 6 : 4) as Family,
        port: Number(m[3]),
        weight: w ? Number(w.slice(2)) : 0,
        forwarding: dr ? 'Route' : 'Masq',
      };
      const cnt = counters.get(`${t.family} ${c.name}`);
      if (cnt) {
        if (dr) {
          d.packets = cnt.packets;
          d.bytes = cnt.bytes;
        } else d.conns = cnt.packets;
      }
      s.dests.push(d);
    }
  }
  return out;
}
