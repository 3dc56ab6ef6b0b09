// What haldir asks of IPVS for a desired service: the kernel's services and
// destinations (codec.ts types) the way keepalived programs them (check/ipvswrapper.c
// ipvs_set_srule/ipvs_set_drule), and what IPVS cannot do for a configuration. Pure.
//
// - persistence_timeout sets IP_VS_SVC_F_PERSISTENT with the timeout; the netmask is
//   persistence_granularity (IPv4 dotted mask, IPv6 prefix length), else /32 or /128;
//   persistence_engine names the engine ("sip").
// - ops → IP_VS_SVC_F_ONEPACKET; flag-1/2/3 → SCHED1/2/3; sh-fallback and mh-fallback
//   are SCHED1, sh-port and mh-port SCHED2 (the kernel's names for the same bits).
// - A virtual_server_group stands for one IPVS service per address (ranges expanded)
//   and per fwmark, all with the same destinations.
// - A fwmark service's protocol is TCP in the kernel whatever was configured (the
//   connection's protocol comes from the packet): so it is here, to compare equal.
import type { Family, LbKind, RealServer, VirtualServer, VirtualServerGroup, VsgEntry } from '../../model/types.js';
import { rsKey } from '../../health/server-state.js';
import { formatIp, parseIp } from '../../vrrp/addr.js';
import type { DesiredService, Unsupported } from '../types.js';
import { IPVS_SCHEDULERS } from '../../model/defaults.js';
import { destKey, FWD, IPPROTO, serviceKey, SVC_F, TUN_FLAG, TUN_TYPE, type IpvsDest, type IpvsService } from './codec.js';

/** A kernel service with its destinations, by destKey. */
export interface IpvsEntry {
  svc: IpvsService;
  dests: Map<string, IpvsDest>;
}

/** The kernel's table (or the part haldir wants), by serviceKey. */
export type IpvsTable = Map<string, IpvsEntry>;

/** One desired kernel service: which desired service it comes from, and destKey → the desired destination's key. */
export interface DesiredEntry extends IpvsEntry {
  /** The kernel service's key (serviceKey). */
  key: string;
  vsKey: string;
  destKeys: Map<string, string>;
}

const FWD_OF: Record<LbKind, number> = { NAT: FWD.MASQ, DR: FWD.DROUTE, TUN: FWD.TUNNEL };
export const FWD_NAME: Record<number, string> = { [FWD.MASQ]: 'Masq', [FWD.LOCALNODE]: 'Local', [FWD.TUNNEL]: 'Tunnel', [FWD.DROUTE]: 'Route' };

/** The service's address family when the address does not say (fwmark): configured, else the first real server's. */
export function serviceFamily(vs: VirtualServer, entryFamily?: Family): Family {
  return entryFamily ?? (vs.address.kind === 'fwmark' ? vs.address.family : undefined) ?? vs.ipFamily ?? vs.realServers[0]?.family ?? 4;
}

/** The addresses a virtual_server_group entry stands for (a range runs over the last octet / hextet). */
export function expandGroupEntry(e: VsgEntry): { address: string; family: Family }[] {
  if (e.address === undefined) return [];
  const family: Family = e.family ?? (e.address.includes(':') ? 6 : 4);
  if (e.kind !== 'range' || e.rangeEnd === undefined) return [{ address: e.address, family }];
  const b = parseIp(e.address, family);
  if (!b) return [{ address: e.address, family }];
  const out: { address: string; family: Family }[] = [];
  if (family === 4) {
    for (let x = b[3]!; x <= e.rangeEnd && x <= 255; x++) {
      b[3] = x;
      out.push({ address: formatIp(b, 4), family });
    }
  } else {
    for (let x = (b[14]! << 8) | b[15]!; x <= e.rangeEnd && x <= 0xffff; x++) {
      b[14] = x >> 8;
      b[15] = x & 0xff;
      out.push({ address: formatIp(b, 6), family });
    }
  }
  return out;
}

/** IPv4 dotted netmask → number, or an IPv6 prefix length; undefined when it is neither. */
export function parseGranularity(g: string, af: Family): number | undefined {
  if (af === 6) {
    if (!/^\d{1,3}$/.test(g)) return undefined;
    const n = Number(g);
    return n >= 1 && n <= 128 ? n : undefined;
  }
  const b = parseIp(g, 4);
  return b ? ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 : undefined;
}

/** The IP_VS_SVC_F_* bits of a virtual server. */
export function serviceFlags(vs: VirtualServer): number {
  const f = vs.schedFlags;
  let flags = 0;
  if (vs.persistenceTimeout) flags |= SVC_F.PERSISTENT;
  if (vs.ops) flags |= SVC_F.ONEPACKET;
  if (f.flag1 || f.shFallback || f.mhFallback) flags |= SVC_F.SCHED1;
  if (f.flag2 || f.shPort || f.mhPort) flags |= SVC_F.SCHED2;
  if (f.flag3) flags |= SVC_F.SCHED3;
  return flags;
}

/** The service part common to every kernel service a virtual server stands for. */
function serviceBase(vs: VirtualServer, af: Family): Omit<IpvsService, 'af' | 'protocol'> {
  const persistent = !!vs.persistenceTimeout;
  let netmask = af === 6 ? 128 : 0xffffffff;
  if (persistent && vs.persistenceGranularity !== undefined) netmask = parseGranularity(vs.persistenceGranularity, af) ?? netmask;
  const s: Omit<IpvsService, 'af' | 'protocol'> = {
    scheduler: vs.scheduler,
    flags: serviceFlags(vs),
    timeout: persistent ? Math.round(vs.persistenceTimeout!) : 0,
    netmask,
  };
  if (persistent && vs.persistenceEngine) s.pe = vs.persistenceEngine;
  return s;
}

/** The kernel services a virtual server stands for (one, or one per group address / fwmark). */
export function kernelServices(vs: VirtualServer, groups: ReadonlyMap<string, VirtualServerGroup>): IpvsService[] | Error {
  const a = vs.address;
  const proto = IPPROTO[vs.protocol];
  if (a.kind === 'ip') return [{ af: a.family, protocol: proto, address: a.address, port: a.port, ...serviceBase(vs, a.family) }];
  if (a.kind === 'fwmark') {
    const af = serviceFamily(vs);
    return [{ af, protocol: IPPROTO.TCP, fwmark: a.fwmark, ...serviceBase(vs, af) }];
  }
  const g = groups.get(a.group);
  if (!g) return new Error(`virtual_server_group ${a.group} is not defined (or its definition was not given to the IPVS data plane)`);
  const out: IpvsService[] = [];
  for (const e of g.entries) {
    if (e.kind === 'fwmark') {
      const af = serviceFamily(vs, e.family);
      out.push({ af, protocol: IPPROTO.TCP, fwmark: e.fwmark ?? 0, ...serviceBase(vs, af) });
      continue;
    }
    for (const x of expandGroupEntry(e)) out.push({ af: x.family, protocol: proto, address: x.address, port: e.port ?? 0, ...serviceBase(vs, x.family) });
  }
  return out;
}

// Real servers by key, per virtual server (thresholds live on the model's real server).
const rsIndex = new WeakMap<VirtualServer, Map<string, RealServer>>();
function realServerOf(vs: VirtualServer, key: string): RealServer | undefined {
  let m = rsIndex.get(vs);
  if (!m) rsIndex.set(vs, (m = new Map(vs.realServers.map((rs) => [rsKey(rs), rs]))));
  return m.get(key);
}

/** The kernel services and destinations of one desired service. */
export function renderDesired(ds: DesiredService, groups: ReadonlyMap<string, VirtualServerGroup>): DesiredEntry[] | Error {
  const svcs = kernelServices(ds.vs, groups);
  if (svcs instanceof Error) return svcs;
  const dests = new Map<string, IpvsDest>();
  const destKeys = new Map<string, string>();
  for (const d of ds.dests) {
    const rs = d.sorry ? undefined : realServerOf(ds.vs, d.key);
    const f = d.forwarding;
    const dest: IpvsDest = {
      af: d.family,
      address: d.address,
      port: d.port ?? 0,
      fwd: FWD_OF[f.kind],
      weight: d.weight,
      uThreshold: rs?.upperThreshold ?? 0,
      lThreshold: rs?.lowerThreshold ?? 0,
      tunType: f.kind === 'TUN' ? TUN_TYPE[f.tunType ?? 'ipip'] : 0,
      tunPort: f.kind === 'TUN' && f.tunType === 'gue' ? (f.tunPort ?? 0) : 0,
      tunFlags: f.kind === 'TUN' && f.tunType && f.tunType !== 'ipip' ? TUN_FLAG[f.tunCsum ?? 'nocsum'] : 0,
    };
    const k = destKey(dest);
    dests.set(k, dest);
    destKeys.set(k, d.key);
  }
  return svcs.map((svc) => ({ key: serviceKey(svc), svc, dests, destKeys, vsKey: ds.vsKey }));
}

/** Every kernel service of the desired table, by serviceKey; errors per desired service that cannot be rendered. */
export function renderTable(desired: readonly DesiredService[], groups: ReadonlyMap<string, VirtualServerGroup>): { table: Map<string, DesiredEntry>; errors: string[] } {
  const table = new Map<string, DesiredEntry>();
  const errors: string[] = [];
  for (const ds of desired) {
    const r = renderDesired(ds, groups);
    if (r instanceof Error) errors.push(`${ds.vsKey}: ${r.message}`);
    else for (const e of r) table.set(e.key, e);
  }
  return { table, errors };
}

/** What IPVS cannot do for these services as configured, with the reason and the fix. */
export function ipvsUnsupported(services: readonly VirtualServer[], groups: ReadonlyMap<string, VirtualServerGroup>): Unsupported[] {
  const out: Unsupported[] = [];
  for (const vs of services) {
    const no = (message: string): void => void out.push({ vs, message });
    if (!(IPVS_SCHEDULERS as readonly string[]).includes(vs.scheduler)) no(`lb_algo ${vs.scheduler} is not an IPVS scheduler (${IPVS_SCHEDULERS.join(', ')})`);
    if (vs.address.kind === 'group' && !groups.has(vs.address.group)) no(`virtual_server_group ${vs.address.group} is not defined`);
    const af: Family = vs.address.kind === 'ip' ? vs.address.family : serviceFamily(vs);
    if (vs.persistenceTimeout !== undefined && vs.persistenceTimeout !== 0 && !(Number.isInteger(vs.persistenceTimeout) && vs.persistenceTimeout > 0))
      no(`persistence_timeout ${vs.persistenceTimeout}: IPVS takes whole seconds`);
    if (vs.persistenceGranularity !== undefined && vs.address.kind !== 'group' && parseGranularity(vs.persistenceGranularity, af) === undefined)
      no(`persistence_granularity ${vs.persistenceGranularity} is not ${af === 6 ? 'an IPv6 prefix length (1–128)' : 'an IPv4 netmask'}`);
    if (vs.persistenceEngine !== undefined && vs.persistenceEngine.length > 15) no(`persistence_engine ${vs.persistenceEngine} is longer than IPVS allows (15)`);
    for (const rs of vs.realServers) {
      const f = rs.forwarding ?? vs.forwarding;
      if (rs.family !== af && vs.address.kind !== 'group' && f.kind !== 'TUN')
        no(`real server ${rs.address}: IPVS forwards to another address family only by TUN (lb_kind ${f.kind} needs an IPv${af} real server)`);
      if (f.kind === 'TUN' && f.tunType === 'gue' && !f.tunPort) no(`real server ${rs.address}: tunnel type gue needs tun_port`);
      if (rs.upperThreshold !== undefined && rs.lowerThreshold !== undefined && rs.upperThreshold && rs.lowerThreshold > rs.upperThreshold)
        no(`real server ${rs.address}: lthreshold ${rs.lowerThreshold} is above uthreshold ${rs.upperThreshold}`);
    }
  }
  return out;
}
