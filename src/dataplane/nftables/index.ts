// The nftables data-plane driver: render desired services (render.ts), read the
// kernel's copy of haldir's tables (`nft -j list table`, parse.ts), diff (diff.ts) and
// apply the difference as one `nft -f` transaction — all of it or nothing. Between full
// reads it trusts what it last wrote (kube-proxy's pattern: O(changed) per update); a
// full reconcile re-reads the kernel and repairs drift, logging each repair.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import type { VirtualServer } from '../../model/types.js';
import type { Dataplane, DesiredDest, DesiredService, ReconcileOptions, ReconcileReport, ServiceStats, Unsupported } from '../types.js';
import { diffState } from './diff.js';
import { cloneState, tableKey, type NftFamily, type NftState } from './objects.js';
import { parseNftJson, parseTableList, type Counter } from './parse.js';
import { assemble, fingerprint, nftUnsupported, renderService, TABLE, type DrPath, type Fragment } from './render.js';
import { statsFromKernel } from './stats.js';
import { countNatConnections, dumpConntrack, DST_NAT_FILTER, type NatService } from '../../netlink/conntrack.js';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

/** Resolves DR destinations to L2 paths (neighbour table, probing when missing). */
export interface DrResolver {
  resolve(dests: { address: string; family: 4 | 6 }[]): Promise<Map<string, DrPath | Error>>;
}

export interface NftOptions {
  table?: string;
  /** The nft binary (default `nft` from PATH). */
  nft?: string;
  log?: Logger;
  dr?: DrResolver;
  /** Full NAT: masquerade NAT services' connections too (one-armed directors). */
  masquerade?: boolean;
}

export class NftError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = 'NftError';
  }
}

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        const e = err as NodeJS.ErrnoException;
        reject(new NftError(e.code === 'ENOENT' ? `${cmd} not found: install the nftables package` : `${cmd}: ${e.message}`, ''));
        return;
      }
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

/** Which families' tables haldir may own (netdev for DR, ip/ip6 for NAT). */
const OWN: NftFamily[] = ['ip', 'ip6', 'netdev'];

export class NftablesDataplane implements Dataplane {
  readonly kind = 'nftables' as const;
  private readonly table: string;
  private readonly nft: string;
  private readonly log: Logger;
  private readonly dr: DrResolver | undefined;
  private readonly masquerade: boolean;
  /** What haldir last wrote, per service (undefined until the first reconcile reads the kernel). */
  private frags: Map<string, Fragment> | undefined;

  constructor(opts: NftOptions = {}) {
    this.table = opts.table ?? TABLE;
    this.nft = opts.nft ?? 'nft';
    this.log = opts.log ?? (() => {});
    this.dr = opts.dr;
    this.masquerade = !!opts.masquerade;
  }

  unsupported(services: readonly VirtualServer[]): Unsupported[] {
    return nftUnsupported(services);
  }

  /** The kernel's copy of haldir's tables, with the first counter of each chain. */
  async read(): Promise<{ state: NftState; counters: Map<string, Counter>; elemCounters: Map<string, Map<string, Counter>> }> {
    const list = await run(this.nft, ['-j', 'list', 'tables']);
    if (list.code !== 0) throw new NftError(`nft list tables failed: ${list.stderr.trim()}`, list.stderr);
    const present = parseTableList(list.stdout).filter((t) => t.name === this.table && (OWN as string[]).includes(t.family));
    const state: NftState = new Map();
    const counters = new Map<string, Counter>();
    const elemCounters = new Map<string, Map<string, Counter>>();
    for (const t of present) {
      const r = await run(this.nft, ['-j', 'list', 'table', t.family, t.name]);
      if (r.code !== 0) {
        if (/No such file or directory/.test(r.stderr)) continue; // removed meanwhile
        throw new NftError(`nft list table ${t.family} ${t.name} failed: ${r.stderr.trim()}`, r.stderr);
      }
      const p = parseNftJson(r.stdout, t.family as NftFamily, t.name);
      state.set(tableKey(p.table.family, p.table.name), p.table);
      for (const [c, v] of p.counters) counters.set(`${t.family} ${c}`, v);
      for (const [n, m] of p.elemCounters) elemCounters.set(`${t.family} ${n}`, m);
    }
    return { state, counters, elemCounters };
  }

  private async drPaths(desired: readonly DesiredService[]): Promise<(vs: VirtualServer, d: DesiredDest) => DrPath | Error> {
    const need = new Map<string, { address: string; family: 4 | 6 }>();
    for (const ds of desired) for (const d of ds.dests) if (d.forwarding.kind === 'DR') need.set(d.address, { address: d.address, family: d.family });
    if (need.size === 0) return () => new Error('not a DR destination');
    if (!this.dr) return () => new Error('DR needs a neighbour resolver (run as root with the native addon)');
    const paths = await this.dr.resolve([...need.values()]);
    return (_vs, d) => paths.get(d.address) ?? new Error(`no L2 path to ${d.address}`);
  }

  async reconcile(desired: readonly DesiredService[], opts: ReconcileOptions = {}): Promise<ReconcileReport> {
    const t0 = performance.now();
    const drPath = await this.drPaths(desired);
    const ctx = { table: this.table, drPath, masquerade: this.masquerade };
    const unsupported = new Set(nftUnsupported(desired.map((d) => d.vs)).map((u) => u.vs));
    // Services whose input is unchanged keep their rendered objects (O(changed) rendering).
    const frags = new Map<string, Fragment>();
    const changed = new Set<string>();
    for (const ds of desired) {
      if (unsupported.has(ds.vs)) continue;
      const fp = fingerprint(ds, ctx);
      const old = this.frags?.get(ds.vsKey);
      if (old && old.fp === fp) frags.set(ds.vsKey, old);
      else {
        frags.set(ds.vsKey, renderService(ds, ctx, fp));
        changed.add(ds.vsKey);
      }
    }
    for (const k of this.frags?.keys() ?? []) if (!frags.has(k)) changed.add(k);
    const full = opts.full || !this.frags;
    let d;
    if (full) {
      const actual = (await this.read()).state;
      d = diffState(assemble(frags.values(), this.table), actual, this.frags ? assemble(this.frags.values(), this.table) : undefined);
    } else {
      // Only the changed services' objects, over the skeleton both sides share.
      d = diffState(assemble(frags.values(), this.table, changed), assemble(this.frags!.values(), this.table, changed));
    }
    const report: ReconcileReport = { changes: d.changes, applied: false, ms: 0 };
    const errors = [...frags.values()].flatMap((f) => f.errors);
    if (errors.length) report.errors = errors;
    if (d.commands.length && !opts.dryRun) {
      await this.apply(d.commands);
      report.applied = true;
      for (const c of d.changes) if (c.drift) this.log('repaired drift', { object: c.object, op: c.op, ...(c.detail ? { detail: c.detail } : {}) });
    }
    if (!opts.dryRun) this.frags = frags;
    report.note = `${d.commands.length} nft command(s)${full ? ', kernel state read' : `, ${changed.size} service(s) re-rendered`}`;
    report.ms = performance.now() - t0;
    return report;
  }

  /** One `nft -f` transaction: the kernel applies all of it or none of it. */
  private async apply(commands: string[]): Promise<void> {
    // nft reads no stdin under Node's spawn: the batch goes through a file.
    const dir = mkdtempSync(join(tmpdir(), 'haldir-nft-'));
    const file = join(dir, 'batch.nft');
    try {
      writeFileSync(file, `${commands.join('\n')}\n`);
      const r = await run(this.nft, ['-f', file]);
      if (r.code !== 0) {
        // Name the command nft refused (its errors cite file:line).
        const m = /batch\.nft:(\d+):/.exec(r.stderr);
        const bad = m ? commands[Number(m[1]) - 1] : undefined;
        const first = r.stderr.split('\n').find((l) => /Error:/.test(l))?.replace(/^.*?Error:\s*/, '') ?? r.stderr.trim();
        this.frags = undefined; // unknown now: the next reconcile reads the kernel
        throw new NftError(`nft rejected the transaction, nothing was changed: ${first}${bad ? `\n  in: ${bad.slice(0, 300)}` : ''}`, r.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The table with counters, and for NAT services the connections conntrack tracks per destination. */
  async stats(): Promise<ServiceStats[]> {
    const { state, counters, elemCounters } = await this.read();
    const stats = statsFromKernel(state, counters, elemCounters);
    const nat = [...state.values()].filter((t) => t.family !== 'netdev').map((t) => t.family);
    if (nat.length === 0) return stats;
    const services: NatService[] = [];
    for (const s of stats) {
      const m = /^(tcp|udp|sctp):\[(.+)\]:(\d+)$/.exec(s.vsKey);
      if (m && s.dests[0]?.forwarding === 'Masq') services.push({ proto: m[1] as NatService['proto'], vip: m[2]!, port: Number(m[3]) });
    }
    const entries = nat.flatMap((f) => dumpConntrack(f === 'ip' ? 4 : 6, DST_NAT_FILTER));
    const counts = countNatConnections(entries, services);
    for (const s of stats) {
      const per = counts.get(s.vsKey);
      if (!per) continue;
      for (const d of s.dests) {
        const c = per.get(d.key);
        d.activeConns = c?.active ?? 0;
        d.inactConns = c?.inactive ?? 0;
      }
    }
    return stats;
  }

  /**
   * Active connections per NAT destination, from conntrack alone: the services are the ones
   * haldir last wrote, so a drain polling every second does not list the whole ruleset.
   */
  async activeConnections(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (this.frags) {
      const nat = [...this.frags.values()].filter((f) => f.nat);
      if (nat.length === 0) return out;
      const families = [...new Set(nat.map((f) => f.family))];
      const entries = families.flatMap((f) => dumpConntrack(f, DST_NAT_FILTER));
      const counts = countNatConnections(
        entries,
        nat.map((f) => ({ proto: f.nat!.proto as NatService['proto'], vip: f.nat!.vip, port: f.nat!.port })),
      );
      for (const f of nat) out.set(f.vsKey, new Map(f.nat!.destKeys.map((k) => [k, counts.get(f.vsKey)?.get(k)?.active ?? 0])));
      return out;
    }
    for (const s of await this.stats()) {
      const m = new Map<string, number>();
      for (const d of s.dests) if (d.activeConns !== undefined) m.set(d.key, d.activeConns);
      out.set(s.vsKey, m);
    }
    return out;
  }

  async close(opts: { flush?: boolean } = {}): Promise<void> {
    if (!opts.flush) return;
    const { state } = await this.read();
    const cmds = [...state.values()].map((t) => `delete table ${t.family} ${t.name}`);
    if (cmds.length) await this.apply(cmds);
    this.frags = new Map();
  }

  /** What haldir believes the kernel has (tests, status). */
  snapshot(): NftState | undefined {
    return this.frags ? cloneState(assemble(this.frags.values(), this.table)) : undefined;
  }
}

