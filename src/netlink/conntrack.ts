// ctnetlink (the conntrack subsystem of nfnetlink; Linux uapi nfnetlink.h,
// nfnetlink_conntrack.h) for haldir: dumping the connection tracking table of the
// current network namespace and counting NAT connections per service and real
// server, like ipvsadm's ActiveConn / InActConn, for the nftables data plane.
//
// Wire format: struct nlmsghdr, struct nfgenmsg { u8 family; u8 version; __be16
// res_id }, then netlink attributes. Attribute headers are host order like every
// netlink attribute, but netfilter attribute payloads (status, mark, timeout, ports)
// are big-endian. Nested attributes carry NLA_F_NESTED (0x8000), masked by parseRtattrs.
import { addon } from '../native/addon.js';
import { AF_INET, AF_INET6, AF_NETLINK, AF_UNSPEC, NETLINK_EXT_ACK, SOCK_RAW, SOL_NETLINK } from '../native/constants.js';
import { errnoName, errnoText, NativeError } from '../native/errors.js';
import { bytesToIpv4, bytesToIpv6, readU16h, sockaddrNl, writeI32h } from '../native/sockaddr.js';
import { canonicalIp } from '../vrrp/addr.js';
import { NetlinkError, netlinkTransaction, nlmsg, NLM_F_DUMP, NLM_F_REQUEST, rtattr } from './rtnetlink.js';

// ---- constants ----------------------------------------------------------------

export const NETLINK_NETFILTER = 12;
export const NFNETLINK_V0 = 0;
export const NFNL_SUBSYS_CTNETLINK = 1;
export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;

export const CTA_TUPLE_ORIG = 1;
export const CTA_TUPLE_REPLY = 2;
export const CTA_STATUS = 3;
export const CTA_PROTOINFO = 4;
export const CTA_TIMEOUT = 7;
export const CTA_MARK = 8;
export const CTA_ID = 12;
export const CTA_ZONE = 18;
export const CTA_MARK_MASK = 21;
export const CTA_STATUS_MASK = 26;

export const CTA_TUPLE_IP = 1;
export const CTA_TUPLE_PROTO = 2;
export const CTA_IP_V4_SRC = 1;
export const CTA_IP_V4_DST = 2;
export const CTA_IP_V6_SRC = 3;
export const CTA_IP_V6_DST = 4;
export const CTA_PROTO_NUM = 1;
export const CTA_PROTO_SRC_PORT = 2;
export const CTA_PROTO_DST_PORT = 3;

export const CTA_PROTOINFO_TCP = 1;
export const CTA_PROTOINFO_SCTP = 3;
export const CTA_PROTOINFO_TCP_STATE = 1;
export const CTA_PROTOINFO_SCTP_STATE = 1;

/** enum ip_conntrack_status bits (CTA_STATUS). */
export const IPS_EXPECTED = 0x1;
export const IPS_SEEN_REPLY = 0x2;
export const IPS_ASSURED = 0x4;
export const IPS_CONFIRMED = 0x8;
export const IPS_SRC_NAT = 0x10;
export const IPS_DST_NAT = 0x20;
export const IPS_DYING = 0x200;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** enum tcp_conntrack, in the kernel's order (TCP_CONNTRACK_NONE = 0 …). */
export const TCP_CONNTRACK_STATES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
] as const;
/** enum sctp_conntrack, in the kernel's order. */
export const SCTP_CONNTRACK_STATES = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
] as const;

const NFGENMSG_LEN = 4;
/**
 * The kernel fills a dump reply of at most ~32 KiB (netlink caps its allocation at
 * 32 KiB, sized to the reader's last buffer), so 64 KiB always holds one whole reply.
 */
const RECV_BUFFER = 65536;

// ---- types ----------------------------------------------------------------------

/**
 * A dump filter the kernel applies (so unmatched entries cost no message): entries
 * with (ct mark & markMask) == mark and/or (status & statusMask) == status. The mark
 * filter is old; the status filter is honoured by recent kernels (6.18 here) and
 * ignored by older ones (all entries come back, so callers still check the status).
 */
export interface ConntrackFilter {
  mark?: number;
  /** Default 0xffffffff when mark is given. */
  markMask?: number;
  status?: number;
  /** Default `status` when status is given. */
  statusMask?: number;
}

export interface ConntrackTuple {
  src: string;
  dst: string;
  /** Host order; 0 for protocols without ports. */
  sport: number;
  dport: number;
}

export interface ConntrackEntry {
  family: 4 | 6;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP …). */
  proto: number;
  /** As the first packet was seen (client → VIP). */
  orig: ConntrackTuple;
  /** As the reply is expected (after DNAT: real server → client). */
  reply: ConntrackTuple;
  /** IPS_* bits. */
  status: number;
  /** TCP state name (TCP_CONNTRACK_STATES), e.g. 'ESTABLISHED', 'TIME_WAIT'. */
  tcpState?: string;
  /** SCTP state name (SCTP_CONNTRACK_STATES). */
  sctpState?: string;
  /** The conntrack mark (ct mark). */
  mark?: number;
  /** Seconds until the entry expires. */
  timeout?: number;
  /** The kernel's id of the entry. */
  id?: number;
  zone?: number;
}

// ---- encoding / decoding ------------------------------------------------------

/** struct nfgenmsg (4 bytes): family, version NFNETLINK_V0, res_id 0 (big-endian). */
export function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(NFGENMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(NFNETLINK_V0, 1);
  b.writeUInt16BE(resId, 2);
  return b;
}

const be32attr = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  d.writeUInt32BE(v >>> 0, 0);
  return rtattr(type, d);
};

/** The attributes of a dump request carrying a filter. */
export function filterAttrs(f: ConntrackFilter = {}): Buffer[] {
  const out: Buffer[] = [];
  if (f.mark !== undefined) out.push(be32attr(CTA_MARK, f.mark), be32attr(CTA_MARK_MASK, f.markMask ?? 0xffffffff));
  if (f.status !== undefined) out.push(be32attr(CTA_STATUS, f.status), be32attr(CTA_STATUS_MASK, f.statusMask ?? f.status));
  return out;
}

/** The nlmsg_type of a ctnetlink message. */
export const ctnlMsgType = (msg: number): number => (NFNL_SUBSYS_CTNETLINK << 8) | msg;

// The decoder walks attributes in place (offsets into the message, no per-level maps
// or slices): a large table is tens of thousands of entries of ~150 bytes each.

const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER

/** Calls fn(type, dataOffset, dataLength) for each attribute in b[start, end). */
function eachAttr(b: Buffer, start: number, end: number, fn: (type: number, off: number, len: number) => void): void {
  let off = start;
  while (off + 4 <= end) {
    const len = readU16h(b, off);
    if (len < 4 || off + len > end) return;
    fn(readU16h(b, off + 2) & NLA_TYPE_MASK, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}

function decodeTuple(b: Buffer, start: number, end: number, v6: boolean): { proto: number; tuple: ConntrackTuple } {
  const tuple: ConntrackTuple = { src: '', dst: '', sport: 0, dport: 0 };
  let proto = 0;
  eachAttr(b, start, end, (type, off, len) => {
    if (type === CTA_TUPLE_IP)
      eachAttr(b, off, off + len, (t, o, l) => {
        if (v6 && l >= 16) {
          if (t === CTA_IP_V6_SRC) tuple.src = bytesToIpv6(b, o);
          else if (t === CTA_IP_V6_DST) tuple.dst = bytesToIpv6(b, o);
        } else if (!v6 && l >= 4) {
          if (t === CTA_IP_V4_SRC) tuple.src = bytesToIpv4(b, o);
          else if (t === CTA_IP_V4_DST) tuple.dst = bytesToIpv4(b, o);
        }
      });
    else if (type === CTA_TUPLE_PROTO)
      eachAttr(b, off, off + len, (t, o, l) => {
        if (t === CTA_PROTO_NUM && l >= 1) proto = b[o]!;
        else if (t === CTA_PROTO_SRC_PORT && l >= 2) tuple.sport = b.readUInt16BE(o);
        else if (t === CTA_PROTO_DST_PORT && l >= 2) tuple.dport = b.readUInt16BE(o);
      });
  });
  return { proto, tuple };
}

/** The u8 state inside CTA_PROTOINFO_<proto> (CTA_PROTOINFO_TCP_STATE = CTA_PROTOINFO_SCTP_STATE = 1). */
function protoState(b: Buffer, start: number, end: number): number | undefined {
  let st: number | undefined;
  eachAttr(b, start, end, (t, o, l) => {
    if (t === CTA_PROTOINFO_TCP_STATE && l >= 1) st = b[o];
  });
  return st;
}

const EMPTY_TUPLE = (): { proto: number; tuple: ConntrackTuple } => ({ proto: 0, tuple: { src: '', dst: '', sport: 0, dport: 0 } });

/** An IPCTNL_MSG_CT_NEW payload (after the netlink header): nfgenmsg + attributes. */
export function decodeConntrack(payload: Buffer): ConntrackEntry {
  const family = payload.readUInt8(0);
  const v6 = family === AF_INET6;
  let orig = EMPTY_TUPLE();
  let reply = EMPTY_TUPLE();
  let status = 0;
  let tcpState: number | undefined;
  let sctpState: number | undefined;
  let mark: number | undefined;
  let timeout: number | undefined;
  let id: number | undefined;
  let zone: number | undefined;
  eachAttr(payload, NFGENMSG_LEN, payload.length, (type, off, len) => {
    switch (type) {
      case CTA_TUPLE_ORIG:
        orig = decodeTuple(payload, off, off + len, v6);
        break;
      case CTA_TUPLE_REPLY:
        reply = decodeTuple(payload, off, off + len, v6);
        break;
      case CTA_STATUS:
        if (len >= 4) status = payload.readUInt32BE(off);
        break;
      case CTA_PROTOINFO:
        eachAttr(payload, off, off + len, (t, o, l) => {
          if (t === CTA_PROTOINFO_TCP) tcpState = protoState(payload, o, o + l);
          else if (t === CTA_PROTOINFO_SCTP) sctpState = protoState(payload, o, o + l);
        });
        break;
      case CTA_MARK:
        if (len >= 4) mark = payload.readUInt32BE(off);
        break;
      case CTA_TIMEOUT:
        if (len >= 4) timeout = payload.readUInt32BE(off);
        break;
      case CTA_ID:
        if (len >= 4) id = payload.readUInt32BE(off);
        break;
      case CTA_ZONE:
        if (len >= 2) zone = payload.readUInt16BE(off);
        break;
    }
  });
  const e: ConntrackEntry = { family: v6 ? 6 : 4, proto: orig.proto || reply.proto, orig: orig.tuple, reply: reply.tuple, status };
  if (tcpState !== undefined) e.tcpState = TCP_CONNTRACK_STATES[tcpState] ?? String(tcpState);
  if (sctpState !== undefined) e.sctpState = SCTP_CONNTRACK_STATES[sctpState] ?? String(sctpState);
  if (mark !== undefined) e.mark = mark;
  if (timeout !== undefined) e.timeout = timeout;
  if (id !== undefined) e.id = id;
  if (zone !== undefined) e.zone = zone;
  return e;
}

// ---- errors ---------------------------------------------------------------------

/** A conntrack request the kernel refused, with what to do about it. */
export class ConntrackError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(what: string, errno: number, hint: string | undefined, options?: { cause?: unknown }) {
    super(`${what}: ${errnoName(errno)} (${errnoText(errno)})${hint ? `: ${hint}` : ''}`, options);
    this.name = 'ConntrackError';
    this.code = errnoName(errno);
    this.errno = Math.abs(errno);
  }
}

function hintFor(code: string, extack: string | undefined): string | undefined {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return 'reading the conntrack table needs CAP_NET_ADMIN (run haldir as root)';
    case 'EPROTONOSUPPORT':
      return 'the kernel has no nfnetlink (CONFIG_NETFILTER_NETLINK)';
    case 'EOPNOTSUPP':
    case 'EINVAL':
      return extack ?? 'conntrack netlink is not available: is nf_conntrack_netlink loaded? (modprobe nf_conntrack_netlink)';
    default:
      return extack;
  }
}

// ---- the client -----------------------------------------------------------------

/** A ctnetlink socket for synchronous table dumps. */
export class Ctnetlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(RECV_BUFFER);
  private closed = false;

  static open(): Ctnetlink {
    const A = addon();
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    if (fd < 0) throw new ConntrackError('socket (AF_NETLINK, NETLINK_NETFILTER)', fd, hintFor(errnoName(fd), undefined));
    const rc = A.bind(fd, sockaddrNl(0, 0));
    if (rc < 0) {
      A.close(fd);
      throw new NativeError('bind', rc, '(netlink netfilter)');
    }
    const one = Buffer.alloc(4);
    writeI32h(one, 1, 0);
    A.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
    return new Ctnetlink(fd);
  }

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Every conntrack entry of this network namespace, or those of one family and/or
   * matching a kernel-side filter (see ConntrackFilter; DST_NAT_FILTER for what
   * countNatConnections needs). Runs synchronously (the kernel refills the dump inside
   * each recvmsg), blocking the event loop: ~4 µs per entry in the kernel plus ~5 µs
   * decoding on this machine, so filter large tables. An interrupted dump is restarted.
   * Throws ConntrackError (EPERM without CAP_NET_ADMIN, …).
   */
  dump(family?: 4 | 6, filter?: ConntrackFilter): ConntrackEntry[] {
    if (this.closed) throw new NativeError('ctnetlink', -9, '(closed)');
    const fam = family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC;
    const what = `dump conntrack table${family ? ` (IPv${family})` : ''}`;
    const out: ConntrackEntry[] = [];
    const body = [nfgenmsg(fam), ...filterAttrs(filter)];
    const newType = ctnlMsgType(IPCTNL_MSG_CT_NEW);
    try {
      netlinkTransaction(this.fd, this.rbuf, {
        what,
        label: 'ctnetlink',
        build: (seq) => nlmsg(ctnlMsgType(IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_DUMP, seq, body),
        dump: true,
        ack: false,
        nextSeq: () => (this.seq = (this.seq + 1) >>> 0 || 1),
        onMsg: (m) => {
          if (m.type === newType) out.push(decodeConntrack(m.payload));
        },
        onRestart: () => void (out.length = 0),
      });
    } catch (e) {
      if (e instanceof NetlinkError) throw new ConntrackError(what, e.errno, hintFor(e.code, e.extack), { cause: e });
      throw e;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    addon().close(this.fd);
  }
}

/** Only DNATed entries (what countNatConnections counts), filtered by the kernel. */
export const DST_NAT_FILTER: Readonly<ConntrackFilter> = Object.freeze({ status: IPS_DST_NAT, statusMask: IPS_DST_NAT });

/** Opens a ctnetlink socket, dumps the table (optionally one family, filtered) and closes it. */
export function dumpConntrack(family?: 4 | 6, filter?: ConntrackFilter): ConntrackEntry[] {
  const ct = Ctnetlink.open();
  try {
    return ct.dump(family, filter);
  } finally {
    ct.close();
  }
}

// ---- NAT connection counts --------------------------------------------------------

export type NatProto = 'tcp' | 'udp' | 'sctp' | 'TCP' | 'UDP' | 'SCTP' | number;

export interface NatService {
  /** The virtual address (as clients connect to it: the original destination). */
  vip: string;
  port: number;
  proto: NatProto;
}

/** Like ipvsadm: active = TCP/SCTP ESTABLISHED (every UDP entry); inactive = every other state. */
export interface ConnCounts {
  active: number;
  inactive: number;
}

const PROTO_NAMES: Record<number, string> = { [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_SCTP]: 'sctp' };

export function protoNumber(p: NatProto): number {
  if (typeof p === 'number') return p;
  const n = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP }[p.toLowerCase() as 'tcp' | 'udp' | 'sctp'];
  if (n === undefined) throw new Error(`unknown protocol ${p}`);
  return n;
}

export const protoName = (p: number): string => PROTO_NAMES[p] ?? String(p);

// The same canonical form as the service and destination keys of health/server-state.ts.
const canon = (a: string): string => canonicalIp(a, a.includes(':') ? 6 : 4) ?? a;

/** "tcp:[10.0.0.1]:80" (the service keys of countNatConnections). */
export const natServiceKey = (proto: NatProto, vip: string, port: number): string =>
  `${protoName(protoNumber(proto))}:[${canon(vip)}]:${port}`;

/** "[10.0.0.21]:8080" (the destination keys of countNatConnections). */
export const natDestKey = (address: string, port: number): string => `[${canon(address)}]:${port}`;

/** Whether an entry counts as an active connection (ipvsadm's ActiveConn). */
export function isActiveConnection(e: ConntrackEntry): boolean {
  if (e.proto === IPPROTO_TCP) return e.tcpState === 'ESTABLISHED';
  if (e.proto === IPPROTO_SCTP) return e.sctpState === undefined || e.sctpState === 'ESTABLISHED';
  return true;
}

/**
 * Connections per service and real server, from DNATed conntrack entries: an entry with
 * IPS_DST_NAT whose original destination is the service's VIP:port counts for the real
 * server it was translated to (the reply tuple's source address:port). Every service is
 * in the result (an empty map when it has no connections); real servers appear once they
 * have an entry. Dying entries are left out.
 */
export function countNatConnections(entries: Iterable<ConntrackEntry>, services: NatService[]): Map<string, Map<string, ConnCounts>> {
  const result = new Map<string, Map<string, ConnCounts>>();
  const byTuple = new Map<string, Map<string, ConnCounts>>();
  for (const s of services) {
    const key = natServiceKey(s.proto, s.vip, s.port);
    let dests = result.get(key);
    if (!dests) result.set(key, (dests = new Map()));
    byTuple.set(`${protoNumber(s.proto)} ${canon(s.vip)} ${s.port}`, dests);
  }
  for (const e of entries) {
    if (!(e.status & IPS_DST_NAT) || e.status & IPS_DYING) continue;
    const dests = byTuple.get(`${e.proto} ${e.orig.dst} ${e.orig.dport}`);
    if (!dests) continue;
    const dkey = `[${e.reply.src}]:${e.reply.sport}`;
    let c = dests.get(dkey);
    if (!c) dests.set(dkey, (c = { active: 0, inactive: 0 }));
    if (isActiveConnection(e)) c.active++;
    else c.inactive++;
  }
  return result;
}
