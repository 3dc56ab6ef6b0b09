// A simulated network for VrrpRuntime tests: one fake clock (µs), an event
// queue, and a wire that delivers every sent VRRP payload to the other nodes'
// channels on the same interface. Deterministic: no real time, no sockets.
import type { VipAddress } from '../../src/model/types.js';
import type { LinkInfo, VrrpChannel, VrrpIo } from '../../src/vrrp/runtime.js';
import type { RxMeta } from '../../src/vrrp/index.js';

interface Timer {
  at: number;
  seq: number;
  cb: () => void;
  cancelled: boolean;
}

export class SimClock {
  now = 0;
  private seq = 0;
  private timers: Timer[] = [];

  at(at: number, cb: () => void): () => void {
    const t: Timer = { at: Math.max(at, this.now), seq: this.seq++, cb, cancelled: false };
    this.timers.push(t);
    return () => void (t.cancelled = true);
  }

  /** Runs every timer due up to `until`, in time order, letting promises settle after each. */
  async advance(until: number): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const t = this.timers[0];
      if (!t || t.at > until) break;
      this.timers.shift();
      this.now = t.at;
      t.cb();
    }
    this.now = until;
  }
}

export interface Sent {
  at: number;
  from: string;
  payload: Uint8Array;
  dst: string;
  /** False when the sender's link was down: the packet never reached the wire. */
  delivered: boolean;
}

export class SimWire {
  readonly sent: Sent[] = [];
  /** Directed pairs `from>to` whose packets the wire drops (a partition). */
  readonly blocked = new Set<string>();
  private readonly members: { node: SimNode; onPacket: (raw: Uint8Array, meta: RxMeta) => void }[] = [];

  constructor(readonly clock: SimClock) {}

  attach(node: SimNode, onPacket: (raw: Uint8Array, meta: RxMeta) => void): () => void {
    const m = { node, onPacket };
    this.members.push(m);
    return () => this.members.splice(this.members.indexOf(m), 1);
  }

  deliver(from: SimNode, payload: Uint8Array, src: string, dst: string): void {
    this.sent.push({ at: this.clock.now, from: from.name, payload, dst, delivered: from.linkUp && !from.dead });
    if (!from.linkUp || from.dead) return;
    for (const m of this.members) {
      if (m.node === from || !m.node.linkUp || m.node.dead || this.blocked.has(`${from.name}>${m.node.name}`)) continue;
      const isMulticast = dst.startsWith('224.') || dst.startsWith('ff');
      if (!isMulticast && dst !== m.node.address) continue;
      // Delivered "on the wire" 100 µs later, with the TTL the sender set.
      const copy = new Uint8Array(payload);
      this.clock.at(this.clock.now + 100, () => m.onPacket(copy, { src, dst, ttl: 255 }));
    }
  }
}

export class SimNode implements VrrpIo {
  linkUp = true;
  /** The process crashed: it neither sends nor receives any more (its addresses stay, as in the kernel). */
  dead = false;
  readonly vips = new Set<string>();
  readonly announced: { at: number; vips: string[]; count: number }[] = [];
  private linkCbs: ((name: string, up: boolean) => void)[] = [];

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly wire: SimWire,
  ) {}

  now(): number {
    return this.wire.clock.now;
  }

  at(atUs: number, cb: () => void): () => void {
    return this.wire.clock.at(atUs, cb);
  }

  link(name: string): LinkInfo | undefined {
    if (name !== 'eth0') return undefined;
    const vips = [...this.vips].map((a) => ({ address: a, prefix: 32, family: 4 as const }));
    return { ifindex: 2, up: this.linkUp, addresses: [{ address: this.address, prefix: 24, family: 4 }, ...vips] };
  }

  onLink(cb: (name: string, up: boolean) => void): void {
    this.linkCbs.push(cb);
  }

  setLink(up: boolean): void {
    this.linkUp = up;
    for (const cb of this.linkCbs) cb('eth0', up);
  }

  channel(_iface: string, _family: 4 | 6, _group: string, onPacket: (raw: Uint8Array, meta: RxMeta) => void): VrrpChannel {
    const detach = this.wire.attach(this, onPacket);
    return { send: (p, src, dst) => this.wire.deliver(this, p, src, dst), close: detach };
  }

  async addAddress(_iface: string, vip: VipAddress): Promise<void> {
    this.vips.add(vip.address);
  }

  async delAddress(_iface: string, vip: VipAddress): Promise<void> {
    this.vips.delete(vip.address);
  }

  announce(_iface: string, vips: VipAddress[], count: number): void {
    this.announced.push({ at: this.now(), vips: vips.map((v) => v.address), count });
  }
}
