// Linux socket constants used by haldir's native access layer (values from the
// kernel UAPI headers; identical on x86-64 and arm64). Kept in one place so the
// VRRP engine, announce and rtnetlink code never spell a magic number.

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const AF_INET6 = 10;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_PRIORITY = 12;
export const SO_BINDTODEVICE = 25;
/** Like SO_RCVBUF but ignores net.core.rmem_max (needs CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;

export const IPPROTO_IP = 0;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_IPV6 = 41;
/** VRRP's IP protocol number (RFC 3768 §5.2.4, RFC 5798 §5.1.1.3). */
export const IPPROTO_VRRP = 112;
export const IPPROTO_RAW = 255;

// level IPPROTO_IP
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_RECVTTL = 12;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
/** Takes a struct ip_mreqn (see ipMreqn in sockaddr.ts). */
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
/** Set to 0 so a socket only gets groups it joined itself (default 1 = all joined on the host). */
export const IP_MULTICAST_ALL = 49;

// level IPPROTO_IPV6
/** Offset of the checksum field the kernel fills/verifies with the pseudo-header (6 for VRRPv3). */
export const IPV6_CHECKSUM = 7;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
/** Alias IPV6_ADD_MEMBERSHIP; takes a struct ipv6_mreq (see ipv6Mreq). */
export const IPV6_JOIN_GROUP = 20;
export const IPV6_LEAVE_GROUP = 21;
export const IPV6_V6ONLY = 26;
export const IPV6_MULTICAST_ALL = 29;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;

// level IPPROTO_ICMPV6
export const ICMP6_FILTER = 1;

// AF_PACKET
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ARPHRD_ETHER = 1;

// AF_NETLINK
export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_EXT_ACK = 11;

// recvmsg flags
export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;

// uv_poll events (uv.h)
export const UV_READABLE = 1;
export const UV_WRITABLE = 2;
export const UV_DISCONNECT = 4;
export const UV_PRIORITIZED = 8;
