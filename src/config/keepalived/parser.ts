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
  spec?: KwSpec;
  /** Another statement came before it on the same line. */
  compact: boolean;
  /** The '}' that ended its block (set by keepalived's reading, ka-reading.ts). */
  end?: Token;
}

/**
 * True when keepalived may read this statement differently from haldir: it
 * shares a line with another statement (keepalived reads one keyword per line),
 * or it is a block keyword without its block (keepalived then wants a '{' on
 * the next line). Only then is keepalived's own reading worth computing.
 */
export function mayReadDifferently(s: Stmt): boolean {
  if (s.compact) return true;
  if (s.spec?.block && !s.block) return true;
  for (const c of s.block ?? []) if (mayReadDifferently(c)) return true;
  return false;
}

type Tok = Token;

/** Where a statement is ("virtual_server 10.0.0.1 80 > real_server …"), formatted only when reported. */
class Where {
  constructor(
    private readonly parent: Where | undefined,
    private readonly kw: string,
    private readonly args: Token[] = [],
  ) {}

  toString(): string {
    const own = this.kw + (this.args.length ? ' ' + this.args.map((x) => x.text).join(' ') : '');
    return this.parent && this.parent.kw !== 'top level' ? `${this.parent.toString()} > ${own}` : own;
  }
}

/** A Map, not the object: a config word like "constructor" must not find Object.prototype's. */
const kwMaps = new WeakMap<BlockSpec, Map<string, KwSpec>>();

function kwOf(spec: BlockSpec, word: string): KwSpec | undefined {
  let m = kwMaps.get(spec);
  if (!m) kwMaps.set(spec, (m = new Map(Object.entries(spec.keywords))));
  return m.get(word);
}

function reasonFor(word: string): string | undefined {
  return Object.hasOwn(UNSUPPORTED_REASONS, word) ? UNSUPPORTED_REASONS[word] : undefined;
}

const isBrace = (t: Tok | undefined, b: '{' | '}') => !!t && !t.quoted && t.text === b;

/** Every block a keyword may appear in, for "belongs in" messages. */
function blocksOf(word: string): string[] {
  return Object.entries(KEEPALIVED_KEYWORDS)
    .filter(([, set]) => set.has(word))
    .map(([b]) => b);
}

/** Where tokens come from: the streaming lexer, or a list of lines (tests). */
export interface TokenSource {
  peek(): Token | undefined;
  next(): Token | undefined;
}

export function linesSource(lines: Line[]): TokenSource {
  const toks: Token[] = [];
  for (const l of lines) for (const t of l.tokens) toks.push(t);
  let i = 0;
  return { peek: () => toks[i], next: () => toks[i++] };
}

const END = Symbol('end of block');

export class Parser {
  private src: TokenSource = linesSource([]);

  constructor(private readonly diags: Diagnostics) {}

  /** The whole syntax tree at once. */
  parse(lines: Line[] | TokenSource): Stmt[] {
    return [...this.statements(Array.isArray(lines) ? linesSource(lines) : lines)];
  }

  /** Top-level statements one at a time, so a caller can build and drop each. */
  *statements(src: TokenSource): Generator<Stmt> {
    this.src = src;
    const top = new Where(undefined, 'top level');
    while (true) {
      const s = this.parseItem(ROOT, top, undefined);
      if (s === END) return;
      if (s) yield s;
    }
  }

  private peek(): Tok | undefined {
    return this.src.peek();
  }

  private take(): Tok | undefined {
    return this.src.next();
  }

  /** Statements until the matching `}` (or end of input at top level). */
  private parseBlock(spec: BlockSpec, label: Where, open: Loc | undefined): Stmt[] {
    const out: Stmt[] = [];
    while (true) {
      const s = this.parseItem(spec, label, open);
      if (s === END) return out;
      if (s) out.push(s);
    }
  }

  /** One statement of a block, END at its '}' (or the end of input), undefined after an error. */
  private parseItem(spec: BlockSpec, label: Where, open: Loc | undefined): Stmt | typeof END | undefined {
    const t = this.peek();
    if (!t) {
      if (open) {
        this.diags.error('missing-close-brace', `block ${label} opened here is never closed`, open, {
          hint: "add the missing '}'",
        });
      }
      return END;
    }
    if (isBrace(t, '}')) {
      this.take();
      if (open) return END;
      this.diags.error('unexpected-close-brace', "unexpected '}' at top level", t.loc, { hint: 'remove it or add the missing opening block' });
      return undefined;
    }
    if (isBrace(t, '{')) {
      this.take();
      this.diags.error('unexpected-open-brace', `unexpected '{' in ${label}`, t.loc, {
        hint: "a '{' must follow a keyword that opens a block",
      });
      this.skipBlock();
      return undefined;
    }
    return this.parseStmt(spec, label);
  }

  private parseStmt(spec: BlockSpec, label: Where): Stmt | undefined {
    const kw = this.take()!;
    const compact = !kw.nl;
    const ks = kwOf(spec, kw.text);
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
      if (args.length >= ks.min && !t.quoted && kwOf(spec, t.text) && ks.max !== ks.min) break;
      args.push(t);
      this.take();
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
        { block: String(label) },
      );
    } else if (next && !next.nl && !isBrace(next, '{') && !isBrace(next, '}') && !(ks.block && isBrace(next, '{'))) {
      // Extra words that are not a keyword of this block.
      if (!kwOf(spec, next.text) || next.quoted) {
        this.diags.error('too-many-arguments', `${kw.text} takes ${describeArity(ks)}; unexpected "${next.text}"`, next.loc, {
          block: String(label),
          hint: /\s/.test(next.text) || ks.max >= 1 ? 'quote values that contain spaces' : `remove "${next.text}"`,
        });
        this.skipRest();
      }
    }
    if (ks.ignored) {
      this.diags.warn('ignored-keyword', `${kw.text} is ignored: ${ks.ignored}`, kw.loc, { block: String(label) });
    }
    if (ks.deprecated) {
      this.diags.warn('deprecated-keyword', `${kw.text} is deprecated; use ${ks.deprecated}`, kw.loc, { block: String(label), hint: `replace ${kw.text} with ${ks.deprecated}` });
    }
    if (ks.block) {
      // keepalived allows the '{' on the next line.
      const b = this.peek();
      if (isBrace(b, '{')) {
        this.take();
        const blockLabel = new Where(label, kw.text, args);
        if (ks.block === 'lines') stmt.block = this.parseLines(blockLabel, b!.loc);
        else stmt.block = this.parseBlock(ks.block, blockLabel, b!.loc);
      } else if (!ks.blockOptional) {
        this.diags.error('missing-open-brace', `${kw.text} must be followed by a '{' block`, kw.loc, { block: String(label), hint: `write: ${kw.text} ${args.map((x) => x.text).join(' ')} { … }` });
      }
    } else if (isBrace(this.peek(), '{') && !this.peek()!.nl) {
      const b = this.peek()!;
      this.diags.error('unexpected-open-brace', `${kw.text} does not take a block`, b.loc, { block: String(label) });
      this.take();
      this.skipBlock();
    }
    return short ? undefined : stmt;
  }

  /** Free-form lines until the matching '}': each line becomes a statement. */
  private parseLines(label: Where, open: Loc): Stmt[] {
    const out: Stmt[] = [];
    let cur: Stmt | undefined;
    while (true) {
      const t = this.peek();
      if (!t) {
        this.diags.error('missing-close-brace', `block ${label} opened here is never closed`, open, { hint: "add the missing '}'" });
        return out;
      }
      this.take();
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

  private reportUnknown(kw: Tok, spec: BlockSpec, label: Where): void {
    const word = kw.text;
    const known = KEEPALIVED_KEYWORDS[spec.name] ?? new Set<string>();
    const here = String(label);
    if (known.has(word) || (Object.hasOwn(CHECKERS, spec.name) && reasonFor(word))) {
      const why = reasonFor(word);
      this.diags.error('unsupported-keyword', `not supported: ${word}`, kw.loc, {
        block: here,
        hint: why ?? `haldir does not implement keepalived's ${word}; remove it`,
      });
      return;
    }
    if (reasonFor(word)) {
      this.diags.error('unsupported-keyword', `not supported: ${word}`, kw.loc, { block: here, hint: reasonFor(word) });
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
    if (attached && kwOf(spec, attached[1]!)) {
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
      this.take();
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
      const t = this.take();
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
