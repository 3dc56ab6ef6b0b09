// The rtnetlink requests host preparation needs beyond src/netlink/rtnetlink.ts, sent
// through its Rtnetlink socket and request loop: links with their kind
// (IFLA_LINKINFO/IFLA_INFO_KIND: bridge, veth, macvlan …), master and lower device; the
// IPv4 main routing table; a link set up/down.
import { AF_INET } from '../native/constants.js';
import { bytesToIpv4, readI32h, readU16h, readU32h } from '../native/sockaddr.js';
import {
  decodeLink,
  Rtnetlink,
  ifinfomsg,
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
  private constructor(private readonly rt: Rtnetlink) {}

  static open(): HostNetlink {
    return new HostNetlink(Rtnetlink.open());
  }

  private request(what: string, type: number, flags: number, body: Buffer[], onMsg?: (m: NlMsg) => void): void {
    this.rt.request(what, type, flags, body, onMsg);
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
    this.rt.close();
  }
}
