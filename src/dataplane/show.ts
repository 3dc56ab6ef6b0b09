// A data plane's table laid out as `ipvsadm -Ln` / `ipvsadm -Ln --stats` print IPVS's,
// so operators read every data plane the same way. Values a data plane cannot know
// (active connections of stateless DR, packets of a NAT nat-hook counter) print as "-".
import type { DestStats, ServiceStats } from './types.js';

const n = (v: number | undefined): string => (v === undefined ? '-' : String(v));

function endpoint(d: DestStats): string {
  const a = d.family === 6 ? `[${d.address}]` : d.address;
  return `${a}:${d.port ?? 0}`;
}

function serviceName(s: ServiceStats): string {
  return s.address.startsWith('FWM ') ? `FWM  ${s.address.slice(4)}` : `${s.protocol}  ${s.address}`;
}

export function renderTable(services: readonly ServiceStats[], opts: { stats?: boolean; title?: string } = {}): string {
  const L: string[] = [];
  if (opts.title) L.push(opts.title);
  if (opts.stats) {
    L.push('Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes');
    L.push('  -> RemoteAddress:Port');
    const row = (name: string, x: { conns?: number; packets?: number; bytes?: number; inBytes?: number; outBytes?: number }): string =>
      `${name} ${n(x.conns).padStart(8)} ${n(x.packets).padStart(8)} ${'-'.padStart(8)} ${n(x.inBytes ?? x.bytes).padStart(8)} ${n(x.outBytes).padStart(8)}`;
    for (const s of services) {
      L.push(row(serviceName(s).padEnd(33), s));
      for (const d of s.dests) L.push(row(`  -> ${endpoint(d).padEnd(28)}`, d));
    }
  } else {
    L.push('Prot LocalAddress:Port Scheduler Flags');
    L.push('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn');
    for (const s of services) {
      let line = `${serviceName(s)} ${s.scheduler}`;
      if (s.flags.length) line += ` (${s.flags.join(',')})`;
      if (s.persistent !== undefined) line += ` persistent ${s.persistent}`;
      L.push(line);
      for (const d of s.dests) {
        const fwd = d.draining ? `${d.forwarding}` : d.forwarding;
        L.push(`  -> ${endpoint(d).padEnd(28)} ${fwd.padEnd(7)} ${String(d.weight).padEnd(6)} ${n(d.activeConns).padEnd(10)} ${n(d.inactConns).padEnd(10)}`.trimEnd());
      }
    }
  }
  return `${L.join('\n')}\n`;
}
