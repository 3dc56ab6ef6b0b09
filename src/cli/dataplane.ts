// `haldir apply` and `haldir dataplane show`: one reconcile of a node's services with
// every real server up (printing the diff), and the data plane's table as the kernel
// has it, laid out like ipvsadm -Ln [--stats].
import { allUpTable } from '../dataplane/desired.js';
import { chooseDataplane, createDataplane } from '../dataplane/index.js';
import { NftablesDataplane } from '../dataplane/nftables/index.js';
import { IpvsDataplane } from '../dataplane/ipvs/index.js';
import { renderTable } from '../dataplane/show.js';
import type { Change, Dataplane, DataplaneKind, DesiredService, ReconcileReport } from '../dataplane/types.js';
import { Drainer } from '../dataplane/drain.js';
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { loadConfig, selectNode } from '../config/load.js';
import { EXIT, UsageError, type IO } from './main.js';
import { existsSync, readFileSync } from 'node:fs';

interface ApplyOpts {
  node?: string;
  configId?: string;
  dataplane?: string;
  dryRun?: boolean;
  json?: boolean;
  drain?: string;
  masquerade?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The destinations programmed now, as desired-state entries of the services in `desired`. */
async function programmed(dp: Dataplane, desired: readonly DesiredService[]): Promise<DesiredService[]> {
  const byKey = new Map(desired.map((d) => [d.vsKey, d]));
  const out: DesiredService[] = [];
  for (const s of await dp.stats()) {
    const ds = byKey.get(s.vsKey);
    if (!ds) continue;
    out.push({
      ...ds,
      dests: s.dests.map((d) => ({ address: d.address, family: d.family, ...(d.port !== undefined ? { port: d.port } : {}), weight: d.weight, forwarding: { kind: d.forwarding === 'Route' ? 'DR' : 'NAT' }, key: d.key })),
    });
  }
  return out;
}

/**
 * Removes destinations gracefully: those no longer configured stay at weight 0 until
 * their connections end or `timeoutS` passes, polling once a second.
 */
async function applyDraining(dp: Dataplane, desired: DesiredService[], timeoutS: number, io: IO): Promise<ReconcileReport> {
  const drainer = new Drainer(timeoutS * 1000);
  drainer.seed(dp instanceof IpvsDataplane ? await dp.programmed(desired) : await programmed(dp, desired));
  const t0 = Date.now();
  let step = drainer.step(desired, Date.now());
  const first = await dp.reconcile(step.effective, { full: true });
  for (const c of first.changes) io.out(formatChange(c) + '\n');
  for (const e of step.draining) io.out(`draining ${e.vsKey} -> ${e.dest.key} (weight 0 until its connections end, at most ${timeoutS} s)\n`);
  while (step.draining.length) {
    await sleep(1000);
    step = drainer.step(desired, Date.now(), await dp.activeConnections());
    for (const f of step.finished) io.out(`${f.reason === 'drained' ? 'drained' : f.reason === 'timeout' ? 'drain timed out' : 'returned'}: ${f.vsKey} -> ${f.dest.key} after ${((Date.now() - f.since) / 1000).toFixed(1)} s\n`);
    if (step.finished.length) {
      const r = await dp.reconcile(step.effective);
      for (const c of r.changes) io.out(formatChange(c) + '\n');
    }
  }
  return { ...first, ms: Date.now() - t0 };
}

function kindOf(s: string | undefined): DataplaneKind {
  if (s === undefined || s === 'auto') return chooseDataplane().kind;
  if (s === 'nftables' || s === 'userspace' || s === 'ipvs') return s;
  throw new UsageError(`--dataplane must be auto, nftables, ipvs or userspace, not "${s}"`);
}

export function formatChange(c: Change): string {
  const sign = c.op === 'add' ? '+' : c.op === 'delete' ? '-' : '~';
  return `${sign} ${c.object}${c.detail ? `  (${c.detail})` : ''}${c.drift ? '  [drift repaired]' : ''}`;
}

export async function applyCommand(files: string[], o: ApplyOpts, io: IO): Promise<number> {
  for (const f of files) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const kind = kindOf(o.dataplane);
  const cfg = loadConfig(files, { ...(o.configId !== undefined ? { configId: o.configId } : {}), ...(o.node !== undefined ? { node: o.node } : {}) });
  const errors = cfg.diagnostics.filter((d) => d.severity === 'error');
  for (const g of groupDiagnostics(cfg.diagnostics)) io.err(formatGroup(g) + '\n');
  if (errors.length) {
    io.err(`haldir: nothing applied: the configuration has ${errors.length} error(s)\n`);
    return EXIT.invalid;
  }
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new UsageError(sel.error);
  const model = sel.model!;
  if (o.masquerade && kind !== 'nftables') throw new UsageError('--masquerade is an nftables NAT option (the userspace proxy always connects from the director)');
  const dp = createDataplane(kind, { masquerade: !!o.masquerade, ...(kind === 'ipvs' ? { groups: model.virtualServerGroups, lvs: model.global.lvs } : {}) });
  const refused = dp.unsupported(model.virtualServers);
  for (const u of refused) {
    const at = u.vs.src ? `${u.vs.src.file}:${u.vs.src.line}: ` : '';
    io.err(`${at}error: ${u.message}\n`);
  }
  if (refused.length) {
    io.err(`haldir: nothing applied: the ${kind} data plane cannot program ${refused.length} service setting(s) above\n`);
    return EXIT.invalid;
  }
  let report;
  const drain = o.drain !== undefined ? Number(o.drain) : undefined;
  if (drain !== undefined && !(drain >= 0 && drain <= 86400)) throw new UsageError(`--drain takes seconds (0–86400), not "${o.drain}"`);
  try {
    report =
      drain !== undefined && !o.dryRun && (kind === 'nftables' || kind === 'ipvs')
        ? await applyDraining(dp, allUpTable(model), drain, io)
        : await dp.reconcile(allUpTable(model), { dryRun: !!o.dryRun, full: true });
  } catch (e) {
    io.err(`haldir: ${kind}: ${(e as Error).message}\n`);
    if (kind === 'ipvs') await dp.close();
    return EXIT.invalid;
  }
  if (kind === 'ipvs') await dp.close();
  if (o.json) io.out(JSON.stringify(report, null, 2) + '\n');
  else {
    if (drain === undefined) {
      // A first apply at scale is tens of thousands of elements: show the start and count the rest.
      const shown = report.changes.length > 200 ? report.changes.slice(0, 100) : report.changes;
      for (const c of shown) io.out(formatChange(c) + '\n');
      if (shown.length < report.changes.length) io.out(`… and ${report.changes.length - shown.length} more change(s) (--json lists all)\n`);
    }
    const verb = o.dryRun ? 'would apply' : report.applied ? 'applied' : 'no change needed';
    io.out(`${kind}: ${verb}: ${report.changes.length} change(s) in ${report.ms.toFixed(1)} ms${report.note ? ` (${report.note})` : ''}\n`);
  }
  for (const e of report.errors ?? []) io.err(`error: ${e}\n`);
  if (kind === 'userspace' && !o.dryRun) {
    io.out('userspace: proxying until SIGINT or SIGTERM\n');
    await new Promise<void>((res) => {
      process.once('SIGINT', res);
      process.once('SIGTERM', res);
    });
    await dp.close({ flush: true });
  }
  return report.errors?.length ? EXIT.invalid : EXIT.ok;
}

export async function dataplaneShowCommand(o: { dataplane?: string; stats?: boolean; json?: boolean }, io: IO): Promise<number> {
  const auto = o.dataplane === undefined || o.dataplane === 'auto';
  const kind = auto ? (chooseDataplane().kind === 'ipvs' ? 'ipvs' : 'nftables') : kindOf(o.dataplane);
  if (kind === 'ipvs') {
    // Exactly what `ipvsadm -Ln [--stats]` prints; --json: the same table with haldir's keys.
    const dp = new IpvsDataplane({ stateFile: false, sysctls: false });
    try {
      io.out(o.json ? JSON.stringify(await dp.stats(), null, 2) + '\n' : await dp.show({ stats: !!o.stats }));
    } catch (e) {
      io.err(`haldir: ipvs: ${(e as Error).message}\n`);
      return EXIT.invalid;
    } finally {
      await dp.close();
    }
    return EXIT.ok;
  }
  if (kind !== 'nftables') throw new UsageError(`dataplane show reads kernel state: --dataplane ${kind} has none to read (the userspace proxy lives in its process)`);
  const stats = await new NftablesDataplane().stats();
  if (o.json) io.out(JSON.stringify(stats, null, 2) + '\n');
  else io.out(renderTable(stats, { stats: !!o.stats, title: 'haldir nftables data plane (tables ip/ip6/netdev haldir)' }));
  return EXIT.ok;
}

/** `haldir reload`: the same validation the daemon will do, then SIGHUP to the PID in the file. */
export function reloadCommand(files: string[], o: { node?: string; configId?: string; pidFile: string }, io: IO): number {
  for (const f of files) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const cfg = loadConfig(files, { ...(o.configId !== undefined ? { configId: o.configId } : {}), ...(o.node !== undefined ? { node: o.node } : {}) });
  for (const g of groupDiagnostics(cfg.diagnostics)) io.err(formatGroup(g) + '\n');
  const errors = cfg.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors) {
    io.err(`haldir: not reloaded: the configuration has ${errors} error(s); the running configuration keeps serving\n`);
    return EXIT.invalid;
  }
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new UsageError(sel.error);
  let pid: number;
  try {
    pid = Number(readFileSync(o.pidFile, 'utf8').trim());
  } catch (e) {
    io.err(`haldir: cannot read ${o.pidFile}: ${(e as Error).message} (is haldir run started with --pid-file ${o.pidFile}?)\n`);
    return EXIT.invalid;
  }
  if (!Number.isInteger(pid) || pid <= 1) {
    io.err(`haldir: ${o.pidFile} does not hold a PID\n`);
    return EXIT.invalid;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    io.err(`haldir: cannot signal PID ${pid} from ${o.pidFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (not running?)\n`);
    return EXIT.invalid;
  }
  io.out(`haldir: configuration valid; reload requested from PID ${pid}\n`);
  return EXIT.ok;
}
