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
import type { Field, Rule, Selector, Slots, SlotTarget } from './rules.js';

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

/** NAT, DR, TUN, or 'mixed' when real servers override the service's lb_kind differently. */
export function forwardingOf(vs: VirtualServer): string {
  const k = vs.forwarding.kind;
  for (const r of vs.realServers) if (r.forwarding !== undefined && r.forwarding.kind !== k) return 'mixed';
  return k;
}

const NONE: readonly string[] = [];

/** Why the nftables data plane cannot forward `vs` (forwarding `fwd`): the reasons, with the alternative; none when it can. */
export function unsupportedReasons(vs: VirtualServer, fwd = forwardingOf(vs)): readonly string[] {
  let out: string[] | undefined;
  const no = (message: string): void => void (out ??= []).push(message);
  if (vs.address.kind === 'group') no('virtual_server_group is not supported by the nftables data plane yet; list the addresses as separate virtual servers, or use --dataplane ipvs');
  if (fwd === 'mixed') no('real servers with different lb_kind in one service: the nftables data plane forwards a service either by NAT or by DR; split the service or use --dataplane ipvs');
  if (fwd === 'TUN') no('lb_kind TUN needs an ipip tunnel device; the nftables data plane has no TUN forwarding (this kernel has no ipip either). Use lb_kind DR or NAT, or --dataplane ipvs where the kernel has IPVS');
  if (fwd === 'DR' && vs.address.kind === 'fwmark') no('fwmark services cannot be forwarded by DR in nftables: the netdev ingress hook runs before anything sets a mark. Use an address:port service or lb_kind NAT');
  if (fwd !== 'TUN' && fwd !== 'mixed' && !SCHEDULERS.has(vs.scheduler))
    no(`lb_algo ${vs.scheduler} needs per-connection state that the nftables data plane does not keep; use rr, wrr, sh or mh (or --dataplane ipvs / userspace for ${vs.scheduler})`);
  if (vs.persistenceTimeout !== undefined) no('persistence_timeout is not supported by the nftables data plane yet; sh or mh give stateless source affinity that also survives a director failover');
  if (vs.ops) no('ops (one-packet scheduling) is not supported by the nftables data plane; use --dataplane ipvs');
  return out ?? NONE;
}

/** What the nftables data plane cannot do, per service, with the reason and the alternative. */
export function nftUnsupported(services: readonly VirtualServer[]): Unsupported[] {
  const out: Unsupported[] = [];
  for (const vs of services) for (const message of unsupportedReasons(vs)) out.push({ vs, message });
  return out;
}

// canonicalIp per address, remembered: a full render asks for each address several times
// (37k real servers). Bounded: cleared when it grows past any configuration's size.
const canonCache: [Map<string, string>, Map<string, string>] = [new Map(), new Map()];
function canon(a: string, f: Family): string {
  if (f === 4 && plainIpv4(a)) return a;
  const m = canonCache[f === 4 ? 0 : 1];
  let c = m.get(a);
  if (c === undefined) {
    if (m.size > 500_000) m.clear();
    m.set(a, (c = canonicalIp(a, f) ?? a));
  }
  return c;
}

/** Already canonical dotted quad (no leading zeros, each part ≤ 255): nothing to rewrite. */
function plainIpv4(a: string): boolean {
  let parts = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= a.length; i++) {
    const c = i < a.length ? a.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || ++parts > 4) return false;
      val = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && val === 0) return false;
      val = val * 10 + c - 48;
      if (++digits > 3 || val > 255) return false;
    } else return false;
  }
  return parts === 4;
}

const nameAddr = (a: string, f: Family): string => canon(a, f).replace(/:/g, '_');

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
const l3 = (f: Family): 'ip' | 'ip6' => (f === 4 ? 'ip' : 'ip6');

/** A NAT slot's data: `addr . port` (or the address alone for port-less fwmark destinations). */
function natTarget(d: Pick<DesiredDest, 'address' | 'family' | 'port'>): { addr: string; port?: number } {
  const addr = canon(d.address, d.family);
  return d.port !== undefined ? { addr, port: d.port } : { addr };
}

function hashKey(f: Family, withPort: boolean): Field[] {
  return withPort ? [`${l3(f)} saddr`, 'th sport'] : [`${l3(f)} saddr`];
}

/** The slot table and the selector choosing a slot, for one service and its eligible destinations. */
function schedule(vs: VirtualServer, vkey: string, dests: DesiredDest[], dr: boolean): { key: Selector; slots: ArrayLike<number>; note: string } {
  const f = vsFamily(vs);
  const seed = flowSeed(vkey);
  const weights = dests.map((d) => d.weight);
  const s = vs.scheduler;
  if (!dr && (s === 'rr' || s === 'wrr')) {
    // IPVS rr ignores weights other than 0; wrr follows IPVS's interleaved order.
    const seq = wrrSequence(s === 'rr' ? weights.map(() => 1) : weights);
    return { key: { numgen: seq.length }, slots: seq, note: `${s} per-connection` };
  }
  if (s === 'sh') {
    const port = !!vs.schedFlags.shPort;
    const t = shTable(weights);
    return { key: { jhash: hashKey(f, port), mod: t.length, seed }, slots: t, note: `sh${port ? ' sh-port' : ''} seed ${hex(seed)}` };
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
  return { key: { jhash: hashKey(f, port), mod: m, seed }, slots: t, note: `${s} maglev ${m}${port ? ' +port' : ''} seed ${hex(seed)}` };
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
  const dispatch: Rule = [{ s: 'vmap', key: { fields: [`${l3(f)} daddr`, 'meta l4proto', 'th dport'] }, map: 'services' }];
  addChain(t, 'prerouting', [dispatch, [{ s: 'vmap', key: { fields: ['meta mark'] }, map: 'fwmarks' }]], { base: { type: 'nat', hook: 'prerouting', prio: -100 } });
  // Connections the director itself opens to a VIP are balanced too.
  addChain(t, 'output', [dispatch], { base: { type: 'nat', hook: 'output', prio: -100 } });
  // A nat chain sees each flow's first packet: one count per connection and destination.
  const dnat = { s: 'ct status', value: 'dnat' } as const;
  const orig: Field = `ct original ${l3(f)} daddr`;
  addChain(
    t,
    'postrouting',
    [
      [dnat, { s: 'update', set: 'rs_stats', key: [orig, `${l3(f)} daddr`, 'th dport'] }],
      [dnat, { s: 'in', key: [orig], set: 'masq' }, { s: 'masquerade' }],
    ],
    { base: { type: 'nat', hook: 'postrouting', prio: 100 } },
  );
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
  const host = { s: 'meta', key: 'pkttype', value: 'host' } as const;
  addChain(
    t,
    name,
    [
      [{ s: 'in', key: ['ether saddr'], set: 'rs_macs' }, { s: 'accept' }],
      [host, { s: 'vmap', key: { fields: ['ip daddr', 'meta l4proto', 'th dport'] }, map: 'dr4' }],
      [host, { s: 'vmap', key: { fields: ['ip6 daddr', 'meta l4proto', 'th dport'] }, map: 'dr6' }],
    ],
    { base: { type: 'filter', hook: 'ingress', prio: 0, device: dev } },
  );
}

/** One service's objects: its chains and its map elements, with the input they were rendered from. */
export interface Fragment {
  vsKey: string;
  /** What the objects were rendered from (sameInput: unchanged input, same objects). */
  input: RenderInput;
  dr: boolean;
  family: Family;
  chains: NftChain[];
  /** Per map (at most a few per service): its element keys and, in the same order, their values ('' for a set). */
  elements: [map: string, keys: string[], values: string[]][];
  /** DR: interfaces whose ingress hook must dispatch. */
  devices: string[];
  /** DR: the destinations' MACs (shared by services, so gathered over all fragments in assemble). */
  macs: string[];
  /** Full NAT: the virtual address to masquerade — shared by the services on that VIP, so gathered like `macs`. */
  masq?: string;
  /** NAT address:port services: what conntrack is asked about (connections per destination). */
  nat?: { proto: string; vip: string; port: number; destKeys: string[] };
  errors: string[];
}

function pathText(p: DrPath | Error): string {
  if (p instanceof Error) return `!${p.message}`;
  return p.kind === 'local' ? 'local' : `${p.ifname}/${p.ownMac}/${p.mac}`;
}

/**
 * What a service's rendering depends on, kept with its fragment and compared field by
 * field on every reconcile: the service's settings, and per destination its address,
 * port, weight and the rest (sorry, DR path). At 2,284 services and 37k destinations a
 * string per service (the first fingerprint) cost more than the whole one-change
 * transaction. Model objects and strings compare by identity first; a destination's key
 * is made from its address and port.
 */
export interface RenderInput {
  vs: VirtualServer;
  vsKey: string;
  /** The model's real-server list, its length, the service's forwarding: forwardingOf's inputs. */
  rs: VirtualServer['realServers'];
  nrs: number;
  own: VirtualServer['forwarding'];
  fwd: string;
  protocol: string;
  scheduler: string;
  shPort: boolean;
  mhPort: boolean;
  sorryServer: boolean;
  masquerade: boolean;
  /** The settings nftUnsupported reads besides forwarding and scheduler: same input, still supported. */
  persistenceTimeout: number | undefined;
  ops: boolean;
  addrs: string[];
  ports: (number | undefined)[];
  weights: number[];
  /** '' for a plain NAT destination; `s` (sorry) and/or `@<DR path>`. */
  extra: string[];
}

function destExtra(ds: DesiredService, d: DesiredDest, dr: boolean, ctx: RenderContext): string {
  if (!d.sorry && !dr) return '';
  return `${d.sorry ? 's' : ''}${dr ? `@${pathText(ctx.drPath(ds.vs, d))}` : ''}`;
}

/** How `ds` forwards (forwardingOf), taken from the input it was last rendered from when the model objects are the same. */
export function serviceForwarding(ds: DesiredService, last?: RenderInput): string {
  const vs = ds.vs;
  if (last && last.vs === vs && last.rs === vs.realServers && last.nrs === vs.realServers.length && last.own === vs.forwarding) return last.fwd;
  return forwardingOf(vs);
}

export function renderInput(ds: DesiredService, ctx: RenderContext, fwd = forwardingOf(ds.vs)): RenderInput {
  const vs = ds.vs;
  const dr = fwd === 'DR';
  const n = ds.dests.length;
  const input: RenderInput = {
    vs,
    vsKey: ds.vsKey,
    rs: vs.realServers,
    nrs: vs.realServers.length,
    own: vs.forwarding,
    fwd,
    protocol: vs.protocol,
    scheduler: vs.scheduler,
    shPort: !!vs.schedFlags.shPort,
    mhPort: !!vs.schedFlags.mhPort,
    sorryServer: !!vs.sorryServer,
    masquerade: !!ctx.masquerade,
    persistenceTimeout: vs.persistenceTimeout,
    ops: vs.ops,
    addrs: new Array<string>(n),
    ports: new Array<number | undefined>(n),
    weights: new Array<number>(n),
    extra: new Array<string>(n),
  };
  for (let i = 0; i < n; i++) {
    const d = ds.dests[i]!;
    input.addrs[i] = d.address;
    input.ports[i] = d.port;
    input.weights[i] = d.weight;
    input.extra[i] = destExtra(ds, d, dr, ctx);
  }
  return input;
}

/** Whether `ds` (forwarding `fwd`) renders to what `input` rendered to; allocates nothing for a NAT destination. */
export function sameInput(input: RenderInput, ds: DesiredService, ctx: RenderContext, fwd = serviceForwarding(ds, input)): boolean {
  const vs = ds.vs;
  const n = ds.dests.length;
  if (
    input.addrs.length !== n ||
    input.fwd !== fwd ||
    input.vsKey !== ds.vsKey ||
    input.protocol !== vs.protocol ||
    input.scheduler !== vs.scheduler ||
    input.shPort !== !!vs.schedFlags.shPort ||
    input.mhPort !== !!vs.schedFlags.mhPort ||
    input.nrs !== vs.realServers.length ||
    input.sorryServer !== !!vs.sorryServer ||
    input.masquerade !== !!ctx.masquerade ||
    input.persistenceTimeout !== vs.persistenceTimeout ||
    input.ops !== vs.ops
  )
    return false;
  const dr = fwd === 'DR';
  // The hot loop of a reconcile (every destination, every time): locals, cheapest tests first.
  const dests = ds.dests;
  const { weights, ports, addrs, extra } = input;
  for (let i = 0; i < n; i++) {
    const d = dests[i]!;
    if (d.weight !== weights[i] || d.port !== ports[i] || d.address !== addrs[i]) return false;
    if (dr || d.sorry || extra[i] !== '') if (destExtra(ds, d, dr, ctx) !== extra[i]) return false;
  }
  return true;
}

// The maps a service puts elements into, in the order its fragment lists them.
const NAT_MAPS = ['services', 'fwmarks', 'dests', 'fwm_dests'] as const;
const DR_MAPS = ['dr4', 'dr6'] as const;

/** The objects of one supported service (its own chains and elements; the tables' skeleton is assemble's). */
export function renderService(ds: DesiredService, ctx: RenderContext, input = renderInput(ds, ctx)): Fragment {
  const name = ctx.table ?? TABLE;
  const errors: string[] = [];
  const vs = ds.vs;
  const f = vsFamily(vs);
  const dr = input.fwd === 'DR';
  // A table to collect this service's chains in; its elements go per map, listed in map order.
  const t = newTable(dr ? 'netdev' : f === 4 ? 'ip' : 'ip6', name);
  const el: Record<string, [string[], string[]]> = {};
  const put = (map: string, k: string, v: string): void => {
    const e = (el[map] ??= [[], []]);
    e[0].push(k);
    e[1].push(v);
  };
  const devices: string[] = [];
  const macs: string[] = [];
  let masq: string | undefined;
  const vsName = vsChainName(vs);
  const proto = vs.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp';
  const eligible: DesiredDest[] = [];
  const targets: SlotTarget[] = [];
  // @dests / @fwm_dests keys start with the service's part: made once, not per destination.
  const va = vs.address;
  const destMap = dr ? undefined : va.kind === 'ip' ? 'dests' : va.kind === 'fwmark' ? 'fwm_dests' : undefined;
  const destPrefix = va.kind === 'ip' ? `${canon(va.address, va.family)} . ${proto} . ${va.port} . ` : va.kind === 'fwmark' ? `${va.fwmark} . ` : '';
  for (const d of ds.dests) {
    if (dr) {
      const p = ctx.drPath(vs, d);
      if (p instanceof Error) {
        errors.push(`${ds.vsKey} -> ${d.key}: ${p.message}`);
        continue;
      }
      // Source MAC rewritten to ours so the switch does not learn the client's MAC on our port (pitfall 1).
      const rule: Rule =
        p.kind === 'local'
          ? [{ s: 'counter' }, { s: 'accept' }]
          : [{ s: 'counter' }, { s: 'ether set', field: 'saddr', mac: p.ownMac }, { s: 'ether set', field: 'daddr', mac: p.mac }, { s: 'fwd', dev: p.ifname }];
      if (p.kind === 'mac' && !devices.includes(p.ifname)) devices.push(p.ifname);
      if (p.kind === 'mac' && !macs.includes(p.mac.toLowerCase())) macs.push(p.mac.toLowerCase());
      const rsName = rsChainName(vs, d);
      addChain(t, rsName, [rule], { comment: `${ds.vsKey} -> ${d.key}`, notes: [`w=${d.weight}${d.sorry ? ' sorry' : ''}`] });
      targets.push({ goto: rsName });
    } else {
      const nt = natTarget(d);
      targets.push(nt);
      if (destMap) put(destMap, `${destPrefix}${nt.addr} . ${d.port ?? 0}`, String(d.weight));
    }
    if (d.weight > 0) eligible.push(d);
    else targets.pop();
  }
  let rule: Rule;
  let note: string;
  if (eligible.length === 0) {
    rule = [{ s: 'counter' }, { s: 'drop' }];
    note = `${vs.scheduler} no-destination`;
  } else {
    const sch = schedule(vs, ds.vsKey, eligible, dr);
    if (dr) rule = [{ s: 'counter' }, { s: 'vmap', key: sch.key, map: { slots: sch.slots, targets } satisfies Slots }];
    else {
      const withPort = eligible.every((d) => d.port !== undefined);
      const map: Slots = { slots: sch.slots, targets: withPort ? targets : eligible.map((d) => natTarget({ ...d, port: undefined })) };
      rule = [{ s: 'counter' }, { s: 'meta', key: 'l4proto', value: proto }, { s: 'dnat', family: l3(f), key: sch.key, map }];
    }
    note = sch.note;
  }
  addChain(t, vsName, [rule], { comment: ds.vsKey, notes: [note] });
  const a = vs.address;
  if (a.kind === 'ip') {
    const key = `${canon(a.address, a.family)} . ${proto} . ${a.port}`;
    put(dr ? (f === 4 ? 'dr4' : 'dr6') : 'services', key, `goto ${vsName}`);
    if (!dr && ctx.masquerade) masq = canon(a.address, a.family);
  } else if (a.kind === 'fwmark') {
    put('fwmarks', String(a.fwmark), `goto ${vsName}`);
  }
  const elements: Fragment['elements'] = [];
  for (const m of dr ? DR_MAPS : NAT_MAPS) if (el[m]) elements.push([m, el[m][0], el[m][1]]);
  const nat = !dr && a.kind === 'ip' ? { proto, vip: a.address, port: a.port, destKeys: ds.dests.map((d) => d.key) } : undefined;
  return { vsKey: ds.vsKey, input, dr, family: f, chains: [...t.chains.values()], elements, devices, macs, ...(masq !== undefined ? { masq } : {}), ...(nat ? { nat } : {}), errors };
}

/**
 * The whole state from fragments: the tables, maps and static chains every fragment
 * needs, and the chains and elements of those in `content` (all when omitted) — a
 * partial state for diffing only what changed.
 */
export function assemble(frags: Iterable<Fragment>, table = TABLE, content?: Set<string>): NftState {
  const state: NftState = new Map();
  const tables: (NftTable | undefined)[] = []; // netdev, ip, ip6: found once, not per fragment
  for (const fr of frags) {
    const slot = fr.dr ? 0 : fr.family === 4 ? 1 : 2;
    const t = (tables[slot] ??= fr.dr ? drTable(state, table) : natTable(state, table, fr.family));
    for (const dev of fr.devices) ingressChain(t, dev);
    // From every fragment, not just `content`: a MAC (a masqueraded VIP) stays while any
    // service still uses it — diffing only the changed services' share of it would delete it.
    for (const m of fr.macs) t.maps.get('rs_macs')!.elements.set(m, '');
    if (fr.masq !== undefined) t.maps.get('masq')!.elements.set(fr.masq, '');
    if (content && !content.has(fr.vsKey)) continue;
    for (const c of fr.chains) t.chains.set(c.name, c);
    for (const [m, keys, values] of fr.elements) {
      const e = t.maps.get(m)!.elements;
      for (let i = 0; i < keys.length; i++) e.set(keys[i]!, values[i]!);
    }
  }
  return state;
}

export function renderNft(desired: readonly DesiredService[], ctx: RenderContext): Rendered {
  const unsupported = new Set(nftUnsupported(desired.map((d) => d.vs)).map((u) => u.vs));
  const frags = desired.filter((ds) => !unsupported.has(ds.vs)).map((ds) => renderService(ds, ctx));
  return { state: assemble(frags, ctx.table ?? TABLE), errors: frags.flatMap((f) => f.errors) };
}
