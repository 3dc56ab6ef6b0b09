// The nftables driver in-process (inside a throwaway namespace): cached O(changed)
// reconciles agree with the kernel, a full reconcile finds and repairs drift, a dry
// run changes nothing, close({flush}) leaves no haldir table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { canBuildLabs } from '../../src/lab/netns.js';

const lab = canBuildLabs();
const skip = !lab.ok ? lab.why : undefined;
const SCENARIO = fileURLToPath(new URL('./nft-driver-scenario.js', import.meta.url));

describe('nftables driver in a namespace', { skip }, () => {
  it('cached reconciles touch only what changed and agree with a full read; drift is repaired and logged', () => {
    const ns = `hn${process.pid}-drv`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const out = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, process.execPath, SCENARIO], { encoding: 'utf8' })) as Record<string, Record<string, unknown>>;
      assert.equal(out.first!.applied, true);
      assert.deepEqual(out.oneWeight!.changes, ['element ip haldir dests { 10.1.0.7 . tcp . 80 . 10.2.0.30 . 8080 }', 'service tcp:[10.1.0.7]:80']);
      assert.match(String(out.oneWeight!.note), /, 1 service\(s\) re-rendered/);
      assert.match(String(out.removeService!.note), /1 service\(s\) re-rendered/);
      assert.deepEqual(out.fullAfterCached, { changes: 0, identical: true });
      const drift = out.drift!.changes as { object: string; drift: boolean }[];
      assert.deepEqual(
        drift.map((c) => c.object).sort(),
        ['element ip haldir services { 10.1.0.20 . tcp . 80 }', 'service tcp:[10.1.0.21]:80'],
      );
      assert.ok(drift.every((c) => c.drift));
      assert.equal((out.drift!.logs as string[]).filter((l) => l.startsWith('repaired drift')).length, 2);
      assert.deepEqual(out.dryRun, { dry: 2, dryApplied: false, after: 2 });
      assert.deepEqual(out.stats, { services: 299, dests: 1196, weight: 9 });
      assert.equal(out.afterFlush, '');
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
