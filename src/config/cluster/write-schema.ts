// Writes schema/haldir.schema.json from the zod schema, so that the file editors
// use is always generated, never hand-edited (a test compares the two).
// Run: node dist/src/config/cluster/write-schema.js
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { clusterJsonSchema } from './schema.js';

/** The committed schema file, relative to the repository root. */
export const SCHEMA_FILE = 'schema/haldir.schema.json';

export function clusterJsonSchemaText(): string {
  return JSON.stringify(clusterJsonSchema(), null, 2) + '\n';
}

export function writeClusterSchema(path: string = SCHEMA_FILE): void {
  writeFileSync(path, clusterJsonSchemaText());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeClusterSchema(process.argv[2]);
  console.log(`wrote ${process.argv[2] ?? SCHEMA_FILE}`);
}
