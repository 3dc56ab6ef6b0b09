// Turns zod's schema issues into operator diagnostics: each points at the YAML
// key or value it is about, says what was expected in plain words, and suggests
// the closest valid key or value.
import type { z } from 'zod';
import { didYouMean, type Diagnostics } from '../diagnostics.js';
import { KNOWN_KEYS_MARK } from './schema.js';
import { pathText, type Path, type Positions } from './positions.js';

type Issue = z.core.$ZodIssue;

const SCHEMA_HINT = 'the accepted forms are in schema/haldir.schema.json';

export function reportIssues(issues: readonly Issue[], data: unknown, pos: Positions, diags: Diagnostics): void {
  for (const iss of issues) reportIssue(iss, [], data, pos, diags);
}

function reportIssue(iss: Issue, prefix: Path, data: unknown, pos: Positions, diags: Diagnostics): void {
  const path: Path = [...prefix, ...(iss.path as (string | number)[])];
  const where = pathText(path);
  const value = valueAt(data, path);
  switch (iss.code) {
    case 'unrecognized_keys': {
      const known = iss.message.startsWith(KNOWN_KEYS_MARK) ? iss.message.slice(KNOWN_KEYS_MARK.length).split(',') : [];
      for (const key of iss.keys) {
        const s = didYouMean(key, known);
        diags.error('unknown-key', `unknown key "${key}"${where ? ` in ${where}` : ''}`, pos.key([...path, key]), {
          hint: s ? `did you mean "${s}"?` : known.length ? `valid keys here: ${known.join(', ')}` : 'remove it',
        });
      }
      return;
    }
    case 'invalid_union': {
      const disc = iss as { note?: string; options?: unknown[] };
      if (disc.note === 'No matching discriminator') {
        const options = (disc.options ?? []).map(String);
        const got = valueAt(data, path);
        const s = typeof got === 'string' ? didYouMean(got, options) : undefined;
        diags.error('invalid-value', `${where}: unknown check type ${describe(got)}`, pos.value(path), {
          hint: s ? `did you mean "${s}"?` : `one of: ${options.join(', ')}`,
        });
        return;
      }
      // Keep the alternatives that accepted the value's shape (a string form vs an
      // object form); if exactly one is left, its issues are the real problem.
      const fitting = iss.errors.filter((errs) => !errs.every((e) => e.code === 'invalid_type' && e.path.length === 0));
      if (fitting.length === 1) {
        for (const e of fitting[0]!) reportIssue(e, path, data, pos, diags);
        return;
      }
      const expected = iss.errors.flatMap((errs) => errs.filter((e) => e.code === 'invalid_type' && e.path.length === 0).map((e) => (e as { expected: string }).expected));
      diags.error('invalid-type', `${where}: expected ${unique(expected).join(' or ') || 'another form'}, got ${describe(value)}`, pos.value(path), {
        hint: SCHEMA_HINT,
      });
      return;
    }
    case 'invalid_type': {
      if (value === undefined && !pos.has(path)) {
        const parent = path.slice(0, -1);
        diags.error('missing-key', `${pathText(parent) || 'the file'}: missing required key "${String(path[path.length - 1])}"`, pos.value(parent), {
          hint: `add ${String(path[path.length - 1])}: <${iss.expected}>`,
        });
        return;
      }
      const expected = iss.expected === 'int' ? 'an integer' : iss.expected;
      diags.error('invalid-type', `${where}: expected ${expected}, got ${describe(value)}`, pos.value(path), {
        hint: `write ${expected === 'array' ? 'a list' : expected === 'object' ? 'a mapping' : expected} here`,
      });
      return;
    }
    case 'invalid_value': {
      const options = iss.values.map(String);
      const s = typeof value === 'string' ? didYouMean(value, options) : undefined;
      diags.error('invalid-value', `${where}: ${describe(value)} is not allowed`, pos.value(path), {
        hint: s ? `did you mean "${s}"?` : `one of: ${options.join(', ')}`,
      });
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = iss.code === 'too_small' ? `at least ${String(iss.minimum)}` : `at most ${String(iss.maximum)}`;
      const what = iss.origin === 'array' ? 'entries' : iss.origin === 'string' ? 'characters' : '';
      diags.error('out-of-range', `${where}: ${describe(value)} is out of range`, pos.value(path), {
        hint: `it must be ${bound}${what ? ` ${what}` : ''}`,
      });
      return;
    }
    default:
      diags.error('invalid-value', `${where}: ${iss.message}${value !== undefined ? ` (got ${describe(value)})` : ''}`, pos.value(path), {
        hint: SCHEMA_HINT,
      });
  }
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
