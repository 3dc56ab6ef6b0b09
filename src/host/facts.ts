// What haldir knows about a host's network, as plain data (gathered by
// gather.ts, or written by hand in tests), and the pure questions asked of it:
// the kernel's effective per-interface value of a sysctl, which interfaces are
// "shared" (Docker bridges, veths, macvlan/ipvlan, bonds, VLANs, other NICs),
// which interface faces a VIP, IPv4 subnet arithmetic.
import { isIPv4, isIPv6 } from 'node:net';

/** A network interface. */
export interface HostLink {
  name: string;
  ifindex: number;
  /**
   * rtnetlink IFLA_INFO_KIND: 'bridge', 'veth', 'macvlan', 'ipvlan', 'bond', 'vlan',
   * 'tun', 'ipip', 'vxlan' …; '' for a physical NIC (and loopback).
   */
  kind: string;
  /** The bridge or bond this interface is a port of. */
  master?: string;
  /** The lower device (IFLA_LINK) of a VLAN/macvlan/ipvlan; a veth's peer index lives elsewhere. */
  lower?: string;
  up: boolean;
  mtu: number;
  loopback: boolean;
  /** IFF_NOARP (tunnels, tun devices): ARP settings do not matter on it. */
  noarp: boolean;
}

export interface HostAddress {
  ifname: string;
  family: 4 | 6;
  address: string;
  prefix: number;
  label?: string;
}

/** A route of the main table. */
export interface HostRoute {
  /** '0.0.0.0' with prefix 0 for the default route. */
  dst: string;
  prefix: number;
  gateway?: string;
  oif?: string;
}

/** The per-interface IPv4 parameters haldir reads and writes (net.ipv4.conf.IF.*). */
export const CONF_PARAMS = ['arp_ignore', 'arp_announce', 'rp_filter', 'send_redirects'] as const;
export type ConfParam = (typeof CONF_PARAMS)[number];

export interface HostFacts {
  links: HostLink[];
  addresses: HostAddress[];
  /** IPv4 routes of the main table. */
  routes: HostRoute[];
  /** net.ipv4.conf.{all,default,IF}.PARAM; a missing entry was not readable. */
  conf: Record<string, Partial<Record<ConfParam, number>>>;
  /** Other sysctls by their dotted name (net.ipv4.ip_forward, net.netfilter.nf_conntrack_max …). */
  sysctl: Record<string, number>;
}

// ---- sysctl names ---------------------------------------------------------

/** The dotted name as sysctl(8) prints it; an interface name with dots is written with slashes there. */
export function confKey(ifname: string, param: string): string {
  return `net.ipv4.conf.${ifname.replace(/\./g, '/')}.${param}`;
}

/** The /proc/sys path of a per-interface parameter (relative to the /proc/sys root). */
export function confPath(ifname: string, param: string): string {
  return `net/ipv4/conf/${ifname}/${param}`;
}

export const conf = (f: HostFacts, ifname: string, param: ConfParam): number | undefined => f.conf[ifname]?.[param];

/**
 * The value the kernel acts on for an interface. arp_ignore, arp_announce and rp_filter
 * use the larger of conf/all and conf/IF (Documentation/networking/ip-sysctl.rst);
 * send_redirects is on when either is on. `default` only seeds interfaces created later.
 */
export function effective(f: HostFacts, ifname: string, param: ConfParam): number | undefined {
  const all = conf(f, 'all', param);
  const own = conf(f, ifname, param);
  if (all === undefined || own === undefined) return own ?? all;
  if (param === 'send_redirects') return all || own ? 1 : 0;
  return Math.max(all, own);
}

/** "all=0 eth0=1 → effective 1" (and the default when it differs, since it misleads). */
export function effectiveText(f: HostFacts, ifname: string, param: ConfParam): string {
  const all = conf(f, 'all', param);
  const own = conf(f, ifname, param);
  const def = conf(f, 'default', param);
  const how = param === 'send_redirects' ? 'on when either is on' : 'the kernel uses the larger of all and the interface';
  let s = `${param}: all=${all ?? '?'} ${ifname}=${own ?? '?'} → effective ${effective(f, ifname, param) ?? '?'} (${how})`;
  if (def !== undefined && def !== own) s += `; default=${def} only applies to interfaces created after it was set`;
  return s;
}

/** arp_ignore values that keep the VIP on lo unanswered while the host's own address on the interface still is (1, 2). */
export const arpIgnoreOk = (v: number | undefined): boolean => v === 1 || v === 2;
/** arp_announce 2: ARP requests use the outgoing interface's own address as source, never the VIP. */
export const arpAnnounceOk = (v: number | undefined): boolean => v === 2;

// ---- IPv4 arithmetic ------------------------------------------------------------

export function ipv4ToInt(a: string): number {
  const p = a.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function inSubnet(address: string, net: string, prefix: number): boolean {
  if (!isIPv4(address) || !isIPv4(net)) return false;
  if (prefix === 0) return true;
  const mask = prefix >= 32 ? 0xffffffff : (~((1 << (32 - prefix)) - 1)) >>> 0;
  return ((ipv4ToInt(address) & mask) >>> 0) === ((ipv4ToInt(net) & mask) >>> 0);
}

export function ipFamily(a: string): 4 | 6 | undefined {
  return isIPv4(a) ? 4 : isIPv6(a) ? 6 : undefined;
}

/** Why a string is not a usable VIP, or undefined when it is one. */
export function vipProblem(a: string): string | undefined {
  const fam = ipFamily(a);
  if (!fam) return `"${a}" is not an IPv4 or IPv6 address`;
  if (fam === 4) {
    const first = ipv4ToInt(a) >>> 24;
    if (a === '0.0.0.0' || a === '255.255.255.255') return `${a} cannot be a VIP`;
    if (first === 127) return `${a} is a loopback address`;
    if (first >= 224 && first <= 239) return `${a} is a multicast address`;
    if (first >= 240) return `${a} is a reserved address`;
  } else {
    const l = a.toLowerCase();
    if (l === '::' || l === '::1') return `${a} cannot be a VIP`;
    if (l.startsWith('ff')) return `${a} is a multicast address`;
  }
  return undefined;
}

// ---- interfaces -------------------------------------------------------------------

export const linkByName = (f: HostFacts, name: string): HostLink | undefined => f.links.find((l) => l.name === name);
export const addressesOn = (f: HostFacts, ifname: string): HostAddress[] => f.addresses.filter((a) => a.ifname === ifname);
export const defaultRoute = (f: HostFacts): HostRoute | undefined => f.routes.find((r) => r.prefix === 0);

/** What an interface is, in an operator's words. */
export function describeKind(l: HostLink): string {
  if (l.loopback) return 'loopback';
  switch (l.kind) {
    case 'bridge':
      return /^(docker\d*|br-[0-9a-f]{6,})$/.test(l.name) ? "bridge: Docker's" : /^(virbr|lxcbr|lxdbr|cni|cbr)/.test(l.name) ? 'bridge: containers/VMs' : 'bridge';
    case 'veth':
      return l.master ? `veth: a container's link, port of ${l.master}` : "veth: a container's or namespace's link";
    case 'macvlan':
    case 'macvtap':
      return `${l.kind}${l.lower ? ` on ${l.lower}` : ''}: its own MAC on the wire`;
    case 'ipvlan':
    case 'ipvtap':
      return `${l.kind}${l.lower ? ` on ${l.lower}` : ''}: shares ${l.lower ?? 'its parent'}'s MAC`;
    case 'bond':
      return 'bond';
    case 'vlan':
      return `VLAN${l.lower ? ` on ${l.lower}` : ''}`;
    case '':
      return 'network interface';
    default:
      return l.kind;
  }
}

/** Interface kinds that ask for per-interface ARP settings even when alone. */
export const SHARED_KINDS = new Set(['bridge', 'veth', 'macvlan', 'macvtap', 'ipvlan', 'ipvtap', 'bond', 'vlan']);

/**
 * The ARP-capable interfaces besides lo and `iface` that writing conf/all or
 * conf/default would change too, each described. Ports of a bridge or bond are
 * left out: their frames are handled by the master, which is listed instead
 * (with its port count: Docker's veths make docker0 matter).
 */
export function otherArpInterfaces(f: HostFacts, iface: string): { link: HostLink; why: string }[] {
  return f.links
    .filter((l) => !l.loopback && !l.noarp && l.name !== iface && l.master === undefined)
    .map((l) => {
      const ports = f.links.filter((p) => p.master === l.name).length;
      return { link: l, why: describeKind(l) + (ports ? `, ${ports} port${ports === 1 ? '' : 's'}` : '') };
    });
}

/** Non-lo interfaces holding an IPv4 address in a subnet that contains `vip` (the VIP's own address excluded). */
export function interfacesFacing(f: HostFacts, vip: string): string[] {
  const out: string[] = [];
  for (const a of f.addresses) {
    if (a.family !== 4 || a.address === vip || a.prefix >= 32) continue;
    const l = linkByName(f, a.ifname);
    if (!l || l.loopback) continue;
    if (inSubnet(vip, a.address, a.prefix) && !out.includes(a.ifname)) out.push(a.ifname);
  }
  return out;
}

/**
 * The interface a VIP is reached through: the one with an address in the VIP's
 * subnet, else the default route's. Undefined (with why) when neither exists or
 * when more than one interface is on the VIP's subnet.
 */
export function vipFacingInterface(f: HostFacts, vip: string): { iface?: string; why: string } {
  const on = ipFamily(vip) === 4 ? interfacesFacing(f, vip) : [];
  if (on.length === 1) return { iface: on[0]!, why: `${on[0]} has an address in ${vip}'s subnet` };
  if (on.length > 1) return { why: `${on.join(' and ')} all have addresses in ${vip}'s subnet` };
  const d = defaultRoute(f);
  if (d?.oif) return { iface: d.oif, why: `no interface is on ${vip}'s subnet; the default route leaves through ${d.oif}` };
  return { why: `no interface is on ${vip}'s subnet and there is no default route` };
}

/** Local IPv4/IPv6 addresses of the host (any interface). */
export const localAddresses = (f: HostFacts): Set<string> => new Set(f.addresses.map((a) => a.address));

/** The main-table route the kernel would pick for an IPv4 destination (longest prefix). */
export function routeFor(f: HostFacts, address: string): HostRoute | undefined {
  let best: HostRoute | undefined;
  for (const r of f.routes) if (inSubnet(address, r.dst, r.prefix) && (!best || r.prefix > best.prefix)) best = r;
  return best;
}
