// The doctor's VRRP ears and voice: listens for adverts (IP protocol 112 to
// 224.0.0.18, RFC 3768 §5.2.2 / RFC 5798 §5.1.1.2) on an interface for a window,
// decoding each with the VRRP codec, and sends a probe advert once a second.
// The probe is a VRRPv2 advert on an otherwise unused VRID at priority 1 (so a
// router of that VRID, were there one, would not yield to it: RFC 3768 §6.4.3)
// with a marker as its 8-byte authentication data. Its address list starts with
// the sender's address and then names every peer whose probe it has heard, so a
// doctor hearing its own address in a peer's probe knows multicast works both ways.
import { sockaddrIn } from '../native/sockaddr.js';
import type { PacketSocket } from '../native/socket.js';
import { stripIpv4Header } from '../vrrp/io-linux.js';
import { AUTH_PASS, decode, encode, passAuthData } from '../vrrp/packet.js';
import { openVrrpRx4, openVrrpTx4 } from '../vrrp/sockets.js';
import type { HeardAdvert, VrrpObservation } from './doctor.js';

export const VRRP_GROUP4 = '224.0.0.18';
/** Authentication data that marks a doctor's probe (8 bytes, RFC 3768 §5.3.10). */
export const PROBE_MARK = 'hldrprob';

export interface ProbeOptions {
  iface: string;
  ifindex: number;
  /** Our IPv4 address on the interface (the probe's source and first address). */
  src: string;
  windowMs: number;
  probeVrid: number;
  /** Send probes (default true); false only listens. */
  send?: boolean;
}

/** Encodes a probe advert naming `src` and the peers heard so far. */
export function encodeProbe(vrid: number, src: string, heard: string[]): Uint8Array {
  return encode({
    version: 2,
    type: 1,
    vrid,
    priority: 1,
    authType: AUTH_PASS,
    advertIntSec: 1,
    addresses: [src, ...heard.filter((h) => h !== src)].slice(0, 64),
    authData: passAuthData(PROBE_MARK),
  });
}

const MARK = passAuthData(PROBE_MARK);
const isMark = (d: Uint8Array): boolean => d.length === MARK.length && d.every((b, i) => b === MARK[i]);

/** Classifies one received IPv4 datagram into `into` (keyed by source, VRID, version). Never throws. */
export function recordDatagram(into: Map<string, HeardAdvert>, datagram: Uint8Array, ours: Set<string>): void {
  const ip = stripIpv4Header(datagram);
  if (!ip) return;
  const r = decode(ip.payload, 4);
  if (!r.ok || r.packet.type !== 1) return;
  const p = r.packet;
  const probe = p.version === 2 && p.authType === AUTH_PASS && isMark(p.authData);
  const listsUs = probe && p.addresses.slice(1).some((a) => ours.has(a));
  const key = `${ip.src}|${p.vrid}|${p.version}|${probe ? 'p' : 'a'}`;
  const prev = into.get(key);
  if (prev) {
    prev.count++;
    prev.listsUs ||= listsUs;
    prev.priority = p.priority;
    prev.addresses = probe ? prev.addresses : p.addresses;
  } else into.set(key, { src: ip.src, vrid: p.vrid, version: p.version, priority: p.priority, addresses: probe ? [] : p.addresses, count: 1, probe, listsUs });
}

/** Listens (and probes) for `windowMs`; failures become fields of the observation, never exceptions. */
export async function observeVrrp(o: ProbeOptions, ours: Set<string>): Promise<VrrpObservation> {
  const obs: VrrpObservation = { iface: o.iface, windowMs: o.windowMs, probeVrid: o.probeVrid, probesSent: 0, adverts: [] };
  const heard = new Map<string, HeardAdvert>();
  let rx: PacketSocket | undefined;
  let tx: PacketSocket | undefined;
  try {
    rx = openVrrpRx4(o.iface, o.ifindex, VRRP_GROUP4);
  } catch (e) {
    obs.listenError = (e as Error).message;
    return obs;
  }
  rx.start(
    (p) => recordDatagram(heard, p.data, ours),
    (err) => void (obs.listenError ??= err.message),
  );
  const probeSources = (): string[] => [...heard.values()].filter((h) => h.probe).map((h) => h.src);
  const sendProbe = (): void => {
    if (!tx) return;
    try {
      tx.send(encodeProbe(o.probeVrid, o.src, probeSources()), sockaddrIn(VRRP_GROUP4));
      obs.probesSent++;
    } catch (e) {
      obs.sendError ??= (e as Error).message;
    }
  };
  if (o.send !== false) {
    try {
      tx = openVrrpTx4(o.iface, o.ifindex, o.src);
    } catch (e) {
      obs.sendError = (e as Error).message;
    }
  }
  const t0 = performance.now();
  sendProbe();
  const timer = setInterval(sendProbe, 1000);
  await new Promise((res) => setTimeout(res, o.windowMs));
  clearInterval(timer);
  obs.windowMs = performance.now() - t0;
  rx.close();
  tx?.close();
  obs.adverts = [...heard.values()];
  return obs;
}
