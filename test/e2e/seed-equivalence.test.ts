// The seed's four keepalived.conf files and the one cluster file mean the same
// cluster: `plan` gives the same result for both, node by node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { planNode } from '../../src/model/plan.js';
import { SEED } from '../helpers/paths.js';

describe('seed: keepalived.conf ≡ haldir.yaml', () => {
  const ka = loadConfig(['lb1', 'lb2', 'lb3', 'lb4'].map((n) => `${SEED}${n}.conf`));
  const cl = loadConfig([`${SEED}haldir.yaml`]);

  it('both load without errors', () => {
    assert.deepEqual(ka.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.deepEqual(cl.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.deepEqual(ka.nodes, ['LB1', 'LB2', 'LB3', 'LB4']);
    assert.deepEqual(cl.nodes, ['lb1', 'lb2', 'lb3', 'lb4']);
  });

  ['lb1', 'lb2', 'lb3', 'lb4'].forEach((node, i) => {
    it(`${node}: identical plans`, () => {
      const fromKa = ka.models.get(ka.nodes[i]!)!;
      const fromCl = cl.models.get(node)!;
      assert.deepEqual(planNode({ ...fromKa, node }), planNode(fromCl));
    });
  });

  it('a real difference shows: plans differ when one priority changes', () => {
    const m = structuredClone(cl.models.get('lb2')!);
    m.vrrpInstances[0]!.priority = 98;
    assert.notDeepEqual(planNode({ ...ka.models.get('LB2')!, node: 'lb2' }), planNode(m));
  });
});
