// The committed JSON Schema is the generated one, and it describes what the
// loader accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { clusterJsonSchemaText, SCHEMA_FILE } from '../../src/config/cluster/write-schema.js';
import { clusterJsonSchema, parseDuration } from '../../src/config/cluster/schema.js';
import { ROOT } from './helpers.js';

test('schema/haldir.schema.json equals the schema generated from zod', () => {
  const committed = readFileSync(`${ROOT}${SCHEMA_FILE}`, 'utf8');
  assert.equal(committed, clusterJsonSchemaText(), 'regenerate it: node dist/src/config/cluster/write-schema.js');
});

test('the JSON Schema is strict and knows the sections', () => {
  const s = clusterJsonSchema() as { additionalProperties?: boolean; properties: Record<string, unknown>; required: string[] };
  assert.equal(s.additionalProperties, false);
  assert.deepEqual(s.required, ['nodes']);
  for (const k of ['nodes', 'global', 'vrrp', 'checks', 'services', 'vrrp_scripts', 'track_files', 'sync_groups', 'virtual_server_groups']) {
    assert.ok(k in s.properties, k);
  }
});

test('durations: seconds or a unit', () => {
  assert.deepEqual(['500ms', '2s', '1m', '1.5', '0.1s', '2 h', 'x', '5y'].map(parseDuration), [0.5, 2, 60, 1.5, 0.1, 7200, undefined, undefined]);
});
