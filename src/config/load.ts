// One entry point for every front end: a cluster YAML file, or one or more
// keepalived.conf files (one per node), become node models plus diagnostics.
// Semantic validation runs here too, so every command sees the same verdict.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { NodeModel } from '../model/types.js';
import { checkCluster } from '../model/consistency.js';
import { validateNode } from '../model/validate.js';
import { loadClusterFile } from './cluster/load.js';
import { Diagnostics, type Diagnostic } from './diagnostics.js';
import { isKeepalivedReadingCode } from './keepalived/ka-compare.js';
import { loadKeepalivedFile } from './keepalived/load.js';

export type ConfigKind = 'cluster' | 'keepalived';

export interface LoadOptions {
  /** keepalived -i: selects @id lines. */
  configId?: string;
  /** Treat the input as this kind instead of guessing from the name and content. */
  kind?: ConfigKind;
  /** Run the semantic checks on this node's view only (default: every node). */
  node?: string;
  /**
   * keepalived.conf files: load each exactly as keepalived 2.2 reads it (the
   * cluster the operator would really get), and make every place where
   * keepalived reads it differently from haldir an error.
   */
  strictKeepalived?: boolean;
}

export interface LoadedConfig {
  kind: ConfigKind;
  files: string[];
  /** Node names in file order. */
  nodes: string[];
  models: Map<string, NodeModel>;
  diagnostics: Diagnostic[];
}

/** .yaml/.yml, or a first meaningful line that looks like a YAML mapping key. */
export function detectKind(path: string): ConfigKind {
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'cluster';
  if (ext === '.conf') return 'keepalived';
  let text = '';
  try {
    text = readFileSync(path, 'utf8').slice(0, 4096);
  } catch {
    return 'keepalived';
  }
  const first = text.split('\n').find((l) => l.trim() !== '' && !/^\s*[#!]/.test(l)) ?? '';
  return /^[A-Za-z_][\w-]*:(\s|$)/.test(first) || first.startsWith('---') ? 'cluster' : 'keepalived';
}

/**
 * Loads `files`: one cluster YAML, or keepalived.conf files (each one node; the
 * node is named after router_id, else the file name). `node` narrows the result.
 */
export function loadConfig(files: string[], opts: LoadOptions = {}): LoadedConfig {
  const diags = new Diagnostics();
  const kinds = files.map((f) => opts.kind ?? detectKind(f));
  const models = new Map<string, NodeModel>();
  const nodes: string[] = [];
  const kind: ConfigKind = kinds.includes('cluster') ? 'cluster' : 'keepalived';
  if (kind === 'cluster') {
    if (files.length !== 1) {
      diags.error('usage', 'give one cluster file (it describes every node), or keepalived.conf files', undefined);
      return { kind, files, nodes, models, diagnostics: diags.items };
    }
    const r = loadClusterFile(files[0]!);
    for (const d of r.diagnostics) diags.add(d);
    for (const n of r.nodes) {
      const m = r.models.get(n);
      if (!m) continue;
      nodes.push(n);
      models.set(n, m);
    }
  } else {
    for (const f of files) {
      const r = loadKeepalivedFile(f, { ...(opts.configId !== undefined ? { configId: opts.configId } : {}), ...(opts.strictKeepalived ? { strictKeepalived: true } : {}) });
      for (const d of r.diagnostics) diags.add(d);
      let name = r.model.global.routerId ?? basename(f).replace(/\.conf$/, '');
      if (models.has(name)) name = basename(f);
      r.model.node = name;
      nodes.push(name);
      models.set(name, r.model);
    }
  }
  // Semantic checks only on models whose syntax was sound: they would repeat the errors.
  // keepalived reading a file differently is no such error: the model is then keepalived's, and sound.
  const wanted = opts.node === undefined ? nodes : nodes.filter((n) => n.toLowerCase() === opts.node!.toLowerCase());
  if (!diags.items.some((d) => d.severity === 'error' && !isKeepalivedReadingCode(d.code))) {
    for (const n of wanted) for (const d of validateNode(models.get(n)!)) diags.add(d);
    // The nodes against each other (with --node: the findings that involve that node).
    const only = opts.node !== undefined ? { node: opts.node } : {};
    for (const d of checkCluster(nodes.map((n) => models.get(n)!), only)) diags.add(d);
  }
  return { kind, files, nodes, models, diagnostics: diags.items };
}

/** Picks one node's model; `undefined` node is fine when there is exactly one. */
export function selectNode(cfg: LoadedConfig, node: string | undefined): { model?: NodeModel; error?: string } {
  if (node !== undefined) {
    const m = cfg.models.get(node);
    if (m) return { model: m };
    // keepalived input: router_id LB1 vs --node lb1.
    const ci = cfg.nodes.find((n) => n.toLowerCase() === node.toLowerCase());
    if (ci) return { model: cfg.models.get(ci)! };
    return { error: `no node "${node}" (nodes: ${cfg.nodes.join(', ') || 'none'})` };
  }
  if (cfg.nodes.length === 1) return { model: cfg.models.get(cfg.nodes[0]!)! };
  return { error: `this configuration has ${cfg.nodes.length} nodes (${cfg.nodes.join(', ')}); choose one with --node` };
}
