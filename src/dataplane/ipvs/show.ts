// The IPVS table printed exactly as `ipvsadm -Ln` and `ipvsadm -Ln --stats` (ipvsadm
// 1.31 on glibc) print it, byte for byte: so `haldir dataplane show --dataplane ipvs`
// can stand in for ipvsadm, and a test can compare the two. Pure.
//
// Details that matter for equality, from ipvsadm.c and libipvs:
// - services sorted by ipvs_cmp_services (fwmark, family, protocol, address, port) and
//   destinations by ipvs_cmp_dests (address, port) with glibc's qsort, a merge sort; the
//   address comparison is `int r = ntohl(a) - ntohl(b)`, an unsigned difference read
//   as signed, so 10.0.0.1 sorts after 192.168.0.1 (their difference overflows);
// - addresses as inet_ntop writes them (IPv6 with an embedded IPv4 tail in ::a.b.c.d and
//   ::ffff:a.b.c.d forms), IPv6 in brackets;
// - columns padded with trailing spaces (`%-10u`), counters above 10^8 shortened to K/M/G/T.
import type { IpvsDest, IpvsInfo, IpvsService } from './codec.js';
import { AF_INET, AF_INET6, FWD, protoName, SVC_F } from './codec.js';
import { parseIp } from '../../vrrp/addr.js';

export interface ShownService {
  svc: IpvsService;
  dests: IpvsDest[];
}

// ---- glibc pieces ------------------------------------------------------------------------

/** glibc's msort_with_tmp: top-down merge sort, taking from the left run while cmp ≤ 0. */
export function glibcMsort<T>(items: readonly T[], cmp: (a: T, b: T) => number): T[] {
  const a = [...items];
  const tmp: T[] = new Array<T>(a.length);
  const sort = (lo: number, n: number): void => {
    if (n <= 1) return;
    const n1 = n >> 1;
    const n2 = n - n1;
    sort(lo, n1);
    sort(lo + n1, n2);
    let i = lo;
    let j = lo + n1;
    let k = 0;
    let r1 = n1;
    let r2 = n2;
    while (r1 > 0 && r2 > 0) {
      if (cmp(a[i]!, a[j]!) <= 0) {
        tmp[k++] = a[i++]!;
        r1--;
      } else {
        tmp[k++] = a[j++]!;
        r2--;
      }
    }
    while (r1-- > 0) tmp[k++] = a[i++]!;
    // The rest of the right run is already in place.
    for (let x = 0; x < k; x++) a[lo + x] = tmp[x]!;
  };
  sort(0, a.length);
  return a;
}

/** inet_ntop(AF_INET6): RFC 5952-like, with glibc's embedded-IPv4 forms. */
export function inetNtop6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let base = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > len) [base, len] = [i, j - i];
    i = j;
  }
  if (len < 2) base = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (base >= 0 && i >= base && i < base + len) {
      if (i === base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // Encapsulated IPv4: ::a.b.c.d (not ::1 / ::0.0.0.1 style loopback), ::ffff:a.b.c.d.
    if (i === 6 && base === 0 && (len === 6 || (len === 7 && w[7] !== 0x0001) || (len === 5 && w[5] === 0xffff))) {
      out += `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
      return out;
    }
    out += w[i]!.toString(16);
  }
  if (base >= 0 && base + len === 8) out += ':';
  return out;
}

const addrBytes = (address: string, af: number): Uint8Array => parseIp(address, af === AF_INET6 ? 6 : 4) ?? new Uint8Array(af === AF_INET6 ? 16 : 4);

function ntop(address: string, af: number): string {
  const b = addrBytes(address, af);
  return af === AF_INET6 ? inetNtop6(b) : `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The address as big-endian 32-bit words (ntohl of each s6_addr32 / the IPv4 address). */
function words(address: string, af: number): number[] {
  const b = addrBytes(address, af);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
  return out;
}

const afNum = (f: 4 | 6): number => (f === 6 ? AF_INET6 : AF_INET);
/** `int r = (u32)a - (u32)b`. */
const diff32 = (a: number, b: number): number => ((a >>> 0) - (b >>> 0)) | 0;

function cmpAddr(a: string, b: string, af: number): number {
  const x = words(a, af);
  const y = words(b, af);
  let r = 0;
  for (let i = 0; !r && i < x.length; i++) r = diff32(x[i]!, y[i] ?? 0);
  return r;
}

/** libipvs ipvs_cmp_services. */
export function cmpServices(s1: IpvsService, s2: IpvsService): number {
  let r = diff32(s1.fwmark ?? 0, s2.fwmark ?? 0);
  if (r) return r;
  r = afNum(s1.af) - afNum(s2.af);
  if (r) return r;
  // The kernel reports fwmark services without a protocol; libipvs then holds 0.
  r = (s1.fwmark ? 0 : s1.protocol) - (s2.fwmark ? 0 : s2.protocol);
  if (r) return r;
  r = cmpAddr(s1.address ?? (s1.af === 6 ? '::' : '0.0.0.0'), s2.address ?? (s2.af === 6 ? '::' : '0.0.0.0'), afNum(s1.af));
  if (r) return r;
  return (s1.port ?? 0) - (s2.port ?? 0);
}

/** libipvs ipvs_cmp_dests (compares by the first destination's family, like the C). */
export function cmpDests(d1: IpvsDest, d2: IpvsDest): number {
  const r = cmpAddr(d1.address, d2.address, afNum(d1.af));
  return r || d1.port - d2.port;
}

// ---- printf pieces -------------------------------------------------------------------------

/** print_largenum without --exact. */
export function largeNum(i: number): string {
  if (i < 100000000) return String(i).padStart(9);
  if (i < 1000000000) return `${String(Math.floor(i / 1000)).padStart(8)}K`;
  if (i < 100000000000) return `${String(Math.floor(i / 1000000)).padStart(8)}M`;
  if (i < 100000000000000) return `${String(Math.floor(i / 1000000000)).padStart(8)}G`;
  return `${String(Math.floor(i / 1000000000000)).padStart(8)}T`;
}

const FWD_NAMES: Record<number, string> = { [FWD.MASQ]: 'Masq', [FWD.LOCALNODE]: 'Local', [FWD.TUNNEL]: 'Tunnel', [FWD.DROUTE]: 'Route' };
const PROTO_UPPER: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

function serviceName(s: IpvsService): string {
  if (s.fwmark) return `FWM  ${s.fwmark | 0}${s.af === 6 ? ' IPv6' : ''}`;
  const af = afNum(s.af);
  const vname = af === AF_INET ? `${ntop(s.address ?? '', af)}:${s.port ?? 0}` : `[${ntop(s.address ?? '', af)}]:${s.port ?? 0}`;
  const name = `${(PROTO_UPPER[s.protocol] ?? '?').padEnd(4)} ${vname}`;
  return af === AF_INET ? name.slice(0, 33) : name;
}

function destName(d: IpvsDest): string {
  const af = afNum(d.af);
  const n = af === AF_INET ? `${ntop(d.address, af)}:${d.port}` : `[${ntop(d.address, af)}]:${d.port}`;
  return af === AF_INET ? n.slice(0, 28) : n;
}

/** ipvsadm's print_sched_flags. */
export function schedFlagNames(s: Pick<IpvsService, 'scheduler' | 'flags'>): string[] {
  const out: string[] = [];
  if (s.scheduler === 'sh' || s.scheduler === 'mh') {
    if (s.flags & SVC_F.SCHED1) out.push(`${s.scheduler}-fallback`);
    if (s.flags & SVC_F.SCHED2) out.push(`${s.scheduler}-port`);
  } else {
    if (s.flags & SVC_F.SCHED1) out.push('flag-1');
    if (s.flags & SVC_F.SCHED2) out.push('flag-2');
    if (s.flags & SVC_F.SCHED3) out.push('flag-3');
  }
  return out;
}

const ipv4Mask = (m: number): string => `${(m >>> 24) & 255}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}`;

const padR = (s: string, n: number): string => s.padEnd(n);

/** `ipvsadm -Ln` (or `-Ln --stats` with `stats`) for this table, in the kernel's order given. */
export function renderIpvsadm(info: IpvsInfo, services: readonly ShownService[], o: { stats?: boolean } = {}): string {
  const v = info.version;
  let out = `IP Virtual Server version ${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff} (size=${info.connTabSize})\n`;
  if (o.stats) {
    out += `${padR('Prot LocalAddress:Port', 33)} ${'Conns'.padStart(8)} ${'InPkts'.padStart(8)} ${'OutPkts'.padStart(8)} ${'InBytes'.padStart(8)} ${'OutBytes'.padStart(8)}\n  -> RemoteAddress:Port\n`;
  } else {
    out += 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  }
  const st = (x: { stats?: IpvsService['stats'] }): string => {
    const s = x.stats;
    return [s?.conns, s?.inpkts, s?.outpkts, s?.inbytes, s?.outbytes].map((n) => largeNum(n ?? 0)).join('');
  };
  for (const { svc, dests } of glibcMsort(services, (a, b) => cmpServices(a.svc, b.svc))) {
    const name = serviceName(svc);
    if (o.stats) out += `${padR(name, 33)}${st(svc)}\n`;
    else {
      let line = `${name} ${svc.scheduler}`;
      const flags = schedFlagNames(svc);
      if (svc.flags & (SVC_F.SCHED1 | SVC_F.SCHED2 | SVC_F.SCHED3)) line += ` (${flags.join(',')})`;
      if (svc.flags & SVC_F.PERSISTENT) {
        line += ` persistent ${svc.timeout >>> 0}`;
        if (svc.af === 4 && svc.netmask >>> 0 !== 0xffffffff) line += ` mask ${ipv4Mask(svc.netmask)}`;
        if (svc.af === 6 && svc.netmask !== 128) line += ` mask ${svc.netmask | 0}`;
        if (svc.pe) line += ` pe ${svc.pe}`;
      }
      if (svc.flags & SVC_F.ONEPACKET) line += ' ops';
      out += `${line}\n`;
    }
    for (const d of glibcMsort(dests, cmpDests)) {
      if (o.stats) out += `  -> ${padR(destName(d), 28)}${st(d)}\n`;
      else
        out += `  -> ${padR(destName(d), 28)} ${padR(FWD_NAMES[d.fwd] ?? '(null)', 7)} ${padR(String(d.weight | 0), 6)} ${padR(String((d.activeConns ?? 0) >>> 0), 10)} ${padR(String((d.inactConns ?? 0) >>> 0), 10)}\n`;
    }
  }
  return out;
}

export { protoName };
