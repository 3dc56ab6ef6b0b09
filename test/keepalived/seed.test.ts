// The seed's four keepalived.conf files load into the cluster their author meant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadKeepalivedFile } from '../../src/config/keepalived/load.js';
import type { HttpChecker } from '../../src/model/types.js';
import { SEED } from '../helpers/paths.js';

describe('seed keepalived.conf files', () => {
  ['lb1', 'lb2', 'lb3', 'lb4'].forEach((n, i) => {
    it(`${n}.conf`, () => {
      const r = loadKeepalivedFile(`${SEED}${n}.conf`);
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
      const m = r.model;
      assert.equal(m.node, `LB${i + 1}`);
      const inst = m.vrrpInstances[0]!;
      assert.deepEqual(
        [inst.state, inst.interface, inst.vrid, inst.priority, inst.advertInt, inst.auth],
        [i === 0 ? 'MASTER' : 'BACKUP', 'eth0', 51, 100 - i, 1, { type: 'PASS', pass: 'supersecret' }],
      );
      assert.deepEqual(inst.vips.map((v) => [v.address, v.prefix, v.dev, v.label]), [['192.168.2.100', 24, 'eth0', 'eth0:vip']]);
      assert.deepEqual(m.virtualServers.map((v) => (v.address.kind === 'ip' ? v.address.port : 0)), [80, 443, 8443, 6443]);
      for (const vs of m.virtualServers) {
        assert.deepEqual([vs.scheduler, vs.forwarding.kind, vs.protocol, vs.delayLoop], ['rr', 'DR', 'TCP', 3]);
        assert.deepEqual(vs.realServers.map((r) => r.address), ['192.168.2.11', '192.168.2.12', '192.168.2.13', '192.168.2.14']);
        for (const rs of vs.realServers) {
          const c = rs.checkers[0]!;
          assert.equal(rs.checkers.length, 1);
          assert.deepEqual([c.connectTimeout, c.retry, c.delayBeforeRetry, c.delayLoop], [2, 2, 1, 3]);
          if (vs.address.kind === 'ip' && vs.address.port === 80) {
            assert.equal(c.type, 'HTTP_GET');
            assert.deepEqual((c as HttpChecker).urls.map((u) => [u.path, u.statusCodes]), [['/healthz', [{ from: 200, to: 200 }]]]);
          } else assert.equal(c.type, 'TCP_CHECK');
        }
      }
    });
  });
});
