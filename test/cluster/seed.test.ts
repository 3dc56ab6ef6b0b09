// The seed cluster (examples/seed/haldir.yaml) yields what the four keepalived.conf
// files of the operator conversation configure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadClusterFile } from '../../src/config/cluster/load.js';
import { ROOT } from './helpers.js';

const r = loadClusterFile(`${ROOT}examples/seed/haldir.yaml`);
const NODES = ['lb1', 'lb2', 'lb3', 'lb4'];
const ADDRS = ['192.168.2.11', '192.168.2.12', '192.168.2.13', '192.168.2.14'];

test('the seed file loads without diagnostics, one model per node', () => {
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.nodes, NODES);
});

test('VRRP: VRID 51 on eth0, priorities 100..97, lb1 MASTER, PASS auth, the VIP', () => {
  NODES.forEach((n, i) => {
    const m = r.models.get(n)!;
    assert.equal(m.global.routerId, `LB${i + 1}`);
    assert.equal(m.vrrpInstances.length, 1);
    const v = m.vrrpInstances[0]!;
    assert.equal(v.name, 'VI_1');
    assert.equal(v.vrid, 51);
    assert.equal(v.interface, 'eth0');
    assert.equal(v.priority, 100 - i);
    assert.equal(v.state, i === 0 ? 'MASTER' : 'BACKUP');
    assert.equal(v.advertInt, 1);
    assert.equal(v.version, 2);
    assert.deepEqual(v.auth, { type: 'PASS', pass: 'supersecret' });
    assert.equal(v.vips.length, 1);
    const { address, prefix, dev, label } = v.vips[0]!;
    assert.deepEqual({ address, prefix, dev, label }, { address: '192.168.2.100', prefix: 24, dev: 'eth0', label: 'eth0:vip' });
    assert.deepEqual(v.unicastPeers, []);
  });
});

test('services: 4 ports x 4 real servers, rr/DR/TCP, delay_loop 3, the checks', () => {
  for (const n of NODES) {
    const vss = r.models.get(n)!.virtualServers;
    assert.deepEqual(vss.map((v) => v.address), [80, 443, 8443, 6443].map((port) => ({ kind: 'ip', address: '192.168.2.100', family: 4, port })));
    for (const vs of vss) {
      const port = vs.address.kind === 'ip' ? vs.address.port : -1;
      assert.deepEqual([vs.scheduler, vs.forwarding, vs.protocol, vs.delayLoop], ['rr', { kind: 'DR' }, 'TCP', 3]);
      assert.deepEqual(vs.realServers.map((rs) => [rs.address, rs.port, rs.weight]), ADDRS.map((a) => [a, port, 1]));
      for (const rs of vs.realServers) {
        assert.equal(rs.checkers.length, 1);
        const c = rs.checkers[0]!;
        assert.equal(c.type, port === 80 ? 'HTTP_GET' : 'TCP_CHECK');
        assert.deepEqual([c.connectTimeout, c.retry, c.delayBeforeRetry, c.delayLoop], [2, 2, 1, 3]);
        assert.deepEqual([c.rise, c.fall], [1, 1]); // the seed file asks for keepalived semantics
        if (c.type === 'HTTP_GET') {
          assert.deepEqual(c.urls.map((u) => [u.path, u.statusCodes]), [['/healthz', [{ from: 200, to: 200 }]]]);
        }
      }
    }
  }
});

test('src maps point into the seed file', () => {
  const lines = readFileSync(`${ROOT}examples/seed/haldir.yaml`, 'utf8').split('\n');
  const lineOf = (re: RegExp) => lines.findIndex((l) => re.test(l)) + 1;
  const v = r.models.get('lb2')!.vrrpInstances[0]!;
  assert.match(v.src!['']!.file, /examples\/seed\/haldir\.yaml$/);
  assert.deepEqual([v.src!.vrid!.line, v.src!.vrid!.col], [lineOf(/^ {4}vrid: 51/), 5]);
  assert.equal(v.src!.state!.line, lineOf(/master: lb1/));
  const c = r.models.get('lb3')!.virtualServers[3]!.realServers[0]!.checkers[0]!;
  assert.equal(c.src!.connectTimeout!.line, lineOf(/^ {2}tcp: /));
});
