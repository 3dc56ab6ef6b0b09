// Shared test helpers for the cluster YAML front end.
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../src/config/diagnostics.js';

/** The repository root (tests run from dist/test/cluster). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** "line:col code" of every error, for compact assertions. */
export function where(ds: Diagnostic[]): string[] {
  return ds.filter((d) => d.severity === 'error').map((d) => `${d.loc?.line}:${d.loc?.col} ${d.code}`);
}

/** The only error, failing the test if there is not exactly one. */
export function onlyError(ds: Diagnostic[]): Diagnostic {
  const errs = ds.filter((d) => d.severity === 'error');
  if (errs.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(errs, null, 1)}`);
  return errs[0]!;
}
