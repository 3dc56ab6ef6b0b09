// keepalived 2.2.x's own reading of a configuration, as a pure function of the
// lexer's lines (keepalived lib/parser.c, checked against keepalived 2.2.7):
// read_line() splits every line before and after each '{' and '}', so each
// piece holds one keyword and its words; process_stream() gives a piece's
// words to that keyword's handler, which reads the values it needs and
// ignores the rest; a '{' it does not expect is "Unexpected '{' - ignoring";
// a '}' ends whatever block keepalived is in; value blocks (virtual_ipaddress,
// unicast_peer, track_*, …) are read by alloc_value_block() up to a '}'. The
// VRRP and the checker process each read the whole file and skip the other's
// top-level blocks by counting braces, so the VRRP part of the result comes
// from the VRRP process's reading and the virtual servers from the checker's.
// The result is keepalived's syntax tree (the statements its handlers keep, in
// the parser's Stmt shape) and what it did with each piece, for reports.
import { ROOT, type BlockSpec, type KwSpec } from './grammar.js';
import { Token, type Line } from './lexer.js';
import type { Stmt } from './parser.js';
import { KEEPALIVED_KEYWORDS } from './unsupported.js';

export type KaActionKind =
  /** A keyword with the words its handler gets (and maybe words it ignores). */
  | 'keyword'
  /** A line of a value block (an address, a script name, …). */
  | 'value'
  /** The '{' a block needs. */
  | 'open'
  /** A '}' ending a block. */
  | 'close'
  | 'unexpected-open'
  | 'missing-open'
  | 'unknown-keyword'
  | 'extra-close'
  | 'missing-argument'
  | 'value-block-extra'
  | 'value-block-no-open';

/** What keepalived did with one piece of a line. */
export interface KaAction {
  kind: KaActionKind;
  /** The piece's first token (its file, line and column). */
  at: Token;
  /** Index of the piece in file order (read_line calls). */
  seq: number;
  /** The words the handler gets, keyword first ('keyword', 'value', 'unknown-keyword'). */
  words?: Token[];
  /** Words of the piece the handler never reads. */
  ignored?: Token[];
  /** The block a '{' opens or a '}' ends ("real_server 192.168.2.12 443"). */
  block?: string;
  /** keepalived's own log line, when it writes one. */
  log?: string;
  /** Counted as a configuration error: keepalived -t exits non-zero. */
  configError?: boolean;
}

export interface KaReading {
  /**
   * Top-level statements as keepalived keeps them: global_defs and the VRRP
   * blocks from its VRRP process, virtual servers from its checker process.
   * A block statement's `end` is the '}' keepalived ended it with.
   */
  stmts: Stmt[];
  /** Everything keepalived did, in file order, both processes merged. */
  actions: KaAction[];
}

/** Top-level blocks only keepalived's checker process reads (check_parser.c). */
const CHECKER_ROOTS = new Set(['virtual_server', 'virtual_server_group', 'SSL']);
/** Top-level blocks only its VRRP process reads (vrrp_parser.c); the checker skips them. */
const VRRP_ROOTS = new Set([
  'vrrp_script',
  'vrrp_sync_group',
  'vrrp_instance',
  'static_ipaddress',
  'static_routes',
  'static_rules',
  'garp_group',
  'linkbeat_interfaces',
  'vrrp_track_process',
  'track_group',
  'interface_up_down_delays',
]);

type View = 'vrrp' | 'check';

const isOpen = (t: Token | undefined): boolean => !!t && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined): boolean => !!t && !t.quoted && t.text === '}';

function piece(t: Token, from: number, to: number): Token {
  if (from === 0 && to === t.text.length) return t;
  return new Token(t.text.slice(from, to), t.file, t.line, t.col + from, false, t.nl && from === 0);
}

/**
 * The lines as read_line() returns them: split before and after every '{' and
 * '}' outside quotes (also one glued to a word, "200}"), so each brace is a
 * piece of its own and the words between braces are one piece.
 */
export function splitAtBraces(lines: Iterable<Line>): Token[][] {
  const out: Token[][] = [];
  for (const l of lines) {
    let cur: Token[] = [];
    for (const t of l.tokens) {
      if (t.quoted || (!t.text.includes('{') && !t.text.includes('}'))) {
        cur.push(t);
        continue;
      }
      let start = 0;
      for (let i = 0; i <= t.text.length; i++) {
        const c = t.text[i];
        if (i < t.text.length && c !== '{' && c !== '}') continue;
        if (i > start) cur.push(piece(t, start, i));
        if (i < t.text.length) {
          if (cur.length) out.push(cur);
          out.push([piece(t, i, i + 1)]);
          cur = [];
        }
        start = i + 1;
      }
    }
    if (cur.length) out.push(cur);
  }
  return out;
}

type KaKeyword =
  | { kind: 'plain' | 'sub' | 'values'; spec: KwSpec }
  /** keepalived has it, haldir does not (haldir refuses it by name): its block, if any, is passed over. */
  | { kind: 'other' };

const kwMaps = new WeakMap<BlockSpec, Map<string, KwSpec>>();

function keywordOf(block: BlockSpec, word: string): KaKeyword | undefined {
  let m = kwMaps.get(block);
  if (!m) kwMaps.set(block, (m = new Map(Object.entries(block.keywords))));
  const ks = m.get(word);
  if (ks) return { kind: ks.block === 'lines' ? 'values' : ks.block ? 'sub' : 'plain', spec: ks };
  return KEEPALIVED_KEYWORDS[block.name]?.has(word) ? { kind: 'other' } : undefined;
}

function label(words: Token[]): string {
  return words.map((t) => t.text).join(' ');
}

/** One keepalived process reading the pieces with its keyword tree. */
class Reader {
  private i = 0;
  private depth = 0;
  readonly actions: KaAction[] = [];
  readonly top: { stmt: Stmt; seq: number }[] = [];

  constructor(
    private readonly pieces: Token[][],
    private readonly view: View,
  ) {}

  private act(kind: KaActionKind, seq: number, at: Token, extra?: Omit<KaAction, 'kind' | 'seq' | 'at'>): void {
    const a: KaAction = { kind, seq, at };
    if (extra) Object.assign(a, extra);
    this.actions.push(a);
  }

  /** read_line(): the next piece; more '}' than '{' so far is "Extra '}' found". */
  private read(): [Token[], number] | undefined {
    if (this.i >= this.pieces.length) return undefined;
    const seq = this.i++;
    const p = this.pieces[seq]!;
    if (p.length === 1 && isOpen(p[0])) this.depth++;
    else if (p.length === 1 && isClose(p[0])) {
      if (this.depth-- < 1) {
        this.act('extra-close', seq, p[0]!, { log: "Extra '}' found", configError: true });
        this.depth = 0;
      }
    }
    return [p, seq];
  }

  /**
   * A keyword this process does not act on: skip_sublevel = -1, so a '{' on
   * the next piece starts skipping to its matching '}' (braces counted), and
   * anything else is read normally.
   */
  private passOver(): void {
    if (!isOpen(this.pieces[this.i]?.[0])) return;
    let n = 0;
    for (let p = this.read(); p; p = this.read()) {
      for (const t of p[0]) {
        if (isOpen(t)) n++;
        else if (isClose(t) && --n === 0) return;
      }
    }
  }

  private inactive(level: number, word: string): boolean {
    return level === 0 && (this.view === 'vrrp' ? CHECKER_ROOTS : VRRP_ROOTS).has(word);
  }

  /** process_stream(): statements of `spec` until a '}' (level > 0) or the end. */
  stream(spec: BlockSpec, level: number, needBob: boolean, out: Stmt[], where: string): Token | undefined {
    for (let r = this.read(); r; r = this.read()) {
      const [toks, seq] = r;
      const first = toks[0]!;
      const alone = toks.length === 1;
      if (needBob) {
        needBob = false;
        if (alone && isOpen(first) && level > 0) {
          this.act('open', seq, first, { block: where });
          continue;
        }
        this.act('missing-open', seq, first, { log: "Missing '{' at beginning of configuration block", configError: true, block: where });
      } else if (alone && isOpen(first)) {
        this.act('unexpected-open', seq, first, { log: "Unexpected '{' - ignoring", configError: true });
        continue;
      }
      if (alone && isClose(first) && level > 0) {
        this.act('close', seq, first, { block: where });
        return first;
      }
      const word = first.text;
      const kk = keywordOf(spec, word);
      if (!kk) {
        this.act('unknown-keyword', seq, first, { words: toks, log: `Unknown keyword '${word}'`, configError: true });
        continue;
      }
      if (this.inactive(level, word)) {
        // The other process reads this block; this one counts braces past it.
        this.passOver();
        continue;
      }
      if (kk.kind === 'other') {
        this.act('keyword', seq, first, { words: toks });
        this.passOver();
        continue;
      }
      const ks = kk.spec;
      if (kk.kind === 'values') {
        out.push(this.valueBlock(toks, seq, ks));
        if (level === 0) this.top.push({ stmt: out[out.length - 1]!, seq });
        continue;
      }
      // The handler reads the values it needs; the rest of the piece is never looked at.
      const args = toks.slice(1, 1 + Math.min(ks.max, toks.length));
      const ignored = toks.slice(1 + args.length);
      this.act('keyword', seq, first, { words: [first, ...args], ...(ignored.length ? { ignored } : {}) });
      let missing = false;
      if (args.length < ks.min) {
        missing = true;
        const log =
          `*** Configuration line starting \`${word}\` is missing a parameter ` +
          (args.length ? `after keyword \`${args[args.length - 1]!.text}\` ` : '') +
          `at word position ${args.length + 2}`;
        this.act('missing-argument', seq, first, { log, configError: true });
      }
      const stmt: Stmt = { kw: first, args, spec: ks, compact: false };
      if (kk.kind === 'sub') {
        stmt.block = [];
        // After read_line's split a '{' is never on the keyword's piece: the block needs one next.
        const end = this.stream(ks.block as BlockSpec, level + 1, true, stmt.block, label([first, ...args]));
        if (end) stmt.end = end;
      }
      // keepalived stops at a missing parameter; haldir leaves the statement out.
      if (missing) continue;
      out.push(stmt);
      if (level === 0) this.top.push({ stmt, seq });
    }
    return undefined;
  }

  /** alloc_value_block(): lines of words up to a '}'; its '{' may be missing (then the first line is a value). */
  private valueBlock(toks: Token[], seq: number, ks: KwSpec): Stmt {
    const kw = toks[0]!;
    const args = toks.slice(1, 1 + Math.min(ks.max, toks.length));
    const extra = toks.slice(1 + args.length);
    this.act('keyword', seq, kw, { words: [kw, ...args] });
    if (extra.length) {
      this.act('value-block-extra', seq, extra[0]!, { log: `Block ${kw.text} has extra parameters ${extra[0]!.text} ...`, configError: true, ignored: extra });
    }
    const stmt: Stmt = { kw, args, spec: ks, compact: false, block: [] };
    const where = label([kw, ...args]);
    let needBob = true;
    for (let r = this.read(); r; r = this.read()) {
      const s = r[1];
      let vec = r[0];
      if (needBob) {
        needBob = false;
        if (isOpen(vec[0])) {
          this.act('open', s, vec[0]!, { block: where });
          if (vec.length === 1) continue;
          vec = vec.slice(1);
        } else this.act('value-block-no-open', s, vec[0]!, { log: `'{' missing from beginning of block ${kw.text}` });
      }
      let eob = false;
      if (isClose(vec[vec.length - 1])) {
        if (vec.length === 1) {
          this.act('close', s, vec[0]!, { block: where });
          stmt.end = vec[0]!;
          break;
        }
        eob = true;
        vec = vec.slice(0, -1);
      }
      stmt.block!.push({ kw: vec[0]!, args: vec.slice(1), compact: false });
      this.act('value', s, vec[0]!, { words: vec });
      if (eob) break;
    }
    return stmt;
  }
}

/** keepalived's reading of the lines (a whole file with its includes, as the lexer produced them). */
export function readAsKeepalived(lines: Iterable<Line>): KaReading {
  const pieces = splitAtBraces(lines);
  const read = (view: View) => {
    const r = new Reader(pieces, view);
    r.stream(ROOT, 0, false, [], 'top level');
    return r;
  };
  const vrrp = read('vrrp');
  const check = read('check');
  const top = [...vrrp.top, ...check.top.filter((t) => CHECKER_ROOTS.has(t.stmt.kw.text))].sort((a, b) => a.seq - b.seq);
  // Both processes read global_defs and anything outside the blocks they skip: say it once.
  // Actions are merged piece by piece (each process records a piece's actions in order).
  const bySeq: (KaAction[] | undefined)[] = new Array<KaAction[] | undefined>(pieces.length);
  for (const list of [vrrp.actions, check.actions]) {
    for (const a of list) {
      const b = bySeq[a.seq];
      if (!b) bySeq[a.seq] = [a];
      else if (!b.some((x) => x.kind === a.kind && x.at.col === a.at.col)) b.push(a);
    }
  }
  const actions: KaAction[] = [];
  for (const b of bySeq) {
    if (!b) continue;
    if (b.length > 1) b.sort((x, y) => x.at.col - y.at.col);
    for (const a of b) actions.push(a);
  }
  return { stmts: top.map((t) => t.stmt), actions };
}

/** Actions that show keepalived reading something other than haldir does. */
export function divergent(a: KaAction): boolean {
  return a.kind === 'keyword' ? !!a.ignored?.length : a.kind !== 'open' && a.kind !== 'close' && a.kind !== 'value';
}

/** Words as text, with every password (the word after auth_pass) masked: reports never show secrets. */
export function showWords(words: Token[]): string {
  return words.map((t, k) => (k > 0 && words[k - 1]!.text === 'auth_pass' ? '********' : t.text)).join(' ');
}

/** One action as a short phrase for a narrative of a line. */
function phrase(a: KaAction): string {
  switch (a.kind) {
    case 'keyword':
    case 'value':
      return `\`${showWords(a.words!)}\`${a.ignored?.length ? ` (ignoring \`${showWords(a.ignored)}\`)` : ''}`;
    case 'open':
      return '{';
    case 'close':
      return `} ends ${a.block}`;
    default:
      return `"${a.log}"`;
  }
}

/** keepalived's reading of one line: "`weight 1` (ignoring `TCP_CHECK`), "Unexpected '{' - ignoring", …". */
export function narrateLine(actions: KaAction[]): string {
  return actions.map(phrase).join(', ');
}
