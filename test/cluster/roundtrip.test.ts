// Export is lossless: for any model M, load(export([M])) gives back M (without
// source positions), and several nodes come back node for node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportClusterYaml } from '../../src/config/cluster/export.js';
import { loadClusterFile, loadClusterText } from '../../src/config/cluster/load.js';
import { stripSrc } from '../../src/model/compare.js';
import { newNodeModel } from '../../src/model/construct.js';
import type { NodeModel } from '../../src/model/types.js';
import { ROOT } from './helpers.js';
import { richModel } from './rich-model.js';

function roundTrip(models: NodeModel[], opts = {}): { yaml: string; back: Map<string, NodeModel> } {
  const yaml = exportClusterYaml(models, opts);
  const r = loadClusterText(yaml, 'exported.yaml');
  assert.deepEqual(r.diagnostics, [], yaml);
  for (const m of models) assert.deepEqual(stripSrc(r.models.get(m.node)), stripSrc(m), yaml);
  assert.deepEqual(r.nodes, models.map((m) => m.node));
  return { yaml, back: r.models };
}

test('an empty model round-trips', () => {
  roundTrip([newNodeModel('solo')]);
});

test('a model with every field set round-trips', () => {
  roundTrip([richModel()]);
});

/**
 * Every number and boolean leaf changed still round-trips. Fields are changed four
 * at a time, far apart in the model, to keep the test quick.
 */
test('each scalar field changed round-trips', () => {
  const base = stripSrc(richModel());
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (typeof v === 'number' || typeof v === 'boolean') paths.push(p);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(base, []);
  // Fields whose values are an enumeration, not a quantity.
  const skip = new Set(['version', 'family', 'ipFamily', 'from', 'to']);
  const targets = paths.filter((p) => !skip.has(String(p[p.length - 1])));
  assert.ok(targets.length > 150, `only ${targets.length} fields to change`);
  const batches = Math.ceil(targets.length / 4);
  for (let b = 0; b < batches; b++) {
    const m = structuredClone(base);
    for (let i = b; i < targets.length; i += batches) {
      const p = targets[i]!;
      let o = m as unknown as Record<string | number, unknown>;
      for (const seg of p.slice(0, -1)) o = o[seg] as Record<string | number, unknown>;
      const key = p[p.length - 1]!;
      const v = o[key];
      o[key] = typeof v === 'boolean' ? !v : !Number.isInteger(v) ? (v as number) * 2 : (v as number) <= 1 ? (v as number) + 1 : (v as number) - 1;
    }
    roundTrip([m]);
  }
});

test('the seed cluster round-trips, all nodes at once and each alone', () => {
  const r = loadClusterFile(`${ROOT}examples/seed/haldir.yaml`);
  const models = [...r.models.values()];
  const addresses = { lb1: '192.168.2.11', lb2: '192.168.2.12', lb3: '192.168.2.13', lb4: '192.168.2.14' };
  const { yaml } = roundTrip(models, { name: 'seed', addresses });
  // Factored: one instance with master:, two services, real servers as the nodes.
  assert.equal(yaml.match(/name: VI_1/g)?.length, 1);
  assert.match(yaml, /master: lb1/);
  assert.doesNotMatch(yaml, /priorit/);
  assert.match(yaml, /ports: \[443, 8443, 6443\]/);
  assert.equal(yaml.match(/real_servers: nodes/g)?.length, 2);
  for (const m of models) roundTrip([m]);
});

test('several nodes: shared items once, differences with nodes: selectors', () => {
  const a = richModel('a');
  const b = richModel('b');
  const c = richModel('c');
  b.vrrpInstances[0]!.priority = 120;
  b.vrrpInstances[0]!.state = 'BACKUP';
  c.vrrpInstances[0]!.priority = 110;
  c.vrrpInstances[0]!.state = 'BACKUP';
  c.vrrpInstances[0]!.nopreempt = false;
  b.vrrpScripts.pop();
  c.virtualServers[0]!.realServers[0]!.weight = 9;
  c.global.routerId = undefined;
  b.global.vrrp.garpMasterDelay = 3;
  const { yaml } = roundTrip([a, b, c]);
  assert.match(yaml, /nodes: \[a, b\]/);
  assert.match(yaml, /router_id: null/);
  assert.match(yaml, /priorities: \{a: 150, b: 120\}/);
});

test('unicast: true is used when each node peers with the others', () => {
  const models = ['x', 'y', 'z'].map((n, i) => {
    const m = richModel(n);
    const v = m.vrrpInstances[0]!;
    v.unicastSrcIp = `10.0.0.${i + 1}`;
    v.unicastPeers = [1, 2, 3].filter((k) => k !== i + 1).map((k) => ({ address: `10.0.0.${k}` }));
    v.priority = 100 - i;
    v.state = i === 0 ? 'MASTER' : 'BACKUP';
    return m;
  });
  const { yaml } = roundTrip(models);
  assert.match(yaml, /unicast: true/);
  assert.doesNotMatch(yaml, /unicast_peers/);
});

test('checks used more than once become templates', () => {
  const m = loadClusterText(`nodes: [{ name: a }]
services:
  - { vip: 10.0.0.1, port: 80, real_servers: [{ address: 10.0.0.2 }], checks: [{ type: TCP_CHECK, retry: 4 }] }
  - { vip: 10.0.0.1, port: 81, protocol: udp, real_servers: [{ address: 10.0.0.2 }], checks: [{ type: TCP_CHECK, retry: 4 }] }
`, 'c.yaml').models.get('a')!;
  const { yaml } = roundTrip([m]);
  assert.match(yaml, /checks:\n {2}tcp: \{ ?type: TCP_CHECK, retry: 4 ?\}/);
  assert.equal(yaml.match(/checks: \[tcp\]/g)?.length, 2);
});
