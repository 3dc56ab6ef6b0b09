// Schema and reference errors: each names the line and column of what is wrong
// and says how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadClusterText, selectNode } from '../../src/config/cluster/load.js';
import { onlyError, where } from './helpers.js';

const NODES = `nodes:
  - { name: lb1, address: 10.0.0.1 }
  - { name: lb2, address: 10.0.0.2 }
`;

test('a typo in a key reports the key position and a suggestion', () => {
  const r = loadClusterText(`${NODES}vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    advrt_int: 1
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'unknown-key');
  assert.deepEqual(e.loc, { file: 'c.yaml', line: 8, col: 5 });
  assert.match(e.message, /advrt_int/);
  assert.equal(e.hint, 'did you mean "advert_int"?');
  assert.equal(r.models.size, 0);
});

test('a typo inside a flow mapping and at the top level', () => {
  const r = loadClusterText(`nodes:
  - { name: lb1, adress: 10.0.0.1 }
servces: []
`, 'c.yaml');
  assert.deepEqual(where(r.diagnostics), ['2:18 unknown-key', '3:1 unknown-key']);
  assert.equal(r.diagnostics[0]!.hint, 'did you mean "address"?');
  assert.equal(r.diagnostics[1]!.hint, 'did you mean "services"?');
});

test('a value of the wrong type reports the value position', () => {
  const r = loadClusterText(`${NODES}vrrp:
  - name: VI_1
    interface: eth0
    vrid: fifty-one
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'invalid-type');
  assert.deepEqual([e.loc?.line, e.loc?.col], [7, 11]);
  assert.match(e.message, /vrrp\[0\]\.vrid: expected number, got "fifty-one"/);
});

test('out-of-range, bad enum, bad duration and unknown check type', () => {
  const r = loadClusterText(`${NODES}vrrp:
  - { name: VI_1, interface: eth0, vrid: 300 }
services:
  - vip: 10.0.0.100
    port: 80
    mode: dsr
    delay_loop: 3 weeks
    checks: [{ type: TCP_CHEK }]
`, 'c.yaml');
  assert.deepEqual(where(r.diagnostics), [
    '5:42 out-of-range', '9:11 invalid-value', '10:17 invalid-value', '11:22 invalid-value',
  ]);
  const [, mode, dur, type] = r.diagnostics;
  assert.equal(mode!.hint, 'did you mean "dr"?');
  assert.match(dur!.message, /invalid duration/);
  assert.equal(type!.hint, 'did you mean "TCP_CHECK"?');
});

test('a missing required key points at the object that lacks it', () => {
  const r = loadClusterText(`${NODES}vrrp:
  - name: VI_1
    interface: eth0
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'missing-key');
  assert.deepEqual([e.loc?.line, e.loc?.col], [5, 5]);
  assert.match(e.message, /missing required key "vrid"/);
});

test('YAML syntax errors carry line and column', () => {
  const r = loadClusterText('nodes:\n  - name: lb1\n   bad: [1, 2\n', 'c.yaml');
  assert.ok(r.diagnostics.length > 0);
  assert.ok(r.diagnostics.every((d) => d.code === 'yaml-syntax' && d.loc && d.loc.line >= 2));
});

test('master: and priorities: naming no node', () => {
  const r = loadClusterText(`${NODES}vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    master: lb3
    priorities: { lb1: 150, lbb2: 120 }
`, 'c.yaml');
  assert.deepEqual(where(r.diagnostics), ['8:13 unknown-node', '9:29 unknown-node']);
  assert.match(r.diagnostics[0]!.hint!, /lb1, lb2|did you mean/);
  assert.equal(r.diagnostics[1]!.hint, 'did you mean "lb2"?');
  assert.equal(r.models.size, 0);
});

test('an unknown check template, with did-you-mean', () => {
  const r = loadClusterText(`${NODES}checks:
  healthz: { type: TCP_CHECK }
services:
  - vip: 10.0.0.100
    ports: [80, 443]
    real_servers: nodes
    checks: [helthz]
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'unknown-check');
  assert.deepEqual([e.loc?.line, e.loc?.col], [10, 14]);
  assert.equal(e.hint, 'did you mean "healthz"?');
});

test('a service with neither port nor ports', () => {
  const r = loadClusterText(`${NODES}services:
  - vip: 10.0.0.100
    real_servers: nodes
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'missing-port');
  assert.deepEqual([e.loc?.line, e.loc?.col], [5, 5]);
});

test('duplicate node names point at both', () => {
  const r = loadClusterText(`nodes:
  - name: lb1
  - name: lb1
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'duplicate-node');
  assert.deepEqual([e.loc?.line, e.related?.[0]?.loc.line], [3, 2]);
});

test('real_servers: nodes needs every node address', () => {
  const r = loadClusterText(`nodes: [{ name: lb1, address: 10.0.0.1 }, { name: lb2 }]
services:
  - { vip: 10.0.0.100, port: 80, real_servers: nodes }
`, 'c.yaml');
  const e = onlyError(r.diagnostics);
  assert.equal(e.code, 'missing-address');
  assert.match(e.message, /lb2/);
});

test('--node naming no node', () => {
  const r = loadClusterText(NODES, 'c.yaml');
  assert.deepEqual(r.diagnostics, []);
  assert.equal(selectNode(r, 'lb2', 'c.yaml').model?.node, 'lb2');
  const bad = selectNode(r, 'lb-2', 'c.yaml');
  assert.equal(bad.model, undefined);
  assert.equal(bad.diagnostics[0]?.code, 'unknown-node');
  assert.equal(bad.diagnostics[0]?.hint, 'did you mean "lb2"?');
});
