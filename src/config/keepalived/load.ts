// keepalived.conf front end entry: lex (includes, parameters, conditionals) →
// parse (keyword grammar) → build (the model, with keepalived's defaults).
import { hostname } from 'node:os';
import type { NodeModel } from '../../model/types.js';
import { Diagnostics, type Diagnostic } from '../diagnostics.js';
import { ModelBuilder } from './build.js';
import { KeepalivedLexer, type LexOptions } from './lexer.js';
import { Parser, type Stmt } from './parser.js';

export interface KeepalivedOptions extends LexOptions {
  /** Node name for the model; default router_id, else the hostname's first label. */
  node?: string;
}

export interface KeepalivedLoad {
  /** Present unless the file could not be read at all; check `diagnostics` for errors. */
  model: NodeModel;
  diagnostics: Diagnostic[];
  files: string[];
  tree: Stmt[];
}

function withDefaults(opts: KeepalivedOptions): KeepalivedOptions {
  // keepalived's default config id is the first label of the hostname.
  return { ...opts, configId: opts.configId ?? hostname().split('.')[0] ?? '' };
}

export function loadKeepalivedFile(path: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const lexer = new KeepalivedLexer(diags, withDefaults(opts));
  return finish(lexer.lexFile(path), lexer.filesRead, diags, opts);
}

export function loadKeepalivedText(text: string, file: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const lexer = new KeepalivedLexer(diags, withDefaults(opts));
  return finish(lexer.lexText(text, file), lexer.filesRead, diags, opts);
}

function finish(lines: ReturnType<KeepalivedLexer['lexText']>, files: string[], diags: Diagnostics, opts: KeepalivedOptions): KeepalivedLoad {
  const tree = new Parser(diags).parse(lines);
  const model = new ModelBuilder(diags).build(tree, opts.node !== undefined ? { node: opts.node } : {});
  return { model, diagnostics: diags.items, files, tree };
}
