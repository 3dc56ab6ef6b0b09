// The configuration commands: validate, plan, export, schema. Each loads the
// files through the one front-end entry (config/load.ts), prints diagnostics
// the same way, and returns an exit code.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { clusterJsonSchema } from '../config/cluster/schema.js';
import { exportClusterYaml } from '../config/cluster/export.js';
import { formatGroup, groupDiagnostics, sortDiagnostics, type Diagnostic } from '../config/diagnostics.js';
import { exportKeepalived } from '../config/keepalived/export.js';
import { isKeepalivedReadingCode } from '../config/keepalived/ka-compare.js';
import { loadConfig, selectNode, type LoadedConfig } from '../config/load.js';
import { planNode, renderPlan } from '../model/plan.js';
import { RULES } from '../model/validate.js';
import { CLUSTER_RULES } from '../model/consistency.js';
import { checkOnce, renderOnce } from '../health/once.js';
import { createRunCheck } from '../health/checkers/index.js';
import { formatGenhash, genhash } from '../health/genhash.js';
import { stripSrc } from '../model/compare.js';
import { EXIT, UsageError, type IO } from './main.js';

interface CommonOpts {
  node?: string;
  configId?: string;
  json?: boolean;
  strict?: boolean;
  output?: string;
  strictKeepalived?: boolean;
}

function checkFiles(files: string[]): void {
  for (const f of files) {
    if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
    if (!statSync(f).isFile()) throw new UsageError(`not a file: ${f}`);
  }
}

function load(files: string[], o: CommonOpts): LoadedConfig {
  checkFiles(files);
  return loadConfig(files, {
    ...(o.configId !== undefined ? { configId: o.configId } : {}),
    ...(o.node !== undefined ? { node: o.node } : {}),
    ...(o.strictKeepalived ? { strictKeepalived: true } : {}),
  });
}

function printDiagnostics(ds: Diagnostic[], io: IO): void {
  for (const g of groupDiagnostics(ds)) io.err(formatGroup(g) + '\n');
}

function counts(ds: Diagnostic[]): { errors: number; warnings: number } {
  const errors = ds.filter((d) => d.severity === 'error').length;
  return { errors, warnings: ds.length - errors };
}

/** Diagnostics that belong to the chosen node (a cluster file reports for all nodes). */
function plural(n: number, w: string): string {
  return `${n} ${w}${n === 1 ? '' : 's'}`;
}

export function validateCommand(files: string[], o: CommonOpts, io: IO): number {
  const cfg = load(files, o);
  if (o.node !== undefined) {
    const sel = selectNode(cfg, o.node);
    if (sel.error) throw new UsageError(sel.error);
  }
  const ds = cfg.diagnostics;
  const { errors, warnings } = counts(ds);
  const valid = errors === 0 && !(o.strict && warnings > 0);
  if (o.json) {
    io.out(
      JSON.stringify(
        { valid, kind: cfg.kind, files: cfg.files, nodes: cfg.nodes, errors, warnings, diagnostics: sortDiagnostics(ds) },
        null,
        2,
      ) + '\n',
    );
  } else {
    printDiagnostics(ds, io);
    const what = cfg.kind === 'cluster' ? `cluster file (${plural(cfg.nodes.length, 'node')}: ${cfg.nodes.join(', ')})` : `keepalived configuration (${cfg.nodes.join(', ')})`;
    io.out(`${files.join(', ')}: ${valid ? 'valid' : 'INVALID'} ${what}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`);
  }
  return valid ? EXIT.ok : EXIT.invalid;
}

export function planCommand(files: string[], o: CommonOpts, io: IO): number {
  const cfg = load(files, o);
  const { errors } = counts(cfg.diagnostics);
  // --strict-keepalived: keepalived reading the file differently is an error, and the plan shows what keepalived would program.
  const kaOnly = o.strictKeepalived === true && cfg.diagnostics.every((d) => d.severity !== 'error' || isKeepalivedReadingCode(d.code));
  if (errors > 0 && !kaOnly) {
    printDiagnostics(cfg.diagnostics, io);
    io.err(`haldir: no plan: the configuration has ${plural(errors, 'error')}\n`);
    return EXIT.invalid;
  }
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new UsageError(sel.error);
  printDiagnostics(cfg.diagnostics, io);
  const plan = planNode(sel.model!);
  io.out(o.json ? JSON.stringify(plan, null, 2) + '\n' : renderPlan(plan));
  if (errors > 0) io.err(`haldir: this is what keepalived would program; it reads the configuration differently from haldir in ${plural(errors, 'place')}\n`);
  return errors > 0 ? EXIT.invalid : EXIT.ok;
}

export function exportCommand(to: 'keepalived' | 'yaml', files: string[], o: CommonOpts, io: IO): number {
  const cfg = load(files, o);
  const { errors } = counts(cfg.diagnostics);
  if (errors > 0) {
    printDiagnostics(cfg.diagnostics, io);
    io.err(`haldir: nothing exported: the configuration has ${plural(errors, 'error')}\n`);
    return EXIT.invalid;
  }
  let text: string;
  if (to === 'keepalived') {
    const sel = selectNode(cfg, o.node);
    if (sel.error) throw new UsageError(sel.error);
    text = exportKeepalived(sel.model!);
  } else {
    text = exportClusterYaml(cfg.nodes.map((n) => stripSrc(cfg.models.get(n)!)));
  }
  if (o.output) {
    writeFileSync(o.output, text);
    io.err(`haldir: wrote ${o.output}\n`);
  } else io.out(text);
  return EXIT.ok;
}

export function schemaCommand(o: CommonOpts, io: IO): number {
  const text = JSON.stringify(clusterJsonSchema(), null, 2) + '\n';
  if (o.output) writeFileSync(o.output, text);
  else io.out(text);
  return EXIT.ok;
}

export function rulesCommand(o: CommonOpts, io: IO): number {
  // Per-node rules, then the cross-node ones (validate with several nodes' files).
  const all = [...RULES, ...CLUSTER_RULES];
  if (o.json) io.out(JSON.stringify(all.map((r) => ({ code: r.code, severity: r.severity, describe: r.describe })), null, 2) + '\n');
  else {
    const w = Math.max(...all.map((r) => r.code.length));
    for (const r of all) io.out(`${r.code.padEnd(w)}  ${r.severity.padEnd(7)}  ${r.describe}\n`);
  }
  return EXIT.ok;
}

export async function checkCommand(files: string[], o: CommonOpts & { once?: boolean }, io: IO): Promise<number> {
  if (!o.once) throw new UsageError('haldir check runs one round and exits: give --once (the continuous checks are part of haldir run)');
  const cfg = load(files, o);
  const { errors } = counts(cfg.diagnostics);
  if (errors > 0) {
    printDiagnostics(cfg.diagnostics, io);
    io.err(`haldir: no checks run: the configuration has ${plural(errors, 'error')}\n`);
    return EXIT.invalid;
  }
  const sel = selectNode(cfg, o.node);
  if (sel.error) throw new UsageError(sel.error);
  const model = sel.model!;
  const servers = await checkOnce(model, createRunCheck({ trackFiles: model.trackFiles }));
  io.out(o.json ? JSON.stringify(servers, null, 2) + '\n' : renderOnce(servers));
  // Exit 1 when a real server is down, so scripts can use it.
  return servers.every((s) => s.up) ? EXIT.ok : EXIT.invalid;
}

export async function genhashCommand(o: { url: string; virtualhost?: string; ssl?: boolean; sni?: string | boolean; timeout?: string; verbose?: boolean }, io: IO): Promise<number> {
  const timeoutMs = o.timeout === undefined ? undefined : Number(o.timeout) * 1000;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError(`--timeout takes seconds, got "${o.timeout}"`);
  try {
    const r = await genhash({
      url: o.url,
      ...(o.virtualhost !== undefined ? { virtualhost: o.virtualhost } : {}),
      ...(o.ssl ? { ssl: true } : {}),
      ...(typeof o.sni === 'string' ? { sniName: o.sni } : o.sni ? { sni: true } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    const text = formatGenhash(r, { verbose: o.verbose === true });
    io.out(text.endsWith('\n') ? text : text + '\n');
    return EXIT.ok;
  } catch (e) {
    io.err(`haldir genhash: ${(e as Error).message}\n`);
    return EXIT.invalid;
  }
}
