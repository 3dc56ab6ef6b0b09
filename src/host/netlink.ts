// The rtnetlink requests host preparation needs beyond src/netlink/rtnetlink.ts,
// built from its exported encoders and request loop on a socket of our own:
// links with their kind (IFLA_LINKINFO/IFLA_INFO_KIND: bridge, veth, macvlan …),
// master and lower device; the IPv4 main routing table; a link set up/down.
import { addon } from '../native/addon.js';
import { AF_INET, AF_NETLINK, NETLINK_EXT_ACK, NETLINK_ROUTE, SOCK_RAW, SOL_NETLINK } from '../native/constants.js';
import { NativeError } from '../native/errors.js';
import { bytesToIpv4, readI32h, readU16h, readU32h, sockaddrNl, writeI32h } from '../native/sockaddr.js';
import {
  decodeLink,
  ifinfomsg,
  netlinkTransaction,
  nlmsg,
  parseRtattrs,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  rtmsg,
  IFF_LOOPBACK,
  IFF_UP,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTN_UNICAST,
  type NlMsg,
} from '../netlink/rtnetlink.js';

// linux/if_link.h, linux/if.h, linux/rtnetlink.h
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFF_NOARP = 0x80;
const RTA_MULTIPATH = 9;
const RT_TABLE_MAIN = 254;

export interface RawLink {
  ifindex: number;
  name: string;
  kind: string;
  masterIndex?: number;
  lowerIndex?: number;
  up: boolean;
  mtu: number;
  loopback: boolean;
  noarp: boolean;
}

export interface RawRoute {
  dst: string;
  prefix: number;
  gateway?: string;
  oifIndex?: number;
}

const cstr = (b: Buffer | undefined): string => {
  if (!b) return '';
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
};

/** An RTM_NEWLINK payload with its kind, master and lower device. */
export function decodeLinkKind(payload: Buffer): RawLink {
  const base = decodeLink(payload);
  const attrs = parseRtattrs(payload, 16);
  const info = attrs.get(IFLA_LINKINFO);
  const kind = info ? cstr(parseRtattrs(info, 0).get(IFLA_INFO_KIND)) : '';
  const master = attrs.get(IFLA_MASTER);
  const lower = attrs.get(IFLA_LINK);
  const r: RawLink = {
    ifindex: base.ifindex,
    name: base.name,
    kind,
    up: base.up,
    mtu: base.mtu,
    loopback: (base.flags & IFF_LOOPBACK) !== 0,
    noarp: (base.flags & IFF_NOARP) !== 0,
  };
  if (master && master.length >= 4) r.masterIndex = readU32h(master, 0);
  const li = lower && lower.length >= 4 ? readI32h(lower, 0) : 0;
  // A veth's IFLA_LINK is its peer (maybe in another namespace): not a lower device.
  if (li > 0 && li !== base.ifindex && kind !== 'veth') r.lowerIndex = li;
  return r;
}

/** An RTM_NEWROUTE payload of the IPv4 main table (undefined for other tables, types, families). */
export function decodeMainRoute(payload: Buffer): RawRoute | undefined {
  if (payload.length < 12 || payload.readUInt8(0) !== AF_INET) return undefined;
  const attrs = parseRtattrs(payload, 12);
  const tableAttr = attrs.get(RTA_TABLE);
  const table = tableAttr ? readU32h(tableAttr, 0) : payload.readUInt8(4);
  if (table !== RT_TABLE_MAIN || payload.readUInt8(7) !== RTN_UNICAST) return undefined;
  const prefix = payload.readUInt8(1);
  const dst = attrs.get(RTA_DST);
  const r: RawRoute = { dst: dst ? bytesToIpv4(dst) : '0.0.0.0', prefix };
  const gw = attrs.get(RTA_GATEWAY);
  if (gw) r.gateway = bytesToIpv4(gw);
  const oif = attrs.get(RTA_OIF);
  if (oif) r.oifIndex = readI32h(oif, 0);
  const mp = attrs.get(RTA_MULTIPATH);
  if (mp && mp.length >= 8 && r.gateway === undefined) {
    // struct rtnexthop { u16 len; u8 flags; u8 hops; int ifindex; } + attributes: the first hop.
    const len = readU16h(mp, 0);
    r.oifIndex = readI32h(mp, 4);
    const g = parseRtattrs(mp.subarray(0, Math.min(len, mp.length)), 8).get(RTA_GATEWAY);
    if (g) r.gateway = bytesToIpv4(g);
  }
  return r;
}

export class HostNetlink {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(65536);
  private closed = false;

  private constructor(private readonly fd: number) {}

  static open(): HostNetlink {
    const A = addon();
    const fd = A.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) throw new NativeError('socket', fd, '(AF_NETLINK, NETLINK_ROUTE)');
    const rc = A.bind(fd, sockaddrNl(0, 0));
    if (rc < 0) {
      A.close(fd);
      throw new NativeError('bind', rc, '(netlink)');
    }
    const one = Buffer.alloc(4);
    writeI32h(one, 1, 0);
    A.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
    return new HostNetlink(fd);
  }

  private request(what: string, type: number, flags: number, body: Buffer[], onMsg?: (m: NlMsg) => void): void {
    if (this.closed) throw new NativeError('rtnetlink', -9, '(closed)');
    const got: NlMsg[] = [];
    netlinkTransaction(this.fd, this.rbuf, {
      what,
      label: 'rtnetlink',
      build: (seq) => nlmsg(type, flags | NLM_F_REQUEST, seq, body),
      dump: (flags & NLM_F_DUMP) === NLM_F_DUMP,
      ack: (flags & NLM_F_ACK) !== 0,
      nextSeq: () => (this.seq = (this.seq + 1) >>> 0 || 1),
      onMsg: (m) => void got.push({ ...m, payload: Buffer.from(m.payload) }),
      onRestart: () => void (got.length = 0),
    });
    if (onMsg) for (const m of got) onMsg(m);
  }

  links(): RawLink[] {
    const out: RawLink[] = [];
    this.request('dump links', RTM_GETLINK, NLM_F_DUMP, [ifinfomsg({})], (m) => {
      if (m.type === RTM_NEWLINK) out.push(decodeLinkKind(m.payload));
    });
    return out;
  }

  routes(): RawRoute[] {
    const out: RawRoute[] = [];
    this.request('dump IPv4 routes', RTM_GETROUTE, NLM_F_DUMP, [rtmsg({ family: AF_INET })], (m) => {
      if (m.type !== RTM_NEWROUTE) return;
      const r = decodeMainRoute(m.payload);
      if (r) out.push(r);
    });
    return out;
  }

  /** `ip link set dev IF up|down`; throws NetlinkError naming the interface. */
  setLinkUp(ifindex: number, name: string, up: boolean): void {
    this.request(`set link ${name} ${up ? 'up' : 'down'}`, RTM_NEWLINK, NLM_F_ACK, [ifinfomsg({ index: ifindex, flags: up ? IFF_UP : 0, change: IFF_UP })]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    addon().close(this.fd);
  }
}
