// keepalived.conf lexical layer: comments, line continuation, include (and its
// variants), $PARAM definitions (also multi-line templates) and ${…} built-ins,
// @id / @^id conditional lines, ~SEQ / ~SEQx / ~LST repetition, and quoting with
// escapes (keepalived.conf(5), "Quoted strings"). The output is a list of logical
// lines of tokens, each token carrying the file, line and column it came from.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Loc } from '../../model/types.js';
import type { Diagnostics } from '../diagnostics.js';

/** A word of the configuration and where it was written (flat fields: there are many). */
export class Token {
  constructor(
    readonly text: string,
    readonly file: string,
    readonly line: number,
    readonly col: number,
    /** Written (at least partly) in quotes: never a brace or a keyword. */
    readonly quoted: boolean,
    /** The first word of its line. */
    readonly nl: boolean,
  ) {}

  get loc(): Loc {
    return { file: this.file, line: this.line, col: this.col };
  }
}

export class Line {
  constructor(readonly tokens: Token[]) {}

  get loc(): Loc {
    return this.tokens[0]!.loc;
  }
}

/** File access, injectable so tests and the daemon can read from anywhere. */
export interface FileSource {
  read(path: string): string;
  /** Paths matching a glob pattern (absolute), sorted. */
  glob(pattern: string): string[];
}

export interface LexOptions {
  /** Selects `@id` lines (keepalived -i/--config-id); default: first label of the hostname. */
  configId?: string;
  /** ${_INSTANCE} (keepalived -i / instance name). */
  instance?: string;
  env?: Record<string, string | undefined>;
  files?: FileSource;
  /** Deterministic ${_RANDOM} for tests. */
  random?: () => number;
}

interface Definition {
  value: string[]; // one entry per line (multi-line definitions have several)
  multiline: boolean;
}

const MAX_INCLUDE_DEPTH = 32;
const MAX_EXPANSION_DEPTH = 32;

export const fsSource: FileSource = {
  read: (p) => readFileSync(p, 'utf8'),
  glob: globFiles,
};

/** Minimal glob: `*`, `?`, `[…]` in any path segment and csh-style `{a,b}` braces. */
export function globFiles(pattern: string): string[] {
  const out = new Set<string>();
  for (const p of expandBraces(pattern)) for (const f of globOne(p)) out.add(f);
  return [...out].sort();
}

function expandBraces(p: string): string[] {
  const open = p.indexOf('{');
  if (open < 0) return [p];
  let depth = 0;
  const parts: string[] = [];
  let start = open + 1;
  for (let i = open; i < p.length; i++) {
    const c = p[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        parts.push(p.slice(start, i));
        const pre = p.slice(0, open);
        const post = p.slice(i + 1);
        return parts.flatMap((alt) => expandBraces(pre + alt + post));
      }
    } else if (c === ',' && depth === 1) {
      parts.push(p.slice(start, i));
      start = i + 1;
    }
  }
  return [p];
}

function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += '[' + seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

function globOne(pattern: string): string[] {
  const segs = pattern.split('/');
  let bases = [pattern.startsWith('/') ? '/' : '.'];
  for (const seg of segs) {
    if (seg === '') continue;
    const next: string[] = [];
    const magic = /[*?[]/.test(seg);
    for (const b of bases) {
      if (!magic) {
        next.push(join(b, seg));
        continue;
      }
      let entries: string[] = [];
      try {
        entries = readdirSync(b);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const e of entries) if (re.test(e) && (seg.startsWith('.') || !e.startsWith('.'))) next.push(join(b, e));
    }
    bases = next;
  }
  return bases.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

/** Removes a comment (# or ! outside double quotes; \# and \! escape them). */
function decomment(raw: string): string {
  if (!/[#!"\\]/.test(raw)) return raw.trimEnd();
  let out = '';
  let quote = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '"') quote = !quote;
    else if (c === '\\' && i + 1 < raw.length) {
      const n = raw[i + 1]!;
      if (!quote && (n === '#' || n === '!')) {
        out += n;
        i++;
        continue;
      }
      out += c + n;
      i++;
      continue;
    } else if (!quote && (c === '#' || c === '!')) break;
    out += c;
  }
  return out.replace(/\s+$/, '');
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * Splits a line into words. Quotes (" or ') group white space and are removed;
 * escapes are decoded inside double quotes, and a backslash outside quotes
 * escapes the next character. Columns are 1-based offsets into `text`.
 */
export function tokenize(
  text: string,
  file: string,
  line: number,
  colBase: number,
  diags: Diagnostics,
): Token[] {
  const tokens: Token[] = [];
  if (!/["'\\]/.test(text)) {
    // Fast path: no quotes or escapes, words are runs of non-blanks.
    const re = /[^ \t\r]+/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      tokens.push(new Token(m[0], file, line, colBase + m.index, false, tokens.length === 0));
    }
    return tokens;
  }
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r')) i++;
    if (i >= text.length) break;
    const start = i;
    let word = '';
    let quoted = false;
    while (i < text.length && text[i] !== ' ' && text[i] !== '\t' && text[i] !== '\r') {
      const c = text[i]!;
      if (c === '"' || c === "'") {
        quoted = true;
        const q = c;
        i++;
        let closed = false;
        while (i < text.length) {
          const d = text[i]!;
          if (d === q) {
            closed = true;
            i++;
            break;
          }
          if (d === '\\' && q === '"' && i + 1 < text.length) {
            const [s, n] = decodeEscape(text, i + 1);
            word += s;
            i = n;
            continue;
          }
          word += d;
          i++;
        }
        if (!closed) {
          diags.error('unterminated-quote', `missing terminating ${q} in string`, { file, line, col: colBase + start }, {
            hint: `close the string with ${q}`,
          });
        }
        continue;
      }
      if (c === '\\' && i + 1 < text.length) {
        word += text[i + 1];
        i += 2;
        continue;
      }
      word += c;
      i++;
    }
    tokens.push(new Token(word, file, line, colBase + start, quoted, tokens.length === 0));
  }
  return tokens;
}

function decodeEscape(s: string, i: number): [string, number] {
  const c = s[i]!;
  if (c === 'x' && /[0-9a-fA-F]/.test(s[i + 1] ?? '')) {
    let j = i + 1;
    let hex = '';
    while (j < s.length && hex.length < 2 && /[0-9a-fA-F]/.test(s[j]!)) hex += s[j++];
    return [String.fromCharCode(parseInt(hex, 16)), j];
  }
  if (c === 'c' && i + 1 < s.length) return [String.fromCharCode(s.charCodeAt(i + 1) & 0x1f), i + 2];
  if (c >= '0' && c <= '7') {
    let j = i;
    let oct = '';
    while (j < s.length && oct.length < 3 && s[j]! >= '0' && s[j]! <= '7') oct += s[j++];
    return [String.fromCharCode(parseInt(oct, 8) & 0xff), j];
  }
  return [ESCAPES[c] ?? c, i + 1];
}

interface RawLine {
  text: string;
  file: string;
  line: number;
}

/** A source of lines being read: a file (decommented as read) or the lines an expansion produced. */
interface Frame {
  file: string;
  /** Lines of a file (raw), or the already decommented lines of an expansion. */
  texts: string[];
  /** Line number of each text: file frames count from 1, expansions repeat their origin's. */
  lineOf: (i: number) => number;
  /** File lines still carry comments. */
  raw?: boolean;
  idx: number;
  depth: number;
  expDepth: number;
}

/**
 * Reads a keepalived configuration (and everything it includes) as a stream
 * of tokens: only the line being read is held, so memory does not grow with
 * the file's size. `lexFile`/`lexText` collect the whole stream as lines.
 */
export class KeepalivedLexer {
  private readonly defs = new Map<string, Definition>();
  private readonly files: FileSource;
  private readonly configId: string;
  private readonly stack: Frame[] = [];
  private line: Token[] = [];
  private pos = 0;
  readonly filesRead: string[] = [];

  constructor(
    private readonly diags: Diagnostics,
    private readonly opts: LexOptions = {},
  ) {
    this.files = opts.files ?? fsSource;
    this.configId = opts.configId ?? '';
  }

  /** Starts reading `path`; false (and an error) if it cannot be read. */
  openFile(path: string): boolean {
    let text: string;
    try {
      text = this.files.read(resolve(path));
    } catch (e) {
      this.diags.error('file-unreadable', `cannot read ${path}: ${(e as Error).message}`, { file: path, line: 0, col: 0 });
      return false;
    }
    this.openText(text, path);
    return true;
  }

  /** Starts reading configuration text named `file` (stdin, tests). */
  openText(text: string, file: string): void {
    this.filesRead.push(file);
    this.pushFile(text, file, 0);
  }

  private pushFile(text: string, file: string, depth: number): void {
    // Only $definitions continue over a trailing backslash (keepalived read_line).
    this.stack.push({ file, texts: text.split('\n'), lineOf: (i) => i + 1, idx: 0, depth, expDepth: 0, raw: true });
  }

  /** The next raw line of a frame, or undefined at its end. */
  private take(f: Frame): [string, number] | undefined {
    if (f.idx >= f.texts.length) return undefined;
    const i = f.idx++;
    return [f.raw ? decomment(f.texts[i]!) : f.texts[i]!, f.lineOf(i)];
  }

  /** The next token without consuming it. */
  peek(): Token | undefined {
    while (this.pos >= this.line.length) {
      if (!this.nextLine()) return undefined;
    }
    return this.line[this.pos];
  }

  next(): Token | undefined {
    const t = this.peek();
    if (t) this.pos++;
    return t;
  }

  /** Lexes `path` (and its includes) into lines. */
  lexFile(path: string): Line[] {
    return this.openFile(path) ? this.drain() : [];
  }

  /** Lexes configuration text named `file` into lines. */
  lexText(text: string, file: string): Line[] {
    this.openText(text, file);
    return this.drain();
  }

  private drain(): Line[] {
    const out: Line[] = [];
    while (this.nextLine()) out.push(new Line(this.line));
    return out;
  }

  /** Reads source lines until one yields tokens; false at the end of all input. */
  private nextLine(): boolean {
    this.line = [];
    this.pos = 0;
    while (this.stack.length) {
      const f = this.stack[this.stack.length - 1]!;
      const next = this.take(f);
      if (!next) {
        this.stack.pop();
        continue;
      }
      const toks = this.processLine(f, next[0], next[1]);
      if (toks && toks.length) {
        this.line = toks;
        return true;
      }
    }
    return false;
  }

  /** One logical line: conditionals, definitions, repetition, substitution, include; else its tokens. */
  private processLine(f: Frame, raw: string, lineNo: number): Token[] | undefined {
    let start = 0;
    while (start < raw.length && (raw.charCodeAt(start) === 32 || raw.charCodeAt(start) === 9 || raw.charCodeAt(start) === 13)) start++;
    if (start === raw.length) return undefined;
    const first = raw.charCodeAt(start);
    // Fast path, most lines: no conditional, definition, repetition or parameter.
    if (first !== 64 /* @ */ && first !== 126 /* ~ */ && !raw.includes('$')) return this.finishLine(f, raw, lineNo, 1);

    const l: RawLine = { text: raw, file: f.file, line: lineNo };
    let text = raw.slice(start);
    let col = start + 1;

    // @id / @^id conditional lines (keepalived.conf(5) "Conditional configuration").
    if (text.startsWith('@')) {
      const m = /^@(\^?)(\S*)\s*/.exec(text)!;
      const negate = m[1] === '^';
      const id = m[2]!;
      const selected = negate ? id !== this.configId : id === this.configId;
      if (!selected) return undefined;
      col += m[0].length;
      text = text.slice(m[0].length);
      if (text === '') return undefined;
    }

    const c0 = text.charCodeAt(0);
    // $NAME=value definitions; a trailing backslash makes a multi-line definition.
    const def = c0 === 36 /* $ */ ? /^\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*)$/.exec(text) : null;
    if (def) {
      const name = def[1]!;
      let value = def[2]!;
      const body: string[] = [];
      let multiline = false;
      while (value.endsWith('\\')) {
        multiline = true;
        body.push(value.slice(0, -1).trimEnd());
        const more = this.take(f);
        if (!more) {
          value = '';
          break;
        }
        value = more[0].trim();
      }
      body.push(value);
      this.defs.set(name, { value: multiline ? body.filter((b) => b !== '') : [value], multiline });
      return undefined;
    }

    // ~SEQ(var, start, step, end) / ~SEQx / ~LST(var, v1, v2, …) repeat the rest of the line.
    if (c0 === 126 /* ~ */ && /^~(SEQx?|LST)\s*\(/.test(text)) {
      this.expandRepeat({ ...l, text }, col, f);
      return undefined;
    }

    // Parameter substitution; a multi-line definition yields several lines.
    if (text.includes('$')) {
      const expanded = this.substitute(text, l, col);
      if (expanded !== null && (expanded.length !== 1 || expanded[0] !== text)) {
        if (f.expDepth >= MAX_EXPANSION_DEPTH) {
          this.diags.error('param-recursion', 'parameter expansion nested too deeply (a definition refers to itself?)', {
            file: l.file,
            line: l.line,
            col,
          });
          return undefined;
        }
        // Expanded text is read again: it may hold conditionals, definitions, ~SEQ.
        this.pushExpansion(f, expanded, lineNo);
        return undefined;
      }
    }

    return this.finishLine(f, text, lineNo, col);
  }

  /** Words of a line whose text is final; an include line opens its files instead. */
  private finishLine(f: Frame, text: string, lineNo: number, col: number): Token[] | undefined {
    const tokens = tokenize(text, f.file, lineNo, col, this.diags);
    if (tokens.length === 0) return undefined;
    const kw = tokens[0]!;
    if (!kw.quoted && kw.text.startsWith('include') && /^include[rmwba]?$/.test(kw.text)) {
      this.include(kw, tokens.slice(1), f.depth);
      return undefined;
    }
    return tokens;
  }

  private pushExpansion(from: Frame, texts: string[], lineNo: number): void {
    this.stack.push({ file: from.file, texts, lineOf: () => lineNo, idx: 0, depth: from.depth, expDepth: from.expDepth + 1 });
  }

  private include(kw: Token, args: Token[], depth: number): void {
    const at = kw.loc;
    if (args.length !== 1) {
      this.diags.error('include-args', `${kw.text} takes exactly one file name (a glob is allowed)`, at);
      return;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
      this.diags.error('include-depth', `includes nested more than ${MAX_INCLUDE_DEPTH} deep (an include loop?)`, at);
      return;
    }
    const pattern = args[0]!.text;
    const base = dirname(resolve(at.file));
    const full = isAbsolute(pattern) ? pattern : join(base, pattern);
    const matches = this.files.glob(full);
    const strict = kw.text !== 'include';
    if (matches.length === 0) {
      // Plain `include` tolerates a missing file as keepalived does; the variants do not.
      const msg = `${kw.text} ${pattern}: no file matches (looked for ${full})`;
      if (strict && kw.text !== 'includer') this.diags.error('include-missing', msg, args[0]!.loc);
      else this.diags.warn('include-missing', msg, args[0]!.loc, { hint: 'check the path; it is relative to the including file' });
      return;
    }
    const toOpen: [string, string][] = [];
    for (const f of matches) {
      let text: string;
      try {
        text = this.files.read(f);
      } catch (e) {
        this.diags.error('include-unreadable', `cannot read included file ${f}: ${(e as Error).message}`, args[0]!.loc);
        continue;
      }
      toOpen.push([text, f]);
    }
    // The stack reads its top first: push the files last to first.
    for (const [, f] of toOpen) this.filesRead.push(f);
    for (const [text, f] of toOpen.reverse()) this.pushFile(text, f, depth + 1);
  }

  /** Replaces $NAME / ${NAME} / ${_BUILTIN args}; returns the resulting lines. */
  private substitute(text: string, l: RawLine, col: number): string[] | null {
    const lines: string[] = [''];
    let i = 0;
    let changed = false;
    while (i < text.length) {
      const c = text[i]!;
      if (c !== '$') {
        lines[lines.length - 1] += c;
        i++;
        continue;
      }
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)((?:[ \t]+[^}\s]+)*)\}/.exec(text.slice(i));
      const plain = braced ? null : /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
      const m = braced ?? plain;
      if (!m) {
        lines[lines.length - 1] += c;
        i++;
        continue;
      }
      const name = m[1]!;
      const params = (braced?.[2] ?? '').trim().split(/\s+/).filter(Boolean);
      const val = this.lookup(name, params, { file: l.file, line: l.line, col: col + i });
      if (val === undefined) {
        // Unknown names are left as written (keepalived does the same); the keyword parser reports them.
        lines[lines.length - 1] += m[0];
        i += m[0].length;
        continue;
      }
      changed = true;
      i += m[0].length;
      lines[lines.length - 1] += val[0] ?? '';
      for (const extra of val.slice(1)) lines.push(extra);
    }
    return changed ? lines : [text];
  }

  private lookup(name: string, params: string[], at: Loc): string[] | undefined {
    const d = this.defs.get(name);
    if (d) return d.value;
    switch (name) {
      case '_PWD':
        return [dirname(resolve(at.file))];
      case '_INSTANCE':
        return [this.opts.instance ?? this.configId];
      case '_HASH':
        return ['#'];
      case '_BANG':
        return ['!'];
      case '_ENV': {
        if (params.length !== 1) {
          this.diags.error('param-builtin', '${_ENV VAR} takes exactly one variable name', at);
          return [''];
        }
        const env = this.opts.env ?? process.env;
        return [env[params[0]!] ?? ''];
      }
      case '_RANDOM': {
        const nums = params.map(Number);
        if (nums.some((n) => !Number.isInteger(n))) {
          this.diags.error('param-builtin', '${_RANDOM [MIN] MAX} takes whole numbers', at);
          return ['0'];
        }
        const [lo, hi] = nums.length === 2 ? [nums[0]!, nums[1]!] : nums.length === 1 ? [0, nums[0]!] : [0, 2 ** 31 - 1];
        const r = (this.opts.random ?? Math.random)();
        return [String(lo + Math.floor(r * (hi - lo + 1)))];
      }
      default:
        return undefined;
    }
  }

  private expandRepeat(l: RawLine, col: number, from: Frame): void {
    const text = l.text.trimStart();
    const at = { file: l.file, line: l.line, col };
    const m = /^~(SEQx?|LST)\s*\(([^)]*)\)\s*(.*)$/.exec(text);
    if (!m) {
      this.diags.error('seq-syntax', 'invalid ~SEQ/~LST: missing closing )', at, {
        hint: '~SEQ(var, start, step, end) text… or ~LST(var, v1, v2, …) text…',
      });
      return;
    }
    const kind = m[1]!;
    // Parameters of ~SEQ/~LST may themselves be $definitions.
    const argText = (this.substitute(m[2]!, l, col) ?? [m[2]!]).join(' ');
    const args = argText.split(',').map((s) => s.trim());
    const rest = m[3]!;
    const variable = args[0] ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      this.diags.error('seq-syntax', `~${kind}: "${variable}" is not a valid variable name`, at);
      return;
    }
    let values: string[];
    if (kind === 'LST') {
      values = args.slice(1);
      if (values.length === 0) {
        this.diags.error('seq-syntax', '~LST needs at least one value', at);
        return;
      }
    } else {
      const nums = args.slice(1).map((a) => Number(a));
      if (nums.length < 1 || nums.length > 3 || nums.some((n) => !Number.isInteger(n))) {
        this.diags.error('seq-syntax', `~${kind} takes 1 to 3 whole numbers: (var, end), (var, start, end) or (var, start, step, end)`, at);
        return;
      }
      let start: number, step: number, end: number;
      if (nums.length === 1) {
        end = nums[0]!;
        start = end < 0 ? -1 : 1;
        step = end < 1 ? -1 : 1;
      } else if (nums.length === 2) {
        [start, end] = [nums[0]!, nums[1]!];
        step = start <= end ? 1 : -1;
      } else {
        [start, step, end] = [nums[0]!, nums[1]!, nums[2]!];
      }
      if (step === 0 || (start < end && step < 0) || (start > end && step > 0)) {
        this.diags.error('seq-syntax', `~${kind}(${argText}): the step never reaches the end`, at);
        return;
      }
      if (kind === 'SEQx' && (start < 0 || end < 0)) {
        this.diags.error('seq-syntax', '~SEQx is only valid for positive numbers', at);
        return;
      }
      if (Math.abs((end - start) / step) > 100000) {
        this.diags.error('seq-syntax', `~${kind}(${argText}) would produce more than 100000 lines`, at);
        return;
      }
      values = [];
      for (let v = start; step > 0 ? v <= end : v >= end; v += step) values.push(kind === 'SEQx' ? v.toString(16) : String(v));
    }
    // Each repetition is the rest of the line with the variable bound, read again as new lines.
    const saved = this.defs.get(variable);
    const texts: string[] = [];
    for (const v of values) {
      this.defs.set(variable, { value: [v], multiline: false });
      texts.push(...(this.substitute(rest, l, col) ?? [rest]));
    }
    if (saved) this.defs.set(variable, saved);
    else this.defs.delete(variable);
    if (from.expDepth >= MAX_EXPANSION_DEPTH) {
      this.diags.error('param-recursion', 'repetition nested too deeply', at);
      return;
    }
    this.pushExpansion(from, texts, l.line);
  }
}
