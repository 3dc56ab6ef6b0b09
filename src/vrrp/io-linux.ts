// VrrpIo on Linux: raw IP protocol-112 sockets (multicast joined per
// interface, TTL / hop limit 255 both ways, RFC 5798 §5.1.1.3), addresses
// through rtnetlink, link state from an rtnetlink watch (re-dumped after an
// overflow), gratuitous ARP / unsolicited NA for announcements.
import type { VipAddress } from '../model/types.js';
import type { Logger } from '../daemon/log.js';
import { sockaddrIn, sockaddrIn6 } from '../native/sockaddr.js';
import { PacketSocket, type ReceivedPacket } from '../native/socket.js';
import { sendGratuitousArp, sendUnsolicitedNa } from '../net/announce.js';
import { Rtnetlink, type AddressInfo, type LinkInfo as NlLink, type RtnlWatch } from '../netlink/rtnetlink.js';
import type { RxMeta } from './receive.js';
import type { LinkInfo, VrrpChannel, VrrpIo } from './runtime.js';
import { openVrrpRx4, openVrrpRx6, openVrrpTx4, openVrrpTx6 } from './sockets.js';

/** Splits a raw IPv4 datagram (the kernel hands raw sockets the IP header too). */
export function stripIpv4Header(d: Uint8Array): { payload: Uint8Array; src: string; dst: string; ttl: number } | undefined {
  if (d.length < 20 || d[0]! >> 4 !== 4) return undefined;
  const ihl = (d[0]! & 0x0f) * 4;
  if (ihl < 20 || d.length < ihl) return undefined;
  const ip = (o: number) => `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
  return { payload: d.subarray(ihl), src: ip(12), dst: ip(16), ttl: d[8]! };
}

export class LinuxVrrpIo implements VrrpIo {
  private readonly rtnl: Rtnetlink;
  private readonly links = new Map<string, NlLink>();
  private readonly addrs = new Map<number, AddressInfo[]>();
  private readonly linkCbs: ((name: string, up: boolean) => void)[] = [];
  private watch: RtnlWatch | undefined;
  private readonly t0 = performance.now();

  constructor(
    private readonly log: Logger,
    private readonly garpIntervalMs = 0,
  ) {
    this.rtnl = Rtnetlink.open();
    for (const l of this.rtnl.dumpLinks()) this.links.set(l.name, l);
    this.setAddresses(this.rtnl.dumpAddresses());
    this.watch = this.rtnl.watch((ev) => {
      switch (ev.type) {
        case 'link': {
          const before = [...this.links.values()].find((l) => l.ifindex === ev.ifindex);
          if (ev.action === 'del') this.links.delete(ev.name);
          else this.links.set(ev.name, ev);
          const up = ev.action === 'new' && isUp(ev);
          if (!before || isUp(before) !== up) for (const cb of this.linkCbs) cb(ev.name, up);
          break;
        }
        case 'address': {
          const list = (this.addrs.get(ev.ifindex) ?? []).filter((a) => a.address !== ev.address);
          if (ev.action === 'add') list.push(ev);
          this.addrs.set(ev.ifindex, list);
          break;
        }
        case 'resync': {
          // After an overflow nothing queued can be trusted: take the dump as the truth.
          const old = new Map([...this.links].map(([n, l]) => [n, isUp(l)]));
          this.links.clear();
          for (const l of ev.links) this.links.set(l.name, l);
          this.setAddresses(ev.addresses);
          if (ev.reason !== 'initial') this.log.warn(`netlink: resynchronised after ${ev.reason}`);
          for (const [name, l] of this.links) if (old.get(name) !== isUp(l)) for (const cb of this.linkCbs) cb(name, isUp(l));
          break;
        }
        case 'error':
          this.log.error(`netlink watch: ${ev.error.message}`);
          break;
      }
    });
  }

  private setAddresses(list: AddressInfo[]): void {
    this.addrs.clear();
    for (const a of list) this.addrs.set(a.ifindex, [...(this.addrs.get(a.ifindex) ?? []), a]);
  }

  now(): number {
    return Math.round((performance.now() - this.t0) * 1000);
  }

  at(atUs: number, cb: () => void): () => void {
    const t = setTimeout(cb, Math.max(0, (atUs - this.now()) / 1000));
    return () => clearTimeout(t);
  }

  link(name: string): LinkInfo | undefined {
    const l = this.links.get(name);
    if (!l) return undefined;
    const addresses = (this.addrs.get(l.ifindex) ?? [])
      .filter((a) => !a.tentative && !a.dadfailed)
      // Primary addresses first: adverts are sent from the primary, never from a VIP we added.
      .sort((a, b) => Number(a.secondary) - Number(b.secondary))
      .map((a) => ({ address: a.address, prefix: a.prefix, family: (a.family === 'inet' ? 4 : 6) as 4 | 6 }));
    return { ifindex: l.ifindex, up: isUp(l), mac: l.mac, addresses };
  }

  onLink(cb: (name: string, up: boolean) => void): void {
    this.linkCbs.push(cb);
  }

  channel(iface: string, family: 4 | 6, group: string, onPacket: (raw: Uint8Array, meta: RxMeta) => void): VrrpChannel {
    const ifindex = this.links.get(iface)?.ifindex;
    if (ifindex === undefined) throw new Error(`interface ${iface} does not exist`);
    const rx = family === 4 ? openVrrpRx4(iface, ifindex, group) : openVrrpRx6(iface, ifindex, group);
    const handle = (p: ReceivedPacket) => {
      if (family === 4) {
        const h = stripIpv4Header(p.data);
        if (h) onPacket(h.payload, { src: h.src, dst: h.dst, ttl: h.ttl });
      } else if (p.from?.family === 'inet6') {
        onPacket(p.data, { src: p.from.address, dst: p.dst ?? group, ...(p.hopLimit !== undefined ? { ttl: p.hopLimit } : {}) });
      }
    };
    rx.start(handle, (e) => this.log.warn(`VRRP socket on ${iface}: ${e.message} (re-armed)`));
    // One send socket per source address, so the kernel uses the configured source.
    const tx = new Map<string, PacketSocket>();
    const sender = (src: string): PacketSocket => {
      let s = tx.get(src);
      if (!s) {
        s = family === 4 ? openVrrpTx4(iface, ifindex, src) : openVrrpTx6(iface, ifindex, src);
        tx.set(src, s);
      }
      return s;
    };
    let warned = false;
    return {
      send: (payload, src, dst) => {
        const to = family === 4 ? sockaddrIn(dst) : sockaddrIn6(dst, dst.startsWith('fe80') || dst.startsWith('ff02') ? ifindex : 0);
        const n = sender(src).trySend(payload, to);
        if (n < 0 && !warned) {
          // A link that is down answers ENETDOWN: expected during a failure, said once.
          warned = true;
          this.log.warn(`VRRP send on ${iface} failed: errno ${-n}`);
        } else if (n >= 0) warned = false;
      },
      flush: () => {
        for (let i = 0; i < 64; i++) {
          let p: ReceivedPacket | undefined;
          try {
            p = rx.receive();
          } catch {
            return; // an error is the poller's to report
          }
          if (!p) return;
          handle(p);
        }
      },
      close: () => {
        rx.close();
        for (const s of tx.values()) s.close();
      },
    };
  }

  async addAddress(iface: string, vip: VipAddress): Promise<void> {
    const l = this.links.get(iface);
    if (!l) throw new Error(`interface ${iface} does not exist`);
    this.rtnl.addAddress({
      ifindex: l.ifindex,
      address: vip.address,
      prefix: vip.prefix,
      ...(vip.label ? { label: vip.label } : {}),
      ...(vip.broadcast ? { broadcast: vip.broadcast } : {}),
      ...(vip.scope ? { scope: scopeOf(vip.scope) } : {}),
      // keepalived adds IPv6 VIPs without DAD: a tentative address could not be used at once.
      ...(vip.family === 6 ? { noDad: true } : {}),
      ...(vip.noPrefixRoute ? { noPrefixRoute: true } : {}),
      replace: true,
    });
  }

  async delAddress(iface: string, vip: VipAddress): Promise<void> {
    const l = this.links.get(iface);
    if (!l) return;
    try {
      this.rtnl.delAddress({ ifindex: l.ifindex, address: vip.address, prefix: vip.prefix });
    } catch (e) {
      // Already gone (link down took an IPv6 address, or it was never added): that is the goal.
      if ((e as { code?: string }).code !== 'EADDRNOTAVAIL') throw e;
    }
  }

  announce(iface: string, vips: VipAddress[], count: number): void {
    const l = this.links.get(iface);
    if (!l) return;
    for (const v of vips) {
      const send = v.family === 4 ? sendGratuitousArp : sendUnsolicitedNa;
      send(iface, v.address, count, this.garpIntervalMs, { rtnl: this.rtnl, mac: l.mac }).catch((e: Error) =>
        this.log.warn(`announce ${v.address} on ${iface}: ${e.message}`),
      );
    }
  }

  close(): void {
    this.watch?.close();
    this.rtnl.close();
  }
}

function isUp(l: NlLink): boolean {
  // Administratively up and carrying: what keepalived's interface tracking calls "up".
  return l.up && l.running;
}

function scopeOf(s: string): 'global' | 'site' | 'link' | 'host' | 'nowhere' | number {
  return /^\d+$/.test(s) ? Number(s) : (s as 'global');
}
