// Address announcements after a VRRP takeover: gratuitous ARP (RFC 5227 §3 ARP
// announcement, in the form keepalived sends) over AF_PACKET, and IPv6
// unsolicited Neighbour Advertisements (RFC 4861 §7.2.6) over a raw ICMPv6
// socket. Frame builders are pure; the senders resolve the interface (index,
// name, MAC) through rtnetlink.
import { readFileSync } from 'node:fs';
import {
  AF_INET6,
  AF_PACKET,
  ARPHRD_ETHER,
  ETH_P_ARP,
  ETH_P_IP,
  ICMP6_FILTER,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_UNICAST_HOPS,
  SOCK_RAW,
} from '../native/constants.js';
import { ipv4ToBytes, ipv6ToBytes, macToBytes, sockaddrIn6, sockaddrLl } from '../native/sockaddr.js';
import { PacketSocket } from '../native/socket.js';
import { type LinkInfo, Rtnetlink } from '../netlink/rtnetlink.js';

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_OPT_TARGET_LINKADDR = 2;
export const ND_NA_FLAG_ROUTER = 0x80;
export const ND_NA_FLAG_SOLICITED = 0x40;
export const ND_NA_FLAG_OVERRIDE = 0x20;
/** All-nodes multicast: where unsolicited NAs go (RFC 4861 §7.2.6). */
export const ALL_NODES = 'ff02::1';

/**
 * Ethernet + ARP, 42 bytes (the driver pads to the 60-byte minimum), as keepalived's
 * vrrp_arp.c builds it: broadcast destination, source = interface MAC, an ARP
 * *request* whose sender and target protocol addresses are both the VIP (an RFC 5227
 * announcement) and target hardware address ff:ff:ff:ff:ff:ff. Receivers that already
 * have an entry for the VIP replace its MAC; none creates one (arp_accept=0).
 * `op: 'reply'` gives the ARP-reply variant some stacks prefer.
 */
export function buildGratuitousArp(mac: string, ip: string, op: 'request' | 'reply' = 'request'): Buffer {
  const src = macToBytes(mac);
  const vip = ipv4ToBytes(ip);
  const b = Buffer.alloc(42);
  b.fill(0xff, 0, 6); // Ethernet destination: broadcast
  src.copy(b, 6);
  b.writeUInt16BE(ETH_P_ARP, 12);
  b.writeUInt16BE(ARPHRD_ETHER, 14); // ar_hrd
  b.writeUInt16BE(ETH_P_IP, 16); // ar_pro
  b.writeUInt8(6, 18); // ar_hln
  b.writeUInt8(4, 19); // ar_pln
  b.writeUInt16BE(op === 'request' ? ARPOP_REQUEST : ARPOP_REPLY, 20);
  src.copy(b, 22); // sender hardware address
  vip.copy(b, 28); // sender protocol address
  b.fill(0xff, 32, 38); // target hardware address (keepalived: broadcast)
  vip.copy(b, 38); // target protocol address = sender: gratuitous
  return b;
}

/**
 * ICMPv6 Neighbour Advertisement for `target`, 32 bytes, checksum left 0 (the kernel
 * computes ICMPv6 checksums on raw ICMPv6 sockets). RFC 4861 §7.2.6: unsolicited,
 * so Solicited = 0; Override = 1 so caches replace the old MAC; a Target Link-Layer
 * Address option carries the new one. Router flag as the sender's forwarding state.
 */
export function buildUnsolicitedNa(mac: string, target: string, opts: { router?: boolean } = {}): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt8(ND_NEIGHBOR_ADVERT, 0); // type; code 0; checksum 0
  b.writeUInt8(ND_NA_FLAG_OVERRIDE | (opts.router ? ND_NA_FLAG_ROUTER : 0), 4);
  ipv6ToBytes(target).copy(b, 8);
  b.writeUInt8(ND_OPT_TARGET_LINKADDR, 24);
  b.writeUInt8(1, 25); // option length in units of 8 bytes
  macToBytes(mac).copy(b, 26);
  return b;
}

export interface AnnounceOptions {
  /** The interface's MAC, to skip the netlink lookup. */
  mac?: string;
  /** Reuse an open rtnetlink client for the lookup. */
  rtnl?: Rtnetlink;
}

function resolveLink(iface: string | number, opts: AnnounceOptions): LinkInfo {
  const rtnl = opts.rtnl ?? Rtnetlink.open();
  try {
    return rtnl.getLink(iface);
  } finally {
    if (!opts.rtnl) rtnl.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function repeat(count: number, intervalMs: number, send: () => void): Promise<number> {
  for (let i = 0; i < count; i++) {
    if (i > 0 && intervalMs > 0) await sleep(intervalMs);
    send();
  }
  return count;
}

/**
 * Sends `count` gratuitous ARPs for `ip` out of `iface` (name or index), `intervalMs`
 * apart; resolves to the number sent. Throws NativeError (e.g. ENETDOWN) on failure.
 */
export async function sendGratuitousArp(
  iface: string | number,
  ip: string,
  count = 1,
  intervalMs = 0,
  opts: AnnounceOptions = {},
): Promise<number> {
  const link = resolveLink(iface, opts);
  const frame = buildGratuitousArp(opts.mac ?? link.mac, ip);
  // Protocol 0: a send-only packet socket, nothing is queued for reading.
  const sock = PacketSocket.open(AF_PACKET, SOCK_RAW, 0);
  try {
    sock.bind(sockaddrLl({ ifindex: link.ifindex }));
    const to = sockaddrLl({ ifindex: link.ifindex, protocol: ETH_P_ARP, addr: BROADCAST_MAC });
    return await repeat(count, intervalMs, () => sock.send(frame, to));
  } finally {
    sock.close();
  }
}

/** net.ipv6.conf.IF.forwarding, as keepalived reads it to set the NA Router flag. */
function ipv6Forwarding(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Sends `count` unsolicited NAs for `ip` to ff02::1 out of `iface`, hop limit 255 (a
 * receiver drops NDP with any other, RFC 4861 §7.1.2). The kernel chooses the source
 * (the interface's link-local address, which must not be tentative).
 */
export async function sendUnsolicitedNa(
  iface: string | number,
  ip: string,
  count = 1,
  intervalMs = 0,
  opts: AnnounceOptions & { router?: boolean } = {},
): Promise<number> {
  const link = resolveLink(iface, opts);
  const msg = buildUnsolicitedNa(opts.mac ?? link.mac, ip, { router: opts.router ?? ipv6Forwarding(link.name) });
  const sock = PacketSocket.open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  try {
    // Block every incoming ICMPv6 type: this socket only sends.
    sock.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, Buffer.alloc(32, 0xff));
    sock.bindToDevice(link.name);
    sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, link.ifindex);
    sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
    sock.setOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
    sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
    const to = sockaddrIn6(ALL_NODES, link.ifindex);
    return await repeat(count, intervalMs, () => sock.send(msg, to));
  } finally {
    sock.close();
  }
}
