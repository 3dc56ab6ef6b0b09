// `haldir realserver setup|check|teardown` and `haldir doctor`: option parsing
// and output around src/host (planning there is pure; this file reads the
// facts, applies the steps with rollback, and prints every change and finding).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, selectNode } from '../config/load.js';
import { formatGroup, groupDiagnostics } from '../config/diagnostics.js';
import { renderDoctor } from '../host/doctor.js';
import { runDoctor } from '../host/doctor-run.js';
import { confKey } from '../host/facts.js';
import { persistFiles } from '../host/persist.js';
import {
  describeChange,
  mergeState,
  planSetup,
  planTeardown,
  stateProblem,
  type Problem,
  type RsMode,
  type RsState,
  type Scope,
  type SetupPlan,
  type StateFile,
} from '../host/realserver.js';
import { fileRestoreStep, fileWriteStep, gatherFacts, KernelSteps, readCurrent, runSteps, type Step } from '../host/system.js';
import type { NodeModel } from '../model/types.js';
import { EXIT, UsageError, type IO } from './main.js';

export interface RealserverOpts {
  vip?: string;
  mode?: string;
  iface?: string;
  scope?: string;
  persist?: boolean;
  root?: string;
  stateFile?: string;
  dryRun?: boolean;
  json?: boolean;
}

const DEFAULT_STATE = 'var/lib/haldir/realserver.json';

function rootOf(o: { root?: string }): string {
  const root = o.root ?? '/';
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`--root ${root}: not a directory`);
  return root;
}

const statePath = (o: { root?: string; stateFile?: string }): string => o.stateFile ?? join(rootOf(o), DEFAULT_STATE);

function parseMode(m: string | undefined, allowNat = false): RsMode | 'nat' {
  const v = (m ?? 'dr').toLowerCase();
  if (v === 'dr' || v === 'tun' || (allowNat && v === 'nat')) return v as RsMode;
  throw new UsageError(`--mode ${m}: expected dr or tun${allowNat ? ' or nat' : ''}${v === 'nat' && !allowNat ? ' (NAT real servers need no preparation beyond their default gateway: see haldir doctor --mode nat)' : ''}`);
}

function parseScope(s: string | undefined): 'auto' | Scope {
  const v = (s ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'global' || v === 'targeted') return v;
  throw new UsageError(`--scope ${s}: expected auto, global or targeted`);
}

const splitList = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim().replace(/\/(32|128)$/, ''))
    .filter((x) => x !== '');

/** The setup record, or undefined when there is none; throws a readable error when it is damaged. */
function readState(path: string): RsState | undefined {
  if (!existsSync(path)) return undefined;
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}); move it away to start over`);
  }
  const bad = stateProblem(j);
  if (bad) throw new Error(`${path}: not a haldir realserver record: ${bad}`);
  return j as RsState;
}

function printProblems(errors: Problem[], io: IO): void {
  for (const e of errors) {
    io.err(`haldir: ${e.message}\n`);
    if (e.fix) io.err(`  fix: ${e.fix}\n`);
  }
}

function printHeader(p: SetupPlan, io: IO): void {
  io.out(`mode: ${p.mode.toUpperCase()}, VIP ${p.vips.map((v) => v.address).join(', ')} on ${p.vipDevice}${p.iface ? `, facing ${p.iface} (${p.ifaceWhy})` : ''}\n`);
  if (p.iface) io.out(`scope: ${p.scope} — ${p.scopeWhy}\n`);
  for (const w of p.warnings) io.out(`warning: ${w}\n`);
}

const why = (c: SetupPlan['changes'][number]): string => `${describeChange(c)}  (${c.why})`;

function fail(io: IO, msg: string): number {
  io.err(`haldir: ${msg}\n`);
  return EXIT.invalid;
}

export function realserverSetup(o: RealserverOpts, io: IO): number {
  const vips = splitList(o.vip);
  if (vips.length === 0) throw new UsageError('--vip is required (A.B.C.D[,A.B.C.D…])');
  const mode = parseMode(o.mode) as RsMode;
  const scope = parseScope(o.scope);
  const root = rootOf(o);
  const sp = statePath(o);
  let prev: RsState | undefined;
  try {
    prev = readState(sp);
  } catch (e) {
    return fail(io, (e as Error).message);
  }
  const facts = gatherFacts();
  // A later setup keeps the scope of the first one: teardown restores one consistent set.
  const keep = prev && o.scope === undefined && prev.iface ? { scope: prev.scope, from: `the setup record ${sp}` } : { scope };
  const plan = planSetup(facts, { vips, mode, ...keep, ...(o.iface !== undefined ? { iface: o.iface } : {}) });
  printHeader(plan, io);
  if (plan.errors.length > 0) {
    printProblems(plan.errors, io);
    io.err('haldir: nothing changed\n');
    return EXIT.invalid;
  }
  for (const s of plan.satisfied) io.out(`  ok ${s}\n`);

  // The record and the files depend on the merged state (earlier setups included).
  let state: RsState = { ...mergeState(prev, plan), root: prev?.root ?? root };
  const fileSteps: Step[] = [];
  if (o.persist) {
    const files: StateFile[] = [];
    for (const f of persistFiles(state, root)) {
      const cur = readCurrent(f.path);
      const same = f.symlink !== undefined ? cur.symlink === f.symlink : cur.content === f.content;
      if (!state.files.some((x) => x.path === f.path)) files.push({ path: f.path, before: cur.content, ...(cur.symlink !== undefined ? { symlink: cur.symlink } : {}) });
      if (!same) fileSteps.push(fileWriteStep(f.path, f.symlink !== undefined ? { symlink: f.symlink } : { content: f.content! }, f.symlink !== undefined ? `link ${f.path} -> ${f.symlink}` : `write ${f.path}`));
    }
    state = { ...mergeState(prev, plan, files), root: prev?.root ?? root };
  }
  const stateText = JSON.stringify(state, null, 2) + '\n';
  const stateChanged = readCurrent(sp).content !== stateText;

  if (o.dryRun) {
    for (const c of plan.changes) io.out(`  would ${why(c)}\n`);
    for (const s of fileSteps) io.out(`  would ${s.text}\n`);
    if (stateChanged) io.out(`  would record the values before setup in ${sp}\n`);
    io.out(plan.changes.length + fileSteps.length === 0 ? 'nothing to change\n' : `dry run: ${plan.changes.length + fileSteps.length} change(s) not applied\n`);
    return EXIT.ok;
  }
  if (plan.changes.length === 0 && fileSteps.length === 0 && !stateChanged) {
    io.out('nothing to change: already set up\n');
    return EXIT.ok;
  }
  let kernel: KernelSteps;
  try {
    kernel = new KernelSteps(facts);
  } catch (e) {
    return fail(io, `${(e as Error).message}; nothing changed`);
  }
  try {
    const steps: Step[] = plan.changes.map((c) => ({ ...kernel.step(c), text: why(c) }));
    steps.push(...fileSteps);
    if (stateChanged) steps.push(fileWriteStep(sp, { content: stateText }, `record the values before setup in ${sp}`));
    const r = runSteps(steps, (l) => io.out(`${l}\n`));
    if (!r.ok) {
      io.err(`haldir: setup failed at "${r.failed!.text}": ${r.failed!.error}\n`);
      if (r.undoFailed.length > 0) {
        io.err(`haldir: rollback incomplete — undo by hand:\n`);
        for (const u of r.undoFailed) io.err(`  ${u.text}: ${u.error}\n`);
      } else io.err(`haldir: nothing changed (${r.undone.length} step(s) rolled back)\n`);
      return EXIT.invalid;
    }
  } finally {
    kernel.close();
  }
  io.out(`done: ${plan.changes.length + fileSteps.length} change(s); haldir realserver teardown${o.stateFile ? ` --state-file ${sp}` : ''} restores the values from before\n`);
  if (fileSteps.length > 0) io.out('persisted: run systemctl daemon-reload so systemd sees the unit\n');
  return EXIT.ok;
}

export function realserverCheck(o: RealserverOpts, io: IO): number {
  const sp = statePath(o);
  let state: RsState | undefined;
  try {
    state = readState(sp);
  } catch (e) {
    return fail(io, (e as Error).message);
  }
  const root = o.root !== undefined ? rootOf(o) : (state?.root ?? '/');
  let vips = splitList(o.vip);
  let mode = o.mode !== undefined ? (parseMode(o.mode) as RsMode) : undefined;
  let scope = o.scope !== undefined ? parseScope(o.scope) : undefined;
  let iface = o.iface;
  if (vips.length === 0) {
    if (!state) throw new UsageError(`--vip is required (there is no setup record at ${sp})`);
    vips = state.vips.map((v) => v.address);
  }
  if (state) {
    mode ??= state.mode;
    scope ??= state.scope;
    iface ??= state.iface || undefined;
  }
  const facts = gatherFacts();
  const fromRecord = state && o.iface === undefined && o.scope === undefined ? { from: `the setup record ${sp}` } : {};
  const plan = planSetup(facts, { vips, mode: mode ?? 'dr', scope: scope ?? 'auto', ...(iface !== undefined ? { iface } : {}), ...fromRecord });
  const items: { ok: boolean; what: string; why?: string }[] = [];
  for (const s of plan.satisfied) items.push({ ok: true, what: s });
  for (const c of plan.changes) items.push({ ok: false, what: `needs: ${describeChange(c)}`, why: c.why });
  for (const e of plan.errors) items.push({ ok: false, what: e.message, ...(e.fix ? { why: `fix: ${e.fix}` } : {}) });
  // Persisted files: as setup --persist would write them now.
  if (o.persist || (state && state.files.length > 0)) {
    const want = mergeState(state, plan);
    for (const f of persistFiles(want, root)) {
      const cur = readCurrent(f.path);
      const ok = f.symlink !== undefined ? cur.symlink === f.symlink : cur.content === f.content;
      items.push({ ok, what: `${ok ? '' : 'needs: '}${f.path}${ok ? ' as setup writes it' : cur.content === null && cur.symlink === undefined ? ' (missing)' : ' (differs)'}` });
    }
  }
  const ok = items.every((i) => i.ok);
  if (o.json) io.out(JSON.stringify({ ok, mode: plan.mode, iface: plan.iface, scope: plan.scope, scopeWhy: plan.scopeWhy, items, warnings: plan.warnings }, null, 2) + '\n');
  else {
    printHeader(plan, io);
    for (const i of items) io.out(`  ${i.ok ? 'ok     ' : 'MISSING'} ${i.what}${i.why ? `  (${i.why})` : ''}\n`);
    io.out(ok ? 'real server ready\n' : `not ready: ${items.filter((i) => !i.ok).length} item(s) missing; haldir realserver setup fixes them\n`);
  }
  return ok ? EXIT.ok : EXIT.invalid;
}

export function realserverTeardown(o: RealserverOpts, io: IO): number {
  const sp = statePath(o);
  let state: RsState | undefined;
  try {
    state = readState(sp);
  } catch (e) {
    return fail(io, (e as Error).message);
  }
  if (!state) {
    io.out(`nothing to tear down: no setup record at ${sp}\n`);
    return EXIT.ok;
  }
  const facts = gatherFacts();
  const t = planTeardown(facts, state);
  for (const w of t.warnings) io.out(`warning: ${w}\n`);
  for (const s of t.satisfied) io.out(`  ok ${s}\n`);
  const fileSteps = [...state.files].reverse().map((f) => fileRestoreStep(f.path, f.before, f.symlink));
  if (o.dryRun) {
    for (const c of t.changes) io.out(`  would ${describeChange(c)}\n`);
    for (const s of fileSteps) io.out(`  would ${s.text}\n`);
    io.out(`  would remove ${sp}\n`);
    return EXIT.ok;
  }
  let kernel: KernelSteps;
  try {
    kernel = new KernelSteps(facts);
  } catch (e) {
    return fail(io, `${(e as Error).message}; nothing changed`);
  }
  try {
    const steps: Step[] = t.changes.map((c) => kernel.step(c));
    steps.push(...fileSteps, fileRestoreStep(sp, null));
    const r = runSteps(steps, (l) => io.out(`${l}\n`));
    if (!r.ok) {
      io.err(`haldir: teardown failed at "${r.failed!.text}": ${r.failed!.error}\n`);
      io.err(r.undoFailed.length ? `haldir: rollback incomplete: ${r.undoFailed.map((u) => u.text).join('; ')}\n` : `haldir: nothing changed (${r.undone.length} step(s) rolled back)\n`);
      return EXIT.invalid;
    }
  } finally {
    kernel.close();
  }
  const restored = t.changes.filter((c) => c.kind === 'sysctl').map((c) => (c.kind === 'sysctl' ? `${confKey(c.ifname, c.param)}=${c.to}` : ''));
  io.out(`done: restored ${restored.length ? restored.join(', ') : 'no sysctl'}; ${t.changes.filter((c) => c.kind === 'address-del').length} VIP(s) removed\n`);
  return EXIT.ok;
}

// ---- doctor -------------------------------------------------------------------------------------

export interface DoctorCliOpts {
  node?: string;
  configId?: string;
  vip?: string;
  mode?: string;
  director?: string;
  stateFile?: string;
  root?: string;
  listen?: string;
  probe?: boolean;
  probeVrid?: string;
  vrrpIface?: string;
  expectConnections?: string;
  connectTimeout?: string;
  role?: string;
  json?: boolean;
}

function num(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name} ${v}: expected a number from ${min} to ${max}`);
  return n;
}

export async function doctorCommand(files: string[], o: DoctorCliOpts, io: IO): Promise<number> {
  let config: { model?: NodeModel; all: NodeModel[] } | undefined;
  if (files.length > 0) {
    for (const f of files) if (!existsSync(f) || !statSync(f).isFile()) throw new UsageError(`no such file: ${f}`);
    const cfg = loadConfig(files, { ...(o.configId !== undefined ? { configId: o.configId } : {}), ...(o.node !== undefined ? { node: o.node } : {}) });
    const errs = cfg.diagnostics.filter((d) => d.severity === 'error');
    if (errs.length > 0) {
      for (const g of groupDiagnostics(errs)) io.err(formatGroup(g) + '\n');
      io.err(`haldir: doctor needs a valid configuration: ${errs.length} error(s) (haldir validate shows them all)\n`);
      return EXIT.invalid;
    }
    const all = cfg.nodes.map((n) => cfg.models.get(n)!);
    // One node, or the one named: this host is its director. Several and none named: a real server of their services.
    let model: NodeModel | undefined;
    if (o.node !== undefined || cfg.nodes.length === 1) {
      const sel = selectNode(cfg, o.node);
      if (sel.error) throw new UsageError(sel.error);
      model = sel.model!;
    } else if (o.role === 'director') throw new UsageError(`--role director: choose the node with --node (${cfg.nodes.join(', ')})`);
    config = { ...(model ? { model } : {}), all };
  } else if (o.node !== undefined) throw new UsageError('--node needs a configuration file');
  const mode = o.mode !== undefined ? (parseMode(o.mode, true) as 'dr' | 'tun' | 'nat') : undefined;
  const vips = splitList(o.vip);
  const director = splitList(o.director);
  const r = await runDoctor({
    ...(config ? { config } : {}),
    role: (o.role ?? 'auto') as 'auto' | 'director' | 'realserver',
    vips,
    ...(mode ? { mode } : {}),
    director,
    stateFile: statePath(o),
    listenMs: num('--listen', o.listen, 3, 0.5, 60) * 1000,
    probe: o.probe !== false,
    ...(o.probeVrid !== undefined ? { probeVrid: num('--probe-vrid', o.probeVrid, 255, 1, 255) } : {}),
    vrrpIfaces: splitList(o.vrrpIface),
    expectConnections: num('--expect-connections', o.expectConnections, 65536, 1, 2 ** 31),
    connectTimeoutMs: num('--connect-timeout', o.connectTimeout, 2, 0.1, 60) * 1000,
  });
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  if (o.json) io.out(JSON.stringify({ ok: errors === 0, roles: r.roles, findings: r.findings, interfaces: r.rows, lag: r.input.lag, vrrp: r.input.vrrp, targets: r.input.targets }, null, 2) + '\n');
  else io.out(renderDoctor(r.findings, r.rows, r.roles));
  return errors > 0 ? EXIT.invalid : EXIT.ok;
}
