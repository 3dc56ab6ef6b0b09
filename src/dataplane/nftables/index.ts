// The nftables data-plane driver: render desired services (render.ts), read the
// kernel's copy of haldir's tables (`nft -j list table`, parse.ts), diff (diff.ts) and
// apply the difference as one transaction — all of it or nothing — over nf_tables
// netlink (netlink.ts, the default) or as one `nft -f` file (backend 'nft', kept to
// compare the two). Between full reads it trusts what it last wrote (kube-proxy's
// pattern: O(changed) per update); a full reconcile re-reads the kernel and repairs
// drift, logging each repair.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import type { VirtualServer } from '../../model/types.js';
import type { Dataplane, DesiredDest, DesiredService, ReconcileOptions, ReconcileReport, ServiceStats, Unsupported } from '../types.js';
import { diffState } from './diff.js';
import { NftError, NftSocket } from './netlink.js';
import { cloneState, tableKey, type NftFamily, type NftState } from './objects.js';
import { opsText, type NftOp } from './ops.js';
import { parseNftJson, parseTableList, type Counter } from './parse.js';
import { assemble, nftUnsupported, renderInput, renderService, sameInput, serviceForwarding, TABLE, unsupportedReasons, type DrPath, type Fragment } from './render.js';
import { statsFromKernel } from './stats.js';
import { countNatConnections, dumpConntrack, DST_NAT_FILTER, type NatService } from '../../netlink/conntrack.js';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;
export { NftError };

/** How transactions are written: nf_tables netlink from this process, or an `nft -f` file. */
export type NftBackend = 'netlink' | 'nft';

/** Resolves DR destinations to L2 paths (neighbour table, probing when missing). */
export interface DrResolver {
  resolve(dests: { address: string; family: 4 | 6 }[]): Promise<Map<string, DrPath | Error>>;
}

export interface NftOptions {
  table?: string;
  /** The nft binary (default `nft` from PATH): full reads, and writes with backend 'nft'. */
  nft?: string;
  /** Default 'netlink' (or HALDIR_NFT_BACKEND); 'nft' writes through `nft -f` (the same ops as text). */
  backend?: NftBackend;
  log?: Logger;
  dr?: DrResolver;
  /** Full NAT: masquerade NAT services' connections too (one-armed directors). */
  masquerade?: boolean;
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

/** The operator's fallback without a code change: HALDIR_NFT_BACKEND=nft writes through `nft -f`. */
function backendFromEnv(): NftBackend | Error {
  const v = process.env['HALDIR_NFT_BACKEND'];
  if (v === undefined || v === '' || v === 'netlink') return 'netlink';
  if (v === 'nft') return 'nft';
  return new NftError(`HALDIR_NFT_BACKEND must be "netlink" (the default) or "nft" (write through nft -f), not "${v}"`, '');
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
  readonly backend: NftBackend;
  /** A bad HALDIR_NFT_BACKEND: reported by the first reconcile (a constructor cannot fail politely). */
  private readonly backendError: Error | undefined;
  /** The last transaction written: how, its size, and the time the write took (encoding, the kernel's work, the answer). */
  lastWrite: { backend: NftBackend; ops: number; messages?: number; bytes?: number; ms: number } | undefined;
  /** Where the last reconcile's time went, in ms: rendering (and comparing inputs), the kernel read, the diff, the write. */
  lastPhases: { render: number; read: number; diff: number; write: number } | undefined;
  /** The netlink socket transactions go through (opened on first use, kept: see NftSocket). */
  private readonly sock = new NftSocket();
  /** What haldir last wrote, per service (undefined until the first reconcile reads the kernel). */
  private frags: Map<string, Fragment> | undefined;

  constructor(opts: NftOptions = {}) {
    this.table = opts.table ?? TABLE;
    this.nft = opts.nft ?? 'nft';
    this.log = opts.log ?? (() => {});
    this.dr = opts.dr;
    this.masquerade = !!opts.masquerade;
    const b = opts.backend ?? backendFromEnv();
    this.backend = b instanceof Error ? 'netlink' : b;
    this.backendError = b instanceof Error ? b : undefined;
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

  /** `fwds[i]`: how desired[i] forwards. */
  private async drPaths(desired: readonly DesiredService[], fwds: readonly string[]): Promise<(vs: VirtualServer, d: DesiredDest) => DrPath | Error> {
    const need = new Map<string, { address: string; family: 4 | 6 }>();
    desired.forEach((ds, i) => {
      if (fwds[i] !== 'DR') return; // NAT, or refused (mixed, TUN): nothing to resolve
      for (const d of ds.dests) if (d.forwarding.kind === 'DR') need.set(d.address, { address: d.address, family: d.family });
    });
    if (need.size === 0) return () => new Error('not a DR destination');
    if (!this.dr) return () => new Error('DR needs a neighbour resolver (run as root with the native addon)');
    const paths = await this.dr.resolve([...need.values()]);
    return (_vs, d) => paths.get(d.address) ?? new Error(`no L2 path to ${d.address}`);
  }

  async reconcile(desired: readonly DesiredService[], opts: ReconcileOptions = {}): Promise<ReconcileReport> {
    if (this.backendError) throw this.backendError;
    const t0 = performance.now();
    // Each service's last fragment and how it forwards (known from that fragment while the
    // model objects are the same): this runs for every service on every reconcile.
    const olds = new Array<Fragment | undefined>(desired.length);
    const fwds = new Array<string>(desired.length);
    desired.forEach((ds, i) => {
      const old = (olds[i] = this.frags?.get(ds.vsKey));
      fwds[i] = serviceForwarding(ds, old?.input);
    });
    const drPath = await this.drPaths(desired, fwds);
    const ctx = { table: this.table, drPath, masquerade: this.masquerade };
    // Services whose input is unchanged keep their rendered objects (O(changed) rendering);
    // they were supported when rendered, and what support depends on is part of the input.
    const frags = new Map<string, Fragment>();
    const changed = new Set<string>();
    const errors: string[] = [];
    desired.forEach((ds, i) => {
      const fwd = fwds[i]!;
      const old = olds[i];
      let f: Fragment;
      if (old && sameInput(old.input, ds, ctx, fwd)) f = old;
      else {
        if (unsupportedReasons(ds.vs, fwd).length) return;
        f = renderService(ds, ctx, renderInput(ds, ctx, fwd));
        changed.add(ds.vsKey);
      }
      frags.set(ds.vsKey, f);
      if (f.errors.length) errors.push(...f.errors);
    });
    for (const k of this.frags?.keys() ?? []) if (!frags.has(k)) changed.add(k);
    const full = opts.full || !this.frags;
    const tRender = performance.now();
    let d;
    let tRead = tRender;
    if (full) {
      const actual = (await this.read()).state;
      tRead = performance.now();
      d = diffState(assemble(frags.values(), this.table), actual, this.frags ? assemble(this.frags.values(), this.table) : undefined);
    } else {
      // Only the changed services' objects, over the skeleton both sides share.
      d = diffState(assemble(frags.values(), this.table, changed), assemble(this.frags!.values(), this.table, changed));
    }
    const tDiff = performance.now();
    const report: ReconcileReport = { changes: d.changes, applied: false, ms: 0 };
    if (errors.length) report.errors = errors;
    let written = '';
    if (d.ops.length && !opts.dryRun) {
      written = await this.apply(d.ops);
      report.applied = true;
      for (const c of d.changes) if (c.drift) this.log('repaired drift', { object: c.object, op: c.op, ...(c.detail ? { detail: c.detail } : {}) });
    }
    if (!opts.dryRun) this.frags = frags;
    report.note = `${d.ops.length} op(s)${written}${full ? ', kernel state read' : `, ${changed.size} service(s) re-rendered`}`;
    const tEnd = performance.now();
    report.ms = tEnd - t0;
    this.lastPhases = { render: tRender - t0, read: tRead - tRender, diff: tDiff - tRead, write: tEnd - tDiff };
    return report;
  }

  /** One transaction: the kernel applies all of it or none of it. Returns how it was written, for the report. */
  private async apply(ops: NftOp[]): Promise<string> {
    const t0 = performance.now();
    if (this.backend === 'netlink') {
      try {
        const r = this.sock.apply(ops);
        this.lastWrite = { backend: 'netlink', ops: ops.length, messages: r.messages, bytes: r.bytes, ms: performance.now() - t0 };
        return ` in ${r.messages} netlink message(s)`;
      } catch (e) {
        this.frags = undefined; // unknown now: the next reconcile reads the kernel
        throw e;
      }
    }
    const commands = opsText(ops);
    await this.applyNft(commands);
    this.lastWrite = { backend: 'nft', ops: ops.length, ms: performance.now() - t0 };
    return ` as ${commands.length} nft command(s)`;
  }

  private async applyNft(commands: string[]): Promise<void> {
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
    try {
      if (!opts.flush) return;
      const { state } = await this.read();
      const ops: NftOp[] = [...state.values()].map((t) => ({ op: 'delete table', family: t.family, table: t.name }));
      if (ops.length) await this.apply(ops);
      this.frags = new Map();
    } finally {
      this.sock.close(); // reopened if the driver is used again
    }
  }

  /** What haldir believes the kernel has (tests, status). */
  snapshot(): NftState | undefined {
    return this.frags ? cloneState(assemble(this.frags.values(), this.table)) : undefined;
  }
}

