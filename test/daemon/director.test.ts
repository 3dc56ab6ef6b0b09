// The director loop's pure part: which services a node balances, given VRRP states and
// directors that just fell silent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activeTable, vipOwners } from '../../src/daemon/director.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { newNodeModel, newRealServer, newVip, newVirtualServer, newVrrpInstance } from '../../src/model/construct.js';

function model() {
  const m = newNodeModel('lb2');
  const vi = newVrrpInstance('VI_1', 'eth0', 51);
  vi.priority = 99;
  vi.vips.push(newVip('192.168.2.100/24'));
  m.vrrpInstances.push(vi);
  for (const [vip, port] of [['192.168.2.100', 80], ['192.168.2.200', 80]] as const) {
    const vs = newVirtualServer({ kind: 'ip', address: vip, family: 4, port });
    vs.forwarding = { kind: 'DR' };
    for (const a of ['192.168.2.11', '192.168.2.12']) vs.realServers.push(newRealServer(a, port));
    m.virtualServers.push(vs);
  }
  return m;
}

describe('activeTable', () => {
  it('balances the services of MASTER instances and those no instance owns', () => {
    const m = model();
    const t = allUpTable(m);
    assert.deepEqual(activeTable(t, vipOwners(m), new Map([['VI_1', 'BACKUP']])).map((d) => d.vsKey), ['tcp:[192.168.2.200]:80']);
    assert.equal(activeTable(t, vipOwners(m), new Map([['VI_1', 'MASTER']])).length, 2);
  });

  it('leaves out a director that just fell silent from the real servers', () => {
    const m = model();
    const t = activeTable(allUpTable(m), vipOwners(m), new Map([['VI_1', 'MASTER']]), new Set(['192.168.2.11']));
    for (const ds of t) assert.deepEqual(ds.dests.map((d) => d.address), ['192.168.2.12']);
  });
});
