// Resolving a real server's MAC address for direct routing (DR): the nftables data
// plane forwards a packet for the VIP by rewriting its destination MAC to the real
// server's, so the real server must be on-link (same L2 segment, no gateway) and its
// neighbour entry resolved. The kernel does the resolving; haldir only asks it to.
//
// How a missing neighbour is resolved (measured on Linux 6.18):
//  - RTM_NEWNEIGH with NTF_USE (Rtnetlink.probeNeighbour; `ip neigh … use`) makes the
//    kernel treat the entry as used by a packet: it creates it and sends the ARP
//    request / neighbour solicitation at once (an answer in ~1 ms on a veth). This is
//    the primary method: synchronous errors, the exact interface, no packet to the
//    real server itself.
//  - RTM_NEWNEIGH with state NUD_PROBE is refused (EINVAL "No link layer address
//    given"); with NUD_INCOMPLETE it is accepted but leaves an INCOMPLETE entry with no
//    timer and no request sent — useless.
//  - One UDP datagram to the discard port (9) of the address triggers resolution like
//    any packet. It is the fallback, and the second nudge when NTF_USE got no answer
//    quickly: for IPv6 a solicitation triggered by NTF_USE has no packet to take its
//    source address from, so while the interface's link-local address is still
//    tentative (DAD, just after link up) it gets no answer, whereas a datagram's
//    source address (a global one) is used.
//  - NTF_USE on a PERMANENT entry demotes it to INCOMPLETE (6.18, also without
//    NLM_F_REPLACE), so probeNeighbour leaves PERMANENT and NOARP entries alone.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  NUD_DELAY,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  RTN_LOCAL,
  RTN_UNICAST,
  routeTypeName,
  type NeighInfo,
  type Rtnetlink,
} from './rtnetlink.js';

/** States whose link-layer address can be used for forwarding. */
const USABLE = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
const POLL_MS = 50;
/** When NTF_USE has not got an answer after this long, a UDP datagram nudges too. */
const NUDGE_AFTER_MS = 200;

export type ResolveMacErrorCode = 'via-gateway' | 'not-unicast' | 'timeout';

/** Why a real server's MAC cannot be used: `code` for programs, the message for operators. */
export class ResolveMacError extends Error {
  readonly code: ResolveMacErrorCode;
  readonly address: string;
  constructor(code: ResolveMacErrorCode, address: string, message: string) {
    super(message);
    this.name = 'ResolveMacError';
    this.code = code;
    this.address = address;
  }
}

export interface ResolveMacOptions {
  /** How long to wait for the ARP reply / neighbour advertisement (default 1000 ms). */
  timeoutMs?: number;
}

export interface ResolvedMac {
  /** "aa:bb:cc:dd:ee:ff" lowercase. */
  mac: string;
  /** The interface the real server is reached on. */
  ifindex: number;
}

/** The neighbour's MAC when its entry can be used now. */
export function usableMac(n: NeighInfo | undefined): string | undefined {
  return n?.mac && n.state & USABLE ? n.mac : undefined;
}

/**
 * Sends one empty UDP datagram to port 9 (discard) of `address`: the kernel resolves the
 * neighbour to send it. Resolves when the datagram was handed to the kernel; never rejects.
 */
export function sendDiscardDatagram(address: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    const done = (): void => {
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve();
    };
    sock.on('error', done);
    sock.send(Buffer.alloc(0), 9, address, done);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The MAC address of a real server for DR forwarding: the kernel's route to it must be
 * on-link (no gateway), and its neighbour entry is used when valid; otherwise the kernel
 * is asked to resolve it (NTF_USE, then a UDP datagram) and the entry is polled every
 * 50 ms until `timeoutMs`. Throws ResolveMacError (gateway, local/other route type,
 * timeout) or the route lookup's NetlinkError (e.g. ENETUNREACH), each naming the address.
 */
export async function resolveMac(rtnl: Rtnetlink, address: string, opts: ResolveMacOptions = {}): Promise<ResolvedMac> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const start = Date.now();
  const route = rtnl.routeGet(address);
  if (route.type !== RTN_UNICAST) {
    const what = route.type === RTN_LOCAL ? 'is an address of this director' : `has a ${routeTypeName(route.type)} route`;
    throw new ResolveMacError('not-unicast', address, `real server ${address} ${what}: DR needs a real server on the director's L2 segment`);
  }
  if (route.gateway !== undefined)
    throw new ResolveMacError(
      'via-gateway',
      address,
      `real server ${address} is reached via gateway ${route.gateway}: DR needs the real server on the director's L2 segment`,
    );
  const { ifindex } = route;
  const found = (): ResolvedMac | undefined => {
    const mac = usableMac(rtnl.getNeighbour(address, ifindex));
    return mac ? { mac, ifindex } : undefined;
  };
  let got = found();
  if (got) return got;

  let nudged = false;
  try {
    rtnl.probeNeighbour(address, ifindex);
  } catch {
    // NTF_USE refused (an old or unusual kernel): let a datagram trigger resolution.
    nudged = true;
    void sendDiscardDatagram(address);
  }
  for (;;) {
    const elapsed = Date.now() - start;
    got = found();
    if (got) return got;
    if (elapsed >= timeoutMs) break;
    if (!nudged && elapsed >= NUDGE_AFTER_MS) {
      nudged = true;
      void sendDiscardDatagram(address);
    }
    await sleep(Math.min(POLL_MS, timeoutMs - elapsed));
  }
  const reply = isIPv6(address) ? 'neighbour advertisement' : 'ARP reply';
  throw new ResolveMacError(
    'timeout',
    address,
    `no ${reply} from ${address} on ${rtnl.ifName(ifindex)} within ${timeoutMs} ms: is the real server up and on this segment?`,
  );
}
