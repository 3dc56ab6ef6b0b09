// rtnetlink (RFC 3549; Linux uapi rtnetlink.h) for haldir, in TypeScript over the
// addon's plain sockets: message and attribute encoding, link/address dumps,
// address add/delete with ACKs decoded to errno names, neighbour dumps/lookups and
// kernel-triggered resolution (NTF_USE), route lookups (`ip route get`), the shared
// synchronous request loop (netlinkTransaction, also used by ctnetlink), and a monitor that turns
// RTM_NEWLINK/NEWADDR/DELADDR into typed events and resynchronises by a full
// re-dump when the kernel reports ENOBUFS (it dropped events for us).
import { addon } from '../native/addon.js';
import { AF_INET, AF_INET6, AF_NETLINK, AF_UNSPEC, MSG_TRUNC, NETLINK_EXT_ACK, NETLINK_ROUTE, SO_RCVBUF, SO_RCVBUFFORCE, SOCK_RAW, SOL_NETLINK, SOL_SOCKET } from '../native/constants.js';
import { errnoName, errnoText, NativeError } from '../native/errors.js';
import {
  bytesToIpv4,
  bytesToIpv6,
  bytesToMac,
  ipv4ToBytes,
  ipv6ToBytes,
  readI32h,
  readU16h,
  readU32h,
  sockaddrNl,
  writeI32h,
  writeU16h,
  writeU32h,
} from '../native/sockaddr.js';
import { PacketSocket } from '../native/socket.js';

// ---- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/if.h) ----

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: the request was not echoed whole / extended-ACK TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV6_IFADDR = 0x100;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_OPERSTATE = 16;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_FLAGS = 8;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_NOPREFIXROUTE = 0x200;

// linux/neighbour.h
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_PROBES = 4;
/** Neighbour (NUD_*) states: bits of ndm_state; 0 is NUD_NONE. */
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
/** States with a usable link-layer address. */
export const NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;
const NUD_NAMES: [number, string][] = [
  [NUD_INCOMPLETE, 'incomplete'],
  [NUD_REACHABLE, 'reachable'],
  [NUD_STALE, 'stale'],
  [NUD_DELAY, 'delay'],
  [NUD_PROBE, 'probe'],
  [NUD_FAILED, 'failed'],
  [NUD_NOARP, 'noarp'],
  [NUD_PERMANENT, 'permanent'],
];
/** ndm_flags. NTF_USE on RTM_NEWNEIGH: "use" the entry, i.e. start resolution as a packet would. */
export const NTF_USE = 0x01;
export const NTF_PROXY = 0x08;
export const NTF_ROUTER = 0x80;

// linux/rtnetlink.h: route attributes, types, flags
export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_IIF = 3;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;
const RTN_NAMES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
/** "unicast" for RTN_UNICAST … (the number as text when unknown). */
export const routeTypeName = (type: number): string => RTN_NAMES[type] ?? String(type);

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

export const RT_SCOPE = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
export type ScopeName = keyof typeof RT_SCOPE;
const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

const NLMSG_HDRLEN = 16;
const align4 = (n: number): number => (n + 3) & ~3;

// ---- encoding ------------------------------------------------------------

/** struct rtattr + payload, padded to 4 bytes. */
export function rtattr(type: number, data: Uint8Array): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc(align4(len));
  writeU16h(b, len, 0);
  writeU16h(b, type, 2);
  b.set(data, 4);
  return b;
}

export const rtattrU32 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  writeU32h(d, v, 0);
  return rtattr(type, d);
};
export const rtattrString = (type: number, s: string): Buffer => rtattr(type, Buffer.from(`${s}\0`));

/** struct nlmsghdr + parts (each already 4-aligned). */
export function nlmsg(type: number, flags: number, seq: number, parts: Uint8Array[], pid = 0): Buffer {
  const body = Buffer.concat(parts);
  const b = Buffer.alloc(NLMSG_HDRLEN + body.length);
  writeU32h(b, b.length, 0);
  writeU16h(b, type, 4);
  writeU16h(b, flags, 6);
  writeU32h(b, seq, 8);
  writeU32h(b, pid, 12);
  body.copy(b, NLMSG_HDRLEN);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(m: { family: number; prefixlen?: number; flags?: number; scope?: number; index?: number }): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.prefixlen ?? 0, 1);
  b.writeUInt8((m.flags ?? 0) & 0xff, 2);
  b.writeUInt8(m.scope ?? 0, 3);
  writeU32h(b, m.index ?? 0, 4);
  return b;
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(m: { family?: number; type?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(m.family ?? AF_UNSPEC, 0);
  writeU16h(b, m.type ?? 0, 2);
  writeI32h(b, m.index ?? 0, 4);
  writeU32h(b, m.flags ?? 0, 8);
  writeU32h(b, m.change ?? 0, 12);
  return b;
}

/** struct ndmsg (12 bytes). */
export function ndmsg(m: { family: number; ifindex?: number; state?: number; flags?: number; type?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  writeI32h(b, m.ifindex ?? 0, 4);
  writeU16h(b, m.state ?? 0, 8);
  b.writeUInt8(m.flags ?? 0, 10);
  b.writeUInt8(m.type ?? 0, 11);
  return b;
}

/** struct rtmsg (12 bytes). */
export function rtmsg(m: {
  family: number;
  dstLen?: number;
  srcLen?: number;
  tos?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.dstLen ?? 0, 1);
  b.writeUInt8(m.srcLen ?? 0, 2);
  b.writeUInt8(m.tos ?? 0, 3);
  b.writeUInt8(m.table ?? 0, 4);
  b.writeUInt8(m.protocol ?? 0, 5);
  b.writeUInt8(m.scope ?? 0, 6);
  b.writeUInt8(m.type ?? 0, 7);
  writeU32h(b, m.flags ?? 0, 8);
  return b;
}

/** An IPv4 or IPv6 address in its wire form, with its address family. */
export function ipBytes(address: string): { family: number; bytes: Buffer } {
  return address.includes(':') ? { family: AF_INET6, bytes: ipv6ToBytes(address) } : { family: AF_INET, bytes: ipv4ToBytes(address) };
}

// ---- decoding ------------------------------------------------------------

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The message after its 16-byte header. */
  payload: Buffer;
}

/** Splits a datagram into netlink messages (stops at a malformed length). */
export function parseNlmsgs(b: Buffer, len = b.length): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    const mlen = readU32h(b, off);
    if (mlen < NLMSG_HDRLEN || off + mlen > len) break;
    out.push({
      type: readU16h(b, off + 4),
      flags: readU16h(b, off + 6),
      seq: readU32h(b, off + 8),
      pid: readU32h(b, off + 12),
      payload: b.subarray(off + NLMSG_HDRLEN, off + mlen),
    });
    off += align4(mlen);
  }
  return out;
}

/** Attributes from `off` to the end of `b`, by type (a repeated type keeps the first). */
export function parseRtattrs(b: Buffer, off: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  while (off + 4 <= b.length) {
    const len = readU16h(b, off);
    if (len < 4 || off + len > b.length) break;
    const type = readU16h(b, off + 2) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (!out.has(type)) out.set(type, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

const cString = (b: Buffer | undefined): string | undefined => {
  if (!b) return undefined;
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
};

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Operationally up (IFF_RUNNING: up and carrier). */
  running: boolean;
  /** Carrier (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** "aa:bb:cc:dd:ee:ff" (empty for interfaces without one). */
  mac: string;
  mtu: number;
  operstate: string;
}

export function decodeLink(payload: Buffer): LinkInfo {
  const flags = readU32h(payload, 8);
  const attrs = parseRtattrs(payload, 16);
  const mac = attrs.get(IFLA_ADDRESS);
  const op = attrs.get(IFLA_OPERSTATE)?.readUInt8(0);
  const mtu = attrs.get(IFLA_MTU);
  return {
    ifindex: readI32h(payload, 4),
    name: cString(attrs.get(IFLA_IFNAME)) ?? '',
    flags,
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mac: mac ? bytesToMac(mac, 0, mac.length) : '',
    mtu: mtu ? readU32h(mtu, 0) : 0,
    operstate: op === undefined ? 'unknown' : (OPERSTATES[op] ?? String(op)),
  };
}

export interface AddressInfo {
  family: 'inet' | 'inet6';
  ifindex: number;
  address: string;
  prefix: number;
  /** IFA_F_* flags (the 32-bit IFA_FLAGS attribute when present). */
  flags: number;
  scope: number;
  label?: string;
  broadcast?: string;
  /** The peer of a point-to-point address (IFA_ADDRESS ≠ IFA_LOCAL). */
  peer?: string;
  tentative: boolean;
  dadfailed: boolean;
  deprecated: boolean;
  permanent: boolean;
  nodad: boolean;
  secondary: boolean;
}

export function decodeAddress(payload: Buffer): AddressInfo {
  const fam = payload.readUInt8(0);
  const attrs = parseRtattrs(payload, 8);
  const ip = (b: Buffer | undefined): string | undefined => (b ? (fam === AF_INET ? bytesToIpv4(b) : bytesToIpv6(b)) : undefined);
  const local = ip(attrs.get(IFA_LOCAL));
  const addr = ip(attrs.get(IFA_ADDRESS));
  const f32 = attrs.get(IFA_FLAGS);
  const flags = f32 ? readU32h(f32, 0) : payload.readUInt8(2);
  const info: AddressInfo = {
    family: fam === AF_INET ? 'inet' : 'inet6',
    ifindex: readU32h(payload, 4),
    address: local ?? addr ?? '',
    prefix: payload.readUInt8(1),
    flags,
    scope: payload.readUInt8(3),
    tentative: (flags & IFA_F_TENTATIVE) !== 0,
    dadfailed: (flags & IFA_F_DADFAILED) !== 0,
    deprecated: (flags & IFA_F_DEPRECATED) !== 0,
    permanent: (flags & IFA_F_PERMANENT) !== 0,
    nodad: (flags & IFA_F_NODAD) !== 0,
    secondary: (flags & IFA_F_SECONDARY) !== 0,
  };
  const label = cString(attrs.get(IFA_LABEL));
  if (label !== undefined) info.label = label;
  const brd = ip(attrs.get(IFA_BROADCAST));
  if (brd !== undefined) info.broadcast = brd;
  if (local !== undefined && addr !== undefined && addr !== local) info.peer = addr;
  return info;
}

export interface NeighInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  /** Link-layer address, "aa:bb:cc:dd:ee:ff" lowercase; absent while unresolved. */
  mac?: string;
  /** NUD_* bits (0 = NUD_NONE). */
  state: number;
  /** The state bits by name, e.g. ['reachable'] (['none'] for 0). */
  stateNames: string[];
  /** IPv6 only: the neighbour said it is a router (NTF_ROUTER). */
  router?: boolean;
}

export function neighStateNames(state: number): string[] {
  if (state === 0) return ['none'];
  const names = NUD_NAMES.filter(([bit]) => state & bit).map(([, n]) => n);
  for (let bit = 0x100; bit <= 0x8000; bit <<= 1) if (state & bit) names.push(`0x${bit.toString(16)}`);
  return names;
}

/** An RTM_NEWNEIGH payload; undefined for families other than IPv4/IPv6 (e.g. bridge FDB entries). */
export function decodeNeighbour(payload: Buffer): NeighInfo | undefined {
  const fam = payload.readUInt8(0);
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const state = readU16h(payload, 8);
  const flags = payload.readUInt8(10);
  const attrs = parseRtattrs(payload, 12);
  const dst = attrs.get(NDA_DST);
  const ll = attrs.get(NDA_LLADDR);
  const info: NeighInfo = {
    ifindex: readI32h(payload, 4),
    family: fam === AF_INET ? 4 : 6,
    address: dst ? (fam === AF_INET ? bytesToIpv4(dst) : bytesToIpv6(dst)) : '',
    state,
    stateNames: neighStateNames(state),
  };
  if (ll && ll.length > 0) info.mac = bytesToMac(ll, 0, ll.length);
  if (fam === AF_INET6) info.router = (flags & NTF_ROUTER) !== 0;
  return info;
}

/** The kernel's answer to a route lookup (`ip route get`). */
export interface RouteLookup {
  /** Outgoing interface (RTA_OIF); the loopback interface for local addresses. */
  ifindex: number;
  /** Next hop, when the destination is not on-link. */
  gateway?: string;
  /** The source address the kernel would use. */
  prefsrc?: string;
  /** RTN_* (RTN_UNICAST, RTN_LOCAL …); see routeTypeName. */
  type: number;
}

export function decodeRoute(payload: Buffer): RouteLookup {
  const fam = payload.readUInt8(0);
  const attrs = parseRtattrs(payload, 12);
  const ip = (b: Buffer | undefined): string | undefined => (b ? (fam === AF_INET ? bytesToIpv4(b) : bytesToIpv6(b)) : undefined);
  const oif = attrs.get(RTA_OIF);
  const r: RouteLookup = { ifindex: oif ? readI32h(oif, 0) : 0, type: payload.readUInt8(7) };
  const gw = ip(attrs.get(RTA_GATEWAY));
  if (gw !== undefined) r.gateway = gw;
  const src = ip(attrs.get(RTA_PREFSRC));
  if (src !== undefined) r.prefsrc = src;
  return r;
}

// ---- errors --------------------------------------------------------------

/** A request the kernel refused: `code` is the errno name ("EEXIST"), `extack` the kernel's own text. */
export class NetlinkError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly extack: string | undefined;
  constructor(what: string, errno: number, extack?: string) {
    super(`${what}: ${errnoName(errno)} (${errnoText(errno)})${extack ? `: ${extack}` : ''}`);
    this.name = 'NetlinkError';
    this.code = errnoName(errno);
    this.errno = Math.abs(errno);
    this.extack = extack;
  }
}

/** Decodes an NLMSG_ERROR payload: errno (0 = ACK) and the extended-ACK message if any. */
export function decodeNlError(m: NlMsg): { errno: number; extack?: string } {
  const errno = 0 - readI32h(m.payload, 0); // (not -x: no -0 for an ACK)
  if (!(m.flags & NLM_F_ACK_TLVS) || m.payload.length < 4 + NLMSG_HDRLEN) return { errno };
  // struct nlmsgerr { int error; struct nlmsghdr msg; } then the echoed request body
  // (unless NLM_F_CAPPED), then TLVs.
  const echoed = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : readU32h(m.payload, 4);
  const msg = cString(parseRtattrs(m.payload, 4 + align4(echoed)).get(NLMSGERR_ATTR_MSG));
  return msg ? { errno, extack: msg } : { errno };
}

// ---- the client ------------------------------------------------------------

export interface AddressSpec {
  ifindex: number;
  /** IPv4 or IPv6 address (family follows). */
  address: string;
  /** Prefix length; default 32 / 128. For deleting IPv6 it is looked up when omitted. */
  prefix?: number;
  /** IPv4 only: the address label (`ip addr … label eth0:vip`); the kernel wants it to start with the interface name. */
  label?: string;
  /** IPv4 broadcast address. */
  broadcast?: string;
  scope?: ScopeName | number;
  /** IFA_F_NODAD: IPv6 address usable at once, no duplicate address detection. */
  noDad?: boolean;
  /** IFA_F_NOPREFIXROUTE: no prefix route for the address (e.g. a VIP /24 on a second interface). */
  noPrefixRoute?: boolean;
  /** NLM_F_REPLACE instead of NLM_F_EXCL: update an existing address instead of EEXIST. */
  replace?: boolean;
}

export type LinkEvent = { type: 'link'; action: 'new' | 'del' } & LinkInfo;
export type AddressEvent = { type: 'address'; action: 'add' | 'del' } & AddressInfo;
export interface ResyncEvent {
  type: 'resync';
  /** 'initial' (watch option) or the errno name that forced it ('ENOBUFS'). */
  reason: string;
  links: LinkInfo[];
  addresses: AddressInfo[];
}
export interface WatchErrorEvent {
  type: 'error';
  error: Error;
}
export type RtnlEvent = LinkEvent | AddressEvent | ResyncEvent | WatchErrorEvent;

export interface WatchOptions {
  /** RTMGRP_* bit mask (default link + IPv4 + IPv6 addresses). */
  groups?: number;
  /** Monitor socket receive buffer in bytes (SO_RCVBUFFORCE, falling back to SO_RCVBUF). */
  rcvbuf?: number;
  /** Emit a 'resync' with reason 'initial' once subscribed (state with no gap before events). */
  initial?: boolean;
}

export interface RtnlWatch {
  close(): void;
}

const familyNumber = (f: 'inet' | 'inet6' | number | undefined): number =>
  f === 'inet' ? AF_INET : f === 'inet6' ? AF_INET6 : (f ?? AF_UNSPEC);

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export interface NetlinkTransactionOptions {
  /** What the request does, for errors ("dump links"); a function is called only on failure. */
  what: string | (() => string);
  /** Socket kind for syscall errors ("rtnetlink", "ctnetlink"). */
  label: string;
  /** The request message for a sequence number (rebuilt when an interrupted dump restarts). */
  build: (seq: number) => Buffer;
  /** NLM_F_DUMP request: read until NLMSG_DONE. */
  dump: boolean;
  /** NLM_F_ACK request: read until the ACK (an NLMSG_ERROR with errno 0). */
  ack: boolean;
  /** The next sequence number. */
  nextSeq: () => number;
  /** Each reply message; its payload is a view of the receive buffer, valid during the call only. */
  onMsg: (m: NlMsg) => void;
  /** An interrupted dump (NLM_F_DUMP_INTR) is being restarted: forget the messages so far. */
  onRestart?: () => void;
  /** Restarts of an interrupted dump before its result is accepted as is (default 5). */
  maxRestarts?: number;
}

/**
 * One netlink request on a non-blocking socket, answered synchronously: the kernel
 * processes a request inside sendmsg, so its reply (or ACK) is queued when sendto
 * returns, and each recvmsg refills a dump. Messages with another sequence number
 * (left over from an earlier request) are skipped; an NLMSG_ERROR throws NetlinkError;
 * an interrupted dump (NLM_F_DUMP_INTR: the table changed under it) is restarted.
 */
export function netlinkTransaction(fd: number, rbuf: Buffer, o: NetlinkTransactionOptions): void {
  const A = addon();
  const maxRestarts = o.maxRestarts ?? 5;
  for (let attempt = 0; ; attempt++) {
    const seq = o.nextSeq();
    const sent = A.sendto(fd, o.build(seq), sockaddrNl(0, 0));
    if (sent < 0) throw new NativeError('sendto', sent, `(${o.label})`);
    let interrupted = false;
    let waited = 0;
    let done = false;
    while (!done) {
      const r = A.recvmsg(fd, rbuf, null, null);
      if (typeof r === 'number') {
        if (r === -11 && waited < 5000) {
          // Not expected (see above); wait 1 ms at a time rather than spin.
          Atomics.wait(sleeper, 0, 0, 1);
          waited++;
          continue;
        }
        throw new NativeError('recvmsg', r === -11 ? -110 : r, `(${o.label})`);
      }
      if (r[3] & MSG_TRUNC) throw new NativeError('recvmsg', -90, `(${o.label}: a ${r[0]}-byte message did not fit the ${rbuf.length}-byte buffer)`); // EMSGSIZE
      for (const m of parseNlmsgs(rbuf, r[0])) {
        if (m.seq !== seq) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_ERROR) {
          const e = decodeNlError(m);
          if (e.errno !== 0) throw new NetlinkError(typeof o.what === 'string' ? o.what : o.what(), e.errno, e.extack);
          done = true; // ACK
        } else if (m.type === NLMSG_DONE) done = true;
        else if (m.type !== NLMSG_NOOP && m.type !== NLMSG_OVERRUN) {
          o.onMsg(m);
          if (!o.dump && !o.ack) done = true; // a single reply
        }
      }
    }
    if (interrupted && attempt < maxRestarts) {
      o.onRestart?.();
      continue;
    }
    return;
  }
}

/** Synchronous rtnetlink requests (the kernel answers inside sendmsg) and event monitors. */
export class Rtnetlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(65536);
  private closed = false;
  private readonly watches = new Set<RtnlWatch>();

  static open(): Rtnetlink {
    const A = addon();
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) throw new NativeError('socket', fd, '(AF_NETLINK, NETLINK_ROUTE)');
    const rc = A.bind(fd, sockaddrNl(0, 0));
    if (rc < 0) {
      A.close(fd);
      throw new NativeError('bind', rc, '(netlink)');
    }
    // Extended ACKs carry the kernel's reason text; best effort (old kernels lack it).
    const one = Buffer.alloc(4);
    writeI32h(one, 1, 0);
    A.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
    return new Rtnetlink(fd);
  }

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** All interfaces (RTM_GETLINK dump). */
  dumpLinks(): LinkInfo[] {
    const out: LinkInfo[] = [];
    this.request('dump links', RTM_GETLINK, NLM_F_DUMP, [ifinfomsg({})], (m) => {
      if (m.type === RTM_NEWLINK) out.push(decodeLink(m.payload));
    });
    return out;
  }

  /** One interface by index or name; throws NetlinkError ENODEV when there is none. */
  getLink(which: number | string): LinkInfo {
    let found: LinkInfo | undefined;
    const body = typeof which === 'number' ? [ifinfomsg({ index: which })] : [ifinfomsg({}), rtattrString(IFLA_IFNAME, which)];
    this.request(`get link ${which}`, RTM_GETLINK, 0, body, (m) => {
      if (m.type === RTM_NEWLINK) found = decodeLink(m.payload);
    });
    if (!found) throw new NetlinkError(`get link ${which}`, 19);
    return found;
  }

  /** All addresses, or those of one family (RTM_GETADDR dump). */
  dumpAddresses(family?: 'inet' | 'inet6' | number): AddressInfo[] {
    const out: AddressInfo[] = [];
    this.request('dump addresses', RTM_GETADDR, NLM_F_DUMP, [ifaddrmsg({ family: familyNumber(family) })], (m) => {
      if (m.type === RTM_NEWADDR) out.push(decodeAddress(m.payload));
    });
    return out;
  }

  /** The neighbour tables (ARP and/or NDP; RTM_GETNEIGH dump), without proxy entries. */
  dumpNeighbours(family?: 4 | 6): NeighInfo[] {
    const out: NeighInfo[] = [];
    const fam = family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC;
    this.request('dump neighbours', RTM_GETNEIGH, NLM_F_DUMP, [ndmsg({ family: fam })], (m) => {
      if (m.type !== RTM_NEWNEIGH) return;
      const n = decodeNeighbour(m.payload);
      if (n && (family === undefined || n.family === family)) out.push(n);
    });
    return out;
  }

  /** One neighbour entry (RTM_GETNEIGH without dump), or undefined when the kernel has none. */
  getNeighbour(address: string, ifindex: number): NeighInfo | undefined {
    const { family, bytes } = ipBytes(address);
    let found: NeighInfo | undefined;
    try {
      this.request(`get neighbour ${address} on ifindex ${ifindex}`, RTM_GETNEIGH, 0, [ndmsg({ family, ifindex }), rtattr(NDA_DST, bytes)], (m) => {
        if (m.type === RTM_NEWNEIGH) found = decodeNeighbour(m.payload);
      });
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return found;
  }

  /**
   * The kernel's route lookup for one destination (RTM_GETROUTE with RTA_DST, like
   * `ip route get`). Throws NetlinkError (e.g. ENETUNREACH) naming the address.
   */
  routeGet(address: string): RouteLookup {
    const { family, bytes } = ipBytes(address);
    let found: RouteLookup | undefined;
    const what = `route lookup for ${address}`;
    this.request(what, RTM_GETROUTE, 0, [rtmsg({ family, dstLen: bytes.length * 8 }), rtattr(RTA_DST, bytes)], (m) => {
      if (m.type === RTM_NEWROUTE) found = decodeRoute(m.payload);
    });
    if (!found) throw new NetlinkError(what, 113); // EHOSTUNREACH: no answer at all
    return found;
  }

  /**
   * Makes the kernel resolve a neighbour now (ARP request / neighbour solicitation), as
   * a packet to it would: RTM_NEWNEIGH with NTF_USE (`ip neigh add ADDR dev IF use`).
   * A missing entry is created (NUD_NONE, then INCOMPLETE while probing), a FAILED one
   * is probed again, a STALE one goes to DELAY and is reconfirmed, a REACHABLE one is
   * left as it is. PERMANENT and NOARP entries are not touched (NTF_USE would demote a
   * PERMANENT entry to INCOMPLETE). Returns at once: poll getNeighbour for the result.
   * Throws NetlinkError naming the address and interface (e.g. ENODEV).
   */
  probeNeighbour(address: string, ifindex: number): void {
    const cur = this.getNeighbour(address, ifindex);
    if (cur && cur.state & (NUD_PERMANENT | NUD_NOARP)) return;
    const { family, bytes } = ipBytes(address);
    this.request(
      () => `probe neighbour ${address} on ${this.ifDescription(ifindex)}`,
      RTM_NEWNEIGH,
      NLM_F_ACK | NLM_F_CREATE,
      [ndmsg({ family, ifindex, flags: NTF_USE }), rtattr(NDA_DST, bytes)],
    );
  }

  /** The interface's name, or "ifindex N" when there is none. */
  ifName(ifindex: number): string {
    try {
      return this.getLink(ifindex).name;
    } catch {
      return `ifindex ${ifindex}`;
    }
  }

  /** "eth0 (ifindex 3)", or "ifindex 3 (no such interface)". */
  ifDescription(ifindex: number): string {
    try {
      return `${this.getLink(ifindex).name} (ifindex ${ifindex})`;
    } catch {
      return `ifindex ${ifindex} (no such interface)`;
    }
  }

  /** RTM_NEWADDR with NLM_F_EXCL (or REPLACE): throws NetlinkError, e.g. EEXIST, naming address and interface. */
  addAddress(spec: AddressSpec): void {
    const { body, prefix } = this.addressBody(spec, true);
    const flags = NLM_F_ACK | NLM_F_CREATE | (spec.replace ? NLM_F_REPLACE : NLM_F_EXCL);
    this.request(() => this.describe('add', spec.address, prefix, spec.ifindex), RTM_NEWADDR, flags, body);
  }

  /** RTM_DELADDR: throws NetlinkError, e.g. EADDRNOTAVAIL when the address is not there. */
  delAddress(spec: Pick<AddressSpec, 'ifindex' | 'address' | 'prefix'>): void {
    let s = spec;
    if (spec.address.includes(':') && spec.prefix === undefined) {
      // IPv6 deletion matches on the prefix length too: take the one the kernel has.
      const want = bytesToIpv6(ipv6ToBytes(spec.address));
      const cur = this.dumpAddresses('inet6').find((a) => a.ifindex === spec.ifindex && a.address === want);
      if (cur) s = { ...spec, prefix: cur.prefix };
    }
    const { body, prefix } = this.addressBody(s, false);
    this.request(() => this.describe('delete', spec.address, prefix, spec.ifindex), RTM_DELADDR, NLM_F_ACK, body);
  }

  /**
   * Subscribes to link/address events. Events are delivered in kernel order; after an
   * overflow (ENOBUFS) the queued events are discarded and one 'resync' carries the
   * full current state, after which events continue.
   */
  watch(handler: (ev: RtnlEvent) => void, opts: WatchOptions = {}): RtnlWatch {
    const groups = opts.groups ?? RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    const sock = PacketSocket.open(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, { bufferSize: 65536, controlSize: 0 });
    let closed = false;
    try {
      if (opts.rcvbuf !== undefined) {
        try {
          sock.setOption(SOL_SOCKET, SO_RCVBUFFORCE, opts.rcvbuf);
        } catch {
          sock.setOption(SOL_SOCKET, SO_RCVBUF, opts.rcvbuf);
        }
      }
      sock.bind(sockaddrNl(0, groups));
    } catch (err) {
      sock.close();
      throw err;
    }
    const resync = (reason: string): void => {
      if (closed) return;
      // Everything queued predates the dump below, which supersedes it.
      sock.drain();
      let ev: ResyncEvent;
      try {
        ev = { type: 'resync', reason, links: this.dumpLinks(), addresses: this.dumpAddresses() };
      } catch (error) {
        handler({ type: 'error', error: error as Error });
        return;
      }
      handler(ev);
    };
    sock.start(
      (p) => {
        for (const m of parseNlmsgs(p.data)) {
          if (closed) return;
          if (m.type === RTM_NEWLINK || m.type === RTM_DELLINK)
            handler({ type: 'link', action: m.type === RTM_NEWLINK ? 'new' : 'del', ...decodeLink(m.payload) });
          else if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR)
            handler({ type: 'address', action: m.type === RTM_NEWADDR ? 'add' : 'del', ...decodeAddress(m.payload) });
        }
      },
      (err) => {
        if (err.code === 'ENOBUFS') resync('ENOBUFS');
        else handler({ type: 'error', error: err });
      },
    );
    const w: RtnlWatch = {
      close: () => {
        if (closed) return;
        closed = true;
        this.watches.delete(w);
        sock.close();
      },
    };
    this.watches.add(w);
    if (opts.initial) setImmediate(() => resync('initial'));
    return w;
  }

  /** Closes the request socket and every watch. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    addon().close(this.fd);
  }

  private addressBody(spec: AddressSpec, adding: boolean): { body: Buffer[]; prefix: number | undefined } {
    const v6 = spec.address.includes(':');
    const family = v6 ? AF_INET6 : AF_INET;
    const bytes = v6 ? ipv6ToBytes(spec.address) : ipv4ToBytes(spec.address);
    const prefix = spec.prefix ?? (adding ? (v6 ? 128 : 32) : undefined);
    let flags = 0;
    if (spec.noDad) flags |= IFA_F_NODAD;
    if (spec.noPrefixRoute) flags |= IFA_F_NOPREFIXROUTE;
    const scope = typeof spec.scope === 'string' ? RT_SCOPE[spec.scope] : (spec.scope ?? 0);
    const body = [ifaddrmsg({ family, prefixlen: prefix ?? 0, flags, scope, index: spec.ifindex }), rtattr(IFA_LOCAL, bytes)];
    // As iproute2 does: IFA_ADDRESS = IFA_LOCAL (no peer). For IPv4 deletes it also makes
    // the kernel match the prefix length, so it is left out when no prefix is given.
    if (prefix !== undefined || v6) body.push(rtattr(IFA_ADDRESS, bytes));
    if (adding) {
      if (spec.label !== undefined && !v6) body.push(rtattrString(IFA_LABEL, spec.label));
      if (spec.broadcast !== undefined && !v6) body.push(rtattr(IFA_BROADCAST, ipv4ToBytes(spec.broadcast)));
      // ifa_flags is 8 bits; IFA_F_NOPREFIXROUTE (0x200) only fits the 32-bit IFA_FLAGS.
      if (flags) body.push(rtattrU32(IFA_FLAGS, flags));
    }
    return { body, prefix };
  }

  /** "add 10.0.0.1/24 on eth0 (ifindex 3)" — the interface named from the kernel, when it exists. */
  private describe(verb: string, address: string, prefix: number | undefined, ifindex: number): string {
    return `${verb} address ${address}${prefix === undefined ? '' : `/${prefix}`} on ${this.ifDescription(ifindex)}`;
  }

  /**
   * Sends one request and reads its answer synchronously (see netlinkTransaction).
   * Messages are handed to onMsg only once the answer is complete and consistent.
   * Public for requests this class has no method for (src/host/netlink.ts).
   */
  request(what: string | (() => string), type: number, flags: number, body: Buffer[], onMsg?: (m: NlMsg) => void): void {
    if (this.closed) throw new NativeError('rtnetlink', -9, '(closed)');
    const collected: NlMsg[] = [];
    netlinkTransaction(this.fd, this.rbuf, {
      what,
      label: 'rtnetlink',
      build: (seq) => nlmsg(type, flags | NLM_F_REQUEST, seq, body),
      dump: (flags & NLM_F_DUMP) === NLM_F_DUMP,
      ack: (flags & NLM_F_ACK) !== 0,
      nextSeq: () => (this.seq = (this.seq + 1) >>> 0 || 1),
      onMsg: (m) => void collected.push({ ...m, payload: Buffer.from(m.payload) }), // rbuf is reused
      onRestart: () => void (collected.length = 0),
    });
    if (onMsg) for (const m of collected) onMsg(m);
  }
}
