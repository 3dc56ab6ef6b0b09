// The VRRP sockets (RFC 5798 §5.1.1.3: TTL / hop limit 255 both ways): a receive socket
// per interface and family that joins the group there and reports TTL and destination,
// and send sockets bound to a source address. Shared by the Linux VrrpIo and the native
// tests, so both exercise the same socket options.
import {
  AF_INET,
  AF_INET6,
  IP_MULTICAST_ALL,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_PKTINFO,
  IP_RECVTTL,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_VRRP,
  IPV6_CHECKSUM,
  IPV6_MULTICAST_ALL,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_UNICAST_HOPS,
  SOCK_RAW,
} from '../native/constants.js';
import { ipMreqn, sockaddrIn, sockaddrIn6 } from '../native/sockaddr.js';
import { PacketSocket } from '../native/socket.js';

export function openVrrpRx4(iface: string, ifindex: number, group: string): PacketSocket {
  const s = PacketSocket.open(AF_INET, SOCK_RAW, IPPROTO_VRRP);
  s.bindToDevice(iface);
  // Only groups joined on this socket, not every group any socket of the host joined.
  s.setOption(IPPROTO_IP, IP_MULTICAST_ALL, 0);
  s.joinGroup(AF_INET, group, ifindex);
  s.setOption(IPPROTO_IP, IP_PKTINFO, 1);
  s.setOption(IPPROTO_IP, IP_RECVTTL, 1);
  return s;
}

export function openVrrpRx6(iface: string, ifindex: number, group: string): PacketSocket {
  const s = PacketSocket.open(AF_INET6, SOCK_RAW, IPPROTO_VRRP);
  s.bindToDevice(iface);
  // The kernel verifies (and on send fills) the VRRPv3 checksum at offset 6 with the pseudo-header.
  s.setOption(IPPROTO_IPV6, IPV6_CHECKSUM, 6);
  s.setOption(IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
  s.joinGroup(AF_INET6, group, ifindex);
  s.setOption(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  s.setOption(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  return s;
}

export function openVrrpTx4(iface: string, ifindex: number, src: string): PacketSocket {
  const s = PacketSocket.open(AF_INET, SOCK_RAW, IPPROTO_VRRP, { bufferSize: 2048 });
  s.bindToDevice(iface);
  if (src !== '0.0.0.0') s.bind(sockaddrIn(src));
  s.setOption(IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(src === '0.0.0.0' ? '0.0.0.0' : src, ifindex));
  s.setOption(IPPROTO_IP, IP_MULTICAST_TTL, 255);
  s.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
  s.setOption(IPPROTO_IP, IP_TTL, 255);
  // Never read: the receive side is the other socket. Join nothing, so little is queued here.
  s.setOption(IPPROTO_IP, IP_MULTICAST_ALL, 0);
  return s;
}

export function openVrrpTx6(iface: string, ifindex: number, src: string): PacketSocket {
  const s = PacketSocket.open(AF_INET6, SOCK_RAW, IPPROTO_VRRP, { bufferSize: 2048 });
  s.bindToDevice(iface);
  s.setOption(IPPROTO_IPV6, IPV6_CHECKSUM, 6);
  if (src !== '::') s.bind(sockaddrIn6(src, src.startsWith('fe80') ? ifindex : 0));
  s.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
  s.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
  s.setOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
  s.setOption(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
  s.setOption(IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
  return s;
}
