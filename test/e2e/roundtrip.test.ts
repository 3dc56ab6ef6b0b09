// Conversions keep meaning: keepalived.conf → model → cluster YAML → model is
// lossless, and keepalived.conf → model → keepalived.conf is accepted by real
// keepalived wherever it accepts the original, and reads back to the same model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exportClusterYaml } from '../../src/config/cluster/export.js';
import { loadClusterText } from '../../src/config/cluster/load.js';
import { exportKeepalived } from '../../src/config/keepalived/export.js';
import { loadKeepalivedFile, loadKeepalivedText } from '../../src/config/keepalived/load.js';
import { stripSrc } from '../../src/model/compare.js';
import type { NodeModel } from '../../src/model/types.js';
import { corpusDir, SEED } from '../helpers/paths.js';

const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'haldir-rt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** keepalived -t on a file: exit status and its messages. */
function keepalivedTest(file: string): { status: number | null; out: string } {
  const r = spawnSync('keepalived', ['-t', '-l', '-D', '-f', file], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const inputs: string[] = [
  ...['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${SEED}${n}.conf`),
  ...readdirSync(corpusDir())
    .filter((f) => f.startsWith('keepalived.conf'))
    .map((f) => `${corpusDir()}${f}`),
  `${corpusDir()}etc/keepalived.conf`,
];

function loaded(file: string): NodeModel | undefined {
  const r = loadKeepalivedFile(file, { configId: 'high' });
  return r.diagnostics.some((d) => d.severity === 'error') ? undefined : r.model;
}

describe('round trips', () => {
  for (const file of inputs) {
    const name = file.split('/').slice(-1)[0]!;
    const model = loaded(file);
    if (!model) continue; // refused files are covered by the corpus test

    it(`${name}: keepalived → model → YAML → model is lossless`, () => {
      const yaml = exportClusterYaml([stripSrc(model)]);
      const back = loadClusterText(yaml, 'roundtrip.yaml');
      assert.deepEqual(back.diagnostics.filter((d) => d.severity === 'error'), []);
      assert.deepEqual(stripSrc(back.models.get(model.node)), stripSrc(model));
    });

    it(`${name}: keepalived → model → keepalived.conf reads back the same`, () => {
      const text = exportKeepalived(model);
      const back = loadKeepalivedText(text, 'export.conf', { configId: 'high' });
      assert.deepEqual(back.diagnostics.filter((d) => d.severity === 'error'), []);
      const want = stripSrc(model);
      // VRRPv2 carries 8 password characters; the export writes what is sent.
      for (const i of want.vrrpInstances) if (i.auth) i.auth.pass = i.auth.pass.slice(0, 8);
      assert.deepEqual(stripSrc(back.model), want);
    });

    it(`${name}: keepalived -t accepts the export wherever it accepts the original`, { skip: !hasKeepalived && 'keepalived is not installed' }, () => {
      const original = keepalivedTest(file);
      const out = join(tmp, `${name}.export.conf`);
      writeFileSync(out, exportKeepalived(model));
      const exported = keepalivedTest(out);
      if (original.status === 0) assert.equal(exported.status, 0, exported.out);
      else {
        // The original fails for reasons of this host (missing interfaces, keepalived's own sample errors):
        // the export may fail for those, but no new kind of message may appear.
        const kinds = (s: string) => new Set(s.split('\n').map((l) => l.replace(/^\(.*?\)\s*/, '').replace(/Line \d+/, '').replace(/VI_\d+/g, 'VI').trim()).filter((l) => /WARNING|rror|nvalid|nknown/.test(l)));
        const extra = [...kinds(exported.out)].filter((k) => !kinds(original.out).has(k));
        assert.deepEqual(extra, [], exported.out);
      }
    });
  }
});
