// Diagnostics shared by every front end and by semantic validation: each one
// names the file, line and column, what is wrong, and how to fix it.
import type { Loc } from '../model/types.js';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  /** Stable identifier, e.g. 'unknown-keyword', 'vrid-duplicate'. */
  code: string;
  message: string;
  loc?: Loc;
  /** The enclosing block, e.g. 'vrrp_instance VI_1'. */
  block?: string;
  /** What to do about it. */
  hint?: string;
  /** Other places involved (the first definition of a duplicate, …). */
  related?: { loc: Loc; message: string }[];
}

/** A block name, possibly formatted only when a diagnostic is actually reported. */
export type BlockName = string | { toString(): string };

/** Defers building a string until something prints it (labels on hot paths). */
export function lazy(f: () => string): BlockName {
  return { toString: f };
}

type Extra = Omit<Partial<Diagnostic>, 'block'> & { block?: BlockName };

/** Plain {file, line, col}: the model may hold richer objects (tokens) as locations. */
function plainLoc(l: Loc): Loc {
  return { file: l.file, line: l.line, col: l.col };
}

function normalise(extra: Extra): Partial<Diagnostic> {
  const { block, related, ...rest } = extra;
  const out: Partial<Diagnostic> = rest;
  if (related) out.related = related.map((r) => ({ loc: plainLoc(r.loc), message: r.message }));
  if (block !== undefined) out.block = String(block);
  return out;
}

/** The diagnostic with plain {file, line, col} locations (safe to print as JSON). */
export function plainDiagnostic(d: Diagnostic): Diagnostic {
  const out: Diagnostic = { ...d };
  if (d.loc) out.loc = plainLoc(d.loc);
  if (d.related) out.related = d.related.map((r) => ({ loc: plainLoc(r.loc), message: r.message }));
  return out;
}

/** Collects diagnostics; front ends keep going after an error to report all of them. */
export class Diagnostics {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(plainDiagnostic(d));
  }

  error(code: string, message: string, loc?: Loc, extra: Extra = {}): void {
    this.items.push({ severity: 'error', code, message, ...(loc ? { loc: plainLoc(loc) } : {}), ...normalise(extra) });
  }

  warn(code: string, message: string, loc?: Loc, extra: Extra = {}): void {
    this.items.push({ severity: 'warning', code, message, ...(loc ? { loc: plainLoc(loc) } : {}), ...normalise(extra) });
  }

  get errors(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'error');
  }

  get warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'warning');
  }

  hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
}

export function formatLoc(loc: Loc | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}` : '<no location>';
}

/** One diagnostic as a compiler-style message: `file:line:col: error: message [code]`. */
export function formatDiagnostic(d: Diagnostic): string {
  let s = `${formatLoc(d.loc)}: ${d.severity}: ${d.message} [${d.code}]`;
  if (d.block) s += `\n  in ${d.block}`;
  for (const r of d.related ?? []) s += `\n  ${formatLoc(r.loc)}: note: ${r.message}`;
  if (d.hint) s += `\n  hint: ${d.hint}`;
  return s;
}

/** Errors first, then by file, line and column. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) => [d.loc?.file ?? '', d.loc?.line ?? 0, d.loc?.col ?? 0] as const;
  return [...ds].sort((a, b) => {
    const [fa, la, ca] = key(a);
    const [fb, lb, cb] = key(b);
    return fa < fb ? -1 : fa > fb ? 1 : la - lb || ca - cb;
  });
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a distance that scales with the word's length. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(word.length / 3));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= limit ? best : undefined;
}

/**
 * Folds diagnostics that say the same thing in several places (the same code,
 * message and hint) into the first one, listing the other places, so that
 * sixteen identical real servers give one message and not sixteen.
 */
export function groupDiagnostics(ds: Diagnostic[]): { first: Diagnostic; also: Loc[] }[] {
  const groups = new Map<string, { first: Diagnostic; also: Loc[] }>();
  for (const d of sortDiagnostics(ds)) {
    const key = `${d.severity}\0${d.code}\0${d.message}\0${d.hint ?? ''}`;
    const g = groups.get(key);
    if (!g) groups.set(key, { first: d, also: [] });
    else if (d.loc && ![g.first.loc, ...g.also].some((l) => l && l.file === d.loc!.file && l.line === d.loc!.line && l.col === d.loc!.col)) {
      // The same place found again (a cluster file checked once per node) is said once.
      g.also.push(d.loc);
    }
  }
  return [...groups.values()];
}

/** A grouped diagnostic: the first in full, then where else it applies (at most `max` places named). */
export function formatGroup(g: { first: Diagnostic; also: Loc[] }, max = 6): string {
  let s = formatDiagnostic(g.first);
  if (g.also.length) {
    const named = g.also.slice(0, max).map((l) => `${l.file === g.first.loc?.file ? '' : l.file + ':'}${l.line}:${l.col}`);
    s += `\n  also at ${named.join(', ')}${g.also.length > max ? ` and ${g.also.length - max} more` : ''}`;
  }
  return s;
}
