// Cluster file → one NodeModel per node. Everything is built through the model
// constructors (construct.ts) so that a setting left out means what it means in
// keepalived.conf; the convenience layer (node priorities, master:, ports lists,
// check templates, `real_servers: nodes`, `unicast: true`) is resolved here, and
// every model object gets a `src` map pointing into the YAML.
import { defaultGlobals } from '../../model/defaults.js';
import { familyOf, newChecker, newNodeModel, newRealServer, newSyncGroup, newVip, newVirtualServer, newVrrpInstance } from '../../model/construct.js';
import { makeScript } from '../../model/script.js';
import type {
  Checker, Forwarding, GlobalDefs, HttpUrl, Loc, NodeModel, RealServer, Script, SrcMap, StatusRange, SyncGroup,
  TrackFile, TrackRef, VipAddress, VirtualServer, VirtualServerGroup, VrrpInstance, VrrpNotify, VrrpScript, VsAddress,
} from '../../model/types.js';
import { didYouMean, type Diagnostics } from '../diagnostics.js';
import {
  camel, CHECK_INHERITED, CHECK_OPTIONAL, DNS_PLAIN, FILE_PLAIN, GLOBAL_PLAIN, HTTP_PLAIN, INSTANCE_PLAIN, NOTIFY_KEYS,
  REAL_SERVER_PLAIN, SCHED_FLAGS, SERVICE_PLAIN, SMTP_HOST_PLAIN, SMTP_PORT, SYNC_DAEMON_PLAIN, SYNC_GROUP_PLAIN,
  TRACK_FILE_DEFAULTS, TRACK_FILE_PLAIN, UDP_PLAIN, URL_PLAIN, VIP_PLAIN, VRRP_GLOBAL_PLAIN, VRRP_SCRIPT_DEFAULTS,
  VRRP_SCRIPT_PLAIN, VSG_ENTRY_PLAIN, YAML_FALL, YAML_RISE,
} from './fields.js';
import type { Path, Positions } from './positions.js';
import type {
  CheckIn, CheckRefIn, ClusterFile, GlobalIn, NodeIn, NotifyIn, RealServerIn, ScriptIn, ScriptWithTimeoutIn, ServiceIn,
  TrackRefIn, VipIn, VrrpInstanceIn,
} from './schema.js';
import { parseVipLine } from './vip.js';

type Rec = Record<string, unknown>;

/** Node names in file order and one model per node (empty when the file has errors). */
export interface Expanded {
  nodes: string[];
  models: Map<string, NodeModel>;
}

export function expandCluster(c: ClusterFile, pos: Positions, diags: Diagnostics): Expanded {
  const x = new Expander(c, pos, diags);
  x.checkReferences();
  const models = new Map<string, NodeModel>();
  c.nodes.forEach((n, i) => {
    if (!models.has(n.name)) models.set(n.name, x.node(n, i));
  });
  return { nodes: [...models.keys()], models };
}

class Expander {
  private readonly names: string[];
  private readonly rise: number;
  private readonly fall: number;

  constructor(
    private readonly c: ClusterFile,
    private readonly pos: Positions,
    private readonly diags: Diagnostics,
  ) {
    this.names = c.nodes.map((n) => n.name);
    this.rise = c.defaults?.rise ?? YAML_RISE;
    this.fall = c.defaults?.fall ?? YAML_FALL;
  }

  // ---- references the schema cannot check: node names, templates, ports ----

  checkReferences(): void {
    const seen = new Map<string, number>();
    this.c.nodes.forEach((n, i) => {
      const first = seen.get(n.name);
      if (first === undefined) seen.set(n.name, i);
      else {
        this.diags.error('duplicate-node', `node "${n.name}" is listed twice`, this.pos.value(['nodes', i, 'name']), {
          related: [{ loc: this.pos.value(['nodes', first, 'name']), message: 'first listed here' }],
          hint: 'give every node a unique name',
        });
      }
    });
    const sections = ['vrrp_scripts', 'track_files', 'vrrp', 'sync_groups', 'virtual_server_groups', 'services'] as const;
    for (const s of sections) {
      (this.c[s] ?? []).forEach((item, i) => {
        (item.nodes ?? []).forEach((n, j) => this.nodeRef(n, [s, i, 'nodes', j], false));
      });
    }
    (this.c.vrrp ?? []).forEach((v, i) => {
      if (v.master !== undefined) this.nodeRef(v.master, ['vrrp', i, 'master'], false);
      for (const k of Object.keys(v.priorities ?? {})) this.nodeRef(k, ['vrrp', i, 'priorities', k], true);
      for (const k of Object.keys(v.states ?? {})) this.nodeRef(k, ['vrrp', i, 'states', k], true);
    });
    (this.c.services ?? []).forEach((s, i) => this.checkService(s, i));
  }

  private nodeRef(name: string, path: Path, isKey: boolean): void {
    if (this.names.includes(name)) return;
    const s = didYouMean(name, this.names);
    this.diags.error('unknown-node', `"${name}" is not a node of this cluster`, isKey ? this.pos.key(path) : this.pos.value(path), {
      hint: s ? `did you mean "${s}"?` : `nodes: ${this.names.join(', ')}`,
    });
  }

  private checkService(s: ServiceIn, i: number): void {
    const at: Path = ['services', i];
    const kinds = (['vip', 'fwmark', 'group'] as const).filter((k) => s[k] !== undefined);
    if (kinds.length !== 1) {
      this.diags.error('service-address', kinds.length === 0
        ? 'service has no address'
        : `service has both ${kinds.join(' and ')}`, this.pos.value(at), { hint: 'give exactly one of vip (with port or ports), fwmark, group' });
    }
    if (s.port !== undefined && s.ports !== undefined) {
      this.diags.error('service-port', 'service has both port and ports', this.pos.key([...at, 'ports']), { hint: 'keep one of them' });
    }
    if (s.vip !== undefined && s.port === undefined && s.ports === undefined) {
      this.diags.error('missing-port', `service ${s.vip} has neither port nor ports`, this.pos.key([...at, 'vip']), {
        hint: 'add port: N or ports: [N, …]',
      });
    }
    if (s.vip === undefined && (s.port !== undefined || s.ports !== undefined)) {
      this.diags.error('service-port', 'port/ports only go with vip', this.pos.key([...at, s.port !== undefined ? 'port' : 'ports']), {
        hint: 'fwmark and group services take no port',
      });
    }
    const refs: [CheckRefIn, Path][] = (s.checks ?? []).map((r, j) => [r, [...at, 'checks', j]]);
    if (Array.isArray(s.real_servers)) {
      s.real_servers.forEach((rs, k) => (rs.checks ?? []).forEach((r, j) => refs.push([r, [...at, 'real_servers', k, 'checks', j]])));
    }
    const templates = Object.keys(this.c.checks ?? {});
    for (const [r, p] of refs) {
      if (typeof r !== 'string' || templates.includes(r)) continue;
      const sug = didYouMean(r, templates);
      this.diags.error('unknown-check', `no check template named "${r}"`, this.pos.value(p), {
        hint: sug ? `did you mean "${sug}"?` : templates.length ? `templates: ${templates.join(', ')}` : 'define it under checks: or write the check here',
      });
    }
  }

  // ---- one node ----

  node(n: NodeIn, idx: number): NodeModel {
    const on = <T extends { nodes?: string[] | undefined }>(item: T) => item.nodes === undefined || item.nodes.includes(n.name);
    const indexed = <T>(xs: T[] | undefined) => (xs ?? []).map((item, i) => [item, i] as const);

    const g = this.global(n, idx);
    const m = newNodeModel(n.name, g);
    for (const [s, i] of indexed(this.c.vrrp_scripts)) if (on(s)) m.vrrpScripts.push(this.vrrpScript(s, ['vrrp_scripts', i]));
    for (const [t, i] of indexed(this.c.track_files)) if (on(t)) m.trackFiles.push(this.trackFile(t, ['track_files', i]));
    for (const [v, i] of indexed(this.c.vrrp)) if (on(v)) m.vrrpInstances.push(this.instance(v, ['vrrp', i], n, idx, g));
    for (const [s, i] of indexed(this.c.sync_groups)) if (on(s)) m.syncGroups.push(this.syncGroup(s, ['sync_groups', i]));
    for (const [s, i] of indexed(this.c.virtual_server_groups)) {
      if (!on(s)) continue;
      const p: Path = ['virtual_server_groups', i];
      const vsg: VirtualServerGroup = { name: s.name, entries: [], src: this.src(p, s, ['name']) };
      s.entries.forEach((e, j) => {
        const ep: Path = [...p, 'entries', j];
        const kind = e.kind ?? (e.fwmark !== undefined ? 'fwmark' : e.range_end !== undefined ? 'range' : 'ip');
        const entry = { kind, src: this.src(ep, e, e.kind !== undefined ? ['kind'] : []) };
        this.plain(entry, e, ep, VSG_ENTRY_PLAIN);
        vsg.entries.push(entry);
      });
      m.virtualServerGroups.push(vsg);
    }
    for (const [s, i] of indexed(this.c.services)) if (on(s)) m.virtualServers.push(...this.services(s, ['services', i]));
    return m;
  }

  private global(n: NodeIn, idx: number): GlobalDefs {
    const g = defaultGlobals();
    g.src = { '': this.pos.value(this.c.global ? ['global'] : ['nodes', idx]) };
    if (this.c.global) this.applyGlobal(g, this.c.global, ['global']);
    if (n.global) this.applyGlobal(g, n.global, ['nodes', idx, 'global']);
    if (n.router_id === undefined) g.routerId = n.name;
    else if (n.router_id !== null) g.routerId = n.router_id;
    g.src.routerId = this.pos.key(['nodes', idx, n.router_id === undefined ? 'name' : 'router_id']);
    return g;
  }

  private applyGlobal(g: GlobalDefs, raw: GlobalIn, p: Path): void {
    const src = g.src!;
    this.plain(g, raw, p, GLOBAL_PLAIN);
    if (raw.smtp_server) {
      g.smtpServer = { host: raw.smtp_server.host, port: raw.smtp_server.port ?? SMTP_PORT };
      src.smtpServer = this.pos.key([...p, 'smtp_server']);
    }
    if (raw.script_user) {
      g.scriptUser = { user: raw.script_user.user };
      if (raw.script_user.group !== undefined) g.scriptUser.group = raw.script_user.group;
      src.scriptUser = this.pos.key([...p, 'script_user']);
    }
    for (const k of ['startup_script', 'shutdown_script'] as const) {
      const s = raw[k];
      if (s === undefined) continue;
      g[camel(k) as 'startupScript'] = scriptWithTimeout(s);
      src[camel(k)] = this.pos.key([...p, k]);
    }
    for (const k of ['notify_fifo', 'vrrp_notify_fifo', 'lvs_notify_fifo'] as const) {
      const f = raw[k];
      if (f === undefined) continue;
      g[camel(k) as 'notifyFifo'] = { path: f.path, ...(f.script !== undefined ? { script: script(f.script) } : {}) };
      src[camel(k)] = this.pos.key([...p, k]);
    }
    if (raw.vrrp) {
      const sub: SrcMap = {};
      this.plain(g.vrrp, raw.vrrp, [...p, 'vrrp'], VRRP_GLOBAL_PLAIN, sub);
      for (const [k, v] of Object.entries(sub)) src[`vrrp.${k}`] = v;
    }
    if (raw.lvs) {
      const l = raw.lvs;
      const lp: Path = [...p, 'lvs'];
      if (l.flush !== undefined) g.lvs.flush = l.flush;
      if (l.flush_on_stop !== undefined) g.lvs.flushOnStop = l.flush_on_stop;
      if (l.timeouts) g.lvs.timeouts = { ...g.lvs.timeouts, ...defined(l.timeouts) };
      if (l.sync_daemon) {
        const sp: Path = [...lp, 'sync_daemon'];
        const d = { interface: l.sync_daemon.interface, src: this.src(sp, l.sync_daemon, []) };
        this.plain(d, l.sync_daemon, sp, SYNC_DAEMON_PLAIN);
        g.lvs.syncDaemon = d;
      }
      for (const k of ['flush', 'flush_on_stop', 'timeouts', 'sync_daemon'] as const) {
        if (l[k] !== undefined) src[`lvs.${camel(k)}`] = this.pos.key([...lp, k]);
      }
    }
  }

  private vrrpScript(s: NonNullable<ClusterFile['vrrp_scripts']>[number], p: Path): VrrpScript {
    const v: VrrpScript = { name: s.name, script: script(s.script), ...VRRP_SCRIPT_DEFAULTS, src: this.src(p, s, ['name', 'script']) };
    this.plain(v, s, p, VRRP_SCRIPT_PLAIN);
    return v;
  }

  private trackFile(t: NonNullable<ClusterFile['track_files']>[number], p: Path): TrackFile {
    const f: TrackFile = { name: t.name, file: t.file, ...TRACK_FILE_DEFAULTS, src: this.src(p, t, ['name', 'file']) };
    this.plain(f, t, p, TRACK_FILE_PLAIN);
    if (t.init_file) {
      f.initFile = { value: t.init_file.value, overwrite: t.init_file.overwrite ?? false };
      f.src!.initFile = this.pos.key([...p, 'init_file']);
    }
    return f;
  }

  private instance(v: VrrpInstanceIn, p: Path, n: NodeIn, idx: number, g: GlobalDefs): VrrpInstance {
    const iface = v.interface ?? n.interface;
    if (iface === undefined) {
      this.diags.error('missing-interface', `vrrp instance ${v.name} has no interface on node ${n.name}`, this.pos.value(p), {
        hint: `set interface: on the instance, or on node ${n.name}`,
      });
    }
    const inst = newVrrpInstance(v.name, iface ?? '', v.vrid, g);
    const src = this.src(p, v, ['name', 'vrid']);
    inst.src = src;
    src.interface = this.pos.key(v.interface !== undefined ? [...p, 'interface'] : ['nodes', idx, 'interface']);

    // Per-node values: the node's own entry wins over the instance-wide one.
    const prio = v.priorities?.[n.name];
    if (prio !== undefined) [inst.priority, src.priority] = [prio, this.pos.key([...p, 'priorities', n.name])];
    else if (v.priority !== undefined) [inst.priority, src.priority] = [v.priority, this.pos.key([...p, 'priority'])];
    else if (n.priority !== undefined) [inst.priority, src.priority] = [n.priority, this.pos.key(['nodes', idx, 'priority'])];
    else [inst.priority, src.priority] = [Math.max(1, 100 - idx), this.pos.value(['nodes', idx])];
    const state = v.states?.[n.name];
    if (state !== undefined) [inst.state, src.state] = [state, this.pos.key([...p, 'states', n.name])];
    else if (v.master !== undefined) [inst.state, src.state] = [v.master === n.name ? 'MASTER' : 'BACKUP', this.pos.key([...p, 'master'])];
    else if (v.state !== undefined) [inst.state, src.state] = [v.state, this.pos.key([...p, 'state'])];

    this.plain(inst, v, p, INSTANCE_PLAIN);
    inst.vips = (v.vips ?? []).map((x, i) => this.vip(x, [...p, 'vips', i]));
    inst.excludedVips = (v.excluded_vips ?? []).map((x, i) => this.vip(x, [...p, 'excluded_vips', i]));
    inst.family = v.family ?? inst.vips[0]?.family ?? 4;
    if (v.family !== undefined) src.family = this.pos.key([...p, 'family']);

    if (v.unicast) this.unicast(inst, v, p, n);
    if (v.unicast_src_ip !== undefined) [inst.unicastSrcIp, src.unicastSrcIp] = [v.unicast_src_ip, this.pos.key([...p, 'unicast_src_ip'])];
    if (v.unicast_peers !== undefined) {
      inst.unicastPeers = v.unicast_peers.map((u, i) => {
        const up: Path = [...p, 'unicast_peers', i];
        if (typeof u === 'string') return { address: u, src: { '': this.pos.value(up) } };
        const peer = { address: u.address, src: this.src(up, u, ['address']) };
        this.plain(peer, u, up, ['min_ttl', 'max_ttl']);
        return peer;
      });
      src.unicastPeers = this.pos.key([...p, 'unicast_peers']);
    }
    for (const k of ['track_interfaces', 'track_scripts', 'track_files'] as const) {
      if (v[k] === undefined) continue;
      inst[camel(k) as 'trackScripts'] = this.trackRefs(v[k], [...p, k]);
      src[camel(k)] = this.pos.key([...p, k]);
    }
    if (v.notify) [inst.notify, src.notify] = [notifyOf(v.notify), this.pos.key([...p, 'notify'])];
    return inst;
  }

  /** `unicast: true`: peers are the other nodes of this instance, the source is the node's own address. */
  private unicast(inst: VrrpInstance, v: VrrpInstanceIn, p: Path, n: NodeIn): void {
    const at = this.pos.key([...p, 'unicast']);
    const addressOf = (node: NodeIn): string | undefined => {
      if (node.address === undefined) {
        this.diags.error('missing-address', `unicast: true needs the address of node ${node.name}`, at, {
          hint: `add address: to node ${node.name}, or list unicast_peers explicitly`,
        });
      }
      return node.address;
    };
    const src = n.unicast_src_ip ?? addressOf(n);
    if (src !== undefined) [inst.unicastSrcIp, inst.src!.unicastSrcIp] = [src, at];
    for (const other of this.c.nodes) {
      if (other.name === n.name || (v.nodes !== undefined && !v.nodes.includes(other.name))) continue;
      const a = addressOf(other);
      if (a !== undefined) inst.unicastPeers.push({ address: a, src: { '': at } });
    }
    inst.src!.unicastPeers = at;
  }

  private vip(x: VipIn, p: Path): VipAddress {
    if (typeof x === 'string') {
      const v = parseVipLine(x);
      if (typeof v === 'string') {
        this.diags.error('invalid-vip', `VIP "${x}": ${v}`, this.pos.value(p), {
          hint: 'write ADDR[/PREFIX] [dev DEV] [label LABEL] [scope SCOPE] [brd ADDR] …, or an object {address, prefix, dev, …}',
        });
        return newVip('0.0.0.0');
      }
      v.src = { '': this.pos.value(p) };
      return v;
    }
    const v = newVip(x.address);
    v.src = this.src(p, x, ['address']);
    if (x.prefix !== undefined) [v.prefix, v.src.prefix] = [x.prefix, this.pos.key([...p, 'prefix'])];
    if (x.family !== undefined) [v.family, v.src.family] = [x.family, this.pos.key([...p, 'family'])];
    this.plain(v, x, p, VIP_PLAIN);
    return v;
  }

  private trackRefs(refs: TrackRefIn[], p: Path): TrackRef[] {
    return refs.map((r, i) => {
      const rp: Path = [...p, i];
      if (typeof r === 'string') return { name: r, src: { '': this.pos.value(rp) } };
      const t: TrackRef = { name: r.name, src: this.src(rp, r, ['name']) };
      this.plain(t, r, rp, ['weight', 'weight_reverse']);
      return t;
    });
  }

  private syncGroup(s: NonNullable<ClusterFile['sync_groups']>[number], p: Path): SyncGroup {
    const g: SyncGroup = { ...newSyncGroup(s.name, [...s.members]), src: this.src(p, s, ['name', 'members']) };
    this.plain(g, s, p, SYNC_GROUP_PLAIN);
    for (const k of ['track_interfaces', 'track_scripts', 'track_files'] as const) {
      if (s[k] === undefined) continue;
      g[camel(k) as 'trackScripts'] = this.trackRefs(s[k], [...p, k]);
      g.src![camel(k)] = this.pos.key([...p, k]);
    }
    if (s.notify) [g.notify, g.src!.notify] = [notifyOf(s.notify), this.pos.key([...p, 'notify'])];
    return g;
  }

  // ---- virtual services ----

  private services(s: ServiceIn, p: Path): VirtualServer[] {
    const ports: (number | undefined)[] = s.ports ?? [s.port];
    return ports.map((port, i) => this.service(s, p, port, s.ports !== undefined ? [...p, 'ports', i] : [...p, 'port']));
  }

  private service(s: ServiceIn, p: Path, port: number | undefined, portPath: Path): VirtualServer {
    let addr: VsAddress;
    if (s.fwmark !== undefined) addr = { kind: 'fwmark', fwmark: s.fwmark, ...(s.family !== undefined ? { family: s.family } : {}) };
    else if (s.group !== undefined) addr = { kind: 'group', group: s.group };
    else addr = { kind: 'ip', address: s.vip ?? '', family: s.family ?? familyOf(s.vip ?? ''), port: port ?? 0 };
    const vs = newVirtualServer(addr);
    const src = this.src(p, s, []);
    vs.src = src;
    src.address = this.pos.key([...p, s.fwmark !== undefined ? 'fwmark' : s.group !== undefined ? 'group' : 'vip']);
    if (port !== undefined) src.port = this.pos.value(portPath);
    this.plain(vs, s, p, SERVICE_PLAIN);
    if (s.sched_flags) {
      this.plain(vs.schedFlags, s.sched_flags, [...p, 'sched_flags'], SCHED_FLAGS, src);
      src.schedFlags = this.pos.key([...p, 'sched_flags']);
    }
    vs.forwarding = { ...vs.forwarding, ...forwarding(s) };
    if (s.mode !== undefined) src.forwarding = this.pos.key([...p, 'mode']);
    for (const k of ['quorum_up', 'quorum_down'] as const) {
      const q = s[k];
      if (q !== undefined) [vs[camel(k) as 'quorumUp'], src[camel(k)]] = [script(q), this.pos.key([...p, k])];
    }
    if (s.sorry_server) {
      const ss = s.sorry_server;
      vs.sorryServer = { address: ss.address, inhibit: ss.inhibit ?? false };
      if (ss.port !== undefined) vs.sorryServer.port = ss.port;
      const f = this.rsForwarding(ss, [...p, 'sorry_server']);
      if (f) vs.sorryServer.forwarding = f;
      src.sorryServer = this.pos.key([...p, 'sorry_server']);
    }
    const rsPath: Path = [...p, 'real_servers'];
    if (s.real_servers === 'nodes') {
      for (const n of this.c.nodes) {
        if (n.address === undefined) {
          this.diags.error('missing-address', `real_servers: nodes needs the address of node ${n.name}`, this.pos.key(rsPath), {
            hint: `add address: to node ${n.name}, or list the real servers`,
          });
          continue;
        }
        const rs = newRealServer(n.address, port);
        rs.src = { '': this.pos.key(rsPath) };
        rs.checkers = this.checks(s.checks ?? [], [...p, 'checks'], vs.delayLoop);
        vs.realServers.push(rs);
      }
    } else {
      (s.real_servers ?? []).forEach((r, i) => vs.realServers.push(this.realServer(r, [...rsPath, i], s, p, port, vs.delayLoop)));
    }
    return vs;
  }

  private realServer(r: RealServerIn, p: Path, s: ServiceIn, sp: Path, port: number | undefined, delayLoop: number): RealServer {
    const rs = newRealServer(r.address, r.port === null ? undefined : r.port ?? port);
    rs.src = this.src(p, r, ['address', 'port']);
    this.plain(rs, r, p, REAL_SERVER_PLAIN);
    const f = this.rsForwarding(r, p);
    if (f) rs.forwarding = f;
    for (const k of ['notify_up', 'notify_down'] as const) {
      const q = r[k];
      if (q !== undefined) [rs[camel(k) as 'notifyUp'], rs.src[camel(k)]] = [script(q), this.pos.key([...p, k])];
    }
    rs.checkers = r.checks !== undefined
      ? this.checks(r.checks, [...p, 'checks'], delayLoop)
      : this.checks(s.checks ?? [], [...sp, 'checks'], delayLoop);
    if (r.checks !== undefined) rs.src.checkers = this.pos.key([...p, 'checks']);
    return rs;
  }

  /** A real or sorry server's own forwarding: only when it names a mode. */
  private rsForwarding(r: Parameters<typeof forwarding>[0], p: Path): Forwarding | undefined {
    if (r.mode !== undefined) return forwarding(r) as Forwarding;
    const stray = (['tun_type', 'tun_port', 'tun_csum'] as const).find((k) => r[k] !== undefined);
    if (stray) {
      this.diags.error('tun-without-mode', `${stray} needs mode: tun here`, this.pos.key([...p, stray]), { hint: 'add mode: tun' });
    }
    return undefined;
  }

  // ---- checks ----

  private checks(refs: CheckRefIn[], p: Path, delayLoop: number): Checker[] {
    const out: Checker[] = [];
    refs.forEach((r, i) => {
      if (typeof r !== 'string') out.push(this.check(r, [...p, i], delayLoop));
      else {
        const t = this.c.checks?.[r];
        if (t) out.push(this.check(t, ['checks', r], delayLoop)); // unknown names are reported once, up front
      }
    });
    return out;
  }

  private check(r: CheckIn, p: Path, vsDelayLoop: number): Checker {
    const inherit: Rec = { delayLoop: r.delay_loop ?? vsDelayLoop, rise: r.rise ?? this.rise, fall: r.fall ?? this.fall };
    for (const k of CHECK_INHERITED) if (r[k] !== undefined) inherit[camel(k)] = r[k];
    const ck = newChecker(r.type, inherit as unknown as Parameters<typeof newChecker>[1]);
    const src = this.src(p, r, ['type', 'delay_loop', ...CHECK_INHERITED]);
    ck.src = src;
    this.plain(ck, r, p, CHECK_OPTIONAL);
    switch (r.type) {
      case 'HTTP_GET':
      case 'SSL_GET': {
        const h = ck as Extract<Checker, { type: 'HTTP_GET' | 'SSL_GET' }>;
        this.plain(h, r, p, HTTP_PLAIN);
        h.urls = (r.url ?? []).map((u, i) => {
          const up: Path = [...p, 'url', i];
          const url: HttpUrl = { path: u.path, statusCodes: [], regexNoMatch: false, src: this.src(up, u, ['path']) };
          this.plain(url, u, up, URL_PLAIN);
          (u.status ?? []).forEach((st, j) => {
            const range = statusRange(st);
            if (range) url.statusCodes.push(range);
            else this.diags.error('invalid-status', `status range "${st}" is backwards`, this.pos.value([...up, 'status', j]), { hint: 'write LOW-HIGH, e.g. 200-299' });
          });
          if (u.status !== undefined) url.src!.statusCodes = this.pos.key([...up, 'status']);
          return url;
        });
        if (r.url !== undefined) src.urls = this.pos.key([...p, 'url']);
        break;
      }
      case 'MISC_CHECK': {
        const m = ck as Extract<Checker, { type: 'MISC_CHECK' }>;
        [m.script, src.script] = [script(r.misc_path), this.pos.key([...p, 'misc_path'])];
        if (r.misc_timeout !== undefined) [m.timeout, src.timeout] = [r.misc_timeout, this.pos.key([...p, 'misc_timeout'])];
        if (r.misc_dynamic !== undefined) [m.dynamic, src.dynamic] = [r.misc_dynamic, this.pos.key([...p, 'misc_dynamic'])];
        break;
      }
      case 'DNS_CHECK':
        this.plain(ck, r, p, DNS_PLAIN);
        break;
      case 'UDP_CHECK':
        this.plain(ck, r, p, UDP_PLAIN);
        break;
      case 'SMTP_CHECK': {
        const sm = ck as Extract<Checker, { type: 'SMTP_CHECK' }>;
        this.plain(sm, r, p, ['helo_name']);
        sm.hosts = (r.hosts ?? []).map((h, i) => {
          const hp: Path = [...p, 'hosts', i];
          const host = { src: this.src(hp, h, []) };
          this.plain(host, h, hp, SMTP_HOST_PLAIN);
          return host;
        });
        if (r.hosts !== undefined) src.hosts = this.pos.key([...p, 'hosts']);
        break;
      }
      case 'FILE_CHECK':
        this.plain(ck, r, p, FILE_PLAIN);
        break;
      default:
        break;
    }
    return ck;
  }

  // ---- helpers ----

  /** Copies the listed keys that are set in `raw` onto `target` (camelCase) and records where each was written. */
  private plain(target: object, raw: object, p: Path, keys: readonly string[], src?: SrcMap): void {
    const t = target as Rec;
    const r = raw as Rec;
    const map = src ?? (t.src as SrcMap | undefined);
    for (const k of keys) {
      if (r[k] === undefined) continue;
      t[camel(k)] = structuredClone(r[k]);
      if (map) map[camel(k)] = this.pos.key([...p, k]);
    }
  }

  /** A src map for the object at `p`, with the listed (always written) keys located. */
  private src(p: Path, raw: object, keys: readonly string[]): SrcMap & { '': Loc } {
    const m: SrcMap & { '': Loc } = { '': this.pos.value(p) };
    for (const k of keys) if ((raw as Rec)[k] !== undefined) m[camel(k)] = this.pos.key([...p, k]);
    return m;
  }
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function script(s: ScriptIn): Script {
  if (typeof s === 'string') return makeScript(s);
  const out = makeScript(s.cmd, s.user, s.group);
  if (s.argv !== undefined) out.argv = [...s.argv];
  return out;
}

function scriptWithTimeout(s: string | NonNullable<ScriptWithTimeoutIn>): Script & { timeout?: number } {
  if (typeof s === 'string') return makeScript(s);
  const out: Script & { timeout?: number } = script(s);
  if (s.timeout !== undefined) out.timeout = s.timeout;
  return out;
}

function notifyOf(n: NotifyIn): VrrpNotify {
  const out: VrrpNotify = {};
  for (const k of NOTIFY_KEYS) {
    const s = n[k];
    if (s !== undefined) out[camel(k) as keyof VrrpNotify] = script(s);
  }
  return out;
}

function forwarding(r: Pick<ServiceIn, 'mode' | 'tun_type' | 'tun_port' | 'tun_csum'>): Partial<Forwarding> {
  const f: Partial<Forwarding> = {};
  if (r.mode !== undefined) f.kind = r.mode;
  if (r.tun_type !== undefined) f.tunType = r.tun_type;
  if (r.tun_port !== undefined) f.tunPort = r.tun_port;
  if (r.tun_csum !== undefined) f.tunCsum = r.tun_csum;
  return f;
}

/** 200 → 200–200; "200-299" → 200–299; undefined when backwards. */
function statusRange(s: number | string): StatusRange | undefined {
  const [a, b] = String(s).split('-');
  const from = Number(a);
  const to = b === undefined ? from : Number(b);
  return from <= to ? { from, to } : undefined;
}
