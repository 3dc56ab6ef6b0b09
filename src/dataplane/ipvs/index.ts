// The IPVS data-plane driver: desired services → kernel IPVS services and destinations
// (objects.ts), read back over generic netlink (client.ts), diffed (diff.ts) and applied
// as batched IPVS commands — keepalived's data plane without ipvsadm or libnl. Between
// full reads it trusts what it last wrote (O(changed) per update, like the nftables
// driver); a full reconcile re-reads the kernel and repairs drift, logging each repair.
//
// Ownership: IPVS has nowhere to mark an object as haldir's, so haldir owns the services
// it wants and those it wrote before — in this process, or in an earlier one (the keys
// are kept in /run/haldir, per network namespace; /run and IPVS tables both end at a
// reboot). Other services are left alone, unless the configuration says lvs_flush.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Forwarding, LvsGlobals, Protocol, VirtualServer, VirtualServerGroup } from '../../model/types.js';
import type { Change, Dataplane, DesiredService, DestStats, ReconcileOptions, ReconcileReport, ServiceStats, Unsupported } from '../types.js';
import { IpvsNetlink } from './client.js';
import { destKey, FWD, serviceKey, type IpvsDaemon, type IpvsDest, type IpvsTimeouts } from './codec.js';
import { diffIpvs } from './diff.js';
import { FWD_NAME, ipvsUnsupported, renderDesired, type DesiredEntry, type IpvsTable } from './objects.js';
import { renderIpvsadm, schedFlagNames } from './show.js';
import { applySysctls, impliedSysctls } from './sysctl.js';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export interface IpvsOptions {
  log?: Logger;
  /** The model's virtual_server_groups (group services expand to one IPVS service per address). */
  groups?: readonly VirtualServerGroup[];
  /** The model's global lvs settings: timeouts, lvs_flush, sync daemon (for the sysctls). */
  lvs?: LvsGlobals;
  /** Set the net.ipv4.vs sysctls the configuration implies (default true). */
  sysctls?: boolean;
  /** Where sysctls live (tests). */
  sysctlDir?: string;
  /** The record of services haldir wrote, kept across restarts; false: this process only. */
  stateFile?: string | false;
  /** A client to use instead of opening one. */
  client?: IpvsNetlink;
}

interface Frag {
  fp: string;
  entries: DesiredEntry[];
}

// Model objects are immutable once built: a service object's identity stands for its settings.
const ids = new WeakMap<VirtualServer, number>();
let nextId = 1;
function vsId(vs: VirtualServer): number {
  let id = ids.get(vs);
  if (id === undefined) ids.set(vs, (id = nextId++));
  return id;
}

/** What a desired service's kernel objects depend on, as a string (O(dests), no rendering). */
function fingerprint(ds: DesiredService, groupsVersion: number): string {
  let s = `${vsId(ds.vs)}|${groupsVersion}`;
  for (const d of ds.dests) {
    const f = d.forwarding;
    s += `|${d.key}/${d.family}/${d.weight}/${f.kind}${f.kind === 'TUN' ? `/${f.tunType ?? ''}/${f.tunPort ?? ''}/${f.tunCsum ?? ''}` : ''}${d.sorry ? '/s' : ''}`;
  }
  return s;
}

function assemble(frags: Iterable<Frag>): Map<string, DesiredEntry> {
  const m = new Map<string, DesiredEntry>();
  for (const f of frags) for (const e of f.entries) m.set(e.key, e);
  return m;
}

/** The default ownership record: per network namespace (its inode), under /run/haldir. */
function defaultStateFile(): string | undefined {
  try {
    return `/run/haldir/ipvs-owned-${statSync('/proc/self/ns/net').ino}.json`;
  } catch {
    return undefined;
  }
}

const PROTO: Record<number, Protocol> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

export class IpvsDataplane implements Dataplane {
  readonly kind = 'ipvs' as const;
  private nl: IpvsNetlink | undefined;
  private readonly log: Logger;
  private groups = new Map<string, VirtualServerGroup>();
  private groupsVersion = 0;
  private lvs: LvsGlobals | undefined;
  private readonly sysctls: boolean;
  private readonly sysctlDir: string | undefined;
  private readonly stateFile: string | undefined;
  /** What haldir last wrote, per desired service (undefined until a reconcile read the kernel). */
  private frags: Map<string, Frag> | undefined;
  /** Service keys haldir wrote (this process or, from the record, an earlier one). */
  private owned = new Set<string>();
  private ownedSaved = '';
  private settingsFp: string | undefined;

  constructor(opts: IpvsOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.nl = opts.client;
    this.sysctls = opts.sysctls ?? true;
    this.sysctlDir = opts.sysctlDir;
    this.stateFile = opts.stateFile === false ? undefined : (opts.stateFile ?? defaultStateFile());
    this.configure({ groups: opts.groups ?? [], ...(opts.lvs ? { lvs: opts.lvs } : {}) });
    if (this.stateFile) {
      try {
        const keys = JSON.parse(readFileSync(this.stateFile, 'utf8')) as unknown;
        if (Array.isArray(keys)) for (const k of keys) if (typeof k === 'string') this.owned.add(k);
        this.ownedSaved = JSON.stringify([...this.owned].sort());
      } catch {
        /* no record yet */
      }
    }
  }

  /** The model's groups and global lvs settings (call again after a reload). */
  configure(o: { groups?: readonly VirtualServerGroup[]; lvs?: LvsGlobals }): void {
    if (o.groups) {
      this.groups = new Map(o.groups.map((g) => [g.name, g]));
      this.groupsVersion++;
    }
    if (o.lvs) this.lvs = o.lvs;
  }

  /** The netlink client (opened on first use: constructing the driver needs no IPVS). */
  client(): IpvsNetlink {
    return (this.nl ??= IpvsNetlink.open());
  }

  unsupported(services: readonly VirtualServer[]): Unsupported[] {
    return ipvsUnsupported(services, this.groups);
  }

  /** The kernel's table: every service with its destinations and counters. */
  async read(): Promise<IpvsTable> {
    return this.client().table();
  }

  async reconcile(desired: readonly DesiredService[], opts: ReconcileOptions = {}): Promise<ReconcileReport> {
    const t0 = performance.now();
    const nl = this.client();
    const errors: string[] = [];
    const refused = new Map<VirtualServer, string[]>();
    for (const u of this.unsupported(desired.map((d) => d.vs))) refused.set(u.vs, [...(refused.get(u.vs) ?? []), u.message]);
    // Services whose input is unchanged keep their kernel objects (O(changed) rendering).
    const frags = new Map<string, Frag>();
    const changed = new Set<string>();
    for (const ds of desired) {
      const no = refused.get(ds.vs);
      if (no) {
        errors.push(...no.map((m) => `${ds.vsKey}: ${m}`));
        continue;
      }
      const fp = fingerprint(ds, this.groupsVersion);
      const old = this.frags?.get(ds.vsKey);
      if (old && old.fp === fp) {
        frags.set(ds.vsKey, old);
        continue;
      }
      const r = renderDesired(ds, this.groups);
      if (r instanceof Error) {
        errors.push(`${ds.vsKey}: ${r.message}`);
        continue;
      }
      frags.set(ds.vsKey, { fp, entries: r });
      changed.add(ds.vsKey);
    }
    for (const k of this.frags?.keys() ?? []) if (!frags.has(k)) changed.add(k);
    const full = !!opts.full || !this.frags;
    let d;
    if (full) {
      const actual = nl.table();
      const expected = this.frags ? assemble(this.frags.values()) : undefined;
      const ownAll = !!this.lvs?.flush;
      d = diffIpvs(assemble(frags.values()), actual, { expected, owned: (k) => ownAll || this.owned.has(k) || !!expected?.has(k) });
    } else {
      // Only the changed services, against what haldir last wrote for them.
      const pick = (m: Map<string, Frag>): Frag[] => [...changed].map((k) => m.get(k)).filter((f): f is Frag => !!f);
      d = diffIpvs(assemble(pick(frags)), assemble(pick(this.frags!)));
    }
    const changes: Change[] = [...d.changes];
    // Sysctls and timeouts: on a full reconcile, or when what implies them changed.
    const settingsFp = JSON.stringify([this.sysctls ? impliedSysctls(desired, this.lvs) : [], this.lvs?.timeouts ?? null]);
    if (full || settingsFp !== this.settingsFp) {
      if (this.sysctls && desired.length) {
        const s = applySysctls(impliedSysctls(desired, this.lvs), { ...(this.sysctlDir ? { dir: this.sysctlDir } : {}), dryRun: !!opts.dryRun });
        changes.push(...s.changes);
        errors.push(...s.errors);
      }
      const t = this.lvs?.timeouts;
      if (t && (t.tcp || t.tcpfin || t.udp)) {
        const want: Partial<IpvsTimeouts> = {};
        if (t.tcp) want.tcp = Math.round(t.tcp);
        if (t.tcpfin) want.tcpFin = Math.round(t.tcpfin);
        if (t.udp) want.udp = Math.round(t.udp);
        const cur = nl.timeouts();
        const diff = (Object.keys(want) as (keyof IpvsTimeouts)[]).filter((k) => want[k] !== cur[k]);
        if (diff.length) {
          if (!opts.dryRun) nl.setTimeouts(want);
          changes.push({ op: 'update', object: 'timeouts', detail: diff.map((k) => `${k} ${cur[k]} -> ${want[k]}`).join(', ') });
        }
      }
      if (!opts.dryRun) this.settingsFp = settingsFp;
    }
    const report: ReconcileReport = { changes, applied: false, ms: 0 };
    let sends = 0;
    if (d.ops.length && !opts.dryRun) {
      const r = nl.apply(d.ops);
      sends = r.sends;
      report.applied = true;
      errors.push(...r.errors);
      for (const c of d.changes) if (c.drift) this.log('repaired drift', { object: c.object, op: c.op, ...(c.detail ? { detail: c.detail } : {}) });
      // A refused command leaves the kernel in a state haldir did not plan: read it next time.
      if (r.errors.length) this.frags = undefined;
      else this.frags = frags;
    } else if (!opts.dryRun) this.frags = frags;
    if (!opts.dryRun) this.recordOwned(frags);
    if (errors.length) report.errors = errors;
    report.note = `${d.ops.length} IPVS command(s) in ${sends} netlink batch(es)${full ? ', kernel state read' : `, ${changed.size} service(s) re-rendered`}${d.foreign.length ? `; ${d.foreign.length} service(s) not haldir's left alone` : ''}`;
    report.ms = performance.now() - t0;
    return report;
  }

  /** Keeps the set of service keys haldir wrote, on disk when the set changed. */
  private recordOwned(frags: Map<string, Frag>): void {
    this.owned = new Set(assemble(frags.values()).keys());
    if (!this.stateFile) return;
    const text = JSON.stringify([...this.owned].sort());
    if (text === this.ownedSaved) return;
    try {
      mkdirSync(dirname(this.stateFile), { recursive: true, mode: 0o755 });
      writeFileSync(`${this.stateFile}.tmp`, text);
      renameSync(`${this.stateFile}.tmp`, this.stateFile);
      this.ownedSaved = text;
    } catch (e) {
      this.log('cannot record the IPVS services haldir owns', { file: this.stateFile, error: (e as Error).message });
    }
  }

  /** Kernel service key → the desired entry haldir wrote for it (owner vsKey, destination keys). */
  private written(): Map<string, DesiredEntry> {
    return this.frags ? assemble(this.frags.values()) : new Map();
  }

  async stats(): Promise<ServiceStats[]> {
    const table = this.client().table();
    const written = this.written();
    const out: ServiceStats[] = [];
    for (const [key, { svc, dests }] of table) {
      const w = written.get(key);
      const s: ServiceStats = {
        vsKey: w?.vsKey ?? key,
        protocol: svc.fwmark ? 'TCP' : (PROTO[svc.protocol] ?? 'TCP'),
        address: svc.fwmark ? `FWM ${svc.fwmark}` : svc.af === 6 ? `[${svc.address}]:${svc.port}` : `${svc.address}:${svc.port}`,
        scheduler: svc.scheduler,
        flags: schedFlagNames(svc),
        dests: [...dests.entries()].map(([dk, d]) => destStats(w?.destKeys.get(dk) ?? dk, d)),
      };
      if (svc.timeout && svc.flags & 1) s.persistent = svc.timeout;
      if (svc.stats) Object.assign(s, { conns: svc.stats.conns, packets: svc.stats.inpkts, bytes: svc.stats.inbytes });
      out.push(s);
    }
    return out;
  }

  /**
   * What the kernel has now for the services in `desired`, as desired-state entries with
   * the destinations' exact forwarding (a draining gue destination must stay gue: its
   * connections are encapsulated that way). The base for a Drainer in a fresh process.
   */
  async programmed(desired: readonly DesiredService[]): Promise<DesiredService[]> {
    const byKey = new Map(desired.map((d) => [d.vsKey, d]));
    const table = this.client().table();
    const seen = new Set<string>();
    const out: DesiredService[] = [];
    for (const ds of desired) {
      // The kernel services this desired service stands for (a group has several: the first one speaks for all).
      const r = renderDesired(ds, this.groups);
      if (r instanceof Error) continue;
      const e = r.map((x) => table.get(x.key)).find((x) => x !== undefined);
      if (!e || seen.has(ds.vsKey)) continue;
      seen.add(ds.vsKey);
      const known = new Map(ds.dests.map((d) => [d.key, d]));
      out.push({
        ...byKey.get(ds.vsKey)!,
        dests: [...e.dests.entries()].map(([dk, d]) => {
          const key = r[0]!.destKeys.get(dk) ?? dk;
          const dd: DesiredService['dests'][number] = { address: d.address, family: d.af, weight: d.weight, forwarding: forwardingOf(d), key };
          if (d.port || ds.vs.address.kind !== 'fwmark') dd.port = d.port;
          if (known.get(key)?.sorry) dd.sorry = true;
          return dd;
        }),
      });
    }
    return out;
  }

  /** Active connections (ipvsadm's ActiveConn) per destination, per service haldir wrote. */
  async activeConnections(): Promise<Map<string, Map<string, number>>> {
    const nl = this.client();
    const written = this.written();
    const out = new Map<string, Map<string, number>>();
    // Only haldir's services: one dump each (a group's services add up under its key).
    const services = written.size ? [...written.values()].map((e) => e.svc) : nl.services();
    for (const svc of services) {
      const w = written.get(serviceKey(svc));
      const vk = w?.vsKey ?? serviceKey(svc);
      let m = out.get(vk);
      if (!m) out.set(vk, (m = new Map()));
      let list: IpvsDest[];
      try {
        list = nl.dests(svc);
      } catch {
        continue; // removed meanwhile
      }
      for (const d of list) {
        const k = w?.destKeys.get(destKey(d)) ?? destKey(d);
        m.set(k, (m.get(k) ?? 0) + (d.activeConns ?? 0));
      }
    }
    return out;
  }

  /** The table exactly as `ipvsadm -Ln [--stats]` prints it. */
  async show(o: { stats?: boolean } = {}): Promise<string> {
    const nl = this.client();
    const info = nl.info();
    const services = nl.services().map((svc) => ({ svc, dests: nl.dests(svc) }));
    return renderIpvsadm(info, services, o);
  }

  timeouts(): IpvsTimeouts {
    return this.client().timeouts();
  }

  setTimeouts(t: Partial<IpvsTimeouts>): void {
    this.client().setTimeouts(t);
  }

  /** Running connection-sync daemons (keepalived's lvs_sync_daemon): master and/or backup. */
  syncDaemons(): IpvsDaemon[] {
    return this.client().daemons();
  }

  /** Starts a sync daemon; one that already runs in that state with other settings is restarted. */
  startSyncDaemon(d: IpvsDaemon): void {
    const nl = this.client();
    const cur = nl.daemons().find((x) => x.state === d.state);
    if (cur) {
      const same = cur.ifname === d.ifname && cur.syncId === d.syncId && (!d.maxLen || cur.maxLen === d.maxLen) && (!d.port || cur.port === d.port) && (!d.ttl || cur.ttl === d.ttl) && (!d.group || cur.group === d.group);
      if (same) return;
      nl.stopDaemon(d.state);
    }
    nl.startDaemon(d);
    this.log('IPVS sync daemon started', { state: d.state, interface: d.ifname, syncid: d.syncId });
  }

  stopSyncDaemon(state: IpvsDaemon['state']): void {
    const nl = this.client();
    if (!nl.daemons().some((x) => x.state === state)) return;
    nl.stopDaemon(state);
    this.log('IPVS sync daemon stopped', { state });
  }

  /** Change messages sent so far (a no-op reconcile adds none) and read requests. */
  counters(): { changeMessages: number; readMessages: number } {
    return { changeMessages: this.nl?.changeMessages ?? 0, readMessages: this.nl?.readMessages ?? 0 };
  }

  async close(opts: { flush?: boolean } = {}): Promise<void> {
    if (opts.flush && this.nl) {
      // Only haldir's services: what it wrote, and what its record says it wrote.
      const table = this.nl.table();
      const mine = new Set([...this.written().keys(), ...this.owned]);
      const ops = [...table].filter(([k]) => mine.has(k)).map(([key, e]) => ({ cmd: 'del-service' as const, key, svc: e.svc }));
      const r = this.nl.apply(ops);
      if (r.errors.length) this.log('could not remove every IPVS service', { errors: r.errors.join('; ') });
      this.frags = new Map();
      this.recordOwned(this.frags);
    }
    this.nl?.close();
    this.nl = undefined;
  }
}

const TUN_NAMES = ['ipip', 'gue', 'gre'] as const;
const CSUM_NAMES = ['nocsum', 'csum', 'remcsum'] as const;

/** The model's forwarding of a kernel destination (tunnel type, port and checksum included). */
function forwardingOf(d: IpvsDest): Forwarding {
  if (d.fwd === FWD.DROUTE || d.fwd === FWD.LOCALNODE) return { kind: 'DR' };
  if (d.fwd !== FWD.TUNNEL) return { kind: 'NAT' };
  const f: Forwarding = { kind: 'TUN', tunType: TUN_NAMES[d.tunType] ?? 'ipip' };
  if (f.tunType === 'gue') f.tunPort = d.tunPort;
  if (f.tunType !== 'ipip') f.tunCsum = CSUM_NAMES[d.tunFlags] ?? 'nocsum';
  return f;
}

function destStats(key: string, d: IpvsDest): DestStats {
  const s: DestStats = {
    key,
    address: d.address,
    family: d.af,
    port: d.port,
    weight: d.weight,
    forwarding: FWD_NAME[d.fwd] ?? (d.fwd === FWD.BYPASS ? 'Bypass' : String(d.fwd)),
  };
  if (d.activeConns !== undefined) s.activeConns = d.activeConns;
  if (d.inactConns !== undefined) s.inactConns = d.inactConns;
  if (d.stats) Object.assign(s, { conns: d.stats.conns, packets: d.stats.inpkts, bytes: d.stats.inbytes, inBytes: d.stats.inbytes, outBytes: d.stats.outbytes });
  return s;
}

