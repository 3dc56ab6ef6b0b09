// Cluster-wide consistency: the nodes of one cluster checked against each
// other. Each node's file can be valid on its own and the cluster still break
// at run time — two nodes that drop each other's adverts both become MASTER, a
// service missing on a backup stops at the first failover. Instances are
// matched by VRID and address family (not by name or interface: the wire
// knows neither); unicast instances whose peers never meet are separate
// virtual routers. Services are matched by address, port and protocol (or
// fwmark). Pure: models in, diagnostics out. Messages never include secrets.
import { plainDiagnostic, type Diagnostic, type Severity } from '../config/diagnostics.js';
import { canonicalIp } from '../vrrp/addr.js';
import { hostPort, vsBlock } from './names.js';
import { AUTH_AH, AUTH_NONE } from '../vrrp/packet.js';
import { rxContextFromInstance } from '../vrrp/receive.js';
import type { Checker, Loc, Located, NodeModel, RealServer, VirtualServer, VrrpInstance } from './types.js';

export interface ClusterRule {
  code: string;
  severity: Severity;
  describe: string;
}

/** The cross-node checks, for `haldir rules` (validateNode's RULES are per node). */
export const CLUSTER_RULES = [
  { code: 'cluster-auth-mismatch', severity: 'error', describe: 'one VRID with different authentication (type or password as sent) on different nodes' },
  { code: 'cluster-version-mismatch', severity: 'error', describe: 'one VRID with different VRRP versions on different nodes' },
  { code: 'cluster-advert-int-mismatch', severity: 'error', describe: 'one VRRPv2 VRID with different advert_int on different nodes' },
  { code: 'cluster-advert-int-differs', severity: 'warning', describe: 'one VRRPv3 VRID with different advert_int on different nodes' },
  { code: 'cluster-vips-differ', severity: 'warning', describe: 'one VRID with different virtual addresses on different nodes' },
  { code: 'cluster-priority-tie', severity: 'warning', describe: 'two nodes with the same priority (below 255) for one VRID' },
  { code: 'cluster-state-master-twice', severity: 'warning', describe: 'two nodes configured state MASTER for one VRID' },
  { code: 'cluster-owner-twice', severity: 'warning', describe: 'two nodes with priority 255 (address owner) for one VRID' },
  { code: 'cluster-unicast-mixed', severity: 'error', describe: 'one VRID unicast on some nodes and multicast on others' },
  { code: 'cluster-unicast-asymmetric', severity: 'error', describe: 'a node missing from another node\'s unicast_peer list' },
  { code: 'cluster-vrid-missing', severity: 'warning', describe: 'a VRID configured on some nodes but not on others' },
  { code: 'cluster-service-missing', severity: 'warning', describe: 'a virtual server missing on a node that can take over its address' },
  { code: 'cluster-service-mismatch', severity: 'warning', describe: 'one virtual server with other real servers, weights, scheduler, lb_kind or persistence on another node' },
  { code: 'cluster-check-mismatch', severity: 'warning', describe: 'one real server with other health-check settings on another node' },
  { code: 'cluster-own-address-missing', severity: 'warning', describe: 'a director missing its own address from real servers the others list it in' },
] as const satisfies readonly ClusterRule[];

type Code = (typeof CLUSTER_RULES)[number]['code'];

const SEVERITY = new Map<string, Severity>(CLUSTER_RULES.map((r) => [r.code, r.severity]));

export interface ClusterCheckOptions {
  /** Only findings that involve this node (case-insensitive), as `--node` asks. */
  node?: string;
}

/** Checks the nodes against each other; nothing to compare with fewer than two. */
export function checkCluster(models: NodeModel[], opts: ClusterCheckOptions = {}): Diagnostic[] {
  if (models.length < 2) return [];
  const found = [...vrrpChecks(models), ...serviceChecks(models)];
  const only = opts.node?.toLowerCase();
  return found
    .filter((f) => only === undefined || f.nodes.some((n) => n.toLowerCase() === only))
    .map((f) => {
      const d: Diagnostic = { severity: SEVERITY.get(f.code)!, code: f.code, message: f.message, block: f.block, hint: f.hint };
      if (f.loc) d.loc = f.loc;
      const rel = places(f.related, f.loc);
      if (rel.length) d.related = rel;
      return plainDiagnostic(d);
    });
}

// ---------------------------------------------------------------------------
// Helpers

interface Place {
  node: string;
  loc: Loc | undefined;
  what: string;
}

interface Found {
  code: Code;
  /** Every node the finding is about (for --node). */
  nodes: string[];
  message: string;
  loc: Loc | undefined;
  block: string;
  hint: string;
  related: Place[];
}

/** The location of `fields` (first one written), else of the object itself. */
function at(o: Located | undefined, ...fields: string[]): Loc | undefined {
  const s = o?.src;
  if (!s) return undefined;
  for (const f of fields) if (s[f]) return s[f];
  return s[''];
}

const sameLoc = (a: Loc | undefined, b: Loc | undefined): boolean => !!a && !!b && a.file === b.file && a.line === b.line && a.col === b.col;

/**
 * Related places, one per location: a cluster file gives every node the same
 * place for instance-wide settings, so those nodes are named together (and
 * the main location is not repeated).
 */
function places(ps: Place[], main: Loc | undefined): { loc: Loc; message: string }[] {
  const out: { loc: Loc; nodes: string[]; what: string }[] = [];
  for (const p of ps) {
    if (!p.loc || sameLoc(p.loc, main)) continue;
    const g = out.find((o) => sameLoc(o.loc, p.loc) && o.what === p.what);
    if (g) g.nodes.push(p.node);
    else out.push({ loc: p.loc, nodes: [p.node], what: p.what });
  }
  return out.map((o) => ({ loc: o.loc, message: `${o.nodes.join(', ')}: ${o.what}` }));
}

/** "A", "A and B", "A, B and C". */
function and(xs: readonly string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/** "A", "A or B", "A, B or C". */
function or(xs: readonly string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

/** Canonical address text, so that 2001:db8::1 equals 2001:0db8:0:0::1. */
function ip(a: string): string {
  return canonicalIp(a, a.includes(':') ? 6 : 4) ?? a.toLowerCase();
}

/** Groups items by a value's text, in first-seen order: the variants of a setting across nodes. */
function variants<T>(items: readonly T[], text: (t: T) => string): { text: string; items: T[] }[] {
  const out: { text: string; items: T[] }[] = [];
  for (const it of items) {
    const k = text(it);
    const v = out.find((x) => x.text === k);
    if (v) v.items.push(it);
    else out.push({ text: k, items: [it] });
  }
  return out;
}

/** "LB1, LB2: rr vs LB3: wlc". */
function variantsText<T extends { m: NodeModel }>(vs: { text: string; items: T[] }[]): string {
  return vs.map((v) => `${v.items.map((x) => x.m.node).join(', ')}: ${v.text}`).join(' vs ');
}

/** JSON with sorted keys and without source positions: equal settings give equal text. */
function canonJson(v: unknown): string {
  return JSON.stringify(v, (k, val: unknown) => {
    if (k === 'src') return undefined;
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      const o = val as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((x) => [x, o[x]]));
    }
    return val;
  });
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

// ---------------------------------------------------------------------------
// VRRP instances

interface Member {
  m: NodeModel;
  i: VrrpInstance;
}

function instBlock(i: VrrpInstance): string {
  return `vrrp_instance ${i.name}`;
}

/** "VRID 51", with the family when it is IPv6 (VRIDs are per family). */
function vridName(i: VrrpInstance): string {
  return i.family === 6 ? `VRID ${i.vrid} (IPv6)` : `VRID ${i.vrid}`;
}

/** A node's own address as configured: unicast_src_ip or mcast_src_ip of any instance. */
function configuredAddress(m: NodeModel): string | undefined {
  for (const i of m.vrrpInstances) if (i.unicastSrcIp) return ip(i.unicastSrcIp);
  for (const i of m.vrrpInstances) if (i.mcastSrcIp) return ip(i.mcastSrcIp);
  return undefined;
}

/**
 * The virtual routers of the cluster: instances with one VRID and family. A
 * node with two such instances (on different interfaces) splits the group by
 * interface. Unicast instances are split further into groups whose peer lists
 * connect them, when every member names its source address.
 */
function vrrpGroups(models: NodeModel[]): Member[][] {
  const byKey = new Map<string, Member[]>();
  for (const m of models)
    for (const i of m.vrrpInstances) {
      const k = `${i.family}|${i.vrid}`;
      let g = byKey.get(k);
      if (!g) byKey.set(k, (g = []));
      g.push({ m, i });
    }
  const out: Member[][] = [];
  for (const g of byKey.values()) {
    const perNode = new Set(g.map((x) => x.m));
    const split = perNode.size < g.length ? [...variants(g, (x) => x.i.interface)].map((v) => v.items) : [g];
    for (const s of split) out.push(...unicastComponents(s));
  }
  return out;
}

function unicastComponents(g: Member[]): Member[][] {
  if (g.length < 2 || !g.every((x) => x.i.unicastPeers.length > 0 && x.i.unicastSrcIp)) return [g];
  const peers = g.map((x) => new Set(x.i.unicastPeers.map((p) => ip(p.address))));
  const src = g.map((x) => ip(x.i.unicastSrcIp!));
  const comp = g.map((_, k) => k);
  const find = (k: number): number => (comp[k] === k ? k : (comp[k] = find(comp[k]!)));
  for (let a = 0; a < g.length; a++)
    for (let b = a + 1; b < g.length; b++) if (peers[a]!.has(src[b]!) || peers[b]!.has(src[a]!)) comp[find(a)] = find(b);
  const parts = new Map<number, Member[]>();
  g.forEach((x, k) => {
    const r = find(k);
    parts.set(r, [...(parts.get(r) ?? []), x]);
  });
  return [...parts.values()];
}

function vrrpChecks(models: NodeModel[]): Found[] {
  const out: Found[] = [];
  for (const g of vrrpGroups(models)) {
    if (new Set(g.map((x) => x.m)).size < 2) continue;
    const versionsDiffer = versionMismatch(g, out);
    // Adverts of another version are dropped before anything else is looked at.
    if (!versionsDiffer) {
      authMismatch(g, out);
      advertIntMismatch(g, out);
    }
    vipsDiffer(g, out);
    priorityTie(g, out);
    masterTwice(g, out);
    unicastPeers(g, out);
  }
  vridMissing(models, out);
  return out;
}

/** The nodes as "A and B" or "A, B, C and D". */
function nodeNames(g: readonly Member[]): string {
  return and(g.map((x) => x.m.node));
}

/** "both" for two nodes, "all" for more. */
function bothAll(n: number): string {
  return n === 2 ? 'both' : 'all';
}

/** The split-brain outcome for the sides that cannot hear each other. */
function splitBrain(sides: number): string {
  return sides === 2 ? 'split brain: both become MASTER' : 'split brain: every side becomes MASTER';
}

/** A finding about a group: located at the first member, the others as related places. */
function groupFinding(code: Code, g: Member[], message: string, hint: string, field: string[], what: (x: Member) => string): Found {
  const first = g[0]!;
  return {
    code,
    nodes: g.map((x) => x.m.node),
    message,
    loc: at(first.i, ...field),
    block: instBlock(first.i),
    hint,
    related: g.slice(1).map((x) => ({ node: x.m.node, loc: at(x.i, ...field), what: what(x) })),
  };
}

/** RFC 5798 §7.1: a router drops adverts of another version. */
function versionMismatch(g: Member[], out: Found[]): boolean {
  const vs = variants(g, (x) => `v${x.i.version}`);
  if (vs.length < 2) return false;
  const i = g[0]!.i;
  out.push(
    groupFinding(
      'cluster-version-mismatch',
      g,
      `${nodeNames(g)} use different VRRP versions for ${vridName(i)} (${variantsText(vs)}): each drops the other's adverts ` +
        `(RFC 5798 §7.1) → ${splitBrain(vs.length)}`,
      'set the same "version" (or vrrp_version in global_defs) on every node',
      ['version'],
      (x) => `version ${x.i.version} here`,
    ),
  );
  return true;
}

/** What goes on the wire: v3 and vrrp_strict send no authentication; PASS sends 8 octets of the password. */
function wireAuth(i: VrrpInstance): { type: string; key: string } {
  const rx = rxContextFromInstance(i);
  const type = rx.authType === AUTH_NONE ? 'none' : rx.authType === AUTH_AH ? 'AH' : 'PASS';
  return { type, key: `${type}|${Buffer.from(rx.authData).toString('hex')}` };
}

/** RFC 3768 §7.1: another auth type or password → the advert is discarded. */
function authMismatch(g: Member[], out: Found[]): void {
  const auth = new Map(g.map((x) => [x, wireAuth(x.i)]));
  const vs = variants(g, (x) => auth.get(x)!.key);
  if (vs.length < 2) return;
  // Never show the password: variants of one type are told apart by number.
  const types = vs.map((v) => auth.get(v.items[0]!)!.type);
  const labelled = vs.map((v, k) => {
    const t = types[k]!;
    const n = types.filter((x) => x === t).length;
    return { ...v, text: n > 1 ? `${t}, password ${types.slice(0, k + 1).filter((x) => x === t).length} of ${n}` : t };
  });
  const detail = vs.every((v) => v.items.length === 1) && vs.length === 2 ? labelled.map((v) => v.text).join(' vs ') : variantsText(labelled);
  const i = g[0]!.i;
  out.push(
    groupFinding(
      'cluster-auth-mismatch',
      g,
      `${nodeNames(g)} use different authentication for ${vridName(i)} (${detail}): each drops the other's adverts ` +
        `(RFC 3768 §7.1) → ${splitBrain(vs.length)}`,
      'use the same authentication block on every node (the advert carries the first 8 characters of auth_pass; ' +
        'version 3 and vrrp_strict send none)',
      ['auth.type', 'auth', 'auth.pass'],
      (x) => `authentication ${labelled.find((v) => v.items.includes(x))!.text} here`,
    ),
  );
}

function seconds(cs: number): string {
  return `${cs / 100} s`;
}

/** v2: RFC 3768 §7.1 drops adverts with another interval; v3: backups adopt the master's (RFC 5798 §6.4.2). */
function advertIntMismatch(g: Member[], out: Found[]): void {
  const cs = new Map(g.map((x) => [x, rxContextFromInstance(x.i).advertIntCs]));
  const vs = variants(g, (x) => seconds(cs.get(x)!));
  if (vs.length < 2) return;
  const i = g[0]!.i;
  const v2 = i.version === 2;
  out.push(
    groupFinding(
      v2 ? 'cluster-advert-int-mismatch' : 'cluster-advert-int-differs',
      g,
      `${nodeNames(g)} use different advert_int for ${vridName(i)} (${variantsText(vs)}): ` +
        (v2
          ? `a VRRPv2 router discards adverts whose interval is not its own (RFC 3768 §7.1) → ${splitBrain(vs.length)}`
          : 'backups compute Master_Down_Interval from their own advert_int until they hear a master, v3 backups then ' +
            'adopt the master\'s (RFC 5798 §6.4.2): the failover time depends on which node is master'),
      'set the same advert_int on every node',
      ['advertInt'],
      (x) => `advert_int ${seconds(cs.get(x)!)} here`,
    ),
  );
}

/** The addresses in the adverts; a failover moves exactly these. */
function vipSet(i: VrrpInstance): string[] {
  return [...new Set(rxContextFromInstance(i).vips)].sort();
}

function vipsDiffer(g: Member[], out: Found[]): void {
  const sets = new Map(g.map((x) => [x, vipSet(x.i)]));
  const vs = variants(g, (x) => sets.get(x)!.join(', '));
  if (vs.length < 2) return;
  const all = [...new Set(g.flatMap((x) => sets.get(x)!))];
  const partial = all
    .map((a) => ({ a, on: g.filter((x) => sets.get(x)!.includes(a)).map((x) => x.m.node) }))
    .filter((p) => p.on.length < g.length)
    .map((p) => `${p.a} only while ${or(p.on)} is master`);
  const strict = g.filter((x) => x.i.strictMode).map((x) => x.m.node);
  const i = g[0]!.i;
  out.push(
    groupFinding(
      'cluster-vips-differ',
      g,
      `${nodeNames(g)} announce different virtual addresses for ${vridName(i)} (${variantsText(vs)}): ` +
        `a failover changes which addresses are served (${partial.join('; ')})` +
        (strict.length
          ? `; under vrrp_strict ${and(strict)} even drop adverts whose address list differs → split brain`
          : '; backups count the address-list mismatch (RFC 5798 §7.1)'),
      'list the same virtual_ipaddress on every node of the VRID',
      ['vips'],
      (x) => `virtual_ipaddress ${sets.get(x)!.join(', ') || '(none)'} here`,
    ),
  );
}

/** RFC 5798 §6.4.3: equal priorities are decided by the primary address. */
function priorityTie(g: Member[], out: Found[]): void {
  for (const v of variants(g, (x) => String(x.i.priority))) {
    if (v.items.length < 2 || v.items[0]!.i.priority === 255) continue;
    const i = v.items[0]!.i;
    out.push(
      groupFinding(
        'cluster-priority-tie',
        v.items,
        `${nodeNames(v.items)} have the same priority ${i.priority} for ${vridName(i)}: the tie is broken by the highest ` +
          'primary IP address (RFC 5798 §6.4.3): which node is master depends on addresses, not configuration',
        'give every node of the VRID its own priority (e.g. 100, 99, 98, …)',
        ['priority'],
        (x) => `priority ${x.i.priority} here`,
      ),
    );
  }
}

function masterTwice(g: Member[], out: Found[]): void {
  const masters = g.filter((x) => x.i.state === 'MASTER' && x.i.priority !== 255);
  if (masters.length > 1) {
    const i = masters[0]!.i;
    out.push(
      groupFinding(
        'cluster-state-master-twice',
        masters,
        `${nodeNames(masters)} are ${bothAll(masters.length)} configured state MASTER for ${vridName(i)}: state MASTER forces preemption on ` +
          '(nopreempt is ignored), so whenever their priorities cross (tracking, restarts) they take the addresses ' +
          'from each other — preemption fights, each with a gratuitous-ARP storm',
        'configure state MASTER on one node only (the one with the highest priority), BACKUP on the others',
        ['state'],
        () => 'state MASTER here',
      ),
    );
  }
  const owners = g.filter((x) => x.i.priority === 255);
  if (owners.length > 1) {
    const i = owners[0]!.i;
    out.push(
      groupFinding(
        'cluster-owner-twice',
        owners,
        `${nodeNames(owners)} ${bothAll(owners.length)} have priority 255 for ${vridName(i)}: each claims ownership of the addresses, goes ` +
          'MASTER at once on start-up and cannot be lowered by tracking; they fight until the lower primary IP address ' +
          'yields (RFC 5798 §6.4.3)',
        'priority 255 belongs to the one node that owns the virtual addresses; use 254 or less on the others',
        ['priority'],
        () => 'priority 255 here',
      ),
    );
  }
}

/**
 * Every node must send its adverts to every other: each sends only to the
 * peers it lists. A member's address is its unicast_src_ip; without one, it is
 * inferred as the one address of the group's peer lists that the member does
 * not list itself (only when the lists name exactly one address per member).
 */
function unicastPeers(g: Member[], out: Found[]): void {
  const uni = g.filter((x) => x.i.unicastPeers.length > 0);
  if (uni.length === 0) return;
  const i0 = g[0]!.i;
  if (uni.length < g.length) {
    const multi = g.filter((x) => x.i.unicastPeers.length === 0);
    const f = groupFinding(
      'cluster-unicast-mixed',
      [...uni, ...multi],
      `${vridName(i0)} is unicast on ${and(uni.map((x) => x.m.node))} but multicast on ${and(multi.map((x) => x.m.node))}: ` +
        'a unicast instance takes only unicast adverts and a multicast one only multicast adverts, so neither side ' +
        'hears the other → split brain: both become MASTER',
      'use unicast_peer on every node of the VRID, or on none',
      ['unicastPeers'],
      (x) => (x.i.unicastPeers.length ? 'unicast_peer here' : 'multicast (no unicast_peer)'),
    );
    out.push(f);
    return;
  }
  const peers = new Map(g.map((x) => [x, new Set(x.i.unicastPeers.map((p) => ip(p.address)))]));
  const union = new Set(g.flatMap((x) => [...peers.get(x)!]));
  const addr = new Map<Member, string>();
  for (const x of g) {
    if (x.i.unicastSrcIp) addr.set(x, ip(x.i.unicastSrcIp));
    else if (union.size === g.length) {
      const missing = [...union].filter((a) => !peers.get(x)!.has(a));
      if (missing.length === 1) addr.set(x, missing[0]!);
    }
  }
  for (const y of g) {
    const unheard = g.filter((x) => x !== y && addr.has(x) && !peers.get(y)!.has(addr.get(x)!) && addr.get(x) !== addr.get(y));
    if (unheard.length === 0) continue;
    const ya = addr.get(y);
    const listY = unheard.filter((x) => ya !== undefined && peers.get(x)!.has(ya));
    const names = and(unheard.map((x) => `${x.m.node} (${addr.get(x)})`));
    const dropped = y.i.checkUnicastSrc && listY.length ? `; with check_unicast_src ${y.m.node} also drops ${and(listY.map((x) => x.m.node))}'s adverts` : '';
    out.push({
      code: 'cluster-unicast-asymmetric',
      nodes: [y.m.node, ...unheard.map((x) => x.m.node)],
      message:
        `${listY.length ? `${and(listY.map((x) => x.m.node))} list${listY.length === 1 ? 's' : ''} ${y.m.node} as a unicast peer, but ` : ''}` +
        `${y.m.node} does not list ${names} for ${vridName(y.i)}: ${y.m.node} sends its adverts only to the peers it lists, so ` +
        `${and(unheard.map((x) => x.m.node))} never hear${unheard.length === 1 ? 's' : ''} it → while ${y.m.node} is master, ` +
        `${and(unheard.map((x) => x.m.node))} also become${unheard.length === 1 ? 's' : ''} MASTER (split brain)${dropped}`,
      loc: at(y.i, 'unicastPeers'),
      block: instBlock(y.i),
      hint: `add ${and(unheard.map((x) => `unicast_peer ${addr.get(x)}`))} to ${y.m.node}: every node lists every other`,
      related: unheard.map((x) => ({ node: x.m.node, loc: at(x.i, 'unicastSrcIp', 'unicastPeers'), what: `${addr.get(x)} is this node's address` })),
    });
  }
}

/** A VRID that some nodes do not have: those nodes never take over its addresses. */
function vridMissing(models: NodeModel[], out: Found[]): void {
  const byKey = new Map<string, Member[]>();
  for (const m of models)
    for (const i of m.vrrpInstances) {
      const k = `${i.family}|${i.vrid}`;
      const g = byKey.get(k) ?? [];
      if (!g.some((x) => x.m === m)) g.push({ m, i });
      byKey.set(k, g);
    }
  for (const g of byKey.values()) {
    const missing = models.filter((m) => !g.some((x) => x.m === m));
    if (missing.length === 0) continue;
    const i = g[0]!.i;
    const vips = vipSet(i).join(', ') || '(no addresses)';
    const has = g.map((x) => x.m.node);
    const lacks = missing.map((m) => m.node);
    out.push({
      code: 'cluster-vrid-missing',
      nodes: [...has, ...lacks],
      message:
        `${vridName(i)} (${vips}) is configured on ${and(has)} but not on ${and(lacks)}: ` +
        (has.length === 1 ? `nobody takes over ${vips} when ${has[0]} fails` : `${and(lacks)} never take${lacks.length === 1 ? 's' : ''} over ${vips}`),
      loc: at(i, 'vrid'),
      block: instBlock(i),
      hint: `add the vrrp_instance with virtual_router_id ${i.vrid} to ${and(lacks)}, or remove it where it is not meant to be`,
      related: [
        ...g.slice(1).map((x) => ({ node: x.m.node, loc: at(x.i, 'vrid'), what: `${vridName(x.i)} here` })),
        ...missing.map((m) => {
          const own = m.vrrpInstances.map((x) => vridName(x));
          return { node: m.node, loc: at(m.vrrpInstances[0], 'vrid') ?? at(m.global), what: own.length ? `has ${and(own)} only` : 'has no vrrp_instance' };
        }),
      ],
    });
  }
}

// ---------------------------------------------------------------------------
// Virtual services

/** IPVS keys services by (family, address, port, protocol) or by (family, fwmark). */
function vsKey(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `ip|${ip(a.address)}|${a.port}|${vs.protocol}`;
  if (a.kind === 'fwmark') return `fwmark|${a.family ?? vs.ipFamily ?? 4}|${a.fwmark}`;
  return `group|${a.group}|${vs.protocol}`;
}

/** "192.168.2.100:80/TCP", "fwmark 1", "group WEB/TCP". */
function vsName(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'ip') return `${hostPort(a.address, a.port)}/${vs.protocol}`;
  return a.kind === 'fwmark' ? `fwmark ${a.fwmark}` : `group ${a.group}/${vs.protocol}`;
}

interface Svc {
  m: NodeModel;
  vs: VirtualServer;
}

const rsKey = (rs: RealServer): string => `${ip(rs.address)}|${rs.port ?? ''}`;
const rsName = (rs: RealServer): string => hostPort(rs.address, rs.port);

function serviceChecks(models: NodeModel[]): Found[] {
  const out: Found[] = [];
  const byKey = new Map<string, Svc[]>();
  for (const m of models)
    for (const vs of m.virtualServers) {
      const k = vsKey(vs);
      const g = byKey.get(k) ?? [];
      if (!g.some((x) => x.m === m)) g.push({ m, vs }); // a duplicate within a node is validateNode's
      byKey.set(k, g);
    }
  for (const g of byKey.values()) serviceMissing(models, g, out);
  const own = ownAddresses(models, [...byKey.values()]);
  ownAddressMissing(own, [...byKey.values()], out);
  for (const g of byKey.values()) {
    if (g.length < 2) continue;
    serviceMismatch(g, own, out);
    checkMismatch(g, out);
  }
  return out;
}

/** The nodes that can take over the service's address: those announcing it in a VRRP instance (all nodes when none does). */
function serviceMissing(models: NodeModel[], g: Svc[], out: Found[]): void {
  const vs = g[0]!.vs;
  const a = vs.address;
  const owners =
    a.kind === 'ip'
      ? models.filter((m) => m.vrrpInstances.some((i) => i.vips.some((v) => ip(v.address) === ip(a.address))))
      : [];
  const candidates = owners.length ? owners : models;
  const missing = candidates.filter((m) => !g.some((x) => x.m === m));
  if (missing.length === 0) return;
  const lacks = missing.map((m) => m.node);
  const vipInst = (m: NodeModel) => (a.kind === 'ip' ? m.vrrpInstances.find((i) => i.vips.some((v) => ip(v.address) === ip(a.address))) : undefined);
  out.push({
    code: 'cluster-service-missing',
    nodes: [...g.map((x) => x.m.node), ...lacks],
    message:
      `after a failover to ${or(lacks)}, ${vsName(vs)} is not served: ${and(g.map((x) => x.m.node))} ` +
      `define${g.length === 1 ? 's' : ''} it, ${and(lacks)} do${lacks.length === 1 ? 'es' : ''} not`,
    loc: at(vs),
    block: vsBlock(vs),
    hint: `add the same ${vsBlock(vs)} block to ${and(lacks)}`,
    related: [
      ...g.slice(1).map((x) => ({ node: x.m.node, loc: at(x.vs), what: `${vsName(x.vs)} here` })),
      ...missing.flatMap((m) => {
        const i = vipInst(m);
        return i ? [{ node: m.node, loc: at(i, 'vips'), what: `takes over ${a.kind === 'ip' ? a.address : ''} here (${instBlock(i)}), without the service` }] : [];
      }),
    ],
  });
}

/**
 * Each director's own address. Configured: unicast_src_ip or mcast_src_ip.
 * Otherwise inferred from the real servers, for clusters whose directors are
 * their own real servers: the one address that the other directors list in
 * some service and this director does not, where it lists nothing the others
 * do not. Only a single such address counts — two or more say nothing about
 * which one is the node's own.
 */
function ownAddresses(models: NodeModel[], groups: Svc[][]): Map<NodeModel, { address: string; inferred: boolean }> {
  const out = new Map<NodeModel, { address: string; inferred: boolean }>();
  for (const m of models) {
    const a = configuredAddress(m);
    if (a !== undefined) {
      out.set(m, { address: a, inferred: false });
      continue;
    }
    const candidates = new Set<string>();
    for (const g of groups) {
      const mine = g.find((x) => x.m === m);
      const others = g.filter((x) => x.m !== m);
      if (!mine || others.length === 0) continue;
      const common = commonAddresses(others);
      const listed = new Set(mine.vs.realServers.map((rs) => ip(rs.address)));
      if (![...listed].every((x) => common.has(x))) continue;
      for (const c of common) if (!listed.has(c)) candidates.add(c);
    }
    if (candidates.size === 1) out.set(m, { address: [...candidates][0]!, inferred: true });
  }
  return out;
}

/** Real-server addresses that every one of `svcs` lists. */
function commonAddresses(svcs: Svc[]): Set<string> {
  const sets = svcs.map((x) => new Set(x.vs.realServers.map((rs) => ip(rs.address))));
  return new Set([...sets[0]!].filter((a) => sets.every((s) => s.has(a))));
}

/** Whether `m` leaves out its own address from a service the others list it in. */
function missesOwn(g: Svc[], x: Svc, own: Map<NodeModel, { address: string }>): boolean {
  const a = own.get(x.m)?.address;
  const others = g.filter((y) => y !== x);
  if (a === undefined || others.length === 0) return false;
  return commonAddresses(others).has(a) && !x.vs.realServers.some((rs) => ip(rs.address) === a);
}

function ownAddressMissing(own: Map<NodeModel, { address: string; inferred: boolean }>, groups: Svc[][], out: Found[]): void {
  for (const [m, o] of own) {
    const hits = groups.flatMap((g) => {
      const x = g.find((y) => y.m === m);
      return x && missesOwn(g, x, own) ? [{ g, x }] : [];
    });
    if (hits.length === 0) continue;
    const { g, x } = hits[0]!;
    const others = g.filter((y) => y !== x);
    const listed = x.vs.realServers.map((rs) => rs.address);
    const more = hits.length > 1 ? ` (and ${hits.length - 1} more service${hits.length > 2 ? 's' : ''}: ${hits.slice(1).map((h) => vsName(h.x.vs)).join(', ')})` : '';
    out.push({
      code: 'cluster-own-address-missing',
      nodes: [m.node, ...others.map((y) => y.m.node)],
      message:
        `${m.node} lists ${listed.join(', ') || 'no real servers'} in ${vsName(x.vs)}${more} but not its own ${o.address}${o.inferred ? ' (inferred)' : ''}, ` +
        `which ${and(others.map((y) => y.m.node))} list${others.length === 1 ? 's' : ''}: while ${m.node} is master, ${o.address} gets no traffic; ` +
        'while another director is master, it gets its share',
      loc: at(x.vs),
      block: vsBlock(x.vs),
      hint:
        `add real_server ${o.address} to ${m.node}'s ${vsBlock(x.vs)}, or remove it from the others ` +
        (o.inferred ? `(${o.address} is taken as ${m.node}'s address because it is the only one the others list and ${m.node} does not)` : `(${o.address} is ${m.node}'s unicast_src_ip / mcast_src_ip)`),
      related: others.map((y) => {
        const rs = y.vs.realServers.find((r) => ip(r.address) === o.address);
        return { node: y.m.node, loc: at(rs ?? y.vs), what: `real_server ${o.address} here` };
      }),
    });
  }
}

function schedText(vs: VirtualServer): string {
  const flags = Object.entries(vs.schedFlags)
    .filter(([, v]) => v)
    .map(([k]) => snake(k).replace(/_/g, '-'))
    .sort();
  return flags.length ? `${vs.scheduler} (${flags.join(', ')})` : vs.scheduler;
}

function fwdText(f: { kind: string; tunType?: string; tunPort?: number; tunCsum?: string } | undefined): string {
  if (!f) return '(service default)';
  return [f.kind, f.tunType, f.tunPort, f.tunCsum].filter((x) => x !== undefined).join(' ');
}

function persistenceText(vs: VirtualServer): string {
  if (vs.persistenceTimeout === undefined) return 'none';
  return [`${vs.persistenceTimeout} s`, vs.persistenceGranularity && `granularity ${vs.persistenceGranularity}`, vs.persistenceEngine && `engine ${vs.persistenceEngine}`]
    .filter(Boolean)
    .join(', ');
}

/** A service's settings that decide where traffic goes: one finding per aspect that differs. */
function serviceMismatch(g: Svc[], own: Map<NodeModel, { address: string }>, out: Found[]): void {
  const vs0 = g[0]!.vs;
  const consequence = 'a failover changes which servers get traffic';
  const aspect = (what: string, text: (x: Svc) => string, field: string[], keyword: string) => {
    const vs = variants(g, text);
    if (vs.length < 2) return;
    out.push({
      code: 'cluster-service-mismatch',
      nodes: g.map((x) => x.m.node),
      message: `${vsName(vs0)}: ${what} differs between directors (${variantsText(vs)}): ${consequence}`,
      loc: at(vs0, ...field),
      block: vsBlock(vs0),
      hint: `use the same ${keyword} on every director`,
      related: g.slice(1).map((x) => ({ node: x.m.node, loc: at(x.vs, ...field), what: `${keyword} ${text(x)} here` })),
    });
  };
  aspect('the scheduler', (x) => schedText(x.vs), ['scheduler'], 'lb_algo');
  aspect('the forwarding method', (x) => fwdText(x.vs.forwarding), ['forwarding'], 'lb_kind');
  aspect('persistence', (x) => persistenceText(x.vs), ['persistenceTimeout', 'persistenceGranularity', 'persistenceEngine'], 'persistence_timeout');

  // Real servers: a director that only leaves out its own address is cluster-own-address-missing's.
  const keys = new Map(
    g.map((x) => {
      const k = new Set(x.vs.realServers.map(rsKey));
      if (missesOwn(g, x, own)) {
        const a = own.get(x.m)!.address;
        for (const y of g) for (const rs of y.vs.realServers) if (ip(rs.address) === a) k.add(rsKey(rs));
      }
      return [x, k] as const;
    }),
  );
  const union = new Map<string, RealServer>();
  for (const x of g) for (const rs of x.vs.realServers) if (!union.has(rsKey(rs))) union.set(rsKey(rs), rs);
  const diffs = g.flatMap((x) => {
    const k = keys.get(x)!;
    const lacks = [...union.keys()].filter((u) => !k.has(u) && g.some((y) => y !== x && keys.get(y)!.has(u)));
    return lacks.length ? [{ x, lacks: lacks.map((u) => rsName(union.get(u)!)) }] : [];
  });
  if (diffs.length) {
    const d0 = diffs[0]!;
    out.push({
      code: 'cluster-service-mismatch',
      nodes: g.map((x) => x.m.node),
      message:
        `${vsName(vs0)}: the real servers differ between directors (${diffs.map((d) => `${d.x.m.node} lacks ${d.lacks.join(', ')}`).join('; ')}): ` +
        `${consequence} (a server left out by the master gets no traffic while that director is master)`,
      loc: at(d0.x.vs),
      block: vsBlock(d0.x.vs),
      hint: 'list the same real servers on every director',
      related: g
        .filter((x) => x !== d0.x)
        .map((x) => ({ node: x.m.node, loc: at(x.vs), what: `${vsName(x.vs)} with ${x.vs.realServers.length} real server${x.vs.realServers.length === 1 ? '' : 's'} here` })),
    });
  }

  // Weights of the real servers that several directors list.
  const weightDiffs: { name: string; text: string; per: { x: Svc; rs: RealServer }[] }[] = [];
  for (const [k, rs0] of union) {
    const per = g.flatMap((x) => x.vs.realServers.filter((rs) => rsKey(rs) === k).slice(0, 1).map((rs) => ({ x, rs })));
    const vs = variants(per, (p) => String(p.rs.weight));
    if (vs.length > 1) weightDiffs.push({ name: rsName(rs0), text: vs.map((v) => `${v.items.map((p) => p.x.m.node).join(', ')}: ${v.text}`).join(' vs '), per });
  }
  if (weightDiffs.length) {
    const w0 = weightDiffs[0]!;
    out.push({
      code: 'cluster-service-mismatch',
      nodes: g.map((x) => x.m.node),
      message: `${vsName(vs0)}: real-server weights differ between directors (${weightDiffs.map((w) => `${w.name} ${w.text}`).join('; ')}): ${consequence} and in what shares`,
      loc: at(w0.per[0]!.rs, 'weight'),
      block: vsBlock(vs0),
      hint: 'give each real server the same weight on every director',
      related: w0.per.slice(1).map((p) => ({ node: p.x.m.node, loc: at(p.rs, 'weight'), what: `weight ${p.rs.weight} here` })),
    });
  }
}

function checkerText(cks: Checker[]): string {
  return cks.map((c) => c.type).join(' + ') || 'no checker';
}

/** Fields that differ between checker lists of the same types (snake_case, as written in keepalived.conf). */
function checkerFields(a: Checker[], b: Checker[]): string[] {
  const out = new Set<string>();
  a.forEach((ca, k) => {
    const cb = b[k] as unknown as Record<string, unknown>;
    const ra = ca as unknown as Record<string, unknown>;
    for (const f of new Set([...Object.keys(ra), ...Object.keys(cb)])) if (f !== 'src' && canonJson(ra[f]) !== canonJson(cb[f])) out.add(snake(f));
  });
  return [...out];
}

/** The same real server checked differently: one director sees it up, another down. */
function checkMismatch(g: Svc[], out: Found[]): void {
  const byRs = new Map<string, { x: Svc; rs: RealServer }[]>();
  for (const x of g)
    for (const rs of x.vs.realServers) {
      const l = byRs.get(rsKey(rs)) ?? [];
      if (!l.some((p) => p.x === x)) l.push({ x, rs });
      byRs.set(rsKey(rs), l);
    }
  const diffs: { per: { x: Svc; rs: RealServer }[]; detail: string }[] = [];
  for (const per of byRs.values()) {
    if (per.length < 2) continue;
    const vs = variants(per, (p) => canonJson(p.rs.checkers));
    if (vs.length < 2) continue;
    const types = variants(per, (p) => checkerText(p.rs.checkers));
    let detail: string;
    if (types.length > 1) detail = types.map((t) => `${t.items.map((p) => p.x.m.node).join(', ')}: ${t.text}`).join(' vs ');
    else {
      const a = vs[0]!.items[0]!.rs.checkers;
      const fields = new Set(vs.slice(1).flatMap((v) => checkerFields(a, v.items[0]!.rs.checkers)));
      detail = `${checkerText(a)} ${[...fields].join(', ')} differ${fields.size === 1 ? 's' : ''}: ${vs.map((v) => v.items.map((p) => p.x.m.node).join(', ')).join(' vs ')}`;
    }
    diffs.push({ per, detail });
  }
  if (diffs.length === 0) return;
  const vs0 = g[0]!.vs;
  // One finding per service: real servers with the same difference are named together.
  const grouped = variants(diffs, (d) => d.detail);
  const d0 = diffs[0]!;
  out.push({
    code: 'cluster-check-mismatch',
    nodes: [...new Set(diffs.flatMap((d) => d.per.map((p) => p.x.m.node)))],
    message:
      `${vsName(vs0)}: the health checks of ${grouped.map((v) => `${v.items.map((d) => rsName(d.per[0]!.rs)).join(', ')} (${v.text})`).join('; ')} ` +
      'differ between directors: a server can be up for one director and down for another, so a failover changes which servers get traffic',
    loc: at(d0.per[0]!.rs.checkers[0] ?? d0.per[0]!.rs),
    block: `${vsBlock(vs0)} > real_server ${d0.per[0]!.rs.address}${d0.per[0]!.rs.port === undefined ? '' : ` ${d0.per[0]!.rs.port}`}`,
    hint: 'use the same checker settings for each real server on every director',
    related: d0.per.slice(1).map((p) => ({ node: p.x.m.node, loc: at(p.rs.checkers[0] ?? p.rs), what: `${checkerText(p.rs.checkers)} of ${rsName(p.rs)} here` })),
  });
}
