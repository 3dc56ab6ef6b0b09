// Loading a cluster file: YAML (with positions) → schema check → one NodeModel
// per node. Every problem is reported with file:line:col; models are only
// returned when there is no error, so nothing half-read reaches a data plane.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { NodeModel } from '../../model/types.js';
import { didYouMean, Diagnostics, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { expandCluster } from './expand.js';
import { reportIssues } from './issues.js';
import { Positions } from './positions.js';
import { clusterSchema } from './schema.js';

export interface ClusterLoad {
  /** Node names in file order (empty when the file cannot be read as a cluster). */
  nodes: string[];
  /** One model per node; empty if there are errors. */
  models: Map<string, NodeModel>;
  diagnostics: Diagnostic[];
}

export function loadClusterText(text: string, file: string): ClusterLoad {
  const diags = new Diagnostics();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const pos = new Positions(doc, lineCounter, file);
  for (const e of doc.errors) {
    diags.error('yaml-syntax', e.message.split('\n')[0]!, pos.at(e.pos[0]), { hint: 'fix the YAML syntax (indentation, quoting, a missing colon)' });
  }
  for (const w of doc.warnings) diags.warn('yaml-warning', w.message.split('\n')[0]!, pos.at(w.pos[0]));
  if (diags.hasErrors()) return result([], new Map(), diags);

  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (data === null || data === undefined) {
    diags.error('empty-file', 'the cluster file is empty', pos.at(0), { hint: 'start with cluster:, nodes: and vrrp:' });
    return result([], new Map(), diags);
  }
  const parsed = clusterSchema.safeParse(data);
  if (!parsed.success) {
    reportIssues(parsed.error.issues, data, pos, diags);
    return result([], new Map(), diags);
  }
  const { nodes, models } = expandCluster(parsed.data, pos, diags);
  return result(nodes, diags.hasErrors() ? new Map() : models, diags);
}

export function loadClusterFile(path: string): ClusterLoad {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const diags = new Diagnostics();
    diags.error('read-failed', `cannot read ${path}: ${(e as Error).message}`, { file: path, line: 1, col: 1 }, {
      hint: 'check the path and its permissions',
    });
    return result([], new Map(), diags);
  }
  return loadClusterText(text, path);
}

/** The model of `node` (the --node option), or an error naming the nodes there are. */
export function selectNode(load: ClusterLoad, node: string, file: string): { model?: NodeModel; diagnostics: Diagnostic[] } {
  const model = load.models.get(node);
  if (model) return { model, diagnostics: [] };
  if (load.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: [] }; // already explained
  const s = didYouMean(node, load.nodes);
  return {
    diagnostics: [{
      severity: 'error',
      code: 'unknown-node',
      message: `--node ${node}: no such node in the cluster file`,
      loc: { file, line: 1, col: 1 },
      hint: s ? `did you mean "${s}"?` : `nodes: ${load.nodes.join(', ') || '(none)'}`,
    }],
  };
}

function result(nodes: string[], models: Map<string, NodeModel>, diags: Diagnostics): ClusterLoad {
  // The same mistake is found once per node that uses the item; say it once.
  const seen = new Set<string>();
  const unique = diags.items.filter((d) => {
    const k = `${d.code}|${d.message}|${d.loc?.line}:${d.loc?.col}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  return { nodes, models, diagnostics: sortDiagnostics(unique) };
}
