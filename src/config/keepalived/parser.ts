// keepalived.conf syntax tree: token lines → statements and blocks, driven by
// the keyword grammar. Unknown keywords are errors with a suggestion; keywords
// keepalived has but haldir lacks are refused by name; misplaced ones say where
// they belong. Each statement remembers whether it shared its line with another
// (the compact one-line form keepalived itself reads differently).
import type { Loc } from '../../model/types.js';
import { didYouMean, type Diagnostics } from '../diagnostics.js';
import { CHECKERS, ROOT, type BlockSpec, type KwSpec } from './grammar.js';
import type { Line, Token } from './lexer.js';
import { KEEPALIVED_KEYWORDS, UNSUPPORTED_REASONS } from './unsupported.js';

export interface Stmt {
  kw: Token;
  args: Token[];
  /** Sub-block statements (for 'lines' blocks: one statement per line, kw = first word). */
  block?: Stmt[];
  /** Where the sub-block's `}` was. */
  end?: Loc;
  spec?: KwSpec;
  /** Another statement came before it on the same line. */
  compact: boolean;
}

interface Tok extends Token {
  nl: boolean; // first token of its line
}

const isBrace = (t: Tok | undefined, b: '{' | '}') => !!t && !t.quoted && t.text === b;

/** Every block a keyword may appear in, for "belongs in" messages. */
function blocksOf(word: string): string[] {
  return Object.entries(KEEPALIVED_KEYWORDS)
    .filter(([, set]) => set.has(word))
    .map(([b]) => b);
}

export class Parser {
  private toks: Tok[] = [];
  private i = 0;

  constructor(private readonly diags: Diagnostics) {}

  parse(lines: Line[]): Stmt[] {
    this.toks = lines.flatMap((l) => l.tokens.map((t, n) => ({ ...t, nl: n === 0 })));
    this.i = 0;
    const out = this.parseBlock(ROOT, 'top level', undefined);
    return out;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  /** Statements until the matching `}` (or end of input at top level). */
  private parseBlock(spec: BlockSpec, label: string, open: Loc | undefined): Stmt[] {
    const out: Stmt[] = [];
    while (true) {
      const t = this.peek();
      if (!t) {
        if (open) {
          this.diags.error('missing-close-brace', `block ${label} opened here is never closed`, open, {
            hint: "add the missing '}'",
          });
        }
        return out;
      }
      if (isBrace(t, '}')) {
        this.i++;
        if (!open) this.diags.error('unexpected-close-brace', "unexpected '}' at top level", t.loc, { hint: 'remove it or add the missing opening block' });
        else return out;
        continue;
      }
      if (isBrace(t, '{')) {
        this.i++;
        this.diags.error('unexpected-open-brace', `unexpected '{' in ${label}`, t.loc, {
          hint: "a '{' must follow a keyword that opens a block",
        });
        this.skipBlock();
        continue;
      }
      const stmt = this.parseStmt(spec, label);
      if (stmt) out.push(stmt);
    }
  }

  private parseStmt(spec: BlockSpec, label: string): Stmt | undefined {
    const kw = this.toks[this.i++]!;
    const compact = !kw.nl;
    const ks = spec.keywords[kw.text];
    if (!ks || kw.quoted) {
      this.reportUnknown(kw, spec, label);
      this.skipRest();
      return undefined;
    }
    const args: Token[] = [];
    while (true) {
      const t = this.peek();
      if (!t || t.nl || isBrace(t, '{') || isBrace(t, '}')) break;
      if (args.length >= ks.max) break;
      // Past the minimum, a keyword of this block starts the next statement (compact form).
      if (args.length >= ks.min && !t.quoted && spec.keywords[t.text] && ks.max !== ks.min) break;
      args.push(t);
      this.i++;
    }
    const stmt: Stmt = { kw, args, spec: ks, compact };
    const next = this.peek();
    // A statement short of arguments is reported, its block skipped, and it is left out of the tree.
    const short = args.length < ks.min;
    if (short) {
      this.diags.error(
        'missing-argument',
        `${kw.text} needs ${ks.min === ks.max ? ks.min : `at least ${ks.min}`} argument${ks.min === 1 ? '' : 's'}, got ${args.length}`,
        kw.loc,
        { block: label },
      );
    } else if (next && !next.nl && !isBrace(next, '{') && !isBrace(next, '}') && !(ks.block && isBrace(next, '{'))) {
      // Extra words that are not a keyword of this block.
      if (!spec.keywords[next.text] || next.quoted) {
        this.diags.error('too-many-arguments', `${kw.text} takes ${describeArity(ks)}; unexpected "${next.text}"`, next.loc, {
          block: label,
          hint: /\s/.test(next.text) || ks.max >= 1 ? 'quote values that contain spaces' : `remove "${next.text}"`,
        });
        this.skipRest();
      }
    }
    if (ks.ignored) {
      this.diags.warn('ignored-keyword', `${kw.text} is ignored: ${ks.ignored}`, kw.loc, { block: label });
    }
    if (ks.deprecated) {
      this.diags.warn('deprecated-keyword', `${kw.text} is deprecated; use ${ks.deprecated}`, kw.loc, { block: label, hint: `replace ${kw.text} with ${ks.deprecated}` });
    }
    if (ks.block) {
      // keepalived allows the '{' on the next line.
      const b = this.peek();
      if (isBrace(b, '{')) {
        this.i++;
        const blockLabel = `${label === 'top level' ? '' : label + ' > '}${kw.text}${args.length ? ' ' + args.map((x) => x.text).join(' ') : ''}`;
        if (ks.block === 'lines') stmt.block = this.parseLines(blockLabel, b!.loc);
        else stmt.block = this.parseBlock(ks.block, blockLabel, b!.loc);
        stmt.end = this.toks[this.i - 1]?.loc;
      } else if (!ks.blockOptional) {
        this.diags.error('missing-open-brace', `${kw.text} must be followed by a '{' block`, kw.loc, { block: label, hint: `write: ${kw.text} ${args.map((x) => x.text).join(' ')} { … }` });
      }
    } else if (isBrace(this.peek(), '{') && !this.peek()!.nl) {
      const b = this.peek()!;
      this.diags.error('unexpected-open-brace', `${kw.text} does not take a block`, b.loc, { block: label });
      this.i++;
      this.skipBlock();
    }
    return short ? undefined : stmt;
  }

  /** Free-form lines until the matching '}': each line becomes a statement. */
  private parseLines(label: string, open: Loc): Stmt[] {
    const out: Stmt[] = [];
    let cur: Stmt | undefined;
    while (true) {
      const t = this.peek();
      if (!t) {
        this.diags.error('missing-close-brace', `block ${label} opened here is never closed`, open, { hint: "add the missing '}'" });
        return out;
      }
      this.i++;
      if (isBrace(t, '}')) return out;
      if (isBrace(t, '{')) {
        this.diags.error('unexpected-open-brace', `unexpected '{' in ${label}`, t.loc);
        this.skipBlock();
        continue;
      }
      if (t.nl || !cur) {
        cur = { kw: t, args: [], compact: !t.nl };
        out.push(cur);
      } else cur.args.push(t);
    }
  }

  private reportUnknown(kw: Tok, spec: BlockSpec, label: string): void {
    const word = kw.text;
    const known = KEEPALIVED_KEYWORDS[spec.name] ?? new Set<string>();
    const here = label;
    if (known.has(word) || (spec.name in CHECKERS && word in UNSUPPORTED_REASONS)) {
      const why = UNSUPPORTED_REASONS[word];
      this.diags.error('unsupported-keyword', `not supported: ${word}`, kw.loc, {
        block: here,
        hint: why ?? `haldir does not implement keepalived's ${word}; remove it`,
      });
      return;
    }
    if (word in UNSUPPORTED_REASONS) {
      this.diags.error('unsupported-keyword', `not supported: ${word}`, kw.loc, { block: here, hint: UNSUPPORTED_REASONS[word] });
      return;
    }
    const elsewhere = blocksOf(word).filter((b) => b !== spec.name);
    if (elsewhere.length) {
      this.diags.error('misplaced-keyword', `${word} is not valid in ${spec.name}; it belongs in ${elsewhere.join(' or ')}`, kw.loc, {
        block: here,
        hint: `move ${word} into the right block`,
      });
      return;
    }
    const attached = /^(.+?)([{}])$/.exec(word);
    if (attached && spec.keywords[attached[1]!]) {
      this.diags.error('unknown-keyword', `unknown keyword "${word}"`, kw.loc, {
        block: here,
        hint: `put a space before '${attached[2]}': ${attached[1]} ${attached[2]}`,
      });
      return;
    }
    if (spec.name === 'vrrp_sync_group' && /^[A-Za-z0-9_.-]+$/.test(word)) {
      this.diags.error('unknown-keyword', `unknown keyword "${word}" in vrrp_sync_group`, kw.loc, {
        block: here,
        hint: `if ${word} is a vrrp_instance, list the members inside group { … }`,
      });
      return;
    }
    const suggestion = didYouMean(word, [...Object.keys(spec.keywords), ...known]);
    this.diags.error('unknown-keyword', `unknown keyword "${word}"`, kw.loc, {
      block: here,
      hint: suggestion ? `did you mean "${suggestion}"?` : `valid here: ${Object.keys(spec.keywords).slice(0, 12).join(', ')}${Object.keys(spec.keywords).length > 12 ? ', …' : ''}`,
    });
  }

  /** Skips the rest of the current line, and a block that opens on it. */
  private skipRest(): void {
    while (true) {
      const t = this.peek();
      if (!t || t.nl) return;
      if (isBrace(t, '}')) return;
      this.i++;
      if (isBrace(t, '{')) {
        this.skipBlock();
        return;
      }
    }
  }

  /** Skips to after the '}' matching an already consumed '{'. */
  private skipBlock(): void {
    let depth = 1;
    while (depth > 0) {
      const t = this.toks[this.i++];
      if (!t) return;
      if (isBrace(t, '{')) depth++;
      else if (isBrace(t, '}')) depth--;
    }
  }
}

function describeArity(ks: KwSpec): string {
  if (ks.max === 0) return 'no arguments';
  if (ks.min === ks.max) return `${ks.min} argument${ks.min === 1 ? '' : 's'}`;
  if (ks.max === Number.POSITIVE_INFINITY) return `at least ${ks.min} argument${ks.min === 1 ? '' : 's'}`;
  return `${ks.min} to ${ks.max} arguments`;
}
