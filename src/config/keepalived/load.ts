// keepalived.conf front end entry: lex (includes, parameters, conditionals) →
// parse (keyword grammar) → build (the model, with keepalived's defaults).
import { hostname } from 'node:os';
import type { NodeModel } from '../../model/types.js';
import { Diagnostics, type Diagnostic } from '../diagnostics.js';
import { ModelBuilder } from './build.js';
import { KeepalivedLexer, type LexOptions } from './lexer.js';
import { Parser } from './parser.js';

export interface KeepalivedOptions extends LexOptions {
  /** Node name for the model; default router_id, else the hostname's first label. */
  node?: string;
}

export interface KeepalivedLoad {
  /** Always present (empty when the file could not be read); check `diagnostics` for errors. */
  model: NodeModel;
  diagnostics: Diagnostic[];
  files: string[];
}

function withDefaults(opts: KeepalivedOptions): KeepalivedOptions {
  // keepalived's default config id is the first label of the hostname.
  return { ...opts, configId: opts.configId ?? hostname().split('.')[0] ?? '' };
}

export function loadKeepalivedFile(path: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const lexer = new KeepalivedLexer(diags, withDefaults(opts));
  lexer.openFile(path);
  return finish(lexer, diags, opts);
}

export function loadKeepalivedText(text: string, file: string, opts: KeepalivedOptions = {}): KeepalivedLoad {
  const diags = new Diagnostics();
  const lexer = new KeepalivedLexer(diags, withDefaults(opts));
  lexer.openText(text, file);
  return finish(lexer, diags, opts);
}

/** Lexer → parser → builder as one stream: no whole-file token list or tree is kept. */
function finish(lexer: KeepalivedLexer, diags: Diagnostics, opts: KeepalivedOptions): KeepalivedLoad {
  const stmts = new Parser(diags).statements(lexer);
  const model = new ModelBuilder(diags).build(stmts, opts.node !== undefined ? { node: opts.node } : {});
  return { model, diagnostics: diags.items, files: lexer.filesRead };
}
