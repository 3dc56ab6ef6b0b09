// NodeModel(s) → cluster file. Lossless first: a setting is written whenever it
// differs from what the loader would fill in by itself, computed with the same
// constructors, so loading the output gives back the same models. Then compact:
// items equal on several nodes are written once (with a `nodes:` selector when not
// on all), instances differing only in state/priority get master:/priorities:,
// services differing only in port become one `ports:` list, shared checks become
// templates, and `unicast: true` / `real_servers: nodes` are used where they fit.
import { Document, isPair, isScalar, visit } from 'yaml';
import { familyOf, newChecker, newRealServer, newVirtualServer, newVrrpInstance } from '../../model/construct.js';
import { defaultGlobals } from '../../model/defaults.js';
import { splitCommand } from '../../model/script.js';
import type {
  Checker, Forwarding, GlobalDefs, NodeModel, RealServer, Script, SyncGroup, TrackRef, VipAddress, VirtualServer,
  VirtualServerGroup, VrrpInstance, VrrpNotify,
} from '../../model/types.js';
import {
  camel, CHECK_INHERITED, CHECK_OPTIONAL, GLOBAL_PLAIN, HTTP_PLAIN, INSTANCE_PLAIN, NOTIFY_KEYS, REAL_SERVER_PLAIN,
  SCHED_FLAGS, SERVICE_PLAIN, SMTP_HOST_PLAIN, SMTP_PORT, SYNC_DAEMON_PLAIN, SYNC_GROUP_PLAIN, TRACK_FILE_DEFAULTS,
  TRACK_FILE_PLAIN, UDP_PLAIN, URL_PLAIN, VIP_PLAIN, VRRP_GLOBAL_PLAIN, VRRP_SCRIPT_DEFAULTS, VRRP_SCRIPT_PLAIN,
  VSG_ENTRY_PLAIN, YAML_FALL, YAML_RISE,
} from './fields.js';
import { formatVipLine } from './vip.js';

type Rep = Record<string, unknown>;

export interface ExportOptions {
  /** Cluster name (default "cluster"). */
  name?: string;
  /** Node addresses, when known (they enable `real_servers: nodes` and `unicast: true`). */
  addresses?: Record<string, string>;
}

export function exportClusterYaml(models: NodeModel[], opts: ExportOptions = {}): string {
  const x = new Exporter(models, opts);
  const doc = new Document(x.cluster());
  compactStyle(doc);
  const header = '# haldir cluster file, written by haldir from the node models\n'
    + '# yaml-language-server: $schema=https://haldir.dev/schema/haldir.schema.json\n';
  return header + doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

class Exporter {
  private readonly names: string[];
  private readonly addr: Map<string, string>;
  private readonly rise: number;
  private readonly fall: number;

  constructor(private readonly models: NodeModel[], private readonly opts: ExportOptions) {
    this.names = models.map((m) => m.node);
    this.addr = new Map();
    for (const m of models) {
      // A node's own address shows in its unicast source; an operator may also tell us.
      const a = opts.addresses?.[m.node] ?? m.vrrpInstances.find((v) => v.unicastSrcIp !== undefined)?.unicastSrcIp;
      if (a !== undefined) this.addr.set(m.node, a);
    }
    [this.rise, this.fall] = commonRiseFall(models);
  }

  cluster(): Rep {
    const out: Rep = { cluster: this.opts.name ?? 'cluster' };
    if (this.rise !== YAML_RISE || this.fall !== YAML_FALL) out.defaults = { rise: this.rise, fall: this.fall };
    const globals = this.models.map((m) => globalRep(m.global));
    const shared = globals.every((g) => same(g, globals[0]));
    out.nodes = this.models.map((m, i) => {
      const n: Rep = { name: m.node };
      const a = this.addr.get(m.node);
      if (a !== undefined) n.address = a;
      if (m.global.routerId !== m.node) n.router_id = m.global.routerId ?? null;
      if (!shared && Object.keys(globals[i]!).length) n.global = globals[i];
      return n;
    });
    if (shared && Object.keys(globals[0] ?? {}).length) out.global = globals[0];

    const section = <T>(get: (m: NodeModel) => T[], rep: (t: T, m: NodeModel) => Rep): Rep[] =>
      this.factor(this.models.map((m) => get(m).map((t) => rep(t, m))));
    const put = (k: string, items: Rep[]) => {
      if (items.length) out[k] = items;
    };
    put('vrrp_scripts', section((m) => m.vrrpScripts, (s) => ({
      name: s.name,
      script: scriptRep(s.script),
      ...diff(s, VRRP_SCRIPT_DEFAULTS, VRRP_SCRIPT_PLAIN),
    })));
    put('track_files', section((m) => m.trackFiles, (t) => {
      const r: Rep = { name: t.name, file: t.file, ...diff(t, TRACK_FILE_DEFAULTS, TRACK_FILE_PLAIN) };
      if (t.initFile) r.init_file = t.initFile.overwrite ? { ...t.initFile } : { value: t.initFile.value };
      return r;
    }));
    put('vrrp', this.instances());
    put('sync_groups', section((m) => m.syncGroups, syncGroupRep));
    put('virtual_server_groups', section((m) => m.virtualServerGroups, vsgRep));
    const services = this.factor(this.models.map((m) => mergePorts(m.virtualServers.map((vs) => this.serviceRep(vs)))));
    const templates = extractTemplates(services);
    if (Object.keys(templates).length) out.checks = templates;
    put('services', services);
    return out;
  }

  /**
   * Items per node → one list: at each position, nodes whose items are equal share
   * one item, selected with `nodes:` unless it is on every node. Each node sees
   * its own items in its own order.
   */
  private factor(lists: Rep[][]): Rep[] {
    const out: Rep[] = [];
    const len = Math.max(0, ...lists.map((l) => l.length));
    for (let i = 0; i < len; i++) {
      const groups = new Map<string, { nodes: string[]; item: Rep }>();
      lists.forEach((l, n) => {
        const item = l[i];
        if (item === undefined) return;
        const k = JSON.stringify(item);
        const g = groups.get(k) ?? { nodes: [], item };
        g.nodes.push(this.names[n]!);
        groups.set(k, g);
      });
      for (const g of groups.values()) out.push(this.select(g.item, g.nodes));
    }
    return out;
  }

  /** The item with `nodes:` (placed after its first key) unless it is on every node. */
  private select(item: Rep, nodes: string[]): Rep {
    if (nodes.length === this.names.length) return item;
    const [first, ...rest] = Object.entries(item);
    return Object.fromEntries([...(first ? [first] : []), ['nodes', nodes], ...rest]);
  }

  // ---- VRRP instances: per-node state, priority and unicast factored out ----

  private instances(): Rep[] {
    const out: Rep[] = [];
    const len = Math.max(0, ...this.models.map((m) => m.vrrpInstances.length));
    for (let i = 0; i < len; i++) {
      const groups = new Map<string, { base: Rep; members: [NodeModel, VrrpInstance][] }>();
      for (const m of this.models) {
        const inst = m.vrrpInstances[i];
        if (!inst) continue;
        const base = instanceBase(inst, m.global);
        const k = JSON.stringify(base);
        const g = groups.get(k) ?? { base, members: [] };
        g.members.push([m, inst]);
        groups.set(k, g);
      }
      for (const g of groups.values()) {
        const nodes = g.members.map(([m]) => m.node);
        if (this.unicastFits(g.members, nodes)) {
          out.push(this.select(this.perNode({ ...g.base, unicast: true }, g.members), nodes));
          continue;
        }
        // Explicit unicast settings: nodes that share them share an item.
        const sub = new Map<string, [NodeModel, VrrpInstance][]>();
        for (const mi of g.members) {
          const k = JSON.stringify(unicastRep(mi[1]));
          sub.set(k, [...(sub.get(k) ?? []), mi]);
        }
        for (const members of sub.values()) {
          const item = this.perNode({ ...g.base, ...unicastRep(members[0]![1]) }, members);
          out.push(this.select(item, members.map(([m]) => m.node)));
        }
      }
    }
    return out;
  }

  /** True when every member's unicast source is its own address and its peers are the others'. */
  private unicastFits(members: [NodeModel, VrrpInstance][], nodes: string[]): boolean {
    if (members.length < 2) return false;
    return members.every(([m, v]) => {
      const own = this.addr.get(m.node);
      const peers = this.names.filter((n) => n !== m.node && nodes.includes(n)).map((n) => this.addr.get(n));
      return own !== undefined && v.unicastSrcIp === own && !peers.includes(undefined)
        && same(v.unicastPeers.map((p) => stripped(p)), peers.map((a) => ({ address: a })));
    });
  }

  /** Adds state and priority, as master:/state:/states: and priority:/priorities:. */
  private perNode(base: Rep, members: [NodeModel, VrrpInstance][]): Rep {
    const out: Rep = { ...base };
    const defaultPrio = (n: string) => Math.max(1, 100 - this.names.indexOf(n));
    const prios = members.map(([m, v]) => [m.node, v.priority] as const);
    if (!prios.every(([n, p]) => p === defaultPrio(n))) {
      if (prios.every(([, p]) => p === prios[0]![1])) out.priority = prios[0]![1];
      else out.priorities = Object.fromEntries(prios.filter(([n, p]) => p !== defaultPrio(n)));
    }
    const masters = members.filter(([, v]) => v.state === 'MASTER').map(([m]) => m.node);
    if (masters.length === 1 && members.length > 1) out.master = masters[0];
    else if (masters.length === members.length) out.state = 'MASTER';
    else if (masters.length) out.states = Object.fromEntries(masters.map((n) => [n, 'MASTER']));
    return out;
  }

  // ---- virtual services ----

  private serviceRep(vs: VirtualServer): Rep {
    const a = vs.address;
    const out: Rep = {};
    if (a.kind === 'ip') {
      Object.assign(out, { vip: a.address, port: a.port });
      if (a.family !== familyOf(a.address)) out.family = a.family;
    } else if (a.kind === 'fwmark') {
      out.fwmark = a.fwmark;
      if (a.family !== undefined) out.family = a.family;
    } else out.group = a.group;
    const d = newVirtualServer(a);
    const plain = diff(vs, d, SERVICE_PLAIN);
    if (plain.protocol !== undefined) plain.protocol = vs.protocol.toLowerCase();
    Object.assign(out, plain);
    const flags = diff(vs.schedFlags, {}, SCHED_FLAGS);
    if (Object.keys(flags).length) out.sched_flags = flags;
    Object.assign(out, forwardingRep(vs.forwarding, d.forwarding.kind));
    if (vs.quorumUp) out.quorum_up = scriptRep(vs.quorumUp);
    if (vs.quorumDown) out.quorum_down = scriptRep(vs.quorumDown);
    if (vs.sorryServer) {
      const s = vs.sorryServer;
      out.sorry_server = {
        address: s.address,
        ...(s.port !== undefined ? { port: s.port } : {}),
        ...(s.forwarding ? forwardingRep(s.forwarding) : {}),
        ...(s.inhibit ? { inhibit: true } : {}),
      };
    }
    const port = a.kind === 'ip' ? a.port : undefined;
    const servers = vs.realServers.map((rs) => realServerRep(rs, port));
    const checks = vs.realServers.map((rs) => rs.checkers.map((c) => this.checkRep(c, vs.delayLoop)));
    const shared = checks.length > 0 && checks.every((c) => same(c, checks[0]));
    const asNodes = servers.length === this.names.length && this.names.every((n, i) => same(servers[i], { address: this.addr.get(n) }));
    if (asNodes && shared) out.real_servers = 'nodes';
    else if (servers.length) {
      out.real_servers = servers.map((r, i) => (shared || !checks[i]!.length ? r : { ...r, checks: checks[i] }));
    }
    if (shared && checks[0]!.length) out.checks = checks[0];
    return out;
  }

  private checkRep(c: Checker, vsDelayLoop: number): Rep {
    const out: Rep = { type: c.type };
    if (c.delayLoop !== vsDelayLoop) out.delay_loop = c.delayLoop;
    const d = newChecker(c.type, { delayLoop: c.delayLoop, rise: this.rise, fall: this.fall });
    Object.assign(out, diff(c, d, CHECK_INHERITED), diff(c, {}, CHECK_OPTIONAL));
    switch (c.type) {
      case 'HTTP_GET':
      case 'SSL_GET':
        Object.assign(out, diff(c, d, HTTP_PLAIN));
        if (c.urls.length) {
          out.url = c.urls.map((u) => {
            const r: Rep = { path: u.path };
            if (u.statusCodes.length) r.status = u.statusCodes.map((s) => (s.from === s.to ? s.from : `${s.from}-${s.to}`));
            return { ...r, ...diff(u, { regexNoMatch: false }, URL_PLAIN) };
          });
        }
        break;
      case 'MISC_CHECK':
        out.misc_path = scriptRep(c.script);
        if (c.timeout !== undefined) out.misc_timeout = c.timeout;
        if (c.dynamic) out.misc_dynamic = true;
        break;
      case 'DNS_CHECK':
        if (c.queryType !== 'SOA') out.query_type = c.queryType;
        if (c.name !== '.') out.name = c.name;
        break;
      case 'UDP_CHECK':
        Object.assign(out, diff(c, {}, UDP_PLAIN));
        break;
      case 'SMTP_CHECK':
        if (c.heloName !== 'localhost') out.helo_name = c.heloName;
        if (c.hosts.length) out.hosts = c.hosts.map((h) => diff(h, {}, SMTP_HOST_PLAIN));
        break;
      case 'FILE_CHECK':
        out.track_file = c.trackFile;
        if (c.weight !== undefined) out.weight = c.weight;
        if (c.weightReverse) out.weight_reverse = true;
        break;
      default:
        break;
    }
    return out;
  }
}

// ---- pieces shared by every node ----

function globalRep(g: GlobalDefs): Rep {
  const d = defaultGlobals();
  const out: Rep = diff(g, d, GLOBAL_PLAIN);
  if (g.smtpServer) out.smtp_server = g.smtpServer.port === SMTP_PORT ? { host: g.smtpServer.host } : { ...g.smtpServer };
  if (g.scriptUser) out.script_user = { ...g.scriptUser };
  for (const k of ['startup_script', 'shutdown_script'] as const) {
    const s = g[camel(k) as 'startupScript'];
    if (s) out[k] = s.timeout === undefined ? scriptRep(s) : { ...scriptObject(s), timeout: s.timeout };
  }
  for (const k of ['notify_fifo', 'vrrp_notify_fifo', 'lvs_notify_fifo'] as const) {
    const f = g[camel(k) as 'notifyFifo'];
    if (f) out[k] = { path: f.path, ...(f.script ? { script: scriptRep(f.script) } : {}) };
  }
  const vrrp = diff(g.vrrp, d.vrrp, VRRP_GLOBAL_PLAIN);
  if (Object.keys(vrrp).length) out.vrrp = vrrp;
  const lvs: Rep = {};
  if (g.lvs.flush) lvs.flush = true;
  if (g.lvs.flushOnStop !== undefined) lvs.flush_on_stop = g.lvs.flushOnStop;
  if (g.lvs.timeouts) lvs.timeouts = stripped(g.lvs.timeouts);
  if (g.lvs.syncDaemon) lvs.sync_daemon = diff(g.lvs.syncDaemon, {}, SYNC_DAEMON_PLAIN);
  if (Object.keys(lvs).length) out.lvs = lvs;
  return out;
}

/** An instance without what may differ per node (state, priority, unicast). */
function instanceBase(v: VrrpInstance, g: GlobalDefs): Rep {
  const out: Rep = { name: v.name, interface: v.interface, vrid: v.vrid };
  Object.assign(out, diff(v, newVrrpInstance(v.name, v.interface, v.vrid, g), INSTANCE_PLAIN));
  if (v.family !== (v.vips[0]?.family ?? 4)) out.family = v.family;
  if (v.vips.length) out.vips = v.vips.map(vipRep);
  if (v.excludedVips.length) out.excluded_vips = v.excludedVips.map(vipRep);
  Object.assign(out, tracksRep(v));
  if (Object.keys(v.notify).length) out.notify = notifyRep(v.notify);
  return out;
}

function unicastRep(v: VrrpInstance): Rep {
  const out: Rep = {};
  if (v.unicastSrcIp !== undefined) out.unicast_src_ip = v.unicastSrcIp;
  if (v.unicastPeers.length) {
    out.unicast_peers = v.unicastPeers.map((p) =>
      p.minTtl === undefined && p.maxTtl === undefined ? p.address : { address: p.address, ...diff(p, {}, ['min_ttl', 'max_ttl']) });
  }
  return out;
}

function vipRep(v: VipAddress): unknown {
  const line = formatVipLine(v);
  if (line !== undefined) return line;
  const out: Rep = { address: v.address, prefix: v.prefix };
  if (v.family !== familyOf(v.address)) out.family = v.family;
  return { ...out, ...diff(v, {}, VIP_PLAIN) };
}

function tracksRep(v: { trackInterfaces: TrackRef[]; trackScripts: TrackRef[]; trackFiles: TrackRef[] }): Rep {
  const out: Rep = {};
  for (const k of ['track_interfaces', 'track_scripts', 'track_files'] as const) {
    const refs = v[camel(k) as 'trackScripts'];
    if (!refs.length) continue;
    out[k] = refs.map((r) => {
      const extra = diff(r, {}, ['weight', 'weight_reverse']);
      return Object.keys(extra).length ? { name: r.name, ...extra } : r.name;
    });
  }
  return out;
}

function notifyRep(n: VrrpNotify): Rep {
  const out: Rep = {};
  for (const k of NOTIFY_KEYS) {
    const s = n[camel(k) as keyof VrrpNotify];
    if (s) out[k] = scriptRep(s);
  }
  return out;
}

function syncGroupRep(s: SyncGroup): Rep {
  const d = { globalTracking: false, trackingWeight: false, notifyPriorityChanges: false };
  const out: Rep = { name: s.name, members: [...s.members], ...diff(s, d, SYNC_GROUP_PLAIN), ...tracksRep(s) };
  if (Object.keys(s.notify).length) out.notify = notifyRep(s.notify);
  return out;
}

function vsgRep(g: VirtualServerGroup): Rep {
  return {
    name: g.name,
    entries: g.entries.map((e) => {
      const inferred = e.fwmark !== undefined ? 'fwmark' : e.rangeEnd !== undefined ? 'range' : 'ip';
      return { ...(e.kind !== inferred ? { kind: e.kind } : {}), ...diff(e, {}, VSG_ENTRY_PLAIN) };
    }),
  };
}

function realServerRep(rs: RealServer, servicePort: number | undefined): Rep {
  const out: Rep = { address: rs.address };
  if (rs.port !== servicePort) out.port = rs.port ?? null;
  Object.assign(out, diff(rs, newRealServer(rs.address, rs.port), REAL_SERVER_PLAIN));
  if (rs.forwarding) Object.assign(out, forwardingRep(rs.forwarding));
  if (rs.notifyUp) out.notify_up = scriptRep(rs.notifyUp);
  if (rs.notifyDown) out.notify_down = scriptRep(rs.notifyDown);
  return out;
}

/** mode (unless it is `omitKind`) and the tunnel settings. */
function forwardingRep(f: Forwarding, omitKind?: string): Rep {
  const out: Rep = f.kind !== omitKind ? { mode: f.kind.toLowerCase() } : {};
  return { ...out, ...diff(f, {}, ['tun_type', 'tun_port', 'tun_csum']) };
}

function scriptObject(s: Script): Rep {
  const out: Rep = { cmd: s.cmd };
  if (!same(s.argv, splitCommand(s.cmd))) out.argv = [...s.argv];
  if (s.user !== undefined) out.user = s.user;
  if (s.group !== undefined) out.group = s.group;
  return out;
}

/** The command line alone when that says everything. */
function scriptRep(s: Script): unknown {
  const o = scriptObject(s);
  return Object.keys(o).length === 1 ? s.cmd : o;
}

/** Consecutive services equal but for the port become one item with `ports:`. */
function mergePorts(items: Rep[]): Rep[] {
  const out: Rep[] = [];
  const key = (r: Rep) => JSON.stringify({ ...r, port: undefined, ports: undefined });
  for (const r of items) {
    const last = out[out.length - 1];
    if (last && r.port !== undefined && (last.port !== undefined || last.ports !== undefined) && key(last) === key(r)) {
      const ports = (last.ports as number[] | undefined) ?? [last.port as number];
      const merged = Object.entries(last).map(([k, v]) => (k === 'port' ? ['ports', [...ports, r.port]] : k === 'ports' ? [k, [...ports, r.port]] : [k, v]));
      out[out.length - 1] = Object.fromEntries(merged) as Rep;
    } else out.push(r);
  }
  return out;
}

/** Checks written more than once become named templates; their uses become the name. */
function extractTemplates(services: Rep[]): Rep {
  const lists: unknown[][] = [];
  for (const s of services) {
    if (Array.isArray(s.checks)) lists.push(s.checks);
    if (Array.isArray(s.real_servers)) for (const r of s.real_servers as Rep[]) if (Array.isArray(r.checks)) lists.push(r.checks);
  }
  const count = new Map<string, number>();
  for (const l of lists) for (const c of l) count.set(JSON.stringify(c), (count.get(JSON.stringify(c)) ?? 0) + 1);
  const names = new Map<string, string>();
  const templates: Rep = {};
  for (const [k, n] of count) {
    if (n < 2) continue;
    const c = JSON.parse(k) as Rep;
    const base = String(c.type).replace(/_(CHECK|GET)$/, '').toLowerCase();
    let name = base;
    for (let i = 2; name in templates; i++) name = `${base}_${i}`;
    templates[name] = c;
    names.set(k, name);
  }
  for (const l of lists) l.forEach((c, i) => (l[i] = names.get(JSON.stringify(c)) ?? c));
  return templates;
}

/** The (rise, fall) most checks use, so that few checks need to spell theirs out. */
function commonRiseFall(models: NodeModel[]): [number, number] {
  const count = new Map<string, number>();
  for (const m of models) {
    for (const vs of m.virtualServers) {
      for (const rs of vs.realServers) for (const c of rs.checkers) count.set(`${c.rise},${c.fall}`, (count.get(`${c.rise},${c.fall}`) ?? 0) + 1);
    }
  }
  let best = `${YAML_RISE},${YAML_FALL}`;
  for (const [k, n] of count) if (n > (count.get(best) ?? 0)) best = k;
  const [r, f] = best.split(',').map(Number);
  return [r!, f!];
}

// ---- generic helpers ----

/** The listed keys (snake_case) whose model value differs from the default. */
function diff(obj: object, dflt: object, keys: readonly string[]): Rep {
  const o = obj as Rep;
  const d = dflt as Rep;
  const out: Rep = {};
  for (const k of keys) {
    const v = o[camel(k)];
    if (v !== undefined && !same(v, d[camel(k)])) out[k] = stripped(v);
  }
  return out;
}

function stripped<T>(v: T): T {
  if (v === undefined) return v;
  return JSON.parse(JSON.stringify(v, (k, val: unknown) => (k === 'src' ? undefined : val))) as T;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(stripped(a)) === JSON.stringify(stripped(b));
}

/** Short lists and mappings on one line (`{ name: lb1, address: … }`, `[80, 443]`); big ones as blocks. */
function compactStyle(doc: Document): void {
  visit(doc, {
    Collection(_, node, path) {
      // path: [doc, root map, pair, section, …]. Section items stay blocks so that
      // each instance or service reads as a paragraph; node entries are one-liners.
      if (path.length < 4) return;
      const section = path[2];
      if (path.length === 4 && !(isPair(section) && isScalar(section.key) && section.key.value === 'nodes')) return;
      if (JSON.stringify(node.toJSON()).length <= 80) node.flow = true;
    },
  });
}
