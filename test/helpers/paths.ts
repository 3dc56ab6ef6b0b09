// Paths the tests use: the repository root (tests run from dist/test/…) and the
// shared corpus that CI places beside the clone.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root, whether a test runs from dist/test or test/. */
export const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));

export const SEED = `${ROOT}examples/seed/`;

export function corpusDir(): string {
  const dir = `${ROOT}../shared/corpus/keepalived-samples/`;
  if (!existsSync(dir)) throw new Error(`keepalived sample corpus not found at ${dir} (it lives in shared/, beside the clone)`);
  return dir;
}
