// keepalived.conf front end entry: lex (includes, parameters, conditionals) →
// parse (keyword grammar) → build (the model, with keepalived's defaults).
// Where keepalived 2.2 may read the file differently (several keywords on one
// line, a block keyword without its block), the file is read a second time the
// way keepalived reads it (ka-reading.ts) and every difference in what would
// run is reported (ka-compare.ts): as warnings, or with strictKeepalived as
// errors, and then the model is keepalived's.
import { hostname } from 'node:os';
import type { NodeModel } from '../../model/types.js';
import { Diagnostics, type Diagnostic } from '../diagnostics.js';
import { ModelBuilder } from './build.js';
import { compareReadings } from './ka-compare.js';
import { readAsKeepalived } from './ka-reading.js';
import { KeepalivedLexer, type LexOptions, type Line } from './lexer.js';
import { mayReadDifferently, Parser, type Stmt } from './parser.js';

export interface KeepalivedOptions extends LexOptions {
  /** Node name for the model; default router_id, else the hostname's first label. */
  node?: string;
  /**
   * Load the file exactly as keepalived 2.2 reads it: the model is keepalived's,
   * and every place keepalived reads differently from haldir is an error.
   */
  strictKeepalived?: boolean;
}

export interface KeepalivedLoad {
  /** Always present (empty when the file could not be read); check `diagnostics` for errors. */
  model: NodeModel;
  diagnostics: Diagnostic[];
  files: string[];
  /** keepalived's own model, when its reading was computed (it may differ from `model`). */
  keepalivedModel?: NodeModel;
}

function withDefaults(opts: KeepalivedOptions): KeepalivedOptions {
  // keepalived's default config id is the first label of the hostname.
  return { ...opts, configId: opts.configId ?? hostname().split('.')[0] ?? '' };
}

/**
 * Lexer options for two readings of one file: ${_RANDOM} draws of the first
 * reading are replayed in the second, so both see the same text.
 */
function twoReadings(opts: KeepalivedOptions): { first: KeepalivedOptions; second: () => KeepalivedOptions } {
  const base = opts.random ?? Math.random;
  const draws: number[] = [];
  const first = { ...withDefaults(opts), random: () => { const r = base(); draws.push(r); return r; } };
  return {
    first,
    second: () => {
      let k = 0;
      return { ...first, random: () => (k < draws.length ? draws[k++]! : base()) };
    },
  };
}

export function loadKeepalivedFile(path: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const o = twoReadings(opts);
  const lexer = new KeepalivedLexer(diags, o.first);
  lexer.openFile(path);
  return finish(lexer, diags, opts, () => new KeepalivedLexer(new Diagnostics(), o.second()).lexFile(path));
}

export function loadKeepalivedText(text: string, file: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const o = twoReadings(opts);
  const lexer = new KeepalivedLexer(diags, o.first);
  lexer.openText(text, file);
  return finish(lexer, diags, opts, () => new KeepalivedLexer(new Diagnostics(), o.second()).lexText(text, file));
}

/** Passes statements on, noting whether keepalived may read any of them differently. */
function* watch(stmts: Iterable<Stmt>, seen: { differ: boolean }): Generator<Stmt> {
  for (const s of stmts) {
    if (!seen.differ && mayReadDifferently(s)) seen.differ = true;
    yield s;
  }
}

/** Lexer → parser → builder as one stream: no whole-file token list or tree is kept. */
function finish(lexer: KeepalivedLexer, diags: Diagnostics, opts: KeepalivedOptions, again: () => Line[]): KeepalivedLoad {
  const seen = { differ: false };
  const stmts = watch(new Parser(diags).statements(lexer), seen);
  const model = new ModelBuilder(diags).build(stmts, opts.node !== undefined ? { node: opts.node } : {});
  const files = lexer.filesRead;
  if (!seen.differ && !opts.strictKeepalived) return { model, diagnostics: diags.items, files };
  // keepalived's reading: the same lines again (small files: compact forms are written by hand).
  const reading = readAsKeepalived(again());
  const kb = new ModelBuilder(new Diagnostics());
  const ka = kb.build(reading.stmts, { node: model.node, keepalived: true });
  for (const d of compareReadings(model, ka, reading, kb.kaNotes)) diags.add(opts.strictKeepalived ? { ...d, severity: 'error' } : d);
  return { model: opts.strictKeepalived ? ka : model, diagnostics: diags.items, files, keepalivedModel: ka };
}
