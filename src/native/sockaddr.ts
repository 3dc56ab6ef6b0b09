// Byte layouts of the kernel structures haldir passes through the addon:
// sockaddr_in/_in6/_ll/_nl, ip_mreqn/ipv6_mreq, and the cmsg (ancillary data)
// that recvmsg returns (IP_PKTINFO, IP_TTL, IPV6_HOPLIMIT, IPV6_PKTINFO).
// Fields the kernel keeps in host order use the host's endianness; network
// order fields (ports, addresses, sll_protocol) are big-endian.
import { isIPv4, isIPv6 } from 'node:net';
import { endianness } from 'node:os';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_PACKET,
  IP_PKTINFO,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_HOPLIMIT,
  IPV6_PKTINFO,
} from './constants.js';

const LE = endianness() === 'LE';

export function writeU16h(b: Buffer, v: number, off: number): void {
  if (LE) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}
export function writeU32h(b: Buffer, v: number, off: number): void {
  if (LE) b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}
export function writeI32h(b: Buffer, v: number, off: number): void {
  if (LE) b.writeInt32LE(v, off);
  else b.writeInt32BE(v, off);
}
export function readU16h(b: Buffer, off: number): number {
  return LE ? b.readUInt16LE(off) : b.readUInt16BE(off);
}
export function readU32h(b: Buffer, off: number): number {
  return LE ? b.readUInt32LE(off) : b.readUInt32BE(off);
}
export function readI32h(b: Buffer, off: number): number {
  return LE ? b.readInt32LE(off) : b.readInt32BE(off);
}
/** A C int in host order, as most setsockopt options take. */
export function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  writeI32h(b, v, 0);
  return b;
}

// ---- addresses ---------------------------------------------------------

export function ipv4ToBytes(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map(Number));
}

export function bytesToIpv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function ipv6ToBytes(address: string): Buffer {
  const pct = address.indexOf('%');
  const a = pct >= 0 ? address.slice(0, pct) : address;
  if (!isIPv6(a)) throw new Error(`not an IPv6 address: ${address}`);
  const out = Buffer.alloc(16);
  let tail = a;
  let v4: Buffer | undefined;
  // An embedded dotted quad (::ffff:1.2.3.4) fills the last 4 bytes.
  if (a.includes('.')) {
    const colon = a.lastIndexOf(':');
    v4 = ipv4ToBytes(a.slice(colon + 1));
    tail = a.slice(0, colon + 1);
    if (!tail.endsWith('::')) tail = tail.slice(0, -1);
  }
  const total = v4 ? 6 : 8;
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((x) => parseInt(x, 16)) : []);
  const [head, rest] = tail.split('::') as [string, string | undefined];
  let words: number[];
  if (rest === undefined) words = parse(head);
  else {
    const h = parse(head);
    const r = parse(rest);
    words = [...h, ...new Array<number>(total - h.length - r.length).fill(0), ...r];
  }
  words.slice(0, total).forEach((w, i) => out.writeUInt16BE(w, i * 2));
  if (v4) v4.copy(out, 12);
  return out;
}

/** RFC 5952 text (lower case, longest run of ≥2 zero groups compressed), as inet_ntop and `ip` print. */
export function bytesToIpv6(b: Uint8Array, off = 0): string {
  const buf = Buffer.from(b.buffer, b.byteOffset + off, 16);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(buf.readUInt16BE(i * 2));
  // IPv4-mapped (::ffff:a.b.c.d) is printed with a dotted quad.
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${bytesToIpv4(buf, 12)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** "aa:bb:cc:dd:ee:ff" → 6 bytes. */
export function macToBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function bytesToMac(b: Uint8Array, off = 0, len = 6): string {
  return Array.from(b.subarray(off, off + len), (x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---- sockaddr ----------------------------------------------------------

export interface SockAddrIn {
  family: 'inet';
  address: string;
  port: number;
}
export interface SockAddrIn6 {
  family: 'inet6';
  address: string;
  port: number;
  flowinfo: number;
  /** The interface index of a link-local address (0 otherwise). */
  scopeId: number;
}
export interface SockAddrLl {
  family: 'packet';
  ifindex: number;
  /** EtherType (host value, e.g. 0x0806). */
  protocol: number;
  hatype: number;
  /** PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4. */
  pkttype: number;
  /** Link-layer address, "aa:bb:…" (empty when none). */
  addr: string;
}
export interface SockAddrNl {
  family: 'netlink';
  pid: number;
  groups: number;
}
export type SockAddr = SockAddrIn | SockAddrIn6 | SockAddrLl | SockAddrNl;

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
export const SOCKADDR_LL_LEN = 20;
export const SOCKADDR_NL_LEN = 12;
/** sizeof(struct sockaddr_storage): enough for any name recvmsg returns. */
export const SOCKADDR_STORAGE_LEN = 128;

export function sockaddrIn(address: string, port = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_IN_LEN);
  writeU16h(b, AF_INET, 0);
  b.writeUInt16BE(port, 2);
  ipv4ToBytes(address).copy(b, 4);
  return b;
}

/** `scopeId` is required for link-local and link-scope multicast destinations (fe80::/10, ff02::/16). */
export function sockaddrIn6(address: string, scopeId = 0, port = 0, flowinfo = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_IN6_LEN);
  writeU16h(b, AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.writeUInt32BE(flowinfo >>> 0, 4);
  ipv6ToBytes(address).copy(b, 8);
  writeU32h(b, scopeId, 24);
  return b;
}

/** sockaddr_ll: `protocol` is the EtherType (host value); `addr` the destination MAC for sendto. */
export function sockaddrLl(opts: { ifindex: number; protocol?: number; addr?: string; hatype?: number; pkttype?: number }): Buffer {
  const b = Buffer.alloc(SOCKADDR_LL_LEN);
  writeU16h(b, AF_PACKET, 0);
  b.writeUInt16BE(opts.protocol ?? 0, 2);
  writeI32h(b, opts.ifindex, 4);
  writeU16h(b, opts.hatype ?? 0, 8);
  b.writeUInt8(opts.pkttype ?? 0, 10);
  if (opts.addr) {
    const mac = macToBytes(opts.addr);
    b.writeUInt8(mac.length, 11);
    mac.copy(b, 12);
  }
  return b;
}

/** sockaddr_nl: pid 0 means "the kernel" as a destination, "assign me one" for bind. */
export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_NL_LEN);
  writeU16h(b, AF_NETLINK, 0);
  writeU32h(b, pid, 4);
  writeU32h(b, groups, 8);
  return b;
}

export function encodeSockaddr(sa: SockAddr): Buffer {
  switch (sa.family) {
    case 'inet':
      return sockaddrIn(sa.address, sa.port);
    case 'inet6':
      return sockaddrIn6(sa.address, sa.scopeId, sa.port, sa.flowinfo);
    case 'packet':
      return sockaddrLl(sa);
    case 'netlink':
      return sockaddrNl(sa.pid, sa.groups);
  }
}

/** Decodes the name recvmsg filled in; undefined for an empty or unknown family. */
export function decodeSockaddr(b: Buffer, len = b.length): SockAddr | undefined {
  if (len < 2) return undefined;
  const family = readU16h(b, 0);
  if (family === AF_INET && len >= 8) return { family: 'inet', port: b.readUInt16BE(2), address: bytesToIpv4(b, 4) };
  if (family === AF_INET6 && len >= 24)
    return {
      family: 'inet6',
      port: b.readUInt16BE(2),
      flowinfo: b.readUInt32BE(4),
      address: bytesToIpv6(b, 8),
      scopeId: len >= 28 ? readU32h(b, 24) : 0,
    };
  if (family === AF_PACKET && len >= 12) {
    const halen = Math.min(b.readUInt8(11), 8);
    return {
      family: 'packet',
      protocol: b.readUInt16BE(2),
      ifindex: readI32h(b, 4),
      hatype: readU16h(b, 8),
      pkttype: b.readUInt8(10),
      addr: bytesToMac(b, 12, halen),
    };
  }
  if (family === AF_NETLINK && len >= 12) return { family: 'netlink', pid: readU32h(b, 4), groups: readU32h(b, 8) };
  return undefined;
}

// ---- multicast membership ------------------------------------------------

/** struct ip_mreqn { imr_multiaddr; imr_address; imr_ifindex } for IP_ADD_MEMBERSHIP. */
export function ipMreqn(group: string, ifindex: number, address = '0.0.0.0'): Buffer {
  const b = Buffer.alloc(12);
  ipv4ToBytes(group).copy(b, 0);
  ipv4ToBytes(address).copy(b, 4);
  writeI32h(b, ifindex, 8);
  return b;
}

/** struct ipv6_mreq { ipv6mr_multiaddr; ipv6mr_interface } for IPV6_JOIN_GROUP. */
export function ipv6Mreq(group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  ipv6ToBytes(group).copy(b, 0);
  writeU32h(b, ifindex, 16);
  return b;
}

// ---- ancillary data (cmsg) -------------------------------------------------

/** sizeof(size_t): cmsg_len's width and the cmsg alignment on 64-bit Linux. */
const CMSG_ALIGNTO = 8;
const CMSG_HDR = 16; // size_t cmsg_len; int cmsg_level; int cmsg_type
const cmsgAlign = (n: number): number => (n + CMSG_ALIGNTO - 1) & ~(CMSG_ALIGNTO - 1);
/** CMSG_SPACE(n): room one control message with an n-byte payload takes. */
export const cmsgSpace = (n: number): number => CMSG_HDR + cmsgAlign(n);

export interface Cmsg {
  level: number;
  type: number;
  data: Buffer;
}

export function parseCmsgs(control: Buffer, len = control.length): Cmsg[] {
  const out: Cmsg[] = [];
  let off = 0;
  while (off + CMSG_HDR <= len) {
    const clen = Number(LE ? control.readBigUInt64LE(off) : control.readBigUInt64BE(off));
    if (clen < CMSG_HDR || off + clen > len) break;
    out.push({ level: readI32h(control, off + 8), type: readI32h(control, off + 12), data: control.subarray(off + CMSG_HDR, off + clen) });
    off += cmsgAlign(clen);
  }
  return out;
}

/** What haldir wants from a datagram's ancillary data. */
export interface Ancillary {
  /** Receiving interface (IP_PKTINFO / IPV6_PKTINFO). */
  ifindex?: number;
  /** Destination address of the datagram (IP_PKTINFO ipi_addr / IPV6_PKTINFO). */
  dst?: string;
  /** IPv4 TTL (IP_RECVTTL → IP_TTL). */
  ttl?: number;
  /** IPv6 hop limit (IPV6_RECVHOPLIMIT → IPV6_HOPLIMIT). */
  hopLimit?: number;
}

export function decodeAncillary(cmsgs: Cmsg[]): Ancillary {
  const a: Ancillary = {};
  for (const c of cmsgs) {
    if (c.level === IPPROTO_IP && c.type === IP_PKTINFO && c.data.length >= 12) {
      // struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
      a.ifindex = readI32h(c.data, 0);
      a.dst = bytesToIpv4(c.data, 8);
    } else if (c.level === IPPROTO_IP && c.type === IP_TTL && c.data.length >= 1) {
      // Linux delivers an int for IP_TTL (a byte only for IP_RECVTTL on some BSDs).
      a.ttl = c.data.length >= 4 ? readI32h(c.data, 0) : c.data.readUInt8(0);
    } else if (c.level === IPPROTO_IPV6 && c.type === IPV6_PKTINFO && c.data.length >= 20) {
      // struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
      a.dst = bytesToIpv6(c.data, 0);
      a.ifindex = readI32h(c.data, 16);
    } else if (c.level === IPPROTO_IPV6 && c.type === IPV6_HOPLIMIT && c.data.length >= 4) {
      a.hopLimit = readI32h(c.data, 0);
    }
  }
  return a;
}
