// The IPVS generic netlink codec (Linux uapi ip_vs.h, "IPVS Generic Netlink interface
// definitions"; the kernel side is net/netfilter/ipvs/ip_vs_ctl.c): pure encoding of
// services, destinations, the sync daemon and connection timeouts into attributes, and
// decoding of the kernel's replies and dumps. No I/O.
//
// Byte order, as the kernel reads and writes them: attribute headers and u16/u32/u64
// payloads are host order (little-endian here), except the ports (service, destination,
// tunnel: __be16) and an IPv4 multicast group (__be32). Addresses are a union
// nf_inet_addr: 16 bytes, IPv4 in the first 4. The persistence netmask is __be32 for
// IPv4; for IPv6 the kernel keeps the prefix length in the same field, written by
// ipvsadm/keepalived as a host-order u32 (so 128 reads back as 80 00 00 00 here).
import type { Family } from '../../model/types.js';
import { formatIp, parseIp } from '../../vrrp/addr.js';
import { readU16h, readU32h, writeU16h, writeU32h } from '../../native/sockaddr.js';
import { parseRtattrs, rtattr } from '../../netlink/rtnetlink.js';
import { GENL_HDRLEN, type GenlFamily } from '../../netlink/genetlink.js';

const NLMSG_HDRLEN = 16;

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

/** enum IPVS_CMD_*. */
export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

export const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
export const SVC_ATTR = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
export const DEST_ATTR = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
export const DAEMON_ATTR = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
export const STATS_ATTR = { CONNS: 1, INPKTS: 2, OUTPKTS: 3, INBYTES: 4, OUTBYTES: 5, CPS: 6, INPPS: 7, OUTPPS: 8, INBPS: 9, OUTBPS: 10 } as const;
export const INFO_ATTR = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

/** Virtual service flags (IP_VS_SVC_F_*). SCHED1/2 are sh/mh "fallback"/"port". */
export const SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;
/** The flags haldir sets; HASHED is the kernel's own bookkeeping (set on every hashed service). */
export const SVC_F_USER = SVC_F.PERSISTENT | SVC_F.ONEPACKET | SVC_F.SCHED1 | SVC_F.SCHED2 | SVC_F.SCHED3;

/** Forwarding methods (IP_VS_CONN_F_FWD_MASK values). */
export const FWD = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3, BYPASS: 4 } as const;
/** IP_VS_CONN_F_TUNNEL_TYPE_*. */
export const TUN_TYPE = { ipip: 0, gue: 1, gre: 2 } as const;
/** IP_VS_TUNNEL_ENCAP_FLAG_*. */
export const TUN_FLAG = { nocsum: 0, csum: 1, remcsum: 2 } as const;
export const DAEMON_STATE = { master: 1, backup: 2 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO = { TCP: 6, UDP: 17, SCTP: 132 } as const;
export const SCHEDNAME_MAXLEN = 16;
export const IFNAME_MAXLEN = 16;

// ---- types ---------------------------------------------------------------------------

export interface IpvsStats {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

/** What identifies a service in the kernel: protocol + address + port, or a firewall mark (per family). */
export interface IpvsServiceId {
  af: Family;
  /** IP protocol number (6, 17, 132); the kernel reports fwmark services as TCP. */
  protocol: number;
  address?: string;
  port?: number;
  /** Non-zero: a firewall-mark service (address and port unused). */
  fwmark?: number;
}

export interface IpvsService extends IpvsServiceId {
  scheduler: string;
  /** IP_VS_SVC_F_* bits. */
  flags: number;
  /** Persistence timeout in seconds (with SVC_F.PERSISTENT). */
  timeout: number;
  /** IPv4: the persistence netmask as a number (0xffffffff = /32); IPv6: the prefix length (128). */
  netmask: number;
  /** Persistence engine ("sip"). */
  pe?: string;
  stats?: IpvsStats;
}

export interface IpvsDest {
  af: Family;
  address: string;
  port: number;
  /** FWD.* */
  fwd: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  /** TUN_TYPE.* (TUN only). */
  tunType: number;
  /** GUE's UDP port (TUN gue only). */
  tunPort: number;
  /** TUN_FLAG.* (gue/gre only). */
  tunFlags: number;
  activeConns?: number;
  inactConns?: number;
  persistConns?: number;
  stats?: IpvsStats;
}

export interface IpvsDaemon {
  state: 'master' | 'backup';
  /** Interface the sync messages go out of (master) or come in on (backup). */
  ifname: string;
  syncId: number;
  /** UDP payload size (0: the kernel's default, from the MTU). */
  maxLen?: number;
  /** Multicast group (default 224.0.0.81), IPv4 or IPv6. */
  group?: string;
  /** UDP port (default 8848). */
  port?: number;
  ttl?: number;
}

export interface IpvsTimeouts {
  /** Seconds; 0 in a request leaves the value as it is. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsInfo {
  /** IP_VS_VERSION_CODE, e.g. 0x010201 → "1.2.1". */
  version: number;
  /** Connection hash table size (ipvsadm's "size="). */
  connTabSize: number;
}

// ---- small helpers ---------------------------------------------------------------------

const u8 = (type: number, v: number): Buffer => rtattr(type, Buffer.from([v & 0xff]));
const u16 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(2);
  writeU16h(d, v & 0xffff, 0);
  return rtattr(type, d);
};
const be16 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(2);
  d.writeUInt16BE(v & 0xffff, 0);
  return rtattr(type, d);
};
const u32 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  writeU32h(d, v >>> 0, 0);
  return rtattr(type, d);
};
const str = (type: number, s: string): Buffer => rtattr(type, Buffer.from(`${s}\0`));
const nest = (type: number, parts: Buffer[]): Buffer => rtattr(type, Buffer.concat(parts));

export const afNumber = (f: Family): number => (f === 6 ? AF_INET6 : AF_INET);
const familyOf = (af: number): Family => (af === AF_INET6 ? 6 : 4);

/** union nf_inet_addr: 16 bytes. Throws on an address that does not parse in its family. */
export function inetAddr(address: string, af: Family): Buffer {
  const b = parseIp(address, af);
  if (!b) throw new Error(`not an IPv${af} address: ${address}`);
  const out = Buffer.alloc(16);
  out.set(b, 0);
  return out;
}

const rd16 = (a: Map<number, Buffer>, t: number): number | undefined => {
  const v = a.get(t);
  return v && v.length >= 2 ? readU16h(v, 0) : undefined;
};
const rdBe16 = (a: Map<number, Buffer>, t: number): number | undefined => {
  const v = a.get(t);
  return v && v.length >= 2 ? v.readUInt16BE(0) : undefined;
};
const rd32 = (a: Map<number, Buffer>, t: number): number | undefined => {
  const v = a.get(t);
  return v && v.length >= 4 ? readU32h(v, 0) : undefined;
};
const rd8 = (a: Map<number, Buffer>, t: number): number | undefined => {
  const v = a.get(t);
  return v && v.length >= 1 ? v[0] : undefined;
};
const rdStr = (a: Map<number, Buffer>, t: number): string | undefined => {
  const v = a.get(t);
  if (!v) return undefined;
  const z = v.indexOf(0);
  return v.toString('utf8', 0, z < 0 ? v.length : z);
};
const rdAddr = (v: Buffer | undefined, af: Family): string => (v && v.length >= (af === 6 ? 16 : 4) ? formatIp(v, af) : af === 6 ? '::' : '0.0.0.0');

// ---- encoding ------------------------------------------------------------------------

/**
 * IPVS_CMD_ATTR_SERVICE. `full` adds what NEW/SET_SERVICE need (scheduler, flags with
 * an all-ones mask so the kernel takes them as given, timeout, netmask, engine);
 * without it only the identity (DEL_SERVICE, and the service part of dest commands).
 */
export function serviceAttr(s: IpvsServiceId | IpvsService, full: boolean): Buffer {
  const parts: Buffer[] = [u16(SVC_ATTR.AF, afNumber(s.af))];
  if (s.fwmark) parts.push(u32(SVC_ATTR.FWMARK, s.fwmark));
  else parts.push(u16(SVC_ATTR.PROTOCOL, s.protocol), rtattr(SVC_ATTR.ADDR, inetAddr(s.address ?? '', s.af)), be16(SVC_ATTR.PORT, s.port ?? 0));
  if (full) {
    const f = s as IpvsService;
    if (f.scheduler.length >= SCHEDNAME_MAXLEN) throw new Error(`scheduler name "${f.scheduler}" is longer than IPVS allows (${SCHEDNAME_MAXLEN - 1})`);
    parts.push(str(SVC_ATTR.SCHED_NAME, f.scheduler));
    if (f.pe) parts.push(str(SVC_ATTR.PE_NAME, f.pe));
    const flags = Buffer.alloc(8);
    writeU32h(flags, f.flags >>> 0, 0);
    writeU32h(flags, 0xffffffff, 4);
    parts.push(rtattr(SVC_ATTR.FLAGS, flags), u32(SVC_ATTR.TIMEOUT, f.timeout));
    const nm = Buffer.alloc(4);
    if (s.af === 6) writeU32h(nm, f.netmask >>> 0, 0);
    else nm.writeUInt32BE(f.netmask >>> 0, 0);
    parts.push(rtattr(SVC_ATTR.NETMASK, nm));
  }
  return nest(CMD_ATTR.SERVICE, parts);
}

/**
 * IPVS_CMD_ATTR_DEST; `full` for NEW/SET_DEST, identity only for DEL_DEST. Written into
 * one buffer: a table from empty is ~37,000 of these.
 */
export function destAttr(d: IpvsDest | Pick<IpvsDest, 'af' | 'address' | 'port'>, full: boolean): Buffer {
  const f = d as IpvsDest;
  // Tunnel attributes exist since Linux 5.3 (type, gue port) and 5.7 (flags): sent only
  // for TUN, and only those the tunnel type uses, so older kernels take plain ipip.
  const tun = full && f.fwd === FWD.TUNNEL && f.tunType !== TUN_TYPE.ipip;
  const gue = tun && f.tunType === TUN_TYPE.gue;
  const len = 4 + 8 + 20 + 8 + (full ? 32 : 0) + (tun ? 16 : 0) + (gue ? 8 : 0);
  const b = Buffer.alloc(len);
  const addr = parseIp(d.address, d.af);
  if (!addr) throw new Error(`not an IPv${d.af} address: ${d.address}`);
  let o = 0;
  const hdr = (n: number, type: number): void => {
    writeU16h(b, n, o);
    writeU16h(b, type, o + 2);
  };
  hdr(len, CMD_ATTR.DEST);
  o = 4;
  hdr(6, DEST_ATTR.ADDR_FAMILY);
  writeU16h(b, afNumber(d.af), o + 4);
  o += 8;
  hdr(20, DEST_ATTR.ADDR);
  b.set(addr, o + 4);
  o += 20;
  hdr(6, DEST_ATTR.PORT);
  b.writeUInt16BE(d.port & 0xffff, o + 4);
  o += 8;
  if (full) {
    const put32 = (type: number, v: number): void => {
      hdr(8, type);
      writeU32h(b, v >>> 0, o + 4);
      o += 8;
    };
    put32(DEST_ATTR.FWD_METHOD, f.fwd);
    put32(DEST_ATTR.WEIGHT, f.weight);
    put32(DEST_ATTR.U_THRESH, f.uThreshold);
    put32(DEST_ATTR.L_THRESH, f.lThreshold);
  }
  if (tun) {
    hdr(5, DEST_ATTR.TUN_TYPE);
    b[o + 4] = f.tunType;
    o += 8;
    if (gue) {
      hdr(6, DEST_ATTR.TUN_PORT);
      b.writeUInt16BE(f.tunPort & 0xffff, o + 4);
      o += 8;
    }
    hdr(6, DEST_ATTR.TUN_FLAGS);
    writeU16h(b, f.tunFlags & 0xffff, o + 4);
  }
  return b;
}

/** IPVS_CMD_ATTR_DAEMON for NEW_DAEMON (everything) or DEL_DAEMON (`stateOnly`). */
export function daemonAttr(d: IpvsDaemon, stateOnly = false): Buffer {
  const parts: Buffer[] = [u32(DAEMON_ATTR.STATE, DAEMON_STATE[d.state])];
  if (!stateOnly) {
    if (Buffer.byteLength(d.ifname) >= IFNAME_MAXLEN) throw new Error(`interface name "${d.ifname}" is longer than IPVS allows (${IFNAME_MAXLEN - 1})`);
    parts.push(str(DAEMON_ATTR.MCAST_IFN, d.ifname), u32(DAEMON_ATTR.SYNC_ID, d.syncId));
    if (d.maxLen) parts.push(u16(DAEMON_ATTR.SYNC_MAXLEN, d.maxLen));
    if (d.group) {
      const v6 = d.group.includes(':');
      const b = parseIp(d.group, v6 ? 6 : 4);
      if (!b) throw new Error(`not a multicast group address: ${d.group}`);
      parts.push(rtattr(v6 ? DAEMON_ATTR.MCAST_GROUP6 : DAEMON_ATTR.MCAST_GROUP, Buffer.from(b)));
    }
    if (d.port) parts.push(u16(DAEMON_ATTR.MCAST_PORT, d.port));
    if (d.ttl) parts.push(u8(DAEMON_ATTR.MCAST_TTL, d.ttl));
  }
  return nest(CMD_ATTR.DAEMON, parts);
}

/** SET_CONFIG's attributes: only the non-zero timeouts (the kernel keeps the others). */
export function timeoutAttrs(t: Partial<IpvsTimeouts>): Buffer[] {
  const out: Buffer[] = [];
  if (t.tcp) out.push(u32(CMD_ATTR.TIMEOUT_TCP, t.tcp));
  if (t.tcpFin) out.push(u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin));
  if (t.udp) out.push(u32(CMD_ATTR.TIMEOUT_UDP, t.udp));
  return out;
}

/** A whole IPVS request with sequence number 0 (Genetlink.batch numbers them), in one buffer. */
export function ipvsMessage(family: GenlFamily, cmd: number, attrs: Buffer[]): Buffer {
  let len = NLMSG_HDRLEN + GENL_HDRLEN;
  for (const a of attrs) len += a.length;
  const b = Buffer.alloc(len);
  writeU32h(b, len, 0);
  writeU16h(b, family.id, 4);
  b[NLMSG_HDRLEN] = cmd;
  b[NLMSG_HDRLEN + 1] = IPVS_GENL_VERSION;
  let o = NLMSG_HDRLEN + GENL_HDRLEN;
  for (const a of attrs) {
    a.copy(b, o);
    o += a.length;
  }
  return b;
}

// ---- decoding ------------------------------------------------------------------------

/** A stats nest: STATS64 carries u64 everywhere, STATS u32 counters and u64 bytes. */
function decodeStats(b: Buffer | undefined): IpvsStats | undefined {
  if (!b) return undefined;
  const a = parseRtattrs(b, 0);
  const n = (t: number): number => {
    const v = a.get(t);
    if (!v) return 0;
    if (v.length >= 8) return Number(v.readBigUInt64LE(0));
    return v.length >= 4 ? readU32h(v, 0) : 0;
  };
  return {
    conns: n(STATS_ATTR.CONNS),
    inpkts: n(STATS_ATTR.INPKTS),
    outpkts: n(STATS_ATTR.OUTPKTS),
    inbytes: n(STATS_ATTR.INBYTES),
    outbytes: n(STATS_ATTR.OUTBYTES),
    cps: n(STATS_ATTR.CPS),
    inpps: n(STATS_ATTR.INPPS),
    outpps: n(STATS_ATTR.OUTPPS),
    inbps: n(STATS_ATTR.INBPS),
    outbps: n(STATS_ATTR.OUTBPS),
  };
}

/** The attributes of a generic netlink payload, and the nested one of `type` in it. */
function nested(payload: Buffer, type: number): Map<number, Buffer> | undefined {
  const top = parseRtattrs(payload, GENL_HDRLEN);
  const inner = top.get(type);
  return inner ? parseRtattrs(inner, 0) : undefined;
}

/** Decodes the nested service attributes (IPVS_CMD_ATTR_SERVICE's content). */
export function decodeServiceAttrs(a: Map<number, Buffer>): IpvsService {
  const af = familyOf(rd16(a, SVC_ATTR.AF) ?? AF_INET);
  const fwmark = rd32(a, SVC_ATTR.FWMARK) ?? 0;
  const flagsB = a.get(SVC_ATTR.FLAGS);
  const nm = a.get(SVC_ATTR.NETMASK);
  const s: IpvsService = {
    af,
    protocol: rd16(a, SVC_ATTR.PROTOCOL) ?? IPPROTO.TCP,
    scheduler: rdStr(a, SVC_ATTR.SCHED_NAME) ?? '',
    flags: flagsB && flagsB.length >= 4 ? readU32h(flagsB, 0) : 0,
    timeout: rd32(a, SVC_ATTR.TIMEOUT) ?? 0,
    netmask: nm && nm.length >= 4 ? (af === 6 ? readU32h(nm, 0) : nm.readUInt32BE(0)) : af === 6 ? 128 : 0xffffffff,
  };
  if (fwmark) s.fwmark = fwmark;
  else {
    s.address = rdAddr(a.get(SVC_ATTR.ADDR), af);
    s.port = rdBe16(a, SVC_ATTR.PORT) ?? 0;
  }
  const pe = rdStr(a, SVC_ATTR.PE_NAME);
  if (pe) s.pe = pe;
  const stats = decodeStats(a.get(SVC_ATTR.STATS64)) ?? decodeStats(a.get(SVC_ATTR.STATS));
  if (stats) s.stats = stats;
  return s;
}

/** An IPVS_CMD_NEW_SERVICE message's payload (a GET_SERVICE dump entry). */
export function decodeService(payload: Buffer): IpvsService | undefined {
  const a = nested(payload, CMD_ATTR.SERVICE);
  return a ? decodeServiceAttrs(a) : undefined;
}

/** An IPVS_CMD_NEW_DEST message's payload (a GET_DEST dump entry); `svcAf` for kernels without ADDR_FAMILY. */
export function decodeDest(payload: Buffer, svcAf: Family = 4): IpvsDest | undefined {
  const a = nested(payload, CMD_ATTR.DEST);
  if (!a) return undefined;
  const fam = rd16(a, DEST_ATTR.ADDR_FAMILY);
  const af = fam ? familyOf(fam) : svcAf;
  const d: IpvsDest = {
    af,
    address: rdAddr(a.get(DEST_ATTR.ADDR), af),
    port: rdBe16(a, DEST_ATTR.PORT) ?? 0,
    fwd: (rd32(a, DEST_ATTR.FWD_METHOD) ?? 0) & 0x7,
    weight: (rd32(a, DEST_ATTR.WEIGHT) ?? 0) | 0,
    uThreshold: rd32(a, DEST_ATTR.U_THRESH) ?? 0,
    lThreshold: rd32(a, DEST_ATTR.L_THRESH) ?? 0,
    tunType: rd8(a, DEST_ATTR.TUN_TYPE) ?? 0,
    tunPort: rdBe16(a, DEST_ATTR.TUN_PORT) ?? 0,
    tunFlags: rd16(a, DEST_ATTR.TUN_FLAGS) ?? 0,
  };
  const ac = rd32(a, DEST_ATTR.ACTIVE_CONNS);
  if (ac !== undefined) d.activeConns = ac;
  const ic = rd32(a, DEST_ATTR.INACT_CONNS);
  if (ic !== undefined) d.inactConns = ic;
  const pc = rd32(a, DEST_ATTR.PERSIST_CONNS);
  if (pc !== undefined) d.persistConns = pc;
  const stats = decodeStats(a.get(DEST_ATTR.STATS64)) ?? decodeStats(a.get(DEST_ATTR.STATS));
  if (stats) d.stats = stats;
  return d;
}

/** An IPVS_CMD_NEW_DAEMON message's payload (a GET_DAEMON dump entry). */
export function decodeDaemon(payload: Buffer): IpvsDaemon | undefined {
  const a = nested(payload, CMD_ATTR.DAEMON);
  if (!a) return undefined;
  const d: IpvsDaemon = {
    state: rd32(a, DAEMON_ATTR.STATE) === DAEMON_STATE.backup ? 'backup' : 'master',
    ifname: rdStr(a, DAEMON_ATTR.MCAST_IFN) ?? '',
    syncId: rd32(a, DAEMON_ATTR.SYNC_ID) ?? 0,
  };
  const maxLen = rd16(a, DAEMON_ATTR.SYNC_MAXLEN);
  if (maxLen) d.maxLen = maxLen;
  const g4 = a.get(DAEMON_ATTR.MCAST_GROUP);
  const g6 = a.get(DAEMON_ATTR.MCAST_GROUP6);
  if (g6 && g6.length >= 16) d.group = formatIp(g6, 6);
  else if (g4 && g4.length >= 4) d.group = formatIp(g4, 4);
  const port = rd16(a, DAEMON_ATTR.MCAST_PORT);
  if (port) d.port = port;
  const ttl = rd8(a, DAEMON_ATTR.MCAST_TTL);
  if (ttl) d.ttl = ttl;
  return d;
}

/** The reply to GET_CONFIG (IPVS_CMD_SET_CONFIG): the connection timeouts in seconds. */
export function decodeTimeouts(payload: Buffer): IpvsTimeouts {
  const a = parseRtattrs(payload, GENL_HDRLEN);
  return { tcp: rd32(a, CMD_ATTR.TIMEOUT_TCP) ?? 0, tcpFin: rd32(a, CMD_ATTR.TIMEOUT_TCP_FIN) ?? 0, udp: rd32(a, CMD_ATTR.TIMEOUT_UDP) ?? 0 };
}

/** The reply to GET_INFO (IPVS_CMD_SET_INFO). */
export function decodeInfo(payload: Buffer): IpvsInfo {
  const a = parseRtattrs(payload, GENL_HDRLEN);
  return { version: rd32(a, INFO_ATTR.VERSION) ?? 0, connTabSize: rd32(a, INFO_ATTR.CONN_TAB_SIZE) ?? 0 };
}

// ---- identity ------------------------------------------------------------------------

const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
export const protoName = (p: number): string => PROTO_NAME[p] ?? String(p);

/**
 * A service's key, in the same form as health's vsKey: `tcp:[10.0.0.1]:80`,
 * `fwmark:5:4`. Addresses canonical (RFC 5952), as the kernel reports them back.
 */
export function serviceKey(s: IpvsServiceId): string {
  if (s.fwmark) return `fwmark:${s.fwmark}:${s.af}`;
  const b = parseIp(s.address ?? '', s.af);
  return `${protoName(s.protocol)}:[${b ? formatIp(b, s.af) : s.address}]:${s.port ?? 0}`;
}

/** A destination's key within its service, in health's rsKey form: `[10.0.0.21]:8080`. */
export function destKey(d: Pick<IpvsDest, 'af' | 'address' | 'port'>): string {
  const b = parseIp(d.address, d.af);
  return `[${b ? formatIp(b, d.af) : d.address}]:${d.port}`;
}
