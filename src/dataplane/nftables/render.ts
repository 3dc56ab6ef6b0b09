// Desired services → the nftables objects that forward them (pure).
//
// Layout (kube-proxy's nftables proxier: static chains, one dispatch map, a chain per
// service, so a change touches only that service):
//   table ip|ip6 haldir      NAT: prerouting/output `daddr . l4proto . dport vmap @services`,
//                            `meta mark vmap @fwmarks`; chain vs/… DNATs through an inline
//                            slot map (`dnat to numgen inc mod N map {…}`). No chain per real
//                            server: 37k chains made nft take 20 s to load and 0.3 s for any
//                            one change (measured). Per-server connection counters come from
//                            the dynamic set @rs_stats (postrouting: one update per new flow);
//                            @dests records each destination's weight, for `show` and drain.
//   table netdev haldir      DR: ingress/<dev> `ether saddr @rs_macs accept` (no ping-pong),
//                            then `meta pkttype host daddr . l4proto . dport
//                            vmap @dr4|@dr6`; vs/… picks a slot by flow hash → vs/…/<server>
//                            rewrites both MACs and `fwd`s out of the same interface (lab.md's
//                            pitfalls), or accepts for a real server that is this host.
// Per-connection schedulers (numgen) exist only in NAT, where the nat hook sees a flow's
// first packet only; DR is stateless, so every DR scheduler is a flow hash, with an
// explicit seed derived from the service so every director maps a flow the same way.
import { canonicalIp } from '../../vrrp/addr.js';
import type { Family, VirtualServer } from '../../model/types.js';
import { flowSeed, maglevSize, maglevTable, shTable, wrrSequence } from '../sched.js';
import type { DesiredDest, DesiredService, Unsupported } from '../types.js';
import { addChain, newTable, tableKey, type NftChain, type NftFamily, type NftState, type NftTable } from './objects.js';

export const TABLE = 'haldir';

/** Where a DR destination's frames go: its MAC on an interface, or the local stack. */
export type DrPath = { kind: 'mac'; ifname: string; ownMac: string; mac: string } | { kind: 'local' };

export interface RenderContext {
  table?: string;
  /** Full NAT: also masquerade (SNAT to the director) so replies return through it in one-armed setups. */
  masquerade?: boolean;
  /** L2 path of a DR destination, or the reason it has none (unresolvable MAC, behind a gateway). */
  drPath(vs: VirtualServer, dest: DesiredDest): DrPath | Error;
}

export interface Rendered {
  state: NftState;
  /** Destinations left out, with the reason (service still programmed without them). */
  errors: string[];
}

// The same names in NAT and DR; in DR rr/wrr become a flow hash (see schedule()).
const SCHEDULERS = new Set(['rr', 'wrr', 'sh', 'mh']);

function vsFamily(vs: VirtualServer): Family {
  const a = vs.address;
  if (a.kind === 'ip') return a.family;
  if (a.kind === 'fwmark') return a.family ?? vs.ipFamily ?? 4;
  return vs.ipFamily ?? 4;
}

function forwardingOf(vs: VirtualServer): string {
  const kinds = new Set([vs.forwarding.kind, ...vs.realServers.map((r) => r.forwarding?.kind ?? vs.forwarding.kind)]);
  return kinds.size === 1 ? vs.forwarding.kind : 'mixed';
}

/** What the nftables data plane cannot do, per service, with the reason and the alternative. */
export function nftUnsupported(services: readonly VirtualServer[]): Unsupported[] {
  const out: Unsupported[] = [];
  for (const vs of services) {
    const fwd = forwardingOf(vs);
    const no = (message: string): void => void out.push({ vs, message });
    if (vs.address.kind === 'group') no('virtual_server_group is not supported by the nftables data plane yet; list the addresses as separate virtual servers, or use --dataplane ipvs');
    if (fwd === 'mixed') no('real servers with different lb_kind in one service: the nftables data plane forwards a service either by NAT or by DR; split the service or use --dataplane ipvs');
    if (fwd === 'TUN') no('lb_kind TUN needs an ipip tunnel device; the nftables data plane has no TUN forwarding (this kernel has no ipip either). Use lb_kind DR or NAT, or --dataplane ipvs where the kernel has IPVS');
    if (fwd === 'DR' && vs.address.kind === 'fwmark') no('fwmark services cannot be forwarded by DR in nftables: the netdev ingress hook runs before anything sets a mark. Use an address:port service or lb_kind NAT');
    if (fwd !== 'TUN' && fwd !== 'mixed' && !SCHEDULERS.has(vs.scheduler))
      no(`lb_algo ${vs.scheduler} needs per-connection state that the nftables data plane does not keep; use rr, wrr, sh or mh (or --dataplane ipvs / userspace for ${vs.scheduler})`);
    if (vs.persistenceTimeout !== undefined) no('persistence_timeout is not supported by the nftables data plane yet; sh or mh give stateless source affinity that also survives a director failover');
    if (vs.ops) no('ops (one-packet scheduling) is not supported by the nftables data plane; use --dataplane ipvs');
  }
  return out;
}

const nameAddr = (a: string, f: Family): string => (canonicalIp(a, f) ?? a).replace(/:/g, '_');

/** Chain name of a service: `vs/tcp/10.0.0.1/80`, `vs/fwm/5/4`. */
export function vsChainName(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `vs/${vs.protocol.toLowerCase()}/${nameAddr(a.address, a.family)}/${a.port}`;
  if (a.kind === 'fwmark') return `vs/fwm/${a.fwmark}/${vsFamily(vs)}`;
  return `vs/group/${a.group}`;
}

export function rsChainName(vs: VirtualServer, d: DesiredDest): string {
  return `${vsChainName(vs)}/${nameAddr(d.address, d.family)}/${d.port ?? 0}`;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const l3 = (f: Family): string => (f === 4 ? 'ip' : 'ip6');

function slotMap(slots: ArrayLike<number>, targets: string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < slots.length; i++) parts.push(`${i} : ${targets[slots[i]!]}`);
  return `{ ${parts.join(', ')} }`;
}

/** A NAT slot's data: `addr . port` (or the address alone for port-less fwmark destinations). */
function natTarget(d: Pick<DesiredDest, 'address' | 'family' | 'port'>): string {
  const a = canonicalIp(d.address, d.family) ?? d.address;
  return d.port !== undefined ? `${a} . ${d.port}` : a;
}

function hashKey(f: Family, withPort: boolean): string {
  return withPort ? `${l3(f)} saddr . th sport` : `${l3(f)} saddr`;
}

/** The slot table and the expression choosing a slot, for one service and its eligible destinations. */
function schedule(vs: VirtualServer, vkey: string, dests: DesiredDest[], dr: boolean): { expr: string; slots: ArrayLike<number>; note: string } {
  const f = vsFamily(vs);
  const seed = flowSeed(vkey);
  const weights = dests.map((d) => d.weight);
  const s = vs.scheduler;
  if (!dr && (s === 'rr' || s === 'wrr')) {
    // IPVS rr ignores weights other than 0; wrr follows IPVS's interleaved order.
    const seq = wrrSequence(s === 'rr' ? weights.map(() => 1) : weights);
    return { expr: `numgen inc mod ${seq.length}`, slots: seq, note: `${s} per-connection` };
  }
  if (s === 'sh') {
    const port = !!vs.schedFlags.shPort;
    const t = shTable(weights);
    return { expr: `jhash ${hashKey(f, port)} mod ${t.length} seed ${hex(seed)}`, slots: t, note: `sh${port ? ' sh-port' : ''} seed ${hex(seed)}` };
  }
  // mh, and rr/wrr in DR: Maglev over the flow (a stateless director cannot count connections).
  const port = s === 'mh' ? !!vs.schedFlags.mhPort : true;
  // Sized by the configured servers, not the healthy ones: a new size would remap every
  // flow. 400·N, not the paper's 100·N: at 100·N a rebuild moves 2–3 % of flows between
  // surviving servers on top of the removed one's 1/N (measured in test/dataplane/sched).
  const m = maglevSize(4 * Math.max(1, vs.realServers.length + (vs.sorryServer ? 1 : 0)));
  const t = maglevTable(
    dests.map((d) => ({ key: d.key, weight: s === 'rr' ? 1 : d.weight })),
    m,
  );
  return { expr: `jhash ${hashKey(f, port)} mod ${m} seed ${hex(seed)}`, slots: t, note: `${s} maglev ${m}${port ? ' +port' : ''} seed ${hex(seed)}` };
}

function natTable(state: NftState, name: string, f: Family): NftTable {
  const fam: NftFamily = f === 4 ? 'ip' : 'ip6';
  const k = tableKey(fam, name);
  let t = state.get(k);
  if (t) return t;
  t = newTable(fam, name);
  const addrType = f === 4 ? 'ipv4_addr' : 'ipv6_addr';
  t.maps.set('services', { name: 'services', keyTypes: [addrType, 'inet_proto', 'inet_service'], dataType: 'verdict', elements: new Map() });
  t.maps.set('fwmarks', { name: 'fwmarks', keyTypes: ['mark'], dataType: 'verdict', elements: new Map() });
  // service address . protocol . port . destination . port → weight (fwmark services: the mark as port).
  t.maps.set('dests', { name: 'dests', keyTypes: [addrType, 'inet_proto', 'inet_service', addrType, 'inet_service'], dataType: 'mark', elements: new Map() });
  t.maps.set('fwm_dests', { name: 'fwm_dests', keyTypes: ['mark', addrType, 'inet_service'], dataType: 'mark', elements: new Map() });
  t.maps.set('rs_stats', { name: 'rs_stats', keyTypes: [addrType, addrType, 'inet_service'], dataType: '', elements: new Map(), dynamic: true });
  // Virtual addresses whose connections are also masqueraded ("full NAT").
  t.maps.set('masq', { name: 'masq', keyTypes: [addrType], dataType: '', elements: new Map() });
  const dispatch = `${l3(f)} daddr . meta l4proto . th dport vmap @services`;
  addChain(t, 'prerouting', [dispatch, 'meta mark vmap @fwmarks'], { base: { type: 'nat', hook: 'prerouting', prio: -100 } });
  // Connections the director itself opens to a VIP are balanced too.
  addChain(t, 'output', [dispatch], { base: { type: 'nat', hook: 'output', prio: -100 } });
  // A nat chain sees each flow's first packet: one count per connection and destination.
  addChain(t, 'postrouting', [`ct status dnat update @rs_stats { ct original ${l3(f)} daddr . ${l3(f)} daddr . th dport }`, `ct status dnat ct original ${l3(f)} daddr @masq masquerade`], {
    base: { type: 'nat', hook: 'postrouting', prio: 100 },
  });
  state.set(k, t);
  return t;
}

function drTable(state: NftState, name: string): NftTable {
  const k = tableKey('netdev', name);
  let t = state.get(k);
  if (t) return t;
  t = newTable('netdev', name);
  t.maps.set('dr4', { name: 'dr4', keyTypes: ['ipv4_addr', 'inet_proto', 'inet_service'], dataType: 'verdict', elements: new Map() });
  t.maps.set('dr6', { name: 'dr6', keyTypes: ['ipv6_addr', 'inet_proto', 'inet_service'], dataType: 'verdict', elements: new Map() });
  // The real servers' MACs: a frame from one of them is never balanced (see ingressChain).
  t.maps.set('rs_macs', { name: 'rs_macs', keyTypes: ['ether_addr'], dataType: '', elements: new Map() });
  state.set(k, t);
  return t;
}

function ingressChain(t: NftTable, dev: string): void {
  const name = `ingress/${dev}`;
  if (t.chains.has(name)) return;
  // A frame from a real server's MAC was forwarded to us by another director (the seed's
  // directors are each other's real servers): serve it here, never balance it again — that
  // is the LVS-DR ping-pong, possible whenever two directors balance at once (active-active,
  // or the instant of a takeover). A real server never sends to the VIP over the wire: it
  // has the VIP on lo. pkttype host: frames the bridge floods to every port are not ours to
  // forward (lab.md pitfall 2).
  addChain(t, name, ['ether saddr @rs_macs accept', 'meta pkttype host ip daddr . meta l4proto . th dport vmap @dr4', 'meta pkttype host ip6 daddr . meta l4proto . th dport vmap @dr6'], {
    base: { type: 'filter', hook: 'ingress', prio: 0, device: dev },
  });
}

/** One service's objects: its chains and its map elements, with a fingerprint of its input. */
export interface Fragment {
  vsKey: string;
  /** Changes whenever anything the service's objects depend on changes. */
  fp: string;
  dr: boolean;
  family: Family;
  chains: NftChain[];
  elements: [map: string, key: string, value: string][];
  /** DR: interfaces whose ingress hook must dispatch. */
  devices: string[];
  /** DR: the destinations' MACs (shared by services, so gathered over all fragments in assemble). */
  macs: string[];
  /** NAT address:port services: what conntrack is asked about (connections per destination). */
  nat?: { proto: string; vip: string; port: number; destKeys: string[] };
  errors: string[];
}

function pathText(p: DrPath | Error): string {
  if (p instanceof Error) return `!${p.message}`;
  return p.kind === 'local' ? 'local' : `${p.ifname}/${p.ownMac}/${p.mac}`;
}

/** What a service's rendering depends on, as one string (compared, never parsed). */
export function fingerprint(ds: DesiredService, ctx: RenderContext): string {
  const vs = ds.vs;
  const dr = forwardingOf(vs) === 'DR';
  const parts = [ds.vsKey, vs.protocol, vs.scheduler, JSON.stringify(vs.schedFlags), forwardingOf(vs), vs.realServers.length, vs.sorryServer ? 1 : 0, ctx.masquerade ? 'masq' : ''];
  for (const d of ds.dests) parts.push(`${d.key}=${d.weight}${d.sorry ? 's' : ''}${dr ? `@${pathText(ctx.drPath(vs, d))}` : ''}`);
  return parts.join('|');
}

/** The objects of one supported service (scratch tables, then taken apart). */
export function renderService(ds: DesiredService, ctx: RenderContext, fp = fingerprint(ds, ctx)): Fragment {
  const name = ctx.table ?? TABLE;
  const scratch: NftState = new Map();
  const errors: string[] = [];
  const vs = ds.vs;
  const f = vsFamily(vs);
  const dr = forwardingOf(vs) === 'DR';
  const t = dr ? drTable(scratch, name) : natTable(scratch, name, f);
  const skeleton = new Set(t.chains.keys());
  const devices: string[] = [];
  const macs: string[] = [];
  const vsName = vsChainName(vs);
  const proto = vs.protocol.toLowerCase();
  const eligible: DesiredDest[] = [];
  const targets: string[] = [];
  for (const d of ds.dests) {
    if (dr) {
      const p = ctx.drPath(vs, d);
      if (p instanceof Error) {
        errors.push(`${ds.vsKey} -> ${d.key}: ${p.message}`);
        continue;
      }
      // Source MAC rewritten to ours so the switch does not learn the client's MAC on our port (pitfall 1).
      const rule = p.kind === 'local' ? 'counter accept' : `counter ether saddr set ${p.ownMac} ether daddr set ${p.mac} fwd to "${p.ifname}"`;
      if (p.kind === 'mac' && !devices.includes(p.ifname)) devices.push(p.ifname);
      if (p.kind === 'mac' && !macs.includes(p.mac.toLowerCase())) macs.push(p.mac.toLowerCase());
      const rsName = rsChainName(vs, d);
      addChain(t, rsName, [rule], { comment: `${ds.vsKey} -> ${d.key}`, notes: [`w=${d.weight}${d.sorry ? ' sorry' : ''}`] });
      targets.push(`goto ${rsName}`);
    } else {
      targets.push(natTarget(d));
      const a = vs.address;
      const da = canonicalIp(d.address, d.family) ?? d.address;
      if (a.kind === 'ip') t.maps.get('dests')!.elements.set(`${canonicalIp(a.address, a.family) ?? a.address} . ${proto} . ${a.port} . ${da} . ${d.port ?? 0}`, String(d.weight));
      else if (a.kind === 'fwmark') t.maps.get('fwm_dests')!.elements.set(`${a.fwmark} . ${da} . ${d.port ?? 0}`, String(d.weight));
    }
    if (d.weight > 0) eligible.push(d);
    else targets.pop();
  }
  let rule: string;
  let note: string;
  if (eligible.length === 0) {
    rule = 'counter drop';
    note = `${vs.scheduler} no-destination`;
  } else {
    const sch = schedule(vs, ds.vsKey, eligible, dr);
    if (dr) rule = `counter ${sch.expr} vmap ${slotMap(sch.slots, targets)}`;
    else {
      const withPort = eligible.every((d) => d.port !== undefined);
      rule = `counter meta l4proto ${proto} dnat ${l3(f)} to ${sch.expr} map ${slotMap(sch.slots, withPort ? targets : eligible.map((d) => natTarget({ ...d, port: undefined })))}`;
    }
    note = sch.note;
  }
  addChain(t, vsName, [rule], { comment: ds.vsKey, notes: [note] });
  const a = vs.address;
  if (a.kind === 'ip') {
    const key = `${canonicalIp(a.address, a.family) ?? a.address} . ${proto} . ${a.port}`;
    t.maps.get(dr ? (f === 4 ? 'dr4' : 'dr6') : 'services')!.elements.set(key, `goto ${vsName}`);
    if (!dr && ctx.masquerade) t.maps.get('masq')!.elements.set(canonicalIp(a.address, a.family) ?? a.address, '');
  } else if (a.kind === 'fwmark') {
    t.maps.get('fwmarks')!.elements.set(String(a.fwmark), `goto ${vsName}`);
  }
  const elements: Fragment['elements'] = [];
  for (const m of t.maps.values()) for (const [k, v] of m.elements) elements.push([m.name, k, v]);
  const nat = !dr && a.kind === 'ip' ? { proto, vip: a.address, port: a.port, destKeys: ds.dests.map((d) => d.key) } : undefined;
  return { vsKey: ds.vsKey, fp, dr, family: f, chains: [...t.chains.values()].filter((c) => !skeleton.has(c.name)), elements, devices, macs, ...(nat ? { nat } : {}), errors };
}

/**
 * The whole state from fragments: the tables, maps and static chains every fragment
 * needs, and the chains and elements of those in `content` (all when omitted) — a
 * partial state for diffing only what changed.
 */
export function assemble(frags: Iterable<Fragment>, table = TABLE, content?: Set<string>): NftState {
  const state: NftState = new Map();
  for (const fr of frags) {
    const t = fr.dr ? drTable(state, table) : natTable(state, table, fr.family);
    for (const dev of fr.devices) ingressChain(t, dev);
    // From every fragment, not just `content`: a MAC stays while any service still uses it.
    for (const m of fr.macs) t.maps.get('rs_macs')!.elements.set(m, '');
    if (content && !content.has(fr.vsKey)) continue;
    for (const c of fr.chains) t.chains.set(c.name, c);
    for (const [m, k, v] of fr.elements) t.maps.get(m)!.elements.set(k, v);
  }
  return state;
}

export function renderNft(desired: readonly DesiredService[], ctx: RenderContext): Rendered {
  const unsupported = new Set(nftUnsupported(desired.map((d) => d.vs)).map((u) => u.vs));
  const frags = desired.filter((ds) => !unsupported.has(ds.vs)).map((ds) => renderService(ds, ctx));
  return { state: assemble(frags, ctx.table ?? TABLE), errors: frags.flatMap((f) => f.errors) };
}
